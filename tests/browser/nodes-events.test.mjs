// SPDX-License-Identifier: MIT
// A node's recent events on the Nodes page (issue #77, docs/nodes.md "A
// node's history"): a real `agentd node` joins; its Events button opens its
// history under its row (linked); a cordon made through the API shows up
// there while it is open, newest first; the button closes it again. An
// admin makes a registration token there (shown once), a real node trades
// it, and another is revoked from the page.
import assert from 'node:assert/strict';
import path from 'node:path';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { api, until } from './lib/harness.mjs';
import { session, waitAttr, waitText } from './lib/session.mjs';

const require = createRequire(import.meta.url);
const { startNode } = require('../e2e/lib/nodes.js');

let d;
let b;
session((s) => ({ d, b } = s));

test('the Nodes page shows a node\'s recent events under its row', async () => {
  const t = await api(d.url, 'POST', '/api/tokens', { name: 'evbox', scope: 'node' });
  const node = await startNode(d.url, { token: t.data.token, name: 'evbox', env: { PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin` } });
  try {
    const { page } = b;
    await page.goto(d.url + '/#/nodes');
    const row = page.locator('tr[data-node="evbox"]');
    await waitAttr(row, 'data-state', 'connected', 'evbox connected');
    await row.getByRole('button', { name: 'Events' }).click();
    const events = page.locator('tr[data-events-of="evbox"] ol.node-events');
    await waitText(events, /linked/, 'its linked event');
    const n = (await api(d.url, 'GET', '/api/nodes')).data.nodes.find((x) => x.name === 'evbox');
    assert.equal((await api(d.url, 'POST', `/api/nodes/${n.id}/cordon`)).status, 200);
    await waitText(events.locator('li').first(), /cordoned/, 'the cordon shown first, while open');
    assert.equal(await events.locator('li').first().getAttribute('data-kind'), 'cordoned');
    await row.getByRole('button', { name: 'Events' }).click();
    await page.locator('tr[data-events-of="evbox"]').waitFor({ state: 'detached' });
  } finally {
    await node.cleanup();
  }
});

test('an admin makes a registration token on the Nodes page, a node registers with it, and another is revoked there', async () => {
  const { page } = b;
  let answer = '5';
  page.on('dialog', (dlg) => void (dlg.type() === 'prompt' ? dlg.accept(answer) : dlg.accept()));
  await page.goto(d.url + '/#/nodes');
  await page.getByRole('button', { name: 'New registration token' }).click();
  const text = page.locator('.reg-token-made code.reg-token-text');
  await waitText(text, /^nrt_[0-9a-z]{26}\.[A-Za-z0-9_-]{43}$/, 'the token shown once');
  const token = (await text.innerText()).trim();
  const id = token.split('.')[0];
  const row = page.locator(`tr[data-token="${id}"]`);
  await waitAttr(row, 'data-state', 'active', 'listed, active');
  const listed = (await api(d.url, 'GET', '/api/nodes/registration-tokens')).data.registrationTokens.find((t) => t.id === id);
  assert.equal(Date.parse(listed.expiresAt) - Date.parse(listed.createdAt), 5 * 60000);
  // a real node trades it
  const node = await startNode(d.url, { registration: token, name: 'uibox', env: { PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin` } });
  try {
    await waitAttr(page.locator('tr[data-node="uibox"]'), 'data-state', 'connected', 'uibox on the page');
    await page.reload();
    await waitAttr(page.locator(`tr[data-token="${id}"]`), 'data-state', 'used', 'the token used');
    // another one, revoked from the page
    answer = '10';
    await page.getByRole('button', { name: 'New registration token' }).click();
    await until(async () => (await text.innerText()).trim() !== token, 'a second token shown');
    const id2 = (await text.innerText()).trim().split('.')[0];
    const row2 = page.locator(`tr[data-token="${id2}"]`);
    await row2.getByRole('button', { name: 'Revoke' }).click();
    await waitAttr(row2, 'data-state', 'revoked', 'revoked on the page');
    const t2 = (await api(d.url, 'GET', '/api/nodes/registration-tokens')).data.registrationTokens.find((t) => t.id === id2);
    assert.equal(t2.state, 'revoked');
  } finally {
    await node.cleanup();
  }
});
