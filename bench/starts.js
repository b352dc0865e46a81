// SPDX-License-Identifier: MIT
// ST1, agent starts with the sandbox on (issue #80): the sandboxed start
// and what the loop does meanwhile, against the same with `--sandbox off`
// in the same run (the configurations take turns, so a drift of the shared
// machine falls on both), and optionally against an older binary
// (AGENTD_BASE_BIN=$(bench/base.sh REF): its sandbox on, a third column).
// Each configuration gets a fresh daemon and 101 command agents running
// bench/bin/stamp (it prints its CLOCK_MONOTONIC time first thing after its
// exec, then waits):
// - alone: N starts one at a time, each from its POST /api/agents/:id/start
//   written to the agent's stamp (its exec), then stopped;
// - 50 in flight: 50 starts sent at once (a connection each), the same
//   figure for every one of them;
// - 100 in flight while an agent already runs, from the first POST to the
//   last agent's stamp (their stops come after): a /ws client pings every
//   2 ms (one in flight) and a second connection sends POST
//   /api/agents/:id/message to the running agent every 10 ms; the ping's
//   round trip is the loop's stall as a client sees it (its longest: the
//   longest stall, plus the client's own scheduling), the message's the
//   answer a user waits for; and the daemon's own figure, its loop's turns
//   from /metrics (agentd_loop_stall_seconds: what each turn worked or
//   waited for a CPU, its blocked poll left out) before and after.
// Usage: node bench/starts.js [--quick] [--starts N] [--bursts N]
//        [--rounds N] [--json FILE] [--only on,off,base,nice0] [--pinned]
// (nice0: the sandbox on, --agent-nice 0; only when --only names it)
// (the daemon runs on every CPU; --pinned: on the server core, as the
// other rows pin it, its agents with it)
// (AGENTD_BIN: default build/release/agentd. ST_RENICE=N renices the
// daemon's main thread, the loop, by N after its start: root only.)
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const agentd = require('./lib/agentd');
const { httpConn, wsConnect } = require('./lib/wire');

const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const STARTS = Number(opt('--starts', QUICK ? 20 : 40));
const BURSTS = Number(opt('--bursts', QUICK ? 1 : 2));
const ROUNDS = Number(opt('--rounds', QUICK ? 1 : 2));
const JSON_FILE = opt('--json', null);
const ONLY = opt('--only', null);
const BASE_BIN = process.env.AGENTD_BASE_BIN || null;
const PINNED = args.includes('--pinned');
const BIN_DIR = path.join(__dirname, 'bin');
const STAMP = path.join(BIN_DIR, 'stamp');

const log = (s) => process.stderr.write(`[starts] ${s}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hr = () => process.hrtime.bigint();
function pctl(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : null;
}
const loadavg = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');

function buildStamp() {
  const src = path.join(__dirname, 'c', 'stamp.c');
  if (!fs.existsSync(STAMP) || fs.statSync(src).mtimeMs > fs.statSync(STAMP).mtimeMs) {
    fs.mkdirSync(BIN_DIR, { recursive: true });
    execFileSync('cc', ['-std=gnu11', '-O2', '-Wall', '-Wextra', '-o', STAMP, src]);
  }
}

// Starts ids at once (a connection each): each start's POST → exec and
// POST → answer, in ms. Stops them all after, unless keep (the caller
// stops them with stopAll, outside what it measures).
async function stopAll(h, ids) {
  await Promise.all(ids.map((id) => agentd.request(h.port, 'POST', `/api/agents/${id}/stop?force=true&wait=true`, null, { timeoutMs: 30000 })));
}

async function burst(h, ids, runs, keep = false) {
  const conns = await Promise.all(ids.map(() => httpConn({ port: h.port })));
  const sent = new Map(), answered = new Map();
  try {
    await Promise.all(ids.map(async (id, i) => {
      sent.set(id, hr());
      const r = await conns[i].request('POST', `/api/agents/${id}/start`, '{}');
      answered.set(id, hr());
      if (r.status !== 200) throw new Error(`start answered ${r.status} ${r.body.slice(0, 120)}`);
    }));
  } finally { for (const c of conns) c.close(); }
  const exec = [], answer = [];
  for (const id of ids) {
    const st = await agentd.stampOf(h, id, runs.get(id) || 0, 800);
    runs.set(id, (runs.get(id) || 0) + 1);
    exec.push(Number(st - sent.get(id)) / 1e6);
    answer.push(Number(answered.get(id) - sent.get(id)) / 1e6);
  }
  if (!keep) await stopAll(h, ids);
  return { exec, answer };
}

// The loop's turns from /metrics (src/run/pace.c): the histogram's
// cumulative counts by upper bound, and the longest turn since start.
async function turns(h) {
  const r = await agentd.request(h.port, 'GET', '/metrics');
  const le = {};
  let max = null;
  for (const line of r.body.split('\n')) {
    const m = /^agentd_loop_stall_seconds_bucket\{le="([^"]+)"\} (\S+)/.exec(line);
    if (m) le[m[1]] = Number(m[2]);
    const g = /^agentd_loop_stall_max_seconds (\S+)/.exec(line);
    if (g) max = Number(g[1]) * 1e3;
  }
  return Object.keys(le).length ? { le, max } : null;
}

// Turns over 5 / 20 / 100 ms between two reads, and the longest: the
// gauge when it grew meanwhile, else the upper bound of the highest
// bucket that did.
function turnsBetween(a, b) {
  if (!a || !b) return null;
  const over = (ms) => {
    const k = String(ms / 1e3);
    return (b.le['+Inf'] - b.le[k]) - (a.le['+Inf'] - a.le[k]);
  };
  let longest = b.max > a.max ? b.max : null;
  if (longest == null) {
    const bounds = Object.keys(b.le).filter((k) => k !== '+Inf').map(Number).sort((x, y) => x - y);
    let prev = 0;
    for (const x of bounds) if (b.le[String(x)] - a.le[String(x)] > prev) { longest = x * 1e3; prev = b.le[String(x)] - a.le[String(x)]; }
  }
  return { turns: b.le['+Inf'] - a.le['+Inf'], over5: over(5), over20: over(20), over100: over(100), longestMs: longest };
}

async function one(cfg) {
  // Not pinned (unless --pinned): agents inherit the daemon's CPUs, and a
  // daemon pinned to one core would start every sandbox on the loop's core.
  const core = PINNED ? 1 : `0-${os.cpus().length - 1}`;
  const h = await agentd.start({ bin: cfg.bin, args: ['--sandbox-paths', BIN_DIR, ...cfg.args], core });
  if (process.env.ST_RENICE) execFileSync('renice', ['-n', process.env.ST_RENICE, '-p', String(h.pid)], { stdio: 'ignore' });
  try {
    const all = await agentd.stampAgents(h, 101, STAMP, 'st');
    const ids = all.slice(0, 100), busy = all[100];
    const runs = new Map();
    const alone = { exec: [], answer: [] };
    for (let i = 0; i < STARTS; i++) {
      const r = await burst(h, [ids[i % ids.length]], runs);
      alone.exec.push(...r.exec);
      alone.answer.push(...r.answer);
      await sleep(100); // starts as they come, not back to back
    }
    const fifty = { exec: [], answer: [] };
    for (let b = 0; b < BURSTS; b++) {
      const r = await burst(h, ids.slice(50, 100), runs);
      fifty.exec.push(...r.exec);
      fifty.answer.push(...r.answer);
    }
    // 100 starts while `busy` runs: pings over /ws and messages to busy
    const rtts = [];
    let inflight = null;
    const ws = await wsConnect({ port: h.port, path: '/ws', onMessage: (buf) => {
      if (inflight != null && /"pong"/.test(buf.toString())) { rtts.push(Number(hr() - inflight) / 1e6); inflight = null; }
    } });
    const st = await agentd.request(h.port, 'POST', `/api/agents/${busy}/start`, {});
    if (st.status !== 200) throw new Error(`start answered ${st.status} ${st.body.slice(0, 120)}`);
    await agentd.stampOf(h, busy, 0, 800);
    const mc = await httpConn({ port: h.port });
    const msgs = [];
    let going = true;
    const pinger = (async () => {
      while (going) {
        if (inflight == null) { inflight = hr(); ws.send('{"type":"ping"}'); }
        await sleep(2);
      }
    })();
    const messenger = (async () => {
      for (let i = 0; going; i++) {
        const t0 = hr();
        const r = await mc.request('POST', `/api/agents/${busy}/message`, JSON.stringify({ content: `mid ${i}` }));
        if (r.status !== 200) throw new Error(`message answered ${r.status} ${r.body.slice(0, 120)}`);
        msgs.push(Number(hr() - t0) / 1e6);
        await sleep(10);
      }
    })();
    let hundred, loop = null;
    try {
      const t0 = await turns(h);
      hundred = await burst(h, ids, runs, true); // the starts, to the last one's exec
      loop = turnsBetween(t0, await turns(h));
    } finally {
      going = false;
      await pinger;
      await messenger.finally(() => mc.close());
      ws.close();
    }
    await stopAll(h, ids);
    await agentd.request(h.port, 'POST', `/api/agents/${busy}/stop?force=true&wait=true`, null, { timeoutMs: 30000 });
    return { alone, fifty, hundred, rtts, msgs, loop };
  } finally { await h.stop(); }
}

const f1 = (x) => (x == null ? 'n/a' : x.toFixed(1));
const f2 = (x) => (x == null ? 'n/a' : x.toFixed(2));

async function main() {
  buildStamp();
  const cfgs = [
    { name: 'on', bin: agentd.BIN, args: [] },
    { name: 'off', bin: agentd.BIN, args: ['--sandbox', 'off'] },
  ];
  if (BASE_BIN) cfgs.push({ name: 'base', bin: BASE_BIN, args: [] });
  // the sandbox on with agents at agentd's own priority (--agent-nice 0): what
  // running them below it (the default, 10) changes
  cfgs.push({ name: 'nice0', bin: agentd.BIN, args: ['--agent-nice', '0'] });
  const use = cfgs.filter((c) => (ONLY ? ONLY.split(',').includes(c.name) : c.name !== 'nice0'));
  const acc = {};
  const meta = { pinned: PINNED, quick: QUICK, starts: STARTS, bursts: BURSTS, rounds: ROUNDS, bin: agentd.BIN, base: BASE_BIN, load: [loadavg()], cpus: os.cpus().length };
  log(`load average ${meta.load[0]}`);
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of use) {
      const r = await one(c);
      const a = acc[c.name] = acc[c.name] || { alone: [], fifty: [], fiftyAns: [], hundred: [], rtts: [], msgs: [] };
      a.alone.push(...r.alone.exec);
      a.fifty.push(...r.fifty.exec);
      a.fiftyAns.push(...r.fifty.answer);
      a.hundred.push(...r.hundred.exec);
      a.rtts.push(...r.rtts);
      a.msgs.push(...r.msgs);
      (a.loop = a.loop || []).push(r.loop);
      log(`${c.name} (round ${round + 1}): alone p50 ${f1(pctl(r.alone.exec, 0.5))} p99 ${f1(pctl(r.alone.exec, 0.99))} ms; `
        + `50 in flight p50 ${f1(pctl(r.fifty.exec, 0.5))} p99 ${f1(pctl(r.fifty.exec, 0.99))} ms; `
        + `during 100: /ws ping p99 ${f2(pctl(r.rtts, 0.99))} max ${f2(Math.max(...r.rtts))} ms (n ${r.rtts.length}), `
        + `message p50 ${f2(pctl(r.msgs, 0.5))} p99 ${f2(pctl(r.msgs, 0.99))} max ${f2(Math.max(...r.msgs))} ms (n ${r.msgs.length}); `
        + (r.loop ? `the loop's turns: ${r.loop.turns}, over 5 ms ${r.loop.over5}, over 20 ms ${r.loop.over20}, over 100 ms ${r.loop.over100}, the longest ${f1(r.loop.longestMs)} ms; ` : 'no loop figures (an older binary); ')
        + `load ${loadavg()}`);
      meta.load.push(loadavg());
    }
  }
  const out = { meta, configs: {} };
  for (const [name, a] of Object.entries(acc)) {
    out.configs[name] = {
      alone: { n: a.alone.length, p50: pctl(a.alone, 0.5), p99: pctl(a.alone, 0.99), max: Math.max(...a.alone) },
      fifty: { n: a.fifty.length, p50: pctl(a.fifty, 0.5), p99: pctl(a.fifty, 0.99), answerP99: pctl(a.fiftyAns, 0.99) },
      hundred: { n: a.hundred.length, p50: pctl(a.hundred, 0.5), p99: pctl(a.hundred, 0.99) },
      ping: { n: a.rtts.length, p50: pctl(a.rtts, 0.5), p99: pctl(a.rtts, 0.99), max: a.rtts.length ? Math.max(...a.rtts) : null },
      message: { n: a.msgs.length, p50: pctl(a.msgs, 0.5), p99: pctl(a.msgs, 0.99), max: a.msgs.length ? Math.max(...a.msgs) : null },
      loop: a.loop.filter(Boolean),
    };
  }
  const on = out.configs.on, off = out.configs.off;
  if (on && off) {
    log(`ST1 sandbox on ÷ off: alone p99 ${f1(on.alone.p99)} / ${f1(off.alone.p99)} ms (${f2(on.alone.p99 / off.alone.p99)}x); `
      + `50 in flight p99 ${f1(on.fifty.p99)} / ${f1(off.fifty.p99)} ms; ping max ${f2(on.ping.max)} / ${f2(off.ping.max)} ms; `
      + `message p99 ${f2(on.message.p99)} / ${f2(off.message.p99)} ms`);
  }
  log(`load average at the end ${loadavg()}`);
  if (JSON_FILE) fs.writeFileSync(JSON_FILE, JSON.stringify(out, null, 2) + '\n');
  else console.log(JSON.stringify(out, null, 2));
}

main().catch((e) => { console.error(e); process.exit(1); });
