// SPDX-License-Identifier: MIT
// The Routines page (issue #75, docs/routines.md): the form makes an
// interval routine in a worktree, its row shows the trigger and the next
// fire, its history fills as it fires on its own (each run's status and
// agent), Run now adds a manual run, Pause stops it (the row says paused),
// a webhook routine shows its secret once, and Remove takes it off.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, makeRepo, shot, until } from './lib/harness.mjs';
import { session, waitAttr, waitText } from './lib/session.mjs';

let d;
let b;
session((s) => ({ d, b } = s));

test('the Routines page makes a routine, shows its runs as it fires, pauses and removes it', async () => {
  const repo = makeRepo();
  const ws = await api(d.url, 'POST', '/api/workspaces', { path: repo, name: 'routines' });
  assert.equal(ws.status, 201, JSON.stringify(ws.data));
  const { page } = b;
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(d.url + '/#/routines');
  await page.getByRole('link', { name: 'Routines' }).first().waitFor();
  await waitText(page.locator('.routines-page'), /No routine yet/, 'the empty page');

  const form = page.getByRole('form', { name: 'New routine' });
  await form.locator('input[name=routine-name]').fill('ticker');
  await form.locator('select[name=routine-kind]').selectOption('every');
  await form.locator('input[name=routine-every]').fill('2s');
  await form.locator('input[name=routine-command]').fill('echo tick');
  await form.getByRole('button', { name: 'Create routine' }).click();
  await page.waitForURL(/#\/routines\/rt_/);
  const id = decodeURIComponent(page.url().split('#/routines/')[1]);
  const row = page.locator('tr[data-routine="ticker"]');
  await waitText(row, /every 2s/, 'the trigger in the row');
  await waitAttr(row, 'data-enabled', 'true', 'the routine on');

  // its history fills as it fires on its own, live
  const history = page.locator(`.routine-history[data-routine="${id}"]`);
  await until(async () => (await history.locator('tr[data-status="succeeded"]').count()) >= 2, 'two runs in the history');
  const agentLink = history.locator('tr[data-status="succeeded"] a').first();
  assert.match(await agentLink.getAttribute('href'), /#\/agents\/ag_/);
  await shot(page, 'routines-page');

  // Pause: the row says so and the API agrees
  await row.getByRole('button', { name: 'Pause' }).click();
  await waitAttr(row, 'data-enabled', 'false', 'the routine paused');
  assert.equal((await api(d.url, 'GET', `/api/routines/${id}`)).data.enabled, false);
  // Run now while paused: a manual run still goes
  const before = (await api(d.url, 'GET', `/api/routines/${id}/runs`)).data.runs.length;
  await row.getByRole('button', { name: 'Run now' }).click();
  await until(async () => (await api(d.url, 'GET', `/api/routines/${id}/runs`)).data.runs.some((x) => x.source === 'manual'), 'the manual run');
  await waitText(history, /manual/, 'the manual run in the history');
  assert.ok((await api(d.url, 'GET', `/api/routines/${id}/runs`)).data.runs.length > before);

  // a webhook routine: its secret is shown once
  await form.locator('input[name=routine-name]').fill('hooked');
  await form.locator('select[name=routine-kind]').selectOption('webhook');
  await form.locator('input[name=routine-command]').fill('cat "$AGENTD_TRIGGER_PAYLOAD"');
  await form.getByRole('button', { name: 'Create routine' }).click();
  const secret = page.locator('.routine-secret');
  await waitText(secret, /^\S{32,}$/, 'the secret shown once');
  await waitText(page.locator('tr[data-routine="hooked"]'), /webhook/, 'the webhook row');

  // Remove
  page.once('dialog', (dl) => void dl.accept());
  await row.getByRole('button', { name: 'Remove' }).click();
  await until(async () => (await page.locator('tr[data-routine="ticker"]').count()) === 0, 'the row gone');
  assert.equal((await api(d.url, 'GET', `/api/routines/${id}`)).status, 404);
});
