// SPDX-License-Identifier: MIT
// The pre-subscribed channels and crews: /ws/runs/:runId streams its run
// and closes with 1000 after the final event (at once for a finished run),
// /ws/mission carries crew `signal`s as agents change, /ws/graph carries a
// crew's tool_* events only; GET/POST /api/crews with derived status.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('./lib/daemon');
const { Live, json, publish, hasTestRoutes, makeAgent } = require('./lib/live');
const { until } = require('./lib/api');

test('the run channel streams its run and closes with 1000 after the final event', async (t) => {
  const d = await start({ needUrl: true });
  try {
    if (!(await hasTestRoutes(d))) { t.skip('needs a test build (/test/runs)'); return; }
    const { agent } = await makeAgent(d);
    const run = (await json(d, 'POST', '/test/runs', { agentId: agent.id })).body.run;
    const other = (await json(d, 'POST', '/test/runs', { agentId: agent.id })).body.run;
    const c = await Live.open(d, `/ws/runs/${run.id}`);
    await publish(d, { type: 'agent_output', topics: [`agent:${agent.id}`],
      payload: { agentId: agent.id, runId: run.id, stream: 'stdout', content: 'hello' } });
    await publish(d, { type: 'agent_output', topics: [`agent:${agent.id}`],
      payload: { agentId: agent.id, runId: other.id, stream: 'stdout', content: 'not mine' } });
    await publish(d, { type: 'metrics_update', topics: [`run:${run.id}`], payload: { runId: run.id, points: [] } });
    await publish(d, { type: 'agent_exit', topics: [`agent:${agent.id}`],
      payload: { agentId: agent.id, runId: run.id, code: 0, signal: null } });
    const code = await Promise.race([c.closed, new Promise((r) => setTimeout(() => r('timeout'), 10000))]);
    assert.equal(code, 1000);
    assert.deepEqual(c.events.map((e) => e.type), ['agent_output', 'metrics_update', 'agent_exit']);
    assert.equal(c.events[0].payload.content, 'hello');

    // A run that is already over: closed at once. An unknown run: 4404.
    const done = (await json(d, 'POST', '/test/runs', { agentId: agent.id, status: 'succeeded' })).body.run;
    const c2 = await Live.open(d, `/ws/runs/${done.id}`);
    assert.equal(await c2.closed, 1000);
    assert.equal(c2.msgs[0].type, 'run_status');
    assert.equal(c2.msgs[0].payload.status, 'succeeded');
    const c3 = await Live.open(d, '/ws/runs/run_nope');
    assert.equal(await c3.closed, 4404);
  } finally {
    await d.cleanup();
  }
});

test('crews: REST, derived status and signals on the mission channel', async (t) => {
  const d = await start({ needUrl: true });
  try {
    if (!(await hasTestRoutes(d))) { t.skip('needs a test build (/test/agent-status)'); return; }
    const m = await Live.open(d, '/ws/mission');
    let r = await json(d, 'POST', '/api/crews', { name: 'red' });
    assert.equal(r.status, 201);
    const crew = r.body;
    assert.match(crew.id, /^crew_/);
    assert.equal(crew.status, 'offline');
    r = await json(d, 'POST', '/api/crews', {});
    assert.equal(r.status, 422);
    // The seed's dialect on this channel: snake_case, at the top and in payload.
    const signals = () => m.events.filter((e) => e.type === 'signal' && e.payload.crew_id === crew.id && e.crew_id === crew.id)
      .map((e) => e.payload.status);
    await m.until(() => signals().length === 1, 10000, 'the new crew signal');

    const { agent } = await makeAgent(d, { crewId: crew.id });
    await json(d, 'POST', '/test/agent-status', { agentId: agent.id, status: 'running' });
    await m.until(() => signals().includes('busy'), 10000, 'busy');
    r = await json(d, 'GET', '/api/crews');
    assert.equal(r.body.crews.find((c) => c.id === crew.id).status, 'busy');
    await json(d, 'POST', '/test/agent-status', { agentId: agent.id, status: 'waiting' });
    await m.until(() => signals().includes('available'), 10000, 'available');
    await json(d, 'POST', '/test/agent-status', { agentId: agent.id, status: 'finished' });
    await m.until(() => signals().length === 4, 10000, 'offline');
    assert.deepEqual(signals(), ['offline', 'busy', 'available', 'offline']);
    // Only signals on this channel, although agent events were published.
    assert.ok(m.events.every((e) => e.type === 'signal'));
    r = await json(d, 'GET', `/api/crews/${crew.id}`);
    assert.equal(r.body.agentCount, 1);

    // A new mission client gets the current state of every crew first.
    const m2 = await Live.open(d, '/ws/mission');
    const first = await m2.next('signal');
    assert.deepEqual(first.payload, { crew_id: crew.id, status: 'offline' });
    m2.close();
    m.close();
  } finally {
    await d.cleanup();
  }
});

test('the mission channel sends heartbeats', async (t) => {
  const d = await start({ needUrl: true, env: { AGENTD_TEST_MISSION_HEARTBEAT_MS: '100' } });
  try {
    if (!(await hasTestRoutes(d))) { t.skip('needs a test build'); return; }
    const m = await Live.open(d, '/ws/mission');
    const hb = await m.next('heartbeat', 0, 10000);
    assert.match(hb.payload.ts, /Z$/);
    assert.equal(typeof hb.payload.seq, 'number');
    await m.until(() => m.msgs.filter((x) => x.type === 'heartbeat').length >= 2, 10000, 'a second heartbeat');
    m.close();
  } finally {
    await d.cleanup();
  }
});

test('the graph channel carries only its crew tool events', async (t) => {
  const d = await start({ needUrl: true });
  try {
    if (!(await hasTestRoutes(d))) { t.skip('needs a test build (/test/publish)'); return; }
    const g = await Live.open(d, '/ws/graph?crew_id=crew_a');
    for (const [type, crew] of [['tool_start', 'crew_a'], ['agent_output', 'crew_a'], ['tool_progress', 'crew_a'],
      ['tool_start', 'crew_b'], ['tool_end', 'crew_a']]) {
      await publish(d, { type, topics: ['agent:ag_1', `crew:${crew}`], payload: { toolId: 't1', crewId: crew } });
    }
    await g.until(() => g.events.length >= 3, 10000, 'three tool events');
    g.send('ping');
    await g.next('pong');
    assert.deepEqual(g.events.map((e) => e.type), ['tool_start', 'tool_progress', 'tool_end']);
    assert.ok(g.events.every((e) => e.payload.crew_id === 'crew_a' && e.crew_id === 'crew_a'));
    g.close();
    const bad = await Live.open(d, '/ws/graph');
    assert.equal(await bad.closed, 1008);
  } finally {
    await d.cleanup();
  }
});

test('a crew of two command agents: every tool call on /ws/graph in the seed\'s fields, camelCase on /ws', async () => {
  const d = await start({ needUrl: true });
  try {
    const crew = (await json(d, 'POST', '/api/crews', { name: 'builders' })).body;
    const g = await Live.open(d, `/ws/graph?crew_id=${crew.id}`);
    const all = await Live.open(d, '/ws');
    all.send('subscribe', { topics: [`crew:${crew.id}`] });
    await all.next('subscribed');
    // Each agent prints a tool start, progress and end as JSON lines.
    const script = (tool) => `for (const l of [
      {type:'tool_start', toolId:'${tool}', name:'${tool}', params:{target:'all'}},
      {type:'tool_progress', toolId:'${tool}', message:'half way', progress:50},
      {type:'tool_end', toolId:'${tool}', durationMs:1500, status:'${tool === 'pytest' ? 'error' : 'success'}', exitCode:${tool === 'pytest' ? 1 : 0}},
    ]) console.log(JSON.stringify(l));`;
    const { worktree } = await makeAgent(d, { crewId: crew.id });
    const agents = [];
    for (const tool of ['pytest', 'git_clone']) {
      const r = await json(d, 'POST', '/api/agents', { worktreeId: worktree.id, name: tool, crewId: crew.id,
        executor: 'command', command: [process.execPath, '-e', script(tool)] });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      agents.push(r.body);
    }
    // An agent of no crew: its tools stay off this crew's graph.
    const loner = (await json(d, 'POST', '/api/agents', { worktreeId: worktree.id, name: 'loner',
      executor: 'command', command: [process.execPath, '-e', script('lint')] })).body;
    for (const a of [...agents, loner]) assert.equal((await json(d, 'POST', `/api/agents/${a.id}/start`, {})).status, 200);
    await g.until(() => g.events.filter((e) => e.type === 'tool_end').length >= 2, 15000, 'both tool ends');
    // Nothing more comes: every run has ended (its events were published
    // before), and what the graph was sent before now has arrived.
    for (const a of [...agents, loner]) {
      await until(async () => {
        const runs = (await json(d, 'GET', `/api/agents/${a.id}/runs`)).body.runs;
        return runs.length > 0 && runs[0].status !== 'running';
      }, `the run of ${a.name} to end`, 15000);
    }
    await g.fence();
    assert.equal(g.events.length, 6, JSON.stringify(g.events.map((e) => e.type)));
    for (const a of agents) {
      const mine = g.events.filter((e) => e.agent_id === a.id);
      assert.deepEqual(mine.map((e) => e.type), ['tool_start', 'tool_progress', 'tool_end']);
      for (const e of mine) {
        assert.equal(e.crew_id, crew.id);
        assert.match(e.run_id, /^run_/);
        assert.equal(e.payload.crew_id, crew.id);
      }
      assert.deepEqual(mine[0].params, { target: 'all' });
      assert.equal(mine[1].progress, 50);
      assert.equal(mine[1].message, 'half way');
      assert.equal(mine[2].duration, 1.5);
      assert.equal(mine[2].exit_code, a.name === 'pytest' ? 1 : 0);
      assert.equal(mine[2].status, a.name === 'pytest' ? 'error' : 'success');
    }
    assert.ok(!g.events.some((e) => e.agent_id === loner.id), 'a tool of an agent outside the crew');
    // /ws keeps agentd's camelCase for the same events.
    const camel = all.events.filter((e) => e.type === 'tool_end');
    assert.equal(camel.length, 2);
    assert.ok(camel.every((e) => e.payload.crewId === crew.id && e.payload.exitCode !== undefined && e.crew_id === undefined));
    g.close();
    all.close();
  } finally {
    await d.cleanup();
  }
});
