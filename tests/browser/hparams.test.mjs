// SPDX-License-Identifier: MIT
// Hyper-parameter configs and the runs table on the Analytics page (issue
// #16) against the real daemon: runs of a training program started with
// two configs fill the runs table, which sorts by a config field when its
// header is clicked (again to flip), filters by a comparison and narrows
// to one agent or workspace; the
// config editor makes a PPO config, hints a mini-batch off its step as it
// is typed and shows the server's 422 under that field on Save, applies a
// preset, saves a value, resets to defaults, and starts an agent with it.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { api, makeRepo, ROOT, shot, until } from './lib/harness.mjs';
import { session } from './lib/session.mjs';

// Reads its config from AGENTD_CONFIG; reward peaks at 1000 * learningRate.
const trainer = path.join(ROOT, 'tests/fixtures/hp-trainer.js');

let d;
let b;
session((s) => ({ d, b } = s), { stop: true });

async function runFinished(agentId, n = 1) {
  return until(async () => {
    const runs = (await api(d.url, 'GET', `/api/agents/${agentId}/runs`)).data.runs;
    const r = runs[0];
    if (runs.length < n || !r || r.status === 'running') return null;
    const s = (await api(d.url, 'GET', `/api/runs/${r.id}/metrics`)).data.series;
    return s.length === 2 && s.every((x) => x.count === 11) ? r : null;
  }, 'a finished run with its points');
}

async function trainWith(wt, name, values) {
  const c = await api(d.url, 'POST', '/api/configs', { name, schemaId: 'ppo', values });
  assert.equal(c.status, 201, JSON.stringify(c.data));
  const a = await api(d.url, 'POST', '/api/agents', { worktreeId: wt, name: `agent-${name}`, executor: 'command', command: ['node', trainer] });
  assert.equal(a.status, 201);
  assert.equal((await api(d.url, 'POST', `/api/agents/${a.data.id}/start`, { configId: c.data.id })).status, 200);
  return runFinished(a.data.id);
}

const firstCol = async (page, col) => page.locator(`[data-testid="runs-table"] tbody tr td[data-col="${col}"]`).allInnerTexts();

test('runs table sorted and filtered by config; the config editor', async () => {
  const ws = await api(d.url, 'POST', '/api/workspaces', { path: makeRepo(), name: 'hp' });
  assert.equal(ws.status, 201);
  const wt = ws.data.worktrees[0].id;
  await trainWith(wt, 'slow', { learningRate: 0.001, epochs: 10 });
  await trainWith(wt, 'fast', { learningRate: 0.004, epochs: 5 });

  const { page } = b;
  await page.goto(d.url + '/#/analytics');
  const table = page.getByTestId('runs-table');
  await table.getByRole('heading', { name: 'Runs by config' }).waitFor();
  await table.getByRole('textbox', { name: 'metrics' }).fill('reward,loss:min');
  await table.getByRole('button', { name: 'Apply' }).click();
  await table.locator('td[data-col="loss.best"]').first().waitFor();

  // click the learningRate header: descending, then ascending
  await table.locator('button[data-sort="config.learningRate"]').click();
  await until(async () => (await firstCol(page, 'config.learningRate')).join() === '0.004,0.001', 'sorted descending');
  assert.deepEqual(await firstCol(page, 'reward.best'), ['4', '1']);
  assert.deepEqual(await firstCol(page, 'loss.best'), ['0.2', '0.1']);
  await table.locator('button[data-sort="config.learningRate"]').click();
  await until(async () => (await firstCol(page, 'config.learningRate')).join() === '0.001,0.004', 'sorted ascending');
  assert.equal(await table.locator('th[aria-sort="ascending"]').innerText(), 'learningRate ▲');

  // filter by a comparison of a config field
  await table.getByRole('textbox', { name: 'filter' }).fill('learningRate > 0.002');
  await table.getByRole('button', { name: 'Apply' }).click();
  await until(async () => (await firstCol(page, 'config.learningRate')).join() === '0.004', 'filtered');
  // one agent's runs
  await table.getByRole('textbox', { name: 'filter' }).fill('');
  await table.getByRole('button', { name: 'Apply' }).click();
  await until(async () => (await firstCol(page, 'config.learningRate')).length === 2, 'unfiltered');
  const slow = (await api(d.url, 'GET', '/api/agents')).data.agents.find((a) => a.name === 'agent-slow');
  await table.getByRole('combobox', { name: 'scope' }).selectOption(`ag:${slow.id}`);
  await until(async () => (await firstCol(page, 'config.learningRate')).join() === '0.001', 'one agent\'s runs');
  await table.getByRole('combobox', { name: 'scope' }).selectOption(`ws:${ws.data.id}`);
  await until(async () => (await firstCol(page, 'config.learningRate')).length === 2, 'the workspace\'s runs');
  await shot(page, 'runs-table');

  // the config editor: a new PPO config from the form
  const ed = page.getByTestId('config-editor');
  await ed.scrollIntoViewIfNeeded();
  await ed.getByRole('textbox', { name: 'new config name' }).fill('ui-config');
  await ed.getByRole('button', { name: 'Create' }).click();
  await until(async () => (await ed.getByRole('combobox', { name: 'config' }).inputValue()) !== '' &&
    /ui-config/.test(await ed.getByRole('combobox', { name: 'config' }).locator('option:checked').innerText()), 'the new config shown');
  const cfgs = (await api(d.url, 'GET', '/api/configs')).data.configs;
  const mine = cfgs.find((c) => c.name === 'ui-config');
  assert.ok(mine);
  const mini = ed.locator('[data-field="miniBatchSize"]');
  assert.match(await mini.innerText(), /16 – 512, steps of 16/);
  assert.match(await ed.locator('[data-field="learningRate"]').innerText(), /1e-6 – 0\.01 \(log\)/);

  // off its step: the hint as typed, the server's 422 under the field on Save
  await mini.getByRole('textbox').fill('24');
  await mini.getByRole('textbox').blur();
  await until(async () => /must be from 16 to 512 in steps of 16/.test(await mini.innerText()), 'the client hint');
  await ed.getByRole('button', { name: 'Save' }).click();
  await until(async () => /values\.miniBatchSize must be from 16 to 512 in steps of 16/.test(await mini.locator('.hp-error').innerText()), 'the server 422 inline');
  assert.equal((await api(d.url, 'GET', `/api/configs/${mine.id}`)).data.values.miniBatchSize, 64, 'nothing stored');

  // a preset, a saved value, reset
  await ed.getByRole('button', { name: 'aggressive' }).click();
  await until(async () => (await api(d.url, 'GET', `/api/configs/${mine.id}`)).data.values.epochs === 15, 'the preset stored');
  await until(async () => (await ed.locator('#hp-learningRate').inputValue()) === '0.001', 'the preset in the form');
  await ed.locator('#hp-learningRate').fill('0.002');
  await ed.locator('#hp-learningRate').blur();
  await ed.getByRole('button', { name: 'Save' }).click();
  await until(async () => (await api(d.url, 'GET', `/api/configs/${mine.id}`)).data.values.learningRate === 0.002, 'the value saved');
  await ed.getByRole('button', { name: 'Reset to defaults' }).click();
  await until(async () => (await api(d.url, 'GET', `/api/configs/${mine.id}`)).data.values.learningRate === 3e-4, 'reset');
  await until(async () => (await ed.locator('#hp-learningRate').inputValue()) === '3e-4', 'the form reset');
  await shot(page, 'config-editor');

  // start a command agent with it from the editor
  const a = await api(d.url, 'POST', '/api/agents', { worktreeId: wt, name: 'from-ui', executor: 'command', command: ['node', trainer] });
  assert.equal(a.status, 201);
  const pick = ed.getByRole('combobox', { name: 'agent to start' });
  await until(async () => (await pick.locator(`option[value="${a.data.id}"]`).count()) === 1, 'the agent listed');
  await pick.selectOption(a.data.id);
  await ed.getByRole('button', { name: 'Start' }).click();
  const run = await runFinished(a.data.id);
  assert.equal(run.config.id, mine.id);
  assert.equal(run.config.values.learningRate, 3e-4);
});

test("a config schema in the services' words: read-only and disabled fields shown, not editable", async () => {
  const { page } = b;
  const schema = await api(d.url, 'POST', '/api/config-schemas', {
    name: 'locked-schema',
    fields: [
      { name: 'lr', type: 'number', min: 0, max: 1, default: 0.1 },
      {
        name: 'gpu',
        type: 'integer',
        min: 0,
        max: 8,
        default: 0,
        readOnly: true,
      },
      { name: 'fp16', type: 'boolean', default: false, disabled: true },
    ],
  });
  assert.equal(schema.status, 201, JSON.stringify(schema.data));
  assert.deepEqual(
    schema.data.fields.map((f) => f.type),
    ['float', 'int', 'bool'],
  );
  const cfg = await api(d.url, 'POST', '/api/configs', {
    name: 'locked-config',
    schemaId: schema.data.id,
  });
  assert.equal(cfg.status, 201, JSON.stringify(cfg.data));
  const bad = await api(d.url, 'PATCH', `/api/configs/${cfg.data.id}`, {
    values: { gpu: 3 },
  });
  assert.equal(bad.status, 422);
  assert.equal(bad.data.error.details.field, 'values.gpu');
  await page.goto(d.url + '/#/analytics');
  await page.reload(); // the editor lists the configs it found when it opened
  const ed = page.getByTestId('config-editor');
  await ed.scrollIntoViewIfNeeded();
  const pick = ed.getByRole('combobox', { name: 'config' });
  await until(async () => (await pick.locator(`option[value="${cfg.data.id}"]`).count()) === 1, 'the config listed');
  await pick.selectOption(cfg.data.id);
  const gpu = ed.locator('[data-field="gpu"]');
  await gpu.waitFor();
  assert.match(await gpu.innerText(), /read-only/);
  assert.equal((await gpu.locator('fieldset').getAttribute('disabled')) !== null, true);
  assert.equal(await ed.locator('#hp-gpu').isEditable(), false);
  assert.match(await ed.locator('[data-field="fp16"]').innerText(), /disabled/);
  assert.equal(await ed.locator('#hp-fp16').isEnabled(), false);
  assert.equal(await ed.locator('#hp-lr').isEditable(), true);
});
