// SPDX-License-Identifier: MIT
// Stopping the real Claude Code CLI while it is busy (the mock keeps the
// answer streaming): SIGINT, the polite step agentd's executor uses, ends the
// turn with an is_error result (terminal_reason aborted_streaming) and exit
// 0; SIGTERM exits 143 and leaves no result (reference A.7).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { claudeMissingReason, makeSandbox, mockPerFile, runClaude } = require('../fixtures/claude-run');

const skip = claudeMissingReason() || false;

let mock;
mockPerFile(test, (m) => (mock = m));

test('SIGINT while streaming ends the turn with an error result', { skip }, async () => {
  const sb = makeSandbox();
  try {
    const r = await runClaude({
      mockUrl: mock.url, home: sb.home, cwd: sb.cwd, messages: ['hang forever'], interrupt: 'SIGINT', timeoutMs: 30000,
    });
    assert.equal(r.signal, null);
    assert.equal(r.code, 0);
    assert.equal(r.results.length, 1);
    assert.equal(r.results[0].is_error, true);
    assert.equal(r.results[0].terminal_reason, 'aborted_streaming');
    assert.ok(r.lines.some((l) => l.type === 'user' && JSON.stringify(l.message.content).includes('interrupted')));
  } finally {
    sb.cleanup();
  }
});

test('SIGTERM while streaming exits 143 without a result', { skip }, async () => {
  const sb = makeSandbox();
  try {
    const r = await runClaude({
      mockUrl: mock.url, home: sb.home, cwd: sb.cwd, messages: ['hang forever'], interrupt: 'SIGTERM', timeoutMs: 30000,
    });
    assert.equal(r.code, 143);
    assert.equal(r.results.length, 0);
  } finally {
    sb.cleanup();
  }
});

test('the mock program serves its requests and takes new rules over HTTP', async () => {
  const { spawn } = require('node:child_process');
  const path = require('node:path');
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'fixtures', 'mock-anthropic.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const url = await new Promise((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new Error('mock did not start')), 10000);
      child.stdout.on('data', (d) => {
        buf += d;
        const m = buf.match(/mock-anthropic listening on (http:\/\/127\.0\.0\.1:\d+)\n/);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
    });
    const put = await fetch(`${url}/_mock/rules`, { method: 'PUT', body: JSON.stringify([{ reply: { text: 'custom' } }]) });
    assert.equal(put.status, 200);
    const res = await fetch(`${url}/v1/messages`, {
      method: 'POST', body: JSON.stringify({ model: 'm', max_tokens: 5, tools: [{ name: 'x', input_schema: {} }], messages: [{ role: 'user', content: 'anything' }] }),
    });
    assert.deepEqual((await res.json()).content, [{ type: 'text', text: 'custom' }]);
    const reqs = await (await fetch(`${url}/_mock/requests`)).json();
    assert.equal(reqs.length, 1);
    assert.equal(reqs[0].body.messages[0].content, 'anything');
  } finally {
    child.kill('SIGTERM');
  }
});
