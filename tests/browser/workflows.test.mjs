// SPDX-License-Identifier: MIT
// A workflow on its crew's page (issue #40, seed 002): the steps in order
// with their state and output, kept live while it runs, and Stop.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, makeRepo, shot, until } from './lib/harness.mjs';
import { session, waitText } from './lib/session.mjs';

let d;
let b;
session((s) => ({ d, b } = s));

const sh = (script) => ({ executor: 'command', command: ['sh', '-c', script] });

test("a workflow's steps, live on its crew's page, and Stop", async () => {
  const { page } = b;
  await page.setViewportSize({ width: 1280, height: 800 });
  const wt = (await api(d.url, 'POST', '/api/workspaces', { path: makeRepo() })).data.worktrees[0].id;
  const r = await api(d.url, 'POST', '/api/workflows', {
    name: 'pipeline',
    worktreeId: wt,
    input: 'data',
    steps: [
      {
        id: 'fetch',
        prompt: '{{input}}',
        agent: sh('read x; echo "fetched $x"'),
      },
      // waits for its stdin to close: it runs until the workflow is stopped
      {
        id: 'train',
        needs: ['fetch'],
        prompt: 'on {{steps.fetch.output}}',
        agent: sh('cat > /dev/null'),
      },
      {
        id: 'report',
        needs: ['train'],
        prompt: 'x',
        agent: sh('read x; echo done'),
      },
    ],
  });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  await page.goto(`${d.url}/#/crews/${r.data.crewId}`);
  const panel = page.locator('.workflow-panel');
  await panel.waitFor();
  // live: fetch ends with its output, train runs, report waits
  await page.locator('.workflow-panel li[data-step="fetch"][data-status="succeeded"]').waitFor();
  await waitText(panel.locator('li[data-step="fetch"] .workflow-step-output'), /fetched data/, "the first step's output");
  await page.locator('.workflow-panel li[data-step="train"][data-status="running"]').waitFor();
  assert.equal(await panel.locator('li[data-step="report"]').getAttribute('data-status'), 'pending');
  await shot(page, 'workflow-running');
  await page.getByRole('button', { name: 'Stop workflow' }).click();
  await page.locator('.workflow-panel[data-status="stopped"]').waitFor();
  await page.locator('.workflow-panel li[data-step="report"][data-status="skipped"]').waitFor();
  assert.equal(await panel.locator('li[data-step="train"]').getAttribute('data-status'), 'stopped');
  await until(async () => (await api(d.url, 'GET', `/api/workflows/${r.data.id}`)).data.status === 'stopped', 'the stop stored');
  assert.equal(await page.getByRole('button', { name: 'Stop workflow' }).count(), 0);
});
