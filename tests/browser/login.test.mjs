// SPDX-License-Identifier: MIT
// Signing in and out in the dashboard: a browser without a session gets the
// sign-in screen (not a broken page), a wrong token is refused with the
// server's word, the owner token signs in and the page goes live, whoami
// shows in the top bar, an admin makes and revokes a token in Settings
// (shown once), a setup command is shown and runs only once approved, and
// signing out (or a revoked session) brings the sign-in screen back.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { api, daemon, launch, makeRepo, shot, until } from './lib/harness.mjs';

let d;
let b;

before(async () => {
  d = await daemon.start({ needUrl: true });
  b = await launch();
});
after(async () => {
  if (b) await b.close();
  if (d) await d.cleanup();
});

test('no session: the sign-in screen; a wrong token is refused; the right one signs in', async () => {
  const { page } = b;
  await page.goto(d.url + '/');
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  assert.equal(await page.locator('.topbar').count(), 0, 'the dashboard is not shown without a session');
  await shot(page, 'login');
  await page.locator('input[name=token]').fill('tok_00000000000000000000000000.wrong');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('.login .form-error').waitFor();
  assert.match(await page.locator('.login .form-error').innerText(), /token/i);
  await page.locator('input[name=token]').fill(d.token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('.topbar').waitFor();
  await until(async () => (await page.locator('.conn').getAttribute('data-status')) === 'connected', 'live after sign-in');
  assert.match(await page.locator('.whoami').innerText(), /owner/);
  // The cookie is HttpOnly: the page's script cannot read it.
  assert.equal(await page.evaluate(() => document.cookie.includes('agentd_session')), false);
});

test('an admin makes a token in Settings, sees it once, and revokes it', async () => {
  const { page } = b;
  await page.goto(d.url + '/#/settings/advanced');
  await page.getByRole('region', { name: 'API tokens' }).waitFor();
  await page.locator('input[name=token-name]').fill('from the browser');
  await page.locator('select[name=token-scope]').selectOption('write');
  await page.getByRole('button', { name: 'Create token' }).click();
  const secret = (await page.locator('.token-secret').innerText()).trim();
  assert.match(secret, /^tok_[0-9a-z]{26}\./);
  // The new token works for the API with its scope.
  const r = await fetch(d.url + '/api/agents', { headers: { authorization: `Bearer ${secret}` } });
  assert.equal(r.status, 200);
  const id = secret.split('.')[0];
  const row = page.locator(`tr[data-token="${id}"]`);
  await row.waitFor();
  assert.match(await row.innerText(), /write/);
  // Shown once: after a reload the secret is nowhere on the page.
  await page.reload();
  await page.getByRole('region', { name: 'API tokens' }).waitFor();
  await row.waitFor();
  assert.equal((await page.content()).includes(secret.split('.')[1]), false);
  page.once('dialog', (dlg) => void dlg.accept());
  await row.getByRole('button', { name: 'Revoke' }).click();
  await until(async () => /revoked/.test(await row.innerText()), 'the row to say revoked');
  const after = await fetch(d.url + '/api/agents', { headers: { authorization: `Bearer ${secret}` } });
  assert.equal(after.status, 401);
});

test('a setup command is shown and runs only once approved', async () => {
  const { page } = b;
  const repo = makeRepo();
  const ws = await api(d.url, 'POST', '/api/workspaces', { path: repo, name: 'setupws' });
  assert.equal(ws.status, 201, JSON.stringify(ws.data));
  const put = await api(d.url, 'PUT', `/api/workspaces/${ws.data.id}/setup`, { setupCommand: 'echo approved > setup-ran.txt' });
  assert.equal(put.status, 200, JSON.stringify(put.data));
  await page.goto(d.url + '/');
  await page.getByRole('button', { name: 'New worktree in setupws' }).click();
  await page.locator('input[name=name]').fill('feat-setup');
  await page.getByRole('button', { name: 'Create worktree' }).click();
  await page.getByText('Run the setup command?').waitFor();
  assert.equal(await page.locator('.setup-command').innerText(), 'echo approved > setup-ran.txt');
  const wts = (await api(d.url, 'GET', `/api/worktrees?workspaceId=${ws.data.id}`)).data.worktrees;
  const wt = wts.find((w) => w.name === 'feat-setup');
  assert.ok(wt, JSON.stringify(wts));
  const marker = path.join(wt.path, 'setup-ran.txt');
  assert.equal(fs.existsSync(marker), false, 'the command ran before it was approved');
  await shot(page, 'setup-approval');
  await page.getByRole('button', { name: 'Approve and run' }).click();
  await until(() => fs.existsSync(marker), 'the approved setup command to run');
  fs.rmSync(repo, { recursive: true, force: true });
});

test('signing out, or a session that ends, brings the sign-in screen back', async () => {
  const { page } = b;
  await page.goto(d.url + '/');
  await page.locator('.whoami').waitFor();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  // The old cookie is gone: the API refuses the browser now.
  assert.equal(await page.evaluate(async () => (await fetch('/api/agents')).status), 401);
  // Sign in again, then end the session elsewhere (as another tab's sign
  // out does): the page notices on its next request.
  await page.locator('input[name=token]').fill(d.token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('.topbar').waitFor();
  const cookies = await b.ctx.cookies(d.url);
  const sess = cookies.find((c) => c.name.startsWith('agentd_session_'));
  assert.ok(sess, 'a session cookie');
  assert.equal(sess.httpOnly, true);
  assert.equal(sess.sameSite, 'Strict');
  await fetch(d.url + '/api/auth/logout', { method: 'POST', headers: { cookie: `${sess.name}=${sess.value}` } });
  // The page's next request answers 401 and the sign-in screen is back.
  await page.goto(d.url + '/#/settings');
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
});
