// SPDX-License-Identifier: MIT
// The Sessions page (issue #76): the Claude Code sessions kept in the
// daemon user's HOME are listed with their folder, branch and first
// message; a live one (its file just written) cannot be adopted, opens
// read-only and shows a line appended to its file without a reload; Adopt
// on an ended one makes an agent of it (its folder registered) and opens
// it, its history there. A session kept on a node is listed with its node
// and adopted there, into the worktree chosen beside its Adopt.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createRequire } from 'node:module';
import { api, makeRepo, shot, tmpDir } from './lib/harness.mjs';
import { session, waitText } from './lib/session.mjs';

const require = createRequire(import.meta.url);
const { startNode } = require('../e2e/lib/nodes.js');

let d;
let b;
const home = tmpDir('agentd-browser-sess-home-');
session((s) => ({ d, b } = s), { daemon: { env: { HOME: home } } });

function line(type, text, cwd, sessionId) {
  const message = type === 'user' ? { role: 'user', content: text } : { id: `msg_${text.length}`, type: 'message', role: 'assistant', model: 'm', content: [{ type: 'text', text }] };
  return JSON.stringify({ parentUuid: null, isSidechain: false, type, cwd, sessionId, gitBranch: 'main', message, uuid: `u-${Math.random()}`, timestamp: new Date().toISOString() }) + '\n';
}

test('the Sessions page lists, follows and adopts the CLIs\' own sessions', async () => {
  const repo = makeRepo();
  const dir = path.join(home, '.claude', 'projects', repo.replace(/[^A-Za-z0-9]/g, '-'));
  fs.mkdirSync(dir, { recursive: true });
  const ended = 'aaaaaaaa-1111-4222-8333-444444444444';
  const live = 'bbbbbbbb-1111-4222-8333-444444444444';
  const endedFile = path.join(dir, `${ended}.jsonl`);
  fs.writeFileSync(endedFile, line('user', 'fix the login page', repo, ended) + line('assistant', 'The login page is fixed.', repo, ended));
  const old = new Date(Date.now() - 3600e3);
  fs.utimesSync(endedFile, old, old);
  const liveFile = path.join(dir, `${live}.jsonl`);
  fs.writeFileSync(liveFile, line('user', 'still talking', repo, live));

  const { page } = b;
  await page.goto(d.url + '/#/sessions');
  const endedRow = page.locator(`tr[data-session="${ended}"]`);
  const liveRow = page.locator(`tr[data-session="${live}"]`);
  await waitText(endedRow, /fix the login page/, 'the ended session listed');
  assert.match(await endedRow.innerText(), /main/);
  assert.equal(await liveRow.getAttribute('data-live'), 'yes');
  assert.equal(await liveRow.getByRole('button', { name: 'Adopt' }).isDisabled(), true, 'a live session is not adopted');

  // Read-only and live: an appended line shows without a reload.
  await liveRow.locator('.ext-open').click();
  const msgs = page.getByRole('list', { name: "The session's messages" });
  await waitText(msgs, /still talking/, 'the live session opened');
  fs.appendFileSync(liveFile, line('assistant', 'a reply written outside', repo, live));
  await waitText(msgs, /a reply written outside/, 'the appended line shown');
  await shot(page, 'sessions-page');

  // Adopt: an agent with the history, in the worktree registered for it.
  await endedRow.getByRole('button', { name: 'Adopt' }).click();
  await page.waitForURL(/#\/agents\/ag_/);
  const id = decodeURIComponent(page.url().split('#/agents/')[1]);
  const ag = (await api(d.url, 'GET', `/api/agents/${id}`)).data;
  assert.equal(ag.sessionId, ended);
  await waitText(page.locator('main'), /The login page is fixed\./, 'the adopted history on the agent page');
  const wss = (await api(d.url, 'GET', '/api/workspaces')).data.workspaces;
  assert.deepEqual(wss.map((w) => w.path), [repo]);
  await page.goto(d.url + '/#/sessions');
  await endedRow.getByRole('link', { name: 'Open agent' }).waitFor();

  // At phone width the table scrolls in its box; the page does not overflow.
  await page.setViewportSize({ width: 390, height: 844 });
  await endedRow.waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page overflows by ${overflow}px`);
  await page.setViewportSize({ width: 1280, height: 720 });
});

test('a node\'s session shows its node, and Adopt places the agent on that node', async () => {
  const repo = makeRepo();
  const ws = await api(d.url, 'POST', '/api/workspaces', { path: repo, name: 'nodesess' });
  assert.equal(ws.status, 201, JSON.stringify(ws.data));
  const wt = (await api(d.url, 'GET', `/api/worktrees?workspaceId=${ws.data.id}`)).data.worktrees[0];
  const t = await api(d.url, 'POST', '/api/tokens', { name: 'sbox', scope: 'node' });
  const node = await startNode(d.url, { token: t.data.token, name: 'sbox', env: { PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin` } });
  try {
    const cwd = '/srv/node-project';
    const sid = 'cccccccc-1111-4222-8333-444444444444';
    const dir = path.join(node.home, '.claude', 'projects', cwd.replace(/[^A-Za-z0-9]/g, '-'));
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${sid}.jsonl`);
    fs.writeFileSync(file, line('user', 'tune the node cache', cwd, sid) + line('assistant', 'The cache is tuned.', cwd, sid));
    const old = new Date(Date.now() - 3600e3);
    fs.utimesSync(file, old, old);

    const { page } = b;
    await page.goto(d.url + '/#/sessions');
    const row = page.locator(`tr[data-session="${sid}"]`);
    await waitText(row, /tune the node cache/, 'the node\'s session listed');
    assert.equal(await row.getAttribute('data-node'), 'sbox');
    assert.match(await row.locator('.ext-node').innerText(), /sbox/);
    await row.locator('.ext-open').click();
    await waitText(page.getByRole('list', { name: "The session's messages" }), /The cache is tuned\./, 'read over the link');

    await row.locator('select.ext-into').selectOption(wt.id);
    await row.getByRole('button', { name: 'Adopt' }).click();
    await page.waitForURL(/#\/agents\/ag_/);
    const id = decodeURIComponent(page.url().split('#/agents/')[1]);
    const ag = (await api(d.url, 'GET', `/api/agents/${id}`)).data;
    assert.equal(ag.sessionId, sid);
    assert.equal(ag.state.node, 'sbox');
    assert.equal(ag.worktreeId, wt.id);
    await waitText(page.locator('main'), /The cache is tuned\./, 'the adopted history on the agent page');
  } finally {
    await node.cleanup();
  }
});
