// SPDX-License-Identifier: MIT
// Review against the base and the commit list of a worktree while its
// agent's run lives on a worker node (issue #34, docs/nodes.md "Worktrees on
// nodes"): asked of the node over its link (git_rpc ops review and commits,
// against the merge base the control plane found), so a commit the agent
// made on the node shows at once, and the answer is the one the control plane
// gives once the run's work came home. One control plane, one node.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { spawnSync } = require('node:child_process');
const daemon = require('./lib/daemon');
const { api, until, startApi, allMessages, commandAgent } = require('./lib/api');
const { nodeToken, startNode, nodeNamed } = require('./lib/nodes');
const { Live } = require('./lib/live');

let d, n, repo, wsId, mainWt;
const planeDir = daemon.tmpDir('agentd-plane-');
const nodeDir = daemon.tmpDir('agentd-node-');
const gitIn = (dir, ...a) => spawnSync('git', a, { cwd: dir, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' } });

test.before(async () => {
  d = await startApi({ dataDir: planeDir, args: ['--node-lease-ms', '1500', '--stop-grace-ms', '300'] });
  repo = daemon.tmpRepo('agentd-wt-');
  fs.writeFileSync(`${repo}/base.txt`, 'on main\n');
  assert.equal(gitIn(repo, 'add', 'base.txt').status, 0);
  assert.equal(gitIn(repo, '-c', 'user.name=t', '-c', 'user.email=t@x', 'commit', '-qm', 'base').status, 0);
  const ws = await api(d, 'POST', '/api/workspaces', { path: repo, name: 'w' });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  wsId = ws.body.id;
  mainWt = ws.body.worktrees[0].id;
  const t = await nodeToken(d, 'rv1');
  n = await startNode(d.url, { token: t.token, name: 'rv1', dataDir: nodeDir, env: { PATH: '/usr/bin:/bin' } });
});
test.after(async () => {
  await n.cleanup();
  await d.cleanup();
  for (const x of [planeDir, nodeDir, repo]) fs.rmSync(x, { recursive: true, force: true, maxRetries: 10 });
});

test('while its agent runs on a node, diff?against= (with and without path) and the commit list show the node\'s new commit, as the control plane answers once it is home', async () => {
  const feat = await api(d, 'POST', '/api/worktrees', { workspaceId: wsId, name: 'rev-on-node', branch: 'rev-on-node', createBranch: true, base: 'main' });
  assert.equal(feat.status, 201, JSON.stringify(feat.body));
  // a commit made before the run: the review counts it too (what the node started from)
  fs.writeFileSync(`${feat.body.path}/before.txt`, 'before the run\n');
  assert.equal(gitIn(feat.body.path, 'add', 'before.txt').status, 0);
  assert.equal(gitIn(feat.body.path, '-c', 'user.name=t', '-c', 'user.email=t@x', 'commit', '-qm', 'before the run').status, 0);
  // main moves on after the worktree was made: "behind" is the control plane's
  fs.writeFileSync(`${repo}/later.txt`, 'later on main\n');
  assert.equal(gitIn(repo, 'add', 'later.txt').status, 0);
  assert.equal(gitIn(repo, '-c', 'user.name=t', '-c', 'user.email=t@x', 'commit', '-qm', 'later').status, 0);
  // the agent commits on the node, then waits for a gate in its worktree (removed
  // before it ends: what a run leaves uncommitted on a node is committed)
  const prog = 'echo from the node > node.txt; git add node.txt; git -c user.name=node -c user.email=n@x commit -qm "review me on the node"; ' +
    'echo committed; while [ ! -e .gate ]; do sleep 0.1; done; rm -f .gate; echo gated';
  const id = await commandAgent(d, feat.body.id, ['sh', '-c', prog], { node: 'rv1' });
  assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, {})).status, 200);
  await until(async () => (await allMessages(d, id)).some((m) => m.content.includes('committed')), 'the commit on the node');
  assert.equal((await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0].status, 'running');
  // (its commit may be home already: a node pushes new commits at each renewal,
  // docs/nodes.md; the answers below are the node's while the run lives either way)

  const wtUrl = `/api/worktrees/${feat.body.id}`;
  const rv = await api(d, 'GET', `${wtUrl}/diff?against=base`);
  assert.equal(rv.status, 200, JSON.stringify(rv.body));
  assert.deepEqual(rv.body.files.map((f) => f.path).sort(), ['before.txt', 'node.txt'], JSON.stringify(rv.body));
  assert.equal(rv.body.against, 'main');
  assert.equal(rv.body.baseBranch, 'main');
  assert.equal(rv.body.ahead, 2);
  assert.equal(rv.body.behind, 1, 'main moved on here');
  assert.equal(rv.body.againstCommit, gitIn(repo, 'rev-parse', 'main').stdout.trim());
  assert.deepEqual(rv.body.commits.map((c) => c.summary), ['review me on the node', 'before the run']);
  assert.equal(rv.body.merged.merged, false);
  const one = await api(d, 'GET', `${wtUrl}/diff?against=base&path=node.txt`);
  assert.equal(one.status, 200, JSON.stringify(one.body));
  assert.equal(one.body.path, 'node.txt');
  assert.match(one.body.patch, /^\+from the node$/m);
  const cm = await api(d, 'GET', `${wtUrl}/commits?against=base`);
  assert.equal(cm.status, 200, JSON.stringify(cm.body));
  assert.equal(cm.body.against, 'main');
  assert.deepEqual(cm.body.commits.map((c) => c.summary), ['review me on the node', 'before the run']);
  assert.equal(cm.body.mergeBase, rv.body.mergeBase);
  const cmDefault = await api(d, 'GET', `${wtUrl}/commits`);
  assert.equal(cmDefault.status, 200, JSON.stringify(cmDefault.body));
  assert.deepEqual(cmDefault.body.commits.map((c) => c.id), cm.body.commits.map((c) => c.id));

  // a bad ref is refused as locally, before the node is asked
  for (const bad of ['--output=x', '../x', 'a..b', '/etc/passwd']) {
    const q = `against=${encodeURIComponent(bad)}`;
    for (const route of ['diff', 'commits']) {
      const there = await api(d, 'GET', `${wtUrl}/${route}?${q}`);
      const here = await api(d, 'GET', `/api/worktrees/${mainWt}/${route}?${q}`);
      assert.equal(there.status, 422, `${route} ${bad}: ${JSON.stringify(there.body)}`);
      assert.deepEqual([there.status, there.body.error], [here.status, here.body.error], `${route} ${bad}`);
      assert.equal(there.body.error.details.field, 'against');
    }
  }
  // a ref the control plane does not have: its 4xx, as locally
  const none = await api(d, 'GET', `${wtUrl}/diff?against=no-such-branch`);
  const noneHere = await api(d, 'GET', `/api/worktrees/${mainWt}/diff?against=no-such-branch`);
  assert.deepEqual([none.status, none.body.error?.code], [noneHere.status, noneHere.body.error?.code]);

  // the run ends, its work comes home: the control plane's own answer is the same
  fs.writeFileSync(`${nodeDir}/worktrees/${feat.body.id}/.gate`, '');
  const run = await until(async () => {
    const r = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0];
    return r && r.status !== 'running' ? r : null;
  }, 'the run to end');
  assert.equal(run.status, 'succeeded', JSON.stringify(run));
  assert.equal(fs.readFileSync(`${feat.body.path}/node.txt`, 'utf8'), 'from the node\n');
  const home = await api(d, 'GET', `${wtUrl}/diff?against=base`);
  assert.equal(home.status, 200, JSON.stringify(home.body));
  for (const k of ['files', 'against', 'againstCommit', 'head', 'mergeBase', 'ahead', 'behind', 'uncommitted', 'commits', 'merged', 'baseBranch']) {
    assert.deepEqual(home.body[k], rv.body[k], k);
  }
  const oneHome = await api(d, 'GET', `${wtUrl}/diff?against=base&path=node.txt`);
  assert.deepEqual(oneHome.body, one.body);
  assert.deepEqual((await api(d, 'GET', `${wtUrl}/commits?against=base`)).body, cm.body);
});

// The node's own setup outcome on the worktree row (the control plane's own
// run of it, when the worktree was made here, has no `node`).
async function nodeSetup(id) {
  return until(async () => {
    const s = (await api(d, 'GET', `/api/worktrees/${id}/setup`)).body.setup;
    return s && s.node ? s : null;
  }, `the node's setup of ${id}`);
}

test('the workspace\'s approved setup command runs on the node when it makes the worktree, before the agent; its failure is recorded as locally', async () => {
  const node = await nodeNamed(d, 'rv1');
  const cmd = 'echo "made in $(pwd)" > setup-made.txt; echo setup said hello';
  assert.equal((await api(d, 'PUT', `/api/workspaces/${wsId}/setup`, { setupCommand: cmd })).status, 200);
  // made (and the command approved) here: it runs on the control plane's copy first
  const wt1 = await api(d, 'POST', '/api/worktrees', { workspaceId: wsId, name: 'setup-on-node', branch: 'setup-on-node', createBranch: true, runSetupCommand: true });
  assert.equal(wt1.status, 201, JSON.stringify(wt1.body));
  await until(async () => fs.existsSync(`${wt1.body.path}/setup-made.txt`), 'the control plane\'s own setup');
  await until(async () => (await api(d, 'GET', `/api/worktrees/${wt1.body.id}/setup`)).body.setup?.state === 'succeeded', 'its outcome');
  const live = await Live.open(d);
  live.send('subscribe', { topics: [`worktree:${wt1.body.id}`] });
  await live.next('subscribed');
  const id = await commandAgent(d, wt1.body.id, ['sh', '-c', 'echo "seen: $(cat setup-made.txt)"; rm -f setup-made.txt'], { node: 'rv1' });
  assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, {})).status, 200);
  const text = await until(async () => {
    const t = (await allMessages(d, id)).map((m) => m.content).join('\n');
    return /seen:/.test(t) ? t : null;
  }, 'the agent read the file its setup made');
  assert.match(text, new RegExp(`seen: made in ${nodeDir}/worktrees/${wt1.body.id}$`, 'm'), 'run on the node, in its worktree, before the agent');
  const ok = await nodeSetup(wt1.body.id);
  assert.equal(ok.state, 'succeeded', JSON.stringify(ok));
  assert.equal(ok.exitCode, 0);
  assert.equal(ok.command, cmd);
  assert.equal(ok.node, node.id);
  assert.match(ok.output, /setup said hello/);
  await live.until(() => live.events.some((e) => e.type === 'worktree_updated' && e.payload.change === 'setup' && e.payload.setup?.node === node.id), 10000, 'the node\'s setup said as a local one\'s');
  live.close();

  // a failing command: recorded failed with its exit code and output; the agent starts anyway, as locally
  const bad = 'echo broken on purpose >&2; exit 3';
  assert.equal((await api(d, 'PUT', `/api/workspaces/${wsId}/setup`, { setupCommand: bad })).status, 200);
  const wt2 = await api(d, 'POST', '/api/worktrees', { workspaceId: wsId, name: 'setup-fails', branch: 'setup-fails', createBranch: true, runSetupCommand: true });
  assert.equal(wt2.status, 201, JSON.stringify(wt2.body));
  const id2 = await commandAgent(d, wt2.body.id, ['sh', '-c', 'echo started anyway'], { node: 'rv1' });
  assert.equal((await api(d, 'POST', `/api/agents/${id2}/start`, {})).status, 200);
  const failed = await nodeSetup(wt2.body.id);
  assert.equal(failed.state, 'failed', JSON.stringify(failed));
  assert.equal(failed.exitCode, 3);
  assert.match(failed.output, /broken on purpose/);
  await until(async () => (await allMessages(d, id2)).some((m) => m.content.includes('started anyway')), 'the agent started');

  // a command not approved does not go to the node
  assert.equal((await api(d, 'PUT', `/api/workspaces/${wsId}/setup`, { setupCommand: 'echo unapproved > nope.txt' })).status, 200);
  const wt3 = await api(d, 'POST', '/api/worktrees', { workspaceId: wsId, name: 'setup-unapproved', branch: 'setup-unapproved', createBranch: true });
  assert.equal(wt3.body.setupCommandNeedsApproval, true, JSON.stringify(wt3.body));
  const id3 = await commandAgent(d, wt3.body.id, ['sh', '-c', 'ls nope.txt 2>/dev/null || echo "no setup ran"'], { node: 'rv1' });
  assert.equal((await api(d, 'POST', `/api/agents/${id3}/start`, {})).status, 200);
  await until(async () => (await allMessages(d, id3)).some((m) => m.content.includes('no setup ran')), 'the agent without a setup');
  assert.equal((await api(d, 'GET', `/api/worktrees/${wt3.body.id}/setup`)).body.setup?.node, undefined);
});
