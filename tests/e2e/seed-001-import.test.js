// SPDX-License-Identifier: MIT
// Seed fidelity, seed 001 (issue #40): Claude Manager keeps everything in
// claude-manager.db; `agentd import` brings an existing install across.
// The test makes that database from the seed's own schema with sqlite3,
// fills every table, imports it, and compares every row with what agentd
// stored (read back with sqlite3 and through the API); a second import
// changes nothing. And agent_sessions, the seed's table no run ever wrote:
// one row per run, with a context snapshot.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { startWithWorktree, api, until, commandAgent, assertError } = require('./lib/api');
const daemon = require('./lib/daemon');

const SCHEMA = path.resolve(__dirname, '..', 'fixtures', 'claude-manager-schema.sql');

function sql(db, text) {
  const r = spawnSync('sqlite3', ['-json', db], { input: text, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim() === '' ? [] : JSON.parse(r.stdout);
}
const q = (s) => (s === null ? 'NULL' : `'${String(s).replace(/'/g, "''")}'`);
const ms = (t) => Date.parse(`${t.replace(' ', 'T')}Z`);

// The seed install: two workspaces, three worktrees, four agents (one
// "running", one a child, one deleted), messages of every role, usage,
// changed settings, a session; and rows agentd must skip, counted.
function seedDb(dir) {
  const db = path.join(dir, 'claude-manager.db');
  assert.equal(spawnSync('sqlite3', [db], { input: fs.readFileSync(SCHEMA) }).status, 0);
  const repo = (n) => { const p = path.join(dir, n); fs.mkdirSync(p, { recursive: true }); return p; };
  const rows = [
    `INSERT INTO workspaces (id, name, path, created_at, updated_at, worktree_count, agent_count) VALUES
      ('6f1c2a9e-0000-4000-8000-000000000001', 'alpha', ${q(repo('alpha'))}, '2025-01-02 03:04:05', '2025-01-03 00:00:00', 2, 3),
      ('6f1c2a9e-0000-4000-8000-000000000002', 'beta', ${q(repo('beta'))}, '2025-02-01 10:00:00', '2025-02-01 10:00:00', 1, 1);`,
    `INSERT INTO worktrees (id, workspace_id, name, branch, path, sort_mode, display_order, is_main, created_at, updated_at) VALUES
      ('wt-a-main', '6f1c2a9e-0000-4000-8000-000000000001', 'main', 'main', ${q(repo('alpha'))}, 'free', 0, 1, '2025-01-02 03:04:05', '2025-01-02 03:04:05'),
      ('wt-a-feat', '6f1c2a9e-0000-4000-8000-000000000001', 'feature', 'feature/x', ${q(repo('alpha-feature'))}, 'status', 1, 0, '2025-01-05 00:00:00', '2025-01-06 00:00:00'),
      ('wt-b-main', '6f1c2a9e-0000-4000-8000-000000000002', 'main', 'trunk', ${q(repo('beta'))}, 'name', 0, 1, '2025-02-01 10:00:00', '2025-02-01 10:00:00');`,
    `INSERT INTO agents (id, worktree_id, name, status, context_level, mode, permissions, display_order, session_id, created_at, updated_at, started_at, stopped_at, deleted_at, parent_agent_id) VALUES
      ('ag-1', 'wt-a-main', 'Planner', 'running', 42, 'plan', '["read","write"]', 0, 'sess-1', '2025-01-02 04:00:00', '2025-01-02 05:00:00', '2025-01-02 04:01:00', NULL, NULL, NULL),
      ('ag-2', 'wt-a-main', 'Helper', 'waiting', 10, 'auto', '["read","write","execute"]', 1, NULL, '2025-01-02 04:30:00', '2025-01-02 04:30:00', NULL, NULL, NULL, 'ag-1'),
      ('ag-3', 'wt-a-feat', 'Old one', 'error', 100, 'regular', '["read"]', 0, 'sess-3', '2025-01-05 01:00:00', '2025-01-05 02:00:00', '2025-01-05 01:00:00', '2025-01-05 02:00:00', '2025-01-07 00:00:00', NULL),
      ('ag-4', 'wt-b-main', 'Beta agent', 'finished', 0, 'regular', '["read"]', 0, NULL, '2025-02-01 11:00:00', '2025-02-01 11:00:00', NULL, NULL, NULL, NULL);`,
    `INSERT INTO messages (id, agent_id, role, content, token_count, tool_name, tool_input, tool_output, created_at, is_complete) VALUES
      ('m-1', 'ag-1', 'user', 'Plan the refactor', 5, NULL, NULL, NULL, '2025-01-02 04:02:00', 1),
      ('m-2', 'ag-1', 'assistant', 'Here is the plan: it''s "three" steps', 40, NULL, NULL, NULL, '2025-01-02 04:03:00', 1),
      ('m-3', 'ag-1', 'tool', '', NULL, 'Read', '{"file":"a.c"}', 'int main(void);', '2025-01-02 04:04:00', 1),
      ('m-4', 'ag-1', 'system', 'context compacted', NULL, NULL, NULL, NULL, '2025-01-02 04:05:00', 0),
      ('m-5', 'ag-4', 'user', 'héllo ✓', 2, NULL, NULL, NULL, '2025-02-01 11:01:00', 1),
      ('bad id with spaces', 'ag-4', 'user', 'skipped: not an id agentd takes', NULL, NULL, NULL, NULL, '2025-02-01 11:02:00', 1);`,
    `INSERT INTO usage_stats (date, period, input_tokens, output_tokens, total_tokens, request_count, error_count, model_usage) VALUES
      ('2025-01-02', 'daily', 1000, 200, 1200, 7, 1, '{"claude-sonnet":1200}'),
      ('2025-01', 'monthly', 5000, 900, 5900, 30, 2, NULL);`,
    `UPDATE settings SET value = 'dark' WHERE key = 'theme';
     UPDATE settings SET value = 'false' WHERE key = 'notifications';`,
    `INSERT INTO agent_sessions (id, agent_id, session_data, context_snapshot, created_at, updated_at) VALUES
      ('s-1', 'ag-1', '{"sessionId":"sess-1"}', '{"contextLevel":42}', '2025-01-02 05:00:00', '2025-01-02 05:00:00');`,
  ];
  for (const r of rows) sql(db, r);
  return db;
}

test('agentd import claude-manager.db: every row of every table arrives, counted; a second import changes nothing', async () => {
  const { d } = await startWithWorktree();
  try {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(d.dataDir, 'cm-')));
    const src = seedDb(dir);
    const cli = (...args) => daemon.run(['--data-dir', d.dataDir, ...args]);
    let c = cli('import', src, '--json');
    assert.equal(c.status, 0, c.stderr);
    const out = JSON.parse(c.stdout);
    const want = { workspaces: [2, 2, 0, 0], worktrees: [3, 3, 0, 0], agents: [4, 4, 0, 0], messages: [6, 5, 0, 1],
      usage_stats: [2, 2, 0, 0], agent_sessions: [1, 1, 0, 0] };
    for (const [t, [source, imported, present, skipped]] of Object.entries(want)) {
      assert.deepEqual(out.tables[t], { source, imported, present, skipped }, t);
    }
    // the seed's six settings: four agentd has with the seed's value or took
    // it (theme, notifications changed), auto_save and the rest it does not know
    const st = out.tables.settings;
    assert.equal(st.source, 6);
    assert.equal(st.source, st.imported + st.present + st.skipped);
    assert.ok(st.imported >= 1, JSON.stringify(st));

    // every row compared, in agentd's own tables
    const db = (text) => daemon.dbRows(d.dataDir, text); // SQLite's file or PostgreSQL
    const seedRows = (t, order) => sql(src, `SELECT * FROM ${t} ORDER BY ${order}`);
    const ours = (t, where, order) => db(`SELECT * FROM ${t} WHERE ${where} ORDER BY ${order}`);
    const ws = ours('workspaces', "id LIKE '6f1c2a9e-%'", 'id');
    assert.deepEqual(ws.map((w) => [w.id, w.name, w.path, w.created_at, w.updated_at, w.org_id]),
      seedRows('workspaces', 'id').map((w) => [w.id, w.name, w.path, ms(w.created_at), ms(w.updated_at), 'org_default']));
    const wts = ours('worktrees', "id LIKE 'wt-%'", 'id');
    assert.deepEqual(wts.map((w) => [w.id, w.workspace_id, w.name, w.branch, w.path, w.sort_mode, w.display_order, w.is_main, w.created_at]),
      seedRows('worktrees', 'id').map((w) => [w.id, w.workspace_id, w.name, w.branch, w.path, w.sort_mode, w.display_order, w.is_main, ms(w.created_at)]));
    const ags = ours('agents', "id LIKE 'ag-%'", 'id');
    assert.deepEqual(ags.map((a) => [a.id, a.worktree_id, a.name, a.executor, a.status, a.context_level, a.mode, a.permissions,
      a.display_order, a.session_id, a.parent_agent_id, a.created_at, a.started_at, a.stopped_at, a.deleted_at]),
    seedRows('agents', 'id').map((a) => [a.id, a.worktree_id, a.name, 'claude', a.status === 'running' ? 'finished' : a.status,
      a.context_level, a.mode, a.permissions, a.display_order, a.session_id, a.parent_agent_id, ms(a.created_at),
      a.started_at && ms(a.started_at), a.stopped_at && ms(a.stopped_at), a.deleted_at && ms(a.deleted_at)]));
    const msgs = ours('messages', "id LIKE 'm-%'", 'id');
    assert.deepEqual(msgs.map((m) => [m.id, m.agent_id, m.role, m.content, m.token_count, m.tool_name, m.tool_input, m.tool_output, m.is_complete, m.created_at]),
      seedRows('messages', 'id').filter((m) => !m.id.includes(' ')).map((m) => [m.id, m.agent_id, m.role, m.content, m.token_count || 0,
        m.tool_name, m.tool_input, m.tool_output, m.is_complete, ms(m.created_at)]));
    const usage = ours('usage_stats', "date LIKE '2025-%'", 'date, period');
    assert.deepEqual(usage.map((u) => [u.date, u.period, u.input_tokens, u.output_tokens, u.total_tokens, u.request_count, u.error_count, JSON.parse(u.model_usage)]),
      seedRows('usage_stats', 'date, period').map((u) => [u.date, u.period, u.input_tokens, u.output_tokens, u.total_tokens, u.request_count, u.error_count, JSON.parse(u.model_usage || '{}')]));
    const sets = Object.fromEntries(db('SELECT key, value FROM settings').map((s) => [s.key, s.value]));
    assert.equal(sets.theme, 'dark');
    const sess = ours('agent_sessions', "id = 's-1'", 'id');
    assert.equal(sess.length, 1);
    assert.equal(JSON.parse(sess[0].context_snapshot).contextLevel, 42);

    // and through the API, as a client sees them
    let r = await api(d, 'GET', '/api/agents/ag-1');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.name, 'Planner');
    assert.equal(r.body.mode, 'plan');
    r = await api(d, 'GET', '/api/agents/ag-1/messages?limit=100');
    assert.deepEqual(r.body.messages.map((m) => m.id).sort(), ['m-1', 'm-2', 'm-3', 'm-4']);
    r = await api(d, 'GET', '/api/workspaces');
    assert.ok(r.body.workspaces.some((w) => w.id === '6f1c2a9e-0000-4000-8000-000000000002' && w.name === 'beta'));
    r = await api(d, 'GET', '/api/agents/ag-1/sessions');
    assert.equal(r.body.sessions[0].id, 's-1');

    // a second import: everything is present, nothing changes
    c = cli('import', src, '--json');
    assert.equal(c.status, 0, c.stderr);
    const again = JSON.parse(c.stdout);
    assert.equal(again.total.imported, 0, JSON.stringify(again.total));
    assert.equal(again.total.source, out.total.source);
    assert.equal(again.tables.messages.present, 5);
    assert.equal(db("SELECT COUNT(*) AS n FROM messages WHERE id LIKE 'm-%'")[0].n, 5);
    c = cli('import', src);
    assert.equal(c.status, 0);
    assert.match(c.stdout, /messages\s+6\s+0\s+5\s+1/);

    // refused clearly: not such a database, no file, not the owner
    const empty = path.join(dir, 'empty.db');
    sql(empty, 'CREATE TABLE x (a);');
    assertError(await api(d, 'POST', '/api/import', { path: empty }), 422, 'VALIDATION_ERROR', 'path');
    assertError(await api(d, 'POST', '/api/import', { path: path.join(dir, 'none.db') }), 422, 'VALIDATION_ERROR', 'path');
    assertError(await api(d, 'POST', '/api/import', { path: 'relative.db' }), 422, 'VALIDATION_ERROR', 'path');
    const admin = (await api(d, 'POST', '/api/tokens', { name: 'a', scope: 'admin' })).body.token;
    r = await api(d, 'POST', '/api/import', { path: src }, { authorization: `Bearer ${admin}` });
    assert.equal(r.status, 403);
    c = cli('import', path.join(dir, 'none.db'));
    assert.equal(c.status, 1);
  } finally {
    await d.stop();
  }
});

test('agent_sessions: each run leaves a session row with a context snapshot', async () => {
  const { d, wt } = await startWithWorktree();
  try {
    const id = await commandAgent(d, wt, ['sh', '-c', 'echo first line; echo second line']);
    for (let i = 0; i < 2; i++) {
      assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, {})).status, 200);
      await until(async () => (await api(d, 'GET', `/api/agents/${id}/sessions`)).body.sessions.length === i + 1, `session ${i + 1}`);
    }
    const runs = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs;
    const s = (await api(d, 'GET', `/api/agents/${id}/sessions`)).body.sessions;
    assert.deepEqual(s.map((x) => x.sessionData.runId).sort(), runs.map((x) => x.id).sort());
    const snap = s[0].contextSnapshot;
    assert.equal(typeof snap.contextLevel, 'number');
    assert.equal(typeof snap.inputTokens, 'number');
    assert.ok(snap.messageCount >= 1, JSON.stringify(snap));
    assert.ok(JSON.stringify(snap.lastMessages).includes('second line'), JSON.stringify(snap));
    assert.equal(s[0].sessionData.executor, 'command');
    assert.match(s[0].sessionData.status, /succeeded|failed|stopped/);
    assert.equal((await api(d, 'GET', '/api/agents/ag_nope/sessions')).status, 404);
  } finally {
    await d.stop();
  }
});

test('a hostile or damaged claude-manager.db: refused whole, or its bad rows skipped; nothing half-written', async () => {
  const { d } = await startWithWorktree();
  try {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(d.dataDir, 'cmh-')));
    const db = (text) => daemon.dbRows(d.dataDir, text); // SQLite's file or PostgreSQL
    const counts = () => db("SELECT (SELECT COUNT(*) FROM workspaces) AS w, (SELECT COUNT(*) FROM agents) AS a, (SELECT COUNT(*) FROM messages) AS m, (SELECT value FROM settings WHERE key = 'theme') AS theme")[0];
    const before = counts();
    const refused = async (file, what) => {
      assertError(await api(d, 'POST', '/api/import', { path: file }), 422, 'VALIDATION_ERROR', 'path');
      assert.deepEqual(counts(), before, `${what} changed something`);
    };
    const fresh = (name) => {
      const f = path.join(dir, name);
      assert.equal(spawnSync('sqlite3', [f], { input: fs.readFileSync(SCHEMA) }).status, 0);
      return f;
    };

    // not a database at all
    const text = path.join(dir, 'text.db');
    fs.writeFileSync(text, 'SQLite format 3\0 but then nothing of one\n'.repeat(200));
    await refused(text, 'a text file');
    // a real one, its pages damaged after the header: quick_check says no
    const damaged = fresh('damaged.db');
    sql(damaged, `INSERT INTO workspaces (id, name, path) VALUES ('ws-d', 'dmg', '/tmp/dmg');
      INSERT INTO messages (id, agent_id, role, content) SELECT 'mx' || value, 'none', 'user', hex(randomblob(400)) FROM generate_series(1, 200);`);
    const buf = fs.readFileSync(damaged);
    for (let i = 4096 * 3; i < buf.length; i += 997) buf[i] ^= 0x5a;
    fs.writeFileSync(damaged, buf);
    await refused(damaged, 'a damaged file');
    // the seed's tables, one of them a virtual table
    const vt = path.join(dir, 'vtab.db');
    const schema = fs.readFileSync(SCHEMA, 'utf8').replace(/CREATE TABLE messages \([\s\S]*?\n\);/, 'CREATE VIRTUAL TABLE messages USING fts5(id, agent_id, role, content);')
      .replace(/CREATE INDEX idx_messages[^\n]*\n/g, '');
    assert.equal(spawnSync('sqlite3', [vt], { input: schema }).status, 0, 'the fts5 schema');
    await refused(vt, 'a virtual table');
    // a view where a table should be
    const view = fresh('view.db');
    sql(view, 'DROP TABLE usage_stats; CREATE VIEW usage_stats AS SELECT 1 AS date;');
    await refused(view, 'a view');

    // a sound file with rows agentd's API would refuse: skipped, counted; the rest comes
    const bad = fresh('bad.db');
    const ws = (id, p, name = 'w') => `('${id}', '${name}', ${q(p)})`;
    const ok = path.join(dir, 'ok');
    fs.mkdirSync(ok);
    // (a hostile file has whatever schema it likes: here the seed's, its checks off)
    sql(bad, `PRAGMA ignore_check_constraints = ON;
      INSERT INTO workspaces (id, name, path) VALUES ${ws('ws-ok', ok)}, ${ws('ws-rel', 'relative/dir')},
        ${ws('ws-nl', `${ok}/a\nb`)}, ${ws('ws-long', `${ok}/long`, 'n'.repeat(300))};
      INSERT INTO worktrees (id, workspace_id, name, branch, path) VALUES
        ('wt-ok', 'ws-ok', 'main', 'main', ${q(ok)}),
        ('wt-opt', 'ws-ok', 'opt', '--upload-pack=touch /tmp/x', ${q(`${ok}/opt`)});
      INSERT INTO agents (id, worktree_id, name, session_id, permissions, mode) VALUES
        ('ag-inj', 'wt-ok', 'inject', '--dangerously-skip-permissions', '["read", "--dangerously-skip-permissions"]', 'regular'),
        ('ag-comma', 'wt-ok', 'comma', 'sess-ok_1', '["Bash,Edit"]', 'auto'),
        ('ag-mode', 'wt-ok', 'mode', NULL, '["read"]', 'yolo');
      INSERT INTO messages (id, agent_id, role, content) VALUES
        ('m-ok', 'ag-inj', 'user', 'fine'),
        ('m-big', 'ag-inj', 'user', CAST(zeroblob(17 * 1024 * 1024) AS TEXT) || 'x'),
        ('m-role', 'ag-inj', 'root', 'no such role');
      UPDATE settings SET value = 'evil' WHERE key = 'theme';
      UPDATE settings SET value = '500' WHERE key = 'max_context_warning';
      UPDATE settings SET value = 'maybe' WHERE key = 'notifications';
      UPDATE settings SET value = 'auto' WHERE key = 'default_mode';
      INSERT INTO settings (key, value, type) VALUES ('allow_root_auto', 'true', 'boolean'),
        ('workspace_roots', '{"org_default":["/"]}', 'json'), ('daily_token_limit', '1', 'number');
      INSERT INTO agent_sessions (id, agent_id, session_data, context_snapshot) VALUES ('s-bad', 'ag-inj', 'not json', '{broken');`);
    const r = await api(d, 'POST', '/api/import', { path: bad });
    assert.equal(r.status, 200, r.text);
    const t = r.body.tables;
    assert.deepEqual([t.workspaces.imported, t.workspaces.skipped], [1, 3], JSON.stringify(t.workspaces));
    assert.deepEqual([t.worktrees.imported, t.worktrees.skipped], [1, 1]);
    assert.deepEqual([t.agents.imported, t.agents.skipped], [2, 1]);
    assert.deepEqual([t.messages.imported, t.messages.skipped], [1, 2]);
    assert.equal(t.settings.imported, 0, JSON.stringify(t.settings));
    assert.equal(t.agent_sessions.imported, 1);
    const inj = db("SELECT session_id, permissions FROM agents WHERE id = 'ag-inj'")[0];
    assert.deepEqual(inj, { session_id: null, permissions: '["read"]' });
    const comma = db("SELECT session_id, permissions FROM agents WHERE id = 'ag-comma'")[0];
    assert.deepEqual(comma, { session_id: 'sess-ok_1', permissions: '["read"]' });
    assert.equal(db("SELECT value FROM settings WHERE key = 'theme'")[0].value, before.theme);
    // agentd's own settings are the owner's to set here, never a file's
    const own = Object.fromEntries(db("SELECT key, value FROM settings WHERE key IN ('allow_root_auto', 'workspace_roots', 'daily_token_limit')").map((x) => [x.key, x.value]));
    assert.notEqual(own.allow_root_auto, 'true');
    assert.notEqual(db("SELECT value FROM settings WHERE key = 'default_mode'")[0].value, 'auto');
    assert.notEqual(own.workspace_roots, '{"org_default":["/"]}');
    assert.notEqual(own.daily_token_limit, '1');
    assert.equal(t.settings.skipped, t.settings.source - t.settings.present, JSON.stringify(t.settings));
    const sess = db("SELECT session_data, context_snapshot FROM agent_sessions WHERE id = 's-bad'")[0];
    assert.deepEqual(sess, { session_data: '"not json"', context_snapshot: null });
    assert.equal((await api(d, 'GET', '/api/agents/ag-inj/sessions')).status, 200);
  } finally {
    await d.stop();
  }
});
