// SPDX-License-Identifier: MIT
// Registration tokens a node trades for its own key (issue #77, docs/nodes.md
// "Registration tokens"): an admin makes a short-lived token; a real node
// started with it trades it at its first start for a node key kept in its
// data dir (0600) and links with that; restarted without the token it links
// with its key; a used, expired, revoked or unknown token is refused with a
// clear reason (401 JSON, or the node exits saying why) and audited; the
// token's secret is never stored or audited; revoking the node revokes its key.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { api, until, startApi, request } = require('./lib/api');
const { startNode, nodeNamed, proxy } = require('./lib/nodes');

const NODE_ENV = { PATH: '/usr/bin:/bin' };
let d;
const planeDir = daemon.tmpDir('agentd-plane-');
const cleanups = [];
test.before(async () => {
  d = await startApi({ dataDir: planeDir, args: ['--node-lease-ms', '1500'] });
});
test.after(async () => {
  for (const c of cleanups.reverse()) await c();
  await d.cleanup();
  fs.rmSync(planeDir, { recursive: true, force: true });
});

async function regToken(body = {}) {
  const r = await api(d, 'POST', '/api/nodes/registration-tokens', body);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}
// POST /api/nodes/register with tok as the bearer
function trade(tok, name) {
  return request(d.url, 'POST', '/api/nodes/register', { name }, { authorization: `Bearer ${tok}` });
}
function dir() {
  const x = daemon.tmpDir('agentd-node-');
  cleanups.push(async () => fs.rmSync(x, { recursive: true, force: true, maxRetries: 10 }));
  return x;
}
async function node(opts) {
  const n = await startNode(d.url, { env: NODE_ENV, ...opts });
  cleanups.push(() => n.stop());
  return n;
}
async function events(id) {
  const r = await api(d, 'GET', `/api/nodes/${id}/events`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.events;
}

test('a node trades a fresh registration token for its own key, and restarts with the key alone', async () => {
  const made = await regToken({ ttlSeconds: 600, labels: { pool: 'reg' } });
  assert.match(made.token, /^nrt_[0-9a-z]{26}\.[A-Za-z0-9_-]{43}$/);
  const row = made.registrationToken;
  assert.equal(row.state, 'active');
  assert.equal(row.maxUses, 1);
  assert.equal(row.hash, undefined);
  const secret = made.token.split('.')[1];
  const listed = await api(d, 'GET', '/api/nodes/registration-tokens');
  assert.ok(listed.body.registrationTokens.some((t) => t.id === row.id));
  assert.ok(!listed.text.includes(secret), 'the list never shows the secret');

  const dataDir = dir();
  let n = await node({ registration: made.token, name: 'reg1', dataDir });
  const keyFile = path.join(dataDir, 'node-key.json');
  const st = fs.statSync(keyFile);
  assert.equal(st.mode & 0o777, 0o600);
  const key = JSON.parse(fs.readFileSync(keyFile, 'utf8'));
  assert.match(key.key, /\S/);
  assert.notEqual(key.key, made.token);
  const nd = await until(async () => { const x = await nodeNamed(d, 'reg1'); return x?.state === 'connected' && x; }, 'reg1 connected');
  assert.equal(key.nodeId, nd.id);
  assert.deepEqual(nd.labels, { pool: 'reg' }, 'the token\'s labels are the node\'s');
  // the token is used up; the key is a node token named after the node
  const after = (await api(d, 'GET', '/api/nodes/registration-tokens')).body.registrationTokens.find((t) => t.id === row.id);
  assert.equal(after.state, 'used');
  assert.equal(after.uses, 1);
  const toks = (await api(d, 'GET', '/api/tokens')).body;
  const nodeKey = (toks.tokens || toks).find((t) => t.id === key.tokenId);
  assert.equal(nodeKey.scope, 'node');
  await until(async () => (await events(nd.id)).some((e) => e.kind === 'key_traded'), 'key_traded event');

  // restarted with neither token: its key links it
  await n.stop();
  n = await node({ name: 'reg1', dataDir });
  await until(async () => (await nodeNamed(d, 'reg1'))?.state === 'connected', 'reg1 back');
  assert.match(n.stderr + n.stdout, /joined/);
  await until(async () => (await events(nd.id)).filter((e) => e.kind === 'linked').length >= 2, 'linked twice');

  // the used token is refused, with why, and the refusal is audited
  const again = await trade(made.token, 'reg2');
  assert.equal(again.status, 401, JSON.stringify(again.body));
  assert.equal(again.body.error.code, 'REGISTRATION_REFUSED');
  assert.equal(again.body.error.details.reason, 'used');
  assert.match(again.body.error.message, /used/);
  const text = await until(async () => {
    const t = JSON.stringify((await api(d, 'GET', '/api/audit?limit=500')).body);
    return /registration refused \(used\)/.test(t) && t;
  }, 'the refusal audited');
  assert.ok(!text.includes(secret), 'the audit never holds the secret');
  assert.ok(!d.stderr.includes(secret), 'nor the log');

  // a node started with it after all: it exits, saying why
  const late = await startNode(d.url, { registration: made.token, name: 'reg3', dataDir: dir(), env: NODE_ENV, wait: false });
  const exit = await late.exit;
  assert.equal(exit.code, 3, late.stderr);
  assert.match(late.stderr, /registration.*used/);
  assert.equal(await nodeNamed(d, 'reg3'), null);
  await n.stop();
});

test('an expired registration token is refused; maxUses lets that many nodes in; a revoked one none', async () => {
  const made = await regToken({ ttlSeconds: 1 });
  await until(async () => (await api(d, 'GET', '/api/nodes/registration-tokens')).body.registrationTokens
    .find((t) => t.id === made.registrationToken.id).state === 'expired', 'the token to expire');
  const r = await trade(made.token, 'exp1');
  assert.equal(r.status, 401);
  assert.equal(r.body.error.details.reason, 'expired');
  const n = await startNode(d.url, { registration: made.token, name: 'exp1', dataDir: dir(), env: NODE_ENV, wait: false });
  assert.equal((await n.exit).code, 3, n.stderr);
  assert.match(n.stderr, /expired/);
  assert.equal(await nodeNamed(d, 'exp1'), null);

  const two = await regToken({ maxUses: 2 });
  assert.equal((await trade(two.token, 'two1')).status, 201);
  const second = await trade(two.token, 'two2');
  assert.equal(second.status, 201, JSON.stringify(second.body));
  assert.equal(second.body.name, 'two2');
  assert.match(second.body.key, /\S/);
  assert.equal((await trade(two.token, 'two3')).body.error.details.reason, 'used');

  const rv = await regToken({});
  assert.equal((await api(d, 'DELETE', `/api/nodes/registration-tokens/${rv.registrationToken.id}`)).status, 200);
  assert.equal((await trade(rv.token, 'rv1')).body.error.details.reason, 'revoked');
  // a wrong secret, a token of another shape or none at all: unknown, all alike
  const [id] = rv.token.split('.');
  for (const bad of [`${id}.${'A'.repeat(43)}`, 'nrt_nothing.x', 'garbage', '']) {
    const b = await trade(bad, 'bad1');
    assert.equal(b.status, 401, bad);
    assert.equal(b.body.error.details.reason, 'unknown', bad);
  }
});

test('revoking a registered node revokes its key: restarted, it is refused', async () => {
  const made = await regToken({});
  const dataDir = dir();
  const n = await node({ registration: made.token, name: 'rev1', dataDir });
  const nd = await until(async () => { const x = await nodeNamed(d, 'rev1'); return x?.state === 'connected' && x; }, 'rev1 connected');
  assert.equal((await api(d, 'DELETE', `/api/nodes/${nd.id}`)).status, 204);
  await n.exit;
  const again = await startNode(d.url, { name: 'rev1', dataDir, env: NODE_ENV, wait: false });
  assert.equal((await again.exit).code, 3, again.stderr);
  await until(async () => (await events(nd.id)).some((e) => e.kind === 'revoked'), 'its revoked event');
});

test('only an admin of the organisation makes, lists or revokes them; another organisation\'s are 404', async () => {
  const o = await api(d, 'POST', '/api/orgs', { name: 'org reg' });
  const t = await api(d, 'POST', '/api/tokens', { name: 'reg-admin', scope: 'admin', orgId: o.body.id });
  const other = { authorization: `Bearer ${t.body.token}` };
  const w = await api(d, 'POST', '/api/tokens', { name: 'reg-write', scope: 'write' });
  const writer = { authorization: `Bearer ${w.body.token}` };
  assert.equal((await api(d, 'POST', '/api/nodes/registration-tokens', {}, writer)).status, 403);
  assert.equal((await api(d, 'GET', '/api/nodes/registration-tokens', undefined, writer)).status, 403);
  const ours = await regToken({});
  assert.equal((await api(d, 'GET', '/api/nodes/registration-tokens', undefined, other)).body.registrationTokens.length, 0);
  assert.equal((await api(d, 'DELETE', `/api/nodes/registration-tokens/${ours.registrationToken.id}`, undefined, other)).status, 404);
  // theirs makes a node of theirs, which we do not see as ours to act on
  const theirs = await api(d, 'POST', '/api/nodes/registration-tokens', { ttlSeconds: 60 }, other);
  assert.equal(theirs.status, 201);
  const traded = await trade(theirs.body.token, 'theirs1');
  assert.equal(traded.body.orgId, o.body.id);
  assert.equal((await api(d, 'GET', `/api/nodes/${traded.body.nodeId}/events`, undefined, writer)).status, 404);
  for (const [body, field] of [[{ ttlSeconds: 0 }, 'ttlSeconds'], [{ maxUses: 0 }, 'maxUses'], [{ labels: { 'a b': 'x' } }, 'labels'], [{ nope: 1 }, 'nope']]) {
    const r = await api(d, 'POST', '/api/nodes/registration-tokens', body);
    assert.equal(r.status, 422, JSON.stringify(body));
    assert.equal(r.body.error.details.field, field);
  }
});

test('agentd node token create|ls|revoke', async () => {
  const made = daemon.run(['--data-dir', d.dataDir, 'node', 'token', 'create', '--ttl', '10m', '--max-uses', '2', '--label', 'pool=cli']);
  assert.equal(made.status, 0, made.stderr);
  const tok = made.stdout.trim();
  assert.match(tok, /^nrt_[0-9a-z]{26}\.[A-Za-z0-9_-]{43}$/);
  assert.match(made.stderr, /2 use\(s\), expires/);
  const id = tok.split('.')[0];
  const row = (await api(d, 'GET', '/api/nodes/registration-tokens')).body.registrationTokens.find((t) => t.id === id);
  assert.equal(row.maxUses, 2);
  assert.deepEqual(row.labels, { pool: 'cli' });
  const exp = Date.parse(row.expiresAt) - Date.parse(row.createdAt);
  assert.equal(exp, 600000);
  const ls = daemon.run(['--data-dir', d.dataDir, 'node', 'token', 'ls']);
  assert.equal(ls.status, 0, ls.stderr);
  assert.match(ls.stdout, new RegExp(`${id}\\s+active\\s+0/2`));
  assert.ok(!ls.stdout.includes(tok.split('.')[1]), 'ls never prints the secret');
  const rv = daemon.run(['--data-dir', d.dataDir, 'node', 'token', 'revoke', id]);
  assert.equal(rv.status, 0, rv.stderr);
  assert.match(daemon.run(['--data-dir', d.dataDir, 'node', 'token', 'ls']).stdout, new RegExp(`${id}\\s+revoked`));
  const bad = daemon.run(['--data-dir', d.dataDir, 'node', 'token', 'create', '--ttl', 'soon']);
  assert.equal(bad.status, 2);
});

test('a node whose plane cannot be reached yet keeps trying, then registers', async () => {
  const made = await regToken({});
  const p = await proxy(d.url);
  cleanups.push(() => p.close());
  p.set('cut');
  const n = await startNode(p.url, { registration: made.token, name: 'late1', dataDir: dir(), env: NODE_ENV, wait: false });
  cleanups.push(() => n.stop());
  await until(async () => (n.stderr.match(/registration: no answer/g) || []).length >= 2, 'a refused connection tried again');
  assert.equal(n.exited, null, 'it did not give up');
  p.set('pass');
  await until(async () => (await nodeNamed(d, 'late1'))?.state === 'connected', 'late1 registered and linked');
  assert.ok(fs.existsSync(path.join(n.dataDir, 'node-key.json')));
});
