// SPDX-License-Identifier: MIT
// Server-Sent Events on the test-build route /test/sse: the response head,
// id/event/data framing (multi-line data), Last-Event-ID resume, and a
// stream the server ends.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('./lib/daemon');
const { exchange } = require('./lib/raw');

let d;
test.before(async () => { d = await start(); });
test.after(async () => { await d.cleanup(); });

function parseEvents(body) {
  return body.split('\n\n').filter((b) => b.trim() && !b.startsWith(':')).map((block) => {
    const ev = { data: [] };
    for (const line of block.split('\n')) {
      const i = line.indexOf(': ');
      const k = line.slice(0, i), v = line.slice(i + 2);
      if (k === 'data') ev.data.push(v); else ev[k] = v;
    }
    ev.data = ev.data.join('\n');
    return ev;
  });
}

test('an event stream has the SSE head and framed events', async () => {
  const r = await exchange(d.url, 'GET /test/sse?count=3&close=1 HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n');
  assert.equal(r.closed, true);
  const end = r.text.indexOf('\r\n\r\n');
  const head = r.text.slice(0, end);
  assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(head, /\r\nContent-Type: text\/event-stream; charset=utf-8\r\n/);
  assert.match(head, /\r\nCache-Control: no-cache\r\n/);
  assert.doesNotMatch(head, /Content-Length/);
  const events = parseEvents(r.text.slice(end + 4));
  assert.deepEqual(events, [1, 2, 3].map((i) => ({ id: String(i), event: 'tick', data: `event ${i}\nsecond line` })));
});

test('Last-Event-ID resumes after the given id', async () => {
  const r = await exchange(d.url, 'GET /test/sse?count=2&close=1 HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: 41\r\n\r\n');
  const events = parseEvents(r.text.slice(r.text.indexOf('\r\n\r\n') + 4));
  assert.deepEqual(events.map((e) => e.id), ['42', '43']);
});

test('a stream stays open until the client leaves, and fetch can read it', async () => {
  const ac = new AbortController();
  const res = await d.fetch(`${d.url}/test/sse?count=2`, { signal: ac.signal });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  let text = '';
  while (!text.includes('id: 2\n')) {
    const { value, done } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString();
  }
  assert.match(text, /id: 1\nevent: tick\ndata: event 1\ndata: second line\n\n/);
  ac.abort();
  // the server is fine afterwards
  const ok = await d.fetch(`${d.url}/healthz`);
  assert.equal(ok.status, 200);
});
