// SPDX-License-Identifier: MIT
// Services on worker nodes (issue #34, docs/nodes.md): a control plane and
// two `agentd node` processes on this machine, each behind a TCP proxy the
// test can cut. A service placed on a node runs there (its work folder, its
// holder), its log, metrics and status come back over the link, its restart
// policy starts it again there, stop, restart and delete reach it, a cut
// shows it unreachable and keeps the one copy, it waits for a node away and
// starts when the node connects, its probes are made on its node, a control
// plane's restart takes it up; the refusals (no such node, a control plane
// folder, another organisation's node, a node speaking for another's
// service).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const daemon = require('./lib/daemon');
const { api, until, startApi } = require('./lib/api');
const { nodeToken, startNode, proxy, nodeNamed, rogueNode, linkFrame } = require('./lib/nodes');

const LEASE = 1500;
const planeArgs = ['--node-lease-ms', String(LEASE), '--stop-grace-ms', '300'];
const NODE_ENV = { PATH: '/usr/bin:/bin' };
const SLEEPER = 'trap "exit 0" TERM; while :; do sleep 0.05; done';

let d;
const nodes = {};
const planeDir = daemon.tmpDir('agentd-plane-');
test.before(async () => {
  d = await startApi({ dataDir: planeDir, args: planeArgs });
  for (const name of ['sn1', 'sn2']) {
    const t = await nodeToken(d, name);
    const p = await proxy(d.url);
    const dataDir = daemon.tmpDir('agentd-node-');
    const n = await startNode(p.url, { token: t.token, name, dataDir, env: NODE_ENV });
    nodes[name] = { name, proxy: p, dataDir, n, id: (await nodeNamed(d, name)).id };
  }
});
test.after(async () => {
  for (const x of Object.values(nodes)) {
    await x.n.cleanup(); await x.proxy.close();
    fs.rmSync(x.dataDir, { recursive: true, force: true, maxRetries: 5 });
  }
  await d.cleanup();
  fs.rmSync(planeDir, { recursive: true, force: true });
});

const svc = async (id, h) => (await api(d, 'GET', `/api/services/${id}`, undefined, h)).body;
const svcUntil = (id, pred, what) => until(async () => {
  const s = await svc(id);
  return pred(s) ? s : null;
}, what, 30000);
// A process that runs (a zombie no one has reaped yet is not running: this
// machine's pid 1 may never reap one).
const alive = (pid) => {
  try { return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1][0] !== 'Z'; } catch (_) { return false; }
};
const work = (node, id) => `${nodes[node].dataDir}/work/${id}`;

test('a service on a node runs there: its folder, holder, pid, log and metrics come back; restart, stop and delete reach it', async () => {
  const prog = `echo "pwd=$(pwd)"; echo "cfg=$SERVICE_CONFIG"; echo '{"type":"metrics","qps":7}'; ${SLEEPER}`;
  const r = await api(d, 'POST', '/api/services', { name: 'on-node', command: ['sh', '-c', prog], node: 'sn1', restart: 'always' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.nodeId, nodes.sn1.id);
  const id = r.body.id;
  let s = await svcUntil(id, (x) => x.runtime.status === 'running' && x.runtime.pid > 0 && x.runtime.figures?.qps === 7, 'running on sn1 with its metrics');
  assert.equal(s.runtime.node.name, 'sn1');
  assert.equal(s.runtime.node.reachable, true);
  assert.match(s.runtime.output, new RegExp(`pwd=${work('sn1', id)}\n`), 'its work folder is the node\'s');
  assert.match(s.runtime.output, /cfg=\{\}/);
  const run1 = s.runtime.runId;
  assert.ok(fs.existsSync(`${nodes.sn1.dataDir}/hold/${run1}`), 'its holder is in the node\'s data dir');
  assert.ok(!fs.existsSync(`${planeDir}/hold/${run1}`), 'not the control plane\'s');
  assert.ok(!fs.existsSync(`${planeDir}/work/${id}`));
  const pid1 = s.runtime.pid;
  assert.ok(alive(pid1));
  // the list shows it too
  const list = (await api(d, 'GET', '/api/services')).body.services.find((x) => x.id === id);
  assert.equal(list.runtime.node.name, 'sn1');

  // restart: a new run on the node, the old process gone
  assert.equal((await api(d, 'POST', `/api/services/${id}/restart`, {})).status, 202);
  s = await svcUntil(id, (x) => x.runtime.status === 'running' && x.runtime.runId && x.runtime.runId !== run1 && x.runtime.pid > 0, 'a new run after the restart');
  await until(() => !alive(pid1), 'the first process ended');
  await until(() => !fs.existsSync(`${nodes.sn1.dataDir}/hold/${run1}`), 'the node forgets the first run');
  const pid2 = s.runtime.pid;

  // disabled: it stops on the node and stays down
  let p = await api(d, 'PATCH', `/api/services/${id}`, { enabled: false });
  assert.equal(p.status, 200, JSON.stringify(p.body));
  await svcUntil(id, (x) => x.runtime.status === 'stopped', 'stopped');
  await until(() => !alive(pid2), 'the process on the node ended');
  // enabled again, then deleted: the node's process goes
  p = await api(d, 'PATCH', `/api/services/${id}`, { enabled: true });
  s = await svcUntil(id, (x) => x.runtime.status === 'running' && x.runtime.pid > 0, 'running again');
  const run3 = s.runtime.runId;
  assert.equal((await api(d, 'DELETE', `/api/services/${id}`)).status, 204);
  await until(() => !alive(s.runtime.pid), 'the process on the node ended with the delete');
  await until(() => !fs.existsSync(`${nodes.sn1.dataDir}/hold/${run3}`), 'the node forgets its run');
});

test('PATCH node moves a running service to another node, and null brings it to the control plane', async () => {
  const r = await api(d, 'POST', '/api/services', { name: 'mover', command: ['sh', '-c', `echo "pwd=$(pwd)"; ${SLEEPER}`], node: 'sn1' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const id = r.body.id;
  const one = await svcUntil(id, (x) => x.runtime.status === 'running' && x.runtime.pid > 0, 'running on sn1');
  let p = await api(d, 'PATCH', `/api/services/${id}`, { node: 'sn2' });
  assert.equal(p.status, 200, JSON.stringify(p.body));
  assert.equal(p.body.nodeId, nodes.sn2.id);
  const two = await svcUntil(id, (x) => x.runtime.status === 'running' && x.runtime.node?.name === 'sn2' && x.runtime.pid > 0 &&
    x.runtime.output.includes(`pwd=${work('sn2', id)}\n`), 'running on sn2, in its folder there');
  await until(() => !alive(one.runtime.pid), 'gone from sn1');
  p = await api(d, 'PATCH', `/api/services/${id}`, { node: null });
  assert.equal(p.status, 200, JSON.stringify(p.body));
  assert.equal(p.body.nodeId, null);
  const here = await svcUntil(id, (x) => x.runtime.status === 'running' && !x.runtime.node && x.runtime.pid > 0, 'running on the control plane');
  await until(() => !alive(two.runtime.pid), 'gone from sn2');
  await until(() => !fs.existsSync(`${nodes.sn2.dataDir}/hold/${two.runtime.runId}`), 'sn2 forgets its run');
  assert.ok(alive(here.runtime.pid));
  assert.equal((await api(d, 'DELETE', `/api/services/${id}`)).status, 204);
});

test('the restart policy applies on the node; its probes run there (a command in its folder, a unix connect by the node)', async () => {
  // on-failure: each failed start leaves a line in the node's work folder and starts again there
  let r = await api(d, 'POST', '/api/services', { name: 'flaky', command: ['sh', '-c', 'echo x >> starts.txt; exit 3'], node: 'sn2', restart: 'on-failure' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const flaky = r.body.id;
  const s = await svcUntil(flaky, (x) => x.runtime.restarts >= 2 && x.runtime.lastExit?.code === 3, 'restarted on failure');
  assert.equal(s.runtime.node.name, 'sn2');
  assert.ok(fs.readFileSync(`${work('sn2', flaky)}/starts.txt`, 'utf8').split('\n').length >= 3);
  assert.equal((await api(d, 'DELETE', `/api/services/${flaky}`)).status, 204);
  // never: a clean exit stays down
  r = await api(d, 'POST', '/api/services', { name: 'once', command: ['sh', '-c', 'echo done'], node: 'sn2', restart: 'never' });
  const once = r.body.id;
  const o = await svcUntil(once, (x) => x.runtime.status === 'stopped' && x.runtime.lastExit?.code === 0, 'a clean exit, left down');
  assert.equal(o.runtime.restarts, 0);
  assert.match(o.runtime.output, /done/);
  assert.equal((await api(d, 'DELETE', `/api/services/${once}`)).status, 204);
  // a command probe is the node's: "ready" is a file in the service's folder there
  r = await api(d, 'POST', '/api/services', {
    name: 'probed', command: ['sh', '-c', `sleep 0.3; touch ready; ${SLEEPER}`], node: 'sn2',
    probe: { type: 'command', command: ['test', '-e', 'ready'], intervalMs: 300, timeoutMs: 20000 },
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  await svcUntil(r.body.id, (x) => x.runtime.health.status === 'healthy', 'healthy by its probe on the node');
  fs.rmSync(`${work('sn2', r.body.id)}/ready`);
  await svcUntil(r.body.id, (x) => x.runtime.health.status === 'unhealthy', 'unhealthy once the file is gone');
  const t = await api(d, 'POST', `/api/services/${r.body.id}/test`, {});
  assert.equal(t.status, 200);
  assert.equal(t.body.ok, false);
  assert.match(t.body.error, /exited 1 on the node/);
  assert.equal((await api(d, 'DELETE', `/api/services/${r.body.id}`)).status, 204);
  // a unix probe is made by the node: with the node cut off it cannot answer, though the socket is on this machine too
  const sock = `/tmp/agentd-svcnode-${process.pid}.sock`;
  fs.rmSync(sock, { force: true });
  r = await api(d, 'POST', '/api/services', {
    name: 'unix-probed', command: [process.execPath, '-e', 'require("net").createServer((c) => c.end()).listen(process.argv[1])', sock], node: 'sn2',
    probe: { type: 'unix', path: sock, intervalMs: 300 },
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const u = r.body.id;
  await svcUntil(u, (x) => x.runtime.health.status === 'healthy', 'healthy by its unix probe, made on the node');
  assert.equal((await api(d, 'POST', `/api/services/${u}/test`, {})).body.ok, true);
  nodes.sn2.proxy.set('cut');
  await svcUntil(u, (x) => x.runtime.status === 'unreachable', 'its node away');
  const away = await api(d, 'POST', `/api/services/${u}/test`, {});
  assert.equal(away.body.ok, false, JSON.stringify(away.body));
  assert.match(away.body.error, /node/);
  nodes.sn2.proxy.set('pass');
  await svcUntil(u, (x) => x.runtime.status === 'running', 'back');
  assert.equal((await api(d, 'POST', `/api/services/${u}/test`, {})).body.ok, true);
  assert.equal((await api(d, 'DELETE', `/api/services/${u}`)).status, 204);
  fs.rmSync(sock, { force: true });
});

test('a cut shows the service unreachable, and its return keeps the one copy; a service waits for its node and starts when it connects', async () => {
  const g = nodes.sn1;
  const r = await api(d, 'POST', '/api/services', { name: 'counter', command: ['sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i > count; sleep 0.05; done'], node: 'sn1', restart: 'always' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const id = r.body.id;
  const before = await svcUntil(id, (x) => x.runtime.status === 'running' && x.runtime.pid > 0, 'the counter running');
  g.proxy.set('cut');
  const away = await svcUntil(id, (x) => x.runtime.status === 'unreachable', 'the service reads unreachable, not stopped');
  assert.equal(away.runtime.node.reachable, false);
  // meanwhile a new service for that node waits for it
  const w = await api(d, 'POST', '/api/services', { name: 'waiter', command: ['sh', '-c', SLEEPER], node: 'sn1' });
  assert.equal(w.status, 201, JSON.stringify(w.body));
  await svcUntil(w.body.id, (x) => x.runtime.status === 'waiting', 'waiting for its node');
  const c0 = Number(fs.readFileSync(`${work('sn1', id)}/count`, 'utf8'));
  await until(() => Number(fs.readFileSync(`${work('sn1', id)}/count`, 'utf8')) > c0 + 5, 'it counts on while the node is away');
  g.proxy.set('pass');
  const back = await svcUntil(id, (x) => x.runtime.status === 'running', 'running again once the node is back');
  assert.equal(back.runtime.runId, before.runtime.runId, 'the same run: reconciled, not started again');
  assert.equal(back.runtime.pid, before.runtime.pid);
  assert.equal(back.runtime.restarts, 0);
  const ws = await svcUntil(w.body.id, (x) => x.runtime.status === 'running' && x.runtime.pid > 0, 'the waiting service started on the node\'s return');
  assert.equal(ws.runtime.node.name, 'sn1');
  // one holder of the counter on the node, the one we know
  const holds = fs.readdirSync(`${g.dataDir}/hold`).filter((h) => h.startsWith('svr_'));
  assert.ok(holds.includes(before.runtime.runId));
  assert.equal(holds.length, 2, JSON.stringify(holds)); // the counter's and the waiter's
  for (const x of [id, w.body.id]) assert.equal((await api(d, 'DELETE', `/api/services/${x}`)).status, 204);
  await until(() => !alive(before.runtime.pid), 'the counter ended');
});

test('refusals: no such node, a control plane folder, another organisation\'s node, a node speaking for another\'s service', async () => {
  let r = await api(d, 'POST', '/api/services', { name: 'x', command: ['true'], node: 'nope' });
  assert.equal(r.status, 422, JSON.stringify(r.body));
  assert.equal(r.body.error.details.field, 'node');
  r = await api(d, 'POST', '/api/services', { name: 'x', command: ['true'], node: 'sn1', cwd: planeDir });
  assert.equal(r.status, 422, JSON.stringify(r.body));
  assert.equal(r.body.error.details.field, 'cwd');
  // a service with a folder of the control plane cannot move to a node
  r = await api(d, 'POST', '/api/services', { name: 'here', command: ['true'], cwd: planeDir, enabled: false });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  let p = await api(d, 'PATCH', `/api/services/${r.body.id}`, { node: 'sn1' });
  assert.equal(p.status, 422, JSON.stringify(p.body));
  assert.equal(p.body.error.details.field, 'node');
  assert.equal((await svc(r.body.id)).nodeId, null, 'nothing stored');
  await api(d, 'DELETE', `/api/services/${r.body.id}`);
  // another organisation's admin cannot name the owner's node
  r = await api(d, 'POST', '/api/orgs', { name: 'org svc nodes' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const org = r.body.id;
  r = await api(d, 'POST', '/api/tokens', { name: 'sn-admin', scope: 'admin', orgId: org });
  const b = { authorization: `Bearer ${r.body.token}` };
  r = await api(d, 'POST', '/api/services', { name: 'x', command: ['true'], node: 'sn1' }, b);
  assert.equal(r.status, 422, JSON.stringify(r.body));
  assert.equal(r.body.error.details.field, 'node');
  r = await api(d, 'POST', '/api/services', { name: 'x', command: ['true'], node: nodes.sn1.id }, b);
  assert.equal(r.status, 422, 'nor by its id');
  // its own node without a sandbox: 403 naming the node (its programs run only confined)
  r = await api(d, 'POST', '/api/tokens', { name: 'svc-bare', scope: 'node', orgId: org });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const bareDir = daemon.tmpDir('agentd-node-');
  const bare = await startNode(d.url, { token: r.body.token, name: 'svc-bare', dataDir: bareDir, env: NODE_ENV, globalArgs: ['--sandbox', 'off'] });
  try {
    await until(async () => (await api(d, 'GET', '/api/nodes', undefined, b)).body.nodes.find((x) => x.name === 'svc-bare')?.caps?.sandbox === false, 'the node to say it has no sandbox');
    r = await api(d, 'POST', '/api/services', { name: 'x', command: ['true'], node: 'svc-bare' }, b);
    assert.equal(r.status, 403, JSON.stringify(r.body));
    assert.match(r.body.error.message, /node svc-bare has none/);
    assert.equal((await api(d, 'GET', '/api/services', undefined, b)).body.services.length, 0, 'nothing stored');
  } finally {
    await bare.cleanup();
    fs.rmSync(bareDir, { recursive: true, force: true, maxRetries: 5 });
  }

  // a node speaking for a service's run on another node is cut off and audited; the service runs on
  r = await api(d, 'POST', '/api/services', { name: 'victim', command: ['sh', '-c', `echo hello; ${SLEEPER}`], node: 'sn2' });
  const victim = r.body.id;
  const s = await svcUntil(victim, (x) => x.runtime.status === 'running' && x.runtime.pid > 0, 'the victim running');
  const rogue = await rogueNode(d, 'svc-rogue');
  // a node's words are data: a "spawn" of its own is nothing to the control plane
  const proof = `${planeDir}/rogue-ran`;
  rogue.ws.send(JSON.stringify({ t: 'spawn', run: 'svr_rogue', argv: ['touch', proof], env: [] }));
  rogue.ws.send(JSON.stringify({ t: 'spawned', run: s.runtime.runId, pid: 1 }));
  assert.equal(await rogue.closed, 4403);
  assert.ok(!fs.existsSync(proof), 'nothing ran on the control plane');
  const r2 = await rogueNode(d, 'svc-rogue2');
  r2.ws.send(linkFrame(s.runtime.runId, 1, Buffer.concat([Buffer.alloc(8), Buffer.from('{"type":"metrics","evil":1}\n')])));
  assert.equal(await r2.closed, 4403);
  await until(async () => (await api(d, 'GET', '/api/audit?limit=50')).body.entries
    .some((e) => e.route === '/api/nodes/link' && e.targetId === s.runtime.runId && e.status === 4403 && e.tokenName === 'svc-rogue2'),
  'the audit row naming the rogue node and the service\'s run');
  const after = await svc(victim);
  assert.equal(after.runtime.pid, s.runtime.pid, 'its pid is its node\'s word, not the rogue\'s');
  assert.equal(after.runtime.figures?.evil, undefined);
  assert.equal(after.runtime.status, 'running');
  assert.equal((await api(d, 'DELETE', `/api/services/${victim}`)).status, 204);
});

test('kill -9 of the control plane: the new one takes the service\'s run on its node up again, one copy; a run its node lost is started again', async () => {
  const r = await api(d, 'POST', '/api/services', { name: 'survivor', command: ['sh', '-c', `echo $$ > pid; echo started; ${SLEEPER}`], node: 'sn2', restart: 'always' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const id = r.body.id;
  const before = await svcUntil(id, (x) => x.runtime.status === 'running' && x.runtime.pid > 0, 'running on sn2');
  await d.stop('SIGKILL');
  const d2 = await startApi({ dataDir: planeDir, args: planeArgs });
  Object.assign(d, { url: d2.url, proc: d2.proc, exit: d2.exit, stop: d2.stop, cleanup: d2.cleanup, req: d2.req, exited: null });
  for (const x of Object.values(nodes)) x.proxy.retarget(d.url);
  await until(async () => (await nodeNamed(d, 'sn2'))?.state === 'connected', 'sn2 back on the new control plane');
  const after = await svcUntil(id, (x) => x.runtime.status === 'running' && /started/.test(x.runtime.output), 'taken up, its log from the node\'s holder');
  assert.equal(after.runtime.runId, before.runtime.runId, 'the same run, not a second copy');
  assert.equal(after.runtime.restarts, 0);
  // its pid, which "spawned" told the plane that was killed, comes with the node's figures
  await svcUntil(id, (x) => x.runtime.pid === before.runtime.pid, 'the taken-up run\'s pid, from its node');
  assert.ok(alive(before.runtime.pid), 'the first copy runs on');
  assert.equal(Number(fs.readFileSync(`${work('sn2', id)}/pid`, 'utf8')), before.runtime.pid);
  assert.deepEqual(fs.readdirSync(`${nodes.sn2.dataDir}/hold`).filter((h) => h.startsWith('svr_')), [before.runtime.runId]);
  // it is the control plane's again: a restart reaches it
  assert.equal((await api(d, 'POST', `/api/services/${id}/restart`, {})).status, 202);
  await svcUntil(id, (x) => x.runtime.status === 'running' && x.runtime.runId !== before.runtime.runId, 'restarted');
  await until(() => !alive(before.runtime.pid), 'the first copy ended by the restart');
  assert.equal((await nodeNamed(d, 'sn2')).state, 'connected', 'the node keeps its link');
  // its run ends on the node while no control plane runs: the next one starts it again there
  const mid = await svcUntil(id, (x) => x.runtime.status === 'running' && x.runtime.pid > 0, 'the restarted copy');
  // its holder says which process group to end once it is up (the node
  // reports the pid as the spawn returns, a moment before)
  await until(() => fs.existsSync(`${nodes.sn2.dataDir}/hold/${mid.runtime.runId}/info`), 'the restarted copy\'s holder up');
  await d.stop('SIGKILL');
  daemon.endHolders(nodes.sn2.dataDir);
  await until(() => !alive(mid.runtime.pid), 'the copy ended on the node');
  const d3 = await startApi({ dataDir: planeDir, args: planeArgs });
  Object.assign(d, { url: d3.url, proc: d3.proc, exit: d3.exit, stop: d3.stop, cleanup: d3.cleanup, req: d3.req, exited: null });
  for (const x of Object.values(nodes)) x.proxy.retarget(d.url);
  const again = await svcUntil(id, (x) => x.runtime.status === 'running' && x.runtime.pid > 0 && x.runtime.runId !== mid.runtime.runId, 'started again by its policy');
  assert.ok(alive(again.runtime.pid));
  assert.equal((await api(d, 'DELETE', `/api/services/${id}`)).status, 204);
});
