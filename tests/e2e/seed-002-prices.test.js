// SPDX-License-Identifier: MIT
// Seed fidelity, seed 002 (issue #40): the workbench shows each answer's
// cost. agentd knew no price until someone set model_prices, so every cost
// read $0.00; the providers' current models now have their list prices built
// in, and the setting still wins.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { startApi, chatIdle } = require('./lib/api');
const mockAnthropic = require('../fixtures/mock-anthropic');

const KEY = 'sk-ant-api03-e2e-PRICE-key-0123456789-wxyz';

test('a chat on a current model costs its list price with no model_prices set; the setting wins', async () => {
  const mock = await mockAnthropic.start({ direct: true, apiKey: KEY, rules: [] });
  const d = await startApi();
  try {
    assert.equal((await d.req('PUT', '/api/credentials/anthropic', { apiKey: KEY, baseUrl: mock.url })).status, 200);
    mock.setRules([{ match: 'count', reply: { tokens: ['One', ', two', '.'] } }]);
    const turn = async (model) => {
      const chat = (await d.req('POST', '/api/chats', { model })).body;
      const r = await d.req('POST', `/api/chats/${chat.id}/messages`, { content: 'count please' });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      const done = await chatIdle(d, chat.id);
      const last = done.messages.at(-1);
      return last.usage || last;
    };
    const settings = (await d.req('GET', '/api/settings')).body;
    assert.ok(!settings.model_prices || Object.keys(settings.model_prices).length === 0, 'no prices set');
    let u = await turn('claude-sonnet-4-5-20250929');
    assert.ok(u.inputTokens > 0 && u.outputTokens > 0, JSON.stringify(u));
    const list = (u.inputTokens * 3 + u.outputTokens * 15) / 1e6;
    assert.ok(u.costUsd > 0, `cost ${u.costUsd}`);
    assert.ok(Math.abs(u.costUsd - list) < 1e-9, JSON.stringify(u));
    // the owner's price wins over the built-in one
    assert.equal((await d.req('PATCH', '/api/settings', { model_prices: { 'claude-sonnet-4*': { input: 30, output: 150 } } })).status, 200);
    u = await turn('claude-sonnet-4-5-20250929');
    assert.ok(Math.abs(u.costUsd - (u.inputTokens * 30 + u.outputTokens * 150) / 1e6) < 1e-9, JSON.stringify(u));
  } finally {
    await d.cleanup();
    await mock.close();
  }
});
