// SPDX-License-Identifier: MIT
// A user account signs in to the dashboard with its username and password
// (issue #74): a wrong password is refused with the server's word and no
// session, the right one opens the dashboard as the account (its role's
// scope shown), and disabling the account ends the open page's session.
// At desktop and phone sizes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { apiOk, daemon, launch, shot } from './lib/harness.mjs';

let d;
before(async () => {
  d = await daemon.start({ needUrl: true });
  await apiOk(d.url, 'POST', '/api/users', { username: 'ana', password: 'ana secret pw', role: 'write' });
});
after(async () => {
  if (d) await d.cleanup();
});

for (const [size, width, height] of [['desktop', 1280, 720], ['phone', 390, 844]]) {
  test(`signing in with a username and password (${size})`, async () => {
    const b = await launch({ width, height });
    try {
      const { page } = b;
      await page.goto(d.url + '/');
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
      await page.getByLabel('Username').fill('ana');
      await page.getByLabel('Password').fill('not it at all');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('.login .form-error').waitFor();
      assert.match(await page.locator('.login .form-error').innerText(), /username or password/i);
      assert.equal((await b.ctx.cookies(d.url)).length, 0, 'no session for a wrong password');
      await page.getByLabel('Password').fill('ana secret pw');
      await shot(page, `accounts-login-${size}`);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('.topbar').waitFor();
      const who = await page.evaluate(async () => (await fetch('/api/auth/whoami')).json());
      assert.equal(who.name, 'user:ana');
      assert.equal(who.scope, 'write');
      // the password is not left in the page
      assert.equal(await page.evaluate(() => document.body.innerHTML.includes('ana secret pw')), false);
      const sess = (await b.ctx.cookies(d.url)).find((c) => c.name.startsWith('agentd_session_'));
      assert.ok(sess && sess.httpOnly, 'an HttpOnly session cookie');
      // disabled: its session ends, the page is back at the sign-in screen
      await apiOk(d.url, 'PATCH', '/api/users/ana', { disabled: true });
      await page.goto(d.url + '/#/settings');
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
      assert.equal(await page.evaluate(async () => (await fetch('/api/agents')).status), 401);
    } finally {
      await b.close();
      // the next size signs in again: a fresh account of the same name
      await apiOk(d.url, 'DELETE', '/api/users/ana');
      await apiOk(d.url, 'POST', '/api/users', { username: 'ana', password: 'ana secret pw', role: 'write' });
    }
  });
}
