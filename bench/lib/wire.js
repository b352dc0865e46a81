// SPDX-License-Identifier: MIT
// Minimal, cheap clients for the load generators: a WebSocket client on
// `net` (handshake, zero-key masked sends, a frame parser that counts
// messages and hands out payloads only when asked), a keep-alive HTTP/1.1
// client with one request in flight, and a RESP subscriber/publisher for
// Redis. Kept small so the generator, not the library, is what costs CPU.
'use strict';

const net = require('node:net');
const crypto = require('node:crypto');

// Opens a WebSocket. onMessage(buf, opcode) is called for each complete data
// frame when given (payload sliced from the read buffer, valid until return);
// conn.count counts data frames either way, and tally.n too when given (one
// counter shared by many connections).
// agentd wants a token on TCP: the benchmark's (AGENTD_BENCH_TOKEN, set by
// lib/agentd.js and inherited by generator processes) goes on every
// request. Peers ignore the header.
function authLine() {
  const t = process.env.AGENTD_BENCH_TOKEN;
  return t ? `Authorization: Bearer ${t}\r\n` : '';
}

function wsConnect({ host = '127.0.0.1', port, path = '/', localAddress, headers = {}, onMessage, tally, timeoutMs = 10000 }) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port, localAddress });
    sock.setNoDelay(true);
    const key = crypto.randomBytes(16).toString('base64');
    let hdrs = `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${authLine()}`;
    for (const [k, v] of Object.entries(headers)) hdrs += `${k}: ${v}\r\n`;
    const conn = { sock, count: 0, bytes: 0, open: false, closed: false, send, close };
    let pending = null;
    let handshaken = false;
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`ws connect timeout ${path}`)); }, timeoutMs);

    function send(data) {
      const payload = typeof data === 'string' ? Buffer.from(data) : data;
      const len = payload.length;
      let hdr;
      if (len < 126) { hdr = Buffer.alloc(6); hdr[1] = 0x80 | len; }
      else if (len < 65536) { hdr = Buffer.alloc(8); hdr[1] = 0x80 | 126; hdr.writeUInt16BE(len, 2); }
      else { hdr = Buffer.alloc(14); hdr[1] = 0x80 | 127; hdr.writeBigUInt64BE(BigInt(len), 2); }
      hdr[0] = 0x81; // FIN + text; the mask key stays 0, so the payload goes as is
      return sock.write(Buffer.concat([hdr, payload]));
    }
    // An abortive close (RST): no TIME_WAIT left behind, so thousands of
    // benchmark connections do not slow the next run's port search.
    function close() { if (!conn.closed) { conn.closed = true; sock.resetAndDestroy(); } }

    function parse(buf) {
      let off = 0;
      const n = buf.length;
      while (n - off >= 2) {
        const b0 = buf[off], b1 = buf[off + 1] & 0x7f;
        let hl = 2, plen = b1;
        if (b1 === 126) { if (n - off < 4) break; plen = buf.readUInt16BE(off + 2); hl = 4; }
        else if (b1 === 127) { if (n - off < 10) break; plen = Number(buf.readBigUInt64BE(off + 2)); hl = 10; }
        if (n - off < hl + plen) break;
        const op = b0 & 0x0f;
        if (op === 1 || op === 2 || op === 0) {
          if (b0 & 0x80) {
            conn.count++;
            conn.bytes += plen;
            if (tally) { tally.n++; tally.bytes += plen; }
            if (onMessage) onMessage(buf.subarray(off + hl, off + hl + plen), op);
          }
        } else if (op === 9) { // ping: answer with a pong carrying the same data
          const p = buf.subarray(off + hl, off + hl + plen);
          const h = Buffer.from([0x8a, 0x80 | p.length, 0, 0, 0, 0]);
          sock.write(Buffer.concat([h, p]));
        } else if (op === 8) {
          conn.closed = true;
        }
        off += hl + plen;
      }
      return off;
    }

    sock.on('data', (chunk) => {
      let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = null;
      if (!handshaken) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) { pending = buf; return; }
        const head = buf.subarray(0, end).toString('latin1');
        if (!/^HTTP\/1\.1 101/.test(head)) {
          clearTimeout(timer);
          sock.destroy();
          reject(new Error(`ws upgrade refused on ${path}: ${head.split('\r\n')[0]}`));
          return;
        }
        handshaken = true;
        conn.open = true;
        clearTimeout(timer);
        buf = buf.subarray(end + 4);
        resolve(conn);
      }
      const used = parse(buf);
      if (used < buf.length) pending = Buffer.from(buf.subarray(used));
    });
    sock.on('error', (e) => { clearTimeout(timer); conn.closed = true; if (!handshaken) reject(e); });
    sock.on('close', () => { conn.closed = true; });
    sock.write(hdrs + '\r\n');
  });
}

// A keep-alive HTTP/1.1 connection; request() resolves with {status, body}
// once the whole response (Content-Length framed) has arrived.
function httpConn({ host = '127.0.0.1', port }) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    sock.setNoDelay(true);
    const queue = [];
    let buf = null;
    const c = {
      busy: false,
      request(method, path, body, contentType = 'application/json') {
        return new Promise((res, rej) => {
          const b = body == null ? '' : body;
          sock.write(`${method} ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nContent-Type: ${contentType}\r\n${authLine()}` +
            `Content-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`);
          queue.push({ res, rej });
        });
      },
      close() { sock.resetAndDestroy(); },
    };
    sock.on('connect', () => resolve(c));
    sock.on('error', (e) => { reject(e); while (queue.length) queue.shift().rej(e); });
    sock.on('close', () => { const e = new Error('connection closed'); while (queue.length) queue.shift().rej(e); });
    sock.on('data', (chunk) => {
      buf = buf ? Buffer.concat([buf, chunk]) : chunk;
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        const len = m ? Number(m[1]) : 0;
        if (buf.length < end + 4 + len) return;
        const status = Number(head.slice(9, 12));
        const body = buf.subarray(end + 4, end + 4 + len).toString();
        buf = buf.subarray(end + 4 + len);
        const q = queue.shift();
        if (q) q.res({ status, body });
      }
    });
  });
}

// RESP: a subscriber that counts "message" pushes, and a publisher that
// pipelines PUBLISH commands and counts replies.
function redisConnect({ host = '127.0.0.1', port, tally }) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    sock.setNoDelay(true);
    const r = { sock, count: 0, replies: 0, onReply: null, write: (s) => sock.write(s), close: () => sock.resetAndDestroy() };
    let pending = null;
    // Parses one RESP value at off; returns the offset after it, or -1.
    function value(buf, off) {
      if (off >= buf.length) return -1;
      const t = buf[off];
      const eol = buf.indexOf('\r\n', off);
      if (eol < 0) return -1;
      const num = Number(buf.toString('latin1', off + 1, eol));
      if (t === 0x24) { // $bulk
        if (num < 0) return eol + 2;
        return buf.length >= eol + 2 + num + 2 ? eol + 2 + num + 2 : -1;
      }
      if (t === 0x2a) { // *array
        let o = eol + 2;
        for (let i = 0; i < num; i++) { o = value(buf, o); if (o < 0) return -1; }
        return o;
      }
      return eol + 2; // +simple, -error, :integer
    }
    sock.on('data', (chunk) => {
      const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = null;
      let off = 0;
      for (;;) {
        const next = value(buf, off);
        if (next < 0) break;
        if (buf[off] === 0x2a && buf[off + 1] === 0x33 && buf.indexOf('message', off) === off + 8) { r.count++; if (tally) tally.n++; }
        else { r.replies++; if (r.onReply) r.onReply(); }
        off = next;
      }
      if (off < buf.length) pending = Buffer.from(buf.subarray(off));
    });
    sock.on('connect', () => resolve(r));
    sock.on('error', reject);
  });
}

function respCommand(...args) {
  let s = `*${args.length}\r\n`;
  for (const a of args) s += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  return s;
}

module.exports = { wsConnect, httpConn, redisConnect, respCommand };
