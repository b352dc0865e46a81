// SPDX-License-Identifier: MIT
// Home and Analytics (issue #32): Home's Running card agrees with its own
// runs list (an open run whose agent waits is not "Nothing running", and
// the row reads as its agent does); Analytics has no unstyled native
// buttons. At desktop and phone widths. And a page left open on running
// agents comes to rest: no animation runs for ever (issue #80: an endless
// pulse on each running badge kept Chromium drawing 60 frames a second,
// 0.12 of a core without a GPU for a page nobody looked at).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, makeRepo, shot, until } from './lib/harness.mjs';
import { session, waitText } from './lib/session.mjs';

let d;
let b;
session((s) => ({ d, b } = s));

test("Home: the Running card and the runs list say the same", async () => {
  const { page } = b;
  const ws = (await api(d.url, 'POST', '/api/workspaces', { path: makeRepo() })).data;
  const r = await api(d.url, 'POST', '/api/agents', { worktreeId: ws.worktrees[0].id, name: 'home-open', executor: 'command', command: ['true'] });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  const id = r.data.id;
  assert.equal((await api(d.url, 'POST', '/test/runs', { agentId: id, status: 'running', inputTokens: 10, outputTokens: 5 })).status, 201);
  assert.equal((await api(d.url, 'POST', '/test/agent-status', { agentId: id, status: 'waiting' })).status, 200);
  for (const [w, h] of [
    [1280, 720],
    [390, 844],
  ]) {
    await page.setViewportSize({ width: w, height: h });
    await page.goto(`${d.url}/#/`);
    const card = page.locator('.card.tone-running');
    await waitText(card, /None working; 1 open run waits for you/, 'the Running card to count the open run');
    assert.doesNotMatch(await card.innerText(), /Nothing running/);
    const row = page.locator('.home .table tbody tr', { hasText: 'home-open' });
    await waitText(row.locator('.run-status'), /turn done/, 'the run row to read as its agent');
    await shot(page, `home-open-run-${w}`);
  }
});

test('Analytics: every button is one of the app\'s', async () => {
  const { page } = b;
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto(`${d.url}/#/analytics`);
  await page.getByRole('button', { name: 'Apply' }).waitFor();
  const bare = await page.evaluate(() =>
    [...document.querySelectorAll('main button, main a.button')]
      .filter((el) => !/\b(btn|seg-btn|th-sort|icon-btn)\b/.test(el.className))
      .map((el) => el.outerHTML.slice(0, 80)),
  );
  assert.deepEqual(bare, [], 'native buttons left');
  assert.deepEqual(b.errors, []);
});

test('a page showing running agents comes to rest: no animation left running', async () => {
  const { page } = b;
  const ws = (await api(d.url, 'POST', '/api/workspaces', { path: makeRepo() })).data;
  const ids = [];
  for (const name of ['rest-a', 'rest-b']) {
    const r = await api(d.url, 'POST', '/api/agents', { worktreeId: ws.worktrees[0].id, name, executor: 'command', command: ['sleep', '300'] });
    assert.equal(r.status, 201, JSON.stringify(r.data));
    assert.equal((await api(d.url, 'POST', `/api/agents/${r.data.id}/start`, {})).status, 200);
    ids.push(r.data.id);
  }
  try {
    await page.setViewportSize({ width: 1280, height: 720 });
    for (const route of ['#/', '#/agents', `#/agents/${ids[0]}`]) {
      await page.goto(`${d.url}/${route}`);
      await page.locator('.badge-running').first().waitFor();
      // the badges pulse when they appear, then stay lit: wait for the page
      // to hold no running animation (an endless one never gets there)
      await until(async () => (await page.evaluate(() => document.getAnimations()
        .filter((a) => a.playState === 'running').map((a) => (a.animationName || a.constructor.name)))).length === 0,
      `every animation on ${route || 'Home'} to end`, 20000).catch(async (e) => {
        const left = await page.evaluate(() => document.getAnimations().filter((a) => a.playState === 'running')
          .map((a) => `${a.animationName || '?'} on ${a.effect && a.effect.target ? a.effect.target.className : '?'}`));
        throw new Error(`${e.message}: still running ${JSON.stringify(left)}`);
      });
      assert.ok(await page.locator('.badge-running').count() > 0, 'a running badge is shown');
    }
  } finally {
    for (const id of ids) await api(d.url, 'POST', `/api/agents/${id}/stop?force=true&wait=true`);
  }
  assert.deepEqual(b.errors, []);
});
