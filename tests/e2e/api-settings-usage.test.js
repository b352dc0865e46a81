// SPDX-License-Identifier: MIT
// REST: /api/settings (typed values, defaults, validation that changes
// nothing) and /api/usage (recording, periods, history, today, limits).
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startApi, assertError, makeWorkspace, makeAgent } = require('./lib/api');

let d;
before(async () => { d = await startApi(); });
after(async () => { await d.cleanup(); });

const today = () => new Date().toISOString().slice(0, 10);

test('settings have typed defaults', async () => {
  const r = await d.req('GET', '/api/settings');
  assert.equal(r.status, 200);
  assert.equal(r.body.theme, 'system');
  assert.equal(r.body.auto_save, true); // the seed's default: drafts kept as you type (issue #74)
  assert.equal(r.body.notifications, true);
  assert.equal(r.body.default_mode, 'regular');
  assert.equal(r.body.confirm_delete, true);
  assert.equal(r.body.max_context_warning, 80);
});

test('settings patch: typed, partial, unknown keys ignored', async () => {
  const r = await d.req('PATCH', '/api/settings', { theme: 'dark', notifications: false, max_context_warning: 65, whatever: 1, auto_save: false });
  assert.equal(r.status, 200);
  assert.equal(r.body.theme, 'dark');
  assert.equal(r.body.notifications, false);
  assert.equal(r.body.max_context_warning, 65);
  assert.equal(r.body.auto_save, false);
  assert.equal(r.body.whatever, undefined);
  const g = await d.req('GET', '/api/settings');
  assert.deepEqual(g.body, r.body);
});

test('a bad value is refused with 422 and nothing changes', async () => {
  const beforeS = (await d.req('GET', '/api/settings')).body;
  const cases = [
    [{ theme: 'neon' }, 'theme'],
    [{ theme: 3 }, 'theme'],
    [{ notifications: 1 }, 'notifications'],
    [{ default_mode: 'yolo' }, 'default_mode'],
    [{ confirm_delete: null }, 'confirm_delete'],
    [{ max_context_warning: 101 }, 'max_context_warning'],
    [{ max_context_warning: -1 }, 'max_context_warning'],
    [{ max_context_warning: 50.5 }, 'max_context_warning'],
    [{ max_context_warning: '80' }, 'max_context_warning'],
    [{ daily_token_limit: -5 }, 'daily_token_limit'],
  ];
  for (const [body, field] of cases) {
    // a valid change alongside must not be applied either
    assertError(await d.req('PATCH', '/api/settings', { notifications: false, ...body }), 422, 'VALIDATION_ERROR', field);
  }
  assertError(await d.req('PATCH', '/api/settings', '{"theme":'), 400, 'INVALID_JSON');
  assert.deepEqual((await d.req('GET', '/api/settings')).body, beforeS);
});

test('usage: empty day, record, totals per period', async () => {
  const t0 = await d.req('GET', '/api/usage/today');
  assert.equal(t0.status, 200);
  assert.equal(t0.body.date, today());
  assert.equal(t0.body.requestCount, 0);
  assert.equal(t0.body.totalTokens, 0);

  const r1 = await d.req('POST', '/api/usage', { model: 'claude-opus', inputTokens: 100, outputTokens: 40, cacheReadTokens: 5, costUsd: 0.5 });
  assert.equal(r1.status, 201);
  assert.equal(r1.body.requestCount, 1);
  const r2 = await d.req('POST', '/api/usage', { model: 'claude-haiku', inputTokens: 10, outputTokens: 2, error: true, costUsd: 0.25 });
  assert.equal(r2.status, 201);

  const t = (await d.req('GET', '/api/usage/today')).body;
  assert.equal(t.inputTokens, 110);
  assert.equal(t.outputTokens, 42);
  assert.equal(t.totalTokens, 152);
  assert.equal(t.cacheReadTokens, 5);
  assert.equal(t.requestCount, 2);
  assert.equal(t.errorCount, 1);
  assert.ok(Math.abs(t.costUsd - 0.75) < 1e-9);
  assert.equal(t.modelUsage['claude-opus'].inputTokens, 100);
  assert.equal(t.modelUsage['claude-haiku'].errorCount, 1);

  for (const period of ['daily', 'weekly', 'monthly']) {
    const u = await d.req('GET', `/api/usage?period=${period}`);
    assert.equal(u.status, 200);
    assert.equal(u.body.period, period);
    assert.equal(u.body.rows.length, 1);
    assert.equal(u.body.rows[0].totalTokens, 152);
    assert.equal(u.body.totals.requestCount, 2);
  }
  const ranged = await d.req('GET', `/api/usage?period=daily&from=${today()}&to=${today()}`);
  assert.equal(ranged.body.rows.length, 1);
  const past = await d.req('GET', '/api/usage?period=daily&from=2000-01-01&to=2000-12-31');
  assert.equal(past.body.rows.length, 0);
  assert.equal(past.body.totals.totalTokens, 0);

  const h = await d.req('GET', '/api/usage/history?days=7');
  assert.equal(h.status, 200);
  assert.equal(h.body.history.length, 7);
  assert.equal(h.body.history[6].date, today());
  assert.equal(h.body.history[6].totalTokens, 152);
  assert.equal(h.body.history[0].totalTokens, 0);
  assert.equal(h.body.totals.totalTokens, 152);
  assert.equal((await d.req('GET', '/api/usage/history')).body.history.length, 30);
});

test('usage limits come from settings with what is left', async () => {
  const open = (await d.req('GET', '/api/usage/limits')).body;
  assert.equal(open.daily.tokenLimit, 0);
  assert.equal(open.daily.tokensRemaining, null);
  assert.equal(open.daily.exceeded, false);
  assert.equal((await d.req('PATCH', '/api/settings', { daily_token_limit: 1000, monthly_cost_limit: 0.5 })).status, 200);
  const l = (await d.req('GET', '/api/usage/limits')).body;
  const used = l.daily.tokensUsed;
  assert.ok(used >= 0);
  assert.equal(l.daily.tokenLimit, 1000);
  assert.equal(l.daily.tokensRemaining, Math.max(0, 1000 - used));
  assert.equal(l.monthly.costLimitUsd, 0.5);
  assert.equal(l.monthly.exceeded, l.monthly.costUsedUsd >= 0.5);
  await d.req('POST', '/api/usage', { inputTokens: 2000, outputTokens: 0, costUsd: 1 });
  const l2 = (await d.req('GET', '/api/usage/limits')).body;
  assert.equal(l2.daily.tokensRemaining, 0);
  assert.equal(l2.daily.exceeded, true);
  assert.equal(l2.monthly.costRemainingUsd, 0);
  assert.equal(l2.monthly.exceeded, true);
});

// Limits are enforced, not only reported: past one, starting an agent and
// sending a message get 429 USAGE_LIMIT saying which limit and how far it
// is; force goes past it; raising the limit lets them through again.
test('past a usage limit, start and message are refused with 429 until force', async () => {
  const { wt } = await makeWorkspace(d);
  const ag = await makeAgent(d, wt.id, { executor: 'command', command: [process.execPath, '-e', 'process.stdin.resume()'] });
  assert.equal((await d.req('PATCH', '/api/settings', { daily_token_limit: 1000, monthly_cost_limit: 0 })).status, 200);
  await d.req('POST', '/api/usage', { inputTokens: 2000, outputTokens: 0 });
  let r = await d.req('POST', `/api/agents/${ag.id}/start`, {});
  assertError(r, 429, 'USAGE_LIMIT');
  assert.match(r.body.error.message, /daily token limit is reached \(\d+ of 1000 tokens\); send force: true/);
  assert.equal(r.body.error.details.period, 'daily');
  assert.equal(r.body.error.details.usage.tokenLimit, 1000);
  assert.equal((await d.req('GET', `/api/agents/${ag.id}`)).body.status, 'idle', 'nothing started');
  r = await d.req('POST', `/api/agents/${ag.id}/start?force=true`, {});
  assert.equal(r.status, 200, JSON.stringify(r.body));
  r = await d.req('POST', `/api/agents/${ag.id}/message`, { content: 'hello' });
  assertError(r, 429, 'USAGE_LIMIT');
  r = await d.req('POST', `/api/agents/${ag.id}/message`, { content: 'hello', force: true });
  assert.notEqual(r.status, 429, JSON.stringify(r.body));
  // a cost limit says so in money
  assert.equal((await d.req('PATCH', '/api/settings', { daily_token_limit: 0, daily_cost_limit: 0.01 })).status, 200);
  await d.req('POST', '/api/usage', { inputTokens: 1, outputTokens: 0, costUsd: 0.5 });
  r = await d.req('POST', `/api/agents/${ag.id}/message`, { content: 'hello' });
  assertError(r, 429, 'USAGE_LIMIT');
  assert.match(r.body.error.message, /daily cost limit is reached \(\$[\d.]+ of \$0\.01\)/);
  assert.equal((await d.req('PATCH', '/api/settings', { daily_cost_limit: 0 })).status, 200);
  r = await d.req('POST', `/api/agents/${ag.id}/message`, { content: 'hello again' });
  assert.notEqual(r.status, 429, JSON.stringify(r.body));
  await d.req('POST', `/api/agents/${ag.id}/stop?force=true&wait=true`);
});

test('usage input errors', async () => {
  assertError(await d.req('GET', '/api/usage?period=yearly'), 422, 'VALIDATION_ERROR', 'period');
  assertError(await d.req('GET', '/api/usage?from=2026-13-01'), 422, 'VALIDATION_ERROR', 'from');
  assertError(await d.req('GET', '/api/usage?to=yesterday'), 422, 'VALIDATION_ERROR', 'to');
  assertError(await d.req('GET', '/api/usage?from=2026-02-01&to=2026-01-01'), 422, 'VALIDATION_ERROR', 'from');
  assertError(await d.req('GET', '/api/usage/history?days=0'), 422, 'VALIDATION_ERROR', 'days');
  assertError(await d.req('GET', '/api/usage/history?days=abc'), 422, 'VALIDATION_ERROR', 'days');
  const beforeU = (await d.req('GET', '/api/usage/today')).body;
  assertError(await d.req('POST', '/api/usage', { outputTokens: 1 }), 422, 'VALIDATION_ERROR', 'inputTokens');
  assertError(await d.req('POST', '/api/usage', { inputTokens: -1, outputTokens: 1 }), 422, 'VALIDATION_ERROR', 'inputTokens');
  assertError(await d.req('POST', '/api/usage', { inputTokens: 1, outputTokens: '2' }), 422, 'VALIDATION_ERROR', 'outputTokens');
  assertError(await d.req('POST', '/api/usage', { inputTokens: 1, outputTokens: 1, costUsd: 'free' }), 422, 'VALIDATION_ERROR', 'costUsd');
  assertError(await d.req('POST', '/api/usage', { inputTokens: 1, outputTokens: 1, model: 5 }), 422, 'VALIDATION_ERROR', 'model');
  assertError(await d.req('POST', '/api/usage', '{'), 400, 'INVALID_JSON');
  assert.deepEqual((await d.req('GET', '/api/usage/today')).body, beforeU);
});

test('GET /api/prices: the built-in list prices and the model_prices setting over them', async () => {
  let r = await d.req('GET', '/api/prices');
  assert.equal(r.status, 200);
  assert.equal(typeof r.body.builtin['claude-sonnet-4*'].input, 'number');
  assert.ok(!Object.keys(r.body.builtin).some((k) => 'claude-experimental-x'.startsWith(k.replace(/\*$/, ''))), 'an unpriced model stays unpriced');
  assert.deepEqual(r.body.modelPrices, {});
  assert.equal((await d.req('PATCH', '/api/settings', { model_prices: { 'local-*': { input: 0.1, output: 0.2 } } })).status, 200);
  r = await d.req('GET', '/api/prices');
  assert.deepEqual(r.body.modelPrices, { 'local-*': { input: 0.1, output: 0.2 } });
  assert.equal((await d.req('PATCH', '/api/settings', { model_prices: {} })).status, 200);
});
