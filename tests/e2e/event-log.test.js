// SPDX-License-Identifier: MIT
// The event log on disk as an operator meets it: events an older agentd
// kept in its database table replay after the upgrade and the sequence
// goes on after them; a tail torn by a crash is cut at the next start and
// everything before it replays; a flipped byte costs one record; a file in
// the log's folder that is not a segment stops agentd with the reason;
// retention retires whole segment files by bytes, never by the seqs ten
// kill -9s skipped.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { start, tmpDir, run, PG_MODE } = require('./lib/daemon');
const { Live, publish, hasTestRoutes, contiguous } = require('./lib/live');
const { api, until } = require('./lib/api');

function sql(db, text) {
  const r = spawnSync('sqlite3', [db, text], { encoding: 'utf8', timeout: 10000 });
  if (r.status !== 0) throw new Error(`sqlite3: ${r.stderr}`);
  return r.stdout.trim();
}

function segments(dataDir) {
  const dir = path.join(dataDir, 'events');
  return fs.readdirSync(dir).filter((f) => /^\d{20}\.log$/.test(f)).sort().map((f) => path.join(dir, f));
}

test('events an older agentd kept in its table replay after the upgrade', async (t) => {
  if (PG_MODE) {
    t.skip('on PostgreSQL: the upgrade moves a SQLite file\'s events table (no agentd kept one in PostgreSQL)');
    return;
  }
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
  // the shell's pages carry no page checksum (issue #78): summed again
  const rs = run(['--data-dir', dataDir, 'db', 'resum']);
  assert.equal(rs.status, 0, rs.stdout + rs.stderr);
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

// The offset and seq of every record in a segment file (a 16-byte header,
// then u32 crc, u32 type_len, topics_len, payload_len, u64 seq, i64 ts, the
// three strings each with a NUL).
function records(buf) {
  const out = [];
  for (let at = 16; at + 32 <= buf.length;) {
    const len = 32 + buf.readUInt32LE(at + 4) + buf.readUInt32LE(at + 8) + buf.readUInt32LE(at + 12) + 3;
    out.push({ at, len, seq: Number(buf.readBigUInt64LE(at + 16)) });
    at += len;
  }
  return out;
}

// Issue #41: one flipped byte in the newest segment cut every record after
// it at the next start, called a torn tail. Now that record alone is gone:
// the warning names its offset, the damaged file is kept beside the
// segment, and a replay from 0 has every other event and a gap for it.
test('a flipped byte in the newest segment costs that one record, named by its offset', async (t) => {
  const dataDir = tmpDir();
  const args = ['--event-ring-bytes', '4096'];
  let d = await start({ needUrl: true, dataDir, args });
  try {
    if (!(await hasTestRoutes(d))) { t.skip('needs a test build (/test/publish)'); return; }
    const r = await publish(d, { type: 'kept', topics: ['flip'], count: 400, perTick: 100, payload: { text: 'q'.repeat(100) } });
    await d.stop();
    const seg = segments(dataDir).pop();
    const buf = fs.readFileSync(seg);
    const recs = records(buf);
    const hit = recs.find((x) => x.seq === r.first + 200);
    assert.ok(hit && recs.some((x) => x.seq === r.last), 'the burst is in the newest segment');
    buf[hit.at + 40] ^= 0x20; // a byte of its type
    fs.writeFileSync(seg, buf);
    d = await start({ needUrl: true, dataDir, args });
    assert.match(d.stderr, new RegExp(`corrupt record at offset ${hit.at} skipped`));
    assert.doesNotMatch(d.stderr, /torn tail/);
    const dir = path.join(dataDir, 'events');
    const aside = fs.readdirSync(dir).filter((f) => f.startsWith(`${path.basename(seg)}.corrupt-`));
    assert.equal(aside.length, 1);
    assert.deepEqual(fs.readFileSync(path.join(dir, aside[0])), buf, 'the damaged file as it was');
    assert.equal(fs.statSync(seg).size, buf.length - hit.len);
    // health says so at once, with what to do (issue #78: it was only in the log)
    const h = await api(d, 'GET', '/api/health');
    assert.equal(h.body.status, 'degraded', h.text);
    assert.ok(h.body.database.repairs.some((x) => /repaired at the start: 1 damaged record of /.test(x.what) &&
      x.what.includes(path.basename(seg)) && /check the disk/.test(x.what)), h.text);
    assert.ok(h.body.statusReasons.some((x) => /event log was repaired/.test(x)), h.text);
    const c = await Live.open(d);
    c.send('subscribe', { topics: ['flip'], since: 0 });
    await c.until(() => c.events.length >= 399, 20000, 'the replay');
    const seqs = c.events.map((e) => e.seq);
    const want = [];
    for (let s = r.first; s <= r.last; s++) if (s !== hit.seq) want.push(s);
    assert.deepEqual(seqs, want);
    await c.until(() => c.msgs.some((m) => m.type === 'gap'), 5000, 'the gap notice');
    assert.deepEqual(c.msgs.find((m) => m.type === 'gap').payload, { from: hit.seq, to: hit.seq });
    c.close();
    // the next start finds the segment whole
    await d.stop();
    d = await start({ needUrl: true, dataDir, args });
    assert.doesNotMatch(d.stderr, /corrupt record|torn tail/);
    assert.deepEqual((await api(d, 'GET', '/api/health')).body.database.repairs, []);
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
    // listing and its stat counts nothing. Wait until retention has brought
    // the log under twice its bound (a state; a trim may still be due).
    const size = (f) => { try { return fs.statSync(f).size; } catch (e) { if (e.code === 'ENOENT') return 0; throw e; } };
    const segs = await until(() => {
      const now = segments(d.dataDir);
      return now.reduce((s, f) => s + size(f), 0) < 400000 ? now : null;
    }, 'the segments under twice the bound');
    assert.ok(segs.length > 5, `${segs.length} segments`);
    // each file deleted is logged with what it held and the bound
    const logged = /msg="event log: retention removed a segment" path=\S+\/00000000000000000001\.log first_seq=1 last_seq=\d+ bytes=\d+ bound=size log_bytes=\d+ max_bytes=200000/;
    await until(() => logged.test(d.stderr), 'the first file\'s removal in the log');
    // what is left replays from its oldest seq: the first seq of a file
    // listed before the replay, and no newer than the oldest file after it
    // (a trim still due may retire files meanwhile, never bring one back)
    const base = (f) => Number(path.basename(f, '.log'));
    const c = await Live.open(d);
    c.send('subscribe', { topics: ['system'], since: 1 });
    const tr = await c.next('replay_truncated');
    const after = segments(d.dataDir);
    const oldest = tr.payload.oldestSeq;
    assert.ok(segs.map(base).includes(oldest), `oldestSeq ${oldest} is no listed file's first seq (${segs.map(base).join(', ')})`);
    assert.ok(oldest >= base(segs[0]) && oldest <= base(after[0]), `oldestSeq ${oldest}: files from ${base(segs[0])} before, ${base(after[0])} after`);
    c.close();
  } finally {
    await d.cleanup();
  }
});

// agentd_events_persisted_total: events this daemon wrote to the log.
async function persistedTotal(d) {
  const m = await (await d.fetch(`${d.url}/metrics`)).text();
  return Number((m.match(/^agentd_events_persisted_total (\d+)/m) || [])[1]);
}

// Issue #41: every restart after a kill -9 skips a block of 2^20 seqs (the
// durable ceiling), and retention, counting seqs, deleted the history from
// before each crash with the log far below its bound. Ten kill -9s, each in
// the middle of a burst, then a replay from 0: every life's events are
// there (all that were acknowledged, and the burst up to where the crash
// cut it), the skipped seqs come as gap notices, nothing is truncated and
// no segment was removed.
test('ten kill -9s under load: a replay from 0 returns every stored event, the skipped seqs as gaps', async (t) => {
  const dataDir = tmpDir('agentd-crash10-');
  const bound = 16 << 20;
  const args = ['--event-retention-bytes', String(bound), '--event-ring-bytes', '4096'];
  const lives = [];
  let d = await start({ needUrl: true, dataDir, args });
  try {
    if (!(await hasTestRoutes(d))) { t.skip('needs a test build (/test/publish)'); return; }
    const payload = { text: 'z'.repeat(200) };
    for (let life = 0; life < 10; life++) {
      if (life > 0) d = await start({ needUrl: true, dataDir, args });
      assert.doesNotMatch(d.stderr, /retention removed/);
      const c = await Live.open(d);
      c.send('subscribe', { topics: ['crash'] });
      await c.next('subscribed');
      const acked = await publish(d, { type: 'acked', topics: ['crash'], count: 200, perTick: 50, payload });
      const until = Date.now() + 10000;
      while ((await persistedTotal(d)) < 200 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      // a burst the kill cuts short
      const burst = publish(d, { type: 'burst', topics: ['crash'], count: 100000, perTick: 20, intervalMs: 2, payload })
        .catch(() => null);
      await c.until(() => c.events.length >= 500, 20000, 'the burst under way');
      const stored = await persistedTotal(d); // at least this much is in the log
      await d.stop('SIGKILL');
      await burst;
      await c.closed;
      lives.push({ acked, seen: c.events.map((e) => e.seq), stored });
    }
    d = await start({ needUrl: true, dataDir, args });
    assert.doesNotMatch(d.stderr, /retention removed/);
    const c = await Live.open(d);
    c.send('subscribe', { topics: ['crash'], since: 0 });
    const marker = await publish(d, { type: 'marker', topics: ['crash'], count: 1 });
    await c.until(() => c.events.some((e) => e.seq === marker.last), 60000, 'the replay, then the marker');
    assert.ok(!c.msgs.some((m) => m.type === 'replay_truncated'), 'nothing truncated');
    const replayed = c.events.filter((e) => e.seq < marker.first).map((e) => e.seq);
    assert.equal(replayed[0], lives[0].acked.first, 'the replay starts at the first event ever published');
    let published = 0;
    let kept = 0;
    for (const [i, l] of lives.entries()) {
      const next = i + 1 < lives.length ? lives[i + 1].acked.first : marker.first;
      const mine = replayed.filter((s) => s >= l.acked.first && s < next);
      // stored events are a prefix of what the life published, as is what
      // its subscriber saw: the two agree as far as both go
      assert.equal(contiguous(mine, l.acked.first, l.acked.first + mine.length - 1), null, `life ${i}`);
      for (let k = 0; k < Math.min(mine.length, l.seen.length); k++) assert.equal(mine[k], l.seen[k], `life ${i} #${k}`);
      assert.ok(mine.length >= l.stored, `life ${i}: ${mine.length} replayed, ${l.stored} stored before the kill`);
      assert.ok(mine.length >= l.acked.count, `life ${i}: every acknowledged event`);
      published += Math.max(l.seen.length, mine.length);
      kept += mine.length;
    }
    assert.equal(kept, replayed.length);
    // the seqs the crashes skipped came as gaps, not as missing events
    const gaps = c.msgs.filter((m) => m.type === 'gap').map((m) => m.payload);
    assert.ok(gaps.length >= 10, JSON.stringify(gaps));
    const skipped = gaps.reduce((s, g) => s + (g.to - g.from + 1), 0);
    assert.ok(skipped > 10 * (1 << 19), `${skipped} seqs skipped`);
    for (const g of gaps) assert.ok(!replayed.some((s) => s >= g.from && s <= g.to), JSON.stringify(g));
    const bytes = segments(dataDir).reduce((s, f) => s + fs.statSync(f).size, 0);
    assert.ok(bytes < bound, `${bytes} bytes kept`);
    console.log(`# ten kill -9s: ${published} events published and seen or stored, ${kept} replayed, `
      + `${skipped} seqs skipped as ${gaps.length} gaps, ${bytes} bytes in ${segments(dataDir).length} segments`);
    c.close();
  } finally {
    await d.cleanup();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
