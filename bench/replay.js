// SPDX-License-Identifier: MIT
// RP1, the replay worst case (issue #78): a log of 3 KB events (~33 MB, past
// the 1 MiB replay ring, so read from the event log), then 1,000 readers
// replaying it from seq 0 at once (tests/e2e/lib/replay-crowd.js, four
// processes on the generator's core, each with 2 WebSocket and 1 SSE
// readers that read everything and check it, 10 that read slowly, 6 that
// never read, the rest reading a few hundred KiB and leaving. Measured:
// agentd's peak resident memory over idle (VmHWM, reset before the
// readers come, or VmRSS sampled between probes if higher), the longest loop turn (agentd_loop_turn_max_seconds: the
// loop thread's CPU time in one turn), the slowest /healthz answer while
// the replays ran (by the clock, and less what agentd's threads and this
// one waited for a CPU), what the replay budget held at most, and the time
// until every checking reader had the whole log.
// Usage: node bench/replay.js [--quick] [--json FILE]   (AGENTD_BIN: a build
// with the test routes, default build/bench/agentd). bench/driver.js runs it
// as the RP1 rows of `make bench`.
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { spawn } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');
process.env.AGENTD_BIN = process.env.AGENTD_BIN || path.join(ROOT, 'build', 'bench', 'agentd');
const E2E = path.join(ROOT, 'tests', 'e2e');
const daemon = require(path.join(E2E, 'lib', 'daemon'));
const { until } = require(path.join(E2E, 'lib', 'api'));
const { publish } = require(path.join(E2E, 'lib', 'live'));

const QUICK = process.argv.includes('--quick');
const jsonArg = process.argv.indexOf('--json');
const JSON_FILE = jsonArg >= 0 ? process.argv[jsonArg + 1] : null;
const MiB = 1 << 20;
const BOUND = 64 * MiB; // --event-replay-bytes, the default
const READERS = 1000;
const PROCS = 4;
const EVENTS = QUICK ? 5000 : 11000;

const status = (pid, key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm')
  .exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
// ns the threads of pid (all, or the main one) waited for a CPU while runnable
function runDelay(pid, all = true) {
  let ns = 0;
  try {
    for (const tid of all ? fs.readdirSync(`/proc/${pid}/task`) : [String(pid)]) {
      try { ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1]); } catch (_) { /* gone */ }
    }
  } catch (_) { /* gone */ }
  return ns;
}

async function metric(d, name) {
  const r = await d.fetch(`${d.url}/metrics`, { headers: d.authHeaders });
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(await r.text());
  return m ? Number(m[1]) : null;
}

function probe(url, pid) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let stopped = false;
  const r = { maxMs: 0, maxLoopMs: 0, n: 0, rss: 0 };
  const done = (async () => {
    while (!stopped) {
      const d0 = runDelay(pid);
      const s0 = runDelay(process.pid, false);
      const t0 = process.hrtime.bigint();
      await new Promise((resolve) => {
        const req = http.get(`${url}/healthz`, { agent }, (res) => { res.resume(); res.on('end', resolve); });
        req.on('error', resolve);
      });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      r.maxMs = Math.max(r.maxMs, ms);
      r.maxLoopMs = Math.max(r.maxLoopMs, ms - (runDelay(pid) - d0 + runDelay(process.pid, false) - s0) / 1e6);
      r.n++;
      try { r.rss = Math.max(r.rss, status(pid, 'VmRSS')); } catch (_) { /* gone */ } // VmHWM may miss a peak
      await new Promise((res) => setTimeout(res, 10));
    }
    agent.destroy();
    return r;
  })();
  return { stop: () => { stopped = true; return done; } };
}

function crowd(cfg) {
  const p = spawn('taskset', ['-c', '0', process.execPath, path.join(E2E, 'lib', 'replay-crowd.js'), JSON.stringify(cfg)],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  const c = { p, lines: [] };
  let buf = '';
  c.ready = new Promise((resolve, reject) => {
    p.stdout.on('data', (b) => {
      buf += b;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const v = JSON.parse(buf.slice(0, i));
        buf = buf.slice(i + 1);
        c.lines.push(v);
        if (v.ready) resolve();
      }
    });
    p.on('exit', (code) => reject(new Error(`a reader process exited ${code}`)));
  });
  return c;
}

async function main() {
  const d = await daemon.start({ needUrl: true, args: ['--event-ring-bytes', String(MiB), '--event-replay-bytes', String(BOUND),
    '--max-connections-per-token', '0', '--max-websockets-per-token', '0'] });
  const kids = [];
  try {
    const log = await publish(d, { type: 'line', topics: ['log'], count: EVENTS, perTick: 250, payload: { pad: 'x'.repeat(3000) } });
    await until(async () => (await metric(d, 'agentd_events_unpersisted_bytes')) === 0, 'the log written', 120000);
    const pid = d.proc.pid;
    const idle = status(pid, 'VmRSS');
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    const turnsBefore = await metric(d, 'agentd_loop_turns_slow_total');
    const { hostname, port } = new URL(d.url);
    const t0 = Date.now();
    const pr = probe(d.url, pid);
    const per = READERS / PROCS;
    for (let i = 0; i < PROCS; i++) {
      kids.push(crowd({ host: hostname, port: Number(port), token: d.token, topic: 'log', first: log.first, last: log.last,
        count: log.count, full: 2, sse: 1, slow: 10, stuck: 6, drop: per - 19 }));
    }
    await Promise.all(kids.map((k) => k.ready));
    const results = () => kids.flatMap((k) => k.lines.filter((v) => v.done));
    await until(() => results().length >= PROCS * 3, 'every checking reader done', 600000);
    const seconds = (Date.now() - t0) / 1000;
    const timing = await pr.stop();
    const out = {
      meta: { readers: READERS, events: log.count, logBytes: log.count * 3000, boundBytes: BOUND, quick: QUICK },
      idleRss: idle,
      peakRss: Math.max(status(pid, 'VmHWM'), timing.rss),
      heldPeak: await metric(d, 'agentd_replay_held_peak_bytes'),
      cut: await metric(d, 'agentd_replay_cut_total'),
      loopTurnMaxMs: (await metric(d, 'agentd_loop_turn_max_seconds')) * 1000,
      slowTurns: (await metric(d, 'agentd_loop_turns_slow_total')) - turnsBefore,
      healthzMaxMs: timing.maxMs,
      healthzLoopMaxMs: timing.maxLoopMs,
      probes: timing.n,
      seconds,
      whole: results().filter((r) => r.ok).length,
      checked: results().length,
      errors: results().filter((r) => !r.ok).map((r) => r.err).slice(0, 3),
    };
    process.stderr.write(`RP1: ${JSON.stringify(out)}\n`);
    if (JSON_FILE) fs.writeFileSync(JSON_FILE, JSON.stringify(out, null, 2));
  } finally {
    for (const k of kids) k.p.kill('SIGKILL');
    await d.cleanup();
  }
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
