// SPDX-License-Identifier: MIT
// A node's event history (issue #77, docs/nodes.md "A node's history"): a
// real node joins, is cordoned, uncordoned, drained, given a capacity and
// labels, runs an agent, is stopped; each is an event of the node, newest
// first, with what it says (an unlink's reason), paged with limit and
// before, pruned past the bound (AGENTD_TEST_NODE_EVENTS_KEEP), printed by
// `agentd node events NAME`; another organisation's node is a 404.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const daemon = require('./lib/daemon');
const { api, until, startApi, commandAgent } = require('./lib/api');
const { nodeToken, startNode, nodeNamed } = require('./lib/nodes');

const KEEP = 12;
let d, wt, repo, n, nd;
const planeDir = daemon.tmpDir('agentd-plane-');
const nodeDir = daemon.tmpDir('agentd-node-');
test.before(async () => {
  d = await startApi({ dataDir: planeDir, args: ['--node-lease-ms', '1500'], env: { AGENTD_TEST_NODE_EVENTS_KEEP: String(KEEP) } });
  repo = daemon.tmpRepo('agentd-wt-');
  const ws = await api(d, 'POST', '/api/workspaces', { path: repo, name: 'w' });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  wt = ws.body.worktrees[0].id;
  const t = await nodeToken(d, 'ev1');
  n = await startNode(d.url, { token: t.token, name: 'ev1', dataDir: nodeDir, env: { PATH: '/usr/bin:/bin' } });
  nd = await until(async () => { const x = await nodeNamed(d, 'ev1'); return x?.state === 'connected' && x; }, 'ev1 connected');
});
test.after(async () => {
  await n.cleanup();
  await d.cleanup();
  for (const x of [planeDir, nodeDir, repo]) fs.rmSync(x, { recursive: true, force: true, maxRetries: 10 });
});

async function events(q = '') {
  const r = await api(d, 'GET', `/api/nodes/${nd.id}/events${q}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}
const kinds = async () => (await events('?limit=500')).events.map((e) => e.kind);

test('what happens to a node is its history, newest first', async () => {
  await until(async () => (await kinds()).join() === 'linked', 'its linked event');
  for (const what of ['cordon', 'uncordon', 'drain', 'uncordon']) {
    const r = await api(d, 'POST', `/api/nodes/${nd.id}/${what}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
  assert.equal((await api(d, 'PATCH', `/api/nodes/${nd.id}`, { maxRuns: 3, labels: { pool: 'ev' } })).status, 200);
  const id = await commandAgent(d, wt, ['sh', '-c', 'echo hello from ev1'], { node: 'ev1' });
  assert.equal((await api(d, 'POST', `/api/agents/${id}/start`)).status, 200);
  await until(async () => (await kinds()).includes('run_ended'), 'the run to end on the node');
  const got = (await events('?limit=500')).events;
  assert.deepEqual(got.map((e) => e.kind), ['run_ended', 'run_placed', 'labels_changed', 'capacity_changed',
    'uncordoned', 'drained', 'uncordoned', 'cordoned', 'linked']);
  const run = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0];
  assert.equal(got[0].detail.runId, run.id);
  assert.equal(got[1].detail.runId, run.id);
  assert.deepEqual(got[2].detail.labels, { pool: 'ev' });
  assert.equal(got[3].detail.maxRuns, 3);
  assert.ok(got.every((e) => e.nodeId === nd.id && typeof e.detail.plane === 'string' && !Number.isNaN(Date.parse(e.at))));
  for (let i = 1; i < got.length; i++) assert.ok(got[i - 1].id > got[i].id, 'newest first');

  // paged: limit, then before the last one seen
  const p1 = await events('?limit=4');
  assert.equal(p1.events.length, 4);
  assert.equal(p1.next, p1.events[3].id);
  const p2 = await events(`?limit=4&before=${p1.next}`);
  assert.deepEqual(p2.events.map((e) => e.id), got.slice(4, 8).map((e) => e.id));
  for (const q of ['?limit=0', '?limit=501', '?before=-1', '?limit=x']) {
    assert.equal((await api(d, 'GET', `/api/nodes/${nd.id}/events${q}`)).status, 422, q);
  }

  // the CLI prints them
  const cli = daemon.run(['--data-dir', d.dataDir, 'node', 'events', 'ev1', '--limit', '3']);
  assert.equal(cli.status, 0, cli.stderr);
  assert.match(cli.stdout, /run_ended\s+\{"runId":"run_/);
  assert.equal(cli.stdout.trim().split('\n').length, 4);
});

test('a node stopped reads unlinked with why; past the bound the oldest go', async () => {
  await n.stop();
  await until(async () => (await kinds())[0] === 'unlinked', 'unlinked');
  const un = (await events()).events[0];
  assert.match(un.detail.reason, /closed its link|dropped/);
  // the same node comes back under its token again: linked
  n = await startNode(d.url, { token: fs.readFileSync(n.tokenFile, 'utf8').trim(), name: 'ev1', dataDir: nodeDir, env: { PATH: '/usr/bin:/bin' } });
  await until(async () => (await kinds())[0] === 'linked', 'linked again');
  // more than KEEP in all: only the newest KEEP stay
  for (let i = 0; i < KEEP / 2; i++) {
    assert.equal((await api(d, 'POST', `/api/nodes/${nd.id}/cordon`)).status, 200);
    assert.equal((await api(d, 'POST', `/api/nodes/${nd.id}/uncordon`)).status, 200);
  }
  // (events are queued writes: wait for the last one)
  const all = await until(async () => {
    const e = (await events('?limit=500')).events;
    return e.length === KEEP && e.every((x) => x.kind === 'cordoned' || x.kind === 'uncordoned') && e;
  }, 'only the newest KEEP, the oldest pruned');
  assert.equal(all[0].kind, 'uncordoned');
});

test('another organisation\'s node is a 404; a read token may read', async () => {
  const o = await api(d, 'POST', '/api/orgs', { name: 'org events' });
  const t = await api(d, 'POST', '/api/tokens', { name: 'ev-admin', scope: 'admin', orgId: o.body.id });
  const other = { authorization: `Bearer ${t.body.token}` };
  assert.equal((await api(d, 'GET', `/api/nodes/${nd.id}/events`, undefined, other)).status, 404);
  assert.equal((await api(d, 'GET', '/api/nodes/nd_nothing/events')).status, 404);
  const r = await api(d, 'POST', '/api/tokens', { name: 'ev-read', scope: 'read' });
  assert.equal((await api(d, 'GET', `/api/nodes/${nd.id}/events`, undefined, { authorization: `Bearer ${r.body.token}` })).status, 200);
});
