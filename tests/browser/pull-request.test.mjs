// SPDX-License-Identifier: MIT
// A pull request from the Diff tab (issue #32), against a mock of the GitHub
// REST API: "Pull request…" pushes the branch to its remote (a local bare
// repository the owner's setting forge_hosts maps to the mock), asks for a
// token when none is stored, opens the pull request, and shows its state and
// its checks; the token is nowhere on the page.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { apiOk, capabilities, git, makeRepo, shot, tmpDir } from './lib/harness.mjs';
import { session, waitText } from './lib/session.mjs';

const github = createRequire(import.meta.url)('../fixtures/mock-github.js');
const TOKEN = 'ghp_BrowserToken0123456789';

let d;
let caps;
let b;
session((s) => ({ d, b } = s), { launchIf: async (x) => (caps = await capabilities(x.url)).store });

const ok = (method, p, body) => apiOk(d.url, method, p, body);

test('Pull request… opens one on the forge, asking for the token once, and shows its checks', async (t) => {
  if (!caps.store) return t.skip('the store REST routes are not in this build');
  const { page } = b;
  const m = await github.start({ token: TOKEN, repos: ['acme/widgets'] });
  t.after(() => m.close());
  const forge = fs.realpathSync(tmpDir('agentd-forge-'));
  const bare = path.join(forge, 'acme', 'widgets.git');
  fs.mkdirSync(path.dirname(bare), { recursive: true });
  git(forge, 'init', '-q', '--bare', bare);
  const repo = makeRepo();
  git(repo, 'remote', 'add', 'origin', bare);
  await ok('PATCH', '/api/settings', { forge_hosts: { [forge + '/']: { kind: 'github', apiBase: m.url } } });
  const ws = await ok('POST', '/api/workspaces', { path: repo, name: 'pr-repo' });
  const wt = await ok('POST', '/api/worktrees', { workspaceId: ws.id, name: 'widget', createBranch: true });
  fs.writeFileSync(path.join(wt.path, 'widget.js'), 'export const widget = 1;\n');
  await ok('POST', `/api/worktrees/${wt.id}/commit`, { message: 'add the widget', all: true });
  const a = await ok('POST', '/api/agents', { worktreeId: wt.id, name: 'Widgeteer', executor: 'command', command: ['true'] });

  await page.goto(`${d.url}/#/agents/${(a.agent || a).id}`);
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
