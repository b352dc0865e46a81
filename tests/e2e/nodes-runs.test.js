// SPDX-License-Identifier: MIT
// Command agents on worker nodes (issue #34, docs/nodes.md), exactly once:
// three agentd processes on this machine (a control plane and two nodes with
// their own data dirs and labels), each node behind a TCP proxy the test can
// cut, stall or drop. A command agent printing a counter every 5 ms on a
// node keeps every value stored exactly once, in order (read through the
// control plane's transcript API) across kill -9 of the node's agentd, kill
// -9 of the control plane, a cut (AGENTD_E2E_NODE_CUT_MS, default 3000) and
// twenty 2-second-ish flaps; stop, input and signals work remotely.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const daemon = require('./lib/daemon');
const { api, until, answered, startApi, allMessages, assertOnce, commandAgent, withAgentState, spools, spoolsGrow } = require('./lib/api');
const { nodeToken, startNode, proxy, nodeNamed, rogueNode, linkFrame: frame } = require('./lib/nodes');

const LEASE = 1500;
const CUT_MS = Number(process.env.AGENTD_E2E_NODE_CUT_MS || 3000);
const COUNTER = ['sh', '-c', 'i=0; while [ $i -lt 1000000 ]; do echo "n=$i"; i=$((i+1)); sleep 0.005; done'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// git in dir, without the machine's or the user's git config
const gitIn = (dir, ...a) => spawnSync('git', a, { cwd: dir, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' } });
const planeArgs = ['--node-lease-ms', String(LEASE), '--stop-grace-ms', '300'];
// The nodes find sh and the system's tools, not the agent CLIs the test
// machine has (placement's "CLI present" has something to refuse).
const NODE_ENV = { PATH: '/usr/bin:/bin' };

let d, wt, repo, nodes = [];
const planeDir = daemon.tmpDir('agentd-plane-');
test.before(async () => {
  d = await startApi({ dataDir: planeDir, args: planeArgs });
  repo = daemon.tmpRepo('agentd-wt-');
  const ws = await api(d, 'POST', '/api/workspaces', { path: repo, name: 'w' });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  wt = ws.body.worktrees[0].id;
  for (const [name, labels] of [['gpu1', 'gpu=a100,zone=eu'], ['cpu1', 'zone=us']]) {
    const t = await nodeToken(d, name);
    const p = await proxy(d.url);
    const dataDir = daemon.tmpDir('agentd-node-');
    const n = await startNode(p.url, { token: t.token, name, labels, dataDir, env: NODE_ENV });
    nodes.push({ name, labels, token: t.token, proxy: p, dataDir, n });
  }
});
test.after(async () => {
  for (const x of nodes) { await x.n.cleanup(); await x.proxy.close(); fs.rmSync(x.dataDir, { recursive: true, force: true, maxRetries: 10 }); }
  await d.cleanup();
  fs.rmSync(planeDir, { recursive: true, force: true });
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
async function startOn(node, command = COUNTER) {
  // A start needs its node connected. On a loaded machine a node can miss
  // its 1.5 s lease between two tests (a fresh-clone make check once got
  // 409 "node gpu1 is not connected" here); it joins again by itself.
  await until(async () => (await nodeNamed(d, node))?.state === 'connected', `${node} connected`);
  const id = await commandAgent(d, wt, command, { node });
  const s = await api(d, 'POST', `/api/agents/${id}/start`, {});
  assert.equal(s.status, 200, JSON.stringify(s.body));
  return id;
}
// The spool of the agent's run on the node of dataDir, as spools() has it
// (the node's data dir holds the holders of other tests' runs too).
async function runSpool(id, dataDir) {
  const runId = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0].id;
  return new Map([...spools(dataDir, 'out')].filter(([dir]) => path.basename(dir) === runId));
}
async function stopAndCheck(id, what) {
  const st = await api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
  assert.ok(st.status === 200 || st.status === 202, JSON.stringify(st.body));
  await until(async () => (await api(d, 'GET', `/api/agents/${id}`)).body.status !== 'running', 'the stop');
  const run = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0];
  assert.equal(run.status, 'stopped', JSON.stringify(run));
  assertOnce(await counters(id), what);
  return run;
}

// A message to an ACP test agent (tests/fixtures/acp-agent.js), and what it
// said last once it waits again.
async function askAcp(id, content) {
  const before = (await allMessages(d, id)).filter((x) => x.role === 'assistant').length;
  assert.equal((await api(d, 'POST', `/api/agents/${id}/message`, { content })).status, 200);
  return until(async () => {
    const said = (await allMessages(d, id)).filter((x) => x.role === 'assistant');
    return said.length > before && (await api(d, 'GET', `/api/agents/${id}`)).body.status === 'waiting' ? said[said.length - 1].content : null;
  }, `the answer to ${content}`);
}

test('a command agent runs on the node it names, and stops there', async () => {
  const g = nodes[0];
  const id = await startOn('gpu1');
  await grows(id, 20, 'counters from the node');
  const runs = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs;
  assert.equal(runs[0].nodeId, (await nodeNamed(d, 'gpu1')).id);
  const one = await api(d, 'GET', `/api/runs/${runs[0].id}`);
  assert.equal(one.body.run?.node?.name ?? one.body.node?.name, 'gpu1', JSON.stringify(one.body));
  assert.ok(fs.existsSync(`${g.dataDir}/hold/${runs[0].id}`), 'its holder is in the node\'s data dir');
  assert.ok(!fs.existsSync(`${planeDir}/hold/${runs[0].id}`), 'not the control plane\'s');
  // its health, as its node measures it
  const fig = await until(async () => (await api(d, 'GET', '/api/health')).body.agents
    ?.find((a) => a.runId === runs[0].id && a.source === 'node' && a.rssBytes > 0), 'the run\'s figures from its node');
  assert.equal(fig.node, 'gpu1');
  assert.equal(fig.agentId, id);
  const run = await stopAndCheck(id, 'on the node');
  await until(() => !fs.existsSync(`${g.dataDir}/hold/${run.id}`), 'the node forgets the run once its end is stored');
  // the CLI: agentd new --node, and the NODE column of agentd ls
  const made = daemon.run(['--data-dir', d.dataDir, 'new', '--worktree', wt, '--name', 'cli-on-cpu1', '--node', 'cpu1', '--json', '--', 'true']);
  assert.equal(made.status, 0, made.stderr);
  assert.equal(JSON.parse(made.stdout).state.node, 'cpu1');
  const ls = daemon.run(['--data-dir', d.dataDir, 'ls']);
  assert.equal(ls.status, 0, ls.stderr);
  assert.match(ls.stdout.split('\n')[0], /WORKTREE\s+NODE\s+COST/);
  assert.match(ls.stdout, /cli-on-cpu1 .* cpu1 /);
  assert.match(ls.stdout.split('\n').find((l) => l.includes(id)), / gpu1 /);
});

test('kill -9 of the node\'s agentd: the agent runs on under its holder; after the restart every value is stored once', async () => {
  const g = nodes[0];
  const id = await startOn('gpu1');
  await grows(id, 30, 'the first counters');
  const spool = await runSpool(id, g.dataDir);
  await g.n.kill();
  // the agent counts on while no node process runs (a hundred lines)
  await spoolsGrow(g.dataDir, 'out', spool, 100 * 'n=100\n'.length);
  g.n = await startNode(g.proxy.url, { token: g.token, name: g.name, labels: g.labels, dataDir: g.dataDir, env: NODE_ENV });
  await grows(id, 100, 'counters after the node restarted');
  await stopAndCheck(id, 'across kill -9 of the node');
});

test('kill -9 of the control plane: its restart takes the run up from the stored offsets', async () => {
  // it also leaves a file in its worktree: the new control plane takes the work home at the end
  const id = await startOn('cpu1', ['sh', '-c', `echo before > restart-proof.txt; ${COUNTER[2]}`]);
  await grows(id, 30, 'the first counters');
  const cpu1 = nodes.find((x) => x.name === 'cpu1').dataDir;
  const spool = await runSpool(id, cpu1);
  await d.stop('SIGKILL');
  // the agent counts on while no control plane runs: its node spools it
  await spoolsGrow(cpu1, 'out', spool, 100 * 'n=100\n'.length);
  const d2 = await startApi({ dataDir: planeDir, args: planeArgs });
  Object.assign(d, { url: d2.url, proc: d2.proc, exit: d2.exit, stop: d2.stop, cleanup: d2.cleanup, req: d2.req, exited: null });
  for (const x of nodes) x.proxy.retarget(d.url); // the nodes dial the same address; it leads to the new one
  const run = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0];
  assert.equal(run.status, 'running');
  await until(async () => (await nodeNamed(d, 'cpu1'))?.state === 'connected', 'cpu1 back on the new control plane');
  await grows(id, 100, 'counters after the control plane restarted');
  await stopAndCheck(id, 'across kill -9 of the control plane');
  assert.equal(fs.readFileSync(`${repo}/restart-proof.txt`, 'utf8'), 'before\n', 'its work came home to the new control plane');
});

test(`a ${CUT_MS} ms cut, then twenty flaps: every value once, the run unreachable meanwhile and back`, async () => {
  const g = nodes[0];
  const id = await startOn('gpu1');
  await grows(id, 30, 'the first counters');
  const runId = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0].id;
  g.proxy.set('cut');
  if (CUT_MS > LEASE) {
    await until(async () => (await api(d, 'GET', `/api/runs/${runId}`)).body.unreachable === true, 'the run reads unreachable');
    assert.equal((await api(d, 'GET', `/api/agents/${id}`)).body.status, 'running', 'its agent keeps its status');
  }
  await sleep(CUT_MS);
  g.proxy.set('pass');
  await until(async () => (await api(d, 'GET', `/api/runs/${runId}`)).body.unreachable === false, 'reachable again');
  await grows(id, 50, 'counters after the cut');
  for (let i = 0; i < 20; i++) {
    g.proxy.set(i % 2 ? 'drop' : 'stall');
    await sleep(100);
    g.proxy.set('pass');
    await sleep(100);
  }
  await until(async () => (await nodeNamed(d, 'gpu1')).state === 'connected', 'the node back after the flaps');
  await grows(id, 100, 'counters after the flaps');
  await stopAndCheck(id, 'across a cut and flaps');
});

test('input and signals reach an agent on a node', async () => {
  const id = await startOn('cpu1', ['sh', '-c', 'trap "echo got-usr1" USR1; while read l; do echo "said:$l"; done']);
  await until(async () => (await api(d, 'GET', `/api/agents/${id}`)).body.status === 'running', 'the agent running on its node');
  const m = await api(d, 'POST', `/api/agents/${id}/message`, { content: 'hello node' });
  assert.ok(m.status === 200 || m.status === 202, JSON.stringify(m.body));
  await until(async () => (await allMessages(d, id)).some((x) => x.role === 'assistant' && x.content.includes('said:hello node')), 'the echo');
  const st = await api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
  assert.ok(st.status === 200 || st.status === 202);
  await until(async () => (await api(d, 'GET', `/api/agents/${id}`)).body.status !== 'running', 'stopped');
});

test('a node that speaks for another node\'s run is cut off and audited; malformed frames close the link', async () => {
  const id = await startOn('gpu1');
  await grows(id, 5, 'the victim run');
  const runId = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0].id;
  const r1 = await rogueNode(d, 'rogue1');
  const data = Buffer.concat([Buffer.alloc(8), Buffer.from('n=999999\n')]);
  r1.ws.send(frame(runId, 1, data));
  assert.equal(await r1.closed, 4403);
  await until(async () => (await api(d, 'GET', '/api/audit?limit=50')).body.entries
    .some((e) => e.route === '/api/nodes/link' && e.targetId === runId && e.status === 4403 && e.tokenName === 'rogue1'),
  'the audit row naming the rogue node and the run');
  // a frame whose length lies, a holder frame of the wrong direction, a run id that is not one
  const r2 = await rogueNode(d, 'rogue2');
  const bad = frame('run_x', 1, data); bad.writeUInt32LE(5, 6 + 5);
  r2.ws.send(bad);
  assert.equal(await r2.closed, 4400);
  const r3 = await rogueNode(d, 'rogue3');
  r3.ws.send(frame(runId, 17 /* INPUT: the plane's to send */, Buffer.from('rm -rf /\n')));
  assert.equal(await r3.closed, 4400);
  const r4 = await rogueNode(d, 'rogue4');
  r4.ws.send(frame('../../etc', 1, data));
  assert.equal(await r4.closed, 4400);
  // the victim's transcript has none of it, and goes on
  await grows(id, 20, 'the victim run goes on');
  assert.ok(!(await counters(id)).includes(999999));
  await stopAndCheck(id, 'beside rogue nodes');
});

test('placement: labels pick the node; what fits nowhere is a 422 naming each node and why, what cannot run now a 409', async () => {
  const cpuId = (await nodeNamed(d, 'cpu1')).id;
  const id = (await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command: COUNTER, placement: { labels: { zone: 'us' } } })).body.id;
  let s = await api(d, 'POST', `/api/agents/${id}/start`, {});
  assert.equal(s.status, 200, JSON.stringify(s.body));
  const run = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0];
  assert.equal(run.nodeId, cpuId, 'zone=us is cpu1');
  await grows(id, 5, 'output from cpu1');
  await stopAndCheck(id, 'placed by label');

  // no node in that zone: 422 with each node's reason
  const mars = (await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command: ['true'], placement: { labels: { zone: 'mars' } } })).body.id;
  s = await api(d, 'POST', `/api/agents/${mars}/start`, {});
  assert.equal(s.status, 422, JSON.stringify(s.body));
  assert.match(s.body.error.message, /gpu1: label zone is eu, wanted mars/);
  assert.match(s.body.error.message, /cpu1: label zone is us, wanted mars/);
  // a GPU nowhere (these nodes have none): 422
  const g = (await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command: ['true'], placement: { gpu: true } })).body.id;
  s = await api(d, 'POST', `/api/agents/${g}/start`, {});
  assert.equal(s.status, 422);
  assert.match(s.body.error.message, /no GPU/);
  // a CLI missing on every node: the nodes run with a PATH without it (see before())
  const c = (await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'codex', placement: {} })).body.id;
  s = await api(d, 'POST', `/api/agents/${c}/start`, { initialPrompt: 'hi' });
  assert.equal(s.status, 422, JSON.stringify(s.body));
  assert.match(s.body.error.message, /codex is not installed there/);
  // more memory than any has: 422; a node that is away: 409
  const big = (await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command: ['true'], placement: { memoryMb: 16777216 } })).body.id;
  s = await api(d, 'POST', `/api/agents/${big}/start`, {});
  assert.equal(s.status, 422);
  const eu = (await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command: ['true'], placement: { labels: { zone: 'eu' } } })).body.id;
  const gn = nodes[0];
  await gn.n.stop();
  await until(async () => (await nodeNamed(d, 'gpu1')).state !== 'connected', 'gpu1 away');
  s = await api(d, 'POST', `/api/agents/${eu}/start`, {});
  assert.equal(s.status, 409, JSON.stringify(s.body));
  assert.match(s.body.error.message, /gpu1: it is (offline|unreachable)/);
  const named = (await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command: ['true'], node: 'gpu1' })).body.id;
  s = await api(d, 'POST', `/api/agents/${named}/start`, {});
  assert.equal(s.status, 409);
  gn.n = await startNode(gn.proxy.url, { token: gn.token, name: gn.name, labels: gn.labels, dataDir: gn.dataDir, env: NODE_ENV });
  // bad placements are refused at create, naming the field
  for (const placement of [{ gpu: 'yes' }, { labels: { 'a b': 'x' } }, { memoryMb: 0 }, { cpu: 4 }, []]) {
    const r = await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command: ['true'], placement });
    assert.equal(r.status, 422, JSON.stringify(placement));
    assert.equal(r.body.error.details.field, 'placement');
  }
  const both = await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command: ['true'], placement: {}, node: 'gpu1' });
  assert.equal(both.status, 422);
});

test('placement: a GPU run goes to the node with a free GPU; with its one GPU taken, the next is a 409', async () => {
  const FAKE_NVML = path.join(path.dirname(daemon.BIN), 'tests/fake-nvml/libnvidia-ml.so.1');
  assert.ok(fs.existsSync(FAKE_NVML), `the fake NVML (${FAKE_NVML}): make BUILD=check e2e-deps`);
  const dataDir = daemon.tmpDir('agentd-node-');
  const state = `${dataDir}.gpu`;
  fs.writeFileSync(state, 'count=1\nmem_total=80000000000\nmem_used=1000000000\n');
  const t = await nodeToken(d, 'gpubox');
  const n = await startNode(d.url, { token: t.token, name: 'gpubox', dataDir, env: { ...NODE_ENV, FAKE_NVML_STATE: state }, globalArgs: ['--nvml-lib', FAKE_NVML] });
  try {
    const row = await until(async () => { const x = await nodeNamed(d, 'gpubox'); return x?.caps?.gpus?.length === 1 && x; }, 'gpubox with its GPU');
    assert.ok(row.caps.gpus[0].memTotal > 0);
    const a = (await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command: COUNTER, placement: { gpu: true } })).body.id;
    let s = await api(d, 'POST', `/api/agents/${a}/start`, {});
    assert.equal(s.status, 200, JSON.stringify(s.body));
    assert.equal((await api(d, 'GET', `/api/agents/${a}/runs`)).body.runs[0].nodeId, row.id);
    const b = (await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command: COUNTER, placement: { gpu: true } })).body.id;
    s = await api(d, 'POST', `/api/agents/${b}/start`, {});
    assert.equal(s.status, 409, JSON.stringify(s.body));
    assert.match(s.body.error.message, /gpubox: its 1 GPU is taken/);
    await grows(a, 5, 'output on the GPU node');
    await stopAndCheck(a, 'on the GPU node');
    s = await api(d, 'POST', `/api/agents/${b}/start`, {});
    assert.equal(s.status, 200, 'the GPU is free again');
    await grows(b, 5, 'output of the second GPU run');
    await stopAndCheck(b, 'the second GPU run');
  } finally {
    await n.cleanup();
    fs.rmSync(state, { force: true });
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a terminal agent on a node: its screen, resize and keys over /ws/agents/:id/terminal', async () => {
  const WebSocket = require('./lib/ws');
  const id = await commandAgent(d, wt, ['sh', '-c', 'echo ready; while read l; do case "$l" in size) stty size;; quit) exit 0;; *) echo "got:$l";; esac; done'], { node: 'cpu1', terminal: true });
  assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, {})).status, 200);
  const ws = new WebSocket(d.url.replace('http', 'ws') + `/ws/agents/${id}/terminal`, ['bearer', d.token]);
  let seen = '';
  const closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  ws.on('message', (data) => { seen += data.toString('utf8'); });
  await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
  await until(() => seen.includes('ready'), 'the replayed screen');
  ws.send(JSON.stringify({ type: 'resize', rows: 40, cols: 120 }));
  ws.send(Buffer.from('size\n'), { binary: true });
  await until(() => seen.includes('40 120'), 'the new size, from the node\'s terminal');
  ws.send(Buffer.from('hello\n'), { binary: true });
  await until(() => seen.includes('got:hello'), 'a key typed');
  ws.send(Buffer.from('quit\n'), { binary: true });
  assert.equal(await closed, 1000);
  await until(async () => (await api(d, 'GET', `/api/agents/${id}`)).body.status === 'finished', 'the exit');
});

test('a hyper-parameter config and training metrics from an agent on a node', async () => {
  const c = await api(d, 'POST', '/api/configs', { name: 'on-a-node', schemaId: 'ppo', values: { learningRate: 0.002, epochs: 4 } });
  assert.equal(c.status, 201, JSON.stringify(c.body));
  // it prints the file's mode and values, its flags, and three points of a metric
  const prog = 'f=$AGENTD_CONFIG; echo "mode=$(stat -c %a $f) file=$f"; echo "cfg=$(cat $f)"; echo "flags=$*"; ' +
    'for i in 0 1 2; do echo "{\\"type\\":\\"metric\\",\\"name\\":\\"reward\\",\\"step\\":$i,\\"value\\":$i.5}"; done';
  const id = await commandAgent(d, wt, ['sh', '-c', prog, 'x'], { node: 'gpu1' });
  const s = await api(d, 'POST', `/api/agents/${id}/start`, { configId: c.body.id, configFlags: true });
  assert.equal(s.status, 200, JSON.stringify(s.body));
  const run = await until(async () => {
    const r = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0];
    return r && r.status !== 'running' ? r : null;
  }, 'the run to end');
  assert.equal(run.status, 'succeeded', JSON.stringify(run));
  assert.deepEqual(run.config.values, c.body.values);
  const text = (await allMessages(d, id)).map((m) => m.content).join('\n');
  assert.match(text, /mode=600 file=\S+\/runs\/run_\w+\/config\.json/);
  const file = text.match(/file=(\S+)/)[1];
  assert.ok(file.startsWith(nodes[0].dataDir), `the file is in the node's data dir: ${file}`);
  assert.deepEqual(JSON.parse(text.match(/cfg=(.*)/)[1]), c.body.values);
  assert.match(text, /flags=.*--learningRate=0\.002/);
  await until(async () => {
    const m = await api(d, 'GET', `/api/runs/${run.id}/metrics`);
    return m.body.series?.some((x) => x.name === 'reward' && x.count === 3);
  }, 'the metric points stored on the control plane');
  await until(() => !fs.existsSync(file), 'the node removes the file once the run\'s end is stored');
});

test('worktrees on nodes: the agent works in a worktree of its repository on the node; its commits come back, so diff and a squash merge work with the node gone', async () => {
  const wsId = (await api(d, 'GET', `/api/worktrees/${wt}`)).body.workspaceId;
  // a file on main the node must see, and the agent's own worktree
  fs.writeFileSync(`${repo}/seed.txt`, 'from the control plane\n');
  assert.equal(gitIn(repo, 'add', 'seed.txt').status, 0);
  assert.equal(gitIn(repo, '-c', 'user.name=t', '-c', 'user.email=t@x', 'commit', '-qm', 'seed').status, 0);
  // a setup file (untracked, as an .env is): the node's worktree gets it as a local one does
  fs.writeFileSync(`${repo}/.env.node`, 'SECRET=42\n');
  assert.equal((await api(d, 'PUT', `/api/workspaces/${wsId}/setup`, { setupFiles: ['.env.node'] })).status, 200);
  const feat = await api(d, 'POST', '/api/worktrees', { workspaceId: wsId, name: 'on-node', branch: 'on-node', createBranch: true, base: 'main' });
  assert.equal(feat.status, 201, JSON.stringify(feat.body));
  const prog = 'echo "pwd=$(pwd)"; echo "seed=$(cat seed.txt)"; echo "env=$(cat .env.node)"; echo "branch=$(git rev-parse --abbrev-ref HEAD)"; ' +
    'echo made on a node > node.txt; git add node.txt; git -c user.name=node -c user.email=n@x commit -qm "work from the node"; echo committed';
  const id = await commandAgent(d, feat.body.id, ['sh', '-c', prog], { node: 'cpu1' });
  const s = await api(d, 'POST', `/api/agents/${id}/start`, {});
  assert.equal(s.status, 200, JSON.stringify(s.body));
  const run = await until(async () => {
    const r = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0];
    return r && r.status !== 'running' ? r : null;
  }, 'the run to end');
  assert.equal(run.status, 'succeeded', JSON.stringify(run));
  const text = (await allMessages(d, id)).map((m) => m.content).join('\n');
  const cpu = nodes[1];
  assert.match(text, new RegExp(`pwd=${cpu.dataDir}/worktrees/${feat.body.id}`), text);
  assert.match(text, /seed=from the control plane/);
  assert.match(text, /env=SECRET=42/, 'the setup file on the node');
  assert.match(text, /branch=on-node/);
  assert.match(text, /committed/);
  // the work is on the control plane: its branch moved to the node's commit
  assert.equal(gitIn(feat.body.path, 'log', '-1', '--format=%s').stdout.trim(), 'work from the node');
  assert.equal(fs.readFileSync(`${feat.body.path}/node.txt`, 'utf8'), 'made on a node\n');
  assert.equal(gitIn(feat.body.path, 'show', '--stat', '--format=', 'HEAD').stdout.includes('.env.node'), false, 'a setup file is never committed');
  assert.match(gitIn(repo, 'for-each-ref', '--format=%(refname)', 'refs/agentd/nodes/').stdout, new RegExp(`refs/agentd/nodes/${feat.body.id}`));
  // with the node stopped: diff against the base and a squash merge, all on the control plane
  await cpu.n.stop();
  const diff = await api(d, 'GET', `/api/worktrees/${feat.body.id}/diff?against=base`);
  assert.equal(diff.status, 200, JSON.stringify(diff.body));
  assert.equal(diff.body.ahead, 1);
  assert.ok(diff.body.files.some((f) => f.path === 'node.txt' && !f.untracked), JSON.stringify(diff.body.files));
  // (the control plane's own copy of the setup file shows as untracked, as in any worktree)
  assert.ok(diff.body.files.every((f) => f.path === 'node.txt' || f.untracked));
  const m = await api(d, 'POST', `/api/worktrees/${feat.body.id}/merge`, { strategy: 'squash', message: 'node work, squashed' });
  assert.equal(m.status, 200, JSON.stringify(m.body));
  assert.equal(gitIn(repo, 'show', 'main:node.txt').stdout, 'made on a node\n');
  cpu.n = await startNode(cpu.proxy.url, { token: cpu.token, name: cpu.name, labels: cpu.labels, dataDir: cpu.dataDir, env: NODE_ENV });
});

test('commits an agent makes on a node come home while it runs, each once; at its end what it left uncommitted follows', async () => {
  const wsId = (await api(d, 'GET', `/api/worktrees/${wt}`)).body.workspaceId;
  const feat = await api(d, 'POST', '/api/worktrees', { workspaceId: wsId, name: 'pushed-live', branch: 'pushed-live', createBranch: true, base: 'main' });
  assert.equal(feat.status, 201, JSON.stringify(feat.body));
  const commit = (f, m) => `echo ${f} > ${f}.txt; git add ${f}.txt; git -c user.name=node -c user.email=n@x commit -qm "${m}"`;
  // one commit, then a second once the test says go (a file it writes in the
  // node's worktree), then work left uncommitted and a long sleep
  const prog = `${commit('one', 'first from the node')}; echo one; ` +
    'i=0; while [ ! -f go ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; ' +
    `${commit('two', 'second from the node')}; echo two; echo draft > left.txt; sleep 600`;
  const id = await commandAgent(d, feat.body.id, ['sh', '-c', prog], { node: 'cpu1' });
  assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, {})).status, 200);
  const subject = () => gitIn(feat.body.path, 'log', '-1', '--format=%s').stdout.trim();
  const running = async () => (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0].status === 'running';
  await until(() => subject() === 'first from the node', 'the first commit on the control plane while the run lives');
  assert.ok(await running(), 'the run still running');
  // three renewals more: the node has read HEAD again since and found
  // nothing new, so it reads the next time only because the branch moved
  const seen = async () => (await api(d, 'GET', '/api/nodes')).body.nodes.find((n) => n.name === 'cpu1').lastSeenAt;
  for (let i = 0, last = await seen(); i < 3; i++) {
    await until(async () => { const t = await seen(); return t !== last ? (last = t) : false; }, 'a renewal of the node');
  }
  const nodeWt = `${nodes[1].dataDir}/worktrees/${feat.body.id}`;
  fs.writeFileSync(`${nodeWt}/go`, '');
  await until(() => subject() === 'second from the node', 'the second commit on the control plane');
  assert.ok(await running(), 'the run still running');
  // one hidden ref for this worktree and node, at the node's HEAD
  const hidden = gitIn(repo, 'for-each-ref', '--format=%(objectname)', `refs/agentd/nodes/${feat.body.id}/`).stdout.trim();
  assert.equal(hidden, gitIn(nodeWt, 'rev-parse', 'HEAD').stdout.trim(), 'the hidden ref is the node\'s HEAD');
  // each commit once, in order, on the worktree's branch
  assert.deepEqual(gitIn(feat.body.path, 'log', '--format=%s', 'main..HEAD').stdout.trim().split('\n'), ['second from the node', 'first from the node']);
  await api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
  await until(async () => !(await running()), 'stopped');
  // the end: what was left uncommitted, committed as agentd, came after them
  assert.match(subject(), /^agentd: work run \S+ left uncommitted on node cpu1$/);
  assert.equal(fs.readFileSync(`${feat.body.path}/left.txt`, 'utf8'), 'draft\n');
  assert.equal(gitIn(feat.body.path, 'log', '--format=%s', 'main..HEAD').stdout.trim().split('\n').length, 3);
});

// The files a renewal stats and reads are the agent's to write (its
// worktree's git dir in the node's mirror, src/node/nodegit.c head_sig): a
// FIFO in place of HEAD would block an open that waits for a writer, and a
// symlink would read a file of the node's choosing. Neither may stop the
// node's renewals, and nothing is pushed from them.
test('a FIFO, then a symlink, in place of its worktree\'s HEAD stall no renewal and no git request of the node, and push nothing', async () => {
  const wsId = (await api(d, 'GET', `/api/worktrees/${wt}`)).body.workspaceId;
  const feat = await api(d, 'POST', '/api/worktrees', { workspaceId: wsId, name: 'odd-head', branch: 'odd-head', createBranch: true, base: 'main' });
  assert.equal(feat.status, 201, JSON.stringify(feat.body));
  const prog = 'gd=$(git rev-parse --absolute-git-dir); echo x > x.txt; git add x.txt; ' +
    'git -c user.name=node -c user.email=n@x commit -qm "before the odd HEAD"; ' +
    'rm -f "$gd/HEAD"; mkfifo "$gd/HEAD"; echo fifo-in-place; ' +
    'i=0; while [ ! -f go ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; ' +
    'rm -f "$gd/HEAD"; ln -s /etc/hostname "$gd/HEAD"; echo symlink-in-place; sleep 600';
  const id = await commandAgent(d, feat.body.id, ['sh', '-c', prog], { node: 'cpu1' });
  assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, {})).status, 200);
  const said = async (w) => (await allMessages(d, id)).some((m) => m.content.includes(w));
  const seen = async () => (await nodeNamed(d, 'cpu1'))?.lastSeenAt;
  const renewals = async (what) => {
    for (let i = 0, last = await seen(); i < 3; i++) {
      await until(async () => { const t = await seen(); return t !== last ? (last = t) : false; }, `a renewal of the node with ${what}`);
    }
  };
  await until(() => said('fifo-in-place'), 'the FIFO in place of HEAD');
  await renewals('a FIFO for HEAD');
  // the worktree's status, the node's while the run lives: refused ("not a
  // git repository"), and at once, six times over: no thread of the node's
  // pool is left waiting on the FIFO (the pool has four)
  for (let i = 0; i < 6; i++) {
    const st = await api(d, 'GET', `/api/worktrees/${feat.body.id}/status`);
    assert.ok(st.status >= 400 && st.status < 500, `status with a FIFO for HEAD: ${st.status} ${JSON.stringify(st.body)}`);
  }
  fs.writeFileSync(`${nodes[1].dataDir}/worktrees/${feat.body.id}/go`, '');
  await until(() => said('symlink-in-place'), 'the symlink in place of HEAD');
  await renewals('a symlink for HEAD');
  assert.equal((await nodeNamed(d, 'cpu1')).state, 'connected');
  // what came home is the commit before, at most: nothing read through the odd HEAD
  const hidden = gitIn(repo, 'for-each-ref', '--format=%(subject)', `refs/agentd/nodes/${feat.body.id}/`).stdout.trim();
  assert.ok(hidden === '' || hidden === 'before the odd HEAD', `the hidden ref: ${hidden}`);
  await api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
  await until(async () => (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0].status !== 'running', 'stopped');
  assert.equal((await nodeNamed(d, 'cpu1')).state, 'connected');
});

// The pids of git programs whose command line holds what, each with the
// kernel function it waits in (wait_for_partner: an open of a FIFO).
function gitWaits(what) {
  const r = spawnSync('pgrep', ['-f', what], { encoding: 'utf8' });
  return (r.stdout || '').trim().split('\n').filter(Boolean).map((pid) => {
    try { return { pid, wchan: fs.readFileSync(`/proc/${pid}/wchan`, 'utf8') }; } catch (_) { return { pid, wchan: '' }; }
  });
}

// The git program a mutation runs can wait minutes on a FIFO an agent put in
// its repository (here the plane's packed-refs, as an agent on the plane
// could: its repository's git folder is shown read-write). Fetching a
// node's commits home is such a mutation. It once held a lock of the whole
// process meanwhile: another repository's new worktree waited with it.
test('a bundle fetch that waits on a FIFO in its repository holds up no other repository\'s git mutation', async () => {
  const wsId = (await api(d, 'GET', `/api/worktrees/${wt}`)).body.workspaceId;
  const feat = await api(d, 'POST', '/api/worktrees', { workspaceId: wsId, name: 'fifo-fetch', branch: 'fifo-fetch', createBranch: true, base: 'main' });
  assert.equal(feat.status, 201, JSON.stringify(feat.body));
  const packed = `${repo}/.git/packed-refs`;
  assert.ok(!fs.existsSync(packed), 'the repository has loose refs only');
  // the agent commits once the test says go (a file in its worktree on the
  // node): the node has its worktree by then, so what waits is the fetch home
  const id = await commandAgent(d, feat.body.id, ['sh', '-c', 'echo ready; ' +
    'i=0; while [ ! -f go ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; ' +
    'echo x > x.txt; git add x.txt; git -c user.name=node -c user.email=n@x commit -qm "home through a fifo"; echo committed; sleep 600'], { node: 'cpu1' });
  assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, {})).status, 200);
  await until(async () => (await allMessages(d, id)).some((m) => m.content.includes('ready')), 'the agent on the node');
  assert.equal(spawnSync('mkfifo', [packed]).status, 0);
  try {
    fs.writeFileSync(`${nodes[1].dataDir}/worktrees/${feat.body.id}/go`, '');
    // the plane's git program, fetching the node's commit home, waits on the FIFO
    await until(() => gitWaits('no-write-fetch-head').some((g) => g.wchan === 'wait_for_partner') ||
      gitWaits('bundle verify').some((g) => g.wchan === 'wait_for_partner'), 'the fetch waiting on the FIFO', 60000);
    // another repository's mutation answers meanwhile
    const other = daemon.tmpRepo('agentd-other-');
    const ws2 = await api(d, 'POST', '/api/workspaces', { path: other, name: 'other' });
    assert.equal(ws2.status, 201, JSON.stringify(ws2.body));
    const made = await answered(
      api(d, 'POST', '/api/worktrees', { workspaceId: ws2.body.id, name: 'meanwhile', branch: 'meanwhile', createBranch: true }),
      'another repository\'s new worktree while a fetch waits on a FIFO');
    assert.equal(made.status, 201, JSON.stringify(made.body));
  } finally {
    // a writer lets the waiting git go on: its open returns, the FIFO is
    // gone for any later open, and the close is the end of an empty file
    let fd = null;
    try { fd = fs.openSync(packed, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK); } catch (_) { /* no reader */ }
    fs.rmSync(packed, { force: true });
    if (fd !== null) fs.closeSync(fd);
  }
  // the repository's own mutations go on after it: its commit came home
  await until(() => gitIn(feat.body.path, 'log', '-1', '--format=%s').stdout.trim() === 'home through a fifo' ||
    gitIn(repo, 'for-each-ref', '--format=%(subject)', `refs/agentd/nodes/${feat.body.id}/`).stdout.includes('home through a fifo'),
  'the node\'s commit home once the FIFO is gone', 60000);
  await api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
});

test('placement prefers a node that holds the workspace\'s repository already, then the least busy', async () => {
  const repo2 = daemon.tmpRepo('agentd-wt2-');
  try {
    const ws2 = await api(d, 'POST', '/api/workspaces', { path: repo2, name: 'w2' });
    assert.equal(ws2.status, 201, JSON.stringify(ws2.body));
    const wt2 = ws2.body.worktrees[0].id;
    const a = await commandAgent(d, wt2, COUNTER, { node: 'cpu1' });
    assert.equal((await api(d, 'POST', `/api/agents/${a}/start`, {})).status, 200);
    await until(async () => (await nodeNamed(d, 'cpu1')).caps.repos?.includes(ws2.body.id), 'cpu1 says it holds w2');
    assert.ok(!(await nodeNamed(d, 'gpu1')).caps.repos?.includes(ws2.body.id));
    // cpu1 is busier (a run) but has w2's repository: it gets the next w2 agent
    const b = (await api(d, 'POST', '/api/agents', { worktreeId: wt2, executor: 'command', command: ['true'], placement: {} })).body.id;
    assert.equal((await api(d, 'POST', `/api/agents/${b}/start`, {})).status, 200);
    assert.equal((await api(d, 'GET', `/api/agents/${b}/runs`)).body.runs[0].nodeId, (await nodeNamed(d, 'cpu1')).id);
    // in a workspace both hold, the one with fewer runs
    const c = (await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command: ['true'], placement: {} })).body.id;
    assert.equal((await api(d, 'POST', `/api/agents/${c}/start`, {})).status, 200);
    assert.equal((await api(d, 'GET', `/api/agents/${c}/runs`)).body.runs[0].nodeId, (await nodeNamed(d, 'gpu1')).id);
    await api(d, 'POST', `/api/agents/${a}/stop?wait=true`);
  } finally {
    fs.rmSync(repo2, { recursive: true, force: true });
  }
});

test('while its agent runs on a node, a worktree\'s status, diff and commit are the node\'s; merge waits for the run\'s end', async () => {
  const wsId = (await api(d, 'GET', `/api/worktrees/${wt}`)).body.workspaceId;
  const live = await api(d, 'POST', '/api/worktrees', { workspaceId: wsId, name: 'live-on-node', branch: 'live-on-node', createBranch: true, base: 'main' });
  assert.equal(live.status, 201, JSON.stringify(live.body));
  const id = await commandAgent(d, live.body.id, ['sh', '-c', 'echo draft > wip.txt; echo wrote; sleep 600'], { node: 'gpu1' });
  assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, {})).status, 200);
  await until(async () => (await allMessages(d, id)).some((m) => m.content.includes('wrote')), 'the file written on the node');
  const st = await api(d, 'GET', `/api/worktrees/${live.body.id}/status`);
  assert.equal(st.status, 200, JSON.stringify(st.body));
  assert.deepEqual(st.body.untrackedFiles, ['wip.txt'], 'the node\'s worktree, not the control plane\'s');
  assert.ok(!fs.existsSync(`${live.body.path}/wip.txt`));
  const c = await api(d, 'POST', `/api/worktrees/${live.body.id}/commit`, { message: 'wip from the dashboard', all: true });
  assert.equal(c.status, 200, JSON.stringify(c.body));
  assert.deepEqual(c.body.files, ['wip.txt']);
  const diff = await api(d, 'GET', `/api/worktrees/${live.body.id}/diff`);
  assert.equal(diff.status, 200);
  assert.deepEqual(diff.body.files, [], 'nothing left uncommitted on the node');
  const m = await api(d, 'POST', `/api/worktrees/${live.body.id}/merge`, { strategy: 'squash' });
  assert.equal(m.status, 409, JSON.stringify(m.body));
  assert.equal(m.body.error.code, 'WORKTREE_ON_NODE');
  assert.equal(m.body.error.details.node, 'gpu1');
  await api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
  await until(async () => (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0].status !== 'running', 'stopped');
  assert.equal(fs.readFileSync(`${live.body.path}/wip.txt`, 'utf8'), 'draft\n', 'the commit made on the node came home');
  const merged = await api(d, 'POST', `/api/worktrees/${live.body.id}/merge`, { strategy: 'squash', message: 'wip, merged' });
  assert.equal(merged.status, 200, JSON.stringify(merged.body));
});

// `check NAME CMD`: prints DENIED NAME when CMD fails, LEAK NAME when it works.
const CHECK = 'check() { if sh -c "$2" >/dev/null 2>&1; then echo "LEAK $1"; else echo "DENIED $1"; fi; }\n';
async function runToDone(id, headers = {}) {
  const s = await api(d, 'POST', `/api/agents/${id}/start`, {}, headers);
  assert.equal(s.status, 200, JSON.stringify(s.body));
  return until(async () => {
    const text = (await allMessages(d, id)).map((m) => m.content).join('\n');
    return /^DONE$/m.test(text) ? text : null;
  }, 'the script to finish');
}

test('the agent sandbox on a node: its worktree writable; the node\'s data dir, token file and home out of reach; the plane\'s policy (network off, "none") holds there', async () => {
  const g = nodes[0];
  const mark = `agentd-e2e-${process.pid}-${Date.now()}`;
  const home = g.n.home; // the node user's (lib/nodes.js: a temporary one)
  const outside = [`${g.dataDir}/${mark}`, `${home}/${mark}`];
  const script = CHECK + [
    'echo inside > inside-box.txt && echo "IN $(cat inside-box.txt)"',
    `check data "echo x > ${g.dataDir}/${mark}"`,
    `check hold "ls ${g.dataDir}/hold | grep -q ."`,
    `check token "cat ${g.n.tokenFile}"`,
    `check home "echo x > ${home}/${mark}"`,
    `check net "curl -s -m 5 -o /dev/null ${d.url}/api/health"`,
    'echo "HOME=$HOME"', 'echo DONE'].join('\n');
  try {
    // confined: the same policy a local run gets, built by the node for its paths
    const id = (await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command: ['sh', '-c', script], node: 'gpu1', sandbox: { network: 'off' } })).body.id;
    const text = await runToDone(id);
    assert.match(text, /^IN inside$/m, text);
    for (const what of ['hold', 'token', 'home', 'net']) assert.match(text, new RegExp(`^DENIED ${what}$`, 'm'), text);
    // (its data dir is an empty folder in the sandbox: a write there lands nowhere)
    assert.match(text, /^HOME=\/home\/agent$/m);
    for (const f of outside) assert.equal(fs.existsSync(f), false, f);
    assert.equal(fs.readFileSync(`${g.dataDir}/worktrees/${wt}/inside-box.txt`, 'utf8'), 'inside\n', 'written in the node\'s worktree');
    // "none" (the owner's choice) runs unconfined there too
    const free = (await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command: ['sh', '-c', script], node: 'gpu1', sandbox: 'none' })).body.id;
    const text2 = await runToDone(free);
    for (const what of ['data', 'hold', 'net']) assert.match(text2, new RegExp(`^LEAK ${what}$`, 'm'), text2);
    assert.equal(fs.existsSync(outside[0]), true);
  } finally {
    for (const f of outside) fs.rmSync(f, { force: true });
  }
});

test('a run on a node in /metrics and the health history, as its node measured it', async () => {
  const id = await startOn('gpu1', ['sh', '-c', 'echo up; exec sleep 600']);
  try {
    const runId = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0].id;
    const line = await until(async () => {
      const m = await api(d, 'GET', '/metrics');
      const l = m.text.split('\n').find((x) => x.startsWith(`agentd_agent_resident_memory_bytes{agent_id="${id}",node="gpu1"}`));
      return l && Number(l.split(' ').pop()) > 0 ? l : null;
    }, 'the node run\'s memory in /metrics');
    assert.ok(line);
    const h = await until(async () => {
      const r = await api(d, 'GET', `/api/health/history?runId=${runId}&buckets=5`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.run && r.body.run.samples.reduce((a, b) => a + b, 0) >= 2 ? r.body : null;
    }, 'the node run\'s samples in the history');
    assert.equal(h.run.runId, runId);
    // a sample the node took before it found the run's processes is not a
    // record: no bucket draws the run as using no memory
    assert.ok(h.run.max.rss.every((x) => x === null || x > 0), JSON.stringify(h.run));
    assert.ok(Math.max(...h.run.max.rss.filter((x) => x !== null)) > 0, JSON.stringify(h.run));
  } finally {
    await api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
  }
});

test('a one-turn CLI on a node: its version is the node\'s CLI\'s, on the run, an untested one said in the transcript, an upgrade seen by the next run', async () => {
  const bin = daemon.tmpDir('agentd-nodebin-');
  fs.writeFileSync(`${bin}/codex`, '#!/bin/sh\nif [ "$1" = "--version" ]; then echo "codex-cli 0.1.0"; exit 0; fi\ncat >/dev/null\n', { mode: 0o755 });
  const t = await nodeToken(d, 'tools1');
  const dataDir = daemon.tmpDir('agentd-node-');
  const n = await startNode(d.url, { token: t.token, name: 'tools1', dataDir, env: { PATH: `${bin}:/usr/bin:/bin` } });
  try {
    await until(async () => {
      const x = (await api(d, 'GET', '/api/nodes')).body.nodes.find((y) => y.name === 'tools1');
      return x && x.caps && x.caps.clis && x.caps.clis.codex ? x : null;
    }, 'the node to list its codex');
    const a = await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'codex', node: 'tools1', env: { OPENAI_API_KEY: 'sk-test' } });
    assert.equal(a.status, 201, JSON.stringify(a.body));
    assert.equal((await api(d, 'POST', `/api/agents/${a.body.id}/start`, { initialPrompt: 'hi' })).status, 200);
    const run = await until(async () => {
      const r = (await api(d, 'GET', `/api/agents/${a.body.id}/runs`)).body.runs[0];
      return r && r.cliVersion ? r : null;
    }, 'the version on the run');
    assert.equal(run.cliVersion, '0.1.0');
    await until(async () => (await allMessages(d, a.body.id)).some((m) => m.role === 'system' && /Codex CLI 0\.1\.0 is not a version agentd was tested with/.test(m.content)), 'the version notice');
    // the CLI upgraded on the node while it runs: the node says the new
    // version, and the next run is the new one's
    // (this fake CLI waits for its input's end: stopped, not ended)
    await api(d, 'POST', `/api/agents/${a.body.id}/stop?wait=true`);
    await until(async () => (await api(d, 'GET', `/api/agents/${a.body.id}/runs`)).body.runs[0].status !== 'running', 'the first run to end');
    fs.writeFileSync(`${bin}/codex.new`, '#!/bin/sh\nif [ "$1" = "--version" ]; then echo "codex-cli 0.2.0"; exit 0; fi\ncat >/dev/null\n', { mode: 0o755 });
    fs.renameSync(`${bin}/codex.new`, `${bin}/codex`);
    await until(async () => {
      const x = (await api(d, 'GET', '/api/nodes')).body.nodes.find((y) => y.name === 'tools1');
      return /\b0\.2\.0$/.test(x?.caps?.clis?.codex?.version || '');
    }, 'the node to say its codex\'s new version');
    assert.equal((await api(d, 'POST', `/api/agents/${a.body.id}/start`, { initialPrompt: 'again' })).status, 200);
    const run2 = await until(async () => {
      const r = (await api(d, 'GET', `/api/agents/${a.body.id}/runs`)).body.runs.find((x) => x.id !== run.id);
      return r && r.cliVersion ? r : null;
    }, 'the new version on the next run');
    assert.equal(run2.cliVersion, '0.2.0');
  } finally {
    // a holder of the node's may still be writing its run's folder:
    // cleanup waits until the node's holders have exited
    await n.cleanup();
    fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 10 });
    fs.rmSync(bin, { recursive: true, force: true });
  }
});

test('an ACP agent on a node: its file requests are served in its worktree on the node, never from the control plane\'s copy', async () => {
  const ACP = path.resolve(__dirname, '../fixtures/acp-agent.js');
  const a = await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'acp', command: [process.execPath, ACP], mode: 'auto', node: 'gpu1' });
  assert.equal(a.status, 201, JSON.stringify(a.body));
  const id = a.body.id;
  const planeWt = (await api(d, 'GET', `/api/worktrees/${wt}`)).body.path;
  const nodeWt = `${nodes[0].dataDir}/worktrees/${wt}`;
  const ask = (content) => askAcp(id, content);
  try {
    assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'hello' })).status, 200);
    await until(async () => (await api(d, 'GET', `/api/agents/${id}`)).body.status === 'waiting', 'the agent waiting');
    fs.writeFileSync(`${nodeWt}/only-on-node.txt`, 'one\ntwo\n');
    fs.symlinkSync('/etc/hostname', `${nodeWt}/way-out`);
    assert.equal(await ask('read only-on-node.txt'), 'read: one\ntwo\n');
    // its session's folder is the node's: a path there, as the agent names it, is its worktree's
    assert.equal(await ask(`read ${nodeWt}/only-on-node.txt`), 'read: one\ntwo\n');
    assert.equal(await ask('write made-by-acp.txt from the agent'), 'write ok');
    assert.equal(fs.readFileSync(`${nodeWt}/made-by-acp.txt`, 'utf8'), 'from the agent');
    assert.ok(!fs.existsSync(`${planeWt}/made-by-acp.txt`), 'nothing written in the control plane\'s copy');
    assert.equal(await ask('read not-there.txt'), 'read error: Resource not found');
    assert.equal(await ask('read way-out'), 'read error: path is outside the worktree');
    assert.equal(await ask('write way-out x'), 'write error: path is outside the worktree');
    assert.notEqual(fs.readFileSync('/etc/hostname', 'utf8'), 'x');
  } finally {
    await api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
    fs.rmSync(`${nodeWt}/way-out`, { force: true });
  }
});

// A node's agentd restarted under running agents takes them up from what it
// kept of each run (src/node/runrec.c): a worktree's status is still the
// node's and its commits still come home; an ACP agent's files are still
// served in its folder there. A control plane restarted while the node is
// away tells the agent the node's folder (as the node last said it), so a
// path the agent names there is still its worktree's.
test('restarts under running agents on a node: worktree, commits home and an ACP agent\'s files go on; a plane restarted before its node came back keeps the node\'s folder', async () => {
  const g = nodes[0];
  const restartNode = async () => {
    await g.n.kill();
    g.n = await startNode(g.proxy.url, { token: g.token, name: g.name, labels: g.labels, dataDir: g.dataDir, env: NODE_ENV });
    await until(async () => (await nodeNamed(d, 'gpu1'))?.state === 'connected', 'gpu1 back');
  };
  const wsId = (await api(d, 'GET', `/api/worktrees/${wt}`)).body.workspaceId;
  const feat = await api(d, 'POST', '/api/worktrees', { workspaceId: wsId, name: 'node-restart', branch: 'node-restart', createBranch: true, base: 'main' });
  assert.equal(feat.status, 201, JSON.stringify(feat.body));
  const prog = 'echo ready; i=0; while [ ! -f go ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; ' +
    'echo after > after.txt; git add after.txt; git -c user.name=node -c user.email=n@x commit -qm "after the node restarted"; echo wip > restart-wip.txt; echo done; sleep 600';
  const cmdId = await commandAgent(d, feat.body.id, ['sh', '-c', prog], { node: 'gpu1' });
  assert.equal((await api(d, 'POST', `/api/agents/${cmdId}/start`, {})).status, 200);
  await until(async () => (await allMessages(d, cmdId)).some((m) => m.content.includes('ready')), 'the command agent ready');
  const ACP = path.resolve(__dirname, '../fixtures/acp-agent.js');
  const a = await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'acp', command: [process.execPath, ACP], mode: 'auto', node: 'gpu1' });
  assert.equal(a.status, 201, JSON.stringify(a.body));
  const acpId = a.body.id;
  const nodeWt = `${g.dataDir}/worktrees/${wt}`;
  const ask = (content) => askAcp(acpId, content);
  try {
    assert.equal((await api(d, 'POST', `/api/agents/${acpId}/start`, { initialPrompt: 'hello' })).status, 200);
    await until(async () => (await api(d, 'GET', `/api/agents/${acpId}`)).body.status === 'waiting', 'the ACP agent waiting');
    fs.writeFileSync(`${nodeWt}/kept.txt`, 'kept\n');
    assert.equal(await ask('read kept.txt'), 'read: kept\n');

    await restartNode();
    // the worktree is still the node's: its status from there, its commits home
    const st = await api(d, 'GET', `/api/worktrees/${feat.body.id}/status`);
    assert.equal(st.status, 200, JSON.stringify(st.body));
    fs.writeFileSync(`${g.dataDir}/worktrees/${feat.body.id}/go`, '');
    await until(() => gitIn(feat.body.path, 'log', '-1', '--format=%s').stdout.trim() === 'after the node restarted', 'the commit made after the node\'s restart on the control plane');
    assert.equal((await api(d, 'GET', `/api/agents/${cmdId}/runs`)).body.runs[0].status, 'running');
    await until(async () => (await allMessages(d, cmdId)).some((m) => /^done$/m.test(m.content)), 'the command agent done');
    const st2 = await api(d, 'GET', `/api/worktrees/${feat.body.id}/status`);
    assert.equal(st2.status, 200, JSON.stringify(st2.body));
    assert.ok(st2.body.untrackedFiles.includes('restart-wip.txt'), JSON.stringify(st2.body));
    // the ACP agent's files, in its folder on the node
    assert.equal(await ask('read kept.txt'), 'read: kept\n');
    assert.equal(await ask('write after-node.txt from the agent'), 'write ok');
    assert.equal(fs.readFileSync(`${nodeWt}/after-node.txt`, 'utf8'), 'from the agent');

    // the node away, the control plane killed and restarted, then the node back
    await g.n.kill();
    await d.stop('SIGKILL');
    const d2 = await startApi({ dataDir: planeDir, args: planeArgs });
    Object.assign(d, { url: d2.url, proc: d2.proc, exit: d2.exit, stop: d2.stop, cleanup: d2.cleanup, req: d2.req, exited: null });
    for (const x of nodes) x.proxy.retarget(d.url);
    g.n = await startNode(g.proxy.url, { token: g.token, name: g.name, labels: g.labels, dataDir: g.dataDir, env: NODE_ENV });
    await until(async () => (await nodeNamed(d, 'gpu1'))?.state === 'connected', 'gpu1 on the new control plane');
    await until(async () => (await nodeNamed(d, 'cpu1'))?.state === 'connected', 'cpu1 on the new control plane');
    assert.equal(await ask(`read ${nodeWt}/kept.txt`), 'read: kept\n', 'the node\'s folder, as the agent names it');
    // its terminals too: what they run with built again by the new plane
    const term = await ask('term {"command":"pwd"}');
    assert.equal(JSON.parse(term.replace(/^terminal: /, '')).output, `${nodeWt}\n`, term);
  } finally {
    await api(d, 'POST', `/api/agents/${acpId}/stop?wait=true`);
    await api(d, 'POST', `/api/agents/${cmdId}/stop?wait=true`);
  }
  await until(async () => (await api(d, 'GET', `/api/agents/${cmdId}/runs`)).body.runs[0].status !== 'running', 'the command agent stopped');
  assert.equal(fs.readFileSync(`${feat.body.path}/restart-wip.txt`, 'utf8'), 'wip\n', 'what it left uncommitted came home at its end');
});

test('an ACP agent on a node: its terminals run on the node, in its worktree there, never on the control plane', async () => {
  const ACP = path.resolve(__dirname, '../fixtures/acp-agent.js');
  const a = await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'acp', command: [process.execPath, ACP], mode: 'auto', node: 'gpu1' });
  assert.equal(a.status, 201, JSON.stringify(a.body));
  const id = a.body.id;
  const planeWt = (await api(d, 'GET', `/api/worktrees/${wt}`)).body.path;
  const nodeWt = `${nodes[0].dataDir}/worktrees/${wt}`;
  const ask = async (content) => {
    const text = await askAcp(id, content);
    return text.startsWith('terminal: ') ? JSON.parse(text.slice('terminal: '.length)) : text;
  };
  try {
    assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'hello' })).status, 200);
    await until(async () => (await api(d, 'GET', `/api/agents/${id}`)).body.status === 'waiting', 'the agent waiting');
    fs.writeFileSync(`${nodeWt}/only-on-node-term.txt`, 'node side\n');
    fs.mkdirSync(`${nodeWt}/sub`, { recursive: true });
    fs.symlinkSync('/tmp', `${nodeWt}/way-out-dir`);
    const r = await ask('term {"command":"pwd; cat only-on-node-term.txt; touch made-by-term; echo oops >&2; exit 3"}');
    assert.deepEqual(r.exit, { exitCode: 3, signal: null }, JSON.stringify(r));
    assert.equal(r.output, `${nodeWt}\nnode side\noops\n`);
    assert.equal(r.after, 'no such terminal', 'released on the node');
    assert.ok(fs.existsSync(`${nodeWt}/made-by-term`), 'it ran in the node\'s worktree');
    assert.ok(!fs.existsSync(`${planeWt}/made-by-term`), 'nothing ran in the control plane\'s copy');
    // a folder below, and args given as a list
    const sub = await ask(`term {"command":"pwd","args":[],"cwd":"${nodeWt}/sub"}`);
    assert.equal(sub.output, `${nodeWt}/sub\n`, JSON.stringify(sub));
    const listed = await ask('term {"command":"/bin/echo","args":["a b","c"],"env":[{"name":"X_TERM","value":"1"}]}');
    assert.equal(listed.output, 'a b c\n');
    // killed on the node
    const killed = await ask('term {"command":"sleep 30","kill":true}');
    assert.deepEqual(killed.exit, { exitCode: null, signal: 'SIGKILL' });
    // a way out by a symlink is refused there
    assert.equal(await ask(`term {"command":"ls","cwd":"${nodeWt}/way-out-dir"}`), 'terminal error: path is outside the worktree');
    // in the run's sandbox on the node: the node's token file and its holders out of reach
    const g = nodes[0];
    const boxed = await ask(`term ${JSON.stringify({ command: `${CHECK.replace(/\n$/, ';')} check token "cat ${g.n.tokenFile}"; check hold "ls ${g.dataDir}/hold | grep -q ."` })}`);
    assert.match(boxed.output, /^DENIED token$/m, JSON.stringify(boxed));
    assert.match(boxed.output, /^DENIED hold$/m, JSON.stringify(boxed));
  } finally {
    await api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
    fs.rmSync(`${nodeWt}/way-out-dir`, { force: true });
  }
});

test('jobs on a node: progress, result and output come from the node\'s work folder; stop reaches it; bad placements are refused', async () => {
  const g = nodes[0];
  const gid = (await nodeNamed(d, 'gpu1')).id;
  const ended = (id) => until(async () => {
    const j = (await api(d, 'GET', `/api/jobs/${id}`)).body;
    return j.status !== 'running' ? j : null;
  }, `job ${id} to end`);
  const prog = 'echo \'{"type":"progress","fraction":0.5,"stage":"half"}\'; echo "pwd=$(pwd)"; echo \'{"type":"result","ok":1}\'';
  let r = await api(d, 'POST', '/api/jobs', { name: 'on-node', command: ['sh', '-c', prog], node: 'gpu1' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.nodeId, gid);
  const job = await ended(r.body.id);
  assert.equal(job.status, 'succeeded', JSON.stringify(job));
  assert.equal(job.progress, 0.5);
  assert.equal(job.stage, 'half');
  assert.deepEqual(job.result, { ok: 1 });
  assert.match(job.output, new RegExp(`pwd=${g.dataDir}/work/${job.id}`));
  assert.equal(job.nodeId, gid);
  await until(() => !fs.existsSync(`${g.dataDir}/hold/${job.id}`), 'the node forgets the job once its end is stored');
  // a long one goes on across a cut (what it said meanwhile comes after), and stops when asked
  r = await api(d, 'POST', '/api/jobs', { name: 'long-on-node', command: ['sh', '-c', 'echo \'{"type":"progress","fraction":0.1}\'; while [ ! -e gate ]; do sleep 0.05; done; echo \'{"type":"progress","fraction":0.9}\'; exec sleep 600'], node: 'gpu1' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  await until(async () => (await api(d, 'GET', `/api/jobs/${r.body.id}`)).body.progress === 0.1, 'the long job running on the node');
  g.proxy.set('cut');
  fs.writeFileSync(`${g.dataDir}/work/${r.body.id}/gate`, '');
  await until(async () => (await nodeNamed(d, 'gpu1')).state === 'unreachable', 'the node away');
  g.proxy.set('pass');
  await until(async () => (await api(d, 'GET', `/api/jobs/${r.body.id}`)).body.progress === 0.9, 'what the job said during the cut');
  assert.equal((await api(d, 'GET', `/api/jobs/${r.body.id}`)).body.status, 'running');
  assert.equal((await api(d, 'POST', `/api/jobs/${r.body.id}/stop`, {})).status, 202);
  assert.equal((await ended(r.body.id)).status, 'stopped');
  // refusals: no such node, a control plane folder for a node's job
  r = await api(d, 'POST', '/api/jobs', { name: 'x', command: ['true'], node: 'nope' });
  assert.equal(r.status, 422, JSON.stringify(r.body));
  assert.equal(r.body.error.details.field, 'node');
  r = await api(d, 'POST', '/api/jobs', { name: 'x', command: ['true'], node: 'gpu1', cwd: repo });
  assert.equal(r.status, 422, JSON.stringify(r.body));
  assert.equal(r.body.error.details.field, 'cwd');
  // a program the node does not have: the job is 201 (it is looked up there) and ends failed
  r = await api(d, 'POST', '/api/jobs', { name: 'missing', command: ['agentd-no-such-program'], node: 'gpu1' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal((await ended(r.body.id)).status, 'failed');
});

test('a node without a sandbox runs only the owner\'s organisation\'s agents and jobs (403 naming the node); on one with a sandbox, its job is confined', async () => {
  let r = await api(d, 'POST', '/api/orgs', { name: 'org nodes' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const org = r.body.id;
  r = await api(d, 'POST', '/api/tokens', { name: 'nb-admin', scope: 'admin', orgId: org });
  const b = { authorization: `Bearer ${r.body.token}` };
  // its admin registers repositories only under the roots the owner gives it (issue #73)
  const roots = (await api(d, 'GET', '/api/settings')).body.workspace_roots || {};
  assert.equal((await api(d, 'PATCH', '/api/settings', { workspace_roots: { ...roots, [org]: [require('node:os').tmpdir()] } })).status, 200);
  r = await api(d, 'POST', '/api/tokens', { name: 'bare1', scope: 'node', orgId: org });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const dataDir = daemon.tmpDir('agentd-node-');
  const bare = await startNode(d.url, { token: r.body.token, name: 'bare1', dataDir, env: NODE_ENV, globalArgs: ['--sandbox', 'off'] });
  const repoB = daemon.tmpRepo('agentd-wtb-');
  try {
    await until(async () => {
      const n = (await api(d, 'GET', '/api/nodes', undefined, b)).body.nodes.find((x) => x.name === 'bare1');
      return n && n.caps && n.caps.sandbox === false ? n : null;
    }, 'the node to say it has no sandbox');
    const ws = await api(d, 'POST', '/api/workspaces', { path: repoB }, b);
    assert.equal(ws.status, 201, JSON.stringify(ws.body));
    const a = await api(d, 'POST', '/api/agents', { worktreeId: ws.body.worktrees[0].id, executor: 'command', command: ['true'], node: 'bare1' }, b);
    assert.equal(a.status, 201, JSON.stringify(a.body));
    const s = await api(d, 'POST', `/api/agents/${a.body.id}/start`, {}, b);
    assert.equal(s.status, 403, JSON.stringify(s.body));
    assert.match(JSON.stringify(s.body), /node bare1 has none/);
    assert.equal((await api(d, 'GET', `/api/agents/${a.body.id}/runs`, undefined, b)).body.runs.length, 0);
    // a job of that organisation too, and never on another organisation's node
    const other = await api(d, 'POST', '/api/jobs', { name: 'x', command: ['true'], node: 'gpu1' }, b);
    assert.equal(other.status, 422, JSON.stringify(other.body));
    assert.equal(other.body.error.details.field, 'node');
    const j = await api(d, 'POST', '/api/jobs', { name: 'x', command: ['true'], node: 'bare1' }, b);
    assert.equal(j.status, 403, JSON.stringify(j.body));
    assert.match(j.body.error.message, /node bare1 has none/);
    // on its node with a sandbox, its job is confined there: not the node's token or data dir
    const tb = await api(d, 'POST', '/api/tokens', { name: 'boxb', scope: 'node', orgId: org });
    const boxDir = daemon.tmpDir('agentd-node-');
    const box = await startNode(d.url, { token: tb.body.token, name: 'boxb', dataDir: boxDir, env: NODE_ENV });
    try {
      const script = CHECK + [`check token "cat ${box.tokenFile}"`, `check hold "ls ${boxDir}/hold | grep -q ."`, 'echo "HOME=$HOME"'].join('\n');
      const jb = await api(d, 'POST', '/api/jobs', { name: 'confined', command: ['sh', '-c', script], node: 'boxb' }, b);
      assert.equal(jb.status, 201, JSON.stringify(jb.body));
      const done = await until(async () => {
        const x = (await api(d, 'GET', `/api/jobs/${jb.body.id}`, undefined, b)).body;
        return x.status !== 'running' ? x : null;
      }, 'the org\'s job on its node');
      assert.equal(done.status, 'succeeded', JSON.stringify(done));
      assert.match(done.output, /^DENIED token$/m, done.output);
      assert.match(done.output, /^DENIED hold$/m, done.output);
      assert.match(done.output, /^HOME=\/home\/agent$/m, done.output);
    } finally {
      await box.cleanup();
      fs.rmSync(boxDir, { recursive: true, force: true });
    }
  } finally {
    await bare.cleanup();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(repoB, { recursive: true, force: true });
  }
});

// A control plane stopped while a run is on a node that is gone: its
// SIGKILL cannot reach the node, so the run is left to the node's holder (as
// --keep-agents would) and agentd exits within its shutdown grace instead of
// waiting out the node's grace (10 minutes by default).
test('SIGTERM of a control plane whose node died with a run on it: agentd exits, the run left to the node', async () => {
  const dir = daemon.tmpDir('agentd-plane-');
  const p = await startApi({ dataDir: dir, args: [...planeArgs, '--shutdown-grace-ms', '1000'] });
  const r = daemon.tmpRepo('agentd-wt-');
  const nodeDir = daemon.tmpDir('agentd-node-');
  let n = null;
  try {
    const ws = await api(p, 'POST', '/api/workspaces', { path: r, name: 'w' });
    assert.equal(ws.status, 201, JSON.stringify(ws.body));
    const t = await nodeToken(p, 'gone1');
    n = await startNode(p.url, { token: t.token, name: 'gone1', dataDir: nodeDir, env: NODE_ENV });
    const id = await commandAgent(p, ws.body.worktrees[0].id, ['sh', '-c', 'echo up; sleep 600'], { node: 'gone1' });
    assert.equal((await api(p, 'POST', `/api/agents/${id}/start`, {})).status, 200);
    await until(async () => (await api(p, 'GET', `/api/agents/${id}/messages?limit=20`)).body.messages
      .some((m) => m.content.includes('up')), 'the agent on the node');
    await n.kill();
    // bounded at 60 s, then SIGKILL: a daemon still waiting on its node is killed
    const exit = await p.stop('SIGTERM', 60000);
    assert.deepEqual(exit, { code: 0, signal: null }, 'agentd ended by itself after SIGTERM');
  } finally {
    await daemon.endHoldersGone(nodeDir);
    if (n) await n.cleanup();
    await p.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(r, { recursive: true, force: true });
    fs.rmSync(nodeDir, { recursive: true, force: true, maxRetries: 10 });
  }
});
