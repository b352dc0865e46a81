// SPDX-License-Identifier: MIT
// Web Push in the browser (issue #76, docs/push.md), with the real Claude
// Code CLI against the mock Anthropic API and tests/fixtures/push-service.js
// as the push service. Chromium here cannot subscribe to a real push
// service (its PushManager.subscribe needs the vendor's, which a machine
// without the network cannot reach), nor can a local push service deliver
// to it; so, what can be tested is:
//  - the dashboard's switch (Settings > General > Push to this device)
//    subscribes: it asks for the permission, passes the daemon's VAPID key
//    as the applicationServerKey, and POSTs the browser's PushSubscription
//    shape. PushManager.subscribe is replaced by one that answers a
//    subscription of the test's push service, with the key it was given
//    checked;
//  - the daemon then pushes the approval to that push service, which
//    verifies and decrypts it (as in tests/e2e/push.test.js);
//  - the decrypted payload is handed to the dashboard's service worker as
//    a push event (made in the worker: the step a browser's push service
//    would do), which shows a notification with Allow and Deny; its
//    notificationclick with Allow (made in the worker too: a headless
//    browser has no notification to tap) calls the action API with the
//    token, no cookie, and the approval is decided and the turn goes on.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import { api, daemon, launch, makeRepo, until, WAIT_MS } from './lib/harness.mjs';

const require = createRequire(import.meta.url);
const { start } = require('../fixtures/mock-anthropic.js');
const { CLAUDE_BIN, claudeMissingReason, claudeEnv } = require('../fixtures/claude-run.js');
const pushService = require('../fixtures/push-service.js');

const skip = claudeMissingReason() || false;
let d;
let b;
let mock;
let ps;
let repo;
let home;

before(async () => {
  if (skip) return;
  mock = await start();
  ps = await pushService.start();
  home = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'agentd-push-home-'));
  d = await daemon.start({ needUrl: true, args: ['--claude-bin', CLAUDE_BIN, '--stop-grace-ms', '3000', '--push-insecure-loopback'] });
  repo = makeRepo();
  b = await launch({ login: d.url, full: true });
});
after(async () => {
  if (b) await b.close();
  if (d) await d.stop();
  if (mock) await mock.close();
  if (ps) await ps.close();
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

test('the switch subscribes; a push shows Allow and Deny; Allow decides the approval', { skip }, async () => {
  const { ctx, page } = b;
  await ctx.grantPermissions(['notifications'], { origin: d.url });
  const sub = ps.subscribe();
  // the browser's PushManager, answering with the test push service's subscription
  await page.addInitScript((s) => {
    let current = null;
    PushManager.prototype.getSubscription = async () => current;
    PushManager.prototype.subscribe = async (opts) => {
      window.__pushKey = Array.from(new Uint8Array(opts.applicationServerKey));
      window.__pushVisible = opts.userVisibleOnly;
      current = {
        endpoint: s.endpoint,
        options: opts,
        toJSON: () => ({ endpoint: s.endpoint, expirationTime: null, keys: s.keys }),
        unsubscribe: async () => ((current = null), true),
      };
      return current;
    };
  }, sub);
  await page.goto('about:blank'); // a new document, so the script above runs in it
  await page.goto(`${d.url}/#/settings/general`);
  // the worker's install fetches the shell first: on a loaded machine that took over 15 s once
  // once the worker is active, a page it did not claim (its navigation raced
  // the claim, under load in a fresh-clone check) is its after a reload
  await page.waitForFunction(() => navigator.serviceWorker.ready.then(() => true), null, { timeout: WAIT_MS });
  if (!(await page.evaluate(() => navigator.serviceWorker.controller !== null))) await page.reload();
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: WAIT_MS });
  await until(() => ctx.serviceWorkers()[0], 'the service worker');
  // the worker as it runs now: Chromium may stop an idle one and start it again
  const sw = () => ctx.serviceWorkers().at(-1);
  const toggle = page.locator('#set-push');
  await toggle.waitFor();
  assert.equal(await toggle.isChecked(), false);
  await toggle.check();
  const subs = await until(async () => {
    const r = await api(d.url, 'GET', '/api/push/subscriptions');
    return r.data.subscriptions.length === 1 ? r.data.subscriptions : null;
  }, 'the subscription stored');
  assert.equal(subs[0].endpoint, sub.endpoint);
  const key = (await api(d.url, 'GET', '/api/push/vapid-public-key')).data.publicKey;
  ps.vapidKey = key;
  assert.deepEqual(await page.evaluate(() => window.__pushKey), [...Buffer.from(key, 'base64url')]);
  assert.equal(await page.evaluate(() => window.__pushVisible), true);

  // an approval: pushed, verified and decrypted by the push service
  const ws = await api(d.url, 'POST', '/api/workspaces', { path: repo, name: 'push-repo' });
  assert.ok(ws.status < 300, JSON.stringify(ws.data));
  const env = claudeEnv(mock.url, home);
  delete env.PATH;
  const ag = await api(d.url, 'POST', '/api/agents', { worktreeId: ws.data.worktrees[0].id, name: 'Phone', executor: 'claude', env, allowUnsafeEnv: true });
  assert.equal(ag.status, 201, JSON.stringify(ag.data));
  assert.equal((await api(d.url, 'POST', `/api/agents/${ag.data.id}/start`, { initialPrompt: 'please make a file' })).status, 200);
  const msg = await until(() => ps.received.find((m) => m.payload.kind === 'approval'), `the approval's push (errors: ${JSON.stringify(ps.errors)})`);

  // the push reaches the service worker, which shows the notification (given
  // again while none is shown: under load a worker Chromium stopped and
  // started again between two evaluations missed it once; the tag keeps one)
  const shown = await until(async () => {
    const list = await sw().evaluate(async (text) => {
      const now = await self.registration.getNotifications();
      if (now.length === 0) self.dispatchEvent(new PushEvent('push', { data: text }));
      return now.map((n) => ({ title: n.title, body: n.body, tag: n.tag, actions: n.actions.map((a) => a.action) }));
    }, msg.text);
    return list.length ? list : null;
  }, 'the notification');
  assert.deepEqual(shown, [{ title: 'Phone asks to use Bash', body: 'Write out.txt', tag: `approval:${msg.payload.approvalId}`, actions: ['allow', 'deny'] }]);

  // Allow, from the notification
  await sw().evaluate(async () => {
    const [n] = await self.registration.getNotifications();
    self.dispatchEvent(new NotificationEvent('notificationclick', { notification: n, action: 'allow' }));
  });
  await until(async () => {
    const r = await api(d.url, 'GET', `/api/agents/${ag.data.id}/approvals`);
    return r.data.approvals[0] && r.data.approvals[0].status === 'allowed';
  }, 'the approval allowed from the notification');
  await until(() => fs.existsSync(path.join(repo, 'out.txt')), 'the command run');
  assert.deepEqual(await sw().evaluate(async () => (await self.registration.getNotifications()).length), 0, 'the notification closed');

  // and the switch off deletes the subscription
  await toggle.uncheck();
  await until(async () => (await api(d.url, 'GET', '/api/push/subscriptions')).data.subscriptions.length === 0, 'the subscription deleted');
  assert.deepEqual(b.errors, []);
});
