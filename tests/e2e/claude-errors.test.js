// SPDX-License-Identifier: MIT
// API failures seen through the real Claude Code CLI: a 529 overloaded answer
// (retried, then reported) and a 429 that arrives mid-stream both end the
// turn with a result that has is_error:true and api_error_status set, and a
// non-zero exit once stdin closes.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('../fixtures/mock-anthropic');
const { claudeMissingReason, makeSandbox, mockPerFile, runClaude } = require('../fixtures/claude-run');

const skip = claudeMissingReason() || false;

let mock;
mockPerFile(test, (m) => (mock = m));

test('529 overloaded: retried, then is_error with api_error_status 529', { skip }, async () => {
  const sb = makeSandbox();
  try {
    const n = mock.agentRequests().length;
    const r = await runClaude({ mockUrl: mock.url, home: sb.home, cwd: sb.cwd, messages: ['overload me'] });
    assert.notEqual(r.code, 0);
    const retry = r.lines.find((l) => l.type === 'system' && l.subtype === 'api_retry');
    assert.ok(retry, 'an api_retry notice before the retry');
    assert.equal(retry.error_status, 529);
    assert.equal(mock.agentRequests().length - n, 2, 'CLAUDE_CODE_MAX_RETRIES=1: two attempts');
    const res = r.results[0];
    assert.equal(res.is_error, true);
    assert.equal(res.api_error_status, 529);
    assert.match(res.result, /529/);
  } finally {
    sb.cleanup();
  }
});

test('429 in the middle of a stream: is_error with api_error_status 429', { skip }, async () => {
  const sb = makeSandbox();
  try {
    const r = await runClaude({
      mockUrl: mock.url, home: sb.home, cwd: sb.cwd,
      messages: ['rate limit me'], env: { CLAUDE_CODE_MAX_RETRIES: '0' },
    });
    assert.notEqual(r.code, 0);
    const res = r.results[0];
    assert.equal(res.is_error, true);
    assert.equal(res.api_error_status, 429);
    assert.match(res.result, /rate limit/);
    // The stream had started: the partial text was streamed before the error.
    assert.ok(r.lines.some((l) => l.type === 'stream_event' && l.event.type === 'message_start'));
  } finally {
    sb.cleanup();
  }
});

test('the mock answers errors in the API shape', { skip: false }, async () => {
  const m = await start({ rules: [{ reply: { error: { status: 429, type: 'rate_limit_error', message: 'slow down' }, retryAfter: 7 } }] });
  try {
    const res = await fetch(`${m.url}/v1/messages?beta=true`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', max_tokens: 10, stream: true, tools: [{ name: 't', input_schema: {} }], messages: [{ role: 'user', content: 'x' }] }),
    });
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '7');
    const body = await res.json();
    assert.equal(body.type, 'error');
    assert.deepEqual(body.error, { type: 'rate_limit_error', message: 'slow down' });
    assert.equal(body.request_id, res.headers.get('request-id'));
    const head = await fetch(`${m.url}/api/hello`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    const ct = await fetch(`${m.url}/v1/messages/count_tokens`, { method: 'POST', body: '{"messages":[]}' });
    assert.ok((await ct.json()).input_tokens >= 1);
    const bad = await fetch(`${m.url}/v1/messages`, { method: 'POST', body: 'not json' });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.type, 'invalid_request_error');
  } finally {
    await m.close();
  }
});

test('the mock streams named SSE events with cumulative usage', { skip: false }, async () => {
  const m = await start({ rules: [{ reply: { tool: { name: 'Bash', input: { command: 'ls' } }, text: 'Let me look.' } }] });
  try {
    const res = await fetch(`${m.url}/v1/messages?beta=true`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', max_tokens: 10, stream: true, tools: [{ name: 'Bash', input_schema: {} }], messages: [{ role: 'user', content: 'go' }] }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /text\/event-stream/);
    const text = await res.text();
    const events = text.trim().split('\n\n').map((chunk) => {
      const [ev, data] = chunk.split('\n');
      const name = ev.replace(/^event: /, '');
      const obj = JSON.parse(data.replace(/^data: /, ''));
      assert.equal(obj.type, name, 'the data repeats the event name');
      return obj;
    });
    const names = events.map((e) => e.type).filter((t) => t !== 'ping');
    assert.equal(names[0], 'message_start');
    assert.deepEqual(names.slice(-2), ['message_delta', 'message_stop']);
    assert.ok(!text.includes('[DONE]'));
    const json = events.filter((e) => e.delta && e.delta.type === 'input_json_delta').map((e) => e.delta.partial_json).join('');
    assert.deepEqual(JSON.parse(json), { command: 'ls' });
    const delta = events.find((e) => e.type === 'message_delta');
    assert.equal(delta.delta.stop_reason, 'tool_use');
    assert.ok(delta.usage.output_tokens > 1 && delta.usage.input_tokens >= 1);
    // stream:false gives the same content as one JSON Message
    const plain = await fetch(`${m.url}/v1/messages`, {
      method: 'POST', body: JSON.stringify({ model: 'm', max_tokens: 10, tools: [{ name: 'Bash', input_schema: {} }], messages: [{ role: 'user', content: 'go' }] }),
    });
    const msg = await plain.json();
    assert.equal(msg.type, 'message');
    assert.deepEqual(msg.content.map((b) => b.type), ['text', 'tool_use']);
    assert.equal(m.requests.length, 2);
  } finally {
    await m.close();
  }
});
