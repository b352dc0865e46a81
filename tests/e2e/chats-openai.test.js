// SPDX-License-Identifier: MIT
// The OpenAI-compatible provider (Chat Completions with SSE, what local
// model servers speak) end to end against tests/fixtures/mock-openai.js:
// a key and base URL for the organisation, a chat whose answer streams
// token by token and ends with usage, the system prompt sent as the first
// message with a Bearer key, an error chunk mid-stream, and validation.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { startApi, assertError, chatIdle } = require('./lib/api');
const { Live } = require('./lib/live');
const mockOpenAI = require('../fixtures/mock-openai');

const KEY = 'sk-openai-compatible-test-4321';
let d;
let mock;
let live;

test.before(async () => {
  mock = await mockOpenAI.start({ rules: [] });
  d = await startApi();
  live = await Live.open(d);
});
test.after(async () => {
  if (live) await live.close();
  if (d) await d.cleanup();
  if (mock) await mock.close();
});

async function newChat(body) {
  const r = await d.req('POST', '/api/chats', body);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  live.send('subscribe', { topics: [`chat:${r.body.id}`] });
  await live.until(() => live.msgs.some((m) => m.type === 'subscribed' && JSON.stringify(m).includes(r.body.id)), 5000, 'subscribed');
  return r.body;
}
const evs = (id, type) => live.events.filter((e) => e.type === type && e.payload.sessionId === id);
async function ended(id) {
  await live.until(() => evs(id, 'stream_complete').length + evs(id, 'stream_error').length > 0, 20000, 'the end');
  return chatIdle(d, id);
}

test('a chat with an OpenAI-compatible server streams and saves its answer', async () => {
  let r = await d.req('PUT', '/api/credentials/openai', { apiKey: KEY, baseUrl: `${mock.url}/v1` });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.masked, '••••4321');
  assertError(await d.req('POST', '/api/chats', { provider: 'other' }), 422, 'VALIDATION_ERROR', 'provider');
  assertError(await d.req('POST', '/api/chats', { provider: 'openai', temperature: 2.5 }), 422, 'VALIDATION_ERROR', 'temperature');
  mock.setRules([{ reply: { tokens: ['Local ', 'models ', 'work ', 'too.'], tokenDelayMs: 20 } }]);
  const chat = await newChat({ provider: 'openai', model: 'qwen-local', system: 'Be brief.', temperature: 1.5 });
  assert.equal(chat.provider, 'openai');
  r = await d.req('POST', `/api/chats/${chat.id}/messages`, { content: 'hello there' });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const got = await ended(chat.id);
  assert.deepEqual(evs(chat.id, 'stream_token').map((e) => e.payload.text), ['Local ', 'models ', 'work ', 'too.']);
  const done = evs(chat.id, 'stream_complete')[0].payload;
  assert.equal(done.fullMessage, 'Local models work too.');
  assert.equal(done.stopReason, 'stop');
  assert.equal(done.usage.outputTokens, 4);
  assert.ok(done.usage.inputTokens > 0);
  assert.equal(got.messages[1].status, 'complete');
  const req = mock.requests.at(-1);
  assert.equal(req.path, '/v1/chat/completions');
  assert.equal(req.headers.authorization, `Bearer ${KEY}`);
  assert.equal(req.headers['x-api-key'], undefined);
  assert.equal(req.body.model, 'qwen-local');
  assert.equal(req.body.stream, true);
  assert.deepEqual(req.body.stream_options, { include_usage: true });
  assert.equal(req.body.temperature, 1.5);
  assert.deepEqual(req.body.messages, [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hello there' }]);
});

test('an error chunk mid-stream keeps the partial answer', async () => {
  mock.setRules([{ reply: { failed: { code: 'overloaded', message: 'the server is busy' }, text: 'Part' } }]);
  const chat = await newChat({ provider: 'openai', model: 'qwen-local' });
  await d.req('POST', `/api/chats/${chat.id}/messages`, { content: 'go' });
  const got = await ended(chat.id);
  const err = evs(chat.id, 'stream_error')[0].payload;
  assert.equal(err.error.type, 'server_error');
  assert.equal(err.error.message, 'the server is busy');
  assert.equal(got.messages[1].content, 'Part');
  assert.equal(got.messages[1].status, 'error');
});

test('an HTTP error is not retried when it is the caller\'s, and validate says so', async () => {
  mock.setRules([{ reply: { error: { status: 401, type: 'invalid_request_error', code: 'invalid_api_key', message: 'Incorrect API key provided' } } }]);
  const before = mock.requests.length;
  const chat = await newChat({ provider: 'openai', model: 'qwen-local' });
  await d.req('POST', `/api/chats/${chat.id}/messages`, { content: 'go' });
  await ended(chat.id);
  assert.equal(mock.requests.length - before, 1);
  assert.equal(evs(chat.id, 'stream_error')[0].payload.error.status, 401);
  let r = await d.req('POST', '/api/credentials/openai/validate', {});
  assert.equal(r.body.valid, false);
  assert.match(r.body.reason, /Incorrect API key/);
  mock.setRules([{ reply: { text: 'pong' } }]);
  r = await d.req('POST', '/api/credentials/openai/validate', { model: 'qwen-local' });
  assert.equal(r.body.valid, true);
  assert.equal(mock.requests.at(-1).body.max_tokens, 1);
});

test('tool calls streamed as tool_calls deltas are put together and stored', async () => {
  mock.setRules([{ reply: { text: 'Let me look.', toolCalls: [
    { name: 'get_weather', arguments: { city: 'Paris', unit: 'celsius' } },
    { name: 'search', arguments: { q: 'agentd "daemon"', limit: 3 } },
    { name: 'broken', arguments: '{"cut": ' },
  ] } }]);
  const chat = await newChat({ provider: 'openai', model: 'qwen-local' });
  await d.req('POST', `/api/chats/${chat.id}/messages`, { content: 'weather?' });
  const got = await ended(chat.id);
  const done = evs(chat.id, 'stream_complete')[0].payload;
  assert.equal(done.stopReason, 'tool_calls');
  assert.equal(done.fullMessage, 'Let me look.');
  const want = [
    { name: 'get_weather', input: { city: 'Paris', unit: 'celsius' } },
    { name: 'search', input: { q: 'agentd "daemon"', limit: 3 } },
    { name: 'broken', input: null, arguments: '{"cut": ' },
  ];
  const strip = (calls) => calls.map(({ id, ...rest }) => { assert.match(id, /^call_/); return rest; });
  assert.deepEqual(strip(done.toolCalls), want);
  const m = got.messages[1];
  assert.equal(m.status, 'complete');
  assert.equal(m.stopReason, 'tool_calls');
  assert.deepEqual(strip(m.toolCalls), want);
  assert.deepEqual(m.toolCalls.map((c) => c.id), done.toolCalls.map((c) => c.id));
  // a plain answer has none
  mock.setRules([{ reply: { text: 'plain' } }]);
  const plain = await newChat({ provider: 'openai', model: 'qwen-local' });
  await d.req('POST', `/api/chats/${plain.id}/messages`, { content: 'hi' });
  const p = await ended(plain.id);
  assert.equal(p.messages[1].toolCalls, undefined);
  assert.equal(evs(plain.id, 'stream_complete')[0].payload.toolCalls, undefined);
});
