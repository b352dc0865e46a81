// SPDX-License-Identifier: MIT
// Numbers that are right (issue #74): every card of the Analytics view is
// checked against the API's figures for the picked runs. The defect it
// stops: "Best loss" took the maximum of every metric but reward, success
// rate and FPS, so it showed the highest loss. Best follows the API's
// direction (a loss is best at its lowest), which the metric_directions
// setting can turn.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { api, makeRepo, ROOT, pickRun, until } from './lib/harness.mjs';
import { session, waitText } from './lib/session.mjs';

const PROG = path.join(ROOT, 'tests/fixtures/loss-agent.js');

let d;
let b;
session((s) => ({ d, b } = s));

async function lossRun(wt, steps, offset) {
  const a = await api(d.url, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command: ['node', PROG, String(steps), String(offset)] });
  assert.equal(a.status, 201, JSON.stringify(a.data));
  assert.equal((await api(d.url, 'POST', `/api/agents/${a.data.id}/start`, {})).status, 200);
  return until(async () => {
    const r = (await api(d.url, 'GET', `/api/agents/${a.data.id}/runs`)).data.runs[0];
    if (!r || r.status === 'running') return null;
    const series = (await api(d.url, 'GET', `/api/runs/${r.id}/metrics`)).data.series;
    const loss = series.find((x) => x.name === 'loss');
    return loss && loss.count === steps ? r.id : null;
  }, 'a finished run with its loss');
}

const seriesOf = async (runId) => Object.fromEntries((await api(d.url, 'GET', `/api/runs/${runId}/metrics`)).data.series.map((s) => [s.name, s]));
const mean = (xs) => xs.reduce((t, x) => t + x, 0) / xs.length;
const cardValue = async (page, id) => (await page.getByTestId(`card-${id}`).locator('.card-value').innerText()).trim();

test('the Analytics cards show the API figures of the picked runs; Best loss is the lowest', async () => {
  const ws = await api(d.url, 'POST', '/api/workspaces', { path: makeRepo(), name: 'figures' });
  assert.equal(ws.status, 201);
  const wt = ws.data.worktrees[0].id;
  const runs = [await lossRun(wt, 10, 0), await lossRun(wt, 12, 1)];
  const s = await Promise.all(runs.map(seriesOf));
  // The API: a loss is best at its lowest, a reward at its highest.
  for (const x of s) {
    assert.equal(x.loss.direction, 'min');
    assert.equal(x.loss.best, x.loss.minValue);
    assert.ok(x.loss.maxValue > x.loss.minValue);
    assert.equal(x.reward.direction, 'max');
    assert.equal(x.reward.best, x.reward.maxValue);
  }
  const want = {
    reward: mean(s.map((x) => x.reward.lastValue)).toFixed(2),
    successRate: `${(mean(s.map((x) => x.successRate.lastValue)) * 100).toFixed(1)}%`,
    fps: mean(s.map((x) => x.fps.lastValue)).toFixed(0),
    loss: Math.min(...s.map((x) => x.loss.best)).toFixed(2),
  };

  const { page } = b;
  await page.goto(d.url + '/#/analytics');
  await page.getByRole('heading', { name: 'Training runs' }).waitFor();
  for (const r of runs) await pickRun(page, r);
  const lossCard = page.getByTestId('card-loss');
  await waitText(lossCard, new RegExp(`Best loss\\s+${want.loss.replace('.', '\\.')}`, 'i'), 'the Best loss card');
  assert.notEqual(want.loss, Math.max(...s.map((x) => x.loss.maxValue)).toFixed(2));
  assert.match(await lossCard.innerText(), /lowest/);
  for (const id of ['reward', 'successRate', 'fps']) {
    await until(async () => (await cardValue(page, id)) === want[id], `the ${id} card to read ${want[id]} (${await cardValue(page, id).catch(() => '?')})`);
  }

  // The direction is a setting: loss taken as higher-is-better.
  const set = await api(d.url, 'PATCH', '/api/settings', { metric_directions: { loss: 'max' } });
  assert.equal(set.status, 200, JSON.stringify(set.data));
  const bad = await api(d.url, 'PATCH', '/api/settings', { metric_directions: { loss: 'down' } });
  assert.equal(bad.status, 422, JSON.stringify(bad.data));
  const turned = await seriesOf(runs[0]);
  assert.equal(turned.loss.direction, 'max');
  assert.equal(turned.loss.best, turned.loss.maxValue);
  const high = Math.max(...(await Promise.all(runs.map(seriesOf))).map((x) => x.loss.best)).toFixed(2);
  await page.reload();
  await page.getByRole('heading', { name: 'Training runs' }).waitFor();
  for (const r of runs) await pickRun(page, r);
  await waitText(page.getByTestId('card-loss'), new RegExp(`Best loss\\s+${high.replace('.', '\\.')}\\s+highest`, 'i'), 'the Best loss card, turned');
});
