// SPDX-License-Identifier: MIT
// Seed fidelity, seed 002 (issue #40): the workbench's "Save to project"
// makes a project of a chat, conversation and all. POST /api/projects
// {chatId} (a name is optional then: the chat's title) keeps the chat's
// system prompt and every message with text, in order, and the chat points
// at its project; another org's chat is not one to take.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { startApi, chatIdle, assertError } = require('./lib/api');
const mockAnthropic = require('../fixtures/mock-anthropic');

const KEY = 'sk-ant-api03-e2e-PROJ-key-0123456789-wxyz';

test('a project made from a chat keeps its conversation', async () => {
  const mock = await mockAnthropic.start({ direct: true, apiKey: KEY, rules: [] });
  const d = await startApi();
  try {
    assert.equal((await d.req('PUT', '/api/credentials/anthropic', { apiKey: KEY, baseUrl: mock.url })).status, 200);
    mock.setRules([
      { match: 'first', reply: { tokens: ['The first ', 'answer.'] } },
      { match: 'second', reply: { tokens: ['The second answer.'] } },
    ]);
    const chat = (await d.req('POST', '/api/chats', { model: 'claude-sonnet-4-5', system: 'You are terse.', title: 'Design notes' })).body;
    for (const q of ['the first question', 'the second question']) {
      assert.equal((await d.req('POST', `/api/chats/${chat.id}/messages`, { content: q })).status, 202);
      await chatIdle(d, chat.id);
    }
    let r = await d.req('POST', '/api/projects', { chatId: chat.id });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const proj = r.body;
    assert.equal(proj.chatId, chat.id);
    assert.equal(proj.name, (await d.req('GET', `/api/chats/${chat.id}`)).body.title || 'Chat');
    r = await d.req('GET', `/api/projects/${proj.id}`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.messages.map((m) => [m.role, m.content]), [
      ['system', 'You are terse.'],
      ['user', 'the first question'],
      ['assistant', 'The first answer.'],
      ['user', 'the second question'],
      ['assistant', 'The second answer.'],
    ]);
    assert.deepEqual(r.body.messages.map((m) => m.position), [0, 1, 2, 3, 4]);
    assert.equal((await d.req('GET', `/api/chats/${chat.id}`)).body.projectId, proj.id);
    // a name given wins; the conversation comes all the same
    r = await d.req('POST', '/api/projects', { chatId: chat.id, name: 'Named' });
    assert.equal(r.body.name, 'Named');
    assert.equal((await d.req('GET', `/api/projects/${r.body.id}`)).body.messages.length, 5);
    // another org's chat, or none, is refused; no name and no chat too
    const org = (await d.req('POST', '/api/orgs', { name: 'other' })).body;
    const tok = (await d.req('POST', '/api/tokens', { name: 'o', scope: 'write', orgId: org.id })).body.token;
    r = await d.req('POST', '/api/projects', { chatId: chat.id }, { authorization: `Bearer ${tok}` });
    assertError(r, 422, 'VALIDATION_ERROR', 'chatId');
    assertError(await d.req('POST', '/api/projects', { chatId: 'chat_nope' }), 422, 'VALIDATION_ERROR', 'chatId');
    assertError(await d.req('POST', '/api/projects', {}), 422, 'VALIDATION_ERROR', 'name');
  } finally {
    await d.cleanup();
    await mock.close();
  }
});
