// SPDX-License-Identifier: MIT
// Durability and start-up checks of the store: 1,000 acknowledged writes
// survive kill -9 and the file passes integrity_check; a corrupt file, a
// changed migration and a newer database each refuse to start with one
// clear line; a full disk answers 507 while reads keep working.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { startApi, assertError, makeWorkspace, makeAgent } = require('./lib/api');

// Every page summed again after the sqlite3 shell wrote to the file.
function resum(dataDir) {
  const r = daemon.run(['--data-dir', dataDir, 'db', 'resum']);
  assert.equal(r.status, 0, r.stdout + r.stderr);
}

function sqlite(db, sql) {
  const r = spawnSync('sqlite3', [db, sql], { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

async function allMessages(d, agentId) {
  const ids = [];
  let cursor = null;
  for (let i = 0; i < 100; i++) {
    const q = cursor ? `?limit=200&before=${encodeURIComponent(cursor)}` : '?limit=200';
    const r = await d.req('GET', `/api/agents/${agentId}/messages${q}`);
    assert.equal(r.status, 200);
    ids.push(...r.body.messages.map((m) => m.id));
    if (!r.body.hasMore) break;
    cursor = r.body.nextCursor;
  }
  return ids;
}

test('1,000 acknowledged writes survive kill -9', async () => {
  const dataDir = daemon.tmpDir();
  let d = await startApi({ dataDir });
  const { wt } = await makeWorkspace(d);
  const agent = await makeAgent(d, wt.id);
  const acked = [];
  for (let i = 0; i < 1000; i += 50) {
    const batch = await Promise.all(Array.from({ length: 50 }, (_, k) =>
      d.req('POST', `/api/agents/${agent.id}/messages`, { content: `durable ${i + k}` })));
    for (const r of batch) {
      assert.equal(r.status, 201);
      acked.push(r.body.id);
    }
  }
  assert.equal(acked.length, 1000);
  const killed = await d.stop('SIGKILL');
  assert.equal(killed.signal, 'SIGKILL');

  d = await startApi({ dataDir });
  try {
    const ids = await allMessages(d, agent.id);
    assert.equal(ids.length, 1000);
    assert.deepEqual([...ids].sort(), [...acked].sort());
    assert.equal((await d.req('GET', `/api/agents/${agent.id}`)).status, 200);
  } finally {
    await d.stop();
  }
  if (!daemon.PG_MODE) { // on PostgreSQL the tables are not in the file
    assert.equal(sqlite(path.join(dataDir, 'agentd.db'), 'PRAGMA integrity_check'), 'ok');
    assert.equal(sqlite(path.join(dataDir, 'agentd.db'), 'SELECT count(*) FROM messages'), '1000');
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('--durability full works the same way', async (t) => {
  if (daemon.PG_MODE) {
    t.skip('on PostgreSQL: --durability sets SQLite\'s synchronous; the server keeps its own');
    return;
  }
  const d = await startApi({ args: ['--durability', 'full'] });
  try {
    const { wt } = await makeWorkspace(d);
    const a = await makeAgent(d, wt.id);
    assert.equal((await d.req('GET', `/api/agents/${a.id}`)).status, 200);
    assert.match(d.stderr, /synchronous=full/);
  } finally {
    await d.cleanup();
  }
});

function refuses(dataDir) {
  const r = daemon.run(['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir]);
  assert.equal(r.status, 1, `expected exit 1; stderr: ${r.stderr}`);
  return r.stderr;
}

test('a corrupt database refuses to start, naming the file', () => {
  const dataDir = daemon.tmpDir();
  const db = path.join(dataDir, 'agentd.db');
  fs.writeFileSync(db, 'this is not a database '.repeat(300));
  const err = refuses(dataDir);
  assert.match(err, /^agentd: .*corrupt/m);
  assert.ok(err.includes(db), err);
  // and it was not touched
  assert.equal(fs.readFileSync(db, 'utf8'), 'this is not a database '.repeat(300));
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('a changed migration or a newer database refuses to start', async (t) => {
  if (daemon.PG_MODE) {
    t.skip('on PostgreSQL: the test edits the SQLite file\'s schema_migrations');
    return;
  }
  const dataDir = daemon.tmpDir();
  const db = path.join(dataDir, 'agentd.db');
  const d = await startApi({ dataDir });
  await d.stop();
  sqlite(db, "UPDATE schema_migrations SET checksum = 'deadbeef' WHERE version = 1");
  resum(dataDir); // the shell's pages carry no page checksum (issue #78)
  let err = refuses(dataDir);
  assert.match(err, /^agentd: .*0001_init\.sql.*checksum/m);
  assert.ok(err.includes(db));

  // A fresh database, then a migration this binary does not know.
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.mkdirSync(dataDir);
  const d2 = await startApi({ dataDir });
  await d2.stop();
  sqlite(db, "INSERT INTO schema_migrations VALUES (9000, '9000_future.sql', 0, 'x')");
  resum(dataDir);
  err = refuses(dataDir);
  assert.match(err, /^agentd: .*newer.*9000_future\.sql/m);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('a full disk answers 507 and reads keep working', async (t) => {
  if (daemon.PG_MODE) {
    t.skip('on PostgreSQL: the full-disk hook caps SQLite\'s file');
    return;
  }
  const dataDir = daemon.tmpDir();
  let d = await startApi({ dataDir });
  const { wt } = await makeWorkspace(d);
  const agent = await makeAgent(d, wt.id);
  await d.stop();
  d = await startApi({ dataDir, env: { AGENTD_TEST_DB_FULL: '1' } });
  try {
    if (!/test hook: database capped/.test(d.stderr)) {
      t.skip('the full-disk hook exists only in test builds');
      return;
    }
    const big = 'x'.repeat(200000);
    const r = await d.req('POST', `/api/agents/${agent.id}/messages`, { content: big });
    assertError(r, 507, 'INSUFFICIENT_STORAGE');
    // reads keep working, and the daemon keeps serving
    assert.equal((await d.req('GET', `/api/agents/${agent.id}`)).status, 200);
    const page = await d.req('GET', `/api/agents/${agent.id}/messages`);
    assert.equal(page.status, 200);
    assert.equal(page.body.messages.length, 0);
    assertError(await d.req('POST', `/api/agents/${agent.id}/messages`, { content: big }), 507, 'INSUFFICIENT_STORAGE');
  } finally {
    await d.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
