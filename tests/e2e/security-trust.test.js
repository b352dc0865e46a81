// SPDX-License-Identifier: MIT
// One trust root (issue #73), as the attacks it stops: an agent rewrites
// its worktree's `.git` file or writes a new `commondir` into its git
// folder, both of which it can write, to choose what its next sandbox
// shows read-write and what agentd's own git opens: another folder of the
// machine, another org's repository (read through the diff route,
// committed onto through the commit route); a Claude agent does it with a
// write a write token approves. agentd takes the repository
// from its rows and refuses a worktree whose files say otherwise, with the
// reason in the answer and the audit. And agentd's git program is inert: a
// push runs no pre-push hook and no remote.*.receivepack. And no file an
// agent puts where git reads (a FIFO) parks one of agentd's threads.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const daemon = require('./lib/daemon');
const { request, until, answered, api, orgRoots } = require('./lib/api');
const { start: startMock } = require('../fixtures/mock-anthropic');
const { CLAUDE_BIN, claudeMissingReason, makeSandbox } = require('../fixtures/claude-run');
const { claudeAgents } = require('./lib/agents');

const call = (d, method, url, body, headers = d.authHeaders) => request(d.url, method, url, body, headers);

const GIT_ENV = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
function git(cwd, ...args) {
  const r = spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd, env: GIT_ENV, encoding: 'utf8' });
  assert.equal(r.status, 0, `git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

// Org B with an admin, a read and a write token, made by the owner.
async function orgB(d) {
  let r = await call(d, 'POST', '/api/orgs', { name: 'org b' });
  assert.equal(r.status, 201, r.text);
  const org = r.body.id;
  await orgRoots(d, org);
  const tok = async (scope) => {
    const t = await call(d, 'POST', '/api/tokens', { name: `b-${scope}`, scope, orgId: org });
    assert.equal(t.status, 201, t.text);
    return { authorization: `Bearer ${t.body.token}` };
  };
  return { org, admin: await tok('admin'), write: await tok('write'), read: await tok('read') };
}

// A repository (files committed) registered by who, and a linked worktree
// of it that agentd makes: {dir, ws, wt: {id, path}}.
async function workspace(d, headers, files = {}, name = 'w1') {
  const dir = daemon.tmpRepo('agentd-trust-');
  for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text);
  if (Object.keys(files).length > 0) {
    git(dir, 'add', '-A');
    git(dir, 'commit', '-qm', 'files');
  }
  let r = await call(d, 'POST', '/api/workspaces', { path: dir }, headers);
  assert.equal(r.status, 201, r.text);
  const ws = r.body.id;
  r = await call(d, 'POST', '/api/worktrees', { workspaceId: ws, name, branch: name, createBranch: true }, headers);
  assert.equal(r.status, 201, r.text);
  return { dir, ws, wt: { id: r.body.id, path: r.body.path } };
}

async function output(d, id) {
  const r = await call(d, 'GET', `/api/agents/${id}/messages?limit=200`);
  return (r.body.messages || []).map((m) => m.content).join('\n');
}

async function agent(d, headers, wt, script) {
  const r = await call(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command: ['sh', '-c', script] }, headers);
  assert.equal(r.status, 201, r.text);
  return r.body.id;
}

// Starts agent id; resolves with its output once it printed DONE.
async function runToDone(d, headers, id) {
  const r = await call(d, 'POST', `/api/agents/${id}/start`, {}, headers);
  assert.equal(r.status, 200, r.text);
  return until(async () => {
    const o = await output(d, id);
    return /^DONE$/m.test(o) ? o : null;
  }, 'the script to finish', 30000);
}

// The audit's rows (the owner's view) whose detail matches re.
async function auditRows(d, re) {
  const r = await call(d, 'GET', '/api/audit?limit=200');
  assert.equal(r.status, 200, r.text);
  return r.body.entries.filter((e) => re.test(e.detail || ''));
}

// A refused start made no run, yet the agent's transcript and its
// statusReason (what the dashboard and `agentd logs` show) say why.
async function refusalShown(d, headers, id, re) {
  const note = await until(async () => {
    const r = await call(d, 'GET', `/api/agents/${id}/messages?limit=200`, undefined, headers);
    assert.equal(r.status, 200, r.text);
    return (r.body.messages || []).find((m) => m.role === 'system' && re.test(m.content)) || null;
  }, 'the refusal in the transcript', 10000);
  assert.match(note.content, /did not start/, note.content);
  const a = await call(d, 'GET', `/api/agents/${id}`, undefined, headers);
  assert.equal(a.status, 200, a.text);
  assert.equal(a.body.statusReason?.code, 'start_refused', JSON.stringify(a.body.statusReason));
  assert.match(a.body.statusReason.text, re, a.body.statusReason.text);
  assert.equal(a.body.status, 'error', a.text);
}

// The second start of a worktree an agent redirected: refused, saying why,
// and the folder it named never shown.
async function secondStartRefused(d, b, wtId, victim) {
  const id = await agent(d, b.admin, wtId,
    `if cat ${victim}/victim-secret.txt; then echo LEAK; else echo DENIED; fi; echo DONE`);
  const r = await call(d, 'POST', `/api/agents/${id}/start`, {}, b.admin);
  let out = '';
  if (r.status === 200) {
    out = await until(async () => {
      const o = await output(d, id);
      return /^DONE$/m.test(o) ? o : null;
    }, 'the second script', 30000);
  }
  assert.doesNotMatch(out, /LEAK|victim-secret-0123/, 'the next sandbox showed the folder .git named');
  assert.notEqual(r.status, 200, `the start of a tampered worktree went ahead: ${out}`);
  assert.match(r.body.error.message, /tampered/);
  assert.match(r.body.error.message, /\.git|commondir/);
  await until(async () => (await auditRows(d, /start refused/)).length > 0 || null, 'the audit row', 10000);
  await refusalShown(d, b.admin, id, /tampered.*(\.git|commondir)/);
}

test('a command agent that rewrites .git does not choose its next sandbox\'s mounts', async () => {
  const d = await daemon.start({ needUrl: true });
  try {
    const victim = daemon.tmpDir('agentd-victim-');
    fs.writeFileSync(path.join(victim, 'victim-secret.txt'), 'victim-secret-0123\n');
    const b = await orgB(d);
    const w = await workspace(d, b.admin);
    const first = await agent(d, b.admin, w.wt.id, `printf 'gitdir: ${victim}\\n' > .git && echo WROTE; echo DONE`);
    const out = await runToDone(d, b.admin, first);
    assert.match(out, /WROTE/, `the agent could not write .git: ${out}`);
    assert.equal(fs.readFileSync(path.join(w.wt.path, '.git'), 'utf8'), `gitdir: ${victim}\n`);
    await secondStartRefused(d, b, w.wt.id, victim);
    // git through the API is refused too, with the reason
    const r = await call(d, 'GET', `/api/worktrees/${w.wt.id}/status`, undefined, b.read);
    assert.equal(r.status, 409, r.text);
    assert.equal(r.body.error.details.reason, 'untrusted_git');
  } finally {
    await d.stop();
  }
});

test('a command agent that writes a new commondir does not choose its next sandbox\'s mounts', async () => {
  const d = await daemon.start({ needUrl: true });
  try {
    const victim = daemon.tmpDir('agentd-victim-');
    fs.writeFileSync(path.join(victim, 'victim-secret.txt'), 'victim-secret-0123\n');
    const b = await orgB(d);
    const w = await workspace(d, b.admin);
    // the worktree's own git folder is in the repository's, shown read-write
    const first = await agent(d, b.admin, w.wt.id,
      `g=$(sed -n 's/^gitdir: //p' .git) && printf '%s\\n' '${victim}' > "$g/commondir" && echo WROTE; echo DONE`);
    const out = await runToDone(d, b.admin, first);
    assert.match(out, /WROTE/, `the agent could not write commondir: ${out}`);
    await secondStartRefused(d, b, w.wt.id, victim);
    const r = await call(d, 'GET', `/api/worktrees/${w.wt.id}/diff`, undefined, b.read);
    assert.equal(r.status, 409, r.text);
    assert.equal(r.body.error.details.reason, 'untrusted_git');
    assert.match(r.body.error.message, /commondir/);
  } finally {
    await d.stop();
  }
});

test('org B\'s worktree pointed at org A\'s repository reads and commits nothing of org A', async () => {
  const d = await daemon.start({ needUrl: true });
  try {
    const a = await workspace(d, d.authHeaders, { 'secret.txt': 'org-a-secret-4242\n' }, 'a1');
    const aMain = git(a.dir, 'rev-parse', 'main');
    const b = await orgB(d);
    const w = await workspace(d, b.admin, {}, 'b1');
    // what org B's agent can write in its worktree: a git folder of its own
    // whose commondir is org A's repository, and .git naming it
    const fake = path.join(w.wt.path, 'fake');
    fs.mkdirSync(fake);
    fs.writeFileSync(path.join(fake, 'HEAD'), 'ref: refs/heads/main\n');
    fs.writeFileSync(path.join(fake, 'commondir'), `${path.join(a.dir, '.git')}\n`);
    fs.writeFileSync(path.join(w.wt.path, '.git'), `gitdir: ${fake}\n`);

    let r = await call(d, 'GET', `/api/worktrees/${w.wt.id}/diff`, undefined, b.read);
    assert.doesNotMatch(r.text, /secret\.txt|org-a-secret/, 'org B read org A\'s files');
    assert.equal(r.status, 409, r.text);
    assert.equal(r.body.error.details.reason, 'untrusted_git');
    r = await call(d, 'GET', `/api/worktrees/${w.wt.id}/diff?path=secret.txt`, undefined, b.read);
    assert.doesNotMatch(r.text, /org-a-secret/, 'org B read org A\'s file');
    assert.equal(r.status, 409, r.text);

    fs.writeFileSync(path.join(w.wt.path, 'planted.txt'), 'from org b\n');
    r = await call(d, 'POST', `/api/worktrees/${w.wt.id}/commit`, { message: 'onto org a', all: true }, b.write);
    assert.equal(r.status, 409, r.text);
    assert.equal(r.body.error.details.reason, 'untrusted_git');
    assert.equal(git(a.dir, 'rev-parse', 'main'), aMain, 'org B committed onto org A\'s main');
    // and the audit says why
    await until(async () => (await auditRows(d, /tampered/)).length > 0 || null, 'the audit row', 10000);

    // the same worktree put back as agentd made it works again
    fs.writeFileSync(path.join(w.wt.path, '.git'), `gitdir: ${path.join(w.dir, '.git', 'worktrees', 'b1')}\n`);
    r = await call(d, 'GET', `/api/worktrees/${w.wt.id}/diff`, undefined, b.read);
    assert.equal(r.status, 200, r.text);
    assert.doesNotMatch(r.text, /secret\.txt/);
  } finally {
    await d.stop();
  }
});

test('a push runs no hook and no receive-pack the repository names', async () => {
  const d = await daemon.start({ needUrl: true });
  try {
    const w = await workspace(d, d.authHeaders, { 'a.txt': 'a\n' }, 'p1');
    const root = daemon.tmpDir('agentd-push-');
    const bare = path.join(root, 'remote.git');
    git(root, 'init', '-q', '--bare', bare);
    git(w.dir, 'remote', 'add', 'origin', bare);
    const hookMark = path.join(root, 'hook-ran');
    const packMark = path.join(root, 'receivepack-ran');
    const hooks = path.join(w.dir, '.git', 'hooks');
    fs.mkdirSync(hooks, { recursive: true });
    fs.writeFileSync(path.join(hooks, 'pre-push'), `#!/bin/sh\ntouch ${hookMark}\n`, { mode: 0o755 });
    git(w.dir, 'config', 'remote.origin.receivepack', `touch ${packMark}; git-receive-pack`);
    fs.writeFileSync(path.join(w.wt.path, 'p.txt'), 'p\n');
    let r = await call(d, 'POST', `/api/worktrees/${w.wt.id}/commit`, { message: 'add p', all: true });
    assert.equal(r.status, 200, r.text);
    r = await call(d, 'POST', `/api/worktrees/${w.wt.id}/push`, {});
    assert.equal(fs.existsSync(hookMark), false, 'agentd\'s push ran the pre-push hook');
    assert.equal(fs.existsSync(packMark), false, 'agentd\'s push ran remote.origin.receivepack');
    assert.equal(r.status, 200, r.text);
    assert.equal(git(bare, 'rev-parse', 'p1'), git(w.wt.path, 'rev-parse', 'HEAD'));
  } finally {
    await d.stop();
  }
});

// A push to an https remote needs the user's credential helper; the
// repository's own (agent-writable) helpers never run. The remote is a
// plain HTTP server that asks for Basic auth and records what it gets: git
// asks the helpers only after a 401, so the answer proves which ran.
test('a push asks the user\'s own credential helper, never one the repository names', async () => {
  const home = daemon.tmpDir('agentd-pushhome-');
  const root = daemon.tmpDir('agentd-pushcred-');
  const userMark = path.join(root, 'user-helper-ran');
  const repoMark = path.join(root, 'repo-helper-ran');
  const userHelper = path.join(root, 'user-helper.sh');
  fs.writeFileSync(userHelper, `#!/bin/sh\n[ "$1" = get ] || exit 0\ntouch ${userMark}\necho username=u1\necho password=from-user-helper\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(home, '.gitconfig'), `[credential]\n\thelper = ${userHelper}\n`);
  const seen = [];
  const http = require('node:http');
  const srv = http.createServer((req, res) => {
    seen.push(req.headers.authorization || '');
    if (!req.headers.authorization) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="r"' });
      res.end();
      return;
    }
    res.writeHead(403);
    res.end();
  });
  await new Promise((ok) => srv.listen(0, '127.0.0.1', ok));
  const d = await daemon.start({ needUrl: true, env: { HOME: home } });
  try {
    const w = await workspace(d, d.authHeaders, { 'a.txt': 'a\n' }, 'c1');
    git(w.dir, 'remote', 'add', 'origin', `http://127.0.0.1:${srv.address().port}/r.git`);
    git(w.dir, 'config', 'credential.helper', `!touch ${repoMark}; echo password=x #`);
    git(w.dir, 'config', `credential.http://127.0.0.1:${srv.address().port}.helper`, `!touch ${repoMark}; echo password=x #`);
    const r = await call(d, 'POST', `/api/worktrees/${w.wt.id}/push`, {});
    assert.equal(r.status, 409, r.text); // the server refuses even the right user: the push fails
    assert.equal(fs.existsSync(repoMark), false, 'agentd\'s push ran a credential helper the repository names');
    assert.equal(fs.existsSync(userMark), true, 'agentd\'s push never asked the user\'s own credential helper');
    const basic = `Basic ${Buffer.from('u1:from-user-helper').toString('base64')}`;
    assert.ok(seen.includes(basic), `the remote never got the user helper's credentials: ${JSON.stringify(seen)}`);
  } finally {
    await d.stop();
    srv.close();
  }
});

test('a Claude agent whose approved write rewrites .git does not choose its next sandbox\'s mounts', { skip: claudeMissingReason() || false }, async () => {
  const victim = daemon.tmpDir('agentd-victim-');
  fs.writeFileSync(path.join(victim, 'victim-secret.txt'), 'victim-secret-0123\n');
  const sb = makeSandbox();
  git(sb.cwd, 'commit', '-q', '--allow-empty', '-m', 'init');
  const wtPath = `${fs.realpathSync(sb.cwd)}.worktrees/c1`;
  const mock = await startMock({ rules: [{
    match: 'redirect',
    reply: { tool: { name: 'Read', input: { file_path: path.join(wtPath, '.git') } },
      then: { tool: { name: 'Write', input: { file_path: path.join(wtPath, '.git'), content: `gitdir: ${victim}\n` } },
        then: { text: 'Redirected.' } } },
  }] });
  const d = await daemon.start({ needUrl: true, args: ['--claude-bin', CLAUDE_BIN, '--stop-grace-ms', '3000'] });
  try {
    const make = await claudeAgents(d, sb, mock.url);
    const ws = (await api(d, 'GET', '/api/workspaces')).body.workspaces[0];
    const wt = await call(d, 'POST', '/api/worktrees', { workspaceId: ws.id, name: 'c1', branch: 'c1', createBranch: true });
    assert.equal(wt.status, 201, wt.text);
    assert.equal(wt.body.path, wtPath);
    const ag = await make({ worktreeId: wt.body.id, permissions: ['read', 'write'] });
    const s = await call(d, 'POST', `/api/agents/${ag.id}/start`, { initialPrompt: 'please redirect git' });
    assert.equal(s.status, 200, s.text);
    // a write token approves what asks
    const tw = await call(d, 'POST', '/api/tokens', { name: 'approver', scope: 'write' });
    assert.equal(tw.status, 201, tw.text);
    const approver = { authorization: `Bearer ${tw.body.token}` };
    await until(async () => {
      if (fs.readFileSync(path.join(wtPath, '.git'), 'utf8') === `gitdir: ${victim}\n`) return true;
      const r = await call(d, 'GET', `/api/agents/${ag.id}/approvals?pending=true`);
      for (const ap of r.body.approvals || []) {
        const ok = await call(d, 'POST', `/api/approvals/${ap.id}`, { decision: 'allow' }, approver);
        assert.equal(ok.status, 200, ok.text);
      }
      return null;
    }, 'the approved write of .git', 30000);
    await call(d, 'POST', `/api/agents/${ag.id}/stop`, {});
    await secondStartRefused(d, { admin: d.authHeaders }, wt.body.id, victim);
  } finally {
    await d.cleanup();
    await mock.close();
    sb.cleanup();
  }
});

test('an agent in a main worktree that writes .git/commondir: a refresh and a diff refuse the workspace, saying why', async () => {
  const d = await daemon.start({ needUrl: true });
  try {
    // a worktree name no temporary folder's random suffix can hold
    const a = await workspace(d, d.authHeaders, { 'secret.txt': 'org-a-secret-4242\n' }, 'org-a-tree');
    const b = await orgB(d);
    const w = await workspace(d, b.admin, {}, 'b1');
    const r0 = await call(d, 'GET', `/api/workspaces/${w.ws}`, undefined, b.admin);
    const main = r0.body.worktrees.find((x) => x.isMain);
    // the main worktree's .git is a folder the agent can write in (but hooks and config)
    const first = await agent(d, b.admin, main.id,
      `printf '%s\\n' '${path.join(a.dir, '.git')}' > .git/commondir && echo WROTE; echo DONE`);
    const out = await runToDone(d, b.admin, first);
    assert.match(out, /WROTE/, `the agent could not write .git/commondir: ${out}`);
    const r = await call(d, 'POST', `/api/workspaces/${w.ws}/refresh`, {}, b.admin);
    assert.doesNotMatch(r.text, new RegExp(`${a.dir}|org-a-tree`), 'org A\'s worktrees came into org B\'s workspace');
    assert.equal(r.status, 409, r.text);
    assert.equal(r.body.error.details.reason, 'untrusted_git');
    const diff = await call(d, 'GET', `/api/worktrees/${w.wt.id}/diff`, undefined, b.read);
    assert.equal(diff.status, 409, diff.text);
    assert.doesNotMatch(diff.text, /org-a-secret/);
  } finally {
    await d.stop();
  }
});

test('a ref that is a symlink and borrowed objects check out nothing of another org', async () => {
  const d = await daemon.start({ needUrl: true });
  try {
    const a = await workspace(d, d.authHeaders, { 'secret.txt': 'org-a-secret-4242\n' }, 'a1');
    const b = await orgB(d);
    const w = await workspace(d, b.admin, {}, 'b1');
    // what org B's agent can write in its repository's git folder (shown
    // read-write): a branch that is a link to org A's main, org A's objects borrowed
    const common = path.join(w.dir, '.git');
    fs.symlinkSync(path.join(a.dir, '.git', 'refs', 'heads', 'main'), path.join(common, 'refs', 'heads', 'steal'));
    fs.writeFileSync(path.join(common, 'objects', 'info', 'alternates'), `${path.join(a.dir, '.git', 'objects')}\n`);
    let r = await call(d, 'POST', `/api/worktrees/${w.wt.id}/checkout`, { branch: 'steal' }, b.write);
    assert.equal(fs.existsSync(path.join(w.wt.path, 'secret.txt')), false, 'org A\'s file was checked out into org B\'s worktree');
    assert.equal(r.status, 409, r.text);
    assert.equal(r.body.error.details.reason, 'untrusted_git');
    assert.match(r.body.error.message, /symbolic link/);
    fs.unlinkSync(path.join(common, 'refs', 'heads', 'steal'));
    r = await call(d, 'GET', `/api/worktrees/${w.wt.id}/status`, undefined, b.read);
    assert.equal(r.status, 409, r.text);
    assert.match(r.body.error.message, /alternates/);
  } finally {
    await d.stop();
  }
});

// libgit2 opens its files with a blocking open(2), and an open of a FIFO
// waits for a writer. An agent sees its repository's git folder read-write,
// so it can put FIFOs where git reads: its worktree's index, another
// worktree's branch. Each git request on them is refused at once, saying
// which file, six times over (the pool has four threads, shared with the
// store), a commit too (which holds git's write lock), and the rest of
// agentd's git goes on.
test('an agent\'s FIFOs in place of an index and a branch park no git thread: each request is refused at once, saying which file', async () => {
  const d = await daemon.start({ needUrl: true });
  try {
    const b = await orgB(d);
    const w = await workspace(d, b.admin, { 'a.txt': 'a\n' }, 'b1');
    let r = await call(d, 'POST', '/api/worktrees', { workspaceId: w.ws, name: 'b2', branch: 'b2', createBranch: true }, b.admin);
    assert.equal(r.status, 201, r.text);
    const b2 = r.body.id;
    const id = await agent(d, b.admin, w.wt.id,
      'gd=$(git rev-parse --absolute-git-dir); cd "$gd" && common=$(cd "$(cat commondir)" && pwd) && cd - >/dev/null; ' +
      'echo changed > a.txt; rm -f "$gd/index" && mkfifo "$gd/index" && ' +
      'rm -f "$common/refs/heads/b2" && mkfifo "$common/refs/heads/b2" && echo FIFOS; echo DONE');
    const out = await runToDone(d, b.admin, id);
    assert.match(out, /FIFOS/, `the agent could not make its FIFOs: ${out}`);
    const index = path.join(w.dir, '.git', 'worktrees', 'b1', 'index');
    assert.ok(fs.lstatSync(index).isFIFO(), 'the index is not a FIFO');
    for (let i = 0; i < 6; i++) {
      r = await answered(call(d, 'GET', `/api/worktrees/${w.wt.id}/diff`, undefined, b.read), `diff ${i + 1} (a git thread waits on the FIFO)`);
      assert.equal(r.status, 409, r.text);
      assert.equal(r.body.error.details.reason, 'untrusted_git', r.text);
      assert.match(r.body.error.message, /worktrees\/b1\/index is a FIFO, not a file/, r.text);
    }
    for (let i = 0; i < 6; i++) {
      r = await answered(call(d, 'GET', `/api/worktrees/${b2}/status`, undefined, b.read), `status ${i + 1}`);
      assert.equal(r.status, 409, r.text);
      assert.match(r.body.error.message, /refs\/heads\/b2 is a FIFO, not a file/, r.text);
    }
    r = await answered(call(d, 'POST', `/api/worktrees/${w.wt.id}/commit`, { message: 'through the fifo', all: true }, b.write), 'the commit');
    assert.equal(r.status, 409, r.text);
    assert.equal(r.body.error.details.reason, 'untrusted_git', r.text);
    // the pool and git's write lock are free: another repository's new worktree
    const other = daemon.tmpRepo('agentd-trust-');
    r = await call(d, 'POST', '/api/workspaces', { path: other });
    assert.equal(r.status, 201, r.text);
    r = await answered(call(d, 'POST', '/api/worktrees', { workspaceId: r.body.id, name: 'after', branch: 'after', createBranch: true }), 'a new worktree');
    assert.equal(r.status, 201, r.text);
    await until(async () => (await auditRows(d, /is a FIFO, not a file/)).length > 0 || null, 'the audit row', 10000);
  } finally {
    await d.stop();
  }
});

// The peak of a process's resident memory, in bytes (VmHWM).
function peakRss(pid) {
  const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB/m);
  return Number(m[1]) * 1024;
}

// libgit2 allocates what a file's size says and reads it whole: a sparse
// index of a gigabyte, one `truncate` in the agent's git folder, made a diff
// fill a gigabyte of agentd's memory (16 GB would have been as cheap to
// make). Each git job's memory is bounded (here 64 MiB, a test build's
// knob); past it the job is refused, saying so, and agentd's memory stays.
test('an agent\'s sparse gigabyte index costs agentd no gigabyte: the diff is refused past git\'s memory bound', async () => {
  const d = await daemon.start({ needUrl: true, env: { AGENTD_TEST_GIT_MEM_MAX: String(64 << 20) } });
  try {
    const b = await orgB(d);
    const w = await workspace(d, b.admin, { 'a.txt': 'a\n' }, 'b1');
    const id = await agent(d, b.admin, w.wt.id,
      'gd=$(git rev-parse --absolute-git-dir); echo changed > a.txt; truncate -s 1G "$gd/index" && echo BIG; echo DONE');
    const out = await runToDone(d, b.admin, id);
    assert.match(out, /BIG/, `the agent could not grow its index: ${out}`);
    const before = peakRss(d.proc.pid);
    const r = await call(d, 'GET', `/api/worktrees/${w.wt.id}/diff`, undefined, b.read);
    assert.equal(r.status, 409, r.text);
    assert.equal(r.body.error.details.reason, 'git_memory', r.text);
    assert.match(r.body.error.message, /more than 64 MiB/, r.text);
    const grew = peakRss(d.proc.pid) - before;
    assert.ok(grew < 256 * 1024 * 1024, `agentd's peak memory grew ${grew >> 20} MiB for one diff`);
    // a job within the bound goes on as before: the main worktree's diff
    const ws = await call(d, 'GET', `/api/workspaces/${w.ws}`, undefined, b.admin);
    const main = ws.body.worktrees.find((x) => x.isMain);
    const ok = await call(d, 'GET', `/api/worktrees/${main.id}/diff`, undefined, b.read);
    assert.equal(ok.status, 200, ok.text);
  } finally {
    await d.stop();
  }
});
