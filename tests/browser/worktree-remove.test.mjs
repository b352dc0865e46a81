// SPDX-License-Identifier: MIT
// Nothing lost by a click (issue #74): the Diff tab's button that removes a
// merged worktree says what it does (how many agents it archives, that it
// stops the running one), asks first (Confirm deletes is on by default,
// and something runs), does nothing on Cancel, and then archives every
// agent of the worktree, the running fork too, keeping their runs and
// transcripts. The defect: the button read "Archive the agent and remove
// the worktree", asked nothing, and deleted the worktree's agents for good,
// a running one and a fork among them. At desktop and phone sizes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { api, apiOk, capabilities, git, makeRepo, shot, until } from './lib/harness.mjs';
import { session, waitText } from './lib/session.mjs';

let d;
let caps;
let b;
session((s) => ({ d, b } = s), { launchIf: async (x) => (caps = await capabilities(x.url)).store });

const ok = (method, p, body) => apiOk(d.url, method, p, body);

// A merged worktree with an agent that ran and ended, and a running fork.
async function mergedWithAgents(tag) {
  const repo = makeRepo();
  const ws = await ok('POST', '/api/workspaces', { path: repo, name: `rm-${tag}` });
  const wt = await ok('POST', '/api/worktrees', { workspaceId: ws.id, name: `done-${tag}`, createBranch: true });
  fs.writeFileSync(path.join(wt.path, 'done.txt'), 'done\n');
  await ok('POST', `/api/worktrees/${wt.id}/commit`, { message: 'the work', all: true });
  git(repo, 'commit', '-q', '--allow-empty', '-m', 'main moves on');
  await ok('POST', `/api/worktrees/${wt.id}/merge`, { strategy: 'squash' });
  const finisher = await ok('POST', '/api/agents', { worktreeId: wt.id, name: 'Finisher', executor: 'command', command: ['/bin/sh', '-c', 'echo finished its work'] });
  const started = await ok('POST', `/api/agents/${finisher.id}/start`);
  const runId = started.runId;
  await until(async () => (await api(d.url, 'GET', `/api/runs/${runId}`)).data.status !== 'running', 'the first run to end');
  const fork = await ok('POST', `/api/agents/${finisher.id}/fork`, { name: 'Fork' });
  await ok('PATCH', `/api/agents/${fork.id}`, { command: ['/bin/sh', '-c', 'echo up; while :; do sleep 0.2; done'] });
  await ok('POST', `/api/agents/${fork.id}/start`);
  await until(async () => (await api(d.url, 'GET', `/api/agents/${fork.id}`)).data.status === 'running', 'the fork running');
  return { wt, finisher, fork, runId };
}

for (const [size, viewport] of [
  ['desktop', { width: 1280, height: 800 }],
  ['phone', { width: 390, height: 844 }],
]) {
  test(`${size}: removing a merged worktree says what it does, asks, and archives every agent of it`, async (t) => {
    if (!caps.store) return t.skip('the store REST routes are not in this build');
    const { page } = b;
    await page.setViewportSize(viewport);
    const { wt, finisher, fork, runId } = await mergedWithAgents(size);

    await page.goto(`${d.url}/#/agents/${finisher.id}`);
    await page.getByRole('tab', { name: 'Diff' }).click();
    await page.getByRole('tab', { name: 'Against base (main)' }).click();
    const merged = page.getByRole('status').filter({ hasText: 'Merged into' });
    await merged.waitFor();
    const button = merged.getByRole('button', { name: 'Stop, archive its 2 agents and remove the worktree' });
    await button.waitFor();
    await button.click();
    const dialog = page.getByRole('dialog', { name: `Remove worktree ${wt.name}?` });
    const text = await waitText(dialog, /Fork is running and will be stopped/, 'the question');
    assert.match(text, /Its 2 agents \((Finisher, Fork|Fork, Finisher)\) are archived: transcripts, runs and metrics are kept/);
    assert.match(text, new RegExp(`Its folder ${wt.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is deleted`));
    await shot(page, `worktree-remove-ask-${size}`);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    // Cancelled: nothing changed.
    assert.equal((await api(d.url, 'GET', `/api/worktrees/${wt.id}`)).status, 200);
    assert.equal((await api(d.url, 'GET', `/api/agents/${fork.id}`)).data.status, 'running');
    assert.ok(fs.existsSync(wt.path));

    await button.click();
    await dialog.getByRole('button', { name: 'Stop, archive its 2 agents and remove the worktree' }).click();
    await until(async () => (await api(d.url, 'GET', `/api/worktrees/${wt.id}`)).status === 404, 'the worktree removed');
    assert.equal(fs.existsSync(wt.path), false);
    for (const a of [finisher, fork]) {
      const r = await api(d.url, 'GET', `/api/agents/${a.id}`);
      assert.equal(r.status, 200, JSON.stringify(r.data));
      assert.ok(r.data.deletedAt, `${a.name} archived`);
      assert.notEqual(r.data.status, 'running');
    }
    const run = await api(d.url, 'GET', `/api/runs/${runId}`);
    assert.equal(run.status, 200);
    const msgs = await api(d.url, 'GET', `/api/agents/${finisher.id}/messages?limit=50`);
    assert.ok((msgs.data.messages || []).some((m) => String(m.content).includes('finished its work')), 'the transcript is kept');
  });
}

test('the sidebar dialog says what removing a worktree does and stops running agents only when asked', async (t) => {
  if (!caps.store) return t.skip('the store REST routes are not in this build');
  const { page } = b;
  await page.setViewportSize({ width: 1280, height: 800 });
  const { wt, fork } = await mergedWithAgents('sidebar');
  await page.goto(`${d.url}/#/agents/${fork.id}`);
  await page.getByRole('button', { name: `Delete worktree ${wt.name}` }).click();
  const dialog = page.getByRole('dialog', { name: `Remove worktree ${wt.name}?` });
  await waitText(dialog, /Its 2 agents .* are archived: transcripts, runs and metrics are kept\. Fork is running and will be stopped\./, 'the dialog');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  assert.equal((await api(d.url, 'GET', `/api/agents/${fork.id}`)).data.status, 'running');
  await page.getByRole('button', { name: `Delete worktree ${wt.name}` }).click();
  await dialog.getByRole('button', { name: 'Stop, archive its 2 agents and remove the worktree' }).click();
  await until(async () => (await api(d.url, 'GET', `/api/worktrees/${wt.id}`)).status === 404, 'the worktree removed');
  assert.ok((await api(d.url, 'GET', `/api/agents/${fork.id}`)).data.deletedAt);
});
