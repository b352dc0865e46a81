// SPDX-License-Identifier: MIT
// Zed's Claude Code adapter (@zed-industries/claude-code-acp, pinned in
// package.json) as the `acp` executor's "claude-code-acp" preset, offline
// against the mock Anthropic API (it runs the pinned Claude Code CLI,
// CLAUDE_CODE_EXECUTABLE): a Bash call asked as an agentd approval whose
// tool is the call's kind ("execute"), allowed from the API, run in an
// agentd terminal (the adapter's Bash is terminal/create when the client
// serves terminals) without a second question, and the turn's answer
// stored.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { api, until, messages, agent, pendingApprovals } = require('./lib/agents');
const { start } = require('../fixtures/mock-anthropic');
const { CLAUDE_BIN, claudeMissingReason, makeSandbox, claudeEnv } = require('../fixtures/claude-run');

const BIN_DIR = path.join(__dirname, 'node_modules', '.bin');
const adapterMissing = fs.existsSync(path.join(BIN_DIR, 'claude-code-acp')) ? false : 'claude-code-acp missing: run npm ci in tests/e2e';
const skip = claudeMissingReason() || adapterMissing;

test('claude-code-acp under agentd', { skip }, async (t) => {
  const mock = await start();
  const sb = makeSandbox();
  const d = await daemon.start({ needUrl: true, args: ['--stop-grace-ms', '3000'], env: { PATH: `${BIN_DIR}:${process.env.PATH}` } });
  try {
    const ws = await api(d, 'POST', '/api/workspaces', { path: sb.cwd });
    assert.equal(ws.status, 201, JSON.stringify(ws.body));
    const env = claudeEnv(mock.url, sb.home, { CLAUDE_CODE_EXECUTABLE: CLAUDE_BIN });
    delete env.PATH;
    const r = await api(d, 'POST', '/api/agents', { worktreeId: ws.body.worktrees[0].id, executor: 'acp', acpAgent: 'claude-code-acp', env, allowUnsafeEnv: true });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const id = r.body.id;
    const approval = async () => (await pendingApprovals(d, id, 1, 60000))[0];

    await t.test('a Bash call is an approval; allow runs it and the turn ends', async () => {
      assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'please make a file' })).status, 200);
      const ap = await approval();
      assert.equal(ap.toolName, 'execute');
      assert.equal(ap.input.rawInput.command, 'echo hello > out.txt');
      assert.ok(ap.input.options.some((o) => o.kind === 'allow_once'));
      assert.equal((await agent(d, id)).status, 'waiting');
      assert.ok(!fs.existsSync(path.join(sb.cwd, 'out.txt')));
      assert.equal((await api(d, 'POST', `/api/approvals/${ap.id}`, { decision: 'allow' })).status, 200);
      await until(async () => (await messages(d, id)).some((m) => m.role === 'assistant' && m.content.includes('I wrote hello to out.txt.')), 'the answer', 60000);
      assert.equal(fs.readFileSync(path.join(sb.cwd, 'out.txt'), 'utf8'), 'hello\n');
      // the adapter ran it in an agentd terminal (its Bash is the client's
      // terminal/create), not asked a second time: the grant of the approval
      assert.match(d.stderr, new RegExp(`msg="terminal started" agent=${id} terminal=term-1`));
      assert.equal((await api(d, 'GET', `/api/agents/${id}/approvals`)).body.approvals.length, 1);
      await until(async () => (await agent(d, id)).status === 'waiting', 'waiting after the turn');
      assert.match((await agent(d, id)).sessionId || '', /.+/);
    });

    await t.test('stop ends the adapter', async () => {
      const st = await api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
      assert.equal(st.status, 200);
      assert.equal(st.body.status, 'stopped');
    });
  } finally {
    await d.cleanup();
    await mock.close();
    sb.cleanup();
  }
});
