// SPDX-License-Identifier: MIT
// A pull request from the Diff tab (issue #32), against a mock of the GitHub
// REST API: "Pull request…" pushes the branch to its remote (a local bare
// repository the owner's setting forge_hosts maps to the mock), asks for a
// token when none is stored, opens the pull request, and shows its state and
// its checks; the token is nowhere on the page.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forgeWorktree } from './lib/forge.mjs';
import { capabilities, git, shot } from './lib/harness.mjs';
import { session, waitText } from './lib/session.mjs';

const TOKEN = 'ghp_BrowserToken0123456789';

let d;
let caps;
let b;
session((s) => ({ d, b } = s), { launchIf: async (x) => (caps = await capabilities(x.url)).store });

test('Pull request… opens one on the forge, asking for the token once, and shows its checks', async (t) => {
  if (!caps.store) return t.skip('the store REST routes are not in this build');
  const { page } = b;
  const { m, bare, wt, agentId } = await forgeWorktree(t, d.url, {
    mockToken: TOKEN, name: 'widget', agent: 'Widgeteer', repoName: 'pr-repo',
  });

  await page.goto(`${d.url}/#/agents/${agentId}`);
  await page.getByRole('tab', { name: 'Diff' }).click();
  await page.getByRole('button', { name: 'Pull request…' }).click();
  const dlg = page.getByRole('dialog', { name: 'Open a pull request' });
  await dlg.locator('input[name=title]').fill('Add the widget');
  await dlg.locator('textarea[name=body]').fill('One widget.');
  await dlg.getByRole('button', { name: 'Open pull request' }).click();
  // No token yet: asked for, stored, and the pull request tried again.
  const tok = page.getByRole('dialog', { name: 'A GitHub token' });
  await tok.locator('input[name=token]').fill(TOKEN);
  await tok.getByRole('button', { name: 'Store and open the pull request' }).click();
  await page.locator('.toast', { hasText: 'Opened #1' }).waitFor();
  const line = page.getByRole('status', { name: 'Pull request' });
  await waitText(line, /open\s+#1 Add the widget/, 'the pull request line');
  assert.equal(await line.getByRole('link', { name: '#1 Add the widget' }).getAttribute('href'), `${m.url}/acme/widgets/pull/1`);
  assert.equal(git(bare, 'rev-parse', 'widget'), git(wt.path, 'rev-parse', 'HEAD'));
  assert.deepEqual(m.requests[0].body, { title: 'Add the widget', body: 'One widget.', head: 'widget', base: 'main', draft: false });

  // Its checks, read from the forge when the page opens.
  const sha = m.pulls[0].sha;
  m.statuses[sha] = [{ context: 'ci/build', state: 'failure', target_url: `${m.url}/ci/7` }];
  m.checkRuns[sha] = [{ name: 'lint', status: 'completed', conclusion: 'success', html_url: null }];
  await page.reload();
  await page.getByRole('tab', { name: 'Diff' }).click();
  await waitText(line, /checks failed[\s\S]*ci\/build: failure[\s\S]*lint: success/, 'the checks');
  await shot(page, 'pull-request-checks');
  assert.ok(!(await page.content()).includes(TOKEN), 'the token is not on the page');
});
