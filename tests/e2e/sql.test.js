// SPDX-License-Identifier: MIT
// Read-only SQL for agents and scripts (issue #35): POST /api/sql answers one
// SELECT over the caller's organisation's views (runs, series, agents,
// alert_firings, sweeps): "which config had the best reward" in one query.
// Everything else is refused, tried here as an attacker would: the raw
// tables, sqlite_master, another organisation's rows, tokens and settings,
// ATTACH, PRAGMA (and its table-valued functions), load_extension and
// readfile, a second statement, writes and DDL, a recursive CTE that never
// ends (the time bound), blobs that would fill memory (the length bound).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const daemon = require('./lib/daemon');
const { startApi, api } = require('./lib/api');

const M = '/api/2.0/mlflow';
let d, asA, asB;

// An MLflow run with params and a reward curve peaking at peak.
async function run(headers, lr, peak) {
  const cr = await api(d, 'POST', `${M}/runs/create`, { experiment_id: '0', run_name: `lr ${lr}` }, headers);
  assert.equal(cr.status, 200, cr.text);
  const id = cr.body.run.info.run_id;
  const metrics = [0, 1, 2].map((s) => ({ key: 'reward', value: s === 1 ? peak : peak / 2, timestamp: 1700000000000 + s, step: s }));
  const r = await api(d, 'POST', `${M}/runs/log-batch`, { run_id: id, metrics, params: [{ key: 'lr', value: String(lr) }] }, headers);
  assert.equal(r.status, 200, r.text);
  return id;
}

const sql = (query, extra = {}, headers) => api(d, 'POST', '/api/sql', { query, ...extra }, headers || asA);

test.before(async () => {
  d = await startApi();
  const w = await api(d, 'POST', '/api/workspaces', { path: daemon.tmpRepo('agentd-sql-'), name: 'w' });
  assert.equal(w.status, 201, w.text);
  // the owner sees every organisation: the tests ask as an admin of the default one
  const a = await api(d, 'POST', '/api/tokens', { name: 'a', scope: 'read', orgId: 'org_default' });
  asA = { authorization: `Bearer ${a.body.token}` };
  const org = await api(d, 'POST', '/api/orgs', { name: 'sql b' });
  const b = await api(d, 'POST', '/api/tokens', { name: 'b', scope: 'admin', orgId: org.body.id });
  asB = { authorization: `Bearer ${b.body.token}` };
  // org B's admin registers under the roots the owner gave it (issue #73)
  await api(d, 'PATCH', '/api/settings', { workspace_roots: { [org.body.id]: [require('node:os').tmpdir()] } });
  const wb = await api(d, 'POST', '/api/workspaces', { path: daemon.tmpRepo('agentd-sql-b-'), name: 'wb' }, asB);
  assert.equal(wb.status, 201, wb.text);
  await run(undefined, 0.001, 9);
  await run(undefined, 0.01, 4);
  await run(undefined, 0.1, 7);
  await run(asB, 0.5, 1000); // another organisation's best
});
test.after(() => d.cleanup());

// The console is SQLite's alone (its defences are SQLite's authorizer and
// limits): on PostgreSQL it answers 409, and the tests of what it answers skip.
const PG_SKIP = 'on PostgreSQL: the SQL console is SQLite\'s alone (it answers 409 there, tested below)';

test('which config had the best reward: one SELECT over runs and series', async (t) => {
  if (daemon.PG_MODE) { t.skip(PG_SKIP); return; }
  const r = await sql(`SELECT runs.name, json_extract(runs.params, '$.lr') AS lr, s.max_value
    FROM runs JOIN series s ON s.run_id = runs.id WHERE s.name = 'reward' ORDER BY s.max_value DESC LIMIT 1`);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body.columns, ['name', 'lr', 'max_value']);
  assert.deepEqual(r.body.rows, [['lr 0.001', '0.001', 9]], 'the other organisation\'s 1000 is not seen');
  assert.equal(r.body.truncated, false);
  const all = await sql('SELECT count(*) FROM runs');
  assert.deepEqual(all.body.rows, [[3]]);
  const b = await sql('SELECT count(*), max(s.max_value) FROM runs JOIN series s ON s.run_id = runs.id', {}, asB);
  assert.deepEqual(b.body.rows, [[1, 1000]]);
  const ag = await sql("SELECT name, executor FROM agents WHERE name = 'Default'");
  assert.deepEqual(ag.body.rows, [['Default', 'command']]);
  // rows are bounded: truncated says so
  const many = await sql('WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 50) SELECT x FROM c', { limit: 10 });
  assert.equal(many.body.rowCount, 10);
  assert.equal(many.body.truncated, true);
});

test('an attacker gets nothing: raw tables, other orgs, secrets, ATTACH, PRAGMA, extensions, writes, bombs', async (t) => {
  if (daemon.PG_MODE) { t.skip(PG_SKIP); return; }
  const refused = [
    'SELECT * FROM main.runs',
    'SELECT * FROM main.metric_chunks',
    'SELECT * FROM sqlite_master',
    'SELECT * FROM sqlite_temp_master',
    'SELECT * FROM api_tokens',
    'SELECT secret_hash FROM main.api_tokens',
    'SELECT * FROM settings',
    'SELECT (SELECT count(*) FROM main.agents)',
    'SELECT * FROM runs WHERE id IN (SELECT run_id FROM main.metric_series)',
    "ATTACH DATABASE '/tmp/agentd-sql-attack.db' AS x",
    'PRAGMA table_info(runs)',
    "SELECT * FROM pragma_table_info('runs')",
    'SELECT * FROM pragma_database_list',
    "SELECT load_extension('/tmp/nope.so')",
    "SELECT readfile('/etc/passwd')",
    "SELECT fts3_tokenizer('simple')",
    'SELECT sqlite_version()',
    'SELECT 1; DELETE FROM runs',
    'DELETE FROM runs',
    "INSERT INTO runs (id) VALUES ('x')",
    "UPDATE runs SET name = 'x'",
    'CREATE TEMP TABLE t(a)',
    'DROP VIEW runs',
    'BEGIN',
    'SELECT zeroblob(2000000000)',
    'SELECT length(randomblob(100000000))',
    "SELECT printf('%.*c', 100000000, 'x')",
    "SELECT replace(hex(zeroblob(400000)), '0', '0123456789')",
    '',
  ];
  for (const q of refused) {
    const r = await sql(q);
    assert.equal(r.status, 422, `${JSON.stringify(q)} answered ${r.status}: ${r.text}`);
    assert.equal(r.body.error.details.field, 'query', q);
  }
  // the owner sees every organisation
  assert.deepEqual((await api(d, 'POST', '/api/sql', { query: 'SELECT count(*) FROM runs' })).body.rows, [[4]]);
  const slow = await sql('WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c', { timeoutMs: 300 });
  assert.equal(slow.status, 422, slow.text);
  assert.equal(slow.body.error.code, 'QUERY_TIMEOUT');
  // the store is as it was
  assert.deepEqual((await sql('SELECT count(*) FROM runs')).body.rows, [[3]]);
  // bad requests name the field
  assert.equal((await api(d, 'POST', '/api/sql', { query: 'SELECT 1', limit: 0 })).body.error.details.field, 'limit');
  assert.equal((await api(d, 'POST', '/api/sql', {})).body.error.details.field, 'query');
  assert.equal((await fetch(`${d.url}/api/sql`, { method: 'POST', body: '{"query":"SELECT 1"}' })).status, 401);
});

test('on PostgreSQL the console answers 409 and runs nothing', async (t) => {
  if (!daemon.PG_MODE) { t.skip('on SQLite the console serves (tested above)'); return; }
  const r = await sql('SELECT count(*) FROM runs');
  assert.equal(r.status, 409, r.text);
  assert.equal((await fetch(`${d.url}/api/sql`, { method: 'POST', body: '{"query":"SELECT 1"}' })).status, 401);
});
