// SPDX-License-Identifier: MIT
// The runs table's filter (issue #73): text against a number (a metric,
// startedAt, duration) answered 500 on PostgreSQL, whose statement refused
// the comparison; it is a 422 naming the filter on both engines, and a
// number still filters.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { api } = require('./lib/api');
const { PG_BIN, startPostgres } = require('./lib/pg');

const hasPg = fs.existsSync(path.join(PG_BIN, 'initdb'));

async function bad(d) {
  for (const f of ['reward.final>abc', 'loss.best<=1e999', 'duration>soon', 'startedAt<yesterday', 'reward.final=']) {
    const r = await api(d, 'GET', `/api/training/runs?metrics=reward,loss:min&filter=${encodeURIComponent(f)}`);
    assert.equal(r.status, 422, `${f}: ${r.status} ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error.code, 'VALIDATION_ERROR');
    assert.equal(r.body.error.details.field, 'filter');
  }
  for (const f of ['reward.final>0.5', 'duration>=0', 'startedAt>0', 'status=succeeded', 'lr=abc']) {
    const r = await api(d, 'GET', `/api/training/runs?metrics=reward&filter=${encodeURIComponent(f)}`);
    assert.equal(r.status, 200, `${f}: ${JSON.stringify(r.body)}`);
  }
}

test('a text filter against a number is 422 on SQLite', async (t) => {
  const d = await daemon.start({ needUrl: true, sqlite: true });
  t.after(() => d.cleanup());
  await bad(d);
});

test('a text filter against a number is 422 on PostgreSQL', { skip: hasPg ? false : `no PostgreSQL 15 (${PG_BIN})` }, async (t) => {
  const pg = await startPostgres();
  t.after(() => pg.stop());
  const d = await daemon.start({ needUrl: true, env: { AGENTD_DATABASE_URL: pg.createDb('filter') } });
  t.after(() => d.cleanup());
  await bad(d);
});
