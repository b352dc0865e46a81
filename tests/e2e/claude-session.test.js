// SPDX-License-Identifier: MIT
// Sessions with the real Claude Code CLI against the mock API: a follow-up
// user message on stdin (stream-json input) runs as a second turn of the same
// session in the same process, and --resume after the process exited carries
// the conversation on under the same session id.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('../fixtures/mock-anthropic');
const { claudeMissingReason, makeSandbox, runClaude } = require('../fixtures/claude-run');

const skip = claudeMissingReason() || false;

// All user text the API saw in one request.
function userText(req) {
  return JSON.stringify(req.body.messages.filter((m) => m.role === 'user').map((m) => m.content));
}

test('a follow-up message on stdin, then --resume after exit', { skip }, async () => {
  const mock = await start();
  const sb = makeSandbox();
  try {
    const first = await runClaude({
      mockUrl: mock.url, home: sb.home, cwd: sb.cwd,
      messages: ['remember this word', 'what word was it?'],
    });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.results.length, 2, 'one result per turn, same process');
    const [r1, r2] = first.results;
    assert.equal(r1.result, 'I will remember the word banana.');
    assert.equal(r2.result, 'The word was banana.');
    assert.equal(r1.session_id, r2.session_id);
    // The second turn's request carried the first turn's conversation.
    const reqs = mock.agentRequests();
    assert.equal(reqs.length, 2);
    assert.match(userText(reqs[1]), /remember this word/);
    assert.match(userText(reqs[1]), /what word was it/);
    assert.ok(reqs[1].body.messages.some((m) => m.role === 'assistant' &&
      JSON.stringify(m.content).includes('I will remember the word banana.')));
    // total_cost_usd is cumulative over the process.
    assert.ok(r2.total_cost_usd > r1.total_cost_usd);

    const resumed = await runClaude({
      mockUrl: mock.url, home: sb.home, cwd: sb.cwd,
      messages: ['and again?'], args: ['--resume', r1.session_id],
    });
    assert.equal(resumed.code, 0, resumed.stderr);
    const init = resumed.lines.find((l) => l.type === 'system' && l.subtype === 'init');
    assert.equal(init.session_id, r1.session_id);
    assert.equal(resumed.results[0].session_id, r1.session_id);
    const req = mock.agentRequests().slice(-1)[0];
    assert.match(userText(req), /remember this word/);
    assert.match(userText(req), /and again\?/);
  } finally {
    await mock.close();
    sb.cleanup();
  }
});
