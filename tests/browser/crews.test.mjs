// SPDX-License-Identifier: MIT
// The Crews page in Chromium: stat cards, crews with their status colours
// kept live by /ws/mission, and a crew's agent graph kept live by
// /ws/graph: Start all runs two real command agents whose tool calls show
// as badges (a failure in red, with the only toast), and the cards count
// the runs once they end.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, daemon, downloaded, launch, makeRepo, shot, until } from './lib/harness.mjs';
import { session, waitText } from './lib/session.mjs';

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
  // each agent named apart from its tool: the toast names both
  for (const [name, agentName, ok] of [
    ['pytest', 'Tess', false],
    ['build', 'Bo', true],
  ]) {
    const r = await api(d.url, 'POST', '/api/agents', {
      worktreeId: wt,
      name: agentName,
      crewId: crew.id,
      executor: 'command',
      command: [process.execPath, '-e', script(name, ok)],
    });
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
  const failed = toasts.locator('.toast', {
    hasText: 'pytest failed in 700 ms',
  });
  await failed.waitFor();
  await failed.getByText('Tess').waitFor(); // the tool and the agent that ran it
  assert.equal(await toasts.getByText(/build (started|finished)|pytest started/).count(), 0, 'a toast for a tool that did not fail');
  // Both runs end: the crew goes offline and the cards count them.
  await until(async () => (await page.locator(`a[data-crew="${crew.id}"] .crew-dot`).getAttribute('data-status')) === 'offline', 'the crew to go offline');
  await until(async () => (await page.locator('.stat-card[data-stat="Runs"] .stat-value').innerText()).trim() === '2', 'two runs counted');
  await page.locator('section[aria-label="Recent runs"]').getByText('Tess').first().waitFor();
  await shot(page, 'crew-graph-done');
  assert.deepEqual(b.errors, []);
});

test("credits, agent time and the exports on the Crews page (the seed's token and rental cards, CSV/PDF)", async () => {
  const { page } = b;
  // a grant made elsewhere (the CLI, another tab) is no event: the page reads the ledger
  // when it opens and every 30 s
  assert.equal((await api(d.url, 'POST', '/api/orgs/org_default/credits', { amount: 20, note: 'cli' })).status, 201);
  await page.goto(`${d.url}/#/crews`);
  await page.reload();
  const ledger = page.getByRole('region', { name: 'Credits and agent time' });
  await waitText(ledger.locator('.stat-card[data-stat="Balance"] .stat-value'), /^\$20\.00$/, 'the CLI\'s grant');
  // the owner grants here: a bad amount is refused before it is sent, a good one shows at once
  await ledger.getByRole('button', { name: 'Grant credits…' }).click();
  const grant = ledger.getByRole('form', { name: 'Grant credits' });
  await grant.locator('input[name=grant-amount]').fill('0');
  await grant.getByRole('button', { name: 'Grant' }).click();
  await grant.getByRole('alert').waitFor();
  await grant.locator('input[name=grant-amount]').fill('30');
  await grant.locator('input[name=grant-note]').fill('starter');
  await grant.getByRole('button', { name: 'Grant' }).click();
  await grant.waitFor({ state: 'detached' });
  await waitText(ledger.locator('.stat-card[data-stat="Balance"] .stat-value'), /^\$50\.00$/, 'the granted balance');
  await waitText(ledger.locator('.stat-card[data-stat="Earned"]'), /\$50\.00[\s\S]*2 grants\b/, 'two grants earned');
  await waitText(ledger.locator('.stat-card[data-stat="Pending"] .stat-value'), /^\$0\.00$/, 'nothing pending');
  // the two runs of the crew above, on the control plane
  await waitText(ledger.locator('.stat-card[data-stat="Agent time"]'), /2 runs in 30 days; control-plane/, 'the agent time by node');
  // the exports download with this browser's session
  const [csv] = await Promise.all([page.waitForEvent('download'), ledger.locator('a[data-export="tokens-csv"]').click()]);
  assert.match(csv.suggestedFilename(), /^agentd-tokens-\d{4}-\d\d-\d\d\.csv$/);
  const text = (await downloaded(csv)).toString('utf8');
  assert.match(text, /"earned","50"/);
  const [pdf] = await Promise.all([page.waitForEvent('download'), ledger.locator('a[data-export="rentals-pdf"]').click()]);
  assert.equal((await downloaded(pdf)).subarray(0, 8).toString(), '%PDF-1.4');
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
