// SPDX-License-Identifier: MIT
// Agents that run, through the REST API of the real binary: a `command`
// agent (tests/fixtures/fake-agent.js) is started, talked to, stopped; one
// that ignores SIGTERM is killed after the grace; kill -9 of agentd then a
// restart marks the run lost; many start/stop cycles leave no zombie.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');

const FAKE = path.resolve(__dirname, '..', 'fixtures', 'fake-agent.js');

async function api(d, method, url, body) {
  const res = await fetch(d.url + url, {
    method,
    headers: body !== undefined ? { 'content-type': 'application/json' } : {},
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

// Polls fn until it returns a truthy value (bounded).
async function until(fn, what, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function setup(opts = {}) {
  const d = await daemon.start({ needUrl: true, args: ['--stop-grace-ms', '300'], ...opts });
  const dir = daemon.tmpDir('agentd-wt-');
  const ws = await api(d, 'POST', '/api/workspaces', { path: dir, name: 'w' });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  return { d, dir, wt: ws.body.worktrees[0].id };
}

async function newAgent(d, wt, command, extra = {}) {
  const r = await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command, ...extra });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.id;
}

async function outputText(d, id) {
  const r = await api(d, 'GET', `/api/agents/${id}/messages?limit=100`);
  assert.equal(r.status, 200);
  return r.body.messages.map((m) => m.content).join('\n');
}

// Children of pid that are zombies (from /proc).
function zombiesOf(pid) {
  const out = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    let stat;
    try { stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8'); } catch (_) { continue; }
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(rest[1]) === pid && rest[0] === 'Z') out.push(Number(e));
  }
  return out;
}

test('a command agent starts, shows its output, takes messages and stops', async () => {
  const { d, dir, wt } = await setup();
  try {
    const id = await newAgent(d, wt, ['node', FAKE, 'echo']);
    const started = await api(d, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'hello agent' });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    assert.equal(started.body.status, 'running');
    assert.ok(started.body.pid > 0);

    const again = await api(d, 'POST', `/api/agents/${id}/start`, {});
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'CONFLICT');

    await until(async () => (await outputText(d, id)).includes('{"type":"echo","line":"hello agent"}'), 'the echo');
    const sent = await api(d, 'POST', `/api/agents/${id}/message`, { content: 'second message' });
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    assert.equal(sent.body.status, 'sent');
    assert.equal(sent.body.running, true);
    assert.match(sent.body.messageId, /^msg_/);
    await until(async () => (await outputText(d, id)).includes('"line":"second message"'), 'the second echo');

    const stopped = await api(d, 'POST', `/api/agents/${id}/stop`);
    assert.equal(stopped.status, 200);
    assert.equal(stopped.body.status, 'finished');
    assert.equal(stopped.body.pid, undefined);

    const runs = await api(d, 'GET', `/api/agents/${id}/runs`);
    assert.equal(runs.status, 200);
    assert.equal(runs.body.runs.length, 1);
    const run = runs.body.runs[0];
    assert.equal(run.status, 'stopped');
    assert.ok(run.endedAt && run.durationMs >= 0);
    const one = await api(d, 'GET', `/api/runs/${run.id}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.id, run.id);
    assert.equal((await api(d, 'GET', '/api/runs/run_nope')).status, 404);

    // Not running any more: a message is refused, a stop is a no-op.
    assert.equal((await api(d, 'POST', `/api/agents/${id}/message`, { content: 'x' })).status, 409);
    assert.equal((await api(d, 'POST', `/api/agents/${id}/stop`)).status, 200);
    assert.equal((await api(d, 'POST', `/api/agents/${id}/pause`)).status, 409);
    assert.equal((await api(d, 'POST', '/api/agents/ag_nope/start', {})).status, 404);
  } finally {
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('bad commands are refused with 422 and a failed run reports why', async () => {
  const { d, dir, wt } = await setup();
  try {
    const noCmd = await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command' });
    assert.equal(noCmd.status, 422);
    assert.equal(noCmd.body.error.details.field, 'command');
    const missing = await newAgent(d, wt, ['agentd-no-such-program-xyz']);
    const r = await api(d, 'POST', `/api/agents/${missing}/start`, {});
    assert.equal(r.status, 422);
    assert.match(r.body.error.message, /not found/);
    assert.equal((await api(d, 'GET', `/api/agents/${missing}/runs`)).body.runs.length, 0);

    const crash = await newAgent(d, wt, ['node', FAKE, 'exit', '7']);
    assert.equal((await api(d, 'POST', `/api/agents/${crash}/start`, {})).status, 200);
    const a = await until(async () => {
      const g = await api(d, 'GET', `/api/agents/${crash}`);
      return g.body.status === 'error' ? g.body : null;
    }, 'the failed status');
    assert.equal(a.state.statusReason, 'exited with code 7');
    const runs = await api(d, 'GET', `/api/agents/${crash}/runs`);
    assert.equal(runs.body.runs[0].status, 'failed');
    assert.equal(runs.body.runs[0].exitCode, 7);
  } finally {
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an agent that ignores SIGTERM is killed after the grace', async () => {
  const { d, dir, wt } = await setup();
  try {
    const id = await newAgent(d, wt, ['node', FAKE, 'ignore-term']);
    assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, {})).status, 200);
    await until(async () => (await outputText(d, id)).includes('"ready"'), 'ready');
    const stopped = await api(d, 'POST', `/api/agents/${id}/stop`);
    assert.equal(stopped.status, 200);
    assert.equal(stopped.body.status, 'finished');
    const run = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0];
    assert.equal(run.status, 'stopped');
    assert.equal(run.signal, 9);
    const out = await outputText(d, id);
    assert.match(out, /got SIGINT/);
    assert.match(out, /got SIGTERM/);
  } finally {
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('kill -9 of agentd, then a restart, marks the run lost', async () => {
  const dataDir = daemon.tmpDir();
  const { d, dir, wt } = await setup({ dataDir });
  let agentPid = 0;
  try {
    const id = await newAgent(d, wt, ['node', FAKE, 'sleep']);
    const s = await api(d, 'POST', `/api/agents/${id}/start`, {});
    assert.equal(s.status, 200);
    agentPid = s.body.pid;
    await d.stop('SIGKILL');

    const d2 = await daemon.start({ needUrl: true, dataDir });
    try {
      const a = await until(async () => {
        const g = await api(d2, 'GET', `/api/agents/${id}`);
        return g.body.status === 'error' ? g.body : null;
      }, 'the lost status');
      assert.equal(a.pid, undefined);
      assert.match(a.state.statusReason, /^lost/);
      const run = (await api(d2, 'GET', `/api/agents/${id}/runs`)).body.runs[0];
      assert.equal(run.status, 'lost');
      assert.ok(run.endedAt);
    } finally {
      await d2.stop();
    }
  } finally {
    if (agentPid > 0) {
      try { process.kill(-agentPid, 'SIGKILL'); } catch (_) { /* gone */ }
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('many start/stop cycles and a clean exit leave no zombie', async () => {
  const { d, dir, wt } = await setup();
  try {
    const id = await newAgent(d, wt, ['sleep', '30'], { stopWith: 'none' });
    for (let i = 0; i < 40; i++) {
      const s = await api(d, 'POST', `/api/agents/${id}/start`, {});
      assert.equal(s.status, 200, JSON.stringify(s.body));
      const t = await api(d, 'POST', `/api/agents/${id}/stop${i % 2 ? '?force=true' : ''}`);
      assert.equal(t.status, 200);
      assert.equal(t.body.status, 'finished');
    }
    assert.deepEqual(zombiesOf(d.proc.pid), []);
    const runs = (await api(d, 'GET', `/api/agents/${id}/runs?limit=100`)).body.runs;
    assert.equal(runs.length, 40);
    assert.ok(runs.every((r) => r.status === 'stopped'));

    // A running agent is stopped when agentd exits cleanly.
    const s = await api(d, 'POST', `/api/agents/${id}/start`, {});
    const pid = s.body.pid;
    const exited = await d.stop('SIGTERM');
    assert.equal(exited.code, 0);
    assert.throws(() => process.kill(pid, 0)); // no orphan left behind
  } finally {
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
