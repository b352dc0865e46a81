// SPDX-License-Identifier: MIT
// The training seed's Settings and first run (issue #40): Settings in its
// sections (General, Services: the seed's Synthetic Eye, Discovery, Training, Advanced), each at
// its own address; the environment picker kept across a reload and naming
// a discovery job; the first-run flow on a daemon without a workspace:
// the requirements check, then a first workspace, and not shown again.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { api, makeRepo, ROOT, until } from './lib/harness.mjs';
import { session, waitText } from './lib/session.mjs';

let d;
let b;
session((s) => ({ d, b } = s));

test('first run: requirements checked, then a workspace set up; not shown again', async () => {
  const { page } = b;
  await page.goto(d.url + '/');
  const fr = page.getByRole('region', { name: 'Set up agentd' });
  await fr.waitFor();
  // step 1: the daemon's own requirements checklist
  await fr.getByRole('region', { name: 'Requirements' }).locator('li[data-req=git]').waitFor();
  await fr.getByRole('button', { name: 'Next: a workspace' }).click();
  // step 2: a bad path is refused by agentd and nothing is made
  const repo = makeRepo();
  await fr.locator('input[name=first-path]').fill(path.join(repo, 'nope'));
  await fr.getByRole('button', { name: 'Set up workspace' }).click();
  await fr.getByRole('alert').waitFor();
  assert.equal((await api(d.url, 'GET', '/api/workspaces')).data.workspaces.length, 0);
  await fr.locator('input[name=first-path]').fill(repo);
  await fr.locator('input[name=first-name]').fill('first-ws');
  await fr.getByRole('button', { name: 'Set up workspace' }).click();
  await fr.waitFor({ state: 'detached' });
  await page.locator('.ws-name', { hasText: 'first-ws' }).waitFor();
  const wss = (await api(d.url, 'GET', '/api/workspaces')).data.workspaces;
  assert.deepEqual(
    wss.map((w) => w.name),
    ['first-ws'],
  );
  // Removed again: this browser finished the first run, it does not come back.
  assert.equal((await api(d.url, 'DELETE', `/api/workspaces/${wss[0].id}`)).status < 300, true);
  await page.reload();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  await until(async () => (await page.locator('.ws-name').count()) === 0, 'the workspace gone');
  assert.equal(await page.getByRole('region', { name: 'Set up agentd' }).count(), 0);
});

test('Settings in the seed\'s sections, each at its own address', async () => {
  const { page } = b;
  await page.goto(d.url + '/#/settings');
  const nav = page.getByRole('navigation', { name: 'Settings sections' });
  await waitText(nav, /General[\s\S]*Services[\s\S]*Discovery[\s\S]*Training[\s\S]*Advanced/, 'the five sections in order');
  // General: the form with the general settings, not the thresholds
  await page.locator('input[name=max_context_warning]').waitFor();
  assert.equal(await page.locator('#set-health_gpu_temp_c').count(), 0);
  await nav.getByRole('link', { name: /Services/ }).click();
  await page.getByRole('region', { name: 'Services' }).waitFor();
  await page.locator('#set-health_service_fps_min').waitFor();
  assert.match(page.url(), /#\/settings\/services$/);
  await nav.getByRole('link', { name: /Discovery/ }).click();
  await page.getByRole('region', { name: 'Jobs' }).waitFor();
  await nav.getByRole('link', { name: /Training/ }).click();
  await page.locator('.settings-body[data-section=training]').waitFor();
  await page.getByRole('heading', { name: 'Hyper-parameter configs' }).waitFor();
  // the schema list comes with the configs' fetch: wait for it, then the default
  const schema = page.getByRole('combobox', { name: 'schema' });
  await until(async () => (await schema.inputValue()) !== '', 'the schemas loaded');
  assert.equal(await schema.inputValue(), 'ppo');
  await nav.getByRole('link', { name: /Advanced/ }).click();
  await page.locator('#set-health_gpu_temp_c').waitFor();
  await page.getByRole('region', { name: 'Anthropic credential' }).waitFor();
  await page.getByRole('region', { name: 'Requirements' }).waitFor();
  // a reload opens the same section
  await page.reload();
  await page.locator('#set-health_gpu_temp_c').waitFor();
  assert.equal(await nav.getByRole('link', { name: /Advanced/ }).getAttribute('aria-current'), 'page');
  // a threshold saved from its section reaches the server
  await page.locator('#set-health_gpu_temp_c').fill('91');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await until(async () => (await api(d.url, 'GET', '/api/settings')).data.health_gpu_temp_c === 91, 'the saved threshold');
});

test('the environment picker: a new environment chosen, kept across a reload, naming a discovery job', async () => {
  const { page } = b;
  await page.goto(d.url + '/#/settings/general');
  const env = page.getByRole('region', { name: 'Environment' });
  // none at first: the seed's game is no default for every user (issue #74)
  assert.equal(await env.locator('select[name=environment]').inputValue(), '');
  await env.locator('input[name=new-environment]').fill('../bad name');
  await env.getByRole('button', { name: 'Add and use' }).click();
  await env.getByRole('alert').waitFor();
  await env.locator('input[name=new-environment]').fill('doom-e1m1');
  await env.getByRole('button', { name: 'Add and use' }).click();
  await until(async () => (await env.locator('select[name=environment]').inputValue()) === 'doom-e1m1', 'the new environment chosen');
  await page.reload();
  assert.equal(await page.getByRole('region', { name: 'Environment' }).locator('select[name=environment]').inputValue(), 'doom-e1m1');
  await page.goto(d.url + '/#/settings/discovery');
  const jobs = page.getByRole('region', { name: 'Jobs' });
  await jobs.getByRole('button', { name: '+ Start a job' }).click();
  assert.equal(await page.locator('input[name=job-name]').inputValue(), 'doom-e1m1');
});

test('Discovery: the owner names the program, Discover runs it for the chosen environment', async () => {
  const { page } = b;
  await page.goto(d.url + '/#/settings/discovery');
  const disc = page.getByRole('region', { name: 'Discovery program' });
  // nothing set: nothing to discover with yet
  await until(async () => (await disc.getByRole('button', { name: /^Discover / }).isDisabled()) === true, 'Discover off');
  const job = path.join(ROOT, 'tests/fixtures/progress-job.js');
  await disc.locator('input[name=discovery-command]').fill(`${process.execPath} ${job} 2 10 0 --env={environment}`);
  await disc.getByRole('button', { name: 'Save program' }).click();
  await until(async () => ((await api(d.url, 'GET', '/api/settings')).data.discovery_command || []).length === 6, 'the program saved');
  assert.deepEqual((await api(d.url, 'GET', '/api/settings')).data.discovery_command.slice(-1), ['--env={environment}']);
  // a program starting with '-' is the server's to refuse, and it says so
  await disc.locator('input[name=discovery-command]').fill('--oops');
  await disc.getByRole('button', { name: 'Save program' }).click();
  await disc.getByRole('alert').waitFor();
  // the environment picked in General (doom-e1m1, above) is the one discovered
  await disc.getByRole('button', { name: 'Discover doom-e1m1' }).click();
  const row = page.getByRole('region', { name: 'Jobs' }).locator('li[data-status=succeeded]', { hasText: 'doom-e1m1' });
  await row.waitFor();
  const jobs = (await api(d.url, 'GET', '/api/jobs')).data.jobs;
  const mine = jobs.find((j) => j.name === 'doom-e1m1' && j.kind === 'discovery');
  assert.deepEqual(mine.command.slice(-1), ['--env=doom-e1m1']);
});

test('Synthetic Eye: the built-in template gives the seed\'s form, its GPU device read-only and pixel format disabled', async () => {
  const { page } = b;
  await page.goto(d.url + '/#/settings/synthetic-eye');
  const svcs = page.getByRole('region', { name: 'Services' });
  await svcs.getByRole('button', { name: '+ Add a service' }).click();
  const form = page.getByRole('form', { name: 'Add a service' });
  await form.locator('select[name=svc-template] option[value=synthetic-eye]').waitFor({ state: 'attached' });
  await form.locator('select[name=svc-template]').selectOption('synthetic-eye');
  assert.equal(await form.locator('input[name=svc-name]').inputValue(), 'Synthetic Eye');
  await form.locator('input[name=svc-command]').fill('sleep 600');
  await form.getByRole('button', { name: 'Add service' }).click();
  await form.waitFor({ state: 'detached' });
  const svc = await until(async () => (await api(d.url, 'GET', '/api/services')).data.services.find((s) => s.name === 'Synthetic Eye'), 'the service made');
  assert.equal(svc.schema.fields.drmDevice.readOnly, true);
  assert.equal(svc.config.bufferCount, 3);
  const dev = page.locator(`#cfg-${svc.id}-drmDevice`);
  await dev.waitFor();
  assert.equal(await dev.inputValue(), '/dev/dri/card0');
  assert.equal(await dev.getAttribute('readonly'), '');
  assert.equal(await page.locator(`#cfg-${svc.id}-format`).isDisabled(), true);
  assert.equal(await page.locator(`#cfg-${svc.id}-resolution`).isDisabled(), false);
  assert.equal(await page.locator(`#cfg-${svc.id}-bufferCount`).getAttribute('max'), '5');
});
