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
const { spawn } = require('node:child_process');
const daemon = require('./lib/daemon');
const { threadSched } = require('./lib/sched');
const { api, until, startWithWorktree, commandAgent } = require('./lib/api');
const { openSse } = require('./lib/live');

const FAKE = path.resolve(__dirname, '..', 'fixtures', 'fake-agent.js');

const setup = (opts = {}) => startWithWorktree({ args: ['--stop-grace-ms', '300'], ...opts });
const newAgent = commandAgent;

async function outputText(d, id) {
  const r = await api(d, 'GET', `/api/agents/${id}/messages?limit=100`);
  assert.equal(r.status, 200);
  return r.body.messages.map((m) => m.content).join('\n');
}

// Children of pid that are zombies (from /proc).
// pid's children from /proc: "<pid> (<comm>)" each, with their state.
function childrenOf(pid) {
  const out = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    let stat;
    try { stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8'); } catch (_) { continue; }
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(rest[1]) === pid) out.push({ state: rest[0], name: `${e} ${stat.slice(stat.indexOf('('), stat.lastIndexOf(')') + 1)}` });
  }
  return out;
}

function zombiesOf(pid) {
  return childrenOf(pid).filter((c) => c.state === 'Z').map((c) => c.name);
}

// Holders still alive or not yet reaped: every run stopped, none may stay.
const holdersOf = (pid) => childrenOf(pid).filter((c) => c.name.endsWith('(agentd-hold)'));

// What a failed reap check prints: agentd's pending and blocked signals
// and each of its threads' state and wait channel.
function signalState(pid) {
  const read = (f) => { try { return fs.readFileSync(f, 'utf8'); } catch (_) { return ''; } };
  const sig = read(`/proc/${pid}/status`).split('\n').filter((l) => /^(Sig|Shd)/.test(l)).join(' ');
  const threads = fs.readdirSync(`/proc/${pid}/task`).map((t) => {
    const st = read(`/proc/${pid}/task/${t}/stat`);
    const blk = (read(`/proc/${pid}/task/${t}/status`).match(/SigBlk:\s*(\S+)/) || [])[1];
    return `${t} ${st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3)} ${read(`/proc/${pid}/task/${t}/wchan`)} blk=${blk}`;
  });
  return `zombies left; agentd ${sig}; threads: ${threads.join(', ')}`;
}

// Waits until agentd has no holder child left (a held run's holder ends a
// moment after the run's end is answered, then is a zombie until reaped)
// and no zombie child. The reap needs its loop to run,
// so the bound is 30 s of the loop not waiting for a CPU (a loaded 2-core
// machine has kept an ASan agentd's loop off the CPU for over 30 s), and
// 300 s in all. What it waited is in the failure's words.
async function untilReaped(pid) {
  const t0 = Date.now();
  const s0 = threadSched(pid);
  const starved = () => { const s = threadSched(pid); return s && s0 ? s.wait - s0.wait : 0; };
  while (zombiesOf(pid).length > 0 || holdersOf(pid).length > 0) {
    const spent = Date.now() - t0;
    if (spent - starved() > 30000 || spent > 300000) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const s1 = threadSched(pid);
  return `after ${Date.now() - t0} ms, agentd's loop ran ${s0 && s1 ? Math.round(s1.cpu - s0.cpu) : '?'} ms ` +
    `and waited ${Math.round(starved())} ms for a CPU`;
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

    const stopped = await api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
    assert.equal(stopped.status, 200);
    assert.equal(stopped.body.status, 'stopped');
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

    // Archiving a running agent stops it; an archived agent cannot start.
    const arch = await newAgent(d, wt, ['node', FAKE, 'sleep']);
    assert.equal((await api(d, 'POST', `/api/agents/${arch}/start`, {})).status, 200);
    assert.equal((await api(d, 'DELETE', `/api/agents/${arch}`)).status, 200);
    await until(async () => {
      const runs = (await api(d, 'GET', `/api/agents/${arch}/runs`)).body.runs;
      return runs[0].status === 'stopped';
    }, 'the archived agent to stop');
    assert.equal((await api(d, 'POST', `/api/agents/${arch}/start`, {})).status, 409);

    // Not running any more: a message and a stop are refused (nothing to do).
    assert.equal((await api(d, 'POST', `/api/agents/${id}/message`, { content: 'x' })).status, 409);
    const stopAgain = await api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
    assert.equal(stopAgain.status, 409);
    assert.match(stopAgain.body.error.message, /not running/);
    assert.equal((await api(d, 'POST', `/api/agents/${id}/pause`)).status, 409);
    assert.equal((await api(d, 'POST', '/api/agents/ag_nope/start', {})).status, 404);
  } finally {
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a run\'s output, metrics and state arrive live as events', async () => {
  const { d, dir, wt } = await setup();
  try {
    const id = await newAgent(d, wt, ['node', FAKE, 'metrics', '3']);
    const s = openSse(d, `/api/events?topics=${encodeURIComponent(`agent:${id}`)}`);
    await s.ready; // the stream is open
    assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, {})).status, 200);
    const evs = () => s.events.map((e) => e.json);
    const of = (type) => evs().filter((e) => e.type === type);
    await until(() => of('agent_exit').length === 1, 'agent_exit');
    await until(() => of('agent_status').some((e) => e.payload.status === 'finished'), 'finished');
    const out = of('agent_output').map((e) => e.payload.content).join('\n');
    assert.match(out, /step 0 done\nstep 1 done|step 0 done/);
    assert.match(out, /step 2 done/);
    assert.ok(of('agent_output').every((e) => e.payload.agentId === id && e.payload.runId.startsWith('run_')));
    const points = of('metrics_update').flatMap((e) => e.payload.points);
    assert.deepEqual(points.map((p) => p.step), [0, 1, 2]);
    assert.equal(points[0].name, 'loss');
    assert.ok(of('agent_update').some((e) => e.payload.state && e.payload.state.epoch === 1));
    assert.equal(of('agent_exit')[0].payload.code, 0);
    // running came before the output, finished after the exit
    const seqOf = (pred) => evs().findIndex(pred);
    assert.ok(seqOf((e) => e.type === 'agent_status' && e.payload.status === 'running') <
      seqOf((e) => e.type === 'agent_exit'));
    s.stop();
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
    assert.equal(a.state.statusReason, 'exited with code 7: exiting 7');
    const runs = await api(d, 'GET', `/api/agents/${crash}/runs`);
    assert.equal(runs.body.runs[0].status, 'failed');
    assert.equal(runs.body.runs[0].exitCode, 7);

    // A program that says why on stderr before it fails: the reason has its
    // last line, so "exited with code N" is not all a user learns.
    const says = await newAgent(d, wt, ['sh', '-c', 'echo "starting" >&2; echo "  boom: no session abc  " >&2; echo >&2; exit 5']);
    assert.equal((await api(d, 'POST', `/api/agents/${says}/start`, {})).status, 200);
    const b = await until(async () => {
      const g = await api(d, 'GET', `/api/agents/${says}`);
      return g.body.status === 'error' ? g.body : null;
    }, 'the second failed status');
    assert.equal(b.state.statusReason, 'exited with code 5: boom: no session abc');
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
    const stopped = await api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
    assert.equal(stopped.status, 200);
    assert.equal(stopped.body.status, 'stopped');
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

test('without holders, kill -9 of agentd then a restart marks the run lost and reports the orphan', async () => {
  // With holders (the default) the run goes on: tests/e2e/hold.test.js.
  const dataDir = daemon.tmpDir();
  const noHold = ['--stop-grace-ms', '300', '--hold-agents=false'];
  const { d, dir, wt } = await setup({ dataDir, args: noHold });
  let agentPid = 0;
  try {
    const id = await newAgent(d, wt, ['node', FAKE, 'sleep']);
    const s = await api(d, 'POST', `/api/agents/${id}/start`, {});
    assert.equal(s.status, 200);
    agentPid = s.body.pid;
    await d.stop('SIGKILL');

    const d2 = await daemon.start({ needUrl: true, dataDir, args: noHold });
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
      // The agent process still runs, unsupervised: said, not silent.
      const h = await api(d2, 'GET', '/api/health');
      const o = h.body.processes.orphans.find((x) => x.runId === run.id);
      assert.ok(o, JSON.stringify(h.body.processes));
      assert.equal(o.pid, agentPid);
      assert.match(d2.stderr, /without holders/);
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

test('a terminal agent streams raw bytes over its WebSocket and resizes', async () => {
  const WebSocket = require('./lib/ws');
  const { d, dir, wt } = await setup();
  try {
    const id = await newAgent(d, wt, ['node', FAKE, 'tty'], { terminal: true });
    const plain = await newAgent(d, wt, ['node', FAKE, 'sleep']);
    assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, {})).status, 200);
    // Wait until the child has drawn its first line (it goes to the replay).
    await until(async () => (await outputText(d, id)).includes('"type":"tty"'), 'the tty line');

    const ws = new WebSocket(d.url.replace('http', 'ws') + `/ws/agents/${id}/terminal`, ['bearer', d.token]);
    let seen = '';
    const closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
    ws.on('message', (data, isBinary) => { assert.ok(isBinary); seen += data.toString('utf8'); });
    await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
    await until(() => seen.includes('"isatty":true'), 'the replayed screen');
    ws.send(JSON.stringify({ type: 'resize', rows: 40, cols: 120 }));
    await until(() => seen.includes('{"type":"resize","rows":40,"cols":120}'), 'the resize');
    ws.send(Buffer.from('quit\n'), { binary: true });
    assert.equal(await closed, 1000);
    await until(async () => (await api(d, 'GET', `/api/agents/${id}`)).body.status === 'finished', 'the exit');

    // No terminal, or not running: the socket says so.
    assert.equal((await api(d, 'POST', `/api/agents/${plain}/start`, {})).status, 200);
    for (const [agent, code] of [[plain, 4409], [id, 4404]]) {
      const w = new WebSocket(d.url.replace('http', 'ws') + `/ws/agents/${agent}/terminal`, ['bearer', d.token]);
      assert.equal(await new Promise((resolve) => w.on('close', (c) => resolve(c))), code);
    }
  } finally {
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function hwmKb(pid) {
  const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmHWM:\s+(\d+)/);
  return Number(m[1]);
}

test('100 MB of output from one agent keeps agentd\'s memory bounded', async () => {
  // A small ASan quarantine so freed memory is not counted (no effect
  // without ASan).
  const { d, dir, wt } = await setup({ env: { ASAN_OPTIONS: 'quarantine_size_mb=4:detect_leaks=1' } });
  try {
    const id = await newAgent(d, wt, ['node', FAKE, 'flood', '100']);
    const before = hwmKb(d.proc.pid);
    assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, {})).status, 200);
    await until(async () => (await api(d, 'GET', `/api/agents/${id}`)).body.status === 'finished', 'the flood to end', 120000);
    const after = hwmKb(d.proc.pid);
    const run = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0];
    assert.equal(run.status, 'succeeded');
    // The last line arrived and was kept (stored or noted as shed).
    const last = (await api(d, 'GET', `/api/agents/${id}/messages?limit=2`)).body.messages;
    assert.ok(last.some((m) => /(^|\n)done$/.test(m.content) || /not stored/.test(m.content)), JSON.stringify(last.map((m) => m.content.slice(-80))));
    // 100 MB went through; agentd grew by far less.
    assert.ok(after - before < 64 * 1024, `peak RSS grew from ${before} kB to ${after} kB`);
    process.stderr.write(`# flood: peak RSS ${before} kB -> ${after} kB\n`);
  } finally {
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// A writer held up (here: another connection holds the SQLite file's write
// lock) cannot put events in the event log; a flooding agent's output stops
// streaming live before the bus holds more than 8 MiB of them, and every
// byte is still stored once the writer goes on.
test('a flood while the writer is held up leaves at most 8 MiB of events waiting', async () => {
  const { d, dir, wt } = await setup({ sqlite: true });
  const lock = spawn('sqlite3', [path.join(d.dataDir, 'agentd.db')], { stdio: ['pipe', 'pipe', 'inherit'] });
  let said = '';
  lock.stdout.on('data', (b) => { said += b; });
  const waiting = async () => {
    const m = (await api(d, 'GET', '/metrics')).text.match(/^agentd_events_unpersisted_bytes (\d+)/m);
    return m ? Number(m[1]) : 0;
  };
  try {
    const id = await newAgent(d, wt, ['node', FAKE, 'flood', '100']);
    lock.stdin.write("BEGIN IMMEDIATE;\nSELECT 'locked';\n");
    await until(async () => said.includes('locked'), 'the store locked by another connection');
    const started = api(d, 'POST', `/api/agents/${id}/start`, {});
    let most = await until(async () => { const n = await waiting(); return n >= 4 << 20 ? n : null; }, 'events waiting for the writer');
    for (let i = 0; i < 20; i++) most = Math.max(most, await waiting());
    lock.stdin.end('COMMIT;\n');
    assert.ok(most <= (8 << 20) + (1 << 20), `${most} bytes of events waited`);
    assert.equal((await started).status, 200);
    await until(async () => (await api(d, 'GET', `/api/agents/${id}`)).body.status === 'finished', 'the flood to end', 120000);
    assert.equal((await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0].status, 'succeeded');
  } finally {
    lock.kill();
    await d.cleanup();
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
      const t = await api(d, 'POST', `/api/agents/${id}/stop?wait=true${i % 2 ? '&force=true' : ''}`);
      assert.equal(t.status, 200);
      assert.equal(t.body.status, 'stopped');
    }
    // A held run's holder ends a moment after the run's end is answered and
    // is reaped then: a zombie that stays is the failure, not one in passing.
    const waited = await untilReaped(d.proc.pid);
    assert.deepEqual(zombiesOf(d.proc.pid), [], `${signalState(d.proc.pid)}; ${waited}`);
    assert.deepEqual(holdersOf(d.proc.pid).map((c) => c.name), [], `holders left; ${waited}`);
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
