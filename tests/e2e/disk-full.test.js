// SPDX-License-Identifier: MIT
// A full disk drops nothing an agent prints (issue #41). The data dir sits
// on a small tmpfs; a command agent prints a counter; the tmpfs is filled:
// the holder cannot spool and stops reading (the agent blocks on its
// write), the store cannot write (SQLITE_FULL) and acknowledges nothing,
// the run says `stalled: disk full` (in /api/health and as a run_stalled
// event); space is freed and every counter value is stored exactly once,
// in order, and the run ends `succeeded`.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { openSse } = require('./lib/live');
const daemon = require('./lib/daemon');
const { api, until, allMessages, assertOnce } = require('./lib/api');

const ACP = path.resolve(__dirname, '../fixtures/acp-agent.js');


// The counter values in the stored output, in order; a line glued to
// another or cut short does not parse and fails the check below.
async function counters(d, id) {
  const text = (await allMessages(d, id)).filter((m) => m.role === 'assistant').map((m) => m.content).join('\n');
  return text.split('\n').filter((l) => l !== '').map((l) => (/^n=(\d+) x{60}$/.test(l) ? Number(l.slice(2, l.indexOf(' '))) : `bad line ${JSON.stringify(l.slice(0, 80))}`));
}

// Where the agent's shell sleeps in the kernel (a writer blocked on a full
// pipe sleeps in pipe_write). The agent runs in a sandbox, under another
// process: it is found by its command line, `sh -c` with the script's tag.
function agentWchans(tag) {
  const out = [];
  for (const pid of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (/(^|\/)sh$/.test(argv[0]) && argv[1] === '-c' && argv[2].includes(tag)) out.push(fs.readFileSync(`/proc/${pid}/wchan`, 'utf8').trim());
    } catch (_) { /* gone */ }
  }
  return out;
}

// The runs' stall and resume events, as they come, on an SSE stream that
// passes on only those two types: a WebSocket on every topic was also sent
// each of the agent's 200,000 output lines, and on a busy machine its queue
// passed the send bound and the reader was closed (overflow) before the
// stall came, so the test waited for an event it could no longer get.
async function listen(d) {
  const s = openSse(d, '/api/events?topics=*&types=run_stalled,run_resumed');
  await s.ready;
  assert.equal(s.status, 200);
  return { get events() { return s.events.map((e) => e.json); }, stop: s.stop };
}

// spoolElsewhere: the holders' spools are on another file system (the
// data dir's hold/ a symlink out of the tmpfs), so only the store is full:
// SQLITE_FULL alone, the holder not stalled.
// restart: agentd is killed (SIGKILL) or stopped (SIGTERM, --keep-agents:
// what waits for the disk is dropped from memory) while the disk is full,
// and a new one started once space is back: what was not stored is still
// in the spool (nothing was acknowledged past it) and is stored once.
async function fullDisk(t, { spoolElsewhere = false, restart = null } = {}) {
  const args = ['--stop-grace-ms', '300', ...(restart === 'SIGTERM' ? ['--keep-agents'] : [])];
  if (spoolElsewhere && daemon.PG_MODE) {
    return t.skip('on PostgreSQL: it fills the disk of SQLite\'s file alone; the server keeps its database on its own');
  }
  if (process.getuid() !== 0) return t.skip('needs root to mount a small tmpfs');
  const mnt = daemon.tmpDir('agentd-disk-');
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mnt]);
  if (mount.status !== 0) return t.skip(`cannot mount a tmpfs here: ${mount.stderr}`);
  const dataDir = path.join(mnt, 'data');
  const outside = daemon.tmpDir('agentd-disk-ctl-'); // not on the tmpfs
  const tag = `disk-full-${process.pid}-${Date.now()}`;
  let stopFile = null;
  const filler = path.join(mnt, 'filler');
  let d = null;
  let repo = null;
  let ev = null;
  try {
    if (spoolElsewhere) {
      fs.mkdirSync(dataDir, { mode: 0o700 });
      fs.mkdirSync(path.join(outside, 'hold'), { mode: 0o700 });
      fs.symlinkSync(path.join(outside, 'hold'), path.join(dataDir, 'hold'));
    }
    d = await daemon.start({ needUrl: true, dataDir, args });
    repo = daemon.tmpRepo('agentd-disk-wt-');
    const ws = await api(d, 'POST', '/api/workspaces', { path: repo, name: 'w' });
    assert.equal(ws.status, 201, JSON.stringify(ws.body));
    const wt = ws.body.worktrees[0].id;
    // In the worktree: the agent's sandbox shows it that.
    stopFile = path.join(ws.body.worktrees[0].path, '.stop');
    // A counter of 64-byte lines, a short pause every 200 lines, until told
    // to stop (bounded: 400,000 lines at most).
    const script = `: ${tag}; i=0; while [ $i -lt 400000 ] && [ ! -e ${stopFile} ]; do echo "n=$i ${'x'.repeat(60)}"; i=$((i+1)); ` +
      'if [ $((i % 200)) -eq 0 ]; then sleep 0.01; fi; done';
    const a = await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command: ['sh', '-c', script] });
    assert.equal(a.status, 201, JSON.stringify(a.body));
    const id = a.body.id;
    ev = await listen(d);
    const s = await api(d, 'POST', `/api/agents/${id}/start`, {});
    assert.equal(s.status, 200, JSON.stringify(s.body));
    const runId = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0].id;
    await until(async () => (await counters(d, id)).length >= 1000, 'the first counters stored');

    // Fill the file system to the last block.
    spawnSync('sh', ['-c', `dd if=/dev/zero of=${filler} bs=64k 2>/dev/null; sync`]);
    const stalled = await until(async () => {
      const h = await api(d, 'GET', '/api/health');
      assert.equal(h.status, 200);
      const x = (h.body.runs?.stalled ?? []).find((r) => r.runId === runId);
      return x ? h.body : null;
    }, 'the run to show stalled in /api/health');
    assert.equal(stalled.status, 'degraded');
    assert.ok(stalled.runs.stalled.some((r) => r.runId === runId && r.reason === 'disk full'), JSON.stringify(stalled.runs));
    assert.ok(stalled.statusReasons.some((w) => w.includes(runId) && w.includes('disk full')), JSON.stringify(stalled.statusReasons));
    await until(() => ev.events.some((e) => e.type === 'run_stalled' && e.payload.runId === runId && e.payload.reason === 'disk full'), 'the run_stalled event');
    const prom = await (await d.fetch(`${d.url}/metrics`)).text();
    assert.match(prom, /^agentd_runs_stalled [1-9]/m);
    // A client that reads its agents after the event sees the stall too:
    // the agent and the list carry it (a page reloaded, or resynced after a
    // gap, had lost it).
    assert.equal((await api(d, 'GET', `/api/agents/${id}`)).body.stalled, 'disk full');
    const listed = (await api(d, 'GET', '/api/agents')).body.agents.find((a) => a.id === id);
    assert.equal(listed?.stalled, 'disk full', JSON.stringify(listed));
    // The agent is not read: it sleeps on its write to the full pipe,
    // instead of its lines being dropped.
    const holdLog = path.join(dataDir, 'hold', runId, 'log');
    if (!spoolElsewhere) {
      await until(() => agentWchans(tag).some((w) => /pipe_write$/.test(w)), `the agent blocked on its write (wchan ${agentWchans(tag)})`);
      // The holder said so in its own log, in the data dir.
      await until(() => fs.existsSync(holdLog) && /spool write failed: No space left on device/.test(fs.readFileSync(holdLog, 'utf8')),
        'the holder log line');
      // ... which the run's own answer shows, with its stall.
      const info = await until(async () => {
        const r = await api(d, 'GET', `/api/runs/${runId}`);
        return r.status === 200 && /spool write failed/.test(r.body.holderLog ?? '') ? r.body : null;
      }, 'the holder log in GET /api/runs/:id');
      assert.equal(info.stalled?.reason, 'disk full', JSON.stringify(info));
    } else {
      // The store alone is full: the output waits in the spool, which grows
      // with lines nothing acknowledged.
      const spool = path.join(dataDir, 'hold', runId, 'out');
      const size0 = fs.statSync(spool).size;
      await until(() => fs.statSync(spool).size > size0 + 200000, 'the spool to grow while the store is full');
      assert.ok(!fs.existsSync(holdLog) || !/spool write failed/.test(fs.readFileSync(holdLog, 'utf8')));
    }

    if (!restart && !spoolElsewhere) {
      // A pause meanwhile stops the agent at once; its status waits for
      // room behind the output, and the request says so now instead of
      // waiting for the disk. So does the resume after it.
      const p = await api(d, 'POST', `/api/agents/${id}/pause`, {});
      assert.equal(p.status, 507, JSON.stringify(p.body));
      assert.equal(p.body.error.code, 'INSUFFICIENT_STORAGE');
      const q = await api(d, 'POST', `/api/agents/${id}/resume`, {});
      assert.equal(q.status, 507, JSON.stringify(q.body));
    }
    if (restart) {
      ev.stop();
      const ended = await d.stop(restart, 30000);
      if (restart === 'SIGTERM') assert.deepEqual(ended, { code: 0, signal: null }, d.stderr.slice(-2000));
      fs.rmSync(filler);
      d = await daemon.start({ needUrl: true, dataDir, args });
      ev = await listen(d);
    }
    // Space is back: the run goes on by itself.
    fs.rmSync(filler, { force: true });
    await until(async () => {
      const h = await api(d, 'GET', '/api/health');
      return !(h.body.runs?.stalled ?? []).some((r) => r.runId === runId) && h.body.status === 'ok';
    }, 'the stall to end');
    if (!restart) await until(() => ev.events.some((e) => e.type === 'run_resumed' && e.payload.runId === runId), 'the run_resumed event');
    await until(async () => (await api(d, 'GET', `/api/agents/${id}`)).body.stalled === undefined, 'the agent without its stall');
    const before = (await counters(d, id)).length;
    await until(async () => (await counters(d, id)).length >= before + 1000, 'counters after the stall');
    fs.writeFileSync(stopFile, '');
    await until(async () => (await api(d, 'GET', `/api/agents/${id}`)).body.status !== 'running', 'the run to end', 60000);
    const run = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0];
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    const values = await counters(d, id);
    assertOnce(values, 'after the full disk');
    // every line up to the stop, the thousand after the stall among them
    // (how many came before the stall depends on how fast the disk filled)
    assert.ok(values.length >= before + 1000, `${values.length} lines, ${before} before the stall ended`);
    const sys = (await allMessages(d, id)).filter((m) => m.role === 'system').map((m) => m.content);
    assert.ok(!sys.some((c) => /not stored|were lost/.test(c)), JSON.stringify(sys));
    // the stall is in the run's transcript too (issue #78), with what it meant
    if (!restart) assert.ok(sys.some((c) => /^\[agentd: this run was stalled for \d+ s \((disk full|[^)]*No space[^)]*)\)\. .*nothing was lost/.test(c)), JSON.stringify(sys));
  } finally {
    if (ev) ev.stop();
    try { fs.rmSync(filler, { force: true }); } catch (_) { /* gone */ }
    try { if (stopFile) fs.writeFileSync(stopFile, ''); } catch (_) { /* gone */ }
    daemon.endHolders(dataDir);
    if (d) await d.stop();
    spawnSync('umount', ['-l', mnt]);
    fs.rmSync(mnt, { recursive: true, force: true });
    fs.rmSync(outside, { recursive: true, force: true });
    if (repo) fs.rmSync(repo, { recursive: true, force: true });
  }
}

test('a full disk stalls the run and loses nothing; the agent waits on its write', (t) => fullDisk(t));

test('a full database alone (SQLITE_FULL): nothing acknowledged, everything stored once space is back', (t) =>
  fullDisk(t, { spoolElsewhere: true }));

test('agentd killed while the disk is full: the next one stores what was not stored, once', (t) =>
  fullDisk(t, { restart: 'SIGKILL' }));

test('agentd stopped while the disk is full (--keep-agents): the next one stores what was not stored, once', (t) =>
  fullDisk(t, { restart: 'SIGTERM' }));

// A data dir on a tmpfs of `size` (root only: the test skips otherwise)
// for body(x): x.dataDir, x.fill() to fill the file system to its last
// block, x.free() to give the space back; what body keeps in x.d (its
// daemon), x.repo and x.ev is ended and removed however it ends.
async function onSmallDisk(t, size, body) {
  if (process.getuid() !== 0) return t.skip('needs root to mount a small tmpfs');
  const mnt = daemon.tmpDir('agentd-disk-');
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mnt]);
  if (mount.status !== 0) return t.skip(`cannot mount a tmpfs here: ${mount.stderr}`);
  const filler = path.join(mnt, 'filler');
  const x = {
    dataDir: path.join(mnt, 'data'), d: null, repo: null, ev: null,
    fill: () => spawnSync('sh', ['-c', `dd if=/dev/zero of=${filler} bs=64k 2>/dev/null; sync`]),
    free: () => fs.rmSync(filler, { force: true }),
  };
  try {
    return await body(x);
  } finally {
    if (x.ev) x.ev.stop();
    try { x.free(); } catch (_) { /* gone */ }
    daemon.endHolders(x.dataDir);
    if (x.d) await x.d.stop();
    spawnSync('umount', ['-l', mnt]);
    fs.rmSync(mnt, { recursive: true, force: true });
    if (x.repo) fs.rmSync(x.repo, { recursive: true, force: true });
  }
}

// A daemon on x's data dir with args, and a workspace of a new repo:
// its first worktree.
async function daemonWithWorktree(x, args = []) {
  x.d = await daemon.start({ needUrl: true, dataDir: x.dataDir, args });
  x.repo = daemon.tmpRepo('agentd-disk-wt-');
  const ws = await api(x.d, 'POST', '/api/workspaces', { path: x.repo, name: 'w' });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  return ws.body.worktrees[0];
}

// A command agent in worktree wt, started; its id and its run's.
async function startCommand(d, wt, command) {
  const a = await api(d, 'POST', '/api/agents', { worktreeId: wt.id, executor: 'command', command });
  assert.equal(a.status, 201, JSON.stringify(a.body));
  const id = a.body.id;
  assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, {})).status, 200);
  return { id, runId: (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0].id };
}

// Without holders a plain child's pipe is not held back: on a full disk
// agentd keeps its output in memory up to the writer's bound (16 MiB) and
// sheds plain output past it. That run truly lost lines: it ends
// `degraded`, not `succeeded`, and says so in its transcript.
test('a run that truly lost output on a full disk ends degraded and says so', async (t) => {
  if (daemon.PG_MODE) {
    return t.skip('on PostgreSQL: the output is lost when SQLite\'s file cannot grow; the server\'s database is on a disk of its own');
  }
  return onSmallDisk(t, '64m', async (x) => { // room for what was kept
    const wt = await daemonWithWorktree(x, ['--stop-grace-ms', '300', '--hold-agents=false']);
    const go = path.join(wt.path, '.go'); // where its sandbox lets it look
    // 24 MB of lines once told to go, then exit 0.
    const script = `const fs = require('fs'); const l = 'x'.repeat(110); const t = setInterval(() => { if (!fs.existsSync(${JSON.stringify(go)})) return; clearInterval(t); ` +
      'let s = ""; for (let i = 0; i < 200000; i++) s += "n=" + String(i).padStart(7, "0") + l + "\\n"; process.stdout.write(s); }, 20);';
    const { id, runId } = await startCommand(x.d, wt, ['node', '-e', script]);
    const d = x.d;
    x.fill();
    // The stall is waited for as its event: the agent prints all at once and
    // exits, and the run ends (degraded) while the disk is still full, so it
    // may be listed as stalled in /api/health for less than one poll.
    x.ev = await listen(d);
    fs.writeFileSync(go, '');
    await until(() => x.ev.events.some((e) => e.type === 'run_stalled' && e.payload.runId === runId && e.payload.reason === 'disk full'), 'the run_stalled event');
    // The agent is done (its process gone) while the disk is still full.
    await until(async () => (await api(d, 'GET', `/api/agents/${id}`)).body.pid == null || !fs.existsSync(`/proc/${(await api(d, 'GET', `/api/agents/${id}`)).body.pid}`), 'the agent to exit', 60000);
    x.free();
    const run = await until(async () => {
      const r = (await api(d, 'GET', `/api/runs/${runId}`)).body;
      return r.status !== 'running' ? r : null;
    }, 'the run to end', 60000);
    assert.equal(run.status, 'degraded', JSON.stringify(run));
    const notes = (await allMessages(d, id)).filter((m) => m.role === 'system').map((m) => m.content);
    assert.ok(notes.some((c) => /were shown live but not stored/.test(c)), JSON.stringify(notes));
    const listed = await api(d, 'GET', '/api/runs?status=degraded');
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    assert.ok(listed.body.runs.some((r) => r.id === runId), JSON.stringify(listed.body));
  });
});

// A run that ends while the disk is full, with nothing of its output in
// flight: its end is what the store refuses first. It waits for space as
// output does, and is stored once there is room (the agent had stayed
// `running` for good, a fresh clone's browser test once showed).
test('a run that ends while the disk is full has its end stored once space is back', (t) => onSmallDisk(t, '8m', async (x) => {
  if (daemon.PG_MODE) return t.skip('on PostgreSQL: the server\'s database is on a disk of its own, and stores the end');
  const wt = await daemonWithWorktree(x, ['--stop-grace-ms', '300']);
  const d = x.d;
  const go = path.join(wt.path, '.go'); // where its sandbox lets it look
  const { id, runId } = await startCommand(d, wt, ['sh', '-c', `echo ready; while [ ! -e ${go} ]; do sleep 0.05; done; exit 3`]);
  await until(async () => (await allMessages(d, id)).some((m) => m.content.includes('ready')), 'the agent\'s first line stored');
  const pid = (await api(d, 'GET', `/api/agents/${id}`)).body.pid;
  assert.ok(pid > 0);
  x.ev = await listen(d);
  x.fill();
  fs.writeFileSync(go, '');
  await until(() => !fs.existsSync(`/proc/${pid}`), 'the agent to exit');
  await until(() => /msg="run ended" .*status=failed code=3/.test(d.stderr), 'the daemon to see the run end');
  // Nothing is stored yet, nor said as stored; the agent says why it waits.
  await until(() => x.ev.events.some((e) => e.type === 'run_stalled' && e.payload.runId === runId && e.payload.reason === 'disk full'), 'the run_stalled event');
  assert.equal((await api(d, 'GET', `/api/runs/${runId}`)).body.status, 'running');
  const waiting = (await api(d, 'GET', `/api/agents/${id}`)).body;
  assert.equal(waiting.stalled, 'disk full', JSON.stringify(waiting));
  assert.equal((await api(d, 'GET', '/api/agents')).body.agents.find((a) => a.id === id)?.stalled, 'disk full');
  x.free();
  const agent = await until(async () => {
    const g = (await api(d, 'GET', `/api/agents/${id}`)).body;
    return g.status !== 'running' ? g : null;
  }, 'the agent\'s end stored');
  assert.equal(agent.status, 'error', JSON.stringify(agent));
  assert.equal(agent.stalled, undefined, JSON.stringify(agent));
  assert.match(agent.statusReason.text, /process exited 3/, JSON.stringify(agent.statusReason));
  const run = (await api(d, 'GET', `/api/runs/${runId}`)).body;
  assert.equal(run.status, 'failed', JSON.stringify(run));
  assert.equal(run.exitCode, 3, JSON.stringify(run));
}));

// The data dir's network proxy keeps each registration in a file, for a
// proxy started again after one died; a full disk has no room for it. The
// program is served all the same: a disk that filled while a busy machine
// set an agent's sandbox up had failed its start (code 1) instead.
// The registration's file waits for room, as the program is served
// meanwhile: once there is room the proxy writes it, so a proxy killed
// after that takes the program up again (it had been served only by the
// proxy that registered it).
test('the network proxy serves a program registered while the disk is full, and keeps it across a restart', (t) => onSmallDisk(t, '8m', async (x) => {
  const wt = await daemonWithWorktree(x);
  const d = x.d;
  // a sandboxed run first: the proxy is up once it has ended
  const { id } = await startCommand(d, wt, ['true']);
  await until(async () => (await api(d, 'GET', `/api/agents/${id}`)).body.status !== 'running', 'the first run to end');
  assert.ok(fs.existsSync(path.join(x.dataDir, 'proxy', 'ctl')));
  x.fill();
  const folder = path.join(x.dataDir, 'proxy', 'ag_fullreg');
  const go = path.join(daemon.tmpDir('agentd-disk-go-'), 'go');
  const hold = path.join(path.dirname(daemon.BIN), 'agentd-hold');
  const prog = spawn(hold, ['--net-register', folder, '*', '--', 'sh', '-c',
    `test -S ${folder}/s && echo served; while [ ! -e ${go} ]; do sleep 0.05; done`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  prog.stdout.on('data', (b) => { out += b; });
  const ended = new Promise((resolve) => prog.on('exit', (code) => resolve(code)));
  try {
    await until(() => /served/.test(out), 'the program served');
    assert.ok(!fs.existsSync(`${folder}.reg`), 'no room for the file: none was left half written');
    x.free();
    await until(() => fs.existsSync(`${folder}.reg`), 'the registration\'s file written once there is room');
    const [first] = daemon.proxyPids(x.dataDir);
    assert.ok(first > 0, 'a proxy serves the data dir');
    process.kill(first, 'SIGKILL');
    await until(() => { const p = daemon.proxyPids(x.dataDir); return p.length === 1 && p[0] !== first; }, 'agentd to start another proxy');
    // the new proxy listens on the program's socket again
    await until(() => new Promise((resolve) => {
      const c = net.connect(path.join(folder, 's'));
      c.on('connect', () => { c.destroy(); resolve(true); });
      c.on('error', () => resolve(false));
    }), 'the program\'s socket served by the new proxy');
  } finally {
    fs.writeFileSync(go, '');
  }
  assert.equal(await ended, 0);
}));

// An agent's change while the disk is full (an ACP agent's turn ends:
// `waiting`) waits behind the output before it and is stored once there is
// room; it was refused and forgotten, and the agent read `running` until
// its next change.
// The turn's usage (usage_stats, what /api/usage counts) waits too: it was
// written straight to the store and lost.
test('an agent\'s change of status while the disk is full is stored once space is back', (t) => onSmallDisk(t, '8m', async (x) => {
  if (daemon.PG_MODE) return t.skip('on PostgreSQL: the server\'s database is on a disk of its own, and stores the change');
  const wt = await daemonWithWorktree(x, ['--stop-grace-ms', '300']);
  const d = x.d;
  const tag = `disk-turn-${process.pid}-${Date.now()}`;
  const a = await api(d, 'POST', '/api/agents', { worktreeId: wt.id, executor: 'acp', mode: 'auto', command: [process.execPath, ACP] });
  assert.equal(a.status, 201, JSON.stringify(a.body));
  const id = a.body.id;
  // a turn that runs a terminal until told to stop (a file in the worktree)
  const usage = { inputTokens: 1234, outputTokens: 56, cachedReadTokens: 7, totalTokens: 1297 };
  const term = JSON.stringify({ command: 'sh', args: ['-c', `: ${tag}; while [ ! -e .go ]; do sleep 0.05; done`], usage });
  const before = (await api(d, 'GET', '/api/usage/today')).body;
  assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, { initialPrompt: `term ${term}` })).status, 200);
  await until(() => agentWchans(tag).length > 0, 'the turn\'s terminal running');
  await until(async () => (await api(d, 'GET', `/api/agents/${id}`)).body.status === 'running', 'the agent running');
  x.ev = await listen(d);
  x.fill();
  fs.writeFileSync(path.join(wt.path, '.go'), '');
  await until(() => agentWchans(tag).length === 0, 'the terminal to end');
  // the turn's end is not stored: the agent says it waits for room
  await until(async () => (await api(d, 'GET', `/api/agents/${id}`)).body.stalled === 'disk full', 'the agent stalled');
  assert.equal((await api(d, 'GET', `/api/agents/${id}`)).body.status, 'running');
  x.free();
  await until(async () => (await api(d, 'GET', `/api/agents/${id}`)).body.status === 'waiting', 'the agent waiting, its turn over');
  const said = (await allMessages(d, id)).filter((m) => m.role === 'assistant').map((m) => m.content).join('\n');
  assert.match(said, /terminal: /, said);
  assert.equal((await api(d, 'GET', `/api/agents/${id}`)).body.stalled, undefined);
  const after = await until(async () => {
    const u = (await api(d, 'GET', '/api/usage/today')).body;
    return u.requestCount > before.requestCount ? u : null;
  }, 'the turn\'s usage stored');
  assert.equal(after.requestCount, before.requestCount + 1, JSON.stringify(after));
  assert.equal(after.inputTokens - before.inputTokens, 1234, JSON.stringify(after));
  assert.equal(after.outputTokens - before.outputTokens, 56, JSON.stringify(after));
}));

// A change of an agent that has no run, while the disk is full: a start
// the sandbox refuses (the command names a file in the data dir) answers
// at once, but its note in the transcript and the agent's `error` with the
// reason wait for room, and are stored once there is; they were refused
// and forgotten, and the agent stayed `idle` with no word of why.
test('a start refused while the disk is full has its reason stored once space is back', (t) => onSmallDisk(t, '8m', async (x) => {
  if (daemon.PG_MODE) return t.skip('on PostgreSQL: the server\'s database is on a disk of its own, and stores the change');
  const wt = await daemonWithWorktree(x);
  const d = x.d;
  const a = await api(d, 'POST', '/api/agents', { worktreeId: wt.id, executor: 'command', command: ['cat', path.join(x.dataDir, 'owner-token')] });
  assert.equal(a.status, 201, JSON.stringify(a.body));
  const id = a.body.id;
  x.fill();
  const s = await api(d, 'POST', `/api/agents/${id}/start`, {});
  assert.equal(s.status, 422, JSON.stringify(s.body));
  assert.match(s.body.error.message, /owner-token is outside the agent's sandbox/, JSON.stringify(s.body));
  const waiting = await until(async () => {
    const g = (await api(d, 'GET', `/api/agents/${id}`)).body;
    return g.stalled === 'disk full' ? g : null;
  }, 'the agent waiting for room');
  assert.equal(waiting.status, 'idle', JSON.stringify(waiting));
  x.free();
  const agent = await until(async () => {
    const g = (await api(d, 'GET', `/api/agents/${id}`)).body;
    return g.status === 'error' && g.stalled === undefined ? g : null;
  }, 'the refusal stored');
  assert.equal(agent.statusReason?.code, 'start_refused', JSON.stringify(agent));
  assert.match(agent.statusReason.text, /owner-token is outside the agent's sandbox/, JSON.stringify(agent));
  const notes = (await allMessages(d, id)).filter((m) => m.role === 'system' && /did not start the agent: .*owner-token/.test(m.content));
  assert.equal(notes.length, 1, JSON.stringify(notes));
}));

// A goal's check that ends while the disk is full: its note in the
// transcript and the goal's end wait for room, and are stored once there
// is (the note had been refused and lost).
test('a goal checked while the disk is full has its note and its end stored once space is back', (t) => onSmallDisk(t, '8m', async (x) => {
  if (daemon.PG_MODE) return t.skip('on PostgreSQL: the server\'s database is on a disk of its own, and stores the change');
  const wt = await daemonWithWorktree(x, ['--stop-grace-ms', '300']);
  const d = x.d;
  const a = await api(d, 'POST', '/api/agents', { worktreeId: wt.id, executor: 'command', command: ['sh', '-c', 'echo ready'] });
  assert.equal(a.status, 201, JSON.stringify(a.body));
  const id = a.body.id;
  // the check says it runs (a file in the worktree), then waits to be let go
  const check = ['sh', '-c', 'touch .checking; while [ ! -e .go ]; do sleep 0.05; done; echo checked'];
  const s = await api(d, 'POST', `/api/agents/${id}/start`, { goal: { check, prompt: 'again', maxTurns: 2 } });
  assert.equal(s.status, 200, JSON.stringify(s.body));
  await until(() => fs.existsSync(path.join(wt.path, '.checking')), 'the goal\'s check running');
  x.fill();
  fs.writeFileSync(path.join(wt.path, '.go'), '');
  await until(async () => (await api(d, 'GET', `/api/agents/${id}`)).body.stalled === 'disk full', 'the agent waiting for room');
  x.free();
  const met = await until(async () => {
    const g = (await api(d, 'GET', `/api/agents/${id}`)).body;
    return g.statusReason?.code === 'goal_met' && g.stalled === undefined ? g : null;
  }, 'the goal met, stored');
  assert.match(met.statusReason.text, /goal met after turn 1 of 2/, JSON.stringify(met.statusReason));
  const notes = await until(async () => {
    const m = (await allMessages(d, id)).filter((n) => n.role === 'system' && n.content.startsWith('goal check'));
    return m.length > 0 ? m : null;
  }, 'the goal check\'s note');
  assert.equal(notes.length, 1, JSON.stringify(notes));
  assert.match(notes[0].content, /after turn 1 of 2: .* exited 0: met\nchecked/, notes[0].content);
}));
