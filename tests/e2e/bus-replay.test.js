// SPDX-License-Identifier: MIT
// Event order and replay as a reconnecting client sees them: 100,000 events
// in order; readers of one topic sharing each turn's run, and readers of two
// organisations never sharing another's events; a reconnect with `since` in the middle of a burst loses and
// repeats nothing; replay from the event log once the ring has rolled
// over (and after a restart); replay_truncated past retention.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('./lib/daemon');
const { until } = require('./lib/api');
const { Live, json, publish, hasTestRoutes, contiguous } = require('./lib/live');

test('100,000 events arrive in order, each once', async (t) => {
  const d = await start({ needUrl: true });
  try {
    if (!(await hasTestRoutes(d))) { t.skip('needs a test build (/test/publish)'); return; }
    const c = await Live.open(d);
    c.send('subscribe', { topics: ['bench:*'] });
    await c.next('subscribed');
    const r = await publish(d, { type: 'tick', topics: ['bench:1', 'system'], count: 100000, drain: true });
    assert.equal(r.count, 100000);
    await c.until(() => c.events.length >= 100000, 120000, '100,000 events');
    const err = contiguous(c.events.map((e) => e.seq), r.first, r.last);
    assert.equal(err, null);
    assert.equal(c.events[99999].payload.i, 99999);
    assert.equal(c.events[0].topic, 'bench:1');
    c.close();
  } finally {
    await d.cleanup();
  }
});

// Readers of one topic get a turn's events as one buffer shared between
// them (src/live's runs); one that compresses gets them one by one. Each
// still reads every event as a message of its own, once, in order, with
// the payload it was published with.
test('readers of one topic, plain and compressed, each get every event in order', async (t) => {
  const d = await start({ needUrl: true });
  try {
    if (!(await hasTestRoutes(d))) { t.skip('needs a test build (/test/publish)'); return; }
    const readers = [];
    for (const deflate of [false, false, false, true]) {
      const c = await Live.open(d, '/ws', { deflate });
      c.send('subscribe', { topics: ['fan:1'] });
      await c.next('subscribed');
      readers.push(c);
    }
    const r = await publish(d, { type: 'tick', topics: ['fan:1'], count: 20000, perTick: 500, drain: true });
    for (const c of readers) {
      await c.until(() => c.events.length >= 20000, 60000, '20,000 events');
      assert.equal(contiguous(c.events.map((e) => e.seq), r.first, r.last), null);
      assert.equal(c.events.length, 20000);
      assert.ok(c.events.every((e, i) => e.payload.i === i && e.type === 'tick' && e.topic === 'fan:1'));
      c.close();
    }
  } finally {
    await d.cleanup();
  }
});

// Runs are shared only between readers that see the same events: three
// bursts go out together, one for each of two organisations and one with
// no organisation, and every reader gets its own organisation's and the
// unowned, none of the other's, in order; the owner gets them all.
test('readers of two organisations on one topic each get only their own events', async (t) => {
  const d = await start({ needUrl: true });
  try {
    if (!(await hasTestRoutes(d))) { t.skip('needs a test build (/test/publish)'); return; }
    const orgs = [];
    for (const name of ['one', 'two']) {
      const org = await json(d, 'POST', '/api/orgs', { name });
      assert.equal(org.status, 201, JSON.stringify(org.body));
      const tok = await json(d, 'POST', '/api/tokens', { name: `reader-${name}`, scope: 'read', orgId: org.body.id });
      assert.equal(tok.status, 201, JSON.stringify(tok.body));
      orgs.push({ id: org.body.id, token: tok.body.token });
    }
    const readers = [];
    const open = async (who, token, deflate) => {
      const headers = token ? { authorization: `Bearer ${token}` } : undefined;
      const c = await Live.open(d, '/ws', headers ? { deflate, headers } : { deflate });
      c.send('subscribe', { topics: ['fan:2'] });
      await c.next('subscribed');
      readers.push({ who, c });
    };
    for (const deflate of [false, true]) {
      await open('one', orgs[0].token, deflate);
      await open('two', orgs[1].token, deflate);
      await open('owner', null, deflate);
    }
    const n = 3000;
    const burst = (type, topics) => publish(d, { type, topics, count: n, perTick: 100, intervalMs: 1 });
    await Promise.all([burst('one', ['fan:2', `org:${orgs[0].id}`]),
      burst('two', ['fan:2', `org:${orgs[1].id}`]), burst('none', ['fan:2'])]);
    const want = { one: ['one', 'none'], two: ['two', 'none'], owner: ['one', 'two', 'none'] };
    for (const { who, c } of readers) {
      await c.until(() => c.events.length >= want[who].length * n, 60000, `${who}'s events`);
      const types = new Set(c.events.map((e) => e.type));
      assert.deepEqual([...types].sort(), [...want[who]].sort(), `${who} saw ${[...types]}`);
      assert.equal(c.events.length, want[who].length * n, `${who}: each event once`);
      assert.ok(c.events.every((e, i) => i === 0 || e.seq > c.events[i - 1].seq), `${who}: in order`);
    }
    for (const { c } of readers) c.close();
  } finally {
    await d.cleanup();
  }
});

// With permessage-deflate, as a browser offers it (lib/ws.js leaves it
// off elsewhere): the replay goes through the compressed path too.
test('a reconnect with since in the middle of a burst misses nothing and repeats nothing', async (t) => {
  const d = await start({ needUrl: true });
  try {
    if (!(await hasTestRoutes(d))) { t.skip('needs a test build (/test/publish)'); return; }
    const first = await Live.open(d, '/ws', { deflate: true });
    first.send('subscribe', { topics: ['burst'] });
    await first.next('subscribed');
    const done = publish(d, { type: 'tick', topics: ['burst'], count: 50000, perTick: 200, intervalMs: 1 });
    await first.until(() => first.events.length >= 5000, 60000, 'the burst to start');
    // dropped, as a network does: a graceful close would go on receiving
    // until the server's Close, which may be the whole burst
    first.ws.terminate();
    await first.closed;
    const seen = first.events.map((e) => e.seq);
    const last = seen[seen.length - 1];
    // The burst goes on while nobody listens; then reconnect from `last`.
    await new Promise((r) => setTimeout(r, 200));
    const second = await Live.open(d, '/ws', { deflate: true });
    second.send('subscribe', { topics: ['burst'], since: last });
    const r = await done;
    assert.ok(last < r.last, `the first connection was cut mid-burst (${last} of ${r.last})`);
    await second.until(() => second.events.length > 0 && second.events[second.events.length - 1].seq >= r.last,
      120000, 'the end of the burst');
    const all = seen.concat(second.events.map((e) => e.seq));
    assert.equal(contiguous(all, r.first, r.last), null);
    assert.ok(!second.msgs.some((m) => m.type === 'replay_truncated'));
    second.close();
  } finally {
    await d.cleanup();
  }
});

test('replay comes from the event log once the ring rolled over, also after a restart', async (t) => {
  const d = await start({ needUrl: true, keepDataDir: true, args: ['--event-ring-bytes', '4096'] });
  let d2;
  try {
    if (!(await hasTestRoutes(d))) { t.skip('needs a test build (/test/publish)'); return; }
    const r = await publish(d, { type: 'old', topics: ['agent:ag_x'], count: 3000, perTick: 100,
      payload: { text: 'x'.repeat(100) } });
    await publish(d, { type: 'other', topics: ['agent:ag_y'], count: 100 });
    const c = await Live.open(d);
    c.send('subscribe', { topics: ['agent:ag_x'], since: r.first - 1 });
    await c.until(() => c.events.length >= 3000, 60000, '3000 replayed events');
    assert.equal(contiguous(c.events.map((e) => e.seq), r.first, r.last), null);
    assert.equal(c.events[10].payload.text, 'x'.repeat(100));
    assert.equal(c.events[10].type, 'old');
    // Live events follow the replay.
    const l = await publish(d, { type: 'new', topics: ['agent:ag_x'], count: 5 });
    await c.until(() => c.events.length >= 3005, 20000, 'live events after replay');
    assert.equal(c.events[3004].seq, l.last);
    c.close();
    await d.stop();

    // A new daemon on the same data dir continues the sequence and replays
    // what the first one published.
    d2 = await start({ needUrl: true, dataDir: d.dataDir, args: ['--event-ring-bytes', '4096'] });
    const c2 = await Live.open(d2);
    c2.send('ping');
    const pong = await c2.next('pong');
    assert.equal(pong.payload.seq, l.last);
    c2.send('subscribe', { topics: ['agent:ag_x'], since: r.last - 10 });
    await c2.until(() => c2.events.length >= 15, 20000, 'replay after restart');
    assert.equal(contiguous(c2.events.map((e) => e.seq).slice(0, 10), r.last - 9, r.last), null);
    const n = await publish(d2, { type: 'new', topics: ['agent:ag_x'], count: 1 });
    assert.equal(n.first, l.last + 1);
    c2.close();
  } finally {
    if (d2) await d2.cleanup();
    await d.cleanup();
    require('node:fs').rmSync(d.dataDir, { recursive: true, force: true });
  }
});

test('replay older than retention starts with replay_truncated', async (t) => {
  const d = await start({ needUrl: true,
    args: ['--event-ring-bytes', '4096', '--event-retention-bytes', '20000'] });
  try {
    if (!(await hasTestRoutes(d))) { t.skip('needs a test build (/test/publish)'); return; }
    await publish(d, { type: 'a', topics: ['system'], count: 2000, perTick: 100 });
    // Retention runs on the writer at most every 250 ms: on a busy machine
    // later than any fixed wait. The first file's removal, logged, is the
    // state the replay below needs (its oldest seq past 1).
    await until(() => /msg="event log: retention removed a segment" \S+ first_seq=1 /.test(d.stderr),
      'the first segment retired');
    const r = await publish(d, { type: 'b', topics: ['system'], count: 200, perTick: 50, intervalMs: 5 });
    await publish(d, { type: 'c', topics: ['system'], count: 1 });
    const c = await Live.open(d);
    c.send('subscribe', { topics: ['system'], since: 0 });
    const tr = await c.next('replay_truncated');
    const oldest = tr.payload.oldestSeq;
    assert.ok(oldest > 1 && oldest <= r.last, `oldestSeq ${oldest}`);
    await c.until(() => c.events.length > 0 && c.events[c.events.length - 1].seq === r.last + 1, 20000, 'replay');
    assert.equal(c.events[0].seq, oldest);
    assert.equal(contiguous(c.events.map((e) => e.seq), oldest, r.last + 1), null);
    // replay_truncated came before any event
    assert.ok(c.msgs.indexOf(tr) < c.msgs.indexOf(c.events[0]));
    c.close();
  } finally {
    await d.cleanup();
  }
});
