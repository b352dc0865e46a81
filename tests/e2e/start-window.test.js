// SPDX-License-Identifier: MIT
// A start is answered when the agent's process really runs (or could not
// be started, with the reason), and the daemon serves everything else
// meanwhile: the fork and exec are a spawner thread's (src/proc/spawner.c).
// What is asked in that window is handled: a second start is refused, a
// message waits and is written after the first prompt, a stop applies once
// the process runs, a shutdown waits for it and stops it. A program that
// cannot exec, or a holder that cannot start, fail the start with the
// reason and leave nothing behind. The test build's AGENTD_TEST_SPAWN_GATE
// holds spawns while a file exists, so the window is as long as a test
// needs (no timing); AGENTD_TEST_HOLDER_EXE names a holder that is not
// there.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { api, until, startWithWorktree, commandAgent } = require('./lib/api');

const FAKE = path.resolve(__dirname, '..', 'fixtures', 'fake-agent.js');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'agentd-window-'));
const GATE = path.join(scratch, 'gate');
let ctx;

test.before(async () => {
  ctx = await startWithWorktree({ args: ['--stop-grace-ms', '500'], env: { AGENTD_TEST_SPAWN_GATE: GATE } });
});
test.after(async () => {
  await ctx.d.cleanup();
  fs.rmSync(ctx.dir, { recursive: true, force: true });
  fs.rmSync(scratch, { recursive: true, force: true });
});

const closeGate = () => fs.writeFileSync(GATE, '');
const openGate = () => fs.rmSync(GATE, { force: true });

// Processes whose command line holds marker (from /proc).
function running(marker) {
  const found = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8');
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      if (cmd.includes(marker) && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z') found.push(Number(e));
    } catch (_) { /* gone */ }
  }
  return found;
}

// A start of id held at the gate: {answer} (a promise of the start's
// answer), once a second start is refused for it (so the first is in its
// window).
async function heldStart(d, id, body = {}) {
  closeGate();
  let answered = false;
  const answer = api(d, 'POST', `/api/agents/${id}/start`, body).finally(() => { answered = true; });
  const second = await until(async () => {
    const r = await api(d, 'POST', `/api/agents/${id}/start`, {});
    return r.status === 409 ? r : null;
  }, 'the start in its window');
  assert.match(second.body.error.message, /already running/);
  assert.equal(answered, false, 'the start waits for its process');
  return { answer };
}

async function outputLines(d, id) {
  const r = await api(d, 'GET', `/api/agents/${id}/messages?limit=100`);
  return r.body.messages.filter((m) => m.role === 'assistant').map((m) => m.content).join('\n');
}

test('the daemon answers other requests while a start waits for its process', async () => {
  const { d, wt } = ctx;
  const id = await commandAgent(d, wt, ['node', FAKE, 'echo']);
  const { answer } = await heldStart(d, id, { initialPrompt: 'first' });
  // the loop is free: reads, writes and other agents' starts meanwhile
  assert.equal((await api(d, 'GET', '/healthz')).status, 200);
  assert.equal((await api(d, 'GET', `/api/agents/${id}`)).status, 200);
  // a message sent meanwhile waits for the process, after the first prompt
  const msg = api(d, 'POST', `/api/agents/${id}/message`, { content: 'in the window' });
  openGate();
  const s = await answer;
  assert.equal(s.status, 200, JSON.stringify(s.body));
  assert.ok(s.body.pid > 0);
  assert.equal(s.body.status, 'running');
  const m = await msg;
  assert.equal(m.status, 200, JSON.stringify(m.body));
  assert.match(m.body.messageId, /^msg_/);
  const out = await until(async () => {
    const o = await outputLines(d, id);
    return /in the window/.test(o) ? o : null;
  }, 'the message echoed');
  assert.ok(out.indexOf('"first"') < out.indexOf('in the window'), out);
  const stop = await api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
  assert.equal(stop.status, 200, JSON.stringify(stop.body));
});

test('a stop sent while the process starts stops it once it runs', async () => {
  const { d, wt } = ctx;
  const id = await commandAgent(d, wt, ['sleep', '987651']);
  const { answer } = await heldStart(d, id);
  const stop = api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
  // it reads "stopping" from now on
  await until(async () => (await api(d, 'GET', `/api/agents/${id}`)).body.status === 'stopping', 'stopping');
  openGate();
  assert.equal((await answer).status, 200);
  const st = await stop;
  assert.equal(st.status, 200, JSON.stringify(st.body));
  const runs = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs;
  assert.equal(runs.length, 1);
  assert.equal(runs[0].status, 'stopped');
  assert.deepEqual(running('987651'), []);
});

test('a program that cannot exec fails its start with the reason; what waited is told', async () => {
  const { d, wt } = ctx;
  const bad = path.join(scratch, 'not-a-program');
  fs.writeFileSync(bad, '\x7fELF garbage', { mode: 0o755 }); // executable, not a program
  // (unsandboxed: a sandboxed agent's exec is bubblewrap's, whose failure
  // to run the program is its exit status)
  const id = await commandAgent(d, wt, [bad], { sandbox: 'none' });
  const { answer } = await heldStart(d, id);
  const msg = api(d, 'POST', `/api/agents/${id}/message`, { content: 'hello?' });
  const stop = api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
  await until(async () => (await api(d, 'GET', `/api/agents/${id}`)).body.status === 'stopping', 'stopping');
  openGate();
  const s = await answer;
  assert.equal(s.status, 422, JSON.stringify(s.body));
  assert.match(s.body.error.message, /Exec format error/);
  for (const r of [await msg, await stop]) {
    assert.equal(r.status, 409, JSON.stringify(r.body));
    assert.match(r.body.error.message, /could not start: .*Exec format error/);
  }
  // no run, no holder directory, and the agent is what it was
  assert.equal((await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs.length, 0);
  const a = (await api(d, 'GET', `/api/agents/${id}`)).body;
  assert.notEqual(a.status, 'running');
  assert.notEqual(a.status, 'stopping');
  assert.deepEqual(fs.readdirSync(path.join(d.dataDir, 'hold')), []);
  // and once it can run, it starts
  fs.copyFileSync('/bin/true', bad);
  openGate();
  const again = await api(d, 'POST', `/api/agents/${id}/start`, {});
  assert.equal(again.status, 200, JSON.stringify(again.body));
});

test('a holder that cannot start fails the start; its agent is not left running', async () => {
  const x = await startWithWorktree({ env: { AGENTD_TEST_HOLDER_EXE: path.join(scratch, 'no-such-holder') } });
  try {
    const id = await commandAgent(x.d, x.wt, ['sleep', '987652']);
    const s = await api(x.d, 'POST', `/api/agents/${id}/start`, {});
    assert.equal(s.status, 422, JSON.stringify(s.body));
    assert.match(s.body.error.message, /holder could not start: No such file/);
    assert.equal((await api(x.d, 'GET', `/api/agents/${id}/runs`)).body.runs.length, 0);
    await until(() => running('987652').length === 0, 'the agent gone');
    assert.deepEqual(fs.readdirSync(path.join(x.d.dataDir, 'hold')), []);
  } finally {
    await x.d.cleanup();
    fs.rmSync(x.dir, { recursive: true, force: true });
  }
});

test('a shutdown while a process starts waits for it and stops it', async () => {
  const x = await startWithWorktree({ env: { AGENTD_TEST_SPAWN_GATE: GATE }, keepDataDir: true });
  try {
    const id = await commandAgent(x.d, x.wt, ['sleep', '987653']);
    const { answer } = await heldStart(x.d, id);
    answer.catch(() => {}); // answered or cut by the shutdown: either is fine
    const exited = x.d.stop('SIGTERM', 20000);
    await until(() => /shutting down/.test(x.d.stderr), 'the shutdown begun');
    openGate();
    assert.deepEqual(await exited, { code: 0, signal: null }, x.d.stderr.slice(-3000));
    await until(() => running('987653').length === 0, 'the agent stopped');
  } finally {
    openGate();
    await x.d.cleanup();
    fs.rmSync(x.d.dataDir, { recursive: true, force: true });
    fs.rmSync(x.dir, { recursive: true, force: true });
  }
});
