// SPDX-License-Identifier: MIT
// Real git repositories for the end-to-end tests, made with the git CLI in a
// temporary folder: user.name/email set in each repository's config, no
// system or global configuration read.
'use strict';

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { tmpDir } = require('./daemon');

const GIT_ENV = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };

// Runs git in cwd and returns its stdout (trimmed).
function git(cwd, ...args) {
  return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8', maxBuffer: 64 << 20 })
    .trim();
}

// Makes <tmp>/repo with one commit on main (a.txt). Returns {root, repo}.
function makeRepo(prefix = 'agentd-git-e2e-') {
  const root = fs.realpathSync(tmpDir(prefix));
  const repo = path.join(root, 'repo');
  git(root, 'init', '-q', '-b', 'main', 'repo');
  git(repo, 'config', 'user.name', 'Test');
  git(repo, 'config', 'user.email', 'test@example.com');
  fs.writeFileSync(path.join(repo, 'a.txt'), 'one\n');
  git(repo, 'add', 'a.txt');
  git(repo, 'commit', '-qm', 'init');
  return { root, repo };
}

module.exports = { git, makeRepo, GIT_ENV };
