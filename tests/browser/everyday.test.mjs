// SPDX-License-Identifier: MIT
// The everyday UI of issue #14: the terminal tab attaches when its agent
// starts (no tab switch), a plain shell in a worktree, the new-task flow
// (worktree + agent + first prompt in one dialog, in a real git repository,
// command executor), the grid view with its keyboard, and removing a
// workspace (its agents archived, its files kept).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { api, capabilities, daemon, git, heldTranscript, launch, makeRepo, shot, until } from './lib/harness.mjs';

let d;
let caps;
let b;
let repo;
let wsId;
let mainWt;

before(async () => {
  // The shell button runs $SHELL: /bin/sh here, so no rc file of this
  // machine's user slows or changes it.
  d = await daemon.start({ needUrl: true, env: { SHELL: '/bin/sh' } });
  caps = await capabilities(d.url);
  if (!caps.store || !caps.bus) return;
  repo = makeRepo();
  git(repo, 'branch', 'develop');
  const ws = await api(d.url, 'POST', '/api/workspaces', { path: repo, name: 'everyday' });
  assert.ok(ws.status < 300, JSON.stringify(ws.data));
  wsId = ws.data.id;
  mainWt = ws.data.worktrees[0].id;
  b = await launch({ login: d.url, width: 1400, height: 900 });
});
after(async () => {
  if (b) await b.close();
  if (d) await d.stop();
  if (repo) fs.rmSync(repo, { recursive: true, force: true });
});

function missing(t, ...more) {
  const m = [];
  if (!caps.store) m.push('store REST');
  if (!caps.bus) m.push('the /ws bus');
  if (more.includes('terminal') && !caps.terminal) m.push('the terminal socket');
  if (m.length) t.skip('missing: ' + m.join(', '));
  return m.length > 0;
}

async function commandAgent(name, argv, extra = {}, wt = mainWt) {
  const r = await api(d.url, 'POST', '/api/agents', { worktreeId: wt, name, executor: 'command', command: argv, ...extra });
  assert.ok(r.status < 300, JSON.stringify(r.data));
  return r.data.agent || r.data;
}

// What xterm.js shows, line by line.
function screen(page) {
  return page.evaluate(() => {
    const term = window.__agentdTerm;
    if (!term) return '';
    const buf = term.buffer.active;
    const lines = [];
    for (let i = 0; i < buf.length; i++) lines.push(buf.getLine(i).translateToString(true));
    return lines.join('\n');
  });
}

// Everything the page holds for an agent: stored messages and live output.
const shownText = async (page, agentId) => (await heldTranscript(page, agentId)).text;

test('the terminal tab attaches when its agent starts, without a tab switch', async (t) => {
  if (missing(t, 'terminal')) return;
  const { page } = b;
  const script = "process.stdout.write('attached-ok\\r\\n'); setInterval(() => {}, 1000)";
  const a = await commandAgent('Late', ['node', '-e', script], { terminal: true });
  await page.goto(`${d.url}/#/agents/${a.id}`);
  await page.locator('.conn[data-status="connected"]').waitFor();
  await page.getByRole('tab', { name: 'Terminal' }).click();
  await page.locator('.term-closed').waitFor(); // idle: nothing to attach to yet
  const st = await api(d.url, 'POST', `/api/agents/${a.id}/start`, {});
  assert.ok(st.status < 300, JSON.stringify(st.data));
  await page.locator('.term-attached').waitFor();
  await until(async () => /attached-ok/.test(await screen(page)), 'the output in the terminal');
  await api(d.url, 'POST', `/api/agents/${a.id}/stop?force=true&wait=true`);
});

test('a plain shell in a worktree: type echo hi and see hi', async (t) => {
  if (missing(t, 'terminal')) return;
  const { page } = b;
  await page.goto(`${d.url}/#/`);
  await page.locator('.conn[data-status="connected"]').waitFor();
  const before = (await api(d.url, 'GET', '/api/agents')).data.agents.length;
  await page.locator('.sidebar button[aria-label^="Shell in"]').first().click();
  await page.waitForURL(/#\/agents\/ag_/);
  const id = decodeURIComponent(page.url().split('#/agents/')[1]);
  // A shell is a command agent on a terminal, and its page opens on the terminal.
  const a = (await api(d.url, 'GET', `/api/agents/${id}`)).data;
  assert.equal(a.executor, 'command');
  assert.equal((await api(d.url, 'GET', '/api/agents')).data.agents.length, before + 1);
  await page.locator('.term-attached').waitFor();
  // The shell's prompt first, as a user sees it before typing: keys typed
  // while the shell was still starting could be lost to its terminal set-up
  // (a fresh clone on a loaded machine waited 60 s for a "hi" that never came).
  await until(async () => /\S/.test(await screen(page)), "the shell's prompt");
  await page.locator('.term').click();
  await page.keyboard.type('echo hi\r');
  await until(async () => /^hi\s*$/m.test(await screen(page)), 'hi on its own line');
  // Said once at most: the holder sends a terminal's bytes once (not again as
  // scrollback). (Keys typed before the shell read them may not be echoed at
  // all: a fresh-clone check saw "hi" with no "echo hi" line.)
  const said = await screen(page);
  assert.ok((said.match(/echo hi/g) || []).length <= 1, said);
  await shot(page, 'shell-in-worktree');
  await api(d.url, 'POST', `/api/agents/${id}/stop?force=true&wait=true`);
});

test('new task: one dialog creates the worktree from a base branch and starts the agent with the prompt', async (t) => {
  if (missing(t)) return;
  const { page } = b;
  await page.goto(`${d.url}/#/agents`);
  await page.locator('.conn[data-status="connected"]').waitFor();

  // A branch that exists is refused in the dialog, and nothing is left behind.
  git(repo, 'branch', 'taken');
  const wtsBefore = (await api(d.url, 'GET', '/api/worktrees')).data.worktrees.length;
  const agentsBefore = (await api(d.url, 'GET', '/api/agents')).data.agents.length;
  await page.getByRole('button', { name: '✚ New task' }).click();
  let dlg = page.getByRole('dialog', { name: 'New task' });
  await dlg.locator('textarea[name=prompt]').fill('anything');
  await dlg.locator('select[name=executor]').selectOption('command');
  await dlg.locator('input[name=command]').fill('sh -c "read l; echo got:$l; sleep 30"');
  await dlg.locator('input[name=worktree]').fill('taken');
  await dlg.getByRole('button', { name: 'Create and start' }).click();
  await dlg.locator('.form-error').waitFor();
  assert.match(await dlg.locator('.form-error').innerText(), /exist|taken|already/i);
  assert.equal((await api(d.url, 'GET', '/api/worktrees')).data.worktrees.length, wtsBefore);
  assert.equal((await api(d.url, 'GET', '/api/agents')).data.agents.length, agentsBefore);
  await dlg.getByRole('button', { name: 'Cancel' }).click();

  await page.getByRole('button', { name: '✚ New task' }).click();
  dlg = page.getByRole('dialog', { name: 'New task' });
  // The dialog is centered on the page, not inside the sidebar.
  const box = await dlg.boundingBox();
  const vp = page.viewportSize();
  assert.ok(Math.abs(box.x + box.width / 2 - vp.width / 2) < 40, `centered: ${JSON.stringify(box)}`);
  await dlg.locator('textarea[name=prompt]').fill('Fix the login bug!');
  assert.equal(await dlg.locator('input[name=worktree]').inputValue(), 'fix-the-login-bug');
  await until(async () => (await dlg.locator('select[name=base] option').allInnerTexts()).includes('develop'), 'the branches');
  await dlg.locator('select[name=base]').selectOption('develop');
  await dlg.locator('select[name=executor]').selectOption('command');
  await dlg.locator('input[name=command]').fill('sh -c "read l; echo got:$l; sleep 30"');
  await shot(page, 'new-task-dialog');
  await dlg.getByRole('button', { name: 'Create and start' }).click();
  await page.waitForURL(/#\/agents\/ag_/);
  const id = decodeURIComponent(page.url().split('#/agents/')[1]);
  await page.locator('.agent-head .badge-running').waitFor();
  await until(async () => /got:Fix the login bug!/.test(await shownText(page, id)), 'the prompt echoed live');
  const agent = (await api(d.url, 'GET', `/api/agents/${id}`)).data;
  const wt = (await api(d.url, 'GET', `/api/worktrees/${agent.worktreeId}`)).data;
  assert.equal(wt.name, 'fix-the-login-bug');
  assert.equal(wt.branch, 'fix-the-login-bug');
  assert.equal(wt.baseBranch, 'develop');
  assert.ok(fs.existsSync(path.join(wt.path, 'README.md')));
  await api(d.url, 'POST', `/api/agents/${id}/stop?force=true&wait=true`);
});

test('new task past a usage limit: said in the dialog before anything is made, then forced', async (t) => {
  if (missing(t)) return;
  const { page } = b;
  assert.equal((await api(d.url, 'PATCH', '/api/settings', { daily_token_limit: 1000 })).status, 200);
  try {
    assert.equal((await api(d.url, 'POST', '/api/usage', { inputTokens: 1500, outputTokens: 0 })).status, 201);
    const wts = (await api(d.url, 'GET', '/api/worktrees')).data.worktrees.length;
    await page.goto(`${d.url}/#/agents`);
    await page.getByRole('button', { name: '✚ New task' }).click();
    const dlg = page.getByRole('dialog', { name: 'New task' });
    await dlg.locator('textarea[name=prompt]').fill('over the limit');
    await dlg.locator('select[name=executor]').selectOption('command');
    await dlg.locator('input[name=command]').fill('sh -c "read l; echo forced:$l; sleep 30"');
    await dlg.getByRole('button', { name: 'Create and start' }).click();
    await dlg.locator('.form-error').waitFor();
    assert.match(await dlg.locator('.form-error').innerText(), /daily usage limit is reached.*Nothing was created/s);
    assert.equal((await api(d.url, 'GET', '/api/worktrees')).data.worktrees.length, wts);
    await dlg.getByRole('button', { name: 'Create and start past the limit' }).click();
    await page.waitForURL(/#\/agents\/ag_/);
    const id = decodeURIComponent(page.url().split('#/agents/')[1]);
    await until(async () => /forced:over the limit/.test(await shownText(page, id)), 'the forced start');
    await api(d.url, 'POST', `/api/agents/${id}/stop?force=true&wait=true`);
  } finally {
    await api(d.url, 'PATCH', '/api/settings', { daily_token_limit: 0 });
  }
});

test('new task whose start fails: the dialog says what exists and removes it on request', async (t) => {
  if (missing(t)) return;
  const { page } = b;
  const wts = (await api(d.url, 'GET', '/api/worktrees')).data.worktrees.length;
  const agents = (await api(d.url, 'GET', '/api/agents')).data.agents.length;
  await page.goto(`${d.url}/#/agents`);
  await page.getByRole('button', { name: '✚ New task' }).click();
  let dlg = page.getByRole('dialog', { name: 'New task' });
  await dlg.locator('textarea[name=prompt]').fill('run a missing program');
  await dlg.locator('select[name=executor]').selectOption('command');
  await dlg.locator('input[name=command]').fill('/nonexistent/program --flag');
  await dlg.getByRole('button', { name: 'Create and start' }).click();
  dlg = page.getByRole('dialog', { name: 'The agent did not start' });
  await dlg.waitFor();
  assert.match(await dlg.innerText(), /executable not found/);
  assert.match(await dlg.innerText(), /run-a-missing-program/);
  assert.equal((await api(d.url, 'GET', '/api/worktrees')).data.worktrees.length, wts + 1);
  await shot(page, 'new-task-start-failed');
  await dlg.getByRole('button', { name: 'Remove the worktree and the agent' }).click();
  await dlg.waitFor({ state: 'detached' });
  assert.equal((await api(d.url, 'GET', '/api/worktrees')).data.worktrees.length, wts);
  assert.equal((await api(d.url, 'GET', '/api/agents')).data.agents.length, agents);
});

test('the grid: tiles with status and output tail, keyboard between them, help on ?', async (t) => {
  if (missing(t)) return;
  const { page } = b;
  const made = [];
  // (running until the test stops them: a busy machine took more than 30 s
  // to get to the live-only check, and a tile that had ended went)
  for (const k of ['A', 'B', 'C']) {
    const a = await commandAgent(`tile-${k}`, ['sh', '-c', `echo out-of-${k}; sleep 600`]);
    const st = await api(d.url, 'POST', `/api/agents/${a.id}/start`, {});
    assert.ok(st.status < 300, JSON.stringify(st.data));
    made.push(a);
  }
  await page.goto(`${d.url}/#/grid`);
  await page.locator('.conn[data-status="connected"]').waitFor();
  const tile = (a) => page.locator(`.tile[data-agent="${a.id}"]`);
  for (const [k, a] of [['A', made[0]], ['B', made[1]], ['C', made[2]]]) {
    await tile(a).locator('.badge-running').waitFor();
    await until(async () => (await tile(a).locator('.tile-tail').innerText()).includes(`out-of-${k}`), `tile ${k}'s output`);
  }
  // A tile keeps its tail, not every line its agent prints while the grid is open.
  const many = await commandAgent('tile-D', ['sh', '-c', 'i=0; while [ $i -lt 300 ]; do echo "d-line $i"; i=$((i+1)); sleep 0.01; done; sleep 600']);
  made.push(many);
  assert.ok((await api(d.url, 'POST', `/api/agents/${many.id}/start`, {})).status < 300);
  await until(async () => (await tile(many).locator('.tile-tail').innerText()).includes('d-line 299'), "tile D's last line");
  const held = await heldTranscript(page, many.id);
  assert.ok(held.live <= 64 && held.messages <= 64, `tile D's transcript holds ${held.live} live chunks and ${held.messages} messages`);
  const cols = Number(await page.locator('.agent-grid').getAttribute('data-cols'));
  assert.ok(cols >= 2 && cols <= 4, `columns at 1400 px: ${cols}`);
  const idx = async (a) => Number(await tile(a).getAttribute('data-index'));
  const focused = () => page.evaluate(() => document.activeElement?.getAttribute('data-agent'));
  const nB = await idx(made[1]);
  assert.ok(nB <= 9);
  await page.locator('body').press(String(nB));
  await until(async () => (await focused()) === made[1].id, 'tile B focused by its number');
  await page.keyboard.press('ArrowRight');
  await until(async () => (await focused()) === made[2].id, 'ArrowRight to C');
  await page.keyboard.press('k');
  await until(async () => (await focused()) === made[1].id, 'k back to B');
  await page.keyboard.press('j');
  await until(async () => (await focused()) === made[2].id, 'j to C');
  await shot(page, 'grid');
  await page.keyboard.press('Enter');
  await page.waitForURL(new RegExp(`#/agents/${made[2].id}`));
  await page.locator('.agent-head').waitFor();
  await page.locator('body').press('Escape');
  await page.waitForURL(/#\/grid$/);
  await page.locator('.agent-grid').waitFor();
  await page.keyboard.press('?');
  const help = page.getByRole('dialog', { name: 'Grid keys' });
  await help.waitFor();
  assert.match(await help.innerText(), /Enter/);
  await page.keyboard.press('Escape');
  await help.waitFor({ state: 'detached' });
  assert.match(page.url(), /#\/grid$/);
  // Only the live ones, on request: a finished agent's tile goes.
  const finished = (await api(d.url, 'GET', '/api/agents')).data.agents.find((x) => x.status !== 'running' && x.status !== 'waiting');
  if (finished) {
    await page.locator(`.tile[data-agent="${finished.id}"]`).waitFor();
    await page.locator('input[name=live-only]').check();
    await page.locator(`.tile[data-agent="${finished.id}"]`).waitFor({ state: 'detached' });
    await tile(made[0]).waitFor();
    await page.locator('input[name=live-only]').uncheck();
  }
  // One column at phone width.
  await page.setViewportSize({ width: 480, height: 800 });
  await until(async () => (await page.locator('.agent-grid').getAttribute('data-cols')) === '1', 'one column');
  await page.setViewportSize({ width: 1400, height: 900 });
  for (const a of made) await api(d.url, 'POST', `/api/agents/${a.id}/stop?force=true&wait=true`);
});

test('workspace settings: setup files and command; removing it archives its agents and keeps its files', async (t) => {
  if (missing(t)) return;
  const { page } = b;
  const other = makeRepo();
  const ws = await api(d.url, 'POST', '/api/workspaces', { path: other, name: 'doomed' });
  assert.ok(ws.status < 300, JSON.stringify(ws.data));
  const a = await commandAgent('doomed-agent', ['true'], {}, ws.data.worktrees[0].id);
  await page.goto(`${d.url}/#/`);
  await page.locator('.conn[data-status="connected"]').waitFor();
  await page.getByRole('button', { name: 'Settings of workspace doomed' }).click();
  let dlg = page.getByRole('dialog', { name: /Workspace doomed/ });
  await dlg.locator('textarea[name=setup-files]').fill('.env\nconfig/local.json');
  await dlg.locator('input[name=setup-command]').fill('echo set up');
  await dlg.getByRole('button', { name: 'Save setup' }).click();
  await dlg.waitFor({ state: 'detached' });
  const setup = (await api(d.url, 'GET', `/api/workspaces/${ws.data.id}/setup`)).data;
  assert.deepEqual(setup.setupFiles, ['.env', 'config/local.json']);
  assert.equal(setup.setupCommand, 'echo set up');

  await page.getByRole('button', { name: 'Settings of workspace doomed' }).click();
  dlg = page.getByRole('dialog', { name: /Workspace doomed/ });
  assert.equal(await dlg.locator('input[name=setup-command]').inputValue(), 'echo set up');
  await dlg.getByRole('button', { name: 'Remove workspace…' }).click();
  dlg = page.getByRole('dialog', { name: 'Remove workspace doomed?' });
  await dlg.getByRole('button', { name: 'Remove workspace' }).click();
  await dlg.waitFor({ state: 'detached' });
  await page.locator('.ws-name', { hasText: 'doomed' }).waitFor({ state: 'detached' });
  assert.equal((await api(d.url, 'GET', `/api/workspaces/${ws.data.id}`)).status, 404);
  const archived = (await api(d.url, 'GET', `/api/agents/${a.id}`)).data;
  assert.ok(archived.deletedAt, JSON.stringify(archived));
  assert.ok(fs.existsSync(path.join(other, 'README.md')));
  fs.rmSync(other, { recursive: true, force: true });
});

test('new task in a workspace with an unapproved setup command: shown, and run once ticked', async (t) => {
  if (missing(t)) return;
  const { page } = b;
  const put = await api(d.url, 'PUT', `/api/workspaces/${wsId}/setup`, { setupCommand: 'touch setup-ran' });
  assert.equal(put.status, 200, JSON.stringify(put.data));
  try {
    await page.goto(`${d.url}/#/agents`);
    await page.getByRole('button', { name: '✚ New task' }).click();
    const dlg = page.getByRole('dialog', { name: 'New task' });
    await dlg.locator('textarea[name=prompt]').fill('with setup');
    await dlg.locator('select[name=executor]').selectOption('command');
    await dlg.locator('input[name=command]').fill('sleep 30');
    await dlg.getByText('touch setup-ran').waitFor();
    await dlg.locator('input[name=approve-setup]').check();
    await dlg.getByRole('button', { name: 'Create and start' }).click();
    await page.waitForURL(/#\/agents\/ag_/);
    const id = decodeURIComponent(page.url().split('#/agents/')[1]);
    const agent = (await api(d.url, 'GET', `/api/agents/${id}`)).data;
    const wt = (await api(d.url, 'GET', `/api/worktrees/${agent.worktreeId}`)).data;
    await until(async () => fs.existsSync(path.join(wt.path, 'setup-ran')), 'the setup command to run in the new worktree');
    await api(d.url, 'POST', `/api/agents/${id}/stop?force=true&wait=true`);
  } finally {
    await api(d.url, 'PUT', `/api/workspaces/${wsId}/setup`, { setupCommand: '' });
  }
});
