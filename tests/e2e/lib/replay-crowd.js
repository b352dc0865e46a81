// SPDX-License-Identifier: MIT
// A crowd of replaying readers in one process (replay-bounds.test.js runs a
// few of these, so the test's own process stays free to time /healthz).
// Every reader asks for topic TOPIC from seq 0; by role:
//   full      a WebSocket that reads everything and checks it: seqs rising,
//             each once, first..last, payload.i 0..count-1 in order;
//   sse       the same over SSE (/api/events?since=0);
//   slow      a WebSocket that reads a little at a time (paused between
//             reads), up to SLOW_BYTES, then leaves;
//   drop      a WebSocket that reads up to a few hundred KiB, then leaves;
//   stuck     a WebSocket that reads nothing after its acknowledgement (the
//             kernel's buffers fill first, then the daemon's queue).
// argv[2] is JSON {host, port, token, topic, first, last, count, full, sse,
// slow, drop, stuck?}. Prints JSON lines: {ready} once every reader has its
// subscription acknowledged (SSE: its 200), {done, role, ok, err, n} for
// each full or sse reader when it has the last event (or fails), and
// {left} once the slow and drop readers have all left.
'use strict';

const net = require('node:net');
const crypto = require('node:crypto');

const cfg = JSON.parse(process.argv[2]);
const SLOW_BYTES = 4 << 20;
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

let leaving = 0; // slow and drop readers still reading
const left = () => { if (--leaving === 0) out({ left: true }); };

// Checks one replayed event of a full reader; returns an error or null.
function check(st, seq, i) {
  if (st.n === 0 && seq !== cfg.first) return `first seq ${seq}, expected ${cfg.first}`;
  if (seq <= st.seq) return `seq ${seq} after ${st.seq} (a duplicate or out of order)`;
  if (i !== st.n) return `payload.i ${i} at event ${st.n} (a gap)`;
  st.seq = seq;
  st.n++;
  return null;
}

function finish(st, role, err) {
  if (st.done) return;
  st.done = true;
  out({ done: true, role, ok: !err, err, n: st.n });
  st.sock.destroy();
}

function onEvent(st, role, msg) {
  if (msg.type === 'gap' || msg.type === 'overflow' || msg.type === 'replay_truncated') {
    finish(st, role, `notice ${JSON.stringify(msg)}`);
    return;
  }
  if (typeof msg.seq !== 'number') return; // an acknowledgement
  const err = check(st, msg.seq, msg.payload && msg.payload.i);
  if (err) finish(st, role, err);
  else if (msg.seq === cfg.last) finish(st, role, st.n === cfg.count ? null : `${st.n} events, expected ${cfg.count}`);
}

function wsReader(role) {
  const sock = net.connect({ host: cfg.host, port: cfg.port });
  const st = { sock, seq: 0, n: 0, done: false, bytes: 0, subscribed: false };
  let buf = Buffer.alloc(0);
  let head = true;
  sock.on('error', () => {});
  sock.on('close', () => {
    if (role === 'full') finish(st, role, `closed after ${st.n} events (${buf.toString('latin1', 0, Math.min(buf.length, 300))})`);
    if (!st.subscribed) ready();
    if (role === 'slow' || role === 'drop') { if (!st.left) { st.left = true; left(); } }
  });
  sock.on('connect', () => {
    const key = crypto.randomBytes(16).toString('base64');
    sock.write(`GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${cfg.token}\r\n\r\n`);
    const body = Buffer.from(JSON.stringify({ type: 'subscribe', payload: { topics: [cfg.topic], since: 0 } }));
    const mask = crypto.randomBytes(4);
    const hdr = body.length < 126 ? Buffer.from([0x81, 0x80 | body.length])
      : Buffer.from([0x81, 0x80 | 126, body.length >> 8, body.length & 0xff]);
    sock.write(Buffer.concat([hdr, mask, Buffer.from(body.map((b, j) => b ^ mask[j % 4]))]));
  });
  const leave = () => { if (!st.left) { st.left = true; left(); } sock.destroy(); };
  const limit = role === 'slow' ? SLOW_BYTES : (128 << 10) + Math.floor(Math.random() * (512 << 10));
  sock.on('data', (d) => {
    st.bytes += d.length;
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    if (head) {
      const i = buf.indexOf('\r\n\r\n');
      if (i < 0) return;
      if (!/^HTTP\/1\.1 101 /.test(buf.toString('latin1', 0, 13))) {
        if (role === 'full') finish(st, role, `refused: ${buf.toString('latin1', 0, Math.min(i, 200))}`);
        sock.destroy();
        return;
      }
      buf = buf.subarray(i + 4);
      head = false;
    }
    for (;;) {
      if (buf.length < 2) break;
      let len = buf[1] & 0x7f;
      let off = 2;
      if (len === 126) { if (buf.length < 4) break; len = buf.readUInt16BE(2); off = 4; } else if (len === 127) {
        if (buf.length < 10) break;
        len = Number(buf.readBigUInt64BE(2));
        off = 10;
      }
      if (buf.length < off + len) break;
      const op = buf[0] & 0xf;
      const payload = buf.subarray(off, off + len);
      buf = buf.subarray(off + len);
      if (op !== 1) continue;
      if (!st.subscribed) {
        if (/"type":"subscribed"/.test(payload.toString('latin1', 0, 64))) {
          st.subscribed = true;
          ready();
          if (role === 'stuck') { sock.pause(); return; }
        }
        if (role !== 'full') continue;
      }
      if (role === 'full') onEvent(st, role, JSON.parse(payload.toString('utf8')));
    }
    if (role === 'drop' && st.subscribed && st.bytes >= limit) leave();
    if (role === 'slow' && st.subscribed) {
      if (st.bytes >= limit) { leave(); return; }
      sock.pause(); // a little at a time
      setTimeout(() => sock.resume(), 20);
    }
  });
  return st;
}

function sseReader() {
  const sock = net.connect({ host: cfg.host, port: cfg.port });
  const st = { sock, seq: 0, n: 0, done: false };
  let text = '';
  let head = true;
  sock.setEncoding('utf8');
  sock.on('error', () => {});
  sock.on('close', () => finish(st, 'sse', `closed after ${st.n} events`));
  sock.on('connect', () => {
    sock.write(`GET /api/events?topics=${cfg.topic}&since=0 HTTP/1.1\r\nHost: localhost\r\n` +
      `Accept: text/event-stream\r\nAuthorization: Bearer ${cfg.token}\r\n\r\n`);
  });
  sock.on('data', (d) => {
    text += d;
    if (head) {
      const i = text.indexOf('\r\n\r\n');
      if (i < 0) return;
      if (!/^HTTP\/1\.1 200 /.test(text)) { finish(st, 'sse', text.slice(0, 200)); return; }
      text = text.slice(i + 4);
      head = false;
      ready();
    }
    let i;
    // chunked or not, each event is "...data: {json}\n\n"; the JSON has no newline
    while ((i = text.indexOf('\n\n')) >= 0) {
      const block = text.slice(0, i);
      text = text.slice(i + 2);
      const m = /(?:^|\n)data: ?(\{.*\})/.exec(block);
      if (m) onEvent(st, 'sse', JSON.parse(m[1]));
      if (st.done) return;
    }
  });
}

const roles = [];
for (let i = 0; i < cfg.full; i++) roles.push('full');
for (let i = 0; i < cfg.sse; i++) roles.push('sse');
for (let i = 0; i < cfg.slow; i++) roles.push('slow');
for (let i = 0; i < cfg.drop; i++) roles.push('drop');
for (let i = 0; i < (cfg.stuck || 0); i++) roles.push('stuck');
leaving = cfg.slow + cfg.drop;
// Opened BATCH at a time, each batch once the one before is subscribed:
// what is measured is the replays, not a storm of handshakes in one turn.
const BATCH = 25;
let opened = 0;
let acked = 0; // subscribed (or gone before)
function openBatch() {
  const end = Math.min(roles.length, opened + BATCH);
  for (; opened < end; opened++) {
    if (roles[opened] === 'sse') sseReader();
    else wsReader(roles[opened]);
  }
}
function ready() {
  acked++;
  if (acked === roles.length) out({ ready: true });
  else if (acked === opened) openBatch();
}
openBatch();
process.stdin.on('data', () => {}); // killed by the test
