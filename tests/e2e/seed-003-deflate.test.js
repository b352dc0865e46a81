// SPDX-License-Identifier: MIT
// Seed fidelity, seed 003 (issue #40): "Compression - gzip for high-frequency
// events" as WebSockets do it, permessage-deflate (RFC 7692), when the
// client offers it: the `ws` client with perMessageDeflate on and off, the
// negotiation's parameters (window bits, context takeover, offers that must
// be declined), messages the client compresses, and a decompression bomb.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const http = require('node:http');
const WebSocket = require('./lib/ws');
const { start } = require('./lib/daemon');
const { publish, hasTestRoutes } = require('./lib/live');
const { until } = require('./lib/api');

// A /ws client that subscribes to topic; resolves {ws, msgs, answer} once
// subscribed (answer: the upgrade's Sec-WebSocket-Extensions).
function subscriber(d, topic, perMessageDeflate) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${d.url.replace('http', 'ws')}/ws`, { headers: d.authHeaders, perMessageDeflate });
    const msgs = [];
    let answer = null;
    ws.on('upgrade', (res) => { answer = res.headers['sec-websocket-extensions'] || null; });
    ws.on('message', (m) => {
      const j = JSON.parse(m.toString());
      msgs.push(j);
      if (j.type === 'subscribed') resolve({ ws, msgs, answer });
    });
    ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', payload: { topics: [topic] } })));
    ws.on('error', reject);
  });
}

// The answer to an upgrade offering `ext`: its Sec-WebSocket-Extensions (or null).
function offer(d, ext) {
  return new Promise((resolve, reject) => {
    const u = new URL(`${d.url}/ws`);
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname,
      headers: {
        ...d.authHeaders, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13',
        'sec-websocket-key': crypto.randomBytes(16).toString('base64'), 'sec-websocket-extensions': ext,
      },
    });
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve(res.headers['sec-websocket-extensions'] || null); });
    req.on('response', (res) => reject(new Error(`status ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
}

test('events are compressed for a client that offers permessage-deflate, and only then', async (t) => {
  const d = await start({ needUrl: true, args: ['--ws-deflate'] });
  try {
    if (!(await hasTestRoutes(d))) { t.skip('needs a test build (/test/publish)'); return; }
    const on = await subscriber(d, 'crew:z', true);
    const off = await subscriber(d, 'crew:z', false);
    assert.match(on.ws.extensions, /permessage-deflate/);
    assert.equal(off.ws.extensions, '');
    const before = { on: on.ws._socket.bytesRead, off: off.ws._socket.bytesRead };
    // 200 KB of JSON with repeats far apart (random 2 KB blocks, each five times)
    const blocks = Array.from({ length: 20 }, () => crypto.randomBytes(1024).toString('hex'));
    const text = blocks.map((b) => b.repeat(5)).join('');
    await publish(d, { type: 'tool_progress', topics: ['crew:z'], payload: { text } });
    const got = (c) => c.msgs.find((m) => m.type === 'tool_progress');
    await until(() => got(on) && got(off), 'the event on both sockets');
    assert.equal(got(on).payload.text, text);
    assert.equal(got(off).payload.text, text);
    const read = { on: on.ws._socket.bytesRead - before.on, off: off.ws._socket.bytesRead - before.off };
    assert.ok(read.off > text.length, `uncompressed: ${read.off} bytes`);
    assert.ok(read.on < text.length / 3, `compressed: ${read.on} bytes for ${text.length}`);
    on.ws.close();
    off.ws.close();
  } finally {
    await d.stop();
  }
});

test('with --ws-deflate=false an offer is not answered: messages go uncompressed', async () => {
  const d = await start({ needUrl: true, args: ['--ws-deflate=false'] });
  try {
    assert.equal(await offer(d, 'permessage-deflate; client_max_window_bits'), null);
  } finally {
    await d.stop();
  }
});

test('the negotiation: window bits honoured, both sides without context takeover, bad offers declined', async (t) => {
  const d = await start({ needUrl: true, args: ['--ws-deflate'] });
  try {
    assert.equal(await offer(d, 'permessage-deflate'),
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover');
    assert.equal(await offer(d, 'permessage-deflate; server_max_window_bits=10; client_max_window_bits'),
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10');
    // 8 bits is more than zlib can keep to: that offer is declined, the next taken
    assert.equal(await offer(d, 'permessage-deflate; server_max_window_bits=8, permessage-deflate; client_no_context_takeover'),
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover');
    for (const bad of ['permessage-deflate; foo', 'permessage-deflate; server_max_window_bits',
      'permessage-deflate; server_max_window_bits=16', 'permessage-deflate; client_no_context_takeover; client_no_context_takeover',
      'permessage-deflate; server_no_context_takeover=1', 'x-webkit-deflate-frame']) {
      assert.equal(await offer(d, bad), null, bad);
    }
    if (!(await hasTestRoutes(d))) { t.skip('needs a test build (/test/publish)'); return; }
    // a client that asks for a 512-byte window can inflate what it gets:
    // repeats 2 KB apart may not be referenced
    const small = await subscriber(d, 'crew:w', { serverMaxWindowBits: 9 });
    assert.match(small.answer, /server_max_window_bits=9/);
    const block = crypto.randomBytes(1024).toString('hex');
    const text = block.repeat(20);
    await publish(d, { type: 'tool_progress', topics: ['crew:w'], payload: { text } });
    await until(() => small.msgs.find((m) => m.type === 'tool_progress'), 'the event with a 9-bit window');
    assert.equal(small.msgs.find((m) => m.type === 'tool_progress').payload.text, text);
    small.ws.close();
  } finally {
    await d.stop();
  }
});

test('messages the client compresses are read; one that inflates past the limit is refused with 1009', async () => {
  const d = await start({ needUrl: true, args: ['--ws-deflate', '--ws-max-message-bytes', '262144'] });
  try {
    const ws = new WebSocket(`${d.url.replace('http', 'ws')}/ws`, { headers: d.authHeaders, perMessageDeflate: { threshold: 0 } });
    const msgs = [];
    ws.on('message', (m) => msgs.push(JSON.parse(m.toString())));
    const closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
    await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
    // compressed (threshold 0), 40 KB once inflated: answered
    ws.send(JSON.stringify({ type: 'ping', pad: 'p'.repeat(40000) }), { compress: true });
    await until(() => msgs.some((m) => m.type === 'pong'), 'a pong to a compressed ping');
    // 200 KB from a few hundred bytes: the inflater's output outruns its input
    ws.send(JSON.stringify({ type: 'ping', pad: ' '.repeat(200000) }), { compress: true });
    await until(() => msgs.filter((m) => m.type === 'pong').length === 2, 'a pong to a 200 KB ping');
    // 8 MB of spaces compresses to about 8 KB: refused once it passes 256 KiB
    ws.send(`{"type":"ping","pad":"${' '.repeat(8 * 1024 * 1024)}"}`, { compress: true });
    assert.equal(await closed, 1009);
    // the daemon is still there
    const r = await d.fetch(`${d.url}/api/health`);
    assert.equal(r.status, 200);
  } finally {
    await d.stop();
  }
});
