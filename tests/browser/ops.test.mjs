// SPDX-License-Identifier: MIT
// Jobs and services are made and managed from the dashboard (issue #32), not
// by "POST /api/…" text: start a job from the Health page and read its
// output while it runs, stop it; add a service, see its uptime, restarts
// and log, stop and start it, delete it. At desktop and phone widths.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, shot, until } from './lib/harness.mjs';
import { session, waitText } from './lib/session.mjs';

let d;
let b;
session((s) => ({ d, b } = s));

for (const [w, h] of [
  [1280, 800],
  [390, 844],
]) {
  test(`${w}px: a job started, read and stopped from the Health page`, async () => {
    const { page } = b;
    await page.setViewportSize({ width: w, height: h });
    await page.goto(d.url + '/#/health');
    const jobs = page.getByRole('region', { name: 'Jobs' });
    await jobs.getByRole('button', { name: '+ Start a job' }).click();
    const form = page.getByRole('form', { name: 'Start a job' });
    const name = `ui job ${w}`;
    await form.getByLabel('Name').fill(name);
    await form.getByLabel('Command').fill(`/bin/sh -c "echo hello from ${w}; exec sleep 600"`);
    await form.getByRole('button', { name: 'Start job' }).click();
    await form.waitFor({ state: 'detached' });
    const row = jobs.locator('li[data-status="running"]', { hasText: name });
    await row.waitFor();
    await row.getByRole('button', { name: 'Output' }).click();
    await waitText(row.getByLabel(`Output of ${name}`), new RegExp(`hello from ${w}`), 'the live output');
    await shot(page, `ops-job-${w}`);
    await row.getByRole('button', { name: 'Stop' }).click();
    await jobs.locator('li[data-status="stopped"]', { hasText: name }).waitFor();
    const list = (await api(d.url, 'GET', '/api/jobs?limit=20')).data.jobs;
    assert.equal(list.find((j) => j.name === name).status, 'stopped');
  });

  test(`${w}px: a service added, read, stopped, started and deleted`, async () => {
    const { page } = b;
    await page.setViewportSize({ width: w, height: h });
    await page.goto(d.url + '/#/health');
    const panel = page.getByRole('region', { name: 'Services' });
    await panel.getByRole('button', { name: '+ Add a service' }).click();
    const form = page.getByRole('form', { name: 'Add a service' });
    const name = `ui svc ${w}`;
    await form.getByLabel('Name').fill(name);
    await form.getByLabel('Command').fill(`/bin/sh -c "echo serving ${w}; exec sleep 600"`);
    await form.getByLabel('Restart').selectOption('never');
    await form.getByRole('button', { name: 'Add service' }).click();
    await form.waitFor({ state: 'detached' });
    const card = panel.locator('div.service', { hasText: name });
    await card.waitFor();
    await until(async () => (await card.getAttribute('data-status')) === 'running', 'the service to run');
    await waitText(card.locator('.service-facts'), /running, up \d+ s, 0 restarts/, 'uptime and restarts');
    await card.getByRole('button', { name: 'Log' }).click();
    await waitText(card.getByLabel(`Log of ${name}`), new RegExp(`serving ${w}`), 'the log');
    await shot(page, `ops-service-${w}`);
    await card.getByRole('button', { name: 'Stop' }).click();
    await until(async () => (await card.getAttribute('data-status')) === 'stopped', 'the service to stop');
    await card.getByRole('button', { name: 'Start' }).click();
    await until(async () => (await card.getAttribute('data-status')) === 'running', 'the service to run again');
    await card.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete the service' }).getByRole('button', { name: 'Delete' }).click();
    await card.waitFor({ state: 'detached' });
    const left = (await api(d.url, 'GET', '/api/services')).data.services.filter((s) => s.name === name);
    assert.deepEqual(left, []);
    assert.deepEqual(b.errors, []);
  });
}
