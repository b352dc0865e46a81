#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Which e2e files the PostgreSQL pass of `make check` needs (make
// pg-pick; docs/DECISIONS.md, "The PostgreSQL pass runs the files that
// reach its statements"). It reads what the server logged during a whole
// e2e-pg and a unit-pg run (log_statement=all), which test file each
// database served (AGENTD_TEST_PG_MAP), and the e2e run's TAP output (each
// top-level test's duration, summed per file by its name). Every statement
// agentd ran, and every error a statement met, is one item (literals
// stripped); the unit-pg run's items count as covered. Then, greedily,
// the file that covers the most items not yet covered per second is taken,
// until none is left. It prints the files taken, what each added, and the
// seconds the pass saves.
// Usage: node scripts/pg-pick.mjs --log E2E_PG_LOG --map MAP --tap TAP
//          --unit UNIT_PG_LOG [--keep FILE]... FILE...
// FILEs are the e2e files the whole pass ran; each --keep is taken first,
// whatever it adds. It ends with the Makefile's E2E_PG_SAME: the FILEs not
// taken.
import fs from 'node:fs';
import path from 'node:path';

const opt = { keep: [] };
const ran = [];
{
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const m = /^--(log|map|tap|unit|keep)$/.exec(args[i]);
    if (!m) ran.push(path.basename(args[i]));
    else if (m[1] === 'keep') opt.keep.push(path.basename(args[++i] || ''));
    else opt[m[1]] = args[++i];
  }
}
if (!opt.log || !opt.map || !opt.tap || !opt.unit || ran.length === 0) {
  console.error('usage: node scripts/pg-pick.mjs --log E2E_PG_LOG --map MAP --tap TAP --unit UNIT_PG_LOG [--keep FILE]... FILE...');
  process.exit(2);
}

// A statement without what varies between runs: its quoted literals and
// numbers ($1 stays: it is a parameter, not a value).
function shape(sql) {
  return sql
    .replace(/'(?:[^']|'')*'/g, "'?'")
    .replace(/(?<![\w$])\d+(?:\.\d+)?/g, 'N')
    .replace(/\s+/g, ' ')
    .trim();
}

// The items of one server log, by database: { db -> Set }. Only agentd's
// own connections count (psql's are the tests' reads and the harness').
function items(file) {
  const byDb = new Map();
  const add = (db, item) => {
    if (!byDb.has(db)) byDb.set(db, new Set());
    byDb.get(db).add(item);
  };
  const entries = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^@([^@]*)@([^@]*)@(\w+):\s+(.*)$/.exec(line);
    if (m) entries.push({ db: m[1], app: m[2], level: m[3], text: m[4] });
    else if (entries.length > 0) entries[entries.length - 1].text += `\n${line}`;
  }
  let error = null;
  for (const e of entries) {
    if (e.app === 'psql' || e.db === '') continue;
    if (e.level === 'LOG') {
      const s = /^(?:execute [^:]+|statement): ([\s\S]*)$/.exec(e.text);
      if (s) add(e.db, `SQL ${shape(s[1])}`);
    } else if (e.level === 'ERROR') {
      error = shape(e.text);
    } else if (e.level === 'STATEMENT' && error) {
      add(e.db, `ERR ${error} @ ${shape(e.text)}`);
      error = null;
    }
  }
  return byDb;
}

// Each top-level test's seconds, summed per file: the TAP output names the
// test, the files' sources name them (test('…', test("…" or test(`…`; a
// template's name up to its first ${…}, matched as a prefix).
function fileSeconds(tap, files) {
  const exact = new Map();
  const prefixes = [];
  for (const f of files) {
    const src = fs.readFileSync(path.join('tests/e2e', f), 'utf8');
    for (const m of src.matchAll(/\btest\(\s*(['"`])((?:\\.|(?!\1).)*)\1/g)) {
      const name = m[2].replace(/\\(.)/g, '$1');
      const cut = m[1] === '`' ? name.indexOf('${') : -1;
      if (cut >= 0) prefixes.push([name.slice(0, cut), f]);
      else exact.set(name, f);
    }
  }
  const ownerOf = (name) => exact.get(name) || (prefixes.find(([p]) => p !== '' && name.startsWith(p)) || [])[1];
  const secs = new Map(files.map((f) => [f, 0]));
  let unmatched = 0;
  const lines = fs.readFileSync(tap, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^(?:not )?ok \d+ - (.*)$/.exec(lines[i]);
    if (!m) continue;
    const d = /duration_ms: ([\d.]+)/.exec(lines.slice(i + 1, i + 4).join('\n'));
    if (!d) continue;
    const f = ownerOf(m[1].replace(/ # SKIP.*$/, ''));
    if (f && secs.has(f)) secs.set(f, secs.get(f) + Number(d[1]) / 1000);
    else unmatched += Number(d[1]) / 1000;
  }
  return { secs, unmatched };
}

const fileOf = new Map();
for (const line of fs.readFileSync(opt.map, 'utf8').split('\n')) {
  const [db, f] = line.split(' ');
  if (db && f) fileOf.set(db, f);
}
const perFile = new Map();
for (const [db, set] of items(opt.log)) {
  const f = fileOf.get(db);
  if (!f) continue; // the template's migration, made once per server whatever runs
  if (!perFile.has(f)) perFile.set(f, new Set());
  for (const it of set) perFile.get(f).add(it);
}
const covered = new Set();
for (const set of items(opt.unit).values()) for (const it of set) covered.add(it);
const unitItems = covered.size;
const all = new Set();
for (const set of perFile.values()) for (const it of set) all.add(it);
const files = [...perFile.keys()].sort();
const { secs, unmatched } = fileSeconds(opt.tap, files);
const total = [...secs.values()].reduce((a, b) => a + b, 0);

const picked = [];
const take = (f) => {
  const fresh = [...perFile.get(f)].filter((it) => !covered.has(it));
  for (const it of fresh) covered.add(it);
  picked.push({ f, fresh: fresh.length, secs: secs.get(f) });
};
for (const f of opt.keep) {
  if (!perFile.has(f)) throw new Error(`${f}: no database of it in the log`);
  take(f);
}
for (;;) {
  let best = null;
  let bestRate = 0;
  for (const f of files) {
    if (picked.some((p) => p.f === f)) continue;
    let n = 0;
    for (const it of perFile.get(f)) if (!covered.has(it)) n++;
    const rate = n / Math.max(secs.get(f), 0.5);
    if (n > 0 && rate > bestRate) [best, bestRate] = [f, rate];
  }
  if (!best) break;
  take(best);
}
const kept = picked.reduce((a, p) => a + p.secs, 0);
console.log(`items: ${all.size} from ${files.length} files; unit-pg covers ${unitItems} (of its own)`);
for (const p of picked) console.log(`  ${p.f}: +${p.fresh} in ${p.secs.toFixed(1)} s`);
console.log(`taken: ${picked.length} files, ${kept.toFixed(0)} of ${total.toFixed(0)} test-seconds` +
  ` (${unmatched.toFixed(0)} s of tests not matched to a file)`);
const left = [...all].filter((it) => !covered.has(it));
if (left.length > 0) console.log(`not covered: ${left.length}`);
const same = ran.filter((f) => !picked.some((p) => p.f === f)).map((f) => f.replace(/\.test\.js$/, ''));
console.log(`E2E_PG_SAME := ${same.sort().join(' ')}`);
