// SPDX-License-Identifier: MIT
// Stop answers at once (issue #32): POST /api/agents/:id/stop is 202 with
// the agent reading "stopping"; the daemon keeps that state, so a reload (a
// new GET, the list) still shows it until the process is gone; a force stop
// while stopping escalates; ?wait=true answers after the end, as before.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { startApi, makeWorkspace, allMessages } = require('./lib/api');
const { until } = require('./lib/agents');
const { Live } = require('./lib/live');

// A program that shrugs off the polite signals: only SIGKILL ends it.
const STUBBORN = ['/bin/sh', '-c', "trap '' INT TERM; echo up; while :; do sleep 0.2; done"];

test('stop answers stopping at once and the state survives a reload', async (t) => {
  const d = await startApi({ args: ['--stop-grace-ms', '60000'] });
  t.after(() => d.cleanup());
  const { wt } = await makeWorkspace(d);
  const ag = await d.req('POST', '/api/agents', { worktreeId: wt.id, executor: 'command', command: STUBBORN, name: 'stubborn' });
  assert.equal(ag.status, 201, JSON.stringify(ag.body));
  const id = ag.body.id;
  assert.equal((await d.req('POST', `/api/agents/${id}/start`)).status, 200);
  // Its traps are set once it has said so: a SIGTERM before that ends it,
  // and the reload below would then read the run's end under way.
  await until(async () => (await allMessages(d, id)).some((m) => m.content.includes('up')), 'the agent up');
  const live = await Live.open(d);
  t.after(() => live.close());
  live.send('subscribe', { topics: [`agent:${id}`] });
  await live.next('subscribed');

  const r = await d.req('POST', `/api/agents/${id}/stop`);
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.equal(r.body.id, id);
  assert.equal(r.body.status, 'stopping');
  assert.equal(r.body.stopping.force, false);
  const since = r.body.stopping.since;

  // A reload: the agent, and the list, still say stopping (the grace is a
  // minute, so nothing else can end it meanwhile).
  for (let i = 0; i < 3; i++) {
    const g = await d.req('GET', `/api/agents/${id}`);
    assert.equal(g.body.status, 'stopping');
    assert.equal(g.body.stopping.since, since);
    const l = await d.req('GET', `/api/agents?worktreeId=${wt.id}`);
    assert.equal(l.body.agents.find((a) => a.id === id).status, 'stopping');
  }
  await live.until(() => live.events.some((e) => e.type === 'agent_status' && e.payload.status === 'stopping'), 10000, 'the stopping event');

  // Force stop stays available and escalates.
  const f = await d.req('POST', `/api/agents/${id}/stop?force=true`);
  assert.equal(f.status, 202, JSON.stringify(f.body));
  await until(async () => (await d.req('GET', `/api/agents/${id}`)).body.status === 'stopped', 'the forced end', 15000);
  const after = (await d.req('GET', `/api/agents/${id}`)).body;
  assert.equal(after.stopping, undefined);
  assert.equal((await d.req('GET', `/api/agents/${id}/runs`)).body.runs[0].status, 'stopped');

  // Not running: 409, nothing stopping.
  assert.equal((await d.req('POST', `/api/agents/${id}/stop`)).status, 409);
  // wait=true answers after the end.
  assert.equal((await d.req('POST', `/api/agents/${id}/start`)).status, 200);
  const w = await d.req('POST', `/api/agents/${id}/stop?force=true&wait=true`);
  assert.equal(w.status, 200, JSON.stringify(w.body));
  assert.equal(w.body.status, 'stopped');
  assert.equal((await d.req('POST', `/api/agents/${id}/stop?wait=maybe`)).status, 422);
});
