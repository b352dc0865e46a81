// SPDX-License-Identifier: MIT
// Training metrics (issue #16) through the real binary: a program printing
// many points with one spike, kept in full (the spike in every zoom level,
// export rows = points written); batches over REST refused whole when one
// point is bad, compared across runs; acknowledged batches survive kill -9;
// agent_update carries the seed's flat fields.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { Live } = require('./lib/live');
const { api, until } = require('./lib/api');

const TRAIN = path.resolve(__dirname, '..', 'fixtures', 'train-agent.js');
// 200,000 by default (about a minute under the sanitizers); TRAINING_POINTS=1000000
// runs the figure.
const POINTS = Number(process.env.TRAINING_POINTS || 200000);
const SPIKE = Math.floor(POINTS * 0.7) + 3;

async function setup(opts = {}) {
  const d = await daemon.start({ needUrl: true, ...opts });
  const dir = daemon.tmpRepo('agentd-train-');
  const ws = await api(d, 'POST', '/api/workspaces', { path: dir, name: 'w' });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  return { d, wt: ws.body.worktrees[0].id };
}

// Starts a command agent and waits for its run to end; the run id.
async function trainRun(d, wt, command) {
  const a = await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command });
  assert.equal(a.status, 201, JSON.stringify(a.body));
  assert.equal((await api(d, 'POST', `/api/agents/${a.body.id}/start`, {})).status, 200);
  const run = await until(async () => {
    const r = (await api(d, 'GET', `/api/agents/${a.body.id}/runs`)).body.runs[0];
    return r && r.status !== 'running' ? r : null;
  }, 'the run to end', 600000);
  return { agentId: a.body.id, runId: run.id };
}

test('many points with one spike: kept whole, the spike at every zoom, export row count', async () => {
  const { d, wt } = await setup();
  try {
    const { runId } = await trainRun(d, wt, ['node', TRAIN, String(POINTS), String(SPIKE)]);
    const list = await until(async () => {
      const l = await api(d, 'GET', `/api/runs/${runId}/metrics`);
      const s = l.body.series.find((x) => x.name === 'return');
      return s && s.count === POINTS ? l.body.series : null;
    }, 'every point stored', 120000); // 200,000 points
    const reward = list.find((x) => x.name === 'return');
    assert.equal(reward.maxValue, 1e6);
    assert.equal(reward.firstStep, 0);
    assert.equal(reward.lastStep, POINTS - 1);
    assert.ok(list.find((x) => x.name === 'fps'), 'agent_update metrics become series');

    const zooms = [[1, 0, POINTS - 1], [7, 0, POINTS - 1], [2000, 0, POINTS - 1], [20000, 0, POINTS - 1],
      [100, SPIKE - 5000, SPIKE + 5000], [50, SPIKE - 10, SPIKE + 10], [3, SPIKE, SPIKE]];
    for (const [buckets, from, to] of zooms) {
      const q = await api(d, 'GET', `/api/runs/${runId}/metrics/return?buckets=${buckets}&from=${from}&to=${to}`);
      assert.equal(q.status, 200, q.text);
      const b = q.body.buckets;
      assert.equal(Math.max(...b.max), 1e6, `spike at buckets=${buckets} ${from}..${to}`);
      assert.equal(b.count.reduce((x, y) => x + y, 0), to - from + 1);
      assert.equal(q.body.points, to - from + 1);
    }
    const csv = await api(d, 'GET', `/api/runs/${runId}/metrics/export?format=csv&names=return`);
    assert.equal(csv.status, 200);
    const lines = csv.text.trimEnd().split('\n');
    assert.equal(lines[0], 'run_id,name,step,time_ms,value,run_name,run_color');
    assert.equal(lines.length - 1, POINTS);
    assert.ok(lines.some((l) => l.split(',')[2] === String(SPIKE) && l.split(',')[4] === '1000000'));
    const jl = await api(d, 'GET', `/api/runs/${runId}/metrics/export?format=jsonl&names=fps,reward`);
    assert.equal(jl.text.trimEnd().split('\n').length, 2 * Math.floor(POINTS / 1000));
    assert.equal(JSON.parse(jl.text.split('\n')[0]).name, 'fps');

    const bad = await api(d, 'GET', `/api/runs/${runId}/metrics/return?buckets=0`);
    assert.equal(bad.status, 422);
    assert.equal((await api(d, 'GET', `/api/runs/${runId}/metrics/nothing`)).status, 404);
    assert.equal((await api(d, 'GET', `/api/runs/run_missing/metrics`)).status, 404);
  } finally {
    await d.cleanup();
  }
});

test('batches over REST: refused whole on a bad point, compared across runs, kept across kill -9', async () => {
  const dataDir = daemon.tmpDir();
  const { d, wt } = await setup({ dataDir });
  let d2 = null;
  try {
    const a = await trainRun(d, wt, ['node', TRAIN, '10', '-1']);
    const b = await trainRun(d, wt, ['node', TRAIN, '10', '-1']);
    const pts = (n, off) => Array.from({ length: n }, (_, i) => ({ name: 'loss', step: i, value: off + 1 / (i + 1) }));
    const bad = [...pts(5, 0), { name: 'loss', step: 6, value: 'NaN' }];
    const r1 = await api(d, 'POST', `/api/runs/${a.runId}/metrics`, { points: bad });
    assert.equal(r1.status, 422);
    assert.equal(r1.body.error.details.index, 5);
    assert.equal((await api(d, 'POST', `/api/runs/${a.runId}/metrics`, { points: [{ name: '', value: 1 }] })).status, 422);
    assert.equal((await api(d, 'GET', `/api/runs/${a.runId}/metrics`)).body.series.find((s) => s.name === 'loss'), undefined);

    let acked = 0;
    for (let i = 0; i < 5; i++) {
      const batch = Array.from({ length: 3000 }, (_, k) => ({ name: 'loss', step: i * 3000 + k, value: Math.exp(-(i * 3000 + k) / 5000) }));
      const r = await api(d, 'POST', `/api/runs/${a.runId}/metrics`, { points: batch });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.points, 3000);
      acked += 3000;
    }
    assert.equal((await api(d, 'POST', `/api/runs/${b.runId}/metrics`, { points: pts(4000, 1) })).status, 200);

    const cmp = await api(d, 'GET', `/api/metrics/compare?runs=${a.runId},${b.runId}&name=loss&buckets=100`);
    assert.equal(cmp.status, 200, cmp.text);
    assert.deepEqual(cmp.body.runs.map((r) => r.runId), [a.runId, b.runId]);
    assert.equal(cmp.body.runs[0].points, acked);
    assert.equal(cmp.body.runs[1].points, 4000);
    assert.equal(cmp.body.from, 0);
    assert.equal(cmp.body.to, acked - 1);
    // the group: a mean line with a min/max band over both runs
    const g = cmp.body.group;
    assert.equal(g.x.length, g.mean.length);
    assert.equal(g.runs[0], 2);
    const a0 = cmp.body.runs[0].buckets, b0 = cmp.body.runs[1].buckets;
    assert.ok(Math.abs(g.mean[0] - (a0.mean[0] + b0.mean[0]) / 2) < 1e-9);
    assert.equal(g.max[0], Math.max(a0.max[0], b0.max[0]));
    assert.equal(g.min[0], Math.min(a0.min[0], b0.min[0]));
    const cx = await api(d, 'GET', `/api/metrics/compare/export?runs=${a.runId},${b.runId}&names=loss&format=jsonl`);
    assert.equal(cx.text.trimEnd().split('\n').length, acked + 4000);
    assert.equal((await api(d, 'GET', `/api/metrics/compare?runs=${a.runId},run_nope&name=loss`)).status, 404);

    await d.stop('SIGKILL');
    d2 = await daemon.start({ needUrl: true, dataDir });
    const loss = (await api(d2, 'GET', `/api/runs/${a.runId}/metrics`)).body.series.find((s) => s.name === 'loss');
    assert.equal(loss.count, acked, 'every acknowledged point survives kill -9');
    const q = await api(d2, 'GET', `/api/runs/${a.runId}/metrics/loss?buckets=10`);
    assert.equal(q.body.buckets.count.reduce((x, y) => x + y, 0), acked);
  } catch (e) {
    process.stderr.write(d.stderr.slice(-6000));
    throw e;
  } finally {
    if (d2) await d2.cleanup();
    await d.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('agent_update carries the seed\'s fields at the top level', async () => {
  const { d, wt } = await setup();
  try {
    const c = await Live.open(d, '/ws');
    c.send('subscribe', { topics: ['*'] });
    await trainRun(d, wt, ['node', TRAIN, '2000', '-1']);
    await c.until(() => c.msgs.some((m) => m.type === 'agent_update' && m.payload.step === 999), 20000, 'agent_update');
    const m = c.msgs.find((x) => x.type === 'agent_update' && x.payload.step === 999);
    assert.equal(typeof m.payload.id, 'string');
    assert.equal(m.payload.metrics.fps, 60);
    assert.equal(m.payload.environment, 'MegaBonk');
    assert.equal(m.payload.mind.system1.intent, 'dodge');
    c.close();
  } finally {
    await d.cleanup();
  }
});
