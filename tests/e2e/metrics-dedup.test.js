// SPDX-License-Identifier: MIT
// Points are stored once (issue #35): a program that prints a `metrics` line
// and an `agent_update` for every step stores one point per (series, step),
// the later write winning; over REST a step written again replaces its point
// (in one batch, across batches and chunk rows, an older step too; batches
// landing out of order), and the series' count, first/last value, min and
// max follow the replacement.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { api, until } = require('./lib/api');

const BOTH = path.resolve(__dirname, '..', 'fixtures', 'train-both.js');
const TRAIN = path.resolve(__dirname, '..', 'fixtures', 'train-agent.js');
// 20,000 steps in make check (the same paths as the 200,000, which
// take 5.5 min under ASan): DEDUP_STEPS=200000 for the figure.
const STEPS = Number(process.env.DEDUP_STEPS || 20000);

async function setup() {
  const d = await daemon.start({ needUrl: true });
  const ws = await api(d, 'POST', '/api/workspaces', { path: daemon.tmpRepo('agentd-dedup-'), name: 'w' });
  assert.equal(ws.status, 201, ws.text);
  return { d, wt: ws.body.worktrees[0].id };
}

async function trainRun(d, wt, command) {
  const a = await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command });
  assert.equal(a.status, 201, a.text);
  assert.equal((await api(d, 'POST', `/api/agents/${a.body.id}/start`, {})).status, 200);
  return until(async () => {
    const r = (await api(d, 'GET', `/api/agents/${a.body.id}/runs`)).body.runs[0];
    return r && r.status !== 'running' ? r.id : null;
  }, 'the run to end', 900000);
}

// A finished run whose points the test posts itself, and its poster.
async function restRun(d, wt) {
  const runId = await trainRun(d, wt, ['node', TRAIN, '1', '-1']);
  const post = async (points) => {
    const r = await api(d, 'POST', `/api/runs/${runId}/metrics`, { points });
    assert.equal(r.status, 200, r.text);
  };
  return { runId, post };
}

const series = async (d, runId, name) =>
  (await api(d, 'GET', `/api/runs/${runId}/metrics`)).body.series.find((s) => s.name === name);

// The export's rows of one series: [{step, value}].
async function rows(d, runId, name) {
  const r = await api(d, 'GET', `/api/runs/${runId}/metrics/export?format=jsonl&names=${name}`);
  assert.equal(r.status, 200);
  return r.text.trimEnd().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

test(`a metrics line and an agent_update for each of ${STEPS} steps: ${STEPS} points a series, the update's value`, async () => {
  const { d, wt } = await setup();
  try {
    const runId = await trainRun(d, wt, ['node', BOTH, String(STEPS)]);
    const fps = await until(async () => {
      const s = await series(d, runId, 'fps');
      return s && s.lastStep === STEPS - 1 ? s : null;
    }, 'every step stored', 300000);
    assert.equal(fps.count, STEPS);
    const reward = await series(d, runId, 'reward');
    assert.equal(reward.count, STEPS, 'one reward point a step, not two');
    assert.equal(reward.minValue, 0, 'the line\'s -1 was replaced by the update\'s value');
    assert.equal(reward.maxValue, 99);
    assert.equal(reward.firstValue, 0);
    assert.equal(reward.lastValue, (STEPS - 1) % 100);
    assert.equal((await series(d, runId, 'loss')).count, STEPS);
    const all = await api(d, 'GET', `/api/runs/${runId}/metrics/export?format=csv`);
    const lines = all.text.trimEnd().split('\n');
    assert.equal(lines.length - 1, 3 * STEPS, 'reward, loss and fps: one row per step each');
    const rw = await rows(d, runId, 'reward');
    assert.equal(rw.length, STEPS);
    rw.forEach((p, i) => {
      assert.equal(p.step, i);
      assert.equal(p.value, i % 100);
    });
    const q = await api(d, 'GET', `/api/runs/${runId}/metrics/reward?buckets=1`);
    assert.equal(q.body.points, STEPS);
    assert.equal(q.body.buckets.min[0], 0);
  } catch (e) {
    process.stderr.write(d.stderr.slice(-4000));
    throw e;
  } finally {
    await d.cleanup();
  }
});

test('a step written again over REST replaces its point: in a batch, across batches and chunk rows', async () => {
  const { d, wt } = await setup();
  try {
    const { runId, post } = await restRun(d, wt);
    // one point, rewritten: it is the first and the last value
    await post([{ name: 'x', step: 0, value: 5 }]);
    await post([{ name: 'x', step: 0, value: 7 }]);
    let s = await series(d, runId, 'x');
    assert.deepEqual([s.count, s.firstValue, s.lastValue, s.minValue, s.maxValue], [1, 7, 7, 7, 7]);
    // a batch with a step three times: the last one is kept
    await post([{ name: 'x', step: 1, value: 1 }, { name: 'x', step: 1, value: 100 }, { name: 'x', step: 1, value: 3 }]);
    s = await series(d, runId, 'x');
    assert.deepEqual([s.count, s.lastValue, s.minValue, s.maxValue], [2, 3, 3, 7]);
    // the max, written again lower in a later batch: the max falls back
    await post([{ name: 'x', step: 2, value: 1000 }]);
    assert.equal((await series(d, runId, 'x')).maxValue, 1000);
    await post([{ name: 'x', step: 2, value: 4 }]);
    s = await series(d, runId, 'x');
    assert.deepEqual([s.count, s.lastValue, s.minValue, s.maxValue], [3, 4, 3, 7]);
    // 5,000 more steps (several full chunk rows), each the end of a batch
    // rewritten by the next batch's first point
    const n = 5000;
    for (let off = 3; off < n; off += 1000) {
      const end = Math.min(off + 1000, n);
      const pts = [];
      if (off > 3) pts.push({ name: 'x', step: off - 1, value: off - 1 }); // the rewrite
      for (let k = off; k < end; k++) pts.push({ name: 'x', step: k, value: k === end - 1 ? -50 : k });
      await post(pts);
    }
    s = await series(d, runId, 'x');
    assert.equal(s.count, n);
    assert.equal(s.lastStep, n - 1);
    assert.equal(s.minValue, -50, 'the last point is still -50');
    // and once more at the very end
    await post([{ name: 'x', step: n - 1, value: n - 1 }]);
    s = await series(d, runId, 'x');
    assert.deepEqual([s.count, s.minValue, s.maxValue, s.lastValue], [n, 3, n - 1, n - 1]);
    const rw = await rows(d, runId, 'x');
    assert.equal(rw.length, n);
    assert.deepEqual(rw.slice(0, 3).map((p) => p.value), [7, 3, 4]);
    rw.slice(3).forEach((p, i) => assert.equal(p.value, i + 3, `step ${i + 3}`));
    const q = await api(d, 'GET', `/api/runs/${runId}/metrics/x?buckets=7`);
    assert.equal(q.body.points, n);
    assert.equal(Math.min(...q.body.buckets.min), 3);
    assert.equal(q.body.buckets.count.reduce((a, b) => a + b, 0), n);

    // older steps written again (a program rewound to a checkpoint): in an
    // early chunk row, in the open one, the first point; then back
    await post([{ name: 'x', step: 10, value: 1e6 }, { name: 'x', step: n - 5, value: -7 }, { name: 'x', step: 0, value: 2 }]);
    s = await series(d, runId, 'x');
    assert.deepEqual([s.count, s.lastStep, s.lastValue, s.firstValue, s.minValue, s.maxValue], [n, n - 1, n - 1, 2, -7, 1e6]);
    let rw2 = await rows(d, runId, 'x');
    assert.equal(rw2.length, n);
    assert.deepEqual([rw2[0].value, rw2[10].value, rw2[n - 5].value, rw2[11].value], [2, 1e6, -7, 11]);
    const spike = await api(d, 'GET', `/api/runs/${runId}/metrics/x?buckets=3`);
    assert.equal(Math.max(...spike.body.buckets.max), 1e6, 'the chunk summary follows');
    await post([{ name: 'x', step: 10, value: 10 }, { name: 'x', step: n - 5, value: n - 5 }]);
    s = await series(d, runId, 'x');
    assert.deepEqual([s.count, s.minValue, s.maxValue], [n, 2, n - 1]);
    // a step no point has is added
    await post([{ name: 'x', step: -1, value: 0.5 }]);
    s = await series(d, runId, 'x');
    assert.deepEqual([s.count, s.minValue, s.lastStep], [n + 1, 0.5, n - 1]);
    // the newest step is still replaced in place, not added again
    await post([{ name: 'x', step: n - 1, value: 42 }]);
    s = await series(d, runId, 'x');
    assert.deepEqual([s.count, s.lastStep, s.lastValue], [n + 1, n - 1, 42]);
    rw2 = await rows(d, runId, 'x');
    assert.equal(rw2.filter((p) => p.step === 10).length, 1);
    assert.equal(rw2.filter((p) => p.step === n - 1).length, 1);
  } finally {
    await d.cleanup();
  }
});

// Batches that land out of order, as parallel uploads do: the older batch's
// points are added, once each; a step written twice in one older batch is
// kept once even when the chunk row holding its first point was written
// during that batch (issue #38: such points look their steps up in sets
// made once a batch instead of scanning the series' rows one by one).
test('batches out of order: every point once, a step repeated in an older batch replaced', async () => {
  const { d, wt } = await setup();
  try {
    const { runId, post } = await restRun(d, wt);
    const steps = (lo, hi, f = (k) => k) => Array.from({ length: hi - lo }, (_, i) => ({ name: 'y', step: lo + i, value: f(lo + i) }));
    await post(steps(5000, 10000));
    await post(steps(0, 5000)); // posted first, landed second
    let s = await series(d, runId, 'y');
    assert.deepEqual([s.count, s.firstStep, s.lastStep, s.minValue, s.maxValue], [10000, 5000, 9999, 0, 9999]);
    await post([{ name: 'y', step: 20000, value: 20000 }]);
    // 3,000 older steps (more than a chunk row holds), then one of the first again
    await post([...steps(10000, 13000), { name: 'y', step: 10005, value: -77 }]);
    s = await series(d, runId, 'y');
    assert.deepEqual([s.count, s.minValue, s.lastStep], [13001, -77, 20000]);
    const rw = await rows(d, runId, 'y');
    assert.equal(rw.length, 13001);
    assert.equal(new Set(rw.map((p) => p.step)).size, 13001, 'no step twice');
    assert.equal(rw.find((p) => p.step === 10005).value, -77);
    assert.equal(rw.find((p) => p.step === 4321).value, 4321);
    // an older step of a stored row, written again later: replaced, not added
    await post([{ name: 'y', step: 7, value: 0.5 }]);
    s = await series(d, runId, 'y');
    assert.equal(s.count, 13001);
    assert.equal((await rows(d, runId, 'y')).find((p) => p.step === 7).value, 0.5);
  } finally {
    await d.cleanup();
  }
});
