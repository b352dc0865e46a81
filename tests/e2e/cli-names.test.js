// SPDX-License-Identifier: MIT
// Names where ids go, in the client commands, against a real daemon: agents,
// workspaces and worktrees named in several commands, an exact id winning
// over a name, a name two rows share refused with both ids (exit 2), an
// unknown name "no agent named X" (exit 1). Names are looked up in the lists
// the daemon gives the caller, so within its org; over the unix socket the
// caller is the owner (the socket is trusted), so that is not tested here.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { run, tmpRepo } = require('./lib/daemon');
const { startApi } = require('./lib/api');

const FAKE = path.resolve(__dirname, '../fixtures/fake-agent.js');

test('agents, workspaces and worktrees can be named wherever an id goes', async (t) => {
  const d = await startApi();
  t.after(() => d.cleanup());
  const cli = (...args) => run(['--data-dir', d.dataDir, ...args]);

  const wsA = await d.req('POST', '/api/workspaces', { path: tmpRepo('alpha-', d.dataDir), name: 'alpha' });
  assert.equal(wsA.status, 201, JSON.stringify(wsA.body));
  const wsB = await d.req('POST', '/api/workspaces', { path: tmpRepo('beta-', d.dataDir), name: 'beta' });
  assert.equal(wsB.status, 201, JSON.stringify(wsB.body));

  // wt new and wt ls by workspace name; new and ls by worktree name
  const wt = cli('wt', 'new', '--workspace', 'alpha', 'feature-x');
  assert.equal(wt.status, 0, wt.stderr);
  const wtId = wt.stdout.split(' ')[0];
  const wtLs = cli('wt', 'ls', '--workspace', 'alpha', '--json');
  assert.equal(wtLs.status, 0, wtLs.stderr);
  assert.ok(JSON.parse(wtLs.stdout).worktrees.some((w) => w.id === wtId && w.name === 'feature-x'));
  assert.ok(!JSON.parse(wtLs.stdout).worktrees.some((w) => w.workspaceId === wsB.body.id));

  const made = cli('new', '--worktree', 'feature-x', '--name', 'echoer', '--', process.execPath, FAKE, 'echo');
  assert.equal(made.status, 0, made.stderr);
  const id = made.stdout.trim();
  const ls = JSON.parse(cli('ls', '--worktree', 'feature-x', '--json').stdout).agents;
  assert.deepEqual(ls.map((a) => a.id), [id]);
  assert.equal(ls[0].worktreeId, wtId);

  // start, send, logs, approvals, stop by the agent's name; the id is printed
  const st = cli('start', 'echoer');
  assert.equal(st.status, 0, st.stderr);
  assert.equal(st.stdout, `${id} started (status running)\n`);
  assert.equal(cli('send', 'echoer', 'named hello').status, 0);
  const approvals = cli('approvals', 'echoer', '--json');
  assert.equal(approvals.status, 0, approvals.stderr);
  assert.deepEqual(JSON.parse(approvals.stdout).approvals, []);
  const stop = cli('stop', 'echoer');
  assert.equal(stop.status, 0, stop.stderr);
  assert.match(stop.stdout, new RegExp(`^${id} stopped`));
  const logs = cli('logs', 'echoer');
  assert.equal(logs.status, 0, logs.stderr);
  assert.match(logs.stdout, /named hello/);

  // not found: exit 1 and one line naming the kind
  const none = cli('start', 'nobody');
  assert.equal(none.status, 1);
  assert.equal(none.stderr, 'agentd start: no agent named nobody\n');
  const noWs = cli('wt', 'ls', '--workspace', 'gamma');
  assert.equal(noWs.status, 1);
  assert.equal(noWs.stderr, 'agentd wt ls: no workspace named gamma\n');
  const noWt = cli('ls', '--worktree', 'feature-y');
  assert.equal(noWt.status, 1);
  assert.equal(noWt.stderr, 'agentd ls: no worktree named feature-y\n');

  // ambiguous: exit 2, both ids listed, nothing done
  const twin = JSON.parse(cli('new', '--worktree', wtId, '--name', 'echoer', '--json', '--', process.execPath, FAKE, 'echo').stdout);
  const amb = cli('rm', 'echoer');
  assert.equal(amb.status, 2);
  assert.match(amb.stderr, /^agentd rm: 2 agents are named echoer: (\S+), (\S+); use an id\n$/);
  assert.ok(amb.stderr.includes(id) && amb.stderr.includes(twin.id), amb.stderr);
  assert.equal(JSON.parse(cli('ls', '--json').stdout).agents.length, 2, 'nothing archived');
  // two worktrees named alike in two workspaces
  assert.equal(cli('wt', 'new', '--workspace', 'beta', 'feature-x').status, 0);
  const ambWt = cli('merge', 'feature-x');
  assert.equal(ambWt.status, 2);
  assert.match(ambWt.stderr, /^agentd merge: 2 worktrees are named feature-x: wt_\S+, wt_\S+; use an id\n$/);

  // an exact id wins over a name: an agent named after another's id
  const decoy = JSON.parse(cli('new', '--worktree', wtId, '--name', id, '--json', '--', process.execPath, FAKE, 'echo').stdout);
  const byId = cli('rm', id);
  assert.equal(byId.status, 0, byId.stderr);
  assert.equal(byId.stdout, `${id} archived\n`);
  const left = JSON.parse(cli('ls', '--json').stdout).agents.map((a) => a.id).sort();
  assert.deepEqual(left, [twin.id, decoy.id].sort());
  // the archived one no longer shares the name: the live one is meant
  const rmTwin = cli('rm', '--hard', 'echoer');
  assert.equal(rmTwin.status, 0, rmTwin.stderr);
  assert.equal(rmTwin.stdout, `${twin.id} deleted\n`);
  // with no live agent of that name, the archived one is found
  assert.equal(cli('logs', 'echoer').status, 0);

  // wt rm by name (unique again once beta's is gone)
  const betaWt = JSON.parse(cli('wt', 'ls', '--workspace', 'beta', '--json').stdout).worktrees.find((w) => w.name === 'feature-x');
  assert.equal(cli('wt', 'rm', betaWt.id).status, 0);
  assert.equal(cli('rm', '--hard', decoy.id).status, 0);
  const rmWt = cli('wt', 'rm', '--force', 'feature-x');
  assert.equal(rmWt.status, 0, rmWt.stderr);
  assert.match(rmWt.stdout, new RegExp(`^${wtId} removed: its folder is deleted`));
});

test('--help (or -h) works for every command and subcommand, without a daemon, and says how names and exit codes work', () => {
  const cmds = [['ls'], ['new'], ['start'], ['send'], ['logs'], ['stop'], ['rm'], ['approvals'], ['approve'],
    ['token'], ['token', 'create'], ['token', 'ls'], ['token', 'revoke'],
    ['ws'], ['ws', 'ls'], ['wt'], ['wt', 'ls'], ['wt', 'new'], ['wt', 'rm'], ['wt', 'merge'], ['merge']];
  for (const c of cmds) {
    for (const flag of ['--help', '-h']) {
      const r = run(['--data-dir', '/nonexistent/agentd-help', ...c, flag]);
      assert.equal(r.status, 0, `${c.join(' ')} ${flag}: ${r.stderr}`);
      assert.equal(r.stderr, '');
      assert.match(r.stdout, new RegExp(`^Usage: agentd ${c[0]}`), c.join(' '));
      assert.match(r.stdout, /an id or a name .*Exit codes:/s, c.join(' '));
    }
  }
  assert.match(run(['logs', '--help']).stdout, /exiting when the run ends: 0 if it succeeded or was\s+stopped, 1 if it failed/);
});

// Issue #74: the README's `--worktree main` named nothing (a main worktree
// is named after its workspace). "main" names the main worktree of the one
// workspace; with two it is refused with both, as any shared name; a
// worktree really named main wins.
test('--worktree main is the main worktree of the only workspace', async (t) => {
  const d = await startApi();
  t.after(() => d.cleanup());
  const cli = (...args) => run(['--data-dir', d.dataDir, ...args]);
  const wsA = await d.req('POST', '/api/workspaces', { path: tmpRepo('solo-', d.dataDir), name: 'solo' });
  assert.equal(wsA.status, 201, JSON.stringify(wsA.body));
  const made = cli('new', '--worktree', 'main', '--name', 'onmain', '--', process.execPath, FAKE, 'echo');
  assert.equal(made.status, 0, made.stderr);
  const agent = (await d.req('GET', `/api/agents/${made.stdout.trim()}`)).body;
  assert.equal(agent.worktreeId, wsA.body.worktrees[0].id);

  const wsB = await d.req('POST', '/api/workspaces', { path: tmpRepo('second-', d.dataDir), name: 'second' });
  assert.equal(wsB.status, 201);
  const two = cli('new', '--worktree', 'main', '--name', 'which', '--', process.execPath, FAKE, 'echo');
  assert.equal(two.status, 2, two.stdout);
  assert.match(two.stderr, /2 worktrees are named main/);
  assert.ok(two.stderr.includes(wsA.body.worktrees[0].id) && two.stderr.includes(wsB.body.worktrees[0].id), two.stderr);
});
