// SPDX-License-Identifier: MIT
// Search in the dashboard (issue #76) against the real daemon: "/" focuses
// the header's box, typed words list the hits with the matching words
// marked and a message's HTML shown as text (nothing injected), and Enter
// opens the agent's transcript at the hit, older pages loaded until it is
// there, the message scrolled to and marked. The command palette (Ctrl+K)
// goes to a page, an agent by name, or a search hit.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apiOk, makeRepo, postMany, shot, until } from './lib/harness.mjs';
import { session, waitText } from './lib/session.mjs';

let d;
let b;

session((s) => ({ d, b } = s));

test('the search box finds a word and opens the transcript at it', async () => {
  const { page } = b;
  const ws = await apiOk(d.url, 'POST', '/api/workspaces', { path: makeRepo() });
  const agent = await apiOk(d.url, 'POST', '/api/agents', { worktreeId: ws.worktrees[0].id, name: 'finder', executor: 'command', command: ['true'] });
  const hit = await apiOk(d.url, 'POST', `/api/agents/${agent.id}/messages`, {
    role: 'assistant',
    content: 'the heliotrope build failed: <b id="injected">bold</b> <img src=x onerror="window.__pwned=1">',
  });
  // newer messages after it: the hit is pages back in the transcript
  await postMany(d.url, `/api/agents/${agent.id}/messages`, 160, (i) => ({ role: 'assistant', content: `filler line ${i}` }));

  await page.goto(`${d.url}/#/agents`);
  await page.locator('.searchbox-input').waitFor();
  await page.locator('body').click({ position: { x: 5, y: 300 } });
  await page.keyboard.press('/');
  await until(async () => page.evaluate(() => document.activeElement?.classList.contains('searchbox-input')), '"/" to focus the search box');
  await page.keyboard.type('heliotrope');
  const row = page.locator('.search-hit', { hasText: 'finder' });
  await waitText(row, /heliotrope build failed/, 'the hit in the results');
  assert.equal(await row.getAttribute('data-message'), hit.id);
  assert.deepEqual(await row.locator('mark').allInnerTexts(), ['heliotrope']);
  // the message's markup is text: no element made from it, no script run
  assert.match(await row.locator('.search-snippet').innerText(), /<b id="injected">bold<\/b>/);
  assert.equal(await page.locator('#injected').count(), 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  await shot(page, 'search-results');

  // Enter opens the transcript at the message, loading older pages for it
  await page.keyboard.press('Enter');
  await until(async () => page.evaluate(() => location.hash), 'the link to be followed');
  assert.equal(await page.evaluate(() => location.hash), `#/agents/${agent.id}/m/${hit.id}`);
  const focused = page.locator('.transcript .row-focus');
  await waitText(focused, /heliotrope build failed/, 'the message marked in the transcript');
  assert.equal(await page.locator('#injected').count(), 0);
  // it is on screen
  const box = await focused.boundingBox();
  const view = await page.locator('.transcript').boundingBox();
  assert.ok(box && view && box.y >= view.y - 1 && box.y < view.y + view.height, JSON.stringify({ box, view }));
  await shot(page, 'search-transcript');

  // a word no message holds
  await page.locator('.searchbox-input').fill('nosuchwordanywhere');
  await waitText(page.locator('.search-panel'), /No messages match/, 'the empty answer');
});

test('the command palette goes to a page, an agent, or a message', async () => {
  const { page } = b;
  const ws = await apiOk(d.url, 'POST', '/api/workspaces', { path: makeRepo() });
  const agent = await apiOk(d.url, 'POST', '/api/agents', { worktreeId: ws.worktrees[0].id, name: 'palette-agent', executor: 'command', command: ['true'] });
  const hit = await apiOk(d.url, 'POST', `/api/agents/${agent.id}/messages`, { role: 'user', content: 'where is the marmoset config' });
  await page.goto(`${d.url}/#/`);
  await page.reload();
  await page.locator('.searchbox-input').waitFor();
  const palette = page.getByRole('dialog', { name: 'Command palette' });
  // Ctrl+K, then typing once its box has the focus
  const openPalette = async () => {
    await page.keyboard.press('Control+k');
    await palette.waitFor();
    await until(async () => page.evaluate(() => document.activeElement?.classList.contains('palette-input')), 'the palette\'s box to have the focus');
  };
  // a page
  await openPalette();
  await page.keyboard.type('health');
  await waitText(palette.locator('.palette-item.active'), /Health/, 'the Health page first');
  await page.keyboard.press('Enter');
  await until(async () => (await page.evaluate(() => location.hash)) === '#/health', 'the Health page');
  assert.equal(await palette.count(), 0);
  // an agent by name
  await openPalette();
  await page.keyboard.type('palette-ag');
  await waitText(palette.locator('.palette-item.active'), /palette-agent/, 'the agent');
  await page.keyboard.press('Enter');
  await until(async () => (await page.evaluate(() => location.hash)) === `#/agents/${agent.id}`, 'the agent page');
  // a message: the hit, marked, opens the transcript at it
  await openPalette();
  await page.keyboard.type('marmoset');
  const item = palette.locator(`.palette-item[data-message="${hit.id}"]`);
  await waitText(item, /where is the marmoset config/, 'the search hit in the palette');
  assert.deepEqual(await item.locator('mark').allInnerTexts(), ['marmoset']);
  await shot(page, 'search-palette');
  await item.click();
  await until(async () => (await page.evaluate(() => location.hash)) === `#/agents/${agent.id}/m/${hit.id}`, 'the link');
  await waitText(page.locator('.transcript .row-focus'), /marmoset/, 'the message marked');
  // Esc closes it
  await openPalette();
  await page.keyboard.press('Escape');
  await until(async () => (await palette.count()) === 0, 'the palette to close');
});
