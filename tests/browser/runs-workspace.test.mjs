// SPDX-License-Identifier: MIT
// The training workspace (issue #35) against the real daemon, one daemon
// for the file: runs are named in the legends and the hover box shows
// each run's value at the cursor; a panel draws two metrics and its layout
// is saved on the server (a reload, another browser, shows it); a run's
// name edited on the page renames it in the list and the legend; the runs
// list is live (a run appears, reports, and turns finished without a
// reload) and leaves out runs without metrics unless asked.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { api, makeRepo, ROOT, shot, until } from './lib/harness.mjs';
import { session, waitAttr, waitText } from './lib/session.mjs';

const BOTH = path.join(ROOT, 'tests/fixtures/train-both.js');
const UNTIL = path.join(ROOT, 'tests/fixtures/train-until.js');

let d;
let b;
session((s) => ({ d, b } = s));

let wt;
let repo;
// one workspace for the file's runs, made by the first test that needs it
async function workspace() {
  if (!wt) {
    repo = makeRepo();
    const ws = await api(d.url, 'POST', '/api/workspaces', {
      path: repo,
      name: 'runs',
    });
    assert.equal(ws.status, 201);
    wt = ws.data.worktrees[0].id;
  }
  return wt;
}
async function agent(name, command) {
  const a = await api(d.url, 'POST', '/api/agents', {
    name,
    worktreeId: await workspace(),
    executor: 'command',
    command,
  });
  assert.equal(a.status, 201);
  assert.equal((await api(d.url, 'POST', `/api/agents/${a.data.id}/start`, {})).status, 200);
  return a.data.id;
}
async function finished(agentId) {
  return until(async () => {
    const r = (await api(d.url, 'GET', `/api/agents/${agentId}/runs`)).data.runs[0];
    return r && r.status !== 'running' ? r : null;
  }, 'a finished run');
}

test('names in legends, values at the cursor, two metrics in a saved panel, a run renamed', async () => {
  const one = await finished(await agent('ppo-seed1', ['node', BOTH, '300']));
  const two = await finished(await agent('ppo-seed2', ['node', BOTH, '200']));
  const shell = await finished(await agent('a shell', ['sh', '-c', 'echo hi']));
  const { page } = b;
  await page.goto(d.url + '/#/analytics');
  const list = page.getByTestId('run-list');
  await list.locator(`tr[data-run="${one.id}"]`).waitFor();
  // runs without metrics only when asked
  assert.equal(await list.locator(`tr[data-run="${shell.id}"]`).count(), 0);
  await page.getByRole('checkbox', { name: 'runs without metrics' }).check();
  await list.locator(`tr[data-run="${shell.id}"]`).waitFor();
  await page.getByRole('checkbox', { name: 'runs without metrics' }).uncheck();
  await until(async () => (await list.locator(`tr[data-run="${shell.id}"]`).count()) === 0, 'the shell run gone again');

  // the default workspace: a panel per metric the picked runs have, both
  // runs picked, each named once in the legend (never by id)
  const reward = page.locator('[data-testid=panel][data-metrics=reward]');
  const legend = reward.locator('.training-legend');
  await waitText(legend, new RegExp(`${one.name}[\\s\\S]*${two.name}|${two.name}[\\s\\S]*${one.name}`), 'both runs in the legend');
  assert.doesNotMatch(await legend.innerText(), /run_/);
  assert.equal(await reward.locator('[data-testid=run-legend]').count(), 2);
  for (const m of ['loss', 'fps']) await page.locator(`[data-testid=panel][data-metrics=${m}]`).waitFor();

  // hover: each run's value at the cursor, by name
  // (the chart may be drawn again as the runs' last points arrive: the pointer
  // goes to where it is now, each try)
  const over = reward.locator('.u-over');
  const hover = reward.getByTestId('chart-hover');
  // the row's text is read in the same try: a redraw as points arrive may
  // take the box away again right after it showed both runs
  let oneText = '';
  await until(async () => {
    // a throw (detached while we moved) is another try: until() catches it
    await over.scrollIntoViewIfNeeded({ timeout: 5000 });
    const box = await over.boundingBox();
    if (!box) return false;
    await page.mouse.move(box.x + box.width * 0.25, box.y + box.height / 2);
    if ((await hover.locator(`[data-run="${one.id}"]`).count()) !== 1 || (await hover.locator(`[data-run="${two.id}"]`).count()) !== 1) return false;
    oneText = await hover.locator(`[data-run="${one.id}"]`).innerText({ timeout: 2000 });
    return true;
  }, 'both runs in the hover box');
  assert.match(oneText, new RegExp(`${one.name}\\s+\\d`));
  await shot(page, 'runs-hover');

  // two metrics in one panel, saved on the server
  await reward.getByRole('combobox', { name: 'add a metric to reward' }).selectOption('loss');
  const both = page.locator('[data-testid=panel][data-metrics="reward,loss"]');
  await both.locator('.uplot canvas').waitFor();
  await waitAttr(page.getByTestId('layout-state'), 'data-state', 'saved', 'the layout saved');
  const saved = (await api(d.url, 'GET', '/api/training/layout')).data.layout;
  assert.ok(
    saved.panels.some((p) => p.metrics.join(',') === 'reward,loss'),
    JSON.stringify(saved),
  );
  await page.reload();
  await page.locator('[data-testid=panel][data-metrics="reward,loss"] .uplot canvas').waitFor();
  assert.equal(await page.locator('[data-testid=panel][data-metrics="reward,loss"] [data-testid=run-legend]').count(), 2);
  await shot(page, 'runs-two-metrics');

  // a refused layout changes nothing
  const bad = await api(d.url, 'PUT', '/api/training/layout', {
    panels: [{ id: 'x', metrics: [] }],
  });
  assert.equal(bad.status, 422);
  assert.equal(bad.data.error.details.field, 'panels[0].metrics');
  assert.deepEqual((await api(d.url, 'GET', '/api/training/layout')).data.layout, saved);

  // rename a run on the page: the list and the legend follow
  await page.getByRole('button', { name: `edit ${one.name}` }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByRole('textbox', { name: 'run name' }).fill('seed one');
  await dialog.getByRole('textbox', { name: 'run tags' }).fill('baseline, seeds');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await waitText(page.locator(`[data-testid=run-list] tr[data-run="${one.id}"]`), /seed one[\s\S]*baseline[\s\S]*seeds/, 'the renamed run in the list');
  await waitText(page.locator('[data-testid=panel][data-metrics="reward,loss"] .training-legend'), /seed one/, 'the renamed run in the legend');
  const after = (await api(d.url, 'GET', `/api/runs/${one.id}`)).data;
  assert.equal(after.name, 'seed one');
  assert.deepEqual(after.tags, ['baseline', 'seeds']);
  // filter by tag: only the tagged run
  await page.getByRole('textbox', { name: 'run tag' }).fill('baseline');
  await page.getByRole('button', { name: 'Filter' }).click();
  await until(async () => (await list.locator('tbody tr').count()) === 1, 'only the tagged run');
  assert.equal(await list.locator('tbody tr').getAttribute('data-run'), one.id);
  await page.getByRole('button', { name: 'Clear filters' }).click();
});

test('the runs list is live: a run appears, reports and finishes without a reload', async () => {
  const { page } = b;
  await page.goto(d.url + '/#/analytics');
  const list = page.getByTestId('run-list');
  await list.locator('tbody tr').first().waitFor();
  // in the worktree: the program's sandbox sees it
  const id = await agent('live-trainer', ['node', UNTIL, 'stop-flag']);
  const run = await until(async () => (await api(d.url, 'GET', `/api/agents/${id}/runs`)).data.runs[0], 'the run');
  const row = list.locator(`tr[data-run="${run.id}"]`);
  await row.waitFor();
  assert.equal(await row.getAttribute('data-status'), 'running');
  fs.writeFileSync(path.join(repo, 'stop-flag'), '');
  await waitAttr(row, 'data-status', 'succeeded', 'the run turned finished in place');
  await waitText(row, /Succeeded/i, 'its badge');
});

test('the run page: its commit, config, metrics, system use, log and files', async () => {
  const { page } = b;
  const cfg = await api(d.url, 'POST', '/api/configs', {
    name: 'lr small',
    schemaId: 'ppo',
    values: { learningRate: 0.0002 },
  });
  assert.equal(cfg.status, 201);
  const a = await api(d.url, 'POST', '/api/agents', {
    name: 'page-trainer',
    worktreeId: await workspace(),
    executor: 'command',
    command: ['sh', '-c', `echo hello from the run; exec node ${UNTIL} page-flag`],
  });
  assert.equal(
    (
      await api(d.url, 'POST', `/api/agents/${a.data.id}/start`, {
        configId: cfg.data.id,
      })
    ).status,
    200,
  );
  const run = await until(async () => (await api(d.url, 'GET', `/api/agents/${a.data.id}/runs`)).data.runs[0], 'the run');
  // open it from the runs list, by its name
  await page.goto(d.url + '/#/analytics');
  await page.locator(`[data-testid=run-list] tr[data-run="${run.id}"] a.run-name`).click();
  const rp = page.getByTestId('run-page');
  await waitAttr(rp, 'data-run', run.id, 'the run page');
  assert.equal(await page.getByTestId('run-title').innerText(), run.name);
  await waitText(page.getByTestId('run-commit'), /[0-9a-f]{7} first on main/, 'the commit it started from');
  assert.match(await page.getByTestId('run-config').innerText(), /learningRate\s+2e-4/);
  for (const m of ['reward', 'loss']) await rp.locator(`[data-testid=panel][data-metrics=${m}] .uplot canvas`).waitFor();
  await waitText(page.getByTestId('run-log'), /hello from the run/, 'its log');
  fs.writeFileSync(path.join(repo, 'page-flag'), '');
  await waitAttr(rp, 'data-status', 'succeeded', 'the run turned finished on its page');
  await waitText(page.getByTestId('system-legend'), /CPU %/, 'the machine during the run');
  await waitText(page.getByTestId('run-files'), /page-flag/, 'the file it left in the worktree');
  await shot(page, 'run-page');
});

test('parallel coordinates: brushing an axis narrows the runs list', async () => {
  const { page } = b;
  const HP = path.join(ROOT, 'tests/fixtures/hp-trainer.js');
  const lrs = [0.001, 0.002, 0.004, 0.008];
  const runs = [];
  for (const lr of lrs) {
    const cfg = await api(d.url, 'POST', '/api/configs', { name: `lr ${lr}`, schemaId: 'ppo', values: { learningRate: lr } });
    assert.equal(cfg.status, 201);
    const a = await api(d.url, 'POST', '/api/agents', { name: `hp ${lr}`, worktreeId: await workspace(), executor: 'command', command: ['node', HP] });
    assert.equal((await api(d.url, 'POST', `/api/agents/${a.data.id}/start`, { configId: cfg.data.id })).status, 200);
    runs.push(await finished(a.data.id));
  }
  await page.goto(d.url + '/#/analytics');
  await page.getByRole('button', { name: 'Parallel coordinates' }).click();
  const pc = page.getByTestId('parcoords');
  await until(async () => ((await pc.getAttribute('data-axes')) || '').split(',').includes('config.learningRate'), 'a learning-rate axis');
  const axes = (await pc.getAttribute('data-axes')).split(',');
  const lay = JSON.parse(await pc.getAttribute('data-layout'));
  const box = await pc.boundingBox();
  const x = box.x + lay.xs[axes.indexOf('config.learningRate')];
  const y = (v) => box.y + lay.bottom - v * (lay.bottom - lay.top);
  // every config run is on the axis (the page-trainer's 2e-4 is its lowest);
  // brush from the top down to 0.3 of the axis: 0.004 and 0.008, not 0.002
  await pc.scrollIntoViewIfNeeded();
  const top = await pc.boundingBox();
  const dy = top.y - box.y;
  await page.mouse.move(x, y(1) + dy);
  await page.mouse.down();
  await page.mouse.move(x, y(0.3) + dy, { steps: 5 });
  await page.mouse.up();
  const list = page.getByTestId('run-list');
  await until(async () => (await list.locator('tbody tr').count()) === 2, 'the list narrowed to the brushed runs').catch(async (e) => {
    await shot(page, 'parcoords-fail');
    throw new Error(`${e.message}: ${await page.getByTestId('pc-count').innerText()} / ${await page.getByTestId('runs-count').innerText()} / ${axes}`);
  });
  assert.deepEqual((await list.locator('tbody tr').evaluateAll((l) => l.map((r) => r.dataset.run))).sort(), [runs[2].id, runs[3].id].sort());
  await waitText(page.getByTestId('runs-count'), /2 of \d+ runs match the brushes/, 'the count');
  // the learning rate decides reward here: it leads the importance table
  await waitText(page.getByTestId('importance').locator('tbody tr').first(), /learningRate/, 'the importance table');
  await shot(page, 'parcoords-brushed');
  await page.getByRole('button', { name: 'Clear brushes' }).click();
  await until(async () => (await list.locator('tbody tr').count()) > 2, 'every run back');
});
