// SPDX-License-Identifier: MIT
// A live agent moved between the control plane and a worker node (issue
// #76, docs/nodes.md "Moving a live agent"): a command agent that counts,
// keeping its count in an uncommitted file of its worktree, goes from the
// control plane to a real node process and back while it runs; every
// value is in its transcript exactly once and in order (so nothing was
// lost or doubled at either move), its worktree's work went with it both
// ways, and each move left a note. Then the refusals.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const daemon = require('./lib/daemon');
const { api, until, startApi, allMessages, assertOnce, commandAgent, withAgentState } = require('./lib/api');
const { nodeToken, startNode, nodeNamed } = require('./lib/nodes');

// The count survives a move in the worktree's file `count` (never
// committed by the agent). A stop (SIGINT or SIGTERM) ends the loop at its
// end, so a value printed has its count written: the safe point is the
// agent's own, as any command's stopWith is.
const COUNTER = ['sh', '-c', 'trap "stop=1" INT TERM; i=$(cat count 2>/dev/null || echo 0); ' +
  'while [ -z "$stop" ]; do echo "n=$i"; i=$((i+1)); echo $i > count; sleep 0.01; done'];
const NODE_ENV = { PATH: '/usr/bin:/bin' };
const git = (dir, ...a) => spawnSync('git', a, { cwd: dir, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' } });

let d, repo, wt, n, nodeDir;
test.before(async () => {
  d = await startApi({ args: ['--node-lease-ms', '1500', '--stop-grace-ms', '3000'] });
  repo = daemon.tmpRepo('agentd-move-');
  const ws = await api(d, 'POST', '/api/workspaces', { path: repo, name: 'move' });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  const w = await api(d, 'POST', '/api/worktrees', { workspaceId: ws.body.id, name: 'moving', branch: 'moving', createBranch: true, base: 'main' });
  assert.equal(w.status, 201, JSON.stringify(w.body));
  wt = w.body;
  const t = await nodeToken(d, 'box1');
  nodeDir = daemon.tmpDir('agentd-move-node-');
  n = await startNode(d.url, { token: t.token, name: 'box1', dataDir: nodeDir, env: NODE_ENV });
});
test.after(async () => {
  if (n) await n.cleanup();
  await d.cleanup();
  fs.rmSync(nodeDir, { recursive: true, force: true, maxRetries: 10 });
  fs.rmSync(repo, { recursive: true, force: true });
});

async function counters(id) {
  const text = (await allMessages(d, id)).filter((m) => m.role === 'assistant').map((m) => m.content).join('\n');
  return text.split('\n').filter((l) => l.startsWith('n=')).map((l) => Number(l.slice(2)));
}
async function grows(id, by, what) {
  const before = (await counters(id)).length;
  await until(async () => (await counters(id)).length >= before + by, what, 60000);
}
async function connected(name) {
  await until(async () => (await nodeNamed(d, name))?.state === 'connected', `${name} connected`);
}

test('a command agent moved control plane -> node -> control plane while it runs: every value once', async () => {
  await connected('box1');
  const id = await commandAgent(d, wt.id, COUNTER);
  await withAgentState(d, id, async () => {
    assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, {})).status, 200);
    await grows(id, 20, 'counters on the control plane');

    const out = await api(d, 'POST', `/api/agents/${id}/move`, { node: 'box1' });
    assert.equal(out.status, 200, JSON.stringify(out.body));
    assert.equal(out.body.moved.toName, 'box1');
    assert.equal(out.body.moved.fromNode, null);
    assert.equal(out.body.agent.state.node, 'box1', 'the agent says where it runs');
    const box = await nodeNamed(d, 'box1');
    const runs1 = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs;
    assert.equal(runs1.length, 2);
    assert.equal(runs1[0].nodeId, box.id, 'the new run is on the node');
    assert.equal(runs1[1].status, 'stopped');
    await grows(id, 20, 'counters from the node');
    const nodeWt = path.join(nodeDir, 'worktrees', wt.id);
    assert.ok(fs.existsSync(path.join(nodeWt, 'count')), 'the count went with the worktree');
    assert.match(git(wt.path, 'log', '--format=%s', '-3').stdout, /left uncommitted, carried to node box1/);

    const back = await api(d, 'POST', `/api/agents/${id}/move`, { node: null });
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.equal(back.body.moved.fromName, 'box1');
    assert.equal(back.body.moved.toNode, null);
    assert.equal(back.body.agent.state.node, undefined, 'back on the control plane');
    const runs2 = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs;
    assert.equal(runs2.length, 3);
    assert.ok(!runs2[0].nodeId, 'the third run is here');
    assert.equal(runs2[1].status, 'stopped');
    await grows(id, 20, 'counters on the control plane again');
    assert.match(git(wt.path, 'log', '--format=%s', '-5').stdout, /left uncommitted on node box1/, 'its work came home');

    // and out again: the node's worktree from its first visit moves on to
    // what the control plane has now (the count went on here meanwhile)
    const again = await api(d, 'POST', `/api/agents/${id}/move`, { node: 'box1' });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    await grows(id, 20, 'counters from the node again');

    const st = await api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
    assert.equal(st.status, 200, JSON.stringify(st.body));
    const values = await counters(id);
    assertOnce(values, 'across three moves');
    assert.equal(Number(fs.readFileSync(path.join(wt.path, 'count'), 'utf8')), values.length, 'the count in the worktree is the last value + 1');
    const notes = (await allMessages(d, id)).filter((m) => m.role === 'system' && m.content.startsWith('moved '));
    assert.deepEqual(notes.map((m) => m.content), [
      'moved from the control plane to node box1; it goes on there',
      'moved from node box1 to the control plane; it goes on there',
      'moved from the control plane to node box1; it goes on there']);
  });
});

test('a stopped agent is placed for its next start; refusals say why and change nothing', async () => {
  await connected('box1');
  const id = await commandAgent(d, wt.id, ['sh', '-c', 'echo hi; sleep 600']);
  const url = `/api/agents/${id}/move`;
  // stopped: only placed
  const p = await api(d, 'POST', url, { node: 'box1' });
  assert.equal(p.status, 200, JSON.stringify(p.body));
  assert.equal(p.body.moved.restarted, false);
  assert.equal(p.body.agent.state.node, 'box1');
  // the same place again
  const same = await api(d, 'POST', url, { node: 'box1' });
  assert.equal(same.status, 409, JSON.stringify(same.body));
  assert.equal(same.body.error.details.reason, 'same_place');
  // no such node, a bad body
  const none = await api(d, 'POST', url, { node: 'nowhere' });
  assert.equal(none.status, 422, JSON.stringify(none.body));
  assert.equal(none.body.error.details.reason, 'no_such_node');
  for (const body of [{}, { node: 7 }, { node: 'box1', extra: 1 }, { node: '../x' }]) {
    const r = await api(d, 'POST', url, body);
    assert.equal(r.status, 422, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
  }
  // a cordoned node takes no move
  const box = await nodeNamed(d, 'box1');
  assert.equal((await api(d, 'POST', url, { node: null })).status, 200);
  assert.equal((await api(d, 'POST', `/api/nodes/${box.id}/cordon`)).status, 200);
  const cord = await api(d, 'POST', url, { node: 'box1' });
  assert.equal(cord.status, 409, JSON.stringify(cord.body));
  assert.match(cord.body.error.message, /cordoned/);
  // a start queued for the node (it is cordoned): the queue goes first
  const q = await commandAgent(d, wt.id, ['sh', '-c', 'echo hi'], { node: 'box1' });
  const qs = await api(d, 'POST', `/api/agents/${q}/start`, { queue: true });
  assert.equal(qs.status, 202, JSON.stringify(qs.body));
  const qm = await api(d, 'POST', `/api/agents/${q}/move`, { node: null });
  assert.equal(qm.status, 409, JSON.stringify(qm.body));
  assert.equal(qm.body.error.details.reason, 'queued');
  assert.equal((await api(d, 'POST', `/api/agents/${q}/stop`)).status, 200, 'the queued start cancelled');
  assert.equal((await api(d, 'POST', `/api/nodes/${box.id}/uncordon`)).status, 200);
  assert.equal((await api(d, 'GET', `/api/agents/${id}`)).body.state?.node, undefined, 'nothing changed');
  // leaving a node while the control plane's copy of the worktree has
  // changes of its own: the node's work would not land on it
  const onNode = await commandAgent(d, wt.id, ['sh', '-c', 'while true; do echo up; sleep 0.05; done'], { node: 'box1' });
  assert.equal((await api(d, 'POST', `/api/agents/${onNode}/start`, {})).status, 200);
  fs.writeFileSync(path.join(wt.path, 'edited-here.txt'), 'mine\n');
  const dirty = await api(d, 'POST', `/api/agents/${onNode}/move`, { node: null });
  assert.equal(dirty.status, 409, JSON.stringify(dirty.body));
  assert.equal(dirty.body.error.details.reason, 'worktree_changed');
  assert.equal((await api(d, 'GET', `/api/agents/${onNode}`)).body.status, 'running', 'it runs on, untouched');
  fs.rmSync(path.join(wt.path, 'edited-here.txt'));
  assert.equal((await api(d, 'POST', `/api/agents/${onNode}/stop?wait=true`)).status, 200);

  // the CLI: agentd move
  const bad = daemon.run(['--data-dir', d.dataDir, 'move', id, '--node', 'nowhere']);
  assert.equal(bad.status, 1, bad.stdout + bad.stderr);
  assert.match(bad.stderr, /no node named nowhere/);
  const cli = daemon.run(['--data-dir', d.dataDir, 'move', id, '--node', 'box1', '--json']);
  assert.equal(cli.status, 0, cli.stderr);
  assert.equal(JSON.parse(cli.stdout).moved.toName, 'box1');
  const home = daemon.run(['--data-dir', d.dataDir, 'move', id, '--plane']);
  assert.equal(home.status, 0, home.stderr);
  assert.match(home.stdout, /moved to the control plane\nit was not running/);
  // an executor that cannot resume elsewhere is refused before anything is stopped
  const cl = await api(d, 'POST', '/api/agents', { worktreeId: wt.id, executor: 'codex' });
  assert.equal(cl.status, 201, JSON.stringify(cl.body));
  const ex = await api(d, 'POST', `/api/agents/${cl.body.id}/move`, { node: 'box1' });
  assert.equal(ex.status, 422, JSON.stringify(ex.body));
  assert.equal(ex.body.error.details.reason, 'executor_cannot_resume');
  // another organisation's admin: 404, as for a missing agent; a write token: 403
  const org = (await d.req('POST', '/api/orgs', { name: 'move-other' })).body;
  const other = (await d.req('POST', '/api/tokens', { name: 'other', scope: 'admin', orgId: org.id })).body;
  const o = await api(d, 'POST', url, { node: null }, { authorization: `Bearer ${other.token}` });
  assert.equal(o.status, 404, JSON.stringify(o.body));
  const wtok = (await d.req('POST', '/api/tokens', { name: 'writer', scope: 'write' })).body;
  const w = await api(d, 'POST', url, { node: 'box1' }, { authorization: `Bearer ${wtok.token}` });
  assert.equal(w.status, 403, JSON.stringify(w.body));
  assert.equal((await api(d, 'POST', '/api/agents/agt_nope/move', { node: null })).status, 404);
  assert.equal((await api(d, 'GET', `/api/agents/${id}`)).body.state?.node, undefined, 'nothing changed');
});

test('an agent on a node that is away does not move: its work and session are there', async () => {
  await connected('box1');
  const id = await commandAgent(d, wt.id, ['sh', '-c', 'while true; do echo tick; sleep 0.05; done'], { node: 'box1' });
  assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, {})).status, 200);
  await until(async () => (await allMessages(d, id)).some((m) => m.role === 'assistant' && m.content.includes('tick')), 'ticks from the node');
  await n.kill(); // its holder keeps the agent; the link is gone
  await until(async () => (await nodeNamed(d, 'box1'))?.connected === false, 'the link gone');
  const r = await api(d, 'POST', `/api/agents/${id}/move`, { node: null });
  assert.equal(r.status, 409, JSON.stringify(r.body));
  assert.equal(r.body.error.details.reason, 'node_away');
  assert.equal((await api(d, 'GET', `/api/agents/${id}`)).body.state.node, 'box1', 'nothing changed');
});
