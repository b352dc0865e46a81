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
import { api, capabilities, daemon, git, launch, makeRepo, shot, until } from './lib/harness.mjs';

let d;
let caps;
let b;
let repo;
let wsId;
let mainWt;

before(async () => {
  d = await daemon.start({ needUrl: true });
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
function shownText(page, agentId) {
  return page.evaluate((id) => {
    const t = window.__agentd.model.value.transcripts[id];
    if (!t) return '';
    return [...t.messages.map((m) => m.content), ...t.live.map((c) => c.text)].join('\n');
  }, agentId);
}

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
  await api(d.url, 'POST', `/api/agents/${a.id}/stop?force=true`);
});
