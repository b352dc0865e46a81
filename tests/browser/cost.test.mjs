// SPDX-License-Identifier: MIT
// Cost and attention (issue #14) against the real daemon: an agent's cost
// shows in its sidebar row and moves live when a run ends; Analytics has
// usage by agent and by model with today first and a period switch; the
// chime (off by default, a Settings switch kept by this browser) sounds
// once as an agent starts waiting. An agent's one-line summary (issue #76)
// shows in its sidebar row, the Agents page and its header, live.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, makeRepo, shot, until } from './lib/harness.mjs';
import { session, waitText } from './lib/session.mjs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const mockAnthropic = require('../fixtures/mock-anthropic.js');

let d;
let b;

session((s) => ({ d, b } = s));

test('cost per agent in the sidebar, live; usage by agent and by model in Analytics', async () => {
  const { page } = b;
  const ws = (await api(d.url, 'POST', '/api/workspaces', { path: makeRepo() })).data;
  const wt = ws.worktrees[0].id;
  const mk = async (name) => {
    const r = await api(d.url, 'POST', '/api/agents', { worktreeId: wt, name, executor: 'command', command: ['true'] });
    assert.equal(r.status, 201, JSON.stringify(r.data));
    return r.data.id;
  };
  const spender = await mk('spender');
  const saver = await mk('saver');
  // A run whose cost is known (the test route stores it as a run row).
  let r = await api(d.url, 'POST', '/test/runs', { agentId: spender, status: 'succeeded', durationMs: 10, inputTokens: 1200, outputTokens: 300, costUsd: 0.42 });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  // One model request in today's usage table.
  r = await api(d.url, 'POST', '/api/usage', { model: 'claude-test-model', inputTokens: 500, outputTokens: 100, costUsd: 0.3 });
  assert.equal(r.status, 201, JSON.stringify(r.data));

  // The page has been open since the login, before these rows existed, and
  // a stored run publishes nothing (only a real run's end does): load it
  // anew so the sidebar starts from the stored totals. Without the reload
  // the cost showed only when the tree's reload after the agents' creation
  // happened to come after the run's commit.
  await page.goto(`${d.url}/#/agents`);
  await page.reload();
  const row = page.locator('.agent-link', { hasText: 'spender' });
  await row.waitFor();
  await until(async () => (await row.locator('.agent-cost').innerText()) === '$0.42', 'the cost in the sidebar row');
  assert.equal(await page.locator('.agent-link', { hasText: 'saver' }).locator('.agent-cost').count(), 0);
  assert.match(await row.locator('.agent-cost').getAttribute('title'), /1,500 tokens/);

  // Live: another stored run, then a real run of the agent ends: run_ended
  // brings the new total without a reload.
  r = await api(d.url, 'POST', '/test/runs', { agentId: spender, status: 'succeeded', durationMs: 10, costUsd: 1.08 });
  assert.equal(r.status, 201);
  assert.equal((await api(d.url, 'POST', `/api/agents/${spender}/start`, {})).status, 200);
  await until(async () => (await row.locator('.agent-cost').innerText()) === '$1.50', 'the cost after the run ended');
  await shot(page, 'cost-sidebar');
  // the Agents page has the same total, with the tokens
  const listRow = page.locator('.page table tbody tr', { hasText: 'spender' });
  await waitText(listRow, /1,500\s+\$1\.50/, 'the Agents page row with the new total');
  // and the grid's tile
  await page.goto(`${d.url}/#/grid`);
  const tile = page.locator('.tile', { hasText: 'spender' });
  await tile.waitFor();
  await waitText(tile.locator('.agent-cost'), /^\$1\.50$/, "the grid tile's cost");

  await page.goto(`${d.url}/#/analytics`);
  const region = page.getByRole('region', { name: 'Usage by agent and model' });
  await region.waitFor();
  assert.equal(await region.getByRole('tab', { name: 'Today' }).getAttribute('aria-selected'), 'true');
  const agentRow = region.locator('table.usage-agents tbody tr', { hasText: 'spender' });
  await waitText(agentRow, /spender\s+3\s+1,500\s+\$1\.50/, "spender's usage today");
  // the costliest first; an agent without runs today is not listed
  assert.match(await region.locator('table.usage-agents tbody tr').first().innerText(), /spender/);
  const saverRow = region.locator('table.usage-agents tbody tr', { hasText: 'saver' });
  assert.equal(await saverRow.count(), 0);
  const modelRow = region.locator('table.usage-models tbody tr', { hasText: 'claude-test-model' });
  await waitText(modelRow, /claude-test-model\s+1\s+600\s+\$0\.3000/, "the model's usage today");
  await region.getByRole('tab', { name: 'This month' }).click();
  await until(async () => (await region.getByRole('tab', { name: 'This month' }).getAttribute('aria-selected')) === 'true', 'the month tab');
  await region.locator('table.usage-agents tbody tr', { hasText: 'spender' }).waitFor();
  await region.locator('table.usage-models tbody tr', { hasText: 'claude-test-model' }).waitFor();
  await region.scrollIntoViewIfNeeded();
  await shot(page, 'cost-analytics');
});

test('the chime: off by default, on from Settings, once as an agent starts waiting', async () => {
  const { page } = b;
  const ws = (await api(d.url, 'POST', '/api/workspaces', { path: makeRepo() })).data;
  const r = await api(d.url, 'POST', '/api/agents', { worktreeId: ws.worktrees[0].id, name: 'asker', executor: 'command', command: ['true'] });
  const id = r.data.id;
  await page.goto(`${d.url}/#/settings`);
  const sw = page.getByRole('checkbox', { name: /Sound when an agent waits/ });
  await sw.waitFor();
  assert.equal(await sw.isChecked(), false);
  const chimes = () => page.evaluate(() => Number(document.documentElement.dataset.chimes || 0));
  // Off: an agent starting to wait makes no sound.
  await api(d.url, 'POST', '/test/agent-status', { agentId: id, status: 'running' });
  await api(d.url, 'POST', '/test/agent-status', { agentId: id, status: 'waiting' });
  // (a turn done is not in the title's count since issue #32: the page's model says it waits)
  await until(() => page.evaluate((x) => window.__agentd.model.value.agents[x]?.status === 'waiting', id), 'the page to hear the agent waits');
  assert.equal(await chimes(), 0);
  // On: the switch plays a sample, then each start of waiting one chime.
  await sw.check();
  assert.equal(await page.evaluate(() => localStorage.getItem('agentd.sound')), 'on');
  assert.equal(await chimes(), 1);
  await api(d.url, 'POST', '/test/agent-status', { agentId: id, status: 'running' });
  await api(d.url, 'POST', '/test/agent-status', { agentId: id, status: 'waiting' });
  await until(async () => (await chimes()) === 2, 'the chime');
  // It survives a reload (this browser keeps it).
  await page.reload();
  await sw.waitFor();
  assert.equal(await sw.isChecked(), true);
  await sw.uncheck();
  assert.equal(await page.evaluate(() => localStorage.getItem('agentd.sound')), 'off');
});

test("an agent's one-line summary: in its sidebar row, on the Agents page and in its header, live", async () => {
  const { page } = b;
  const KEY = 'sk-ant-api03-browser-summary-0123456789';
  const LINE = 'Wrote the release notes; waiting for your review';
  const mock = await mockAnthropic.start({ direct: true, apiKey: KEY, rules: [{ match: '<transcript>', reply: { text: LINE } }] });
  try {
    assert.equal((await api(d.url, 'PUT', '/api/credentials/anthropic', { apiKey: KEY, baseUrl: mock.url })).status, 200);
    assert.equal((await api(d.url, 'PATCH', '/api/settings', { summary_model: 'claude-haiku-4-5' })).status, 200);
    const ws = (await api(d.url, 'POST', '/api/workspaces', { path: makeRepo() })).data;
    const r = await api(d.url, 'POST', '/api/agents', { worktreeId: ws.worktrees[0].id, name: 'notes writer', executor: 'command', command: ['true'] });
    assert.equal(r.status, 201, JSON.stringify(r.data));
    const { id, orgId } = r.data;
    await page.goto(`${d.url}/#/agents`);
    const side = page.locator('.agent-link', { hasText: 'notes writer' });
    await side.waitFor();
    assert.equal(await side.getByTestId('agent-summary').count(), 0, 'no line before a turn');
    // A turn: its transcript, then the agent waits (its agent_status).
    let m = await api(d.url, 'POST', `/api/agents/${id}/messages`, { role: 'user', content: 'write the release notes' });
    assert.equal(m.status, 201, JSON.stringify(m.data));
    m = await api(d.url, 'POST', `/api/agents/${id}/messages`, { role: 'assistant', content: 'Done, please review NOTES.md' });
    assert.equal(m.status, 201, JSON.stringify(m.data));
    const p = await api(d.url, 'POST', '/test/publish', {
      type: 'agent_status', topics: [`agent:${id}`, `org:${orgId}`],
      payload: { agentId: id, status: 'waiting', statusReason: { code: 'turn_ended', ref: m.data.id, text: 'turn ended', at: Date.now() } },
    });
    assert.equal(p.status, 200, JSON.stringify(p.data));
    // Live, without a reload: the sidebar row, the Agents page's row.
    await waitText(side.getByTestId('agent-summary'), new RegExp(LINE), 'the line in the sidebar row');
    const row = page.locator('.page table tbody tr', { hasText: 'notes writer' });
    await waitText(row.getByTestId('agent-summary'), new RegExp(LINE), 'the line on the Agents page');
    // drawn inside its row and its sidebar entry, not somewhere else on the page
    for (const [box, inner] of [
      [await row.boundingBox(), await row.getByTestId('agent-summary').boundingBox()],
      [await side.boundingBox(), await side.getByTestId('agent-summary').boundingBox()],
    ]) {
      assert.ok(inner.y >= box.y && inner.y + inner.height <= box.y + box.height + 1, JSON.stringify({ box, inner }));
      assert.ok(inner.x >= box.x && inner.width > 0, JSON.stringify({ box, inner }));
    }
    await shot(page, 'agent-summary-list');
    await page.goto(`${d.url}/#/agents/${id}`);
    await waitText(page.locator('.agent-head').getByTestId('agent-summary'), new RegExp(LINE), 'the line in the agent header');
    await page.goto(`${d.url}/#/grid`);
    await waitText(page.locator('.tile', { hasText: 'notes writer' }).getByTestId('agent-summary'), new RegExp(LINE), "the line on the agent's tile");
  } finally {
    await api(d.url, 'PATCH', '/api/settings', { summary_model: '' });
    await mock.close();
  }
});
