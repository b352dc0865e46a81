// SPDX-License-Identifier: MIT
// The Health page (issue #17) against the real daemon and the fake NVML
// the Makefile builds: the score with its reasons, a GPU card whose
// temperature is past its threshold and says so, sparklines that fill as
// samples come, ranges that change the step, a running agent's CPU and
// memory, a job's progress bar and its Stop button, the requirements
// checklist (also in Settings), and a threshold raised in Settings that
// clears the warning.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { api, daemon, launch, makeRepo, ROOT, shot, tmpDir, until } from './lib/harness.mjs';

const FAKE_NVML = path.join(path.dirname(daemon.BIN), 'tests/fake-nvml/libnvidia-ml.so.1');

let d;
let b;
let state;
before(async () => {
  state = path.join(tmpDir('agentd-gpu-'), 'gpu-state');
  fs.writeFileSync(state, 'temp=86\nutil=55\npower_mw=210000\n');
  d = await daemon.start({
    needUrl: true,
    args: ['--health-interval-ms', '250', '--nvml-lib', FAKE_NVML],
    env: { FAKE_NVML_STATE: state },
  });
  b = await launch({ login: d.url });
});
after(async () => {
  if (b) await b.close();
  if (d) await d.stop();
});

test('score, reasons, GPU warning, sparklines and ranges', async () => {
  const { page } = b;
  await page.goto(d.url + '/#/health');
  await page.getByRole('heading', { name: 'Health', level: 1 }).waitFor();
  const reason = page.locator('.reasons li[data-code=gpu_temperature]');
  await reason.waitFor();
  assert.match(await reason.innerText(), /GPU temperature 86 °C is above 80 °C/);
  const score = Number((await page.getByTestId('score').innerText()).replace(/\/100$/, ''));
  assert.ok(score <= 80, `score ${score}`);
  // The GPU card names the device and flags the temperature, not the rest.
  const gpu = page.getByRole('region', { name: 'GPU' });
  await gpu.getByText('Fake RTX 4090').waitFor();
  assert.equal(await page.getByTestId('gpu0-temp').getAttribute('data-warning'), 'true');
  assert.equal(await page.getByTestId('gpu0-util').getAttribute('data-warning'), 'false');
  assert.match(await page.getByTestId('gpu0-temp').innerText(), /86 °C/);
  await page.getByTestId('gpu0-temp').getByRole('img', { name: /above 80/ }).waitFor();
  // Sparklines fill as samples come (history is refetched every 5 s).
  await until(async () => Number(await page.locator('svg.spark[aria-label^="CPU utilisation"]').getAttribute('data-points')) >= 3,
    'CPU sparkline points');
  assert.match(await page.getByTestId('history-step').innerText(), /one per 1 s/);
  await shot(page, 'health-page');
  await page.getByRole('button', { name: '6h', exact: true }).click();
  await until(async () => /one per 10 s/.test(await page.getByTestId('history-step').innerText()), 'the 6h step');
  assert.equal(await page.getByRole('button', { name: '6h', exact: true }).getAttribute('aria-pressed'), 'true');
  // The bucket still filling is drawn, so a coarse range is never blank.
  assert.ok(Number(await page.locator('svg.spark[aria-label^="CPU utilisation"]').getAttribute('data-points')) >= 1);
  // "all": everything kept (the seed's "All time"), at the coarsest step that holds it
  await page.getByRole('button', { name: 'all', exact: true }).click();
  assert.equal(await page.getByRole('button', { name: 'all', exact: true }).getAttribute('aria-pressed'), 'true');
  await until(async () => Number(await page.locator('svg.spark[aria-label^="CPU utilisation"]').getAttribute('data-points')) >= 1, 'the all range drawn');
  assert.deepEqual(b.errors, []);
});

test('a running agent in the table, the checklist, and a threshold raised in Settings', async () => {
  const { page } = b;
  const repo = makeRepo();
  const ws = await api(d.url, 'POST', '/api/workspaces', { path: repo });
  const ag = await api(d.url, 'POST', '/api/agents',
    { worktreeId: ws.data.worktrees[0].id, executor: 'command', command: ['sleep', '60'], name: 'sleeper' });
  assert.equal((await api(d.url, 'POST', `/api/agents/${ag.data.id}/start`, {})).status, 200);
  await page.goto(d.url + '/#/health');
  const row = page.locator(`tr[data-agent="${ag.data.id}"]`);
  await row.waitFor({ timeout: 20000 });
  await row.getByRole('link', { name: 'sleeper' }).waitFor();
  assert.match(await row.innerText(), /(KiB|MiB)/);

  const reqs = page.getByRole('region', { name: 'Requirements' });
  await reqs.locator('li[data-req=git][data-status=ok]').waitFor({ timeout: 20000 });
  await reqs.locator('li[data-req=gpu][data-status=ok]').waitFor();
  assert.match(await reqs.locator('li[data-req=gpu]').innerText(), /Fake RTX 4090/);

  // Settings has the checklist too, and the thresholds.
  await page.goto(d.url + '/#/settings/advanced');
  await page.getByRole('region', { name: 'Requirements' }).locator('li[data-req=git]').waitFor({ timeout: 20000 });
  const field = page.locator('#set-health_gpu_temp_c');
  await field.fill('95');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await until(async () => (await api(d.url, 'GET', '/api/settings')).data.health_gpu_temp_c === 95, 'the saved threshold');
  await page.goto(d.url + '/#/health');
  await page.getByTestId('gpu0-temp').waitFor();
  await until(async () => (await page.getByTestId('gpu0-temp').getAttribute('data-warning')) === 'false', 'the warning to clear');
  // the reasons come with the next sample, a moment after the card's own check
  await until(async () => (await page.locator('.reasons li[data-code=gpu_temperature]').count()) === 0, 'the reason to go');
  await api(d.url, 'POST', `/api/agents/${ag.data.id}/stop?force=true&wait=true`, {});
  assert.deepEqual(b.errors, []);
});

test('a job shows its progress, and Stop stops it', async () => {
  const { page } = b;
  const job = path.join(ROOT, 'tests/fixtures/progress-job.js');
  const r = await api(d.url, 'POST', '/api/jobs', { name: 'discover', kind: 'discovery', command: [process.execPath, job, '4', '50', '0', '--hang'] });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  await page.goto(d.url + '/#/health');
  const row = page.locator(`li[data-job="${r.data.id}"]`);
  await row.waitFor();
  const bar = row.getByRole('progressbar', { name: 'discover progress' });
  await until(async () => (await bar.getAttribute('aria-valuenow')) === '100', 'the bar to fill');
  assert.match(await row.innerText(), /done: 4 of 4/);
  await shot(page, 'health-jobs');
  await row.getByRole('button', { name: 'Stop' }).click();
  await until(async () => (await row.getAttribute('data-status')) === 'stopped', 'the job to stop');
  assert.deepEqual(b.errors, []);
});

test('a service: figures with a warning, Apply & Restart with a new config, Test connection', async () => {
  const { page } = b;
  const sock = path.join(tmpDir('agentd-eye-'), 'eye.sock');
  const r = await api(d.url, 'POST', '/api/services', {
    name: 'synthetic eye',
    command: [process.execPath, path.join(ROOT, 'tests/fixtures/fake-service.js'), '--socket', '{socketPath}'],
    schema: { fields: { width: { type: 'integer', min: 64, max: 4096, default: 640, label: 'Width' },
      fps: { type: 'number', min: 1, max: 1000, default: 300, label: 'Target FPS' },
      socketPath: { type: 'string' } } },
    config: { socketPath: sock },
    probe: { type: 'unix', path: sock, intervalMs: 300 },
  });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  const id = r.data.id;
  await page.goto(d.url + '/#/health');
  const card = page.locator(`div[data-service="${id}"]`);
  await card.waitFor();
  await card.getByTestId(`svc-${id}-fps`).waitFor();
  assert.match(await card.getByTestId(`svc-${id}-fps`).innerText(), /300 FPS/);
  await card.getByText('below 400 FPS').waitFor();
  await card.locator(`#cfg-${id}-width`).fill('1920');
  await card.getByRole('button', { name: 'Apply & Restart' }).click();
  await until(async () => {
    const s = await api(d.url, 'GET', `/api/services/${id}`);
    return s.data.config.width === 1920 && s.data.runtime.figures && s.data.runtime.figures.width === 1920;
  }, 'the new width to run');
  await card.getByRole('button', { name: 'Test connection' }).click();
  await card.getByText(/Connection ok in \d/).waitFor();
  await shot(page, 'health-services');
  // A bad value is the server's 422, shown on the card; nothing changes.
  await card.locator(`#cfg-${id}-width`).fill('5');
  await card.getByRole('button', { name: 'Apply & Restart' }).click();
  await card.getByText(/config\.width|from 64/).waitFor();
  assert.equal((await api(d.url, 'GET', `/api/services/${id}`)).data.config.width, 1920);
  await api(d.url, 'DELETE', `/api/services/${id}`);
  assert.deepEqual(b.errors, []);
});
