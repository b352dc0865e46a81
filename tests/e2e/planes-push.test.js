// SPDX-License-Identifier: MIT
// Web Push across control planes (issue #77, docs/push.md "Several control
// planes"): two planes on one PostgreSQL database, one VAPID key pair for
// both (the database's: the first plane to need one offers its own). A
// phone subscribes through plane B; an ACP agent's run is plane A's and
// asks an approval: A pushes it once (B pushes nothing), signed with the
// key the phone subscribed with, so the test's push service (which checks
// the VAPID signature against that key and decrypts the body as the
// browser would) takes it. The notification's Allow, posted to B with no
// credential but its action token, is sent on to A and decides it there.
// The attacker's read: an altered token is 403 and nothing is sent on,
// another origin 403, another org's subscription gets nothing; the
// private key is in no answer and no log line.
// Skipped (saying why) without PostgreSQL 15.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { api, until, said, agent, pendingApprovals } = require('./lib/agents');
const pushService = require('../fixtures/push-service');
const { PG_BIN, startPostgres } = require('./lib/pg');

const missing = !fs.existsSync(path.join(PG_BIN, 'initdb')) ? `no PostgreSQL 15 (${PG_BIN}/initdb)` : null;
if (missing) process.stdout.write(`# planes-push.test.js skipped: ${missing}\n`);

const ACP = path.resolve(__dirname, '../fixtures/acp-agent.js');
const SENT_ON = /request sent on to the owning plane/g;

// A request to d with exactly these headers (no owner token added).
async function raw(d, method, p, body, headers = {}) {
  const res = await fetch(d.url + p, {
    method, body: body === undefined ? undefined : JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (_) { json = text; }
  return { status: res.status, body: json, text, headers: res.headers };
}

// A counter of d's /metrics.
async function counter(d, name) {
  const m = await api(d, 'GET', '/metrics');
  const line = String(m.text || m.body).split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

test('an approval of plane A\'s agent is pushed once to a phone subscribed through B, and its Allow through B decides it on A', { skip: missing || false, timeout: 240000 }, async (t) => {
  const ps = await pushService.start();
  const pg = await startPostgres();
  const dbUrl = pg.createDb('fwdpush');
  const start = (id) => daemon.start({ needUrl: true, env: { AGENTD_DATABASE_URL: dbUrl }, args: ['--plane-id', id, '--stop-grace-ms', '3000', '--push-insecure-loopback'] });
  const a = await start('plane_a'); // migrates the database first
  const b = await start('plane_b');
  const repo = daemon.tmpRepo('agentd-fwdpush-');
  t.after(async () => {
    await a.cleanup();
    await b.cleanup();
    pg.stop();
    await ps.close();
    fs.rmSync(repo, { recursive: true, force: true });
  });

  // One key on both planes: B's (the first asked), which A then reads.
  const kb = await raw(b, 'GET', '/api/push/vapid-public-key', undefined, { authorization: `Bearer ${b.token}` });
  assert.equal(kb.status, 200, kb.text);
  const ka = await raw(a, 'GET', '/api/push/vapid-public-key', undefined, { authorization: `Bearer ${a.token}` });
  assert.equal(ka.status, 200, ka.text);
  assert.equal(ka.body.publicKey, kb.body.publicKey, 'every plane of the database has one VAPID key');
  ps.vapidKey = kb.body.publicKey;
  const [priv] = fs.readFileSync(path.join(b.dataDir, 'push-vapid.key'), 'utf8').slice(3).trim().split('.');
  assert.ok(priv.length >= 40);

  // The phone subscribes through B (the owner's device); another org's
  // admin through B too.
  const phone = ps.subscribe();
  const sub = await raw(b, 'POST', '/api/push/subscriptions', { endpoint: phone.endpoint, keys: phone.keys }, { authorization: `Bearer ${b.token}` });
  assert.equal(sub.status, 201, sub.text);
  const org = await api(a, 'POST', '/api/orgs', { name: 'push elsewhere' });
  assert.equal(org.status, 201, JSON.stringify(org.body));
  const otherTok = await api(a, 'POST', '/api/tokens', { name: 'other-admin', scope: 'admin', orgId: org.body.id });
  assert.equal(otherTok.status, 201, JSON.stringify(otherTok.body));
  const theirs = ps.subscribe();
  assert.equal((await raw(b, 'POST', '/api/push/subscriptions', { endpoint: theirs.endpoint, keys: theirs.keys }, { authorization: `Bearer ${otherTok.body.token}` })).status, 201);

  // An ACP agent whose run is plane A's asks an approval.
  const ws = await api(a, 'POST', '/api/workspaces', { path: repo });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  const made = await api(a, 'POST', '/api/agents', { worktreeId: ws.body.worktrees[0].id, executor: 'acp', command: [process.execPath, ACP] });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const id = made.body.id;
  assert.equal((await api(a, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'hello' })).status, 200);
  assert.equal(await said(a, id, 'Hello'), 'Hello from ACP.');
  await until(async () => (await api(a, 'GET', '/api/health')).body.plane?.planes?.find((p) => p.id === 'plane_a')?.runs >= 1,
    'plane A to hold the run\'s lease');
  await until(async () => (await agent(a, id)).status === 'waiting', 'the agent waiting for its next turn');
  assert.equal((await api(a, 'POST', `/api/agents/${id}/message`, { content: 'edit out.txt' })).status, 200);
  const [ap] = await until(async () => { const p = await pendingApprovals(a, id); return p.length ? p : null; }, 'the approval');

  // The push: signed with the key the phone subscribed with, decrypted.
  const got = await until(() => ps.received.find((m) => m.subId === phone.id && m.payload.kind === 'approval'),
    `the approval's push (errors: ${JSON.stringify(ps.errors)})`);
  assert.equal(got.payload.approvalId, ap.id);
  const token = got.payload.actionToken;
  assert.ok(token);

  // The attacker's read: an altered token, another origin: 403, nothing sent on.
  const sentBefore = (b.stderr.match(SENT_ON) || []).length;
  const flipped = token.slice(0, -2) + (token.at(-2) === 'A' ? 'B' : 'A') + token.slice(-1);
  assert.equal((await raw(b, 'POST', '/api/push/actions', { token: flipped, action: 'allow' })).status, 403);
  assert.equal((await raw(b, 'POST', '/api/push/actions', { token, action: 'allow' }, { origin: 'http://evil.example' })).status, 403);
  assert.equal((b.stderr.match(SENT_ON) || []).length, sentBefore, 'nothing was sent on');
  assert.equal((await pendingApprovals(a, id)).length, 1, 'still pending');

  // Allow, posted to B with the token alone: sent on to A, decided there.
  const ok = await raw(b, 'POST', '/api/push/actions', { token, action: 'allow' });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.headers.get('x-agentd-answered-by'), 'plane_a');
  assert.equal(ok.body.approval.status, 'allowed');
  assert.equal(await said(a, id, 'outcome'), 'outcome: selected allow-once');
  assert.equal(fs.readFileSync(path.join(repo, 'out.txt'), 'utf8'), 'written by acp\n');
  // Once: the same token again is A's 409.
  assert.equal((await raw(b, 'POST', '/api/push/actions', { token, action: 'deny' })).status, 409);

  // Pushed once, by A: the decision's push follows the approval's, and by
  // then B had pushed nothing and the phone had one approval push.
  await until(() => ps.received.find((m) => m.subId === phone.id && m.payload.kind === 'approval_decided'), 'the decision\'s push');
  assert.equal(ps.received.filter((m) => m.subId === phone.id && m.payload.kind === 'approval').length, 1);
  assert.equal(await counter(b, 'agentd_push_sent_total'), 0, 'B pushed nothing');
  assert.ok(await counter(a, 'agentd_push_sent_total') >= 2, 'A pushed the approval and its decision');
  assert.equal(ps.received.filter((m) => m.subId === theirs.id).length, 0, 'another org\'s subscription got nothing');
  assert.deepEqual(ps.errors, []);

  // The private key: in no answer, no log line.
  for (const d of [a, b]) {
    assert.ok(!d.stderr.includes(priv), 'not in the log');
    const subs = await raw(d, 'GET', '/api/push/subscriptions', undefined, { authorization: `Bearer ${d.token}` });
    assert.ok(!subs.text.includes(priv) && !ka.text.includes(priv) && !kb.text.includes(priv), 'not in an answer');
  }
});

// A plane upgraded with a key file from before (its devices subscribed
// with that key): it offers the file at its start, so the key the
// database keeps, and every plane's, is that one.
test('a key file from before the database kept the key becomes every plane\'s key', { skip: missing || false, timeout: 120000 }, async (t) => {
  const pg = await startPostgres();
  const dbUrl = pg.createDb('fwdpushold');
  const dir = daemon.tmpDir('agentd-oldkey-');
  const { privateKey } = require('node:crypto').generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const jwk = privateKey.export({ format: 'jwk' });
  const pub = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]).toString('base64url');
  fs.writeFileSync(path.join(dir, 'push-vapid.key'), `v1 ${jwk.d}.${pub}\n`, { mode: 0o600 });
  const start = (id, extra = {}) => daemon.start({ needUrl: true, env: { AGENTD_DATABASE_URL: dbUrl }, args: ['--plane-id', id, '--push-insecure-loopback'], ...extra });
  const a = await start('plane_a', { dataDir: dir });
  const b = await start('plane_b');
  t.after(async () => {
    await a.cleanup();
    await b.cleanup();
    pg.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  // A offered its file at its start (the row is there before anyone asked
  // A); B asks first, and gets A's old key.
  await until(() => pg.psql('fwdpushold', "SELECT count(*) FROM push_keys")[0][0] === '1', 'the key stored');
  const kb = await raw(b, 'GET', '/api/push/vapid-public-key', undefined, { authorization: `Bearer ${b.token}` });
  assert.equal(kb.status, 200, kb.text);
  assert.equal(kb.body.publicKey, pub);
  const ka = await raw(a, 'GET', '/api/push/vapid-public-key', undefined, { authorization: `Bearer ${a.token}` });
  assert.equal(ka.body.publicKey, pub);
  assert.ok(!a.stderr.includes(jwk.d) && !b.stderr.includes(jwk.d), 'the private key in no log line');
});
