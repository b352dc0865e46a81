// SPDX-License-Identifier: MIT
// What most browser test files set up alike: a daemon of this build and a
// Chromium signed in to it as its owner, started before the file's tests and
// ended after them; and waits on what the page shows (never on time).
//
//   let d;
//   let b;
//   session((s) => ({ d, b } = s));
//   ... await waitText(page.getByTestId('x'), /ready/, 'x to be ready');
import { after, before } from 'node:test';
import { daemon, launch, until, WAIT_MS } from './harness.mjs';

export { WAIT_MS };

// opts: daemon (options for daemon.start, or a function returning them,
// called in before()); launch (more options for launch); launchIf (async
// (d) → false to start no browser, e.g. when the build lacks a feature);
// stop (true: stop the daemon but keep its data dir). set(s) gets
// { d, b } once both are up (b is null when launchIf said no).
export function session(set, opts = {}) {
  let d = null;
  let b = null;
  before(async () => {
    const dopts = typeof opts.daemon === 'function' ? await opts.daemon() : opts.daemon || {};
    d = await daemon.start({ needUrl: true, ...dopts });
    if (!opts.launchIf || (await opts.launchIf(d))) {
      b = await launch({ login: d.url, ...(opts.launch || {}) });
      b.ctx.setDefaultTimeout(WAIT_MS);
    }
    set({ d, b });
  });
  after(async () => {
    if (b) await b.close();
    if (d) await (opts.stop ? d.stop() : d.cleanup());
  });
}

// Waits until the locator's text matches re; returns the text. The error
// names what was awaited and the text last seen.
export async function waitText(locator, re, what, ms = WAIT_MS) {
  let seen = '';
  try {
    return await until(async () => {
      seen = await locator.innerText({ timeout: ms });
      return re.test(seen) ? seen : null;
    }, what, ms);
  } catch (e) {
    throw new Error(`${e.message}; text: ${JSON.stringify(seen.slice(0, 400))}`);
  }
}

// Waits until the locator's attribute name is value.
export function waitAttr(locator, name, value, what, ms = WAIT_MS) {
  return until(async () => (await locator.getAttribute(name, { timeout: ms })) === value, what, ms);
}

// Resolves once the page has drawn two frames: what a scroll or an input
// just handled is on screen.
export function nextFrame(page) {
  return page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}
