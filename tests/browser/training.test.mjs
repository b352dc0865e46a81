// SPDX-License-Identifier: MIT
// The Analytics page's training runs (issue #16) against the real daemon:
// two runs of a training program print curves (one with a spike), both are
// picked in the runs table, the chart compares them with every run's
// points in the legend, a point posted while the chart is open shows up
// live, picking a run again reads nothing twice, the export links name
// both runs, and the agent page shows the program's step, figures and mind
// panel.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { api, makeRepo, pickRun, ROOT, shot, until } from './lib/harness.mjs';
import { session } from './lib/session.mjs';

const TRAIN = path.join(ROOT, 'tests/fixtures/train-agent.js');

let d;
let b;
session((s) => ({ d, b } = s), { stop: true });

async function trainRun(wt, count, spike) {
  const a = await api(d.url, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command: ['node', TRAIN, String(count), String(spike)] });
  assert.equal(a.status, 201);
  assert.equal((await api(d.url, 'POST', `/api/agents/${a.data.id}/start`, {})).status, 200);
  return until(async () => {
    const r = (await api(d.url, 'GET', `/api/agents/${a.data.id}/runs`)).data.runs[0];
    if (!r || r.status === 'running') return null;
    const s = (await api(d.url, 'GET', `/api/runs/${r.id}/metrics`)).data.series.find((x) => x.name === 'return');
    return s && s.count === count ? r.id : null;
  }, 'a finished run with its points').then((runId) => ({ runId, agentId: a.data.id }));
}

test('two runs compared on one chart, live points, export', async () => {
  const ws = await api(d.url, 'POST', '/api/workspaces', { path: makeRepo(), name: 'train' });
  assert.equal(ws.status, 201);
  const wt = ws.data.worktrees[0].id;
  const t1 = await trainRun(wt, 5000, 1234);
  const r1 = t1.runId;
  const r2 = (await trainRun(wt, 3000, -1)).runId;

  const { page } = b;
  await page.goto(d.url + '/#/analytics');
  await page.getByRole('heading', { name: 'Training runs' }).waitFor();
  // the two most recent runs with metrics are drawn at first; a panel per metric
  await pickRun(page, r1);
  await pickRun(page, r2);
  const chart = page.locator('[data-testid=panel][data-metrics=return]');
  await chart.locator('.training-chart .uplot canvas').waitFor();
  const legend = chart.locator('.training-legend');
  await until(async () => /5000 points/.test(await legend.innerText()) && /3000 points/.test(await legend.innerText()), 'both runs in the legend');
  // each run once, by its display name (issue #35), not its id
  for (const id of [r1, r2]) {
    const name = (await api(d.url, 'GET', `/api/runs/${id}`)).data.name;
    assert.ok(name, `run ${id} has a display name`);
    assert.ok((await legend.innerText()).includes(name), `${name} in the legend`);
    assert.doesNotMatch(await legend.innerText(), new RegExp(id));
  }

  // picking a run again asks for none of the runs' own reads (series, curves,
  // distributions): they were read for these live counters already; only
  // the chart's compare goes out (issue #38)
  const ticks = () => page.evaluate(() => ['metricsTick', 'runsTick', 'distTick'].map((k) => window.__agentd[k].value).join());
  const asked = [];
  const onRequest = (r) => {
    const p = new URL(r.url()).pathname;
    if (p.startsWith('/api/runs/')) asked.push(p);
  };
  const box = page.getByRole('checkbox', { name: `compare ${r1}` });
  await until(async () => {
    asked.length = 0;
    const before = await ticks();
    page.on('request', onRequest);
    await box.click();
    await until(async () => !/5000 points/.test(await legend.innerText()), 'run 1 out of the chart');
    await pickRun(page, r1);
    await until(async () => /5000 points/.test(await legend.innerText()), 'run 1 back in the chart');
    page.off('request', onRequest);
    return (await ticks()) === before || null; // a live event between: once more
  }, 'a pick with no live event between');
  assert.deepEqual(asked, []);

  // a point posted now reaches the open chart without a reload
  const p = await api(d.url, 'POST', `/api/runs/${r2}/metrics`, { points: [{ name: 'return', step: 3000, value: 2 }] });
  assert.equal(p.status, 200);
  await until(async () => /3001 points/.test(await legend.innerText()), 'the live point');

  // the seed's cards: the latest reward and FPS the programs reported, the best return
  assert.match(await page.getByTestId('card-fps').innerText(), /Training FPS\s+60/i);
  assert.match(await page.getByTestId('card-return').innerText(), /Best return\s+1000000\.00/i);
  const csv = await chart.getByRole('link', { name: 'CSV' }).getAttribute('href');
  assert.ok(csv.includes(r1) && csv.includes(r2) && csv.includes('format=csv'), csv);
  const res = await api(d.url, 'GET', csv.replace(/^https?:\/\/[^/]+/, ''));
  assert.equal(res.status, 200);
  await chart.scrollIntoViewIfNeeded();
  await shot(page, 'training-compare');

  // the agent page shows the program's own state and mind panel
  await page.goto(d.url + `/#/agents/${t1.agentId}`);
  const panel = page.getByRole('region', { name: 'Training state' });
  await panel.waitFor();
  assert.equal(await page.getByTestId('train-step').innerText(), (4999).toLocaleString('en-US'));
  assert.equal(await page.getByTestId('mind-intent').innerText(), 'dodge');
  assert.match(await panel.innerText(), /MegaBonk/);
  assert.match(await panel.innerText(), /jump/);
});
