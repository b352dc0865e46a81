// SPDX-License-Identifier: MIT
// The operator's tools on the Nodes page (issue #77): a real `agentd node`
// joins; Cordon makes its row read cordoned (and placement refuses it),
// Uncordon undoes it; Capacity sets its maxRuns; a start queued while it is
// cordoned shows in the Queue table and Cancel takes it out, as does one made
// by New task's "any node that fits, waiting for room"; Drain makes an
// idle node read drained. Every click is checked against the API.
import assert from 'node:assert/strict';
import path from 'node:path';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { api, makeRepo, until } from './lib/harness.mjs';
import { session, waitAttr, waitText } from './lib/session.mjs';

const require = createRequire(import.meta.url);
const { startNode } = require('../e2e/lib/nodes.js');

let d;
let b;
let node;
session((s) => ({ d, b } = s));

test('the Nodes page drains, cordons, uncordons, sets the capacity and cancels a queued start', async () => {
  const repo = makeRepo();
  const ws = await api(d.url, 'POST', '/api/workspaces', { path: repo, name: 'ops' });
  assert.equal(ws.status, 201, JSON.stringify(ws.data));
  const t = await api(d.url, 'POST', '/api/tokens', { name: 'box1', scope: 'node' });
  node = await startNode(d.url, { token: t.data.token, name: 'box1', env: { PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin` } });
  try {
    const nodeOf = async () => (await api(d.url, 'GET', '/api/nodes')).data.nodes.find((n) => n.name === 'box1');
    const { page } = b;
    page.on('dialog', (dlg) => void (dlg.type() === 'prompt' ? dlg.accept('3') : dlg.accept()));
    await page.goto(d.url + '/#/nodes');
    const row = page.locator('tr[data-node="box1"]');
    await waitAttr(row, 'data-state', 'connected', 'box1 connected');
    await waitAttr(row, 'data-schedule', 'ready', 'box1 ready');

    await row.getByRole('button', { name: 'Cordon' }).click();
    await waitAttr(row, 'data-schedule', 'cordoned', 'box1 cordoned on the page');
    assert.equal((await nodeOf()).cordoned, true);

    // a start queued meanwhile shows in the queue, and Cancel takes it out
    const ag = await api(d.url, 'POST', '/api/agents', { worktreeId: ws.data.worktrees[0].id, name: 'Waiting one', executor: 'command', command: ['true'], node: 'box1' });
    assert.equal(ag.status, 201, JSON.stringify(ag.data));
    const q = await api(d.url, 'POST', `/api/agents/${ag.data.id}/start`, { queue: true });
    assert.equal(q.status, 202, JSON.stringify(q.data));
    const item = page.locator(`table.nodes-queue tr[data-agent="${ag.data.id}"]`);
    await waitText(item, /Waiting one[\s\S]*it is cordoned/, 'the queued start listed with why');
    await waitText(row.locator('.node-queued'), /^1$/, 'the node counts it');
    await item.getByRole('button', { name: 'Cancel' }).click();
    await page.locator('.nodes-queue-empty').waitFor();
    assert.deepEqual((await api(d.url, 'GET', '/api/nodes/queue')).data.queue, []);

    // New task, "any node that fits, waiting for room": created, and queued
    await page.goto(d.url + '/#/agents');
    await page.getByRole('button', { name: '✚ New task' }).click();
    const dlg = page.getByRole('dialog', { name: 'New task' });
    await dlg.locator('textarea[name=prompt]').fill('wait for room');
    await dlg.locator('select[name=executor]').selectOption('command');
    await dlg.locator('input[name=command]').fill('true');
    await until(async () => (await dlg.locator('select[name=node] option').allInnerTexts()).some((x) => /box1 \(connected, cordoned\)/.test(x)), 'box1 offered, cordoned');
    await dlg.locator('select[name=node]').selectOption('*q');
    await dlg.getByRole('button', { name: 'Create and start' }).click();
    await page.waitForURL(/#\/agents\/ag_/);
    const queuedId = decodeURIComponent(page.url().split('#/agents/')[1]);
    const a = (await api(d.url, 'GET', `/api/agents/${queuedId}`)).data;
    assert.deepEqual(a.state.placement, { queue: true });
    assert.equal(a.statusReason?.code, 'queued', JSON.stringify(a.statusReason));
    await page.goto(d.url + '/#/nodes');
    const uiItem = page.locator(`table.nodes-queue tr[data-agent="${queuedId}"]`);
    await waitText(uiItem, /box1: it is cordoned/, 'the dialog\'s start in the queue');
    await uiItem.getByRole('button', { name: 'Cancel' }).click();
    await page.locator('.nodes-queue-empty').waitFor();

    await row.getByRole('button', { name: 'Uncordon' }).click();
    await waitAttr(row, 'data-schedule', 'ready', 'box1 ready again');
    assert.equal((await nodeOf()).cordoned, false);

    await row.getByRole('button', { name: 'Capacity' }).click();
    await waitText(row.locator('.node-runs'), /^0 \/ 3$/, 'the capacity shown');
    assert.equal((await nodeOf()).maxRuns, 3);

    await row.getByRole('button', { name: 'Drain' }).click();
    await waitAttr(row, 'data-schedule', 'drained', 'an idle node drained at once');
    const n = await nodeOf();
    assert.equal(n.draining, true);
    assert.equal(n.drained, true);
    await until(async () => (await row.getByRole('button', { name: 'Drain' }).count()) === 0, 'no Drain button on a draining node');
  } finally {
    await node.cleanup();
  }
});
