// SPDX-License-Identifier: MIT
// The operator's tools for worker nodes (issue #77, docs/nodes.md "Draining,
// cordoning, capacity and queues"): a control plane and two nodes on this
// machine. Cordon sends placement elsewhere and refuses an explicit
// placement with the reason; drain lets running work finish, takes nothing
// new and reads drained once the node is empty; maxRuns 1 makes a second
// start queue (202, statusReason queued, GET /api/nodes/queue) and start by
// itself when the first ends; a queued start survives a restart of the
// control plane; a stop or a DELETE of the agent cancels one; another organisation sees none
// of it (404) and a non-admin token gets 403. The agent's node can be changed
// while it is stopped (PATCH), and a fork can be placed.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const daemon = require('./lib/daemon');
const { api, until, startApi, commandAgent, allMessages } = require('./lib/api');
const { nodeToken, startNode, proxy, nodeNamed } = require('./lib/nodes');

const LEASE = 1500;
const planeArgs = ['--node-lease-ms', String(LEASE), '--stop-grace-ms', '300'];
const NODE_ENV = { PATH: '/usr/bin:/bin' };
// an agent that works until it is told to finish (a line on its stdin)
const WAITS = ['sh', '-c', 'echo ready; read line; echo "finished $line"'];

let d, wt, repo;
const nodes = [];
const planeDir = daemon.tmpDir('agentd-plane-');
test.before(async () => {
  d = await startApi({ dataDir: planeDir, args: planeArgs });
  repo = daemon.tmpRepo('agentd-wt-');
  const ws = await api(d, 'POST', '/api/workspaces', { path: repo, name: 'w' });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  wt = ws.body.worktrees[0].id;
  for (const name of ['opa', 'opb']) {
    const t = await nodeToken(d, name);
    const p = await proxy(d.url);
    const dataDir = daemon.tmpDir('agentd-node-');
    const n = await startNode(p.url, { token: t.token, name, labels: 'pool=ops', dataDir, env: NODE_ENV });
    nodes.push({ name, proxy: p, dataDir, n });
  }
});
test.after(async () => {
  for (const x of nodes) { await x.n.cleanup(); await x.proxy.close(); fs.rmSync(x.dataDir, { recursive: true, force: true, maxRetries: 10 }); }
  await d.cleanup();
  fs.rmSync(planeDir, { recursive: true, force: true });
  fs.rmSync(repo, { recursive: true, force: true });
});

async function connected(name) {
  return until(async () => { const n = await nodeNamed(d, name); return n?.state === 'connected' && n; }, `${name} connected`);
}
async function agent(id) {
  return (await api(d, 'GET', `/api/agents/${id}`)).body;
}
async function runs(id) {
  return (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs;
}
// Starts id and waits for its "ready" line (it then waits on its stdin).
async function startReady(id, body = {}) {
  const s = await api(d, 'POST', `/api/agents/${id}/start`, body);
  assert.equal(s.status, 200, JSON.stringify(s.body));
  await ready(id);
}
async function ready(id) {
  await until(async () => (await allMessages(d, id)).some((m) => /ready/.test(m.content)), `${id} ready`);
}
// Tells a WAITS agent to finish, and waits for its run's end.
async function finish(id) {
  const m = await api(d, 'POST', `/api/agents/${id}/message`, { content: 'now' });
  assert.equal(m.status, 200, JSON.stringify(m.body));
  await until(async () => (await runs(id))[0]?.status === 'succeeded', `${id}'s run to end`);
}
async function ended(id) {
  await until(async () => { const r = (await runs(id))[0]; return r && r.status !== 'running'; }, `${id}'s run to end`);
}
async function setNode(name, body) {
  const n = await nodeNamed(d, name);
  const r = await api(d, 'PATCH', `/api/nodes/${n.id}`, body);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.node;
}
async function post(name, what) {
  const n = await nodeNamed(d, name);
  const r = await api(d, 'POST', `/api/nodes/${n.id}/${what}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.node;
}

test('cordon: placement goes elsewhere, an explicit placement is refused with the reason; uncordon undoes it', async () => {
  await connected('opa');
  await connected('opb');
  const n = await post('opa', 'cordon');
  assert.equal(n.cordoned, true);
  assert.equal(n.draining, false);
  // placement by labels: only opb may take it
  for (let i = 0; i < 2; i++) {
    const id = await commandAgent(d, wt, ['true'], { placement: { labels: { pool: 'ops' } } });
    const s = await api(d, 'POST', `/api/agents/${id}/start`, {});
    assert.equal(s.status, 200, JSON.stringify(s.body));
    assert.equal((await runs(id))[0].nodeId, (await nodeNamed(d, 'opb')).id);
    await ended(id);
  }
  // named: 409 saying why
  const id = await commandAgent(d, wt, ['true'], { node: 'opa' });
  const s = await api(d, 'POST', `/api/agents/${id}/start`, {});
  assert.equal(s.status, 409, JSON.stringify(s.body));
  assert.match(s.body.error.message, /it is cordoned/);
  // with opb cordoned too, placement says both
  await post('opb', 'cordon');
  const id2 = await commandAgent(d, wt, ['true'], { placement: {} });
  const s2 = await api(d, 'POST', `/api/agents/${id2}/start`, {});
  assert.equal(s2.status, 409, JSON.stringify(s2.body));
  assert.match(s2.body.error.message, /opa: it is cordoned/);
  assert.match(s2.body.error.message, /opb: it is cordoned/);
  // the CLI's uncordon, and the list says so
  const u = daemon.run(['--data-dir', d.dataDir, 'node', 'uncordon', 'opa']);
  assert.equal(u.status, 0, u.stderr);
  await post('opb', 'uncordon');
  assert.equal((await nodeNamed(d, 'opa')).cordoned, false);
  const s3 = await api(d, 'POST', `/api/agents/${id}/start`, {});
  assert.equal(s3.status, 200, JSON.stringify(s3.body));
  await ended(id);
  // the audit says who did what
  const audit = (await api(d, 'GET', '/api/audit?limit=200')).body;
  const rows = audit.entries || audit.audit || audit.rows || audit;
  assert.ok(JSON.stringify(rows).includes('cordoned node opa'), 'the cordon is audited');
});

test('drain: running work finishes, nothing new is taken, and the node reads drained', async () => {
  const id = await commandAgent(d, wt, WAITS, { node: 'opa' });
  await startReady(id);
  const n = await post('opa', 'drain');
  assert.equal(n.cordoned, true);
  assert.equal(n.draining, true);
  assert.equal(n.drained, false, 'a run is still on it');
  assert.equal(n.runs, 1);
  // nothing new
  const other = await commandAgent(d, wt, ['true'], { node: 'opa' });
  const s = await api(d, 'POST', `/api/agents/${other}/start`, {});
  assert.equal(s.status, 409, JSON.stringify(s.body));
  assert.match(s.body.error.message, /it is draining/);
  // the running one goes on and finishes there
  assert.equal((await agent(id)).status, 'running');
  await finish(id);
  assert.ok((await allMessages(d, id)).some((m) => /finished now/.test(m.content)));
  const drained = await until(async () => { const x = await nodeNamed(d, 'opa'); return x.drained && x; }, 'opa drained');
  assert.equal(drained.runs, 0);
  const ls = daemon.run(['--data-dir', d.dataDir, 'node', 'ls']);
  assert.equal(ls.status, 0, ls.stderr);
  assert.match(ls.stdout, /opa\s+connected\s+drained/);
  await post('opa', 'uncordon');
  const after = await nodeNamed(d, 'opa');
  assert.equal(after.draining, false);
  assert.equal(after.drained, false);
});

test('maxRuns 1: a second start queues, and starts by itself when the first ends', async () => {
  const set = daemon.run(['--data-dir', d.dataDir, 'node', 'set', 'opa', '--max-runs', '1']);
  assert.equal(set.status, 0, set.stderr);
  assert.equal((await nodeNamed(d, 'opa')).maxRuns, 1);
  const first = await commandAgent(d, wt, WAITS, { node: 'opa' });
  await startReady(first);
  const second = await commandAgent(d, wt, WAITS, { node: 'opa' });
  // without queue: 409 with the reason
  const refused = await api(d, 'POST', `/api/agents/${second}/start`, {});
  assert.equal(refused.status, 409, JSON.stringify(refused.body));
  assert.match(refused.body.error.message, /it runs 1 of 1/);
  // with queue: 202, the agent reads queued, the queue lists it
  const q = await api(d, 'POST', `/api/agents/${second}/start`, { queue: true });
  assert.equal(q.status, 202, JSON.stringify(q.body));
  assert.equal(q.body.queued, true);
  assert.equal(q.body.agent.statusReason.code, 'queued');
  assert.match(q.body.agent.statusReason.text, /it runs 1 of 1/);
  const again = await api(d, 'POST', `/api/agents/${second}/start`, { queue: true });
  assert.equal(again.status, 409, JSON.stringify(again.body));
  const list = (await api(d, 'GET', '/api/nodes/queue')).body.queue;
  assert.deepEqual(list.map((x) => x.agentId), [second]);
  assert.equal((await nodeNamed(d, 'opa')).queued, 1);
  assert.equal((await runs(second)).length, 0, 'not started while the node is full');
  // the CLI says so too, and lists the queue
  const ls = daemon.run(['--data-dir', d.dataDir, 'node', 'queue']);
  assert.equal(ls.status, 0, ls.stderr);
  assert.match(ls.stdout, new RegExp(`${second}.*it runs 1 of 1`));
  await finish(first);
  await until(async () => (await runs(second))[0]?.status === 'running', 'the queued start to start by itself');
  assert.equal((await runs(second))[0].nodeId, (await nodeNamed(d, 'opa')).id);
  assert.deepEqual((await api(d, 'GET', '/api/nodes/queue')).body.queue, []);
  await ready(second);
  await finish(second);
  await setNode('opa', { maxRuns: null });
  assert.equal((await nodeNamed(d, 'opa')).maxRuns, null);
});

test('a stop or a DELETE of the agent cancels a queued start', async () => {
  await post('opb', 'cordon');
  const a = await commandAgent(d, wt, ['true'], { node: 'opb' });
  const b = await commandAgent(d, wt, ['true'], { node: 'opb' });
  for (const id of [a, b]) {
    const q = await api(d, 'POST', `/api/agents/${id}/start`, { queue: true });
    assert.equal(q.status, 202, JSON.stringify(q.body));
  }
  assert.deepEqual((await api(d, 'GET', '/api/nodes/queue')).body.queue.map((x) => x.agentId), [a, b], 'FIFO');
  const st = await api(d, 'POST', `/api/agents/${a}/stop`);
  assert.equal(st.status, 200, JSON.stringify(st.body));
  assert.equal(st.body.statusReason.code, 'queue_cancelled');
  assert.equal((await api(d, 'POST', `/api/agents/${a}/stop`)).status, 409, 'nothing left to stop');
  const del = await api(d, 'DELETE', `/api/agents/${b}`); // archived: its queued start goes
  assert.equal(del.status, 200, JSON.stringify(del.body));
  await until(async () => (await api(d, 'GET', '/api/nodes/queue')).body.queue.length === 0, 'the archived agent\'s start out of the queue');
  await post('opb', 'uncordon');
  // nothing starts once cancelled: a later start of another agent shows the tick ran
  const c = await commandAgent(d, wt, WAITS, { node: 'opb' });
  await post('opb', 'cordon');
  assert.equal((await api(d, 'POST', `/api/agents/${c}/start`, { queue: true })).status, 202);
  await post('opb', 'uncordon');
  await until(async () => (await runs(c))[0]?.status === 'running', 'the later queued start');
  assert.equal((await runs(a)).length, 0);
  assert.equal((await runs(b)).length, 0);
  await ready(c);
  await finish(c);
});

test('labels set from the control plane override the node\'s own, and placement uses them', async () => {
  const n = await setNode('opb', { labels: { pool: 'special' } });
  assert.deepEqual(n.labels, { pool: 'special' });
  assert.deepEqual(n.nodeLabels, { pool: 'ops' });
  assert.equal(n.labelsSet, true);
  const id = await commandAgent(d, wt, ['true'], { placement: { labels: { pool: 'special' } } });
  const s = await api(d, 'POST', `/api/agents/${id}/start`, {});
  assert.equal(s.status, 200, JSON.stringify(s.body));
  assert.equal((await runs(id))[0].nodeId, n.id);
  await ended(id);
  const bad = await api(d, 'PATCH', `/api/nodes/${n.id}`, { labels: { 'no spaces': 'x' } });
  assert.equal(bad.status, 422, JSON.stringify(bad.body));
  const bad2 = await api(d, 'PATCH', `/api/nodes/${n.id}`, { maxRuns: -1 });
  assert.equal(bad2.status, 422, JSON.stringify(bad2.body));
  const bad3 = await api(d, 'PATCH', `/api/nodes/${n.id}`, { draining: true });
  assert.equal(bad3.status, 422, JSON.stringify(bad3.body));
  assert.deepEqual((await nodeNamed(d, 'opb')).labels, { pool: 'special' }, 'a refused change changes nothing');
  const back = await setNode('opb', { labels: null });
  assert.deepEqual(back.labels, { pool: 'ops' });
});

test('an agent\'s node can be changed while it is stopped, and a fork can be placed', async () => {
  const id = await commandAgent(d, wt, ['true'], { node: 'opa' });
  const p = await api(d, 'PATCH', `/api/agents/${id}`, { node: 'opb' });
  assert.equal(p.status, 200, JSON.stringify(p.body));
  assert.equal(p.body.state.node, 'opb');
  assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, {})).status, 200);
  assert.equal((await runs(id))[0].nodeId, (await nodeNamed(d, 'opb')).id);
  await ended(id);
  const bad = await api(d, 'PATCH', `/api/agents/${id}`, { node: 'no such/node' });
  assert.equal(bad.status, 422, JSON.stringify(bad.body));
  // placement instead of a node, and back to the control plane
  const pl = await api(d, 'PATCH', `/api/agents/${id}`, { placement: { labels: { pool: 'ops' } } });
  assert.equal(pl.status, 200, JSON.stringify(pl.body));
  assert.equal(pl.body.state.node, undefined);
  assert.deepEqual(pl.body.state.placement, { labels: { pool: 'ops' } });
  // a fork placed on opa
  const f = await api(d, 'POST', `/api/agents/${id}/fork`, { node: 'opa' });
  assert.equal(f.status, 201, JSON.stringify(f.body));
  assert.equal(f.body.state.node, 'opa');
  assert.equal(f.body.state.placement, undefined);
  assert.equal((await api(d, 'POST', `/api/agents/${f.body.id}/start`, {})).status, 200);
  assert.equal((await runs(f.body.id))[0].nodeId, (await nodeNamed(d, 'opa')).id);
  await ended(f.body.id);
  const home = await api(d, 'PATCH', `/api/agents/${id}`, { node: null, placement: null });
  assert.equal(home.status, 200, JSON.stringify(home.body));
  assert.equal(home.body.state.node, undefined);
  assert.equal(home.body.state.placement, undefined);
  // a running agent's node stays as it is
  const w = await commandAgent(d, wt, WAITS, { node: 'opa' });
  await startReady(w);
  const busy = await api(d, 'PATCH', `/api/agents/${w}`, { node: 'opb' });
  assert.equal(busy.status, 409, JSON.stringify(busy.body));
  await finish(w);
});

test('another organisation cannot see, drain or change your nodes (404); a non-admin token gets 403', async () => {
  const o = await api(d, 'POST', '/api/orgs', { name: 'org ops' });
  assert.equal(o.status, 201, JSON.stringify(o.body));
  const t = await api(d, 'POST', '/api/tokens', { name: 'ops-admin', scope: 'admin', orgId: o.body.id });
  const other = { authorization: `Bearer ${t.body.token}` };
  const n = await nodeNamed(d, 'opa');
  assert.deepEqual((await api(d, 'GET', '/api/nodes', undefined, other)).body.nodes, []);
  for (const [m, p, body] of [['GET', `/api/nodes/${n.id}`], ['PATCH', `/api/nodes/${n.id}`, { cordoned: true }],
    ['POST', `/api/nodes/${n.id}/drain`], ['POST', `/api/nodes/${n.id}/cordon`], ['POST', `/api/nodes/${n.id}/uncordon`]]) {
    const r = await api(d, m, p, body, other);
    assert.equal(r.status, 404, `${m} ${p}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  // our queued start is not theirs to see or cancel
  await post('opb', 'cordon');
  const id = await commandAgent(d, wt, ['true'], { node: 'opb' });
  assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, { queue: true })).status, 202);
  assert.deepEqual((await api(d, 'GET', '/api/nodes/queue', undefined, other)).body.queue, []);
  assert.equal((await api(d, 'POST', `/api/agents/${id}/stop`, undefined, other)).status, 404);
  assert.equal((await api(d, 'GET', '/api/nodes/queue')).body.queue.length, 1);
  // a write token of ours: 403, and nothing changed
  const wtok = await api(d, 'POST', '/api/tokens', { name: 'ops-writer', scope: 'write' });
  const writer = { authorization: `Bearer ${wtok.body.token}` };
  for (const [m, p, body] of [['PATCH', `/api/nodes/${n.id}`, { maxRuns: 0 }], ['POST', `/api/nodes/${n.id}/drain`],
    ['POST', `/api/nodes/${n.id}/cordon`], ['POST', `/api/nodes/${n.id}/uncordon`]]) {
    const r = await api(d, m, p, body, writer);
    assert.equal(r.status, 403, `${m} ${p}: ${r.status}`);
  }
  const still = await nodeNamed(d, 'opa');
  assert.equal(still.cordoned, false);
  assert.equal(still.maxRuns, null);
  assert.equal((await api(d, 'POST', `/api/agents/${id}/stop`)).status, 200);
  await post('opb', 'uncordon');
});

test('a queued start survives a restart of the control plane, and starts once its node has room', async () => {
  await post('opb', 'cordon');
  const id = await commandAgent(d, wt, WAITS, { node: 'opb' });
  const q = daemon.run(['--data-dir', d.dataDir, 'start', id, '--queue']);
  assert.equal(q.status, 0, q.stderr);
  assert.match(q.stdout, /queued: node opb takes no new run now: it is cordoned/);
  await d.stop('SIGTERM');
  const d2 = await startApi({ dataDir: planeDir, args: planeArgs });
  Object.assign(d, { url: d2.url, proc: d2.proc, exit: d2.exit, stop: d2.stop, cleanup: d2.cleanup, req: d2.req, exited: null });
  for (const x of nodes) x.proxy.retarget(d.url);
  assert.deepEqual((await api(d, 'GET', '/api/nodes/queue')).body.queue.map((x) => x.agentId), [id]);
  assert.equal((await agent(id)).statusReason.code, 'queued');
  await connected('opb');
  assert.equal((await nodeNamed(d, 'opb')).cordoned, true, 'the cordon is stored');
  assert.equal((await runs(id)).length, 0);
  await post('opb', 'uncordon');
  await until(async () => (await runs(id))[0]?.status === 'running', 'the queued start after the restart');
  await ready(id);
  await finish(id);
});
