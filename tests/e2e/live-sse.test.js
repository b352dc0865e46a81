// SPDX-License-Identifier: MIT
// The event stream as Server-Sent Events: `id:` is the seq, a reconnect
// with Last-Event-ID resumes exactly after it, topics filter, and bad
// parameters are refused.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('./lib/daemon');
const { json, openSse, publish, hasTestRoutes, contiguous } = require('./lib/live');

test('SSE: id is the seq and Last-Event-ID resumes without gap or duplicate', async (t) => {
  const d = await start({ needUrl: true });
  try {
    if (!(await hasTestRoutes(d))) { t.skip('needs a test build (/test/publish)'); return; }
    const s = openSse(d, '/api/events?topics=sse:*');
    await s.ready;
    assert.equal(s.status, 200);
    const a = await publish(d, { type: 'x', topics: ['sse:1'], count: 50 });
    await publish(d, { type: 'y', topics: ['elsewhere'], count: 5 });
    await s.until(() => s.events.length >= 50);
    assert.equal(contiguous(s.events.map((e) => Number(e.id)), a.first, a.last), null);
    assert.equal(s.events[0].json.seq, a.first);
    assert.equal(s.events[0].json.topic, 'sse:1');
    s.stop();
    const lastId = s.events[29].id; // as if the connection had dropped there
    const b = await publish(d, { type: 'x', topics: ['sse:2'], count: 20 });
    const s2 = openSse(d, '/api/events?topics=sse:*', { 'Last-Event-ID': lastId });
    await s2.ready;
    await s2.until(() => s2.events.length >= 40);
    const ids = s2.events.map((e) => Number(e.id));
    assert.deepEqual(ids.slice(0, 20), s.events.slice(30).map((e) => Number(e.id)));
    assert.equal(contiguous(ids.slice(20), b.first, b.last), null);
    s2.stop();

    // since= works the same way without the header.
    const s3 = openSse(d, `/api/events?topics=sse:2&since=${b.last - 3}`);
    await s3.ready;
    await s3.until(() => s3.events.length >= 3);
    assert.deepEqual(s3.events.map((e) => Number(e.id)), [b.last - 2, b.last - 1, b.last]);
    s3.stop();

    let r = await json(d, 'GET', '/api/events?topics=bad%20topic');
    assert.equal(r.status, 422);
    r = await json(d, 'GET', '/api/events?since=abc');
    assert.equal(r.status, 422);
  } finally {
    await d.cleanup();
  }
});
