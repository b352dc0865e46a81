// SPDX-License-Identifier: MIT
// The real Claude Code CLI on a worker node (issue #34, docs/nodes.md),
// against the mock Anthropic API: the agent works in a worktree of its
// repository on the node, asks permission for Bash (the approval is stored
// and answered on the control plane and reaches the CLI on the node), and
// when it is stopped its work comes back to the control plane, where the
// diff against the base shows it and a squash merge lands it on main with the
// node stopped.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const daemon = require('./lib/daemon');
const { start } = require('../fixtures/mock-anthropic');
const { CLAUDE_BIN, claudeMissingReason, claudeEnv } = require('../fixtures/claude-run');
const { api, until } = require('./lib/api');
const { nodeToken, startNode } = require('./lib/nodes');

const skip = claudeMissingReason() || false;
const git = (dir, ...a) => spawnSync('git', a, { cwd: dir, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' } });

test('Claude Code on a node: approval round-trip, its work back for diff and squash merge with the node gone', { skip }, async () => {
  const mock = await start();
  const home = daemon.tmpDir('agentd-claude-home-');
  const repo = daemon.tmpRepo('agentd-claude-node-');
  const d = await daemon.start({ needUrl: true, args: ['--claude-bin', CLAUDE_BIN, '--stop-grace-ms', '3000', '--node-lease-ms', '1500'] });
  let n = null;
  try {
    const ws = await api(d, 'POST', '/api/workspaces', { path: repo, name: 'claude-on-node' });
    assert.equal(ws.status, 201, JSON.stringify(ws.body));
    const wt = await api(d, 'POST', '/api/worktrees', { workspaceId: ws.body.id, name: 'claude-work', branch: 'claude-work', createBranch: true, base: 'main' });
    assert.equal(wt.status, 201, JSON.stringify(wt.body));
    const t = await nodeToken(d, 'claudebox');
    n = await startNode(d.url, { token: t.token, name: 'claudebox', env: { PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin` } });

    const env = claudeEnv(mock.url, home);
    delete env.PATH; // the node's own finds node and git
    const ag = await api(d, 'POST', '/api/agents', { worktreeId: wt.body.id, executor: 'claude', env, allowUnsafeEnv: true, node: 'claudebox' });
    assert.equal(ag.status, 201, JSON.stringify(ag.body));
    const id = ag.body.id;
    const s = await api(d, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'please make a file' });
    assert.equal(s.status, 200, JSON.stringify(s.body));
    const ap = await until(async () => {
      const r = await api(d, 'GET', `/api/agents/${id}/approvals?pending=true`);
      return r.body.approvals?.[0];
    }, 'the approval the CLI on the node asked for', 90000);
    assert.equal(ap.toolName, 'Bash');
    assert.equal(ap.input.command, 'echo hello > out.txt');
    const nodeWt = path.join(n.dataDir, 'worktrees', wt.body.id);
    assert.ok(fs.existsSync(path.join(nodeWt, '.git')), 'the worktree is on the node');
    assert.ok(!fs.existsSync(path.join(nodeWt, 'out.txt')), 'nothing ran before the decision');
    const ok = await api(d, 'POST', `/api/approvals/${ap.id}`, { decision: 'allow' });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    await until(async () => (await api(d, 'GET', `/api/agents/${id}/messages?limit=200`)).body.messages
      .some((m) => m.role === 'assistant' && m.content.includes('I wrote hello to out.txt.')), 'the turn done after the approval', 90000);
    assert.equal(fs.readFileSync(path.join(nodeWt, 'out.txt'), 'utf8'), 'hello\n', 'the tool ran on the node');
    assert.ok(!fs.existsSync(path.join(wt.body.path, 'out.txt')), 'not on the control plane yet');

    // stopped: its work (left uncommitted) comes back as a commit before the run's end is stored
    const st = await api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
    assert.ok(st.status === 200 || st.status === 202, JSON.stringify(st.body));
    await until(async () => (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0].status !== 'running', 'the run ended');
    assert.equal(fs.readFileSync(path.join(wt.body.path, 'out.txt'), 'utf8'), 'hello\n');
    assert.match(git(wt.body.path, 'log', '-1', '--format=%an %s').stdout, /^agentd agentd: work run run_\w+ left uncommitted on node claudebox/);

    await n.stop(); // the node goes: review and merge are the control plane's
    const diff = await api(d, 'GET', `/api/worktrees/${wt.body.id}/diff?against=base`);
    assert.equal(diff.status, 200, JSON.stringify(diff.body));
    assert.deepEqual(diff.body.files.map((f) => f.path), ['out.txt']);
    const m = await api(d, 'POST', `/api/worktrees/${wt.body.id}/merge`, { strategy: 'squash', message: 'out.txt from the node' });
    assert.equal(m.status, 200, JSON.stringify(m.body));
    assert.equal(git(repo, 'show', 'main:out.txt').stdout, 'hello\n');
  } finally {
    if (n) await n.cleanup();
    await d.cleanup();
    await mock.close();
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(repo, { recursive: true, force: true });
  }
});
