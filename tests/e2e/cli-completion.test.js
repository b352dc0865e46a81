// SPDX-License-Identifier: MIT
// Shell completion completes names from the running daemon (issue #32,
// "shell completion for bash and zsh"; fish since #37): bash's script, run as bash runs
// it, offers the agents' names after logs/stop/..., the worktrees' after
// diff/merge/--worktree and the workspaces' after --workspace (a name with
// a space comes back quoted); zsh loads its script under compinit; and
// `completion names` lists live rows only, nothing without a daemon.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const daemon = require('./lib/daemon');
const { BIN, run, tmpRepo } = daemon;
const { startApi } = require('./lib/api');

test('completion offers agent, worktree and workspace names from the daemon', async (t) => {
  const d = await startApi();
  t.after(() => d.cleanup());
  const cli = (...args) => run(['--data-dir', d.dataDir, ...args]);
  const ws = await d.req('POST', '/api/workspaces', { path: tmpRepo('complete-', d.dataDir), name: 'shop' });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  const wt = ws.body.worktrees[0];
  for (const name of ['alpha', 'alpine', 'night owl', 'gone']) {
    const r = cli('new', '--worktree', wt.id, '--name', name, '--', 'true');
    assert.equal(r.status, 0, r.stderr);
  }
  assert.equal(cli('rm', 'gone').status, 0);

  const names = (kind) => cli('completion', 'names', kind);
  assert.deepEqual(names('agents').stdout.split('\n').filter(Boolean).sort(), ['alpha', 'alpine', 'night owl']);
  assert.ok(names('worktrees').stdout.split('\n').includes(wt.name), names('worktrees').stdout);
  assert.equal(names('workspaces').stdout, 'shop\n');
  assert.equal(names('bogus').status, 2);
  const none = run(['--data-dir', '/nonexistent/agentd-complete', 'completion', 'names', 'agents']);
  assert.notEqual(none.status, 0);
  assert.equal(none.stdout, '');

  const bash = cli('completion', 'bash').stdout;
  const env = { ...process.env, AGENTD_DATA_DIR: d.dataDir };
  const complete = (...words) => {
    const r = spawnSync('bash', ['-c', `${bash}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); ` +
      `COMP_CWORD=${words.length - 1}; _agentd; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8', env });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean).sort();
  };
  assert.deepEqual(complete(BIN, 'logs', 'al'), ['alpha', 'alpine']);
  assert.deepEqual(complete(BIN, 'stop', 'ni'), ['night\\ owl']);
  assert.deepEqual(complete(BIN, 'logs', '--u'), ['--until']); // options as before, no names
  assert.ok(complete(BIN, 'diff', '').includes(wt.name));
  assert.ok(complete(BIN, 'new', '--worktree', '').includes(wt.name));
  assert.deepEqual(complete(BIN, 'wt', 'ls', '--workspace', 's'), ['shop']);
  assert.deepEqual(complete(BIN, 'ls', 'al'), []); // ls takes no agent

  // fish (issue #37): the same names, asked of the daemon by the script
  const fishScript = cli('completion', 'fish').stdout;
  const fish = (line) => {
    const r = spawnSync('fish', ['--no-config', '-c', `${fishScript}\ncomplete -C '${line}'`], { encoding: 'utf8', env });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0]).sort();
  };
  if (spawnSync('fish', ['--version']).status === 0) {
    assert.deepEqual(fish(`${BIN} logs al`), ['alpha', 'alpine']);
    assert.deepEqual(fish(`${BIN} stop ni`), ['night owl']);
    assert.ok(fish(`${BIN} new --worktree `).includes(wt.name));
    assert.deepEqual(fish(`${BIN} wt ls --workspace s`), ['shop']);
  } else {
    t.diagnostic('fish is not installed (scripts/deps.sh installs it)');
  }

  const zsh = spawnSync('zsh', ['--version']);
  if (zsh.status !== 0) {
    t.diagnostic('zsh is not installed: its script is checked in cli-daily only by its text');
    return;
  }
  const script = cli('completion', 'zsh').stdout;
  assert.equal(spawnSync('zsh', ['-n'], { input: script }).status, 0, 'valid zsh');
  const loaded = spawnSync('zsh', ['-f', '-c', `autoload -Uz compinit && compinit -u -D && eval "$(cat)" && whence -w _agentd && echo \${_comps[agentd]}`],
    { input: script, encoding: 'utf8' });
  assert.equal(loaded.status, 0, loaded.stderr);
  assert.match(loaded.stdout, /_agentd: function\n_agentd\n/);
});
