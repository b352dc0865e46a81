// SPDX-License-Identifier: MIT
// Raw-socket clients for tests that need to send what a well-behaved
// library never would: malformed HTTP, slow headers, hand-made WebSocket
// frames. Everything is bounded by a timeout.
'use strict';

const net = require('node:net');
const crypto = require('node:crypto');

function hostPort(url) {
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) };
}

// The requests in what a test sends, as the server will read them: their
// methods in order (a HEAD's answer has no body). A head that is not a
// request line ends the scan: the server answers it (400) and closes.
function requestMethods(data) {
  const parts = Array.isArray(data) ? data : [data];
  const text = parts.filter((p) => typeof p !== 'number')
    .map((p) => (Buffer.isBuffer(p) ? p.toString('latin1') : String(p))).join('');
  const methods = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const lines = text.slice(at, end).split('\r\n');
    const m = /^([A-Z]+) \S+ HTTP\/1\.[01]$/.exec(lines[0]);
    methods.push(m ? m[1] : '?');
    if (!m) break;
    at = end + 4;
    const hdr = (name) => {
      const l = lines.find((x) => x.toLowerCase().startsWith(`${name}:`));
      return l === undefined ? undefined : l.slice(name.length + 1).trim();
    };
    if (/chunked/i.test(hdr('transfer-encoding') || '')) {
      for (;;) { // chunks, then the trailers up to the empty line
        const eol = text.indexOf('\r\n', at);
        if (eol < 0) return methods;
        const size = parseInt(text.slice(at, eol), 16);
        if (!(size > 0)) {
          const tend = text.indexOf('\r\n\r\n', eol); // past the trailers
          at = tend < 0 ? text.length : tend + 4;
          break;
        }
        at = eol + 2 + size + 2;
      }
    } else {
      at += Number(hdr('content-length') || 0);
    }
  }
  return methods;
}

// How far buf holds whole answers: each {status, end} (end: the offset past
// it), and whether the last one needs the connection's close to end (no
// length given). 1xx answers are interim (a 101 ends HTTP on the socket).
function answersIn(buf, methods) {
  const out = [];
  let at = 0;
  let finals = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', at);
    if (end < 0) return { out, partial: at < buf.length };
    const lines = buf.slice(at, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
    if (!m) return { out, partial: true, garbage: true };
    const status = Number(m[1]);
    const headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    let body = end + 4;
    if (status === 101) { out.push({ status, headers, end: body, upgrade: true }); return { out, partial: false }; }
    if (status < 200) { out.push({ status, headers, end: body, interim: true }); at = body; continue; }
    const head = methods[finals] === 'HEAD';
    finals++;
    if (head || status === 204 || status === 304) {
      // no body
    } else if (/chunked/i.test(headers['transfer-encoding'] || '')) {
      for (;;) {
        const eol = buf.indexOf('\r\n', body);
        if (eol < 0) return { out, partial: true };
        const size = parseInt(buf.slice(body, eol).toString('latin1'), 16);
        if (!(size > 0)) {
          const tend = buf.indexOf('\r\n\r\n', eol); // past the trailers
          if (tend < 0) return { out, partial: true };
          body = tend + 4;
          break;
        }
        if (buf.length < eol + 2 + size + 2) return { out, partial: true };
        body = eol + 2 + size + 2;
      }
    } else if (headers['content-length'] !== undefined) {
      body += Number(headers['content-length']);
      if (buf.length < body) return { out, partial: true };
    } else {
      return { out, partial: true, toClose: true }; // its body ends at the close
    }
    out.push({ status, headers, end: body });
    at = body;
  }
}

// Sends `data` (string, Buffer, or an array of chunks and numbers: ms to
// wait between them) and reads the answer until it is complete by HTTP's
// rules: a status line and headers, then Content-Length bytes, or chunks up
// to the last one, or nothing (1xx, 204, 304, an answer to HEAD), or to the
// connection's close (no length); one final answer per request sent. An
// answer with `Connection: close` (or a head that is no request) is read to
// the close. Options: untilClose (read until the server closes, e.g. an
// idle timeout), leave (close right after sending, reading nothing),
// responses (how many final answers to wait for, when the requests sent
// cannot tell), timeoutMs (the bound, 10 s: then what came is returned with
// timedOut). Resolves {text, buf, closed, timedOut}.
function exchange(url, data, opts = {}) {
  const { host, port } = hostPort(url);
  const timeoutMs = opts.timeoutMs ?? 10000;
  const methods = requestMethods(data);
  const want = opts.responses ?? methods.length;
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    const chunks = [];
    let done = false;
    let sent = false;
    const finish = (closed, timedOut = false) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const buf = Buffer.concat(chunks);
      resolve({ buf, text: buf.toString('latin1'), closed, timedOut });
    };
    const timer = setTimeout(() => finish(false, true), timeoutMs);
    const check = () => {
      if (!sent || opts.untilClose || want === 0) return;
      const { out, partial, toClose } = answersIn(Buffer.concat(chunks), methods);
      if (partial || toClose) return;
      const finals = out.filter((x) => !x.interim);
      const last = finals[finals.length - 1];
      if (last && last.upgrade) { finish(false); return; }
      if (finals.length < want) return;
      if (/close/i.test(last.headers.connection || '')) return; // the close follows
      finish(false);
    };
    sock.on('connect', async () => {
      const parts = Array.isArray(data) ? data : [data];
      for (const p of parts) {
        if (typeof p === 'number') await new Promise((r) => setTimeout(r, p));
        else if (!sock.destroyed) sock.write(p);
      }
      if (opts.leave) {
        sock.end(() => finish(false));
        return;
      }
      if (opts.end) sock.end();
      sent = true;
      check();
    });
    sock.on('data', (b) => { chunks.push(b); check(); });
    sock.on('end', () => finish(true));
    sock.on('close', () => finish(true));
    sock.on('error', (e) => (e.code === 'ECONNRESET' || e.code === 'EPIPE' ? finish(true) : reject(e)));
  });
}

// Splits a byte string of HTTP/1.1 responses into [{status, headers, body}].
function parseResponses(text) {
  const out = [];
  let rest = text;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const lines = rest.slice(0, end).split('\r\n');
    const m = /^HTTP\/1\.1 (\d{3}) /.exec(lines[0]);
    if (!m) break;
    const headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    const status = Number(m[1]);
    let len = headers['content-length'] !== undefined ? Number(headers['content-length']) : 0;
    if (status === 304 || status === 204 || status < 200) len = 0;
    if (headers['__head']) len = 0;
    out.push({ status, headers, body: rest.slice(end + 4, end + 4 + len) });
    rest = rest.slice(end + 4 + len);
  }
  return out;
}

// A hand-driven WebSocket client. open() resolves after the 101.
class RawWs {
  // extraHeaders: lines ending in \r\n (an Authorization for a guarded path).
  static async open(url, path = '/ws/echo', extraHeaders = '') {
    const { host, port } = hostPort(url);
    const ws = new RawWs();
    ws.sock = net.connect({ host, port });
    ws.buf = Buffer.alloc(0);
    ws.frames = [];
    ws.waiters = [];
    ws.closed = false;
    ws.closedPromise = new Promise((resolve) => { ws.sock.on('close', () => { ws.closed = true; resolve(); ws.wake(); }); });
    ws.sock.on('error', () => {});
    const key = crypto.randomBytes(16).toString('base64');
    await new Promise((resolve, reject) => {
      ws.sock.on('connect', () => {
        ws.sock.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extraHeaders}\r\n`);
      });
      let head = Buffer.alloc(0);
      const onData = (b) => {
        head = Buffer.concat([head, b]);
        const i = head.indexOf('\r\n\r\n');
        if (i < 0) return;
        ws.sock.off('data', onData);
        ws.response = head.slice(0, i).toString('latin1');
        if (!/^HTTP\/1\.1 101 /.test(ws.response)) { reject(new Error(ws.response)); return; }
        ws.sock.on('data', (d) => ws.onData(d));
        if (head.length > i + 4) ws.onData(head.slice(i + 4));
        resolve();
      };
      ws.sock.on('data', onData);
      ws.sock.on('close', () => reject(new Error('closed before 101')));
    });
    return ws;
  }

  onData(d) {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      if (this.buf.length < 2) return;
      const b0 = this.buf[0], b1 = this.buf[1];
      let len = b1 & 0x7f, off = 2;
      if (len === 126) { if (this.buf.length < 4) return; len = this.buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (this.buf.length < 10) return; len = Number(this.buf.readBigUInt64BE(2)); off = 10; }
      if (this.buf.length < off + len) return;
      this.frames.push({ fin: !!(b0 & 0x80), rsv: (b0 >> 4) & 7, opcode: b0 & 0xf, masked: !!(b1 & 0x80),
        payload: this.buf.slice(off, off + len) });
      this.buf = this.buf.slice(off + len);
      this.wake();
    }
  }

  wake() { const w = this.waiters; this.waiters = []; w.forEach((f) => f()); }

  // Next frame, or null when the connection closed first / timeout.
  async next(timeoutMs = 3000) {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (this.closed || Date.now() > deadline) return null;
      await new Promise((r) => { this.waiters.push(r); setTimeout(r, 50); });
    }
    return this.frames.shift();
  }

  // Skips pings; returns the next non-ping frame.
  async nextData(timeoutMs = 3000) {
    for (;;) {
      const f = await this.next(timeoutMs);
      if (!f || f.opcode !== 0x9) return f;
    }
  }

  // Reads frames until the server's Close or timeoutMs without one: the
  // text messages parsed, and the close code (null when none came).
  async readToClose(timeoutMs = 10000) {
    const msgs = [];
    for (;;) {
      const f = await this.nextData(timeoutMs);
      if (!f) return { msgs, code: null };
      if (f.opcode === 0x8) return { msgs, code: f.payload.readUInt16BE(0) };
      msgs.push(JSON.parse(f.payload.toString()));
    }
  }

  frame(opcode, payload = Buffer.alloc(0), { fin = true, rsv = 0, mask = true } = {}) {
    payload = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
    const len = payload.length;
    const hdr = [((fin ? 0x80 : 0) | (rsv << 4) | opcode) & 0xff];
    const m = mask ? 0x80 : 0;
    let ext = Buffer.alloc(0);
    if (len < 126) hdr.push(m | len);
    else if (len < 65536) { hdr.push(m | 126); ext = Buffer.alloc(2); ext.writeUInt16BE(len); }
    else { hdr.push(m | 127); ext = Buffer.alloc(8); ext.writeBigUInt64BE(BigInt(len)); }
    let body = payload;
    let key = Buffer.alloc(0);
    if (mask) {
      key = crypto.randomBytes(4);
      body = Buffer.from(payload.map((b, i) => b ^ key[i % 4]));
    }
    return Buffer.concat([Buffer.from(hdr), ext, key, body]);
  }

  send(opcode, payload, opts) { if (!this.sock.destroyed) this.sock.write(this.frame(opcode, payload, opts)); }

  sendRaw(buf) { if (!this.sock.destroyed) this.sock.write(buf); }

  close(code = 1000, reason = '') {
    const p = Buffer.alloc(2 + Buffer.byteLength(reason));
    p.writeUInt16BE(code);
    p.write(reason, 2);
    this.send(0x8, p);
  }

  // Waits for the server's Close frame and the TCP close. Resolves the
  // close code (null if no Close frame came).
  async expectClose(timeoutMs = 3000) {
    let code = null;
    for (;;) {
      const f = await this.next(timeoutMs);
      if (!f) break;
      if (f.opcode === 0x8) { code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005; break; }
    }
    await Promise.race([this.closedPromise, new Promise((r) => setTimeout(r, timeoutMs))]);
    return code;
  }

  destroy() { this.sock.destroy(); }
}

module.exports = { exchange, parseResponses, RawWs, hostPort };
