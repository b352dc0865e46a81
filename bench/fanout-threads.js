// SPDX-License-Identifier: MIT
// One W2/R1 fan-out row, run several times on one agentd process (and then
// on one redis-server), printing deliveries per server CPU-second and each
// agentd thread's user and system time for every run: what the loop thread
// and the store's writer each cost, and whether a long-lived process drifts
// (retention starting, connection churn). Needs `make bench` built first.
// Usage: N=16 P=1024 S=4 R=3 WHICH=agentd,redis,bun node bench/fanout-threads.js
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const sys = require('./lib/sys');
const agentd = require('./lib/agentd');
const { subscribeMsg } = require('./lib/agentd-adapters');

const FAN = path.join(__dirname, 'bin', 'fanout');
const n = Number(process.env.N || 16);
const payload = Number(process.env.P || 1024);
const seconds = Number(process.env.S || 4);
const reps = Math.min(Number(process.env.R || 3), 20);
const window = Number(process.env.W || 32);
const which = (process.env.WHICH || 'agentd,redis').split(',');
const bin = process.env.AGENTD_BENCH_BIN || agentd.BENCH_BIN;

// utime and stime (s) of each thread of pid, by "tid:name".
function threads(pid) {
  const o = {};
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    let s, name;
    try {
      s = fs.readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      name = fs.readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim();
    } catch (e) {
      if (e.code === 'ENOENT' || e.code === 'ESRCH') continue; // a thread that ended since the listing
      throw e;
    }
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    o[`${t}:${name}`] = { u: Number(f[11]) / 100, s: Number(f[12]) / 100 };
  }
  return o;
}

function line(name, r) {
  return `${name} n=${n} p=${payload}: ${(r.deliveries / r.serverCpuS / 1e6).toFixed(3)}M/CPU-s `
    + `${(r.deliveries / r.seconds / 1e6).toFixed(3)}M/s srv ${(r.serverCpuS / r.seconds * 100).toFixed(0)}% `
    + `gen ${(r.genCpuS / r.seconds * 100).toFixed(0)}%`;
}

async function main() {
  if (!fs.existsSync(FAN)) throw new Error(`no ${FAN}: run bench/run.sh once (it builds bench/bin)`);
  if (which.includes('agentd')) {
    const h = await agentd.start({ bin });
    try {
      for (let i = 0; i < reps; i++) {
        const t0 = threads(h.pid);
        const r = await sys.runGen(FAN, { n, payload, seconds, warmup: 1, window,
          sub: { kind: 'ws', port: h.port, path: '/ws', subscribe: subscribeMsg('bench') },
          pub: { kind: 'ws', port: h.port, path: '/test/ws-publish?topic=bench' } }, { serverPid: h.pid });
        const t1 = threads(h.pid);
        const per = Object.keys(t1).map((k) => ({ k, u: t1[k].u - (t0[k]?.u || 0), s: t1[k].s - (t0[k]?.s || 0) }))
          .filter((x) => x.u + x.s > 0).map((x) => `${x.k} u=${x.u.toFixed(2)} s=${x.s.toFixed(2)}`);
        console.log(`${line('agentd', r)} | ${per.join(' | ')}`);
      }
    } finally { await h.stop(); }
  }
  if (which.includes('bun')) {
    const port = await sys.freePort();
    const bun = path.join(__dirname, 'node_modules', '.bin', 'bun');
    if (!fs.existsSync(bun)) throw new Error(`no ${bun}: run npm ci in bench/`);
    const h = await sys.startServer('bun', bun, [path.join(__dirname, 'peers', 'ws-bun.js')], { port, env: { PORT: String(port) } });
    try {
      for (let i = 0; i < reps; i++) {
        const t0 = threads(h.pid);
        const r = await sys.runGen(FAN, { n, payload, seconds, warmup: 1, window,
          sub: { kind: 'ws', port: h.port, path: '/sub' }, pub: { kind: 'ws', port: h.port, path: '/pub' } }, { serverPid: h.pid });
        const t1 = threads(h.pid);
        const u = Object.keys(t1).reduce((a, k) => a + t1[k].u - (t0[k]?.u || 0), 0);
        const st = Object.keys(t1).reduce((a, k) => a + t1[k].s - (t0[k]?.s || 0), 0);
        console.log(`${line('bun', r)} | u=${u.toFixed(2)} s=${st.toFixed(2)}`);
      }
    } finally { await h.stop(); }
  }
  if (which.includes('redis')) {
    const port = await sys.freePort();
    const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'bench-redis-'));
    const h = await sys.startServer('redis', '/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1',
      '--save', '', '--appendonly', 'no', '--dir', dir], { port });
    try {
      for (let i = 0; i < reps; i++) {
        const t0 = threads(h.pid);
        const r = await sys.runGen(FAN, { n, payload, seconds, warmup: 1, window,
          sub: { kind: 'redis', port, channel: 'bench' }, pub: { kind: 'redis', port, channel: 'bench' } }, { serverPid: h.pid });
        const t1 = threads(h.pid);
        const u = Object.keys(t1).reduce((a, k) => a + t1[k].u - (t0[k]?.u || 0), 0);
        const st = Object.keys(t1).reduce((a, k) => a + t1[k].s - (t0[k]?.s || 0), 0);
        console.log(`${line('redis', r)} | u=${u.toFixed(2)} s=${st.toFixed(2)}`);
      }
    } finally { await h.stop(); fs.rmSync(dir, { recursive: true, force: true }); }
  }
}

main().then(() => process.exit(0), (e) => { console.error(e.message); process.exit(1); });
