// SPDX-License-Identifier: MIT
// The agents that need the user in the page title and the favicon; a turn
// done is not one of them: it is marked new in the sidebar until its page
// is opened (issue #32). The count of agents that need the user (an
// approval) is checked with a real approval in approvals.test.mjs.
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

  // Turns done (waiting, no approval nor question): they do not need the
  // user (issue #32), so the count stays empty; each is new until opened.
  for (const id of ids) {
    const r = await api(d.url, 'POST', '/test/agent-status', { agentId: id, status: 'waiting' });
    assert.equal(r.status, 200);
  }
  const badge = (id) => page.locator(`.sidebar .agent-link[href="#/agents/${id}"] .agent-badge`);
  for (const id of ids) await until(async () => (await badge(id).getAttribute('data-attention')) === 'unseen', 'a turn done marked new');
  assert.match(await badge(ids[0]).innerText(), /Turn done/);
  assert.equal(await page.locator('.sidebar .badge-waiting').count(), 0, 'no orange Waiting badge for a turn done');
  assert.equal(await page.title(), 'agentd');
  let f = await favicon(page);
  assert.equal(f.waiting, '0');

  // Opening one marks it seen, here and after a reload (this browser keeps it).
  await page.goto(`${d.url}/#/agents/${ids[0]}`);
  await until(async () => (await badge(ids[0]).getAttribute('data-attention')) === 'seen', 'the opened agent seen');
  await page.goto(`${d.url}/#/`);
  await page.reload();
  await until(async () => (await badge(ids[1]).getAttribute('data-attention')) === 'unseen', 'the other still new after a reload');
  assert.equal(await badge(ids[0]).getAttribute('data-attention'), 'seen');
  // Needs attention lists the new turn, not the seen one.
  const attention = page.locator('.home section', { hasText: 'Needs attention' });
  await until(async () => /two/.test(await attention.innerText()), 'the new turn under Needs attention');
  assert.doesNotMatch(await attention.innerText(), /\bone\b/);

  // A new turn of the seen agent is new again.
  await api(d.url, 'POST', '/test/agent-status', { agentId: ids[0], status: 'running' });
  await api(d.url, 'POST', '/test/agent-status', { agentId: ids[0], status: 'waiting' });
  await until(async () => (await badge(ids[0]).getAttribute('data-attention')) === 'unseen', 'the next turn new again');

  await api(d.url, 'POST', '/test/agent-status', { agentId: ids[0], status: 'idle' });
  await api(d.url, 'POST', '/test/agent-status', { agentId: ids[1], status: 'running' });
  await until(async () => (await badge(ids[1]).getAttribute('data-attention')) === null, 'no mark on a running agent');
  assert.equal(await page.title(), 'agentd');
  f = await favicon(page);
  assert.doesNotMatch(f.href, /text/);
  assert.deepEqual(b.errors, []);
});
