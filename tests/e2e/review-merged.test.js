// SPDX-License-Identifier: MIT
// Review that remembers (issue #32): after agentd's own squash the worktree's
// branch still counts "1 ahead" of its base by git's graph, yet it reads
// merged (the merge is recorded: what, how, into what, when) and
// `agentd wt rm` removes it without --force. A squash landed elsewhere, with
// the git CLI on the base branch, is found by its tree. Unmerged work is
// still refused.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { run } = require('./lib/daemon');
const { startApi } = require('./lib/api');
const { git, makeRepo } = require('./lib/gitrepo');

async function setup(t) {
  const { repo } = makeRepo();
  const d = await startApi();
  t.after(() => d.cleanup());
  const ws = await d.req('POST', '/api/workspaces', { path: repo });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  const cli = (...args) => run(['--data-dir', d.dataDir, ...args]);
  const newWt = async (name) => {
    const w = await d.req('POST', '/api/worktrees', { workspaceId: ws.body.id, name, createBranch: true });
    assert.equal(w.status, 201, JSON.stringify(w.body));
    return w.body;
  };
  const commit = (dir, file, text, msg) => {
    fs.writeFileSync(path.join(dir, file), text);
    git(dir, 'add', file);
    git(dir, 'commit', '-qm', msg);
  };
  return { d, repo, cli, newWt, commit };
}

test('a squash through agentd is recorded: the worktree reads merged and wt rm needs no force', async (t) => {
  const { d, repo, cli, newWt, commit } = await setup(t);
  const wt = await newWt('feat');
  commit(wt.path, 'f.txt', 'feature\n', 'feature');
  // The base moves on after the fork, so the squash commit's tree is not
  // the worktree's: only the record can tell it merged.
  commit(repo, 'm.txt', 'main\n', 'main moves');

  let r = await d.req('GET', `/api/worktrees/${wt.id}/diff?against=base`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.merged, { merged: false });

  r = await d.req('POST', `/api/worktrees/${wt.id}/merge`, { strategy: 'squash' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.head, git(wt.path, 'rev-parse', 'HEAD'));
  assert.equal(r.body.record.strategy, 'squash');
  assert.equal(r.body.record.into, 'main');

  r = await d.req('GET', `/api/worktrees/${wt.id}/diff?against=base`);
  assert.equal(r.status, 200);
  assert.equal(r.body.ahead, 1); // git's count is unchanged ...
  assert.equal(r.body.behind, 2);
  assert.equal(r.body.merged.merged, true); // ... but it reads merged
  assert.equal(r.body.merged.how, 'recorded');
  assert.equal(r.body.merged.record.strategy, 'squash');
  assert.equal(r.body.merged.record.commit, git(repo, 'rev-parse', 'main'));
  assert.match(r.body.merged.record.createdAt, /^\d{4}-\d\d-\d\dT/);

  const merges = await d.req('GET', `/api/worktrees/${wt.id}/merges`);
  assert.equal(merges.status, 200);
  assert.equal(merges.body.merges.length, 1);
  assert.equal(merges.body.merges[0].branch, 'feat');
  assert.equal((await d.req('GET', '/api/worktrees/wt_nope/merges')).status, 404);

  // New work after the merge is unmerged again.
  commit(wt.path, 'g.txt', 'more\n', 'more');
  r = await d.req('GET', `/api/worktrees/${wt.id}/diff?against=base`);
  assert.equal(r.body.merged.merged, false);
  let rm = cli('wt', 'rm', 'feat');
  assert.equal(rm.status, 1, rm.stdout);
  assert.match(rm.stderr, /not on main/);
  git(wt.path, 'reset', '-q', '--hard', 'HEAD~1');

  rm = cli('wt', 'rm', 'feat');
  assert.equal(rm.status, 0, rm.stderr);
  assert.match(rm.stdout, /deleted/);
  assert.equal(fs.existsSync(wt.path), false);
  assert.equal((await d.req('GET', `/api/worktrees/${wt.id}`)).status, 404);
});

test('a squash landed elsewhere with git is detected by its tree', async (t) => {
  const { d, repo, cli, newWt, commit } = await setup(t);
  const wt = await newWt('side');
  commit(wt.path, 's.txt', 'side\n', 'side one');
  commit(wt.path, 's.txt', 'side two\n', 'side two');
  const other = await newWt('other');
  commit(other.path, 'o.txt', 'other\n', 'other');

  // Unmerged: refused without force, and the message says how to force.
  let rm = cli('wt', 'rm', 'side');
  assert.equal(rm.status, 1);
  assert.match(rm.stderr, /--force/);

  git(repo, 'merge', '--squash', '-q', 'side');
  git(repo, 'commit', '-qm', 'squashed side by hand');
  let r = await d.req('GET', `/api/worktrees/${wt.id}/diff?against=base`);
  assert.equal(r.status, 200);
  assert.equal(r.body.ahead, 2);
  const squash = git(repo, 'rev-parse', 'main');
  assert.equal(r.body.merged.merged, true);
  assert.equal(r.body.merged.how, 'tree');
  assert.equal(r.body.merged.commit, squash);
  // Found by its tree, it is recorded like agentd's own merges: what, how,
  // into what, when; and only once.
  assert.equal(r.body.merged.record.strategy, 'tree');
  assert.equal(r.body.merged.record.into, 'main');
  assert.equal(r.body.merged.record.branch, 'side');
  assert.equal(r.body.merged.record.head, git(wt.path, 'rev-parse', 'HEAD'));
  assert.equal(r.body.merged.record.commit, squash);
  r = await d.req('GET', `/api/worktrees/${wt.id}/diff?against=base`);
  assert.equal(r.body.merged.how, 'recorded');
  assert.equal(r.body.merged.record.strategy, 'tree');
  assert.match(r.body.merged.record.createdAt, /^\d{4}-\d\d-\d\dT/);
  const merges = await d.req('GET', `/api/worktrees/${wt.id}/merges`);
  assert.equal(merges.body.merges.length, 1);
  assert.equal(merges.body.merges[0].strategy, 'tree');
  // Found on a ref typed for a look (not the base): shown, not recorded.
  const side2 = await newWt('side2');
  commit(side2.path, 't.txt', 'two\n', 'side2 work');
  git(repo, 'checkout', '-q', '-b', 'scratch');
  git(repo, 'merge', '--squash', '-q', 'side2');
  git(repo, 'commit', '-qm', 'squashed side2 on scratch');
  git(repo, 'checkout', '-q', 'main');
  r = await d.req('GET', `/api/worktrees/${side2.id}/diff?against=scratch`);
  assert.equal(r.body.merged.how, 'tree');
  assert.equal(r.body.merged.record, undefined);
  assert.deepEqual((await d.req('GET', `/api/worktrees/${side2.id}/merges`)).body.merges, []);
  // The other worktree's work is not found on main: nothing recorded.
  r = await d.req('GET', `/api/worktrees/${other.id}/diff?against=base`);
  assert.equal(r.body.merged.merged, false);
  assert.deepEqual((await d.req('GET', `/api/worktrees/${other.id}/merges`)).body.merges, []);

  rm = cli('wt', 'rm', 'side');
  assert.equal(rm.status, 0, rm.stderr);
  // The other worktree's work is not on main: still refused.
  rm = cli('wt', 'rm', 'other');
  assert.equal(rm.status, 1);
  assert.ok(fs.existsSync(other.path));
});
