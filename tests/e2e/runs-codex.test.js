// SPDX-License-Identifier: MIT
// The real Codex CLI (@openai/codex, pinned in package.json) run by agentd
// against the mock Responses API, as `codex exec --json`: the fallback for a
// CLI older than the app-server agentd speaks (its wrapper says 0.168.0;
// codex-app.test.js has the app-server path): a prompt and its answer as live events, a
// command that really runs in the worktree, usage and cost, a follow-up
// message that resumes the same thread, a message refused while a turn
// runs, stop while busy, an API error in the middle of a turn, the sandbox
// each mode gives, and the notice for a CLI version agentd was not tested
// with.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const daemon = require('./lib/daemon');
const { api, until, messages, runs, agent, runEnded, watch, seen } = require('./lib/agents');
const { start, defaultRules } = require('../fixtures/mock-openai');
const { CODEX_BIN, codexMissingReason, makeSandbox } = require('../fixtures/cli-run');

const skip = codexMissingReason() || false;
const PRICE = { input: 1.25, output: 10, cachedInput: 0.125 };

// The sandbox codex says it runs a turn in (it sends it with each request).
function sandboxOf(req) {
  return JSON.parse(req.headers['x-codex-turn-metadata']).sandbox_mode;
}

test('codex under agentd', { skip }, async (t) => {
  const mock = await start({
    rules: [
      { match: 'make plan.txt', reply: { tool: { command: 'echo planned > plan.txt' }, then: { text: 'Tried plan.txt.' } } },
      { match: 'fail after a command', reply: { tool: { command: 'echo part > part.txt' }, then: { failed: { code: 'rate_limit_exceeded', message: 'Rate limit reached for requests per min. Please try again in 0.1s.' } } } },
      { match: 'sleep please', reply: { tool: { command: 'sleep 31.7' }, then: { text: 'Slept.' } } },
      ...defaultRules(),
    ],
  });
  const sb = makeSandbox();
  // The daemon's codex: the real CLI, whose --version a test can change
  // with FAKE_CODEX_VERSION in the agent's environment.
  const wrapper = path.join(sb.home, 'codex');
  fs.writeFileSync(wrapper, `#!/bin/sh\nif [ -n "$FAKE_CODEX_VERSION" ] && [ "$1" = --version ]; then echo "codex-cli $FAKE_CODEX_VERSION"; exit 0; fi\nexec "${CODEX_BIN}" "$@"\n`, { mode: 0o755 });
  // The sandbox shows the wrapper's folder (the CLI's); the real CLI it
  // execs lives in node_modules, shown as an admin would show a tools folder.
  const nodeModules = path.dirname(path.dirname(CODEX_BIN));
  const d = await daemon.start({ needUrl: true, args: ['--codex-bin', wrapper, '--stop-grace-ms', '3000',
    '--sandbox-paths', nodeModules] });
  const repo = daemon.tmpRepo('agentd-codex-');
  try {
    assert.equal((await api(d, 'PATCH', '/api/settings', { model_prices: { 'gpt-5.5': PRICE } })).status, 200);
    const ws = await api(d, 'POST', '/api/workspaces', { path: repo });
    assert.equal(ws.status, 201, JSON.stringify(ws.body));
    const wt = ws.body.worktrees[0].id;
    const mk = async (mode, extraEnv = {}) => {
      // a version before AD_CODEX_APP_MIN, as the run's probe then says too
      const env = { FAKE_CODEX_VERSION: '0.168.0', ...extraEnv };
      const r = await api(d, 'POST', '/api/agents', {
        state: { codexVersion: env.FAKE_CODEX_VERSION },
        worktreeId: wt, executor: 'codex', mode, model: 'gpt-5.5', baseUrl: `${mock.url}/v1`,
        codexConfig: { 'model_providers.agentd.request_max_retries': 0, 'model_providers.agentd.stream_max_retries': 0 },
        // A home of its own: codex keeps its threads there, and `bash -l`
        // then reads no profile of this machine's.
        env: { OPENAI_API_KEY: 'dummy', HOME: sb.home, ...env },
        allowUnsafeEnv: true,
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.id;
    };
    const id = await mk('regular');

    await t.test('a prompt, its answer live, a command run in the worktree, usage and cost', async () => {
      const live = await watch(d, id);
      const s = await api(d, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'please make a file' });
      assert.equal(s.status, 200, JSON.stringify(s.body));
      const run = await runEnded(d, id, 1);
      assert.equal(run.status, 'succeeded', JSON.stringify(run));
      assert.equal(fs.readFileSync(path.join(repo, 'out.txt'), 'utf8'), 'hello\n');
      // live: the prompt, the command starting and ending, the answer, in order
      await live.until(() => seen(live, 'agent_status').some((p) => p.status === 'finished'), 10000, 'finished');
      const types = live.events.map((e) => e.type);
      const start = seen(live, 'tool_start')[0];
      assert.equal(start.name, 'Bash');
      assert.match(start.params.command, /echo hello > out\.txt/);
      const end = seen(live, 'tool_end')[0];
      assert.equal(end.status, 'success');
      assert.equal(end.exitCode, 0);
      const answer = seen(live, 'message_created').find((p) => p.message.role === 'assistant');
      assert.equal(answer.message.content, 'I wrote hello to out.txt.');
      assert.ok(types.indexOf('tool_start') < types.indexOf('tool_end'));
      assert.ok(live.events.findIndex((e) => e.type === 'tool_end') <
        live.events.findIndex((e) => e.type === 'message_created' && e.payload.message.role === 'assistant'));
      await live.close();
      const msgs = (await messages(d, id)).reverse(); // oldest first
      // the command is one tool message: stored when it starts, written over
      // (same id) once complete, with its output
      assert.deepEqual(msgs.map((m) => m.role).filter((r) => r !== 'system'), ['user', 'tool', 'assistant']);
      const tool = msgs.filter((m) => m.role === 'tool');
      assert.equal(tool[0].toolName, 'Bash');
      assert.equal(tool[0].isComplete, true);
      assert.equal(tool[0].isError, false);
      assert.match(JSON.parse(tool[0].toolInput).command, /echo hello > out\.txt/);
      // usage as codex counted it, cost at the configured price
      assert.ok(run.inputTokens > 0 && run.cacheReadTokens > 0 && run.outputTokens > 0, JSON.stringify(run));
      const cost = (run.inputTokens * PRICE.input + run.cacheReadTokens * PRICE.cachedInput + run.outputTokens * PRICE.output) / 1e6;
      assert.ok(Math.abs(run.costUsd - cost) < 1e-9, `${run.costUsd} != ${cost}`);
      assert.equal(run.numTurns, 1);
      // read with --version beside the run, which may end first
      await until(async () => (await runs(d, id))[0].cliVersion === '0.168.0', 'the CLI version on the run');
      const today = (await api(d, 'GET', '/api/usage/today')).body;
      assert.ok(today.requestCount >= 1 && today.costUsd > 0, JSON.stringify(today));
      // the agent carries codex's thread; in agentd's sandbox (the worktree
      // writable, nothing of agentd's) codex runs its commands directly: its
      // own bwrap cannot nest inside agentd's
      assert.match((await agent(d, id)).sessionId, /^[0-9a-f-]{36}$/);
      assert.equal(sandboxOf(mock.modelRequests()[0]), 'danger-full-access');
      assert.equal(mock.modelRequests()[0].headers.authorization, 'Bearer dummy');
    });

    await t.test('a follow-up message resumes the same thread', async () => {
      const thread = (await agent(d, id)).sessionId;
      const first = await api(d, 'POST', `/api/agents/${id}/message`, { content: 'please remember a word' });
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(first.body.status, 'sent');
      await runEnded(d, id, 2);
      const before = mock.modelRequests().length;
      const second = await api(d, 'POST', `/api/agents/${id}/message`, { content: 'what word was it?' });
      assert.equal(second.status, 200, JSON.stringify(second.body));
      const run = await runEnded(d, id, 3);
      assert.equal(run.status, 'succeeded');
      const msgs = await messages(d, id);
      assert.ok(msgs.some((m) => m.id === second.body.messageId && m.role === 'user' && m.content === 'what word was it?'));
      assert.equal(msgs.find((m) => m.role === 'assistant').content, 'The word was banana.'); // newest first
      // the model was sent the earlier turns of the same thread
      const req = mock.modelRequests()[before];
      const text = JSON.stringify(req.body.input);
      assert.ok(text.includes('please remember a word') && text.includes('I will remember the word banana.'));
      assert.equal(req.headers['thread-id'], thread);
      assert.equal((await agent(d, id)).sessionId, thread);
    });

    await t.test('busy: a message is refused while a turn runs; stop ends the run and its command', async () => {
      const live = await watch(d, id);
      assert.equal((await api(d, 'POST', `/api/agents/${id}/message`, { content: 'sleep please' })).status, 200);
      await live.until(() => seen(live, 'tool_start').length > 0, 20000, 'the command to start');
      const busy = await api(d, 'POST', `/api/agents/${id}/message`, { content: 'are you there?' });
      assert.equal(busy.status, 409);
      assert.match(busy.body.error.message, /busy with a turn/);
      const stopped = await api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
      assert.equal(stopped.status, 200);
      assert.equal(stopped.body.status, 'stopped');
      const run = (await runs(d, id))[0];
      assert.equal(run.status, 'stopped');
      // the open command is closed, and its process is gone with the run
      await live.until(() => seen(live, 'tool_end').length > 0, 5000, 'tool_end');
      assert.equal(seen(live, 'tool_end')[0].status, 'error');
      await live.close();
      const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
      assert.ok(!ps.includes('sleep 31.7'), 'the command was stopped with the run');
    });

    await t.test('a rate limit in the middle of a turn fails the run; the agent resumes itself at the reset', async () => {
      const s = await api(d, 'POST', `/api/agents/${id}/message`, { content: 'please fail after a command' });
      assert.equal(s.status, 200);
      // "try again in 0.1s": suspended, not error (issue #75), then a run
      // that resumes the session with "continue"
      const resumed = await runEnded(d, id, 6);
      assert.equal(resumed.status, 'succeeded');
      const limited = (await runs(d, id))[1];
      assert.equal(limited.status, 'failed');
      const hist = (await api(d, 'GET', `/api/agents/${id}/status-history?limit=50`)).body.entries;
      const susp = hist.find((e) => e.status === 'suspended');
      assert.ok(susp, JSON.stringify(hist.slice(0, 8)));
      assert.equal(susp.code, 'usage_limit');
      assert.match(susp.text, /rate limit exceeded/);
      assert.ok((await messages(d, id)).some((m) => m.role === 'user' && m.content === 'continue'));
      assert.ok(fs.existsSync(path.join(repo, 'part.txt')), 'the command before the error ran');
    });

    await t.test('modes: plan cannot write (agentd shows the worktree read-only), auto can', async () => {
      for (const [mode, sandbox, writes] of [['plan', 'danger-full-access', false], ['auto', 'danger-full-access', true]]) {
        const aid = await mk(mode);
        fs.rmSync(path.join(repo, 'plan.txt'), { force: true });
        const before = mock.modelRequests().length;
        assert.equal((await api(d, 'POST', `/api/agents/${aid}/start`, { initialPrompt: 'please make plan.txt' })).status, 200);
        const run = await runEnded(d, aid, 1);
        assert.equal(run.status, 'succeeded', mode);
        assert.equal(sandboxOf(mock.modelRequests()[before]), sandbox);
        assert.equal(fs.existsSync(path.join(repo, 'plan.txt')), writes, `${mode} writes plan.txt: ${writes}`);
      }
    });

    await t.test('a CLI version agentd was not tested with is said on the run, which goes on', async () => {
      const aid = await mk('regular', { FAKE_CODEX_VERSION: '0.1.0' });
      assert.equal((await api(d, 'POST', `/api/agents/${aid}/start`, { initialPrompt: 'say hi' })).status, 200);
      const run = await runEnded(d, aid, 1);
      assert.equal(run.status, 'succeeded');
      await until(async () => (await runs(d, aid))[0].cliVersion === '0.1.0', 'the version on the run');
      const untested = /Codex CLI 0\.1\.0 is not a version agentd was tested with \(0\.169\.x\)/;
      const msgs = await until(async () => {
        const m = await messages(d, aid);
        return m.some((x) => x.role === 'system' && untested.test(x.content)) ? m : null;
      }, 'the version notice');
      assert.ok(msgs.some((m) => m.role === 'assistant' && m.content === 'Hello from the mock.'));
    });

    await t.test('a CLI not known yet runs app-server; once its version is older, exec --json', async () => {
      const r = await api(d, 'POST', '/api/agents', {
        worktreeId: wt, executor: 'codex', mode: 'auto', model: 'gpt-5.5', baseUrl: `${mock.url}/v1`,
        codexConfig: { 'model_providers.agentd.request_max_retries': 0 },
        env: { OPENAI_API_KEY: 'dummy', HOME: sb.home, FAKE_CODEX_VERSION: '0.168.0' },
        allowUnsafeEnv: true,
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const aid = r.body.id;
      assert.equal((await api(d, 'POST', `/api/agents/${aid}/start`, { initialPrompt: 'say hi' })).status, 200);
      // app-server: the process lives on after the turn
      await until(async () => (await agent(d, aid)).status === 'waiting', 'the turn on app-server');
      assert.equal((await runs(d, aid))[0].status, 'running');
      await until(async () => (await agent(d, aid)).state.codexVersion === '0.168.0', 'the version kept on the agent');
      assert.equal((await api(d, 'POST', `/api/agents/${aid}/stop?wait=true`)).status, 200);
      // the next run falls back: one turn, one process
      assert.equal((await api(d, 'POST', `/api/agents/${aid}/message`, { content: 'say hi again' })).status, 200);
      const run = await runEnded(d, aid, 2);
      assert.equal(run.status, 'succeeded');
      assert.equal((await agent(d, aid)).status, 'finished');
    });

    await t.test('codex needs a prompt; bad provider settings are refused', async () => {
      const aid = await mk('regular');
      const r = await api(d, 'POST', `/api/agents/${aid}/start`, {});
      assert.equal(r.status, 422);
      assert.match(r.body.error.message, /needs a prompt/);
      const bad = await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'codex', codexConfig: { x: null } });
      assert.equal(bad.status, 422);
      assert.equal(bad.body.error.details.field, 'codexConfig');
      const url = await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'codex', baseUrl: 'file:///etc' });
      assert.equal(url.status, 422);
      assert.equal(url.body.error.details.field, 'baseUrl');
    });
  } finally {
    await d.cleanup();
    await mock.close();
    sb.cleanup();
    fs.rmSync(repo, { recursive: true, force: true });
  }
});
