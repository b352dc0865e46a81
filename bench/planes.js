// SPDX-License-Identifier: MIT
// Several control planes on one PostgreSQL (issue #39, docs/operations.md
// "Several control planes on one database"): two agentd planes on this
// machine sharing one PostgreSQL 15 and one Redis, as tests/e2e/planes.test.js
// starts them.
//   P2  a line an agent on plane A prints -> a /ws subscriber on plane A and
//       one on plane B (the event crosses through Redis): linegen stamps each
//       line with CLOCK_MONOTONIC when it meant to write it, both subscribers
//       (this process, same clock) subtract on arrival. p50/p99 on B, on A,
//       and B minus A per line (what the crossing adds). Goal: <= 2 ms added
//       at p99.
//   P1  REST per CPU-second on each backend: GET /api/agents/:id (a read by
//       the loop's reader) and PATCH /api/agents/:id {name} (a write through
//       the writer's group commit), wrk -c16, with agentd on SQLite, agentd on
//       PostgreSQL, and bench/c/pg_loop.c doing the same statement straight
//       from libpq (one connection, prepared, bound: the floor). CPU is
//       utime+stime of agentd (or the loop) plus, on PostgreSQL, every
//       process of the server (its backends do the SQL work SQLite does
//       inside agentd). The server runs with fsync=off (as in the tests);
//       SQLite with agentd's own settings. And the read against the seed's
//       stack on the same database (issue #80, H2 on PostgreSQL): fastify
//       with the `pg` driver (peers/fastify-pg.js, a pool of 4 on the unix
//       socket), the same route, row and CPU accounting.
// Usage: node bench/planes.js [--quick] [--only P1|P2] [--json FILE]
//   (AGENTD_BIN, default build/release/agentd). bench/driver.js runs it as
//   the P rows of `make bench` and reads its figures back from --json.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');
process.env.AGENTD_BIN = process.env.AGENTD_BIN || path.join(ROOT, 'build', 'release', 'agentd');
const E2E = path.join(ROOT, 'tests', 'e2e');
const daemon = require(path.join(E2E, 'lib', 'daemon'));
const { api, until } = require(path.join(E2E, 'lib', 'api'));
const { freePort, startRedis, keyFile } = require(path.join(E2E, 'lib', 'redis'));
const { startPostgres, PG_USER } = require(path.join(E2E, 'lib', 'pg'));
const sys = require(path.join(__dirname, 'lib', 'sys'));
const { stampSubscriber } = require(path.join(__dirname, 'lib', 'stamps'));

const QUICK = process.argv.includes('--quick');
const ONLY = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : null;
const JSON_FILE = process.argv.includes('--json') ? process.argv[process.argv.indexOf('--json') + 1] : null;
const REST_SECONDS = QUICK ? 5 : 15;
const REST_CONNS = 16;
// the caps lifted as for every agentd the bench starts
const { LIMITS_OFF } = require(path.join(__dirname, 'lib', 'agentd'));
const RATE = 1000; // lines a second
const LINES = QUICK ? 3000 : 15000;
const pct = (a, p) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const f2 = (x) => x.toFixed(2);
const figures = { meta: { quick: QUICK, seconds: REST_SECONDS, conns: REST_CONNS, rate: RATE } }; // --json

// Every process of the PostgreSQL server (the postmaster and its backends).
function pgPids(pg) {
  const pm = pg.postmasterPid();
  return sys.tree(pm);
}

// A workspace and a command agent on d: the agent's id.
async function benchAgent(d, repo) {
  const ws = await api(d, 'POST', '/api/workspaces', { path: repo, name: 'w' });
  if (ws.status !== 201) throw new Error(`workspace: ${ws.status} ${JSON.stringify(ws.body)}`);
  const ag = await api(d, 'POST', '/api/agents', { worktreeId: ws.body.worktrees[0].id, executor: 'command', command: ['true'] });
  if (ag.status !== 201) throw new Error(JSON.stringify(ag.body));
  return ag.body.id;
}

// wrk against d's read and write routes for agent id: {read, write}, each
// {rps, perCpu}; cpuNow() is the CPU counted for the server side.
async function restRoutes(d, id, cpuNow) {
  const out = {};
  for (const [kind, script] of [['read', null], ['write', path.join(__dirname, 'lua', 'patch.lua')]]) {
    const c0 = cpuNow();
    const w = await sys.wrk(`${d.url}/api/agents/${id}`, { conns: REST_CONNS, seconds: REST_SECONDS, script,
      env: { AGENTD_BENCH_TOKEN: d.token } });
    const cpu = cpuNow() - c0;
    if (w.non2xx > 0) throw new Error(`${kind}: ${w.non2xx} answers not 2xx`);
    out[kind] = { rps: w.rps, perCpu: w.requests / cpu, p99: w.p99Ms };
  }
  return out;
}

// The libpq loop for SECONDS: statements per CPU-second (its CPU and its
// server backend's, which the loop reads itself: the backend ends with it).
function pgLoop(pg, db, id, kind) {
  const bin = sys.benchBin('pg_loop', ['libpq']);
  const out = execFileSync('sh', ['-c', `"$0" "$1" "$2" "$3" "$4"; echo "CHILDSTAT $(cat /proc/$$/stat)"`,
    bin, pg.url(db), id, String(REST_SECONDS), kind], { encoding: 'utf8' });
  const m = /ops (\d+) seconds ([\d.]+) backend_cpu ([\d.]+)/.exec(out);
  const st = /CHILDSTAT (.*)/.exec(out)[1];
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  const own = (Number(f[13]) + Number(f[14])) / 100; // USER_HZ
  return { rps: Number(m[1]) / Number(m[2]), perCpu: Number(m[1]) / (own + Number(m[3])) };
}

// CPU seconds of the server's processes, per pid: a backend that connects
// during the window counts whole, one that ends during it is not seen (agentd
// keeps its connections; the loop reads its own backend).
function pgCpu(pg) {
  const m = new Map();
  for (const p of pgPids(pg)) m.set(p, sys.cpuOfPids([p]));
  return m;
}
function pgCpuSince(pg, before) {
  let s = 0;
  for (const [p, c] of pgCpu(pg)) s += c - (before.get(p) || 0);
  return s;
}

// The seed's stack on the same database: fastify with the pg driver
// (peers/fastify-pg.js) answering GET /api/agents/:id, its pool opened before
// the window (a backend that connects during it would count whole), wrk as
// for agentd. CPU: the peer's and every server process's, as for agentd.
async function peerRead(pg, db, id) {
  const port = await sys.freePort();
  const h = await sys.startServer('fastify-pg', process.execPath, [path.join(__dirname, 'peers', 'fastify-pg.js')],
    { core: '0-1', port, env: { PORT: String(port), PGHOST: pg.socketDir, PGPORT: String(pg.port), PGDATABASE: db, PGUSER: PG_USER } });
  try {
    const url = `http://127.0.0.1:${port}/api/agents/${id}`;
    const first = await fetch(url);
    if (first.status !== 200) throw new Error(`fastify+pg answered ${first.status}: ${(await first.text()).slice(0, 200)}`);
    await Promise.all(Array.from({ length: 64 }, () => fetch(url).then((r) => r.arrayBuffer())));
    const base = pgCpu(pg);
    const c0 = sys.cpuSeconds(h.pid);
    const w = await sys.wrk(url, { conns: REST_CONNS, seconds: REST_SECONDS });
    const cpu = sys.cpuSeconds(h.pid) - c0 + pgCpuSince(pg, base);
    if (w.non2xx > 0) throw new Error(`fastify+pg: ${w.non2xx} answers not 2xx`);
    return { rps: w.rps, perCpu: w.requests / cpu, p99: w.p99Ms };
  } finally { await h.stop(); }
}

async function p1(tokenFile, token) {
  const repo = daemon.tmpRepo('agentd-bench-');
  const pg = await startPostgres();
  const db = 'rest_bench';
  const dbUrl = pg.createDb(db);
  const start = async (env) => {
    const d = await daemon.start({ needUrl: true, env,
      args: ['--token-file', tokenFile, '--log-level', 'warn', '--sandbox', 'off', ...LIMITS_OFF] });
    d.token = token;
    d.authHeaders = { authorization: `Bearer ${token}` };
    return d;
  };
  const rows = [];
  try {
    const sq = await start({});
    let onSqlite;
    try {
      const id = await benchAgent(sq, repo);
      onSqlite = await restRoutes(sq, id, () => sys.cpuSeconds(sq.proc.pid));
    } finally { await sq.cleanup(); }
    const pd = await start({ AGENTD_DATABASE_URL: dbUrl });
    let onPg, id;
    try {
      id = await benchAgent(pd, repo);
      const base = pgCpu(pg);
      onPg = await restRoutes(pd, id, () => sys.cpuSeconds(pd.proc.pid) + pgCpuSince(pg, base));
    } finally { await pd.cleanup(); }
    const fastifyPg = await peerRead(pg, db, id);
    const loop = { read: pgLoop(pg, db, id, 'read'), write: pgLoop(pg, db, id, 'write') };
    figures.P1 = { sqlite: onSqlite, pg: onPg, loop, fastifyPg };
    const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    for (const kind of ['read', 'write']) {
      const route = kind === 'read' ? 'GET /api/agents/:id' : 'PATCH /api/agents/:id {name}';
      const a = onPg[kind], b = onSqlite[kind], l = loop[kind];
      const f = kind === 'read' ? `; fastify+pg ${Math.round(fastifyPg.perCpu)} (${Math.round(fastifyPg.rps)}/s, ${fastifyPg.p99?.toFixed(2)} ms)` : '';
      rows.push(['P1', `${route}, wrk -c${REST_CONNS} ${REST_SECONDS} s: req/CPU-s (req/s, p99)`,
        `agentd+PostgreSQL ${Math.round(a.perCpu)} (${Math.round(a.rps)}/s, ${a.p99?.toFixed(2)} ms)`,
        `agentd+SQLite ${Math.round(b.perCpu)} (${Math.round(b.rps)}/s, ${b.p99?.toFixed(2)} ms); libpq loop ${Math.round(l.perCpu)} statements/CPU-s (${Math.round(l.rps)}/s)${f}`,
        `${(a.perCpu / b.perCpu).toFixed(2)}x SQLite, ${(a.perCpu / l.perCpu).toFixed(2)}x the bare loop${kind === 'read' ? `, ${(a.perCpu / fastifyPg.perCpu).toFixed(2)}x fastify+pg` : ''} (load ${load})`]);
    }
  } finally {
    pg.stop();
    fs.rmSync(repo, { recursive: true, force: true });
  }
  return rows;
}

async function p2(tokenFile, token) {
  const pg = await startPostgres();
  const dbUrl = pg.createDb('planes_bench');
  const port = await freePort();
  const redis = await startRedis(port);
  const redisKey = keyFile(path.dirname(tokenFile)); // the key the planes sign their messages with
  const start = async (id) => {
    const d = await daemon.start({
      needUrl: true,
      env: { AGENTD_DATABASE_URL: dbUrl },
      args: ['--redis-url', `redis://127.0.0.1:${port}`, '--redis-key-file', redisKey, '--plane-id', id, '--token-file', tokenFile,
        '--log-level', 'warn', '--sandbox', 'off'],
    });
    d.token = token;
    d.authHeaders = { authorization: `Bearer ${token}` };
    return d;
  };
  const a = await start('bench_a');
  const b = await start('bench_b');
  const repo = daemon.tmpRepo('agentd-bench-');
  let row;
  try {
    await until(async () => (await api(a, 'GET', '/api/health')).body.cluster?.connected
      && (await api(b, 'GET', '/api/health')).body.cluster?.connected, 'both planes on Redis');
    const ws = await api(a, 'POST', '/api/workspaces', { path: repo, name: 'w' });
    if (ws.status !== 201) throw new Error(`workspace: ${ws.status} ${JSON.stringify(ws.body)}`);
    const body = { worktreeId: ws.body.worktrees[0].id, executor: 'command', command: [sys.benchBin('linegen'), String(RATE), String(LINES), '500'] };
    const ag = await api(a, 'POST', '/api/agents', body);
    if (ag.status !== 201) throw new Error(JSON.stringify(ag.body));
    const onA = await stampSubscriber(a, ag.body.id);
    const onB = await stampSubscriber(b, ag.body.id);
    await sleep(300); // both subscriptions are in before the first line
    const s = await api(a, 'POST', `/api/agents/${ag.body.id}/start`, {});
    if (s.status !== 200) throw new Error(JSON.stringify(s.body));
    await until(() => onA.got.size >= LINES * 0.98 && onB.got.size >= LINES * 0.98,
      `${LINES} lines on both planes (A ${onA.got.size}, B ${onB.got.size})`, 120000);
    onA.close();
    onB.close();
    // the first tenth warms up; a line counts where both planes had it
    const la = [], lb = [], added = [];
    for (const [i, ta] of onA.got) {
      const tb = onB.got.get(i);
      if (Number(i) < LINES / 10 || tb === undefined) continue;
      la.push(ta);
      lb.push(tb);
      added.push(tb - ta);
    }
    const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    row = ['P2', `line -> /ws subscriber, ${RATE} lines/s, ${la.length} lines, p50 / p99 (ms)`,
      `B (across Redis) ${f2(pct(lb, 50))} / ${f2(pct(lb, 99))}`, `A (its own plane) ${f2(pct(la, 50))} / ${f2(pct(la, 99))}`,
      `added p50 ${f2(pct(added, 50))}, p99 ${f2(pct(added, 99))} ms: ${pct(added, 99) <= 2 ? 'ok' : 'MISS'} (goal <= 2 ms; load ${load})`];
    figures.P2 = { lines: la.length, a: { p50: pct(la, 50), p99: pct(la, 99) }, b: { p50: pct(lb, 50), p99: pct(lb, 99) },
      added: { p50: pct(added, 50), p99: pct(added, 99) }, load };
  } finally {
    await a.cleanup();
    await b.cleanup();
    redis.kill('SIGKILL');
    pg.stop();
    fs.rmSync(repo, { recursive: true, force: true });
  }
  return [row];
}

async function main() {
  const token = crypto.randomBytes(24).toString('hex');
  const tokenFile = path.join(daemon.tmpDir('agentd-token-'), 'owner');
  fs.writeFileSync(tokenFile, token, { mode: 0o600 });
  process.env.AGENTD_BENCH_TOKEN = token; // the header sys.wrk sends
  const rows = [];
  try {
    if (!ONLY || ONLY === 'P1') rows.push(...await p1(tokenFile, token));
    if (!ONLY || ONLY === 'P2') rows.push(...await p2(tokenFile, token));
  } finally {
    fs.rmSync(path.dirname(tokenFile), { recursive: true, force: true });
  }
  console.log('| id | scenario | measured | peer | goal |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  if (JSON_FILE) fs.writeFileSync(JSON_FILE, JSON.stringify(figures, null, 2) + '\n');
}

main().catch((e) => { console.error(e); process.exit(1); });
