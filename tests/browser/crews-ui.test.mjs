// SPDX-License-Identifier: MIT
// Crews made in the dashboard (issue #32): a crew is created and agents are
// added and removed on its page; the list's agent count is the one the rest
// of the app shows (live, archived agents left out); the Tokens card counts
// the runs still running; an agent added while it runs gets its tool badges
// on the crew's graph at once. At desktop and phone widths.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, makeRepo, shot, until } from './lib/harness.mjs';
import { session, waitText } from './lib/session.mjs';

let d;
let b;
session((s) => ({ d, b } = s));

let wt;
async function agent(name, command = ['true']) {
  if (!wt) wt = (await api(d.url, 'POST', '/api/workspaces', { path: makeRepo() })).data.worktrees[0].id;
  const r = await api(d.url, 'POST', '/api/agents', { worktreeId: wt, name, executor: 'command', command });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  return r.data.id;
}

for (const [w, h] of [
  [1280, 800],
  [390, 844],
]) {
  test(`${w}px: a crew created, agents added and removed, the count live`, async () => {
    const { page } = b;
    await page.setViewportSize({ width: w, height: h });
    const one = await agent(`one-${w}`);
    const two = await agent(`two-${w}`);
    await page.goto(`${d.url}/#/crews`);
    const name = `Crew ${w}`;
    await page.getByLabel('Crew name').fill(name);
    await page.getByRole('button', { name: 'Create' }).click();
    const link = page.locator('.crew-list a', { hasText: name });
    await link.waitFor();
    await page.waitForFunction(() => /^#\/crews\/crew_/.test(location.hash));
    const crewId = (await page.evaluate(() => location.hash)).split('/')[2];
    await waitText(link.locator('.crew-count'), /0 agents/, 'an empty crew');
    for (const id of [one, two]) {
      await page.getByLabel('Agent to add').selectOption(id);
      await page.getByRole('button', { name: 'Add to crew' }).click();
      await page.locator(`.crew-member-list li[data-agent="${id}"]`).waitFor();
    }
    await waitText(link.locator('.crew-count'), /2 agents/, 'two agents');
    assert.equal((await api(d.url, 'GET', `/api/agents/${one}`)).data.crewId, crewId);
    await shot(page, `crews-ui-${w}`);
    await page.getByRole('button', { name: `Remove two-${w} from ${name}` }).click();
    await waitText(link.locator('.crew-count'), /1 agent\b/, 'one agent after a removal');
    assert.equal((await api(d.url, 'GET', `/api/agents/${two}`)).data.crewId ?? null, null);
    // Archived elsewhere: the count follows at once, as the sidebar does.
    assert.ok((await api(d.url, 'DELETE', `/api/agents/${one}`)).status < 300);
    await waitText(link.locator('.crew-count'), /0 agents/, 'the archived agent left out');
  });
}

test('the Tokens card counts runs still running; an agent added mid-run gets its badges', async () => {
  const { page } = b;
  await page.setViewportSize({ width: 1280, height: 800 });
  const crew = (await api(d.url, 'POST', '/api/crews', { name: 'Live ones' })).data;
  // A run still running with 12,345 tokens so far.
  const idle = await agent('spender');
  assert.equal((await api(d.url, 'POST', '/test/runs', { agentId: idle, status: 'running', inputTokens: 12000, outputTokens: 345 })).status, 201);
  await page.goto(`${d.url}/#/crews/${crew.id}`);
  const tokens = page.locator('.stat-card[data-stat="Tokens"]');
  await waitText(tokens, /running now included/, 'the live run in the Tokens card');
  const before = (await api(d.url, 'GET', '/api/dashboard/stats?range=7d')).data.totalTokens;
  assert.ok(before >= 12345, String(before));
  // A tool call every 200 ms, outside any crew until it is added.
  const script = `let i = 0; const t = setInterval(() => {
    console.log(JSON.stringify({ type: 'tool_start', toolId: 'p' + i, name: 'probe' }));
    console.log(JSON.stringify({ type: 'tool_end', toolId: 'p' + i, durationMs: 5, status: 'success' }));
    if (++i > 300) clearInterval(t);
  }, 200);`;
  const runner = await agent('late', [process.execPath, '-e', script]);
  assert.equal((await api(d.url, 'POST', `/api/agents/${runner}/start`, {})).status, 200);
  await until(async () => (await api(d.url, 'GET', `/api/agents/${runner}`)).data.status === 'running', 'the agent to run');
  await page.locator('.crew-graph .live-dot[data-live="yes"]').waitFor();
  await page.getByLabel('Agent to add').selectOption(runner);
  await page.getByRole('button', { name: 'Add to crew' }).click();
  await page.locator(`.graph .agent-node[data-agent="${runner}"] .tool`).first().waitFor();
  await shot(page, 'crews-ui-late-badges');
  await api(d.url, 'POST', `/api/agents/${runner}/stop?force=true&wait=true`, {});
  assert.deepEqual(b.errors, []);
});
