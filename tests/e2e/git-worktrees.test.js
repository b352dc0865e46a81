// SPDX-License-Identifier: MIT
// Workspaces and worktrees on real git repositories, driven over HTTP like a
// user would: discovery of worktrees made by the git CLI, create, delete,
// checkout, branches, status, diff, setup, the refusals that protect
// uncommitted work, validation, and worktrees changed behind agentd's back.
'use strict';

const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { execFileSync } = require('node:child_process');
const { git, makeRepo } = require('./lib/gitrepo');
const { api, until } = require('./lib/api');

async function withDaemon(opts, fn) {
  const d = await daemon.start({ needUrl: true, ...opts });
  try {
    await fn(d);
  } finally {
    await d.cleanup();
  }
}

test('a workspace accepts only a git work tree and finds the CLI\'s worktrees', async () => {
  const { root, repo } = makeRepo();
  git(repo, 'worktree', 'add', '-q', '-b', 'feature', path.join(root, 'feature-wt'));
  git(repo, 'worktree', 'add', '-q', '--detach', path.join(root, 'detached-wt'));
  fs.mkdirSync(path.join(root, 'plain'));
  git(root, 'init', '-q', '--bare', 'bare.git');
  fs.mkdirSync(path.join(repo, 'sub'));

  await withDaemon({}, async (d) => {
    const refusals = [
      [path.join(root, 'nope'), 'not_found', /no such folder/],
      [path.join(root, 'plain'), 'not_a_repository', /not a git repository/],
      [path.join(root, 'bare.git'), 'bare_repository', /bare repository/],
      [path.join(repo, 'sub'), 'not_a_repository', /inside the git work tree/],
      ['relative/path', 'invalid_path', /absolute/],
    ];
    for (const [p, reason, msg] of refusals) {
      const r = await api(d, 'POST', '/api/workspaces', { path: p });
      assert.strictEqual(r.status, 422, `${p}: ${r.text}`);
      assert.strictEqual(r.body.error.code, 'VALIDATION_ERROR');
      assert.strictEqual(r.body.error.details.reason, reason);
      assert.match(r.body.error.message, msg);
    }
    assert.strictEqual((await api(d, 'POST', '/api/workspaces', {})).status, 422);

    const r = await api(d, 'POST', '/api/workspaces', { path: repo + '/', name: 'My repo' });
    assert.strictEqual(r.status, 201, r.text);
    const ws = r.body;
    assert.match(ws.id, /^ws_/);
    assert.strictEqual(ws.name, 'My repo');
    assert.strictEqual(ws.path, repo);
    assert.strictEqual(ws.worktrees.length, 3);
    const main = ws.worktrees.find((w) => w.isMain);
    assert.strictEqual(main.path, repo);
    assert.strictEqual(main.branch, 'main');
    const feat = ws.worktrees.find((w) => w.path === path.join(root, 'feature-wt'));
    assert.ok(feat, JSON.stringify(ws.worktrees));
    assert.strictEqual(feat.branch, 'feature');
    assert.strictEqual(feat.isMain, false);
    const det = ws.worktrees.find((w) => w.path === path.join(root, 'detached-wt'));
    assert.strictEqual(det.branch, '');

    // The same repository, even through a linked worktree, is a conflict.
    const again = await api(d, 'POST', '/api/workspaces', { path: path.join(root, 'feature-wt') });
    assert.strictEqual(again.status, 409, again.text);
  });
});

async function setup(d) {
  const fx = makeRepo();
  const r = await api(d, 'POST', '/api/workspaces', { path: fx.repo });
  assert.strictEqual(r.status, 201, r.text);
  return { ...fx, ws: r.body, main: r.body.worktrees[0] };
}

test('worktrees are created beside the repository, on new or existing branches', async () => {
  await withDaemon({}, async (d) => {
    const { root, repo, ws } = await setup(d);
    fs.writeFileSync(path.join(repo, 'b.txt'), 'two\n');
    git(repo, 'add', 'b.txt');
    git(repo, 'commit', '-qm', 'second');
    git(repo, 'branch', 'existing', 'HEAD~1');

    let r = await api(d, 'POST', '/api/worktrees',
      { workspaceId: ws.id, name: 'fix-1', branch: 'agent/fix-1', createBranch: true });
    assert.strictEqual(r.status, 201, r.text);
    const wt = r.body;
    assert.match(wt.id, /^wt_/);
    assert.strictEqual(wt.path, path.join(root, 'repo.worktrees', 'fix-1'));
    assert.strictEqual(wt.branch, 'agent/fix-1');
    assert.strictEqual(wt.branchCreated, true);
    assert.ok(fs.existsSync(path.join(wt.path, 'b.txt')));
    assert.strictEqual(git(wt.path, 'rev-parse', '--abbrev-ref', 'HEAD'), 'agent/fix-1');
    assert.strictEqual(git(wt.path, 'status', '--porcelain'), '');

    r = await api(d, 'POST', '/api/worktrees',
      { workspaceId: ws.id, name: 'old', branch: 'existing' });
    assert.strictEqual(r.status, 201, r.text);
    assert.strictEqual(r.body.branchCreated, false);
    assert.ok(!fs.existsSync(path.join(r.body.path, 'b.txt')));

    r = await api(d, 'POST', '/api/worktrees',
      { workspaceId: ws.id, name: 'based', branch: 'from-base', base: 'HEAD~1' });
    assert.strictEqual(r.status, 201, r.text);
    assert.strictEqual(git(r.body.path, 'rev-parse', 'HEAD'), git(repo, 'rev-parse', 'HEAD~1'));

    assert.strictEqual(git(repo, 'worktree', 'list').split('\n').length, 4);
  });
});

test('worktree names and branches are validated; conflicts are refused', async () => {
  await withDaemon({}, async (d) => {
    const { root, ws } = await setup(d);
    const bad = [
      [{ name: '../escape', branch: 'x', createBranch: true }, 'name'],
      [{ name: 'a/b', branch: 'x', createBranch: true }, 'name'],
      [{ name: '.hidden', branch: 'x', createBranch: true }, 'name'],
      [{ name: 'ok', branch: 'bad..branch', createBranch: true }, 'branch'],
      [{ name: 'ok', branch: 'has space', createBranch: true }, 'branch'],
      [{ name: 'ok', branch: 'x.lock', createBranch: true }, 'branch'],
      [{ name: 'ok', branch: '-x', createBranch: true }, 'branch'],
    ];
    for (const [body, field] of bad) {
      const r = await api(d, 'POST', '/api/worktrees', { workspaceId: ws.id, ...body });
      assert.strictEqual(r.status, 422, JSON.stringify(body) + r.text);
      assert.strictEqual(r.body.error.details.field, field);
    }
    assert.ok(!fs.existsSync(path.join(root, 'escape')));
    assert.ok(!fs.existsSync(path.join(root, 'repo.worktrees')));

    let r = await api(d, 'POST', '/api/worktrees',
      { workspaceId: 'ws_01m7zv3ggs9hwpwfhvhn0tr31d', name: 'x', branch: 'x', createBranch: true });
    assert.strictEqual(r.status, 404, r.text);
    r = await api(d, 'POST', '/api/worktrees', { workspaceId: ws.id, name: 'm', branch: 'main' });
    assert.strictEqual(r.status, 409, r.text);
    assert.strictEqual(r.body.error.details.reason, 'branch_checked_out');
    r = await api(d, 'POST', '/api/worktrees',
      { workspaceId: ws.id, name: 'm', branch: 'main', createBranch: true });
    assert.strictEqual(r.status, 409, r.text);
    assert.strictEqual(r.body.error.details.reason, 'branch_exists');
    r = await api(d, 'POST', '/api/worktrees', { workspaceId: ws.id, name: 'm', branch: 'nosuch' });
    assert.strictEqual(r.status, 404, r.text);
    assert.strictEqual(r.body.error.details.reason, 'unknown_branch');
    r = await api(d, 'POST', '/api/worktrees',
      { workspaceId: ws.id, name: 'm', branch: 'nb', base: 'no-such-commit' });
    assert.strictEqual(r.status, 422, r.text);
    assert.strictEqual(r.body.error.details.reason, 'unknown_base');
    r = await api(d, 'POST', '/api/worktrees', { workspaceId: ws.id, name: 'dup', createBranch: true });
    assert.strictEqual(r.status, 201, r.text);
    assert.strictEqual(r.body.branch, 'dup');
    r = await api(d, 'POST', '/api/worktrees',
      { workspaceId: ws.id, name: 'dup', branch: 'other', createBranch: true });
    assert.strictEqual(r.status, 409, r.text);
    const bodyless = await d.fetch(d.url + '/api/worktrees',
      { method: 'POST', body: '{nope', headers: { 'content-type': 'application/json' } });
    assert.strictEqual(bodyless.status, 400);
    // Not said to be JSON: refused before it is read (no cross-site simple POST).
    const plain = await d.fetch(d.url + '/api/worktrees', { method: 'POST', body: '{nope' });
    assert.strictEqual(plain.status, 415);
  });
});

test('status, diff and branches show what an agent did', async () => {
  await withDaemon({}, async (d) => {
    const { repo, ws, main } = await setup(d);
    let r = await api(d, 'POST', '/api/worktrees',
      { workspaceId: ws.id, name: 'w', branch: 'w', createBranch: true });
    const wt = r.body;

    r = await api(d, 'GET', `/api/worktrees/${wt.id}/status`);
    assert.strictEqual(r.status, 200, r.text);
    assert.deepStrictEqual(
      [r.body.isClean, r.body.ahead, r.body.behind, r.body.modified, r.body.staged,
        r.body.untracked, r.body.conflicted],
      [true, 0, 0, 0, 0, 0, 0]);
    assert.strictEqual(r.body.compareKind, 'main');

    fs.writeFileSync(path.join(wt.path, 'a.txt'), 'one\nmore\n');
    fs.writeFileSync(path.join(wt.path, 'new.txt'), 'x\ny\n');
    fs.writeFileSync(path.join(wt.path, 'staged.txt'), 's\n');
    git(wt.path, 'add', 'staged.txt');
    r = await api(d, 'GET', `/api/worktrees/${wt.id}/status`);
    assert.strictEqual(r.body.isClean, false);
    assert.strictEqual(r.body.modified, 1);
    assert.strictEqual(r.body.staged, 1);
    assert.strictEqual(r.body.untracked, 1);
    assert.strictEqual(r.body.branch, 'w');

    r = await api(d, 'GET', `/api/worktrees/${wt.id}/diff`);
    assert.strictEqual(r.status, 200, r.text);
    const byPath = Object.fromEntries(r.body.files.map((f) => [f.path, f]));
    assert.deepStrictEqual(Object.keys(byPath).sort(), ['a.txt', 'new.txt', 'staged.txt']);
    assert.strictEqual(byPath['a.txt'].insertions, 1);
    assert.strictEqual(byPath['a.txt'].deletions, 0);
    assert.strictEqual(byPath['new.txt'].status, 'added');
    assert.strictEqual(byPath['new.txt'].untracked, true); // new and not staged: marked
    assert.strictEqual(byPath['staged.txt'].untracked, undefined);
    assert.strictEqual(byPath['new.txt'].insertions, 2);

    r = await api(d, 'GET', `/api/worktrees/${wt.id}/diff?path=a.txt`);
    assert.strictEqual(r.status, 200, r.text);
    assert.match(r.body.patch, /^\+more$/m);
    r = await api(d, 'GET', `/api/worktrees/${wt.id}/diff?path=..%2F..%2Fetc%2Fpasswd`);
    assert.strictEqual(r.status, 422, r.text);
    r = await api(d, 'GET', `/api/worktrees/${wt.id}/diff?path=unchanged.txt`);
    assert.strictEqual(r.status, 404, r.text);

    // Commits ahead of main, and main moving on, show as ahead/behind.
    git(wt.path, 'add', '-A');
    git(wt.path, 'commit', '-qm', 'agent work');
    fs.writeFileSync(path.join(repo, 'm.txt'), 'm\n');
    git(repo, 'add', 'm.txt');
    git(repo, 'commit', '-qm', 'main moves');
    r = await api(d, 'GET', `/api/worktrees/${wt.id}/status`);
    assert.strictEqual(r.body.ahead, 1);
    assert.strictEqual(r.body.behind, 1);
    assert.strictEqual(r.body.compareRef, 'main');

    git(repo, 'branch', 'feature/z');
    r = await api(d, 'GET', `/api/worktrees/${main.id}/branches`);
    assert.strictEqual(r.status, 200, r.text);
    assert.strictEqual(r.body.current, 'main');
    assert.deepStrictEqual(r.body.local.sort(), ['feature/z', 'main', 'w']);
    assert.deepStrictEqual(r.body.remote, []);

    assert.strictEqual((await api(d, 'GET', '/api/worktrees/wt_nope/status')).status, 404);
  });
});

test('checkout refuses a dirty tree and updates the branch', async () => {
  await withDaemon({}, async (d) => {
    const { repo, ws, main } = await setup(d);
    git(repo, 'branch', 'dev');
    fs.appendFileSync(path.join(repo, 'a.txt'), 'local edit\n');
    let r = await api(d, 'POST', `/api/worktrees/${main.id}/checkout`, { branch: 'dev' });
    assert.strictEqual(r.status, 409, r.text);
    assert.strictEqual(r.body.error.details.reason, 'dirty');
    assert.deepStrictEqual(r.body.error.details.changedFiles, ['a.txt']);
    assert.strictEqual(git(repo, 'rev-parse', '--abbrev-ref', 'HEAD'), 'main');
    assert.match(fs.readFileSync(path.join(repo, 'a.txt'), 'utf8'), /local edit/);

    git(repo, 'checkout', '--', 'a.txt');
    r = await api(d, 'POST', `/api/worktrees/${main.id}/checkout`, { branch: 'dev' });
    assert.strictEqual(r.status, 200, r.text);
    assert.strictEqual(r.body.worktree.branch, 'dev');
    assert.strictEqual(git(repo, 'rev-parse', '--abbrev-ref', 'HEAD'), 'dev');

    r = await api(d, 'POST', `/api/worktrees/${main.id}/checkout`, { branch: 'topic', create: true });
    assert.strictEqual(r.status, 200, r.text);
    assert.strictEqual(r.body.checkout.created, true);
    assert.strictEqual(git(repo, 'rev-parse', '--abbrev-ref', 'HEAD'), 'topic');

    r = await api(d, 'POST', `/api/worktrees/${main.id}/checkout`, { branch: 'no/such' });
    assert.strictEqual(r.status, 404, r.text);
    r = await api(d, 'POST', `/api/worktrees/${main.id}/checkout`, { branch: 'a..b' });
    assert.strictEqual(r.status, 422, r.text);
    r = await api(d, 'POST', `/api/worktrees/${main.id}/checkout`, {});
    assert.strictEqual(r.status, 422, r.text);
    const refreshed = await api(d, 'POST', `/api/workspaces/${ws.id}/refresh`);
    assert.strictEqual(refreshed.body.worktrees[0].branch, 'topic');
  });
});

test('delete refuses to lose work unless forced, and never deletes the main worktree', async () => {
  await withDaemon({}, async (d) => {
    const { repo, ws, main } = await setup(d);
    let r = await api(d, 'POST', '/api/worktrees',
      { workspaceId: ws.id, name: 'work', branch: 'work', createBranch: true });
    const wt = r.body;

    r = await api(d, 'DELETE', `/api/worktrees/${main.id}`);
    assert.strictEqual(r.status, 409, r.text);
    assert.strictEqual(r.body.error.details.reason, 'main_worktree');
    assert.ok(fs.existsSync(repo));

    fs.writeFileSync(path.join(wt.path, 'notes.txt'), 'uncommitted\n');
    fs.appendFileSync(path.join(wt.path, 'a.txt'), 'edit\n');
    r = await api(d, 'DELETE', `/api/worktrees/${wt.id}`);
    assert.strictEqual(r.status, 409, r.text);
    assert.strictEqual(r.body.error.details.reason, 'dirty');
    assert.deepStrictEqual(r.body.error.details.changedFiles.sort(), ['a.txt', 'notes.txt']);
    assert.ok(fs.existsSync(path.join(wt.path, 'notes.txt')));

    git(wt.path, 'add', '-A');
    git(wt.path, 'commit', '-qm', 'wip');
    r = await api(d, 'DELETE', `/api/worktrees/${wt.id}?force=false`);
    assert.strictEqual(r.status, 409, r.text);
    assert.strictEqual(r.body.error.details.reason, 'unpushed');
    assert.strictEqual(r.body.error.details.unpushedCommits, 1);

    r = await api(d, 'DELETE', `/api/worktrees/${wt.id}?force=true`);
    assert.strictEqual(r.status, 200, r.text);
    assert.strictEqual(r.body.deleted, true);
    assert.ok(!fs.existsSync(wt.path));
    assert.strictEqual(git(repo, 'worktree', 'list').split('\n').length, 1);
    // The branch, and so the committed work, stays.
    assert.match(git(repo, 'log', '--oneline', 'work'), /wip/);
    r = await api(d, 'DELETE', `/api/worktrees/${wt.id}`);
    assert.strictEqual(r.status, 404, r.text);

    // A clean worktree goes without force.
    r = await api(d, 'POST', '/api/worktrees',
      { workspaceId: ws.id, name: 'clean', branch: 'clean', createBranch: true });
    r = await api(d, 'DELETE', `/api/worktrees/${r.body.id}`);
    assert.strictEqual(r.status, 200, r.text);
  });
});

test('refresh picks up worktrees added and removed behind agentd\'s back', async () => {
  await withDaemon({}, async (d) => {
    const { root, repo, ws } = await setup(d);
    let r = await api(d, 'POST', '/api/worktrees',
      { workspaceId: ws.id, name: 'doomed', branch: 'doomed', createBranch: true });
    const doomed = r.body;
    git(repo, 'worktree', 'add', '-q', '-b', 'outside', path.join(root, 'outside'));
    fs.rmSync(doomed.path, { recursive: true, force: true });

    // Git work on a folder that is gone is a clear conflict, not a crash.
    r = await api(d, 'GET', `/api/worktrees/${doomed.id}/status`);
    assert.strictEqual(r.status, 409, r.text);
    assert.strictEqual(r.body.error.code, 'WORKTREE_MISSING');

    r = await api(d, 'POST', `/api/workspaces/${ws.id}/refresh`);
    assert.strictEqual(r.status, 200, r.text);
    const paths = r.body.worktrees.map((w) => w.path).sort();
    assert.deepStrictEqual(paths, [repo, path.join(root, 'outside')].sort());
    assert.strictEqual(r.body.changes.added.length, 1);
    assert.deepStrictEqual(r.body.changes.removed.map((w) => w.id), [doomed.id]);

    // Deleting the vanished one now just prunes git's record.
    git(repo, 'worktree', 'add', '-q', '-b', 'gone2', path.join(root, 'gone2'));
    r = await api(d, 'POST', `/api/workspaces/${ws.id}/refresh`);
    const gone2 = r.body.worktrees.find((w) => w.branch === 'gone2');
    fs.rmSync(gone2.path, { recursive: true, force: true });
    r = await api(d, 'DELETE', `/api/worktrees/${gone2.id}`);
    assert.strictEqual(r.status, 200, r.text);
    assert.strictEqual(r.body.git.pruned, true);
    assert.ok(!git(repo, 'worktree', 'list').includes('gone2'));

    r = await api(d, 'POST', '/api/workspaces/ws_01m7zv3ggs9hwpwfhvhn0tr31d/refresh');
    assert.strictEqual(r.status, 404, r.text);

    // The repository itself gone: refresh says so.
    fs.rmSync(path.join(repo, '.git'), { recursive: true, force: true });
    r = await api(d, 'POST', `/api/workspaces/${ws.id}/refresh`);
    assert.strictEqual(r.status, 409, r.text);
  });
});

test('a workspace\'s setup copies files and runs its command in new worktrees', async () => {
  await withDaemon({}, async (d) => {
    const { repo, ws } = await setup(d);
    fs.writeFileSync(path.join(repo, '.env'), 'SECRET=42\n');
    let r = await api(d, 'PUT', `/api/workspaces/${ws.id}/setup`,
      { setupFiles: ['../etc/passwd'] });
    assert.strictEqual(r.status, 422, r.text);
    r = await api(d, 'PUT', `/api/workspaces/${ws.id}/setup`,
      { setupFiles: ['.env', 'missing.txt'], setupCommand: 'cat .env; echo ran > ran.txt' });
    assert.strictEqual(r.status, 200, r.text);
    assert.deepStrictEqual(r.body.setupFiles, ['.env', 'missing.txt']);
    r = await api(d, 'GET', `/api/workspaces/${ws.id}/setup`);
    assert.strictEqual(r.body.setupCommand, 'cat .env; echo ran > ran.txt');

    // A command nobody approved is not run: the answer shows it, the
    // files are still copied.
    r = await api(d, 'POST', '/api/worktrees',
      { workspaceId: ws.id, name: 's1', branch: 's1', createBranch: true });
    assert.strictEqual(r.status, 201, r.text);
    assert.strictEqual(r.body.setup.state, 'running');
    assert.strictEqual(r.body.setupCommandNeedsApproval, true);
    assert.strictEqual(r.body.setupCommand, 'cat .env; echo ran > ran.txt');
    const wt = r.body;
    let outcome = await setupOutcome(d, wt.id);
    assert.strictEqual(outcome.state, 'succeeded', JSON.stringify(outcome));
    assert.strictEqual(outcome.commandNeedsApproval, true);
    assert.deepStrictEqual(outcome.copied, ['.env']);
    assert.deepStrictEqual(outcome.missing, ['missing.txt']);
    assert.ok(!fs.existsSync(path.join(wt.path, 'ran.txt')), 'an unapproved command ran');

    // Running it needs the approval said out loud.
    r = await api(d, 'POST', `/api/worktrees/${wt.id}/setup`, {});
    assert.strictEqual(r.status, 409, r.text);
    assert.strictEqual(r.body.error.code, 'SETUP_NOT_APPROVED');
    assert.strictEqual(r.body.error.details.setupCommand, 'cat .env; echo ran > ran.txt');
    r = await api(d, 'POST', `/api/worktrees/${wt.id}/setup`, { approve: true });
    assert.strictEqual(r.status, 202, r.text);
    outcome = await setupOutcome(d, wt.id);
    assert.strictEqual(outcome.state, 'succeeded', JSON.stringify(outcome));
    assert.strictEqual(outcome.exitCode, 0);
    assert.match(outcome.output, /SECRET=42/);
    assert.strictEqual(fs.readFileSync(path.join(wt.path, 'ran.txt'), 'utf8'), 'ran\n');
    // The copied file is untracked: the worktree is dirty on purpose.
    r = await api(d, 'GET', `/api/worktrees/${wt.id}/status`);
    assert.strictEqual(r.body.untracked, 2);
    r = await api(d, 'GET', `/api/workspaces/${ws.id}/setup`);
    assert.strictEqual(r.body.setupCommandApproved, true, r.text);

    // Approved: the next worktree runs it without asking.
    r = await api(d, 'POST', '/api/worktrees',
      { workspaceId: ws.id, name: 's2', branch: 's2', createBranch: true });
    assert.strictEqual(r.status, 201, r.text);
    assert.strictEqual(r.body.setupCommandNeedsApproval, undefined);
    outcome = await setupOutcome(d, r.body.id);
    assert.strictEqual(outcome.exitCode, 0, JSON.stringify(outcome));
    assert.ok(fs.existsSync(path.join(r.body.path, 'ran.txt')));

    // A changed command needs a new approval.
    r = await api(d, 'PUT', `/api/workspaces/${ws.id}/setup`,
      { setupFiles: ['.env'], setupCommand: 'echo changed > changed.txt' });
    assert.strictEqual(r.status, 200, r.text);
    r = await api(d, 'POST', '/api/worktrees',
      { workspaceId: ws.id, name: 's3', branch: 's3', createBranch: true });
    assert.strictEqual(r.body.setupCommandNeedsApproval, true, r.text);
    await setupOutcome(d, r.body.id);
    assert.ok(!fs.existsSync(path.join(r.body.path, 'changed.txt')));
    // runSetupCommand: true on create approves and runs it at once.
    r = await api(d, 'POST', '/api/worktrees',
      { workspaceId: ws.id, name: 's4', branch: 's4', createBranch: true, runSetupCommand: true });
    assert.strictEqual(r.status, 201, r.text);
    outcome = await setupOutcome(d, r.body.id);
    assert.strictEqual(outcome.exitCode, 0, JSON.stringify(outcome));
    assert.ok(fs.existsSync(path.join(r.body.path, 'changed.txt')));
  });
});

// Polls a worktree's setup until it is no longer running.
async function setupOutcome(d, id) {
  return until(async () => {
    const outcome = (await api(d, 'GET', `/api/worktrees/${id}/setup`)).body.setup;
    return outcome && outcome.state !== 'running' ? outcome : null;
  }, `the setup of ${id} to end`);
}

test('--worktree-base puts new worktrees under one folder', async () => {
  const base = fs.realpathSync(daemon.tmpDir('agentd-wtbase-'));
  await withDaemon({ env: { AGENTD_WORKTREE_BASE: base } }, async (d) => {
    const { ws } = await setup(d);
    const r = await api(d, 'POST', '/api/worktrees',
      { workspaceId: ws.id, name: 'b1', branch: 'b1', createBranch: true });
    assert.strictEqual(r.status, 201, r.text);
    assert.strictEqual(r.body.path, path.join(base, 'repo', 'b1'));
    assert.ok(fs.existsSync(path.join(base, 'repo', 'b1', 'a.txt')));
  });
});

test('agents of a worktree that vanished outside agentd are kept and flagged', async () => {
  await withDaemon({}, async (d) => {
    const { repo, ws } = await setup(d);
    let r = await api(d, 'POST', '/api/worktrees',
      { workspaceId: ws.id, name: 'used', branch: 'used', createBranch: true });
    const wt = r.body;
    r = await api(d, 'POST', '/api/agents', { worktreeId: wt.id, name: 'helper' });
    assert.strictEqual(r.status, 201, r.text);
    const agent = r.body.agent || r.body;
    git(repo, 'worktree', 'remove', '--force', wt.path);

    r = await api(d, 'POST', `/api/workspaces/${ws.id}/refresh`);
    assert.strictEqual(r.status, 200, r.text);
    assert.deepStrictEqual(r.body.changes.vanished, [wt.id]);
    assert.deepStrictEqual(r.body.changes.flaggedAgents, [agent.id]);
    const row = r.body.worktrees.find((w) => w.id === wt.id);
    assert.ok(row && row.vanishedAt, JSON.stringify(r.body.worktrees));

    r = await api(d, 'GET', `/api/agents/${agent.id}`);
    assert.strictEqual(r.status, 200, r.text);
    assert.ok((r.body.agent || r.body).worktreeVanishedAt, r.text);
    r = await api(d, 'GET', `/api/worktrees/${wt.id}`);
    assert.ok(r.body.vanishedAt, r.text);

    // The worktree comes back at the same place: the flags go.
    git(repo, 'worktree', 'add', '-q', wt.path, 'used');
    r = await api(d, 'POST', `/api/workspaces/${ws.id}/refresh`);
    assert.deepStrictEqual(r.body.changes.restored, [wt.id]);
    r = await api(d, 'GET', `/api/agents/${agent.id}`);
    assert.strictEqual((r.body.agent || r.body).worktreeVanishedAt, undefined, r.text);
  });
});

test('a running setup command does not hold up shutdown', async () => {
  const d = await daemon.start({ needUrl: true });
  try {
    const { ws } = await setup(d);
    let r = await api(d, 'PUT', `/api/workspaces/${ws.id}/setup`,
      { setupCommand: 'echo started; sleep 120' });
    assert.strictEqual(r.status, 200, r.text);
    r = await api(d, 'POST', '/api/worktrees',
      { workspaceId: ws.id, name: 'slow', branch: 'slow', createBranch: true, runSetupCommand: true });
    assert.strictEqual(r.status, 201, r.text);
    assert.strictEqual(r.body.setup.state, 'running');
    // SIGTERM; the helper would SIGKILL after 30 s. A clean exit shows the
    // setup was stopped rather than waited for.
    const exit = await d.stop('SIGTERM', 30000);
    assert.deepStrictEqual(exit, { code: 0, signal: null }, d.stderr);
  } finally {
    await d.cleanup();
  }
});

test('deleting a worktree stops the agents running in it first, when asked', async () => {
  const FAKE = path.resolve(__dirname, '../fixtures/fake-agent.js');
  await withDaemon({}, async (d) => {
    const { ws } = await setup(d);
    let r = await api(d, 'POST', '/api/worktrees',
      { workspaceId: ws.id, name: 'busy', branch: 'busy', createBranch: true });
    const wt = r.body;
    r = await api(d, 'DELETE', `/api/worktrees/${wt.id}?force=maybe`);
    assert.strictEqual(r.status, 422, r.text);
    const agents = [];
    for (const name of ['one', 'two']) {
      r = await api(d, 'POST', '/api/agents',
        { worktreeId: wt.id, name, executor: 'command', command: [process.execPath, FAKE, 'echo'] });
      assert.strictEqual(r.status, 201, r.text);
      const agent = r.body.agent || r.body;
      r = await api(d, 'POST', `/api/agents/${agent.id}/start`, {});
      assert.strictEqual(r.status, 200, r.text);
      const started = r.body.agent || r.body;
      assert.strictEqual(started.status, 'running');
      assert.ok(started.pid > 0, r.text);
      agents.push({ id: agent.id, pid: started.pid });
    }
    // Refused while they run unless asked to stop them (issue #74).
    r = await api(d, 'DELETE', `/api/worktrees/${wt.id}`);
    assert.strictEqual(r.status, 409, r.text);
    assert.strictEqual(r.body.error.details.reason, 'agents_running');
    assert.ok(fs.existsSync(wt.path));
    r = await api(d, 'DELETE', `/api/worktrees/${wt.id}?stop=true`);
    assert.strictEqual(r.status, 200, r.text);
    assert.ok(!fs.existsSync(wt.path), 'the folder is gone');
    // The agents' processes were stopped (and reaped) before the folder
    // went; their rows stay, archived.
    for (const { id, pid } of agents) {
      assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `agent process ${pid} is gone`);
      r = await api(d, 'GET', `/api/agents/${id}`);
      assert.strictEqual(r.status, 200, r.text);
      assert.ok(r.body.deletedAt, r.text);
    }
  });
});

// libgit2 (and its TLS, SSH and Kerberos libraries) is agentd-git.so,
// loaded by the first git use: an agentd that has not touched git does not
// map it (issue #20's idle memory), one that has does, and an install
// without the library says so on the first git request instead of failing
// at start.
const mapsGit = (pid) => /libgit2|agentd-git\.so/.test(fs.readFileSync(`/proc/${pid}/maps`, 'utf8'));

test('libgit2 is loaded by the first git use, not at start', async () => {
  const { repo } = makeRepo();
  await withDaemon({}, async (d) => {
    assert.strictEqual((await api(d, 'GET', '/api/workspaces')).status, 200);
    assert.strictEqual(mapsGit(d.proc.pid), false, 'libgit2 mapped before any git use');
    const r = await api(d, 'POST', '/api/workspaces', { path: repo });
    assert.strictEqual(r.status, 201, r.text);
    assert.strictEqual(mapsGit(d.proc.pid), true, 'libgit2 mapped after the first git use');
  });
});

test('without agentd-git.so beside agentd, git requests fail with a clear error and the rest works', async () => {
  const { repo } = makeRepo();
  const binDir = daemon.tmpDir('agentd-nogit-');
  const bin = path.join(binDir, 'agentd');
  fs.copyFileSync(daemon.BIN, bin);
  fs.chmodSync(bin, 0o755);
  try {
    await withDaemon({ bin }, async (d) => {
      const r = await api(d, 'POST', '/api/workspaces', { path: repo });
      assert.strictEqual(r.status, 500, r.text);
      assert.match(r.body.error.message, /git support is not available: agentd-git\.so is not beside the agentd executable/);
      assert.strictEqual((await api(d, 'GET', '/api/workspaces')).body.workspaces.length, 0, 'nothing half-made');
      assert.strictEqual((await api(d, 'GET', '/healthz')).status, 200);
    });
  } finally {
    fs.rmSync(binDir, { recursive: true, force: true });
  }
});
