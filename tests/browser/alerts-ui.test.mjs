// SPDX-License-Identifier: MIT
// Alerts and sweeps on the dashboard (issue #35) against the real daemon:
// a rule that stops a run whose loss goes NaN fires while the run's page
// is open: a toast names the rule and what was done, the page shows the
// firing and the run turns stopped, with no reload; a sweep's progress and
// best trial show on the training workspace as its trials run.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { api, makeRepo, ROOT, shot, until } from './lib/harness.mjs';
import { session, waitAttr, waitText } from './lib/session.mjs';

const NAN = path.join(ROOT, 'tests/fixtures/train-nan.js');
const HP = path.join(ROOT, 'tests/fixtures/hp-trainer.js');

let d;
let b;
session((s) => ({ d, b } = s));

let wt;
async function worktree() {
  if (!wt) {
    const ws = await api(d.url, 'POST', '/api/workspaces', { path: makeRepo(), name: 'alerts' });
    assert.equal(ws.status, 201);
    wt = ws.data.worktrees[0].id;
  }
  return wt;
}

// The routes come from the server side of issue #35 (branch trainsrv); a
// build without them says so and skips rather than fail.
async function missing(t, route) {
  const gone = (await api(d.url, 'GET', route)).status === 404;
  if (gone) t.skip(`${route} is not in this build`);
  return gone;
}

test('an alert fires on an open run page: a toast, the firing, the run stopped', async (t) => {
  if (await missing(t, '/api/alert-rules')) return;
  const { page } = b;
  const rule = await api(d.url, 'POST', '/api/alert-rules', { name: 'loss went NaN', kind: 'nan', series: 'loss', action: 'stop' });
  assert.equal(rule.status, 201, JSON.stringify(rule.data));
  // a run that reaches NaN only after the page is open
  const a = await api(d.url, 'POST', '/api/agents', { name: 'nan-trainer', worktreeId: await worktree(), executor: 'command', command: ['node', NAN, '40'] });
  assert.equal((await api(d.url, 'POST', `/api/agents/${a.data.id}/start`, {})).status, 200);
  const run = await until(async () => (await api(d.url, 'GET', `/api/agents/${a.data.id}/runs`)).data.runs[0], 'the run');
  await page.goto(d.url + `/#/runs/${run.id}`);
  const rp = page.getByTestId('run-page');
  await waitAttr(rp, 'data-run', run.id, 'the run page');
  const toast = page.locator('.toast', { hasText: 'loss went NaN fired' });
  await waitText(toast, /loss went NaN fired[\s\S]*stop/, 'the alert toast');
  assert.equal(await toast.getByRole('link', { name: 'loss went NaN fired' }).getAttribute('href'), `#/runs/${run.id}`);
  await waitAttr(rp, 'data-status', 'stopped', 'the run stopped by the alert');
  await waitText(page.getByTestId('run-alerts'), /loss went NaN[\s\S]*stop: done/, 'the firing on the run page');
  await shot(page, 'alert-run-stopped');
});

test("a sweep's progress and best trial on the training workspace", async (t) => {
  if (await missing(t, '/api/sweeps')) return;
  const { page } = b;
  const tpl = await api(d.url, 'POST', '/api/agents', { name: 'hp-template', worktreeId: await worktree(), executor: 'command', command: ['node', HP] });
  assert.equal(tpl.status, 201);
  await page.goto(d.url + '/#/analytics');
  const sw = await api(d.url, 'POST', '/api/sweeps', {
    name: 'lr sweep',
    agentId: tpl.data.id,
    schemaId: 'ppo',
    method: 'grid',
    params: { learningRate: { values: [0.001, 0.004] } },
    metric: { name: 'reward', goal: 'maximize' },
    parallel: 1,
  });
  assert.equal(sw.status, 201, JSON.stringify(sw.data));
  const row = page.locator(`[data-testid=sweep][data-sweep="${sw.data.id}"]`);
  await waitAttr(row, 'data-status', 'done', 'the sweep done', 60000);
  await waitText(row.getByTestId('sweep-progress'), /2\/2 trials/, 'its progress');
  const done = (await api(d.url, 'GET', `/api/sweeps/${sw.data.id}`)).data;
  const best = done.state.trials.find((x) => x.n === done.state.best.trial);
  assert.equal(best.params.learningRate, 0.004);
  await waitText(row.getByTestId('sweep-best'), new RegExp(`best reward 0\\.4 · ${best.name}`), 'its best trial, by name');
  assert.equal(await row.getByTestId('sweep-best').getByRole('link').getAttribute('href'), `#/runs/${done.state.best.runId}`);
  await row.getByRole('button', { name: 'lr sweep' }).click();
  assert.equal(await row.getByTestId('sweep-trials').locator('tbody tr').count(), 2);
  await shot(page, 'sweep-progress');
});
