// SPDX-License-Identifier: MIT
// One trust root on a worker node (issue #73), as the attack it stops: an
// agent on a node points its worktree's .git at a repository it made, whose
// config names a clean filter, and leaves work uncommitted; the node's
// end-of-run bundle (`git add -A`, outside the sandbox) ran that filter as
// the node's user. The node checks the worktree against its own mirror and
// refuses; agentd's git runs no filter a config names either way.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const daemon = require('./lib/daemon');
const { api, until, startApi, commandAgent } = require('./lib/api');
const { nodeToken, startNode } = require('./lib/nodes');

const gitIn = (dir, ...a) => spawnSync('git', a, { cwd: dir, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' } });

test('an agent on a node that redirects .git to its own repository runs no filter in the end-of-run bundle', async () => {
  const planeDir = daemon.tmpDir('agentd-plane-');
  const nodeDir = daemon.tmpDir('agentd-node-');
  const marks = daemon.tmpDir('agentd-marks-'); // never shown to the agent's sandbox
  const marker = path.join(marks, 'filter-ran');
  const d = await startApi({ dataDir: planeDir, args: ['--node-lease-ms', '1500', '--stop-grace-ms', '300'] });
  let n = null;
  try {
    const repo = daemon.tmpRepo('agentd-wt-');
    fs.writeFileSync(`${repo}/base.txt`, 'on main\n');
    assert.equal(gitIn(repo, 'add', 'base.txt').status, 0);
    assert.equal(gitIn(repo, '-c', 'user.name=t', '-c', 'user.email=t@x', 'commit', '-qm', 'base').status, 0);
    const ws = await api(d, 'POST', '/api/workspaces', { path: repo, name: 'w' });
    assert.equal(ws.status, 201, JSON.stringify(ws.body));
    const wt = await api(d, 'POST', '/api/worktrees', { workspaceId: ws.body.id, name: 'evil', branch: 'evil', createBranch: true, base: 'main' });
    assert.equal(wt.status, 201, JSON.stringify(wt.body));
    const t = await nodeToken(d, 'tn1');
    n = await startNode(d.url, { token: t.token, name: 'tn1', dataDir: nodeDir, env: { PATH: '/usr/bin:/bin' } });

    // a repository of the agent's own in its worktree, a filter in its
    // config, every file given to it, work left uncommitted, and .git naming it
    const prog = [
      'git init -q own',
      `git -C own config filter.x.clean 'touch ${marker}; cat'`,
      `git -C own config filter.x.required true`,
      'printf "* filter=x\\n" > .gitattributes',
      'echo left > left.txt',
      'printf "gitdir: %s/own/.git\\n" "$PWD" > .git',
      'cat .git',
      'echo DONE',
    ].join(' && ');
    const id = await commandAgent(d, wt.body.id, ['sh', '-c', prog], { node: 'tn1' });
    assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, {})).status, 200);
    // the node bundles what the run left when it ends: either it ran the
    // filter (the marker) or it refused the worktree (its log says why: the
    // git thread's "refused op=bundle", or, when a renewal's HEAD read was
    // refused just before and the log held that same line back as a
    // repeat, the node's own line for the bundle that failed)
    const bundleRefused = /(msg="refused" op=bundle|msg="a worktree's work could not be bundled").*\.git names/;
    await until(async () => fs.existsSync(marker) || bundleRefused.test(n.stderr) || null,
      'the end-of-run bundle', 60000);
    assert.equal(fs.existsSync(marker), false, 'the node ran the agent\'s filter.x.clean outside the sandbox');
    assert.match(n.stderr, bundleRefused);
  } finally {
    if (n) await n.cleanup();
    await d.cleanup();
  }
});

test('the control plane takes a node\'s work home without running a filter the repository\'s config names', async () => {
  const planeDir = daemon.tmpDir('agentd-plane-');
  const nodeDir = daemon.tmpDir('agentd-node-');
  const marks = daemon.tmpDir('agentd-marks-');
  const smudged = path.join(marks, 'smudge-ran');
  const cleaned = path.join(marks, 'clean-ran');
  const d = await startApi({ dataDir: planeDir, args: ['--node-lease-ms', '1500', '--stop-grace-ms', '300'] });
  let n = null;
  try {
    const repo = daemon.tmpRepo('agentd-wt-');
    fs.writeFileSync(`${repo}/.gitattributes`, '*.txt filter=x\n');
    assert.equal(gitIn(repo, 'add', '.gitattributes').status, 0);
    assert.equal(gitIn(repo, '-c', 'user.name=t', '-c', 'user.email=t@x', 'commit', '-qm', 'attributes').status, 0);
    // the repository's own config (its registrar's) names filter programs
    assert.equal(gitIn(repo, 'config', 'filter.x.smudge', `touch ${smudged}; cat`).status, 0);
    assert.equal(gitIn(repo, 'config', 'filter.x.clean', `touch ${cleaned}; cat`).status, 0);
    const ws = await api(d, 'POST', '/api/workspaces', { path: repo, name: 'w' });
    assert.equal(ws.status, 201, JSON.stringify(ws.body));
    const wt = await api(d, 'POST', '/api/worktrees', { workspaceId: ws.body.id, name: 'home', branch: 'home', createBranch: true, base: 'main' });
    assert.equal(wt.status, 201, JSON.stringify(wt.body));
    const t = await nodeToken(d, 'tn2');
    n = await startNode(d.url, { token: t.token, name: 'tn2', dataDir: nodeDir, env: { PATH: '/usr/bin:/bin' } });
    const prog = 'echo from the node > node.txt && git add node.txt && git -c user.name=n -c user.email=n@x commit -qm "node work" && echo DONE';
    const id = await commandAgent(d, wt.body.id, ['sh', '-c', prog], { node: 'tn2' });
    assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, {})).status, 200);
    // the run's work comes home: the plane's worktree fast-forwards to it.
    // Its content is waited for, not the file: git creates the file, then
    // writes it (a fresh clone once read it empty in between).
    const home = path.join(wt.body.path, 'node.txt');
    const read = () => { try { return fs.readFileSync(home, 'utf8'); } catch (_) { return null; } };
    await until(() => read() === 'from the node\n' || null, 'the node\'s work at home, whole', 60000);
    assert.equal(fs.existsSync(smudged), false, 'agentd\'s git ran the repository\'s filter.x.smudge');
    assert.equal(fs.existsSync(cleaned), false, 'agentd\'s git ran the repository\'s filter.x.clean');
  } finally {
    if (n) await n.cleanup();
    await d.cleanup();
  }
});
