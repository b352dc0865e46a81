// SPDX-License-Identifier: MIT
// Web Push (issue #76, docs/push.md): a browser's subscription gets an
// encrypted, VAPID-signed push for an approval, and the notification's
// Allow decides it with the action token the push carried, with no
// session. The push service is tests/fixtures/push-service.js on
// 127.0.0.1: it verifies the VAPID JWT against the key the daemon
// published and decrypts the body with the subscription's own private key
// and auth secret (RFC 8291), so a push it keeps is one a browser would
// read. Also: another org's events never reach a subscription, the
// endpoint rules, the bound per user, a 410 deletes the subscription, a
// 5xx is tried again, and an agent on a worker node is pushed too.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const daemon = require('./lib/daemon');
const { startApi, api, request, until, makeWorkspace, pendingApprovals } = require('./lib/api');
const pushService = require('../fixtures/push-service');
const { start: startAnthropic } = require('../fixtures/mock-anthropic');
const { CLAUDE_BIN, claudeMissingReason, makeSandbox } = require('../fixtures/claude-run');
const { claudeAgents } = require('./lib/agents');
const { nodeToken, startNode, nodeNamed } = require('./lib/nodes');

const bearer = (t) => ({ authorization: `Bearer ${t}` });

async function token(d, name, scope, orgId) {
  const r = await api(d, 'POST', '/api/tokens', { name, scope, ...(orgId ? { orgId } : {}) });
  assert.equal(r.status, 201, r.text);
  return r.body.token;
}

async function subscribe(d, ps, tok) {
  const sub = ps.subscribe();
  const r = await api(d, 'POST', '/api/push/subscriptions', { endpoint: sub.endpoint, keys: sub.keys }, bearer(tok));
  assert.equal(r.status, 201, r.text);
  assert.match(r.body.id, /^psub/);
  assert.equal(r.body.endpoint, sub.endpoint);
  return { ...sub, rowId: r.body.id };
}

// The pushes sub received of a kind, once there are n.
const pushes = (ps, sub, kind, n = 1) =>
  until(() => {
    const got = ps.received.filter((m) => m.subId === sub.id && m.payload.kind === kind);
    return got.length >= n ? got : null;
  }, `${n} ${kind} push(es) to ${sub.id} (errors: ${JSON.stringify(ps.errors)})`);

test('an approval is pushed encrypted and VAPID-signed; Allow from the notification decides it once', { skip: claudeMissingReason() || false }, async () => {
  const ps = await pushService.start();
  const mock = await startAnthropic();
  const sb = makeSandbox();
  const d = await startApi({ args: ['--claude-bin', CLAUDE_BIN, '--stop-grace-ms', '3000', '--push-insecure-loopback'] });
  try {
    const key = await api(d, 'GET', '/api/push/vapid-public-key');
    assert.equal(key.status, 200, key.text);
    const raw = Buffer.from(key.body.publicKey, 'base64url');
    assert.equal(raw.length, 65);
    assert.equal(raw[0], 4);
    ps.vapidKey = key.body.publicKey;
    const st = fs.statSync(path.join(d.dataDir, 'push-vapid.key'));
    assert.equal(st.mode & 0o777, 0o600, 'the VAPID key file is 0600');

    // an admin and a writer of the default org, and an admin of another org, each subscribed
    const phone = await token(d, 'phone', 'admin');
    const mine = await subscribe(d, ps, phone);
    const w2 = await api(d, 'POST', '/api/tokens', { name: 'writer', scope: 'write' });
    const writer = await subscribe(d, ps, w2.body.token);
    const orgB = await api(d, 'POST', '/api/orgs', { name: 'push other org' });
    assert.equal(orgB.status, 201, orgB.text);
    const theirs = await subscribe(d, ps, await token(d, 'other', 'admin', orgB.body.id));

    const make = await claudeAgents(d, sb, mock.url);
    const ag = await make({ name: 'pusher' });
    assert.equal((await api(d, 'POST', `/api/agents/${ag.id}/start`, { initialPrompt: 'please make a file' })).status, 200);
    const [ap] = await pendingApprovals(d, ag.id);

    const [msg] = await pushes(ps, mine, 'approval');
    const p = msg.payload;
    assert.equal(p.approvalId, ap.id);
    assert.equal(p.title, 'pusher asks to use Bash');
    assert.equal(p.body, 'Write out.txt');
    assert.equal(p.agentId, ag.id);
    assert.equal(p.url, `/#/agents/${ag.id}`);
    assert.deepEqual(p.actions.map((a) => a.action), ['allow', 'deny']);
    assert.ok(!msg.text.includes('echo hello'), 'the tool input is not in the push');
    assert.ok(!msg.text.includes('dummy'), 'no env value is in the push');
    assert.match(msg.headers.urgency, /high/);
    assert.equal(msg.claims.aud, ps.origin);
    assert.ok(!fs.existsSync(path.join(sb.cwd, 'out.txt')));

    // the token is worthless altered, or with another action
    const act = (body) => request(d.url, 'POST', '/api/push/actions', body);
    const t = p.actionToken;
    // (the character replaced is the one looked at: comparing the last one left
    // the token as it was whenever its second-to-last already was the 'A')
    const flipped = t.slice(0, -2) + (t.at(-2) === 'A' ? 'B' : 'A') + t.slice(-1);
    assert.notEqual(flipped, t);
    assert.equal((await act({ token: flipped, action: 'allow' })).status, 403);
    assert.equal((await act({ token: t.replace(ap.id, 'ap_other'), action: 'allow' })).status, 403);
    assert.equal((await act({ token: t, action: 'allow_always' })).status, 422);
    assert.equal((await act({ action: 'allow' })).status, 422);

    // a writer's token may deny but not allow what the agent's permissions do not
    const [wmsg] = await pushes(ps, writer, 'approval');
    const refused = await act({ token: wmsg.payload.actionToken, action: 'allow' });
    assert.equal(refused.status, 403, refused.text);
    assert.match(refused.body.error.message, /admin is needed/);

    // once the writer's token is revoked, its device's token decides nothing
    assert.equal((await api(d, 'DELETE', `/api/tokens/${w2.body.id}`)).status < 300, true);
    const revoked = await act({ token: wmsg.payload.actionToken, action: 'deny' });
    assert.equal(revoked.status, 403, revoked.text);
    assert.match(revoked.body.error.message, /can no longer sign in/);

    // Allow, with no credential at all: the approval is decided and the turn goes on
    const ok = await act({ token: t, action: 'allow' });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.approval.status, 'allowed');
    assert.match(ok.body.approval.decidedBy, /^push:tok/);
    await until(() => fs.existsSync(path.join(sb.cwd, 'out.txt')), 'the allowed command to run');
    // every device's notification of it is replaced by one without actions
    const [done] = await pushes(ps, mine, 'approval_decided');
    assert.equal(done.payload.tag, `approval:${ap.id}`);
    assert.equal(done.payload.title, 'pusher: Bash allowed');
    assert.equal(done.payload.actions, undefined);
    assert.equal(done.payload.actionToken, undefined);
    // once: the same token again is refused
    const again = await act({ token: t, action: 'deny' });
    assert.equal(again.status, 409, again.text);

    // the turn ends: "needs you" is pushed too
    const [wait] = await pushes(ps, mine, 'waiting');
    assert.equal(wait.payload.title, 'pusher needs you');
    assert.equal(wait.payload.actionToken, undefined);

    // the revoked writer's device got nothing after its revocation
    assert.equal(ps.received.filter((m) => m.subId === writer.id && m.payload.kind !== 'approval').length, 0);
    // the other org's subscription got nothing of this org's
    assert.equal(ps.hits[theirs.id], undefined, 'another org\'s events never reach its subscription');
    assert.deepEqual(ps.errors, []);

    // a deleted subscription's tokens are worthless
    assert.equal((await api(d, 'DELETE', '/api/push/subscriptions', { endpoint: mine.endpoint }, bearer(phone))).status, 204);
    assert.equal((await act({ token: t, action: 'deny' })).status, 403);
  } finally {
    await d.cleanup();
    await mock.close();
    await ps.close();
    sb.cleanup();
  }
});

test('subscriptions: https only, keys checked, bounded per user, own rows only; 410 deletes, 5xx is retried', async () => {
  const ps = await pushService.start();
  let d = await startApi({});
  try {
    const strictSub = ps.subscribe();
    const r = await api(d, 'POST', '/api/push/subscriptions', { endpoint: strictSub.endpoint, keys: strictSub.keys });
    assert.equal(r.status, 422, r.text);
    assert.equal(r.body.error.details.field, 'endpoint');
    await d.cleanup();
    d = await startApi({ args: ['--push-insecure-loopback'] });
    ps.vapidKey = (await api(d, 'GET', '/api/push/vapid-public-key')).body.publicKey;
    const sub = ps.subscribe();
    const bad = async (body, field) => {
      const x = await api(d, 'POST', '/api/push/subscriptions', body);
      assert.equal(x.status, 422, `${JSON.stringify(body)}: ${x.text}`);
      assert.equal(x.body.error.details.field, field);
    };
    await bad({ endpoint: 'https://10.0.0.1/push/x', keys: sub.keys }, 'endpoint');
    await bad({ endpoint: 'https://user@push.example/x', keys: sub.keys }, 'endpoint');
    await bad({ endpoint: 'ftp://push.example/x', keys: sub.keys }, 'endpoint');
    await bad({ endpoint: sub.endpoint, keys: { p256dh: 'AAAA', auth: sub.keys.auth } }, 'keys.p256dh');
    await bad({ endpoint: sub.endpoint, keys: { p256dh: sub.keys.p256dh, auth: 'AAAA' } }, 'keys.auth');
    await bad({ endpoint: sub.endpoint }, 'keys');

    // a bounded number per user; the same endpoint again is the same row
    const reader = await token(d, 'reader', 'read');
    const first = await subscribe(d, ps, reader);
    const same = await api(d, 'POST', '/api/push/subscriptions', { endpoint: first.endpoint, keys: first.keys }, bearer(reader));
    assert.equal(same.body.id, first.rowId);
    for (let i = 1; i < 16; i++) await subscribe(d, ps, reader);
    const over = ps.subscribe();
    const full = await api(d, 'POST', '/api/push/subscriptions', { endpoint: over.endpoint, keys: over.keys }, bearer(reader));
    assert.equal(full.status, 409, full.text);
    const mineList = (await api(d, 'GET', '/api/push/subscriptions', undefined, bearer(reader))).body.subscriptions;
    assert.equal(mineList.length, 16);
    assert.ok(mineList.every((s) => s.p256dh === undefined && s.auth === undefined), 'keys never go out');
    assert.equal((await api(d, 'GET', '/api/push/subscriptions')).body.subscriptions.length, 0, 'the owner sees only its own');
    // another user cannot delete them
    assert.equal((await api(d, 'DELETE', '/api/push/subscriptions', { endpoint: first.endpoint })).status, 404);
    for (const s of mineList) {
      assert.equal((await api(d, 'DELETE', '/api/push/subscriptions', { endpoint: s.endpoint }, bearer(reader))).status, 204);
    }

    // the owner's: one answered 410 (gone), one 500 then 503 (retried, then taken)
    const gone = await subscribe(d, ps, d.token);
    const flaky = await subscribe(d, ps, d.token);
    const dead = await subscribe(d, ps, d.token);
    ps.answer(gone.id, [410]);
    ps.answer(flaky.id, [500, 503]);
    ps.answer(dead.id, [503, 503, 503, 503, 503]);
    const { wt } = await makeWorkspace(d);
    const ag = await api(d, 'POST', '/api/agents', { worktreeId: wt.id, name: 'failing', executor: 'command', command: ['sh', '-c', 'exit 3'] });
    assert.equal(ag.status, 201, ag.text);
    assert.equal((await api(d, 'POST', `/api/agents/${ag.body.id}/start`, {})).status, 200);
    const [m] = await pushes(ps, flaky, 'run_failed');
    assert.equal(m.payload.title, 'failing: its run failed');
    assert.equal(m.payload.body, 'The run ended with exit code 3.');
    assert.equal(ps.hits[flaky.id], 3, 'two failures, then the push');
    const list = await until(async () => {
      const l = (await api(d, 'GET', '/api/push/subscriptions')).body.subscriptions;
      const byId = Object.fromEntries(l.map((x) => [x.id, x]));
      return l.length === 2 && byId[flaky.rowId]?.lastOkAt && byId[dead.rowId]?.lastFailAt ? byId : null;
    }, 'the gone subscription deleted, the flaky one delivered, the dead one given up');
    assert.equal(ps.hits[gone.id], 1);
    // bounded: four tries in all, then given up (the row is kept, with why)
    assert.equal(ps.hits[dead.id], 4);
    assert.equal(list[dead.rowId].lastError, 'the push service answered 503');
    const metrics = await api(d, 'GET', '/metrics');
    assert.match(metrics.text, /agentd_push_gone_total 1/);
    assert.match(metrics.text, /agentd_push_retried_total 5/);
    assert.match(metrics.text, /agentd_push_failed_total 1/);
    assert.deepEqual(ps.errors, []);
  } finally {
    await d.cleanup();
    await ps.close();
  }
});

test('an agent on a worker node is pushed as one on the plane: its failed run reaches the phone', async () => {
  const ps = await pushService.start();
  const d = await startApi({ args: ['--push-insecure-loopback', '--stop-grace-ms', '300'] });
  const nodeDir = daemon.tmpDir('agentd-push-node-');
  let n = null;
  try {
    ps.vapidKey = (await api(d, 'GET', '/api/push/vapid-public-key')).body.publicKey;
    const sub = await subscribe(d, ps, d.token);
    const t = await nodeToken(d, 'far');
    n = await startNode(d.url, { token: t.token, name: 'far', dataDir: nodeDir, env: { PATH: '/usr/bin:/bin' } });
    await until(async () => (await nodeNamed(d, 'far'))?.state === 'connected', 'the node connected');
    const { wt } = await makeWorkspace(d);
    const ag = await api(d, 'POST', '/api/agents', { worktreeId: wt.id, name: 'remote', executor: 'command', command: ['sh', '-c', 'exit 7'], node: 'far' });
    assert.equal(ag.status, 201, ag.text);
    assert.equal((await api(d, 'POST', `/api/agents/${ag.body.id}/start`, {})).status, 200);
    const [m] = await pushes(ps, sub, 'run_failed');
    assert.equal(m.payload.title, 'remote: its run failed');
    assert.equal(m.payload.body, 'The run ended with exit code 7.');
    const runs = (await api(d, 'GET', `/api/agents/${ag.body.id}/runs`)).body.runs;
    assert.equal(runs[0].nodeId, (await nodeNamed(d, 'far')).id, 'the run was on the node');
    assert.deepEqual(ps.errors, []);
  } finally {
    if (n) await n.cleanup();
    await d.cleanup();
    await ps.close();
    fs.rmSync(nodeDir, { recursive: true, force: true, maxRetries: 10 });
  }
});
