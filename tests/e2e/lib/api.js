// SPDX-License-Identifier: MIT
// Helpers for the REST tests: a daemon with its base URL, JSON requests
// that return {status, body, text, headers}, a bounded poll (until), and
// fixtures (a workspace on a temporary directory, an agent in its main
// worktree). Every e2e test takes api() and until() from here.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const daemon = require('./daemon');

async function startApi(opts = {}) {
  const d = await daemon.start({ needUrl: true, ...opts });
  d.req = (method, p, body, headers = {}) =>
    request(d.url, method, p, body, { ...d.authHeaders, ...headers });
  return d;
}

// The requests go out on node:http with a keep-alive agent, not fetch:
// undici's fetch cost the test process 350-800 µs of CPU a request against
// 100-250 µs (2,000 GETs of a small JSON answer, in-process server), and an
// e2e file sends thousands. What fetch did is kept: its default headers,
// headers given twice joined as its Headers join them, a gzipped answer
// inflated, and the answer's headers as a Headers. An https base still goes
// through fetch (its certificate is the test's to trust).
const FETCH_DEFAULTS = {
  accept: '*/*', 'accept-language': '*', 'sec-fetch-mode': 'cors',
  'user-agent': 'node', 'accept-encoding': 'gzip, deflate',
};
// A pooled connection the daemon closed as idle while a request went out on
// it fails with ECONNRESET: the agent closes its idle connections first, at
// 4 s (the daemon's default idle timeout is 60 s; the agent's timer ends only idle
// connections, a slow answer is waited for), and a request that met it on
// a reused connection is sent once more on a new one (request.reusedSocket,
// Node's documented remedy).
const keepAlive = new http.Agent({ keepAlive: true, timeout: 4000 });
// A request the daemon never answers fails the test that sent it, naming
// it, instead of holding its file (and make check) open until CI's own
// limit: two minutes without a byte from the daemon, far beyond any answer
// (the agent puts its own 4 s idle timer back once the socket is free).
const SILENT_MS = 120000;

function send(url, method, headers, payload, fresh) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: fresh ? undefined : keepAlive, timeout: SILENT_MS }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        let raw = Buffer.concat(chunks);
        const enc = res.headers['content-encoding'];
        if (enc === 'gzip') raw = zlib.gunzipSync(raw);
        else if (enc === 'deflate') raw = zlib.inflateSync(raw);
        const h = new Headers();
        for (let i = 0; i < res.rawHeaders.length; i += 2) h.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
        resolve({ status: res.statusCode, headers: h, text: raw.toString('utf8') });
      });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer in ${SILENT_MS / 1000} s`), { code: 'ETIMEDOUT' })));
    req.on('error', (e) => {
      if (!fresh && req.reusedSocket && e.code === 'ECONNRESET') {
        send(url, method, headers, payload, true).then(resolve, reject);
      } else reject(e);
    });
    req.end(payload);
  });
}

async function request(base, method, p, body, headers = {}) {
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    init.headers['content-type'] = 'application/json';
  }
  let res;
  let text;
  try {
    if (base.startsWith('https:')) {
      const r = await fetch(base + p, init);
      res = { status: r.status, headers: r.headers, text: await r.text() };
    } else {
      const joined = new Headers(FETCH_DEFAULTS);
      for (const [k, v] of new Headers(init.headers)) joined.set(k, v);
      if (init.body !== undefined) joined.set('content-length', String(Buffer.byteLength(init.body)));
      res = await send(base + p, method, Object.fromEntries(joined), init.body, false);
    }
    text = res.text;
  } catch (e) {
    const c = e.cause || e;
    throw new Error(`${method} ${base}${p}: ${e.message}${c ? ` (${c.code || c.name}: ${c.message})` : ''}`, { cause: e });
  }
  let json = null;
  if (text.length > 0) {
    try { json = JSON.parse(text); } catch (_) { json = text; }
  }
  return { status: res.status, body: json, text, headers: res.headers };
}

// One JSON request to the daemon d with its owner token; headers add to or
// replace it (another token's authorization, say). A body that is not JSON
// comes back as its text.
function api(d, method, p, body, headers = {}) {
  return request(d.url, method, p, body, { ...d.authHeaders, ...headers });
}

// How long until() waits unless a test says otherwise: a state a test waits
// for comes in milliseconds; the bound only matters when it never comes, and
// is wide enough for an ASan build on a busy machine, where a real CLI's
// start alone once took 26 s (make check beside other work: 30 s failed a
// turn of Gemini's and one of Claude Code's). A test that waits on real
// work (a training run, a large spool) passes a longer one.
const UNTIL_MS = 60000;

// Polls fn (sync or async) until it returns something truthy, and returns
// that; throws naming `what` after ms. Every 50 ms for the first second,
// then each pause half again as long as the last, to 250 ms: a state that is
// seconds away (a lease, a session's idle time, a CLI's turn) was polled
// 20 times a second, and each poll costs the file and the ASan daemon a
// request, some a CLI's start. Eight of the longest files (planes, nodes,
// holds, goals, routines) took 118 CPU-s with 4,451 polls, 106 with 2,558,
// in the same wall time.
async function until(fn, what, ms = UNTIL_MS) {
  const start = Date.now();
  const end = start + ms;
  let pause = POLL_FIRST_MS;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pause));
    if (Date.now() - start > POLL_QUICK_MS) pause = Math.min(POLL_MAX_MS, Math.round(pause * 1.5));
  }
}
const POLL_FIRST_MS = 50;
const POLL_QUICK_MS = 1000;
const POLL_MAX_MS = 250;

// promise, or a failure naming what never came once ms passed (a bound on
// an answer that must come, as until's: it waits for the answer, never for
// the time). For a request that once hung, so a test says so rather than
// hang until the runner's limit.
function answered(promise, what, ms = UNTIL_MS) {
  let timer;
  const bound = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer to ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

// Asserts an error answer: status, code, and (if given) the field named.
function assertError(r, status, code, field) {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${JSON.stringify(r.body)}`);
  assert.equal(r.body.error.code, code);
  assert.equal(typeof r.body.error.message, 'string');
  if (field !== undefined) assert.equal(r.body.error.details.field, field);
}

// A workspace is a git work tree: the directory gets an empty repository.
function makeRepoDir(d) {
  return daemon.tmpRepo('ws-', d.dataDir);
}

async function makeWorkspace(d, name) {
  const dir = makeRepoDir(d);
  const r = await api(d, 'POST', '/api/workspaces', name ? { path: dir, name } : { path: dir });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return { ws: r.body, wt: r.body.worktrees[0], dir };
}

// A daemon (opts as for startApi) with a workspace on a new repository
// outside its data dir: { d, dir, wt } (wt: the main worktree's id).
async function startWithWorktree(opts = {}) {
  const d = await startApi(opts);
  const dir = daemon.tmpRepo('agentd-wt-');
  const ws = await api(d, 'POST', '/api/workspaces', { path: dir, name: 'w' });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  return { d, dir, wt: ws.body.worktrees[0].id };
}

// A command agent in worktree wt running argv; its id.
async function commandAgent(d, wt, command, extra = {}) {
  return (await makeAgent(d, wt, { executor: 'command', command, ...extra })).id;
}

// A command agent's first run, started and waited for until it ended
// (ms bounds the wait as in until()): the run's id. Training tests hang
// their metric points on it.
async function endedRun(d, wt, command, ms = UNTIL_MS) {
  const id = await commandAgent(d, wt, command);
  assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, {})).status, 200);
  return until(async () => {
    const r = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0];
    return r && r.status !== 'running' ? r.id : null;
  }, 'the run to end', ms);
}

// A run the test build records as given (POST /test/runs); the run.
async function testRun(d, agentId, status, extra = {}) {
  const r = await api(d, 'POST', '/test/runs', { agentId, status, ...extra });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.run || r.body;
}

// The chat once its answer is stored (streaming false: the write commits
// just after the stream's last event).
function chatIdle(d, id) {
  return until(async () => {
    const g = await api(d, 'GET', `/api/chats/${id}`);
    return g.body && !g.body.streaming ? g.body : null;
  }, `chat ${id} to be stored`);
}

// Every stored message of the agent, oldest first (page by page, bounded).
async function allMessages(d, id) {
  const out = [];
  let before = null;
  for (let i = 0; i < 2000; i++) {
    const q = `/api/agents/${id}/messages?limit=200` + (before ? `&before=${encodeURIComponent(before)}` : '');
    const r = await api(d, 'GET', q);
    assert.equal(r.status, 200);
    out.push(...r.body.messages);
    if (!r.body.hasMore || !r.body.nextCursor) break;
    before = r.body.nextCursor;
  }
  out.sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1));
  return out;
}

async function makeAgent(d, worktreeId, extra = {}) {
  const r = await api(d, 'POST', '/api/agents', { worktreeId, ...extra });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

// A counter's values as stored: 0, 1, 2, ... each exactly once and in order
// (the tests that kill, stall or restart things while an agent counts).
function assertOnce(values, what) {
  assert.ok(values.length > 0, `${what}: no output stored`);
  for (let i = 0; i < values.length; i++) {
    if (values[i] !== i) {
      assert.fail(`${what}: value ${i} expected at position ${i}, got ${values[i]} ` +
        `(around: ${values.slice(Math.max(0, i - 3), i + 4).join(',')})`);
    }
  }
}

// Agent id's approvals waiting for a decision, once there are at least n
// (polled; ms bounds the wait as in until()).
async function pendingApprovals(d, id, n = 1, ms = UNTIL_MS) {
  return until(async () => {
    const r = await api(d, 'GET', `/api/agents/${id}/approvals?pending=true`);
    return r.body.approvals.length >= n ? r.body.approvals : null;
  }, 'a pending approval', ms);
}

// What an agent looks like when a test's wait for it failed: its status,
// its runs' ends and its last messages, appended to the error so a failure
// in CI says where the agent stood.
async function withAgentState(d, id, fn) {
  try {
    return await fn();
  } catch (e) {
    let state = '';
    try {
      const a = (await api(d, 'GET', `/api/agents/${id}`)).body;
      const runs = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs || [];
      const msgs = (await allMessages(d, id)).slice(-12).map((m) => `${m.role}: ${String(m.content).slice(0, 300)}`);
      state = `\nagent ${id}: ${a.status} on ${a.node || a.nodeId || 'the plane'}; runs ${JSON.stringify(runs.map((r) => [r.status, r.exitCode, r.error]))}\n${msgs.join('\n')}`;
    } catch (_) { /* the daemon is gone: the first error says enough */ }
    e.message += state;
    throw e;
  }
}

// Gives org the roots under which its admins may register repositories
// (issue #73: any org but the owner's registers only there), keeping the
// other orgs' roots. d's authHeaders must be the owner's.
async function orgRoots(d, org, dirs = [os.tmpdir()]) {
  const roots = (await request(d.url, 'GET', '/api/settings', undefined, d.authHeaders)).body.workspace_roots || {};
  const r = await request(d.url, 'PATCH', '/api/settings', { workspace_roots: { ...roots, [org]: dirs } }, d.authHeaders);
  assert.equal(r.status, 200, r.text);
}

// The size of each holder's spool of stream name ('out', 'err') in
// dataDir, by holder folder: it grows with what the agent prints, stored or
// not (a stored part becomes a hole, the size stays).
function spools(dataDir, name) {
  const sizes = new Map();
  for (const { dir } of daemon.holdFiles(dataDir, 'info')) {
    try { sizes.set(dir, fs.statSync(path.join(dir, name)).size); } catch (_) { /* none yet */ }
  }
  return sizes;
}

// Waits until every spool of `before` (spools()) has grown by `bytes`: the
// agents printed while no agentd read them.
function spoolsGrow(dataDir, name, before, bytes) {
  assert.ok(before.size > 0, `no holder has a ${name} spool in ${dataDir}`);
  return until(() => {
    const now = spools(dataDir, name);
    return [...before].every(([dir, n]) => (now.get(dir) || 0) >= n + bytes);
  }, `every agent's ${name} spooled while no agentd runs`);
}

module.exports = {
  orgRoots, withAgentState, startApi, request, api, until, answered, UNTIL_MS, assertError, makeWorkspace, makeRepoDir, makeAgent,
  startWithWorktree, commandAgent, endedRun, testRun, chatIdle, allMessages, assertOnce, pendingApprovals, spools, spoolsGrow,
};
