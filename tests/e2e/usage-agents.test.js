// SPDX-License-Identifier: MIT
// Cost per agent (issue #14): every agent row carries costUsd and
// totalTokens summed over its runs (list, per-worktree list, one agent, the
// agent a run's end publishes), and GET /api/usage/agents gives each agent's
// use in the current day, week or month, of the caller's organisation only.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { startApi, assertError, testRun } = require('./lib/api');
const { makeAgent, Live } = require('./lib/live');

let d;
test.before(async () => { d = await startApi(); });
test.after(async () => { if (d) await d.cleanup(); });

const run = (agentId, status, extra) => testRun(d, agentId, status, extra);

const near = (a, b) => Math.abs(a - b) < 1e-9;

test('an agent row carries the cost and tokens of its runs, everywhere it is listed', async () => {
  const { agent: a, worktree } = await makeAgent(d);
  const b = (await d.req('POST', '/api/agents', { worktreeId: worktree.id, name: 'free' })).body;
  // A new agent has cost nothing.
  let one = (await d.req('GET', `/api/agents/${a.id}`)).body;
  assert.equal(one.costUsd, 0);
  assert.equal(one.totalTokens, 0);
  await run(a.id, 'succeeded', { durationMs: 100, inputTokens: 100, outputTokens: 20, costUsd: 0.25 });
  await run(a.id, 'failed', { durationMs: 100, inputTokens: 10, outputTokens: 5, costUsd: 0.17 });
  await run(a.id, 'running', { inputTokens: 1, outputTokens: 1 });

  one = (await d.req('GET', `/api/agents/${a.id}`)).body;
  assert.ok(near(one.costUsd, 0.42), String(one.costUsd));
  assert.equal(one.totalTokens, 137);
  const all = (await d.req('GET', '/api/agents')).body.agents;
  const inAll = all.find((x) => x.id === a.id);
  assert.ok(near(inAll.costUsd, 0.42));
  assert.equal(inAll.totalTokens, 137);
  assert.equal(all.find((x) => x.id === b.id).costUsd, 0);
  for (const sort of ['free', 'status', 'name']) {
    assert.equal((await d.req('PATCH', `/api/worktrees/${worktree.id}`, { sortMode: sort })).status, 200);
    const wt = (await d.req('GET', `/api/agents?worktreeId=${worktree.id}`)).body;
    const list = wt.agents || wt;
    assert.ok(near(list.find((x) => x.id === a.id).costUsd, 0.42), sort);
    assert.equal(list.find((x) => x.id === b.id).totalTokens, 0, sort);
  }
});

test('a real run\'s end publishes the agent with its cost', async () => {
  const { agent } = await makeAgent(d, { executor: 'command', command: ['sh', '-c', 'echo hi'] });
  await run(agent.id, 'succeeded', { durationMs: 10, inputTokens: 3, outputTokens: 4, costUsd: 0.5 });
  const live = await Live.open(d, '/ws');
  try {
    live.send('subscribe', { topics: [`agent:${agent.id}`] });
    await live.next('subscribed');
    const st = await d.req('POST', `/api/agents/${agent.id}/start`, {});
    assert.ok(st.status === 200 || st.status === 201, JSON.stringify(st.body));
    await live.until(() => live.events.some((e) => e.type === 'run_ended'), 15000, 'run_ended');
    const ended = live.events.find((e) => e.type === 'run_ended').payload;
    assert.equal(ended.run.agentId, agent.id);
    // The event carries the agent's new total: the earlier run's and this one's (0).
    assert.ok(near(ended.agentUsage.costUsd, 0.5), JSON.stringify(ended));
    assert.equal(ended.agentUsage.totalTokens, 7);
    const a = (await d.req('GET', `/api/agents/${agent.id}`)).body;
    assert.ok(near(a.costUsd, 0.5), String(a.costUsd));
    assert.equal(a.totalTokens, 7);
  } finally {
    await live.close();
  }
});

test('usage per agent: today first, by period, costliest first, one organisation only', async () => {
  const { agent: a, worktree } = await makeAgent(d);
  const b = (await d.req('POST', '/api/agents', { worktreeId: worktree.id, name: 'pricey' })).body;
  await run(a.id, 'succeeded', { durationMs: 100, inputTokens: 40, outputTokens: 2, costUsd: 0.01 });
  await run(b.id, 'succeeded', { durationMs: 100, inputTokens: 1000, outputTokens: 200, costUsd: 3 });
  await run(b.id, 'running', { inputTokens: 5, outputTokens: 5, costUsd: 0.5 });

  let r = await d.req('GET', '/api/usage/agents');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.period, 'daily');
  assert.equal(r.body.from, new Date().toISOString().slice(0, 10));
  const rows = r.body.agents;
  const ib = rows.findIndex((x) => x.agentId === b.id);
  const ia = rows.findIndex((x) => x.agentId === a.id);
  assert.ok(ib >= 0 && ia > ib, JSON.stringify(rows));
  assert.equal(rows[ib].name, 'pricey');
  assert.equal(rows[ib].runs, 2);
  assert.equal(rows[ib].inputTokens, 1005);
  assert.equal(rows[ib].totalTokens, 1210);
  assert.ok(near(rows[ib].costUsd, 3.5));
  assert.equal(rows[ia].totalTokens, 42);
  const sum = rows.reduce((s, x) => s + x.costUsd, 0);
  assert.ok(near(r.body.totals.costUsd, sum));
  for (const period of ['weekly', 'monthly']) {
    r = await d.req('GET', `/api/usage/agents?period=${period}`);
    assert.equal(r.status, 200);
    assert.equal(r.body.period, period);
    assert.ok(r.body.agents.some((x) => x.agentId === b.id && near(x.costUsd, 3.5)));
  }
  assertError(await d.req('GET', '/api/usage/agents?period=yearly'), 422, 'VALIDATION_ERROR', 'period');

  // Another organisation sees none of it, and its own agents only.
  const org = (await d.req('POST', '/api/orgs', { name: 'elsewhere' })).body;
  const tok = (await d.req('POST', '/api/tokens', { name: 'x', scope: 'read', orgId: org.id })).body;
  const h = { authorization: `Bearer ${tok.token}` };
  r = await d.req('GET', '/api/usage/agents', undefined, h);
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.agents, []);
  assert.equal(r.body.totals.costUsd, 0);
  assert.equal((await d.req('GET', '/api/usage/agents')).status, 200);
  // Without a token: 401.
  const anon = await fetch(`${d.url}/api/usage/agents`);
  assert.equal(anon.status, 401);
});
