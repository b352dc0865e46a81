// SPDX-License-Identifier: MIT
// The Analytics view's distributions, cards and group band (issue #16)
// against the real daemon: two runs of a program printing histogram,
// counts and metric lines are picked; the compare chart draws the group's
// mean with its min/max band; the seed's cards show reward, success rate,
// FPS (with change and trend) and GPU utilisation (a stand-in NVML); the
// reward histogram and action distribution show both runs at the latest
// step (one posted while the page is open shows up live) and at a step
// picked with the slider, then over time; the agent
// page shows the program's step, figures and mind panel.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { api, daemon, makeRepo, ROOT, pickRun, shot, tmpDir, until } from './lib/harness.mjs';
import { session, waitText } from './lib/session.mjs';

const PROG = path.join(ROOT, 'tests/fixtures/dist-agent.js');
const FAKE_NVML = path.join(path.dirname(daemon.BIN), 'tests/fake-nvml/libnvidia-ml.so.1');

let d;
let b;
session((s) => ({ d, b } = s), {
  stop: true,
  daemon: () => {
    const state = path.join(tmpDir('agentd-gpu-'), 'gpu-state');
    fs.writeFileSync(state, 'temp=60\nutil=42\npower_mw=150000\n');
    return { args: ['--health-interval-ms', '250', '--nvml-lib', FAKE_NVML], env: { FAKE_NVML_STATE: state } };
  },
});

async function distRun(wt, steps, offset) {
  const a = await api(d.url, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command: ['node', PROG, String(steps), String(offset)] });
  assert.equal(a.status, 201);
  assert.equal((await api(d.url, 'POST', `/api/agents/${a.data.id}/start`, {})).status, 200);
  const runId = await until(async () => {
    const r = (await api(d.url, 'GET', `/api/agents/${a.data.id}/runs`)).data.runs[0];
    if (!r || r.status === 'running') return null;
    const l = (await api(d.url, 'GET', `/api/runs/${r.id}/distributions`)).data.distributions;
    const s = (await api(d.url, 'GET', `/api/runs/${r.id}/metrics`)).data.series.find((x) => x.name === 'fps');
    return l.length === 3 && s ? r.id : null;
  }, 'a finished run with its distributions');
  return { runId, agentId: a.data.id };
}

test('distributions, cards and the group band of two runs; the mind panel', async () => {
  const ws = await api(d.url, 'POST', '/api/workspaces', { path: makeRepo(), name: 'dists' });
  assert.equal(ws.status, 201);
  const wt = ws.data.worktrees[0].id;
  const one = await distRun(wt, 20, 0);
  const two = await distRun(wt, 30, 1);

  const { page } = b;
  await page.goto(d.url + '/#/analytics');
  await page.getByRole('heading', { name: 'Training runs' }).waitFor();
  await pickRun(page, one.runId);
  await pickRun(page, two.runId);
  const chart = page.locator('[data-testid=panel][data-metrics=reward]');
  await chart.locator('.training-chart .uplot canvas').waitFor();
  // the group: mean of both runs with its band (drawn once both runs'
  // series have come, which on a busy machine takes a while)
  await waitText(chart.getByTestId('group-legend'), /mean of 2 runs/, 'the group legend');
  assert.equal(await chart.getByRole('checkbox', { name: 'group band' }).isChecked(), true);
  await chart.scrollIntoViewIfNeeded();
  await shot(page, 'analytics-group');

  // the seed's cards: rewards and success rise, FPS rises a little; GPU from NVML
  const reward = page.getByTestId('card-reward');
  await until(async () => (await reward.getAttribute('data-trend')) === 'up', 'the reward trend');
  assert.match(await reward.innerText(), /Average reward[\s\S]*↗ \d+\.\d%/i);
  assert.equal(await page.getByTestId('card-successRate').getAttribute('data-trend'), 'up');
  assert.match(await page.getByTestId('card-fps').innerText(), /Training FPS\s+\d+/i);
  const gpu = page.getByTestId('card-gpu');
  await until(async () => /42%/.test(await gpu.innerText()), 'the GPU card');
  assert.match(await gpu.innerText(), /GPU util\s+42%/i);
  await page.locator('.training-cards').scrollIntoViewIfNeeded();
  await shot(page, 'analytics-cards');

  // reward histogram and action distribution, both runs at their latest step
  const region = page.getByRole('region', { name: 'Distributions' });
  await region.scrollIntoViewIfNeeded();
  await page.locator('[data-testid=hist-chart] .uplot canvas').waitFor();
  const hl = page.getByTestId('hist-legend');
  await until(async () => /step 19, 100 values/.test(await hl.innerText()) && /step 29, 100 values/.test(await hl.innerText()), 'both histograms').catch(async (e) => { throw new Error(e.message + ': ' + (await hl.innerText()) + JSON.stringify(b.errors)); });
  const bars = page.getByTestId('counts-bars');
  // (the actions come by their own request)
  await until(async () => (await bars.locator('li .bar-label').allInnerTexts()).join() === 'shoot,right,left,jump', 'the action bars').catch(async (e) => {
    throw new Error(e.message + ': ' + (await bars.innerText()));
  });
  assert.match(await bars.locator('li').first().innerText(), /40% · 40%/);
  await shot(page, 'analytics-dists-latest');

  // a histogram posted now reaches the open chart (distribution_update)
  const post = await api(d.url, 'POST', `/api/runs/${two.runId}/metrics`, { histograms: [{ name: 'reward', step: 40, values: [1, 2, 3] }] });
  assert.equal(post.status, 200);
  await until(async () => /step 40, 3 values/.test(await hl.innerText()), 'the live histogram');

  // the step slider: each run's histogram at step 5
  await page.getByRole('slider', { name: 'distribution step' }).evaluate((el) => {
    el.value = '5';
    el.dispatchEvent(new Event('input', { bubbles: true }));
  });
  await until(async () => (await hl.innerText()).match(/step 5, 100 values/g)?.length === 2, 'the histograms at step 5').catch(async (e) => { await shot(page, 'analytics-dists-fail'); throw new Error(e.message + ': ' + (await hl.innerText()) + ' / ' + (await page.getByTestId('dist-step').innerText()) + ' / ' + (await page.locator('.dists').innerText()).slice(0, 400)); });
  assert.match(await page.getByTestId('dist-step').innerText(), /≤ 5/);
  // the actions come by their own request: wait for them too
  const cl = page.getByTestId('counts-legend');
  await until(async () => /step 5, 60 actions/.test(await cl.innerText()), 'the actions at step 5').catch(async (e) => {
    throw new Error(e.message + ': ' + (await cl.innerText()));
  });

  // over time: each run's histograms as a heat map, its actions as shares
  await page.getByRole('combobox', { name: 'distribution view' }).selectOption('time');
  const heat = page.locator(`[data-testid=hist-heat][data-run=${one.runId}]`);
  await heat.waitFor();
  assert.equal(await heat.getAttribute('data-buckets'), '20');
  // the second run: 41 steps (0..29 and the one posted at 40) in 60 buckets
  assert.equal(await page.locator(`[data-testid=hist-heat][data-run=${two.runId}]`).getAttribute('data-buckets'), '31');
  await until(async () => (await page.locator('[data-testid=counts-time] .uplot canvas').count()) === 2, 'both runs\' action shares');
  await shot(page, 'analytics-dists-time');

  // the agent page: step, figures and the mind panel from agent_update
  await page.goto(d.url + `/#/agents/${two.agentId}`);
  const panel = page.getByRole('region', { name: 'Training state' });
  await panel.waitFor().catch(async (e) => {
    await shot(page, 'analytics-agent-fail');
    const st = (await api(d.url, 'GET', `/api/agents/${two.agentId}`)).data.state;
    throw new Error(`${e.message}\nstate ${JSON.stringify(st)}\npage ${(await page.locator('body').innerText()).slice(0, 600)}`);
  });
  assert.equal(await page.getByTestId('train-step').innerText(), '29');
  assert.equal(await page.getByTestId('mind-intent').innerText(), 'collect');
  const text = await panel.innerText();
  for (const want of [/MegaBonk/, /shoot/, /75% confidence/, /clear the room/, /low health/, /kite/, /50%/]) assert.match(text, want);
  assert.deepEqual(b.errors, []);
});

// Run identity (issue #35): the legend names each run once (its display
// name, not its id, one entry per run rather than per band), a renamed run
// by its new name, a run left alone by its default (agent name and number),
// each in its colour.
test('run names in the Analytics legend', async () => {
  const TRAIN = path.join(ROOT, 'tests/fixtures/train-agent.js');
  const ws = await api(d.url, 'POST', '/api/workspaces', { path: makeRepo(), name: 'names' });
  assert.equal(ws.status, 201);
  const wt = ws.data.worktrees[0].id;
  const a = await api(d.url, 'POST', '/api/agents', { worktreeId: wt, name: 'ppo-trainer', executor: 'command', command: ['node', TRAIN, '300', '-1'] });
  assert.equal(a.status, 201);
  const runs = [];
  for (let i = 0; i < 2; i++) {
    assert.equal((await api(d.url, 'POST', `/api/agents/${a.data.id}/start`, {})).status, 200);
    runs.push(await until(async () => {
      const r = (await api(d.url, 'GET', `/api/agents/${a.data.id}/runs`)).data.runs.find((x) => !runs.includes(x.id));
      if (!r || r.status === 'running') return null;
      const s = (await api(d.url, 'GET', `/api/runs/${r.id}/metrics`)).data.series.find((x) => x.name === 'return');
      return s && s.count === 300 ? r.id : null;
    }, 'a finished run with its points', 60000));
  }
  const renamed = await api(d.url, 'PATCH', `/api/runs/${runs[0]}`, { name: 'lr 3e-4 baseline', color: '#ff0000' });
  assert.equal(renamed.status, 200);
  const other = (await api(d.url, 'GET', `/api/runs/${runs[1]}`)).data;
  assert.equal(other.name, 'ppo-trainer #2');

  const { page } = b;
  await page.goto(d.url + '/#/analytics');
  await page.getByRole('heading', { name: 'Training runs' }).waitFor();
  await pickRun(page, runs[0]);
  await pickRun(page, runs[1]);
  const panel = page.locator('[data-testid=panel][data-metrics=return]');
  const legend = panel.getByTestId('run-legend');
  await until(async () => (await legend.count()) === 2, 'a legend entry per run', 45000);
  assert.deepEqual((await panel.locator('[data-testid=run-legend] .run-name').allInnerTexts()).sort(), ['lr 3e-4 baseline', 'ppo-trainer #2']);
  const text = await panel.locator('.training-legend').innerText();
  assert.ok(!text.includes(runs[0]) && !text.includes(runs[1]), `run ids in the legend: ${text}`);
  assert.equal(await page.locator('.training-chart .u-legend').count(), 0, 'no per-band legend');
  assert.equal(await panel.locator(`[data-testid=run-legend][data-run="${runs[0]}"] .swatch`).evaluate((el) => getComputedStyle(el).backgroundColor), 'rgb(255, 0, 0)');
  // The chart is made again only when what it draws changes. The page drawn
  // again for another reason (the parallel coordinates shown) keeps it; it
  // used to be made again from the same data, tens of ms a panel.
  await panel.locator('.training-chart .uplot canvas').evaluate((el) => (el.dataset.kept = '1'));
  await page.getByRole('button', { name: 'Parallel coordinates' }).click();
  await page.getByRole('button', { name: 'Hide parallel coordinates' }).waitFor();
  // two frames and the tasks after them: Preact's effects have run
  for (let i = 0; i < 2; i++) await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0))));
  assert.equal(await panel.locator('.training-chart .uplot canvas[data-kept="1"]').count(), 1, 'the chart was made again from the same data');
  // So does a refetch as points arrive (any run's: here none) with an answer
  // equal to the last.
  const answers = Number(await panel.getAttribute('data-answers'));
  await page.evaluate(() => window.__agentd.metricsTick.value++);
  await until(async () => Number(await panel.getAttribute('data-answers')) > answers, 'the refetched answer');
  for (let i = 0; i < 2; i++) await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0))));
  assert.equal(await panel.locator('.training-chart .uplot canvas[data-kept="1"]').count(), 1, 'the chart was made again from an equal answer');
  await page.getByRole('button', { name: 'Hide parallel coordinates' }).click();
  await panel.scrollIntoViewIfNeeded();
  await shot(page, 'analytics-run-names');
  assert.deepEqual(b.errors, []);
});
