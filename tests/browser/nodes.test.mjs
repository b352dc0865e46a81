// SPDX-License-Identifier: MIT
// Worker nodes in the dashboard (issue #34): the Nodes page lists a node that
// joined with its state, labels, capabilities and health; New task offers the
// node choice and an agent started there runs on the node and carries its
// badge; the real Claude Code CLI on the node (the mock Anthropic API) asks
// for Bash and the approval card's Allow, clicked on the control plane's
// page, lets it run on the node; Revoke on the Nodes page drops the node (it
// stops) and the row says revoked. A real `agentd node` process on this
// machine.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { api, makeRepo, shot, until } from './lib/harness.mjs';
import { session, waitAttr, waitText } from './lib/session.mjs';

const require = createRequire(import.meta.url);
const { startNode } = require('../e2e/lib/nodes.js');
const { start: startMock } = require('../fixtures/mock-anthropic.js');
const { CLAUDE_BIN, claudeMissingReason, claudeEnv } = require('../fixtures/claude-run.js');

let d;
let b;
let node;
let repo;
let mock;
session((s) => ({ d, b } = s), { daemon: { args: ['--claude-bin', CLAUDE_BIN, '--stop-grace-ms', '3000'] } });
async function setup() {
  repo = makeRepo();
  const ws = await api(d.url, 'POST', '/api/workspaces', { path: repo, name: 'nodes' });
  assert.equal(ws.status, 201, JSON.stringify(ws.data));
  const t = await api(d.url, 'POST', '/api/tokens', { name: 'box1', scope: 'node' });
  node = await startNode(d.url, { token: t.data.token, name: 'box1', labels: 'zone=eu,tier=fast', env: { PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin` } });
}

test('the Nodes page shows a node, New task places an agent on it, and Revoke drops it', async () => {
  await setup();
  const { page } = b;
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(d.url + '/#/nodes');
  const row = page.locator('tr[data-node="box1"]');
  await waitAttr(row, 'data-state', 'connected', 'box1 connected');
  await waitText(row.locator('.node-caps'), /\d+ CPU · [\d.]+ GiB RAM/, 'its capabilities');
  await waitText(row.locator('.node-health'), /free/, 'its health figures');
  assert.match(await row.innerText(), /zone=eu/);
  await shot(page, 'nodes-page');

  // New task: the node choice, then the agent runs there
  await page.goto(d.url + '/#/agents');
  await page.getByRole('button', { name: '✚ New task' }).click();
  const dlg = page.getByRole('dialog', { name: 'New task' });
  await dlg.locator('textarea[name=prompt]').fill('count on the node');
  await dlg.locator('select[name=executor]').selectOption('command');
  await dlg.locator('input[name=command]').fill('sh -c "read l; echo got:$l; sleep 600"');
  await until(async () => (await dlg.locator('select[name=node] option').allInnerTexts()).some((x) => x.startsWith('box1')), 'box1 offered');
  await dlg.locator('select[name=node]').selectOption('box1');
  await dlg.getByRole('button', { name: 'Create and start' }).click();
  await page.waitForURL(/#\/agents\/ag_/);
  const id = decodeURIComponent(page.url().split('#/agents/')[1]);
  await page.locator('.agent-head .node-badge[data-node="box1"]').waitFor();
  await page.locator(`.sidebar a[href="#/agents/${id}"] .node-badge`).waitFor();
  const nodeId = (await api(d.url, 'GET', '/api/nodes')).data.nodes.find((n) => n.name === 'box1').id;
  await until(async () => (await api(d.url, 'GET', `/api/agents/${id}/runs`)).data.runs[0]?.nodeId === nodeId, 'the run on box1');
  await until(async () => (await api(d.url, 'GET', `/api/agents/${id}/messages?limit=50`)).data.messages.some((m) => /got:count on the node/.test(m.content)), 'the prompt echoed from the node');
  await api(d.url, 'POST', `/api/agents/${id}/stop?force=true&wait=true`);
});

test('Claude Code on a node: the approval card on the control plane\'s page lets the tool run on the node', { skip: claudeMissingReason() || false }, async () => {
  mock = await startMock();
  const home = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'agentd-node-claude-home-'));
  try {
    const { page } = b;
    const ws = (await api(d.url, 'GET', '/api/workspaces')).data.workspaces.find((w) => w.name === 'nodes');
    const env = claudeEnv(mock.url, home);
    delete env.PATH;
    const ag = await api(d.url, 'POST', '/api/agents', { worktreeId: ws.worktrees?.[0]?.id ?? (await api(d.url, 'GET', `/api/workspaces/${ws.id}`)).data.worktrees[0].id, name: 'Remote asker', executor: 'claude', env, allowUnsafeEnv: true, node: 'box1' });
    assert.equal(ag.status, 201, JSON.stringify(ag.data));
    const id = ag.data.id;
    await page.goto(`${d.url}/#/agents/${id}`);
    await page.locator('.conn[data-status="connected"]').waitFor();
    assert.equal((await api(d.url, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'please make a file' })).status, 200);
    const card = page.locator('.approval');
    await card.waitFor({ timeout: 90000 });
    assert.equal(await card.locator('.approval-tool').innerText(), 'Bash');
    assert.match(await card.locator('.approval-input').innerText(), /echo hello > out\.txt/);
    await page.locator('.agent-head .node-badge[data-node="box1"]').waitFor();
    await shot(page, 'node-approval-card');
    const wtId = (await api(d.url, 'GET', `/api/agents/${id}`)).data.worktreeId;
    const onNode = path.join(node.dataDir, 'worktrees', wtId, 'out.txt');
    assert.ok(!fs.existsSync(onNode), 'nothing ran before the decision');
    await card.getByRole('button', { name: 'Allow', exact: true }).click();
    await card.waitFor({ state: 'detached' });
    await waitText(page.locator('.transcript'), /I wrote hello to out\.txt\./, 'the turn after the approval', 90000);
    assert.equal(fs.readFileSync(onNode, 'utf8'), 'hello\n', 'the tool ran on the node');
    await api(d.url, 'POST', `/api/agents/${id}/stop?wait=true`);
  } finally {
    await mock.close();
    fs.rmSync(home, { recursive: true, force: true });
  }
});

test('a service added on the Health page for box1 runs there, and its card names the node', async () => {
  const { page } = b;
  await page.goto(d.url + '/#/health');
  await page.getByRole('button', { name: '+ Add a service' }).click();
  const form = page.getByRole('form', { name: 'Add a service' });
  await form.locator('input[name=svc-name]').fill('node-side');
  await form.locator('input[name=svc-command]').fill('sh -c "echo on:$(pwd); exec sleep 600"');
  await until(async () => (await form.locator('select[name=node] option').allInnerTexts()).some((x) => x.startsWith('box1')), 'box1 offered');
  assert.ok(!(await form.locator('select[name=node] option').allInnerTexts()).some((x) => /Any node/.test(x)), 'a service names its node');
  await form.locator('select[name=node]').selectOption('box1');
  await form.getByRole('button', { name: 'Add service' }).click();
  const card = page.locator('.service', { has: page.locator('h3', { hasText: 'node-side' }) });
  await waitAttr(card, 'data-status', 'running', 'the service running');
  await card.locator('.node-badge[data-node="box1"][data-reachable="true"]').waitFor();
  const s = (await api(d.url, 'GET', '/api/services')).data.services.find((x) => x.name === 'node-side');
  await until(async () => /on:.*\/work\//.test((await api(d.url, 'GET', `/api/services/${s.id}`)).data.runtime.output), 'its log from the node');
  assert.match((await api(d.url, 'GET', `/api/services/${s.id}`)).data.runtime.output, new RegExp(`on:${node.dataDir}/work/${s.id}`));
  await card.scrollIntoViewIfNeeded();
  await shot(page, 'service-on-node');
  assert.equal((await api(d.url, 'DELETE', `/api/services/${s.id}`)).status, 204);
});

test('Revoke on the Nodes page drops the node', async () => {
  const { page } = b;
  const row = page.locator('tr[data-node="box1"]');
  // Revoke from the page: the node goes, and says so
  await page.goto(d.url + '/#/nodes');
  page.once('dialog', (dialog) => void dialog.accept());
  await row.getByRole('button', { name: 'Revoke' }).click();
  await waitAttr(row, 'data-state', 'revoked', 'box1 revoked');
  assert.equal((await node.exit).code, 3);
  assert.deepEqual(b.errors, []);
});

test.after(async () => {
  if (node) await node.cleanup();
  if (repo) fs.rmSync(repo, { recursive: true, force: true });
});
