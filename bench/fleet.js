// SPDX-License-Identifier: MIT
// Scenario F1 (issue #38): 1,000 live agents on one node against tmux.
// The same program on both sides, bench/c/linegen.c printing a stamped,
// tagged line 10 times a second ("bench <i> <intended_ns> <tag>"), pinned
// to core 0 with the readers; the server (agentd and its holders, or the
// tmux server) on core 1. agentd: N command agents under holders started
// one at a time through the REST API, 10 /ws subscribers of `agent:*`
// (bench/c/fanout.c, latency mode). tmux: one server, N windows opened one
// at a time with `new-window` on a control client, 10 `tmux -C attach`
// readers (what terminal-based managers read: every pane's %output), timed
// by the same parser (fanout.c's "cmd" mode). Measured: CPU (utime+stime
// over a window) and Pss of the server side with the programs excluded,
// line → reader p50/p99, each start (request → answer and request → the
// program's first line's stamp), and for agentd the re-attach of all N
// after a kill -9 (restart → a line printed after the restart from every
// agent on a subscriber). bench/README.md, "F1", says what is counted.
// agentd runs as installed, its agents in bubblewrap (issue #80): each
// program's bubblewrap and bridge count as the server's side with its
// holder, and so does the data dir's one network proxy (`agentd hold
// --net-proxyd`, shared by every program since issue #80); F1_SANDBOX=off
// measures without them.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');
const sys = require('./lib/sys');
const agentd = require('./lib/agentd');
const { httpConn } = require('./lib/wire');
const { subscribeMsg } = require('./lib/agentd-adapters');

const RATE = 10; // lines a second per program
const TASKSET = '/usr/bin/taskset';

function pctl(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : null;
}
function nowNs() { return process.hrtime.bigint(); }
function commOf(pid) { try { return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch (_) { return null; } }

// utime+stime (seconds) of the listed processes, threads included.
const cpuOf = sys.cpuOfPids;
// Sum of Pss, Rss and anonymous Rss (kB) from smaps_rollup.
function memOf(pids) {
  const m = { pssKb: 0, rssKb: 0, anonKb: 0, n: 0 };
  for (const p of pids) {
    try {
      const t = fs.readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
      m.pssKb += Number((/^Pss:\s+(\d+)/m.exec(t) || [])[1] || 0);
      m.rssKb += Number((/^Rss:\s+(\d+)/m.exec(t) || [])[1] || 0);
      m.anonKb += Number((/^Anonymous:\s+(\d+)/m.exec(t) || [])[1] || 0);
      m.n++;
    } catch (_) { /* gone */ }
  }
  return m;
}
// The shared network proxies of a data dir (`agentd hold --net-proxyd
// <data-dir>/proxy`): outside every holder's tree, one for all programs.
function proxiesOf(dataDir) {
  const want = `--net-proxyd\0${path.join(dataDir, 'proxy')}\0`;
  const pids = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try { if (fs.readFileSync(`/proc/${p}/cmdline`, 'latin1').includes(want)) pids.push(Number(p)); } catch (_) { /* gone */ }
  }
  return pids;
}
// The holders of a data dir and their agents, from hold/<run>/info.
function holdersOf(dataDir) {
  const root = path.join(dataDir, 'hold');
  const out = [];
  for (const n of fs.existsSync(root) ? fs.readdirSync(root) : []) {
    try {
      const f = fs.readFileSync(path.join(root, n, 'info'), 'utf8').trim().split(' ');
      out.push({ holder: Number(f[0]), agent: Number(f[2]) });
    } catch (_) { /* not written yet */ }
  }
  return out;
}

// Once every start was answered, the first lines have STARTS_GRACE_MS
// more to arrive; then the tag reader ends with what it has.
const STARTS_GRACE_MS = 20000;
function stopLater(gen) { setTimeout(() => gen.send('stop\n'), STARTS_GRACE_MS).unref(); }

// The readers (bench/bin/fanout, latency mode): tag mode ends once `tags`
// distinct tags were seen, window mode after `seconds`.
function reader(ctx, params, opts) {
  return sys.runGen(ctx.FANOUT_C, { sampleEvery: 1, lines: 1000000, ...params }, opts);
}

// Per-start figures from the requests' times and the tag reader's result.
function startFigures(sent, answered, res, n) {
  const exec = [];
  let missedFirst = 0;
  for (const [tag, i, ns] of res.tagList || []) {
    if (i !== 0 || !sent.has(tag)) { missedFirst++; continue; }
    exec.push(Number(BigInt(ns) - sent.get(tag)) / 1e6);
  }
  const answer = [...answered.entries()].map(([tag, t]) => Number(t - sent.get(tag)) / 1e6);
  return {
    n, seen: res.tagsSeen, missedFirst,
    answerP50: pctl(answer, 0.5), answerP99: pctl(answer, 0.99), answerMax: answer.length ? Math.max(...answer) : null,
    execP50: pctl(exec, 0.5), execP99: pctl(exec, 0.99), execMax: exec.length ? Math.max(...exec) : null,
  };
}

// The steady window: 10 readers for `seconds`, the server's CPU over the
// readers' MARKs, its memory at the end.
async function steady(ctx, params, serverPids, extraPids) {
  let c0 = null, c1 = null, x0 = null, x1 = null, w0 = null, w1 = null;
  const r = await reader(ctx, { n: ctx.readers, seconds: ctx.window, timeoutMs: ctx.window * 1000 + 10000, ...params }, {
    timeoutMs: ctx.window * 1000 + 60000,
    onMark: (m) => {
      const pids = serverPids();
      const xp = extraPids ? extraPids() : [];
      if (m === 'start') { c0 = cpuOf(pids); x0 = cpuOf(xp); w0 = performance.now(); } else { c1 = cpuOf(pids); x1 = cpuOf(xp); w1 = performance.now(); }
    },
  });
  const wall = (w1 - w0) / 1000;
  const mem = memOf(serverPids());
  return {
    seconds: wall, serverCpuS: c1 - c0, serverCores: (c1 - c0) / wall, extraCpuS: extraPids ? x1 - x0 : null,
    p50Ms: r.p50Ms, p99Ms: r.p99Ms, p999Ms: r.p999Ms, maxMs: r.maxMs, samples: r.samples,
    linesPerS: r.samples / ctx.readers / wall, genCpuShare: r.genCpuS / r.seconds, mem,
  };
}

// ---- agentd -----------------------------------------------------------------------

async function agentdSide(ctx) {
  const { N, LINEGEN, log } = ctx;
  const count = String(RATE * ctx.lifeS); // bounded: each program ends after lifeS seconds
  const cmd = (i) => [TASKSET, '-c', '0', LINEGEN, String(RATE), count, '0', 'line', String(i)];
  // The sandbox on is agentd as installed (bubblewrap, the default); the
  // program's folder shown in it as SP1 does. F1_SANDBOX=off: without.
  const args = ctx.sandbox ? ['--sandbox-paths', path.dirname(LINEGEN)] : ['--sandbox', 'off'];
  let h = await agentd.start({ args, timeoutMs: 30000 });
  const dataDir = h.dataDir;
  const tracked = new Set();
  const track = () => {
    for (const { holder, agent } of holdersOf(dataDir)) {
      for (const p of [holder, agent]) if (p > 0 && !tracked.has(p)) { tracked.add(p); sys.track(p); }
    }
  };
  const res = { sandbox: ctx.sandbox };
  try {
    const first = await agentd.seedAgent(h, { executor: 'command', name: 'f1-0', extra: { command: cmd(0) } });
    const ids = [first.agentId];
    for (let i = 1; i < N; i++) {
      const r = await agentd.request(h.port, 'POST', '/api/agents', { worktreeId: first.worktreeId, name: `f1-${i}`, executor: 'command', command: cmd(i) });
      if (r.status >= 300) throw new Error(`POST /api/agents answered ${r.status} ${r.body.slice(0, 120)}`);
      ids.push(r.json.id);
    }
    log(`F1 agentd: ${N} command agents made; starting them one at a time`);
    // Starts, one in flight, on one keep-alive connection; a subscriber of
    // agent:* meanwhile records each agent's first line (its exec's stamp).
    const sent = new Map(), answered = new Map();
    let startErr = null;
    const t0 = performance.now();
    const r0 = await reader(ctx, { port: h.port, path: '/ws', n: 1, tags: N, after: 0, subscribe: subscribeMsg('agent:*'), timeoutMs: 600000 }, {
      timeoutMs: 630000,
      onLine: (line, gen) => {
        if (line !== 'READY') return;
        (async () => {
          const c = await httpConn({ port: h.port });
          try {
            for (let i = 0; i < N; i++) {
              sent.set(i, nowNs());
              const r = await c.request('POST', `/api/agents/${ids[i]}/start`, '{}');
              answered.set(i, nowNs());
              if (r.status !== 200) throw new Error(`start answered ${r.status} ${r.body.slice(0, 120)}`);
              if (i % 50 === 49) track();
            }
          } finally { c.close(); }
        })().catch((e) => { startErr = e; }).finally(() => stopLater(gen));
      },
    });
    if (startErr) throw startErr;
    track();
    res.starts = startFigures(sent, answered, r0, N);
    res.starts.allMs = performance.now() - t0;
    log(`F1 agentd: ${res.starts.seen}/${N} running in ${(res.starts.allMs / 1000).toFixed(1)} s; start answered p50 ${res.starts.answerP50?.toFixed(1)} p99 ${res.starts.answerP99?.toFixed(1)} ms, exec p50 ${res.starts.execP50?.toFixed(1)} p99 ${res.starts.execP99?.toFixed(1)} ms`);
    if (res.starts.seen < N) log(`F1 agentd: only ${res.starts.seen} of ${N} agents' lines reached the start-phase reader`);
    await sys.sleep(2000);
    const holders = holdersOf(dataDir).map((x) => x.holder);
    res.holders = holders.length;
    // With the sandbox each program runs under more of agentd's processes:
    // bubblewrap's two and the bridge inside (agentd-hold), and all share
    // the data dir's network proxy (agentd itself). They are the server's
    // side too; the program (linegen) is not.
    const proxies = proxiesOf(dataDir);
    const sandboxPids = [...proxies];
    for (const hp of holders) for (const p of sys.tree(hp)) if (p !== hp && commOf(p) !== 'linegen') sandboxPids.push(p);
    res.sandboxProcs = sandboxPids.length;
    const serverPids = () => [h.pid, ...holders, ...sandboxPids];
    // agentd alone is measured beside the whole (its holders are the rest)
    res.steady = await steady(ctx, { port: h.port, path: '/ws', subscribe: subscribeMsg('agent:*') }, serverPids, () => [h.pid]);
    res.steady.agentdMem = memOf([h.pid]);
    res.steady.holderMem = memOf(holders);
    res.steady.sandboxMem = memOf(sandboxPids);
    res.steady.sandboxByComm = {};
    for (const p of sandboxPids) {
      const k = proxies.includes(p) ? 'net-proxyd' : commOf(p) || '?';
      const m = memOf([p]);
      const acc = res.steady.sandboxByComm[k] = res.steady.sandboxByComm[k] || { n: 0, pssKb: 0, rssKb: 0, anonKb: 0, cpuS: 0 };
      acc.n++; acc.pssKb += m.pssKb; acc.rssKb += m.rssKb; acc.anonKb += m.anonKb; acc.cpuS += cpuOf([p]);
    }
    res.steady.agentdCpuS = res.steady.extraCpuS;
    log(`F1 agentd: ${ctx.readers} readers ${res.steady.linesPerS.toFixed(0)} lines/s each: p50 ${res.steady.p50Ms?.toFixed(2)} p99 ${res.steady.p99Ms?.toFixed(2)} ms; CPU ${(res.steady.serverCores * 100).toFixed(1)} % of a core (agentd + ${holders.length} holders; agentd alone ${(res.steady.agentdCpuS / res.steady.seconds * 100).toFixed(1)} %); Pss ${(res.steady.mem.pssKb / 1024).toFixed(1)} MiB (agentd ${(res.steady.agentdMem.pssKb / 1024).toFixed(1)}, holders ${(res.steady.holderMem.pssKb / 1024).toFixed(1)}: ${(res.steady.holderMem.pssKb / Math.max(1, holders.length)).toFixed(0)} kB each`
      + `${sandboxPids.length ? `; sandbox ${(res.steady.sandboxMem.pssKb / 1024).toFixed(1)} MiB in ${sandboxPids.length} processes: ${Object.entries(res.steady.sandboxByComm).map(([k, v]) => `${v.n} ${k} ${(v.pssKb / v.n).toFixed(0)} kB Pss (${(v.anonKb / v.n).toFixed(0)} anon) each`).join(', ')}` : ''})`);
    // Re-attach: kill -9 agentd, start it again on the same data dir; the
    // time from that start until a subscriber has had a line printed after
    // it from every agent (the backlog each holder spooled meanwhile comes
    // first, so the whole output is through).
    process.kill(h.pid, 'SIGKILL');
    await h.stop(true);
    const restartNs = nowNs();
    const tr = performance.now();
    // F1_RESTART_LOG=1: the restarted daemon logs at info; its store's
    // lines (the check after an unclean stop) are printed
    const rargs = process.env.F1_RESTART_LOG ? [...args, '--log-level', 'info'] : args;
    h = await agentd.start({ args: rargs, dataDir, timeoutMs: 60000 });
    const listenMs = performance.now() - tr;
    if (process.env.F1_RESTART_LOG) {
      for (const l of h.output().split('\n').filter((x) => / sub=(store|main|http) /.test(x))) log(`F1 agentd restart log: ${l}`);
    }
    const r1 = await reader(ctx, { port: h.port, path: '/ws', n: 1, tags: N, after: Number(restartNs), subscribe: subscribeMsg('agent:*'), timeoutMs: 120000 }, { timeoutMs: 150000 });
    const arrivals = (r1.tagList || []).map((t) => t[3]);
    const restartMs = Number(restartNs) / 1e6;
    res.reattach = { seen: r1.tagsSeen, listenMs, allMs: arrivals.length ? Math.max(...arrivals) - restartMs : null,
      p50Ms: pctl(arrivals.map((a) => a - restartMs), 0.5) };
    log(`F1 agentd: after kill -9, listening in ${listenMs.toFixed(0)} ms; a fresh line from ${r1.tagsSeen}/${N} agents, the last ${res.reattach.allMs?.toFixed(0)} ms after the restart (median ${res.reattach.p50Ms?.toFixed(0)} ms)`);
  } finally {
    await h.stop(true).catch(() => {});
    track();
    // holders outlive agentd: end them and their agents, then the data dir
    for (const { holder, agent } of holdersOf(dataDir)) {
      try { process.kill(-agent, 'SIGKILL'); } catch (_) { /* gone */ }
      try { process.kill(holder, 'SIGKILL'); } catch (_) { /* gone */ }
    }
    for (const p of tracked) { try { process.kill(p, 'SIGKILL'); } catch (_) { /* gone */ } sys.untrack(p); }
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return res;
}

// ---- tmux -------------------------------------------------------------------------

// A control client that runs commands one at a time; each resolves at its
// %end (or rejects at %error).
function controlClient(tmuxArgs, session) {
  const proc = spawn('tmux', [...tmuxArgs, '-C', 'attach', '-t', session], { stdio: ['pipe', 'pipe', 'ignore'] });
  const waiting = [];
  let inBlock = false, errBlock = false, text = '';
  let skipFirst = true; // the attach's own %begin/%end
  sys.onLines(proc.stdout, (line) => {
    if (line.startsWith('%begin ')) { inBlock = true; errBlock = false; text = ''; return; }
    if (inBlock && (line.startsWith('%end ') || line.startsWith('%error '))) {
      inBlock = false;
      errBlock = line.startsWith('%error ');
      if (skipFirst) { skipFirst = false; return; }
      const w = waiting.shift();
      if (w) (errBlock ? w.reject(new Error(`tmux: ${text.trim()}`)) : w.resolve(text));
      return;
    }
    if (inBlock) text += line + '\n';
  });
  return {
    proc,
    run(cmd) {
      return new Promise((resolve, reject) => { waiting.push({ resolve, reject }); proc.stdin.write(cmd + '\n'); });
    },
    close() { try { proc.stdin.end(); } catch (_) { /* gone */ } proc.kill('SIGKILL'); },
  };
}

async function tmuxSide(ctx) {
  const { N, LINEGEN, log } = ctx;
  const sock = path.join(fs.mkdtempSync(path.join(process.env.TMPDIR || '/tmp', 'f1-tmux-')), 's');
  const T = ['-S', sock, '-f', '/dev/null'];
  const env = { ...process.env, SHELL: '/bin/sh' };
  // The server forks from this client and keeps its core (1).
  execFileSync(TASKSET, ['-c', '1', 'tmux', ...T, 'new-session', '-d', '-s', 'ctl', '-x', '200', '-y', '50', 'sleep 100000'], { env });
  const serverPid = Number(execFileSync('tmux', [...T, 'display-message', '-p', '-t', 'ctl', '#{pid}'], { env }).toString().trim());
  sys.track(serverPid);
  const res = { version: execFileSync('tmux', ['-V']).toString().trim() };
  let ctl = null;
  try {
    execFileSync('tmux', [...T, 'new-session', '-d', '-s', 'f1', '-x', '200', '-y', '50', 'sleep 100000'], { env });
    ctl = controlClient(T, 'ctl');
    await ctl.run('display-message -p ok');
    const count = RATE * ctx.lifeS;
    const sent = new Map(), answered = new Map();
    let startErr = null;
    const t0 = performance.now();
    const r0 = await reader(ctx, { n: 1, tags: N, after: 0, cmd: ['tmux', ...T, '-C', 'attach', '-t', 'f1'], timeoutMs: 600000 }, {
      timeoutMs: 630000,
      onLine: (line, gen) => {
        if (line !== 'READY') return;
        (async () => {
          for (let i = 0; i < N; i++) {
            sent.set(i, nowNs());
            // exec: the shell tmux runs the command with gives its place to it
            await ctl.run(`new-window -d -t f1: 'exec ${TASKSET} -c 0 ${LINEGEN} ${RATE} ${count} 0 line ${i}'`);
            answered.set(i, nowNs());
          }
        })().catch((e) => { startErr = e; }).finally(() => stopLater(gen));
      },
    });
    if (startErr) throw startErr;
    res.starts = startFigures(sent, answered, r0, N);
    res.starts.allMs = performance.now() - t0;
    log(`F1 tmux: ${res.starts.seen}/${N} windows printing in ${(res.starts.allMs / 1000).toFixed(1)} s; new-window answered p50 ${res.starts.answerP50?.toFixed(1)} p99 ${res.starts.answerP99?.toFixed(1)} ms, exec p50 ${res.starts.execP50?.toFixed(1)} p99 ${res.starts.execP99?.toFixed(1)} ms`);
    if (res.starts.seen < N) log(`F1 tmux: only ${res.starts.seen} of ${N} windows' lines reached the control client attached during the starts`);
    await sys.sleep(2000);
    // the readers' tmux clients: their CPU is reported on its own
    const clients = () => {
      try {
        return execFileSync('tmux', [...T, 'list-clients', '-F', '#{client_pid}'], { env }).toString().trim().split('\n').map(Number).filter(Boolean);
      } catch (_) { return []; }
    };
    res.steady = await steady(ctx, { cmd: ['tmux', ...T, '-C', 'attach', '-t', 'f1'] }, () => [serverPid], () => clients().filter((p) => p !== ctl.proc.pid));
    log(`F1 tmux: ${ctx.readers} control clients ${res.steady.linesPerS.toFixed(0)} lines/s each: p50 ${res.steady.p50Ms?.toFixed(2)} p99 ${res.steady.p99Ms?.toFixed(2)} ms; server CPU ${(res.steady.serverCores * 100).toFixed(1)} % of a core (its ${ctx.readers} control clients ${(res.steady.extraCpuS / res.steady.seconds * 100).toFixed(1)} % more); server Pss ${(res.steady.mem.pssKb / 1024).toFixed(1)} MiB`);
  } finally {
    if (ctl) ctl.close();
    try { execFileSync('tmux', [...T, 'kill-server'], { env, stdio: 'ignore' }); } catch (_) { /* gone */ }
    try { process.kill(serverPid, 'SIGKILL'); } catch (_) { /* gone */ }
    sys.untrack(serverPid);
    fs.rmSync(path.dirname(sock), { recursive: true, force: true });
  }
  return res;
}

// ---- the scenario -------------------------------------------------------------------

async function f1(ctx) {
  const { QUICK, log, na, ratio, budget, out, BIN_DIR } = ctx;
  const N = Number(process.env.F1_AGENTS) || (QUICK ? 200 : 1000);
  const c = {
    ...ctx, N, LINEGEN: path.join(BIN_DIR, 'linegen'), readers: 10,
    window: Number(process.env.F1_WINDOW_S) || (QUICK ? 10 : 30),
    lifeS: 900, // every program ends by itself after 15 minutes
    sandbox: process.env.F1_SANDBOX !== 'off',
  };
  if (QUICK) log(`F1: QUICK run, ${N} agents instead of 1,000 (the row's figure is for 1,000)`);
  if (!fs.existsSync(c.FANOUT_C) || !fs.existsSync(c.LINEGEN)) { na('F1', 'bench/bin/fanout or linegen missing (bench/run.sh builds them)'); return; }
  const res = { agents: N, quick: QUICK, readers: c.readers, windowS: c.window, ratePerAgent: RATE };
  out.scenarios.F1 = res;
  try { res.agentd = await agentdSide(c); } catch (e) { na('F1', `agentd: ${e.message}`); }
  let haveTmux = true;
  try { execFileSync('tmux', ['-V'], { stdio: 'ignore' }); } catch (_) { haveTmux = false; na('F1', 'tmux not installed (make bench-deps)'); }
  if (process.env.F1_TMUX === 'off') { haveTmux = false; na('F1', 'tmux side skipped (F1_TMUX=off)'); }
  if (haveTmux) {
    try { res.tmux = await tmuxSide(c); } catch (e) { na('F1', `tmux: ${e.message}`); }
  }
  const a = res.agentd, t = res.tmux;
  const tag = QUICK ? ` (QUICK: ${N} agents)` : ` (${N} agents)`;
  const sbx = c.sandbox ? ' + sandbox (bwrap, bridge, the shared proxy)' : ' (--sandbox off)';
  ratio('F1', `server CPU over the window: agentd + holders${sbx} ÷ tmux server${tag}`, a?.steady?.serverCpuS, t?.steady?.serverCpuS, { higherIsBetter: false, budget: 0.5 });
  ratio('F1', `server memory (Pss): agentd + holders${sbx} ÷ tmux server${tag}`, a?.steady?.mem.pssKb, t?.steady?.mem.pssKb, { higherIsBetter: false, budget: 0.5, unit: 'kB' });
  budget('F1', `line → each of ${c.readers} /ws readers, p99 ms${tag}`, a?.steady?.p99Ms, 10, { unit: 'ms' });
  ratio('F1', `line → reader p99: agentd ÷ tmux control mode${tag}`, a?.steady?.p99Ms, t?.steady?.p99Ms, { higherIsBetter: false, unit: 'ms' });
  ratio('F1', `a start, request → the program's first line, p99: agentd ÷ tmux${tag}`, a?.starts?.execP99, t?.starts?.execP99, { higherIsBetter: false, unit: 'ms' });
  ratio('F1', `a start, request → answer, p99: agentd ÷ tmux${tag}`, a?.starts?.answerP99, t?.starts?.answerP99, { higherIsBetter: false, unit: 'ms' });
  budget('F1', `re-attach all after kill -9: restart → a fresh line from every agent, ms${tag}`, a?.reattach?.allMs, 2000, { unit: 'ms' });
}

module.exports = { f1 };
