// SPDX-License-Identifier: MIT
// The LLM workbench end to end: credentials (masked everywhere, a 0600
// file, org-scoped, base URL for admins only), chats streamed from a mock of
// the Messages API speaking its exact SSE format (tests/fixtures/
// mock-anthropic.js): tokens live on the WebSocket in order, an error
// mid-stream, 429 with retry-after then success, 529 until the retries run
// out, a wrong key (never retried), a stalled stream, stop mid-stream (the
// partial answer kept), usage and cost; and the key in no log line, event
// or database page.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startApi, assertError, chatIdle } = require('./lib/api');
const { Live } = require('./lib/live');
const mockAnthropic = require('../fixtures/mock-anthropic');

const KEY = 'sk-ant-api03-e2e-SECRET-key-0123456789-wxyz';

let d;
let mock;
let live;

const bearer = (t) => ({ authorization: `Bearer ${t}` });

test.before(async () => {
  mock = await mockAnthropic.start({ direct: true, apiKey: KEY, rules: [] });
  d = await startApi({ env: { AGENTD_LLM_STALL_MS: '1500' } });
  live = await Live.open(d);
});
test.after(async () => {
  if (live) await live.close();
  if (d) await d.cleanup();
  if (mock) await mock.close();
});

async function newChat(body = {}) {
  const r = await d.req('POST', '/api/chats', { model: 'claude-sonnet-4-5', ...body });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  live.send('subscribe', { topics: [`chat:${r.body.id}`] });
  await live.until(() => live.msgs.some((m) => m.type === 'subscribed' &&
    JSON.stringify(m).includes(r.body.id)), 5000, 'the subscription');
  return r.body;
}

const eventsOf = (chat, type) => live.events.filter((e) => e.type === type && e.payload.sessionId === chat);

async function ended(chat) {
  await live.until(() => eventsOf(chat, 'stream_complete').length + eventsOf(chat, 'stream_error').length > 0,
    20000, `the end of ${chat}'s answer`);
  return chatIdle(d, chat);
}

test('credentials: stored in a 0600 file, masked in every answer, base URL for admins', async () => {
  let r = await d.req('GET', '/api/auth/status');
  assert.equal(r.status, 200);
  assert.equal(r.body.authenticated, false);
  r = await d.req('PUT', '/api/credentials/anthropic', { apiKey: 'short' });
  assertError(r, 422, 'VALIDATION_ERROR', 'apiKey');
  r = await d.req('PUT', '/api/credentials/anthropic', { apiKey: 'has a space in it' });
  assertError(r, 422, 'VALIDATION_ERROR', 'apiKey');
  r = await d.req('PUT', '/api/credentials/anthropic', { apiKey: KEY, baseUrl: 'file:///etc/passwd' });
  assertError(r, 422, 'VALIDATION_ERROR', 'baseUrl');
  r = await d.req('PUT', '/api/credentials/nope', { apiKey: KEY });
  assertError(r, 404, 'NOT_FOUND');
  r = await d.req('PUT', '/api/credentials/anthropic', { apiKey: KEY, email: 'a@example.com', baseUrl: mock.url });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.masked, '••••wxyz');
  assert.equal(r.body.baseUrl, mock.url);
  assert.equal(r.body.email, 'a@example.com');
  assert.ok(!JSON.stringify(r.body).includes(KEY.slice(0, -4)));
  const file = path.join(d.dataDir, 'credentials', 'org_default.anthropic.key');
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
  assert.equal(fs.readFileSync(file, 'utf8'), KEY);
  for (const p of ['/api/credentials', '/api/credentials/anthropic', '/api/auth/status']) {
    r = await d.req('GET', p);
    assert.equal(r.status, 200, p);
    assert.ok(JSON.stringify(r.body).includes('••••wxyz'), p);
    assert.ok(!JSON.stringify(r.body).includes(KEY.slice(0, 12)), `${p} shows the key`);
  }
  r = await d.req('GET', '/api/auth/status');
  assert.equal(r.body.authenticated, true);
  // A write token may replace the key, never the base URL.
  const w = await d.req('POST', '/api/tokens', { name: 'chat-writer', scope: 'write' });
  assert.equal(w.status, 201);
  r = await d.req('PUT', '/api/credentials/anthropic', { apiKey: KEY, baseUrl: 'http://127.0.0.1:9/' }, bearer(w.body.token));
  assertError(r, 403, 'FORBIDDEN');
  r = await d.req('PUT', '/api/credentials/anthropic', { apiKey: KEY }, bearer(w.body.token));
  assert.equal(r.status, 200);
  assert.equal(r.body.baseUrl, mock.url, 'the base URL stays');
  // validate: a one-token request with the stored key
  r = await d.req('POST', '/api/credentials/anthropic/validate', {});
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.valid, true);
  const req = mock.requests.at(-1);
  assert.equal(req.headers['x-api-key'], KEY);
  assert.equal(req.headers['anthropic-version'], '2023-06-01');
  assert.equal(req.body.max_tokens, 1);
  r = await d.req('GET', '/api/credentials/anthropic');
  assert.equal(r.body.status, 'valid');
});

test('a chat streams its answer token by token, then saves it with usage and cost', async () => {
  await d.req('PATCH', '/api/settings', { model_prices: { 'claude-sonnet-4-5*': { input: 3, output: 15 } } });
  mock.setRules([{ match: 'count', reply: { tokens: ['One', ', two', ', three', '.'], tokenDelayMs: 30 } }]);
  const chat = await newChat({ system: 'You count.', temperature: 0.2, maxTokens: 300 });
  assert.equal(chat.model, 'claude-sonnet-4-5');
  const r = await d.req('POST', `/api/chats/${chat.id}/messages`, { content: 'please count to three' });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.equal(r.body.assistantMessage.status, 'streaming');
  assert.equal(r.body.userMessage.content, 'please count to three');
  // A second message while the first streams is refused.
  const busy = await d.req('POST', `/api/chats/${chat.id}/messages`, { content: 'again' });
  assertError(busy, 409, 'CONFLICT');
  const got = await ended(chat.id);
  const toks = eventsOf(chat.id, 'stream_token').map((e) => e.payload.text);
  assert.deepEqual(toks, ['One', ', two', ', three', '.']);
  const done = eventsOf(chat.id, 'stream_complete')[0].payload;
  assert.equal(done.fullMessage, 'One, two, three.');
  assert.equal(done.stopReason, 'end_turn');
  assert.equal(done.usage.outputTokens, 5);
  assert.ok(done.usage.inputTokens > 0);
  const cost = (done.usage.inputTokens * 3 + done.usage.outputTokens * 15) / 1e6;
  assert.ok(Math.abs(done.usage.costUsd - cost) < 1e-9, JSON.stringify(done.usage));
  // the provider got the exact request
  const sent = mock.requests.at(-1).body;
  assert.equal(sent.stream, true);
  assert.equal(sent.system, 'You count.');
  assert.equal(sent.temperature, 0.2);
  assert.equal(sent.max_tokens, 300);
  assert.deepEqual(sent.messages, [{ role: 'user', content: 'please count to three' }]);
  // stored: both messages, the answer complete, the chat's totals
  assert.equal(got.messages.length, 2);
  assert.equal(got.messages[1].content, 'One, two, three.');
  assert.equal(got.messages[1].status, 'complete');
  assert.equal(got.messages[1].outputTokens, 5);
  assert.equal(got.outputTokens, 5);
  assert.equal(got.title, 'please count to three');
  // a second turn sends the history, its prefix marked for the cache
  mock.setRules([{ reply: { text: 'Four.' } }]);
  await d.req('POST', `/api/chats/${chat.id}/messages`, { content: 'and then?' });
  const again = await ended(chat.id);
  assert.equal(again.messages.length, 4);
  const sent2 = mock.requests.at(-1).body;
  assert.equal(sent2.messages.length, 3);
  assert.deepEqual(sent2.messages[1].content[0].cache_control, { type: 'ephemeral' });
  assert.equal(sent2.messages[2].content, 'and then?');
  // usage tables: by model
  const u = await d.req('GET', '/api/usage?period=daily');
  assert.equal(u.status, 200);
  assert.ok(JSON.stringify(u.body).includes('claude-sonnet-4-5'), JSON.stringify(u.body));
});

test('an error mid-stream keeps the partial answer and says why', async () => {
  mock.setRules([{ reply: { midStreamError: { type: 'overloaded_error', message: 'Overloaded' }, text: 'Half an ans' } }]);
  const chat = await newChat();
  await d.req('POST', `/api/chats/${chat.id}/messages`, { content: 'go' });
  const got = await ended(chat.id);
  assert.equal(eventsOf(chat.id, 'stream_token')[0].payload.text, 'Half an ans');
  const err = eventsOf(chat.id, 'stream_error')[0].payload;
  assert.equal(err.error.type, 'overloaded_error');
  assert.equal(err.partial, 'Half an ans');
  assert.equal(got.messages[1].status, 'error');
  assert.equal(got.messages[1].content, 'Half an ans');
  assert.match(got.messages[1].error, /overloaded_error: Overloaded/);
});

test('429 with retry-after waits as told, then succeeds', async () => {
  mock.setRules([
    { reply: { error: { status: 429, type: 'rate_limit_error', message: 'slow down' }, retryAfter: 1 }, times: 1 },
    { reply: { text: 'After the wait.' } },
  ]);
  const before = mock.requests.length;
  const chat = await newChat();
  await d.req('POST', `/api/chats/${chat.id}/messages`, { content: 'hi' });
  const got = await ended(chat.id);
  const retry = eventsOf(chat.id, 'stream_retry')[0].payload;
  assert.equal(retry.status, 429);
  assert.equal(retry.waitMs, 1000);
  assert.equal(retry.attempt, 2);
  assert.equal(mock.requests.length - before, 2);
  assert.equal(got.messages[1].content, 'After the wait.');
  assert.equal(got.messages[1].attempts, 2);
});

test('529 is retried at most three times, then a clear error', async () => {
  mock.setRules([{ reply: { error: { status: 529, type: 'overloaded_error', message: 'Overloaded' }, retryAfter: 0 } }]);
  const before = mock.requests.length;
  const chat = await newChat();
  await d.req('POST', `/api/chats/${chat.id}/messages`, { content: 'hi' });
  const got = await ended(chat.id);
  assert.equal(mock.requests.length - before, 4);
  const err = eventsOf(chat.id, 'stream_error')[0].payload;
  assert.equal(err.error.status, 529);
  assert.equal(err.error.type, 'overloaded_error');
  assert.equal(err.error.attempts, 4);
  assert.equal(got.messages[1].status, 'error');
});

test('a wrong key is an error at once, never retried; validate says why', async () => {
  const other = await mockAnthropic.start({ direct: true, apiKey: 'sk-the-right-one', rules: [] });
  try {
    let r = await d.req('PUT', '/api/credentials/anthropic', { apiKey: KEY, baseUrl: other.url });
    assert.equal(r.status, 200);
    const chat = await newChat();
    await d.req('POST', `/api/chats/${chat.id}/messages`, { content: 'hi' });
    await ended(chat.id);
    assert.equal(other.requests.length, 1);
    const err = eventsOf(chat.id, 'stream_error')[0].payload;
    assert.equal(err.error.status, 401);
    assert.equal(err.error.type, 'authentication_error');
    r = await d.req('POST', '/api/credentials/anthropic/validate', {});
    assert.equal(r.body.valid, false);
    assert.match(r.body.reason, /authentication_error/);
    r = await d.req('GET', '/api/credentials/anthropic');
    assert.equal(r.body.status, 'invalid');
  } finally {
    await d.req('PUT', '/api/credentials/anthropic', { apiKey: KEY, baseUrl: mock.url });
    await other.close();
  }
});

test('a stalled stream is cut and reported', async () => {
  mock.setRules([{ reply: { stall: true } }]);
  const chat = await newChat();
  await d.req('POST', `/api/chats/${chat.id}/messages`, { content: 'hi' });
  const got = await ended(chat.id);
  const err = eventsOf(chat.id, 'stream_error')[0].payload;
  assert.equal(err.error.type, 'stalled');
  assert.equal(got.messages[1].status, 'error');
});

test('stop mid-stream keeps the partial answer, marked stopped', async () => {
  const toks = Array.from({ length: 400 }, (_, i) => `t${i} `);
  mock.setRules([{ reply: { tokens: toks, tokenDelayMs: 25 } }]);
  const chat = await newChat();
  await d.req('POST', `/api/chats/${chat.id}/messages`, { content: 'long one' });
  await live.until(() => eventsOf(chat.id, 'stream_token').length >= 3, 10000, 'three tokens');
  const r = await d.req('POST', `/api/chats/${chat.id}/stop`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.status, 'stopped');
  assert.ok(r.body.content.startsWith('t0 t1 t2 '), r.body.content);
  assert.ok(r.body.content.length < toks.join('').length);
  await live.until(() => eventsOf(chat.id, 'stream_complete').length > 0, 10000, 'stream_complete');
  const fin = eventsOf(chat.id, 'stream_complete')[0].payload;
  assert.equal(fin.stopped, true);
  assert.equal(fin.fullMessage, r.body.content);
  const g = await d.req('GET', `/api/chats/${chat.id}`);
  assert.equal(g.body.streaming, false);
  assert.equal(g.body.messages[1].status, 'stopped');
  assertError(await d.req('POST', `/api/chats/${chat.id}/stop`), 409, 'CONFLICT');
});

test('a tool_use block is put together from its input_json_delta pieces and stored', async () => {
  mock.setRules([{ match: 'use a tool', reply: { text: 'Checking.', tool: { name: 'get_time', input: { zone: 'Europe/Paris', fmt: 'iso' } } } }]);
  const chat = await newChat();
  await d.req('POST', `/api/chats/${chat.id}/messages`, { content: 'please use a tool' });
  const got = await ended(chat.id);
  const done = eventsOf(chat.id, 'stream_complete')[0].payload;
  assert.equal(done.stopReason, 'tool_use');
  assert.equal(done.toolCalls.length, 1);
  assert.match(done.toolCalls[0].id, /^toolu_/);
  assert.equal(done.toolCalls[0].name, 'get_time');
  assert.deepEqual(done.toolCalls[0].input, { zone: 'Europe/Paris', fmt: 'iso' });
  assert.deepEqual(got.messages[1].toolCalls, done.toolCalls);
  assert.equal(got.messages[1].content, 'Checking.');
});

test('chats and credentials stay inside their organisation', async () => {
  const chat = await newChat();
  let r = await d.req('POST', '/api/orgs', { name: 'chat org b' });
  assert.equal(r.status, 201);
  const tok = await d.req('POST', '/api/tokens', { name: 'b-chat', scope: 'admin', orgId: r.body.id });
  const b = bearer(tok.body.token);
  assertError(await d.req('GET', `/api/chats/${chat.id}`, undefined, b), 404, 'NOT_FOUND');
  assertError(await d.req('POST', `/api/chats/${chat.id}/messages`, { content: 'x' }, b), 404, 'NOT_FOUND');
  r = await d.req('GET', '/api/chats', undefined, b);
  assert.deepEqual(r.body.chats, []);
  r = await d.req('GET', '/api/credentials', undefined, b);
  assert.deepEqual(r.body.credentials, []);
  assertError(await d.req('GET', '/api/credentials/anthropic', undefined, b), 404, 'NOT_FOUND');
  // B's own chat cannot use A's key
  r = await d.req('POST', '/api/chats', {}, b);
  assert.equal(r.status, 201);
  assertError(await d.req('POST', `/api/chats/${r.body.id}/messages`, { content: 'x' }, b), 422, 'CREDENTIAL_MISSING');
  assertError(await d.req('POST', '/api/credentials/anthropic/validate', {}, b), 404, 'NOT_FOUND');
  // bad input
  assertError(await d.req('POST', '/api/chats', { temperature: 3 }), 422, 'VALIDATION_ERROR', 'temperature');
  assertError(await d.req('POST', `/api/chats/${chat.id}/messages`, { content: '' }), 422, 'VALIDATION_ERROR', 'content');
});

test('the key is in no log line, event or database page', async () => {
  const probe = KEY.slice(8, -4); // anything longer than the last four
  assert.ok(!d.stderr.includes(probe), 'the log shows the key');
  assert.ok(!d.stdout.includes(probe), 'stdout shows the key');
  for (const e of live.msgs) assert.ok(!JSON.stringify(e).includes(probe), `event ${e.type} shows the key`);
  for (const f of fs.readdirSync(d.dataDir)) {
    const p = path.join(d.dataDir, f);
    if (!f.startsWith('agentd.db') || !fs.statSync(p).isFile()) continue;
    assert.ok(!fs.readFileSync(p).includes(probe), `${f} holds the key`);
  }
  const r = await d.req('DELETE', '/api/credentials/anthropic');
  assert.equal(r.status, 200);
  assert.ok(!fs.existsSync(path.join(d.dataDir, 'credentials', 'org_default.anthropic.key')));
});
