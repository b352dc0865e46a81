// SPDX-License-Identifier: MIT
// A node's recent events on the Nodes page (issue #77, docs/nodes.md "A
// node's history"): a real `agentd node` joins; its Events button opens its
// history under its row (linked); a cordon made through the API shows up
// there while it is open, newest first; the button closes it again.
import assert from 'node:assert/strict';
import path from 'node:path';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { api } from './lib/harness.mjs';
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
