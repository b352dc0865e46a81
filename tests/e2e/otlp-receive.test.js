// SPDX-License-Identifier: MIT
// OTLP received from runs (issue #36): each run's program gets TRACEPARENT and
// OTLP settings pointing at agentd with a credential of its own. The real
// Claude CLI (from the e2e lockfile) run under agentd against the mock
// Anthropic API sends its spans to agentd's /v1/traces as OTLP/HTTP JSON, and
// they are kept with the run, nested under the run's span; the run's trace
// (GET /api/runs/:id/trace) has agentd's own spans too. The credential opens
// nothing else: no other route, no other run, nothing once the run has long
// ended; protobuf, gzip and malformed bodies are refused.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const daemon = require('./lib/daemon');
const { start } = require('../fixtures/mock-anthropic');
const { CLAUDE_BIN, claudeMissingReason, makeSandbox } = require('../fixtures/claude-run');
const { api, until, startWithWorktree, commandAgent, testRun } = require('./lib/api');
const { claudeAgents } = require('./lib/agents');

const skip = claudeMissingReason() || false;

// The spans of a trace below span id root (root excluded), following parents.
function below(spans, root) {
  const out = [];
  let frontier = [root];
  while (frontier.length > 0) {
    const next = spans.filter((s) => frontier.includes(s.parentSpanId) && !out.includes(s));
    out.push(...next);
    frontier = next.map((s) => s.spanId);
  }
  return out;
}

test('the Claude CLI under agentd sends its spans to agentd, nested under the run span', { skip, timeout: 180000 }, async () => {
  const mock = await start();
  const sb = makeSandbox();
  const d = await daemon.start({ needUrl: true, args: ['--claude-bin', CLAUDE_BIN, '--stop-grace-ms', '3000'] });
  try {
    const id = (await (await claudeAgents(d, sb, mock.url))()).id;
    const s = await api(d, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'please remember a word' });
    assert.equal(s.status, 200, JSON.stringify(s.body));
    const runId = s.body.runId;
    assert.match(runId, /^run_/);
    await until(async () => (await api(d, 'GET', `/api/agents/${id}`)).body.status === 'waiting', 'the end of the first turn', 60000);
    // Claude's spans arrive (its exporter sends every second) and hang under the run's span
    const trace = await until(async () => {
      const t = (await api(d, 'GET', `/api/runs/${runId}/trace`)).body;
      return t.spans.some((x) => x.source === 'run' && x.parentSpanId === t.spanId) ? t : null;
    }, 'the CLI\'s spans under the run span', 60000);
    const mine = trace.spans.filter((x) => x.source === 'run');
    assert.ok(mine.every((x) => x.traceId === trace.traceId), JSON.stringify(mine.map((x) => x.traceId)));
    const top = mine.filter((x) => x.parentSpanId === trace.spanId);
    assert.ok(top.some((x) => /interaction/.test(x.name)), JSON.stringify(top.map((x) => x.name)));
    assert.equal(top[0].service, 'claude-code');
    // every span the CLI sent is in the run span's tree: none hangs loose
    assert.equal(below(trace.spans, trace.spanId).filter((x) => x.source === 'run').length, mine.length,
      JSON.stringify(mine.map((x) => [x.name, x.parentSpanId])));
    // the model call it made to the (mock) API is one of them
    assert.ok(mine.some((x) => /llm_request|request|model/.test(x.name)), JSON.stringify(mine.map((x) => x.name)));
    // a follow-up turn: agentd's own turn spans beside the CLI's
    assert.equal((await api(d, 'POST', `/api/agents/${id}/message`, { content: 'say hi' })).status, 200);
    await until(async () => {
      const t = (await api(d, 'GET', `/api/runs/${runId}/trace`)).body;
      return t.spans.filter((x) => x.source === 'agentd' && x.name === 'agentd.turn').length >= 2;
    }, 'agentd\'s turn spans', 60000);
  } finally {
    await d.cleanup();
    await mock.close();
    sb.cleanup();
  }
});

test('a run\'s OTLP credential is good for that run\'s telemetry only', async () => {
  const { d, dir, wt } = await startWithWorktree();
  try {
    // a program run by agentd sees where to send and its credential
    const probe = "const e=process.env;console.log(['TRACEPARENT','OTEL_EXPORTER_OTLP_ENDPOINT','OTEL_EXPORTER_OTLP_PROTOCOL','OTEL_EXPORTER_OTLP_HEADERS'].map(k=>k+'='+e[k]).join(' '));setTimeout(()=>{},600000)";
    const id = await commandAgent(d, wt, [process.execPath, '-e', probe]);
    const run = (await api(d, 'POST', `/api/agents/${id}/start`, {})).body.runId;
    const said = await until(async () => {
      const m = (await api(d, 'GET', `/api/agents/${id}/messages?limit=20`)).body.messages.find((x) => /TRACEPARENT=/.test(x.content));
      return m ? m.content : null;
    }, 'the environment');
    const env = Object.fromEntries(said.trim().split(' ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    assert.equal(env.OTEL_EXPORTER_OTLP_ENDPOINT, d.url);
    assert.equal(env.OTEL_EXPORTER_OTLP_PROTOCOL, 'http/json');
    const token = env.OTEL_EXPORTER_OTLP_HEADERS.replace(/^x-agentd-run=/, '');
    assert.ok(token.startsWith(`${run}.`), token);
    const trace = (await api(d, 'GET', `/api/runs/${run}/trace`)).body;
    assert.equal(env.TRACEPARENT, `00-${trace.traceId}-${trace.spanId}-01`);

    const post = (path, body, headers = {}) => fetch(`${d.url}${path}`, {
      method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body),
      headers: { 'content-type': 'application/json', 'x-agentd-run': token, ...headers },
    });
    const span = (sid, parent, name, extra = {}) => ({
      traceId: 'ab'.repeat(16), spanId: sid, parentSpanId: parent, name, kind: 1,
      startTimeUnixNano: `${Date.now()}000000`, endTimeUnixNano: `${Date.now() + 5}000000`,
      attributes: [{ key: 'gen_ai.request.model', value: { stringValue: 'm' } }, { key: 'n', value: { intValue: '7' } }], ...extra,
    });
    // spans are kept under the run whose credential came with them, whatever trace they say
    let r = await post('/v1/traces', { resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'trainer' } }] }, scopeSpans: [{ spans: [
      span('1111111111111111', trace.spanId, 'step'), span('2222222222222222', '1111111111111111', 'inner'),
      span('zz', '', 'bad id'), span('3333333333333333', '', 'x'.repeat(5000)),
    ] }] }] });
    assert.equal(r.status, 200, await r.clone().text());
    assert.deepEqual(await r.json(), { partialSuccess: { rejectedSpans: 1, errorMessage: 'spans without valid ids, times and a name, or past 2000 a request, are not kept' } });
    const kept = await until(async () => {
      const t = (await api(d, 'GET', `/api/runs/${run}/trace`)).body;
      return t.spans.length >= 3 ? t.spans : null;
    }, 'the spans kept');
    const step = kept.find((x) => x.spanId === '1111111111111111');
    assert.equal(step.source, 'run');
    assert.equal(step.service, 'trainer');
    assert.deepEqual(step.attrs, { 'gen_ai.request.model': 'm', n: 7 });
    assert.equal(kept.find((x) => x.spanId === '3333333333333333').name.length, 256);
    // metrics and logs are taken
    assert.equal((await post('/v1/metrics', { resourceMetrics: [] })).status, 200);
    assert.equal((await post('/v1/logs', { resourceLogs: [] })).status, 200);
    // refusals: no credential, a forged one, another run's MAC, protobuf, gzip, not JSON
    assert.equal((await post('/v1/traces', {}, { 'x-agentd-run': '' })).status, 401);
    assert.equal((await post('/v1/traces', {}, { 'x-agentd-run': `${run}.${'A'.repeat(43)}` })).status, 401);
    const other = await testRun(d, id, 'succeeded');
    assert.equal((await post('/v1/traces', {}, { 'x-agentd-run': `${other.id}.${token.split('.')[1]}` })).status, 401);
    assert.equal((await post('/v1/traces', 'x', { 'content-type': 'application/x-protobuf' })).status, 415);
    assert.equal((await post('/v1/traces', '{}', { 'content-encoding': 'gzip' })).status, 415);
    assert.equal((await post('/v1/traces', '[1,2')).status, 400);
    // the credential is no token: it opens no other route
    r = await fetch(`${d.url}/api/agents`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 401);
    r = await fetch(`${d.url}/api/runs/${run}/trace`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 401);
    // a run that ended long ago takes nothing more, even with its own credential
    const key = Buffer.from(fs.readFileSync(`${d.dataDir}/otlp-key`, 'utf8'), 'hex');
    const old = await testRun(d, id, 'succeeded', { endedAt: Date.now() - 3600000 });
    const oldToken = `${old.id}.${crypto.createHmac('sha256', key).update(`agentd-run-otlp:${old.id}`).digest('base64url')}`;
    assert.equal((await post('/v1/traces', {}, { 'x-agentd-run': oldToken })).status, 403);
    // the trace is the run's org's: another org's token does not see it
    const org = (await api(d, 'POST', '/api/orgs', { name: 'o2' })).body.id;
    const t2 = (await api(d, 'POST', '/api/tokens', { name: 'o2', scope: 'admin', orgId: org })).body.token;
    r = await fetch(`${d.url}/api/runs/${run}/trace`, { headers: { authorization: `Bearer ${t2}` } });
    assert.equal(r.status, 404);
    // the key file is the owner's alone
    assert.equal(fs.statSync(`${d.dataDir}/otlp-key`).mode & 0o777, 0o600);
  } finally {
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// A program's first telemetry may come before agentd's writer has stored its
// run (a busy disk, a fast program): a run this agentd is running sends. The
// store is held locked by another connection while the run starts, so the
// run's row cannot be in it when the program posts.
// (On SQLite in the PostgreSQL pass too: the lock is the file's.)
test('a run sends from its first moment, before its row is stored', async () => {
  const { d, dir, wt } = await startWithWorktree({ sqlite: true });
  const said = path.join(dir, 'otlp-status');
  const lock = spawn('sqlite3', [path.join(d.dataDir, 'agentd.db')], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  lock.stdout.on('data', (b) => { out += b; });
  try {
    const program = `const e=process.env;const [hk,hv]=e.OTEL_EXPORTER_OTLP_HEADERS.split('=');
fetch(e.OTEL_EXPORTER_OTLP_ENDPOINT+'/v1/traces',{method:'POST',headers:{'content-type':'application/json',[hk]:hv},body:'{"resourceSpans":[]}'})
.then((r)=>require('fs').writeFileSync(process.argv[1],String(r.status)),(x)=>require('fs').writeFileSync(process.argv[1],String(x)));`;
    const id = await commandAgent(d, wt, [process.execPath, '-e', program, said]);
    lock.stdin.write("BEGIN IMMEDIATE;\nSELECT 'locked';\n");
    await until(async () => out.includes('locked'), 'the store locked by another connection');
    const started = api(d, 'POST', `/api/agents/${id}/start`, {});
    const status = await until(async () => (fs.existsSync(said) ? fs.readFileSync(said, 'utf8') : null), 'the program\'s first POST');
    // the run's row was not stored yet: the start still waits for it
    assert.equal(await Promise.race([started.then(() => 'answered'), Promise.resolve('waiting')]), 'waiting');
    lock.stdin.end('COMMIT;\n');
    assert.equal(status, '200');
    assert.equal((await started).status, 200);
  } finally {
    lock.kill();
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// A sandboxed run reaches agentd's OTLP receiver through a door of its
// network namespace (issue #73), and through it nothing else of agentd's:
// no other route or method, no query, no second request on the
// connection, no body agentd could size differently, no CONNECT. The
// probe runs inside the sandbox and says what each attempt was answered.
function doorProbe() {
  const net = require('node:net');
  const e = process.env;
  const [hk, hv] = e.OTEL_EXPORTER_OTLP_HEADERS.split('=');
  const otlp = Number(new URL(e.OTEL_EXPORTER_OTLP_ENDPOINT).port);
  const proxy = Number(new URL(e.HTTP_PROXY).port);
  const body = '{"resourceSpans":[]}';
  const head = (line, extra = `content-length: ${body.length}\r\n`) =>
    `${line} HTTP/1.1\r\nHost: 127.0.0.1:${otlp}\r\ncontent-type: application/json\r\n${hk}: ${hv}\r\n${extra}\r\n`;
  const post = (t) => head(`POST ${t}`) + body;
  const cases = {
    traces: [otlp, post('/v1/traces')],
    metrics: [otlp, head('POST /v1/metrics', 'content-length: 22\r\n') + '{"resourceMetrics":[]}'],
    viaProxy: [proxy, post(`http://127.0.0.1:${otlp}/v1/traces`)],
    agents: [otlp, head('GET /api/agents', '')],
    postAgents: [otlp, post('/api/agents')],
    ws: [otlp, head('GET /ws', 'upgrade: websocket\r\nconnection: upgrade\r\n')],
    query: [otlp, post('/v1/traces?x=1')],
    pipelined: [otlp, post('/v1/traces') + head('GET /api/agents', '')],
    chunked: [otlp, head('POST /v1/traces', 'transfer-encoding: chunked\r\n') + `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`],
    twoLengths: [otlp, head('POST /v1/traces', `content-length: ${body.length}\r\ncontent-length: 0\r\n`) + body],
    spacedName: [otlp, head('POST /v1/traces', `content-length : 0\r\ncontent-length: ${body.length}\r\n`) + body],
    bareLf: [otlp, head('POST /v1/traces', `content-length: ${body.length}\nx: y\r\n`) + body],
    agentsViaProxy: [proxy, head(`GET http://127.0.0.1:${otlp}/api/agents`, '')],
    connect: [proxy, `CONNECT 127.0.0.1:${otlp} HTTP/1.1\r\nHost: 127.0.0.1:${otlp}\r\n\r\n`],
  };
  const ask = (port, data) => new Promise((resolve) => {
    let out = '';
    const s = net.connect(port, '127.0.0.1', () => s.write(data));
    s.on('data', (b) => { out += b; });
    s.on('error', (x) => resolve(`error ${x.code}`));
    s.on('close', () => resolve(out));
    s.setTimeout(20000, () => s.destroy());
  });
  (async () => {
    const said = {};
    for (const [k, [port, data]] of Object.entries(cases)) {
      const out = await ask(port, data);
      said[k] = { status: (out.match(/^HTTP\/1\.1 (\d+)/) || [null, out.slice(0, 80)])[1], answers: (out.match(/HTTP\/1\.[01] \d{3}/g) || []).length };
    }
    require('node:fs').writeFileSync(process.argv[1], JSON.stringify(said));
  })();
}

test('a sandboxed run\'s telemetry door opens agentd\'s OTLP routes and nothing else', async () => {
  // the internet as a user's: no test listener of 127.0.0.1 stands in for it
  const { d, dir, wt } = await startWithWorktree({ env: { AGENTD_TEST_NET_PUBLIC: '192.0.2.1:1' } });
  const said = path.join(dir, 'door-probe');
  try {
    const id = await commandAgent(d, wt, [process.execPath, '-e', `(${doorProbe.toString()})()`, said]);
    assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, {})).status, 200);
    const r = JSON.parse(await until(async () => (fs.existsSync(said) ? fs.readFileSync(said, 'utf8') : null), 'the probe\'s answers', 60000).catch(async (x) => {
      const m = (await api(d, 'GET', `/api/agents/${id}/messages?limit=50`)).body.messages.map((y) => y.content).join('\n');
      throw new Error(`${x.message}: ${m}`);
    }));
    // the run's telemetry gets through, straight or through its proxy
    for (const k of ['traces', 'metrics', 'viaProxy']) {
      assert.deepEqual(r[k], { status: '200', answers: 1 }, `${k}: ${JSON.stringify(r)}`);
    }
    // one request a connection: the second (agentd's API) never reaches agentd
    assert.deepEqual(r.pipelined, { status: '200', answers: 1 }, JSON.stringify(r));
    for (const k of ['agents', 'postAgents', 'ws', 'query', 'chunked', 'twoLengths', 'spacedName', 'bareLf', 'agentsViaProxy', 'connect']) {
      assert.deepEqual(r[k], { status: '403', answers: 1 }, `${k}: ${JSON.stringify(r)}`);
    }
  } finally {
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
