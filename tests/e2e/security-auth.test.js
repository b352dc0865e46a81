// SPDX-License-Identifier: MIT
// Security round three (issue #31), as the attacks that worked before it:
// a long-lived connection outliving its credential (revoked, expired,
// signed out, the owner token rotated), a write token making agents run
// programs (permissions, mode, env, command, approving a call), a write
// token registering any repository on the disk, links out of a
// repository followed when agentd reads it, and logins: a GET that sets a
// session (login CSRF), lockouts that keep the owner out, owner sessions
// that survive a new owner token, the owner token printed at every start.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const WebSocket = require('./lib/ws');
const daemon = require('./lib/daemon');
const { request, until } = require('./lib/api');

const FAKE = path.resolve(__dirname, '..', 'fixtures', 'fake-agent.js');

// A request with exactly these headers (no token unless they carry one).
const call = (d, method, p, body, headers = {}) => request(d.url, method, p, body, headers);

const bearer = (t) => ({ authorization: `Bearer ${t}` });

async function makeToken(d, body) {
  const r = await call(d, 'POST', '/api/tokens', body, d.authHeaders);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

function cookieOf(res) {
  const set = res.headers.getSetCookie ? res.headers.getSetCookie() : [res.headers.get('set-cookie')];
  const c = set.find((x) => x && x.startsWith('agentd_session'));
  return c ? c.split(';')[0] : null;
}

async function loginCookie(d, token) {
  const r = await call(d, 'POST', '/api/auth/login', { token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return cookieOf(r);
}

// An open WebSocket (rejects if it does not open) and a promise of its close
// code, bounded: 'still open' when nothing came within ms.
function openWs(d, p, { protocols = [], headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(d.url.replace('http', 'ws') + p, protocols, { headers });
    const closed = new Promise((r) => ws.on('close', (code) => r(code)));
    ws.closedWithin = (ms) => Promise.race([closed, new Promise((r) => setTimeout(() => r('still open'), ms))]);
    ws.on('open', () => resolve(ws));
    ws.on('error', reject);
  });
}

// An open event stream and how it ended within ms.
async function openSse(d, headers) {
  const ac = new AbortController();
  const res = await fetch(`${d.url}/api/events?topics=system`, { headers, signal: ac.signal });
  assert.equal(res.status, 200);
  const ended = (async () => { for await (const _ of res.body) { /* drain */ } return 'ended'; })().catch(() => 'aborted');
  return {
    endedWithin: (ms) => Promise.race([ended, new Promise((r) => setTimeout(() => r('still open'), ms))]),
    abort: () => ac.abort(),
  };
}

let d;
let wt;
let repo;
test.before(async () => {
  d = await daemon.start({ needUrl: true, args: ['--stop-grace-ms', '300'] });
  repo = daemon.tmpRepo('sec-auth-', d.dataDir);
  const r = await call(d, 'POST', '/api/workspaces', { path: repo }, d.authHeaders);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  wt = r.body.worktrees[0].id;
});
test.after(async () => { if (d) await d.cleanup(); });

// ---- long-lived connections -------------------------------------------------------------

test('revoking a token closes its terminal socket, /ws and SSE at once', async () => {
  const admin = await makeToken(d, { name: 'term-admin', scope: 'admin' });
  let r = await call(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command',
    command: ['node', FAKE, 'tty'], terminal: true }, d.authHeaders);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const agent = r.body.id;
  assert.equal((await call(d, 'POST', `/api/agents/${agent}/start`, {}, d.authHeaders)).status, 200);
  const term = await openWs(d, `/ws/agents/${agent}/terminal`, { protocols: ['bearer', admin.token] });
  const live = await openWs(d, '/ws', { protocols: ['bearer', admin.token] });
  const sse = await openSse(d, bearer(admin.token));
  const owners = await openWs(d, '/ws', { protocols: ['bearer', d.token] });
  assert.equal((await call(d, 'DELETE', `/api/tokens/${admin.id}`, undefined, d.authHeaders)).status, 204);
  // "At once": well before the 45 s re-check that was all there was.
  assert.equal(await term.closedWithin(3000), 4401);
  assert.equal(await live.closedWithin(3000), 4401);
  assert.equal(await sse.endedWithin(3000), 'ended');
  sse.abort();
  assert.equal(owners.readyState, WebSocket.OPEN, 'the owner\'s socket was closed too');
  owners.close();
  // The agent runs on; its terminal takes no keystrokes from the old token.
  assert.equal((await call(d, 'GET', `/api/agents/${agent}`, undefined, d.authHeaders)).body.status, 'running');
  const again = await new Promise((resolve) => {
    const w = new WebSocket(d.url.replace('http', 'ws') + `/ws/agents/${agent}/terminal`, ['bearer', admin.token]);
    w.on('close', (code) => resolve(code));
    w.on('error', () => {});
  });
  assert.equal(again, 4401);
  await call(d, 'POST', `/api/agents/${agent}/stop`, {}, d.authHeaders);
});

test('a token\'s sockets and streams close the moment it expires', async () => {
  const t = await makeToken(d, { name: 'expiring', scope: 'read', expiresInSeconds: 2 });
  const t0 = Date.now();
  const live = await openWs(d, '/ws', { protocols: ['bearer', t.token] });
  const sse = await openSse(d, bearer(t.token));
  assert.equal(await live.closedWithin(6000), 4401);
  const took = Date.now() - t0;
  assert.ok(took >= 1000, `closed after ${took} ms, before the token expired`);
  assert.equal(await sse.endedWithin(2000), 'ended');
  sse.abort();
});

test('signing out closes the session\'s sockets at once', async () => {
  const cookie = await loginCookie(d, d.token);
  const live = await openWs(d, '/ws', { headers: { cookie, origin: d.url } });
  assert.equal((await call(d, 'POST', '/api/auth/logout', undefined, { cookie })).status, 204);
  assert.equal(await live.closedWithin(3000), 4401);
});

// ---- what a write token may change ----------------------------------------------------------

test('a write token cannot change what an agent runs; an admin can', async () => {
  const write = await makeToken(d, { name: 'patch-writer', scope: 'write' });
  const admin = await makeToken(d, { name: 'patch-admin', scope: 'admin' });
  const r = await call(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command: ['true'] },
    d.authHeaders);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const id = r.body.id;
  const changes = [{ permissions: ['Bash'] }, { mode: 'auto' }, { env: { FOO: 'bar' } },
    { command: ['sh', '-c', 'id'] }];
  for (const body of changes) {
    const w = await call(d, 'PATCH', `/api/agents/${id}`, body, bearer(write.token));
    assert.equal(w.status, 403, `${JSON.stringify(body)} as write: ${JSON.stringify(w.body)}`);
    assert.equal(w.body.error.code, 'FORBIDDEN');
    assert.match(w.body.error.message, /admin/);
  }
  const after = (await call(d, 'GET', `/api/agents/${id}`, undefined, d.authHeaders)).body;
  assert.deepEqual(after.permissions, ['read']);
  assert.notEqual(after.mode, 'auto');
  // A rename is still a write token's.
  assert.equal((await call(d, 'PATCH', `/api/agents/${id}`, { name: 'renamed' }, bearer(write.token))).status, 200);
  for (const body of changes) {
    const a = await call(d, 'PATCH', `/api/agents/${id}`, body, bearer(admin.token));
    assert.equal(a.status, 200, `${JSON.stringify(body)} as admin: ${JSON.stringify(a.body)}`);
  }
  const done = (await call(d, 'GET', `/api/agents/${id}`, undefined, d.authHeaders)).body;
  assert.deepEqual(done.permissions, ['Bash']);
  assert.equal(done.mode, 'auto');
  // Nor can it make a new agent that runs tools unasked for the admin to start.
  // (As root, auto mode needs allow_root_auto first: the Claude CLI refuses it.)
  if (process.getuid && process.getuid() === 0) {
    assert.equal((await call(d, 'PATCH', '/api/settings', { allow_root_auto: true }, d.authHeaders)).status, 200);
  }
  for (const extra of [{ permissions: ['read', 'Bash'] }, { mode: 'auto' }]) {
    const body = { worktreeId: wt, name: 'left for the admin', ...extra };
    const w = await call(d, 'POST', '/api/agents', body, bearer(write.token));
    assert.equal(w.status, 403, `create ${JSON.stringify(extra)} as write: ${JSON.stringify(w.body)}`);
    assert.equal((await call(d, 'POST', '/api/agents', body, bearer(admin.token))).status, 201);
  }
  assert.equal((await call(d, 'POST', '/api/agents', { worktreeId: wt, permissions: ['read'], mode: 'plan' },
    bearer(write.token))).status, 201);
});

test('a write token approves only what the agent\'s permissions allow', async () => {
  const write = await makeToken(d, { name: 'approver', scope: 'write' });
  let r = await call(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command: ['true'] },
    d.authHeaders);
  const agent = r.body.id; // permissions: ["read"] -> Read, Glob, Grep
  assert.equal((await call(d, 'POST', `/api/agents/${agent}/start`, {}, d.authHeaders)).status, 200);
  const run = await until(async () => {
    const l = await call(d, 'GET', `/api/agents/${agent}/runs`, undefined, d.authHeaders);
    const x = l.body.runs.find((y) => y.status !== 'running');
    return x && x.id;
  }, 'the run to end');
  const pending = async (toolName) => {
    const a = await call(d, 'POST', '/test/approvals', { agentId: agent, runId: run, toolName }, d.authHeaders);
    assert.equal(a.status, 201, JSON.stringify(a.body));
    return a.body.id;
  };
  const bash = await pending('Bash');
  for (const decision of ['allow', 'allow_always']) {
    const w = await call(d, 'POST', `/api/approvals/${bash}`, { decision }, bearer(write.token));
    assert.equal(w.status, 403, `${decision}: ${JSON.stringify(w.body)}`);
    assert.match(w.body.error.message, /admin/);
  }
  // Within the agent's permissions, or a denial: past the scope check (the
  // run is over, so the CLI no longer waits: 409).
  const read = await pending('Read');
  assert.equal((await call(d, 'POST', `/api/approvals/${read}`, { decision: 'allow' }, bearer(write.token))).status, 409);
  assert.equal((await call(d, 'POST', `/api/approvals/${bash}`, { decision: 'deny' }, bearer(write.token))).status, 409);
  // An admin gets past it for Bash.
  assert.equal((await call(d, 'POST', `/api/approvals/${bash}`, { decision: 'allow' }, d.authHeaders)).status, 409);
});

// ---- workspaces -------------------------------------------------------------------------------

test('registering a path needs admin or a root the owner allowed for the org', async () => {
  const write = await makeToken(d, { name: 'ws-writer', scope: 'write' });
  const other = daemon.tmpRepo('sec-anywhere-', d.dataDir);
  let r = await call(d, 'POST', '/api/workspaces', { path: other }, bearer(write.token));
  assert.equal(r.status, 403, JSON.stringify(r.body));
  assert.match(r.body.error.message, /admin/);
  // Nor by a path that is not a repository (no probing of the disk).
  r = await call(d, 'POST', '/api/workspaces', { path: '/etc' }, bearer(write.token));
  assert.equal(r.status, 403);
  // Under an allowed root of its org: fine.
  const root = fs.mkdtempSync(path.join(d.dataDir, 'roots-'));
  const inside = daemon.tmpRepo('sec-inside-', root);
  r = await call(d, 'PATCH', '/api/settings', { workspace_roots: { org_default: [root] } }, d.authHeaders);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  r = await call(d, 'POST', '/api/workspaces', { path: inside }, bearer(write.token));
  assert.equal(r.status, 201, JSON.stringify(r.body));
  // Another org's root is not this one's; and the setting shows only the own org's.
  r = await call(d, 'POST', '/api/orgs', { name: 'org roots' }, d.authHeaders);
  const orgB = r.body.id;
  const bWrite = await makeToken(d, { name: 'b-writer', scope: 'write', orgId: orgB });
  const inside2 = daemon.tmpRepo('sec-inside2-', root);
  r = await call(d, 'POST', '/api/workspaces', { path: inside2 }, bearer(bWrite.token));
  assert.equal(r.status, 403);
  r = await call(d, 'GET', '/api/settings', undefined, bearer(bWrite.token));
  assert.deepEqual(r.body.workspace_roots, {});
  // An admin registers anything.
  r = await call(d, 'POST', '/api/workspaces', { path: other }, bearer((await makeToken(d, { name: 'ws-admin', scope: 'admin' })).token));
  assert.equal(r.status, 201, JSON.stringify(r.body));
  // Org B's admin registering org A's path: refused outside org B's roots
  // (issue #73); within them, a 409 that names no path.
  const bAdmin = await makeToken(d, { name: 'b-admin', scope: 'admin', orgId: orgB });
  r = await call(d, 'POST', '/api/workspaces', { path: other }, bearer(bAdmin.token));
  assert.equal(r.status, 403, JSON.stringify(r.body));
  r = await call(d, 'PATCH', '/api/settings', { workspace_roots: { org_default: [root], [orgB]: [path.dirname(other)] } }, d.authHeaders);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  r = await call(d, 'POST', '/api/workspaces', { path: other }, bearer(bAdmin.token));
  assert.equal(r.status, 409, JSON.stringify(r.body));
  assert.ok(!JSON.stringify(r.body).includes(other), JSON.stringify(r.body));
  assert.ok(!JSON.stringify(r.body).includes(path.basename(other)), JSON.stringify(r.body));
});

test('setup files and definitions are not read through links out of the repository', async () => {
  const outside = fs.mkdtempSync(path.join(d.dataDir, 'outside-'));
  fs.writeFileSync(path.join(outside, 'secret.txt'), 'TOP-SECRET\n');
  fs.writeFileSync(path.join(outside, 'leak.md'), '---\nname: leaked-def\ndescription: from outside\n---\nLEAKED PROMPT\n');
  const r0 = daemon.tmpRepo('sec-links-', d.dataDir);
  // conf/ is a link to a folder outside; inner.txt a link inside (allowed).
  fs.symlinkSync(outside, path.join(r0, 'conf'));
  fs.writeFileSync(path.join(r0, 'real.txt'), 'fine\n');
  fs.mkdirSync(path.join(r0, '.claude', 'agents'), { recursive: true });
  fs.symlinkSync(path.join(outside, 'leak.md'), path.join(r0, '.claude', 'agents', 'x.md'));
  fs.writeFileSync(path.join(r0, '.claude', 'agents', 'ok.md'), '---\nname: inside-def\ndescription: mine\n---\nfine\n');
  let r = await call(d, 'POST', '/api/workspaces',
    { path: r0, setupFiles: ['conf/secret.txt', 'real.txt'] }, d.authHeaders);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const ws = r.body.id;
  r = await call(d, 'POST', '/api/worktrees', { workspaceId: ws, name: 'l1', branch: 'l1', createBranch: true },
    d.authHeaders);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const wtPath = r.body.path;
  const outcome = await until(async () => {
    const s = await call(d, 'GET', `/api/worktrees/${r.body.id}/setup`, undefined, d.authHeaders);
    return s.body.setup && s.body.setup.state !== 'running' && s.body.setup;
  }, 'the setup');
  assert.deepEqual(outcome.copied, ['real.txt'], JSON.stringify(outcome));
  assert.deepEqual(outcome.missing, ['conf/secret.txt']);
  assert.ok(!fs.existsSync(path.join(wtPath, 'conf', 'secret.txt')), 'the secret was copied');
  // .claude/agents/x.md -> outside: not read; ok.md is.
  const defs = await until(async () => {
    const l = await call(d, 'GET', '/api/definitions', undefined, d.authHeaders);
    return l.body.definitions.some((x) => x.name === 'inside-def') && l.body;
  }, 'the workspace\'s definitions');
  assert.ok(!JSON.stringify(defs).includes('leaked-def'), 'a linked definition was read');
  // The whole folder a link out: nothing read.
  const r1 = daemon.tmpRepo('sec-links2-', d.dataDir);
  fs.mkdirSync(path.join(r1, '.claude'));
  fs.mkdirSync(path.join(outside, 'agents'));
  fs.copyFileSync(path.join(outside, 'leak.md'), path.join(outside, 'agents', 'leak.md'));
  fs.symlinkSync(path.join(outside, 'agents'), path.join(r1, '.claude', 'agents'));
  assert.equal((await call(d, 'POST', '/api/workspaces', { path: r1 }, d.authHeaders)).status, 201);
  const l2 = await call(d, 'GET', '/api/definitions', undefined, d.authHeaders);
  assert.ok(!JSON.stringify(l2.body).includes('leaked-def'), 'a linked folder of definitions was read');
});

// ---- logins -------------------------------------------------------------------------------------

test('GET /login?token= makes no session; a one-time code from `agentd login` does, once', async () => {
  const res = await fetch(`${d.url}/login?token=${d.token}`, { redirect: 'manual' });
  assert.equal(cookieOf(res), null, 'a GET set a session');
  assert.notEqual(res.status, 303);
  const cli = daemon.run(['login', '--data-dir', d.dataDir]);
  assert.equal(cli.status, 0, cli.stderr);
  const m = cli.stdout.match(/^(http:\/\/127\.0\.0\.1:\d+)\/login#code=([A-Za-z0-9_-]{43})\n$/);
  assert.ok(m, cli.stdout);
  assert.equal(m[1], d.url);
  const r = await call(d, 'POST', '/api/auth/login', { code: m[2] });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.principal.owner, true);
  const cookie = cookieOf(r);
  assert.equal((await call(d, 'GET', '/api/agents', undefined, { cookie })).status, 200);
  const again = await call(d, 'POST', '/api/auth/login', { code: m[2] });
  assert.equal(again.status, 401, 'a code worked twice');
  // Over TCP a non-owner cannot make codes.
  const admin = await makeToken(d, { name: 'code-admin', scope: 'admin' });
  assert.equal((await call(d, 'POST', '/api/auth/login-code', {}, bearer(admin.token))).status, 403);
});

test('bad logins from one network do not lock out a good token', async () => {
  const c = await daemon.start({ needUrl: true });
  try {
    for (let i = 0; i < 15; i++) {
      const r = await call(c, 'POST', '/api/auth/login', { token: `bad-${i}-${'x'.repeat(40)}` });
      assert.ok(r.status === 401 || r.status === 429, String(r.status));
    }
    const bad = await call(c, 'POST', '/api/auth/login', { token: 'bad-again' });
    assert.equal(bad.status, 429);
    // From another source address of the same /24: the same lockout.
    const u = new URL(c.url);
    const moved = await new Promise((resolve, reject) => {
      http.get({ host: u.hostname, port: u.port, path: '/api/workspaces', localAddress: '127.0.0.2',
        headers: bearer('nope.' + 'z'.repeat(43)) }, (res) => { res.resume(); resolve(res.statusCode); })
        .on('error', reject);
    });
    assert.equal(moved, 429);
    // The owner's token still gets in, as a login and as a bearer.
    const good = await call(c, 'POST', '/api/auth/login', { token: c.token });
    assert.equal(good.status, 200, JSON.stringify(good.body));
    assert.equal((await call(c, 'GET', '/api/workspaces', undefined, c.authHeaders)).status, 200);
  } finally {
    await c.cleanup();
  }
});

test('rotating the owner token ends its sessions and channels; it is printed only at the first start', async () => {
  const c = await daemon.start({ needUrl: true });
  try {
    assert.match(c.stdout, /agentd owner token/);
    const cookie = await loginCookie(c, c.token);
    const live = await openWs(c, '/ws', { headers: { cookie, origin: c.url } });
    const byToken = await openWs(c, '/ws', { protocols: ['bearer', c.token] });
    const cli = daemon.run(['token', 'rotate-owner', '--data-dir', c.dataDir]);
    assert.equal(cli.status, 0, cli.stderr);
    const fresh = cli.stdout.trim();
    assert.match(fresh, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(fresh, c.token);
    assert.equal(fs.readFileSync(path.join(c.dataDir, 'owner-token'), 'utf8').trim(), fresh);
    assert.equal(await live.closedWithin(3000), 4401);
    assert.equal(await byToken.closedWithin(3000), 4401);
    assert.equal((await call(c, 'GET', '/api/agents', undefined, { cookie })).status, 401);
    assert.equal((await call(c, 'GET', '/api/agents', undefined, bearer(c.token))).status, 401);
    assert.equal((await call(c, 'GET', '/api/agents', undefined, bearer(fresh))).status, 200);
    // A session of the new token, then a restart with another token file:
    // the session does not come back.
    const cookie2 = await loginCookie(c, fresh);
    await c.stop();
    fs.writeFileSync(path.join(c.dataDir, 'owner-token'), 'B'.repeat(43), { mode: 0o600 });
    const c2 = await daemon.start({ needUrl: true, dataDir: c.dataDir });
    try {
      assert.doesNotMatch(c2.stdout, /owner token|B{43}/, 'the owner token was printed again');
      assert.match(c2.stdout, /agentd login: run `agentd login`/);
      const port2 = new URL(c2.url).port;
      const sameCookie = cookie2.replace(/^agentd_session_\d+/, `agentd_session_${port2}`);
      assert.equal((await call(c2, 'GET', '/api/agents', undefined, { cookie: sameCookie })).status, 401);
      assert.equal((await call(c2, 'GET', '/api/agents', undefined, bearer('B'.repeat(43)))).status, 200);
    } finally {
      await c2.stop();
    }
  } finally {
    await c.cleanup();
  }
});

// The audit counts unauthenticated requests by address and writes the
// count once an interval; the interval under way when the daemon stops is
// written before the store closes, not lost.
test('unauthenticated requests of the last interval are in the audit after a restart', async () => {
  const args = ['--audit-noise-interval-ms', '600000'];
  const c = await daemon.start({ needUrl: true, args });
  try {
    const N = 5;
    for (let i = 0; i < N; i++) assert.equal((await call(c, 'POST', '/api/workspaces', {})).status, 401);
    assert.deepEqual(await c.stop(), { code: 0, signal: null }, c.stderr.slice(-3000));
    const c2 = await daemon.start({ needUrl: true, dataDir: c.dataDir, args });
    try {
      const r = await call(c2, 'GET', '/api/audit?limit=100', undefined, bearer(c2.token));
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const anon = r.body.entries.filter((e) => e.tokenName === 'anonymous');
      // the first request on its own row, the rest counted in the interval's
      const counted = anon.reduce((n, e) => n + (e.route === '(unauthenticated requests)' ? Number(e.targetId) : 1), 0);
      assert.equal(counted, N, JSON.stringify(anon));
    } finally {
      await c2.stop();
    }
  } finally {
    await c.cleanup();
  }
});
