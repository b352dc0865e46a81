// SPDX-License-Identifier: MIT
// Review and merge on real git repositories, over HTTP as a user would:
// a worktree remembers its base branch; its work is reviewed against the
// base (commits and uncommitted changes, ahead/behind); it is committed,
// merged (merge, squash, rebase), rebased, pushed to a bare remote; a
// conflict or a dirty target changes nothing; deleting refuses work first.
'use strict';

const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { run } = daemon;
const { git, makeRepo } = require('./lib/gitrepo');
const { Live } = require('./lib/live');
const { api } = require('./lib/api');

const FAKE = path.resolve(__dirname, '../fixtures/fake-agent.js');

async function withRepo(fn) {
  const { root, repo } = makeRepo();
  const d = await daemon.start({ needUrl: true });
  try {
    const r = await api(d, 'POST', '/api/workspaces', { path: repo });
    assert.strictEqual(r.status, 201, r.text);
    const ws = r.body;
    const newWt = async (name, extra = {}) => {
      const w = await api(d, 'POST', '/api/worktrees', { workspaceId: ws.id, name, createBranch: true, ...extra });
      assert.strictEqual(w.status, 201, w.text);
      return w.body;
    };
    await fn({ d, root, repo, ws, newWt });
  } finally {
    await d.cleanup();
  }
}

function write(dir, file, text) {
  fs.writeFileSync(path.join(dir, file), text);
}

const head = (dir, ref = 'HEAD') => git(dir, 'rev-parse', ref);

test('review against the base shows commits and uncommitted work; commit records it', async () => {
  await withRepo(async ({ d, repo, newWt }) => {
    const wt = await newWt('feat');
    assert.strictEqual(wt.baseBranch, 'main');
    write(wt.path, 'b.txt', 'bee\n');
    let r = await api(d, 'GET', `/api/worktrees/${wt.id}/status`);
    assert.deepStrictEqual(r.body.untrackedFiles, ['b.txt']);
    assert.deepStrictEqual(r.body.modifiedFiles, []);
    assert.strictEqual(r.body.untracked, 1);

    r = await api(d, 'POST', `/api/worktrees/${wt.id}/commit`, { message: 'add b' });
    assert.strictEqual(r.status, 409, r.text); // nothing staged
    assert.strictEqual(r.body.error.details.reason, 'nothing_to_commit');
    r = await api(d, 'POST', `/api/worktrees/${wt.id}/commit`, { message: '' });
    assert.strictEqual(r.status, 422, r.text);
    r = await api(d, 'POST', `/api/worktrees/${wt.id}/commit`, { message: 'add b', all: true });
    assert.strictEqual(r.status, 200, r.text);
    assert.deepStrictEqual(r.body.files, ['b.txt']);
    assert.strictEqual(r.body.commit, head(wt.path));
    assert.strictEqual(git(wt.path, 'log', '-1', '--format=%an %s'), 'Test add b');

    // Working changes (against HEAD) are empty now; against the base the
    // commit shows, and new uncommitted work joins it.
    r = await api(d, 'GET', `/api/worktrees/${wt.id}/diff`);
    assert.deepStrictEqual(r.body.files, []);
    write(wt.path, 'a.txt', 'one\ntwo\n');
    r = await api(d, 'GET', `/api/worktrees/${wt.id}/diff?against=base`);
    assert.strictEqual(r.status, 200, r.text);
    assert.strictEqual(r.body.against, 'main');
    assert.strictEqual(r.body.ahead, 1);
    assert.strictEqual(r.body.behind, 0);
    assert.strictEqual(r.body.uncommitted, 1);
    assert.strictEqual(r.body.mergeBase, head(repo));
    assert.deepStrictEqual(r.body.commits.map((c) => c.summary), ['add b']);
    const byPath = Object.fromEntries(r.body.files.map((f) => [f.path, f]));
    assert.deepStrictEqual(Object.keys(byPath).sort(), ['a.txt', 'b.txt']);
    assert.strictEqual(byPath['b.txt'].status, 'added');
    assert.strictEqual(byPath['b.txt'].insertions, 1);
    assert.strictEqual(byPath['a.txt'].insertions, 1);
    r = await api(d, 'GET', `/api/worktrees/${wt.id}/diff?against=main&path=b.txt`);
    assert.strictEqual(r.status, 200, r.text);
    assert.match(r.body.patch, /\+bee/);
    // main moves on: behind counts it
    write(repo, 'm.txt', 'm\n');
    git(repo, 'add', 'm.txt');
    git(repo, 'commit', '-qm', 'main moves');
    r = await api(d, 'GET', `/api/worktrees/${wt.id}/diff?against=base`);
    assert.strictEqual(r.body.behind, 1);
    r = await api(d, 'GET', `/api/worktrees/${wt.id}/commits`);
    assert.strictEqual(r.status, 200, r.text);
    assert.deepStrictEqual(r.body.commits.map((c) => c.summary), ['add b']);
    assert.strictEqual(r.body.commits[0].author, 'Test');

    // Refs a user gives are refs, never options or revision syntax.
    for (const bad of ['--output=/tmp/x', '-x', 'a..b', 'main~1', 'main^', 'HEAD@{1}', 'a b']) {
      r = await api(d, 'GET', `/api/worktrees/${wt.id}/diff?against=${encodeURIComponent(bad)}`);
      assert.strictEqual(r.status, 422, `${bad}: ${r.text}`);
    }
    r = await api(d, 'GET', `/api/worktrees/${wt.id}/commits?against=nope`);
    assert.strictEqual(r.status, 422, r.text);
    assert.strictEqual(r.body.error.details.reason, 'unknown_ref');
    r = await api(d, 'GET', `/api/worktrees/${wt.id}/diff?against=main&path=../x`);
    assert.strictEqual(r.status, 422, r.text);
  });
});

test('merge: a merge commit into the checked-out base, refused while that worktree is dirty', async () => {
  await withRepo(async ({ d, repo, newWt }) => {
    const wt = await newWt('feat');
    write(wt.path, 'b.txt', 'bee\n');
    let r = await api(d, 'POST', `/api/worktrees/${wt.id}/commit`, { message: 'add b', all: true });
    assert.strictEqual(r.status, 200, r.text);
    const before = head(repo);

    write(repo, 'a.txt', 'local edit\n');
    r = await api(d, 'POST', `/api/worktrees/${wt.id}/merge`, {});
    assert.strictEqual(r.status, 409, r.text);
    assert.strictEqual(r.body.error.details.reason, 'target_dirty');
    assert.deepStrictEqual(r.body.error.details.changedFiles, ['a.txt']);
    assert.strictEqual(head(repo), before);
    assert.strictEqual(fs.readFileSync(path.join(repo, 'a.txt'), 'utf8'), 'local edit\n');
    git(repo, 'checkout', '--', 'a.txt');

    r = await api(d, 'POST', `/api/worktrees/${wt.id}/merge`, { strategy: 'octopus' });
    assert.strictEqual(r.status, 422, r.text);
    r = await api(d, 'POST', `/api/worktrees/${wt.id}/merge`, { into: '--upload-pack=x' });
    assert.strictEqual(r.status, 422, r.text);

    const live = await Live.open(d);
    live.send('subscribe', { topics: [`worktree:${wt.id}`, 'workspace:*'] });
    await live.next('subscribed');
    r = await api(d, 'POST', `/api/worktrees/${wt.id}/merge`, { strategy: 'merge' });
    assert.strictEqual(r.status, 200, r.text);
    // Live: the merged worktree and the one whose branch moved say so.
    await live.until(() => live.events.some((e) => e.type === 'worktree_updated' && e.payload.change === 'merge'), 10000, 'merge event');
    await live.until(() => live.events.some((e) => e.type === 'worktree_updated' && e.payload.change === 'merged_into'), 10000, 'merged_into event');
    const ev = live.events.find((e) => e.payload.change === 'merge');
    assert.strictEqual(ev.payload.id, wt.id);
    assert.strictEqual(ev.payload.git.commit, r.body.commit);
    live.close();
    assert.strictEqual(r.body.merged, true);
    assert.strictEqual(r.body.into, 'main');
    assert.strictEqual(r.body.targetWorktree, repo);
    assert.strictEqual(head(repo), r.body.commit);
    assert.strictEqual(git(repo, 'log', '-1', '--format=%p').split(' ').length, 2);
    assert.strictEqual(git(repo, 'log', '-1', '--format=%s'), "Merge branch 'feat' into main");
    assert.strictEqual(fs.readFileSync(path.join(repo, 'b.txt'), 'utf8'), 'bee\n');
    assert.strictEqual(git(repo, 'status', '--porcelain'), '');

    r = await api(d, 'POST', `/api/worktrees/${wt.id}/merge`, {});
    assert.strictEqual(r.status, 200, r.text);
    assert.strictEqual(r.body.upToDate, true);
    assert.strictEqual(r.body.merged, false);
    r = await api(d, 'GET', `/api/worktrees/${wt.id}/diff?against=base`);
    assert.strictEqual(r.body.ahead, 0);
    assert.deepStrictEqual(r.body.files, []);

    // Uncommitted work in the merged worktree is refused, not left behind.
    write(wt.path, 'b.txt', 'changed\n');
    r = await api(d, 'POST', `/api/worktrees/${wt.id}/merge`, {});
    assert.strictEqual(r.status, 409, r.text);
    assert.strictEqual(r.body.error.details.reason, 'uncommitted');
  });
});

test('squash merges into a branch that is checked out nowhere', async () => {
  await withRepo(async ({ d, repo, newWt }) => {
    git(repo, 'branch', 'release');
    const wt = await newWt('sq', { base: 'release' });
    assert.strictEqual(wt.baseBranch, 'release');
    let p = await api(d, 'PATCH', `/api/worktrees/${wt.id}`, { baseBranch: '-bad' });
    assert.strictEqual(p.status, 422, p.text);
    p = await api(d, 'PATCH', `/api/worktrees/${wt.id}`, { baseBranch: 'main' });
    assert.strictEqual(p.body.baseBranch, 'main');
    p = await api(d, 'PATCH', `/api/worktrees/${wt.id}`, { baseBranch: 'release' });
    assert.strictEqual(p.body.baseBranch, 'release');
    for (const f of ['x.txt', 'y.txt']) {
      write(wt.path, f, `${f}\n`);
      const r = await api(d, 'POST', `/api/worktrees/${wt.id}/commit`, { message: `add ${f}`, all: true });
      assert.strictEqual(r.status, 200, r.text);
    }
    const mainBefore = head(repo);
    const r = await api(d, 'POST', `/api/worktrees/${wt.id}/merge`, { strategy: 'squash', message: 'sq: x and y' });
    assert.strictEqual(r.status, 200, r.text);
    assert.strictEqual(r.body.targetWorktree, null);
    assert.strictEqual(head(repo, 'release'), r.body.commit);
    assert.strictEqual(git(repo, 'log', '-1', '--format=%p %s', 'release'), `${mainBefore.slice(0, 7)} sq: x and y`);
    assert.strictEqual(git(repo, 'show', 'release:y.txt'), 'y.txt');
    assert.strictEqual(head(repo), mainBefore, 'main did not move');
  });
});

test('rebase and merge --rebase; a conflict is a 409 with the files and changes nothing', async () => {
  await withRepo(async ({ d, repo, newWt }) => {
    const clean = await newWt('clean');
    const clash = await newWt('clash');
    write(clean.path, 'c.txt', 'see\n');
    let r = await api(d, 'POST', `/api/worktrees/${clean.id}/commit`, { message: 'add c', all: true });
    write(clash.path, 'a.txt', 'theirs\n');
    r = await api(d, 'POST', `/api/worktrees/${clash.id}/commit`, { message: 'edit a', all: true });
    assert.strictEqual(r.status, 200, r.text);
    write(repo, 'a.txt', 'ours\n');
    write(repo, 'd.txt', 'dee\n');
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'main edits a, adds d');
    const mainTip = head(repo);

    // conflict: rebase, merge and squash all refuse and change nothing
    const clashTip = head(clash.path);
    r = await api(d, 'POST', `/api/worktrees/${clash.id}/rebase`, {});
    assert.strictEqual(r.status, 409, r.text);
    assert.strictEqual(r.body.error.details.reason, 'conflicts');
    assert.deepStrictEqual(r.body.error.details.conflicts, ['a.txt']);
    for (const strategy of ['merge', 'squash', 'rebase']) {
      r = await api(d, 'POST', `/api/worktrees/${clash.id}/merge`, { strategy });
      assert.strictEqual(r.status, 409, `${strategy}: ${r.text}`);
      assert.deepStrictEqual(r.body.error.details.conflicts, ['a.txt']);
    }
    assert.strictEqual(head(clash.path), clashTip);
    assert.strictEqual(head(repo), mainTip);
    assert.strictEqual(git(clash.path, 'status', '--porcelain'), '');
    assert.strictEqual(git(repo, 'status', '--porcelain'), '');
    assert.strictEqual(fs.readFileSync(path.join(repo, 'a.txt'), 'utf8'), 'ours\n');

    // no conflict: the branch is replayed on main, its worktree follows
    r = await api(d, 'POST', `/api/worktrees/${clean.id}/rebase`, { onto: 'main' });
    assert.strictEqual(r.status, 200, r.text);
    assert.strictEqual(r.body.rebased, true);
    assert.strictEqual(head(clean.path), r.body.commit);
    assert.strictEqual(head(clean.path, 'HEAD~1'), mainTip);
    assert.ok(fs.existsSync(path.join(clean.path, 'd.txt')));
    assert.strictEqual(git(clean.path, 'status', '--porcelain'), '');
    r = await api(d, 'GET', `/api/worktrees/${clean.id}/diff?against=base`);
    assert.strictEqual(r.body.behind, 0);
    assert.strictEqual(r.body.ahead, 1);
    r = await api(d, 'POST', `/api/worktrees/${clean.id}/rebase`, {});
    assert.strictEqual(r.body.upToDate, true);

    // merge --rebase fast-forwards main to the rebased branch
    write(repo, 'e.txt', 'e\n');
    git(repo, 'add', 'e.txt');
    git(repo, 'commit', '-qm', 'main adds e');
    r = await api(d, 'POST', `/api/worktrees/${clean.id}/merge`, { strategy: 'rebase' });
    assert.strictEqual(r.status, 200, r.text);
    assert.strictEqual(head(repo), head(clean.path));
    assert.strictEqual(head(repo, 'HEAD~1'), head(repo, 'main~1'));
    assert.strictEqual(git(repo, 'log', '-1', '--format=%s'), 'add c');
    assert.ok(fs.existsSync(path.join(repo, 'c.txt')));
    assert.strictEqual(git(repo, 'status', '--porcelain'), '');
  });
});

test('push sends the branch to a bare remote and sets its upstream', async () => {
  await withRepo(async ({ d, root, repo, newWt }) => {
    const wt = await newWt('pushme');
    write(wt.path, 'p.txt', 'p\n');
    let r = await api(d, 'POST', `/api/worktrees/${wt.id}/commit`, { message: 'add p', all: true });
    r = await api(d, 'POST', `/api/worktrees/${wt.id}/push`, {});
    assert.strictEqual(r.status, 409, r.text);
    assert.strictEqual(r.body.error.details.reason, 'no_remote');

    git(root, 'init', '-q', '--bare', 'remote.git');
    git(repo, 'remote', 'add', 'origin', path.join(root, 'remote.git'));
    for (const remote of ['--upload-pack=touch /tmp/x', '-x', 'ext::sh -c id', 'nope']) {
      r = await api(d, 'POST', `/api/worktrees/${wt.id}/push`, { remote });
      assert.strictEqual(r.status, 422, `${remote}: ${r.text}`);
    }
    r = await api(d, 'POST', `/api/worktrees/${wt.id}/push`, {});
    assert.strictEqual(r.status, 200, r.text);
    assert.strictEqual(r.body.remote, 'origin');
    assert.strictEqual(r.body.branch, 'pushme');
    assert.strictEqual(git(path.join(root, 'remote.git'), 'rev-parse', 'pushme'), head(wt.path));
    r = await api(d, 'GET', `/api/worktrees/${wt.id}/status`);
    assert.strictEqual(r.body.compareKind, 'upstream');
    assert.strictEqual(r.body.ahead, 0);
    r = await api(d, 'GET', `/api/worktrees/${wt.id}/commits?against=origin/pushme`);
    assert.deepStrictEqual(r.body.commits, []);

    // The remote moved on: a non-fast-forward push is refused with git's words.
    const other = path.join(root, 'other');
    git(root, 'clone', '-q', '-b', 'pushme', path.join(root, 'remote.git'), 'other');
    git(other, '-c', 'user.name=o', '-c', 'user.email=o@e', 'commit', '-q', '--allow-empty', '-m', 'theirs');
    git(other, 'push', '-q', 'origin', 'pushme');
    write(wt.path, 'q.txt', 'q\n');
    r = await api(d, 'POST', `/api/worktrees/${wt.id}/commit`, { message: 'add q', all: true });
    r = await api(d, 'POST', `/api/worktrees/${wt.id}/push`, {});
    assert.strictEqual(r.status, 409, r.text);
    assert.strictEqual(r.body.error.details.reason, 'push_failed');
    assert.match(r.body.error.details.output, /rejected/);
    git(wt.path, 'pull', '-q', '--no-rebase', '--no-edit', 'origin', 'pushme');
    r = await api(d, 'POST', `/api/worktrees/${wt.id}/push`, { remote: 'origin' });
    assert.strictEqual(r.status, 200, r.text);
    // pushed work is not "unpushed": the worktree can go without force
    r = await api(d, 'DELETE', `/api/worktrees/${wt.id}`);
    assert.strictEqual(r.status, 200, r.text);
  });
});

test('delete refuses uncommitted or unpushed work before it stops any agent', async () => {
  await withRepo(async ({ d, newWt }) => {
    const wt = await newWt('busy');
    let r = await api(d, 'POST', '/api/agents',
      { worktreeId: wt.id, name: 'a', executor: 'command', command: [process.execPath, FAKE, 'echo'] });
    assert.strictEqual(r.status, 201, r.text);
    const agent = r.body.agent || r.body;
    r = await api(d, 'POST', `/api/agents/${agent.id}/start`, {});
    assert.strictEqual(r.status, 200, r.text);
    const pid = (r.body.agent || r.body).pid;
    write(wt.path, 'wip.txt', 'wip\n');
    r = await api(d, 'DELETE', `/api/worktrees/${wt.id}?stop=true`);
    assert.strictEqual(r.status, 409, r.text);
    assert.strictEqual(r.body.error.details.reason, 'dirty');
    assert.deepStrictEqual(r.body.error.details.changedFiles, ['wip.txt']);
    r = await api(d, 'GET', `/api/agents/${agent.id}`);
    assert.strictEqual((r.body.agent || r.body).status, 'running', 'the agent was not stopped');
    process.kill(pid, 0); // still alive

    r = await api(d, 'POST', `/api/worktrees/${wt.id}/commit`, { message: 'wip', all: true });
    assert.strictEqual(r.status, 200, r.text);
    r = await api(d, 'DELETE', `/api/worktrees/${wt.id}?stop=true`);
    assert.strictEqual(r.status, 409, r.text);
    assert.strictEqual(r.body.error.details.reason, 'unpushed');
    assert.strictEqual(r.body.error.details.unpushedCommits, 1);
    process.kill(pid, 0);

    r = await api(d, 'DELETE', `/api/worktrees/${wt.id}?force=true&stop=true`);
    assert.strictEqual(r.status, 200, r.text);
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
  });
});

test('CLI: ws ls, wt ls/new/rm, merge with names, refusals with their files, --help', async () => {
  await withRepo(async ({ d, repo, ws }) => {
    const cli = (...args) => run(['--data-dir', d.dataDir, ...args]);
    for (const args of [['wt', '--help'], ['ws', '--help'], ['merge', '--help'], ['wt', 'merge', '--help']]) {
      const r = cli(...args);
      assert.equal(r.status, 0, `${args}: ${r.stderr}`);
      assert.match(r.stdout, /^Usage: agentd (wt|ws|merge)/);
    }
    let r = cli('ws', 'ls');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`${ws.id} +repo +${repo}`));
    r = cli('wt', 'new', '--workspace', 'repo', 'cli-wt');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /branch cli-wt from main/);
    const wtPath = r.stdout.split(' ')[1];
    r = cli('wt', 'ls', '--workspace', ws.id);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /cli-wt +cli-wt +main /);
    const listed = JSON.parse(cli('wt', 'ls', '--json').stdout).worktrees;
    assert.equal(listed.length, 2);

    write(wtPath, 'a.txt', 'cli side\n');
    r = cli('wt', 'rm', 'cli-wt');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /changed file/);
    assert.match(r.stderr, /changed: +a\.txt/);
    git(wtPath, 'commit', '-qam', 'cli edit');
    write(repo, 'a.txt', 'main side\n');
    git(repo, 'commit', '-qam', 'main edit');
    r = cli('merge', 'cli-wt');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /conflict: +a\.txt/);
    r = cli('merge', 'nope');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no worktree named nope/);
    git(repo, 'reset', '-q', '--hard', 'HEAD~1');
    r = cli('wt', 'merge', 'cli-wt', '--strategy', 'squash');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /merged cli-wt into main \(squash\)/);
    assert.equal(fs.readFileSync(path.join(repo, 'a.txt'), 'utf8'), 'cli side\n');
    r = cli('wt', 'rm', '--force', 'cli-wt');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /deleted/);
  });
});
