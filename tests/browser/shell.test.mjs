// SPDX-License-Identifier: MIT
// The dashboard is embedded in the daemon and renders without any helper
// file: the first page loads, shows the frame, a truthful connection state
// and usable empty/error states, at 1280x720 and at phone width, in the dark
// and light themes; the initial load fetches no lazy chunk (xterm).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { capabilities, daemon, launch, shot } from './lib/harness.mjs';

let d;
let caps;
before(async () => {
  d = await daemon.start({ needUrl: true });
  caps = await capabilities(d.url);
});
after(async () => {
  if (d) await d.stop();
});

test('the embedded dashboard loads with hashed assets and no request for xterm', async (t) => {
  const b = await launch({ login: d.url });
  try {
    // The page the login landed on is left first, so none of its requests
    // (or their answers) are counted as this load's.
    await b.page.goto('about:blank');
    const requests = [];
    const order = [];
    const mine = new Set();
    b.page.on('request', (r) => {
      const p = new URL(r.url()).pathname;
      requests.push(p);
      // The sign-in check goes first, alone (a 401 shows the sign-in screen).
      if (p.startsWith('/api/') && p !== '/api/auth/whoami') {
        mine.add(r);
        order.push('req');
      }
    });
    b.page.on('response', (r) => {
      if (mine.has(r.request())) order.push('res');
    });
    const res = await b.page.goto(d.url + '/');
    assert.equal(res.status(), 200);
    await b.page.getByRole('link', { name: 'Home' }).waitFor();
    for (const name of ['Home', 'Agents', 'Analytics', 'Settings']) assert.ok(await b.page.getByRole('link', { name, exact: true }).isVisible(), name);
    const assets = requests.filter((p) => p.startsWith('/assets/'));
    assert.ok(assets.some((p) => /\/assets\/index-[\w-]+\.js$/.test(p)), 'hashed script: ' + assets.join(' '));
    assert.ok(!assets.some((p) => /Terminal|xterm/i.test(p)), 'xterm must load lazily: ' + assets.join(' '));
    // The connection indicator tells the truth either way.
    const conn = b.page.locator('.conn');
    await conn.waitFor();
    if (caps.bus) await b.page.locator('.conn[data-status="connected"]').waitFor();
    else {
      await b.page.locator('.conn[data-status="reconnecting"]').waitFor();
      assert.match(await conn.innerText(), /Reconnecting \(attempt \d+\)/);
    }
    if (caps.store) await b.page.getByText('No workspace yet').waitFor();
    else await b.page.locator('.sidebar .state-error').waitFor();
    await shot(b.page, 'home-1280x720');
    // No waterfall: once it knows who is signed in, the page asks for
    // everything it shows in one wave (html -> script -> whoami -> API).
    const firstWave = order.indexOf('res') < 0 ? order.length : order.indexOf('res');
    assert.ok(firstWave >= 4, `API requests sent before the first answer: ${firstWave} (${order.join(',')})`);
    const perf = await b.page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      const fcp = performance.getEntriesByName('first-contentful-paint')[0];
      return { domContentLoaded: Math.round(nav.domContentLoadedEventEnd), firstContentfulPaint: fcp ? Math.round(fcp.startTime) : null };
    });
    t.diagnostic(`first render: ${JSON.stringify(perf)} ms (measured, not asserted)`);
    assert.deepEqual(b.errors, []);
  } finally {
    await b.close();
  }
});

test('phone width: the sidebar is a drawer behind the menu button; light theme', async () => {
  const b = await launch({ width: 390, height: 844, colorScheme: 'light', login: d.url });
  try {
    await b.page.goto(d.url + '/#/settings');
    const side = b.page.locator('nav.sidebar');
    await b.page.getByRole('button', { name: 'Workspaces' }).waitFor();
    const box = await side.boundingBox();
    assert.ok(!box || box.x + box.width <= 0, 'sidebar hidden off screen at phone width');
    await b.page.getByRole('button', { name: 'Workspaces' }).click();
    await b.page.waitForFunction(() => {
      const r = document.querySelector('nav.sidebar').getBoundingClientRect();
      return r.x >= 0;
    });
    // No horizontal scrolling of the page at 390px.
    const overflow = await b.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `page overflows by ${overflow}px`);
    if (!caps.settings) {
      // Settings without a server answer falls back to an error with a retry.
      await b.page.getByRole('button', { name: 'Retry' }).first().waitFor();
    }
    assert.equal(await b.page.evaluate(() => document.documentElement.dataset.theme), 'light');
    await shot(b.page, 'phone-390');
  } finally {
    await b.close();
  }
});

test('keyboard: the first Tab reaches the skip link, then the tabs', async () => {
  const b = await launch({ login: d.url });
  try {
    await b.page.goto(d.url + '/');
    await b.page.getByRole('link', { name: 'Home' }).waitFor();
    await b.page.keyboard.press('Tab');
    assert.equal(await b.page.evaluate(() => document.activeElement.textContent.trim()), 'Skip to content');
    // every sidebar link, whatever their number (Nodes came later): Tab
    // until Settings, at most 20 presses
    const seen = [];
    for (let i = 0; i < 20 && !seen.includes('Settings'); i++) {
      await b.page.keyboard.press('Tab');
      seen.push(await b.page.evaluate(() => document.activeElement.textContent.trim()));
    }
    for (const name of ['Home', 'Agents', 'Analytics', 'Settings']) assert.ok(seen.includes(name), `${name} reachable by Tab: ${seen.join('|')}`);
  } finally {
    await b.close();
  }
});
