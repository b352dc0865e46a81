// SPDX-License-Identifier: MIT
// Issue #39: `agentd db copy` of the databases the full e2e suite made. The
// SQLite pass (make e2e) keeps the database of every daemon a test stopped
// cleanly (AGENTD_TEST_KEEP_DBS, tests/e2e/lib/daemon.js); this file, run by
// `make e2e-copy` after it with a throwaway PostgreSQL (tests/unit/with-pg.sh),
// counts every table of each kept file, then copies, for every table, the
// file where the suite left the most rows of it (and the largest files), each
// into a fresh database made from a migrated template, and counts every
// table on both sides itself, apart from the copy's own count. Copying all
// ~250 files took 5.5 minutes for little more: most are a few rows.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { run, runAsync } = require('./lib/daemon');
const { attachPostgres } = require('./lib/pg');

const KEPT = process.env.AGENTD_TEST_KEPT_DBS || '';
const PG_URL = process.env.AGENTD_TEST_PG_URL || '';
const TEMPLATE = 'agentd_copy_template';
const JOBS = 2;
const LARGEST = 3; // the biggest files go too, whatever their tables

// Each table's row count in one SQLite file: Map table -> count.
function sqliteCounts(file, tables) {
  const sql = tables.map((t) => `SELECT '${t}', count(*) FROM "${t}"`).join(' UNION ALL ') + ';';
  return new Promise((resolve, reject) => {
    const p = spawn('sqlite3', ['-readonly', '-separator', '\t', file, sql]);
    let out = '';
    let err = '';
    p.stdout.setEncoding('utf8').on('data', (s) => (out += s));
    p.stderr.setEncoding('utf8').on('data', (s) => (err += s));
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`sqlite3 ${file}: ${err}`));
      resolve(new Map(out.split('\n').filter((l) => l !== '').map((l) => {
        const [t, n] = l.split('\t');
        return [t, Number(n)];
      })));
    });
  });
}

// Runs fn over items, JOBS at a time.
async function each(items, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: JOBS }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  }));
}

test('db copy of what the e2e suite made: every table, where the suite filled it most, counts the same on both sides', async () => {
  assert.ok(KEPT && PG_URL, 'run this through make e2e-copy (it needs AGENTD_TEST_KEPT_DBS and AGENTD_TEST_PG_URL)');
  assert.ok(fs.existsSync(KEPT), `no kept databases at ${KEPT}: run make e2e first`);
  const files = fs.readdirSync(KEPT).filter((n) => !n.endsWith('.part')) // a copy under way (lib/daemon.js)
    .map((n) => path.join(KEPT, n, 'agentd.db'))
    .filter((f) => fs.existsSync(f)).sort();
  // the suite starts hundreds of daemons; a handful means the keeping broke
  assert.ok(files.length >= 100, `only ${files.length} databases kept in ${KEPT}`);

  const pg = attachPostgres(PG_URL);
  pg.createDb(TEMPLATE);
  const m = run(['db', 'migrate', '--database', pg.url(TEMPLATE)], { timeout: 120000 });
  assert.equal(m.status, 0, m.stderr);

  // the tables both sides have (every kept file has this binary's schema;
  // PostgreSQL keeps a few of its own, empty: docs/operations.md)
  const lite = spawnSync('sqlite3', ['-readonly', files[0],
    "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%';"], { encoding: 'utf8' });
  assert.equal(lite.status, 0, lite.stderr);
  const inLite = new Set(lite.stdout.split('\n').filter((l) => l !== ''));
  const tables = pg.psql(TEMPLATE,
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations' ORDER BY 1")
    .map((r) => r[0]).filter((t) => inLite.has(t));
  assert.ok(tables.length > 20, tables.join(' '));

  // every kept file counted; for each table, the file with the most of it
  const counts = new Array(files.length);
  await each(files, async (f, i) => { counts[i] = await sqliteCounts(f, tables); });
  const totals = new Map(tables.map((t) => [t, 0]));
  const best = new Map(); // table -> index of the file with the most rows of it
  for (let i = 0; i < files.length; i++) {
    for (const [t, n] of counts[i]) {
      totals.set(t, totals.get(t) + n);
      if (n > 0 && (!best.has(t) || n > counts[best.get(t)].get(t))) best.set(t, i);
    }
  }
  const bySize = files.map((f, i) => [fs.statSync(f).size, i]).sort((a, b) => b[0] - a[0]);
  const chosen = [...new Set([...best.values(), ...bySize.slice(0, LARGEST).map(([, i]) => i)])].sort((a, b) => a - b);

  const countSql = tables.map((t) => `SELECT '${t}', count(*)::text FROM "${t}"`).join(' UNION ALL ');
  const failures = [];
  let copied = 0;
  const started = process.hrtime.bigint();
  try {
    await each(chosen, async (i) => {
      const name = `copy${i}`;
      pg.createDb(name, TEMPLATE);
      try {
        const r = await runAsync(['db', 'copy', '--from', `sqlite:${files[i]}`, '--to', pg.url(name)], { timeout: 120000 });
        if (r.status !== 0 || !/every count matches/.test(r.stdout)) {
          failures.push(`${files[i]}: exit ${r.status}: ${r.stderr.trim() || r.stdout.trim()}`);
          return;
        }
        const want = tables.map((t) => [t, String(counts[i].get(t))]);
        const got = pg.psql(name, countSql);
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          failures.push(`${files[i]}: counts differ: sqlite ${JSON.stringify(want)} postgres ${JSON.stringify(got)}`);
          return;
        }
        copied += tables.reduce((s, t) => s + counts[i].get(t), 0);
      } finally {
        pg.dropDbs([name]);
      }
    });
  } finally {
    pg.dropDbs([TEMPLATE]);
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const empty = tables.filter((t) => totals.get(t) === 0);
  const suiteRows = [...totals.values()].reduce((s, n) => s + n, 0);
  console.log(`# ${files.length} databases kept (${suiteRows} rows); copied the ${chosen.length} that hold the most `
    + `of some table or are the largest (${copied} rows) in ${(ms / 1000).toFixed(1)} s; `
    + `${tables.length - empty.length} of ${tables.length} tables held rows; empty everywhere: ${empty.join(' ') || 'none'}`);
  assert.deepEqual(failures, []);
  // the suite's data reaches the tables that matter most, in numbers
  for (const t of ['agents', 'runs', 'messages', 'audit_log', 'workspaces']) {
    assert.ok(totals.get(t) > 100, `${t}: ${totals.get(t)} rows over the suite`);
    assert.ok(best.has(t), `${t}: no file to copy it from`);
  }
});
