// SPDX-License-Identifier: MIT
// Login CSRF and lockouts from a page on another origin (issue #31). A
// signed-in owner visits a hostile page, which (1) navigates the browser to
// /login?token=<the attacker's token>, so that what the owner then does
// lands in the attacker's account, and (2) loads
// <img src=/login?token=bad> twelve times, to lock every client on
// 127.0.0.1 out. Neither works: a GET never makes a session, and bad
// tokens never lock out a good one.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { api, daemon, launch, until } from './lib/harness.mjs';

let d;
let evil;
let b;
let attacker;
let evilPage = '';

before(async () => {
  d = await daemon.start({ needUrl: true });
  // The attacker's own account: an org of its own, a token of it.
  const org = await api(d.url, 'POST', '/api/orgs', { name: 'attacker' });
  assert.equal(org.status, 201, JSON.stringify(org.data));
  const t = await api(d.url, 'POST', '/api/tokens', { name: 'attacker', scope: 'write', orgId: org.data.id });
  assert.equal(t.status, 201, JSON.stringify(t.data));
  attacker = t.data.token;
  evil = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(evilPage);
  });
  await new Promise((r) => evil.listen(0, '127.0.0.1', r));
  b = await launch({ login: d.url, args: ['--host-resolver-rules=MAP evil.test 127.0.0.1'] });
});
after(async () => {
  if (b) await b.close();
  if (evil) evil.close();
  if (d) await d.cleanup();
});

const evilUrl = () => `http://evil.test:${evil.address().port}/`;

async function whoIsSignedIn() {
  await b.page.goto(d.url + '/');
  return b.page.evaluate(async () => {
    const r = await fetch('/api/auth/whoami');
    return r.status === 200 ? r.json() : { status: r.status };
  });
}

test('a page elsewhere navigating to /login?token=<attacker\'s> does not replace the session', async () => {
  const before = await whoIsSignedIn();
  assert.equal(before.owner, true, JSON.stringify(before));
  evilPage = `<!doctype html><meta charset=utf-8><title>cats</title>
<script>location.href = ${JSON.stringify(`${d.url}/login?token=${attacker}`)};</script>`;
  await b.page.goto(evilUrl());
  await b.page.waitForURL((u) => u.toString().startsWith(d.url), { timeout: 10000 });
  await b.page.waitForLoadState('load');
  const now = await whoIsSignedIn();
  assert.equal(now.owner, true, `the session is now ${JSON.stringify(now)}`);
  assert.notEqual(now.name, 'attacker');
  // The attacker's token is still good for the attacker, only not here.
  const r = await fetch(d.url + '/api/auth/whoami', { headers: { authorization: `Bearer ${attacker}` } });
  assert.equal(r.status, 200);
});

test('twelve <img src=/login?token=bad> from another origin lock nobody out', async () => {
  evilPage = `<!doctype html><meta charset=utf-8><title>cats</title><div id=imgs></div>
<script>
let n = 0;
window.loaded = 0;
for (let i = 0; i < 12; i++) {
  const img = new Image();
  img.onload = img.onerror = () => { window.loaded++; };
  img.src = ${JSON.stringify(`${d.url}/login?token=`)} + 'bad-' + i + '-' + Math.random();
  document.getElementById('imgs').appendChild(img);
}
</script>`;
  await b.page.goto(evilUrl());
  await until(async () => (await b.page.evaluate(() => window.loaded)) === 12, 'the twelve images', 15000);
  // Then bad tokens sent the honest way too, past the budget: still only
  // bad ones are refused.
  for (let i = 0; i < 12; i++) {
    await fetch(d.url + '/api/agents', { headers: { authorization: `Bearer nope-${i}` } });
  }
  // The owner's token gets in, from this very address ...
  const r = await api(d.url, 'GET', '/api/agents');
  assert.equal(r.status, 200, JSON.stringify(r.data));
  // ... and so does the owner's browser, by its session and by a new login.
  const me = await whoIsSignedIn();
  assert.equal(me.owner, true, JSON.stringify(me));
  const status = await b.page.evaluate(async (t) => {
    const x = await fetch('/api/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: t }) });
    return x.status;
  }, daemon.tokenFor(d.url));
  assert.equal(status, 200);
});
