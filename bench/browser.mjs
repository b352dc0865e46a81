#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// B1, the browser (issue #38): the dashboard in Debian's Chromium, driven
// by playwright-core and measured through the Chrome DevTools Protocol,
// against a release agentd on 127.0.0.1.
//  1. first load: the bytes on the wire (CDP Network encodedDataLength) of
//     the dashboard's first page load, scripts and styles apart from API.
//  2. transcript: an agent with MSGS stored messages (POSTed through the
//     API, 32 requests in flight): the time from opening its page to its
//     first rows painted, then the frames of a scroll up its rows.
//  3. live: 100 command agents printing 10 lines/s each (bench/c/linegen)
//     into an open dashboard, one view after another for SECS each: an
//     agent's page (with the sidebar), the sidebar alone (the agents list
//     page), the grid, the agent's page again. Per view: long tasks
//     (PerformanceObserver 'longtask'), frame times (requestAnimationFrame
//     deltas), main-thread CPU (Performance.getMetrics TaskDuration per
//     second), and the JS heap after a forced GC (HeapProfiler
//     .collectGarbage) at the end of each view, outside the windows timed.
//  4. the peer: a bare page of agentd's origin holding one /ws subscription
//     to the same agents and writing every line into an xterm.js terminal,
//     same lines, same seconds: its TaskDuration per second is the divisor
//     of each view's (goal: ratio <= 1.5x).
//  5. analytics: 16 runs of an agent, POINTS points of "reward" each
//     posted through the metrics API (5,000 a request); the Analytics view
//     draws the 5 latest, 10 more are ticked, then the time from ticking the
//     16th to the chart of 16 drawn (uPlot's canvas and 16 legend rows), and
//     when its data had come (Resource Timing; every API request the tick
//     made is printed with its start, first byte and end; B1_PROFILE
//     profiles the tick's JS).
// A figure, not a test: nothing here asserts a time. --json FILE writes the
// figures for bench/driver.js. QUICK (--quick) shortens SECS to 15 and MSGS
// to 10,000 and POINTS to 100,000 (B1_SECS, B1_MSGS and B1_POINTS set them;
// B1_VIEWS=agent,grid runs only those views, B1_VIEWS=none none; B1_CSS
// adds a style rule to the dashboard, to try what a rule costs).
// Usage: node bench/browser.mjs [--quick] [--json FILE]
import { createRequire } from 'node:module';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const require = createRequire(import.meta.url);
const requireWeb = createRequire(path.join(root, 'web/package.json'));
const { chromium } = requireWeb('playwright-core');
const esbuild = requireWeb('esbuild');
const agentd = require('./lib/agentd');
const sys = require('./lib/sys');

const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const jsonAt = args.indexOf('--json');
const JSON_OUT = jsonAt >= 0 ? args[jsonAt + 1] : null;
const SECS = Number(process.env.B1_SECS || (QUICK ? 15 : 60));
const MSGS = Number(process.env.B1_MSGS || (QUICK ? 10000 : 100000));
const POINTS = Number(process.env.B1_POINTS || (QUICK ? 100000 : 10000000));
const AGENTS = 100;
const RATE = 10;
const { CHROMIUM, CHROMIUM_ARGS } = require('./lib/chromium');
const LINEGEN = path.join(here, 'bin', 'linegen');

const t00 = Date.now();
const log = (s) => process.stderr.write(`[B1 ${((Date.now() - t00) / 1000).toFixed(0).padStart(4)}s] ${s}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const out = { meta: { quick: QUICK, secs: SECS, msgs: MSGS, points: POINTS, agents: AGENTS, rate: RATE }, views: {} };

function pctl(xs, p) {
  if (!xs.length) return null;
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

// ---- agentd and its data -----------------------------------------------------

async function call(h, method, p, body) {
  const r = await fetch(h.base + p, {
    method,
    headers: { Authorization: `Bearer ${process.env.AGENTD_BENCH_TOKEN}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (r.status >= 300) throw new Error(`${method} ${p} answered ${r.status} ${text.slice(0, 160)}`);
  return text ? JSON.parse(text) : null;
}

// One workspace (a git repository), its main worktree, the agents in it.
async function seed(h) {
  const wsPath = fs.mkdtempSync(path.join(os.tmpdir(), 'agentd-b1-ws-'));
  const git = (...a) => execFileSync('git', ['-C', wsPath, '-c', 'user.name=bench', '-c', 'user.email=bench@localhost', ...a], { stdio: 'ignore' });
  git('init', '-q', '-b', 'main');
  git('commit', '-q', '--allow-empty', '-m', 'bench');
  const ws = await call(h, 'POST', '/api/workspaces', { name: 'bench', path: wsPath });
  const workspaceId = ws.id || ws.workspace?.id;
  const list = await call(h, 'GET', `/api/worktrees?workspaceId=${workspaceId}`);
  const wts = Array.isArray(list) ? list : list.items || list.worktrees || list.data;
  const worktreeId = wts[0].id;
  const count = RATE * (SECS * 6 + 600); // the four views and the peer, with room for a loaded machine
  const streamers = [];
  for (let i = 0; i < AGENTS; i++) {
    const a = await call(h, 'POST', '/api/agents', {
      worktreeId,
      name: `stream-${String(i).padStart(3, '0')}`,
      executor: 'command',
      command: [LINEGEN, String(RATE), String(count), '0'],
    });
    streamers.push(a.id || a.agent?.id);
  }
  const tr = await call(h, 'POST', '/api/agents', { worktreeId, name: 'long-transcript', executor: 'command', command: ['/bin/true'] });
  return { wsPath, worktreeId, streamers, transcript: tr.id || tr.agent?.id };
}

// MSGS messages through POST /api/agents/:id/messages, 32 in flight: the
// way a client records them, and the store's one writer batches them.
async function fillTranscript(h, agentId) {
  const t0 = performance.now();
  let next = 0;
  const roles = ['user', 'assistant', 'assistant', 'system'];
  const worker = async () => {
    while (next < MSGS) {
      const i = next++;
      const role = roles[i % roles.length];
      const content =
        role === 'user'
          ? `question ${i}: what does step ${i} print?`
          : `line ${i} of the transcript, with **some** markdown and \`code ${i}\`\nand a second line for height`;
      await call(h, 'POST', `/api/agents/${agentId}/messages`, { role, content });
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  return (performance.now() - t0) / 1000;
}

// ---- the browser -------------------------------------------------------------

// blockSw: without the service worker (a first load); not elsewhere: with
// it blocked, playwright's routed bare page gets no WebSocket.
// bypassCsp: for the bare page, whose scripts are inline.
async function launch({ blockSw = false, bypassCsp = false } = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'agentd-b1-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 900 },
    serviceWorkers: blockSw ? 'block' : 'allow',
    bypassCSP: bypassCsp,
    args: CHROMIUM_ARGS,
  });
  ctx.setDefaultTimeout(30000);
  return {
    ctx,
    async close() {
      await ctx.close().catch(() => undefined);
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

// What every measured page carries from its first script on: long tasks
// and frame deltas, kept in window.__b1 until read (and cleared).
const PROBE = `(() => {
  const b = (window.__b1 = { long: [], frames: [], last: 0 });
  try {
    new PerformanceObserver((l) => { for (const e of l.getEntries()) b.long.push({ at: e.startTime, ms: e.duration }); })
      .observe({ type: 'longtask', buffered: true });
  } catch (e) {}
  const f = (t) => { if (b.last) b.frames.push(t - b.last); b.last = t; requestAnimationFrame(f); };
  requestAnimationFrame(f);
})();`;

async function login(page, h) {
  const { code } = await call(h, 'POST', '/api/auth/login-code');
  await page.goto(`${h.base}/login#code=${code}`);
  for (let i = 0; i < 200; i++) {
    if ((await page.context().cookies(h.base)).some((c) => c.name.startsWith('agentd_session'))) return;
    await sleep(50);
  }
  throw new Error('no session cookie after login');
}

async function cdpOf(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  return cdp;
}
async function metrics(cdp) {
  return Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
}
async function heapAfterGc(cdp) {
  await cdp.send('HeapProfiler.enable');
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.send('HeapProfiler.collectGarbage');
  return (await metrics(cdp)).JSHeapUsedSize;
}

// B1_PROFILE=DIR: each window's JS sampled (CDP Profiler) into
// DIR/<name>.cpuprofile, and its top functions by self time printed.
const PROFILE = process.env.B1_PROFILE || null;
function topOf(profile, n = 20) {
  const self = new Map();
  const dt = new Map();
  for (let i = 0; i < profile.samples.length; i++) dt.set(profile.samples[i], (dt.get(profile.samples[i]) || 0) + (profile.timeDeltas[i] || 0));
  let all = 0;
  for (const node of profile.nodes) {
    const us = dt.get(node.id) || 0;
    all += us;
    const f = node.callFrame;
    const key = `${f.functionName || '(anon)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}:${f.columnNumber + 1}`;
    self.set(key, (self.get(key) || 0) + us);
  }
  return [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, us]) => `${((100 * us) / all).toFixed(1).padStart(5)}% ${k}`);
}

// The functions a profile sampled inside [fromMs, toMs] of the page's
// performance.now(), given where the profile started on that clock: by
// self time, then by time under them (the dashboard's own functions only).
function topIn(profile, startPageMs, fromMs, toMs, n = 8) {
  const parent = new Map();
  for (const node of profile.nodes) for (const c of node.children || []) parent.set(c, node.id);
  const byId = new Map(profile.nodes.map((x) => [x.id, x]));
  const name = (x) => `${x.callFrame.functionName || '(anon)'} ${x.callFrame.url.split('/').pop()}:${x.callFrame.lineNumber + 1}`;
  const self = new Map();
  const under = new Map();
  let t = startPageMs;
  for (let i = 0; i < profile.samples.length; i++) {
    t += (profile.timeDeltas[i] || 0) / 1000;
    if (t < fromMs || t > toMs) continue;
    const dt = (profile.timeDeltas[i + 1] || 0) / 1000;
    const leaf = byId.get(profile.samples[i]);
    self.set(name(leaf), (self.get(name(leaf)) || 0) + dt);
    const seen = new Set();
    for (let x = leaf; x; x = byId.get(parent.get(x.id))) {
      if (!x.callFrame.url.includes('/assets/') || seen.has(name(x))) continue;
      seen.add(name(x));
      under.set(name(x), (under.get(name(x)) || 0) + dt);
    }
  }
  const top = (m) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, ms]) => `${ms.toFixed(1)} ms ${k}`);
  return { self: top(self), under: top(under) };
}

// SECS seconds of the page as it is: long tasks, frames, CPU per second.
async function window_(page, cdp, secs, name = 'window') {
  await page.evaluate(() => {
    window.__b1.long = [];
    window.__b1.frames = [];
    window.__b1.t0 = performance.now();
  });
  let startPageMs = 0;
  if (PROFILE) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 500 });
    startPageMs = await page.evaluate(() => performance.now());
    await cdp.send('Profiler.start');
  }
  const m0 = await metrics(cdp);
  const w0 = performance.now();
  await sleep(secs * 1000);
  const m1 = await metrics(cdp);
  if (PROFILE) {
    const { profile } = await cdp.send('Profiler.stop');
    fs.mkdirSync(PROFILE, { recursive: true });
    fs.writeFileSync(path.join(PROFILE, `${name}.cpuprofile`), JSON.stringify(profile));
    log(`profile of ${name}:\n  ${topOf(profile).join('\n  ')}`);
    // each long task of the window, from the samples inside it
    const longs = await page.evaluate(() => window.__b1.long.filter((e) => e.at >= window.__b1.t0));
    for (const e of longs) {
      const t = topIn(profile, startPageMs, e.at, e.at + e.ms);
      log(`long task of ${e.ms.toFixed(0)} ms at ${((e.at - startPageMs) / 1000).toFixed(1)} s:\n  self: ${t.self.join('; ')}\n  under: ${t.under.join('; ')}`);
    }
  }
  const wall = (performance.now() - w0) / 1000;
  const b = await page.evaluate(() => {
    const r = { long: window.__b1.long.filter((e) => e.at >= window.__b1.t0), frames: window.__b1.frames };
    window.__b1.long = [];
    window.__b1.frames = [];
    return r;
  });
  return {
    seconds: wall,
    longTasks: b.long.length,
    longestTaskMs: b.long.reduce((m, e) => Math.max(m, e.ms), 0),
    frames: b.frames.length,
    frameP50Ms: pctl(b.frames, 0.5),
    frameP95Ms: pctl(b.frames, 0.95),
    frameMaxMs: b.frames.reduce((m, x) => Math.max(m, x), 0),
    taskMsPerS: ((m1.TaskDuration - m0.TaskDuration) * 1000) / wall,
    scriptMsPerS: ((m1.ScriptDuration - m0.ScriptDuration) * 1000) / wall,
    layoutMsPerS: ((m1.LayoutDuration - m0.LayoutDuration) * 1000) / wall,
    styleMsPerS: ((m1.RecalcStyleDuration - m0.RecalcStyleDuration) * 1000) / wall,
  };
}

async function waitFor(page, fn, arg, what, timeoutMs = 30000) {
  try {
    await page.waitForFunction(fn, arg, { timeout: timeoutMs, polling: 100 });
  } catch (e) {
    throw new Error(`waiting for ${what}: ${e.message.split('\n')[0]}`);
  }
}

// ---- 1. first load -----------------------------------------------------------

async function firstLoad(h) {
  const b = await launch({ blockSw: true });
  try {
    const page = b.ctx.pages()[0] || (await b.ctx.newPage());
    await login(page, h);
    await page.goto('about:blank');
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    const reqs = new Map();
    cdp.on('Network.responseReceived', (e) => reqs.set(e.requestId, { url: e.response.url, type: e.type, enc: e.response.headers['content-encoding'] || e.response.headers['Content-Encoding'] || '' }));
    cdp.on('Network.loadingFinished', (e) => {
      const r = reqs.get(e.requestId);
      if (r) r.bytes = e.encodedDataLength;
    });
    await page.goto(`${h.base}/#/`);
    await waitFor(page, () => !!document.querySelector('.sidebar .tree li'), null, 'the sidebar');
    await sleep(1000); // what the first page fetches after its first paint
    let assets = 0;
    let api = 0;
    const files = [];
    for (const r of reqs.values()) {
      if (r.bytes == null) continue;
      const p = new URL(r.url).pathname;
      if (p.startsWith('/api/') || p === '/ws') api += r.bytes;
      else {
        assets += r.bytes;
        files.push(`${p} ${r.bytes} B${r.enc ? ` (${r.enc})` : ''}`);
      }
    }
    return { assetBytes: assets, apiBytes: api, files };
  } finally {
    await b.close();
  }
}

// ---- 2. the long transcript --------------------------------------------------

async function transcript(page, cdp, agentId) {
  await page.evaluate(() => (location.hash = '#/agents'));
  await waitFor(page, () => !!document.querySelector('.page table'), null, 'the agents page');
  await sleep(500);
  const openMs = await page.evaluate(
    (id) =>
      new Promise((done) => {
        const t0 = performance.now();
        location.hash = `#/agents/${id}`;
        const poll = () => {
          if (document.querySelector('.transcript .row .msg')) {
            // the frame after the rows exist is the one that paints them
            requestAnimationFrame(() => setTimeout(() => done(performance.now() - t0), 0));
          } else requestAnimationFrame(poll);
        };
        requestAnimationFrame(poll);
      }),
    agentId,
  );
  await sleep(300);
  // Scroll up 40 px a frame for 6 s (older pages load as the top nears).
  const m0 = await metrics(cdp);
  const scroll = await page.evaluate(
    () =>
      new Promise((done) => {
        const el = document.querySelector('.transcript');
        const frames = [];
        let last = 0;
        const t0 = performance.now();
        const step = (t) => {
          if (last) frames.push(t - last);
          last = t;
          el.scrollTop = Math.max(0, el.scrollTop - 40);
          if (t - t0 < 6000) requestAnimationFrame(step);
          else done({ frames, rows: Number(el.dataset.rows || 0), top: el.scrollTop });
        };
        requestAnimationFrame(step);
      }),
  );
  const m1 = await metrics(cdp);
  const long = await page.evaluate(() => {
    const l = window.__b1.long;
    window.__b1.long = [];
    return l;
  });
  const total = scroll.frames.reduce((a, b) => a + b, 0);
  return {
    openMs,
    scrollFps: (scroll.frames.length * 1000) / total,
    scrollFrameP95Ms: pctl(scroll.frames, 0.95),
    scrollFrameMaxMs: scroll.frames.reduce((m, x) => Math.max(m, x), 0),
    rowsLoaded: scroll.rows,
    scrollTaskMsPerS: ((m1.TaskDuration - m0.TaskDuration) * 1000 * 1000) / total,
    longestTaskMs: long.reduce((m, e) => Math.max(m, e.ms), 0),
  };
}

// ---- 3. the live views -------------------------------------------------------

const VIEWS = [
  { key: 'agent', hash: (s) => `#/agents/${s.streamers[0]}`, ready: () => !!document.querySelector('.transcript') && !!document.querySelector('.sidebar .agent-link') },
  { key: 'sidebar', hash: () => '#/agents', ready: () => !!document.querySelector('.page table') && !!document.querySelector('.sidebar .agent-link') },
  { key: 'grid', hash: () => '#/grid', ready: () => !!document.querySelector('.tile') },
  { key: 'agent2', hash: (s) => `#/agents/${s.streamers[0]}`, ready: () => !!document.querySelector('.transcript') },
];

// ---- 4. the peer: a bare page appending the same lines to xterm.js ------------

function barePage() {
  const lib = esbuild.buildSync({
    stdin: { contents: "import { Terminal } from '@xterm/xterm'; window.Terminal = Terminal;", resolveDir: path.join(root, 'web'), loader: 'js' },
    bundle: true,
    format: 'iife',
    write: false,
    minify: true,
    target: 'es2020',
  }).outputFiles[0].text;
  const css = fs.readFileSync(path.join(root, 'web/node_modules/@xterm/xterm/css/xterm.css'), 'utf8');
  // One subscription to every agent, every agent_output line written to the
  // terminal as it comes: the least a page showing these lines does.
  return `<!doctype html><html><head><style>${css}</style></head><body><div id="t" style="width:1400px;height:860px"></div>
<script>${lib}</script><script>${PROBE}
const term = new Terminal({ cols: 160, rows: 48, scrollback: 5000 });
term.open(document.getElementById('t'));
const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
window.__lines = 0;
window.__msgs = [];
ws.onclose = (e) => window.__msgs.push('close ' + e.code);
ws.onopen = () => ws.send(JSON.stringify({ type: 'subscribe', payload: { topics: ['agent:*'] } }));
ws.onmessage = (e) => {
  const m = JSON.parse(e.data);
  if (window.__msgs.length < 5) window.__msgs.push(String(e.data).slice(0, 200));
  if (m.type === 'agent_output' && m.payload) { term.write(String(m.payload.content).replace(/\\n/g, '\\r\\n')); window.__lines++; }
};
</script></body></html>`;
}

// ---- 5. analytics ------------------------------------------------------------

// An agent that ends at once, started 16 times: 16 runs, each given POINTS
// points of a reward curve through POST /api/runs/:id/metrics.
async function analyticsSeed(h, worktreeId) {
  const a = await call(h, 'POST', '/api/agents', { worktreeId, name: 'trainer', executor: 'command', command: ['/bin/true'] });
  const agentId = a.id || a.agent?.id;
  for (let r = 0; r < 16; r++) {
    await call(h, 'POST', `/api/agents/${agentId}/start`, {});
    for (let i = 0; i < 200; i++) {
      const ag = await call(h, 'GET', `/api/agents/${agentId}`);
      if (ag.status !== 'running') break;
      await sleep(25);
    }
  }
  const list = await call(h, 'GET', `/api/agents/${agentId}/runs`);
  const runs = (list.runs || list).map((r) => r.id);
  if (runs.length < 16) throw new Error(`${runs.length} runs, not 16`);
  const t0 = performance.now();
  const B = 5000;
  let next = 0;
  const jobs = [];
  for (const [r, id] of runs.entries()) for (let i = 0; i < POINTS; i += B) jobs.push([r, id, i]);
  const worker = async () => {
    while (next < jobs.length) {
      const [r, id, i] = jobs[next++];
      const points = [];
      for (let k = i; k < Math.min(POINTS, i + B); k++) points.push({ name: 'reward', step: k, value: Math.round((Math.log1p(k) + r * 0.1 + Math.sin(k / 97)) * 100) / 100 });
      await call(h, 'POST', `/api/runs/${id}/metrics`, { points });
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return { agentId, runs, seedS: (performance.now() - t0) / 1000 };
}

// The view draws the 5 latest runs at first; 10 more are ticked, then
// the clock runs from ticking the 16th to the chart of 16 drawn.
async function analyticsDraw(page, runs, cdp) {
  await page.evaluate(() => (location.hash = '#/analytics'));
  const legends = (n) => page.waitForFunction((k) => document.querySelectorAll('[data-testid=panel] [data-testid=run-legend]').length >= k, n, { timeout: 120000, polling: 100 });
  await legends(5);
  const box = (id) => `input[aria-label="compare ${id}"]`;
  const unticked = await page.evaluate((ids) => ids.filter((id) => !document.querySelector(`input[aria-label="compare ${id}"]`)?.checked), runs);
  if (unticked.length !== 11) throw new Error(`${16 - unticked.length} runs drawn at first, not 5`);
  for (const id of unticked.slice(0, 10)) await page.click(box(id));
  await legends(15);
  await sleep(1000);
  if (PROFILE) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
    await cdp.send('Profiler.start');
  }
  const r = await page.evaluate(
    (sel) =>
      new Promise((done, fail) => {
        performance.clearResourceTimings();
        const t0 = performance.now();
        document.querySelector(sel).click();
        const poll = () => {
          const panel = document.querySelector('[data-testid=panel]');
          if (panel && panel.querySelector('.uplot canvas') && panel.querySelectorAll('[data-testid=run-legend]').length >= 16) {
            // the frame after is the one that paints it
            requestAnimationFrame(() =>
              setTimeout(() => {
                const ms = performance.now() - t0;
                const all = performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/'));
                const data = all.filter((e) => e.name.includes('/metrics'));
                const at = (e) => `${new URL(e.name).pathname} ${(e.startTime - t0).toFixed(0)}-${(e.responseStart - t0).toFixed(0)}-${(e.responseEnd - t0).toFixed(0)}`;
                done({ drawMs: ms, requests: data.length, requestMs: data.reduce((m, e) => Math.max(m, e.responseEnd - t0), 0), fetches: all.map(at) });
              }, 0),
            );
          } else if (performance.now() - t0 > 60000) fail(new Error('no chart of 16 runs in 60 s'));
          else requestAnimationFrame(poll);
        };
        requestAnimationFrame(poll);
      }),
    box(unticked[10]),
  );
  if (PROFILE) {
    const { profile } = await cdp.send('Profiler.stop');
    fs.mkdirSync(PROFILE, { recursive: true });
    fs.writeFileSync(path.join(PROFILE, 'analytics.cpuprofile'), JSON.stringify(profile));
    log(`profile of the 16th run's tick:\n  ${topOf(profile).join('\n  ')}`);
  }
  return r;
}

// ---- main --------------------------------------------------------------------

async function main() {
  if (!fs.existsSync(LINEGEN)) {
    fs.mkdirSync(path.dirname(LINEGEN), { recursive: true }); // bench/bin is made by the first bench that needs it
    execFileSync('cc', ['-std=gnu11', '-O2', '-o', LINEGEN, path.join(here, 'c/linegen.c')]);
  }
  out.meta.chromium = spawnSync(CHROMIUM, ['--version']).stdout?.toString().trim();
  out.meta.loadavgStart = os.loadavg();
  out.meta.cpu = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) || [])[1];
  // the agents run sandboxed: linegen's folder is one they may read
  // (and 160 MB of points a minute is more than a token may send by default)
  const h = await agentd.start({ args: ['--sandbox-paths', path.dirname(LINEGEN), '--max-body-bytes-per-minute', '0'] });
  let b = null;
  try {
    const s = await seed(h);
    log(`seeded ${AGENTS} streaming agents; ${MSGS} messages into one transcript ...`);
    out.meta.transcriptFillS = await fillTranscript(h, s.transcript);
    log(`transcript filled in ${out.meta.transcriptFillS.toFixed(1)} s`);

    out.firstLoad = await firstLoad(h);
    log(`first load: assets ${out.firstLoad.assetBytes} B on the wire, API ${out.firstLoad.apiBytes} B`);

    b = await launch();
    const page = b.ctx.pages()[0] || (await b.ctx.newPage());
    await page.addInitScript(PROBE);
    await login(page, h);
    await waitFor(page, () => !!document.querySelector('.sidebar .agent-link'), null, 'the sidebar');
    const cdp = await cdpOf(page);

    out.transcript = await transcript(page, cdp, s.transcript);
    log(`transcript of ${MSGS}: open ${out.transcript.openMs.toFixed(0)} ms, scroll ${out.transcript.scrollFps.toFixed(1)} fps (p95 frame ${out.transcript.scrollFrameP95Ms.toFixed(1)} ms), ${out.transcript.rowsLoaded} rows loaded`);

    // The stream: every agent started, then each view for SECS.
    await page.evaluate((hash) => (location.hash = hash), VIEWS[0].hash(s));
    await Promise.all(s.streamers.map((id) => call(h, 'POST', `/api/agents/${id}/start`, {})));
    const streamT0 = Date.now();
    log(`${AGENTS} agents streaming ${RATE} lines/s each`);
    const only = process.env.B1_VIEWS ? process.env.B1_VIEWS.split(',') : null;
    // B1_CSS: a style added to the dashboard, to try what a rule costs
    if (process.env.B1_CSS) await page.addStyleTag({ content: process.env.B1_CSS });
    for (const v of VIEWS.filter((x) => !only || only.includes(x.key))) {
      await page.evaluate((hash) => (location.hash = hash), v.hash(s));
      await waitFor(page, v.ready, null, `the ${v.key} view`);
      await sleep(2000); // the view's first render and its fetches
      const w = await window_(page, cdp, SECS, v.key);
      w.heapAfterGc = await heapAfterGc(cdp);
      w.streamS = (Date.now() - streamT0) / 1000;
      out.views[v.key] = w;
      log(`${v.key}: long tasks ${w.longTasks} (longest ${w.longestTaskMs.toFixed(0)} ms), frame p95 ${w.frameP95Ms?.toFixed(1)} ms, task ${w.taskMsPerS.toFixed(0)} ms/s (script ${w.scriptMsPerS.toFixed(0)}), heap ${(w.heapAfterGc / 1048576).toFixed(1)} MiB`);
    }
    await cdp.detach().catch(() => undefined);
    await page.close();

    // The peer, the same lines still coming, in a browser of its own (the
    // dashboard's service worker would answer /bare.html with its shell).
    await b.close();
    b = await launch({ bypassCsp: true });
    const bare = b.ctx.pages()[0] || (await b.ctx.newPage());
    const bareErrors = [];
    bare.on('pageerror', (e) => bareErrors.push(String(e).slice(0, 200)));
    await login(bare, h);
    // a document of agentd's origin (its WebSocket is then same-origin),
    // its content replaced by the bare page
    await bare.goto(`${h.base}/healthz`);
    await bare.setContent(barePage());
    await waitFor(bare, () => window.__lines > 100, null, 'lines in the bare page').catch(async (e) => {
      const heard = (await bare.evaluate(() => window.__msgs).catch((x) => [x.message])) || [];
      throw new Error(`${e.message}; the page heard ${JSON.stringify([...heard, ...bareErrors])}; agentd: ${h.output().slice(-600)}`);
    });
    const bcdp = await cdpOf(bare);
    await sleep(2000);
    const lines0 = await bare.evaluate(() => window.__lines);
    out.peer = await window_(bare, bcdp, SECS, 'bare');
    out.peer.linesPerS = ((await bare.evaluate(() => window.__lines)) - lines0) / out.peer.seconds;
    out.peer.heapAfterGc = await heapAfterGc(bcdp);
    log(`bare xterm.js page: task ${out.peer.taskMsPerS.toFixed(0)} ms/s, ${out.peer.linesPerS.toFixed(0)} lines/s, frame p95 ${out.peer.frameP95Ms?.toFixed(1)} ms`);
    await bare.close();
    await Promise.all(s.streamers.map((id) => call(h, 'POST', `/api/agents/${id}/stop`, {}).catch(() => undefined)));

    // Analytics, the stream over.
    try {
      const an = await analyticsSeed(h, s.worktreeId);
      out.meta.pointsStoredS = an.seedS;
      log(`analytics: 16 runs x ${POINTS} points stored in ${an.seedS.toFixed(1)} s`);
      const dash = await b.ctx.newPage();
      await dash.goto(`${h.base}/#/agents`);
      await waitFor(dash, () => !!document.querySelector('.page table'), null, 'the agents page');
      const dcdp = await cdpOf(dash);
      out.analytics = await analyticsDraw(dash, an.runs, dcdp);
      await dcdp.detach().catch(() => undefined);
      await dash.close();
      log(`analytics: chart of 16 runs drawn in ${out.analytics.drawMs.toFixed(0)} ms (its data answered ${out.analytics.requestMs.toFixed(0)} ms in)`);
      log(`analytics: its requests (start-first byte-end, ms after the tick): ${out.analytics.fetches.join('; ')}`);
    } catch (e) {
      out.analytics = { error: e.message };
      log(`analytics: n/a (${e.message})`);
    }
    fs.rmSync(s.wsPath, { recursive: true, force: true });
  } finally {
    if (b) await b.close();
    await h.stop();
    await sys.stopAll?.();
  }
  out.meta.loadavgEnd = os.loadavg();
  print();
  if (JSON_OUT) fs.writeFileSync(JSON_OUT, JSON.stringify(out, null, 2) + '\n');
}

function print() {
  const f = (x, d = 1) => (x == null ? 'n/a' : x.toFixed(d));
  console.log(`B1 the browser${QUICK ? ' (QUICK)' : ''}: ${AGENTS} agents x ${RATE} lines/s, ${SECS} s per view; ${out.meta.chromium}; load ${out.meta.loadavgStart.map((x) => x.toFixed(1)).join(' ')} -> ${out.meta.loadavgEnd.map((x) => x.toFixed(1)).join(' ')}`);
  console.log(`  first load: ${out.firstLoad.assetBytes} B of scripts+styles on the wire (goal <= 61440), API ${out.firstLoad.apiBytes} B`);
  const t = out.transcript;
  console.log(`  transcript of ${MSGS} messages: open ${f(t.openMs, 0)} ms (goal < 300), scroll ${f(t.scrollFps)} fps, frame p95 ${f(t.scrollFrameP95Ms)} ms, longest task ${f(t.longestTaskMs, 0)} ms`);
  for (const [k, w] of Object.entries(out.views)) {
    console.log(`  ${k.padEnd(8)} long tasks ${w.longTasks} (longest ${f(w.longestTaskMs, 0)} ms), frames p50/p95/max ${f(w.frameP50Ms)}/${f(w.frameP95Ms)}/${f(w.frameMaxMs)} ms, main thread ${f(w.taskMsPerS, 0)} ms/s (script ${f(w.scriptMsPerS, 0)}, style ${f(w.styleMsPerS, 0)}, layout ${f(w.layoutMsPerS, 0)}) = ${f(w.taskMsPerS / out.peer.taskMsPerS, 2)}x the bare page, heap ${f(w.heapAfterGc / 1048576)} MiB at ${f(w.streamS, 0)} s`);
  }
  const p = out.peer;
  console.log(`  bare     xterm.js page: main thread ${f(p.taskMsPerS, 0)} ms/s, frames p95 ${f(p.frameP95Ms)} ms, ${f(p.linesPerS, 0)} lines/s`);
  const an = out.analytics || { error: 'not run' };
  console.log(`  analytics: ${an.error ? `n/a (${an.error})` : `16 runs x ${POINTS} points: chart drawn ${f(an.drawMs, 0)} ms after opening (goal < 200), its data in at ${f(an.requestMs, 0)} ms`}`);
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { sys.killAllSync?.(); process.exit(130); });
main().catch((e) => {
  console.error(e);
  sys.killAllSync?.();
  process.exit(1);
});
