// SPDX-License-Identifier: MIT
// A chat's messages in pages: GET /api/chats/:id gives the newest 100 and
// whether there are older ones; GET /api/chats/:id/messages?before=&limit=
// walks back through the rest, oldest first in each page, with bounded
// page sizes and a cursor that must be a message of that chat.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { startApi, assertError, chatIdle } = require('./lib/api');
const mockAnthropic = require('../fixtures/mock-anthropic');

const KEY = 'sk-ant-pages-test-key-0000';
let d;
let mock;

test.before(async () => {
  mock = await mockAnthropic.start({ direct: true, apiKey: KEY, rules: [{ reply: { text: 'ok' } }] });
  d = await startApi({ env: { AGENTD_LLM_RPM: '100000' } });
  const r = await d.req('PUT', '/api/credentials/anthropic', { apiKey: KEY, baseUrl: mock.url });
  assert.equal(r.status, 200, JSON.stringify(r.body));
});
test.after(async () => {
  if (d) await d.cleanup();
  if (mock) await mock.close();
});

const idle = (chat) => chatIdle(d, chat);

test('a long chat is read back page by page', async () => {
  const chat = (await d.req('POST', '/api/chats', { model: 'claude-sonnet-4-5' })).body.id;
  const N = 55; // 110 messages
  for (let i = 0; i < N; i++) {
    const r = await d.req('POST', `/api/chats/${chat}/messages`, { content: `question ${i}` });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    await idle(chat);
  }
  const all = [];
  for (let i = 0; i < N; i++) all.push(`question ${i}`, 'ok');
  let g = await d.req('GET', `/api/chats/${chat}`);
  assert.equal(g.body.messages.length, 100);
  assert.equal(g.body.hasMore, true);
  assert.deepEqual(g.body.messages.map((m) => m.content), all.slice(10));
  // walking back
  let before = g.body.messages[0].id;
  let p = await d.req('GET', `/api/chats/${chat}/messages?before=${before}&limit=6`);
  assert.equal(p.status, 200, JSON.stringify(p.body));
  assert.deepEqual(p.body.messages.map((m) => m.content), all.slice(4, 10));
  assert.equal(p.body.hasMore, true);
  before = p.body.messages[0].id;
  p = await d.req('GET', `/api/chats/${chat}/messages?before=${before}&limit=50`);
  assert.deepEqual(p.body.messages.map((m) => m.content), all.slice(0, 4));
  assert.equal(p.body.hasMore, false);
  // the newest page without a cursor; the default size
  p = await d.req('GET', `/api/chats/${chat}/messages`);
  assert.equal(p.body.messages.length, 50);
  assert.equal(p.body.messages.at(-1).content, 'ok');
  assert.equal(p.body.messages.at(-2).content, `question ${N - 1}`);
  // bad pages
  assertError(await d.req('GET', `/api/chats/${chat}/messages?limit=0`), 422, 'VALIDATION_ERROR', 'limit');
  assertError(await d.req('GET', `/api/chats/${chat}/messages?limit=201`), 422, 'VALIDATION_ERROR', 'limit');
  assertError(await d.req('GET', `/api/chats/${chat}/messages?limit=x`), 422, 'VALIDATION_ERROR', 'limit');
  assertError(await d.req('GET', `/api/chats/${chat}/messages?before=lmsg_nope`), 422, 'VALIDATION_ERROR', 'before');
  const other = (await d.req('POST', '/api/chats', {})).body.id;
  assertError(await d.req('GET', `/api/chats/${other}/messages?before=${before}`), 422, 'VALIDATION_ERROR', 'before');
  assertError(await d.req('GET', '/api/chats/chat_nope/messages'), 404, 'NOT_FOUND');
  // another organisation: no such chat
  const org = await d.req('POST', '/api/orgs', { name: 'pages b' });
  const tok = await d.req('POST', '/api/tokens', { name: 'pages-b', scope: 'read', orgId: org.body.id });
  assertError(await d.req('GET', `/api/chats/${chat}/messages`, undefined, { authorization: `Bearer ${tok.body.token}` }), 404, 'NOT_FOUND');
});
