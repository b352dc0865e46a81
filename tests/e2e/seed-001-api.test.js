// SPDX-License-Identifier: MIT
// Seed fidelity, seed 001 (issue #40): Claude Manager's own HTTP client,
// unchanged. Its only setting is API_BASE (VITE_API_URL); pointed at
// agentd's /seed/api it gets the seed's words: the strict AgentStatus enum
// (running, waiting, error, finished), GitStatus with modified / staged /
// untracked as path lists, workspaces with worktree_count and agent_count.
// agentd's own /api answers are unchanged, and /seed/api is guarded as /api.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const daemon = require('./lib/daemon');
const { startApi, until } = require('./lib/api');
const { Live } = require('./lib/live');

const SEED_STATUSES = ['running', 'waiting', 'error', 'finished'];

// The seed's api.ts (section 6.1), the browser path (no Tauri): the one
// copy in tests/fixtures/seed-clients, also run in Chromium.
const seedClient = require('../fixtures/seed-clients/seed001');
const seedApi = (API_BASE) => ({ ...seedClient.createApi(API_BASE), ApiError: seedClient.ApiError });

const git = (dir, ...a) => {
  const r = spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...a], { cwd: dir, stdio: 'pipe' });
  assert.equal(r.status, 0, r.stderr.toString());
};

// The seed's AgentStatus: serde would refuse anything else.
const strict = (a) => assert.ok(SEED_STATUSES.includes(a.status), `status ${a.status} is not the seed's`);

test('the seed\'s API client on /seed/api: strict statuses, git lists, workspace counts', async () => {
  const d = await startApi({ args: ['--auth', 'none'] });
  try {
    const api = seedApi(`${d.url}/seed/api`);
    const dir = daemon.tmpRepo('agentd-seed001-');
    fs.writeFileSync(path.join(dir, 'a.txt'), 'one\n');
    fs.writeFileSync(path.join(dir, 'b.txt'), 'one\n');
    git(dir, 'add', '.');
    git(dir, 'commit', '-q', '-m', 'files');

    const ws = await api.workspaces.create({ path: dir, name: 'w' });
    const wt = ws.worktrees[0];
    let list = (await api.workspaces.list()).workspaces;
    assert.equal(list.length, 1);
    assert.equal(list[0].worktree_count, 1);
    assert.equal(list[0].agent_count, 0);

    const agent = await api.agents.create({ worktreeId: wt.id, name: 'sleeper', executor: 'command', command: ['sleep', '60'] });
    strict(agent);
    assert.equal(agent.status, 'finished'); // a new agent: the seed's default
    assert.equal(agent.agentdStatus, 'idle');
    const one = await api.workspaces.get(ws.id);
    assert.equal(one.agent_count, 1);
    assert.equal(one.worktree_count, 1);

    // its WebSocket client (ws://host/ws; ?compat=seed its one setting): Status in the enum
    const live = await Live.open(d, '/ws?compat=seed');
    live.send('subscribe:agent', { agentId: agent.id });
    await live.next('subscribed');
    const started = await api.agents.start(agent.id, wt.path, undefined);
    strict(started);
    assert.equal(started.status, 'running');
    const all = (await api.agents.list({ worktreeId: wt.id })).agents;
    assert.equal(all.length, 1);
    all.forEach(strict);
    const stopped = await api.agents.stop(agent.id, false);
    strict(stopped);
    assert.equal(stopped.status, 'finished');
    assert.equal(stopped.agentdStatus, 'stopped');
    strict(await api.agents.get(agent.id));
    await live.until(() => live.events.some((e) => e.type === 'agent_status' && e.payload.agentdStatus === 'stopped'),
      10000, 'the stopped status');
    const statuses = live.events.filter((e) => e.type === 'agent_status').map((e) => e.payload);
    statuses.forEach(strict);
    assert.deepEqual(statuses.map((x) => x.status), statuses.map((x) => ({ running: 'running', stopping: 'running', stopped: 'finished' })[x.agentdStatus]));
    live.close();
    // the seed's error shape
    await assert.rejects(api.agents.get('nope'), (e) => e instanceof api.ApiError && e.status === 404 && e.code === 'NOT_FOUND');

    // GitStatus { is_clean, ahead, behind, modified: [], staged: [], untracked: [] }
    fs.writeFileSync(path.join(dir, 'a.txt'), 'two\n');
    fs.writeFileSync(path.join(dir, 'b.txt'), 'two\n');
    git(dir, 'add', 'b.txt');
    fs.writeFileSync(path.join(dir, 'c.txt'), 'new\n');
    const st = await until(async () => {
      const s = await api.worktrees.status(wt.id);
      return s.untracked.length === 1 ? s : null;
    }, 'the status to show the new file');
    assert.deepEqual(st.modified, ['a.txt']);
    assert.deepEqual(st.staged, ['b.txt']);
    assert.deepEqual(st.untracked, ['c.txt']);
    assert.equal(st.isClean, false);
    assert.equal(st.modifiedCount, 1); // agentd's counts, beside

    // agentd's own answers: unchanged
    const own = await d.req('GET', `/api/worktrees/${wt.id}/status`);
    assert.equal(own.body.modified, 1);
    assert.deepEqual(own.body.modifiedFiles, ['a.txt']);
    assert.equal((await d.req('GET', `/api/agents/${agent.id}`)).body.status, 'stopped');
    list = (await d.req('GET', '/api/workspaces')).body.workspaces;
    assert.equal(list[0].worktreeCount, 1);
    assert.equal(list[0].agentCount, 1);
    assert.equal(list[0].worktree_count, undefined);
  } finally {
    await d.cleanup();
  }
});

test('a new-branch worktree without createBranch, as the seed\'s client asks for one', async () => {
  const d = await startApi({ args: ['--auth', 'none'] });
  try {
    const api = seedApi(`${d.url}/seed/api`);
    const dir = daemon.tmpRepo('agentd-seed001b-');
    const ws = await api.workspaces.create({ path: dir, name: 'w' });
    // {workspaceId, name, branch}: the branch exists nowhere yet
    const wt = await api.worktrees.create({ workspaceId: ws.id, name: 'feature-x', branch: 'feature-x' });
    assert.equal(wt.branch, 'feature-x');
    assert.ok(fs.existsSync(wt.path));
    const head = spawnSync('git', ['rev-parse', '--abbrev-ref', 'HEAD'], { cwd: wt.path, encoding: 'utf8' });
    assert.equal(head.stdout.trim(), 'feature-x');
    assert.equal((await api.workspaces.get(ws.id)).worktree_count, 2);
    // agentd's /api keeps refusing a branch that exists nowhere (a typo makes no
    // branch), and so does the seed's path with an explicit createBranch: false
    const own = await d.req('POST', '/api/worktrees', { workspaceId: ws.id, name: 'feature-y' });
    assert.equal(own.status, 404, JSON.stringify(own.body));
    await assert.rejects(api.worktrees.create({ workspaceId: ws.id, name: 'feature-z', createBranch: false }),
      (e) => e.status === 404 && e.details.reason === 'unknown_branch');
    // an existing branch is checked out, not made again
    const again = await d.req('POST', '/api/worktrees', { workspaceId: ws.id, name: 'again', branch: 'feature-x' });
    assert.equal(again.status, 409, JSON.stringify(again.body)); // checked out in feature-x already
  } finally {
    await d.cleanup();
  }
});

test('CLAUDE_CLI_PATH names the Claude CLI, as in the seed; AGENTD_CLAUDE_BIN wins over it', async () => {
  const bin = daemon.tmpDir('agentd-cli-path-');
  const fake = (name) => {
    const p = path.join(bin, name);
    fs.writeFileSync(p, `#!/bin/sh\necho ran > "${name}.ran"\nexit 0\n`, { mode: 0o755 });
    return p;
  };
  const seedCli = fake('seed-claude');
  const ownCli = fake('own-claude');
  for (const [env, ran] of [[{ CLAUDE_CLI_PATH: seedCli }, 'seed-claude.ran'],
    [{ CLAUDE_CLI_PATH: seedCli, AGENTD_CLAUDE_BIN: ownCli }, 'own-claude.ran']]) {
    const d = await startApi({ env });
    try {
      const ws = await d.req('POST', '/api/workspaces', { path: daemon.tmpRepo('agentd-seed001c-'), name: 'w' });
      const wt = ws.body.worktrees[0];
      const a = await d.req('POST', '/api/agents', { worktreeId: wt.id, executor: 'claude' });
      const st = await d.req('POST', `/api/agents/${a.body.id}/start`, { initialPrompt: 'hi' });
      assert.equal(st.status, 200, JSON.stringify(st.body));
      await until(() => fs.existsSync(path.join(wt.path, ran)), `${ran} in the worktree`);
      assert.equal(fs.existsSync(path.join(wt.path, ran === 'own-claude.ran' ? 'seed-claude.ran' : 'own-claude.ran')), false);
    } finally {
      await d.cleanup();
    }
  }
});

test('/seed/api is guarded exactly as /api', async () => {
  const d = await startApi();
  try {
    assert.equal((await fetch(`${d.url}/seed/api/agents`)).status, 401);
    const read = (await d.req('POST', '/api/tokens', { name: 'reader', scope: 'read' })).body;
    const auth = { authorization: `Bearer ${read.token}` };
    assert.equal((await fetch(`${d.url}/seed/api/agents`, { headers: auth })).status, 200);
    const w = await fetch(`${d.url}/seed/api/workspaces`, {
      method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ path: '/tmp', name: 'x' }),
    });
    assert.equal(w.status, 403);
    // another origin is refused as on /api
    const cross = await fetch(`${d.url}/seed/api/agents`, { headers: { ...d.authHeaders, origin: 'https://evil.example' } });
    assert.equal(cross.status, (await fetch(`${d.url}/api/agents`, { headers: { ...d.authHeaders, origin: 'https://evil.example' } })).status);
    // only the prefix and a slash: /seedapi/... is no alias (the page, as any unknown path)
    const other = await fetch(`${d.url}/seedapi/agents`, { headers: d.authHeaders });
    assert.doesNotMatch(other.headers.get('content-type') || '', /json/);
  } finally {
    await d.cleanup();
  }
});
