// SPDX-License-Identifier: MIT
// Histograms and counts (issue #16) through the real binary: a program
// printing `histogram` (raw values binned by agentd, and its own edges) and
// `counts` lines, and REST batches; read as the latest (or at a step), a
// step range, and over time; oversize ones refused (413, nothing stored),
// malformed ones 422; another organisation gets 404.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { Live } = require('./lib/live');
const { api, until } = require('./lib/api');

const FIXTURE = path.resolve(__dirname, '..', 'fixtures', 'dist-agent.js');
const STEPS = 20;

const sum = (a) => a.reduce((x, y) => x + y, 0);

let d;
let runId;
let live;
test.before(async () => {
  d = await daemon.start({ needUrl: true });
  const ws = await api(d, 'POST', '/api/workspaces', { path: daemon.tmpRepo('agentd-dist-'), name: 'w' });
  assert.equal(ws.status, 201, ws.text);
  live = await Live.open(d, '/ws');
  live.send('subscribe', { topics: ['*'] });
  const a = await api(d, 'POST', '/api/agents', { worktreeId: ws.body.worktrees[0].id, executor: 'command', command: ['node', FIXTURE, String(STEPS)] });
  assert.equal(a.status, 201, a.text);
  assert.equal((await api(d, 'POST', `/api/agents/${a.body.id}/start`, {})).status, 200);
  runId = await until(async () => {
    const r = (await api(d, 'GET', `/api/agents/${a.body.id}/runs`)).body.runs[0];
    if (!r || r.status === 'running') return null;
    const l = await api(d, 'GET', `/api/runs/${r.id}/distributions`);
    if (!l.body.distributions) throw new Error(l.text);
    const q = l.body.distributions.find((x) => x.name === 'q');
    return q && q.steps === STEPS + 1 ? r.id : null;
  }, 'the run and its distributions', 60000); // a real run under ASan
});
test.after(async () => {
  if (live) live.close();
  await d.cleanup();
});

test('a program\'s histogram and counts lines: listed, latest, at a step', async () => {
  const l = await api(d, 'GET', `/api/runs/${runId}/distributions`);
  assert.equal(l.status, 200, l.text);
  const by = Object.fromEntries(l.body.distributions.map((x) => [`${x.kind}:${x.name}`, x]));
  assert.deepEqual(Object.keys(by).sort(), ['counts:action', 'histogram:q', 'histogram:reward']);
  assert.equal(by['histogram:reward'].steps, STEPS);
  assert.equal(by['histogram:reward'].firstStep, 0);
  assert.equal(by['histogram:reward'].lastStep, STEPS - 1);
  // a histogram without a step is the one after the last
  assert.equal(by['histogram:q'].lastStep, STEPS);

  // raw values binned: 30 equal buckets over [min, max], every value counted
  const r = await api(d, 'GET', `/api/runs/${runId}/histograms/reward`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.step, STEPS - 1);
  assert.equal(r.body.counts.length, 30);
  assert.equal(r.body.edges.length, 31);
  assert.equal(sum(r.body.counts), 100);
  assert.equal(r.body.total, 100);
  const vals = Array.from({ length: 100 }, (_, k) => Math.round(((STEPS - 1) / 10 + ((k * 37) % 100) / 25 - 2) * 100) / 100);
  assert.ok(Math.abs(r.body.edges[0] - Math.min(...vals)) < 1e-9);
  assert.ok(Math.abs(r.body.edges[30] - Math.max(...vals)) < 1e-9);
  assert.equal(r.body.firstStep, 0);
  assert.equal(r.body.lastStep, STEPS - 1);

  const at = await api(d, 'GET', `/api/runs/${runId}/histograms/q?step=5`);
  assert.deepEqual([at.body.step, at.body.edges, at.body.counts], [5, [0, 1, 2, 4], [5, 10, 1]]);
  const last = await api(d, 'GET', `/api/runs/${runId}/histograms/q`);
  assert.deepEqual([last.body.step, last.body.counts], [STEPS, [7]]);
  const c = await api(d, 'GET', `/api/runs/${runId}/counts/action?step=3`);
  assert.equal(c.status, 200, c.text);
  assert.deepEqual(c.body.counts, { jump: 4, left: 8, right: 12, shoot: 16 });
  assert.equal(c.body.total, 40);

  assert.equal((await api(d, 'GET', `/api/runs/${runId}/histograms/q?step=-1`)).status, 404);
  assert.equal((await api(d, 'GET', `/api/runs/${runId}/histograms/nothing`)).status, 404);
  assert.equal((await api(d, 'GET', `/api/runs/${runId}/counts/reward`)).status, 404, 'kinds are apart');
  assert.equal((await api(d, 'GET', `/api/runs/${runId}/histograms/q?view=sideways`)).status, 422);
  assert.equal((await api(d, 'GET', `/api/runs/${runId}/histograms/q?view=time&buckets=501`)).status, 422);
});

test('a step range, paged; over time summed on common edges, never sampled', async () => {
  const r = await api(d, 'GET', `/api/runs/${runId}/histograms/q?view=range&from=3&to=7`);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body.items.map((x) => x.step), [3, 4, 5, 6, 7]);
  assert.equal(r.body.more, false);
  const p = await api(d, 'GET', `/api/runs/${runId}/histograms/q?view=range&from=3&to=7&limit=2`);
  assert.deepEqual(p.body.items.map((x) => x.step), [3, 4]);
  assert.equal(p.body.more, true);
  assert.equal(p.body.nextFrom, 5);

  const t = await api(d, 'GET', `/api/runs/${runId}/histograms/reward?view=time&buckets=4&bins=10`);
  assert.equal(t.status, 200, t.text);
  assert.equal(t.body.edges.length, 11);
  assert.deepEqual(t.body.x, [0, 5, 10, 15]);
  assert.deepEqual(t.body.steps, [5, 5, 5, 5]);
  assert.deepEqual(t.body.total, [500, 500, 500, 500]);
  for (const row of t.body.counts) assert.ok(Math.abs(sum(row) - 500) < 1e-6, `${sum(row)}`);
  // the rewards drift up with the step: later buckets weigh the upper edges more
  const mean = (row) => sum(row.map((c, i) => c * (t.body.edges[i] + t.body.edges[i + 1]) / 2)) / sum(row);
  assert.ok(mean(t.body.counts[3]) > mean(t.body.counts[0]));

  const ct = await api(d, 'GET', `/api/runs/${runId}/counts/action?view=time&buckets=2`);
  assert.equal(ct.status, 200, ct.text);
  assert.deepEqual(ct.body.categories, ['shoot', 'right', 'left', 'jump']);
  assert.deepEqual(ct.body.steps, [10, 10]);
  // jump over steps 0..9 is 1+2+..+10
  assert.equal(ct.body.counts[0].jump, 55);
  assert.equal(ct.body.counts[1].shoot, 4 * (11 + 20) * 10 / 2);
});

test('lines past a bound or malformed are not stored and say why', async () => {
  const l = await api(d, 'GET', `/api/runs/${runId}/distributions`);
  assert.ok(!l.body.distributions.some((x) => x.name === 'big' || x.name === 'bad'));
  // each note is its own output line: wait for both, not for the first and then assert the second
  const noted = (re) => live.msgs.some((m) => m.type === 'agent_output' && re.test(m.payload.content));
  await live.until(() => noted(/histogram big not stored: 300 buckets/) && noted(/histogram bad not stored: edge 2/), undefined, 'the notes');
  const ev = live.msgs.find((m) => m.type === 'distribution_update' && m.payload.name === 'action');
  assert.ok(ev, 'distribution_update published');
  assert.equal(ev.payload.runId, runId);
  assert.equal(ev.payload.kind, 'counts');
});

test('REST batches: histograms and counts with or without points; oversize 413, malformed 422, nothing stored', async () => {
  const url = `/api/runs/${runId}/metrics`;
  const ok = await api(d, 'POST', url, {
    histograms: [
      { name: 'value', step: 10, edges: [-1, 0, 1], counts: [3, 4] },
      { name: 'value', values: [1, 2, 2, 3, 3, 3], bins: 3 },
    ],
    counts: [{ name: 'option', step: 10, counts: { a: 1, b: 2 } }],
  });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.body.distributions, 3);
  assert.equal(ok.body.points, 0);
  const v = await api(d, 'GET', `/api/runs/${runId}/histograms/value`);
  assert.equal(v.body.step, 11, 'no step: the last + 1');
  assert.deepEqual(v.body.counts, [1, 2, 3]);
  assert.deepEqual(v.body.edges.map((x) => Math.round(x * 1000) / 1000), [1, 1.667, 2.333, 3]);
  const mixed = await api(d, 'POST', url, { points: [{ name: 'loss', value: 1 }], counts: [{ name: 'option', counts: { c: 5 } }] });
  assert.equal(mixed.status, 200, mixed.text);
  assert.deepEqual([mixed.body.points, mixed.body.distributions], [1, 1]);

  const before = (await api(d, 'GET', `/api/runs/${runId}/distributions`)).body;
  const good = { name: 'fresh', step: 1, edges: [0, 1], counts: [1] };
  const cases = [
    [413, { histograms: [good, { name: 'x', edges: Array.from({ length: 258 }, (_, i) => i), counts: Array(257).fill(0) }] }, 1],
    [413, { histograms: [good, { name: 'x', values: Array(100001).fill(1) }] }, 1],
    [413, { counts: [{ name: 'x', counts: Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`c${i}`, 1])) }] }, 0],
    [413, { histograms: Array.from({ length: 1001 }, () => good) }, undefined],
    [422, { histograms: [good, { name: 'x', edges: [0, 0], counts: [1] }] }, 1],
    [422, { histograms: [{ name: 'x', edges: [0, 1, 2], counts: [1] }] }, 0],
    [422, { histograms: [{ name: 'x', edges: [0, 1], counts: [-1] }] }, 0],
    [422, { histograms: [{ name: 'x', edges: [-1e308, 1e308], counts: [1] }] }, 0],
    [422, { histograms: [{ name: 'x', edges: [0, 1], counts: [1e16] }] }, 0],
    [422, { histograms: [{ name: 'x', values: [1, -1e301] }] }, 0],
    [422, { histograms: [{ name: 'x', values: [] }] }, 0],
    [422, { histograms: [{ name: 'x', values: [1], bins: 0 }] }, 0],
    [422, { counts: [{ name: 'x', counts: { a: 'many' } }] }, 0],
    [422, { counts: [{ name: '', counts: { a: 1 } }] }, 0],
    [422, { histograms: 'no' }, undefined],
    [422, {}, undefined],
  ];
  for (const [status, body, index] of cases) {
    const r = await api(d, 'POST', url, body);
    assert.equal(r.status, status, `${JSON.stringify(body).slice(0, 120)}: ${r.text.slice(0, 300)}`);
    assert.ok(r.body.error.message.length > 0);
    if (index !== undefined) assert.equal(r.body.error.details.index, index, r.text);
  }
  assert.deepEqual((await api(d, 'GET', `/api/runs/${runId}/distributions`)).body, before, 'nothing stored');
});

test('another organisation: 404 as for a missing run', async () => {
  const org = await api(d, 'POST', '/api/orgs', { name: 'org b' });
  assert.equal(org.status, 201, org.text);
  const tok = await api(d, 'POST', '/api/tokens', { name: 'b', scope: 'admin', orgId: org.body.id });
  assert.equal(tok.status, 201, tok.text);
  const b = { authorization: `Bearer ${tok.body.token}` };
  for (const p of ['distributions', 'histograms/reward', 'counts/action?view=time', 'histograms/q?view=range']) {
    const r = await api(d, 'GET', `/api/runs/${runId}/${p}`, undefined, b);
    assert.equal(r.status, 404, `${p}: ${r.text}`);
    const m = await api(d, 'GET', `/api/runs/run_missing/${p}`, undefined, b);
    assert.deepEqual(r.body.error.code, m.body.error.code);
  }
  const w = await api(d, 'POST', `/api/runs/${runId}/metrics`, { counts: [{ name: 'x', counts: { a: 1 } }] }, b);
  assert.equal(w.status, 404);
});
