// SPDX-License-Identifier: MIT
// REST: /api/agents/:id/messages: recording messages, newest-first pages
// with a stable cursor, pagination while new messages keep arriving, and
// the input errors.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startApi, assertError, makeWorkspace, makeAgent } = require('./lib/api');

let d;
before(async () => { d = await startApi(); });
after(async () => { await d.cleanup(); });

async function post(agentId, body) {
  const r = await d.req('POST', `/api/agents/${agentId}/messages`, body);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

test('record a message and read it back', async () => {
  const { wt } = await makeWorkspace(d);
  const a = await makeAgent(d, wt.id);
  const m = await post(a.id, { content: 'hello', extra: 'ignored' });
  assert.match(m.id, /^msg_[0-9a-z]{26}$/);
  assert.equal(m.agentId, a.id);
  assert.equal(m.role, 'user');
  assert.equal(m.content, 'hello');
  assert.equal(m.isComplete, true);
  assert.equal(m.tokenCount, 0);
  assert.equal(m.extra, undefined);
  const t = await post(a.id, { role: 'tool', content: '', toolName: 'Bash', toolInput: { cmd: 'ls' }, toolOutput: 'a b', isComplete: false, tokenCount: 12 });
  assert.equal(t.toolName, 'Bash');
  assert.equal(t.toolInput, '{"cmd":"ls"}');
  assert.equal(t.isComplete, false);
  const page = await d.req('GET', `/api/agents/${a.id}/messages`);
  assert.equal(page.status, 200);
  assert.deepEqual(page.body.messages.map((x) => x.id), [t.id, m.id]);
  assert.equal(page.body.hasMore, false);
  assert.equal(page.body.nextCursor, null);
});

test('message errors', async () => {
  const { wt } = await makeWorkspace(d);
  const a = await makeAgent(d, wt.id);
  assertError(await d.req('POST', `/api/agents/${a.id}/messages`, {}), 422, 'VALIDATION_ERROR', 'content');
  assertError(await d.req('POST', `/api/agents/${a.id}/messages`, { content: 1 }), 422, 'VALIDATION_ERROR', 'content');
  assertError(await d.req('POST', `/api/agents/${a.id}/messages`, { content: 'x', role: 'robot' }), 422, 'VALIDATION_ERROR', 'role');
  assertError(await d.req('POST', `/api/agents/${a.id}/messages`, { content: 'x', tokenCount: -1 }), 422, 'VALIDATION_ERROR', 'tokenCount');
  assertError(await d.req('POST', `/api/agents/${a.id}/messages`, { content: 'x', isComplete: 'yes' }), 422, 'VALIDATION_ERROR', 'isComplete');
  assertError(await d.req('POST', `/api/agents/${a.id}/messages`, '{"content"'), 400, 'INVALID_JSON');
  assertError(await d.req('POST', '/api/agents/ag_nope/messages', { content: 'x' }), 404, 'NOT_FOUND');
  assertError(await d.req('GET', '/api/agents/ag_nope/messages'), 404, 'NOT_FOUND');
  for (const q of ['limit=0', 'limit=201', 'limit=ten', 'limit=-3']) {
    assertError(await d.req('GET', `/api/agents/${a.id}/messages?${q}`), 422, 'VALIDATION_ERROR', 'limit');
  }
  assertError(await d.req('GET', `/api/agents/${a.id}/messages?before=garbage`), 422, 'VALIDATION_ERROR', 'before');
  assert.equal((await d.req('GET', `/api/agents/${a.id}/messages`)).body.messages.length, 0);
});

test('pages are newest first and never skip or repeat while messages arrive', async () => {
  const { wt } = await makeWorkspace(d);
  const a = await makeAgent(d, wt.id);
  const N = 120;
  const ids = [];
  // Concurrent posts: their order is the order the server gave them ids in.
  for (let i = 0; i < N; i += 20) {
    const batch = await Promise.all(Array.from({ length: 20 }, (_, k) => post(a.id, { content: `m${i + k}` })));
    ids.push(...batch.map((m) => m.id));
  }
  const first = await d.req('GET', `/api/agents/${a.id}/messages?limit=200`);
  const expected = first.body.messages.map((m) => m.id);
  assert.equal(expected.length, N);
  assert.deepEqual([...expected].sort().reverse(), expected); // time-ordered ids, newest first
  assert.deepEqual([...ids].sort(), [...expected].sort());

  // Page through with new messages arriving concurrently.
  const seen = [];
  let cursor = null;
  let writers = 0;
  for (let pageNo = 0; pageNo < 50; pageNo++) {
    const q = cursor ? `?limit=7&before=${encodeURIComponent(cursor)}` : '?limit=7';
    const [page] = await Promise.all([
      d.req('GET', `/api/agents/${a.id}/messages${q}`),
      post(a.id, { content: `late ${writers++}` }),
      post(a.id, { content: `late ${writers++}` }),
    ]);
    assert.equal(page.status, 200);
    const got = page.body.messages.map((m) => m.id);
    if (pageNo === 0) {
      // the first page may include messages that arrived before it was read
      const start = got.indexOf(expected[0]);
      seen.push(...(start >= 0 ? got.slice(start) : []));
    } else {
      seen.push(...got);
    }
    if (!page.body.hasMore) {
      assert.equal(page.body.nextCursor, null);
      break;
    }
    assert.equal(typeof page.body.nextCursor, 'string');
    cursor = page.body.nextCursor;
  }
  assert.deepEqual(seen, expected);
  assert.equal(new Set(seen).size, seen.length);
});

test('a message id works as a cursor too', async () => {
  const { wt } = await makeWorkspace(d);
  const a = await makeAgent(d, wt.id);
  const ms = [];
  for (let i = 0; i < 5; i++) ms.push(await post(a.id, { content: `n${i}` }));
  const r = await d.req('GET', `/api/agents/${a.id}/messages?limit=2&before=${ms[3].id}`);
  assert.deepEqual(r.body.messages.map((m) => m.id), [ms[2].id, ms[1].id]);
  assert.equal(r.body.hasMore, true);
  const r2 = await d.req('GET', `/api/agents/${a.id}/messages?limit=2&before=${encodeURIComponent(r.body.nextCursor)}`);
  assert.deepEqual(r2.body.messages.map((m) => m.id), [ms[0].id]);
  assert.equal(r2.body.hasMore, false);
});
