// SPDX-License-Identifier: MIT
// Runs across agents and the dashboard's figures (issue #19): GET /api/runs
// with filters and a cursor, /api/dashboard/stats against hand-counted
// runs, tool latencies from a real command agent's tool lines, the seed's
// paths with its snake_case names, and organisations kept apart.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { startApi, assertError, testRun, until } = require('./lib/api');
const { makeAgent, Live } = require('./lib/live');

let d;
test.before(async () => { d = await startApi(); });
test.after(async () => { if (d) await d.cleanup(); });

const run = (agentId, status, extra) => testRun(d, agentId, status, extra);

test('stats match hand-counted runs; the runs list filters and pages', async () => {
  const crew = (await d.req('POST', '/api/crews', { name: 'counted' })).body;
  const { agent: a, worktree } = await makeAgent(d, { crewId: crew.id });
  const b = (await d.req('POST', '/api/agents', { worktreeId: worktree.id, name: 'b' })).body;
  // Hand count: five ended runs and one still running.
  await run(a.id, 'succeeded', { durationMs: 100, inputTokens: 10, outputTokens: 5, costUsd: 0.01 });
  await run(a.id, 'succeeded', { durationMs: 1500, inputTokens: 20, outputTokens: 7, costUsd: 0.02 });
  await run(a.id, 'failed', { durationMs: 3000, inputTokens: 1, outputTokens: 1, costUsd: 0.005 });
  await run(a.id, 'stopped', { durationMs: 200 });
  await run(a.id, 'running');
  await run(b.id, 'failed', { durationMs: 50 });

  const s = (await d.req('GET', '/api/dashboard/stats?range=24h')).body;
  assert.equal(s.totalRuns, 5);
  assert.equal(s.succeeded, 2);
  assert.equal(s.failed, 2);
  assert.equal(s.stopped, 1);
  assert.equal(s.successRate, 0.5);
  assert.equal(s.inputTokens, 31);
  assert.equal(s.outputTokens, 13);
  assert.equal(s.totalTokens, 44);
  assert.ok(Math.abs(s.costUsd - 0.035) < 1e-9, String(s.costUsd));
  // Durations 50, 100, 200, 1500, 3000 ms: the median is 200, p95 3000 (to
  // the decimal bucket they fall in).
  assert.ok(s.latency.run.p50Ms >= 200 && s.latency.run.p50Ms < 300, JSON.stringify(s.latency));
  assert.ok(s.latency.run.p95Ms >= 3000 && s.latency.run.p95Ms < 4000, JSON.stringify(s.latency));
  assert.equal(s.latency.run.count, 5);
  assert.equal(s.recentRuns.length, 5);
  assert.equal(s.range, '24h');
  assert.equal(s.activeCrews, 0);
  await d.req('POST', '/test/agent-status', { agentId: a.id, status: 'running' });
  assert.equal((await d.req('GET', '/api/dashboard/stats')).body.activeCrews, 1);
  await d.req('POST', '/test/agent-status', { agentId: a.id, status: 'finished' });

  // The list: newest first, with agent name and crew.
  let r = await d.req('GET', '/api/runs');
  assert.equal(r.status, 200);
  assert.equal(r.body.runs.length, 6);
  assert.equal(r.body.nextCursor, null);
  const starts = r.body.runs.map((x) => x.startedAt);
  assert.deepEqual([...starts].sort().reverse(), starts);
  assert.ok(r.body.runs.some((x) => x.agentName === 'b' && x.crewId === null));
  assert.equal((await d.req('GET', '/api/runs?status=failed')).body.runs.length, 2);
  assert.equal((await d.req('GET', `/api/runs?crewId=${crew.id}`)).body.runs.length, 5);
  assert.equal((await d.req('GET', `/api/runs?agentId=${b.id}`)).body.runs.length, 1);
  assert.equal((await d.req('GET', `/api/runs?since=${Date.now() + 60000}`)).body.runs.length, 0);
  // Pages of two: every run once.
  const seen = [];
  let cursor = '';
  for (let i = 0; i < 10; i++) {
    r = await d.req('GET', `/api/runs?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    seen.push(...r.body.runs.map((x) => x.id));
    if (!r.body.nextCursor) break;
    cursor = r.body.nextCursor;
  }
  assert.equal(seen.length, 6);
  assert.equal(new Set(seen).size, 6);
  // Bad input: 422 naming the field.
  assertError(await d.req('GET', '/api/runs?status=done'), 422, 'VALIDATION_ERROR', 'status');
  assertError(await d.req('GET', '/api/runs?limit=0'), 422, 'VALIDATION_ERROR', 'limit');
  assertError(await d.req('GET', '/api/runs?cursor=run_nope'), 422, 'VALIDATION_ERROR', 'cursor');
  assertError(await d.req('GET', '/api/runs?since=yesterday'), 422, 'VALIDATION_ERROR', 'since');
  assertError(await d.req('GET', '/api/dashboard/stats?range=1y'), 422, 'VALIDATION_ERROR', 'range');
});

test('tool latencies come from the agents\' own tool lines', async () => {
  const before = (await d.req('GET', '/api/dashboard/stats')).body.latency.tool.count;
  const { worktree } = await makeAgent(d);
  const line = JSON.stringify({ type: 'tool_end', toolId: 't', durationMs: 1500, status: 'success', exitCode: 0 });
  const ag = (await d.req('POST', '/api/agents', { worktreeId: worktree.id, executor: 'command',
    command: [process.execPath, '-e', `console.log(${JSON.stringify(line)})`] })).body;
  assert.equal((await d.req('POST', `/api/agents/${ag.id}/start`, {})).status, 200);
  const tool = await until(async () => {
    const t = (await d.req('GET', '/api/dashboard/stats')).body.latency.tool;
    return t.count > before ? t : null;
  }, 'the tool latency');
  assert.equal(tool.count, before + 1);
  assert.ok(tool.p50Ms >= 1000 && tool.p50Ms < 2000, JSON.stringify(tool));
});

test('the seed\'s paths answer with its snake_case names, rentals too', async () => {
  const s = await d.req('GET', '/dashboard/stats');
  assert.equal(s.status, 200);
  for (const k of ['total_runs', 'success_rate', 'active_crews', 'recent_runs', 'total_tokens', 'latency']) {
    assert.ok(k in s.body, `${k} in ${Object.keys(s.body)}`);
  }
  assert.ok(s.body.recent_runs.every((x) => 'agent_id' in x && 'started_at' in x));
  const t = await d.req('GET', '/dashboard/tokens/stats');
  assert.equal(t.status, 200);
  for (const k of ['period', 'spent_tokens', 'projected_tokens', 'budget_tokens', 'spent_usd']) assert.ok(k in t.body, k);
  const camel = (await d.req('GET', '/api/dashboard/tokens/stats')).body;
  assert.equal(camel.spentTokens, t.body.spent_tokens);
  // With a monthly budget, what remains.
  assert.equal((await d.req('PATCH', '/api/settings', { monthly_token_limit: 1000 })).status, 200);
  const b = (await d.req('GET', '/api/dashboard/tokens/stats')).body;
  assert.equal(b.budgetTokens, 1000);
  assert.equal(b.remainingTokens, Math.max(0, 1000 - b.spentTokens));
  const rent = await d.req('GET', '/dashboard/rentals/stats'); // agent time (seed-003-credits)
  assert.equal(rent.status, 200);
  for (const k of ['agent_seconds', 'active_runs', 'nodes', 'agents']) assert.ok(k in rent.body, k);
  // No token, no figures (and JSON, not the dashboard's HTML).
  const anon = await fetch(`${d.url}/dashboard/stats`);
  assert.equal(anon.status, 401);
  assert.match(anon.headers.get('content-type'), /json/);
});

test('another organisation sees none of these runs', async () => {
  const org = (await d.req('POST', '/api/orgs', { name: 'other' })).body;
  const tok = (await d.req('POST', '/api/tokens', { name: 'other admin', scope: 'admin', orgId: org.id })).body;
  const h = { authorization: `Bearer ${tok.token}` };
  const runs = await d.req('GET', '/api/runs', undefined, h);
  assert.equal(runs.status, 200);
  assert.equal(runs.body.runs.length, 0);
  const mine = (await d.req('GET', '/api/runs?limit=1')).body.runs[0].id;
  assertError(await d.req('GET', `/api/runs?cursor=${mine}`, undefined, h), 422, 'VALIDATION_ERROR', 'cursor');
  const s = (await d.req('GET', '/api/dashboard/stats', undefined, h)).body;
  assert.equal(s.totalRuns, 0);
  assert.equal(s.recentRuns.length, 0);
  assert.equal(s.latency.run.count, 0);
});

test('a crew is renamed, started and stopped as a whole', async () => {
  const crew = (await d.req('POST', '/api/crews', { name: 'team' })).body;
  const { worktree } = await makeAgent(d);
  const ids = [];
  for (const n of ['one', 'two']) {
    const r = await d.req('POST', '/api/agents', { worktreeId: worktree.id, name: n, crewId: crew.id,
      executor: 'command', command: ['sleep', '30'] });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    ids.push(r.body.id);
  }
  let r = await d.req('PATCH', `/api/crews/${crew.id}`, { name: 'the team' });
  assert.equal(r.status, 200);
  assert.equal(r.body.name, 'the team');
  assertError(await d.req('PATCH', `/api/crews/${crew.id}`, { name: '  ' }), 422, 'VALIDATION_ERROR', 'name');
  assertError(await d.req('PATCH', '/api/crews/crew_nope', { name: 'x' }), 404, 'NOT_FOUND');
  const watch = await Live.open(d, '/ws');
  watch.send('subscribe', { topics: [`crew:${crew.id}`] });
  await watch.next('subscribed');
  r = await d.req('POST', `/api/crews/${crew.id}/start`, {});
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual([...r.body.started].sort(), [...ids].sort());
  // Started again: both are running, nothing more starts.
  r = await d.req('POST', `/api/crews/${crew.id}/start`, {});
  assert.equal(r.body.started.length, 0);
  assert.equal(r.body.skipped.length, 2);
  const busy = async () => (await d.req('GET', `/api/crews/${crew.id}`)).body.status;
  // The agents' `running` is stored a moment after the start is answered.
  await until(async () => (await busy()) === 'busy', 'the crew to turn busy');
  r = await d.req('POST', `/api/crews/${crew.id}/stop?force=true`);
  assert.equal(r.status, 200);
  assert.deepEqual([...r.body.stopping].sort(), [...ids].sort());
  await until(async () => (await busy()) !== 'busy', 'the crew to stop being busy');
  for (const id of ids) assert.notEqual((await d.req('GET', `/api/agents/${id}`)).body.status, 'running');
  // Dashboards follow runs live: run_started, then run_ended with the stored run.
  await watch.until(() => watch.events.filter((e) => e.type === 'run_ended').length === 2, 10000, 'two run_ended');
  const started = watch.events.filter((e) => e.type === 'run_started').map((e) => e.payload.run);
  const ended = watch.events.filter((e) => e.type === 'run_ended').map((e) => e.payload.run);
  assert.deepEqual(started.map((x) => x.agentId).sort(), [...ids].sort());
  assert.ok(started.every((x) => x.status === 'running'));
  assert.ok(ended.every((x) => x.status === 'stopped' && typeof x.durationMs === 'number'), JSON.stringify(ended));
  watch.close();
  // A read token may not start a crew; another org does not see it.
  const read = (await d.req('POST', '/api/tokens', { name: 'reader', scope: 'read' })).body;
  assert.equal((await d.req('POST', `/api/crews/${crew.id}/start`, {}, { authorization: `Bearer ${read.token}` })).status, 403);
  const org = (await d.req('POST', '/api/orgs', { name: 'elsewhere' })).body;
  const other = (await d.req('POST', '/api/tokens', { name: 'x', scope: 'admin', orgId: org.id })).body;
  assertError(await d.req('POST', `/api/crews/${crew.id}/stop`, undefined, { authorization: `Bearer ${other.token}` }), 404, 'NOT_FOUND');
});
