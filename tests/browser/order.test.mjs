// SPDX-License-Identifier: MIT
// Sort mode and drag reordering in the sidebar (issue #40, the Claude
// Manager seed): agents dragged into a new order, a worktree's sort mode
// switched to name, worktrees dragged; each kept by the server, so a reload
// shows the same order.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, makeRepo, until } from './lib/harness.mjs';
import { session } from './lib/session.mjs';

let d;
let b;
session((s) => ({ d, b } = s));

let ws;
let main;
let mainName; // the main worktree's name: the repository folder's

const wtRow = (page, name) => page.locator('li.wt', { has: page.locator('.wt-name', { hasText: name }) });
const agentNames = (page) => wtRow(page, mainName).locator('.agent-name').allInnerTexts();
const wtNames = async (page) => (await page.locator('li.wt .wt-name').allInnerTexts()).map((t) => t.replace(/[⎇\s]+/g, ' ').trim().split(' ')[0]);

async function waitOrder(get, want, what) {
  let seen;
  await until(async () => {
    seen = await get();
    return JSON.stringify(seen) === JSON.stringify(want);
  }, `${what}: ${JSON.stringify(want)} (last ${JSON.stringify(seen)})`);
}

test('set up: a workspace with three agents in main and two more worktrees', async () => {
  const w = await api(d.url, 'POST', '/api/workspaces', { path: makeRepo(), name: 'ordered' });
  assert.equal(w.status, 201);
  ws = w.data.id;
  main = w.data.worktrees[0].id;
  mainName = w.data.worktrees[0].name;
  for (const name of ['gamma', 'alpha', 'beta']) {
    const a = await api(d.url, 'POST', '/api/agents', { worktreeId: main, name, executor: 'command', command: ['true'] });
    assert.equal(a.status, 201, JSON.stringify(a.data));
  }
  for (const name of ['wt-one', 'wt-two']) {
    const t = await api(d.url, 'POST', '/api/worktrees', { workspaceId: ws, name, branch: name, createBranch: true });
    assert.equal(t.status, 201, JSON.stringify(t.data));
  }
});

test('an agent dragged onto another takes its place, kept across a reload', async () => {
  const { page } = b;
  await page.goto(d.url + '/');
  await waitOrder(() => agentNames(page), ['gamma', 'alpha', 'beta'], 'the created order');
  const row = wtRow(page, mainName);
  await row.locator('.agent-name', { hasText: 'beta' }).dragTo(row.locator('.agent-name', { hasText: 'gamma' }));
  await waitOrder(() => agentNames(page), ['beta', 'gamma', 'alpha'], 'the dropped order');
  const names = async () => (await api(d.url, 'GET', `/api/agents?worktreeId=${main}`)).data.agents.map((a) => a.name);
  await waitOrder(names, ['beta', 'gamma', 'alpha'], 'the order the server keeps');
  await page.reload();
  await waitOrder(() => agentNames(page), ['beta', 'gamma', 'alpha'], 'the order after a reload');
});

test('sort by name: stored on the worktree, the list follows, kept across a reload', async () => {
  const { page } = b;
  await page.getByRole('combobox', { name: `Sort agents in ${mainName}` }).selectOption('name');
  await waitOrder(() => agentNames(page), ['alpha', 'beta', 'gamma'], 'sorted by name');
  await until(async () => (await api(d.url, 'GET', `/api/worktrees/${main}`)).data.sortMode === 'name', 'sortMode stored');
  await page.reload();
  await waitOrder(() => agentNames(page), ['alpha', 'beta', 'gamma'], 'by name after a reload');
  assert.equal(await page.getByRole('combobox', { name: `Sort agents in ${mainName}` }).inputValue(), 'name');
  // Back to manual: the dragged order is still there.
  await page.getByRole('combobox', { name: `Sort agents in ${mainName}` }).selectOption('free');
  await waitOrder(() => agentNames(page), ['beta', 'gamma', 'alpha'], 'manual again');
});

test('a worktree dragged onto another takes its place; main stays first', async () => {
  const { page } = b;
  await waitOrder(() => wtNames(page), [mainName, 'wt-one', 'wt-two'], 'the created order of worktrees');
  await page.locator('.wt-name', { hasText: 'wt-two' }).dragTo(page.locator('.wt-name', { hasText: 'wt-one' }));
  await waitOrder(() => wtNames(page), [mainName, 'wt-two', 'wt-one'], 'the dropped order of worktrees');
  const names = async () => (await api(d.url, 'GET', `/api/worktrees?workspaceId=${ws}`)).data.worktrees.map((t) => t.name);
  await waitOrder(names, [mainName, 'wt-two', 'wt-one'], 'the worktree order the server keeps');
  await page.reload();
  await waitOrder(() => wtNames(page), [mainName, 'wt-two', 'wt-one'], 'the worktree order after a reload');
});
