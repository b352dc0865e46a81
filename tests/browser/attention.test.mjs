// SPDX-License-Identifier: MIT
// Waiting agents in the page title and the favicon: the count follows the
// agents live (agent_status events), survives a reload, and goes when
// nothing waits any more.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, makeRepo, until } from './lib/harness.mjs';
import { session } from './lib/session.mjs';

let d;
let b;

session((s) => ({ d, b } = s));

const favicon = (page) => page.evaluate(() => {
  const l = document.querySelector('link[rel="icon"]');
  return { waiting: l?.dataset.waiting, href: decodeURIComponent(l?.getAttribute('href') || '') };
});

test('the title and the favicon count the agents waiting for the user', async () => {
  const { page } = b;
  const ws = (await api(d.url, 'POST', '/api/workspaces', { path: makeRepo() })).data;
  const wt = ws.worktrees[0].id;
  const ids = [];
  for (const name of ['one', 'two']) {
    const r = await api(d.url, 'POST', '/api/agents', { worktreeId: wt, name, executor: 'command', command: ['true'] });
    assert.equal(r.status, 201, JSON.stringify(r.data));
    ids.push(r.data.id);
  }
  await page.goto(`${d.url}/#/agents`);
  await page.getByRole('link', { name: 'Home' }).waitFor();
  await until(async () => (await page.title()) === 'agentd', 'plain title');

  for (const id of ids) {
    const r = await api(d.url, 'POST', '/test/agent-status', { agentId: id, status: 'waiting' });
    assert.equal(r.status, 200);
  }
  await until(async () => (await page.title()) === '(2) agentd', 'title counts two waiting agents');
  let f = await favicon(page);
  assert.equal(f.waiting, '2');
  assert.match(f.href, />2<\/text>/);

  await page.reload();
  await until(async () => (await page.title()) === '(2) agentd', 'the count after a reload');

  await api(d.url, 'POST', '/test/agent-status', { agentId: ids[0], status: 'idle' });
  await until(async () => (await page.title()) === '(1) agentd', 'one left');
  await api(d.url, 'POST', '/test/agent-status', { agentId: ids[1], status: 'running' });
  await until(async () => (await page.title()) === 'agentd', 'none left');
  f = await favicon(page);
  assert.equal(f.waiting, '0');
  assert.doesNotMatch(f.href, /text/);
  assert.deepEqual(b.errors, []);
});
