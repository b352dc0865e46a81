// SPDX-License-Identifier: MIT
// A lost node's runs placed again (issue #77, docs/nodes.md "Leases and
// reachability"): a control plane and two nodes of one pool. The machine of
// the node running an agent placed by labels goes (the node and its holders
// killed): once the node's grace is over its run ends lost, and the agent is
// started again by itself on the other node; its output goes on there. An
// agent pinned to the lost node by name is not moved: it waits, in error,
// for a person. Prints the time from the loss to the run running elsewhere
// (the bench row of issue #80: bench/README.md).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const daemon = require('./lib/daemon');
const { api, until, startApi, commandAgent, allMessages } = require('./lib/api');
const { nodeToken, startNode, nodeNamed } = require('./lib/nodes');

const LEASE = 1500;
const GRACE = 2000;
const NODE_ENV = { PATH: '/usr/bin:/bin' };
const TICKS = ['sh', '-c', 'i=0; while [ $i -lt 100000 ]; do echo "tick $i"; i=$((i+1)); sleep 0.1; done'];

async function runsOf(d, id) {
  const r = await api(d, 'GET', `/api/agents/${id}/runs`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.runs; // newest first
}

test('a lost node\'s agent placed by labels runs again on another node; one pinned to it waits', async (t) => {
  const d = await startApi({ args: ['--node-lease-ms', String(LEASE), '--node-grace-ms', String(GRACE), '--stop-grace-ms', '300'] });
  const repo = daemon.tmpRepo('agentd-resched-');
  const nodes = {};
  t.after(async () => {
    for (const n of Object.values(nodes)) await n.cleanup();
    await d.cleanup();
  });
  const ws = await api(d, 'POST', '/api/workspaces', { path: repo, name: 'w' });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  const wt = ws.body.worktrees[0].id;
  for (const name of ['ra', 'rb']) {
    const tok = await nodeToken(d, name);
    nodes[name] = await startNode(d.url, { token: tok.token, name, labels: 'pool=r', env: NODE_ENV });
    await until(async () => (await nodeNamed(d, name))?.state === 'connected', `${name} connected`);
  }
  const placed = await commandAgent(d, wt, TICKS, { placement: { labels: { pool: 'r' } } });
  assert.equal((await api(d, 'POST', `/api/agents/${placed}/start`, {})).status, 200);
  const first = (await runsOf(d, placed))[0];
  const raId = (await nodeNamed(d, 'ra')).id;
  const lostNode = nodes[first.nodeId === raId ? 'ra' : 'rb'];
  const otherName = lostNode.name === 'ra' ? 'rb' : 'ra';
  const pinned = await commandAgent(d, wt, TICKS, { node: lostNode.name });
  assert.equal((await api(d, 'POST', `/api/agents/${pinned}/start`, {})).status, 200);
  await until(async () => (await allMessages(d, placed)).some((m) => /tick 5/.test(m.content)), 'the placed agent ticking');

  // its machine goes: the node and its holders (and so the agents) killed
  const lostAt = Date.now();
  await lostNode.kill();
  daemon.endHolders(lostNode.dataDir);
  const again = await until(async () => {
    const rs = await runsOf(d, placed);
    return rs.length === 2 && rs[0].status === 'running' ? rs : null;
  }, 'the placed agent running again elsewhere', 60000);
  const tookMs = Date.now() - lostAt;
  process.stdout.write(`# a node's loss to its runs running elsewhere: ${tookMs} ms (lease ${LEASE} ms, grace ${GRACE} ms)\n`);
  assert.equal(again[1].id, first.id);
  assert.equal(again[1].status, 'lost', JSON.stringify(again[1]));
  assert.equal(again[0].nodeId, (await nodeNamed(d, otherName)).id, 'on the other node');
  const ticksAfter = async () => (await allMessages(d, placed)).filter((m) => m.runId === again[0].id && /tick \d/.test(m.content)).length;
  await until(async () => (await ticksAfter()) > 0, 'its output from the other node');

  // the pinned one: lost, and left for a person
  await until(async () => (await runsOf(d, pinned))[0].status === 'lost', 'the pinned agent\'s run lost');
  const pinnedAgent = (await api(d, 'GET', `/api/agents/${pinned}`)).body;
  assert.equal(pinnedAgent.status, 'error');
  assert.equal((await runsOf(d, pinned)).length, 1, 'not started again');
  await api(d, 'POST', `/api/agents/${placed}/stop?wait=true`);
});
