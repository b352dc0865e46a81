// SPDX-License-Identifier: MIT
// Seed fidelity, seed 002 (issue #40): the workbench seed's stream events.
// Its backend emits stream_token {sessionId, text, accumulated} (the answer
// so far beside each token) and stream_error {sessionId, error} with error
// the message string; its UI shows payload.accumulated and the error text.
// A /ws connection opened with ?compat=seed gets that form (errorDetails
// beside error); agentd's own /ws keeps small tokens and an error object.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { startApi } = require('./lib/api');
const { Live } = require('./lib/live');
const mockAnthropic = require('../fixtures/mock-anthropic');

const KEY = 'sk-ant-api03-e2e-SEED-key-0123456789-wxyz';

// The seed's listeners (section 7.1), with the accumulated form of its
// stream handler: what the chat view would show.
function seedView(live, sessionId) {
  const view = { shown: '', appended: '', complete: false, error: null };
  let seen = 0;
  view.pump = () => {
    for (; seen < live.msgs.length; seen++) {
      const { type, payload } = live.msgs[seen];
      if (!payload || payload.sessionId !== sessionId) continue;
      if (type === 'stream_token') { view.appended += payload.text; view.shown = payload.accumulated; }
      if (type === 'stream_complete') view.complete = true;
      if (type === 'stream_error') view.error = payload.error;
    }
    return view;
  };
  return view;
}

test('/ws?compat=seed: stream_token carries accumulated, stream_error.error is the message', async () => {
  const mock = await mockAnthropic.start({ direct: true, apiKey: KEY, rules: [] });
  const d = await startApi({ env: { AGENTD_LLM_STALL_MS: '1500' } });
  try {
    assert.equal((await d.req('PUT', '/api/credentials/anthropic', { apiKey: KEY, baseUrl: mock.url })).status, 200);
    const seed = await Live.open(d, '/ws?compat=seed');
    const own = await Live.open(d, '/ws');
    const chat = (await d.req('POST', '/api/chats', { model: 'claude-sonnet-4-5' })).body;
    for (const c of [seed, own]) {
      c.send('subscribe', { topics: [`chat:${chat.id}`] });
      await c.next('subscribed');
    }
    mock.setRules([{ reply: { tokens: ['One', ', two', ', three', '.'], tokenDelayMs: 20 } }]);
    assert.equal((await d.req('POST', `/api/chats/${chat.id}/messages`, { content: 'count' })).status, 202);
    const view = seedView(seed, chat.id);
    await seed.until(() => view.pump().complete, 20000, 'stream_complete');
    const toks = seed.msgs.filter((m) => m.type === 'stream_token').map((m) => m.payload.accumulated);
    assert.deepEqual(toks, ['One', 'One, two', 'One, two, three', 'One, two, three.']);
    assert.equal(view.shown, 'One, two, three.');
    assert.equal(view.appended, view.shown);
    // agentd's own connection: tokens without accumulated
    await own.until(() => own.msgs.some((m) => m.type === 'stream_complete'), 10000, 'stream_complete on /ws');
    assert.ok(own.msgs.filter((m) => m.type === 'stream_token').every((m) => m.payload.accumulated === undefined));

    // an error mid-stream: the message string, the details beside it
    mock.setRules([{ reply: { midStreamError: { type: 'overloaded_error', message: 'Overloaded' }, text: 'Half an ans' } }]);
    const from = seed.msgs.length;
    assert.equal((await d.req('POST', `/api/chats/${chat.id}/messages`, { content: 'go' })).status, 202);
    const err = await seed.next('stream_error', from, 20000);
    assert.equal(err.payload.error, 'Overloaded');
    assert.equal(err.payload.errorDetails.type, 'overloaded_error');
    assert.equal(err.payload.partial, 'Half an ans');
    const tok = seed.msgs.slice(from).find((m) => m.type === 'stream_token');
    assert.equal(tok.payload.accumulated, 'Half an ans'); // a new answer starts from nothing
    const ownErr = await own.next('stream_error', 0, 10000);
    assert.equal(ownErr.payload.error.type, 'overloaded_error');

    // replay on a compat connection accumulates from what it replays
    const late = await Live.open(d, '/ws?compat=seed');
    late.send('subscribe', { topics: [`chat:${chat.id}`], since: 0 });
    await late.until(() => late.msgs.some((m) => m.type === 'stream_complete'), 10000, 'the replayed answer');
    const replayed = late.msgs.filter((m) => m.type === 'stream_token').map((m) => m.payload.accumulated);
    assert.equal(replayed[3], 'One, two, three.');
    // compat takes one value
    const bad = await Live.open(d, '/ws?compat=other');
    assert.equal(await bad.closed, 1008);
    for (const c of [seed, own, late]) c.close();
  } finally {
    await d.cleanup();
    await mock.close();
  }
});

test('a stateless streaming call {sessionId, messages, model, systemPrompt}, beside stored chats', async () => {
  const mock = await mockAnthropic.start({ direct: true, apiKey: KEY, rules: [] });
  const d = await startApi({ env: { AGENTD_LLM_STALL_MS: '1500' } });
  try {
    assert.equal((await d.req('PUT', '/api/credentials/anthropic', { apiKey: KEY, baseUrl: mock.url })).status, 200);
    const seed = await Live.open(d, '/ws?compat=seed');
    seed.send('subscribe', { topics: ['chat:session-123'] });
    await seed.next('subscribed');
    mock.setRules([{ reply: { tokens: ['Four', '.'], tokenDelayMs: 150 } }]);
    // the seed's invoke('stream_ai_response', {...}), over HTTP
    const call = { sessionId: 'session-123', messages: [{ role: 'user', content: 'two plus two?' },
      { role: 'assistant', content: 'Let me see.' }, { role: 'user', content: 'well?' }],
    model: 'claude-sonnet-4-5', systemPrompt: 'You add.' };
    const r = await d.req('POST', '/api/chats/stream', call);
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.equal(r.body.sessionId, 'session-123');
    // one answer per session at a time
    const again = await d.req('POST', '/api/chats/stream', call);
    assert.equal(again.status, 409, JSON.stringify(again.body));
    const view = seedView(seed, 'session-123');
    await seed.until(() => view.pump().complete, 20000, 'stream_complete');
    assert.equal(view.shown, 'Four.');
    const done = seed.msgs.find((m) => m.type === 'stream_complete').payload;
    assert.equal(done.fullMessage, 'Four.');
    assert.equal(done.messageId, r.body.messageId);
    // what the provider got: the seed's messages and system prompt
    const sent = mock.requests.at(-1).body;
    assert.equal(JSON.stringify(sent.system).includes('You add.'), true, JSON.stringify(sent.system));
    assert.deepEqual(sent.messages.map((m) => m.role), ['user', 'assistant', 'user']);
    assert.equal(sent.model, 'claude-sonnet-4-5');
    // nothing stored as a chat; its usage is counted
    assert.equal((await d.req('GET', '/api/chats')).body.chats.length, 0);
    const { until } = require('./lib/api');
    await until(async () => (await d.req('GET', '/api/usage')).body.totals.requestCount === 1, 'the usage row');
    assert.ok((await d.req('GET', '/api/usage')).body.totals.outputTokens > 0);

    // refusals: a stored chat's id, no messages, a bad role, a read token
    const bad = async (body, field) => {
      const x = await d.req('POST', '/api/chats/stream', { ...call, sessionId: 'other', ...body });
      assert.equal(x.status, 422, JSON.stringify(x.body));
      assert.equal(x.body.error.details.field, field);
    };
    await bad({ sessionId: 'chat_01abc' }, 'sessionId');
    await bad({ sessionId: 'has space' }, 'sessionId');
    await bad({ messages: [] }, 'messages');
    await bad({ messages: [{ role: 'system', content: 'x' }] }, 'messages');
    const read = (await d.req('POST', '/api/tokens', { name: 'reader', scope: 'read' })).body;
    const ro = await d.req('POST', '/api/chats/stream', { ...call, sessionId: 'ro' }, { authorization: `Bearer ${read.token}` });
    assert.equal(ro.status, 403);
    seed.close();
  } finally {
    await d.cleanup();
    await mock.close();
  }
});
