// SPDX-License-Identifier: MIT
// A stale login link (issue #32) shows the sign-in page with what to do, not
// raw JSON: a one-time code already used, and an older agentd's
// /login?token=… link (whose token then leaves the address bar).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { daemon, launch } from './lib/harness.mjs';
import { session, waitText } from './lib/session.mjs';

let d;
session((s) => ({ d } = s), { launchIf: async () => false });

test('a used code and an old token link show the sign-in page', async () => {
  const token = daemon.tokenFor(d.url);
  const r = await fetch(`${d.url}/api/auth/login-code`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
  assert.equal(r.status, 201);
  const { code } = await r.json();
  // Used once (as a browser elsewhere would have), then opened again.
  const used = await fetch(`${d.url}/api/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ code }) });
  assert.equal(used.status, 200);
  const b = await launch();
  try {
    for (const url of [`${d.url}/login#code=${code}`, `${d.url}/login?token=${'x'.repeat(40)}`]) {
      const res = await b.page.goto(url);
      assert.equal(res.status(), 200);
      assert.match(res.headers()['content-type'], /text\/html/);
      await b.page.locator('form.login-form').waitFor();
      await waitText(b.page.locator('.login-form .form-error'), /did not work.*agentd login/, 'what to do');
      assert.doesNotMatch(await b.page.locator('body').innerText(), /"error"\s*:/);
      assert.ok(!b.page.url().includes('token=') && !b.page.url().includes(code), `the secret left the address bar: ${b.page.url()}`);
    }
  } finally {
    await b.close();
  }
});
