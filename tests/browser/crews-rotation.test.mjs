// SPDX-License-Identifier: MIT
// The active crew's agents in turn (seed 003: "Improved active crew section
// - Better layout with agent rotation", issue #74): the open crew shows one
// agent at a time, working ones first, and moves on every ROTATE_MS (the
// page's clock driven by the test, so no test waits on time); Next,
// Previous and the dots pick one; it holds still while paused, while the
// pointer is on it, and starts paused under reduced motion. At desktop and
// phone sizes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { api, apiOk, daemon, launch, makeRepo, shot, until } from './lib/harness.mjs';

const ROTATE_MS = 6000; // web/src/ui/CrewSpotlight.tsx
let d;
let crew;
let names; // in the order shown: the working one first, then by name
before(async () => {
  d = await daemon.start({ needUrl: true });
  const ws = await apiOk(d.url, 'POST', '/api/workspaces', { path: makeRepo() });
  crew = await apiOk(d.url, 'POST', '/api/crews', { name: 'rotation' });
  const mk = (name, command) => apiOk(d.url, 'POST', '/api/agents',
    { worktreeId: ws.worktrees[0].id, name, executor: 'command', command, crewId: crew.id });
  await mk('alpha', ['true']);
  await mk('bravo', ['true']);
  const zulu = await mk('zulu', ['sleep', '300']);
  await apiOk(d.url, 'POST', `/api/agents/${zulu.id}/start`, {});
  await until(async () => (await api(d.url, 'GET', `/api/agents/${zulu.id}`)).data.status === 'running', 'zulu running');
  names = ['zulu', 'alpha', 'bravo'];
  // another crew's agent never shows in this one
  const other = await apiOk(d.url, 'POST', '/api/crews', { name: 'other' });
  await apiOk(d.url, 'POST', '/api/agents', { worktreeId: ws.worktrees[0].id, name: 'stranger', executor: 'command', command: ['true'], crewId: other.id });
});
after(async () => {
  if (d) {
    for (const a of (await api(d.url, 'GET', '/api/agents')).data.agents || []) {
      if (a.status === 'running') await api(d.url, 'POST', `/api/agents/${a.id}/stop?force=true&wait=true`);
    }
    await d.cleanup();
  }
});

for (const [size, width, height] of [['desktop', 1280, 900], ['phone', 390, 844]]) {
  test(`the active crew rotates through its agents (${size})`, async () => {
    const b = await launch({ width, height, login: d.url });
    try {
      const { page } = b;
      await page.clock.install();
      await page.goto(`${d.url}/#/crews/${crew.id}`);
      const spot = page.locator('.crew-spotlight');
      const name = spot.locator('.spot-name');
      const shows = (n) => until(async () => (await name.innerText()).trim() === n, `the spotlight on ${n}`);
      await shows('zulu'); // the working one first
      assert.match(await spot.locator('.spot-count').innerText(), /1 of 3/);
      await shot(page, `crews-rotation-${size}`);
      assert.match(await spot.locator("h2").textContent(), /Active crew: rotation/);
      // time moves it on, wrapping round; never to another crew's agent
      for (const n of [...names.slice(1), names[0]]) {
        await page.clock.runFor(ROTATE_MS + 50);
        await shows(n);
      }
      // picked by hand: Next, Previous, a dot
      await spot.getByRole('button', { name: 'Next agent' }).click();
      await shows('alpha');
      await spot.getByRole('button', { name: 'Previous agent' }).click();
      await shows('zulu');
      await spot.getByRole('button', { name: 'Show bravo' }).click();
      await shows('bravo');
      assert.equal(await spot.getByRole('button', { name: 'Show bravo' }).getAttribute('aria-current'), 'true');
      // held while the pointer (and then the focus) is on it
      await until(async () => (await spot.getAttribute('data-rotating')) === 'no', 'held under the pointer and focus');
      await page.clock.runFor(3 * ROTATE_MS);
      await shows('bravo');
      // let go: it rotates again
      await page.mouse.move(1, 1);
      await page.locator('body').evaluate((el) => (document.activeElement instanceof HTMLElement ? document.activeElement.blur() : el));
      await until(async () => (await spot.getAttribute('data-rotating')) === 'yes', 'rotating once let go');
      await page.clock.runFor(ROTATE_MS + 50);
      await shows('zulu');
      // paused: still, however long
      await spot.locator('.spot-pause').click();
      await page.mouse.move(1, 1);
      await page.locator('body').evaluate(() => (document.activeElement instanceof HTMLElement ? document.activeElement.blur() : null));
      assert.equal(await spot.locator('.spot-pause').getAttribute('aria-pressed'), 'true');
      assert.equal(await spot.getAttribute('data-rotating'), 'no');
      await page.clock.runFor(3 * ROTATE_MS);
      await shows('zulu');
      // the agent's page is one click away
      await spot.locator('.spot-name').click();
      await until(async () => page.url().includes('#/agents/'), 'the agent page');

      // reduced motion: it starts paused
      await page.emulateMedia({ reducedMotion: 'reduce' });
      await page.goto(`${d.url}/#/crews/${crew.id}`);
      await page.reload();
      await shows('zulu');
      assert.equal(await spot.locator('.spot-pause').getAttribute('aria-pressed'), 'true');
      await page.clock.runFor(3 * ROTATE_MS);
      await shows('zulu');
    } finally {
      await b.close();
    }
  });
}
