// SPDX-License-Identifier: MIT
// The real Claude Code CLI (pinned in package-lock.json) against the mock
// Anthropic API, launched the way agentd's claude executor launches it
// (stream-json in and out, partial messages): a text turn with token
// streaming, a Bash tool call that really runs in the working directory, and
// the permission modes (plan refuses the tool, auto runs it as root only with
// IS_SANDBOX=1).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { claudeMissingReason, makeSandbox, mockPerFile, runClaude } = require('../fixtures/claude-run');

const skip = claudeMissingReason() || false;

let mock;
mockPerFile(test, (m) => (mock = m));

test('a text turn streams tokens and ends with a successful result', { skip }, async () => {
  const sb = makeSandbox();
  try {
    const before = mock.requests.length;
    const r = await runClaude({ mockUrl: mock.url, home: sb.home, cwd: sb.cwd, messages: ['say hi'] });
    assert.equal(r.code, 0, r.stderr);
    const init = r.lines.find((l) => l.type === 'system' && l.subtype === 'init');
    assert.ok(init, 'system/init line');
    assert.match(init.session_id, /^[0-9a-f-]{36}$/);
    const deltas = r.lines
      .filter((l) => l.type === 'stream_event' && l.event.delta && l.event.delta.type === 'text_delta')
      .map((l) => l.event.delta.text);
    assert.equal(deltas.join(''), 'Hello from the mock.');
    assert.ok(deltas.length >= 2, 'text arrives in several deltas');
    const assistant = r.lines.find((l) => l.type === 'assistant');
    assert.deepEqual(assistant.message.content, [{ type: 'text', text: 'Hello from the mock.' }]);
    assert.equal(r.results.length, 1);
    assert.equal(r.results[0].is_error, false);
    assert.equal(r.results[0].result, 'Hello from the mock.');
    assert.equal(r.results[0].session_id, init.session_id);
    // What the CLI sent the API: the streaming endpoint, our key, our prompt.
    const req = mock.agentRequests().slice(-1)[0];
    assert.ok(mock.requests.length > before);
    assert.equal(req.url, '/v1/messages?beta=true');
    assert.equal(req.headers['x-api-key'], 'dummy');
    assert.equal(req.headers['anthropic-version'], '2023-06-01');
    assert.equal(req.body.stream, true);
    const users = req.body.messages.filter((m) => m.role === 'user');
    assert.match(JSON.stringify(users.slice(-1)[0].content), /say hi/);
  } finally {
    sb.cleanup();
  }
});

test('a Bash tool call runs in the working directory', { skip }, async () => {
  const sb = makeSandbox();
  try {
    const r = await runClaude({
      mockUrl: mock.url, home: sb.home, cwd: sb.cwd,
      messages: ['please make a file'], args: ['--allowedTools', 'Bash'],
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fs.readFileSync(path.join(sb.cwd, 'out.txt'), 'utf8'), 'hello\n');
    const use = r.lines.find((l) => l.type === 'assistant' && l.message.content[0].type === 'tool_use');
    assert.equal(use.message.content[0].name, 'Bash');
    const result = r.lines.find((l) => l.type === 'user' && Array.isArray(l.message.content));
    assert.equal(result.message.content[0].tool_use_id, use.message.content[0].id);
    assert.equal(result.message.content[0].is_error, false);
    assert.equal(r.results[0].result, 'I wrote hello to out.txt.');
    assert.equal(r.results[0].num_turns, 2);
    // The second API call carried the tool_result back.
    const last = mock.agentRequests().slice(-1)[0];
    const blocks = last.body.messages.filter((m) => m.role === 'user').slice(-1)[0].content;
    assert.ok(blocks.some((b) => b.type === 'tool_result' && b.tool_use_id === use.message.content[0].id));
  } finally {
    sb.cleanup();
  }
});

test('plan mode does not run the tool', { skip }, async () => {
  const sb = makeSandbox();
  try {
    const r = await runClaude({
      mockUrl: mock.url, home: sb.home, cwd: sb.cwd,
      messages: ['please make a file'], args: ['--permission-mode', 'plan'],
    });
    assert.equal(fs.existsSync(path.join(sb.cwd, 'out.txt')), false);
    const result = r.lines.find((l) => l.type === 'user' && Array.isArray(l.message.content));
    assert.ok(result, 'the refusal comes back as a tool_result');
    assert.equal(result.message.content[0].is_error, true);
  } finally {
    sb.cleanup();
  }
});

test('auto mode runs tools without prompts (IS_SANDBOX=1 when root)', { skip }, async () => {
  const sb = makeSandbox();
  try {
    const root = process.getuid && process.getuid() === 0;
    const r = await runClaude({
      mockUrl: mock.url, home: sb.home, cwd: sb.cwd,
      messages: ['please make a file'], args: ['--dangerously-skip-permissions'],
      env: root ? { IS_SANDBOX: '1' } : {},
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fs.readFileSync(path.join(sb.cwd, 'out.txt'), 'utf8'), 'hello\n');
    if (root) {
      // Without IS_SANDBOX the CLI refuses the flag as root before any API call.
      const n = mock.requests.length;
      const refused = await runClaude({
        mockUrl: mock.url, home: sb.home, cwd: sb.cwd,
        messages: ['please make a file'], args: ['--dangerously-skip-permissions'],
      });
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr + refused.stdout, /root/);
      assert.equal(mock.requests.length, n);
    }
  } finally {
    sb.cleanup();
  }
});
