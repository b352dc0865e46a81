// SPDX-License-Identifier: MIT
// The approval card with the real Claude Code CLI (tests/e2e/node_modules)
// against the mock Anthropic API: in the default mode the mock's Bash call
// needs permission, the agent page shows a card with the tool and its
// command, the card is still there after a reload (it is stored), and
// Allow sends the decision to the running CLI: the command runs and the
// turn ends with the mock's answer.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import { CLI_MS, api, daemon, launch, makeRepo, shot, until } from './lib/harness.mjs';

const require = createRequire(import.meta.url);
const { start } = require('../fixtures/mock-anthropic.js');
const { CLAUDE_BIN, claudeMissingReason, claudeEnv } = require('../fixtures/claude-run.js');

const skip = claudeMissingReason() || false;
let d;
let b;
let mock;
let repo;
let home;

before(async () => {
  if (skip) return;
  mock = await start();
  home = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'agentd-approvals-home-'));
  d = await daemon.start({ needUrl: true, args: ['--claude-bin', CLAUDE_BIN, '--stop-grace-ms', '3000'] });
  repo = makeRepo();
  b = await launch({ login: d.url });
});
after(async () => {
  if (b) await b.close();
  if (d) await d.stop();
  if (mock) await mock.close();
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

test('a tool call waiting for approval: card, reload, allow', { skip }, async () => {
  const ws = await api(d.url, 'POST', '/api/workspaces', { path: repo, name: 'approvals-repo' });
  assert.ok(ws.status < 300, JSON.stringify(ws.data));
  const env = claudeEnv(mock.url, home);
  delete env.PATH;
  const ag = await api(d.url, 'POST', '/api/agents', { worktreeId: ws.data.worktrees[0].id, name: 'Asker', executor: 'claude', env, allowUnsafeEnv: true });
  assert.equal(ag.status, 201, JSON.stringify(ag.data));
  const id = ag.data.id;
  const { page } = b;
  await page.goto(`${d.url}/#/agents/${id}`);
  await page.locator('.conn[data-status="connected"]').waitFor();
  const s = await api(d.url, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'please make a file' });
  assert.equal(s.status, 200, JSON.stringify(s.data));

  const card = page.locator('.approval');
  await card.waitFor({ timeout: CLI_MS });
  assert.equal(await card.locator('.approval-tool').innerText(), 'Bash');
  assert.match(await card.locator('.approval-input').innerText(), /echo hello > out\.txt/);
  await page.locator('.agent-head .badge-waiting').waitFor();
  // The call's card in the transcript waits too (issue #32): not a green running….
  const held = page.locator('.transcript .tool', { hasText: 'Bash' }).last();
  await held.locator('.tool-state.awaiting', { hasText: 'waiting for approval' }).waitFor();
  // It needs the user: the tab counts it (issue #32).
  await until(async () => (await page.title()) === '(1) agentd', 'the tab to count the agent that needs you');
  assert.equal(await held.locator('.tool-state.running').count(), 0);
  await shot(page, 'approval-card');

  await page.reload();
  await page.locator('.conn[data-status="connected"]').waitFor();
  await card.waitFor();
  assert.equal(await card.count(), 1, 'the pending approval is shown again after a reload');
  assert.ok(!fs.existsSync(path.join(repo, 'out.txt')), 'nothing ran before the decision');
  // The grid marks its tile (issue #14), from the stored approval after the reload.
  await page.goto(`${d.url}/#/grid`);
  await page.locator(`.tile.needs-approval[data-agent="${id}"]`).getByText('Needs approval').waitFor();
  await shot(page, 'grid-approval');
  await page.goto(`${d.url}/#/agents/${id}`);
  await card.waitFor();

  await card.getByRole('button', { name: 'Allow', exact: true }).click();
  await until(async () => (await card.count()) === 0, 'the card to go');
  await until(async () => fs.existsSync(path.join(repo, 'out.txt')), 'the allowed command to run');
  await page.locator('.transcript').getByText('I wrote hello to out.txt.').first().waitFor({ timeout: CLI_MS });
  // The turn is done: the agent waits for a next message but no longer needs the user.
  await page.locator('.agent-head .badge-turn').waitFor();
  await until(async () => (await page.title()) === 'agentd', 'a turn done not counted');
  const list = await api(d.url, 'GET', `/api/agents/${id}/approvals`);
  assert.equal(list.data.approvals[0].status, 'allowed');
  await api(d.url, 'POST', `/api/agents/${id}/stop?force=true&wait=true`);
});

test('a denied tool call: no red failed toast, the turn goes on', { skip }, async () => {
  let wt = (await api(d.url, 'GET', '/api/worktrees')).data.worktrees[0];
  if (!wt) wt = (await api(d.url, 'POST', '/api/workspaces', { path: repo, name: 'approvals-repo' })).data.worktrees[0];
  const env = claudeEnv(mock.url, home);
  delete env.PATH;
  const ag = await api(d.url, 'POST', '/api/agents', { worktreeId: wt.id, name: 'Denied', executor: 'claude', env, allowUnsafeEnv: true });
  assert.equal(ag.status, 201, JSON.stringify(ag.data));
  const id = ag.data.id;
  const { page } = b;
  await page.goto(`${d.url}/#/agents/${id}`);
  await page.locator('.conn[data-status="connected"]').waitFor();
  const s = await api(d.url, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'please make a file' });
  assert.equal(s.status, 200, JSON.stringify(s.data));
  const card = page.locator('.approval');
  await card.waitFor({ timeout: CLI_MS });
  await card.getByRole('button', { name: 'Deny', exact: true }).click();
  await until(async () => (await api(d.url, 'GET', `/api/agents/${id}/approvals`)).data.approvals[0]?.status === 'denied', 'the denial stored');
  // The CLI hears the denial and ends the call (tool_end with an error): the
  // user's own answer, not a failure to toast.
  await page.locator('.agent-head .badge-turn, .agent-head .badge-error, .agent-head .badge-finished').first().waitFor({ timeout: CLI_MS });
  assert.equal(await page.locator('.toasts .toast-error, .toasts [data-level="error"]').count(), 0, await page.locator('.toasts').innerText());
  assert.doesNotMatch(await page.locator('.toasts').innerText(), /failed/);
  await api(d.url, 'POST', `/api/agents/${id}/stop?force=true&wait=true`);
});

test('permissions are checkboxes; a bad rule is refused with its name', { skip }, async () => {
  const { page } = b;
  const wt = (await api(d.url, 'GET', '/api/worktrees')).data.worktrees[0];
  const ag = await api(d.url, 'POST', '/api/agents', { worktreeId: wt.id, name: 'Perms', executor: 'claude' });
  assert.equal(ag.status, 201, JSON.stringify(ag.data));
  await page.goto(`${d.url}/#/agents/${ag.data.id}`);
  await page.getByRole('button', { name: 'Edit permissions' }).click();
  const dlg = page.getByRole('dialog', { name: 'Permissions of Perms' });
  assert.equal(await dlg.locator('input[name=perm-read]').isChecked(), true);
  await dlg.locator('input[name=perm-execute]').check();
  await dlg.locator('input[name=permission-rules]').fill('bash(rm)');
  await dlg.locator('input[name=permission-rules]').blur();
  await dlg.getByRole('button', { name: 'Save' }).click();
  await dlg.getByRole('alert').waitFor();
  assert.match(await dlg.getByRole('alert').innerText(), /bash\(rm\)/);
  await dlg.locator('input[name=permission-rules]').fill('Bash(git:*)');
  await dlg.locator('input[name=permission-rules]').blur();
  await dlg.getByRole('button', { name: 'Save' }).click();
  await until(async () => (await dlg.count()) === 0, 'the dialog to close');
  const got = await api(d.url, 'GET', `/api/agents/${ag.data.id}`);
  assert.deepEqual(got.data.permissions, ['read', 'execute', 'Bash(git:*)']);
  await page.locator('.facts').getByText('read, execute, Bash(git:*)').waitFor();
});
