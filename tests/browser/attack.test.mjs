// SPDX-License-Identifier: MIT
// A logged-in user's browser visits a hostile page. The page, served from
// another origin, tries what a drive-by attack on a localhost daemon tries:
// a "simple" cross-origin POST, a form POST, a cross-origin WebSocket, and
// DNS rebinding (a hostile name that resolves to 127.0.0.1, on the
// daemon's own port). Each is refused; nothing is created and nothing runs.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { api, daemon, launch, makeRepo, tmpDir, until } from './lib/harness.mjs';

let d;
let evil;
let b;
const marker = path.join(tmpDir('agentd-attack-'), 'pwned');

// The attacker's page. Results land in window.results for the test to read.
function page(target) {
  const wsTarget = target.replace('http', 'ws');
  const body = JSON.stringify({ path: '/tmp', name: 'pwned' }).replace(/"/g, '&quot;');
  return `<!doctype html><meta charset=utf-8><title>cats</title>
<iframe name=sink onload="if (window.results && window.results.form) window.results.formLanded = true"></iframe>
<form id=f method=POST action="${target}/api/workspaces" enctype="text/plain" target=sink>
<input name='${body.slice(0, -1)}' value='"}'></form>
<script>
window.results = {};
const done = (k, v) => { window.results[k] = v; };
fetch('${target}/api/workspaces', { method: 'POST', mode: 'no-cors', credentials: 'include',
  headers: { 'Content-Type': 'text/plain' }, body: ${JSON.stringify(JSON.stringify({ path: '/tmp', name: 'simple' }))} })
  .then(() => done('simple', 'sent'), (e) => done('simple', 'error ' + e));
fetch('${target}/api/agents', { method: 'POST', mode: 'no-cors', credentials: 'include',
  headers: { 'Content-Type': 'text/plain' },
  body: ${JSON.stringify(JSON.stringify({ worktreeId: 'wt_any', executor: 'command', command: ['touch', marker] }))} })
  .then(() => done('agent', 'sent'), (e) => done('agent', 'error ' + e));
fetch('${target}/api/workspaces', { credentials: 'include' })
  .then((r) => r.text()).then((t) => done('read', t), (e) => done('read', 'blocked'));
document.getElementById('f').submit();
done('form', 'sent');
const ws = new WebSocket('${wsTarget}/ws');
ws.onopen = () => ws.send(JSON.stringify({ type: 'subscribe', payload: { topics: ['*'], since: 0 } }));
ws.onmessage = (m) => { window.results.wsData = (window.results.wsData || '') + m.data; };
ws.onclose = (e) => done('ws', 'closed ' + e.code);
ws.onerror = () => done('wsError', true);
</script>`;
}

before(async () => {
  d = await daemon.start({ needUrl: true });
  evil = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(page(d.url));
  });
  await new Promise((r) => evil.listen(0, '127.0.0.1', r));
  // evil.test resolves to this machine, as a rebinding attacker arranges.
  b = await launch({ login: d.url, args: ['--host-resolver-rules=MAP evil.test 127.0.0.1'] });
});
after(async () => {
  if (b) await b.close();
  if (evil) evil.close();
  if (d) await d.stop();
});

async function nothingMade() {
  const ws = await api(d.url, 'GET', '/api/workspaces');
  assert.equal(ws.status, 200);
  assert.deepEqual(ws.data.workspaces.map((w) => w.name), []);
  const ag = await api(d.url, 'GET', '/api/agents');
  assert.deepEqual(ag.data.agents, []);
  assert.equal(fs.existsSync(marker), false, 'a command ran');
}

test('a page on another origin can neither change nor read anything', async () => {
  // The user is signed in: the dashboard works in this browser.
  await b.page.goto(d.url + '/');
  await b.page.getByRole('link', { name: 'Home' }).waitFor();
  const evilUrl = `http://evil.test:${evil.address().port}/`;
  await b.page.goto(evilUrl);
  await until(async () => {
    const r = await b.page.evaluate(() => window.results);
    return r && r.simple && r.agent && r.formLanded && r.read && (r.ws || r.wsError);
  }, 'the attack page to finish (every request answered)');
  const r = await b.page.evaluate(() => window.results);
  assert.equal(r.read, 'blocked', 'the page read an answer across origins');
  assert.ok(!r.wsData, `the cross-origin socket got data: ${r.wsData}`);
  await nothingMade();
});

test('DNS rebinding: the daemon\'s port under a hostile name answers nothing', async () => {
  const port = new URL(d.url).port;
  const res = await b.page.goto(`http://evil.test:${port}/`);
  assert.equal(res.status(), 403);
  // Same-origin now, as far as the browser knows: still refused by Host.
  const out = await b.page.evaluate(async () => {
    const post = await fetch('/api/workspaces', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ path: '/tmp', name: 'rebound' }) });
    const get = await fetch('/api/workspaces');
    return { post: post.status, get: get.status, body: await get.text() };
  });
  assert.equal(out.post, 403);
  assert.equal(out.get, 403);
  assert.match(out.body, /HOST_NOT_ALLOWED/);
  await nothingMade();
});

test('the same steps from the dashboard itself work (the defences are not blanket refusals)', async () => {
  await b.page.goto(d.url + '/');
  await b.page.getByRole('link', { name: 'Home' }).waitFor();
  const repo = makeRepo();
  const st = await b.page.evaluate(async (p) => {
    const r = await fetch('/api/workspaces', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ path: p, name: 'mine' }) });
    return r.status;
  }, repo);
  assert.equal(st, 201);
  const ws = await api(d.url, 'GET', '/api/workspaces');
  assert.deepEqual(ws.data.workspaces.map((w) => w.name), ['mine']);
});
