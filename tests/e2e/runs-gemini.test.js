// SPDX-License-Identifier: MIT
// The real Gemini CLI (@google/gemini-cli, pinned in package.json) run by
// agentd against the mock Gemini API: a prompt and its streamed answer, a
// file written and a shell command run in the worktree, usage and cost per
// model, a follow-up message that resumes the same session, a message
// refused while a turn runs, stop while busy, a quota after a tool call (the
// agent suspended, issue #75), and the approval mode each agent mode gives.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const daemon = require('./lib/daemon');
const { api, until, messages, runs, agent, runEnded, watch, seen } = require('./lib/agents');
const { start, defaultRules } = require('../fixtures/mock-gemini');
const { GEMINI_BIN, geminiMissingReason, makeSandbox } = require('../fixtures/cli-run');

const skip = geminiMissingReason() || false;
const PRICES = { 'gemini-*': { input: 0.3, output: 2.5, cachedInput: 0.03 } };

// The approval mode the CLI says it is in (its system prompt names it).
function modeOf(req) {
  const m = /currently operating in \*\*([A-Za-z-]+)\*\* mode/.exec(JSON.stringify(req.body.systemInstruction));
  return m ? m[1] : null;
}

test('gemini under agentd', { skip }, async (t) => {
  const mock = await start({
    rules: [
      { match: 'fail after a tool', reply: { tool: { name: 'write_file', args: { file_path: 'part.txt', content: 'part\n' } }, then: { error: { status: 429, message: 'You exceeded your current quota. Quota exceeded for metric: generate_content_requests, limit: 0' } } } },
      { match: 'sleep please', reply: { tool: { name: 'run_shell_command', args: { command: 'sleep 32.3', description: 'Wait' } }, then: { text: 'Slept.' } } },
      ...defaultRules(),
    ],
  });
  // The home the CLI runs with: its sessions, and settings.json choosing
  // API-key auth (needed with a custom base URL) and one try per request.
  const sb = makeSandbox();
  const d = await daemon.start({ needUrl: true, args: ['--gemini-bin', GEMINI_BIN, '--stop-grace-ms', '3000'] });
  const repo = daemon.tmpRepo('agentd-gemini-');
  try {
    assert.equal((await api(d, 'PATCH', '/api/settings', { model_prices: PRICES })).status, 200);
    const ws = await api(d, 'POST', '/api/workspaces', { path: repo });
    assert.equal(ws.status, 201, JSON.stringify(ws.body));
    const wt = ws.body.worktrees[0].id;
    const mk = async (mode) => {
      const r = await api(d, 'POST', '/api/agents', {
        worktreeId: wt, executor: 'gemini', mode, baseUrl: mock.url,
        env: { GEMINI_API_KEY: 'dummy', HOME: sb.home }, allowUnsafeEnv: true,
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.id;
    };
    const id = await mk('regular');

    await t.test('a prompt, its streamed answer, a file written in the worktree, usage and cost', async () => {
      const live = await watch(d, id);
      assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'please make a file' })).status, 200);
      const run = await runEnded(d, id, 1);
      assert.equal(run.status, 'succeeded', JSON.stringify(run));
      assert.equal(fs.readFileSync(path.join(repo, 'out.txt'), 'utf8'), 'hello\n');
      await live.until(() => seen(live, 'agent_status').some((p) => p.status === 'finished'), 10000, 'finished');
      // token by token, then the whole answer as one message
      const deltas = seen(live, 'agent_output').filter((p) => p.stream === 'stdout' && p.isComplete === false);
      assert.equal(deltas.map((p) => p.content).join(''), 'I wrote hello to out.txt.');
      const startEv = seen(live, 'tool_start')[0];
      assert.equal(startEv.name, 'write_file');
      assert.equal(startEv.params.file_path, 'out.txt');
      assert.equal(seen(live, 'tool_end')[0].status, 'success');
      await live.close();
      const msgs = (await messages(d, id)).reverse();
      // the prompt once (the CLI's echo of it is not stored again)
      assert.equal(msgs.filter((m) => m.role === 'user').length, 1);
      assert.equal(msgs.filter((m) => m.role === 'assistant').map((m) => m.content).join(), 'I wrote hello to out.txt.');
      // usage summed over the routing call and the turn, priced per model
      assert.ok(run.inputTokens > 0 && run.cacheReadTokens > 0 && run.outputTokens > 0, JSON.stringify(run));
      const p = PRICES['gemini-*'];
      const cost = (run.inputTokens * p.input + run.cacheReadTokens * p.cachedInput + run.outputTokens * p.output) / 1e6;
      assert.ok(Math.abs(run.costUsd - cost) < 1e-9, `${run.costUsd} != ${cost}`);
      // read with --version beside the run, which may end first
      await until(async () => (await runs(d, id))[0].cliVersion === '0.61.0', 'the CLI version on the run');
      // regular: edits allowed, nothing else asked for
      const turn = mock.agentRequests()[0];
      assert.equal(modeOf(turn), 'Auto-Edit');
      assert.equal(turn.headers['x-goog-api-key'], 'dummy');
      assert.ok(mock.requests.some((r) => r.rpc === 'generateContent'), 'the routing call was answered');
      assert.match((await agent(d, id)).sessionId, /^[0-9a-f-]{36}$/);
    });

    await t.test('a follow-up message resumes the same session', async () => {
      const session = (await agent(d, id)).sessionId;
      const before = mock.agentRequests().length;
      const sent = await api(d, 'POST', `/api/agents/${id}/message`, { content: 'what word was it?' });
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      const run = await runEnded(d, id, 2);
      assert.equal(run.status, 'succeeded');
      const msgs = await messages(d, id);
      assert.ok(msgs.some((m) => m.id === sent.body.messageId && m.content === 'what word was it?'));
      assert.equal(msgs.find((m) => m.role === 'assistant').content, 'The word was banana.');
      // the model is sent the first turn again: its prompt and the tool call
      const req = mock.agentRequests()[before].body;
      assert.ok(mock.allUserText(req).includes('please make a file'), 'the earlier turn was sent again');
      assert.ok(JSON.stringify(req.contents).includes('"functionResponse"'));
      assert.equal((await agent(d, id)).sessionId, session);
    });

    await t.test('busy: a message is refused while a turn runs; stop ends the run and its command', async () => {
      const aid = await mk('auto');
      const live = await watch(d, aid);
      assert.equal((await api(d, 'POST', `/api/agents/${aid}/start`, { initialPrompt: 'sleep please' })).status, 200);
      await live.until(() => seen(live, 'tool_start').length > 0, 30000, 'the command to start');
      const busy = await api(d, 'POST', `/api/agents/${aid}/message`, { content: 'are you there?' });
      assert.equal(busy.status, 409);
      assert.match(busy.body.error.message, /busy with a turn/);
      const stopped = await api(d, 'POST', `/api/agents/${aid}/stop?wait=true`);
      assert.equal(stopped.status, 200);
      assert.equal(stopped.body.status, 'stopped');
      assert.equal((await runs(d, aid))[0].status, 'stopped');
      await live.until(() => seen(live, 'tool_end').length > 0, 5000, 'tool_end');
      assert.equal(seen(live, 'tool_end')[0].status, 'error');
      await live.close();
      const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
      assert.ok(!ps.includes('sleep 32.3'), 'the command was stopped with the run');
    });

    await t.test('a quota after a tool call fails the run and suspends the agent; a stop ends that', async () => {
      assert.equal((await api(d, 'POST', `/api/agents/${id}/message`, { content: 'please fail after a tool' })).status, 200);
      const run = await runEnded(d, id, 3);
      assert.equal(run.status, 'failed');
      // suspended, not error (issue #75); the quota says no time: the default wait
      const a = await until(async () => {
        const x = await agent(d, id);
        return x.status === 'suspended' ? x : null;
      }, 'suspended');
      assert.equal(a.statusReason.code, 'usage_limit');
      assert.match(a.state.statusReason, /exceeded your current quota/);
      const wait = Date.parse(a.resumeAt) - Date.now();
      assert.ok(wait > 4 * 60000 && wait < 6 * 60000, a.resumeAt);
      assert.equal(fs.readFileSync(path.join(repo, 'part.txt'), 'utf8'), 'part\n');
      const st = await api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
      assert.equal(st.status, 200, JSON.stringify(st.body));
      assert.equal((await agent(d, id)).status, 'stopped');
    });

    await t.test('modes: plan reads only, auto runs shell commands', async () => {
      const plan = await mk('plan');
      let before = mock.agentRequests().length;
      assert.equal((await api(d, 'POST', `/api/agents/${plan}/start`, { initialPrompt: 'please run a command' })).status, 200);
      assert.equal((await runEnded(d, plan, 1)).status, 'succeeded');
      assert.equal(modeOf(mock.agentRequests()[before]), 'Plan');
      assert.ok(!fs.existsSync(path.join(repo, 'cmd.txt')), 'plan mode ran no command');
      const auto = await mk('auto');
      before = mock.agentRequests().length;
      assert.equal((await api(d, 'POST', `/api/agents/${auto}/start`, { initialPrompt: 'please run a command' })).status, 200);
      assert.equal((await runEnded(d, auto, 1)).status, 'succeeded');
      assert.equal(modeOf(mock.agentRequests()[before]), 'YOLO');
      assert.equal(fs.readFileSync(path.join(repo, 'cmd.txt'), 'utf8'), 'hello\n');
      const tools = (await messages(d, auto)).filter((m) => m.role === 'tool');
      assert.ok(tools.some((m) => m.toolName === 'run_shell_command' && m.isComplete), JSON.stringify(tools));
    });

    await t.test('gemini needs a prompt', async () => {
      const r = await api(d, 'POST', `/api/agents/${await mk('regular')}/start`, {});
      assert.equal(r.status, 422);
      assert.match(r.body.error.message, /needs a prompt/);
    });
  } finally {
    await d.cleanup();
    await mock.close();
    sb.cleanup();
    fs.rmSync(repo, { recursive: true, force: true });
  }
});
