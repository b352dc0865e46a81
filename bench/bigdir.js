// SPDX-License-Identifier: MIT
// Row F2 of bench/README.md (issue #38): a data dir that has grown. Makes
// (or reuses) a data dir with c/bigdir.c (10,000 agents, 1,000,000 runs,
// 50,000,000 messages, 100,000,000 metric points, 10 GB of event log; QUICK
// a twentieth), then measures on it: a release agentd's start-up to its first
// 200 of /healthz and of an authenticated GET /api/runs?limit=50, and each
// list route the dashboard reads (agents with their cost totals, the runs
// table's first and a deep page, today's usage by agent, an agent's
// transcript first and middle page, a big run's transcript first and middle
// page, dashboard stats), agentd and fastify + better-sqlite3 (peers/
// fastify-bigdir.js: the same SQL on the same file, read-only) by the same
// client (wrk -t1, keep-alive, 4 connections), as H2 does; and agentd's CPU
// when idle on it. Then the same lists on PostgreSQL (issue #80): the
// database copied into a throwaway PostgreSQL 15 by `agentd db copy`, agentd
// serving the dir on it, against fastify with the `pg` driver on the same
// database, PostgreSQL's processes counted as each server's CPU; by default
// at QUICK's size only (--pg asks for it at any size, --no-pg skips it: the
// full size's copy takes hours). Used by driver.js (--only F2) and on its own:
//   node bench/bigdir.js [--quick] [--dir DIR] [--keep] [--reuse] [--pg | --no-pg]
// --dir reuses (or makes and keeps) the data dir in DIR, so the full scale
// is generated once; without it the dir is under /tmp and removed at the end.
// --reuse takes DIR as it is, whatever sizes c/bigdir.c made it with.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const net = require('node:net');
const { spawn, execFileSync } = require('node:child_process');
const sys = require('./lib/sys');
const agentd = require('./lib/agentd');

const ROOT = agentd.ROOT;
const GEN = path.join(ROOT, 'build', 'release', 'bench', 'bigdir');
const TOKEN = process.env.AGENTD_BENCH_TOKEN;
const SERVE_ARGS = ['--event-retention-bytes', '1099511627776', '--event-retention-seconds', '315360000'];

async function withServer(startFn, fn) {
  const h = await startFn();
  try { return await fn(h); } finally { await h.stop(); }
}

function pct(xs, p) { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(s.length * p))] : null; }

// Builds and runs the generator; its JSON line.
function generate(dir, scale, log) {
  execFileSync('make', ['-s', 'BUILD=release', 'build/release/bench/bigdir'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  log(`F2 generating (or reusing) ${dir} at scale ${scale}`);
  const out = execFileSync('nice', [GEN, '--dir', dir, '--scale', String(scale)], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 4 * 3600 * 1000 });
  return JSON.parse(out.toString().trim().split('\n').pop());
}

// One GET with the token on a fresh connection: {status, ms}.
function get(port, p) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const s = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    s.on('connect', () => s.write(`GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`));
    s.on('data', (d) => { buf += d.toString('latin1'); });
    s.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(buf)?.[1] || 0), ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    s.on('error', () => resolve({ status: 0 }));
  });
}

// From spawn to the first 200 of /healthz and of an authenticated list.
async function startup(dir, runs) {
  const tokenFile = path.join(dir, 'bench-token');
  fs.writeFileSync(tokenFile, TOKEN + '\n', { mode: 0o600 });
  const times = { healthz: [], list: [] };
  for (let i = 0; i < runs; i++) {
    const port = await sys.freePort();
    const t0 = process.hrtime.bigint();
    const proc = spawn('taskset', ['-c', '1', agentd.BIN, 'serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dir,
      '--log-level', 'warn', '--token-file', tokenFile, ...SERVE_ARGS], { stdio: 'ignore' });
    const deadline = Date.now() + 600000; // the first start may migrate
    let h = null, l = null;
    while (l == null && Date.now() < deadline && proc.exitCode === null) {
      const r = await get(port, h == null ? '/healthz' : '/api/runs?limit=50');
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.status === 200) { if (h == null) h = ms; else l = ms; } else await new Promise((res) => setImmediate(res));
    }
    const gone = new Promise((res) => proc.once('exit', res));
    if (proc.exitCode === null) proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
    if (proc.exitCode === null && proc.signalCode === null) await gone;
    clearTimeout(t);
    if (l == null) throw new Error('agentd gave no 200 on the grown dir');
    times.healthz.push(h);
    times.list.push(l);
  }
  return times;
}

// The routes measured, with ids picked from the dir (read-only), and the
// UTC day of the dir's newest run. "Usage by agent, today" asks for the
// current day's rows; once the day has turned since the dir was made it has
// none, and the row measures an empty answer (133 bytes) instead of a day's.
function routes(dbFile) {
  const Database = require(path.join(__dirname, 'node_modules', 'better-sqlite3'));
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    const madeDay = new Date(db.prepare('SELECT max(started_at) AS m FROM runs').get().m).toISOString().slice(0, 10);
    const hot = db.prepare('SELECT agent_id, count(*) AS n FROM runs INDEXED BY runs_by_agent WHERE agent_id IN '
      + '(SELECT id FROM agents ORDER BY created_at LIMIT 10) GROUP BY agent_id ORDER BY n DESC LIMIT 1').get();
    const nRuns = db.prepare('SELECT count(*) AS n FROM runs').get().n;
    const deep = db.prepare('SELECT id FROM runs ORDER BY started_at DESC, id DESC LIMIT 1 OFFSET ?').get(Math.floor(nRuns / 2));
    const nMsg = db.prepare('SELECT count(*) AS n FROM messages WHERE agent_id = ?').get(hot.agent_id).n;
    const mid = db.prepare('SELECT id, created_at FROM messages WHERE agent_id = ? ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET ?')
      .get(hot.agent_id, Math.floor(nMsg / 2));
    const big = db.prepare('SELECT run_id, count(*) AS n FROM messages WHERE agent_id = ? GROUP BY run_id ORDER BY n DESC LIMIT 1')
      .get(db.prepare('SELECT id FROM agents ORDER BY created_at LIMIT 1').get().id);
    const bigMid = db.prepare('SELECT m.id, m.created_at FROM messages m WHERE m.run_id = ? ORDER BY m.created_at, m.id LIMIT 1 OFFSET ?')
      .get(big.run_id, Math.floor(big.n / 2));
    const nAgents = db.prepare('SELECT count(*) AS n FROM agents WHERE deleted_at IS NULL').get().n;
    const agentMid = db.prepare('SELECT id FROM agents WHERE deleted_at IS NULL ORDER BY created_at, id LIMIT 1 OFFSET ?')
      .get(Math.floor(nAgents / 2));
    return { madeDay, list: [
      [`agents list with cost totals, all ${nAgents}`, '/api/agents'],
      ['agents list, a page of 100', '/api/agents?limit=100'],
      ['agents list, a page of 100 half-way (cursor)', `/api/agents?limit=100&cursor=${agentMid.id}`],
      ['runs table, first page', '/api/runs?limit=50'],
      ['runs table, a page half-way (cursor)', `/api/runs?limit=50&cursor=${deep.id}`],
      ['usage by agent, today', '/api/usage/agents'],
      ['usage by agent, this month', '/api/usage/agents?period=monthly'],
      [`transcript of the busiest agent (${nMsg} messages), first page`, `/api/agents/${hot.agent_id}/messages?limit=50`],
      ['the busiest agent\'s transcript, the middle page', `/api/agents/${hot.agent_id}/messages?limit=50&before=${mid.created_at}:${mid.id}`],
      [`a big run's transcript (${big.n} messages), first page`, `/api/runs/${big.run_id}/messages?limit=100`],
      ['the big run\'s transcript, the middle page', `/api/runs/${big.run_id}/messages?limit=100&after=${bigMid.created_at}:${bigMid.id}`],
      ['dashboard stats, 24h', '/api/dashboard/stats?range=24h'],
    ] };
  } finally { db.close(); }
}

const utcDay = () => new Date().toISOString().slice(0, 10);

// wrk on one route after a second's warm-up; on PostgreSQL (alsoPid, the
// postmaster) the database server's CPU counts as the server's: its
// backends do the work SQLite does inside the process. The warm-up opens
// every connection a pool will use, so no backend starts in the window.
async function wrkRoute(h, p, seconds, alsoPid) {
  await sys.wrk(`http://127.0.0.1:${h.port}${p}`, { conns: 4, seconds: 1, serverPid: h.pid });
  const c0 = alsoPid ? sys.cpuSeconds(alsoPid) : 0;
  const r = await sys.wrk(`http://127.0.0.1:${h.port}${p}`, { conns: 4, seconds, serverPid: h.pid });
  const also = alsoPid ? sys.cpuSeconds(alsoPid) - c0 : 0;
  const cpu = r.serverCpuS + also;
  return { ...r, alsoCpuS: also, perCpuS: cpu > 0 ? r.requests / cpu : null };
}

// Each route of list on server h (key: where its figures go in
// res.routes[what]), checked once for a 200 first.
async function measure(ctx, h, list, seconds, res, key, alsoPid) {
  for (const [what, p] of list) {
    const r = await agentd.request(h.port, 'GET', p, null, { timeoutMs: 30000 });
    if (r.status !== 200) throw new Error(`${key}: GET ${p} answered ${r.status} ${r.body.slice(0, 200)}`);
    res.routes[what][`${key}Bytes`] = r.body.length;
    res.routes[what].day = utcDay();
    try { res.routes[what][key] = await wrkRoute(h, p, seconds, alsoPid); } catch (e) { ctx.na('F2', `${key} ${what}: ${e.message}`); continue; }
    ctx.log(`F2 ${key} ${what}: p99 ${res.routes[what][key].p99Ms} ms, ${res.routes[what][key].perCpuS?.toFixed(0)} req/CPU-s`);
  }
}

const startPeer = (env) => async () => {
  const port = await sys.freePort();
  return sys.startServer('fastify-bigdir', process.execPath, [path.join(__dirname, 'peers', 'fastify-bigdir.js')],
    { port, env: { PORT: String(port), ...env } });
};

// F2's lists on PostgreSQL (issue #80: how a team runs agentd): the dir's
// database copied into a throwaway PostgreSQL 15 (`agentd db copy`, the
// server as the tests start it: fsync off), agentd serving the dir on it,
// and the peer with the `pg` driver on the same database.
async function onPostgres(ctx, dir, list, seconds, res) {
  const { startPostgres } = require(path.join(ROOT, 'tests', 'e2e', 'lib', 'pg'));
  const pg = await startPostgres();
  try {
    const url = pg.createDb('f2_bench');
    const t0 = Date.now();
    execFileSync(agentd.BIN, ['db', 'copy', '--from', `sqlite:${path.join(dir, 'agentd.db')}`, '--to', url],
      { stdio: ['ignore', 'ignore', 'inherit'], timeout: 4 * 3600 * 1000 });
    res.pgCopyS = (Date.now() - t0) / 1000;
    ctx.log(`F2 the dir's database copied into PostgreSQL in ${res.pgCopyS.toFixed(0)} s`);
    pg.psql('f2_bench', 'VACUUM ANALYZE'); // its statistics, as a server that has run a while has them
    const pm = pg.postmasterPid();
    await withServer(() => agentd.start({ dataDir: dir, args: SERVE_ARGS, env: { AGENTD_DATABASE_URL: url } }),
      (h) => measure(ctx, h, list, seconds, res, 'agentdPg', pm));
    await withServer(startPeer({ PG_URL: url }), (h) => measure(ctx, h, list, seconds, res, 'peerPg', pm));
  } finally { pg.stop(); }
}

// ctx: {quick, log, ratio, budget, na, dir, keep}; returns the raw figures.
async function run(ctx) {
  const { log } = ctx;
  const scale = ctx.quick ? 0.05 : 1;
  const dir = ctx.dir || path.join('/tmp', `agentd-bigdir-${scale}`);
  const keep = ctx.keep || !!ctx.dir;
  const res = { scale, dir };
  try {
    const done = path.join(dir, 'bigdir.done');
    res.gen = ctx.reuse && fs.existsSync(done) ? { reused: fs.readFileSync(done, 'utf8').trim() } : generate(dir, scale, log);
    log(`F2 data dir: ${JSON.stringify(res.gen)}`);
    const first = await startup(dir, 1); // applies the migrations this binary adds, once
    res.firstStartMs = { healthz: first.healthz[0], list: first.list[0] };
    const st = await startup(dir, ctx.quick ? 5 : 10);
    res.startup = { healthzMs: pct(st.healthz, 0.5), listMs: pct(st.list, 0.5), runs: st };
    log(`F2 start-up on the grown dir: first 200 of /healthz ${res.startup.healthzMs.toFixed(1)} ms, of GET /api/runs?limit=50 ${res.startup.listMs.toFixed(1)} ms (median); first start ${res.firstStartMs.list.toFixed(0)} ms`);
    ctx.budget('F2', 'start-up on the grown dir to the first 200 of /healthz, median ms (budget 100)', res.startup.healthzMs, 100, { unit: 'ms' });
    ctx.budget('F2', 'same, to the first 200 of an authenticated GET /api/runs?limit=50', res.startup.listMs, 100, { unit: 'ms' });
    const { list, madeDay } = routes(path.join(dir, 'agentd.db'));
    const seconds = ctx.quick ? 2 : 4;
    res.routes = {};
    for (const [what, p] of list) res.routes[what] = { path: p };
    await withServer(() => agentd.start({ dataDir: dir, args: SERVE_ARGS }), async (h) => {
      // Idle on the grown dir: what its timers (the plane's heartbeat, the
      // health sampler, the rolls) cost with nothing asked of it, over a
      // window after the start's own work.
      await sys.sleep(2000);
      const idleS = ctx.quick ? 5 : 10;
      const c0 = sys.cpuSeconds(h.pid);
      await sys.sleep(idleS * 1000);
      res.idleCpuPct = ((sys.cpuSeconds(h.pid) - c0) / idleS) * 100;
      log(`F2 agentd idle on the grown dir: ${res.idleCpuPct.toFixed(2)} % of a core over ${idleS} s`);
      ctx.budget('F2', 'agentd idle on the grown dir, % of a core (budget 1 %)', res.idleCpuPct, 1, { unit: '%' });
      await measure(ctx, h, list, seconds, res, 'agentd');
    });
    await withServer(startPeer({ DB_PATH: path.join(dir, 'agentd.db') }), (h) => measure(ctx, h, list, seconds, res, 'peer'));
    for (const [what] of list) {
      const a = res.routes[what].agentd, f = res.routes[what].peer;
      // A day with no runs in the dir is no measure of the route: no budget.
      const empty = what.endsWith(', today') && res.routes[what].day !== madeDay;
      ctx.ratio('F2', `${what}: req/server-CPU-s, c=4, agentd ÷ fastify+better-sqlite3`, a?.perCpuS, f?.perCpuS,
        empty ? { note: `no run on ${res.routes[what].day}: the dir's newest is of ${madeDay}, so the answer is empty` } : { budget: 3 });
      ctx.budget('F2', `${what}: agentd p99 ms, c=4 (budget 5 ms; peer ${f?.p99Ms ?? 'n/a'} ms)`, a?.p99Ms, 5, { unit: 'ms' });
    }
    if (!(ctx.pg ?? ctx.quick)) {
      ctx.na('F2', 'on PostgreSQL: not asked for (at full size the copy alone takes hours; bench/README.md, F2)');
    } else {
      try {
        await onPostgres(ctx, dir, list, seconds, res);
      } catch (e) { ctx.na('F2', `on PostgreSQL: ${e.message}`); }
      for (const [what] of list) {
        const a = res.routes[what].agentdPg, f = res.routes[what].peerPg;
        const empty = what.endsWith(', today') && res.routes[what].day !== madeDay;
        ctx.ratio('F2', `${what}: req/server-CPU-s (PostgreSQL's counted), c=4, agentd on PostgreSQL ÷ fastify+pg`, a?.perCpuS, f?.perCpuS,
          empty ? { note: `no run on ${res.routes[what].day}` } : { budget: 1, note: `p99 ${a?.p99Ms ?? 'n/a'} / ${f?.p99Ms ?? 'n/a'} ms` });
      }
    }
  } catch (e) {
    ctx.na('F2', e.message);
  } finally {
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  }
  return res;
}

module.exports = { run };

if (require.main === module) {
  const args = process.argv.slice(2);
  const at = (k) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : undefined; };
  // Anything else (a --help, a typo) stops here: without --quick a run
  // makes a 40 GB dir first.
  const usage = 'usage: node bench/bigdir.js [--quick] [--dir DIR] [--keep] [--reuse] [--pg | --no-pg]';
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--dir' && args[i + 1] !== undefined && !args[i + 1].startsWith('--')) { i++; continue; }
    if (!['--quick', '--keep', '--reuse', '--pg', '--no-pg'].includes(args[i])) {
      console.error(args[i] === '--help' || args[i] === '-h' ? usage : `bigdir: unknown argument ${args[i]}\n${usage}`);
      process.exit(args[i] === '--help' || args[i] === '-h' ? 0 : 2);
    }
  }
  if (args.includes('--reuse') && at('--dir') === undefined) {
    console.error(`bigdir: --reuse needs --dir DIR\n${usage}`);
    process.exit(2);
  }
  const rows = [];
  const ctx = {
    quick: args.includes('--quick'), dir: at('--dir'), keep: args.includes('--keep'), reuse: args.includes('--reuse'),
    pg: args.includes('--pg') ? true : args.includes('--no-pg') ? false : undefined,
    log: (s) => process.stderr.write(`[bigdir] ${s}\n`),
    na: (id, why) => process.stderr.write(`[bigdir] ${id}: n/a (${why})\n`),
    ratio: (id, what, a, b, o = {}) => rows.push({ what, agentd: a, peer: b, ratio: a != null && b ? a / b : null, budget: o.budget }),
    budget: (id, what, v, limit) => rows.push({ what, agentd: v, budget: limit }),
  };
  sys.setPidFile(path.join(__dirname, 'results', '.pids'));
  fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true });
  const stop = () => { sys.killAllSync(); process.exit(130); };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, stop);
  run(ctx).then((res) => {
    fs.writeFileSync(path.join(__dirname, 'results', 'bigdir.json'), JSON.stringify({ res, rows }, null, 2) + '\n');
    for (const r of rows) {
      const v = (x) => (x == null ? 'n/a' : Number(x).toFixed(x >= 100 ? 0 : 2));
      console.log(`${r.what} | ${v(r.agentd)}${r.peer !== undefined ? ` | ${v(r.peer)} | ${r.ratio == null ? 'n/a' : r.ratio.toFixed(2) + 'x'}` : ''}`);
    }
  }).catch((e) => { console.error(e); sys.killAllSync(); process.exit(1); }).finally(() => sys.stopAll());
}
