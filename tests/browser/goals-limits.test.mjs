// SPDX-License-Identifier: MIT
// Agents that run themselves (issue #75) on the agent page: an agent that
// hit a usage limit (the real Claude Code CLI against the mock Anthropic
// API, answered a 429 with a subscription's reset headers) reads "Suspended
// until HH:MM" and resumes at once from "Resume now"; an agent with a goal
// under way shows its goal's turn.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import { api, daemon, launch, makeRepo, until } from './lib/harness.mjs';
import { waitText } from './lib/session.mjs';

const require = createRequire(import.meta.url);
const { start } = require('../fixtures/mock-anthropic.js');
const { CLAUDE_BIN, claudeMissingReason, claudeEnv } = require('../fixtures/claude-run.js');

const skip = claudeMissingReason() || false;
let d;
let b;
let mock;
let home;

// The first request that says "limit me" gets a 429 whose reset is ten
// minutes ahead: the agent stays suspended while the page is looked at.
const limited = {
  match: 'limit me',
  times: 1,
  reply: {
    error: { status: 429, type: 'rate_limit_error', message: 'rate limited' },
    headers: () => {
      const reset = String(Math.ceil((Date.now() + 600000) / 1000));
      return {
        'anthropic-ratelimit-unified-status': 'rejected',
        'anthropic-ratelimit-unified-reset': reset,
        'anthropic-ratelimit-unified-representative-claim': 'five_hour',
        'anthropic-ratelimit-unified-5h-status': 'rejected',
        'anthropic-ratelimit-unified-5h-reset': reset,
      };
    },
  },
};

before(async () => {
  mock = skip ? null : await start({ rules: [limited, { reply: { text: 'Hello from the mock.' } }] });
  home = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'agentd-limits-home-'));
  d = await daemon.start({ needUrl: true, args: skip ? [] : ['--claude-bin', CLAUDE_BIN] });
  b = await launch({ login: d.url });
});
after(async () => {
  if (b) await b.close();
  if (d) await d.cleanup();
  if (mock) await mock.close();
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

function hhmm(iso) {
  const t = new Date(iso);
  return `${String(t.getHours()).padStart(2, '0')}:${String(t.getMinutes()).padStart(2, '0')}`;
}

test('a suspended agent says until when, and Resume now resumes it', { skip }, async () => {
  const ws = await api(d.url, 'POST', '/api/workspaces', { path: makeRepo(), name: 'limits-repo' });
  assert.ok(ws.status < 300, JSON.stringify(ws.data));
  const env = { ...claudeEnv(mock.url, home), ANTHROPIC_API_KEY: '', CLAUDE_CODE_OAUTH_TOKEN: 'sk-ant-oat01-mock' };
  delete env.PATH;
  const ag = await api(d.url, 'POST', '/api/agents', { worktreeId: ws.data.worktrees[0].id, name: 'Limited', executor: 'claude', env, allowUnsafeEnv: true });
  assert.equal(ag.status, 201, JSON.stringify(ag.data));
  const id = ag.data.id;
  const { page } = b;
  await page.goto(`${d.url}/#/agents/${id}`);
  await page.locator('.conn[data-status="connected"]').waitFor();
  assert.equal((await api(d.url, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'limit me' })).status, 200);
  const a = await until(async () => {
    const g = (await api(d.url, 'GET', `/api/agents/${id}`)).data;
    return g.status === 'suspended' ? g : null;
  }, 'the agent suspended');
  const badge = page.locator('.agent-head .agent-badge');
  const text = await waitText(badge, /Suspended\s*until \d\d:\d\d/, 'the badge to say until when');
  assert.ok(text.includes(hhmm(a.resumeAt)), `${text} names ${hhmm(a.resumeAt)}`);
  await waitText(page.locator('.agent-head .status-reason'), /suspended until .*hit your 5-hour limit/, 'why');
  // in the sidebar's row too
  await waitText(page.locator(`a.agent-link[href="#/agents/${id}"] .agent-badge`), /until \d\d:\d\d/, 'the list row');
  await page.getByRole('button', { name: 'Resume now' }).click();
  try {
    await waitText(page.locator('.agent-head .agent-badge'), /^(?!.*until)/s, 'the note gone');
  } catch (e) {
    // what the page said of its request, and what the daemon holds (a
    // fresh clone's make check once saw the note stay, no run started)
    const toasts = await page.locator('.toasts').innerText().catch((t) => `(no toasts: ${t.message})`);
    const now = (await api(d.url, 'GET', `/api/agents/${id}`)).data;
    throw new Error(`${e.message}; toasts: ${JSON.stringify(toasts)}; the agent: ${now.status} ${JSON.stringify(now.statusReason)}`);
  }
  await until(async () => {
    const m = (await api(d.url, 'GET', `/api/agents/${id}/messages?limit=50`)).data.messages;
    return m.some((x) => x.role === 'user' && x.content === 'continue') && m.some((x) => x.role === 'assistant' && x.content.includes('Hello from the mock.'));
  }, 'the resumed turn');
  await api(d.url, 'POST', `/api/agents/${id}/stop?force=true&wait=true`);
});

test('an agent with a goal under way shows the goal\'s turn', async () => {
  const ws = await api(d.url, 'POST', '/api/workspaces', { path: makeRepo(), name: 'goal-repo' });
  assert.ok(ws.status < 300, JSON.stringify(ws.data));
  // each run is a turn; the second waits, so the page can look at it
  const command = ['sh', '-c', 'read line; echo "$line" >> log.txt; if [ "$(wc -l < log.txt)" -ge 2 ]; then sleep 120; fi'];
  const ag = await api(d.url, 'POST', '/api/agents', { worktreeId: ws.data.worktrees[0].id, name: 'Goalie', executor: 'command', command });
  assert.equal(ag.status, 201, JSON.stringify(ag.data));
  const id = ag.data.id;
  const { page } = b;
  await page.goto(`${d.url}/#/agents/${id}`);
  await page.locator('.conn[data-status="connected"]').waitFor();
  const s = await api(d.url, 'POST', `/api/agents/${id}/start`, {
    initialPrompt: 'one',
    goal: { check: ['test', '-f', 'never-there'], prompt: 'Again.', maxTurns: 3 },
  });
  assert.equal(s.status, 200, JSON.stringify(s.data));
  await waitText(page.locator('.agent-head .agent-badge'), /goal turn 2 of 3/, 'the goal\'s turn');
  await waitText(page.locator('.agent-head .status-reason'), /goal turn 2 of 3/, 'why it runs');
  await api(d.url, 'POST', `/api/agents/${id}/stop?force=true&wait=true`);
  const g = await until(async () => {
    const x = (await api(d.url, 'GET', `/api/agents/${id}`)).data;
    return x.state && x.state.goal && x.state.goal.status === 'stopped' ? x : null;
  }, 'the goal stopped with the agent');
  assert.equal(g.statusReason.code === 'goal_stopped' || g.statusReason.code === 'stopped', true, JSON.stringify(g.statusReason));
  await waitText(page.locator('.agent-head .agent-badge'), /^(?!.*goal turn)/s, 'the goal note gone');
});
