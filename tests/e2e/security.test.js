// SPDX-License-Identifier: MIT
// Security, as an attacker tries it against a real daemon: requests without
// or with wrong credentials, from another origin or Host, with the wrong
// content type, with too little scope, across organisations; the secrets
// at rest; the data dir's permissions; programs that would run without
// being asked for. Every route the router knows is walked, so a route added
// later without the right access declared fails here.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const WebSocket = require('./lib/ws');
const daemon = require('./lib/daemon');
const { exchange, parseResponses } = require('./lib/raw');
const { until, UNTIL_MS } = require('./lib/api');

// ---- helpers -----------------------------------------------------------------------------

async function call(d, method, p, body, headers = {}) {
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    if (!Object.keys(init.headers).some((k) => k.toLowerCase() === 'content-type')) {
      init.headers['content-type'] = 'application/json';
    }
  }
  const ac = new AbortController();
  init.signal = ac.signal;
  const res = await fetch(d.url + p, init);
  if ((res.headers.get('content-type') || '').startsWith('text/event-stream')) {
    ac.abort(); // a stream: the status is the answer
    return { status: res.status, body: null, headers: res.headers };
  }
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (_) { json = text; }
  return { status: res.status, body: json, headers: res.headers };
}

const bearer = (t) => ({ authorization: `Bearer ${t}` });

// A new repository under the data dir, whose folder the owner adds to org
// B's workspace roots (issue #73: B's admin may then make a workspace there).
async function bRepo() {
  const dir = daemon.tmpRepo('sec-b-', d.dataDir);
  const roots = (await call(d, 'GET', '/api/settings', undefined, d.authHeaders)).body.workspace_roots || {};
  const mine = new Set([...(roots[f.orgB] || []), path.dirname(dir)]);
  assert.equal((await call(d, 'PATCH', '/api/settings', { workspace_roots: { ...roots, [f.orgB]: [...mine] } }, d.authHeaders)).status, 200);
  return dir;
}

// Opens a WebSocket; resolves {opened, code, reason, status}: status is the
// HTTP status of a refused upgrade, code the close code of an accepted one.
// refused: the caller expects a refusal, so the answer is the server's
// close or its HTTP status, waited for (bounded at 60 s; a loaded machine
// has closed a refused socket later than 300 ms after it opened). Without
// it, the answer is a state too: the pong to a ping sent once open, with no
// close before it (agentd refuses a socket's credential as it opens, before
// it answers anything the client sends), or the close.
function wsTry(d, p, { headers = {}, protocols, refused = false } = {}) {
  return new Promise((resolve) => {
    const ws = new WebSocket(d.url.replace('http', 'ws') + p, protocols, { headers });
    const out = { opened: false, code: null, reason: '', status: null };
    const timer = setTimeout(() => { ws.terminate(); resolve(out); }, refused ? 60000 : 30000);
    ws.on('open', () => {
      out.opened = true;
      if (refused) return;
      ws.ping();
    });
    ws.on('pong', () => {
      if (refused || out.code !== null) return;
      clearTimeout(timer);
      ws.terminate();
      resolve(out);
    });
    ws.on('unexpected-response', (_req, res) => {
      out.status = res.statusCode;
      clearTimeout(timer);
      ws.terminate();
      resolve(out);
    });
    ws.on('close', (code, reason) => {
      out.code = code;
      out.reason = reason.toString();
      clearTimeout(timer);
      resolve(out);
    });
    ws.on('error', () => {});
  });
}

async function makeToken(d, body) {
  const r = await call(d, 'POST', '/api/tokens', body, d.authHeaders);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.match(r.body.token, /^tok_\S+\.[A-Za-z0-9_-]{43}$/);
  return r.body;
}

// Org A (the default org) with one of everything, org B with its own admin,
// and tokens of each scope.
async function fixture(d) {
  const f = {};
  const dir = daemon.tmpRepo('sec-ws-', d.dataDir);
  let r = await call(d, 'POST', '/api/workspaces', { path: dir }, d.authHeaders);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  f.ws = r.body.id;
  f.wt = r.body.worktrees[0].id;
  r = await call(d, 'POST', '/api/crews', { name: 'a-crew' }, d.authHeaders);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  f.crew = r.body.id;
  r = await call(d, 'POST', '/api/agents',
    { worktreeId: f.wt, executor: 'command', command: ['true'], crewId: f.crew }, d.authHeaders);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  f.agent = r.body.id;
  r = await call(d, 'POST', `/api/agents/${f.agent}/start`, {}, d.authHeaders);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  f.run = await until(async () => {
    const l = await call(d, 'GET', `/api/agents/${f.agent}/runs`, undefined, d.authHeaders);
    const run = l.body.runs.find((x) => x.status !== 'running');
    return run && run.id;
  }, 'the run to end');
  r = await call(d, 'POST', '/test/approvals', { agentId: f.agent, runId: f.run }, d.authHeaders);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  f.approval = r.body.id;
  r = await call(d, 'POST', '/api/jobs', { name: 'a-job', command: ['true'] }, d.authHeaders);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  f.job = r.body.id;
  r = await call(d, 'POST', '/api/services', { name: 'a-service', command: ['true'], enabled: false }, d.authHeaders);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  f.service = r.body.id;
  r = await call(d, 'POST', '/api/chats', { model: 'claude-sonnet-4-5' }, d.authHeaders);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  f.chat = r.body.id;
  r = await call(d, 'POST', '/api/projects', { name: 'a-project' }, d.authHeaders);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  f.project = r.body.id;
  r = await call(d, 'POST', '/api/config-schemas', { name: 'a-schema',
    fields: [{ name: 'lr', type: 'float', min: 0.001, max: 1, default: 0.1 }] }, d.authHeaders);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  f.schema = r.body.id;
  r = await call(d, 'POST', '/api/configs', { name: 'a-config', schemaId: f.schema }, d.authHeaders);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  f.config = r.body.id;
  r = await call(d, 'POST', '/api/workflows', { name: 'a-flow', worktreeId: f.wt,
    steps: [{ id: 'a', prompt: 'x', agent: { executor: 'command', command: ['true'] } }] }, d.authHeaders);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  f.workflow = r.body.id;
  r = await call(d, 'POST', '/api/alert-rules', { name: 'a-rule', kind: 'nan', series: 'loss', action: 'none' }, d.authHeaders);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  f.alertRule = r.body.id;
  r = await call(d, 'POST', '/api/users', { username: 'a-user', password: 'a-password-1', role: 'read' }, d.authHeaders);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  f.user = r.body.id;
  f.read = await makeToken(d, { name: 'reader', scope: 'read' });
  f.write = await makeToken(d, { name: 'writer', scope: 'write' });
  f.admin = await makeToken(d, { name: 'a-admin', scope: 'admin' });
  f.node = await makeToken(d, { name: 'a-node', scope: 'node' });
  r = await call(d, 'POST', '/api/orgs', { name: 'org b' }, d.authHeaders);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  f.orgB = r.body.id;
  f.bAdmin = await makeToken(d, { name: 'b-admin', scope: 'admin', orgId: f.orgB });
  return f;
}

// The path of a route with its parameter filled with org A's row.
function fill(pattern, f) {
  const ids = [['/api/workspaces/', f.ws], ['/api/worktrees/', f.wt], ['/api/agents/', f.agent],
    ['/api/runs/', f.run], ['/api/crews/', f.crew], ['/ws/agents/', f.agent], ['/ws/runs/', f.run],
    ['/api/tokens/', f.admin.id], ['/api/jobs/', f.job],
    ['/api/services/', f.service], ['/api/chats/', f.chat], ['/api/projects/', f.project],
    ['/api/approvals/', f.approval], ['/api/config-schemas/', f.schema], ['/api/configs/', f.config],
    ['/api/workflows/', f.workflow], ['/api/alert-rules/', f.alertRule], ['/api/users/', f.user],
    // an import reads a file and a sweep starts runs: none made here (their
    // org rules: imports.test.js, sweeps.test.js)
    ['/api/imports/', 'imp_none', false], ['/api/sweeps/', 'swp_none', false],
    // a node is made by a node joining (tests/e2e/nodes.test.js): none here
    ['/api/nodes/', 'nd_none', false],
    // a provider names no row: every org has its own credential under it
    ['/api/credentials/', 'anthropic', false], ['/api/definitions/', 'general', false],
    // an org's credits: the owner's to grant (403 to any token; seed-003-credits)
    ['/api/orgs/', 'org_default', false],
    // routines, push subscriptions and the CLIs' own sessions: none made
    // here (their org rules: routines.test.js, push.test.js,
    // sessions-external.test.js)
    ['/api/routines/', 'rt_none', false], ['/api/push/subscriptions/', 'ps_none', false],
    ['/api/sessions/external/', 'claude', false]];
  if (!/:\w+/.test(pattern)) return { path: pattern, owned: false };
  const hit = ids.find(([prefix]) => pattern.startsWith(prefix));
  if (!hit) return null;
  return { path: pattern.replace(/:\w+/, hit[1]), owned: hit[2] !== false };
}

const PUBLIC = new Set(['GET /healthz', 'POST /api/auth/login', 'POST /api/auth/logout']);
// The OTLP receiver takes no token: a run's own credential, checked by its
// handler (401 without it, below; the rest in otlp-receive.test.js).
const RUN_CREDENTIAL = new Set(['POST /v1/traces', 'POST /v1/metrics', 'POST /v1/logs',
  // a routine's webhook takes its own signature (routines.test.js), a push
  // notification's Allow/Deny its one-use action token (push.test.js)
  'POST /api/hooks/:id', 'POST /api/push/actions',
  // a node's registration takes a registration token (nodes-registration.test.js)
  'POST /api/nodes/register', 'GET /api/nodes/register']);
// An upgrade-only route (the seed's socket on /) is a WebSocket too: a plain
// GET on its path is the public page, tested below.
const isWs = (route) => route.method === 'GET' && (/^\/ws(\/|$)/.test(route.pattern) || route.upgrade === 'websocket');
const SCOPES = ['read', 'write', 'admin'];

let d;
let f;
let routes;
test.before(async () => {
  d = await daemon.start({ needUrl: true });
  assert.ok(d.token, 'the daemon printed no login line');
  f = await fixture(d);
  const r = await call(d, 'GET', '/test/routes', undefined, d.authHeaders);
  assert.equal(r.status, 200, 'needs a test build');
  routes = r.body.routes.filter((x) => !x.pattern.startsWith('/test/') && x.pattern !== '/ws/echo');
  assert.ok(routes.length > 50, `only ${routes.length} routes`);
});
test.after(async () => { await d.cleanup(); });

// ---- the route table -----------------------------------------------------------------------

test('every route declares its access; only login and health are public (and the runs\' OTLP receiver, on their own credential)', async () => {
  for (const r of routes) {
    const key = `${r.method} ${r.pattern}`;
    if (RUN_CREDENTIAL.has(key)) {
      assert.equal(r.access, 'public', key);
      if (key === 'GET /api/nodes/register') { /* a WebSocket: refused on the socket */
        const w = await wsTry(d, r.pattern, { refused: true });
        assert.equal(w.code, 4401, `${key} without its own credential: ${JSON.stringify(w)}`);
        continue;
      }
      // (the push action's body is its credential: a token that is not one
      // is refused 403, as every action token that does not hold: push.test.js)
      const push = key === 'POST /api/push/actions';
      const body = push ? { token: 'not-a-token', action: 'allow' } : {};
      const want = push ? 403 : 401;
      const res = await call(d, r.method, r.pattern, body);
      assert.equal(res.status, want, `${key} without its own credential`);
      const tok = await call(d, r.method, r.pattern, body, bearer(d.token));
      assert.equal(tok.status, want, `${key} with the owner token: not its own credential`);
      continue;
    }
    if (r.access === 'public') assert.ok(PUBLIC.has(key), `${key} is public`);
    else if (r.access === 'node') assert.equal(key, 'GET /api/nodes/link', 'only the node link takes a node token');
    else assert.ok(SCOPES.includes(r.access), `${key}: ${r.access}`);
    // Starting programs (the requirements check runs --version), tokens,
    // orgs, audit and settings changes are admin.
    if (/\/start$|\/message$|\/push$|^\/api\/tokens|^\/api\/users|^\/api\/orgs|^\/api\/audit|terminal$|^\/api\/requirements/.test(r.pattern) ||
        key === 'PATCH /api/settings') {
      assert.equal(r.access, 'admin', key);
    }
    // (the autoscaling hook's state is admin: its argv and its output are a program's)
    if (r.method === 'GET' && r.access !== 'public' && r.access !== 'node' && !/tokens|users|orgs|audit|terminal|requirements|autoscale/.test(r.pattern)) {
      assert.equal(r.access, 'read', key);
    }
  }
});

test('without a token: 401 on every REST route, 4401 on every WebSocket', async () => {
  let wrong = 0;
  for (const r of routes.filter((x) => x.access !== 'public')) {
    const p = fill(r.pattern, f);
    assert.ok(p, `no fixture for ${r.pattern}`);
    if (isWs(r)) {
      const w = await wsTry(d, p.path, { refused: true });
      assert.equal(w.code, 4401, `${r.pattern}: ${JSON.stringify(w)}`);
      assert.match(w.reason, /token/);
      continue;
    }
    const body = r.method === 'GET' || r.method === 'DELETE' ? undefined : {};
    const res = await call(d, r.method, p.path, body);
    assert.equal(res.status, 401, `${r.method} ${r.pattern}: ${res.status}`);
    assert.equal(res.body.error.code, 'UNAUTHORIZED');
    // A wrong token is no better than none (a few: each counts towards
    // this address's lockout, tested on its own daemon below).
    if (wrong++ < 3) {
      const bad = await call(d, r.method, p.path, body, bearer(`${f.admin.id}.${'x'.repeat(43)}`));
      assert.equal(bad.status, 401, `${r.method} ${r.pattern} with a wrong token`);
    }
  }
  // The seed's socket shares / with the dashboard page, which stays public.
  const page = await call(d, 'GET', '/');
  assert.equal(page.status, 200);
  // A wrong token on a socket, in the protocol header as the seed sends it.
  const w = await wsTry(d, '/ws', { protocols: ['bearer', 'not-a-token'], refused: true });
  assert.equal(w.code, 4401);
});

test('each route needs its scope: 403 below it, never 401/403 at it', async () => {
  for (const r of routes.filter((x) => x.access !== 'public')) {
    const p = fill(r.pattern, f);
    if (r.access === 'node') { // no scope of the order reaches the node link (nodes.test.js: a node token does)
      for (const [i, tok] of [f.read, f.write, f.admin].entries()) {
        const w = await wsTry(d, p.path, { protocols: ['bearer', tok.token], refused: true });
        assert.equal(w.code, 4403, `${r.pattern} as ${SCOPES[i]}: ${JSON.stringify(w)}`);
      }
      continue;
    }
    const need = SCOPES.indexOf(r.access);
    for (const [i, tok] of [f.read, f.write].entries()) {
      const body = r.method === 'GET' || r.method === 'DELETE' ? undefined : {};
      if (i >= need) {
        if (r.method !== 'GET') continue; // allowed; changing things is tested elsewhere
        if (isWs(r)) {
          const w = await wsTry(d, p.path, { protocols: ['bearer', tok.token] });
          assert.notEqual(w.code, 4401, r.pattern);
          assert.notEqual(w.code, 4403, r.pattern);
          continue;
        }
        const res = await call(d, 'GET', p.path, undefined, bearer(tok.token));
        assert.ok(res.status !== 401 && res.status !== 403, `GET ${r.pattern} as ${SCOPES[i]}: ${res.status}`);
        continue;
      }
      if (isWs(r)) {
        const w = await wsTry(d, p.path, { protocols: ['bearer', tok.token], refused: true });
        assert.equal(w.code, 4403, `${r.pattern} as ${SCOPES[i]}: ${JSON.stringify(w)}`);
        continue;
      }
      const res = await call(d, r.method, p.path, body, bearer(tok.token));
      assert.equal(res.status, 403, `${r.method} ${r.pattern} as ${SCOPES[i]}: ${res.status}`);
      assert.equal(res.body.error.code, 'FORBIDDEN');
    }
  }
});

test('a node token is refused on every route but the node link (issue #34)', async () => {
  let n = 0;
  for (const r of routes.filter((x) => x.access !== 'public' && x.access !== 'node')) {
    const p = fill(r.pattern, f);
    if (isWs(r)) {
      const w = await wsTry(d, p.path, { protocols: ['bearer', f.node.token], refused: true });
      assert.equal(w.code, 4403, `${r.pattern} as a node: ${JSON.stringify(w)}`);
    } else {
      const body = r.method === 'GET' || r.method === 'DELETE' ? undefined : {};
      const res = await call(d, r.method, p.path, body, bearer(f.node.token));
      assert.equal(res.status, 403, `${r.method} ${r.pattern} as a node: ${res.status}`);
    }
    n++;
  }
  assert.ok(n > 50, `${n} routes`);
  // nor does it sign in to the dashboard
  const login = await call(d, 'POST', '/api/auth/login', { token: f.node.token });
  assert.equal(login.status, 401);
});

test('another organisation\'s rows are answered exactly like missing ones', async () => {
  let named = 0;
  const b = { protocols: ['bearer', f.bAdmin.token], refused: true };
  for (const r of routes.filter((x) => x.access !== 'public')) {
    const p = fill(r.pattern, f);
    if (!p.owned) continue;
    named++;
    // The same route on an id that exists nowhere: what "missing" looks like.
    const missing = r.pattern.replace(/:\w+/, 'x_01zzzzzzzzzzzzzzzzzzzzzzzz');
    if (isWs(r)) {
      const w = await wsTry(d, p.path, b);
      const m = await wsTry(d, missing, b);
      assert.equal(w.code, 4404, `${r.pattern}: ${JSON.stringify(w)}`);
      assert.equal(w.code, m.code, r.pattern);
      continue;
    }
    const body = r.method === 'GET' || r.method === 'DELETE' ? undefined : {};
    const res = await call(d, r.method, p.path, body, bearer(f.bAdmin.token));
    const none = await call(d, r.method, missing, body, bearer(f.bAdmin.token));
    const what = `${r.method} ${r.pattern}: ${res.status} ${JSON.stringify(res.body)} / missing ${none.status}`;
    assert.ok(res.status >= 400 && res.status !== 403, what);
    assert.equal(res.status, none.status, what);
    assert.equal(res.body.error.code, none.body.error.code, what);
    // A read or a change of the row itself is a plain 404.
    if (r.method === 'GET' || r.method === 'DELETE' || r.method === 'PATCH') assert.equal(res.status, 404, what);
  }
  assert.ok(named > 30, `${named} routes name a row`);
  // Nothing of A's changed: the agent, the token and the workspace are there.
  assert.equal((await call(d, 'GET', `/api/agents/${f.agent}`, undefined, d.authHeaders)).status, 200);
  assert.equal((await call(d, 'GET', `/api/workspaces/${f.ws}`, undefined, d.authHeaders)).status, 200);
  assert.equal((await call(d, 'GET', '/api/auth/whoami', undefined, bearer(f.admin.token))).status, 200);
  // B's decision on A's approval was a 404 and decided nothing.
  const bTry = await call(d, 'POST', `/api/approvals/${f.approval}`, { decision: 'allow' }, bearer(f.bAdmin.token));
  assert.equal(bTry.status, 404);
  const aps = (await call(d, 'GET', `/api/agents/${f.agent}/approvals`, undefined, d.authHeaders)).body.approvals;
  assert.equal(aps.find((a) => a.id === f.approval).status, 'pending');
  // A's own writer may deny it (allowing Bash, which the agent's permissions
  // do not allow, is an admin's: security-auth.test.js); with no run
  // waiting on it that is a 409, and it stays pending.
  const aTry = await call(d, 'POST', `/api/approvals/${f.approval}`, { decision: 'deny' }, bearer(f.write.token));
  assert.equal(aTry.status, 409, JSON.stringify(aTry.body));
});

test('lists, creates and references stay inside the organisation', async () => {
  const b = bearer(f.bAdmin.token);
  for (const [p, key] of [['/api/workspaces', 'workspaces'], ['/api/agents', 'agents'],
    ['/api/crews', 'crews'], ['/api/worktrees', 'worktrees']]) {
    const r = await call(d, 'GET', p, undefined, b);
    assert.equal(r.status, 200, p);
    assert.deepEqual(r.body[key], [], `${p} shows another org's rows`);
  }
  const toks = await call(d, 'GET', '/api/tokens', undefined, b);
  assert.deepEqual(toks.body.tokens.map((t) => t.name), ['b-admin']);
  const orgs = await call(d, 'GET', '/api/orgs', undefined, b);
  assert.deepEqual(orgs.body.orgs.map((o) => o.id), [f.orgB]);
  assert.equal((await call(d, 'GET', '/api/usage/today', undefined, b)).status, 404);
  // Building on A's rows from B: as if they did not exist.
  assert.equal((await call(d, 'POST', '/api/worktrees', { workspaceId: f.ws, name: 'x' }, b)).status, 404);
  const ag = await call(d, 'POST', '/api/agents', { worktreeId: f.wt }, b);
  assert.equal(ag.status, 404, JSON.stringify(ag.body));
  assert.equal((await call(d, 'POST', '/api/agents/reorder', { worktreeId: f.wt, ids: [f.agent] }, b)).status, 404);
  // B cannot make orgs, change settings or mint tokens for A.
  assert.equal((await call(d, 'POST', '/api/orgs', { name: 'c' }, b)).status, 403);
  assert.equal((await call(d, 'PATCH', '/api/settings', { allow_root_auto: true }, b)).status, 403);
  assert.equal((await call(d, 'POST', '/api/tokens', { name: 'x', scope: 'admin', orgId: 'org_default' }, b)).status, 403);
  // B's own workspace is B's: the owner sees it, A's admin does not.
  // under a root the owner gave org B (issue #73: its admin too)
  const dir = await bRepo();
  const mine = await call(d, 'POST', '/api/workspaces', { path: dir }, b);
  assert.equal(mine.status, 201, JSON.stringify(mine.body));
  assert.equal(mine.body.orgId, f.orgB);
  assert.equal((await call(d, 'GET', `/api/workspaces/${mine.body.id}`, undefined, bearer(f.admin.token))).status, 404);
  assert.equal((await call(d, 'GET', `/api/workspaces/${mine.body.id}`, undefined, d.authHeaders)).status, 200);
});

// An agent of org B's made by B's admin, in a workspace of bRepo's: its
// id, which B's seed sockets see too (agent_update).
async function bAgent() {
  const w = await call(d, 'POST', '/api/workspaces', { path: await bRepo() }, bearer(f.bAdmin.token));
  assert.equal(w.status, 201, JSON.stringify(w.body));
  const ag = await call(d, 'POST', '/api/agents', { worktreeId: w.body.worktrees[0].id, executor: 'command', command: ['true'] },
    bearer(f.bAdmin.token));
  assert.equal(ag.status, 201, JSON.stringify(ag.body));
  return ag.body.id;
}

test('events reach only their organisation, live and in replay', async () => {
  const open = (tok, p) => new Promise((resolve, reject) => {
    const ws = new WebSocket(d.url.replace('http', 'ws') + p, ['bearer', tok]);
    const c = { ws, events: [] };
    ws.on('message', (m) => { const x = JSON.parse(m.toString()); if (typeof x.seq === 'number') c.events.push(x); });
    ws.on('open', () => resolve(c));
    ws.on('error', reject);
  });
  const a = await open(f.admin.token, '/ws');
  const b = await open(f.bAdmin.token, '/ws');
  for (const c of [a, b]) c.ws.send(JSON.stringify({ type: 'subscribe', payload: { topics: ['*'], since: 0 } }));
  // the seed's socket on / (no subscribe), live and replaying from the start
  const seedA = await open(f.admin.token, '/');
  const seedB = await open(f.bAdmin.token, '/');
  const seedBReplay = await open(f.bAdmin.token, '/?since=0');
  // A new agent in A, started: agent_update, agent_status, agent_output…
  const r = await call(d, 'POST', '/api/agents',
    { worktreeId: f.wt, executor: 'command', command: ['echo', 'secret-output'] }, d.authHeaders);
  assert.equal(r.status, 201);
  assert.equal((await call(d, 'POST', `/api/agents/${r.body.id}/start`, {}, d.authHeaders)).status, 200);
  await until(() => a.events.some((e) => e.type === 'agent_exit' && e.payload.agentId === r.body.id), 'A sees the run');
  // Then something B may see: each socket gets its events in seq order, so
  // once B's sockets hold it, whatever of A's they were sent has arrived
  // (a wait for a time would let a leak arrive after the check).
  const sentinel = await bAgent();
  const has = (c) => c.events.some((e) => JSON.stringify(e).includes(sentinel));
  await until(() => [b, seedB, seedBReplay].every(has), 'B\'s sockets see B\'s own new agent');
  const leaked = b.events.filter((e) => JSON.stringify(e).includes(f.ws) || JSON.stringify(e).includes(r.body.id) ||
    JSON.stringify(e).includes(f.agent));
  assert.deepEqual(leaked, [], 'B received A\'s events');
  await until(() => seedA.events.some((e) => e.type === 'agent_update' && e.payload.id === r.body.id), 'A\'s seed socket sees the agent');
  for (const c of [seedB, seedBReplay]) {
    const seen = c.events.filter((e) => JSON.stringify(e).includes(r.body.id) || JSON.stringify(e).includes(f.agent));
    assert.deepEqual(seen, [], 'B\'s seed socket on / received A\'s events');
  }
  for (const c of [a, b, seedA, seedB, seedBReplay]) c.ws.close();
  // SSE with replay from the start: the same.
  const sse = await fetch(`${d.url}/api/events?topics=*&since=0`, { headers: bearer(f.bAdmin.token) });
  assert.equal(sse.status, 200);
  const reader = sse.body.getReader();
  let text = '';
  // read up to B's agent made after A's run: the replay is in seq order
  while (!text.includes(sentinel)) {
    let bound;
    const chunk = await Promise.race([reader.read(), new Promise((res) => { bound = setTimeout(() => res(null), UNTIL_MS); })]);
    clearTimeout(bound);
    assert.ok(chunk && !chunk.done, 'the SSE replay reached B\'s own new agent');
    text += Buffer.from(chunk.value).toString();
  }
  await reader.cancel();
  assert.ok(!text.includes(r.body.id) && !text.includes(f.agent), 'SSE replay leaked A\'s events');
  // The mission snapshot and a run of A's.
  const run = await wsTry(d, `/ws/runs/${f.run}`, { protocols: ['bearer', f.bAdmin.token], refused: true });
  assert.equal(run.code, 4404);
});

// ---- requests from browsers ---------------------------------------------------------------

test('another origin, a rebinding Host or a simple POST cannot change anything', async () => {
  const before = (await call(d, 'GET', '/api/workspaces', undefined, d.authHeaders)).body.workspaces.length;
  const dir = daemon.tmpRepo('sec-x-', d.dataDir);
  // A session cookie, as the browser of a logged-in user would send it.
  const login = await fetch(`${d.url}/api/auth/login`, { method: 'POST',
    headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: d.token }) });
  assert.equal(login.status, 200);
  const setCookie = login.headers.get('set-cookie');
  assert.match(setCookie, /^agentd_session_\d+=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
  const cookie = setCookie.split(';')[0];
  const port = new URL(d.url).port;
  const attempts = [
    ['text/plain simple POST', { cookie, 'content-type': 'text/plain' }, 415],
    ['form POST from another site', { cookie, origin: 'http://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, 403],
    ['JSON from another site', { cookie, origin: 'http://evil.example', 'content-type': 'application/json' }, 403],
    ['another port on this host', { cookie, origin: 'http://127.0.0.1:1', 'content-type': 'application/json' }, 403],
    ['null origin (sandboxed frame)', { cookie, origin: 'null', 'content-type': 'application/json' }, 403],
  ];
  for (const [what, headers, status] of attempts) {
    const r = await call(d, 'POST', '/api/workspaces', JSON.stringify({ path: dir }), headers);
    assert.equal(r.status, status, `${what}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  // DNS rebinding: the right port, a hostile name; refused before routing,
  // even with a valid token.
  const raw = await exchange(d.url, `GET /api/workspaces HTTP/1.1\r\nHost: evil.example:${port}\r\n` +
    `Authorization: Bearer ${d.token}\r\nConnection: close\r\n\r\n`);
  const [res] = parseResponses(raw.text);
  assert.equal(res.status, 403);
  assert.equal(JSON.parse(res.body).error.code, 'HOST_NOT_ALLOWED');
  // HTTP/1.1 without a Host at all.
  const noHost = parseResponses((await exchange(d.url, 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n')).text);
  assert.equal(noHost[0].status, 400);
  // A cross-origin WebSocket, with the cookie: refused at the upgrade.
  const w = await wsTry(d, '/ws', { headers: { cookie, origin: 'http://evil.example' }, refused: true });
  assert.equal(w.status, 403);
  // The same cookie from our own origin works (the dashboard).
  const own = await call(d, 'POST', '/api/crews', { name: 'from the dashboard' },
    { cookie, origin: `http://127.0.0.1:${port}` });
  assert.equal(own.status, 201, JSON.stringify(own.body));
  const ownWs = await wsTry(d, '/ws', { headers: { cookie, origin: `http://127.0.0.1:${port}` } });
  assert.equal(ownWs.opened, true);
  // Preflights: only for listed origins.
  const pre = await fetch(`${d.url}/api/workspaces`, { method: 'OPTIONS',
    headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
  assert.equal(pre.headers.get('access-control-allow-origin'), null);
  // Nothing was made.
  const after = (await call(d, 'GET', '/api/workspaces', undefined, d.authHeaders)).body.workspaces.length;
  assert.equal(after, before);
});

test('the dashboard carries the security headers', async () => {
  const r = await fetch(`${d.url}/`);
  const csp = r.headers.get('content-security-policy');
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline'[^;]*script|script-src[^;]*unsafe-inline/);
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
  assert.equal(r.headers.get('x-frame-options'), 'DENY');
  assert.equal(r.headers.get('strict-transport-security'), null, 'HSTS only over TLS');
  // an error answer carries them too
  const e = await fetch(`${d.url}/api/workspaces`);
  assert.equal(e.status, 401);
  assert.equal(e.headers.get('x-content-type-options'), 'nosniff');
  assert.match(e.headers.get('content-security-policy'), /frame-ancestors 'none'/);
  const html = await r.text();
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'an inline script the CSP would block');
});

// ---- programs that run without being asked for ----------------------------------------------

test('loader-changing environment needs an admin who asks for it', async () => {
  const env = { NODE_OPTIONS: '--require /tmp/evil.js' };
  let r = await call(d, 'POST', '/api/agents', { worktreeId: f.wt, executor: 'claude', env }, bearer(f.admin.token));
  assert.equal(r.status, 422, JSON.stringify(r.body));
  assert.match(r.body.error.message, /NODE_OPTIONS/);
  r = await call(d, 'POST', '/api/agents', { worktreeId: f.wt, executor: 'claude', env: { LD_PRELOAD: '/x.so' }, allowUnsafeEnv: true }, bearer(f.write.token));
  assert.equal(r.status, 403, JSON.stringify(r.body));
  r = await call(d, 'POST', '/api/agents', { worktreeId: f.wt, executor: 'claude', env, allowUnsafeEnv: true }, bearer(f.admin.token));
  assert.equal(r.status, 201, JSON.stringify(r.body));
  // A command agent and a setup command are the admin's.
  r = await call(d, 'POST', '/api/agents', { worktreeId: f.wt, executor: 'command', command: ['id'] }, bearer(f.write.token));
  assert.equal(r.status, 403, JSON.stringify(r.body));
  r = await call(d, 'PUT', `/api/workspaces/${f.ws}/setup`, { setupCommand: 'id > pwned' }, bearer(f.write.token));
  assert.equal(r.status, 403, JSON.stringify(r.body));
  // …and creating a workspace with one in the same request is no way round.
  const dir = daemon.tmpRepo('sec-setup-', d.dataDir);
  r = await call(d, 'POST', '/api/workspaces', { path: dir, setupCommand: 'id > pwned' }, bearer(f.write.token));
  assert.ok(r.status === 403 || r.status === 422, `${r.status} ${JSON.stringify(r.body)}`);
});

test('auto mode as root needs allow_root_auto before IS_SANDBOX=1 is set', async (t) => {
  const dir = daemon.tmpDir('sec-claude-');
  const bin = path.join(dir, 'fake-claude');
  // (it writes into its worktree: the sandbox shows the CLI's folder read-only)
  fs.writeFileSync(bin, '#!/bin/sh\necho "IS_SANDBOX=${IS_SANDBOX:-unset}" > env.txt\n', { mode: 0o755 });
  const c = await daemon.start({ needUrl: true, args: ['--claude-bin', bin] });
  try {
    const h = c.authHeaders;
    const repo = daemon.tmpRepo('sec-root-', c.dataDir);
    const out = path.join(repo, 'env.txt');
    const ws = await call(c, 'POST', '/api/workspaces', { path: repo }, h);
    const make = () => call(c, 'POST', '/api/agents', { worktreeId: ws.body.worktrees[0].id, executor: 'claude', mode: 'auto' }, h);
    let ag = await make();
    if (process.getuid() === 0) {
      // As root it is refused before the agent exists (issue #32).
      assert.equal(ag.status, 422, JSON.stringify(ag.body));
      assert.match(ag.body.error.message, /allow_root_auto/);
      assert.equal((await call(c, 'GET', '/api/agents', undefined, h)).body.agents.length, 0);
      assert.equal((await call(c, 'PATCH', '/api/settings', { allow_root_auto: true }, h)).status, 200);
      ag = await make();
      assert.equal((await call(c, 'PATCH', '/api/settings', { allow_root_auto: false }, h)).status, 200);
    }
    assert.equal(ag.status, 201, JSON.stringify(ag.body));
    const start = () => call(c, 'POST', `/api/agents/${ag.body.id}/start`, { initialPrompt: 'hi' }, h);
    let r = await start();
    if (process.getuid() !== 0) {
      t.diagnostic('not root: auto mode starts without IS_SANDBOX');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      await until(() => fs.existsSync(out) && fs.readFileSync(out, 'utf8').length > 0, 'the fake CLI');
      assert.equal(fs.readFileSync(out, 'utf8'), 'IS_SANDBOX=unset\n');
      return;
    }
    assert.equal(r.status, 403, JSON.stringify(r.body));
    assert.match(r.body.error.message, /allow_root_auto/);
    assert.equal(fs.existsSync(out), false, 'the CLI ran');
    assert.equal((await call(c, 'PATCH', '/api/settings', { allow_root_auto: true }, h)).status, 200);
    r = await start();
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await until(() => fs.existsSync(out) && fs.readFileSync(out, 'utf8').length > 0, 'the fake CLI');
    assert.equal(fs.readFileSync(out, 'utf8'), 'IS_SANDBOX=1\n');
  } finally {
    await c.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ---- the daemon's own defences --------------------------------------------------------------

test('--auth none is refused off loopback; --auth token is the default', async () => {
  const dir = daemon.tmpDir();
  try {
    const r = daemon.run(['serve', '--listen', '0.0.0.0:0', '--auth', 'none', '--data-dir', dir]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--auth none is refused on 0\.0\.0\.0/);
    assert.equal(fs.readdirSync(dir).length, 0, 'it made files before refusing');
    assert.equal(r.stdout, '');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const c = await daemon.start({ needUrl: true, args: ['--auth', 'none'] });
  try {
    assert.equal(c.token, null, 'no login line with --auth none');
    assert.equal((await call(c, 'GET', '/api/workspaces')).status, 200);
    // Browsers are still held to the origin and Host rules.
    assert.equal((await call(c, 'POST', '/api/crews', { name: 'x' }, { origin: 'http://evil.example' })).status, 403);
  } finally {
    await c.cleanup();
  }
});

// (A data dir others may write in is refused outright: sandbox.test.js.)
test('the data dir becomes 0700 and its files 0600, with a warning', async () => {
  const dir = daemon.tmpDir('sec-perm-');
  fs.chmodSync(dir, 0o755);
  const c1 = await daemon.start({ needUrl: true, dataDir: dir });
  await c1.stop();
  for (const name of fs.readdirSync(dir)) {
    const p = path.join(dir, name);
    if (fs.statSync(p).isFile()) fs.chmodSync(p, 0o644);
  }
  fs.chmodSync(dir, 0o755);
  const c = await daemon.start({ needUrl: true, dataDir: dir });
  try {
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    for (const name of fs.readdirSync(dir)) {
      const st = fs.statSync(path.join(dir, name));
      if (st.isFile()) assert.equal(st.mode & 0o077, 0, `${name} is ${(st.mode & 0o777).toString(8)}`);
    }
    assert.equal(fs.statSync(path.join(dir, 'owner-token')).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.join(dir, 'agentd.sock')).mode & 0o777, 0o600);
    assert.match(c.stderr, /0755|0644|permission|mode/i);
    // The same owner token as before: it is kept, not remade.
    assert.equal(fs.readFileSync(path.join(dir, 'owner-token'), 'utf8').trim(), c.token);
  } finally {
    await c.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('another local user reaches neither the socket nor the API', async (t) => {
  if (process.getuid() !== 0) return t.skip('needs root to act as another user');
  const { spawnSync } = require('node:child_process');
  const as = (code) => spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '-e', code],
    { encoding: 'utf8', timeout: 10000 });
  // TCP: no token, no way in (the command that started a program as root
  // before this issue now answers 401).
  const tcp = as(`fetch(${JSON.stringify(d.url + '/api/agents')}, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })` +
    '.then((r) => console.log(r.status), (e) => console.log("error", e.message))');
  assert.equal(tcp.stdout.trim(), '401', tcp.stderr);
  // The unix socket sits in a 0700 dir and is 0600 itself.
  const sock = as(`require('node:net').connect(${JSON.stringify(path.join(d.dataDir, 'agentd.sock'))})` +
    '.on("connect", () => { console.log("connected"); process.exit(0); }).on("error", (e) => console.log(e.code))');
  assert.equal(sock.stdout.trim(), 'EACCES', sock.stderr);
  // Nor can it read the owner token.
  const tok = as(`try { require('node:fs').readFileSync(${JSON.stringify(path.join(d.dataDir, 'owner-token'))}); console.log('read'); } catch (e) { console.log(e.code); }`);
  assert.equal(tok.stdout.trim(), 'EACCES', tok.stderr);
});

test('bad tokens are slowed, then refused with 429 and Retry-After; a good one still gets in', async () => {
  const c = await daemon.start({ needUrl: true });
  try {
    const bad = bearer('tok_nope.' + 'y'.repeat(43));
    const t0 = Date.now();
    const first = await Promise.all(Array.from({ length: 10 }, () => call(c, 'GET', '/api/workspaces', undefined, bad)));
    assert.ok(first.every((r) => r.status === 401 || r.status === 429), first.map((r) => r.status).join());
    assert.ok(Date.now() - t0 >= 100, 'bad tokens were answered at once');
    const locked = await call(c, 'GET', '/api/workspaces', undefined, bad);
    assert.equal(locked.status, 429);
    assert.ok(Number(locked.headers.get('retry-after')) > 0);
    // Only bad tokens are refused: the right one still gets in from that
    // address, so bad ones sent in the owner's name cannot lock them out.
    const right = await call(c, 'GET', '/api/workspaces', undefined, c.authHeaders);
    assert.equal(right.status, 200);
    // The unix socket is not a network peer and keeps working.
    const cli = daemon.run(['ls', '--data-dir', c.dataDir]);
    assert.equal(cli.status, 0, cli.stderr);
  } finally {
    await c.cleanup();
  }
});

test('refs and remotes handed to git are names, never options or revision syntax', async () => {
  const h = bearer(f.admin.token);
  const marker = path.join(d.dataDir, 'pwned');
  const w = `/api/worktrees/${f.wt}`;
  for (const against of [`--output=${marker}`, '-c', 'a..b', 'main~1', 'HEAD@{1}', 'x y']) {
    const r = await call(d, 'GET', `${w}/diff?against=${encodeURIComponent(against)}`, undefined, h);
    assert.equal(r.status, 422, `against ${against}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error.code, 'VALIDATION_ERROR');
  }
  const bodies = [
    ['merge', { into: `--upload-pack=touch ${marker}` }], ['merge', { into: '-x' }],
    ['rebase', { onto: `--exec=touch ${marker}` }], ['push', { remote: `--receive-pack=touch ${marker}` }],
    ['push', { remote: `ext::sh -c touch% ${marker}` }], ['merge', { strategy: 'ours' }],
  ];
  for (const [action, body] of bodies) {
    const r = await call(d, 'POST', `${w}/${action}`, body, h);
    assert.equal(r.status, 422, `${action} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
  }
  assert.equal(fs.existsSync(marker), false, 'nothing ran');
  // The main worktree has no base: review needs a ref then.
  const r = await call(d, 'GET', `${w}/diff?against=base`, undefined, h);
  assert.equal(r.status, 422);
  assert.equal(r.body.error.details.reason, 'no_base');
});

test('a token\'s request rate is limited', async () => {
  const c = await daemon.start({ needUrl: true, args: ['--token-rate-per-minute', '5'] });
  try {
    const t = await makeToken(c, { name: 'limited', scope: 'read' });
    const codes = [];
    for (let i = 0; i < 8; i++) codes.push((await call(c, 'GET', '/api/workspaces', undefined, bearer(t.token))).status);
    assert.deepEqual(codes.slice(0, 5), [200, 200, 200, 200, 200]);
    assert.ok(codes.slice(5).every((s) => s === 429), codes.join());
    // The owner's own token is not an API token and is not limited.
    assert.equal((await call(c, 'GET', '/api/workspaces', undefined, c.authHeaders)).status, 200);
  } finally {
    await c.cleanup();
  }
});

test('a revoked or expired token stops working at once', async () => {
  const t = await makeToken(d, { name: 'short', scope: 'read', expiresInSeconds: 1 });
  assert.equal((await call(d, 'GET', '/api/workspaces', undefined, bearer(t.token))).status, 200);
  await new Promise((r) => setTimeout(r, 1300));
  assert.equal((await call(d, 'GET', '/api/workspaces', undefined, bearer(t.token))).status, 401);
  const t2 = await makeToken(d, { name: 'revoked', scope: 'read' });
  assert.equal((await call(d, 'DELETE', `/api/tokens/${t2.id}`, undefined, d.authHeaders)).status, 204);
  assert.equal((await call(d, 'GET', '/api/workspaces', undefined, bearer(t2.token))).status, 401);
  const ws = await wsTry(d, '/ws', { protocols: ['bearer', t2.token], refused: true });
  assert.equal(ws.code, 4401);
});

test('open sockets and event streams end when their token is revoked or their session signs out', async () => {
  const t = await makeToken(d, { name: 'streaming', scope: 'read' });
  const open = (headers, protocols) => new Promise((resolve, reject) => {
    const ws = new WebSocket(`${d.url.replace('http', 'ws')}/ws`, protocols || [], { headers });
    ws.on('open', () => resolve(ws));
    ws.on('error', reject);
  });
  const closed = (ws) => new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  // A token's socket: revoking the token closes it with 4401.
  const byToken = await open({}, ['bearer', t.token]);
  const tokenClosed = closed(byToken);
  const other = await open(d.authHeaders); // the owner's stays open
  assert.equal((await call(d, 'DELETE', `/api/tokens/${t.id}`, undefined, d.authHeaders)).status, 204);
  assert.equal(await tokenClosed, 4401);
  // A session's socket and event stream: signing out ends both.
  const login = await call(d, 'POST', '/api/auth/login', { token: d.token });
  assert.equal(login.status, 200);
  const cookie = [].concat(login.headers.getSetCookie ? login.headers.getSetCookie() : login.headers.get('set-cookie'))[0].split(';')[0];
  const bySession = await open({ cookie, origin: d.url });
  const sessionClosed = closed(bySession);
  const ac = new AbortController();
  const sse = await fetch(`${d.url}/api/events?topics=system`, { headers: { cookie }, signal: ac.signal });
  assert.equal(sse.status, 200);
  const sseEnded = (async () => { for await (const _ of sse.body) { /* drain */ } return 'ended'; })().catch(() => 'error');
  assert.equal((await call(d, 'POST', '/api/auth/logout', undefined, { cookie })).status, 204);
  assert.equal(await sessionClosed, 4401);
  const how = await Promise.race([sseEnded, new Promise((r) => setTimeout(() => r('still open'), 5000))]);
  ac.abort();
  assert.equal(how, 'ended');
  assert.equal(other.readyState, WebSocket.OPEN, 'the owner token\'s socket was closed too');
  other.close();
});

test('every state-changing request is audited; admins read the audit', async () => {
  const r = await call(d, 'POST', '/api/crews', { name: 'audited' }, bearer(f.write.token));
  assert.equal(r.status, 201);
  await call(d, 'POST', '/api/crews', { name: 'refused' }, bearer(f.read.token));
  const audit = await until(async () => {
    const a = await call(d, 'GET', '/api/audit?limit=200', undefined, d.authHeaders);
    return a.body.entries.some((e) => e.tokenName === 'reader') && a;
  }, 'the audit rows');
  const row = audit.body.entries.find((e) => e.tokenName === 'writer' && e.route === '/api/crews');
  assert.ok(row, JSON.stringify(audit.body.entries.slice(0, 5)));
  assert.equal(row.method, 'POST');
  assert.equal(row.status, 201);
  assert.equal(row.orgId, 'org_default');
  assert.match(row.remote, /127\.0\.0\.1/);
  const refused = audit.body.entries.find((e) => e.tokenName === 'reader' && e.route === '/api/crews');
  assert.equal(refused.status, 403);
  // An org admin sees its own org's entries only.
  const b = await call(d, 'GET', '/api/audit', undefined, bearer(f.bAdmin.token));
  assert.equal(b.status, 200);
  assert.ok(b.body.entries.every((e) => e.orgId === f.orgB), JSON.stringify(b.body.entries.slice(0, 3)));
  assert.equal((await call(d, 'GET', '/api/audit', undefined, bearer(f.write.token))).status, 403);
});

test('tokens never appear in plain text after they are made', async () => {
  const t = await makeToken(d, { name: 'needle', scope: 'admin' });
  const secret = t.token.split('.')[1];
  // Use it everywhere: REST, a socket, a login.
  assert.equal((await call(d, 'GET', '/api/workspaces', undefined, bearer(t.token))).status, 200);
  await wsTry(d, '/ws', { protocols: ['bearer', t.token] });
  const login = await call(d, 'POST', '/api/auth/login', { token: t.token });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  await call(d, 'POST', '/api/crews', { name: 'after-needle' }, bearer(t.token));
  // Answers: the list, the audit.
  for (const p of ['/api/tokens', '/api/audit?limit=500', '/api/auth/whoami']) {
    const r = await fetch(d.url + p, { headers: d.authHeaders });
    const text = await r.text();
    assert.ok(!text.includes(secret), `${p} shows the secret`);
    assert.ok(!text.includes(d.token), `${p} shows the owner token`);
  }
  // At rest: the database (with its WAL) and the log.
  const raw = await fetch(`${d.url}/test/store-stats`, { headers: d.authHeaders }); // forces nothing; just a read
  assert.equal(raw.status, 200);
  for (const name of fs.readdirSync(d.dataDir)) {
    const p = path.join(d.dataDir, name);
    if (!fs.statSync(p).isFile() || name === 'owner-token') continue;
    const buf = fs.readFileSync(p);
    assert.equal(buf.indexOf(secret), -1, `${name} holds a token secret`);
    assert.equal(buf.indexOf(d.token), -1, `${name} holds the owner token`);
    const cookie = login.headers.get('set-cookie').split(';')[0].split('=')[1];
    assert.equal(buf.indexOf(cookie), -1, `${name} holds a session id`);
  }
  assert.ok(!d.stderr.includes(secret), 'the log holds a token secret');
  assert.ok(!d.stderr.includes(d.token), 'the log holds the owner token');
});
