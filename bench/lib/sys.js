// SPDX-License-Identifier: MIT
// Process plumbing for the driver: start a server pinned to a core and stop
// it, read a process tree's CPU seconds (utime+stime) and RSS from /proc,
// wait for a TCP port, pick free ports, run a generator and read its MARK and
// RESULT lines. Every process started here is recorded in a pid file so
// bench/run.sh can stop it even if the driver dies.
'use strict';

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const started = new Set();
let pidFile = null;

function setPidFile(f) { pidFile = f; }
function recordPids() {
  if (!pidFile) return;
  fs.writeFileSync(pidFile, [...started].map((s) => s.pid).join('\n') + '\n');
}

function children(pid) {
  const out = [];
  let tasks = [];
  try { tasks = fs.readdirSync(`/proc/${pid}/task`); } catch (_) { return out; }
  for (const t of tasks) {
    try {
      const c = fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
      if (c) out.push(...c.split(/\s+/).map(Number));
    } catch (_) { /* gone */ }
  }
  return out;
}
function tree(pid) {
  const all = [pid];
  for (let i = 0; i < all.length && all.length < 1000; i++) all.push(...children(all[i]));
  return all;
}
// fn(line) for each whole line of a readable stream (text, newline taken off).
function onLines(stream, fn) {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      fn(line);
    }
  });
}
// utime+stime of the processes pids (one gone counts nothing), in seconds.
function cpuOfPids(pids) {
  let ticks = 0;
  for (const p of pids) {
    try {
      const s = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch (_) { /* gone */ }
  }
  return ticks / CLK_TCK;
}
// utime+stime of pid and its descendants, in seconds.
function cpuSeconds(pid) {
  return cpuOfPids(tree(pid));
}
// Resident set of pid and its descendants, in bytes.
function rssBytes(pid) {
  let kb = 0;
  for (const p of tree(pid)) {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch (_) { /* gone */ }
  }
  return kb * 1024;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// bench/bin/NAME built from bench/c/NAME.c when missing or older than its
// source (bench/run.sh builds the driver's own; the standalone scripts call
// this), linked with the pkg-config packages named: its path.
function benchBin(name, pkgs = []) {
  const root = path.resolve(__dirname, '..');
  const bin = path.join(root, 'bin', name);
  const src = path.join(root, 'c', `${name}.c`);
  if (!fs.existsSync(bin) || fs.statSync(src).mtimeMs > fs.statSync(bin).mtimeMs) {
    const flags = pkgs.length ? execFileSync('pkg-config', ['--cflags', '--libs', ...pkgs], { encoding: 'utf8' }).trim().split(/\s+/) : [];
    fs.mkdirSync(path.dirname(bin), { recursive: true });
    execFileSync('cc', ['-std=gnu11', '-O2', '-Wall', '-Wextra', '-o', bin, src, ...flags]);
  }
  return bin;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port });
    c.on('connect', () => { c.destroy(); resolve(true); });
    c.on('error', () => resolve(false));
  });
}
async function waitPort(port, proc, timeoutMs = 15000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (proc.exitCode !== null || proc.signalCode !== null) return false;
    if (await canConnect(port)) return true;
    await sleep(20);
  }
  return false;
}

// Starts cmd pinned to `core`, waits until it accepts on port. Resolves with
// a handle {pid, proc, stop(), output()} or rejects with the reason.
async function startServer(name, cmd, args, { core = 1, port, env = {}, cwd, timeoutMs } = {}) {
  const proc = spawn('taskset', ['-c', String(core), cmd, ...args], {
    cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: false,
  });
  let out = '';
  const keep = (d) => { if (out.length < 20000) out += d; };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  const h = {
    name, proc, pid: proc.pid, port,
    output: () => out,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) { started.delete(h); recordPids(); return; }
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(t);
      started.delete(h);
      recordPids();
    },
  };
  started.add(h);
  recordPids();
  proc.on('error', () => {});
  const ok = await waitPort(port, proc, timeoutMs);
  if (!ok) {
    await h.stop();
    throw new Error(`${name} did not listen on ${port}: ${out.trim().split('\n').slice(-3).join(' | ') || 'no output'}`);
  }
  return h;
}

// A process started by someone else for us (a holder, a tmux server):
// recorded in the pid file so run.sh's trap ends it too.
const tracked = new Map();
function track(pid) {
  if (tracked.has(pid)) return;
  const h = { name: 'tracked', pid, stop: async () => { try { process.kill(pid, 'SIGKILL'); } catch (_) { /* gone */ } } };
  tracked.set(pid, h);
  started.add(h);
  recordPids();
}
function untrack(pid) {
  const h = tracked.get(pid);
  if (!h) return;
  tracked.delete(pid);
  started.delete(h);
  recordPids();
}

async function stopAll() {
  await Promise.all([...started].map((h) => h.stop().catch(() => {})));
}
function killAllSync() {
  for (const h of started) {
    if (!h.proc) { try { process.kill(h.pid, 'SIGKILL'); } catch (_) { /* gone */ } continue; }
    for (const p of tree(h.pid).reverse()) { try { process.kill(p, 'SIGKILL'); } catch (_) { /* gone */ } }
  }
  started.clear();
  recordPids();
}

// Runs a generator script pinned to `core`. The server's CPU (tree of
// serverPid) is read at "MARK start" and "MARK end". Resolves with
// {result, serverCpuS, genCpuS, seconds}. onLine(line, gen) sees other
// output lines (e.g. READY), gen.send(s) writes to its stdin.
function runGen(script, params, { serverPid, core = 0, timeoutMs = 120000, onLine, onMark } = {}) {
  return new Promise((resolve, reject) => {
    // A script of gen/ runs under Node; an absolute path is a C generator (bin/).
    const argv = path.isAbsolute(script) ? [script] : [process.execPath, path.join(__dirname, '..', 'gen', script)];
    const proc = spawn('taskset', ['-c', String(core), ...argv, JSON.stringify(params)], { stdio: ['pipe', 'pipe', 'pipe'] });
    const h = { name: script, proc, pid: proc.pid, stop: async () => { proc.kill('SIGKILL'); } };
    started.add(h);
    recordPids();
    const gen = { send: (s) => { try { proc.stdin.write(s); } catch (_) { /* gone */ } } };
    let c0 = null;
    let c1 = null;
    let res = null;
    let err = '';
    const timer = setTimeout(() => { proc.kill('SIGKILL'); }, timeoutMs);
    proc.stderr.on('data', (d) => { if (err.length < 4000) err += d; });
    onLines(proc.stdout, (line) => {
      if (line === 'MARK start') { c0 = serverPid ? cpuSeconds(serverPid) : 0; if (onMark) onMark('start', gen); }
      else if (line === 'MARK end') { c1 = serverPid ? cpuSeconds(serverPid) : 0; if (onMark) onMark('end', gen); }
      else if (line.startsWith('RESULT ')) res = JSON.parse(line.slice(7));
      else if (onLine) onLine(line, gen);
    });
    proc.stdin.on('error', () => {});
    proc.on('exit', (code, sig) => {
      clearTimeout(timer);
      started.delete(h);
      recordPids();
      if (!res) { reject(new Error(`${script} ended without a result (code=${code} signal=${sig}) ${err.trim().slice(-300)}`)); return; }
      if (res.error) { reject(new Error(`${script}: ${res.error} ${err.trim().slice(-300)}`)); return; }
      if (c1 === null && c0 !== null && serverPid) c1 = cpuSeconds(serverPid);
      res.serverCpuS = c0 !== null && c1 !== null ? c1 - c0 : null;
      res.stderr = err.trim().slice(-300) || undefined;
      resolve(res);
    });
  });
}

// Runs wrk -t1 pinned to `core` against url; the server's CPU is read just
// before and after; wrk's own CPU comes from its parent shell's cutime/cstime.
function wrk(url, { conns, seconds, script, env = {}, serverPid, core = 0 }) {
  return new Promise((resolve, reject) => {
    // The benchmark token (see lib/agentd.js) as a header; peers ignore it.
    const auth = process.env.AGENTD_BENCH_TOKEN ? ` -H 'Authorization: Bearer ${process.env.AGENTD_BENCH_TOKEN}'` : '';
    const args = `-t1 -c${conns} -d${seconds}s --latency${auth}${script ? ` -s ${script}` : ''} '${url}'`; // quoted: a query's & is not the shell's
    const sh = `taskset -c ${core} wrk ${args}; rc=$?; echo; echo "CHILDSTAT $(cat /proc/$$/stat)"; exit $rc`;
    const c0 = serverPid ? cpuSeconds(serverPid) : 0;
    const t0 = performance.now();
    const proc = spawn('sh', ['-c', sh], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const h = { name: 'wrk', proc, pid: proc.pid, stop: async () => { proc.kill('SIGKILL'); } };
    started.add(h);
    let out = '';
    proc.stdout.on('data', (d) => { out += d; });
    proc.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => proc.kill('SIGKILL'), (seconds + 30) * 1000);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      started.delete(h);
      const wall = (performance.now() - t0) / 1000;
      const serverCpuS = serverPid ? cpuSeconds(serverPid) - c0 : null;
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      if (code !== 0 || !rps) { reject(new Error(`wrk failed (code ${code}): ${out.replace(/CHILDSTAT.*/, "").trim().split("\n").slice(0, 2).join(" ").slice(0, 200)}`)); return; }
      const unit = (v, u) => Number(v) * ({ us: 1e-3, ms: 1, s: 1000, m: 60000 }[u] || 1);
      const l50 = /\s50%\s+([\d.]+)(us|ms|s|m)/.exec(out);
      const l99 = /\s99%\s+([\d.]+)(us|ms|s|m)/.exec(out);
      const reqs = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(out);
      const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
      const sockErr = /Socket errors:([^\n]*)/.exec(out);
      const st = /CHILDSTAT (.*)/.exec(out);
      let genCpuS = null;
      if (st) {
        const f = st[1].slice(st[1].lastIndexOf(')') + 2).split(' ');
        genCpuS = (Number(f[13]) + Number(f[14])) / CLK_TCK;
      }
      const requests = reqs ? Number(reqs[1]) : null;
      const wrkSeconds = reqs ? unit(reqs[2], reqs[3]) / 1000 : seconds;
      resolve({
        requests, rps: Number(rps[1]), seconds: wrkSeconds, wall,
        p50Ms: l50 ? unit(l50[1], l50[2]) : null, p99Ms: l99 ? unit(l99[1], l99[2]) : null,
        non2xx: non2xx ? Number(non2xx[1]) : 0, socketErrors: sockErr ? sockErr[1].trim() : undefined,
        serverCpuS, genCpuS,
      });
    });
  });
}

module.exports = { benchBin, track, untrack, cpuSeconds, cpuOfPids, onLines, rssBytes, freePort, waitPort, startServer, stopAll, killAllSync, runGen, wrk, sleep, setPidFile, tree };
