// SPDX-License-Identifier: MIT
// The approval round-trip from the dashboard for a Codex agent (issue #33):
// the real Codex CLI (tests/e2e/node_modules) on `codex app-server` against
// the mock Responses API. In the regular mode the mock's command needs
// approval: the agent page shows the same card as for Claude Code (tool and
// command), the agent is waiting, Allow goes to codex as `accept`, the
// command runs and the turn ends with the mock's answer; a second command
// denied from the card is declined and does not run; a message typed in
// the composer while codex works is steered into the running turn.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import { CLI_MS, api, daemon, launch, makeRepo, shot, until } from './lib/harness.mjs';

const require = createRequire(import.meta.url);
const { start, defaultRules } = require('../fixtures/mock-openai.js');
const { CODEX_BIN, codexMissingReason } = require('../fixtures/cli-run.js');

const skip = codexMissingReason() || false;
let d;
let b;
let mock;
let repo;
let home;

before(async () => {
  if (skip) return;
  mock = await start({
    rules: [
      { match: 'deny this', reply: { tool: { command: 'echo no > denied.txt' }, then: { text: 'It was declined.' } } },
      { match: 'steer me', reply: { tool: { command: 'sleep 3' }, then: { text: 'Slept a little.' } } },
      { match: 'from the composer', reply: { text: 'Steered from the composer.' } },
      ...defaultRules(),
    ],
  });
  home = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'agentd-codex-approvals-home-'));
  const nodeModules = path.dirname(path.dirname(CODEX_BIN));
  d = await daemon.start({ needUrl: true, args: ['--codex-bin', CODEX_BIN, '--stop-grace-ms', '3000', '--sandbox-paths', nodeModules] });
  repo = makeRepo();
  b = await launch({ login: d.url });
});
after(async () => {
  if (b) await b.close();
  if (d) await d.stop();
  if (mock) await mock.close();
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

// Waits for the agent's turn to end and its run's row to count n turns
// (the count is written at the turn's end, through the writer: the live
// status may say waiting a moment before the row has it); returns the runs.
async function turnsCounted(id, n) {
  await until(async () => (await api(d.url, 'GET', `/api/agents/${id}`)).data.status === 'waiting', `turn ${n} to end`);
  return until(async () => {
    const r = await api(d.url, 'GET', `/api/agents/${id}/runs`);
    if (r.data.runs?.[0]?.numTurns >= n) return r.data.runs;
    throw new Error(`runs: ${JSON.stringify(r.data.runs?.map((x) => ({ id: x.id, status: x.status, numTurns: x.numTurns })))}`);
  }, `turn ${n} counted in the run's row`);
}

test('a codex command waiting for approval: card, allow, then deny', { skip }, async () => {
  const ws = await api(d.url, 'POST', '/api/workspaces', { path: repo, name: 'codex-approvals' });
  assert.ok(ws.status < 300, JSON.stringify(ws.data));
  const ag = await api(d.url, 'POST', '/api/agents', {
    worktreeId: ws.data.worktrees[0].id, name: 'CodexAsker', executor: 'codex', mode: 'regular', model: 'gpt-5.5',
    baseUrl: `${mock.url}/v1`, codexConfig: { 'model_providers.agentd.request_max_retries': 0 },
    env: { OPENAI_API_KEY: 'dummy', HOME: home }, allowUnsafeEnv: true,
  });
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
  await shot(page, 'codex-approval-card');
  assert.ok(!fs.existsSync(path.join(repo, 'out.txt')), 'nothing ran before the decision');

  await card.getByRole('button', { name: /^Allow(\s+y)?$/ }).click();
  await until(async () => (await card.count()) === 0, 'the card to go');
  await until(async () => fs.existsSync(path.join(repo, 'out.txt')), 'the allowed command to run');
  await page.locator('.transcript').getByText('I wrote hello to out.txt.').first().waitFor({ timeout: CLI_MS });
  assert.equal((await api(d.url, 'GET', `/api/agents/${id}/approvals`)).data.approvals[0].status, 'allowed');

  // A message sent after the answer's text but before codex ends the turn
  // is steered into that turn (codex's own rule, tests/e2e/codex-app.test.js
  // shows it): the next turn is sent once this one has ended and is counted.
  await turnsCounted(id, 1);

  // the same process takes the next message; its command is denied from the card
  const m = await api(d.url, 'POST', `/api/agents/${id}/message`, { content: 'please deny this' });
  assert.equal(m.status, 200, JSON.stringify(m.data));
  await card.waitFor({ timeout: CLI_MS });
  assert.match(await card.locator('.approval-input').innerText(), /denied\.txt/);
  await card.getByRole('button', { name: /^Deny(\s+n)?$/ }).click();
  await page.locator('.transcript').getByText('It was declined.').first().waitFor({ timeout: CLI_MS });
  assert.ok(!fs.existsSync(path.join(repo, 'denied.txt')), 'a denied command does not run');
  await turnsCounted(id, 2);

  // mid-turn the composer stays open: the message is steered into the running turn
  assert.equal((await api(d.url, 'POST', `/api/agents/${id}/message`, { content: 'please steer me' })).status, 200);
  await card.waitFor({ timeout: CLI_MS });
  await card.getByRole('button', { name: /^Allow(\s+y)?$/ }).click();
  await page.locator('.agent-head .badge-running').waitFor();
  const composer = page.getByRole('textbox', { name: 'Message to the agent' });
  assert.equal(await composer.isEditable(), true, 'the composer takes a message while codex works');
  await composer.fill('also this, from the composer');
  await composer.press('Enter');
  await until(async () => (await composer.inputValue()) === '', 'the composer to clear');
  await page.locator('.transcript').getByText('Steered from the composer.').first().waitFor({ timeout: CLI_MS });
  const runs = await turnsCounted(id, 3);
  assert.equal(runs.length, 1, 'one app-server for every turn');
  assert.equal(runs[0].numTurns, 3, 'the steer made no turn of its own');
  await api(d.url, 'POST', `/api/agents/${id}/stop?force=true&wait=true`);
});
