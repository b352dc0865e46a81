// SPDX-License-Identifier: MIT
// The benchmark driver behind `make bench`: runs every scenario of
// bench/README.md against agentd and its peers in
// one run (server pinned to core 1, generator to core 0, CPU from /proc),
// prints one table of ratios and writes bench/results/latest.json. A
// scenario whose agentd side or peer is missing prints "n/a (reason)".
// Usage: node bench/driver.js [--quick] [--only H1,F2,E1,W2,...,M1,M2,HD1,SP1,D1,N,P1,P2,RP1,RT1,RT2,ST1,F1,B1]
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');
const sys = require('./lib/sys');
const agentd = require('./lib/agentd');
const { wsConnect, httpConn } = require('./lib/wire');
const { subscribeMsg } = require('./lib/agentd-adapters');
const fleet = require('./fleet');

// Every temporary file of the run (data dirs, databases, workspaces, peer
// configs) lives under one directory, removed on exit whatever happens.
const RUN_TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'agentd-bench-run-'));
// Searchable but not listable by others: the P rows' PostgreSQL runs as
// another user (tests/e2e/lib/pg.js) in a folder of its own under it.
fs.chmodSync(RUN_TMP, 0o711);
process.env.TMPDIR = RUN_TMP;
process.on('exit', () => { try { fs.rmSync(RUN_TMP, { recursive: true, force: true }); } catch (_) { /* best effort */ } });

const HERE = __dirname;
const ROOT = agentd.ROOT;
const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const onlyArg = args.indexOf('--only');
const ONLY = onlyArg >= 0 ? args[onlyArg + 1].split(',') : null;
const RESULTS = path.join(HERE, 'results');
fs.mkdirSync(RESULTS, { recursive: true });
sys.setPidFile(path.join(RESULTS, '.pids'));

// Durations (seconds) and sizes; QUICK keeps the whole run under 3 minutes.
const C = QUICK ? {
  wrkWarm: 1, wrk: 2, conc: [16, 64], fanWarm: 0.3, fan: 1, fanN: [16, 1000], payloads: [64, 1024],
  w1N: [1000, 10000], w4Lines: { 1000: 2000, 10000: 10000 }, sqlite: 1, startRuns: 5, reps: 1,
} : {
  wrkWarm: 2, wrk: 6, conc: [16, 64], fanWarm: 1, fan: 3, fanN: [16, 256, 1000], payloads: [64, 1024],
  w1N: [1000, 10000], w4Lines: { 1000: 10000, 10000: 50000 }, sqlite: 5, startRuns: 20, reps: 3,
};
const GEN_BOUND = 0.9;

const BIN_DIR = path.join(HERE, 'bin');
const FANOUT_C = path.join(BIN_DIR, 'fanout'); // bench/c/fanout.c, built by run.sh
const NODE = process.execPath;
const BUN = path.join(HERE, 'node_modules', '.bin', 'bun');
const out = { meta: {}, scenarios: {}, ratios: [], na: {} };
const t00 = Date.now();

function log(s) { process.stderr.write(`[bench ${((Date.now() - t00) / 1000).toFixed(0).padStart(4)}s] ${s}\n`); }
function na(id, reason) {
  out.na[id] = out.na[id] || [];
  out.na[id].push(reason);
  log(`${id}: n/a (${reason})`);
}
function median(xs) {
  const s = xs.filter((x) => x != null && !Number.isNaN(x)).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : null;
}
function want(id) { return !ONLY || ONLY.includes(id); }
function tmp(prefix) { return fs.mkdtempSync(path.join(os.tmpdir(), prefix)); }
function genBound(genCpuS, seconds) { return genCpuS != null && seconds > 0 && genCpuS / seconds >= GEN_BOUND; }
function ratio(id, what, ours, theirs, { unit = '', higherIsBetter = true, budget = null, note = '', naFrom = null } = {}) {
  const r = ours != null && theirs != null && theirs !== 0 ? ours / theirs : null;
  let pass = null;
  if (budget != null && r != null) pass = higherIsBetter ? r >= budget : r <= budget;
  out.ratios.push({ id, what, agentd: ours, peer: theirs, ratio: r, unit, budget, pass, note, naFrom });
}
function budget(id, what, value, limit, { unit = '', note = '' } = {}) {
  out.ratios.push({ id, what, agentd: value, peer: null, ratio: null, unit, budget: limit,
    pass: value != null && limit != null ? value <= limit : null, note, absolute: true });
}
function sh(cmd) { try { return execFileSync('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim(); } catch (_) { return null; } }

// ---- peers ------------------------------------------------------------------

async function startNginx() {
  const dir = tmp('bench-nginx-');
  const port = await sys.freePort();
  fs.writeFileSync(path.join(dir, 'nginx.conf'), `worker_processes 1;
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
worker_rlimit_nofile 40000;
events { worker_connections 20000; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:${port};
    location / { default_type application/json; return 200 '{"hello":"world"}'; }
  }
}
`);
  const h = await sys.startServer('nginx', '/usr/sbin/nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { port });
  const stop = h.stop;
  h.stop = async () => { await stop(); fs.rmSync(dir, { recursive: true, force: true }); };
  return h;
}
async function startNode(name, script, env = {}) {
  const port = await sys.freePort();
  return sys.startServer(name, NODE, [path.join(HERE, 'peers', script)], { port, env: { PORT: String(port), ...env } });
}
async function startBun(name, script, env = {}) {
  if (!out.meta.versions.bun) throw new Error('bun unavailable');
  const port = await sys.freePort();
  return sys.startServer(name, BUN, [path.join(HERE, 'peers', script)], { port, env: { PORT: String(port), ...env } });
}
async function startRedis() {
  const port = await sys.freePort();
  const dir = tmp('bench-redis-');
  const h = await sys.startServer('redis', '/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1',
    '--save', '', '--appendonly', 'no', '--dir', dir, '--maxclients', '20000', '--protected-mode', 'yes'], { port });
  const stop = h.stop;
  h.stop = async () => { await stop(); fs.rmSync(dir, { recursive: true, force: true }); };
  return h;
}

// Starts a server, runs fn(h), stops the server whatever happens.
async function withServer(startFn, fn) {
  const h = await startFn();
  try { return await fn(h); } finally { await h.stop(); }
}

// ---- metadata -----------------------------------------------------------------

function versions() {
  const v = {};
  v.kernel = sh('uname -r');
  v.cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2")?.trim();
  v.cores = os.cpus().length;
  v.agentdCommit = sh(`git -C ${ROOT} rev-parse --short HEAD`);
  v.agentdDirty = !!sh(`git -C ${ROOT} status --porcelain -- src`);
  v.agentd = fs.existsSync(agentd.BIN) ? sh(`${agentd.BIN} --version`) : null;
  v.nginx = sh('/usr/sbin/nginx -v 2>&1');
  v.redis = sh('redis-server --version')?.split(' ')[2];
  v.wrk = sh('wrk -v 2>&1 | head -1');
  v.node = process.version;
  const pkg = (n) => { try { return require(path.join(HERE, 'node_modules', n, 'package.json')).version; } catch (_) { return null; } };
  v.ws = pkg('ws');
  v.fastify = pkg('fastify');
  v.betterSqlite3 = pkg('better-sqlite3');
  v.bun = fs.existsSync(BUN) ? sh(`${BUN} --version`) : null;
  v.sqliteSystem = sh("pkg-config --modversion sqlite3");
  v.hyperfine = sh('hyperfine --version');
  return v;
}

// ---- H1: small GET --------------------------------------------------------------

async function wrkBest(url, serverPid, conns, extra = {}) {
  await sys.wrk(url, { conns, seconds: C.wrkWarm, serverPid, ...extra });
  const runs = [];
  for (let i = 0; i < C.reps; i++) runs.push(await sys.wrk(url, { conns, seconds: C.wrk, serverPid, ...extra }));
  const per = runs.map((r) => ({ ...r, perCpuS: r.serverCpuS > 0 ? r.requests / r.serverCpuS : null }));
  const m = median(per.map((r) => r.perCpuS));
  const pick = per.find((r) => r.perCpuS === m) || per[0];
  return {
    rps: pick.rps, reqPerServerCpuS: pick.perCpuS, p50Ms: pick.p50Ms, p99Ms: pick.p99Ms,
    serverCpuShare: pick.serverCpuS / pick.seconds, genCpuShare: pick.genCpuS / pick.seconds,
    generatorBound: genBound(pick.genCpuS, pick.seconds), non2xx: pick.non2xx, socketErrors: pick.socketErrors,
    spread: per.length > 1 ? [Math.min(...per.map((r) => r.perCpuS)), Math.max(...per.map((r) => r.perCpuS))] : undefined,
  };
}

async function h1() {
  const res = {};
  const servers = [
    ['agentd', () => agentd.start(), '/healthz'],
    ['nginx', startNginx, '/'],
    ['fastify', () => startNode('fastify', 'fastify-h1.js'), '/healthz'],
  ];
  for (const [name, startFn, p] of servers) {
    res[name] = {};
    try {
      await withServer(startFn, async (h) => {
        if (name === 'agentd') await agentd.healthz(h);
        for (const c of C.conc) {
          res[name][`c${c}`] = await wrkBest(`http://127.0.0.1:${h.port}${p}`, h.pid, c);
          log(`H1 ${name} c=${c}: ${fmtN(res[name][`c${c}`].reqPerServerCpuS)} req/CPU-s, ${fmtN(res[name][`c${c}`].rps)} req/s`);
        }
      });
    } catch (e) { res[name] = null; na('H1', `${name}: ${e.message}`); }
  }
  out.scenarios.H1 = res;
  for (const c of C.conc) {
    const a = res.agentd?.[`c${c}`], n = res.nginx?.[`c${c}`], f = res.fastify?.[`c${c}`];
    const note = (x) => [a?.generatorBound && 'agentd run generator-bound', x?.generatorBound && 'peer run generator-bound'].filter(Boolean).join('; ');
    ratio('H1', `small GET req/server-CPU-s, c=${c}, agentd ÷ nginx`, a?.reqPerServerCpuS, n?.reqPerServerCpuS, { budget: 0.5, note: note(n) });
    ratio('H1', `small GET req/server-CPU-s, c=${c}, agentd ÷ fastify`, a?.reqPerServerCpuS, f?.reqPerServerCpuS, { note: note(f) });
    ratio('H1', `small GET p99 ms, c=${c}, agentd ÷ nginx`, a?.p99Ms, n?.p99Ms, { higherIsBetter: false, unit: 'ms', note: 'closed loop (wrk)' });
  }
  await h1Open(res);
  const ao = res.agentd?.open, no = res.nginx?.open;
  const gb = [ao?.generatorBound && 'agentd run generator-bound', no?.generatorBound && 'peer run generator-bound'].filter(Boolean).join('; ');
  ratio('H1', `small GET p99 ms, open loop ${H1_OPEN_RATE / 1000}k req/s on 64 connections, agentd ÷ nginx (median of 5, alternating)`, ao?.p99Ms, no?.p99Ms, { higherIsBetter: false, unit: 'ms', budget: 1.5, note: gb });
  ratio('H1', `same, p50`, ao?.p50Ms, no?.p50Ms, { higherIsBetter: false, unit: 'ms' });
}

// H1's open-loop rate: under a third of what agentd and nginx answer here.
const H1_OPEN_RATE = 50000;

// The tail at a load both servers carry: open loop, each request timed from
// when it was due, so the figure is the server's, not the closed loop's
// queue of wrk's 64 connections behind one thread. The servers take turns,
// five runs each, each run on a freshly started server alone on its core
// (with both alive, agentd's idle timers showed in nginx's tail), so a
// stall of the machine (this VM's tails move by 0.5 ms between runs) falls
// on both alike; the median of each.
async function h1Open(res) {
  if (!fs.existsSync(FANOUT_C)) { na('H1', 'open loop: no bench/bin/fanout'); return; }
  const runs = { agentd: [], nginx: [] };
  try {
    for (let i = 0; i < 5; i++) {
      for (const [name, startFn, p] of [['agentd', () => agentd.start(), '/healthz'], ['nginx', startNginx, '/']]) {
        await withServer(startFn, async (h) => {
          if (name === 'agentd') await agentd.healthz(h);
          runs[name].push(await sys.runGen(FANOUT_C, { port: h.port, path: p, conns: 64, rate: H1_OPEN_RATE, seconds: Math.min(C.wrk, 3), warmup: 0.5 }, { serverPid: h.pid, timeoutMs: 60000 }));
        });
      }
    }
  } catch (e) { na('H1', `open loop: ${e.message}`); return; }
  for (const name of ['agentd', 'nginx']) {
    const rs = runs[name];
    const m = median(rs.map((r) => r.p99Ms));
    const r = { ...(rs.find((x) => x.p99Ms === m) || rs[0]) };
    r.p99Runs = rs.map((x) => x.p99Ms);
    r.p50Ms = median(rs.map((x) => x.p50Ms));
    r.generatorBound = genBound(r.genCpuS, r.seconds);
    if (res[name]) res[name].open = r;
    log(`H1 ${name} open loop ${H1_OPEN_RATE}/s c=64: p50 ${r.p50Ms.toFixed(3)} p99 ${r.p99Ms.toFixed(3)} ms (runs ${r.p99Runs.map((x) => x.toFixed(3)).join(' ')}), gen ${(r.genCpuS / r.seconds * 100).toFixed(0)}%`);
  }
}

// ---- shared: a database with one agent row, made by agentd itself --------------

let seeded = null; // {dbFile, agentId, why}

function migrationsSql() {
  const dir = path.join(ROOT, 'src', 'store', 'migrations');
  if (!fs.existsSync(dir)) return null;
  return fs.readdirSync(dir).filter((f) => f.endsWith('.sql')).sort().map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('\n');
}

// Starts agentd, creates an agent through REST, stops it and keeps a copy of
// its database file for the peers (fastify + better-sqlite3, the bare loop).
async function seedDb() {
  if (seeded) return seeded;
  const dir = tmp('bench-seed-');
  const h = await agentd.start({ dataDir: dir });
  let ids;
  try { ids = await agentd.seedAgent(h); } finally { await h.stop(); }
  const db = fs.readdirSync(dir).find((f) => f.endsWith('.db'));
  if (!db) throw new Error(`no .db file in agentd's data dir (${fs.readdirSync(dir).join(', ')})`);
  const copy = path.join(tmp('bench-db-'), 'agentd.db');
  fs.copyFileSync(path.join(dir, db), copy);
  for (const ext of ['-wal', '-shm']) if (fs.existsSync(path.join(dir, db + ext))) fs.copyFileSync(path.join(dir, db + ext), copy + ext);
  // The bare loop stores events as rows, as agentd did until 2026-11-23
  // (the budget's reference in CONTRIBUTING.md: a bare SQLite loop with agentd's pragmas);
  // agentd itself now writes them to its event log.
  const mk = spawnSync('sqlite3', [copy, 'CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, '
    + 'type TEXT NOT NULL, topics TEXT NOT NULL, payload TEXT NOT NULL)'], { encoding: 'utf8', timeout: 5000 });
  if (mk.status !== 0) throw new Error(`sqlite3: cannot add the bare loop's events table: ${mk.stderr}`);
  seeded = { dir, dbFile: copy, ...ids };
  return seeded;
}

// ---- H2: DB-backed GET --------------------------------------------------------------

async function h2() {
  const res = {};
  let s;
  try { s = await seedDb(); } catch (e) { na('H2', `agentd store/REST: ${e.message}`); out.scenarios.H2 = null; return; }
  const p = `/api/agents/${s.agentId}`;
  try {
    await withServer(() => agentd.start({ dataDir: s.dir }), async (h) => {
      const r = await agentd.request(h.port, 'GET', p);
      if (r.status !== 200) throw new Error(`GET ${p} answered ${r.status}`);
      res.agentdBody = r.body.length;
      for (const c of C.conc) res[`agentd_c${c}`] = await wrkBest(`http://127.0.0.1:${h.port}${p}`, h.pid, c);
    });
  } catch (e) { na('H2', `agentd: ${e.message}`); }
  try {
    await withServer(() => startNode('fastify-db', 'fastify-db.js', { DB_PATH: s.dbFile }), async (h) => {
      const r = await agentd.request(h.port, 'GET', p);
      if (r.status !== 200) throw new Error(`GET ${p} answered ${r.status}`);
      res.fastifyBody = r.body.length;
      for (const c of C.conc) res[`fastify_c${c}`] = await wrkBest(`http://127.0.0.1:${h.port}${p}`, h.pid, c);
    });
  } catch (e) { na('H2', `fastify+better-sqlite3: ${e.message}`); }
  out.scenarios.H2 = res;
  for (const c of C.conc) {
    const a = res[`agentd_c${c}`], f = res[`fastify_c${c}`];
    ratio('H2', `GET /api/agents/:id req/server-CPU-s, c=${c}, agentd ÷ fastify+better-sqlite3`, a?.reqPerServerCpuS, f?.reqPerServerCpuS,
      { note: [a?.generatorBound && 'agentd run generator-bound'].filter(Boolean).join('') });
    ratio('H2', `GET /api/agents/:id p99 ms, c=${c}, agentd ÷ fastify+better-sqlite3`, a?.p99Ms, f?.p99Ms, { higherIsBetter: false, unit: 'ms', note: 'closed loop (wrk)' });
  }
  const h1a = out.scenarios.H1?.agentd?.c16;
  if (h1a && res.agentd_c16) ratio('H2', 'DB-backed GET ÷ /healthz (agentd, req/CPU-s, c=16)', res.agentd_c16.reqPerServerCpuS, h1a.reqPerServerCpuS);
}

// ---- F2: a data dir that has grown (bench/bigdir.js) ---------------------------------

// AGENTD_BENCH_BIGDIR names a data dir c/bigdir.c made before (bigdir.js
// --dir): taken as it is, so a full run need not generate 40 GB again.
async function f2() {
  const dir = process.env.AGENTD_BENCH_BIGDIR || undefined;
  out.scenarios.F2 = await require('./bigdir').run({ quick: QUICK, dir, reuse: !!dir, log, ratio, budget, na });
}

// ---- H3: persisted writes ------------------------------------------------------------
// H3a: persisted events through the real bus -> event log path (a burst
// published in-process by POST /test/publish on build/bench/agentd, timed
// until agentd counts the last one stored, checked in the log's files)
// against the bare loop inserting the same rows into SQLite with agentd's
// pragmas at agentd's batch size. H3b: REST writes (message
// POSTs: the message row plus its message_created event, answered after the
// commit) at 1/16/64 clients against the bare loop doing the same two
// inserts per write at batch 1 (a client waiting for each commit) and at
// group-commit batch sizes.

function bareLoop(dbFile, sync, batch, stmts, id, { maxOps } = {}) {
  const a = ['--db', dbFile, '--sync', sync, '--batch', String(batch), '--seconds', String(C.sqlite), '--id', id];
  if (maxOps) a.push('--max-ops', String(maxOps));
  for (const s of stmts) a.push('--stmt', s);
  const r = spawnSync('taskset', ['-c', '1', path.join(BIN_DIR, 'sqlite_loop'), ...a], { encoding: 'utf8', timeout: (C.sqlite + 30) * 1000 });
  if (r.status !== 0) throw new Error(`sqlite_loop: ${(r.stderr || '').trim().slice(-200)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

// Runs the bare loop C.reps times on fresh copies of dbFile; the median by
// rows per CPU-s, with the spread.
function bareBest(dbFile, sync, batch, stmts, id, reps = C.reps) {
  const runs = [];
  for (let i = 0; i < reps; i++) {
    const copy = path.join(tmp('bench-bare-'), 'bare.db');
    fs.copyFileSync(dbFile, copy);
    try { runs.push(bareLoop(copy, sync, batch, stmts, id)); } finally { fs.rmSync(path.dirname(copy), { recursive: true, force: true }); }
  }
  const m = median(runs.map((r) => r.opsPerCpuS));
  const pick = runs.find((r) => r.opsPerCpuS === m) || runs[0];
  return { ...pick, batch, spread: runs.length > 1 ? [Math.min(...runs.map((r) => r.opsPerCpuS)), Math.max(...runs.map((r) => r.opsPerCpuS))] : undefined };
}

// The last seq in agentd's event log and the mean payload of its newest
// segment's records, read from the files themselves (format:
// src/store/evlog.c; CRCs not checked here).
function eventLogTail(dataDir) {
  const dir = path.join(dataDir, 'events');
  const segs = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /^\d{20}\.log$/.test(f)).sort() : [];
  if (segs.length === 0) return { last: 0, payloadBytes: null };
  const b = fs.readFileSync(path.join(dir, segs[segs.length - 1]));
  let at = 16, last = 0, n = 0, bytes = 0;
  while (at + 32 <= b.length) {
    const tl = b.readUInt32LE(at + 4), ol = b.readUInt32LE(at + 8), pl = b.readUInt32LE(at + 12);
    const len = 32 + tl + ol + pl + 3;
    if (at + len > b.length) break;
    last = Number(b.readBigUInt64LE(at + 16));
    n++;
    bytes += pl;
    at += len;
  }
  return { last, payloadBytes: n ? bytes / n : null };
}

// The events payload: agentd's test route adds "i" to it, so the stored
// text is about 200 bytes, like the bare loop's :body.
const EV_PAYLOAD = { body: 'x'.repeat(180) };
// A burst takes well under a second: always repeat it (median, spread).
const H3A_REPS = Math.max(5, C.reps);
const EV_STMT = "INSERT OR IGNORE INTO events(seq, ts, type, topics, payload) VALUES(:i + 1, :ms, 'bench_event', '[\"bench\"]', :body)";
const MSG_STMTS = [
  "INSERT INTO messages (id, agent_id, run_id, role, content, token_count, tool_name, tool_input, tool_output, is_complete, created_at) VALUES (:n, :id, NULL, 'user', :body, 0, NULL, NULL, NULL, 1, :ms)",
  "INSERT OR IGNORE INTO events(seq, ts, type, topics, payload) VALUES(:i + 1, :ms, 'message_created', '[\"agent:x\",\"worktree:y\",\"workspace:z\"]', :body)",
];

async function h3Events(res, s) {
  // 300k even in QUICK: a burst of 100k took ~15 clock ticks of CPU, so
  // one tick moved the ratio by 7 %.
  const n = 300000;
  for (const sync of ['normal', 'full']) {
    const runs = [];
    const bareRuns = [];
    let bareErr = null;
    try {
      const dir = tmp('bench-h3a-');
      // Retention far above what the bursts write (1.5M events): H3a is the
      // insert path; from ~600k events the default 256 MiB bound makes the
      // writer delete as many rows as it adds, which the bare loop never
      // does (burst by burst the ratio fell 1.2 -> 0.4 as trimming began).
      await withServer(() => agentd.start({ dataDir: dir, durability: sync, bin: agentd.BENCH_BIN, args: ['--event-retention-bytes', String(2 ** 36)] }), async (h) => {
        const stats = async () => (await agentd.request(h.port, 'GET', '/test/store-stats')).json;
        if (!(await stats())) throw new Error('no /test/store-stats in build/bench/agentd (make bench builds it)');
        const burst = async (count) => {
          const s0 = await stats();
          const g0 = s0.groups;
          const c0 = sys.cpuSeconds(h.pid);
          const t0 = performance.now();
          const r = await agentd.request(h.port, 'POST', '/test/publish', { type: 'bench_event', topics: ['bench'], payload: EV_PAYLOAD, count, perTick: 1000 }, { timeoutMs: 60000 });
          if (r.status !== 200) throw new Error(`POST /test/publish answered ${r.status} ${r.body.slice(0, 120)}`);
          // Committed events by agentd's own count: a reader polling the
          // table (as until 2026-11-23) holds the WAL from being reset and
          // made agentd's writes dearer than the bare loop's, by up to 2x
          // between runs.
          const deadline = Date.now() + 60000;
          let stored = 0;
          while (Date.now() < deadline) {
            stored = (await stats()).eventsStored - s0.eventsStored;
            if (stored >= count) break;
            await sys.sleep(5);
          }
          const t1 = performance.now();
          const c1 = sys.cpuSeconds(h.pid);
          if (stored < count) throw new Error(`${stored} of ${count} events stored within 60 s`);
          const seen = eventLogTail(dir).last;
          if (seen < r.json.last) throw new Error(`the event log reached seq ${seen} of ${r.json.last}`);
          const groups = (await stats()).groups - g0;
          const seconds = (t1 - t0) / 1000;
          return { events: count, seconds, perS: count / seconds, serverCpuS: c1 - c0, perCpuS: count / (c1 - c0), commits: groups, rowsPerCommit: groups > 0 ? count / groups : null };
        };
        await burst(Math.floor(n / 10)); // warm-up
        // Each burst is followed by one bare loop at that burst's rows per
        // commit: measured in turn, a drift in the machine's speed (bursts
        // varied by ±20 % within a run here) falls on both sides alike.
        for (let i = 0; i < H3A_REPS; i++) {
          const a = await burst(n);
          runs.push(a);
          try {
            bareRuns.push(bareBest(s.dbFile, sync, Math.max(1, Math.round(a.rowsPerCommit || 1)), [EV_STMT], s.agentId, 1));
          } catch (e) { bareErr = e; }
        }
        res.agentd.eventPayloadBytes = eventLogTail(dir).payloadBytes;
      });
      fs.rmSync(dir, { recursive: true, force: true });
    } catch (e) { na('H3', `agentd events ${sync}: ${e.message}`); continue; }
    const m = median(runs.map((r) => r.perCpuS));
    const pick = runs.find((r) => r.perCpuS === m) || runs[0];
    pick.spread = runs.length > 1 ? [Math.min(...runs.map((r) => r.perCpuS)), Math.max(...runs.map((r) => r.perCpuS))] : undefined;
    res.agentd[`events_${sync}`] = pick;
    log(`H3a agentd events ${sync}: ${fmtN(pick.perS)} events/s, ${fmtN(pick.perCpuS)} per CPU-s, ${fmtN(pick.rowsPerCommit)} rows/commit`);
    // The bare loop at agentd's own batch size (rows per commit), run
    // between the bursts above: the median, with its spread.
    if (bareRuns.length === 0) { na('H3', `bare events ${sync}: ${bareErr ? bareErr.message : 'no run'}`); continue; }
    const bm = median(bareRuns.map((r) => r.opsPerCpuS));
    const b = { ...(bareRuns.find((r) => r.opsPerCpuS === bm) || bareRuns[0]) };
    b.spread = bareRuns.length > 1 ? [Math.min(...bareRuns.map((r) => r.opsPerCpuS)), Math.max(...bareRuns.map((r) => r.opsPerCpuS))] : undefined;
    b.pairRatios = runs.slice(0, bareRuns.length).map((r, i) => r.perCpuS / bareRuns[i].opsPerCpuS);
    res.bare[`events_${sync}`] = b;
    log(`H3a bare events ${sync} batch=${b.batch}: ${fmtN(b.opsPerS)} rows/s, ${fmtN(b.opsPerCpuS)} per CPU-s; burst by burst ${b.pairRatios.map((x) => x.toFixed(2)).join(' ')}`);
  }
}

async function h3Rest(res, s) {
  const lua = path.join(HERE, 'lua', 'message.lua');
  const conc = [1, 16, 64];
  for (const sync of ['normal', 'full']) {
    try {
      const dir = tmp('bench-h3b-');
      fs.cpSync(s.dir, dir, { recursive: true });
      fs.rmSync(path.join(dir, 'agentd.pid'), { force: true });
      await withServer(() => agentd.start({ dataDir: dir, durability: sync }), async (h) => {
        const p = `/api/agents/${s.agentId}/messages`;
        const probe = await agentd.request(h.port, 'POST', p, { role: 'user', content: 'bench-probe' });
        if (probe.status !== 201) throw new Error(`POST ${p} answered ${probe.status} ${probe.body.slice(0, 100)}`);
        for (const c of conc) {
          const r = await wrkBest(`http://127.0.0.1:${h.port}${p}`, h.pid, c, { script: lua });
          if (r.non2xx) r.note = `${r.non2xx} non-2xx`;
          res.agentd[`rest_${sync}_c${c}`] = r;
          log(`H3b agentd ${sync} c=${c}: ${fmtN(r.rps)} writes/s, ${fmtN(r.reqPerServerCpuS)} per CPU-s`);
        }
      });
      fs.rmSync(dir, { recursive: true, force: true });
    } catch (e) { na('H3', `agentd REST ${sync}: ${e.message}`); }
    for (const batch of [1, 16, 64]) {
      try {
        const b = res.bare[`rest_${sync}_b${batch}`] = bareBest(s.dbFile, sync, batch, MSG_STMTS, s.agentId);
        log(`H3b bare ${sync} batch=${batch}: ${fmtN(b.opsPerS)} writes/s, ${fmtN(b.opsPerCpuS)} per CPU-s`);
      } catch (e) { na('H3', `bare loop ${sync}/${batch}: ${e.message}`); }
    }
  }
  res.bareRestStatements = MSG_STMTS;
}

async function h3() {
  const res = { bare: {}, agentd: {} };
  let s;
  try { s = await seedDb(); } catch (e) { na('H3', `agentd store/REST: ${e.message}`); out.scenarios.H3 = null; return; }
  await h3Events(res, s);
  await h3Rest(res, s);
  out.scenarios.H3 = res;
  const A = res.agentd, B = res.bare;
  for (const sync of ['normal', 'full']) {
    const S = sync.toUpperCase();
    const ev = A[`events_${sync}`], bev = B[`events_${sync}`];
    const bn = bev ? `bare loop batch ${bev.batch}` : 'bare loop';
    ratio('H3', `H3a persisted events per CPU-s, ${S}: agentd bus→events ÷ ${bn}`, ev?.perCpuS, bev?.opsPerCpuS, { budget: 0.5 });
    ratio('H3', `H3a persisted events/s, ${S}: agentd bus→events ÷ ${bn}`, ev?.perS, bev?.opsPerS, { budget: 0.5 });
    const note = 'REST: HTTP parse + JSON + response included; budget applies to H3a';
    for (const c of [1, 16, 64]) {
      const a = A[`rest_${sync}_c${c}`];
      const gn = a?.generatorBound ? '; generator-bound' : '';
      const batches = c === 1 ? [1] : [1, c];
      for (const bb of batches) {
        const b = B[`rest_${sync}_b${bb}`];
        ratio('H3', `H3b REST message writes/s, ${c} client${c > 1 ? 's' : ''}, ${S}: agentd ÷ bare batch ${bb}`, a?.rps, b?.opsPerS, { note: note + gn });
        ratio('H3', `H3b REST message writes per CPU-s, ${c} client${c > 1 ? 's' : ''}, ${S}: agentd ÷ bare batch ${bb}`, a?.reqPerServerCpuS, b?.opsPerCpuS, { note: note + gn });
      }
    }
  }
  ratio('H3', 'H3a agentd events/s FULL ÷ NORMAL', A.events_full?.perS, A.events_normal?.perS);
  ratio('H3', 'H3b agentd REST writes/s FULL ÷ NORMAL (16 clients)', A.rest_full_c16?.rps, A.rest_normal_c16?.rps);
  ratio('H3', 'bare loop FULL ÷ NORMAL (REST rows, batch 1)', B.rest_full_b1?.opsPerS, B.rest_normal_b1?.opsPerS);
}

// ---- E1: durable event append (issue #38) ----------------------------------------------
// Events of 1 KiB appended durably, per server CPU-second, each server fed by
// the same C generator (bench/c/append.c: 4 connections, each keeping 512
// events sent and not yet acknowledged as stored): agentd's bus into its
// event log (/test/ws-publish?ack=1 on build/bench/agentd, told once a
// commit holds them), Redis Streams (XADD with AOF: appendfsync everysec
// beside agentd's normal durability, always beside full) and NATS JetStream
// (a file stream; Debian's 2.9 fsyncs on a 2-minute timer and has no
// per-write sync, so it has no full row), and at normal agentd again with
// its tables on PostgreSQL (issue #80: how a team runs it; the event log
// stays in files there, and the database server's CPU and writes count as
// agentd's). Each keeps about 256 MiB, the
// oldest going first, as agentd's default retention does. Also the bytes
// each wrote to the storage layer per event (/proc/<pid>/io write_bytes over
// the measured window: a page counts each time it is dirtied again after a
// sync, which is what a sync per commit costs the disk).

const APPEND_C = path.join(BIN_DIR, 'append'); // bench/c/append.c, built by run.sh
const E1 = { payload: 1024, conns: 4, window: 512, retention: 256 * 1048576 };

// write_bytes of pid's process tree (every thread of each process).
function ioWriteBytes(pid) {
  let n = 0;
  for (const p of sys.tree(pid)) {
    try {
      const m = /^write_bytes:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${p}/io`, 'utf8'));
      if (m) n += Number(m[1]);
    } catch (_) { /* gone */ }
  }
  return n;
}

async function startRedisAof(fsync) {
  const port = await sys.freePort();
  const dir = tmp('bench-redis-aof-');
  // No AOF rewrite during the run (it forks a child that rewrites the whole
  // stream: work and bytes on Redis's side the row would then count only
  // by chance); Redis's figures are the lower bound of its cost.
  const h = await sys.startServer('redis', '/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1',
    '--save', '', '--appendonly', 'yes', '--appendfsync', fsync, '--auto-aof-rewrite-percentage', '0',
    '--dir', dir, '--protected-mode', 'yes'], { port });
  h.dataDir = dir;
  const stop = h.stop;
  h.stop = async () => { await stop(); fs.rmSync(dir, { recursive: true, force: true }); };
  return h;
}

async function startNats() {
  if (!fs.existsSync('/usr/sbin/nats-server')) throw new Error('no nats-server (make bench-deps)');
  const port = await sys.freePort();
  const dir = tmp('bench-nats-');
  fs.writeFileSync(path.join(dir, 'nats.conf'), `listen: 127.0.0.1:${port}\njetstream { store_dir: "${dir}/js" }\n`);
  const h = await sys.startServer('nats', '/usr/sbin/nats-server', ['-c', path.join(dir, 'nats.conf')], { port });
  h.dataDir = dir;
  const stop = h.stop;
  h.stop = async () => { await stop(); fs.rmSync(dir, { recursive: true, force: true }); };
  return h;
}

// h.alsoPid: another process tree counted as the server's (agentd on
// PostgreSQL: the database server's postmaster and backends), its CPU and
// bytes written over the same window as agentd's.
async function e1Runs(h, params) {
  const runs = [];
  const extra = () => (h.alsoPid ? { cpu: sys.cpuSeconds(h.alsoPid), io: ioWriteBytes(h.alsoPid) } : null);
  for (let i = 0; i < C.reps; i++) {
    let io0 = null, io1 = null, x0 = null, x1 = null;
    const r = await sys.runGen(APPEND_C, { payload: E1.payload, conns: E1.conns, window: E1.window,
      seconds: QUICK ? 3 : 6, warmup: QUICK ? 1 : 2, ...params },
    { serverPid: h.pid, timeoutMs: 60000, onMark: (what) => {
      if (what === 'start') { io0 = ioWriteBytes(h.pid); x0 = extra(); } else { io1 = ioWriteBytes(h.pid); x1 = extra(); }
    } });
    if (r.acked === 0 || r.errors > 0) throw new Error(`${r.acked} acknowledged, ${r.errors} errors (${r.firstError})`);
    if (x0 && x1) { r.serverCpuS += x1.cpu - x0.cpu; io1 += x1.io - x0.io; r.alsoCpuS = x1.cpu - x0.cpu; }
    r.perS = r.acked / r.seconds;
    r.perCpuS = r.serverCpuS > 0 ? r.acked / r.serverCpuS : null;
    r.writeBytesPerEvent = io0 != null && io1 != null ? (io1 - io0) / r.acked : null;
    r.serverCpuShare = r.serverCpuS / r.seconds;
    r.genCpuShare = r.genCpuS / r.seconds;
    r.generatorBound = genBound(r.genCpuS, r.seconds);
    runs.push(r);
  }
  const m = median(runs.map((r) => r.perCpuS));
  const pick = { ...(runs.find((r) => r.perCpuS === m) || runs[0]) };
  pick.writeBytesPerEvent = median(runs.map((r) => r.writeBytesPerEvent));
  if (runs.length > 1) pick.spread = [Math.min(...runs.map((r) => r.perCpuS)), Math.max(...runs.map((r) => r.perCpuS))];
  return pick;
}

// agentd with its tables on a throwaway PostgreSQL 15 (tests/e2e/lib/pg.js,
// as planes.js starts it); h.alsoPid is the postmaster, so the database
// server's processes count as agentd's. Stopping h stops both.
async function startAgentdPg(sync) {
  const { startPostgres } = require(path.join(ROOT, 'tests', 'e2e', 'lib', 'pg'));
  const pg = await startPostgres();
  try {
    const h = await agentd.start({ bin: agentd.BENCH_BIN, durability: sync, env: { AGENTD_DATABASE_URL: pg.createDb('e1_bench') },
      args: ['--event-retention-bytes', String(E1.retention)] });
    h.alsoPid = pg.postmasterPid();
    const stop = h.stop;
    h.stop = async () => { try { await stop(); } finally { pg.stop(); } };
    return h;
  } catch (e) { pg.stop(); throw e; }
}

async function e1() {
  const res = {};
  if (!fs.existsSync(APPEND_C)) { na('E1', 'no bench/bin/append (run.sh builds it)'); return; }
  const servers = (sync) => [
    ['agentd', () => agentd.start({ bin: agentd.BENCH_BIN, durability: sync, args: ['--event-retention-bytes', String(E1.retention)] }),
      { kind: 'ws', path: '/test/ws-publish?topic=bench&ack=1' }],
    // a team's agentd: its tables on PostgreSQL (issue #80); the event log stays in files
    ...(sync === 'full' ? [] : [['agentd-pg', () => startAgentdPg(sync), { kind: 'ws', path: '/test/ws-publish?topic=bench&ack=1' }]]),
    ['redis', () => startRedisAof(sync === 'full' ? 'always' : 'everysec'), { kind: 'redis', maxlen: Math.round(E1.retention / E1.payload) }],
    ...(sync === 'full' ? [] : [['nats', startNats, { kind: 'nats', maxBytes: E1.retention }]]),
  ];
  for (const sync of ['normal', 'full']) {
    res[sync] = {};
    for (const [name, startFn, params] of servers(sync)) {
      try {
        await withServer(startFn, async (h) => {
          const r = await e1Runs(h, { port: h.port, ...params });
          res[sync][name] = r;
          log(`E1 ${name} ${sync}: ${fmtN(r.perCpuS)} events/CPU-s, ${fmtN(r.perS)}/s, ${r.writeBytesPerEvent?.toFixed(0)} B written/event, srv ${(r.serverCpuShare * 100).toFixed(0)}% gen ${(r.genCpuShare * 100).toFixed(0)}%${r.alsoCpuS != null ? ` (of it the database server ${r.alsoCpuS.toFixed(2)} CPU-s)` : ''}`);
        });
      } catch (e) { na('E1', `${name} ${sync}: ${e.message}`); }
    }
  }
  out.scenarios.E1 = res;
  for (const sync of ['normal', 'full']) {
    const a = res[sync].agentd;
    const peers = [['redis', `Redis XADD, AOF ${sync === 'full' ? 'always' : 'everysec'}`]];
    if (sync === 'normal') peers.push(['nats', 'NATS JetStream (file)']);
    const ours = [['agentd', 'agentd', a]];
    if (sync === 'normal') ours.push(['agentd-pg', 'agentd on PostgreSQL (its server\'s CPU counted)', res[sync]['agentd-pg']]);
    for (const [name, who, o] of ours) {
      for (const [k, label] of peers) {
        const p = res[sync][k];
        const gb = [o?.generatorBound && `${name} run generator-bound`, p?.generatorBound && `${k} run generator-bound`].filter(Boolean).join('; ');
        ratio('E1', `durable appends of 1 KiB per server CPU-s, ${sync.toUpperCase()}: ${who} ÷ ${label}`, o?.perCpuS, p?.perCpuS, { budget: 2, note: gb });
        ratio('E1', `bytes written to disk per event, ${sync.toUpperCase()}: ${who} ÷ ${label}`, o?.writeBytesPerEvent, p?.writeBytesPerEvent, { higherIsBetter: false, unit: 'B' });
      }
    }
    if (sync === 'full') na('E1', 'NATS full: nats-server 2.9 (Debian) has no per-write sync (sync_interval came in 2.10)');
  }
}

// ---- W1: memory per idle WebSocket -----------------------------------------------------

async function idleMem(h, n, wsPath, subscribe) {
  const before = sys.rssBytes(h.pid);
  const cpu0 = sys.cpuSeconds(h.pid);
  let after = null;
  let setupCpu = null;
  const addrs = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
  const r = await sys.runGen('ws-idle.js', { port: h.port, path: wsPath, n, subscribe, localAddrs: addrs, settleMs: QUICK ? 500 : 2000 },
    { serverPid: h.pid, timeoutMs: 120000, onMark: (what, gen) => { if (what === 'start') { after = sys.rssBytes(h.pid); setupCpu = sys.cpuSeconds(h.pid) - cpu0; gen.send('go\n'); } } });
  if (r.opened < n * 0.99) throw new Error(`only ${r.opened} of ${n} connections opened`);
  return { n, opened: r.opened, rssBeforeMiB: before / 1048576, rssAfterMiB: after / 1048576, bytesPerConn: (after - before) / r.opened,
    setupSeconds: r.setupSeconds, setupServerCpuS: setupCpu, connectsPerServerCpuS: setupCpu > 0 ? r.opened / setupCpu : null };
}

async function w1() {
  const res = {};
  const subMsg = (id) => JSON.stringify({ type: 'subscribe', payload: { topics: [`agent:${id}`] } });
  const servers = [
    ['agentd', () => agentd.start({ bin: agentdWs?.bin || agentd.BIN }), agentdWs?.path, async () => {
      if (!agentdWs) throw new Error(agentdWsWhy);
      return agentdWs.bus ? subMsg('ag_bench') : null;
    }],
    ['ws', () => startNode('ws-node', 'ws-node.js'), '/sub', null],
    ['bun', () => startBun('bun', 'ws-bun.js'), '/sub', null],
  ];
  for (const [name, startFn, p, prep] of servers) {
    res[name] = {};
    for (const n of C.w1N) {
      try {
        await withServer(startFn, async (h) => {
          const sub = prep ? await prep(h) : null;
          res[name][`n${n}`] = await idleMem(h, n, p, sub);
          const x = res[name][`n${n}`];
          log(`W1 ${name} n=${n}: ${fmtN(x.bytesPerConn)} B/conn; opening took ${x.setupSeconds.toFixed(1)} s, server ${x.setupServerCpuS.toFixed(2)} CPU-s`);
        });
      } catch (e) { res[name][`n${n}`] = null; na('W1', `${name} n=${n}: ${e.message}`); }
    }
  }
  out.scenarios.W1 = res;
  for (const n of C.w1N) {
    const a = res.agentd?.[`n${n}`]?.bytesPerConn;
    ratio('W1', `RSS per idle WebSocket, N=${n}: agentd ÷ Node ws`, a, res.ws?.[`n${n}`]?.bytesPerConn, { higherIsBetter: false, unit: 'B' });
    ratio('W1', `RSS per idle WebSocket, N=${n}: agentd ÷ Bun`, a, res.bun?.[`n${n}`]?.bytesPerConn, { higherIsBetter: false, unit: 'B' });
    budget('W1', `RSS per idle WebSocket, N=${n} (budget 16 KiB)`, a, 16384, { unit: 'B', note: agentdWs && !agentdWs.bus ? 'agentd on /ws/echo (test routes): no /ws bus endpoint yet' : '' });
  }
}

// ---- W2 and R1: fan-out ------------------------------------------------------------------

let agentdPublish = null; // set by probeAgentdPublish(): how a bench publishes on agentd

// The budget rows keep 32 messages in flight. At 1,000 subscribers that
// closed loop decides how many messages a server finds per loop turn, and
// so how many frames share a write(2): a server that turns around faster
// gets smaller batches (2026-11-23: agentd 22 messages a turn, Redis 32,
// with agentd's user time per delivery no higher than Redis's). These rows
// keep 128 in flight, enough that every server finds a full batch each
// turn: what the server costs when the publisher keeps it busy.
const SATURATED = { window: 128, n: 1000 };
const satKey = (payload) => `n${SATURATED.n}_p${payload}_w${SATURATED.window}`;

async function fanout(h, n, payload, sub, pub, window = 32) {
  const runs = [];
  for (let i = 0; i < C.reps; i++) {
    // The C generator where it speaks the publisher's protocol (WebSocket,
    // RESP); Node's for the HTTP publisher.
    const gen = pub.kind !== 'http' && fs.existsSync(FANOUT_C) ? FANOUT_C : 'fanout.js';
    const r = await sys.runGen(gen, { n, payload, seconds: C.fan, warmup: C.fanWarm, window, sub, pub },
      { serverPid: h.pid, timeoutMs: 120000 });
    r.deliveriesPerS = r.deliveries / r.seconds;
    r.deliveriesPerServerCpuS = r.serverCpuS > 0 ? r.deliveries / r.serverCpuS : null;
    r.serverCpuShare = r.serverCpuS / r.seconds;
    r.genCpuShare = r.genCpuS / r.seconds;
    r.generatorBound = genBound(r.genCpuS, r.seconds);
    r.window = window;
    runs.push(r);
  }
  const m = median(runs.map((r) => r.deliveriesPerServerCpuS));
  const pick = runs.find((r) => r.deliveriesPerServerCpuS === m) || runs[0];
  if (runs.length > 1) pick.spread = [Math.min(...runs.map((r) => r.deliveriesPerServerCpuS)), Math.max(...runs.map((r) => r.deliveriesPerServerCpuS))];
  if (pick.deliveries === 0) throw new Error(`no deliveries (published ${pick.published}, errors ${pick.errors}) ${pick.stderr || ''}`);
  return pick;
}

async function w2() {
  const res = { ws: {}, bun: {}, agentd: {} };
  const peers = [
    ['ws', () => startNode('ws-node', 'ws-node.js'), (h) => ({ sub: { kind: 'ws', port: h.port, path: '/sub' }, pub: { kind: 'ws', port: h.port, path: '/pub' } })],
    ['bun', () => startBun('bun', 'ws-bun.js'), (h) => ({ sub: { kind: 'ws', port: h.port, path: '/sub' }, pub: { kind: 'ws', port: h.port, path: '/pub' } })],
  ];
  if (agentdPublish) {
    for (const v of agentdPublish) { res[v.key] = {}; peers.push([v.key, () => agentd.start({ bin: v.bin }), v.prepare]); }
    out.meta.agentdPublish = agentdPublish.map((v) => ({ key: v.key, label: v.label }));
  } else {
    peers.push(['agentd', () => Promise.reject(new Error(agentdPublishWhy)), null]);
  }
  for (const [name, startFn, wire] of peers) {
    try {
      await withServer(startFn, async (h) => {
        const w = await wire(h);
        for (const payload of C.payloads) {
          for (const n of C.fanN) {
            try {
              const r = await fanout(h, n, payload, w.sub, w.pub);
              res[name][`n${n}_p${payload}`] = r;
              log(`W2 ${name} n=${n} ${payload}B: ${fmtN(r.deliveriesPerServerCpuS)} deliveries/CPU-s, ${fmtN(r.deliveriesPerS)}/s gen ${(r.genCpuShare * 100).toFixed(0)}% srv ${(r.serverCpuShare * 100).toFixed(0)}%`);
            } catch (e) { res[name][`n${n}_p${payload}`] = null; na('W2', `${name} n=${n} ${payload}B: ${e.message}`); }
          }
          if (name !== 'bun' && name !== 'agentd') continue;
          try {
            const r = await fanout(h, SATURATED.n, payload, w.sub, w.pub, SATURATED.window);
            res[name][satKey(payload)] = r;
            log(`W2 ${name} n=${SATURATED.n} ${payload}B ${SATURATED.window} in flight: ${fmtN(r.deliveriesPerServerCpuS)} deliveries/CPU-s gen ${(r.genCpuShare * 100).toFixed(0)}% srv ${(r.serverCpuShare * 100).toFixed(0)}%`);
          } catch (e) { na('W2', `${name} saturated ${payload}B: ${e.message}`); }
        }
      });
    } catch (e) { na('W2', `${name}: ${e.message}`); }
  }
  out.scenarios.W2 = res;
  for (const payload of C.payloads) {
    for (const n of C.fanN) {
      const k = `n${n}_p${payload}`;
      const firstRest = agentdPublish && agentdPublish[0].label.includes('REST');
      for (const [ak, how] of [['agentd', firstRest ? ' (persisted REST publish)' : ''], ['agentd_rest', ' (persisted REST publish)']]) {
        if (ak !== 'agentd' && !res[ak]) continue;
        const a = res[ak]?.[k];
        for (const [peer, label] of [['ws', 'Node ws'], ['bun', 'Bun']]) {
          const p = res[peer][k];
          const gb = [a?.generatorBound && 'agentd run generator-bound', p?.generatorBound && `${label} run generator-bound`,
            a?.bytesPerDelivery > payload * 1.1 && `agentd frames ${a.bytesPerDelivery.toFixed(0)} B (event envelope)`].filter(Boolean).join('; ');
          ratio('W2', `fan-out deliveries/server-CPU-s, N=${n}, ${payload} B: agentd${how} ÷ ${label}`, a?.deliveriesPerServerCpuS, p?.deliveriesPerServerCpuS,
            { budget: peer === 'ws' && ak === 'agentd' ? 2 : null, note: gb });
        }
      }
      // issue #80: what a client's publish (a persisted REST write) costs a
      // delivered event, against the bus path, within 3x
      if (res.agentd_rest?.[k] && !firstRest) {
        ratio('W2', `fan-out deliveries/server-CPU-s, N=${n}, ${payload} B: persisted REST publish ÷ the bus path (both ${res.agentd_rest[k].window} in flight)`,
          res.agentd_rest[k].deliveriesPerServerCpuS, res.agentd?.[k]?.deliveriesPerServerCpuS, { budget: 0.33 }); // within 3x
      }
    }
    const a = res.agentd?.[satKey(payload)], b = res.bun?.[satKey(payload)];
    ratio('W2', `fan-out deliveries/server-CPU-s, N=${SATURATED.n}, ${payload} B, ${SATURATED.window} in flight: agentd ÷ Bun`, a?.deliveriesPerServerCpuS, b?.deliveriesPerServerCpuS,
      { note: [a?.generatorBound && 'agentd run generator-bound', b?.generatorBound && 'Bun run generator-bound'].filter(Boolean).join('; ') });
  }
}

async function r1() {
  const res = {};
  try {
    await withServer(startRedis, async (h) => {
      for (const payload of C.payloads) {
        for (const n of C.fanN) {
          try {
            const r = await fanout(h, n, payload, { kind: 'redis', port: h.port, channel: 'bench' }, { kind: 'redis', port: h.port, channel: 'bench' });
            res[`n${n}_p${payload}`] = r;
            log(`R1 redis n=${n} ${payload}B: ${fmtN(r.deliveriesPerServerCpuS)} deliveries/CPU-s, ${fmtN(r.deliveriesPerS)}/s gen ${(r.genCpuShare * 100).toFixed(0)}%`);
          } catch (e) { na('R1', `redis n=${n} ${payload}B: ${e.message}`); }
        }
        try {
          const sub = { kind: 'redis', port: h.port, channel: 'bench' };
          const r = await fanout(h, SATURATED.n, payload, sub, sub, SATURATED.window);
          res[satKey(payload)] = r;
          log(`R1 redis n=${SATURATED.n} ${payload}B ${SATURATED.window} in flight: ${fmtN(r.deliveriesPerServerCpuS)} deliveries/CPU-s gen ${(r.genCpuShare * 100).toFixed(0)}%`);
        } catch (e) { na('R1', `redis saturated ${payload}B: ${e.message}`); }
      }
    });
  } catch (e) { na('R1', `redis: ${e.message}`); }
  out.scenarios.R1 = res;
  if (!out.scenarios.W2) na('R1', "agentd's side is W2's figure, and W2 did not run");
  for (const payload of C.payloads) {
    for (const n of C.fanN) {
      const k = `n${n}_p${payload}`;
      const a = out.scenarios.W2?.agentd?.[k], r = res[k];
      const gb = [a?.generatorBound && 'agentd run generator-bound', r?.generatorBound && 'Redis run generator-bound'].filter(Boolean).join('; ');
      ratio('R1', `local fan-out deliveries/server-CPU-s, N=${n}, ${payload} B: agentd ÷ Redis pub/sub`, a?.deliveriesPerServerCpuS, r?.deliveriesPerServerCpuS, { note: gb, naFrom: 'W2' });
      ratio('R1', `local fan-out deliveries/s, N=${n}, ${payload} B: agentd ÷ Redis pub/sub`, a?.deliveriesPerS, r?.deliveriesPerS, { note: gb, naFrom: 'W2' });
    }
    const a = out.scenarios.W2?.agentd?.[satKey(payload)], r = res[satKey(payload)];
    const gb = [a?.generatorBound && 'agentd run generator-bound', r?.generatorBound && 'Redis run generator-bound'].filter(Boolean).join('; ');
    ratio('R1', `local fan-out deliveries/server-CPU-s, N=${SATURATED.n}, ${payload} B, ${SATURATED.window} in flight: agentd ÷ Redis pub/sub`, a?.deliveriesPerServerCpuS, r?.deliveriesPerServerCpuS, { note: gb, naFrom: 'W2' });
  }
}

// ---- W4: agent stdout line -> 100 subscribers ---------------------------------------------

let agentdRun = null; // set by probeAgentdRun(): how to start an agent that runs linegen
let agentdWs = null; // {bin, path, bus}: the WebSocket endpoint W1 holds idle connections on
let agentdWsWhy = 'no WebSocket endpoint';
let agentdRunWhy = 'agent runs (proc/agent branches) not merged yet';
let agentdPublishWhy = 'event bus /ws not merged yet';

async function w4() {
  const res = {};
  if (!agentdRun) { na('W4', agentdRunWhy); out.scenarios.W4 = null; return; }
  // The budget (CONTRIBUTING.md) names one subscribed browser; the issue asks for 100.
  const subsList = [1, 100];
  for (const subs of subsList) {
    for (const rate of [1000, 10000]) {
      const lines = C.w4Lines[rate];
      const key = subs === 100 ? `r${rate}` : `s${subs}r${rate}`;
      try {
        // linegen is in bench/bin, which an agent's sandbox hides unless named
        await withServer(() => agentd.start({ args: ['--sandbox-paths', BIN_DIR] }), async (h) => {
          const ag = await agentdRun.prepare(h, [path.join(BIN_DIR, 'linegen'), String(rate), String(lines), '200']);
          let startErr = null;
          // The C subscribers (bench/c/fanout.c) when built: 100 Node
          // sockets in one process put the client's own queueing and JIT
          // warm-up into the tail (gen 61 % of its core at 1k lines/s).
          const gen = fs.existsSync(FANOUT_C) ? FANOUT_C : 'w4.js';
          const r = await sys.runGen(gen, { port: h.port, path: '/ws', n: subs, sampleEvery: subs >= 10 ? 10 : 1, lines,
            subscribe: JSON.stringify({ type: 'subscribe', payload: { topics: [`agent:${ag.agentId}`] } }),
            timeoutMs: (lines / rate) * 1000 + (QUICK ? 3000 : 10000) }, { serverPid: h.pid, timeoutMs: (lines / rate) * 1000 + 30000,
            onLine: (line) => { if (line === 'READY') agentdRun.run(h, ag).catch((e) => { startErr = e; }); } });
          if (startErr) throw startErr;
          r.subscribers = subs;
          r.serverCpuShare = r.serverCpuS / r.seconds;
          r.genCpuShare = r.genCpuS / r.seconds;
          r.generatorBound = genBound(r.genCpuS, r.seconds);
          r.complete = r.linesSeenPerSampler >= lines;
          r.generator = r.generator || 'node';
          res[key] = r;
          log(`W4 ${subs} sub ${rate} lines/s (${r.generator} client): p50 ${r.p50Ms?.toFixed(3)} ms p99 ${r.p99Ms?.toFixed(3)} ms, seen ${r.linesSeenPerSampler}/${lines} gen ${(r.genCpuShare * 100).toFixed(0)}% srv ${(r.serverCpuShare * 100).toFixed(0)}%, late (>2 ms) per tenth of the run ${JSON.stringify(r.lateByTenth)}`);
        });
      } catch (e) { na('W4', `${subs} subscribers, ${rate} lines/s: ${e.message}`); }
    }
  }
  out.scenarios.W4 = res;
  for (const subs of subsList) {
    for (const rate of [1000, 10000]) {
      const r = res[subs === 100 ? `r${rate}` : `s${subs}r${rate}`];
      const who = subs === 1 ? '1 WS subscriber' : `${subs} WS subscribers`;
      const note = [r?.generatorBound && 'generator-bound', r && !r.complete && `only ${r.linesSeenPerSampler} of ${r.lines} lines arrived`].filter(Boolean).join('; ');
      // a run whose lines did not all arrive has no latency to judge (it read -1)
      budget('W4', `stdout line → ${who}, ${rate} lines/s: p99 ms (budget 2 ms)`, r?.complete ? r.p99Ms : null, 2, { unit: 'ms', note });
      budget('W4', `stdout line → ${who}, ${rate} lines/s: p50 ms`, r?.complete ? r.p50Ms : null, 2, { unit: 'ms', note });
    }
  }
}

// ---- M4: a training point printed by an agent -> the chart's WebSocket ---------------------------

// The dashboard's chart hears of new points by the metrics_update events on
// its /ws subscription (it then refetches, throttled). M4 times a point from
// the moment the agent meant to print it (linegen's metric mode puts that
// time in the value) to that event's arrival on one subscriber of the
// agent's topic, open loop; the same run's plain stdout line (W4's path) is
// the peer: what the metric path (parsing, the point batch for the store,
// the event) adds to it. Fixed goal: p99 < 50 ms (issue #16).
async function m4() {
  const res = {};
  if (!agentdRun) { na('M4', agentdRunWhy); out.scenarios.M4 = null; return; }
  const rate = 1000;
  const lines = QUICK ? 3000 : 10000;
  for (const mode of ['metric', 'line']) {
    try {
      await withServer(() => agentd.start({ args: ['--sandbox-paths', BIN_DIR] }), async (h) => {
        const ag = await agentdRun.prepare(h, [path.join(BIN_DIR, 'linegen'), String(rate), String(lines), '200', mode]);
        let startErr = null;
        const r = await sys.runGen('w4.js', { port: h.port, path: '/ws', n: 1, sampleEvery: 1, lines,
          pattern: mode === 'metric' ? '"value":(?<ns>\\d+),"step":(?<i>\\d+)' : undefined,
          subscribe: JSON.stringify({ type: 'subscribe', payload: { topics: [`agent:${ag.agentId}`] } }),
          timeoutMs: (lines / rate) * 1000 + 10000 }, { serverPid: h.pid, timeoutMs: (lines / rate) * 1000 + 30000,
          onLine: (line) => { if (line === 'READY') agentdRun.run(h, ag).catch((e) => { startErr = e; }); } });
        if (startErr) throw startErr;
        r.complete = r.linesSeenPerSampler >= lines;
        res[mode] = r;
        log(`M4 ${mode} 1 sub ${rate}/s: p50 ${r.p50Ms?.toFixed(3)} ms p99 ${r.p99Ms?.toFixed(3)} ms max ${r.maxMs?.toFixed(3)} ms, seen ${r.linesSeenPerSampler}/${lines}`);
      });
    } catch (e) { na('M4', `${mode}: ${e.message}`); }
  }
  out.scenarios.M4 = res;
  const m = res.metric, l = res.line;
  const note = m && !m.complete ? `only ${m.linesSeenPerSampler} of ${m.lines} points arrived` : '';
  budget('M4', `training point printed → metrics_update on the chart's /ws, ${rate} points/s: p99 ms (goal 50 ms)`, m?.complete ? m.p99Ms : null, 50, { unit: 'ms', note });
  budget('M4', `same, p50 ms`, m?.complete ? m.p50Ms : null, 50, { unit: 'ms', note });
  ratio('M4', `metric point ÷ plain stdout line (W4's path, same run), p99`, m?.p99Ms, l?.p99Ms, { unit: 'ms', higherIsBetter: false });
  ratio('M4', `same, p50`, m?.p50Ms, l?.p50Ms, { unit: 'ms', higherIsBetter: false });
}

// ---- HD1: agents under a holder (issue #15): added latency per line, holder RSS ----------------

// The holder's resident memory (kB), and its proportional share (Pss: the
// pages it shares with agentd and other holders counted by share).
function holderMem(dataDir) {
  const root = path.join(dataDir, 'hold');
  for (const n of fs.existsSync(root) ? fs.readdirSync(root) : []) {
    try {
      const pid = fs.readFileSync(path.join(root, n, 'info'), 'utf8').split(' ')[0];
      const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
      const roll = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      const kb = (re, t) => Number((t.match(re) || [])[1]);
      return { rssKb: kb(/VmRSS:\s+(\d+)/, st), anonKb: kb(/RssAnon:\s+(\d+)/, st), pssKb: kb(/Pss:\s+(\d+)/, roll) };
    } catch (_) { /* not up yet */ }
  }
  return null;
}

async function hd1() {
  const res = {};
  if (!agentdRun) { na('HD1', agentdRunWhy); out.scenarios.HD1 = null; return; }
  const rate = 1000;
  const lines = QUICK ? 3000 : 10000;
  // Direct and held take turns, several rounds: one stall of the shared
  // machine then moves one round's p99, not the comparison (medians).
  const rounds = QUICK ? 3 : 5;
  const all = { direct: [], held: [] };
  for (let round = 0; round < rounds; round++) for (const held of [false, true]) {
    try {
      await withServer(() => agentd.start({ args: ['--sandbox-paths', BIN_DIR, `--hold-agents=${held}`] }), async (h) => {
        const ag = await agentdRun.prepare(h, [path.join(BIN_DIR, 'linegen'), String(rate), String(lines), '200']);
        let startErr = null;
        let mem = null;
        const r = await sys.runGen('w4.js', { port: h.port, path: '/ws', n: 1, sampleEvery: 1, lines,
          subscribe: JSON.stringify({ type: 'subscribe', payload: { topics: [`agent:${ag.agentId}`] } }),
          timeoutMs: (lines / rate) * 1000 + 10000 }, { serverPid: h.pid, timeoutMs: (lines / rate) * 1000 + 30000,
          onLine: (line) => {
            if (line !== 'READY') return;
            agentdRun.run(h, ag).catch((e) => { startErr = e; });
            if (held) setTimeout(() => { mem = holderMem(h.dataDir); }, 1500);
          } });
        if (startErr) throw startErr;
        r.holder = mem;
        r.complete = r.linesSeenPerSampler >= lines;
        all[held ? 'held' : 'direct'].push(r);
        log(`HD1 ${held ? 'held' : 'direct'} 1 sub ${rate} lines/s: p50 ${r.p50Ms?.toFixed(3)} ms p99 ${r.p99Ms?.toFixed(3)} ms, seen ${r.linesSeenPerSampler}/${lines}${mem ? `, holder RSS ${mem.rssKb} kB (anon ${mem.anonKb} kB, Pss ${mem.pssKb} kB)` : ''}`);
      });
    } catch (e) { na('HD1', `${held ? 'held' : 'direct'}: ${e.message}`); }
  }
  for (const k of ['direct', 'held']) {
    const rs = all[k];
    if (!rs.length) continue;
    res[k] = { rounds: rs, p50Ms: median(rs.map((r) => r.p50Ms)), p99Ms: median(rs.map((r) => r.p99Ms)),
      holder: rs.map((r) => r.holder).filter(Boolean).pop() || null };
  }
  // The holder alone (bench/c/holdlat): a line through pipe -> holder ->
  // socket against the same line read straight from the pipe.
  const holdBin = path.join(path.dirname(agentd.BIN), 'agentd-hold');
  if (fs.existsSync(holdBin)) {
    const r = spawnSync('taskset', ['-c', '1', path.join(BIN_DIR, 'holdlat'), holdBin, String(lines), String(rate)],
      { encoding: 'utf8', timeout: (lines / rate) * 1000 + 30000 });
    try { res.probe = JSON.parse(r.stdout.trim()); } catch (_) { na('HD1', `holdlat: ${r.stderr || r.error}`); }
    if (res.probe) log(`HD1 holder alone: p50 ${res.probe.heldP50Ms} ms p99 ${res.probe.heldP99Ms} ms vs pipe ${res.probe.directP50Ms} / ${res.probe.directP99Ms} ms, RSS ${res.probe.holderRssKb} kB anon ${res.probe.holderAnonKb} kB`);
  } else na('HD1', `no ${holdBin}`);
  out.scenarios.HD1 = res;
  const pr = res.probe;
  ratio('HD1', `one line, pipe → holder → socket ÷ the pipe read directly, p99 (${rate} lines/s)`, pr?.heldP99Ms, pr?.directP99Ms, { unit: 'ms', higherIsBetter: false });
  budget('HD1', 'latency a holder adds per line, p99 (holder path p99 − pipe p99, same run)', pr ? Math.max(0, pr.heldP99Ms - pr.directP99Ms) : null, 0.2, { unit: 'ms' });
  budget('HD1', 'same, p50', pr ? Math.max(0, pr.heldP50Ms - pr.directP50Ms) : null, 0.2, { unit: 'ms' });
  const d = res.direct, hh = res.held;
  ratio('HD1', `stdout line → 1 WS subscriber, ${rate} lines/s, p99 (median of ${rounds} rounds): under a holder ÷ direct`, hh?.p99Ms, d?.p99Ms, { unit: 'ms', higherIsBetter: false });
  ratio('HD1', `same, p50: under a holder ÷ direct`, hh?.p50Ms, d?.p50Ms, { unit: 'ms', higherIsBetter: false });
  const added = hh && d && hh.p99Ms != null && d.p99Ms != null ? Math.max(0, hh.p99Ms - d.p99Ms) : null;
  budget('HD1', 'the same through agentd to a WebSocket: held p99 − direct p99 (noisy on a shared machine)', added, 0.2, { unit: 'ms' });
  budget('HD1', 'holder resident memory (VmRSS: libc\'s shared pages included)', hh?.holder ? hh.holder.rssKb * 1024 : null, null, { unit: 'B' });
  // The holder is linked statically: its text is shared by every holder, so
  // one holder alone has it all in its Pss (about 0.9 MiB). What each more
  // holder costs is its private memory, the budget below; F1 reads Pss at
  // 1,000 holders (about 80 kB each).
  budget('HD1', 'holder proportional memory (Pss: shared pages divided among their users; one holder alone)', hh?.holder ? hh.holder.pssKb * 1024 : null, null, { unit: 'B' });
  budget('HD1', 'holder private memory (RssAnon)', hh?.holder ? hh.holder.anonKb * 1024 : null, 524288, { unit: 'B' });
}

// ---- SP1: starting agents (issue #33, #38 F1): POST start to the agent's exec, the loop meanwhile --------

// The baseline: a ref's release binary built from an export of its tree
// (AGENTD_BASE_BIN=$(bench/base.sh integ4)), run in the same run as ours.
const BASE_BIN = process.env.AGENTD_BASE_BIN || null;

// Starts ids at once (each on its own connection), every start timed from
// its POST to its agent's exec and to its answer; then stops them all.
// runs counts each agent's runs so far (the stamps before this one).
async function startBurst(h, ids, runs) {
  const sent = new Map();
  const answered = new Map();
  await Promise.all(ids.map(async (id) => {
    const c = await httpConn({ port: h.port });
    try {
      sent.set(id, process.hrtime.bigint());
      const r = await c.request('POST', `/api/agents/${id}/start`, '{}');
      answered.set(id, process.hrtime.bigint());
      if (r.status !== 200) throw new Error(`start answered ${r.status} ${r.body.slice(0, 120)}`);
    } finally { c.close(); }
  }));
  const exec = [], answer = [];
  for (const id of ids) {
    const st = await agentd.stampOf(h, id, runs.get(id) || 0);
    runs.set(id, (runs.get(id) || 0) + 1);
    exec.push(Number(st - sent.get(id)) / 1e6);
    answer.push(Number(answered.get(id) - sent.get(id)) / 1e6);
  }
  await Promise.all(ids.map((id) => agentd.request(h.port, 'POST', `/api/agents/${id}/stop?force=true&wait=true`, null, { timeoutMs: 30000 })));
  return { exec, answer };
}

function pctl(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : null;
}

// One binary's SP1 figures: n1 starts one at a time, bursts of 50, and,
// during a burst of 100, a /ws client's ping round trips and the answers
// to messages sent to an agent that is running meanwhile (issue #33: a
// message mid-turn is answered at once, whatever else starts).
async function sp1One(bin) {
  const n1 = QUICK ? 10 : 30;
  const bursts = QUICK ? 1 : 3;
  return withServer(() => agentd.start({ bin, args: ['--sandbox-paths', BIN_DIR] }), async (h) => {
    const all = await agentd.stampAgents(h, 101, path.join(BIN_DIR, 'stamp'), 'sp');
    const ids = all.slice(0, 100);
    const busy = all[100]; // the one that runs through the burst and is sent messages
    const runs = new Map();
    const one = { exec: [], answer: [] };
    for (let i = 0; i < n1; i++) {
      const r = await startBurst(h, [ids[i % ids.length]], runs);
      one.exec.push(...r.exec);
      one.answer.push(...r.answer);
    }
    const fifty = { exec: [], answer: [] };
    for (let b = 0; b < bursts; b++) {
      const r = await startBurst(h, ids.slice(50, 100), runs);
      fifty.exec.push(...r.exec);
      fifty.answer.push(...r.answer);
    }
    // the loop's stalls: pings every 2 ms over /ws during 100 starts
    const rtts = [];
    let inflight = null;
    const ws = await wsConnect({ port: h.port, path: '/ws', onMessage: (buf) => {
      if (inflight != null && /"pong"/.test(buf.toString())) { rtts.push(Number(process.hrtime.bigint() - inflight) / 1e6); inflight = null; }
    } });
    const st = await agentd.request(h.port, 'POST', `/api/agents/${busy}/start`, {});
    if (st.status !== 200) throw new Error(`start answered ${st.status} ${st.body.slice(0, 120)}`);
    await agentd.stampOf(h, busy, 0);
    const mc = await httpConn({ port: h.port });
    const msgs = [];
    let pinging = true;
    const pinger = (async () => {
      while (pinging) {
        if (inflight == null) { inflight = process.hrtime.bigint(); ws.send('{"type":"ping"}'); }
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const messenger = (async () => {
      for (let i = 0; pinging; i++) {
        const t0 = process.hrtime.bigint();
        const r = await mc.request('POST', `/api/agents/${busy}/message`, JSON.stringify({ content: `mid-turn ${i}` }));
        if (r.status !== 200) throw new Error(`message answered ${r.status} ${r.body.slice(0, 120)}`);
        msgs.push(Number(process.hrtime.bigint() - t0) / 1e6);
        await new Promise((r2) => setTimeout(r2, 10));
      }
    })();
    let burst;
    try {
      burst = await startBurst(h, ids, runs);
    } finally {
      pinging = false;
      await pinger;
      await messenger.finally(() => mc.close());
      ws.close();
    }
    await agentd.request(h.port, 'POST', `/api/agents/${busy}/stop?force=true&wait=true`, null, { timeoutMs: 30000 });
    return {
      one, fifty, hundred: burst,
      pings: { n: rtts.length, p50: pctl(rtts, 0.5), p99: pctl(rtts, 0.99), max: rtts.length ? Math.max(...rtts) : null },
      msgs: { n: msgs.length, p50: pctl(msgs, 0.5), p99: pctl(msgs, 0.99), max: msgs.length ? Math.max(...msgs) : null },
    };
  });
}

async function sp1() {
  if (!fs.existsSync(path.join(BIN_DIR, 'stamp'))) { na('SP1', 'no bench/bin/stamp (bench/run.sh builds it)'); return; }
  const bins = [['agentd', agentd.BIN]];
  if (BASE_BIN && fs.existsSync(BASE_BIN)) bins.push(['base', BASE_BIN]);
  else na('SP1', 'no baseline: AGENTD_BASE_BIN=$(bench/base.sh REF) for the same figures of the code before');
  const res = {};
  // the two binaries take turns, so a drift of the machine falls on both
  const rounds = QUICK ? 1 : 2;
  for (let round = 0; round < rounds; round++) for (const [name, bin] of bins) {
    try {
      const r = await sp1One(bin);
      const acc = res[name] = res[name] || { one: { exec: [], answer: [] }, fifty: { exec: [], answer: [] }, hundred: { exec: [], answer: [] }, pingP99: [], pingMax: [], msgP50: [], msgP99: [], msgMax: [] };
      for (const k of ['one', 'fifty', 'hundred']) for (const f of ['exec', 'answer']) acc[k][f].push(...r[k][f]);
      acc.pingP99.push(r.pings.p99);
      acc.pingMax.push(r.pings.max);
      acc.msgP50.push(r.msgs.p50);
      acc.msgP99.push(r.msgs.p99);
      acc.msgMax.push(r.msgs.max);
      log(`SP1 ${name}: 1 in flight exec p50 ${pctl(r.one.exec, 0.5)?.toFixed(1)} p99 ${pctl(r.one.exec, 0.99)?.toFixed(1)} ms; 50 in flight exec p50 ${pctl(r.fifty.exec, 0.5)?.toFixed(1)} p99 ${pctl(r.fifty.exec, 0.99)?.toFixed(1)} ms, answered p99 ${pctl(r.fifty.answer, 0.99)?.toFixed(1)} ms; /ws ping during 100 starts: n ${r.pings.n} p50 ${r.pings.p50?.toFixed(2)} p99 ${r.pings.p99?.toFixed(1)} max ${r.pings.max?.toFixed(1)} ms; a message mid-turn meanwhile answered: n ${r.msgs.n} p50 ${r.msgs.p50?.toFixed(1)} p99 ${r.msgs.p99?.toFixed(1)} max ${r.msgs.max?.toFixed(1)} ms`);
    } catch (e) { na('SP1', `${name}: ${e.message}`); }
  }
  out.scenarios.SP1 = {};
  for (const [name, a] of Object.entries(res)) {
    out.scenarios.SP1[name] = {
      one: { execP50: pctl(a.one.exec, 0.5), execP99: pctl(a.one.exec, 0.99), answerP50: pctl(a.one.answer, 0.5), answerP99: pctl(a.one.answer, 0.99), n: a.one.exec.length },
      fifty: { execP50: pctl(a.fifty.exec, 0.5), execP99: pctl(a.fifty.exec, 0.99), answerP50: pctl(a.fifty.answer, 0.5), answerP99: pctl(a.fifty.answer, 0.99), n: a.fifty.exec.length },
      hundred: { execP99: pctl(a.hundred.exec, 0.99), answerP99: pctl(a.hundred.answer, 0.99) },
      pingP99: median(a.pingP99), pingMax: median(a.pingMax),
      msgP50: median(a.msgP50), msgP99: median(a.msgP99), msgMax: median(a.msgMax),
    };
  }
  const o = out.scenarios.SP1.agentd, b = out.scenarios.SP1.base;
  ratio('SP1', 'POST start → the agent\'s exec, 1 in flight, p50: agentd ÷ the base binary', o?.one.execP50, b?.one.execP50, { unit: 'ms', higherIsBetter: false });
  ratio('SP1', 'same, p99', o?.one.execP99, b?.one.execP99, { unit: 'ms', higherIsBetter: false });
  ratio('SP1', 'POST start → the agent\'s exec, 50 in flight, p50', o?.fifty.execP50, b?.fifty.execP50, { unit: 'ms', higherIsBetter: false });
  ratio('SP1', 'same, p99', o?.fifty.execP99, b?.fifty.execP99, { unit: 'ms', higherIsBetter: false });
  ratio('SP1', 'the loop\'s stalls: /ws ping round trip p99 during 100 starts', o?.pingP99, b?.pingP99, { unit: 'ms', higherIsBetter: false });
  ratio('SP1', 'same, the longest', o?.pingMax, b?.pingMax, { unit: 'ms', higherIsBetter: false });
  ratio('SP1', 'a message to a running agent during 100 starts, answered p50', o?.msgP50, b?.msgP50, { unit: 'ms', higherIsBetter: false });
  ratio('SP1', 'same, p99', o?.msgP99, b?.msgP99, { unit: 'ms', higherIsBetter: false });
  ratio('SP1', 'same, the longest (issue #33: under 1 s)', o?.msgMax, b?.msgMax, { unit: 'ms', higherIsBetter: false });
}

// ---- start-up, idle RSS, binary size ----------------------------------------------------------

async function timeToFirst200(cmd, setup, pathOk) {
  const times = [];
  const net = require('node:net');
  const { spawn } = require('node:child_process');
  for (let i = 0; i < C.startRuns; i++) {
    const port = await sys.freePort();
    const a = setup(port);
    const t0 = process.hrtime.bigint();
    const proc = spawn('taskset', ['-c', '1', cmd, ...a.args], { stdio: 'ignore', env: { ...process.env, ...(a.env || {}) } });
    let ok = false;
    const deadline = Date.now() + 10000;
    while (!ok && Date.now() < deadline && proc.exitCode === null) {
      ok = await new Promise((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port });
        s.on('connect', () => s.write(`GET ${pathOk} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`));
        s.on('data', (d) => { resolve(/^HTTP\/1\.1 200/.test(d.toString('latin1'))); s.destroy(); });
        s.on('error', () => resolve(false));
        s.on('close', () => resolve(false));
      });
      if (!ok) await new Promise((r) => setImmediate(r));
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const gone = new Promise((r) => proc.once('exit', r));
    if (proc.exitCode === null) proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
    if (proc.exitCode === null && proc.signalCode === null) await gone;
    clearTimeout(t);
    if (a.cleanup) a.cleanup();
    if (!ok) throw new Error(`${path.basename(cmd)} gave no 200 within 10 s`);
    times.push(ms);
  }
  times.sort((x, y) => x - y);
  return { medianMs: median(times), minMs: times[0], maxMs: times[times.length - 1], runs: times.length };
}

async function startup() {
  const res = {};
  try {
    res.agentd = await timeToFirst200(agentd.BIN, (port) => {
      const d = tmp('bench-start-');
      return { args: ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', d, '--log-level', 'warn'], cleanup: () => fs.rmSync(d, { recursive: true, force: true }) };
    }, '/healthz');
  } catch (e) { na('S1', `agentd start-up: ${e.message}`); }
  try {
    res.fastify = await timeToFirst200(NODE, (port) => ({ args: [path.join(HERE, 'peers', 'fastify-h1.js')], env: { PORT: String(port) } }), '/healthz');
  } catch (e) { na('S1', `fastify start-up: ${e.message}`); }
  out.scenarios.S1 = res;
  log(`S1 start-up: agentd ${res.agentd?.medianMs?.toFixed(1)} ms, fastify ${res.fastify?.medianMs?.toFixed(1)} ms`);
  budget('S1', 'start-up to first 200 OK, ms (budget 50 ms)', res.agentd?.medianMs, 50, { unit: 'ms' });
  ratio('S1', 'start-up to first 200 OK: agentd ÷ fastify', res.agentd?.medianMs, res.fastify?.medianMs, { higherIsBetter: false, unit: 'ms' });

  // Idle RSS after one request and 1.5 s of quiet, every server alike: an
  // idle daemon is one past its start-up (agentd gives back what its
  // start-up freed at its first heap check, 1 s after it listens; read at
  // 300 ms, as until 2026-11-29, it was 0.9 MiB more).
  const rss = {};
  const measure = async (name, startFn, p) => {
    try {
      await withServer(startFn, async (h) => {
        await agentd.request(h.port, 'GET', p).catch(() => null);
        await sys.sleep(1500);
        rss[name] = sys.rssBytes(h.pid);
      });
    } catch (e) { na('S2', `${name} idle RSS: ${e.message}`); }
  };
  await measure('agentd', () => agentd.start(), '/healthz');
  await measure('nginx', startNginx, '/');
  await measure('fastify', () => startNode('fastify', 'fastify-h1.js'), '/healthz');
  await measure('redis', startRedis, '/');
  out.scenarios.S2 = rss;
  budget('S2', 'idle RSS, MiB (budget 10 MiB)', rss.agentd != null ? rss.agentd / 1048576 : null, 10, { unit: 'MiB' });
  ratio('S2', 'idle RSS: agentd ÷ nginx (master + worker)', rss.agentd, rss.nginx, { higherIsBetter: false, unit: 'B' });
  ratio('S2', 'idle RSS: agentd ÷ fastify', rss.agentd, rss.fastify, { higherIsBetter: false, unit: 'B' });
  ratio('S2', 'idle RSS: agentd ÷ redis-server', rss.agentd, rss.redis, { higherIsBetter: false, unit: 'B' });

  // Binary size.
  const size = {};
  if (fs.existsSync(agentd.BIN)) {
    size.agentd = fs.statSync(agentd.BIN).size;
    const stripped = path.join(tmp('bench-strip-'), 'agentd');
    if (spawnSync('strip', ['-o', stripped, agentd.BIN]).status === 0) size.agentdStripped = fs.statSync(stripped).size;
    fs.rmSync(path.dirname(stripped), { recursive: true, force: true });
    size.agentdDynamicLibs = (sh(`ldd ${agentd.BIN}`) || '').split('\n').length;
  }
  size.nginx = fs.statSync('/usr/sbin/nginx').size;
  size.redis = fs.statSync(fs.realpathSync('/usr/bin/redis-server')).size;
  out.scenarios.S3 = size;
  budget('S3', 'binary size, stripped, MiB (budget 2 MiB; includes embedded assets)', size.agentdStripped != null ? size.agentdStripped / 1048576 : null, 2, { unit: 'MiB' });
  ratio('S3', 'binary size: agentd (stripped) ÷ nginx (Debian, stripped)', size.agentdStripped, size.nginx, { higherIsBetter: false, unit: 'B' });
}

// ---- M1: the health sampler's cost ---------------------------------------------------------------

// agentd idle with the sampler at 1 Hz and with it off, the same seconds
// each, CPU read from /proc/<pid>/stat; then at 1 Hz with one agent running
// (its tree measured from its cgroup or by scanning /proc). The difference
// is the sampler's cost in percent of one core (budget 0.5 %). The
// sampler's own thread time comes from /metrics as a cross-check.
async function idleCpu(args, seconds, withAgent) {
  const h = await agentd.start({ args });
  try {
    if (withAgent) {
      const a = await agentd.seedAgent(h, { executor: 'command', extra: { command: ['sleep', '600'] } });
      const r = await agentd.request(h.port, 'POST', `/api/agents/${a.agentId}/start`, {});
      if (r.status !== 200) throw new Error(`start answered ${r.status}`);
    }
    await sys.sleep(2000); // first samples, start-up work done
    const c0 = sys.cpuSeconds(h.pid);
    const m0 = await samplerSeconds(h);
    const t0 = Date.now();
    await sys.sleep(seconds * 1000);
    const wall = (Date.now() - t0) / 1000;
    // The agent (sleep) is in the tree; its CPU is ~0 and counted alike.
    const cpu = sys.cpuSeconds(h.pid) - c0;
    const m1 = await samplerSeconds(h);
    return { cpuPctOfCore: (cpu / wall) * 100, samplerPctOfCore: m0 != null && m1 != null ? ((m1 - m0) / wall) * 100 : null, wall };
  } finally { await h.stop(); }
}

async function samplerSeconds(h) {
  const r = await agentd.request(h.port, 'GET', '/metrics').catch(() => null);
  const m = r && /^agentd_health_sampler_cpu_seconds_total (\S+)$/m.exec(r.body);
  return m ? Number(m[1]) : null;
}

async function m1() {
  const secs = QUICK ? 15 : 60;
  const res = {};
  res.off = await idleCpu(['--health-interval-ms', '0'], secs, false);
  res.on = await idleCpu(['--health-interval-ms', '1000'], secs, false);
  res.onAgent = await idleCpu(['--health-interval-ms', '1000'], secs, true);
  res.offAgent = await idleCpu(['--health-interval-ms', '0'], secs, true);
  out.scenarios.M1 = res;
  const idle = res.on.cpuPctOfCore - res.off.cpuPctOfCore;
  const agent = res.onAgent.cpuPctOfCore - res.offAgent.cpuPctOfCore;
  log(`M1 sampler at 1 Hz: +${idle.toFixed(3)} % of a core idle, +${agent.toFixed(3)} % with an agent; thread time ${res.on.samplerPctOfCore?.toFixed(3)} % / ${res.onAgent.samplerPctOfCore?.toFixed(3)} %`);
  budget('M1', `health sampler at 1 Hz, % of one core, idle (${secs} s on vs off)`, idle, 0.5, { unit: '%' });
  budget('M1', `health sampler at 1 Hz, % of one core, one agent running (${secs} s on vs off)`, agent, 0.5, { unit: '%' });
  budget('M1', 'health sampler, its pool thread time, % of one core (from /metrics)', res.onAgent.samplerPctOfCore, 0.5, { unit: '%' });
}

// ---- M2: resident memory after a mixed load ------------------------------------------------------

// agentd's own resident set (not its agents'), in bytes.
function ownRss(pid) {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : null;
}

// Least-squares slope of [t_ms, bytes] samples, in bytes per minute.
function slopePerMin(samples) {
  const n = samples.length;
  if (n < 3) return null;
  const mt = samples.reduce((a, [t]) => a + t, 0) / n;
  const mv = samples.reduce((a, [, v]) => a + v, 0) / n;
  let num = 0, den = 0;
  for (const [t, v] of samples) { num += (t - mt) * (v - mv); den += (t - mt) ** 2; }
  return den > 0 ? (num / den) * 60000 : null;
}

// One subscriber of `agent:*` that reads (or, paused after its ack, never
// reads: its queue fills until agentd cuts it at the send bound).
async function m2Subscriber(h, { reading, since, tally }) {
  const msg = since == null ? subscribeMsg('agent:*') : JSON.stringify({ type: 'subscribe', payload: { topics: ['agent:*'], since } });
  const c = await wsConnect({ port: h.port, path: '/ws', timeoutMs: 5000, tally });
  c.send(msg);
  if (!reading) setTimeout(() => c.sock.pause(), 200);
  return c;
}

// The issue's "resident memory after a 10-minute mixed load ÷ idle" (#41):
// agentd idle, then for a fixed time (QUICK: 90 s) at once: keep-alive GETs
// and POSTs, WebSocket subscribers that read (a few replaced every 5 s), two
// that never read, a replay of everything from seq 0 every 3 s, and two
// command agents printing lines. RSS is sampled every 2 s; the rows are RSS
// at the end ÷ idle, RSS 10 s after the last connection closed ÷ idle, and
// the slope over the load's second half (a plateau is ~0).
async function m2() {
  const secs = QUICK ? 90 : 600;
  const LINEGEN = path.join(BIN_DIR, 'linegen');
  if (!fs.existsSync(LINEGEN)) { na('M2', `no ${LINEGEN} (run.sh builds it)`); return; }
  // BENCH_M2_ARGS: extra agentd options (e.g. a smaller --event-ring-bytes,
  // to tell the replay ring filling up from growth without a bound)
  const extra = (process.env.BENCH_M2_ARGS || '').split(' ').filter(Boolean);
  const h = await agentd.start({ args: extra });
  const res = { seconds: secs, args: extra, samples: [], counts: { get: 0, post: 0, non2xx: 0, replays: 0, reconnects: 0, cut: 0 } };
  const conns = [];
  try {
    // two command agents, each printing 200 lines/s for the load's length
    const agents = [];
    for (let i = 0; i < 2; i++) {
      agents.push(await agentd.seedAgent(h, { executor: 'command', name: `m2-${i}`, extra: { command: [LINEGEN, '200', String(200 * secs)] } }));
    }
    await sys.sleep(3000); // start-up work done
    const idle = ownRss(h.pid);
    res.idle = idle;
    log(`M2 idle RSS ${(idle / 1048576).toFixed(2)} MiB; ${secs} s of mixed load`);
    const t0 = Date.now();
    const deadline = t0 + secs * 1000;
    for (const a of agents) {
      const r = await agentd.request(h.port, 'POST', `/api/agents/${a.agentId}/start`, {});
      if (r.status >= 300) throw new Error(`start answered ${r.status} ${r.body.slice(0, 120)}`);
    }
    const tally = { n: 0, bytes: 0 };
    // subscribers: 16 reading, 2 never reading
    const readers = [];
    for (let i = 0; i < 16; i++) readers.push(await m2Subscriber(h, { reading: true, tally }));
    for (let i = 0; i < 2; i++) conns.push(await m2Subscriber(h, { reading: false, tally }));
    const sampler = setInterval(() => { res.samples.push([Date.now() - t0, ownRss(h.pid)]); }, 2000);
    // HTTP: 4 keep-alive clients, each at most one request in flight and 50 a second
    const http = async (k) => {
      const c = await httpConn({ port: h.port });
      conns.push(c);
      const a = agents[k % agents.length].agentId;
      for (let i = 0; Date.now() < deadline && i < 50 * secs; i++) {
        const next = Date.now() + 20;
        const post = i % 4 === 3;
        const r = await (post ? c.request('POST', `/api/agents/${a}/messages`, JSON.stringify({ content: `m2 ${k} ${i} ${'x'.repeat(180)}` }))
          : c.request('GET', i % 2 ? `/api/agents/${a}` : '/api/agents', null));
        if (post) res.counts.post++; else res.counts.get++;
        if (r.status >= 300) res.counts.non2xx++;
        const wait = next - Date.now();
        if (wait > 0) await sys.sleep(wait);
      }
    };
    // churn: every 5 s two readers are replaced
    const churn = async () => {
      for (let i = 0; Date.now() < deadline - 5000 && i < secs; i++) {
        await sys.sleep(5000);
        for (let j = 0; j < 2; j++) {
          const at = (i * 2 + j) % readers.length;
          readers[at].close();
          readers[at] = await m2Subscriber(h, { reading: true, tally });
          res.counts.reconnects++;
        }
      }
    };
    // replays: every 3 s a subscriber from seq 0, closed once caught up (no
    // event for 500 ms) or after 10 s
    const replays = async () => {
      for (let i = 0; Date.now() < deadline - 3000 && i < secs; i++) {
        await sys.sleep(3000);
        const c = await m2Subscriber(h, { reading: true, since: 0 });
        const end = Math.min(Date.now() + 10000, deadline);
        let last = -1, quiet = Date.now();
        while (Date.now() < end) {
          await sys.sleep(100);
          if (c.count !== last) { last = c.count; quiet = Date.now(); } else if (Date.now() - quiet > 500) break;
        }
        c.close();
        res.counts.replays++;
      }
    };
    await Promise.all([http(0), http(1), http(2), http(3), churn(), replays()]);
    clearInterval(sampler);
    const end = ownRss(h.pid);
    res.end = end;
    res.counts.cut = conns.filter((c) => c.closed).length;
    res.counts.events = tally.n;
    // everything closes; agents are stopped (their lines are done by now)
    for (const c of [...readers, ...conns]) c.close();
    for (const a of agents) await agentd.request(h.port, 'POST', `/api/agents/${a.agentId}/stop`, {}).catch(() => null);
    const closedAt = Date.now();
    await sys.sleep(10000);
    res.after = ownRss(h.pid);
    res.afterMs = Date.now() - closedAt;
    const half = res.samples.filter(([t]) => t >= secs * 500);
    res.slopePerMin = slopePerMin(half);
    res.peak = Math.max(...res.samples.map(([, v]) => v));
    out.scenarios.M2 = res;
    const MiB = (x) => (x / 1048576).toFixed(2);
    log(`M2 idle ${MiB(idle)} MiB, peak ${MiB(res.peak)}, end ${MiB(end)}, 10 s after ${MiB(res.after)} MiB; ` +
      `slope over the second half ${res.slopePerMin == null ? 'n/a' : MiB(res.slopePerMin)} MiB/min; ${JSON.stringify(res.counts)}`);
    const note = `${res.counts.get} GETs, ${res.counts.post} POSTs, ${res.counts.replays} replays from 0, ${res.counts.reconnects} reconnects, ${fmtN(res.counts.events)} events read`;
    ratio('M2', `RSS at the end of ${secs} s of mixed load ÷ idle (peer column: idle)`, end, idle, { higherIsBetter: false, unit: 'B', note });
    ratio('M2', 'RSS 10 s after the last connection closed ÷ idle', res.after, idle, { higherIsBetter: false, unit: 'B' });
    budget('M2', 'RSS slope over the load\'s second half, MiB/min (plateau: ≤ 1)', res.slopePerMin != null ? res.slopePerMin / 1048576 : null, 1, { unit: 'MiB/min' });
  } finally {
    for (const c of conns) c.close();
    await h.stop();
  }
}

// ---- agentd capability probes -------------------------------------------------------------------

// W2 needs a way to publish on the release binary; W4 needs agent runs.
// Each probe starts agentd once and records what this build offers.
// ---- D1: an approval to its desktop notification (issue #37) -------------------------------
// The tray helper (agentd-tray) on a private session bus with the tests'
// notification server (tests/e2e/lib/desktop.js, dbus-next from
// tests/e2e/node_modules), an ACP agent (tests/fixtures/acp-agent.js) that
// asks before each edit: per approval, from the moment it was stored to
// the moment the notification server was asked to show it; Allow from the
// notification lets the turn go on.

async function n1() {
  const tray = path.join(path.dirname(agentd.BIN), 'agentd-tray');
  if (!fs.existsSync(tray)) { na('D1', `no ${tray} (libsystemd-dev)`); return; }
  let desktop;
  try { desktop = require(path.join(ROOT, 'tests', 'e2e', 'lib', 'desktop.js')); } catch (e) { na('D1', `dbus-next missing: make e2e-deps (${e.message})`); return; }
  const fixtures = path.join(ROOT, 'tests', 'fixtures');
  const desk = await desktop.startDesktop();
  const h = await agentd.start({ args: ['--sandbox-paths', fixtures] });
  const { spawn } = require('node:child_process');
  let t = null;
  try {
    t = spawn(tray, ['--data-dir', h.dataDir],
      { stdio: 'ignore', env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: desk.address } });
    const { agentId } = await agentd.seedAgent(h, { executor: 'acp', name: 'asker', extra: { command: [NODE, path.join(fixtures, 'acp-agent.js')] } });
    const until = async (f, what, ms = 30000) => {
      const end = Date.now() + ms;
      for (;;) { const v = await f(); if (v) return v; if (Date.now() > end) throw new Error(`timed out: ${what}`); await sys.sleep(20); }
    };
    await until(() => desk.watcher.items.length > 0, 'the tray on the bus');
    const n = QUICK ? 5 : 20;
    const lat = [];
    const notes = desk.notifications.shown;
    let r = await agentd.request(h.port, 'POST', `/api/agents/${agentId}/start`, { initialPrompt: 'edit n1-0.txt' });
    if (r.status !== 200) throw new Error(`start answered ${r.status}`);
    for (let i = 0; i < n; i++) {
      const note = await until(() => notes.find((x) => x.actions.allow && !x.used), `notification ${i}`);
      note.used = true;
      const ap = (await agentd.request(h.port, 'GET', `/api/agents/${agentId}/approvals?pending=true`)).json.approvals[0];
      lat.push(note.at - Date.parse(ap.createdAt));
      desk.notifications.ActionInvoked(note.id, 'allow');
      await until(async () => (await agentd.request(h.port, 'GET', `/api/agents/${agentId}`)).json.status === 'waiting' &&
        (await agentd.request(h.port, 'GET', `/api/agents/${agentId}/approvals?pending=true`)).json.approvals.length === 0, `turn ${i} done`);
      if (i + 1 < n) {
        r = await agentd.request(h.port, 'POST', `/api/agents/${agentId}/message`, { content: `edit n1-${i + 1}.txt` });
        if (r.status !== 200) throw new Error(`message answered ${r.status}`);
      }
    }
    lat.sort((a, b) => a - b);
    out.scenarios.D1 = { approvals: n, p50Ms: median(lat), maxMs: lat[lat.length - 1], ms: lat };
    log(`D1 approval to notification: p50 ${median(lat)} ms, max ${lat[lat.length - 1]} ms over ${n}`);
    budget('D1', 'approval stored to its desktop notification, p50 ms (budget 1 s)', median(lat), 1000, { unit: 'ms' });
    budget('D1', 'approval stored to its desktop notification, max ms (budget 1 s)', lat[lat.length - 1], 1000, { unit: 'ms' });
  } finally {
    if (t) t.kill('SIGTERM');
    await h.stop();
    await desk.close();
  }
}

// ---- B1: the dashboard in Chromium under 100 streaming agents (issue #38) ----------------------

// Runs bench/SCRIPT in a child with --json FILE, stopped after LIMIT_MIN
// minutes, and returns what it wrote, or null (said as id's n/a). The wait
// is asynchronous, so a signal reaches this driver, whose exit stops the
// child (which stops its own servers).
async function jsonChild(id, script, limitMin, env = process.env) {
  const file = path.join(RUN_TMP, `${id}.json`);
  const child = require('node:child_process').spawn(NODE, [path.join(HERE, script), ...(QUICK ? ['--quick'] : []), '--json', file],
    { stdio: ['ignore', 'inherit', 'inherit'], env });
  const stop = () => child.kill('SIGTERM');
  process.on('exit', stop);
  const limit = setTimeout(stop, limitMin * 60 * 1000);
  const code = await new Promise((resolve) => child.on('exit', (c, sig) => resolve(c ?? sig)));
  clearTimeout(limit);
  process.off('exit', stop);
  if (code !== 0 || !fs.existsSync(file)) { na(id, `bench/${script} exited ${code}`); return null; }
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

// ---- RP1: the replay worst case (issue #78), bench/replay.js ------------------------------------
// 1,000 readers replaying a 33 MB log from seq 0 at once on build/bench/agentd
// (test routes: /test/publish fills the log): peak memory over idle against
// the replay budget, the longest loop turn, /healthz meanwhile.
async function rp1() {
  if (!fs.existsSync(agentd.BENCH_BIN)) { na('RP1', `no ${agentd.BENCH_BIN} (test routes needed to fill the log)`); return; }
  const r = await jsonChild('RP1', 'replay.js', 10, { ...process.env, AGENTD_BIN: agentd.BENCH_BIN });
  out.scenarios.RP1 = r;
  if (!r) return;
  const mib = (x) => `${(x / 1048576).toFixed(1)} MiB`;
  log(`RP1 ${r.meta.readers} replays of ${mib(r.meta.logBytes)}: peak RSS ${mib(r.peakRss)} (idle ${mib(r.idleRss)}), `
    + `budget held at most ${mib(r.heldPeak)}, longest loop turn ${r.loopTurnMaxMs.toFixed(1)} ms, /healthz slowest `
    + `${r.healthzMaxMs.toFixed(1)} ms (${r.healthzLoopMaxMs.toFixed(1)} ms less the CPU waits), ${r.whole}/${r.checked} whole in ${r.seconds.toFixed(1)} s`);
  const note = r.whole === r.checked ? '' : `${r.checked - r.whole} checking readers not whole: ${r.errors.join('; ')}`;
  budget('RP1', `peak RSS over idle, ${r.meta.readers} replays from seq 0 of ${mib(r.meta.logBytes)} (the budget: --event-replay-bytes ${mib(r.meta.boundBytes)})`,
    r.peakRss - r.idleRss, r.meta.boundBytes, { unit: 'B', note });
  budget('RP1', 'longest loop turn meanwhile (the loop thread\'s CPU time in one turn; goal 50 ms)', r.loopTurnMaxMs, 50, { unit: 'ms' });
  budget('RP1', '/healthz slowest answer meanwhile, less what agentd\'s threads and the prober waited for a CPU (goal 50 ms)', r.healthzLoopMaxMs, 50,
    { unit: 'ms', note: `${r.healthzMaxMs.toFixed(0)} ms by the clock over ${r.probes} probes` });
  budget('RP1', `time until every checking reader (${r.checked}) had the whole log`, r.seconds, null, { unit: 's' });
}

// ---- RT1, RT2: routines (issue #80), bench/routines.js ------------------------------------------
// RT1: a signed webhook delivery → the routine run's process exec'd (sandbox
// on, the default); RT2: the daemon's CPU idle with 10,000 routines
// scheduled against none, in the same run. Absolute figures: no peer.
async function rt() {
  const only = ['RT1', 'RT2'].filter(want);
  const env = { ...process.env, RT_ONLY: only.length === 1 ? only[0] : '' };
  const r = await jsonChild('RT', 'routines.js', 15, env);
  out.scenarios.RT = r;
  if (!r) return;
  if (r.RT1) {
    const a = r.RT1;
    budget('RT1', `a signed webhook → the routine run's process exec'd, p99 ms (${a.fires} deliveries, sandbox on; goal 50)`, a.execP99, 50,
      { unit: 'ms', note: `p50 ${a.execP50.toFixed(1)} ms, max ${a.execMax.toFixed(1)} ms; the 202 p50 ${a.answerP50.toFixed(1)} / p99 ${a.answerP99.toFixed(1)} ms` });
  }
  if (r.RT2) {
    const b = r.RT2;
    budget('RT2', `${b.routines.toLocaleString('en')} routines scheduled, idle: % of a core over ${b.windowS} s (goal 0.5)`, b.loadedPct, 0.5,
      { unit: '%', note: `no routine: ${b.idlePct.toFixed(3)} % the same way; made in ${b.madeS.toFixed(0)} s` });
  }
}

// ---- ST1: sandboxed starts and the loop meanwhile (issue #80), bench/starts.js ---------------------
// A start's p99 alone and with 50 in flight, sandbox on beside --sandbox off
// in the same run; during 100 starts the loop's stalls (its own figure,
// /metrics) and a message to a running agent answered. Absolute goals.
async function st1() {
  const r = await jsonChild('ST1', 'starts.js', 20);
  out.scenarios.ST1 = r;
  if (!r) return;
  const on = r.configs.on, off = r.configs.off;
  const loopMax = (c) => (c.loop.length ? Math.max(...c.loop.map((x) => x.longestMs ?? 0)) : null);
  const sb = (c) => `--sandbox off: ${c ? `${c.alone.p99.toFixed(1)} / ${c.fifty.p99.toFixed(1)} ms` : 'n/a'}`;
  budget('ST1', 'a sandboxed start, POST → the agent\'s exec, p99 alone, ms (goal 30)', on.alone.p99, 30, { unit: 'ms', note: `${sb(off)} (alone / 50 in flight)` });
  budget('ST1', 'same, 50 in flight, p99 ms (goal 150)', on.fifty.p99, 150, { unit: 'ms', note: `load ${r.meta.load.join(' → ')}` });
  budget('ST1', 'during 100 starts: the loop\'s longest stall (agentd_loop_stall_seconds), ms (goal 5)', loopMax(on), 5, { unit: 'ms', note: `--sandbox off: ${off ? loopMax(off) : 'n/a'} ms` });
  budget('ST1', 'same: a message to a running agent answered, p99 ms (goal 10)', on.message.p99, 10, { unit: 'ms', note: `--sandbox off: ${off ? off.message.p99.toFixed(1) : 'n/a'} ms` });
}

// bench/browser.mjs in a child (ESM, its own Chromium and agentd), its
// figures read back from --json: the goals as budgets, the main thread's
// CPU per view as a ratio to the bare xterm.js page of the same run.
async function b1() {
  const b = await jsonChild('B1', 'browser.mjs', QUICK ? 15 : 40);
  out.scenarios.B1 = b;
  if (!b) return;
  const q = QUICK ? ` (QUICK: ${b.meta.secs} s per view)` : '';
  budget('B1', 'first load: scripts and styles on the wire (goal 60 KB)', b.firstLoad?.assetBytes, 61440, { unit: 'B' });
  budget('B1', `transcript of ${b.meta.msgs} messages: open to first rows painted, ms (goal 300)`, b.transcript?.openMs, 300, { unit: 'ms' });
  // rAF deltas are whole vsyncs (16.7 ms at 60 Hz, read as 16.6-16.8):
  // "< 16.7 ms" is no frame dropped, so the bound is 17 ms.
  budget('B1', 'same, scrolling: frame p95 ms (60 fps: one vsync)', b.transcript?.scrollFrameP95Ms, 17, { unit: 'ms' });
  for (const [k, v] of Object.entries(b.views || {})) {
    budget('B1', `${k}${q}: longest main-thread task, ms (goal 50)`, v.longestTaskMs, 50, { unit: 'ms' });
    budget('B1', `${k}: frame p95 ms (goal: one vsync, 16.7)`, v.frameP95Ms, 17, { unit: 'ms' });
    ratio('B1', `${k}: main-thread CPU ÷ bare xterm.js page, same lines`, v.taskMsPerS, b.peer?.taskMsPerS, { unit: 'ms/s', higherIsBetter: false, budget: 1.5 });
  }
  const an = b.analytics || {};
  budget('B1', `Analytics: 16 runs x ${b.meta.points} points, tick to chart drawn, ms (goal 200)`, an.drawMs, 200,
    { unit: 'ms', note: an.error || (an.requestMs != null ? `its data in at ${an.requestMs.toFixed(0)} ms` : '') });
  const heap = b.views?.agent && b.views?.agent2 ? b.views.agent2.heapAfterGc - b.views.agent.heapAfterGc : null;
  budget('B1', `JS heap after GC, agent page, its second visit minus its first (${b.views?.agent2?.streamS?.toFixed(0)} s vs ${b.views?.agent?.streamS?.toFixed(0)} s)`, heap, 1048576, { unit: 'B' });
}

// ---- N1-N3: worker nodes (issues #34, #38), bench/nodes.js -------------------------------------

// bench/nodes.js in a child (a control plane and two nodes of the release
// build, its own temporary dirs), its figures read back from --json. Each
// row's peer is the same thing done on the control plane itself.
async function nodes() {
  const n = await jsonChild('N', 'nodes.js', QUICK ? 8 : 30, { ...process.env, AGENTD_BIN: agentd.BIN });
  out.scenarios.N = n;
  if (!n) return;
  log(`N1 start -> exec p50/p99: node ${n.N1.node.p50.toFixed(1)}/${n.N1.node.p99.toFixed(1)} ms, here ${n.N1.here.p50.toFixed(1)}/${n.N1.here.p99.toFixed(1)} ms; `
    + `N2 line p50/p99: node ${n.N2.node.p50.toFixed(2)}/${n.N2.node.p99.toFixed(2)} ms, here ${n.N2.here.p50.toFixed(2)}/${n.N2.here.p99.toFixed(2)} ms; `
    + `N3 resent ${n.N3.resent} B, stale ${n.N3.stale}, every value once ${n.N3.once}`);
  const ms = { unit: 'ms', higherIsBetter: false };
  ratio('N1', `POST start → the program running, on a node ÷ on the control plane, p50 (${n.meta.runs} starts)`, n.N1.node.p50, n.N1.here.p50, ms);
  ratio('N1', 'same, p99', n.N1.node.p99, n.N1.here.p99, ms);
  budget('N1', 'POST start → the program running on a node, p99 ms (goal 100)', n.N1.node.p99, 100, { unit: 'ms' });
  ratio('N2', `a line on a node → a /ws subscriber of the control plane ÷ the same line printed there, p99 (1k lines/s)`, n.N2.node.p99, n.N2.here.p99, ms);
  budget('N2', 'what the node adds to that line\'s p99, ms (goal 5)', Math.max(0, n.N2.addedP99), 5, { unit: 'ms' });
  budget('N3', `bytes the control plane got twice after a ${n.meta.cutMs / 1000} s cut of the node's link (goal: none)`, n.N3.resent, 0,
    { unit: 'B', note: `${n.N3.printedDuringCut} B printed during the cut; every value once: ${n.N3.once}; frames of an old attach dropped: ${n.N3.stale}` });
  if (n.N4) {
    const { node: f, here: h } = n.N4;
    log(`N4 ${f.nodes} nodes x ${f.agents / f.nodes} agents: dispatch p50/p99 ${f.dispatch.p50.toFixed(1)}/${f.dispatch.p99.toFixed(1)} ms, the plane's CPU per 1,000 agents ${(f.planeCpuPer1000 * 100).toFixed(1)} % `
      + `(here ${(h.planeCpuPer1000 * 100).toFixed(1)} %), line p99 ${f.line.p99.toFixed(2)} ms (here ${h.line.p99.toFixed(2)} ms)`);
    const fleetOf = `${f.nodes} nodes x ${f.agents / f.nodes} agents at 10 lines/s`;
    ratio('N4', `${fleetOf}: the plane's CPU per 1,000 agents, on nodes ÷ the same agents on the plane`, f.planeCpuPer1000 * 100, h.planeCpuPer1000 * 100,
      { unit: '% of a core', higherIsBetter: false });
    budget('N4', `${fleetOf}: dispatch (POST start → the program running) p99, ms (goal 100, as N1)`, f.dispatch.p99, 100, { unit: 'ms' });
    ratio('N4', `${fleetOf}: a line → an agent:* reader of the plane, p99, on nodes ÷ here`, f.line.p99, h.line.p99, ms);
  }
}

// ---- P1, P2: agentd on PostgreSQL and two planes (issues #39, #80), bench/planes.js -------------

// bench/planes.js in a child (a throwaway PostgreSQL 15 and Redis, the release
// build), its figures read back from --json. P1's peers: agentd on SQLite,
// fastify with the pg driver on the same database (H2's route on
// PostgreSQL), the bare libpq loop; P2's: the same line read on its own plane.
async function planes() {
  const p = await jsonChild('P', 'planes.js', QUICK ? 5 : 10, { ...process.env, AGENTD_BIN: agentd.BIN });
  out.scenarios.P = p;
  if (!p) return;
  const perCpu = (x) => x?.perCpu ?? null;
  if (p.P1) {
    const { pg, sqlite, fastifyPg, loop } = p.P1;
    log(`P1 GET /api/agents/:id per CPU-s: agentd+PostgreSQL ${fmtN(perCpu(pg.read))}, agentd+SQLite ${fmtN(perCpu(sqlite.read))}, `
      + `fastify+pg ${fmtN(perCpu(fastifyPg))}, libpq loop ${fmtN(perCpu(loop.read))}; PATCH: ${fmtN(perCpu(pg.write))} / ${fmtN(perCpu(sqlite.write))}`);
    ratio('P1', `GET /api/agents/:id per server CPU-s (PostgreSQL's processes counted), wrk -c${p.meta.conns}: agentd on PostgreSQL ÷ fastify + pg on the same database`,
      perCpu(pg.read), perCpu(fastifyPg), { budget: 1 });
    ratio('P1', 'same, p99: agentd on PostgreSQL ÷ fastify + pg', pg.read.p99, fastifyPg.p99, { unit: 'ms', higherIsBetter: false });
    ratio('P1', 'GET /api/agents/:id per server CPU-s: agentd on PostgreSQL ÷ agentd on SQLite', perCpu(pg.read), perCpu(sqlite.read));
    ratio('P1', 'PATCH /api/agents/:id {name} per server CPU-s: agentd on PostgreSQL ÷ agentd on SQLite', perCpu(pg.write), perCpu(sqlite.write));
  }
  if (p.P2) {
    log(`P2 line on plane A -> /ws on B p50/p99 ${p.P2.b.p50.toFixed(2)}/${p.P2.b.p99.toFixed(2)} ms, on A ${p.P2.a.p50.toFixed(2)}/${p.P2.a.p99.toFixed(2)} ms, added p99 ${p.P2.added.p99.toFixed(2)} ms`);
    budget('P2', `what the crossing to another plane (Redis) adds to a line's p99 at ${p.meta.rate} lines/s, ms (goal 2)`, Math.max(0, p.P2.added.p99), 2, { unit: 'ms' });
  }
}

async function probes() {
  if (!fs.existsSync(agentd.BIN)) {
    agentdPublishWhy = agentdRunWhy = `no agentd binary at ${agentd.BIN}`;
    return;
  }
  const mod = require('./lib/agentd-adapters');
  for (const [bin, p, bus] of [[agentd.BIN, '/ws', true], [agentd.BENCH_BIN, '/ws/echo', false]]) {
    if (!fs.existsSync(bin)) continue;
    try {
      const ok = await withServer(() => agentd.start({ bin }), (h) => agentd.hasWs(h, p));
      if (ok) { agentdWs = { bin, path: p, bus }; break; }
    } catch (e) { agentdWsWhy = e.message; }
  }
  if (!agentdWs) agentdWsWhy = 'neither /ws (release) nor /ws/echo (build/bench) accepts an upgrade';
  out.meta.agentdWs = agentdWs;
  try { agentdPublish = await mod.probePublish(agentd); } catch (e) { agentdPublishWhy = e.message; }
  try { agentdRun = await mod.probeRun(agentd); } catch (e) { agentdRunWhy = e.message; }
}

// ---- output ------------------------------------------------------------------------------------------

function fmtN(x) {
  if (x == null || Number.isNaN(x)) return 'n/a';
  if (Math.abs(x) >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (Math.abs(x) >= 1e4) return `${(x / 1e3).toFixed(1)}k`;
  if (Math.abs(x) >= 100) return x.toFixed(0);
  if (Math.abs(x) >= 1) return x.toFixed(2);
  return x.toFixed(3);
}
function fmtU(x, unit) {
  if (x == null) return 'n/a';
  if (unit === 'B') return x >= 1048576 ? `${(x / 1048576).toFixed(1)} MiB` : x >= 1024 ? `${(x / 1024).toFixed(1)} KiB` : `${x.toFixed(0)} B`;
  return `${fmtN(x)}${unit ? ` ${unit}` : ''}`;
}

function printTable() {
  const rows = [['id', 'what', 'agentd', 'peer', 'ratio', 'budget', 'note']];
  for (const r of out.ratios) {
    const naReason = [...(out.na[r.id] || []), ...(r.naFrom && r.agentd == null ? (out.na[r.naFrom] || []) : [])].join('; ');
    let ratioS;
    if (r.absolute) ratioS = r.agentd == null ? `n/a (${naReason.slice(0, 60) || 'no data'})` : '';
    else ratioS = r.ratio == null ? `n/a (${(naReason || 'no data').slice(0, 60)})` : `${r.ratio.toFixed(2)}x`;
    const b = r.budget == null ? '' : r.absolute ? `≤ ${r.budget} ${r.pass == null ? '' : r.pass ? 'ok' : 'MISS'}` : `${r.pass === false ? 'MISS' : r.pass ? 'ok' : ''} (${r.budget}x)`;
    rows.push([r.id, r.what, fmtU(r.agentd, r.unit), r.absolute ? '' : fmtU(r.peer, r.unit), ratioS, b, r.note || '']);
  }
  const w = rows[0].map((_, i) => Math.min(i === 1 ? 80 : 90, Math.max(...rows.map((r) => String(r[i]).length))));
  const line = (r) => r.map((c, i) => String(c).padEnd(w[i])).join(' | ').trimEnd();
  console.log('');
  console.log(`agentd benchmark ${QUICK ? '(QUICK) ' : ''}${out.meta.date} on ${out.meta.versions.cpu} (${out.meta.versions.cores} cores), kernel ${out.meta.versions.kernel}, agentd ${out.meta.versions.agentdCommit}${out.meta.versions.agentdDirty ? '+dirty' : ''}`);
  console.log('Ratios are agentd ÷ peer, measured in this run; per-CPU-s figures divide work by the server process tree\'s utime+stime.');
  console.log(line(rows[0]));
  console.log(w.map((x) => '-'.repeat(x)).join('-|-'));
  for (const r of rows.slice(1)) console.log(line(r));
  const nas = Object.entries(out.na);
  if (nas.length) {
    console.log('\nNot measured:');
    for (const [id, reasons] of nas) for (const r of reasons) console.log(`  ${id}: n/a (${r})`);
  }
  console.log(`\nRaw figures: ${path.relative(process.cwd(), path.join(RESULTS, 'latest.json'))} (${((Date.now() - t00) / 1000).toFixed(0)} s)`);
}

// ---- main ----------------------------------------------------------------------------------------------

// ---- F1: 1,000 live agents against tmux (issue #38), bench/fleet.js ----------------------------
async function f1() {
  await fleet.f1({ QUICK, log, na, ratio, budget, out, BIN_DIR, FANOUT_C });
}

async function main() {
  out.meta = { date: new Date().toISOString(), quick: QUICK, config: C, versions: versions(),
    loadavg: os.loadavg(), pinning: 'server on core 1, generator on core 0 (taskset)' };
  const loadWarn = os.loadavg()[0] > 1.5 ? `load average ${os.loadavg()[0].toFixed(2)} at start: other work shares the cores, figures are noisy` : null;
  if (loadWarn) { out.meta.warning = loadWarn; log(loadWarn); }
  await probes();
  const steps = [['H1', h1], ['H2', h2], ['F2', f2], ['H3', h3], ['E1', e1], ['W1', w1], ['W2', w2], ['R1', r1], ['W4', w4], ['M4', m4], ['HD1', hd1], ['SP1', sp1], ['S', startup], ['M1', m1], ['M2', m2], ['D1', n1], ['N', nodes], ['P', planes], ['RP1', rp1], ['RT', rt], ['ST1', st1], ['F1', f1], ['B1', b1]];
  for (const [id, fn] of steps) {
    if (!want(id) && !(id === 'S' && want('S1')) && !(id === 'N' && ['N1', 'N2', 'N3'].some(want))
      && !(id === 'RT' && ['RT1', 'RT2'].some(want)) && !(id === 'P' && ['P1', 'P2'].some(want))) continue;
    log(`${id} ...`);
    try { await fn(); } catch (e) { na(id, `harness error: ${e.stack.split('\n').slice(0, 2).join(' ')}`); }
  }
  await sys.stopAll();
  if (seeded) { fs.rmSync(seeded.dir, { recursive: true, force: true }); fs.rmSync(path.dirname(seeded.dbFile), { recursive: true, force: true }); }
  fs.writeFileSync(path.join(RESULTS, 'latest.json'), JSON.stringify(out, null, 2) + '\n');
  printTable();
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { sys.killAllSync(); process.exit(130); });
process.on('exit', () => sys.killAllSync());
main().catch((e) => { console.error(e); sys.killAllSync(); process.exit(1); });
