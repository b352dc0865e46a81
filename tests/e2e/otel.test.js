// SPDX-License-Identifier: MIT
// OpenTelemetry export (issue #36): agentd's own spans reach an OTLP/HTTP
// collector (a small one in this test, JSON encoding): a run is an
// invoke_agent span, each tool call an execute_tool span below it (a
// failed one with an error status), with the GenAI attribute names, a git
// operation an agentd.git span of its own trace; the
// run's TRACEPARENT names the same trace and span, so a CLI's spans nest
// under it; the configured headers go with every post.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const fs = require('node:fs');
const { api, until, startWithWorktree, commandAgent } = require('./lib/api');
const daemon = require('./lib/daemon');

function collector() {
  const c = { spans: [], posts: [] };
  c.server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      c.posts.push({ url: req.url, headers: req.headers });
      const j = JSON.parse(body);
      for (const rs of j.resourceSpans) {
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) c.spans.push({ ...s, service: rs.resource.attributes[0].value.stringValue });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  return new Promise((resolve) => c.server.listen(0, '127.0.0.1', () => {
    c.url = `http://127.0.0.1:${c.server.address().port}`;
    resolve(c);
  }));
}

const attr = (s, key) => {
  const a = s.attributes.find((x) => x.key === key);
  return a && (a.value.stringValue ?? a.value.intValue ?? a.value.doubleValue);
};

test('runs and tool calls reach an OTLP collector as nested GenAI spans; TRACEPARENT names the run', async () => {
  const c = await collector();
  const { d, dir, wt } = await startWithWorktree({ args: ['--otlp-endpoint', `${c.url}/`],
    env: { OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=k3y,x-team=agents' } });
  try {
    const script = `
      console.log('tp=' + process.env.TRACEPARENT);
      const out = (o) => console.log(JSON.stringify(o));
      out({ type: 'tool_start', toolId: 't1', name: 'grep' });
      out({ type: 'tool_end', toolId: 't1', status: 'success', durationMs: 5 });
      out({ type: 'tool_start', toolId: 't2', name: 'rm' });
      out({ type: 'tool_end', toolId: 't2', status: 'error', exitCode: 1 });`;
    const id = await commandAgent(d, wt, [process.execPath, '-e', script]);
    assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, {})).status, 200);
    const run = await until(async () => {
      const r = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0];
      return r && r.status !== 'running' ? r : null;
    }, 'the run to end');
    const runSpan = await until(() => c.spans.find((s) => s.name === 'invoke_agent' && attr(s, 'agentd.run.id') === run.id), 'the run\'s span');
    const tools = await until(() => {
      const t = c.spans.filter((s) => s.traceId === runSpan.traceId && s.parentSpanId === runSpan.spanId);
      return t.length === 2 ? t : null;
    }, 'the two tool spans under it');
    assert.match(runSpan.traceId, /^[0-9a-f]{32}$/);
    assert.match(runSpan.spanId, /^[0-9a-f]{16}$/);
    assert.equal(runSpan.service, 'agentd');
    assert.equal(attr(runSpan, 'gen_ai.operation.name'), 'invoke_agent');
    assert.equal(attr(runSpan, 'gen_ai.agent.id'), id);
    assert.equal(runSpan.status, undefined);
    const grep = tools.find((s) => s.name === 'execute_tool grep');
    const rm = tools.find((s) => s.name === 'execute_tool rm');
    assert.ok(grep && rm, JSON.stringify(tools.map((s) => s.name)));
    assert.equal(attr(grep, 'gen_ai.tool.name'), 'grep');
    assert.equal(attr(grep, 'gen_ai.tool.call.id'), 't1');
    assert.equal(BigInt(grep.endTimeUnixNano) - BigInt(grep.startTimeUnixNano), 5000000n);
    assert.equal(rm.status.code, 2);
    assert.equal(attr(rm, 'agentd.tool.exit_code'), '1');
    assert.ok(BigInt(runSpan.startTimeUnixNano) <= BigInt(grep.startTimeUnixNano));
    assert.ok(BigInt(rm.endTimeUnixNano) <= BigInt(runSpan.endTimeUnixNano));
    // the child saw the same trace and the run's span as its parent
    const msgs = (await api(d, 'GET', `/api/agents/${id}/messages?limit=50`)).body.messages;
    const tp = msgs.map((m) => m.content).join('\n').match(/tp=(\S+)/);
    assert.ok(tp, JSON.stringify(msgs.map((m) => m.content)));
    assert.equal(tp[1], `00-${runSpan.traceId}-${runSpan.spanId}-01`);
    // a git operation agentd makes is a span of its own trace
    const wsId = (await api(d, 'GET', '/api/workspaces')).body.workspaces[0].id;
    assert.equal((await api(d, 'POST', '/api/worktrees', { workspaceId: wsId, name: 'traced', createBranch: true })).status, 201);
    const git = await until(() => c.spans.find((s) => s.name === 'agentd.git add'), 'the git span');
    assert.equal(attr(git, 'agentd.git.operation'), 'add');
    assert.equal(attr(git, 'agentd.workspace.id'), wsId);
    assert.notEqual(git.traceId, runSpan.traceId);
    assert.ok(c.posts.every((p) => p.url === '/v1/traces' && p.headers['x-api-key'] === 'k3y' &&
      p.headers['x-team'] === 'agents' && p.headers['content-type'] === 'application/json'), JSON.stringify(c.posts));
  } finally {
    await d.cleanup();
    c.server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('with --otlp-receive false and no --otlp-endpoint a run has no TRACEPARENT; a bad endpoint or header list stops the start', async () => {
  const { d, dir, wt } = await startWithWorktree({ args: ['--otlp-receive=false'] });
  try {
    const id = await commandAgent(d, wt, [process.execPath, '-e', "console.log('tp=' + (process.env.TRACEPARENT || 'none') + ' ep=' + (process.env.OTEL_EXPORTER_OTLP_ENDPOINT || 'none'))"]);
    assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, {})).status, 200);
    await until(async () => (await api(d, 'GET', `/api/agents/${id}/messages?limit=50`)).body.messages.some((m) => /tp=none ep=none/.test(m.content)), 'no TRACEPARENT');
    const r = await fetch(`${d.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(r.status, 404);
  } finally {
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  for (const [args, why, env] of [[['--otlp-endpoint', 'ftp://collector'], /--otlp-endpoint must be an http or https URL/],
    [['--otlp-endpoint', 'http://127.0.0.1:1'], /OTLP headers .* must be Name=value/, { OTEL_EXPORTER_OTLP_HEADERS: 'x-a: b' }]]) {
    const dataDir = daemon.tmpDir('agentd-otel-');
    const r = daemon.run(['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, ...args], env ? { env: { ...process.env, ...env } } : {});
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, why);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
