// SPDX-License-Identifier: MIT
// The Crews page in Chromium: stat cards, crews with their status colours
// kept live by /ws/mission, and a crew's agent graph kept live by
// /ws/graph: Start all runs two real command agents whose tool calls show
// as badges (a failure in red, with the only toast), and the cards count
// the runs once they end.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, daemon, launch, makeRepo, shot, until } from './lib/harness.mjs';
import { session } from './lib/session.mjs';

let d;
let b;

session((s) => ({ d, b } = s));

test('a crew started from its page: live graph badges, a failure toast, counted runs', async () => {
  const { page } = b;
  const crew = (await api(d.url, 'POST', '/api/crews', { name: 'Builders' })).data;
  const ws = (await api(d.url, 'POST', '/api/workspaces', { path: makeRepo() })).data;
  const wt = ws.worktrees[0].id;
  // Each agent waits a moment (so the page is watching), then runs one tool.
  const script = (tool, ok) => `setTimeout(() => {
    console.log(JSON.stringify({type:'tool_start', toolId:'${tool}', name:'${tool}'}));
    console.log(JSON.stringify({type:'tool_progress', toolId:'${tool}', progress:50, message:'half'}));
    setTimeout(() => console.log(JSON.stringify({type:'tool_end', toolId:'${tool}', durationMs:700, status:'${ok ? 'success' : 'error'}', exitCode:${ok ? 0 : 3}})), 700);
  }, 500);`;
  for (const [name, ok] of [['pytest', false], ['build', true]]) {
    const r = await api(d.url, 'POST', '/api/agents', { worktreeId: wt, name, crewId: crew.id, executor: 'command',
      command: [process.execPath, '-e', script(name, ok)] });
    assert.equal(r.status, 201, JSON.stringify(r.data));
  }
  await page.goto(`${d.url}/#/crews/${crew.id}`);
  await page.locator(`a[data-crew="${crew.id}"]`).waitFor();
  assert.equal(await page.locator(`a[data-crew="${crew.id}"] .crew-dot`).getAttribute('data-status'), 'offline');
  await page.locator('.crew-graph .live-dot[data-live="yes"]').waitFor();
  await page.locator('.page-head .live-dot[data-live="yes"]').first().waitFor();
  await page.locator('.stat-card[data-stat="Runs"]').waitFor();
  assert.equal(await page.locator('.graph .agent-node').count(), 2);
  await page.getByRole('button', { name: 'Start all' }).click();
  // Busy (yellow) while they run, from the mission channel.
  await until(async () => (await page.locator(`a[data-crew="${crew.id}"] .crew-dot`).getAttribute('data-status')) === 'busy', 'the crew to turn busy');
  await page.locator('.graph .tool[data-tool="pytest"][data-state="running"]').waitFor();
  await shot(page, 'crew-graph-running');
  await page.locator('.graph .tool[data-tool="pytest"][data-state="error"]').waitFor();
  await page.locator('.graph .tool[data-tool="build"][data-state="success"]').waitFor();
  const toasts = page.locator('.toasts');
  await toasts.getByText('pytest failed in 700 ms').waitFor();
  assert.equal(await toasts.getByText(/build (started|finished)|pytest started/).count(), 0, 'a toast for a tool that did not fail');
  // Both runs end: the crew goes offline and the cards count them.
  await until(async () => (await page.locator(`a[data-crew="${crew.id}"] .crew-dot`).getAttribute('data-status')) === 'offline', 'the crew to go offline');
  await until(async () => (await page.locator('.stat-card[data-stat="Runs"] .stat-value').innerText()).trim() === '2', 'two runs counted');
  await page.locator('section[aria-label="Recent runs"]').getByText('pytest').waitFor();
  await shot(page, 'crew-graph-done');
  assert.deepEqual(b.errors, []);
});

test('no crews: an empty state, not a broken page; a stats error says so', async () => {
  const other = await daemon.start({ needUrl: true });
  const b2 = await launch({ login: other.url });
  try {
    await b2.page.goto(`${other.url}/#/crews`);
    await b2.page.getByText('No crews yet').waitFor();
    await b2.page.locator('.stat-card[data-stat="Runs"] .stat-value').getByText('0').waitFor();
    assert.deepEqual(b2.errors, []);
  } finally {
    await b2.close();
    await other.cleanup();
  }
});
