// SPDX-License-Identifier: MIT
// Wide metric reads come from the rollup tier (issue #35, bench row T4):
// a 500-bucket read of 200,000 points is answered from runs of 128 points
// (tierPoints 128), and its min/max envelope is the raw points' to within
// one run at bucket edges (each bucket's max at least the raw max of the
// bucket less a run at each end, at most that of the bucket plus a run),
// every point counted once, the extremes exact and in their own bucket on
// both axes and through compare; a narrow zoom is read from raw points and
// exact; points appended later, the last step written again and an older
// step rewritten all show in the next wide read (the tier kept up to date).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { api, endedRun } = require('./lib/api');

const TRAIN = path.resolve(__dirname, '..', 'fixtures', 'train-agent.js');
const RUN = 128; // TSDB_ROLL_POINTS
const T0 = 1760000000000;

// A run to hang the points on: a command agent's, ended.
async function makeRun(d) {
  const ws = await api(d, 'POST', '/api/workspaces', { path: daemon.tmpRepo('agentd-rollup-'), name: 'w' });
  assert.equal(ws.status, 201, ws.text);
  return endedRun(d, ws.body.worktrees[0].id, ['node', TRAIN, '1', '-1']);
}

// A noisy curve, logged to 2 decimals (deterministic).
let seed = 12345;
function value(i) {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return Math.round((Math.sin(i / 3000) * 50 + (seed / 2147483648 - 0.5) * 10) * 100) / 100;
}

async function post(d, runId, pts) {
  for (let off = 0; off < pts.length; off += 25000) {
    const points = pts.slice(off, off + 25000).map((p) => ({ name: 'reward', step: p.step, ts: p.ts, value: p.value }));
    const r = await api(d, 'POST', `/api/runs/${runId}/metrics`, { points });
    assert.equal(r.status, 200, r.text);
  }
}

// Checks a bucketed answer against the raw points (sorted by x): every
// point counted once, each bucket's envelope between the raw envelope of
// the bucket narrowed and widened by `slack` points, the extremes exact.
function checkEnvelope(ans, raw, x, slack) {
  const b = ans.buckets;
  const from = ans.from, span = ans.to - ans.from + 1, n = ans.bucketCount;
  const idx = (p) => Math.floor(((p[x] - from) * n) / span);
  assert.equal(b.count.reduce((s, c) => s + c, 0), raw.length, 'every point counted once');
  let first = 0;
  // x is each bucket's start, floor(span * i / n) past from: i is the ceiling back
  const at = new Map(b.x.map((bx, k) => [Math.ceil(((bx - from) * n) / span), k]));
  for (let i = 0; i < n; i++) {
    let last = first;
    while (last < raw.length && idx(raw[last]) === i) last++;
    const k = at.get(i);
    if (k === undefined) {
      assert.equal(last, first, `bucket ${i} has points but no answer`);
      continue;
    }
    let wmax = -Infinity, wmin = Infinity, nmax = -Infinity, nmin = Infinity;
    for (let j = Math.max(0, first - slack); j < Math.min(raw.length, last + slack); j++) {
      wmax = Math.max(wmax, raw[j].value);
      wmin = Math.min(wmin, raw[j].value);
      if (j >= first + slack && j < last - slack) {
        nmax = Math.max(nmax, raw[j].value);
        nmin = Math.min(nmin, raw[j].value);
      }
    }
    assert.ok(b.max[k] <= wmax && b.min[k] >= wmin, `bucket ${i}: ${b.min[k]}..${b.max[k]} outside ${wmin}..${wmax}`);
    assert.ok(b.max[k] >= nmax && b.min[k] <= nmin, `bucket ${i}: ${b.min[k]}..${b.max[k]} inside ${nmin}..${nmax}`);
    first = last;
  }
  const gmax = raw.reduce((m, p) => Math.max(m, p.value), -Infinity);
  const gmin = raw.reduce((m, p) => Math.min(m, p.value), Infinity);
  assert.equal(Math.max(...b.max), gmax);
  assert.equal(Math.min(...b.min), gmin);
}

// The bucket of the answer that holds x: its max and min.
function bucketAt(ans, x) {
  const n = ans.bucketCount, span = ans.to - ans.from + 1;
  const i = Math.floor(((x - ans.from) * n) / span);
  const k = ans.buckets.x.findIndex((bx) => Math.ceil(((bx - ans.from) * n) / span) === i);
  assert.ok(k >= 0, `no bucket at ${x}`);
  return { max: ans.buckets.max[k], min: ans.buckets.min[k] };
}

test('wide reads come from the rollup tier with the raw envelope; narrow reads are exact; the tier follows new points', async () => {
  const d = await daemon.start({ needUrl: true, args: ['--max-body-bytes', '8388608'] });
  try {
    const runId = await makeRun(d);
    const raw = Array.from({ length: 200000 }, (_, i) => ({ step: i, ts: T0 + i * 10, value: value(i) }));
    raw[123457].value = 1e6; // a one-point spike inside a run of 128
    raw[77777].value = -1e6;
    await post(d, runId, raw);
    const read = async (q) => {
      const r = await api(d, 'GET', `/api/runs/${runId}/metrics/reward?${q}`);
      assert.equal(r.status, 200, r.text);
      return r.body;
    };

    // wide: 400 points a bucket, from the runs
    const wide = await read('buckets=500');
    assert.equal(wide.tierPoints, RUN);
    assert.equal(wide.points, raw.length);
    checkEnvelope(wide, raw, 'step', RUN);
    assert.equal(bucketAt(wide, 123457).max, 1e6);
    assert.equal(bucketAt(wide, 77777).min, -1e6);
    const byTime = await read('buckets=500&x=time');
    assert.equal(byTime.tierPoints, RUN);
    checkEnvelope(byTime, raw, 'ts', RUN);
    assert.equal(bucketAt(byTime, T0 + 1234570).max, 1e6);
    // other bucket counts put the edges elsewhere
    for (const n of [257, 333, 700]) checkEnvelope(await read(`buckets=${n}`), raw, 'step', RUN);
    // the chart's read over several runs says the same of this one
    const cmp = await api(d, 'GET', `/api/metrics/compare?runs=${runId}&name=reward&buckets=500`);
    assert.equal(cmp.status, 200, cmp.text);
    assert.equal(cmp.body.runs[0].tierPoints, RUN);
    assert.deepEqual(cmp.body.runs[0].buckets, wide.buckets);

    // narrow: 2 points a bucket, from raw points, exact
    const zoom = await read('buckets=500&from=123000&to=123999');
    assert.equal(zoom.tierPoints, 1);
    checkEnvelope(zoom, raw.slice(123000, 124000), 'step', 0);
    // 100 points a bucket is still read from raw points
    assert.equal((await read('buckets=2000')).tierPoints, 1);

    // appended points, the last step again and an older step rewritten
    const more = Array.from({ length: 50000 }, (_, i) => ({ step: 200000 + i, ts: T0 + (200000 + i) * 10, value: value(i) }));
    more[40001].value = 2e6;
    await post(d, runId, more);
    raw.push(...more);
    const grown = await read('buckets=500');
    assert.equal(grown.tierPoints, RUN);
    assert.equal(grown.to, 249999);
    checkEnvelope(grown, raw, 'step', RUN);
    assert.equal(bucketAt(grown, 240001).max, 2e6);

    await post(d, runId, [{ step: 249999, ts: T0 + 2499990, value: 3e6 }]);
    await post(d, runId, [{ step: 150000, ts: T0 + 1500000, value: -3e6 }]);
    raw[249999].value = 3e6;
    raw[150000].value = -3e6;
    const rewritten = await read('buckets=500');
    assert.equal(rewritten.points, raw.length, 'rewritten steps are not added');
    checkEnvelope(rewritten, raw, 'step', RUN);
    assert.equal(bucketAt(rewritten, 249999).max, 3e6);
    assert.equal(bucketAt(rewritten, 150000).min, -3e6);
  } finally {
    await d.stop();
  }
});
