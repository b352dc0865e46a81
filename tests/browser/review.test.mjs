// SPDX-License-Identifier: MIT
// Review and merge in the dashboard against the real daemon: the Diff tab's
// "against base" view lists the worktree's commits, ahead/behind and the
// files with their stats; Merge (squash) lands the work on main; a merge
// that conflicts shows the conflicting files and changes nothing.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { apiOk, capabilities, git, makeRepo, shot, until } from './lib/harness.mjs';
import { session } from './lib/session.mjs';

let d;
let caps;
let b;
session((s) => ({ d, b } = s), { stop: true, launchIf: async (x) => (caps = await capabilities(x.url)).store });

const ok = (method, p, body) => apiOk(d.url, method, p, body);

test('the Diff tab reviews against the base and merges; a conflict lists its files', async (t) => {
  if (!caps.store) return t.skip('the store REST routes are not in this build');
  const { page } = b;
  const repo = makeRepo();
  const ws = await ok('POST', '/api/workspaces', { path: repo, name: 'review-repo' });
  const wt = await ok('POST', '/api/worktrees', { workspaceId: ws.id, name: 'feat', createBranch: true });
  fs.writeFileSync(path.join(wt.path, 'feature.txt'), 'one\ntwo\n');
  await ok('POST', `/api/worktrees/${wt.id}/commit`, { message: 'add the feature', all: true });
  const agent = await ok('POST', '/api/agents', { worktreeId: wt.id, name: 'Reviewer' });
  const agentId = (agent.agent || agent).id;

  await page.goto(`${d.url}/#/agents/${agentId}`);
  await page.getByRole('tab', { name: 'Diff' }).click();
  await page.locator('.state-empty', { hasText: 'No changes' }).waitFor(); // committed: no working changes
  await page.getByRole('tab', { name: 'Against base (main)' }).click();
  await page.locator('.review-commits li', { hasText: 'add the feature' }).waitFor();
  assert.match(await page.locator('.review-counts').innerText(), /1 ahead, 0 behind main/);
  const file = page.locator('.diff-file', { hasText: 'feature.txt' });
  await file.waitFor();
  assert.match(await file.innerText(), /\+2[\s\S]*−0/);
  await file.click();
  await page.locator('.diff-table .add', { hasText: 'two' }).waitFor();
  await shot(page, 'diff-against-base');

  await page.getByRole('button', { name: 'Merge…' }).click();
  const dlg = page.getByRole('dialog', { name: 'Merge into main' });
  await dlg.getByLabel(/Squash/).check();
  await dlg.getByRole('button', { name: 'Merge', exact: true }).click();
  await dlg.waitFor({ state: 'detached' });
  await page.locator('.toast', { hasText: "Merged feat into main (squash)" }).waitFor();
  await until(() => fs.existsSync(path.join(repo, 'feature.txt')), 'the merge on disk');
  assert.equal(fs.readFileSync(path.join(repo, 'feature.txt'), 'utf8'), 'one\ntwo\n');
  assert.equal(git(repo, 'log', '-1', '--format=%s').trim(), "Squashed branch 'feat' into main");

  // Both sides change feature.txt: the merge refuses with the file listed.
  fs.writeFileSync(path.join(wt.path, 'feature.txt'), 'ours\n');
  await ok('POST', `/api/worktrees/${wt.id}/commit`, { message: 'ours', all: true });
  fs.writeFileSync(path.join(repo, 'feature.txt'), 'theirs\n');
  git(repo, 'commit', '-qam', 'theirs');
  const mainTip = git(repo, 'rev-parse', 'HEAD').trim();
  await page.getByRole('button', { name: 'Merge…' }).click();
  await page.getByRole('dialog', { name: 'Merge into main' }).getByRole('button', { name: 'Merge', exact: true }).click();
  const refusal = page.locator('.diff-refusal');
  await refusal.waitFor();
  assert.match(await refusal.innerText(), /conflicts — nothing was changed/);
  assert.match(await refusal.locator('.refusal-files').innerText(), /feature\.txt/);
  assert.equal(git(repo, 'rev-parse', 'HEAD').trim(), mainTip);
  await shot(page, 'diff-merge-conflict');

  // A worktree made in the dialog records the base branch it was given.
  await page.getByRole('button', { name: 'New worktree in review-repo' }).click();
  const nw = page.getByRole('dialog', { name: 'New worktree' });
  await nw.locator('input[name=name]').fill('from-ui');
  await nw.locator('input[name=base]').fill('feat');
  await nw.getByRole('button', { name: 'Create worktree' }).click();
  await nw.waitFor({ state: 'detached' });
  const made = (await ok('GET', '/api/worktrees')).worktrees.find((w) => w.name === 'from-ui');
  assert.equal(made.baseBranch, 'feat');
  assert.equal(git(made.path, 'rev-parse', 'HEAD').trim(), git(repo, 'rev-parse', 'feat').trim());
});
