// SPDX-License-Identifier: MIT
// Zed's Codex adapter (@zed-industries/codex-acp, pinned in package.json) as
// the `acp` executor's "codex-acp" preset, offline against the mock Responses
// API: the agent's baseUrl reaches the adapter as Codex's own provider
// override (-c model_providers.agentd=…), the stored OpenAI key as
// OPENAI_API_KEY, and a turn's answer is stored; then a command Codex wants
// to run is an approval and, allowed, runs (in agentd's sandbox).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { api, until, messages, agent } = require('./lib/agents');
const { start, defaultRules } = require('../fixtures/mock-openai');
const { makeSandbox } = require('../fixtures/cli-run');

const BIN_DIR = path.join(__dirname, 'node_modules', '.bin');
const skip = fs.existsSync(path.join(BIN_DIR, 'codex-acp')) ? false : 'codex-acp missing: run npm ci in tests/e2e';

test('codex-acp under agentd', { skip, timeout: 180000 }, async () => {
  const mock = await start({ rules: defaultRules() });
  const sb = makeSandbox();
  const nodeModules = path.join(__dirname, 'node_modules');
  const d = await daemon.start({ needUrl: true, args: ['--stop-grace-ms', '3000', '--sandbox-paths', nodeModules],
    env: { PATH: `${BIN_DIR}:${process.env.PATH}` } });
  try {
    const ws = await api(d, 'POST', '/api/workspaces', { path: sb.cwd });
    assert.equal(ws.status, 201, JSON.stringify(ws.body));
    // the key from the credential store, not the environment
    assert.ok((await api(d, 'PUT', '/api/credentials/openai', { apiKey: 'sk-test-codex-acp', validate: false })).status < 300);
    const r = await api(d, 'POST', '/api/agents', { worktreeId: ws.body.worktrees[0].id, executor: 'acp', acpAgent: 'codex-acp',
      baseUrl: `${mock.url}/v1`, model: 'gpt-5.5', env: { HOME: sb.home, CODEX_HOME: path.join(sb.home, '.codex') }, allowUnsafeEnv: true });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const id = r.body.id;
    assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'hello' })).status, 200);
    await until(async () => (await messages(d, id)).some((m) => m.role === 'assistant' && m.content.includes('Hello from the mock.')),
      'the answer from the mock', 120000);
    await until(async () => (await agent(d, id)).status === 'waiting', 'waiting after the turn', 60000);
    const req = mock.modelRequests()[0];
    assert.equal(req.headers.authorization, 'Bearer sk-test-codex-acp');
    // a command Codex wants to run is asked (approval_policy untrusted) and,
    // allowed, runs inside agentd's sandbox (Codex's own cannot nest there)
    assert.equal((await api(d, 'POST', `/api/agents/${id}/message`, { content: 'please make a file' })).status, 200);
    const ap = await until(async () => (await api(d, 'GET', `/api/agents/${id}/approvals?pending=true`)).body.approvals[0], 'the approval', 60000);
    assert.equal(ap.toolName, 'execute');
    assert.ok(!fs.existsSync(path.join(sb.cwd, 'out.txt')));
    assert.equal((await api(d, 'POST', `/api/approvals/${ap.id}`, { decision: 'allow' })).status, 200);
    await until(async () => (await messages(d, id)).some((m) => m.role === 'assistant' && m.content.includes('I wrote hello to out.txt.')), 'the turn after the answer', 60000);
    assert.equal(fs.readFileSync(path.join(sb.cwd, 'out.txt'), 'utf8'), 'hello\n');
    const st = await api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
    assert.equal(st.status, 200);
  } finally {
    await d.cleanup();
    await mock.close();
    sb.cleanup();
  }
});
