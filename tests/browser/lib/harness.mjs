// SPDX-License-Identifier: MIT
// Browser test harness: Debian's Chromium driven by playwright-core (from
// web/node_modules), the real daemon from tests/e2e/lib/daemon.js, a TCP
// proxy in front of it that can cut WebSocket connections mid-stream, git
// repositories made with the git CLI, and screenshots under tests/artifacts/.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '../../..');
const requireWeb = createRequire(path.join(ROOT, 'web/package.json'));
const { chromium } = requireWeb('playwright-core');
const requireHere = createRequire(import.meta.url);
export const daemon = requireHere('../../e2e/lib/daemon.js');

export const ARTIFACTS = path.join(ROOT, 'tests/artifacts/browser');
// Chromium's headless shell: the same Blink, V8 and network stack as the
// browser, without the browser's own layer (profile services, UI, the
// extension system) that a headless test never shows. It is what
// playwright itself runs for headless tests. The whole suite alone on the
// 2-core machine: Chromium's CPU 441 → 251 s, the run 442 → 341 s
// (docs/DECISIONS.md). CHROMIUM_BIN=/usr/bin/chromium runs the full one.
// The shell answers every notification permission "denied", so a file that
// asks for one launches the full browser (launch({ full: true })).
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium-headless-shell';
export const CHROMIUM_FULL = process.env.CHROMIUM_FULL_BIN || '/usr/bin/chromium';

// Removed when the test file's process exits (daemon.js).
export function tmpDir(prefix) {
  return daemon.tmpDir(prefix);
}

// Headless, nothing phoning home.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
  '--disable-dev-shm-usage',
];

function needChromium(bin = CHROMIUM) {
  if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run scripts/deps.sh (Debian packages chromium-headless-shell and chromium)`);
}

// One Chromium for a whole suite (lib/run.mjs): playwright-core's browser
// server, which launch() below connects to.
export async function chromiumServer() {
  needChromium();
  // On 127.0.0.1 only: playwright's default is every interface.
  return chromium.launchServer({ executablePath: CHROMIUM, headless: true, timeout: 30000, args: CHROMIUM_ARGS, host: '127.0.0.1' });
}

// A browser context of its own for the caller, signed in first when login
// is a daemon URL (as its owner); args: more Chromium flags (e.g.
// --host-resolver-rules); full: the full browser, not the headless shell.
// The context is new in the suite's Chromium when lib/run.mjs started one
// (AGENTD_TEST_BROWSER_WS) and the caller needs neither; else a Chromium of
// its own with a fresh profile.
export async function launch({ width = 1280, height = 720, colorScheme = 'dark', login: loginTo, args = [], full = false } = {}) {
  const shared = process.env.AGENTD_TEST_BROWSER_WS;
  const bin = full ? CHROMIUM_FULL : CHROMIUM;
  let browser = null;
  let profile = null;
  let ctx;
  if (shared && args.length === 0 && !full) {
    browser = await chromium.connect(shared, { timeout: 30000 });
    ctx = await browser.newContext({ viewport: { width, height }, colorScheme });
  } else {
    needChromium(bin);
    profile = tmpDir('agentd-chromium-');
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: bin,
      headless: true,
      viewport: { width, height },
      colorScheme,
      timeout: 30000,
      args: [...CHROMIUM_ARGS, ...args],
    });
  }
  ctx.setDefaultTimeout(15000);
  const page = ctx.pages()[0] || (await ctx.newPage());
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e && e.stack ? e.stack : e)));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource|WebSocket connection/.test(m.text())) errors.push(m.text());
  });
  if (loginTo) await login(page, loginTo);
  return {
    ctx,
    page,
    errors,
    async close() {
      await ctx.close().catch(() => undefined);
      if (browser) await browser.close().catch(() => undefined);
      if (profile) fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

// A download's bytes. Saved to a file of ours first: a download's own path
// is not there when the browser is the suite's (lib/run.mjs).
export async function downloaded(download) {
  const file = path.join(tmpDir('agentd-download-'), 'file');
  await download.saveAs(file);
  return fs.readFileSync(file);
}

// What the page's model holds of an agent's transcript (the dashboard's
// test hook, window.__agentd): the text of its stored messages (with tool
// output) and live chunks, how many of each, and whether older are stored.
export async function heldTranscript(page, agentId) {
  return page.evaluate((id) => {
    const t = window.__agentd.model.value.transcripts[id];
    if (!t) return { text: '', messages: 0, live: 0, hasMore: false };
    const text = [...t.messages.map((m) => m.content + (m.toolOutput ? '\n' + m.toolOutput : '')), ...t.live.map((c) => c.text)].join('\n');
    return { text, messages: t.messages.length, live: t.live.length, hasMore: !!t.hasMore };
  }, agentId);
}

export async function shot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name + '.png');
  await page.screenshot({ path: file });
  return file;
}

// A TCP proxy to the daemon. dropWebSockets() destroys every proxied /ws
// connection at once, which the browser sees as the server going away.
export async function proxy(targetUrl) {
  const u = new URL(targetUrl);
  const conns = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(u.port), u.hostname);
    const c = { client, upstream, ws: false };
    conns.add(c);
    let first = true;
    client.on('data', (buf) => {
      if (first) {
        first = false;
        const head = buf.toString('latin1', 0, Math.min(buf.length, 2048));
        c.ws = /^GET \/ws[ ?]/.test(head) && /upgrade:\s*websocket/i.test(head);
      }
      upstream.write(buf);
    });
    upstream.pipe(client);
    const end = () => {
      conns.delete(c);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    dropWebSockets() {
      let n = 0;
      for (const c of conns)
        if (c.ws) {
          c.client.destroy();
          c.upstream.destroy();
          n++;
        }
      return n;
    },
    close() {
      for (const c of conns) {
        c.client.destroy();
        c.upstream.destroy();
      }
      return new Promise((r) => server.close(r));
    },
  };
}

export function git(cwd, ...args) {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e' },
  });
}

// A repository with one commit, in a temp dir.
export function makeRepo() {
  const dir = tmpDir('agentd-browser-repo-');
  git(dir, 'init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(dir, 'README.md'), '# demo\n');
  git(dir, 'add', '.');
  git(dir, 'commit', '-qm', 'first');
  return fs.realpathSync(dir);
}

// Which backend parts this daemon has; each browser test needs some of them
// and says which is missing when it has to skip.
export async function capabilities(base) {
  const probe = async (p, init) => {
    try {
      const r = await fetch(base + p, { ...init, headers: auth(base) });
      return r.status !== 404 && r.status !== 405 && r.status !== 501;
    } catch {
      return false;
    }
  };
  const store = await probe('/api/workspaces');
  const settings = await probe('/api/settings');
  const bus = (await upgrade(base, '/ws')).upgraded;
  // A route for an unknown agent answers 404 with a reason; a missing
  // route answers 404 "no route".
  const term = await upgrade(base, '/ws/agents/ag_probe/terminal');
  const terminal = term.upgraded || !/no route/i.test(term.body);
  return { store, settings, bus, terminal };
}

// Tries a WebSocket upgrade; resolves {upgraded, status, body}.
function upgrade(base, p) {
  return new Promise((resolve) => {
    const req = requireWeb('node:http').request(base + p, {
      headers: { ...auth(base), Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    });
    req.on('upgrade', (_res, sock) => {
      sock.destroy();
      resolve({ upgraded: true, status: 101, body: '' });
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ upgraded: false, status: res.statusCode, body }));
    });
    req.on('error', () => resolve({ upgraded: false, status: 0, body: '' }));
    req.setTimeout(3000, () => {
      req.destroy();
      resolve({ upgraded: false, status: 0, body: '' });
    });
    req.end();
  });
}

// The owner token's header for the daemon at base (tests/e2e/lib/daemon.js
// read it from the first start's output or the owner-token file).
function auth(base) {
  const t = daemon.tokenFor(base);
  return t ? { Authorization: `Bearer ${t}` } : {};
}

// Signs the browser in the way a user does: a login URL with a one-time
// code (what `agentd login` prints: the owner token asks for the code the
// CLI would), whose page POSTs the code for the session cookie and lands
// on the dashboard. Another token is pasted into the sign-in form's POST.
// base may be a proxy in front of the daemon (token then says whose).
export async function login(page, base, token = daemon.tokenFor(base)) {
  if (!token) return;
  const r = await fetch(`${base}/api/auth/login-code`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
  if (r.status === 201) {
    const { code } = await r.json();
    const res = await page.goto(`${base}/login#code=${code}`);
    if (!res || !res.ok()) throw new Error(`login failed: ${res && res.status()}`);
  } else {
    await page.goto(`${base}/login`);
    const status = await page.evaluate(async (t) => {
      const x = await fetch('/api/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token: t }) });
      return x.status;
    }, token);
    if (status !== 200) throw new Error(`login failed: ${status}`);
  }
  const ok = async () => (await page.context().cookies(base)).some((c) => c.name.startsWith('agentd_session'));
  await until(ok, 'the session cookie');
}

export async function api(base, method, p, body) {
  const r = await fetch(base + p, {
    method,
    headers: { ...auth(base), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  return { status: r.status, data };
}

// count POSTs to base + p, bodyOf(i) each, parallel at a time over
// kept-alive connections; fails naming the first that is not a 2xx. For
// loads: fetch() costs the test's process about 1.1 ms of CPU a request,
// this 0.3 (10,000 messages: 11 CPU-seconds against 3).
export async function postMany(base, p, count, bodyOf, parallel = 16) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: parallel });
  const post = (body) => new Promise((resolve, reject) => {
    const b = JSON.stringify(body);
    const headers = { ...auth(base), 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(b) };
    const req = http.request(base + p, { method: 'POST', agent, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(b);
  });
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const r = await post(bodyOf(i));
      if (r.status < 200 || r.status >= 300) throw new Error(`POST ${p} #${i}: ${r.status} ${r.text}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: parallel }, worker));
  } finally {
    agent.destroy();
  }
}

// api() that must succeed (a 2xx, else the test fails naming the call);
// the answer's data.
export async function apiOk(base, method, p, body) {
  const r = await api(base, method, p, body);
  if (r.status < 200 || r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(r.data)}`);
  return r.data;
}

// How long a wait on the page may take before the test fails. A test waits
// for a state, and the state comes in well under a second on an idle
// machine; the bound is for an ASan daemon and Chromium on a machine busy
// with other builds (a fresh-clone `make check`), where 15 s was seen to be
// too short.
export const WAIT_MS = 60000;
// A wait on a real CLI's turn (an approval it asks for, its answer): its
// node start alone once took 26 s on such a machine, and 30 s failed a
// Claude Code approval there.
export const CLI_MS = 90000;

// Polls f() until it returns a truthy value; bounded in time. Every 100 ms
// for the first second, then less often, to every 250 ms (as the e2e
// files' until, tests/e2e/lib/api.js): each poll asks the page, and a
// state seconds away is still seen within a quarter of a second.
export async function until(f, what, ms = WAIT_MS) {
  const t0 = Date.now();
  let last;
  let pause = 100;
  while (Date.now() - t0 < ms) {
    try {
      last = await f();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, pause));
    if (Date.now() - t0 > 1000) pause = Math.min(250, Math.round(pause * 1.5));
  }
  throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
}

// Picks a run in the Analytics runs list to compare. Until the user picks,
// the page picks the newest runs itself once its list has loaded, so a
// click can land just after that and take the pick away again: click until
// the box stays checked (it stops picking by itself after the first click).
export async function pickRun(page, runId) {
  const box = page.getByRole('checkbox', { name: `compare ${runId}` });
  await until(async () => {
    if (await box.isChecked()) return true;
    await box.click();
    return false;
  }, `run ${runId} picked to compare`);
}
