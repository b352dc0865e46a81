// SPDX-License-Identifier: MIT
// Issue #39, the first slice: `agentd db migrate` and `agentd db copy` into
// a real PostgreSQL 15 (tests/e2e/lib/pg.js), and the refusals around them.
// One server and one daemon for the file: the daemon makes real data on
// SQLite through the REST API, is stopped, and its database is copied.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { api, until, startWithWorktree, endedRun, allMessages } = require('./lib/api');
const { run, runAsync, start } = require('./lib/daemon');
const { freePort } = require('./lib/redis');
const { startPostgres } = require('./lib/pg');

let pg;
let d;
let dataDir;
let runId;
let agentId;
const TEXT = 'tab\there back\\slash "quoted" \'single\' é';

// sqlite3's answer to one query on the stopped daemon's database.
function sqlite(sql) {
  const r = spawnSync('sqlite3', ['-readonly', '-separator', '\t', path.join(dataDir, 'agentd.db'), sql],
    { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}

test.before(async () => {
  pg = await startPostgres();
  const s = await startWithWorktree({ sqlite: true }); // the copy's source
  d = s.d;
  dataDir = d.dataDir;
  // a command agent whose run wrote messages (one with a tab and a backslash)
  runId = await endedRun(d, s.wt, ['printf', '%s\\n', 'first line', TEXT]);
  agentId = (await api(d, 'GET', `/api/runs/${runId}`)).body.agentId;
  await until(async () => (await allMessages(d, agentId)).some((m) => m.content.includes('back\\slash')),
    'the run\'s output stored as messages');
  assert.equal((await api(d, 'PATCH', '/api/settings', { theme: 'dark' })).status, 200);
  assert.equal((await api(d, 'POST', '/api/tokens', { name: 'pg-reader', scope: 'read' })).status, 201);
  const pts = [];
  for (let i = 0; i < 50; i++) pts.push({ name: 'loss', step: i, value: 1 / (i + 1) });
  const m = await api(d, 'POST', `/api/runs/${runId}/metrics`, { points: pts });
  assert.equal(m.status, 200, m.text);
});

test.after(async () => {
  if (d) await d.cleanup();
  if (pg) pg.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

test('db copy refuses a database its daemon holds, and names the daemon', () => {
  const url = pg.createDb('held');
  const r = run(['db', 'copy', '--from', `sqlite:${dataDir}`, '--to', url]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /in use by another agentd \(pid \d+\): stop that daemon/);
  // nothing was written, not even the schema
  assert.deepEqual(pg.psql('held', "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), [['0']]);
});

test('bad URLs, an unreachable server, refused credentials, a missing database: clear errors', async () => {
  let r = run(['db', 'migrate', '--database', 'mysql://x@y/z']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /not a PostgreSQL URL: it must start with postgres:\/\//);
  r = run(['db', 'migrate', '--database', 'postgres://x@y/z?nosuchoption=1']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /bad PostgreSQL URL: .*nosuchoption/);
  // libpq quotes a bad %-escape: the password it sits in is blanked
  r = run(['db', 'migrate', '--database', 'postgres://u:s3cret%zz@127.0.0.1/x']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /bad PostgreSQL URL: invalid percent-encoded token: "\*\*\*"/);
  assert.doesNotMatch(r.stderr, /s3cret/);
  r = run(['db', 'migrate'], { env: { AGENTD_DATABASE_URL: '' } });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /no database: give --database/);
  const closed = await freePort(); // nothing listens there
  r = run(['db', 'migrate', '--database', `postgres://agentd@127.0.0.1:${closed}/x`]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cannot reach the PostgreSQL server: .*127\.0\.0\.1/);
  r = run(['db', 'migrate', '--database', pg.tcpUrl('postgres', 'wrong-password')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /PostgreSQL refused the credentials: .*password authentication failed/);
  assert.doesNotMatch(r.stderr, /wrong-password/);
  r = run(['db', 'migrate', '--database', pg.url('nosuchdb')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no such PostgreSQL database: .*nosuchdb/);
});

test('db copy refuses a SQLite file that is not this agentd\'s database', () => {
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'agentd-pg-src-'));
  try {
    const make = (name, sql) => {
      const f = path.join(dir, name);
      assert.equal(spawnSync('sqlite3', [f, sql]).status, 0);
      return f;
    };
    let r = run(['db', 'copy', '--from', `sqlite:${make('plain.db', 'CREATE TABLE x (a)')}`, '--to', pg.url('held')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /the SQLite file is not an agentd database \(no schema_migrations/);
    r = run(['db', 'copy', '--from', `sqlite:${make('old.db', "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at INTEGER, checksum TEXT); INSERT INTO schema_migrations VALUES (1, '0001_init.sql', 0, 'x')")}`,
      '--to', pg.url('held')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /made by another agentd version \(1 migrations recorded, this binary has \d+\): start this agentd on it once/);
    r = run(['db', 'copy', '--from', 'mysql://x/y', '--to', pg.url('held')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--from takes sqlite:PATH/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('db migrate applies every migration once; a second run applies nothing', () => {
  const url = pg.createDb('one');
  const first = run(['db', 'migrate', '--database', url]);
  assert.equal(first.status, 0, first.stderr);
  const m = first.stdout.match(/^applied (\d+) of (\d+) migrations$/m);
  assert.ok(m, first.stdout);
  assert.equal(m[1], m[2]);
  const known = Number(m[2]);
  assert.equal(known, sqlite('SELECT count(*) FROM schema_migrations')[0][0] * 1);
  // the same versions and checksums as SQLite's record
  assert.deepEqual(pg.psql('one', 'SELECT version, name, checksum FROM schema_migrations ORDER BY version'),
    sqlite('SELECT version, name, checksum FROM schema_migrations ORDER BY version'));
  const again = run(['db', 'migrate'], { env: { AGENTD_DATABASE_URL: url } });
  assert.equal(again.status, 0, again.stderr);
  assert.equal(again.stdout.trim(), `nothing to apply: all ${known} migrations are recorded`);
  // the dialect's differences: 64-bit times, identities, bytea, widened CHECKs
  assert.deepEqual(pg.psql('one', "SELECT data_type FROM information_schema.columns WHERE table_name = 'runs' AND column_name = 'started_at'"), [['bigint']]);
  assert.deepEqual(pg.psql('one', "SELECT is_identity FROM information_schema.columns WHERE table_name = 'audit_log' AND column_name = 'id'"), [['YES']]);
  assert.deepEqual(pg.psql('one', "SELECT data_type FROM information_schema.columns WHERE table_name = 'metric_chunks' AND column_name = 'data'"), [['bytea']]);
  assert.match(pg.psql('one', "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'agents_executor_check'")[0][0], /'acp'/);
  assert.throws(() => pg.psql('one', "INSERT INTO panel_layouts VALUES ('o', 's', 'not json', 0)"), /panel_layouts_layout_check/);
});

test('the migrations\' triggers keep the aggregates on PostgreSQL as on SQLite', () => {
  const q = (sql) => pg.psql('one', sql);
  q("INSERT INTO workspaces (id, name, path, created_at, updated_at) VALUES ('ws_t', 'w', '/nowhere', 1, 1)");
  q("INSERT INTO worktrees (id, workspace_id, name, path, created_at, updated_at) VALUES ('wt_t', 'ws_t', 'main', '/nowhere', 1, 1)");
  q("INSERT INTO agents (id, worktree_id, name, executor, crew_id, created_at, updated_at) VALUES ('a_t', 'wt_t', 'a', 'command', 'crew_t', 1, 1)");
  const day = 20000;
  q(`INSERT INTO runs (id, agent_id, started_at, status) VALUES ('r_t', 'a_t', ${day * 86400000}, 'running')`);
  q("INSERT INTO messages (id, agent_id, run_id, role, content, created_at) VALUES ('m_t1', 'a_t', 'r_t', 'assistant', 'hello', 5), ('m_t2', 'a_t', 'r_t', 'tool', 'out', 6)");
  // a new run takes its agent's org and crew
  assert.deepEqual(q("SELECT org_id, crew_id FROM runs WHERE id = 'r_t'"), [['org_default', 'crew_t']]);
  q(`UPDATE runs SET status = 'succeeded', ended_at = ${day * 86400000 + 1234}, duration_ms = 1234, cost_usd = 0.5 WHERE id = 'r_t'`);
  q(`INSERT INTO runs (id, agent_id, started_at, ended_at, duration_ms, status) VALUES ('r_t2', 'a_t', ${day * 86400000}, ${day * 86400000 + 7}, 7, 'failed')`);
  assert.deepEqual(q(`SELECT runs, succeeded, failed, cost_usd FROM run_stats WHERE day = ${day}`), [['2', '1', '1', '0.5']]);
  assert.deepEqual(q(`SELECT bucket, count FROM latency_hist WHERE day = ${day} ORDER BY bucket`), [['17', '1'], ['41', '1']]);
  assert.deepEqual(q(`SELECT node, runs, ms FROM agent_time WHERE day = ${day}`), [['control-plane', '2', '1241']]);
  // usage by agent per day, week (from Monday) and month, as the runs end (day 20000 is Friday 2024-10-04)
  assert.deepEqual(q('SELECT kind, start_day, runs, cost_usd FROM agent_usage ORDER BY kind'),
    [['d', '20000', '2', '0.5'], ['m', '19997', '2', '0.5'], ['w', '19996', '2', '0.5']]);
  const snap = JSON.parse(q("SELECT context_snapshot FROM agent_sessions WHERE id = 'as_r_t'")[0][0]);
  assert.equal(snap.messageCount, 2);
  assert.deepEqual(snap.lastMessages.map((m) => m.content), ['out', 'hello']);
  // a status change with no reason is explained as such, and every reason kept
  q("UPDATE agents SET status = 'running', updated_at = 99 WHERE id = 'a_t'");
  q(`UPDATE agents SET status = 'idle', status_reason = '{"code":"turn_done","text":"done","at":123,"ref":"r_t"}' WHERE id = 'a_t'`);
  assert.deepEqual(q("SELECT status, code, ref, at FROM agent_status_history WHERE agent_id = 'a_t' ORDER BY id"),
    [['running', 'unexplained', '', '99'], ['idle', 'turn_done', 'r_t', '123']]);
  // left as a fresh database for the copy below
  q("DELETE FROM workspaces; DELETE FROM run_stats; DELETE FROM latency_hist; DELETE FROM agent_time; DELETE FROM agent_status_history; DELETE FROM agent_usage");
});

test('two migrates at once apply the migrations once', async () => {
  const url = pg.createDb('two');
  const [a, b] = await Promise.all([runAsync(['db', 'migrate', '--database', url]),
    runAsync(['db', 'migrate', '--database', url])]);
  assert.equal(a.status, 0, a.stderr);
  assert.equal(b.status, 0, b.stderr);
  const outs = [a.stdout, b.stdout].sort();
  assert.match(outs[0], /^applied \d+ of \d+ migrations/);
  assert.match(outs[1], /^nothing to apply/);
  assert.deepEqual(pg.psql('two', 'SELECT count(*) = count(DISTINCT version) FROM schema_migrations'), [['t']]);
});

test('db copy copies every row, counts each table on both sides, and refuses a second copy', async () => {
  await d.stop();
  const missing = run(['db', 'copy', '--from', `sqlite:${dataDir}/nope.db`, '--to', pg.url('one')]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no SQLite database at .*nope\.db/);

  const r = run(['db', 'copy', '--from', `sqlite:${path.join(dataDir, 'agentd.db')}`, '--to', pg.url('one')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /copied \d+ rows in \d+ tables: every count matches/);
  // every table, counted independently on both sides
  // every ordinary table (not search's FTS5 index, SQLite's own: PostgreSQL has its own)
  const tables = sqlite("SELECT name FROM pragma_table_list WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").map((x) => x[0]);
  assert.ok(tables.includes('messages') && tables.includes('metric_chunks'), tables.join(' '));
  const counts = tables.map((t) => `SELECT '${t}', count(*) FROM "${t}"`).join(' UNION ALL ');
  const want = sqlite(counts);
  assert.deepEqual(pg.psql('one', counts), want);
  for (const [t, n] of want) {
    if (t !== 'schema_migrations') assert.match(r.stdout, new RegExp(`^${t}\\s+${n}\\s+${n}$`, 'm'));
  }
  assert.ok(Number(sqlite('SELECT count(*) FROM messages')[0][0]) > 0);
  // values as they were: text with a tab and a backslash, settings, tokens, blobs, reals
  const msgSql = `SELECT content FROM messages WHERE agent_id = '${agentId}' AND content LIKE '%slash%'`;
  assert.deepEqual(pg.psql('one', msgSql.replace('content FROM', "replace(content, chr(9), '<TAB>') FROM")),
    sqlite(msgSql.replace('content FROM', "replace(content, char(9), '<TAB>') FROM")));
  assert.ok(pg.psql('one', msgSql.replace('content FROM', 'position(chr(9) in content) > 0 FROM')).every((x) => x[0] === 't'));
  assert.deepEqual(pg.psql('one', "SELECT value FROM settings WHERE key = 'theme'"), [['dark']]);
  assert.deepEqual(pg.psql('one', "SELECT name, scope, secret_hash FROM api_tokens WHERE name = 'pg-reader'"),
    sqlite("SELECT name, scope, secret_hash FROM api_tokens WHERE name = 'pg-reader'"));
  assert.deepEqual(pg.psql('one', "SELECT name, seq, md5(data) FROM metric_chunks ORDER BY name, seq"),
    sqlite("SELECT name, seq, lower(hex(data)) FROM metric_chunks ORDER BY name, seq").map(([n, s, h]) =>
      [n, s, require('node:crypto').createHash('md5').update(Buffer.from(h, 'hex')).digest('hex')]));
  assert.deepEqual(pg.psql('one', `SELECT status, exit_code, started_at FROM runs WHERE id = '${runId}'`),
    sqlite(`SELECT status, exit_code, started_at FROM runs WHERE id = '${runId}'`));
  // an identity goes on after the copied ids
  const maxId = Number(sqlite('SELECT COALESCE(max(id), 0) FROM audit_log')[0][0]);
  const next = pg.psql('one', "INSERT INTO audit_log (ts, token_name, org_id, method, route, status, remote) VALUES (1, 't', '', 'GET', '/', 200, 'x') RETURNING id");
  assert.ok(Number(next[0][0]) > maxId, `${next[0][0]} > ${maxId}`);
  // the aggregates the triggers keep are SQLite's, not counted again by the copy's inserts
  for (const sql of ['SELECT org_id, day, runs, succeeded, failed, input_tokens FROM run_stats ORDER BY 1, 2',
    'SELECT org_id, day, kind, bucket, count FROM latency_hist ORDER BY 1, 2, 3, 4',
    'SELECT org_id, day, agent_id, node, runs, ms FROM agent_time ORDER BY 1, 2, 3, 4',
    'SELECT id, org_id, crew_id FROM runs ORDER BY id',
    'SELECT agent_id, CAST(round(cost_usd * 1000000) AS INTEGER), total_tokens FROM agent_totals ORDER BY 1',
    'SELECT id, run_no FROM runs ORDER BY id',
    'SELECT kind, start_day, agent_id, runs, input_tokens, CAST(round(cost_usd * 1000000) AS INTEGER) FROM agent_usage ORDER BY 1, 2, 3']) {
    const want = sqlite(sql);
    assert.ok(want.length > 0, sql);
    assert.deepEqual(pg.psql('one', sql), want, sql);
  }
  // agentd's triggers were held off for the copy only
  assert.deepEqual(pg.psql('one', "SELECT count(*), count(*) FILTER (WHERE tgenabled = 'O') FROM pg_trigger WHERE tgname LIKE 'agent%' OR tgname LIKE 'runs_%'"), [['16', '16']]);

  const again = run(['db', 'copy', '--from', `sqlite:${dataDir}`, '--to', pg.url('one')]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /the target database is not empty \(table \w+ has rows\)/);
  assert.deepEqual(pg.psql('one', "SELECT count(*) FROM api_tokens WHERE name = 'pg-reader'"), [['1']]);
});

test('a copy whose counts differ commits nothing and says which table', () => {
  // a target that loses rows on the way in: a trigger dropping every message
  const url = pg.createDb('lossy');
  assert.equal(run(['db', 'migrate', '--database', url]).status, 0);
  pg.psql('lossy', "CREATE FUNCTION lose() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END'");
  pg.psql('lossy', 'CREATE TRIGGER lose BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION lose()');
  const r = run(['db', 'copy', '--from', `sqlite:${dataDir}`, '--to', url]);
  assert.equal(r.status, 1, r.stdout);
  const n = sqlite('SELECT count(*) FROM messages')[0][0];
  assert.match(r.stdout, new RegExp(`^messages\\s+${n}\\s+0  DIFFERS$`, 'm'));
  assert.match(r.stderr, /1 table\(s\) hold a different number of rows after the copy: nothing was committed/);
  assert.deepEqual(pg.psql('lossy', 'SELECT count(*) FROM workspaces'), [['0']]);
  assert.deepEqual(pg.psql('lossy', "SELECT count(*) FROM settings WHERE key = 'theme' AND value = 'dark'"), [['0']]);
});

test('the daemon starts again on its SQLite database after the copy', async () => {
  d = await start({ dataDir, needUrl: true, sqlite: true });
  const r = await api(d, 'GET', `/api/runs/${runId}`);
  assert.equal(r.status, 200);
  assert.equal(r.body.id, runId);
});
