// SPDX-License-Identifier: MIT
// Workspaces by org (issue #73): an org's admin (not only its write
// tokens) registers repositories only under the roots the owner gave that
// org: a dotfiles repository at a home folder gave org B ~/.ssh through the
// diff route. And nobody, the owner included, registers a repository whose
// work tree holds a data dir: agentd's own (its owner token through the
// diff route), or a folder that looks like one.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const daemon = require('./lib/daemon');
const { request } = require('./lib/api');

const call = (d, method, p, body, headers = {}) => request(d.url, method, p, body, headers);
const bearer = (t) => ({ authorization: `Bearer ${t}` });

function git(cwd, ...args) {
  execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { cwd, stdio: 'ignore' });
}

// A home folder that is a git repository (dotfiles), with a key in .ssh.
function homeRepo() {
  const home = daemon.tmpDir('agentd-home-');
  fs.mkdirSync(path.join(home, '.ssh'), { mode: 0o700 });
  fs.writeFileSync(path.join(home, '.ssh', 'id_ed25519'), 'PRIVATE-KEY\n', { mode: 0o600 });
  fs.writeFileSync(path.join(home, '.bashrc'), 'alias ll=ls\n');
  git(home, 'init', '-q', '-b', 'main');
  git(home, 'add', '.bashrc');
  git(home, 'commit', '-q', '-m', 'dotfiles');
  return home;
}

test('an org\'s admin registers only under the roots the owner gave its org', async (t) => {
  const d = await daemon.start({ needUrl: true });
  const home = homeRepo();
  t.after(async () => { await d.cleanup(); fs.rmSync(home, { recursive: true, force: true }); });
  const org = await call(d, 'POST', '/api/orgs', { name: 'tenant b' }, d.authHeaders);
  assert.equal(org.status, 201, JSON.stringify(org.body));
  const tok = await call(d, 'POST', '/api/tokens', { name: 'b-admin', scope: 'admin', orgId: org.body.id }, d.authHeaders);
  assert.equal(tok.status, 201, JSON.stringify(tok.body));
  const bAdmin = bearer(tok.body.token);

  // The attack: org B's admin registers the user's home, then reads ~/.ssh.
  let r = await call(d, 'POST', '/api/workspaces', { path: home }, bAdmin);
  assert.equal(r.status, 403, `an org admin registered a path outside its roots: ${JSON.stringify(r.body)}`);
  assert.equal(r.body.error.code, 'FORBIDDEN');
  // A folder below it (git finds the home repository upwards): the same.
  r = await call(d, 'POST', '/api/workspaces', { path: path.join(home, '.ssh') }, bAdmin);
  assert.equal(r.status, 403, JSON.stringify(r.body));
  const list = await call(d, 'GET', '/api/workspaces', undefined, bAdmin);
  assert.equal(list.body.workspaces.length, 0, JSON.stringify(list.body));

  // Under a root the owner gave org B: fine for its admin.
  const root = daemon.tmpDir('agentd-roots-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const inside = daemon.tmpRepo('b-repo-', root);
  r = await call(d, 'PATCH', '/api/settings', { workspace_roots: { [org.body.id]: [root] } }, d.authHeaders);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  r = await call(d, 'POST', '/api/workspaces', { path: inside }, bAdmin);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  r = await call(d, 'POST', '/api/workspaces', { path: home }, bAdmin);
  assert.equal(r.status, 403, JSON.stringify(r.body));
  // The owner's own org is the owner's business: its admin may register the home.
  r = await call(d, 'POST', '/api/workspaces', { path: home }, d.authHeaders);
  assert.equal(r.status, 201, JSON.stringify(r.body));
});

test('no repository whose work tree holds a data dir, the owner\'s included', async (t) => {
  // agentd's own data dir inside a repository (say ~/.local/share/agentd in dotfiles)
  const home = homeRepo();
  const dataDir = path.join(home, '.local', 'share', 'agentd');
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const d = await daemon.start({ needUrl: true, dataDir });
  const other = daemon.tmpRepo('agentd-holds-');
  t.after(async () => {
    await d.cleanup();
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(other, { recursive: true, force: true });
  });
  let r = await call(d, 'POST', '/api/workspaces', { path: home }, d.authHeaders);
  assert.equal(r.status, 403, `a repository holding agentd's data dir was registered: ${JSON.stringify(r.body)}`);
  assert.match(r.body.error.message, /data dir/);
  // Another agentd's data dir (a folder with agentd.db and owner-token) in a repository.
  const look = path.join(other, 'tools', 'agentd-data');
  fs.mkdirSync(look, { recursive: true });
  fs.writeFileSync(path.join(look, 'agentd.db'), '');
  fs.writeFileSync(path.join(look, 'owner-token'), 'SECRET-OWNER-TOKEN\n', { mode: 0o600 });
  r = await call(d, 'POST', '/api/workspaces', { path: other }, d.authHeaders);
  assert.equal(r.status, 403, `a repository holding a data dir was registered: ${JSON.stringify(r.body)}`);
  assert.match(r.body.error.message, /looks like a data dir/);
  // Without it, the same repository is fine; a link in it into the data
  // dir is not read through the diff route.
  fs.rmSync(look, { recursive: true, force: true });
  fs.symlinkSync(dataDir, path.join(other, 'dd'));
  r = await call(d, 'POST', '/api/workspaces', { path: other }, d.authHeaders);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const wt = r.body.worktrees[0].id;
  r = await call(d, 'GET', `/api/worktrees/${wt}/diff?path=${encodeURIComponent('dd/owner-token')}`, undefined, d.authHeaders);
  assert.equal(r.status, 403, JSON.stringify(r.body));
  assert.ok(!JSON.stringify(r.body).includes(d.token), 'the owner token in an answer');
});

// A 409 named another org's worktree folder: with --worktree-base, two
// orgs' repositories of the same folder name share DIR/<name>/, and org B
// asking for a worktree name org A used was told A's folder.
test('a worktree name taken in another org\'s folder is a 409 that names no path', async (t) => {
  const base = daemon.tmpDir('agentd-wtbase-');
  const d = await daemon.start({ needUrl: true, args: ['--worktree-base', base] });
  const parents = [daemon.tmpDir('agentd-org-a-'), daemon.tmpDir('agentd-org-b-')];
  t.after(async () => { await d.cleanup(); for (const p of [base, ...parents]) fs.rmSync(p, { recursive: true, force: true }); });
  const repos = parents.map((p) => {
    const r = path.join(p, 'app');
    fs.mkdirSync(r);
    git(r, 'init', '-q', '-b', 'main');
    git(r, 'commit', '-q', '--allow-empty', '-m', 'init');
    return r;
  });
  const org = await call(d, 'POST', '/api/orgs', { name: 'tenant b' }, d.authHeaders);
  const tok = await call(d, 'POST', '/api/tokens', { name: 'b-admin', scope: 'admin', orgId: org.body.id }, d.authHeaders);
  const bAdmin = bearer(tok.body.token);
  const wsA = await call(d, 'POST', '/api/workspaces', { path: repos[0] }, d.authHeaders);
  assert.equal(wsA.status, 201, JSON.stringify(wsA.body));
  const wsB = await call(d, 'POST', '/api/workspaces', { path: repos[1], orgId: org.body.id }, d.authHeaders);
  assert.equal(wsB.status, 201, JSON.stringify(wsB.body));
  const a = await call(d, 'POST', '/api/worktrees', { workspaceId: wsA.body.id, name: 'secret-plan', branch: 'secret-plan', createBranch: true }, d.authHeaders);
  assert.equal(a.status, 201, JSON.stringify(a.body));
  const r = await call(d, 'POST', '/api/worktrees', { workspaceId: wsB.body.id, name: 'secret-plan', branch: 'secret-plan', createBranch: true }, bAdmin);
  assert.equal(r.status, 409, JSON.stringify(r.body));
  const text = JSON.stringify(r.body);
  assert.ok(!text.includes(a.body.path) && !text.includes(base), `another org's folder in the answer: ${text}`);
  assert.match(r.body.error.message, /choose another name/);
});
