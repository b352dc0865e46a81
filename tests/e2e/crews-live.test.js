// SPDX-License-Identifier: MIT
// Crews and what runs now (issue #32): an agent that joins a crew while it
// runs has its tool calls on the crew's graph at once (not from its next
// run), and one that leaves drops off it; the dashboard's token and cost
// figures include the usage so far of the runs still running, as the
// agents themselves show it.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { startApi, testRun, until } = require('./lib/api');
const { makeAgent, Live } = require('./lib/live');

let d;
test.before(async () => { d = await startApi(); });
test.after(async () => { if (d) await d.cleanup(); });

test('an agent that joins a crew mid-run has its tool calls on the crew topic at once', async () => {
  const crew = (await d.req('POST', '/api/crews', { name: 'late joiners' })).body;
  const { worktree } = await makeAgent(d);
  // A tool call every 100 ms for at most 60 s.
  const script = `let i = 0; const t = setInterval(() => {
    console.log(JSON.stringify({ type: 'tool_start', toolId: 't' + i, name: 'probe' }));
    console.log(JSON.stringify({ type: 'tool_end', toolId: 't' + i, durationMs: 1, status: 'success' }));
    if (++i > 600) clearInterval(t);
  }, 100);`;
  const r = await d.req('POST', '/api/agents', { worktreeId: worktree.id, name: 'joiner', executor: 'command', command: [process.execPath, '-e', script] });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const id = r.body.id;
  const watch = await Live.open(d, '/ws');
  watch.send('subscribe', { topics: [`crew:${crew.id}`] });
  await watch.next('subscribed');
  assert.equal((await d.req('POST', `/api/agents/${id}/start`, {})).status, 200);
  // Its tools run, outside any crew, until it joins.
  await until(async () => (await d.req('GET', `/api/agents/${id}`)).body.status === 'running', 'the agent to run');
  const joined = await d.req('PATCH', `/api/agents/${id}`, { crewId: crew.id });
  assert.equal(joined.status, 200, JSON.stringify(joined.body));
  await watch.until(() => watch.events.some((e) => e.type === 'tool_start' && e.payload.agentId === id), 15000, 'a tool call on the crew topic');
  const tool = watch.events.find((e) => e.type === 'tool_start' && e.payload.agentId === id);
  assert.equal(tool.payload.crewId, crew.id);
  // It leaves: no more of its calls on the crew topic.
  assert.equal((await d.req('PATCH', `/api/agents/${id}`, { crewId: null })).status, 200);
  // Calls made after it left (seen on its own topic) are not the crew's.
  const own = await Live.open(d, '/ws');
  own.send('subscribe', { topics: [`agent:${id}`] });
  await own.next('subscribed');
  await own.until(() => own.events.filter((e) => e.type === 'tool_start').length >= 3, 15000, 'calls after leaving');
  const after = own.events.filter((e) => e.type === 'tool_start').map((e) => e.payload.toolId);
  assert.ok(after.every((t) => !watch.events.some((e) => e.type === 'tool_start' && e.payload.toolId === t)), 'calls after leaving are off the crew');
  assert.ok(after.every((t) => own.events.find((e) => e.payload.toolId === t).payload.crewId === undefined));
  await d.req('POST', `/api/agents/${id}/stop?force=true&wait=true`, {});
  watch.close();
  own.close();
});

test('the dashboard figures include the tokens and cost of the runs still running', async () => {
  const { agent } = await makeAgent(d);
  const before = (await d.req('GET', '/api/dashboard/stats?range=24h')).body;
  await testRun(d, agent.id, 'succeeded', { durationMs: 100, inputTokens: 100, outputTokens: 50, costUsd: 0.5 });
  await testRun(d, agent.id, 'running', { inputTokens: 1000, outputTokens: 200, costUsd: 2 });
  const s = (await d.req('GET', '/api/dashboard/stats?range=24h')).body;
  assert.equal(s.totalTokens - before.totalTokens, 1350);
  assert.equal(s.inputTokens - before.inputTokens, 1100);
  assert.ok(Math.abs(s.costUsd - before.costUsd - 2.5) < 1e-9, String(s.costUsd));
  assert.equal(s.liveRuns - before.liveRuns, 1);
  assert.equal(s.totalRuns - before.totalRuns, 1, 'a running run is not counted as a run before its end');
  const m = (await d.req('GET', '/api/dashboard/tokens/stats')).body;
  assert.ok(m.spentTokens >= 1350, JSON.stringify(m));
});
