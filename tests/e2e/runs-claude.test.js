// SPDX-License-Identifier: MIT
// The real Claude Code CLI run by agentd through the REST API, against the
// mock Anthropic API: start with a prompt, the answer stored as a message,
// the agent `waiting` after the turn with its session id, a follow-up
// message in the same session, a stop, and a second start that resumes.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const daemon = require('./lib/daemon');
const { start } = require('../fixtures/mock-anthropic');
const { CLAUDE_BIN, claudeMissingReason, makeSandbox } = require('../fixtures/claude-run');
const { api, until } = require('./lib/api');
const { claudeAgents } = require('./lib/agents');

const skip = claudeMissingReason() || false;

async function messages(d, id) {
  return (await api(d, 'GET', `/api/agents/${id}/messages?limit=100`)).body.messages;
}

test('claude under agentd: prompt, answer, follow-up, stop, resume', { skip }, async () => {
  const mock = await start();
  const sb = makeSandbox();
  const d = await daemon.start({ needUrl: true, args: ['--claude-bin', CLAUDE_BIN, '--stop-grace-ms', '3000'] });
  try {
    const id = (await (await claudeAgents(d, sb, mock.url))()).id;

    const s = await api(d, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'please remember a word' });
    assert.equal(s.status, 200, JSON.stringify(s.body));
    const waiting = await until(async () => {
      const a = (await api(d, 'GET', `/api/agents/${id}`)).body;
      return a.status === 'waiting' ? a : null;
    }, 'the end of the first turn');
    assert.match(waiting.sessionId, /^[0-9a-f-]{36}$/);
    // its run says so too: still running, waiting for input
    const live = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0];
    assert.equal(live.status, 'running');
    assert.equal(live.phase, 'waiting');
    // and its usage grows turn by turn, not only at its end
    assert.ok(live.outputTokens > 0 && live.numTurns >= 1, JSON.stringify(live));
    let msgs = await messages(d, id);
    assert.ok(msgs.some((m) => m.role === 'user' && m.content === 'please remember a word'));
    assert.ok(msgs.some((m) => m.role === 'assistant' && m.content.includes('I will remember the word banana.')),
      JSON.stringify(msgs));

    const sent = await api(d, 'POST', `/api/agents/${id}/message`, { content: 'say hi' });
    assert.equal(sent.status, 200);
    await until(async () => (await messages(d, id)).some((m) => m.role === 'assistant' && m.content.includes('Hello from the mock.')),
      'the follow-up answer');

    const stopped = await api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
    assert.equal(stopped.status, 200);
    assert.equal(stopped.body.status, 'stopped');
    const run1 = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0];
    assert.equal(run1.status, 'stopped');
    assert.equal(run1.phase, null);
    assert.ok(run1.outputTokens > 0, JSON.stringify(run1));
    assert.ok(run1.numTurns >= 2, JSON.stringify(run1));
    const today = (await api(d, 'GET', '/api/usage/today')).body;
    assert.ok(today.requestCount >= 2, JSON.stringify(today));
    assert.ok(today.outputTokens > 0, JSON.stringify(today));

    // A second start resumes the session: the model sees the first turns.
    const before = mock.requests.length;
    assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'what word was it?' })).status, 200);
    await until(async () => (await messages(d, id)).some((m) => m.role === 'assistant' && m.content.includes('The word was banana.')),
      'the resumed answer');
    const resumed = mock.requests.slice(before).some((r) => JSON.stringify(r).includes('please remember a word'));
    assert.ok(resumed, 'the resumed request carries the earlier conversation');
    assert.equal((await api(d, 'POST', `/api/agents/${id}/stop?force=true&wait=true`)).body.status, 'stopped');
    assert.equal((await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs.length, 2);
  } finally {
    await d.cleanup();
    await mock.close();
    sb.cleanup();
  }
});

// A tool call is one stored message: the result is written over the call
// (same id), with its output, and a failed or denied call says isError. The
// tool_end events never carry an exit code of -1 (unknown is null).
test('claude tool calls: one message per call, failures marked, no -1 exit codes', { skip }, async () => {
  const { Live } = require('./lib/live');
  const mock = await start();
  const sb = makeSandbox();
  const d = await daemon.start({ needUrl: true, args: ['--claude-bin', CLAUDE_BIN] });
  try {
    if (process.getuid && process.getuid() === 0) {
      assert.equal((await api(d, 'PATCH', '/api/settings', { allow_root_auto: true })).status, 200);
    }
    const agents = await claudeAgents(d, sb, mock.url);
    const make = async (mode) => (await agents({ mode })).id;
    const turn = async (id) => {
      assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'make a file' })).status, 200);
      await until(async () => (await messages(d, id)).some((m) => m.role === 'assistant' && m.content.includes('out.txt')),
        'the answer after the tool');
      // the rows are written in batches: wait for the call's row to be complete
      return until(async () => {
        const tools = (await messages(d, id)).filter((m) => m.role === 'tool');
        return tools.length && tools.every((m) => m.isComplete) ? tools : null;
      }, 'the tool row');
    };

    // auto mode: the Bash call runs
    const auto = await make('auto');
    let tools = await turn(auto);
    assert.equal(tools.length, 1, JSON.stringify(tools));
    assert.equal(tools[0].toolName, 'Bash');
    assert.match(tools[0].toolInput, /echo hello > out.txt/);
    assert.equal(tools[0].isError, false, JSON.stringify(tools[0]));
    assert.equal(typeof tools[0].toolOutput, 'string');
    // the answer's token count is its API message's real one (message_delta),
    // not the 1 the assistant line carries from the message's start
    const answer = await until(async () => (await messages(d, auto)).find((m) => m.role === 'assistant' && m.tokenCount > 1),
      'the real token count');
    assert.match(answer.content, /out\.txt/);
    await api(d, 'POST', `/api/agents/${auto}/stop?force=true&wait=true`);

    // plan mode: the call is refused, and the one row says so
    const plan = await make('plan');
    tools = await turn(plan);
    assert.equal(tools.length, 1, JSON.stringify(tools));
    assert.equal(tools[0].isError, true, JSON.stringify(tools[0]));
    await api(d, 'POST', `/api/agents/${plan}/stop?force=true&wait=true`);

    // what was published: a tool_end per call, no -1 exit code
    const c = await Live.open(d);
    c.send('subscribe', { topics: [`agent:${auto}`, `agent:${plan}`], since: 0 });
    await c.until(() => c.events.filter((e) => e.type === 'tool_end').length >= 2, 10000, 'two tool_end events');
    for (const e of c.events.filter((x) => x.type === 'tool_end')) {
      assert.notEqual(e.payload.exitCode, -1, JSON.stringify(e.payload));
    }
    c.ws.close();
  } finally {
    await d.cleanup();
    await mock.close();
    sb.cleanup();
  }
});

// An agent definition's body given to a Claude agent: the CLI adds it to its
// system prompt (text that starts with '-', as a markdown list does, is the
// prompt, not an option); other executors refuse the field.
test('claude with a systemPrompt: the model request carries it', { skip }, async () => {
  const mock = await start();
  const sb = makeSandbox();
  const d = await daemon.start({ needUrl: true, args: ['--claude-bin', CLAUDE_BIN] });
  try {
    const text = '- You are the reviewer: answer in one line.\n- Never run tools.';
    const ag = { body: await (await claudeAgents(d, sb, mock.url))({ systemPrompt: text }) };
    const worktreeId = ag.body.worktreeId;
    const before = mock.requests.length;
    assert.equal((await api(d, 'POST', `/api/agents/${ag.body.id}/start`, { initialPrompt: 'say hi' })).status, 200);
    await until(async () => (await messages(d, ag.body.id)).some((m) => m.role === 'assistant'), 'the answer');
    const sent = mock.requests.slice(before).map((r) => JSON.stringify(r));
    assert.ok(sent.some((r) => r.includes('You are the reviewer: answer in one line.') && r.includes('Never run tools.')), 'the system prompt reached the model');
    await api(d, 'POST', `/api/agents/${ag.body.id}/stop?force=true&wait=true`);
    const bad = await api(d, 'POST', '/api/agents', { worktreeId, executor: 'codex', systemPrompt: 'x' });
    assert.equal(bad.status, 422);
    assert.equal(bad.body.error.details.field, 'systemPrompt');
  } finally {
    await d.cleanup();
    await mock.close();
    sb.cleanup();
  }
});

// Issue #74: the CLI's session file is gone (deleted, or the home moved):
// `--resume <id>` fails at once with "No conversation found with session
// ID". Before, every later start failed the same way; now agentd starts a
// fresh session with the same prompt and the transcript says so.
test('claude whose CLI session is gone: a fresh session, said in the transcript', { skip }, async () => {
  const fs = require('fs');
  const path = require('path');
  const mock = await start();
  const sb = makeSandbox();
  const d = await daemon.start({ needUrl: true, args: ['--claude-bin', CLAUDE_BIN, '--stop-grace-ms', '3000'] });
  try {
    const id = (await (await claudeAgents(d, sb, mock.url))()).id;
    assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'please remember a word' })).status, 200);
    const first = await until(async () => {
      const a = (await api(d, 'GET', `/api/agents/${id}`)).body;
      return a.status === 'waiting' ? a : null;
    }, 'the end of the first turn');
    assert.equal((await api(d, 'POST', `/api/agents/${id}/stop?wait=true`)).body.status, 'stopped');
    // the CLI's record of that session goes away
    const gone = [];
    const walk = (dir) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.includes(first.sessionId)) { fs.rmSync(p); gone.push(p); }
      }
    };
    walk(sb.home);
    assert.ok(gone.length > 0, 'the session file was found under the CLI home');

    assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'say hi' })).status, 200);
    const fresh = await until(async () => {
      const a = (await api(d, 'GET', `/api/agents/${id}`)).body;
      return a.status === 'waiting' && a.sessionId !== first.sessionId ? a : null;
    }, 'a fresh session waiting for input');
    assert.match(fresh.sessionId, /^[0-9a-f-]{36}$/);
    // newest first: in the order they were said, the note, then the prompt and its answer
    const msgs = await until(async () => {
      const all = (await messages(d, id)).reverse();
      return all.some((m) => m.role === 'assistant' && m.content.includes('Hello from the mock.')) ? all : null;
    }, 'the fresh session\'s answer');
    const note = msgs.findIndex((m) => m.role === 'system' && m.content.includes(`could not resume session ${first.sessionId}`));
    assert.ok(note >= 0, JSON.stringify(msgs.map((m) => [m.role, m.content])));
    const said = msgs.slice(note + 1).map((m) => `${m.role}:${m.content}`);
    assert.ok(said.indexOf('user:say hi') >= 0 && said.findIndex((x) => x.includes('Hello from the mock.')) > said.indexOf('user:say hi'),
      JSON.stringify(said));
    // one failed run (the refused resume), then the fresh one
    const rs = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs;
    assert.equal(rs.length, 3);
    assert.equal(rs[1].status, 'failed');
    // and a later stop and start resumes the fresh session as usual
    assert.equal((await api(d, 'POST', `/api/agents/${id}/stop?wait=true`)).body.status, 'stopped');
    assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'what word was it?' })).status, 200);
    await until(async () => (await api(d, 'GET', `/api/agents/${id}`)).body.status === 'waiting', 'the resumed turn');
    assert.equal((await api(d, 'GET', `/api/agents/${id}`)).body.sessionId, fresh.sessionId);
    assert.equal((await messages(d, id)).filter((m) => m.role === 'system' && m.content.includes('could not resume')).length, 1);
    assert.equal((await api(d, 'POST', `/api/agents/${id}/stop?force=true&wait=true`)).body.status, 'stopped');
  } finally {
    await d.cleanup();
    await mock.close();
    sb.cleanup();
  }
});
