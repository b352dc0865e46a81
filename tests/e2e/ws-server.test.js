// SPDX-License-Identifier: MIT
// WebSocket behaviour over time and at scale: the server heartbeat, dropping
// silent peers, the per-connection send-queue bound, 1,000 concurrent
// connections, and graceful shutdown (WebSockets closed with 1001, in-flight
// HTTP answers finished, exit 0).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const WebSocket = require('./lib/ws');
const { start } = require('./lib/daemon');
const { RawWs, exchange, parseResponses, hostPort } = require('./lib/raw');
const { until } = require('./lib/api');

const wsUrl = (d) => `${d.url.replace('http', 'ws')}/ws/echo`;

test('the server pings, and drops a peer that stays silent', async () => {
  const d = await start({ args: ['--ws-ping-interval-ms', '100', '--ws-idle-timeout-ms', '600'] });
  try {
    // a raw client that never answers pings
    const silent = await RawWs.open(d.url);
    const f = await silent.next(2000);
    assert.equal(f.opcode, 0x9, 'a ping arrives');
    await until(() => silent.closed, 'the silent peer dropped');
    await until(() => /msg="dropping silent peer"/.test(d.stderr), 'the drop in the log');
    // the ws package answers pings with pongs and stays connected
    const c = new WebSocket(wsUrl(d));
    let pings = 0;
    c.on('ping', () => { pings++; });
    await new Promise((resolve, reject) => { c.on('open', resolve); c.on('error', reject); });
    // ten pings span more than the 600 ms a silent peer is given
    await until(() => pings >= 10 || c.readyState !== WebSocket.OPEN, 'ten pings');
    assert.equal(c.readyState, WebSocket.OPEN, `closed after ${pings} pings`);
    c.close();
  } finally {
    await d.cleanup();
  }
});

test('a reader that does not keep up is cut off at the send-queue bound', async () => {
  const d = await start({ args: ['--ws-send-queue-bytes', '65536'] });
  try {
    const ws = await RawWs.open(d.url);
    ws.sock.pause(); // stop reading: the kernel buffers fill, then our queue
    const payload = Buffer.alloc(1000, 0x61);
    const frame = ws.frame(0x2, payload);
    for (let i = 0; i < 20000 && !ws.closed; i++) {
      if (!ws.sock.write(frame)) await new Promise((r) => setTimeout(r, 1));
      if (i % 500 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    ws.sock.resume();
    let code = null;
    for (;;) {
      const f = await ws.next(5000);
      if (!f) break;
      if (f.opcode === 0x8) { code = f.payload.readUInt16BE(0); break; }
    }
    assert.equal(code, 1008, 'closed with policy violation once the queue was full');
    ws.destroy();
    const ok = await d.fetch(`${d.url}/healthz`);
    assert.equal(ok.status, 200);
  } finally {
    await d.cleanup();
  }
});

test('one message broadcast to many connections reaches each once, in order', async () => {
  const d = await start();
  try {
    const clients = await Promise.all(Array.from({ length: 50 }, () => new Promise((resolve, reject) => {
      const c = new WebSocket(wsUrl(d));
      c.got = [];
      c.on('message', (m) => c.got.push(m.toString()));
      c.on('open', () => resolve(c));
      c.on('error', reject);
    })));
    for (let i = 0; i < 20; i++) clients[i % 50].send(`broadcast:event ${i}`);
    const want = Array.from({ length: 20 }, (_, i) => `event ${i}`);
    const t0 = Date.now();
    while (clients.some((c) => c.got.length < 20) && Date.now() - t0 < 5000) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const c of clients) assert.deepEqual(c.got, want);
    clients.forEach((c) => c.close());
  } finally {
    await d.cleanup();
  }
});

test('1,000 concurrent WebSocket connections open, echo and close', async () => {
  const d = await start();
  try {
    const n = 1000;
    const clients = [];
    for (let i = 0; i < n; i += 100) {
      const batch = [];
      for (let k = i; k < i + 100; k++) {
        const c = new WebSocket(wsUrl(d));
        clients.push(c);
        batch.push(new Promise((resolve, reject) => {
          c.on('open', () => c.send(`hello ${k}`));
          c.on('message', (m) => { assert.equal(m.toString(), `hello ${k}`); resolve(); });
          c.on('error', reject);
        }));
      }
      await Promise.all(batch);
    }
    assert.equal(clients.filter((c) => c.readyState === WebSocket.OPEN).length, n);
    // the server still answers HTTP with all of them open
    const ok = await d.fetch(`${d.url}/healthz`);
    assert.equal(ok.status, 200);
    await Promise.all(clients.map((c) => new Promise((resolve) => {
      c.on('close', resolve);
      c.close(1000);
    })));
    const again = await d.fetch(`${d.url}/healthz`);
    assert.equal(again.status, 200);
    const r = await d.stop();
    assert.deepEqual(r, { code: 0, signal: null }, d.stderr.slice(-4000));
    assert.doesNotMatch(d.stderr, /ERROR: (AddressSanitizer|LeakSanitizer)/);
  } finally {
    await d.cleanup();
  }
});

test('graceful shutdown: WebSockets get 1001, in-flight answers finish, exit 0', async () => {
  const d = await start();
  try {
    const c = new WebSocket(wsUrl(d));
    await new Promise((resolve, reject) => { c.on('open', resolve); c.on('error', reject); });
    const closed = new Promise((resolve) => c.on('close', (code) => resolve(code)));
    const raw = await RawWs.open(d.url);
    // an HTTP request that is answered 300 ms from now
    const inflight = exchange(d.url, 'GET /test/async?ms=300&id=late HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await new Promise((r) => setTimeout(r, 50));
    const stopping = d.stop();
    assert.equal(await closed, 1001);
    const f = await raw.next(3000);
    assert.equal(f.opcode, 0x8);
    assert.equal(f.payload.readUInt16BE(0), 1001);
    raw.close(1001);
    const res = await inflight;
    const rs = parseResponses(res.text);
    assert.equal(rs[0].status, 200);
    assert.equal(rs[0].body, 'async late');
    assert.equal(rs[0].headers.connection, 'close');
    assert.deepEqual(await stopping, { code: 0, signal: null }, d.stderr);
  } finally {
    await d.cleanup();
  }
});

test('shutdown is bounded by shutdown-grace-ms when a peer never answers', async () => {
  const d = await start({ args: ['--shutdown-grace-ms', '500'] });
  try {
    const raw = await RawWs.open(d.url);
    raw.sock.pause(); // never reads, never answers the Close
    const slow = exchange(d.url, 'GET /test/async?ms=20000 HTTP/1.1\r\nHost: localhost\r\n\r\n', { untilClose: true });
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    const r = await d.stop('SIGTERM', 8000);
    assert.deepEqual(r, { code: 0, signal: null }, d.stderr);
    assert.ok(Date.now() - t0 < 4000, 'stopped within the grace period (plus slack)');
    assert.match(d.stderr, /grace period over/);
    raw.destroy();
    await slow;
  } finally {
    await d.cleanup();
  }
});
