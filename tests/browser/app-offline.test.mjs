// SPDX-License-Identifier: MIT
// The dashboard as an installable app (issue #37): a web app manifest, and a
// service worker that keeps the page's shell, so the app opens while agentd
// is down, says so, asks again, and opens the dashboard once agentd is back
// (same address, same data dir). /api is never kept.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { daemon, launch, shot, tmpDir, until } from './lib/harness.mjs';

test('the installed app opens while agentd is down, says so, and comes back with it', async () => {
  const dataDir = tmpDir('agentd-app-');
  let d = await daemon.start({ needUrl: true, dataDir, keepDataDir: true });
  const b = await launch({ login: d.url });
  try {
    const { page } = b;
    await page.goto(`${d.url}/#/`);
    await page.locator('.topbar').waitFor();
    const manifest = await page.evaluate(async () => {
      const link = document.querySelector('link[rel="manifest"]');
      return link ? (await fetch(link.href)).json() : null;
    });
    assert.equal(manifest.name, 'agentd');
    assert.equal(manifest.display, 'standalone');
    assert.equal(manifest.start_url, '/');
    assert.ok(manifest.icons.length > 0);
    // the worker controls the page and has kept the shell (the page and its script)
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
    await until(
      async () =>
        page.evaluate(async () => {
          const script = document.querySelector('script[type="module"]');
          return !!(await caches.match('/')) && !!script && !!(await caches.match(new URL(script.src).pathname));
        }),
      'the shell kept',
    );
    const kept = await page.evaluate(async () =>
      (await Promise.all((await caches.keys()).map(async (k) => (await (await caches.open(k)).keys()).map((r) => new URL(r.url).pathname)))).flat(),
    );
    assert.ok(!kept.some((p) => p.startsWith('/api/') || p.startsWith('/ws')), JSON.stringify(kept));

    const port = new URL(d.url).port;
    await d.stop();
    await page.reload();
    await page.getByRole('heading', { name: 'agentd is not running' }).waitFor();
    await shot(page, 'app-offline');

    d = await daemon.start({
      needUrl: true,
      dataDir,
      keepDataDir: true,
      listen: `127.0.0.1:${port}`,
    });
    // the page asks again by itself and loads the dashboard
    await page.locator('.topbar').waitFor();
    assert.equal(await page.getByRole('heading', { name: 'agentd is not running' }).count(), 0);
  } finally {
    await b.close();
    await d.cleanup();
  }
});
