// SPDX-License-Identifier: MIT
// Approvals and forks with the real Claude Code CLI under agentd, against the
// mock Anthropic API. In the default (regular) mode a Bash call needs
// permission: the agent becomes `waiting` with a stored approval, the
// decision goes back to the running CLI and the turn goes on (allow runs
// the command, deny does not; allow_always adds the tool to the agent's
// permissions). A decided approval cannot be decided again; a pending one
// of a stopped run expires. Forking a Claude agent resumes its session
// into a new one: the parent's session file is never appended to.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const daemon = require('./lib/daemon');
const { start } = require('../fixtures/mock-anthropic');
const { CLAUDE_BIN, claudeMissingReason, makeSandbox } = require('../fixtures/claude-run');
const { api, until, pendingApprovals } = require('./lib/api');
const { claudeAgents } = require('./lib/agents');
const { openSse } = require('./lib/live');

const skip = claudeMissingReason() || false;

const messages = async (d, id) => (await api(d, 'GET', `/api/agents/${id}/messages?limit=200`)).body.messages;
const agent = async (d, id) => (await api(d, 'GET', `/api/agents/${id}`)).body;

// The session file of sid under the sandbox HOME (~/.claude/projects/<cwd>/<sid>.jsonl).
function sessionFile(home, sid) {
  const root = path.join(home, '.claude', 'projects');
  for (const dir of fs.existsSync(root) ? fs.readdirSync(root) : []) {
    const f = path.join(root, dir, `${sid}.jsonl`);
    if (fs.existsSync(f)) return f;
  }
  return null;
}

async function setup() {
  const mock = await start();
  const sb = makeSandbox();
  const d = await daemon.start({ needUrl: true, args: ['--claude-bin', CLAUDE_BIN, '--stop-grace-ms', '3000'] });
  const make = await claudeAgents(d, sb, mock.url);
  const cleanup = async () => { await d.cleanup(); await mock.close(); sb.cleanup(); };
  return { mock, sb, d, make, cleanup };
}

// Starts the agent with a prompt that makes the mock call Bash, and waits for the approval.
async function pendingApproval(d, id, prompt = 'please make a file') {
  const s = await api(d, 'POST', `/api/agents/${id}/start`, { initialPrompt: prompt });
  assert.equal(s.status, 200, JSON.stringify(s.body));
  const list = await pendingApprovals(d, id);
  assert.equal(list.length, 1);
  await until(async () => (await agent(d, id)).status === 'waiting', 'the agent waiting for the approval');
  return list[0];
}

test('claude approvals: allow runs the tool, a second decision is refused', { skip }, async () => {
  const t = await setup();
  try {
    const ag = await t.make();
    const ap = await pendingApproval(t.d, ag.id);
    assert.equal(ap.toolName, 'Bash');
    assert.equal(ap.input.command, 'echo hello > out.txt');
    assert.equal(ap.status, 'pending');
    assert.equal(ap.agentId, ag.id);
    assert.match(ap.runId, /^run/);
    assert.ok(ap.createdAt);
    assert.ok(!fs.existsSync(path.join(t.sb.cwd, 'out.txt')), 'nothing ran before the decision');

    const bad = await api(t.d, 'POST', `/api/approvals/${ap.id}`, { decision: 'maybe' });
    assert.equal(bad.status, 422);
    const ok = await api(t.d, 'POST', `/api/approvals/${ap.id}`, { decision: 'allow' });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.status, 'allowed');
    assert.equal(ok.body.decision, 'allow');

    await until(async () => (await messages(t.d, ag.id)).some((m) => m.role === 'assistant' && m.content.includes('I wrote hello to out.txt.')),
      'the turn going on after the approval');
    assert.equal(fs.readFileSync(path.join(t.sb.cwd, 'out.txt'), 'utf8').trim(), 'hello');
    await until(async () => (await agent(t.d, ag.id)).status === 'waiting', 'the end of the turn');
    const again = await api(t.d, 'POST', `/api/approvals/${ap.id}`, { decision: 'deny' });
    assert.equal(again.status, 409);
    assert.equal((await api(t.d, 'GET', `/api/agents/${ag.id}/approvals?pending=true`)).body.approvals.length, 0);
    assert.equal((await api(t.d, 'GET', `/api/agents/${ag.id}/approvals`)).body.approvals[0].status, 'allowed');
    assert.equal((await api(t.d, 'POST', '/api/approvals/ap_missing', { decision: 'allow' })).status, 404);
  } finally {
    await t.cleanup();
  }
});

test('claude approvals: deny (from the CLI) keeps the tool from running, the turn goes on', { skip }, async () => {
  const t = await setup();
  try {
    const ag = await t.make();
    const ap = await pendingApproval(t.d, ag.id);
    const s = openSse(t.d, `/api/events?topics=${encodeURIComponent(`agent:${ag.id}`)}`);
    await s.ready;
    // Over the CLI this time: `agentd approvals AGENT` lists it, `agentd approve ID --deny` decides.
    const cli = (...args) => daemon.run(['--data-dir', t.d.dataDir, ...args]);
    const ls = cli('approvals', ag.id);
    assert.equal(ls.status, 0, ls.stderr);
    assert.match(ls.stdout, new RegExp(`^${ap.id}  Bash  .*echo hello`, 'm'));
    assert.equal(cli('approve', ap.id, '--deny', '--always').status, 2, 'deny and always exclude each other');
    const no = cli('approve', ap.id, '--deny');
    assert.equal(no.status, 0, no.stderr);
    assert.equal(no.stdout.trim(), `${ap.id} Bash: denied`);
    await until(async () => (await agent(t.d, ag.id)).status === 'waiting', 'the end of the turn');
    const msgs = await messages(t.d, ag.id);
    const tool = msgs.find((m) => m.role === 'tool' && m.toolName === 'Bash');
    assert.ok(tool, JSON.stringify(msgs));
    assert.match(tool.toolOutput || '', /denied/);
    assert.ok(!fs.existsSync(path.join(t.sb.cwd, 'out.txt')), 'a denied command never ran');
    assert.ok((await api(t.d, 'GET', `/api/runs/${ap.runId}`)).status === 200);
    // the call's tool_end says it was denied (the CLI hears the answer
    // before approval_decided is published, so a client may see it first)
    await s.until(() => s.events.some((e) => e.json.type === 'tool_end' && e.json.payload.toolId === ap.toolUseId));
    const end = s.events.find((e) => e.json.type === 'tool_end' && e.json.payload.toolId === ap.toolUseId).json.payload;
    assert.equal(end.status, 'error', JSON.stringify(end));
    assert.equal(end.denied, true, JSON.stringify(end));
    s.stop();
  } finally {
    await t.cleanup();
  }
});

test('claude approvals: allow always adds the tool to the agent; a stop expires a pending one', { skip }, async () => {
  const t = await setup();
  try {
    const ag = await t.make();
    const ap = await pendingApproval(t.d, ag.id);
    const yes = await api(t.d, 'POST', `/api/approvals/${ap.id}`, { decision: 'allow_always' });
    assert.equal(yes.status, 200, JSON.stringify(yes.body));
    await until(async () => fs.existsSync(path.join(t.sb.cwd, 'out.txt')), 'the allowed command');
    assert.deepEqual((await agent(t.d, ag.id)).permissions, ['read', 'Bash']);
    await until(async () => (await agent(t.d, ag.id)).status === 'waiting', 'the end of the turn');
    await api(t.d, 'POST', `/api/agents/${ag.id}/stop?force=true&wait=true`);

    // A second agent: its pending approval expires when its run is stopped.
    const b = await t.make();
    const p2 = await pendingApproval(t.d, b.id);
    assert.equal((await api(t.d, 'POST', `/api/agents/${b.id}/stop?force=true&wait=true`)).status, 200);
    const after = await until(async () => {
      const a = (await api(t.d, 'GET', `/api/agents/${b.id}/approvals`)).body.approvals[0];
      return a.status !== 'pending' ? a : null;
    }, 'the approval to expire');
    assert.equal(after.status, 'expired');
    assert.equal((await api(t.d, 'POST', `/api/approvals/${p2.id}`, { decision: 'allow' })).status, 409);
  } finally {
    await t.cleanup();
  }
});

test('claude fork: the fork resumes into its own session, the parent file is unchanged', { skip }, async () => {
  const t = await setup();
  try {
    const ag = await t.make();
    assert.equal((await api(t.d, 'POST', `/api/agents/${ag.id}/start`, { initialPrompt: 'please remember a word' })).status, 200);
    const parent = await until(async () => { const a = await agent(t.d, ag.id); return a.status === 'waiting' ? a : null; }, 'the first turn');
    assert.equal((await api(t.d, 'POST', `/api/agents/${ag.id}/stop?wait=true`)).status, 200);
    const file = sessionFile(t.sb.home, parent.sessionId);
    assert.ok(file, 'the parent has a session file');
    const before = fs.readFileSync(file);

    const f = await api(t.d, 'POST', `/api/agents/${ag.id}/fork`, {});
    assert.equal(f.status, 201, JSON.stringify(f.body));
    assert.equal(f.body.parentAgentId, ag.id);
    assert.equal(f.body.sessionId, parent.sessionId);
    assert.equal(f.body.status, 'idle');
    assert.equal((await api(t.d, 'POST', `/api/agents/${f.body.id}/start`, { initialPrompt: 'what word was it?' })).status, 200);
    const fork = await until(async () => { const a = await agent(t.d, f.body.id); return a.status === 'waiting' ? a : null; }, 'the fork turn');
    assert.notEqual(fork.sessionId, parent.sessionId);
    assert.ok(!(fork.state && fork.state.forkSession), 'the fork flag is cleared once it has its own session');
    assert.ok((await messages(t.d, f.body.id)).some((m) => m.role === 'assistant' && m.content.includes('The word was banana.')));
    const req = t.mock.agentRequests().slice(-1)[0];
    assert.match(JSON.stringify(req.body.messages), /please remember a word/, 'the fork carries the parent conversation');
    assert.ok(Buffer.compare(before, fs.readFileSync(file)) === 0, 'the parent session file is unchanged');
    assert.ok(sessionFile(t.sb.home, fork.sessionId), 'the fork has its own session file');
    await api(t.d, 'POST', `/api/agents/${f.body.id}/stop?force=true&wait=true`);

    // A fork in a new worktree branched from the parent's branch: another
    // directory, the same conversation.
    execFileSync('git', ['-C', t.sb.cwd, 'commit', '-q', '--allow-empty', '-m', 'base'], { env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } });
    const wts = (await api(t.d, 'GET', '/api/worktrees')).body.worktrees;
    const main = wts.find((w) => w.isMain);
    const alt = await api(t.d, 'POST', '/api/worktrees', { workspaceId: main.workspaceId, name: 'alt', branch: 'alt', createBranch: true, base: main.branch });
    assert.equal(alt.status, 201, JSON.stringify(alt.body));
    const altWt = alt.body.worktree || alt.body;
    const f2 = await api(t.d, 'POST', `/api/agents/${ag.id}/fork`, { worktreeId: altWt.id, name: 'elsewhere' });
    assert.equal(f2.status, 201, JSON.stringify(f2.body));
    assert.equal((await api(t.d, 'POST', `/api/agents/${f2.body.id}/start`, { initialPrompt: 'what word was it?' })).status, 200);
    const fork2 = await until(async () => { const a = await agent(t.d, f2.body.id); return a.status === 'waiting' || a.status === 'error' || a.status === 'finished' ? a : null; }, 'the fork in the new worktree');
    assert.equal(fork2.status, 'waiting', JSON.stringify(fork2));
    const req2 = t.mock.agentRequests().slice(-1)[0];
    assert.match(JSON.stringify(req2.body.messages), /please remember a word/, 'the fork in another worktree carries the parent conversation');
    assert.ok(Buffer.compare(before, fs.readFileSync(file)) === 0, 'the parent session file is still unchanged');
    await api(t.d, 'POST', `/api/agents/${f2.body.id}/stop?force=true&wait=true`);
  } finally {
    await t.cleanup();
  }
});
