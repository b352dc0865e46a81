#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Histograms and counts (issue #16): what they cost, measured on the real
// daemon (no peer: a figure, not a ratio). A command agent prints STEPS
// steps, each a reward histogram of 100 raw values (agentd bins them into
// 30 buckets) and an action counts of 8 categories; then:
//   - lines per second from the run's start to the last row stored (wall
//     time, the program's own printing included),
//   - bytes on disk per stored distribution (SQLite's dbstat over the
//     metric_dists table and its index),
//   - the over-time read (500 step buckets x 30 value bins over every step)
//     and the latest read, median of 20 each, beside GET /api/runs/:id from
//     the same client for scale.
// Usage: AGENTD_BIN=build/release/agentd node bench/dists.js [STEPS]
// (default 20,000; bounded: the run and every wait stop after 5 minutes).
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const daemon = require('../tests/e2e/lib/daemon');

const STEPS = Number(process.argv[2] || 20000);
const LIMIT_MS = 5 * 60 * 1000;

const PROGRAM = `
const steps = ${STEPS};
const acts = ['jump','left','right','shoot','dash','wait','use','look'];
let buf = '';
for (let s = 0; s < steps; s++) {
  const values = Array.from({ length: 100 }, (_, k) => Math.round((s / 1000 + Math.sin(k * 7.3 + s) * 2) * 1000) / 1000);
  buf += JSON.stringify({ type: 'histogram', name: 'reward', step: s, values }) + '\\n';
  const counts = {};
  acts.forEach((a, i) => (counts[a] = ((s * (i + 3)) % 17) + i));
  buf += JSON.stringify({ type: 'counts', name: 'action', step: s, counts }) + '\\n';
  if (buf.length > 1 << 16) { process.stdout.write(buf); buf = ''; }
}
process.stdout.write(buf);
`;

async function api(d, method, url, body) {
  const res = await d.fetch(d.url + url, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json() };
}

async function until(fn, what) {
  const end = Date.now() + LIMIT_MS;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function median(n, fn) {
  const t = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(n / 2)];
}

(async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentd-bench-dists-'));
  const d = await daemon.start({ needUrl: true, dataDir });
  try {
    const prog = path.join(dataDir, 'dists-program.js');
    fs.writeFileSync(prog, PROGRAM);
    const ws = await api(d, 'POST', '/api/workspaces', { path: daemon.tmpRepo('agentd-bench-dists-repo-'), name: 'b' });
    const a = await api(d, 'POST', '/api/agents', { worktreeId: ws.body.worktrees[0].id, executor: 'command', command: ['node', prog] });
    const t0 = Date.now();
    await api(d, 'POST', `/api/agents/${a.body.id}/start`, {});
    const runId = await until(async () => {
      const r = (await api(d, 'GET', `/api/agents/${a.body.id}/runs`)).body.runs[0];
      if (!r) return null;
      const l = (await api(d, 'GET', `/api/runs/${r.id}/distributions`)).body.distributions || [];
      return l.length === 2 && l.every((x) => x.steps === STEPS) ? r.id : null;
    }, 'every distribution stored');
    const secs = (Date.now() - t0) / 1000;
    const db = path.join(dataDir, 'agentd.db');
    const bytes = Number(execFileSync('sqlite3', [db, "SELECT sum(pgsize) FROM dbstat WHERE name IN ('metric_dists', 'metric_dists_by_step')"]).toString().trim());
    const over = await median(20, () => api(d, 'GET', `/api/runs/${runId}/histograms/reward?view=time&buckets=500&bins=30`));
    const overCounts = await median(20, () => api(d, 'GET', `/api/runs/${runId}/counts/action?view=time&buckets=500`));
    const latest = await median(20, () => api(d, 'GET', `/api/runs/${runId}/histograms/reward?step=${STEPS >> 1}`));
    const base = await median(20, () => api(d, 'GET', `/api/runs/${runId}`)); // one row by id, same client
    console.log(`dists: ${2 * STEPS} lines (${STEPS} histograms of 100 raw values, ${STEPS} counts of 8) stored in ${secs.toFixed(2)} s: ${Math.round((2 * STEPS) / secs)} lines/s`);
    console.log(`dists: ${bytes} bytes on disk for ${2 * STEPS} rows: ${Math.round(bytes / (2 * STEPS))} bytes per distribution`);
    console.log(`dists: over time (500 buckets x 30 bins over ${STEPS} steps) ${over.toFixed(1)} ms; counts over time ${overCounts.toFixed(1)} ms; latest at a step ${latest.toFixed(2)} ms, GET /api/runs/:id ${base.toFixed(2)} ms for scale (median of 20)`);
  } finally {
    await d.cleanup();
    if (process.env.KEEP) console.log(`dists: kept ${dataDir}`);
    else fs.rmSync(dataDir, { recursive: true, force: true });
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
