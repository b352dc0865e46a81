// SPDX-License-Identifier: MIT
// Helpers for the live-channel tests: a WebSocket client that keeps every
// message it receives (parsed) and can wait for one, the test-build publish
// route, and small REST helpers to make workspaces, agents and crews.
'use strict';

const http = require('node:http');
const WebSocket = require('./ws');
const { api, UNTIL_MS } = require('./api');

// A JSON.stringify replacer that cuts long strings (a 64 KiB pad would
// bury the rest of a timeout's message).
function short(_key, v) {
  return typeof v === 'string' && v.length > 120 ? `${v.slice(0, 40)}... (${v.length} chars)` : v;
}

class Live {
  static open(d, path = '/ws', opts = {}) {
    const c = new Live();
    c.msgs = [];
    c.events = []; // messages with a seq (bus events)
    c.waiters = [];
    c.closeCode = null;
    // opts.deflate: offer permessage-deflate (lib/ws.js leaves it off)
    c.ws = new WebSocket(`${d.url.replace('http', 'ws')}${path}`,
      { headers: { ...(d.authHeaders || {}), ...(opts.headers || {}) }, perMessageDeflate: opts.deflate === true });
    c.closed = new Promise((resolve) => {
      c.ws.on('close', (code) => { c.closeCode = code; resolve(code); c.wake(); });
    });
    c.ws.on('error', () => {});
    c.ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      c.msgs.push(m);
      if (typeof m.seq === 'number') c.events.push(m);
      c.wake();
    });
    return new Promise((resolve, reject) => {
      c.ws.on('open', () => resolve(c));
      c.ws.on('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
      c.ws.on('error', reject);
    });
  }

  wake() { const w = this.waiters; this.waiters = []; w.forEach((f) => f()); }

  send(type, payload) { this.ws.send(JSON.stringify(payload === undefined ? { type } : { type, payload })); }
  sendRaw(s) { this.ws.send(s); }

  // Resolves once pred() is true; rejects after timeoutMs with what was seen.
  async until(pred, timeoutMs = UNTIL_MS, what = 'condition') {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; ${this.msgs.length} messages ` +
          `(${this.events.length} events), ${this.closeCode === null ? 'open' : `closed with ${this.closeCode}`}, ` +
          `last: ${JSON.stringify(this.msgs.slice(-3), short)}`);
      }
      await new Promise((r) => { this.waiters.push(r); setTimeout(r, 100); });
    }
  }

  // The first message of this type (after index `from`), waiting for it.
  async next(type, from = 0, timeoutMs = UNTIL_MS) {
    let found;
    await this.until(() => {
      found = this.msgs.slice(from).find((m) => m.type === type);
      return found !== undefined;
    }, timeoutMs, `a ${type} message`);
    return found;
  }

  // Waits until what the server sent this socket before now has arrived: a
  // ping's pong follows it on the wire (every channel answers ping). For a
  // count to be final, first wait for a state saying every event counted was
  // published (a run ended, say): the pong then comes after them.
  async fence(timeoutMs = UNTIL_MS) {
    const from = this.msgs.length;
    this.send('ping');
    await this.next('pong', from, timeoutMs);
  }

  close() { this.ws.close(); return this.closed; }
}

// The REST helpers' name for api() (lib/api.js).
const json = api;

// A Server-Sent Events stream of the daemon (GET path): collects {id,
// data, json} events until stop(); s.ready resolves once it is open.
function openSse(d, path, headers = {}) {
  const s = { events: [], status: null, waiters: [] };
  s.ready = new Promise((resolve, reject) => {
    s.req = http.get(`${d.url}${path}`, { headers: { ...d.authHeaders, ...headers } }, (res) => {
      s.status = res.statusCode;
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (chunk) => {
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = { id: null, data: '' };
          for (const line of block.split('\n')) {
            if (line.startsWith('id:')) ev.id = line.slice(3).trim();
            else if (line.startsWith('data:')) ev.data += line.slice(5).trim();
          }
          if (ev.data) { ev.json = JSON.parse(ev.data); s.events.push(ev); }
        }
        const w = s.waiters; s.waiters = []; w.forEach((f) => f());
      });
      resolve();
    });
    s.req.on('error', reject);
  });
  s.until = async (pred, ms = UNTIL_MS) => {
    const deadline = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out; ${s.events.length} events`);
      await new Promise((r) => { s.waiters.push(r); setTimeout(r, 100); });
    }
  };
  s.stop = () => s.req.destroy();
  return s;
}

// POST /test/publish; resolves with {first, last, count}. Skips the calling
// test when the binary is not a test build (no such route).
async function publish(d, body) {
  const r = await json(d, 'POST', '/test/publish', body);
  if (r.status !== 200) throw new Error(`publish: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

async function hasTestRoutes(d) {
  const r = await json(d, 'POST', '/test/publish', {});
  return r.status !== 404;
}

// Asserts the seqs are exactly from..to, each once, in order.
function contiguous(seqs, from, to) {
  if (seqs.length !== to - from + 1) return `expected ${to - from + 1} events, got ${seqs.length}`;
  for (let i = 0; i < seqs.length; i++) {
    if (seqs[i] !== from + i) return `at index ${i}: seq ${seqs[i]}, expected ${from + i}`;
  }
  return null;
}

async function makeAgent(d, extra = {}) {
  const dir = require('./daemon').tmpRepo('agentd-ws-');
  const ws = await json(d, 'POST', '/api/workspaces', { name: 'w', path: dir });
  if (ws.status !== 201 && ws.status !== 200) throw new Error(`workspace: ${ws.status} ${JSON.stringify(ws.body)}`);
  const wsObj = ws.body;
  const wt = ws.body.worktrees[0];
  const ag = await json(d, 'POST', '/api/agents', { worktreeId: wt.id, name: 'a1', ...extra });
  if (ag.status !== 201 && ag.status !== 200) throw new Error(`agent: ${ag.status} ${JSON.stringify(ag.body)}`);
  return { workspace: wsObj, worktree: wt, agent: ag.body.agent || ag.body };
}

module.exports = { Live, json, openSse, publish, hasTestRoutes, contiguous, makeAgent };
