#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// What an open agent page's JS heap gains while its agent streams (B1's
// heap row, issue #38): one command agent printing 10 lines/s
// (bench/c/linegen), its page open in Debian's Chromium against a release
// agentd; after a forced GC, a heap snapshot (CDP HeapProfiler) at T1 and
// at T2 seconds after the start, and what the second has more of, by kind
// and constructor (strings together), largest first. Also the page's DOM
// element count at both. A figure to read, not a test.
// Usage: AGENTD_BIN=build/release/agentd node bench/heap.mjs [T1 T2] (20 80)
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const { chromium } = createRequire(path.join(here, '../web/package.json'))('playwright-core');
const agentd = require('./lib/agentd');

const LINEGEN = path.join(here, 'bin', 'linegen');
const { CHROMIUM, CHROMIUM_ARGS } = require('./lib/chromium');
const [T1, T2] = [Number(process.argv[2] || 20), Number(process.argv[3] || 80)];
const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

// The answer's JSON, or an error naming the request.
async function call(h, method, p, body) {
  const r = await agentd.request(h.port, method, p, body);
  if (r.status >= 300) throw new Error(`${method} ${p} answered ${r.status} ${r.body.slice(0, 160)}`);
  return r.json;
}

// A snapshot summed by kind and name: Map name -> [count, bytes].
async function snapshot(cdp) {
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.send('HeapProfiler.collectGarbage');
  const chunks = [];
  const on = (e) => chunks.push(e.chunk);
  cdp.on('HeapProfiler.addHeapSnapshotChunk', on);
  await cdp.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  cdp.off('HeapProfiler.addHeapSnapshotChunk', on);
  const snap = JSON.parse(chunks.join(''));
  const fields = snap.snapshot.meta.node_fields;
  const kinds = snap.snapshot.meta.node_types[0];
  const [iType, iName, iSize, N] = [fields.indexOf('type'), fields.indexOf('name'), fields.indexOf('self_size'), fields.length];
  const by = new Map();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += N) {
    const kind = kinds[snap.nodes[i + iType]];
    const name = /string/.test(kind) ? '(strings)' : `${kind}: ${snap.strings[snap.nodes[i + iName]].slice(0, 60)}`;
    const size = snap.nodes[i + iSize];
    const a = by.get(name) || [0, 0];
    a[0]++;
    a[1] += size;
    by.set(name, a);
    total += size;
  }
  return { by, total };
}

if (!fs.existsSync(LINEGEN)) {
  fs.mkdirSync(path.dirname(LINEGEN), { recursive: true });
  execFileSync('cc', ['-std=gnu11', '-O2', '-o', LINEGEN, path.join(here, 'c/linegen.c')]);
}
const h = await agentd.start({ args: ['--sandbox-paths', path.dirname(LINEGEN)] });
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'agentd-heap-chromium-'));
let ctx = null;
let wsPath = null;
try {
  const lines = 10 * (T2 + 60);
  const { agentId, workspacePath } = await agentd.seedAgent(h, { executor: 'command', name: 'stream', extra: { command: [LINEGEN, '10', String(lines), '0'] } });
  wsPath = workspacePath;

  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: CHROMIUM_ARGS,
  });
  const page = ctx.pages()[0] || (await ctx.newPage());
  const { code } = await call(h, 'POST', '/api/auth/login-code');
  await page.goto(`${h.base}/login#code=${code}`);
  for (let i = 0; i < 200 && !(await ctx.cookies(h.base)).some((c) => c.name.startsWith('agentd_session')); i++) await sleep(50);
  await page.evaluate((hash) => (location.hash = hash), `#/agents/${agentId}`);
  await call(h, 'POST', `/api/agents/${agentId}/start`, {});
  const t0 = Date.now();
  await page.waitForFunction(() => !!document.querySelector('.transcript'), null, { timeout: 30000 });
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('HeapProfiler.enable');
  const dom = () => page.evaluate(() => document.getElementsByTagName('*').length);
  // What the page's model holds of the transcript: its messages and live chunks.
  const held = () =>
    page.evaluate((id) => {
      const t = window.__agentd?.model.value.transcripts[id];
      return t ? `${t.messages.length} messages, ${t.live.length} live chunks` : 'no transcript';
    }, agentId);
  await sleep(T1 * 1000 - (Date.now() - t0));
  const A = await snapshot(cdp);
  const domA = await dom();
  const heldA = await held();
  await sleep(T2 * 1000 - (Date.now() - t0));
  const B = await snapshot(cdp);
  const domB = await dom();
  const heldB = await held();
  console.log(`heap ${T1} s -> ${T2} s: ${A.total} -> ${B.total} bytes (+${B.total - A.total}, ${((B.total - A.total) / ((T2 - T1) * 10)).toFixed(0)} a line printed); DOM elements ${domA} -> ${domB}; the transcript ${heldA} -> ${heldB}`);
  const rows = [...B.by].map(([k, [n, s]]) => [k, n - (A.by.get(k)?.[0] || 0), s - (A.by.get(k)?.[1] || 0)]);
  rows.sort((x, y) => y[2] - x[2]);
  console.log('   bytes   count  kind: name');
  for (const [k, n, s] of rows.slice(0, 20)) console.log(`${String(s).padStart(8)} ${String(n).padStart(7)}  ${k}`);
} finally {
  if (ctx) await ctx.close().catch(() => undefined);
  await h.stop();
  fs.rmSync(profile, { recursive: true, force: true });
  if (wsPath) fs.rmSync(wsPath, { recursive: true, force: true });
}
