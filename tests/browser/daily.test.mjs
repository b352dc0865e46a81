// SPDX-License-Identifier: MIT
// The daily driver in the dashboard (issue #32): after a squash the Diff tab
// says the worktree is merged and offers "Archive the agent and remove the
// worktree", which does both; a stop shows Stopping… with Force stop still
// there, and a reload keeps showing it (the daemon knows it is stopping).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { api, apiOk, capabilities, git, makeRepo, shot, until } from './lib/harness.mjs';
import { session } from './lib/session.mjs';

let d;
let caps;
let b;
session((s) => ({ d, b } = s), {
  daemon: { args: ['--stop-grace-ms', '60000'] },
  launchIf: async (x) => (caps = await capabilities(x.url)).store,
});

const ok = (method, p, body) => apiOk(d.url, method, p, body);

test('a squashed worktree reads merged; one button archives the agent and removes the worktree', async (t) => {
  if (!caps.store) return t.skip('the store REST routes are not in this build');
  const { page } = b;
  const repo = makeRepo();
  const ws = await ok('POST', '/api/workspaces', { path: repo, name: 'daily-repo' });
  const wt = await ok('POST', '/api/worktrees', { workspaceId: ws.id, name: 'done', createBranch: true });
  fs.writeFileSync(path.join(wt.path, 'done.txt'), 'done\n');
  await ok('POST', `/api/worktrees/${wt.id}/commit`, { message: 'the work', all: true });
  git(repo, 'commit', '-q', '--allow-empty', '-m', 'main moves on');
  await ok('POST', `/api/worktrees/${wt.id}/merge`, { strategy: 'squash' });
  const agent = await ok('POST', '/api/agents', { worktreeId: wt.id, name: 'Finisher' });

  await page.goto(`${d.url}/#/agents/${agent.id}`);
  await page.getByRole('tab', { name: 'Diff' }).click();
  await page.getByRole('tab', { name: 'Against base (main)' }).click();
  const merged = page.getByRole('status').filter({ hasText: 'Merged into' });
  await merged.waitFor();
  assert.match(await merged.innerText(), /Merged into main \(squash/);
  await shot(page, 'diff-merged');
  await merged.getByRole('button', { name: 'Archive the agent and remove the worktree' }).click();
  // Confirm deletes is on by default: it asks first (issue #74).
  await page.getByRole('dialog', { name: 'Remove worktree done?' }).getByRole('button', { name: 'Archive the agent and remove the worktree' }).click();
  await until(async () => (await api(d.url, 'GET', `/api/worktrees/${wt.id}`)).status === 404, 'the worktree removed');
  assert.equal(fs.existsSync(wt.path), false);
  const a = await api(d.url, 'GET', `/api/agents/${agent.id}`);
  assert.ok(a.data.deletedAt, JSON.stringify(a.data)); // archived, not deleted
});

// A started command agent that ignores SIGINT and SIGTERM, its page open.
async function stubborn(page, name) {
  const ws = await ok('POST', '/api/workspaces', { path: makeRepo(), name: `${name.toLowerCase()}-repo` });
  const command = ['/bin/sh', '-c', "trap '' INT TERM; echo up; while :; do sleep 0.2; done"];
  const agent = await ok('POST', '/api/agents', { worktreeId: ws.worktrees[0].id, name, executor: 'command', command });
  await ok('POST', `/api/agents/${agent.id}/start`);
  // its traps are set once it has said so: a SIGTERM before that would end it
  await until(async () => {
    const m = await api(d.url, 'GET', `/api/agents/${agent.id}/messages?limit=50`);
    return (m.data.messages || []).some((x) => String(x.content).includes('up'));
  }, 'the agent up');
  await page.goto(`${d.url}/#/agents/${agent.id}`);
  return agent;
}

test('Stop shows Stopping… with Force stop available, also after a reload', async (t) => {
  if (!caps.store) return t.skip('the store REST routes are not in this build');
  const { page } = b;
  const agent = await stubborn(page, 'Stubborn');
  await page.getByRole('button', { name: '■ Stop' }).click();
  const stopping = page.getByRole('button', { name: 'Stopping…' });
  await stopping.waitFor();
  assert.equal(await stopping.isDisabled(), true);
  await page.reload();
  await stopping.waitFor();
  const force = page.getByRole('button', { name: 'Force stop' });
  assert.equal(await force.isEnabled(), true);
  await shot(page, 'agent-stopping');
  await force.click();
  await until(async () => (await api(d.url, 'GET', `/api/agents/${agent.id}`)).data.status === 'stopped', 'the forced stop');
  await page.getByRole('button', { name: '▶ Start' }).waitFor();
});

// The page hears of a run's end on the stream and of a stop in the stop's
// answer; on a busy machine the two can come in either order. Here the
// answer of Stop (the agent "stopping") is held until a forced stop has
// ended the run and the page shows it: taken in late, it must not bring
// Stopping… back, with nothing left to come that would end it.
test('a stop answered after the run ended: the page keeps the end', async (t) => {
  if (!caps.store) return t.skip('the store REST routes are not in this build');
  const { page } = b;
  const agent = await stubborn(page, 'Late');
  let release;
  const held = new Promise((r) => (release = r));
  const stopUrl = `**/api/agents/${agent.id}/stop*`;
  await page.route(stopUrl, async (route) => {
    const res = await route.fetch();
    await held;
    await route.fulfill({ response: res });
  });
  try {
    await page.getByRole('button', { name: '■ Stop' }).click();
    await until(async () => (await api(d.url, 'GET', `/api/agents/${agent.id}`)).data.status === 'stopping', 'the stop under way');
    await ok('POST', `/api/agents/${agent.id}/stop?force=true`);
    const start = page.getByRole('button', { name: '▶ Start' });
    await start.waitFor(); // the end, from the stream; Stop's answer still held
    release();
    // the answer taken in: no action is busy any more
    await until(async () => page.getByRole('button', { name: 'Fork' }).isEnabled(), 'Stop to have its answer');
    assert.equal(await start.isVisible(), true, 'the stopped agent offers ▶ Start');
    assert.equal(await page.getByRole('button', { name: 'Stopping…' }).count(), 0);
  } finally {
    release();
    await page.unroute(stopUrl);
  }
});
