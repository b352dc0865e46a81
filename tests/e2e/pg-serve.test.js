// SPDX-License-Identifier: MIT
// Issue #39: `agentd serve --database postgres://…` keeps the tables in
// PostgreSQL (tests/e2e/lib/pg.js starts a throwaway server): migrated at
// start, served through the REST API, found again after a restart, the
// backend named by /api/health, and the URL's password nowhere it is shown.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { api, makeAgent } = require('./lib/api');
const { run, start, tmpDir, tmpRepo } = require('./lib/daemon');
const { startPostgres } = require('./lib/pg');

const PASSWORD = 'agentd-test-password';
let pg;

test.before(async () => {
  pg = await startPostgres();
});

test.after(() => {
  if (pg) pg.stop();
});

test('serve --database keeps the tables in PostgreSQL, across a restart', async () => {
  pg.createDb('served');
  const url = pg.tcpUrl('served');
  const dataDir = tmpDir();
  let d = await start({ dataDir, needUrl: true, env: { AGENTD_DATABASE_URL: url } });
  try {
    const h = await api(d, 'GET', '/api/health');
    assert.equal(h.status, 200);
    assert.equal(h.body.database.backend, 'postgres');
    assert.equal(h.body.database.up, true);
    assert.ok(!h.text.includes(PASSWORD));
    // the schema is there, migrated by the daemon
    assert.ok(Number(pg.psql('served', 'SELECT count(*) FROM schema_migrations')[0][0]) > 40);
    const repo = tmpRepo('pg-ws-', dataDir);
    const ws = await api(d, 'POST', '/api/workspaces', { path: repo, name: 'pg' });
    assert.equal(ws.status, 201, ws.text);
    const ag = await makeAgent(d, ws.body.worktrees[0].id, { name: 'on-postgres' });
    assert.deepEqual(pg.psql('served', `SELECT name FROM agents WHERE id = '${ag.id}'`), [['on-postgres']]);
    await d.stop();
    d = await start({ dataDir, needUrl: true, env: { AGENTD_DATABASE_URL: url } });
    const got = await api(d, 'GET', `/api/agents/${ag.id}`);
    assert.equal(got.status, 200, got.text);
    assert.equal(got.body.name, 'on-postgres');
    // nothing of the tables in the data dir's SQLite file
    assert.ok(!fs.existsSync(path.join(dataDir, 'agentd.db')));
  } finally {
    await d.cleanup();
    assert.ok(!d.stderr.includes(PASSWORD), 'the password stays out of the log');
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('serve --database names what went wrong, never the password', () => {
  const dataDir = tmpDir();
  try {
    const r = run(['serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0',
      '--database', pg.tcpUrl('served', 'wrong-' + PASSWORD)]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /PostgreSQL refused the credentials/);
    assert.ok(!r.stderr.includes('wrong-' + PASSWORD));
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
