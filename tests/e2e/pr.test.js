// SPDX-License-Identifier: MIT
// Pull requests (issue #32): POST /api/worktrees/:id/pr pushes the branch to
// its remote (a local bare repository here) and opens a pull request on the
// forge the remote maps to (the admin setting forge_hosts points the bare
// repository's folder at a mock of the GitHub REST API), with the token from
// the credential store; GET shows its state and checks; `agentd pr` does
// both. The token reaches only the mock, and no answer, error or log line.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { runAsync } = require('./lib/daemon');
const { startApi, assertError, allMessages, commandAgent, until } = require('./lib/api');
const { git, makeRepo } = require('./lib/gitrepo');
const github = require('../fixtures/mock-github');

const TOKEN = 'ghp_S3cretForgeToken0123456789';

async function setup(t) {
  const { root, repo } = makeRepo();
  const forge = path.join(root, 'forge');
  const bare = path.join(forge, 'acme', 'widgets.git');
  fs.mkdirSync(path.dirname(bare), { recursive: true });
  git(root, 'init', '-q', '--bare', bare);
  git(repo, 'remote', 'add', 'origin', bare);
  git(repo, 'push', '-q', 'origin', 'main');
  const m = await github.start({ token: TOKEN, repos: ['acme/widgets'] });
  t.after(() => m.close());
  const d = await startApi();
  t.after(() => d.cleanup());
  const seen = []; // every answer's text: the token must be in none
  const req = async (...a) => {
    const r = await d.req(...a);
    seen.push(r.text);
    return r;
  };
  const ws = await req('POST', '/api/workspaces', { path: repo });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  const wt = (await req('POST', '/api/worktrees', { workspaceId: ws.body.id, name: 'feat', createBranch: true, base: 'main' })).body;
  fs.writeFileSync(path.join(wt.path, 'f.txt'), 'feature\n');
  git(wt.path, 'add', 'f.txt');
  git(wt.path, 'commit', '-qm', 'feature');
  const cli = (...args) => runAsync(['--data-dir', d.dataDir, ...args]);
  return { d, m, req, seen, wt, bare, forge: forge + '/', cli };
}

test('a pull request is opened on the forge the remote maps to, and its state and checks are read back', async (t) => {
  const { d, m, req, seen, wt, bare, forge } = await setup(t);
  const url = `/api/worktrees/${wt.id}/pr`;

  // No forge is known for a local folder until an admin maps it.
  let r = await req('POST', url, { title: 'Add f' });
  assertError(r, 422, 'VALIDATION_ERROR');
  assert.equal(r.body.error.details.reason, 'unknown_forge');
  assert.equal(git(bare, 'rev-parse', 'feat'), git(wt.path, 'rev-parse', 'HEAD')); // pushed all the same

  // The mapping is checked whole and is the owner's to set.
  r = await req('PATCH', '/api/settings', { forge_hosts: { [forge]: { kind: 'github', apiBase: 'ftp://x' } } });
  assertError(r, 422, 'VALIDATION_ERROR', 'forge_hosts');
  r = await req('PATCH', '/api/settings', { forge_hosts: { 'https://u:p@git.example.com/': { kind: 'github', apiBase: m.url } } });
  assertError(r, 422, 'VALIDATION_ERROR', 'forge_hosts');
  const w = await req('POST', '/api/tokens', { name: 'writer', scope: 'write' });
  const writer = { authorization: `Bearer ${w.body.token}` };
  r = await req('PATCH', '/api/settings', { forge_hosts: { [forge]: { kind: 'github', apiBase: m.url } } }, writer);
  assert.equal(r.status, 403);
  r = await req('PATCH', '/api/settings', { forge_hosts: { [forge]: { kind: 'github', apiBase: m.url } } });
  assert.equal(r.status, 200, JSON.stringify(r.body));

  // Mapped, but no token stored yet.
  r = await req('POST', url, { title: 'Add f' });
  assertError(r, 422, 'VALIDATION_ERROR');
  assert.equal(r.body.error.details.reason, 'no_token');
  assert.equal(r.body.error.details.provider, 'github');
  assert.equal(m.requests.length, 0);

  // Opening one is an admin's act (it pushes and spends the org's token).
  r = await req('POST', url, { title: 'Add f' }, writer);
  assert.equal(r.status, 403);
  assertError(await req('POST', url, {}), 422, 'VALIDATION_ERROR', 'title');
  assertError(await req('POST', url, { title: 'x', draft: 'yes' }), 422, 'VALIDATION_ERROR', 'draft');
  assert.equal((await req('POST', '/api/worktrees/wt_nope/pr', { title: 'x' })).status, 404);
  assert.equal((await req('GET', url)).status, 404);

  r = await req('PUT', '/api/credentials/github', { apiKey: TOKEN });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  r = await req('POST', url, { title: 'Add f', body: 'Adds f.txt', draft: true });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.forge, 'github');
  assert.equal(r.body.number, 1);
  assert.equal(r.body.url, `${m.url}/acme/widgets/pull/1`);
  assert.equal(r.body.state, 'open');
  assert.equal(r.body.draft, true);
  assert.equal(r.body.head, 'feat');
  assert.equal(r.body.base, 'main');
  assert.equal(r.body.existing, false);
  assert.deepEqual(r.body.push, { remote: 'origin', branch: 'feat' });
  const post = m.requests.find((q) => q.method === 'POST');
  assert.equal(post.path, '/repos/acme/widgets/pulls');
  assert.equal(post.headers.authorization, `Bearer ${TOKEN}`);
  assert.deepEqual(post.body, { title: 'Add f', body: 'Adds f.txt', head: 'feat', base: 'main', draft: true });

  // Again: GitHub says 422 "already exists"; the open one is taken over.
  r = await req('POST', url, { title: 'Add f again' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.existing, true);
  assert.equal(r.body.number, 1);
  assert.equal(m.pulls.length, 1);

  // State and checks: the combined status and the check runs of the head.
  r = await req('GET', url);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.number, 1);
  assert.equal(r.body.state, 'open');
  assert.deepEqual(r.body.checks, { state: 'none', items: [] });
  const sha = m.pulls[0].sha;
  m.statuses[sha] = [{ context: 'ci/build', state: 'success', target_url: `${m.url}/ci/1` }];
  m.checkRuns[sha] = [{ name: 'lint', status: 'in_progress', conclusion: null, html_url: `${m.url}/runs/2` }];
  r = await req('GET', url);
  assert.equal(r.body.checks.state, 'pending');
  assert.deepEqual(r.body.checks.items, [
    { name: 'ci/build', state: 'success', url: `${m.url}/ci/1` },
    { name: 'lint', state: 'pending', url: `${m.url}/runs/2` },
  ]);
  m.checkRuns[sha][0] = { name: 'lint', status: 'completed', conclusion: 'failure', html_url: `${m.url}/runs/2` };
  r = await req('GET', url);
  assert.equal(r.body.checks.state, 'failure');
  m.pulls[0].state = 'closed';
  m.pulls[0].merged = true;
  r = await req('GET', url);
  assert.equal(r.body.state, 'merged');
  assert.equal(r.body.createdAt !== undefined, true);

  // A forge that refuses the token: 502 with the forge's words, no token.
  m.pulls[0].state = 'open';
  m.pulls[0].merged = false;
  assert.equal((await req('PUT', '/api/credentials/github', { apiKey: TOKEN + 'x' })).status, 200);
  r = await req('GET', url);
  assert.equal(r.status, 200);
  assert.match(r.body.refreshError, /401: Bad credentials/);
  assert.equal(r.body.state, 'merged'); // the last state known is kept
  r = await req('POST', url, { title: 'x' });
  assertError(r, 502, 'FORGE_ERROR');
  assert.equal(r.body.error.details.reason, 'forge_auth');
  assert.equal(r.body.error.details.forgeStatus, 401);
  // No token at all: the stored state, saying why it is not fresh.
  assert.equal((await req('DELETE', '/api/credentials/github')).status, 200);
  const before = m.requests.length;
  r = await req('GET', url);
  assert.equal(r.status, 200);
  assert.equal(r.body.refreshError, 'no github token is stored');
  assert.equal(r.body.number, 1);
  assert.equal(m.requests.length, before);

  // Every request went to the mock's API, each with the token; the token is
  // in no answer and no log line.
  for (const q of m.requests) assert.match(q.headers.authorization, /^Bearer ghp_/);
  for (const text of seen) assert.ok(!text.includes(TOKEN), text);
  assert.ok(!d.stderr.includes(TOKEN));
  assert.ok(!d.stdout.includes(TOKEN));
});

test('agentd pr create and status', async (t) => {
  const { d, m, req, wt, forge, cli } = await setup(t);
  await req('PATCH', '/api/settings', { forge_hosts: { [forge]: { kind: 'github', apiBase: m.url } } });
  await req('PUT', '/api/credentials/github', { apiKey: TOKEN });
  let r = await cli('pr', 'create', 'feat');
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--title/);
  r = await cli('pr', 'create', 'feat', '--title', 'From the CLI', '--body', 'text');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`opened #1 ${m.url}/acme/widgets/pull/1`));
  r = await cli('pr', 'create', 'feat', '--title', 'again');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /already open: #1/);
  m.statuses[m.pulls[0].sha] = [{ context: 'ci', state: 'failure', target_url: null }];
  r = await cli('pr', 'status', 'feat');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /#1 open .*acme\/widgets\/pull\/1/);
  assert.match(r.stdout, /checks: failure/);
  assert.match(r.stdout, /failure\s+ci/);
  r = await cli('pr', 'status', 'feat', '--json');
  assert.equal(JSON.parse(r.stdout).checks.state, 'failure');
  r = await cli('pr', 'status', 'nope');
  assert.notEqual(r.status, 0);

  // An agent in the worktree has no way to the token: not in its environment.
  const id = await commandAgent(d, wt.id, ['sh', '-c', 'env; echo ENV-END']);
  assert.equal((await req('POST', `/api/agents/${id}/start`, {})).status, 200);
  const msgs = await until(async () => {
    const all = await allMessages(d, id);
    return all.some((x) => String(x.content).includes('ENV-END')) ? all : null;
  }, 'the agent to print its environment');
  assert.ok(msgs.some((x) => String(x.content).includes('PATH=')));
  assert.ok(!JSON.stringify(msgs).includes(TOKEN));
});

test('GitLab: a merge request, found again on 409, with its pipeline statuses', async (t) => {
  const { req, seen, wt, forge } = await setup(t);
  const gitlab = require('../fixtures/mock-gitlab');
  const TOK = 'glpat-S3cretGitlabToken42';
  const m = await gitlab.start({ token: TOK, projects: ['acme/widgets'] });
  t.after(() => m.close());
  await req('PATCH', '/api/settings', { forge_hosts: { [forge]: { kind: 'gitlab', apiBase: `${m.url}/api/v4` } } });
  assert.equal((await req('PUT', '/api/credentials/gitlab', { apiKey: TOK })).status, 200);
  const url = `/api/worktrees/${wt.id}/pr`;
  let r = await req('POST', url, { title: 'Add f', body: 'why', draft: true });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.forge, 'gitlab');
  assert.equal(r.body.number, 1);
  assert.equal(r.body.url, `${m.url}/acme/widgets/-/merge_requests/1`);
  assert.equal(r.body.draft, true);
  const post = m.requests.find((q) => q.method === 'POST');
  assert.equal(post.path, '/api/v4/projects/acme%2Fwidgets/merge_requests');
  assert.equal(post.headers['private-token'], TOK);
  assert.equal(post.headers.authorization, undefined);
  assert.deepEqual(post.body, { source_branch: 'feat', target_branch: 'main', title: 'Draft: Add f', description: 'why' });
  r = await req('POST', url, { title: 'again' });
  assert.equal(r.status, 200);
  assert.equal(r.body.existing, true);
  m.statuses[m.mrs[0].sha] = [{ name: 'test', status: 'running', target_url: null }, { name: 'build', status: 'success' }];
  const asked = () => m.requests.filter((q) => q.path.includes('/statuses')).length;
  const before = asked();
  r = await req('GET', url);
  assert.equal(r.body.checks.state, 'pending');
  assert.equal(asked() - before, 1, 'the statuses asked for once, however many there are');
  assert.deepEqual(r.body.checks.items.map((i) => [i.name, i.state]), [['test', 'pending'], ['build', 'success']]);
  m.mrs[0].state = 'merged';
  assert.equal((await req('GET', url)).body.state, 'merged');
  for (const text of seen) assert.ok(!text.includes(TOK));
});

test('Gitea: GitHub shapes with "token" auth, a draft as WIP:, no check runs asked for', async (t) => {
  const { req, wt, forge } = await setup(t);
  const m = await github.start({ token: TOKEN, repos: ['acme/widgets'] });
  t.after(() => m.close());
  await req('PATCH', '/api/settings', { forge_hosts: { [forge]: { kind: 'gitea', apiBase: m.url } } });
  await req('PUT', '/api/credentials/gitea', { apiKey: TOKEN });
  let r = await req('POST', `/api/worktrees/${wt.id}/pr`, { title: 'Add f', draft: true });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.forge, 'gitea');
  const post = m.requests.find((q) => q.method === 'POST');
  assert.equal(post.headers.authorization, `token ${TOKEN}`);
  assert.deepEqual(post.body, { title: 'WIP: Add f', body: '', head: 'feat', base: 'main' });
  r = await req('GET', `/api/worktrees/${wt.id}/pr`);
  assert.equal(r.status, 200);
  assert.ok(m.requests.some((q) => q.path.endsWith('/status')));
  assert.ok(!m.requests.some((q) => q.path.endsWith('/check-runs')));
});

test('a forge that redirects does not get the token sent on: no redirect is followed', async (t) => {
  const { req, seen, wt, forge } = await setup(t);
  const m = await github.start({ token: TOKEN, repos: ['acme/widgets'] });
  const elsewhere = await github.start({ token: 'other', repos: ['acme/widgets'] });
  t.after(() => Promise.all([m.close(), elsewhere.close()]));
  await req('PATCH', '/api/settings', { forge_hosts: { [forge]: { kind: 'github', apiBase: m.url } } });
  await req('PUT', '/api/credentials/github', { apiKey: TOKEN });
  m.redirectTo = elsewhere.url;
  const r = await req('POST', `/api/worktrees/${wt.id}/pr`, { title: 'Add f' });
  assertError(r, 502, 'FORGE_ERROR');
  assert.equal(r.body.error.details.reason, 'forge_error');
  assert.equal(r.body.error.details.forgeStatus, 307);
  assert.equal(m.requests.length, 1);
  assert.equal(elsewhere.requests.length, 0); // never reached, with or without the token
  for (const text of seen) assert.ok(!text.includes(TOKEN));
});
