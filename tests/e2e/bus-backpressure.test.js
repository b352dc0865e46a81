// SPDX-License-Identifier: MIT
// Backpressure: a subscriber that stops reading is told `overflow` with the
// last seq it was given and closed with 1013, while a subscriber that keeps
// up receives every event; the slow one can then reconnect with that seq
// and lose nothing.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('./lib/daemon');
const { RawWs } = require('./lib/raw');
const { Live, publish, hasTestRoutes, contiguous } = require('./lib/live');

test('a slow consumer is cut off with overflow/1013; a fast one gets everything', async (t) => {
  const d = await start({ needUrl: true, args: ['--ws-send-queue-bytes', '262144'] });
  try {
    if (!(await hasTestRoutes(d))) { t.skip('needs a test build (/test/publish)'); return; }
    const fast = await Live.open(d);
    fast.send('subscribe', { topics: ['load'] });
    await fast.next('subscribed');

    const slow = await RawWs.open(d.url, '/ws', `Authorization: Bearer ${d.token}\r\n`);
    const sub = JSON.stringify({ type: 'subscribe', payload: { topics: ['load'] } });
    slow.send(0x1, Buffer.from(sub));
    const ack = await slow.nextData(5000);
    assert.match(ack.payload.toString(), /"subscribed"/);
    slow.sock.pause(); // stop reading: kernel buffers fill, then the server's queue

    const r = await publish(d, { type: 'blob', topics: ['load'], count: 4000, perTick: 20,
      intervalMs: 2, payload: { pad: 'p'.repeat(4000) } });
    await fast.until(() => fast.events.length >= 4000, 60000, 'every event at the fast client');
    assert.equal(contiguous(fast.events.map((e) => e.seq), r.first, r.last), null);
    assert.equal(fast.closeCode, null, 'the fast client is still connected');

    slow.sock.resume();
    const { msgs, code } = await slow.readToClose();
    const overflow = msgs.find((m) => m.type === 'overflow');
    const got = msgs.filter((m) => m.type !== 'overflow' && typeof m.seq === 'number').map((m) => m.seq);
    assert.ok(overflow, 'an overflow message arrived');
    assert.equal(code, 1013);
    assert.ok(got.length < 4000, `the slow client got ${got.length} events`);
    assert.equal(overflow.payload.lastSeq, got[got.length - 1], 'lastSeq is the last event it got');
    assert.equal(contiguous(got, r.first, overflow.payload.lastSeq), null);

    // Reconnecting from lastSeq fills the rest.
    const again = await Live.open(d);
    again.send('subscribe', { topics: ['load'], since: overflow.payload.lastSeq });
    await again.until(() => again.events.length > 0 && again.events[again.events.length - 1].seq === r.last,
      60000, 'the rest after reconnecting');
    assert.equal(contiguous(again.events.map((e) => e.seq), overflow.payload.lastSeq + 1, r.last), null);
    again.close();
    fast.close();
  } finally {
    await d.cleanup();
  }
});
