// SPDX-License-Identifier: MIT
// Rate limits of the LLM workbench: the provider's anthropic-ratelimit-*
// headers lower a key's bucket; the next request waits in the queue (202,
// queued, a stream_queued event) and starts when the bucket refills; past
// the queue's bound a request is a 429 with Retry-After; a queued request
// can be stopped; GET /api/ratelimits shows the buckets of the caller's
// organisation only.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { startApi, assertError, chatIdle } = require('./lib/api');
const { Live } = require('./lib/live');
const mockAnthropic = require('../fixtures/mock-anthropic');

let d;
let mock;
let live;
// 20 requests a minute: one every 3 s, so a slow machine still sees the wait.
const empty = { 'anthropic-ratelimit-requests-limit': '20', 'anthropic-ratelimit-requests-remaining': '0' };

test.before(async () => {
  mock = await mockAnthropic.start({ direct: true, rules: [] });
  d = await startApi({ env: { AGENTD_LLM_RPM: '20', AGENTD_LLM_QUEUE: '1' } });
  live = await Live.open(d);
  await d.req('PUT', '/api/credentials/anthropic', { apiKey: 'sk-ant-ratelimit-0000', baseUrl: mock.url });
});
test.after(async () => {
  if (live) await live.close();
  if (d) await d.cleanup();
  if (mock) await mock.close();
});

async function chat() {
  const r = await d.req('POST', '/api/chats', { model: 'claude-haiku-4-5' });
  live.send('subscribe', { topics: [`chat:${r.body.id}`] });
  await live.until(() => live.msgs.some((m) => m.type === 'subscribed' && JSON.stringify(m).includes(r.body.id)), 5000, 'subscribed');
  return r.body.id;
}
const ev = (id, type) => live.events.find((e) => e.type === type && e.payload.sessionId === id);
async function settled(id) {
  await live.until(() => ev(id, 'stream_complete') || ev(id, 'stream_error'), 20000, `${id} to end`);
  return chatIdle(d, id);
}

test('the provider\'s headers make the next request wait, then it runs', async () => {
  mock.setRules([{ reply: { text: 'first', headers: empty }, times: 1 }, { reply: { text: 'later' } }]);
  const a = await chat();
  let r = await d.req('POST', `/api/chats/${a}/messages`, { content: 'one' });
  assert.equal(r.status, 202);
  assert.equal(r.body.queued, false);
  await settled(a);
  const b = await chat();
  r = await d.req('POST', `/api/chats/${b}/messages`, { content: 'two' });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.equal(r.body.queued, true);
  assert.ok(r.body.waitMs > 0 && r.body.waitMs <= 3000, String(r.body.waitMs));
  const q = ev(b, 'stream_queued') || (await live.until(() => ev(b, 'stream_queued'), 5000, 'stream_queued'), ev(b, 'stream_queued'));
  assert.equal(q.payload.messageId, r.body.assistantMessage.id);
  // the queue (of one) is full: a third is refused with Retry-After
  const c = await chat();
  const full = await d.req('POST', `/api/chats/${c}/messages`, { content: 'three' });
  assertError(full, 429, 'RATE_LIMITED');
  assert.match(full.headers.get('retry-after'), /^[1-3]$/);
  const lim = await d.req('GET', '/api/ratelimits');
  const row = lim.body.limits.find((x) => x.model === 'claude-haiku-4-5');
  assert.equal(row.provider, 'anthropic');
  assert.equal(row.requests.limit, 20);
  assert.equal(row.queued, 1);
  const got = await settled(b);
  assert.equal(got.messages[1].content, 'later');
  assert.equal(got.messages[1].status, 'complete');
  // the refused message left nothing behind
  assert.deepEqual((await d.req('GET', `/api/chats/${c}`)).body.messages, []);
});

test('a queued request can be stopped', async () => {
  mock.setRules([{ reply: { text: 'drain', headers: empty }, times: 1 }, { reply: { text: 'never seen' } }]);
  const a = await chat();
  await d.req('POST', `/api/chats/${a}/messages`, { content: 'drain the bucket' });
  await settled(a);
  const b = await chat();
  const r = await d.req('POST', `/api/chats/${b}/messages`, { content: 'wait' });
  assert.equal(r.body.queued, true);
  const before = mock.requests.length;
  const s = await d.req('POST', `/api/chats/${b}/stop`);
  assert.equal(s.status, 200, JSON.stringify(s.body));
  assert.equal(s.body.status, 'stopped');
  assert.equal(s.body.content, '');
  await live.until(() => ev(b, 'stream_complete'), 5000, 'stream_complete');
  assert.equal(ev(b, 'stream_complete').payload.stopped, true);
  await new Promise((res) => setTimeout(res, 3200)); // past the refill: nothing may start
  assert.equal(mock.requests.length, before, 'a stopped request was sent');
});

test('another organisation sees only its own limits', async () => {
  const org = await d.req('POST', '/api/orgs', { name: 'rl b' });
  const tok = await d.req('POST', '/api/tokens', { name: 'rl-b', scope: 'read', orgId: org.body.id });
  const r = await d.req('GET', '/api/ratelimits', undefined, { authorization: `Bearer ${tok.body.token}` });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.limits, []);
});
