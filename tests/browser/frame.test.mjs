// SPDX-License-Identifier: MIT
// The frame at both sizes (issue #32): at phone width the eight pages are one
// menu (each reachable, none in a scroll strip); on a wide screen the sidebar
// folds away and stays folded across a reload (as the seed's dashboard does).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, shot, until } from './lib/harness.mjs';
import { session, waitAttr, waitText } from './lib/session.mjs';

let d;
let b;
// The full browser: the headless shell denies every notification
// permission, and the last test asks for one.
session((s) => ({ d, b } = s), { launch: { full: true } });

const PAGES = [
  ['Home', '#/'],
  ['Agents', '#/agents'],
  ['Grid', '#/grid'],
  ['Crews', '#/crews'],
  ['Chats', '#/chats'],
  ['Analytics', '#/analytics'],
  ['Health', '#/health'],
  ['Settings', '#/settings'],
];

test('phone width: every page is reachable from the page menu', async () => {
  const page = b.page;
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(d.url + '/#/');
  const button = page.locator('.page-menu-btn');
  await button.waitFor();
  assert.equal(await page.locator('nav.tabs').isVisible(), false, 'no tab strip at phone width');
  for (const [name, hash] of PAGES) {
    await button.click();
    const menu = page.getByRole('navigation', { name: 'Pages' });
    await menu.waitFor();
    const item = menu.getByRole('link', { name, exact: true });
    const box = await item.boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 390 && box.y + box.height <= 844, `${name} is on screen: ${JSON.stringify(box)}`);
    await item.click();
    await page.waitForFunction((h) => location.hash === h || (h === '#/' && location.hash === ''), hash);
    await menu.waitFor({ state: 'detached' });
    await waitAttr(page.locator('.page-menu-btn'), 'aria-expanded', 'false', 'the menu to close');
    await waitText(button, new RegExp(`^${name}\\b`), `the button to name ${name}`);
  }
  // Esc closes it too.
  await button.click();
  await page.getByRole('navigation', { name: 'Pages' }).waitFor();
  await shot(page, 'frame-phone-menu');
  await page.keyboard.press('Escape');
  await page.getByRole('navigation', { name: 'Pages' }).waitFor({ state: 'detached' });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page overflows by ${overflow}px`);
});

test('desktop: the sidebar folds away, and stays folded across a reload', async () => {
  const page = b.page;
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto(d.url + '/#/agents');
  const side = page.locator('nav.sidebar');
  await side.waitFor();
  assert.equal(await page.locator('.page-menu-btn').isVisible(), false, 'tabs, not the menu, on a wide screen');
  assert.ok(await page.getByRole('link', { name: 'Settings', exact: true }).isVisible());
  await page.getByRole('button', { name: 'Hide the sidebar' }).click();
  await side.waitFor({ state: 'hidden' });
  const unfold = page.getByRole('button', { name: 'Workspaces' });
  await unfold.waitFor();
  await page.reload();
  await page.getByRole('link', { name: 'Agents', exact: true }).waitFor();
  await unfold.waitFor();
  assert.equal(await side.isVisible(), false, 'still folded after a reload');
  await shot(page, 'frame-desktop-folded');
  await unfold.click();
  await side.waitFor();
  await page.reload();
  await side.waitFor();
  assert.equal(await unfold.isVisible(), false, 'unfolded after a reload');
  assert.deepEqual(b.errors, []);
});

test('desktop notifications: off until this browser allows them; turning them on asks it', async () => {
  const page = b.page;
  await page.setViewportSize({ width: 1280, height: 720 });
  // The daemon's setting is on (its default), this browser never asked: off.
  assert.equal((await api(d.url, 'GET', '/api/settings')).data.notifications, true);
  await page.goto(d.url + '/#/settings');
  const sw = page.locator('#set-notifications');
  await sw.waitFor();
  assert.equal(await sw.isChecked(), false, 'not ticked without the permission');
  // Turned off and on again: on asks the browser (granted here), then stores it.
  await api(d.url, 'PATCH', '/api/settings', { notifications: false });
  await b.ctx.grantPermissions(['notifications'], { origin: d.url });
  await page.reload();
  await sw.waitFor();
  assert.equal(await sw.isChecked(), false);
  await sw.click();
  await until(async () => (await api(d.url, 'GET', '/api/settings')).data.notifications === true, 'the setting stored on');
  assert.equal(await page.evaluate(() => Notification.permission), 'granted');
  await until(async () => await sw.isChecked(), 'the switch on');
  await sw.click();
  await until(async () => (await api(d.url, 'GET', '/api/settings')).data.notifications === false, 'the setting stored off');
  assert.deepEqual(b.errors, []);
});
