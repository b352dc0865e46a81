// SPDX-License-Identifier: MIT
// A WebSocket conformance checklist modelled on the Autobahn|Testsuite
// categories, run against the test-build echo endpoint /ws/echo with a
// hand-driven client: 1 framing, 2 ping/pong, 3 reserved bits, 4 opcodes,
// 5 fragmentation, 6 UTF-8, 7 close handling, 9 limits, plus the opening
// handshake (version, key, subprotocols).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const WebSocket = require('./lib/ws');
const { start } = require('./lib/daemon');
const { exchange, parseResponses, RawWs } = require('./lib/raw');

const TEXT = 0x1, BIN = 0x2, CONT = 0x0, CLOSE = 0x8, PING = 0x9, PONG = 0xa;

let d;
test.before(async () => { d = await start({ args: ['--ws-max-message-bytes', '300000'] }); });
test.after(async () => {
  const r = await d.stop();
  assert.deepEqual(r, { code: 0, signal: null }, d.stderr);
  await d.cleanup();
});

async function echo(ws, opcode, payload, opts) {
  ws.send(opcode, payload, opts);
  const f = await ws.nextData();
  assert.ok(f, 'an answer frame');
  return f;
}

// The connection must be failed: a Close with one of `codes` (1005 = empty
// Close payload), then the TCP close.
async function failsWith(ws, codes) {
  const code = await ws.expectClose();
  assert.ok(codes.includes(code), `close code ${code}, expected one of ${codes}`);
  assert.equal(ws.closed, true, 'TCP connection closed');
}

test('1 framing: text and binary of every length class are echoed intact', async () => {
  const ws = await RawWs.open(d.url);
  for (const n of [0, 1, 125, 126, 127, 128, 1000, 65535, 65536, 200000]) {
    const t = 'x'.repeat(n);
    let f = await echo(ws, TEXT, t);
    assert.equal(f.opcode, TEXT);
    assert.equal(f.fin, true);
    assert.equal(f.masked, false, 'server frames are not masked');
    assert.equal(f.payload.toString(), t);
    const b = Buffer.alloc(n, 0xfe);
    f = await echo(ws, BIN, b);
    assert.equal(f.opcode, BIN);
    assert.ok(f.payload.equals(b));
  }
  // chopped into 1-byte writes
  const frame = ws.frame(TEXT, 'chopped message');
  for (const byte of frame) ws.sendRaw(Buffer.from([byte]));
  const f = await ws.nextData();
  assert.equal(f.payload.toString(), 'chopped message');
  // several frames in one write
  ws.sendRaw(Buffer.concat([ws.frame(TEXT, 'a'), ws.frame(TEXT, 'b'), ws.frame(BIN, 'c')]));
  assert.deepEqual([await ws.nextData(), await ws.nextData(), await ws.nextData()].map((x) => x.payload.toString()), ['a', 'b', 'c']);
  ws.close();
  assert.equal(await ws.expectClose(), 1000);
});

test('2 pings get pongs with the same payload; bad pings fail the connection', async () => {
  const ws = await RawWs.open(d.url);
  let f = await echo(ws, PING, 'hello');
  assert.equal(f.opcode, PONG);
  assert.equal(f.payload.toString(), 'hello');
  f = await echo(ws, PING, Buffer.alloc(125, 7));
  assert.equal(f.opcode, PONG);
  assert.equal(f.payload.length, 125);
  f = await echo(ws, PING, '');
  assert.equal(f.opcode, PONG);
  // an unsolicited pong is ignored
  ws.send(PONG, 'unasked');
  f = await echo(ws, TEXT, 'still here');
  assert.equal(f.payload.toString(), 'still here');
  // 10 pings in a row: 10 pongs in order
  for (let i = 0; i < 10; i++) ws.send(PING, `p${i}`);
  for (let i = 0; i < 10; i++) assert.equal((await ws.nextData()).payload.toString(), `p${i}`);
  // a ping payload over 125 bytes is a protocol error
  ws.send(PING, Buffer.alloc(126));
  await failsWith(ws, [1002, 1005]);
  // a fragmented ping too
  const w2 = await RawWs.open(d.url);
  w2.send(PING, 'frag', { fin: false });
  await failsWith(w2, [1002, 1005]);
});

test('3 reserved bits without an extension fail the connection', async () => {
  for (const [opcode, rsv] of [[TEXT, 1], [TEXT, 2], [TEXT, 4], [BIN, 7], [PING, 4]]) {
    const ws = await RawWs.open(d.url);
    ws.send(opcode, 'rsv', { rsv });
    await failsWith(ws, [1002, 1005]);
  }
});

test('4 reserved opcodes fail the connection', async () => {
  for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    const ws = await RawWs.open(d.url);
    assert.equal((await echo(ws, TEXT, 'before')).payload.toString(), 'before');
    ws.send(opcode, 'x');
    await failsWith(ws, [1002, 1005]);
  }
});

test('5 fragmentation: reassembly, control frames in between, bad sequences', async () => {
  const ws = await RawWs.open(d.url);
  ws.send(TEXT, 'frag', { fin: false });
  ws.send(CONT, 'men', { fin: false });
  ws.send(PING, 'mid');
  ws.send(CONT, 'ted', { fin: true });
  let f = await ws.nextData();
  assert.equal(f.opcode, PONG);
  assert.equal(f.payload.toString(), 'mid');
  f = await ws.nextData();
  assert.equal(f.payload.toString(), 'fragmented');
  // binary in 100 one-byte fragments
  for (let i = 0; i < 100; i++) ws.send(i === 0 ? BIN : CONT, Buffer.from([i]), { fin: i === 99 });
  f = await ws.nextData();
  assert.equal(f.opcode, BIN);
  assert.equal(f.payload.length, 100);
  assert.equal(f.payload[99], 99);
  // empty fragments
  ws.send(TEXT, '', { fin: false });
  ws.send(CONT, '', { fin: false });
  ws.send(CONT, '', { fin: true });
  assert.equal((await ws.nextData()).payload.length, 0);
  ws.close();
  await ws.expectClose();

  // continuation with nothing to continue
  let w = await RawWs.open(d.url);
  w.send(CONT, 'orphan');
  await failsWith(w, [1002, 1005]);
  // a new data frame while a fragmented message is open
  w = await RawWs.open(d.url);
  w.send(TEXT, 'a', { fin: false });
  w.send(TEXT, 'b');
  await failsWith(w, [1002, 1005]);
});

// An idle connection lets its frame parser go between messages (ws.c):
// every write below reaches the server as its own read, so a message, a
// frame header or a fragmented message left open across a pause must be
// remembered, and a connection that was idle must parse the next message.
test('5b pauses mid-header, mid-payload and between fragments keep the parser\'s state', async () => {
  const pause = () => new Promise((r) => setTimeout(r, 30));
  const ws = await RawWs.open(d.url);
  const big = 'y'.repeat(70000); // a 16-bit extended length and a mask
  const frame = ws.frame(TEXT, big);
  for (const [a, b] of [[0, 1], [1, 3], [3, 6], [6, 9], [9, 5000], [5000, frame.length]]) {
    ws.sendRaw(frame.subarray(a, b));
    await pause();
  }
  let f = await ws.nextData();
  assert.equal(f.payload.toString(), big);
  ws.send(TEXT, 'frag', { fin: false });
  await pause();
  ws.send(PING, 'mid');
  f = await ws.nextData();
  assert.equal(f.opcode, PONG, 'a ping inside a fragmented message is answered');
  await pause();
  ws.send(CONT, 'ment', { fin: true });
  f = await ws.nextData();
  assert.equal(f.payload.toString(), 'fragment');
  await pause();
  f = await echo(ws, TEXT, 'after a rest');
  assert.equal(f.payload.toString(), 'after a rest');
  ws.close();
  await ws.expectClose();

  // an open fragmented message is still open after a pause
  let w = await RawWs.open(d.url);
  w.send(TEXT, 'a', { fin: false });
  await pause();
  w.send(TEXT, 'b');
  await failsWith(w, [1002, 1005]);
  // a continuation after a complete message and a pause has nothing to continue
  w = await RawWs.open(d.url);
  assert.equal((await echo(w, TEXT, 'whole')).payload.toString(), 'whole');
  await pause();
  w.send(CONT, 'orphan');
  await failsWith(w, [1002, 1005]);
});

test('6 UTF-8: valid text passes, invalid text is refused with 1007', async () => {
  const ws = await RawWs.open(d.url);
  const s = 'κόσμε – 𝄞 ✓ Ω';
  assert.equal((await echo(ws, TEXT, s)).payload.toString(), s);
  // a code point split across fragments is fine
  const b = Buffer.from('€uro');
  ws.send(TEXT, b.slice(0, 1), { fin: false });
  ws.send(CONT, b.slice(1, 2), { fin: false });
  ws.send(CONT, b.slice(2), { fin: true });
  assert.equal((await ws.nextData()).payload.toString(), '€uro');
  ws.close();
  await ws.expectClose();
  const invalid = [
    Buffer.from([0xff]),
    Buffer.from([0xce, 0xba, 0xe1, 0xbd]), // truncated at the end
    Buffer.from([0xed, 0xa0, 0x80]), // surrogate
    Buffer.from([0xc0, 0xaf]), // overlong
    Buffer.from([0xf4, 0x90, 0x80, 0x80]), // > U+10FFFF
  ];
  for (const p of invalid) {
    const w = await RawWs.open(d.url);
    w.send(TEXT, p);
    await failsWith(w, [1007]);
  }
  // invalid in a later fragment: fails fast, before the message ends
  const w = await RawWs.open(d.url);
  w.send(TEXT, 'ok so far', { fin: false });
  w.send(CONT, Buffer.from([0xf8, 0x88]), { fin: false });
  await failsWith(w, [1007]);
  // binary messages are not checked
  const w2 = await RawWs.open(d.url);
  assert.ok((await echo(w2, BIN, Buffer.from([0xff, 0xfe]))).payload.equals(Buffer.from([0xff, 0xfe])));
  w2.destroy();
});

test('7 close handling: codes, payloads, and what follows a close', async () => {
  // valid codes are echoed back
  for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]) {
    const ws = await RawWs.open(d.url);
    ws.close(code, 'reason');
    assert.equal(await ws.expectClose(), code, `code ${code}`);
    assert.equal(ws.closed, true);
  }
  // an empty close is answered
  let ws = await RawWs.open(d.url);
  ws.send(CLOSE, '');
  assert.ok([1000, 1005].includes(await ws.expectClose()));
  // invalid codes and a 1-byte payload fail
  for (const code of [0, 999, 1004, 1005, 1006, 1012, 1016, 2000, 2999, 5000, 65535]) {
    ws = await RawWs.open(d.url);
    ws.close(code);
    await failsWith(ws, [1002, 1005]);
  }
  ws = await RawWs.open(d.url);
  ws.send(CLOSE, Buffer.from([0x03]));
  await failsWith(ws, [1002, 1005]);
  // invalid UTF-8 in the reason
  ws = await RawWs.open(d.url);
  ws.send(CLOSE, Buffer.from([0x03, 0xe8, 0xff, 0xff]));
  await failsWith(ws, [1007, 1002]);
  // a close payload over 125 bytes
  ws = await RawWs.open(d.url);
  ws.close(1000, 'r'.repeat(124));
  await failsWith(ws, [1002, 1005]);
  // data after the close is ignored: only the Close comes back
  ws = await RawWs.open(d.url);
  ws.sendRaw(Buffer.concat([ws.frame(CLOSE, Buffer.from([0x03, 0xe8])), ws.frame(TEXT, 'late')]));
  const f = await ws.next();
  assert.equal(f.opcode, CLOSE);
  assert.equal(await ws.next(500), null);
  // the server closes first (test command) and waits for our Close
  ws = await RawWs.open(d.url);
  ws.send(TEXT, 'close:4001');
  const c = await ws.next();
  assert.equal(c.opcode, CLOSE);
  assert.equal(c.payload.readUInt16BE(0), 4001);
  assert.equal(c.payload.slice(2).toString(), 'bye');
  ws.close(4001);
  await ws.closedPromise;
});

test('9 limits: a message over ws-max-message-bytes gets 1009', async () => {
  let ws = await RawWs.open(d.url);
  ws.send(BIN, Buffer.alloc(300001));
  await failsWith(ws, [1009]);
  // also when the fragments add up past it
  ws = await RawWs.open(d.url);
  ws.send(TEXT, 'a'.repeat(200000), { fin: false });
  ws.send(CONT, 'b'.repeat(200000), { fin: true });
  await failsWith(ws, [1009]);
  // exactly at the limit is fine
  ws = await RawWs.open(d.url);
  assert.equal((await echo(ws, BIN, Buffer.alloc(300000))).payload.length, 300000);
  ws.destroy();
});

// The limit below the 64 KiB that frames are read without wslay up to:
// still 1009, and a length not written in its shortest form is judged as
// wslay judges it (1002), whichever path reads the frame.
test('9b a limit under 64 KiB and a non-shortest length are enforced on the fast path too', async () => {
  const small = await start({ args: ['--ws-max-message-bytes', '1000'] });
  try {
    let ws = await RawWs.open(small.url);
    assert.equal((await echo(ws, BIN, Buffer.alloc(1000, 7))).payload.length, 1000);
    ws.send(BIN, Buffer.alloc(1001));
    await failsWith(ws, [1009]);
    ws = await RawWs.open(small.url);
    ws.send(TEXT, 'x'.repeat(1001));
    await failsWith(ws, [1009]);
  } finally {
    const r = await small.stop();
    assert.deepEqual(r, { code: 0, signal: null }, small.stderr);
    await small.cleanup();
  }
  const ws = await RawWs.open(d.url);
  const key = Buffer.from([1, 2, 3, 4]);
  const body = Buffer.from('short').map((b, i) => b ^ key[i % 4]);
  ws.sendRaw(Buffer.concat([Buffer.from([0x81, 0x80 | 126, 0, 5]), key, body]));
  await failsWith(ws, [1002, 1005]);
});

test('10 unmasked client frames fail the connection', async () => {
  const ws = await RawWs.open(d.url);
  ws.send(TEXT, 'naked', { mask: false });
  await failsWith(ws, [1002, 1005]);
});

test('handshake: Sec-WebSocket-Accept, version 426, bad key 400, plain GET 426', async () => {
  const ws = await RawWs.open(d.url);
  assert.match(ws.response, /\r\nUpgrade: websocket/i);
  assert.match(ws.response, /\r\nSec-WebSocket-Accept: [A-Za-z0-9+/]{27}=/);
  ws.destroy();
  const up = 'Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n';
  let r = await exchange(d.url, `GET /ws/echo HTTP/1.1\r\nHost: localhost\r\n${up}Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n`);
  let x = parseResponses(r.text)[0];
  assert.equal(x.status, 426);
  assert.equal(x.headers['sec-websocket-version'], '13');
  r = await exchange(d.url, `GET /ws/echo HTTP/1.1\r\nHost: localhost\r\n${up}Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  assert.equal(parseResponses(r.text)[0].status, 400);
  r = await exchange(d.url, 'GET /ws/echo HTTP/1.1\r\nHost: localhost\r\n\r\n');
  x = parseResponses(r.text)[0];
  assert.equal(x.status, 426);
  assert.equal(JSON.parse(x.body).error.code, 'UPGRADE_REQUIRED');
  // the RFC's sample key gives the RFC's sample answer
  r = await exchange(d.url, `GET /ws/echo HTTP/1.1\r\nHost: localhost\r\n${up}Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  assert.match(r.text, /^HTTP\/1\.1 101 Switching Protocols\r\n[^]*Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/);
  // bytes sent right behind the upgrade request are not lost
  const w = await RawWs.open(d.url);
  w.destroy();
});

test('subprotocols: the first offered one the endpoint knows is selected', async () => {
  let ws = await RawWs.open(d.url, '/ws/echo', 'Sec-WebSocket-Protocol: nope, agentd.test, bearer\r\n');
  assert.match(ws.response, /\r\nSec-WebSocket-Protocol: agentd\.test(\r\n|$)/);
  ws.destroy();
  ws = await RawWs.open(d.url, '/ws/echo', 'Sec-WebSocket-Protocol: nope\r\n');
  assert.doesNotMatch(ws.response, /Sec-WebSocket-Protocol/);
  ws.destroy();
  const c = new WebSocket(`${d.url.replace('http', 'ws')}/ws/echo`, ['bearer', 'tok123']);
  await new Promise((resolve, reject) => { c.on('open', resolve); c.on('error', reject); });
  assert.equal(c.protocol, 'bearer');
  c.close();
});

test('the ws package talks to the echo endpoint; messages stay in order', async () => {
  const c = new WebSocket(`${d.url.replace('http', 'ws')}/ws/echo`);
  await new Promise((resolve, reject) => { c.on('open', resolve); c.on('error', reject); });
  const got = [];
  const all = new Promise((resolve) => c.on('message', (m) => { got.push(m.toString()); if (got.length === 500) resolve(); }));
  for (let i = 0; i < 500; i++) c.send(`m${i}`);
  await all;
  assert.deepEqual(got, Array.from({ length: 500 }, (_, i) => `m${i}`));
  const closed = new Promise((resolve) => c.on('close', (code) => resolve(code)));
  c.close(1000);
  assert.equal(await closed, 1000);
});

test('the upgrade request and the first frame in one write', async () => {
  const net = require('node:net');
  const u = new URL(d.url);
  const sock = net.connect({ host: u.hostname, port: Number(u.port) });
  const helper = new RawWs();
  const frame = helper.frame(TEXT, 'early bird');
  let buf = Buffer.alloc(0);
  await new Promise((r) => sock.on('connect', r));
  sock.write(Buffer.concat([Buffer.from('GET /ws/echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'), frame]));
  await new Promise((resolve) => {
    // a bound for a busy machine; the echo ends the wait
    const bound = setTimeout(resolve, 30000);
    sock.on('data', (b) => { buf = Buffer.concat([buf, b]); if (buf.includes('early bird')) { clearTimeout(bound); resolve(); } });
  });
  sock.destroy();
  assert.ok(buf.includes('early bird'));
});

// Whole masked data frames are read without wslay; anything else from the
// first frame that is not one (a partial frame, a control frame, invalid
// UTF-8) goes to wslay. These mix the two within single reads.
test('whole frames, then a split one, in one read: echoed in order; bad UTF-8 after good frames is 1007', async () => {
  const ws = await RawWs.open(d.url);
  const mid = 'm'.repeat(300) + '\u00e9\u4e2d\ud83d\ude00'; // 16-bit length, multi-byte text
  const c = ws.frame(TEXT, 'third, split across two reads');
  // binary first: a text frame read wrong would most likely fail UTF-8
  // and fall back to wslay, hiding the mistake
  ws.sendRaw(Buffer.concat([ws.frame(BIN, Buffer.from([0, 255, 1])), ws.frame(TEXT, 'first'), ws.frame(TEXT, mid),
    c.subarray(0, 9)]));
  await new Promise((r) => setTimeout(r, 50));
  ws.sendRaw(Buffer.concat([c.subarray(9), ws.frame(TEXT, 'fourth')]));
  const got = [];
  for (let i = 0; i < 5; i++) {
    const f = await ws.nextData();
    assert.ok(f, `echo ${i + 1} of 5`);
    got.push(f.opcode === BIN ? [...f.payload] : f.payload.toString());
  }
  assert.deepEqual(got, [[0, 255, 1], 'first', mid, 'third, split across two reads', 'fourth']);
  // after the split frame, wslay held the context: whole frames again go
  // the fast way and the connection still works
  assert.deepEqual([...(await echo(ws, BIN, Buffer.from('fifth!!!!'))).payload], [...Buffer.from('fifth!!!!')]);
  ws.sendRaw(Buffer.concat([ws.frame(TEXT, 'good'), ws.frame(TEXT, Buffer.from([0x61, 0xc0, 0xaf])), ws.frame(TEXT, 'never')]));
  assert.equal((await ws.nextData()).payload.toString(), 'good');
  await failsWith(ws, [1007]);
});

// A sender streaming frames faster than the server reads ends most reads in
// the middle of a frame: the server keeps that frame's start until the rest
// comes and reads it the fast way (bench row E1). Each write here is the rest
// of the previous frame, a whole frame and the start of the next, cut after
// 1, 2, 3 (inside a 16-bit length), 7 (inside the mask) or 40 bytes; the
// whole frame's echo says the server has read that write. A start that turns
// out to be a ping, or text that is not UTF-8, still goes to wslay.
test('frames split across reads at any byte: echoed intact and in order; a split ping is answered, split bad UTF-8 is 1007', async () => {
  const ws = await RawWs.open(d.url);
  const texts = [];
  for (let i = 0; i < 6; i++) texts.push(`${i}:` + String.fromCharCode(0x61 + i).repeat(i % 2 ? 20 : 300) + '\u00e9\u4e2d');
  const frames = texts.map((t) => ws.frame(TEXT, t));
  let rest = Buffer.alloc(0);
  const expect = [];
  for (const [i, cut] of [1, 2, 3, 7, 40].entries()) {
    const whole = ws.frame(TEXT, `whole ${i}`);
    const next = frames[i];
    ws.sendRaw(Buffer.concat([rest, whole, next.subarray(0, cut)]));
    rest = next.subarray(cut);
    if (i > 0) expect.push(texts[i - 1]);
    expect.push(`whole ${i}`);
    for (const want of expect.splice(0)) assert.equal((await ws.nextData()).payload.toString(), want);
  }
  ws.sendRaw(Buffer.concat([rest, ws.frame(TEXT, 'after the last split')]));
  assert.equal((await ws.nextData()).payload.toString(), texts[4]);
  assert.equal((await ws.nextData()).payload.toString(), 'after the last split');
  // a ping's first byte alone, then the rest
  const ping = ws.frame(PING, 'split ping');
  ws.sendRaw(Buffer.concat([ws.frame(TEXT, 'before the ping'), ping.subarray(0, 1)]));
  assert.equal((await ws.nextData()).payload.toString(), 'before the ping');
  ws.sendRaw(Buffer.concat([ping.subarray(1), ws.frame(TEXT, 'after the ping')]));
  const pong = await ws.nextData();
  assert.deepEqual([pong.opcode, pong.payload.toString()], [PONG, 'split ping']);
  assert.equal((await ws.nextData()).payload.toString(), 'after the ping');
  // text that is not UTF-8, split inside its payload
  const bad = ws.frame(TEXT, Buffer.concat([Buffer.from('x'.repeat(200)), Buffer.from([0xc0, 0xaf])]));
  ws.sendRaw(Buffer.concat([ws.frame(TEXT, 'last good'), bad.subarray(0, 100)]));
  assert.equal((await ws.nextData()).payload.toString(), 'last good');
  ws.sendRaw(bad.subarray(100));
  await failsWith(ws, [1007]);
});

// Frames queued in one loop turn leave together (one writev per
// connection); these check that coalescing keeps the queue order.
test('queued frames keep their order: data, pong, data, then the Close', async () => {
  const ws = await RawWs.open(d.url);
  ws.sendRaw(Buffer.concat([ws.frame(TEXT, 'first'), ws.frame(PING, 'between'), ws.frame(TEXT, 'second'),
    ws.frame(TEXT, 'close:1000')]));
  const got = [];
  for (let i = 0; i < 4; i++) {
    const f = await ws.next();
    assert.ok(f, `frame ${i + 1} of 4`);
    got.push([f.opcode, f.opcode === CLOSE ? f.payload.readUInt16BE(0) : f.payload.toString()]);
  }
  assert.deepEqual(got, [[TEXT, 'first'], [PONG, 'between'], [TEXT, 'second'], [CLOSE, 1000]]);
  ws.destroy();
});

test('a burst of echoes then a Close: every echo arrives before the Close', async () => {
  const ws = await RawWs.open(d.url);
  const frames = [];
  for (let i = 0; i < 300; i++) frames.push(ws.frame(TEXT, `e${i}:${'x'.repeat(i * 7)}`));
  frames.push(ws.frame(TEXT, 'close:4000'));
  ws.sendRaw(Buffer.concat(frames));
  for (let i = 0; i < 300; i++) {
    const f = await ws.next();
    assert.ok(f, `echo ${i}`);
    assert.equal(f.opcode, TEXT);
    assert.equal(f.payload.toString(), `e${i}:${'x'.repeat(i * 7)}`);
  }
  const c = await ws.next();
  assert.ok(c, 'the Close frame');
  assert.equal(c.opcode, CLOSE);
  assert.equal(c.payload.readUInt16BE(0), 4000);
  ws.destroy();
});

test('one shared broadcast reaches every socket whole and in order', async () => {
  const socks = [];
  for (let i = 0; i < 8; i++) socks.push(await RawWs.open(d.url));
  const sender = socks[0];
  const n = 200;
  const frames = [];
  for (let i = 0; i < n; i++) frames.push(sender.frame(TEXT, `broadcast:b${i}${i % 50 === 0 ? 'y'.repeat(70000) : ''}`));
  sender.sendRaw(Buffer.concat(frames));
  for (const s of socks) {
    for (let i = 0; i < n; i++) {
      const f = await s.nextData(10000);
      assert.ok(f, `broadcast ${i}`);
      assert.equal(f.payload.toString(), `b${i}${i % 50 === 0 ? 'y'.repeat(70000) : ''}`);
    }
  }
  for (const s of socks) s.destroy();
});
