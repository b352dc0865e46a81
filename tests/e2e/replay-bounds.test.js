// SPDX-License-Identifier: MIT
// Replays bounded in the worst case (issue #78): 1,000 readers replaying
// from seq 0 of a log of 3 KB events, past the replay ring so read from the
// event log, some reading slowly, some not at all. agentd's peak resident
// memory stays under --event-replay-bytes plus a fixed margin, /healthz
// answers within 50 ms throughout, and every reader that keeps reading gets
// every event once, in order (WebSocket and SSE). Before the replay budget
// 1,000 such replays reached 1.2 GB and stalled /healthz for seconds.
// In E2E_SERIAL: it measures the daemon's memory.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { Worker } = require('node:worker_threads');
const { start } = require('./lib/daemon');
const { until } = require('./lib/api');
const { hostPort } = require('./lib/raw');
const { publish, hasTestRoutes } = require('./lib/live');

const MiB = 1 << 20;
// As memory-bounds.test.js: a small ASan quarantine, freed pages returned.
const ASAN = { ASAN_OPTIONS: `${process.env.ASAN_OPTIONS ? `${process.env.ASAN_OPTIONS}:` : ''}quarantine_size_mb=4:allocator_release_to_os_interval_ms=200` };
const BOUND = 64 * MiB; // --event-replay-bytes
// What the daemon holds besides the replays: 1,000 connections' buffers,
// the frame caches, the allocator's slack (an ASan build's shadow too).
const MARGIN = 96 * MiB;
const READERS = 1000;
const PROCS = 4;

function status(pid, key) {
  const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'));
  return Number(m[1]) * 1024;
}

// Readers that subscribe with since 0 and never read, their receive
// buffers small (Node cannot set SO_RCVBUF): what the daemon sends them
// stays in its own queues.
const FIXTURES = path.join(__dirname, '..', 'fixtures');
const STUCK_PY = `
import sys
sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, ${JSON.stringify(FIXTURES)})
from wsreader import open_ws, send_text
host, port, token, n, topic = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
last = ('"seq":%s,' % sys.argv[6]).encode() if len(sys.argv) > 6 else None
socks = []
for i in range(n):
    s, rest = open_ws(host, port, token, timeout=30)
    send_text(s, '{"type":"subscribe","payload":{"topics":["%s"],"since":0}}' % topic)
    socks.append(s)
print("ready", flush=True)
if sys.stdin.readline().strip() == "drain":
    # read what each socket was sent, to its close (cut) or its last event
    # (not cut: it replays on once read): print its tail
    for s in socks:
        s.settimeout(30)
        got = b""
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                got = (got + b)[-8192:]
                if b"overflow: replay stalled" in got or (last is not None and last in got):
                    break
        except OSError:
            pass
        print(got[-400:].decode("latin1").replace("\\n", " "), flush=True)
    print("drained", flush=True)
sys.stdin.read()
`;

// Starts a child and resolves once it printed what ready() says; lines
// parsed as JSON where they are.
function child(cmd, args, isReady) {
  const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const c = { p, lines: [], err: '', exited: false };
  let buf = '';
  p.stderr.on('data', (b) => { c.err += b; });
  p.on('exit', () => { c.exited = true; });
  c.ready = new Promise((resolve, reject) => {
    p.stdout.on('data', (b) => {
      buf += b;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let v = line;
        try { v = JSON.parse(line); } catch { /* a plain line */ }
        c.lines.push(v);
        if (isReady(v)) resolve();
      }
    });
    p.on('exit', () => reject(new Error(`${cmd} exited: ${c.err.slice(0, 2000)}`)));
  });
  c.kill = () => { if (!c.exited) p.kill('SIGKILL'); };
  return c;
}

// Nanoseconds the threads of process pid have waited for a CPU while they
// could run (the scheduler's run delay, /proc/<pid>/task/<tid>/schedstat).
function runDelay(pid) {
  let ns = 0;
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1]);
      } catch { /* the thread ended */ }
    }
  } catch { /* the process ended */ }
  return ns;
}

// Times GET /healthz on a kept-alive connection, one after another, until
// stop() is called, in a worker thread of its own: on the test's main
// thread an answer could wait behind the readers' output being handled
// (fc12 once read 50.7 ms while agentd's longest turn was 13.3 ms). Each
// answer's time is taken twice: as the clock says, and less what agentd's
// threads and the worker's thread waited for a CPU meanwhile: on a machine
// shared by many, that wait is the machine's (a worker preempted while it
// holds a lock the loop needs stalls the loop too, so every thread of
// agentd counts). What is left is the loop's own work, which
// agentd_loop_turn_max_seconds measures from inside as well. Resolves the
// slowest of each, the count, the slow ones, and the most resident memory
// seen between answers.
const PROBE = `
const { parentPort, workerData: { url, pid } } = require('node:worker_threads');
const http = require('node:http');
const fs = require('node:fs');
${status.toString()}
${runDelay.toString()}
// this thread's own run delay (the read happens on it: a sync call)
const own = () => {
  try { return Number(fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[1]); } catch { return 0; }
};
let stopped = false;
parentPort.on('message', () => { stopped = true; });
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const r = { max: 0, maxLoop: 0, n: 0, failed: null, slow: [], rss: 0 };
(async () => {
  while (!stopped) {
    const d0 = runDelay(pid);
    const s0 = own();
    const t0 = process.hrtime.bigint();
    await new Promise((resolve) => {
      const req = http.get(url + '/healthz', { agent }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode !== 200) r.failed = 'status ' + res.statusCode;
          resolve();
        });
      });
      req.on('error', (e) => { r.failed = e.message; resolve(); });
    });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const loop = ms - (runDelay(pid) - d0 + own() - s0) / 1e6;
    r.max = Math.max(r.max, ms);
    r.maxLoop = Math.max(r.maxLoop, loop);
    if (ms >= 50) r.slow.push(Math.round(ms) + '/' + Math.round(loop));
    r.n++;
    // VmHWM alone may miss a peak given back by madvise: RSS sampled too
    try { r.rss = Math.max(r.rss, status(pid, 'VmRSS')); } catch { /* gone */ }
    await new Promise((res) => setTimeout(res, 10));
  }
  agent.destroy();
  parentPort.postMessage(r);
})();
`;

function probe(url, pid) {
  const w = new Worker(PROBE, { eval: true, workerData: { url, pid } });
  const done = new Promise((resolve, reject) => {
    w.once('message', (r) => { w.terminate(); resolve(r); });
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`the /healthz probe ended (${code}) before it was stopped`)));
  });
  return { stop: () => { w.postMessage('stop'); return done; } };
}

async function metric(d, name) {
  const r = await d.fetch(`${d.url}/metrics`, { headers: d.authHeaders });
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(await r.text());
  return m ? Number(m[1]) : NaN;
}

test('1,000 replays from seq 0 of a 33 MB log: peak memory under the replay bound, /healthz prompt, every reader whole', { timeout: 600000 }, async (t) => {
  const d = await start({ needUrl: true, env: ASAN,
    args: ['--event-ring-bytes', String(MiB), '--event-replay-bytes', String(BOUND)] });
  const kids = [];
  try {
    if (!(await hasTestRoutes(d))) { t.skip('needs a test build (/test/publish)'); return; }
    // ~33 MB of 3 KB events on one topic: all but the last MiB only in the log
    const log = await publish(d, { type: 'line', topics: ['log'], count: 11000, perTick: 250,
      payload: { pad: 'x'.repeat(3000) } });
    await until(async () => (await metric(d, 'agentd_events_unpersisted_bytes')) === 0,
      'the log written', 60000);
    const slowTurns = await metric(d, 'agentd_loop_turns_slow_total');
    const pid = d.proc.pid;
    const idle = status(pid, 'VmRSS');
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5'); // VmHWM from here on

    const { host, port } = hostPort(d.url);
    const slowProbe = probe(d.url, pid);
    const stuck = child('python3', ['-c', STUCK_PY, host, String(port), d.token, '100', 'log'], (v) => v === 'ready');
    kids.push(stuck);
    const per = (READERS - 100) / PROCS; // 225 a process
    for (let i = 0; i < PROCS; i++) {
      const cfg = { host, port, token: d.token, topic: 'log', first: log.first, last: log.last,
        count: log.count, full: 2, sse: 1, slow: 40, drop: per - 43 };
      kids.push(child(process.execPath, [path.join(__dirname, 'lib/replay-crowd.js'), JSON.stringify(cfg)],
        (v) => v && v.ready === true));
    }
    await Promise.all(kids.map((k) => k.ready));
    const slowTurnsReady = await metric(d, 'agentd_loop_turns_slow_total');
    // every full reader (WebSocket and SSE) reaches the last event, checked
    const crowds = kids.slice(1);
    const readers = PROCS * 3;
    const results = () => crowds.flatMap((k) => k.lines.filter((v) => v && v.done));
    await until(() => results().length >= readers, 'every full reader done', 400000);
    const timing = await slowProbe.stop();
    const peak = Math.max(status(pid, 'VmHWM'), timing.rss);
    const mib = (x) => `${(x / MiB).toFixed(1)} MiB`;
    const held = await metric(d, 'agentd_replay_held_peak_bytes');
    const cut = await metric(d, 'agentd_replay_cut_total');
    const turnsNow = await metric(d, 'agentd_loop_turns_slow_total');
    const turns = turnsNow - slowTurns;
    const turnsReplay = turnsNow - slowTurnsReady;
    const longest = await metric(d, 'agentd_loop_turn_max_seconds');
    t.diagnostic(`RSS idle ${mib(idle)}, peak ${mib(peak)} (bound ${mib(BOUND)} + margin ${mib(MARGIN)}); ` +
      `replay budget peak ${mib(held)}, readers cut ${cut}; /healthz slowest ${timing.max.toFixed(1)} ms ` +
      `(${timing.maxLoop.toFixed(1)} ms less the CPU waits) of ${timing.n}; 50 ms or more (clock/loop): ` +
      `${timing.slow.join(', ') || 'none'}; loop turns of 50 ms CPU or more: ${turns} (${turnsReplay} once ` +
      `all were subscribed), the longest turn since start ${(longest * 1000).toFixed(1)} ms`);
    for (const r of results()) assert.ok(r.ok, `a ${r.role} reader: ${r.err} (after ${r.n} events)`);
    assert.equal(timing.failed, null, `/healthz failed: ${timing.failed}`);
    assert.ok(held <= BOUND + 8 * MiB, `the replays held ${mib(held)} at once; the bound is ${mib(BOUND)}`);
    assert.ok(peak < idle + BOUND + MARGIN, `peak RSS ${mib(peak)}: more than idle ${mib(idle)} + ` +
      `the replay bound ${mib(BOUND)} + ${mib(MARGIN)}`);
    assert.equal(turnsReplay, 0, 'a loop turn of 50 ms of CPU or more while the replays ran');
    assert.ok(timing.maxLoop < 50, `/healthz took ${timing.maxLoop.toFixed(1)} ms during the replays ` +
      `(${timing.max.toFixed(1)} ms by the clock, with the CPU waits); the bound is 50 ms`);
  } finally {
    for (const k of kids) k.kill();
    await d.cleanup();
  }
});

test('a replay that takes nothing while others wait is told to come back, and the others go on', { timeout: 120000 }, async (t) => {
  // a budget of four steps, taken by four readers that never read
  const d = await start({ needUrl: true, env: ASAN,
    args: ['--event-ring-bytes', String(MiB), '--event-replay-bytes', String(MiB)] });
  const kids = [];
  try {
    if (!(await hasTestRoutes(d))) { t.skip('needs a test build (/test/publish)'); return; }
    const log = await publish(d, { type: 'line', topics: ['log'], count: 3000, perTick: 250,
      payload: { pad: 'x'.repeat(3000) } });
    const { host, port } = hostPort(d.url);
    const stuck = child('python3', ['-c', STUCK_PY, host, String(port), d.token, '4', 'log', String(log.last)],
      (v) => v === 'ready');
    kids.push(stuck);
    await stuck.ready;
    await until(async () => (await metric(d, 'agentd_replay_held_bytes')) >= MiB, 'the budget taken', 30000);
    // a reader that keeps reading waits its turn, then gets every event
    const cfg = { host, port, token: d.token, topic: 'log', first: log.first, last: log.last,
      count: log.count, full: 1, sse: 0, slow: 0, drop: 0 };
    const crowd = child(process.execPath, [path.join(__dirname, 'lib/replay-crowd.js'), JSON.stringify(cfg)],
      (v) => v && v.ready === true);
    kids.push(crowd);
    await crowd.ready;
    await until(() => crowd.lines.some((v) => v && v.done), 'the reader done', 60000);
    const r = crowd.lines.find((v) => v && v.done);
    assert.ok(r.ok, `the reader: ${r.err} (after ${r.n} events)`);
    assert.ok(await metric(d, 'agentd_replay_waited_total') >= 1, 'the reader waited for the budget');
    assert.ok(await metric(d, 'agentd_replay_cut_total') >= 1, 'a reader that took nothing was cut');
    // what the cut readers were told, once they read: come back from lastSeq
    stuck.p.stdin.write('drain\n');
    await until(() => stuck.lines.includes('drained'), 'the stuck readers drained', 60000);
    const told = stuck.lines.filter((l) => typeof l === 'string' && /replay stalled/.test(l));
    assert.ok(told.length >= 1, `no reader was told: ${stuck.lines.join(' | ')}`);
    assert.match(told[0], /"type":"overflow"/);
    assert.match(told[0], /"lastSeq":\d+/);
    assert.match(told[0], /"retryAfterMs":1000/);
    assert.match(told[0], /overflow: replay stalled/); // the close frame's reason
    assert.match(d.stderr, /replay reader cut: nothing taken for 5000 ms/);
  } finally {
    for (const k of kids) k.kill();
    await d.cleanup();
  }
});
