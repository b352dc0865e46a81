// SPDX-License-Identifier: MIT
// Metric exports are streamed (issue #16): 1,000,000 points written over
// REST come back as exactly 1,000,000 rows, chunked, while the daemon's peak
// resident memory grows by a bounded amount (VmHWM, reset before the export
// through /proc/<pid>/clear_refs; a generous bound, not a timing); a client
// that leaves mid-stream leaves the daemon healthy and the next export whole.
// The checks that need no size (JSON lines' fields, the compare export,
// the export after the aborted ones) read a second run of SMALL points: a
// million rows each cost the sanitizer build's daemon 4-7 CPU-seconds.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { api, endedRun } = require('./lib/api');

const TRAIN = path.resolve(__dirname, '..', 'fixtures', 'train-agent.js');
const POINTS = Number(process.env.EXPORT_POINTS || 1000000);
const SMALL = 20000; // several of the export's 256 KiB pieces
const BATCH = 50000;
const GROWTH_MAX = 64 * 1024 * 1024;

function kib(pid, field) {
  const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return Number(m[1]) * 1024;
}

// Streams an export, counting its lines without keeping them: {status,
// headers, lines, first, last}.
async function exportLines(d, url) {
  const res = await d.fetch(d.url + url);
  const out = { status: res.status, headers: res.headers, lines: 0, first: null, last: '' };
  const dec = new TextDecoder();
  let tail = '';
  for await (const chunk of res.body) {
    const s = tail + dec.decode(chunk, { stream: true });
    const parts = s.split('\n');
    tail = parts.pop();
    if (out.first === null && parts.length > 0) out.first = parts[0];
    out.lines += parts.length;
    if (parts.length > 0) out.last = parts[parts.length - 1];
  }
  assert.equal(tail, '', 'the export ends with a newline');
  return out;
}

// A run to hang the points on: a command agent's, ended (it reports one
// point itself, at step 0 of "return"; the tests export "reward").
async function makeRun(d, wt) {
  return endedRun(d, wt, ['node', TRAIN, '1', '-1'], 120000);
}

// count "reward" points at steps 0..count-1, over REST.
async function postPoints(d, runId, count) {
  for (let off = 0; off < count; off += BATCH) {
    const n = Math.min(BATCH, count - off);
    const points = Array.from({ length: n }, (_, i) => ({ name: 'reward', step: off + i, value: Math.sin((off + i) / 1000) }));
    const r = await api(d, 'POST', `/api/runs/${runId}/metrics`, { points });
    assert.equal(r.status, 200, r.text);
  }
}

test('an export of 1,000,000 points: every row, chunked, in bounded memory; an abort leaves it healthy', async () => {
  // ASan keeps freed blocks resident in its quarantine (256 MiB by default):
  // a small one lets the figure show what the daemon holds, not what it freed.
  const asan = [process.env.ASAN_OPTIONS, 'quarantine_size_mb=4'].filter(Boolean).join(':');
  const d = await daemon.start({ needUrl: true, args: ['--max-body-bytes', '8388608'], env: { ASAN_OPTIONS: asan } });
  try {
    const ws = await api(d, 'POST', '/api/workspaces', { path: daemon.tmpRepo('agentd-export-'), name: 'w' });
    assert.equal(ws.status, 201, ws.text);
    const runId = await makeRun(d, ws.body.worktrees[0].id);
    await postPoints(d, runId, POINTS);
    const smallId = await makeRun(d, ws.body.worktrees[0].id);
    await postPoints(d, smallId, SMALL);
    const pid = d.proc.pid;
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5'); // VmHWM := VmRSS
    const before = kib(pid, 'VmHWM');

    const csv = await exportLines(d, `/api/runs/${runId}/metrics/export?format=csv&names=reward`);
    assert.equal(csv.status, 200);
    assert.equal(csv.headers.get('transfer-encoding'), 'chunked');
    assert.equal(csv.headers.get('content-length'), null);
    assert.equal(csv.first, 'run_id,name,step,time_ms,value,run_name,run_color');
    assert.equal(csv.lines - 1, POINTS, 'one row per point written');
    assert.match(csv.last, new RegExp(`^${runId},"reward",${POINTS - 1},\\d+,`));
    const growth = kib(pid, 'VmHWM') - before;
    process.stdout.write(`export of ${POINTS} points: VmHWM grew ${(growth / 1048576).toFixed(1)} MiB\n`);
    assert.ok(growth < GROWTH_MAX, `VmHWM grew ${growth} bytes during the export`);

    const jl = await exportLines(d, `/api/runs/${smallId}/metrics/export?format=jsonl&names=reward`);
    assert.equal(jl.lines, SMALL);
    assert.deepEqual(Object.keys(JSON.parse(jl.first)), ['runId', 'name', 'step', 'ts', 'value', 'runName', 'runColor']);
    const none = await exportLines(d, `/api/runs/${runId}/metrics/export?format=jsonl&names=nothing`);
    assert.equal(none.lines, 0);
    const cmp = await exportLines(d, `/api/metrics/compare/export?runs=${smallId},${smallId}&format=csv&names=reward`);
    assert.equal(cmp.lines - 1, 2 * SMALL);

    // A client that reads a little and leaves.
    await new Promise((resolve, reject) => {
      const u = new URL(`${d.url}/api/runs/${runId}/metrics/export?format=csv&names=reward`);
      const req = http.get(u, { headers: d.authHeaders }, (res) => {
        assert.equal(res.statusCode, 200);
        res.once('data', () => { req.destroy(); resolve(); });
      });
      req.on('error', (e) => { if (e.code !== 'ECONNRESET') reject(e); });
    });
    // and one that never reads at all
    const idle = http.get(new URL(`${d.url}/api/runs/${runId}/metrics/export`), { headers: d.authHeaders });
    idle.on('error', () => {});
    // its answer has begun (the export is streaming to it), then it goes
    await new Promise((resolve) => idle.on('response', (res) => { res.pause(); resolve(); }));
    idle.destroy();
    assert.equal((await api(d, 'GET', '/healthz')).status, 200);
    const again = await exportLines(d, `/api/runs/${smallId}/metrics/export?format=csv&names=reward`);
    assert.equal(again.lines - 1, SMALL);
    assert.match(again.last, new RegExp(`^${smallId},"reward",${SMALL - 1},\\d+,`));

    assert.equal((await api(d, 'GET', `/api/runs/${runId}/metrics/export?format=xml`)).status, 422);
    assert.equal((await api(d, 'GET', '/api/runs/run_missing/metrics/export')).status, 404);
  } catch (e) {
    process.stderr.write(d.stderr.slice(-4000));
    throw e;
  } finally {
    await d.cleanup();
  }
});
