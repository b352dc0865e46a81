// SPDX-License-Identifier: MIT
// The review loop in the Diff tab (issue #32): the first file is open, with
// line numbers and syntax colours, unified or side by side (the choice
// remembered across a reload); new and untracked files are marked; a comment
// written on a line goes to the agent as one message (file:line, the quoted
// line, the comment); a merge that conflicts offers to ask the agent to fix
// it, naming the files; a worktree with no base branch offers no "against
// base", Merge, Rebase or Push.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { apiOk, capabilities, git, makeRepo, shot, until } from './lib/harness.mjs';
import { session, waitText } from './lib/session.mjs';

let d;
let caps;
let b;
session((s) => ({ d, b } = s), { launchIf: async (x) => (caps = await capabilities(x.url)).store });

const ok = (method, p, body) => apiOk(d.url, method, p, body);

// A command agent that keeps running and takes messages on its stdin.
async function listeningAgent(worktreeId, name) {
  const a = await ok('POST', '/api/agents', { worktreeId, name, executor: 'command', command: [process.execPath, '-e', 'process.stdin.pipe(process.stdout)'] });
  const id = (a.agent || a).id;
  await ok('POST', `/api/agents/${id}/start`, {});
  await until(async () => (await ok('GET', `/api/agents/${id}`)).status === 'running', 'the agent to run');
  return id;
}

// The user message whose content matches re, once it is stored.
function sentMessage(id, re) {
  return until(async () => {
    const list = (await ok('GET', `/api/agents/${id}/messages?limit=50`)).messages || [];
    return list.find((m) => m.role === 'user' && re.test(m.content)) || null;
  }, `a message to the agent matching ${re}`);
}

test('the Diff tab: views, marks, comments sent to the agent, and the conflict fix request', async (t) => {
  if (!caps.store) return t.skip('the store REST routes are not in this build');
  const { page } = b;
  const repo = makeRepo();
  const ws = await ok('POST', '/api/workspaces', { path: repo, name: 'loop-repo' });
  const wt = await ok('POST', '/api/worktrees', { workspaceId: ws.id, name: 'loop', createBranch: true });
  fs.writeFileSync(path.join(wt.path, 'feature.ts'), 'export const answer = 42;\nconst greeting = "hello"; // hi\n');
  await ok('POST', `/api/worktrees/${wt.id}/commit`, { message: 'add the feature', all: true });
  fs.writeFileSync(path.join(wt.path, 'notes.txt'), 'untracked\n');
  const agentId = await listeningAgent(wt.id, 'Looper');

  await page.evaluate(() => localStorage.removeItem('agentd.diffLayout'));
  await page.goto(`${d.url}/#/agents/${agentId}`);
  await page.getByRole('tab', { name: 'Diff' }).click();
  // Working changes: the untracked file is marked, and open without a click.
  const notes = page.locator('.diff-file', { hasText: 'notes.txt' });
  await waitText(notes, /untracked/, 'notes.txt marked untracked');
  await waitText(page.locator('.diff-table'), /untracked/, 'the first file open');

  await page.getByRole('tab', { name: 'Against base (main)' }).click();
  const feat = page.locator('.diff-file', { hasText: 'feature.ts' });
  await waitText(feat, /new/, 'feature.ts marked new');
  assert.equal(await feat.getAttribute('aria-current'), 'true'); // the first file is open
  await page.getByLabel('Compare with').waitFor(); // the ref box is labelled
  const table = page.locator('.diff-table.unified');
  await table.locator('.tok-kw', { hasText: 'const' }).first().waitFor();
  await table.locator('.tok-str', { hasText: '"hello"' }).waitFor();
  await table.locator('.tok-num', { hasText: '42' }).waitFor();
  await table.locator('.tok-com', { hasText: '// hi' }).waitFor();
  await page.getByRole('button', { name: 'Comment on feature.ts:2' }).waitFor(); // line numbers

  // Side by side, remembered across a reload.
  await page.getByRole('button', { name: 'Side by side' }).click();
  await page.locator('.diff-table.split').waitFor();
  await page.reload();
  await page.getByRole('tab', { name: 'Diff' }).click();
  await page.getByRole('tab', { name: 'Against base (main)' }).click();
  await page.locator('.diff-table.split .tok-kw').first().waitFor();
  assert.equal(await page.getByRole('button', { name: 'Side by side' }).getAttribute('aria-pressed'), 'true');

  // A comment on line 2, then one on line 1: sent as one message.
  await page.getByRole('button', { name: 'Comment on feature.ts:2' }).click();
  await page.getByLabel('Comment', { exact: true }).fill('Say hello to the world.');
  await page.getByRole('button', { name: 'Add comment' }).click();
  await waitText(page.locator('.diff-comment'), /Say hello to the world\./, 'the comment under its line');
  // An unsent comment outlives a reload (this browser keeps it).
  await page.reload();
  await page.getByRole('tab', { name: 'Diff' }).click();
  await page.getByRole('tab', { name: 'Against base (main)' }).click();
  await waitText(page.locator('.diff-comment'), /Say hello to the world\./, 'the comment after a reload');
  await page.getByRole('button', { name: 'Comment on feature.ts:1' }).click();
  await page.getByLabel('Comment', { exact: true }).fill('Why 42?');
  await page.getByRole('button', { name: 'Add comment' }).click();
  await shot(page, 'diff-review-comments');
  await page.getByRole('button', { name: 'Send 2 comments to the agent' }).click();
  const m = await sentMessage(agentId, /feature\.ts:2/);
  assert.equal(
    m.content,
    'Review comments on your changes (the diff against main). Please address each one:\n\n' +
      'feature.ts:1\n> export const answer = 42;\nWhy 42?\n\n' +
      'feature.ts:2\n> const greeting = "hello"; // hi\nSay hello to the world.',
  );
  await page.locator('.diff-comment').first().waitFor({ state: 'detached' });

  // A merge that conflicts: ask the agent to fix it.
  fs.writeFileSync(path.join(wt.path, 'feature.ts'), 'ours\n');
  await ok('POST', `/api/worktrees/${wt.id}/commit`, { message: 'ours', all: true });
  fs.writeFileSync(path.join(repo, 'feature.ts'), 'theirs\n');
  git(repo, 'add', 'feature.ts');
  git(repo, 'commit', '-qm', 'theirs');
  await page.getByRole('button', { name: 'Merge…' }).click();
  await page.getByRole('dialog', { name: 'Merge into main' }).getByRole('button', { name: 'Merge', exact: true }).click();
  await page.locator('.diff-refusal').waitFor();
  await page.getByRole('button', { name: 'Ask the agent to fix the conflict' }).click();
  const fix = await sentMessage(agentId, /conflicts in/);
  assert.match(fix.content, /^Merging loop into main conflicts in:\n- feature\.ts\n/);
  await page.locator('.toast', { hasText: 'Asked the agent to fix the conflict' }).waitFor();
  await ok('POST', `/api/agents/${agentId}/stop?force=true&wait=true`);
});

test('a slow answer of the view just left does not replace the view asked for since', async (t) => {
  if (!caps.store) return t.skip('the store REST routes are not in this build');
  const { page } = b;
  const repo = makeRepo();
  const ws = await ok('POST', '/api/workspaces', { path: repo, name: 'race-repo' });
  const wt = await ok('POST', '/api/worktrees', { workspaceId: ws.id, name: 'race', createBranch: true });
  fs.writeFileSync(path.join(wt.path, 'based.ts'), 'export const x = 1;\n');
  await ok('POST', `/api/worktrees/${wt.id}/commit`, { message: 'add based', all: true });
  fs.writeFileSync(path.join(wt.path, 'loose.txt'), 'untracked\n');
  const a = await ok('POST', '/api/agents', { worktreeId: wt.id, name: 'Racer', executor: 'command', command: ['true'] });
  // the working changes' list is held until the base view has been shown
  let release;
  const held = new Promise((r) => (release = r));
  const working = (u) => u.pathname === `/api/worktrees/${wt.id}/diff` && !u.search;
  await page.route(working, async (route) => {
    await held;
    await route.continue();
  });
  try {
    await page.goto(`${d.url}/#/agents/${(a.agent || a).id}`);
    const asked = page.waitForRequest((r) => working(new URL(r.url())));
    await page.getByRole('tab', { name: 'Diff' }).click();
    await asked;
    await page.getByRole('tab', { name: 'Against base (main)' }).click();
    await waitText(page.locator('.diff-file', { hasText: 'based.ts' }), /new/, 'based.ts against base');
    const answered = page.waitForResponse((r) => working(new URL(r.url())));
    release();
    await answered;
    // a request of the page's own after it: the held answer's handlers ran
    await page.evaluate(() => fetch('/api/health').then((r) => r.text()));
    // (the base view lists the untracked file too; the working one has no based.ts)
    assert.equal(await page.locator('.diff-file', { hasText: 'based.ts' }).count(), 1, 'the working changes replaced the base view');
    assert.equal(await page.getByRole('tab', { name: 'Against base (main)' }).getAttribute('aria-selected'), 'true');
  } finally {
    release();
    await page.unroute(working);
  }
});

test('a worktree without a base branch offers only its working changes and Commit', async (t) => {
  if (!caps.store) return t.skip('the store REST routes are not in this build');
  const { page } = b;
  const repo = makeRepo();
  const ws = await ok('POST', '/api/workspaces', { path: repo, name: 'nobase-repo' });
  const main = ws.worktrees[0];
  assert.ok(!main.baseBranch);
  fs.writeFileSync(path.join(repo, 'a.c'), 'int main(void) { return 0; }\n');
  const a = await ok('POST', '/api/agents', { worktreeId: main.id, name: 'Mainer', executor: 'command', command: ['true'] });
  await page.goto(`${d.url}/#/agents/${(a.agent || a).id}`);
  await page.getByRole('tab', { name: 'Diff' }).click();
  await page.locator('.diff-table .tok-kw', { hasText: 'return' }).waitFor();
  await page.getByRole('button', { name: 'Commit…' }).waitFor();
  await waitText(page.locator('.diff-nobase'), /no base branch/, 'the reason shown');
  for (const name of ['Merge…', 'Rebase', 'Push', 'Pull request…']) {
    assert.equal(await page.getByRole('button', { name, exact: true }).count(), 0, `${name} is not offered`);
  }
  assert.equal(await page.getByRole('tab', { name: /Against base/ }).count(), 0);
});

test('at phone size the diff fits the screen, side by side included', async (t) => {
  if (!caps.store) return t.skip('the store REST routes are not in this build');
  const { page } = b;
  const repo = makeRepo();
  const ws = await ok('POST', '/api/workspaces', { path: repo, name: 'phone-repo' });
  const wt = await ok('POST', '/api/worktrees', { workspaceId: ws.id, name: 'phone', createBranch: true });
  fs.writeFileSync(path.join(wt.path, 'long.py'), `def f():\n    return "${'x'.repeat(300)}"  # a long line\n`);
  await ok('POST', `/api/worktrees/${wt.id}/commit`, { message: 'long', all: true });
  const a = await ok('POST', '/api/agents', { worktreeId: wt.id, name: 'Phoney', executor: 'command', command: ['true'] });
  await page.setViewportSize({ width: 390, height: 844 });
  t.after(() => page.setViewportSize({ width: 1280, height: 720 }));
  await page.evaluate(() => localStorage.setItem('agentd.diffLayout', 'split'));
  await page.goto(`${d.url}/#/agents/${(a.agent || a).id}`);
  await page.getByRole('tab', { name: 'Diff' }).click();
  await page.getByRole('tab', { name: 'Against base (main)' }).click();
  await page.locator('.diff-table.split .tok-kw', { hasText: 'def' }).waitFor();
  await page.locator('.diff-table.split .tok-com', { hasText: '# a long line' }).waitFor();
  const fits = await page.evaluate(() => document.scrollingElement.scrollWidth <= window.innerWidth + 1);
  await shot(page, 'diff-review-phone');
  assert.ok(fits, 'no sideways scroll of the page');
  for (const name of ['Commit…', 'Merge…', 'Pull request…']) {
    const box = await page.getByRole('button', { name, exact: true }).boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 390, `${name} is on the screen: ${JSON.stringify(box)}`);
  }
});
