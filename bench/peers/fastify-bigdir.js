// SPDX-License-Identifier: MIT
// Peer for F2 (a data dir that has grown): fastify + better-sqlite3 opening
// agentd's own database file read-only and answering the dashboard's list
// routes with the SQL agentd runs for them (src/tables/agents.c, stats.c,
// usagetop.c, messages.c, their column lists), snake_case columns turned
// into the camelCase JSON agentd answers with. 127.0.0.1 only.
// With PG_URL instead of DB_PATH (issue #80, F2 on PostgreSQL): the same
// statements through the `pg` driver (a pool of POOL, default 4, as
// fastify-pg.js), rewritten as agentd's statement layer rewrites them
// (src/store/pgsql.c: ?N -> $N, no INDEXED BY), its 64-bit integers and
// sums read as numbers so that the JSON is agentd's.
'use strict';
const fastify = require('fastify')({ logger: false });

// prep(sql): {all(...args), get(...args)}, each a promise of rows (a row).
let prep;
if (process.env.PG_URL) {
  const pg = require('pg');
  for (const oid of [20, 1700]) pg.types.setTypeParser(oid, Number); // int8, numeric (SUM)
  const pool = new pg.Pool({ connectionString: process.env.PG_URL, max: Number(process.env.POOL || 4) });
  let n = 0;
  // each: planned for its values at every call (an unnamed statement), as
  // agentd plans a run's transcript page there (src/tables/messages.c): a
  // named one turns to a plan made for any run after five calls
  prep = (sql, { each = false } = {}) => {
    let k = 0;
    const text = sql.replace(/INDEXED BY \w+/g, '').replace(/\?(\d*)/g, (_, d) => `$${d || ++k}`);
    const name = each ? undefined : `f2_${n++}`;
    const all = async (...values) => (await pool.query({ name, text, values })).rows;
    return { all, get: async (...a) => (await all(...a))[0], each: all }; // every row: libpq reads the whole answer
  };
} else {
  const Database = require('better-sqlite3');
  const db = new Database(process.env.DB_PATH, { readonly: true, fileMustExist: true });
  // better-sqlite3 takes ?1, ?2 … (agentd's SQL) as named parameters: bound from an object
  prep = (sql) => {
    const st = db.prepare(sql);
    const bind = /\?\d/.test(sql) ? (a) => [Object.fromEntries(a.map((v, i) => [i + 1, v]))] : (a) => a;
    return { all: async (...a) => st.all(...bind(a)), get: async (...a) => st.get(...bind(a)),
      each: async (...a) => st.iterate(...bind(a)) }; // a row at a time: a break ends the statement
  };
}
const camel = (s) => s.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
const iso = new Set(['created_at', 'updated_at', 'started_at', 'ended_at', 'stopped_at', 'deleted_at']);
function row(r, jsonCols = []) {
  const o = {};
  for (const [k, v] of Object.entries(r)) {
    if (jsonCols.includes(k) && typeof v === 'string') o[camel(k)] = JSON.parse(v);
    else if (iso.has(k) && typeof v === 'number') o[camel(k)] = new Date(v).toISOString();
    else o[camel(k)] = v;
  }
  return o;
}

const AGENT_COLS = 'id, worktree_id, name, status, context_level, mode, permissions, display_order, pid, '
  + 'session_id, created_at, updated_at, started_at, stopped_at, deleted_at, parent_agent_id, '
  + 'executor, crew_id, state, worktree_vanished_at, org_id, status_reason, '
  + 'COALESCE(t.cost_usd, 0.0) AS cost_usd, COALESCE(t.total_tokens, 0) AS total_tokens';
// the first page and a page after a cursor, two statements as agentd's (src/store/agents.c)
const agents = prep(`SELECT ${AGENT_COLS} FROM agents LEFT JOIN agent_totals t ON t.agent_id = agents.id `
  + "WHERE (CAST(?1 AS TEXT) IS NULL OR status = ?1) AND (?2 OR deleted_at IS NULL) AND (?3 = '' OR org_id = ?3) "
  + 'AND CAST(?4 AS TEXT) IS NULL ORDER BY created_at, id LIMIT ?5');
const agentsAfter = prep(`SELECT ${AGENT_COLS} FROM agents LEFT JOIN agent_totals t ON t.agent_id = agents.id `
  + "WHERE (CAST(?1 AS TEXT) IS NULL OR status = ?1) AND (?2 OR deleted_at IS NULL) AND (?3 = '' OR org_id = ?3) "
  + 'AND (created_at, id) > (SELECT c.created_at, c.id FROM agents c WHERE c.id = ?4) '
  + 'ORDER BY created_at, id LIMIT ?5');

const RUN_NAME = "coalesce(r.name, (SELECT an.name FROM agents an WHERE an.id = r.agent_id) || "
  + "coalesce(' \u00b7 ' || json_extract(r.config, '$.name'), '') || ' #' || r.run_no)";
const RUN_COLOR = "coalesce(r.color, substr('#4e79a7#f28e2b#e15759#76b7b2#59a14f#edc948#b07aa1#ff9da7"
  + "#9c755f#17becf', CAST(1 + 7 * ((r.started_at + unicode(substr(r.id, length(r.id), 1)) + "
  + 'unicode(substr(r.id, length(r.id) - 1, 1))) % 10) AS INT), 7))'; // as src/tables/tables_int.h: both engines
const RUNS_COLS = 'r.id, r.agent_id, a.name AS agent_name, r.crew_id, r.org_id, r.started_at, r.ended_at, '
  + 'r.status, r.exit_code, r.signal, r.duration_ms, r.input_tokens, r.output_tokens, '
  + `r.cache_read_tokens, r.cache_write_tokens, r.cost_usd, r.num_turns, ${RUN_NAME} AS name, ${RUN_COLOR} AS color, `
  + "coalesce(r.tags, '[]') AS tags, r.notes, r.run_group AS \"group\"";
const runsFirst = prep(`SELECT ${RUNS_COLS} FROM runs r LEFT JOIN agents a ON a.id = r.agent_id WHERE 1 = 1 `
  + 'ORDER BY r.started_at DESC, r.id DESC LIMIT ?');
const runsAfter = prep(`SELECT ${RUNS_COLS} FROM runs r LEFT JOIN agents a ON a.id = r.agent_id WHERE 1 = 1 `
  + 'AND r.started_at <= ? AND (r.started_at < ? OR r.id < ?) ORDER BY r.started_at DESC, r.id DESC LIMIT ?');
const runStart = prep('SELECT started_at FROM runs WHERE id = ?');

// GET /api/usage/agents as agentd answers it (src/store/usagetop.c), with
// the same statements: the agents whose row of the period is not all they
// used (runs running, runs that ended past now) summed first, their agents
// looked up 640 at a time; then the others read costliest first by
// agent_usage_by_cost, each joined to its agent by agents_for_usage, until
// a row costs less than the 500th read; then sorted by cost and name.
const USAGE_COLS = 'runs, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd';
const usageExtras = prep(`SELECT agent_id, ${USAGE_COLS} FROM agent_usage WHERE kind = ?2 AND start_day > ?1 `
  + 'AND runs > 0 UNION ALL SELECT agent_id, 1, input_tokens, output_tokens, '
  + 'cache_read_tokens, cache_write_tokens, cost_usd FROM runs INDEXED BY runs_by_end '
  + `WHERE ended_at IS NULL UNION ALL SELECT agent_id, ${USAGE_COLS} FROM agent_usage `
  + 'WHERE kind = ?2 AND start_day = ?1 AND runs > 0 AND agent_id IN (SELECT agent_id '
  + 'FROM runs INDEXED BY runs_by_end WHERE ended_at IS NULL UNION SELECT agent_id FROM '
  + 'agent_usage WHERE kind = ?2 AND start_day > ?1)');
const usageScan = prep('SELECT u.agent_id, u.runs, u.input_tokens, u.output_tokens, u.cache_read_tokens, '
  + 'u.cache_write_tokens, u.cost_usd, a.name, a.worktree_id, a.executor, a.deleted_at '
  + 'FROM agent_usage u INDEXED BY agent_usage_by_cost CROSS JOIN agents a INDEXED BY agents_for_usage '
  + "WHERE u.kind = ?2 AND u.start_day = ?1 AND u.runs > 0 AND a.id = u.agent_id AND (?3 = '' OR "
  + 'a.org_id = ?3) ORDER BY u.cost_usd DESC');
const usageAgents = prep('SELECT id, name, worktree_id, executor, deleted_at FROM agents INDEXED BY agents_for_usage WHERE id IN '
  + "(SELECT value FROM json_each(CAST(?1 AS TEXT))) AND (?2 = '' OR org_id = ?2)");
const byCost = (a, b) => (a.cost !== b.cost ? (a.cost > b.cost ? -1 : 1)
  : (b.input + b.output) - (a.input + a.output));
const sumOf = (r) => ({ id: r.agent_id, runs: r.runs, input: r.input_tokens, output: r.output_tokens,
  cacheRead: r.cache_read_tokens, cacheWrite: r.cache_write_tokens, cost: r.cost_usd, row: null });
// e's answer row, from its agent's columns in a (name, worktree_id, executor,
// deleted_at: an agents row, or a usage row joined to its agent).
function keep(e, a) {
  const o = { agentId: e.id, name: a.name, worktreeId: a.worktree_id, executor: a.executor };
  if (a.deleted_at != null) o.deletedAt = new Date(a.deleted_at).toISOString();
  Object.assign(o, { runs: e.runs, inputTokens: e.input, outputTokens: e.output, cacheReadTokens: e.cacheRead,
    cacheWriteTokens: e.cacheWrite, totalTokens: e.input + e.output, costUsd: e.cost });
  e.row = o;
  return e;
}
async function keepFound(list, org, found) {
  for (let i = 0; i < list.length; i += 640) {
    const batch = list.slice(i, i + 640);
    const byId = new Map(batch.map((e) => [e.id, e]));
    for (const a of await usageAgents.all(JSON.stringify(batch.map((e) => e.id)), org)) {
      found.push(keep(byId.get(a.id), a));
    }
  }
}
async function usageTop(kind, day, org) {
  const extras = new Map();
  for (const r of await usageExtras.all(day, kind)) {
    const e = extras.get(r.agent_id);
    if (e) {
      e.runs += r.runs; e.input += r.input_tokens; e.output += r.output_tokens;
      e.cacheRead += r.cache_read_tokens; e.cacheWrite += r.cache_write_tokens; e.cost += r.cost_usd;
    } else extras.set(r.agent_id, sumOf(r));
  }
  const found = [];
  await keepFound([...extras.values()], org, found);
  let read = 0;
  let bar = 0;
  for (const r of await usageScan.each(day, kind, org)) {
    if (read >= 500 && r.cost_usd < bar) break;
    if (extras.has(r.agent_id)) continue;
    found.push(keep(sumOf(r), r)); // the row carries its agent's columns
    if (++read === 500) bar = r.cost_usd;
  }
  found.sort((a, b) => byCost(a, b) || (a.row.name < b.row.name ? -1 : a.row.name > b.row.name ? 1 : 0));
  return found.slice(0, 500).map((e) => e.row);
}

const MSG_COLS = 'id, agent_id, run_id, role, content, token_count, tool_name, tool_input, tool_output, is_complete, is_error, created_at';
const msgFirst = prep(`SELECT ${MSG_COLS} FROM messages WHERE agent_id = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2`);
const msgBefore = prep(`SELECT ${MSG_COLS} FROM messages WHERE agent_id = ?1 AND (created_at, id) < (?3, ?4) `
  + 'ORDER BY created_at DESC, id DESC LIMIT ?2');
const runOf = prep('SELECT agent_id, started_at, ended_at FROM runs WHERE id = ?1');
const runMsgs = prep(`SELECT ${MSG_COLS} FROM messages WHERE agent_id = ?1 AND (created_at, id) > (?3, ?4) AND `
  + 'created_at <= ?5 AND run_id = ?6 ORDER BY created_at, id LIMIT ?2', { each: true });

const stats = prep('SELECT COALESCE(SUM(runs),0) AS runs, COALESCE(SUM(succeeded),0) AS succeeded, '
  + 'COALESCE(SUM(failed),0) AS failed, COALESCE(SUM(stopped),0) AS stopped, COALESCE(SUM(lost),0) AS lost, '
  + 'COALESCE(SUM(input_tokens),0) AS input_tokens, COALESCE(SUM(output_tokens),0) AS output_tokens, '
  + "COALESCE(SUM(cost_usd),0) AS cost_usd FROM run_stats WHERE (?1 = '' OR org_id = ?1) AND day >= ?2");
const live = prep('SELECT COALESCE(SUM(input_tokens),0) AS i, COALESCE(SUM(output_tokens),0) AS o, COUNT(*) AS n, '
  + "COALESCE(SUM(cost_usd),0) AS c FROM runs WHERE status = 'running' AND (?1 = '' OR org_id = ?1)");
const hist = prep("SELECT kind, bucket, SUM(count) AS n FROM latency_hist WHERE (?1 = '' OR org_id = ?1) "
  + 'AND day >= ?2 GROUP BY kind, bucket ORDER BY kind, bucket');
const crews = prep("SELECT count(DISTINCT crew_id) AS n FROM agents WHERE crew_id IS NOT NULL AND status = 'running'");

const DAY = 86400000;
const bool = (m) => m.is_complete != null ? { ...m, is_complete: !!m.is_complete, is_error: !!m.is_error } : m;

fastify.get('/api/agents', async (req) => {
  const limit = Number(req.query.limit) || 0;
  const rows = await (req.query.cursor ? agentsAfter : agents).all(null, 0, '', req.query.cursor || null,
    limit > 0 ? Math.min(limit, 10000) : 10000);
  const out = { agents: rows.map((r) => row(r, ['permissions', 'state', 'status_reason'])) };
  if (limit > 0 && rows.length === limit) out.nextCursor = rows[rows.length - 1].id;
  return (out);
});
fastify.get('/api/runs', async (req) => {
  const limit = Math.min(Number(req.query.limit) || 50, 500);
  let rows;
  if (req.query.cursor) {
    const s = await runStart.get(req.query.cursor);
    rows = await runsAfter.all(s ? s.started_at : 0, s ? s.started_at : 0, req.query.cursor, limit + 1);
  } else rows = await runsFirst.all(limit + 1);
  const more = rows.length > limit;
  if (more) rows.pop();
  return ({ runs: rows.map((r) => row(r, ['tags'])), nextCursor: more ? rows[rows.length - 1].id : null });
});
fastify.get('/api/usage/agents', async (req) => {
  const now = new Date();
  const period = req.query.period || 'daily';
  const day = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const from = period === 'monthly' ? Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)
    : period === 'weekly' ? day - ((now.getUTCDay() + 6) % 7) * DAY : day;
  const rows = await usageTop(period[0], Math.floor(from / DAY), '');
  const totals = { runs: 0, inputTokens: 0, outputTokens: 0, totalTokens: 0, costUsd: 0 };
  for (const r of rows) {
    totals.runs += r.runs; totals.inputTokens += r.inputTokens; totals.outputTokens += r.outputTokens;
    totals.totalTokens += r.totalTokens; totals.costUsd += r.costUsd;
  }
  return ({ period, from: new Date(from).toISOString().slice(0, 10), totals, agents: rows });
});
fastify.get('/api/agents/:id/messages', async (req) => {
  const limit = Math.min(Number(req.query.limit) || 50, 500);
  let rows;
  if (req.query.before) {
    const [ms, id] = [Number(req.query.before.split(':')[0]), req.query.before.slice(req.query.before.indexOf(':') + 1)];
    rows = await msgBefore.all(req.params.id, limit + 1, ms, id);
  } else rows = await msgFirst.all(req.params.id, limit + 1);
  const hasMore = rows.length > limit;
  if (hasMore) rows.pop();
  return ({ messages: rows.reverse().map((m) => row(bool(m))), hasMore });
});
fastify.get('/api/runs/:id/messages', async (req, reply) => {
  const r = await runOf.get(req.params.id);
  if (!r) { reply.code(404); return { error: { code: 'NOT_FOUND', message: 'run not found', details: {} } }; }
  const limit = Math.min(Number(req.query.limit) || 100, 1000);
  let ms = r.started_at - 1, id = '';
  if (req.query.after) { ms = Number(req.query.after.split(':')[0]); id = req.query.after.slice(req.query.after.indexOf(':') + 1); }
  const rows = await runMsgs.all(r.agent_id, limit + 1, ms, id, (r.ended_at ?? Date.now()) + 600000, req.params.id);
  const more = rows.length > limit;
  if (more) rows.pop();
  const last = rows[rows.length - 1];
  return ({ messages: rows.map((m) => row(bool(m))), next: more ? `${last.created_at}:${last.id}` : null });
});
fastify.get('/api/dashboard/stats', async (req) => {
  const now = Date.now();
  const fromDay = Math.floor(now / DAY) - 1;
  const s = await stats.get('', fromDay);
  const l = await live.get('');
  const h = await hist.all('', fromDay);
  const recent = (await runsFirst.all(5)).map((r) => row(r, ['tags']));
  return ({ totalRuns: s.runs, liveRuns: l.n, succeeded: s.succeeded, failed: s.failed, stopped: s.stopped, lost: s.lost,
    successRate: s.runs ? s.succeeded / s.runs : null, inputTokens: s.input_tokens + l.i, outputTokens: s.output_tokens + l.o,
    totalTokens: s.input_tokens + l.i + s.output_tokens + l.o, costUsd: s.cost_usd + l.c, latency: h,
    range: '24h', activeCrews: (await crews.get()).n, recentRuns: recent });
});
fastify.listen({ host: '127.0.0.1', port: Number(process.env.PORT) }).then(() => {
  process.stdout.write(`peer ready ${process.env.PORT}\n`);
});
