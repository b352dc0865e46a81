// SPDX-License-Identifier: MIT
// The real Gemini CLI (pinned in package.json) in ACP mode (`gemini --acp`,
// the `acp` executor's "gemini" preset) against the mock Gemini API: an
// edit asked as an agentd approval, allowed from the API and written
// through agentd's fs/write_text_file, usage from the CLI's quota,
// the CLI version, a shell command asked as an agentd approval carrying the
// CLI's own options, allowed from the API and run, and a second turn in the
// same process and session.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { api, until, messages, runs, agent, pendingApprovals } = require('./lib/agents');
const { start, defaultRules } = require('../fixtures/mock-gemini');
const { GEMINI_BIN, geminiMissingReason, makeSandbox } = require('../fixtures/cli-run');

const skip = geminiMissingReason() || false;

test('gemini over ACP under agentd', { skip }, async (t) => {
  const mock = await start({ rules: defaultRules() });
  const sb = makeSandbox();
  const d = await daemon.start({ needUrl: true, args: ['--gemini-bin', GEMINI_BIN, '--stop-grace-ms', '3000'] });
  const repo = daemon.tmpRepo('agentd-acp-gemini-');
  try {
    const ws = await api(d, 'POST', '/api/workspaces', { path: repo });
    assert.equal(ws.status, 201, JSON.stringify(ws.body));
    const r = await api(d, 'POST', '/api/agents', {
      worktreeId: ws.body.worktrees[0].id, executor: 'acp', acpAgent: 'gemini', baseUrl: mock.url,
      env: { GEMINI_API_KEY: 'dummy', HOME: sb.home }, allowUnsafeEnv: true,
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const id = r.body.id;
    const answered = (text) => until(async () => (await messages(d, id)).some((m) => m.role === 'assistant' && m.content === text), `"${text}"`, 60000);

    const approval = async () => (await pendingApprovals(d, id, 1, 60000))[0];

    await t.test('an edit asked as an approval, written through agentd; usage, version, session', async () => {
      assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'please make a file' })).status, 200);
      const ap = await approval();
      assert.equal(ap.toolName, 'write');
      assert.equal(ap.input.kind, 'edit');
      assert.equal(ap.input.locations[0].path, path.join(repo, 'out.txt'));
      assert.ok(!fs.existsSync(path.join(repo, 'out.txt')));
      assert.equal((await api(d, 'POST', `/api/approvals/${ap.id}`, { decision: 'allow' })).status, 200);
      await answered('I wrote hello to out.txt.');
      assert.equal(fs.readFileSync(path.join(repo, 'out.txt'), 'utf8'), 'hello\n');
      const tool = (await messages(d, id)).find((m) => m.role === 'tool');
      assert.ok(tool && tool.isComplete, JSON.stringify(tool));
      await until(async () => (await agent(d, id)).status === 'waiting', 'waiting after the turn');
      const run = (await runs(d, id))[0];
      assert.equal(run.status, 'running');
      assert.ok(run.inputTokens > 0 && run.outputTokens > 0, JSON.stringify(run));
      assert.equal(run.cliVersion, '0.61.0');
      assert.match((await agent(d, id)).sessionId, /^[0-9a-f-]{36}$/);
    });

    await t.test('a shell command is an approval with the CLI options; allow runs it', async () => {
      const sent = await api(d, 'POST', `/api/agents/${id}/message`, { content: 'please run a command' });
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      const ap = await approval();
      assert.equal(ap.toolName, 'execute');
      assert.equal(ap.input.kind, 'execute');
      assert.ok(ap.input.options.some((o) => o.kind === 'allow_once'), JSON.stringify(ap.input.options));
      assert.equal((await agent(d, id)).status, 'waiting');
      assert.ok(!fs.existsSync(path.join(repo, 'cmd.txt')));
      assert.equal((await api(d, 'POST', `/api/approvals/${ap.id}`, { decision: 'allow' })).status, 200);
      await answered('I ran the command.');
      assert.equal(fs.readFileSync(path.join(repo, 'cmd.txt'), 'utf8'), 'hello\n');
      assert.equal((await runs(d, id)).length, 1, 'the same process took the second turn');
    });

    await t.test('stop ends the agent', async () => {
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
