// SPDX-License-Identifier: MIT
// A pull request's feedback loop from the Diff tab (issue #75), against the
// GitHub mock: the toggle turns the loop on for the worktree's agent, the
// failed check goes to the agent and shows in the loop's history with its
// turn and run, and the loop shows it has ended once the check passes; the
// token is nowhere on the page.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forgeWorktree } from './lib/forge.mjs';
import { apiOk, capabilities, shot } from './lib/harness.mjs';
import { session, waitText } from './lib/session.mjs';

const TOKEN = 'ghp_BrowserL00pToken0123456789';

let d;
let caps;
let b;
session((s) => ({ d, b } = s), {
  daemon: { env: { AGENTD_TEST_PR_LOOP_MS: '200' } },
  launchIf: async (x) => (caps = await capabilities(x.url)).store,
});

const ok = (method, p, body) => apiOk(d.url, method, p, body);

test('the feedback loop panel turns the loop on, lists what it sent and shows its end', async (t) => {
  if (!caps.store) return t.skip('the store REST routes are not in this build');
  const { page } = b;
  const { m, wt, agentId } = await forgeWorktree(t, d.url, {
    token: TOKEN, mockToken: TOKEN, name: 'gadget', agent: 'Gadgeteer', repoName: 'loop-repo',
  });
  await ok('POST', `/api/worktrees/${wt.id}/pr`, { title: 'Add the gadget' });
  const run = m.addCheckRun(m.pulls[0].sha, { name: 'unit tests', conclusion: 'failure', log: 'ok 1\nnot ok 2 - gadget is 2\n', summary: '1 failed' });

  await page.goto(`${d.url}/#/agents/${agentId}`);
  await page.getByRole('tab', { name: 'Diff' }).click();
  const panel = page.getByRole('region', { name: 'Feedback loop' });
  const toggle = panel.getByRole('checkbox', { name: /Send failed checks and review comments/ });
  await toggle.waitFor();
  assert.equal(await toggle.isChecked(), false);
  await panel.getByRole('spinbutton', { name: 'Turn limit' }).fill('4');
  await toggle.check();

  // The failed check goes out: the history names it, its turn and its run.
  const items = panel.getByRole('list', { name: 'What the loop sent' });
  await waitText(items, /check\s+unit tests · turn 1 · run_\S+ · answered/, 'the check in the history');
  await waitText(panel, /turn 1 of 4/, 'the turn counter');
  assert.equal(await items.getByRole('link', { name: 'unit tests' }).getAttribute('href'), run.html_url || `${m.url}/acme/widgets/actions/runs/${run.id + 1}/job/${run.id}`);
  await items.getByText('The message').click();
  await waitText(items.locator('pre'), /not ok 2 - gadget is 2/, 'the message sent, with the log');
  await shot(page, 'pr-loop-history');

  // The check passes: the loop says it has ended, and why; the toggle is off.
  m.setCheckRun(run.id, { conclusion: 'success' });
  await waitText(panel, /checks pass · turn 1 of 4/, 'the loop to end');
  await waitText(panel, /the pull request's checks pass/, 'why it ended');
  assert.equal(await toggle.isChecked(), false);
  const loop = await ok('GET', `/api/worktrees/${wt.id}/pr/loop`);
  assert.equal(loop.status, 'passed');
  assert.ok(!(await page.content()).includes(TOKEN), 'the token is not on the page');
});
