// SPDX-License-Identifier: MIT
// The dashboard tells the daemon which agent's page it shows while the page
// is visible and focused (issue #37), so the tray helper shows no desktop
// notification about that agent: GET /api/agents/:id/presence reads true
// on the agent's page, false once the page goes to another agent or
// another page, or the tab goes to the background.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, makeRepo, until } from './lib/harness.mjs';
import { session } from './lib/session.mjs';

let d;
let b;

session((s) => ({ d, b } = s));

test('the agent page shown and focused is the presence the tray asks about', async () => {
  const { page } = b;
  const ws = (await api(d.url, 'POST', '/api/workspaces', { path: makeRepo() })).data;
  const wt = ws.worktrees[0].id;
  const ids = [];
  for (const name of ['seen', 'unseen']) {
    const r = await api(d.url, 'POST', '/api/agents', { worktreeId: wt, name, executor: 'command', command: ['true'] });
    assert.equal(r.status, 201, JSON.stringify(r.data));
    ids.push(r.data.id);
  }
  const viewed = async (id) => (await api(d.url, 'GET', `/api/agents/${id}/presence`)).data.viewed;
  await page.bringToFront();
  await page.goto(`${d.url}/#/agents/${ids[0]}`);
  await until(async () => (await viewed(ids[0])) === true, 'the page shown counts');
  assert.equal(await viewed(ids[1]), false);

  await page.goto(`${d.url}/#/agents/${ids[1]}`);
  await until(async () => (await viewed(ids[1])) === true && (await viewed(ids[0])) === false, 'the other agent now');

  // the tab in the background: nobody looks
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await until(async () => (await viewed(ids[1])) === false, 'hidden: no presence');
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await until(async () => (await viewed(ids[1])) === true, 'visible again');

  await page.goto(`${d.url}/#/agents`);
  await until(async () => (await viewed(ids[1])) === false, 'the agents list: no presence');
});
