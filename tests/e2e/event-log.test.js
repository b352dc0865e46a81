// SPDX-License-Identifier: MIT
// The event log on disk as an operator meets it: events an older agentd
// kept in its database table replay after the upgrade and the sequence
// goes on after them; a tail torn by a crash (or a bad disk) is cut at
// the next start and everything before it replays; a file in the log's
// folder that is not a segment stops agentd with the reason; retention
// retires whole segment files.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { start, tmpDir, run } = require('./lib/daemon');
const { Live, publish, hasTestRoutes, contiguous } = require('./lib/live');
const { until } = require('./lib/api');

function sql(db, text) {
  const r = spawnSync('sqlite3', [db, text], { encoding: 'utf8', timeout: 10000 });
  if (r.status !== 0) throw new Error(`sqlite3: ${r.stderr}`);
  return r.stdout.trim();
}

function segments(dataDir) {
  const dir = path.join(dataDir, 'events');
  return fs.readdirSync(dir).filter((f) => /^\d{20}\.log$/.test(f)).sort().map((f) => path.join(dir, f));
}

test('events an older agentd kept in its table replay after the upgrade', async () => {
  const dataDir = tmpDir();
  let d = await start({ needUrl: true, dataDir });
  await d.stop();
  // The database as the agentd before migration 2200 left it: an events
  // table with its rows and the seq ceiling it had reserved.
  const db = path.join(dataDir, 'agentd.db');
  sql(db, "DELETE FROM schema_migrations WHERE version = 2200; "
    + 'CREATE TABLE events (seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, type TEXT NOT NULL, '
    + 'topics TEXT NOT NULL, payload TEXT NOT NULL); '
    + 'WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 1500) '
    + "INSERT INTO events SELECT n + 100, 1763900000000 + n, 'agent_output', '[\"agent:ag_old\"]', "
    + "json_object('agentId', 'ag_old', 'content', 'line ' || n) FROM c; "
    + "INSERT INTO bus_meta(key, value) VALUES('seq_reserved', 1600) "
    + 'ON CONFLICT(key) DO UPDATE SET value = excluded.value;');
  fs.rmSync(path.join(dataDir, 'events'), { recursive: true, force: true });
  try {
    d = await start({ needUrl: true, dataDir });
    assert.match(d.stderr, /events table moved into the event log" rows=1500/);
    const c = await Live.open(d);
    c.send('subscribe', { topics: ['agent:ag_old'], since: 0 });
    await c.until(() => c.events.length >= 1500, 20000, 'the old events');
    assert.equal(contiguous(c.events.map((e) => e.seq), 101, 1600), null);
    assert.equal(c.events[0].payload.content, 'line 1');
    assert.equal(c.events[1499].payload.content, 'line 1500');
    assert.equal(c.events[0].ts, '2025-11-23T12:13:20.001Z');
    c.close();
    // the table is gone; the next event is numbered after the ceiling
    assert.equal(sql(db, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'events%'"), '0');
    if (await hasTestRoutes(d)) {
      const r = await publish(d, { type: 'new', topics: ['agent:ag_old'], count: 1 });
      assert.ok(r.first > 1600, `new seq ${r.first}`);
    }
  } finally {
    await d.cleanup();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a tail torn by a crash is cut at the next start and the rest replays', async (t) => {
  const dataDir = tmpDir();
  let d = await start({ needUrl: true, dataDir });
  try {
    if (!(await hasTestRoutes(d))) { t.skip('needs a test build (/test/publish)'); return; }
    const r = await publish(d, { type: 'before', topics: ['system'], count: 400, perTick: 100 });
    // everything stored before the crash
    await until(async () => {
      const m = await (await d.fetch(`${d.url}/metrics`)).text();
      return Number((m.match(/^agentd_events_persisted_total (\d+)/m) || [])[1]) >= 400;
    }, 'the 400 events stored');
    await d.stop('SIGKILL');
    // a write the crash cut short: half a record's header, then garbage
    const seg = segments(dataDir).pop();
    fs.appendFileSync(seg, Buffer.from('0badc0de0000001000000000ffffffff41414141', 'hex'));
    const size = fs.statSync(seg).size;
    d = await start({ needUrl: true, dataDir });
    assert.match(d.stderr, /cut a torn tail/);
    assert.equal(fs.statSync(seg).size, size - 20);
    const c = await Live.open(d);
    c.send('subscribe', { topics: ['system'], since: 0 });
    await c.until(() => c.events.length >= 400, 20000, 'the replay');
    assert.equal(contiguous(c.events.slice(0, 400).map((e) => e.seq), r.first, r.last), null);
    // new events follow, and survive a clean restart with the old ones
    const n = await publish(d, { type: 'after', topics: ['system'], count: 10 });
    assert.ok(n.first > r.last);
    await c.until(() => c.events.some((e) => e.seq === n.last), 10000, 'live events');
    c.close();
    await d.stop();
    d = await start({ needUrl: true, dataDir });
    const c2 = await Live.open(d);
    c2.send('subscribe', { topics: ['system'], since: r.last - 5 });
    await c2.until(() => c2.events.some((e) => e.seq === n.last), 20000, 'replay after restart');
    assert.deepEqual(c2.events.slice(0, 5).map((e) => e.type), ['before', 'before', 'before', 'before', 'before']);
    assert.equal(c2.events.filter((e) => e.type === 'after').length, 10);
    c2.close();
  } finally {
    await d.cleanup();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a file in the event log that is not a segment stops agentd with the reason', async () => {
  const dataDir = tmpDir();
  const d = await start({ needUrl: true, dataDir });
  await d.stop();
  const foreign = path.join(dataDir, 'events', '00000000000000000009.log');
  fs.writeFileSync(foreign, 'not a segment: somebody else wrote this file, and it is long\n');
  try {
    const r = run(['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir], { timeout: 15000 });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /00000000000000000009\.log is not an agentd event log segment; move it out of/);
    // moved away, agentd starts again
    fs.renameSync(foreign, path.join(dataDir, 'moved-away'));
    const d2 = await start({ needUrl: true, dataDir });
    await d2.cleanup();
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('retention retires whole segment files, oldest first', async (t) => {
  const d = await start({ needUrl: true, args: ['--event-retention-bytes', '200000', '--event-ring-bytes', '4096'] });
  try {
    if (!(await hasTestRoutes(d))) { t.skip('needs a test build (/test/publish)'); return; }
    // ~2 MB of events into segments of about 6 KiB
    await publish(d, { type: 'fill', topics: ['system'], count: 5000, perTick: 500,
      payload: { text: 'y'.repeat(300) } });
    await new Promise((r) => setTimeout(r, 600)); // retention runs at most every 250 ms
    await publish(d, { type: 'fill', topics: ['system'], count: 10 });
    // The daemon retires files while we list them: a file gone between the
    // listing and its stat counts nothing. Wait until the bound holds and
    // the listing has stopped changing (a trim may still be due), so the
    // oldest file named below is the oldest replay will find.
    const size = (f) => { try { return fs.statSync(f).size; } catch (e) { if (e.code === 'ENOENT') return 0; throw e; } };
    const deadline = Date.now() + 10000;
    let bytes = Infinity;
    let segs = [];
    let prev = '';
    while (Date.now() < deadline) {
      segs = segments(d.dataDir);
      bytes = segs.reduce((s, f) => s + size(f), 0);
      const now = segs.join();
      if (bytes < 400000 && now === prev) break;
      prev = now;
      await new Promise((r) => setTimeout(r, 400));
    }
    assert.ok(bytes < 400000, `${bytes} bytes of segments kept for a 200,000-byte bound`);
    assert.ok(segs.length > 5, `${segs.length} segments`);
    // what is left replays from its oldest seq, in order
    const c = await Live.open(d);
    c.send('subscribe', { topics: ['system'], since: 1 });
    const tr = await c.next('replay_truncated');
    assert.equal(Number(path.basename(segs[0], '.log')), tr.payload.oldestSeq);
    c.close();
  } finally {
    await d.cleanup();
  }
});
