// SPDX-License-Identifier: MIT
// The `acp` executor against the ACP test agent (tests/fixtures/acp-agent.js):
// the handshake with the worktree as cwd, streamed text, usage and cost from
// usage_update, one card per tool call, plans, permission requests as agentd
// approvals (allow, allow always into the permissions, deny), fs requests
// served inside the worktree only (.., absolute paths and symlinks out are
// refused; terminals and the permissions of fs requests are
// acp-terminal.test.js's), stop as session/cancel, a message to a
// stopped agent as a new run that loads the session, and each misbehaviour
// (malformed JSON-RPC, an update for an unknown session, a 10 MB line) a
// clear run error while another agent goes on.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { api, until, messages, said, runs, agent, runEnded, watch, seen, pendingApprovals } = require('./lib/agents');

const ACP = path.resolve(__dirname, '../fixtures/acp-agent.js');

async function setup() {
  const d = await daemon.start({ args: ['--stop-grace-ms', '3000'] });
  const repo = daemon.tmpRepo('agentd-acp-');
  const ws = await api(d, 'POST', '/api/workspaces', { path: repo });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  const wt = ws.body.worktrees[0].id;
  const make = async (extra = {}) => {
    const r = await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'acp', command: [process.execPath, ACP], ...extra });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.id;
  };
  return { d, repo, wt, make, cleanup: () => d.cleanup() };
}

async function waiting(d, id) {
  await until(async () => (await agent(d, id)).status === 'waiting', `agent ${id} waiting`);
}

async function send(d, id, content) {
  const r = await api(d, 'POST', `/api/agents/${id}/message`, { content });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

async function pendingApproval(d, id) {
  return (await pendingApprovals(d, id))[0];
}

test('acp executor: turns, tools, plans, usage, approvals, fs and cancel', async (t) => {
  const s = await setup();
  try {
    const id = await s.make();

    await t.test('a prompt: streamed text, one message, usage and cost, the session', async () => {
      const live = await watch(s.d, id);
      assert.equal((await api(s.d, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'hello' })).status, 200);
      assert.equal(await said(s.d, id, 'Hello'), 'Hello from ACP.');
      await waiting(s.d, id);
      // (the socket's events may come after the REST answers that read the state)
      const streamed = () => seen(live, 'agent_output').filter((p) => p.stream === 'stdout' && p.isComplete === false).map((p) => p.content).join('');
      await live.until(() => streamed() === 'Hello from ACP.', 30000, 'the streamed text');
      await live.until(() => seen(live, 'agent_context').some((p) => p.level === 50), 5000, 'context 50%');
      await live.close();
      const a = await agent(s.d, id);
      assert.match(a.sessionId, /^sess-/);
      const run = await until(async () => {
        const r = (await runs(s.d, id))[0];
        return r.inputTokens === 10 ? r : null;
      }, 'the turn usage on the run');
      assert.equal(run.outputTokens, 5);
      assert.equal(run.cacheReadTokens, 2);
      assert.ok(Math.abs(run.costUsd - 0.25) < 1e-9, JSON.stringify(run));
      assert.equal(run.cliVersion, '1.0.0');
      assert.equal((await messages(s.d, id)).filter((m) => m.role === 'user').length, 1);
    });

    await t.test('a tool call is one card: start, end and its output', async () => {
      const live = await watch(s.d, id);
      await send(s.d, id, 'tool');
      await said(s.d, id, 'Listed.');
      const tools = (await messages(s.d, id)).filter((m) => m.role === 'tool');
      assert.equal(tools.length, 1);
      assert.equal(tools[0].toolName, 'List files');
      assert.equal(tools[0].toolOutput, 'a.txt');
      assert.equal(tools[0].isComplete, true);
      assert.deepEqual(JSON.parse(tools[0].toolInput), { path: '.' });
      await live.until(() => seen(live, 'tool_end').length === 1, 5000, 'tool_end');
      assert.equal(seen(live, 'tool_start')[0].toolId, 't-1');
      assert.equal(seen(live, 'tool_end')[0].status, 'success');
      await live.close();
    });

    await t.test('a plan becomes a message', async () => {
      await send(s.d, id, 'plan');
      const plan = await until(async () => (await messages(s.d, id)).find((m) => m.role === 'system' && m.content.startsWith('Plan:')), 'the plan');
      assert.equal(plan.content, 'Plan:\n[x] read the code\n[~] change it\n[ ] test it');
    });

    await t.test('permission: an approval with the offered options; allow writes the file', async () => {
      await waiting(s.d, id);
      await send(s.d, id, 'edit out.txt');
      const ap = await pendingApproval(s.d, id);
      assert.equal(ap.toolName, 'write');
      assert.equal(ap.input.title, 'Edit out.txt');
      assert.deepEqual(ap.input.options.map((o) => o.kind), ['allow_once', 'allow_always', 'reject_once']);
      assert.equal((await agent(s.d, id)).status, 'waiting');
      assert.ok(!fs.existsSync(path.join(s.repo, 'out.txt')), 'nothing written before the decision');
      const ok = await api(s.d, 'POST', `/api/approvals/${ap.id}`, { decision: 'allow' });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(await said(s.d, id, 'outcome'), 'outcome: selected allow-once');
      assert.equal(fs.readFileSync(path.join(s.repo, 'out.txt'), 'utf8'), 'written by acp\n');
      const again = await api(s.d, 'POST', `/api/approvals/${ap.id}`, { decision: 'deny' });
      assert.equal(again.status, 409);
    });

    await t.test('deny (from the CLI) picks the reject option', async () => {
      await waiting(s.d, id);
      const before = (await messages(s.d, id)).length;
      await send(s.d, id, 'edit denied.txt');
      const ap = await pendingApproval(s.d, id);
      const cli = (...args) => daemon.run(['--data-dir', s.d.dataDir, ...args]);
      const ls = cli('approvals', id);
      assert.equal(ls.status, 0, ls.stderr);
      assert.match(ls.stdout, new RegExp(`^${ap.id}  write  `, 'm'));
      const no = cli('approve', ap.id, '--deny');
      assert.equal(no.status, 0, no.stderr);
      assert.equal(no.stdout.trim(), `${ap.id} write: denied`);
      await until(async () => {
        const ms = await messages(s.d, id);
        return ms.length > before && ms.some((m) => m.content === 'outcome: selected reject-once');
      }, 'the rejection');
      assert.ok(!fs.existsSync(path.join(s.repo, 'denied.txt')));
      const failed = (await messages(s.d, id)).find((m) => m.role === 'tool' && m.toolName === 'Edit denied.txt');
      assert.equal(failed.toolOutput, 'denied');
    });

    await t.test('allow always: the allow_always option, "write" in the permissions, not asked again', async () => {
      await waiting(s.d, id);
      await send(s.d, id, 'edit always.txt');
      const ap = await pendingApproval(s.d, id);
      assert.equal((await api(s.d, 'POST', `/api/approvals/${ap.id}`, { decision: 'allow_always' })).status, 200);
      await until(async () => (await messages(s.d, id)).some((m) => m.content === 'outcome: selected allow-always'), 'allow-always');
      assert.ok((await agent(s.d, id)).permissions.includes('write'));
      assert.ok(fs.existsSync(path.join(s.repo, 'always.txt')));
    });

    await t.test('fs: inside the worktree only', async () => {
      fs.writeFileSync(path.join(s.repo, 'in.txt'), 'inside\n');
      fs.symlinkSync('/etc/hostname', path.join(s.repo, 'link-out'));
      const cases = [
        ['read in.txt', 'read: inside\n'],
        ['read ../x', 'read error: path is outside the worktree'],
        ['read /etc/hostname', 'read error: path is outside the worktree'],
        ['read link-out', 'read error: path is outside the worktree'],
        ['write link-out pwned', 'write error: path is outside the worktree'],
        ['write sub/../../escape.txt x', 'write error: path is outside the worktree'],
        ['write new.txt fresh', 'write ok'],
      ];
      for (const [prompt, want] of cases) {
        await waiting(s.d, id);
        const before = (await messages(s.d, id)).length;
        await send(s.d, id, prompt);
        const got = await until(async () => {
          const ms = await messages(s.d, id);
          return ms.length > before + 1 && ms[0].role === 'assistant' ? ms[0].content : null;
        }, `the answer to ${prompt}`);
        assert.equal(got, want, prompt);
      }
      assert.equal(fs.readFileSync(path.join(s.repo, 'new.txt'), 'utf8'), 'fresh');
      assert.ok(!fs.existsSync(path.join(path.dirname(s.repo), 'escape.txt')));
      assert.notEqual(fs.readFileSync('/etc/hostname', 'utf8'), 'pwned');
    });

    await t.test('a permission request for a path outside the worktree is refused unasked', async () => {
      await waiting(s.d, id);
      const live = await watch(s.d, id);
      await send(s.d, id, 'outside');
      await until(async () => (await messages(s.d, id)).some((m) => m.content === 'outcome: selected reject-once'), 'the refusal');
      // the user is told why, live
      await live.until(() => seen(live, 'agent_output').some((p) => p.stream === 'system' &&
        p.content === 'refused: the agent asked permission for /etc/passwd, outside its worktree'), 5000, 'the refusal said');
      await live.close();
      const all = (await api(s.d, 'GET', `/api/agents/${id}/approvals`)).body.approvals;
      assert.ok(!all.some((a) => a.input.title === 'Edit /etc/passwd'), 'no approval was asked of the user');
    });

    await t.test('stop during a turn sends session/cancel first', async () => {
      await waiting(s.d, id);
      await send(s.d, id, 'slow');
      await until(async () => (await messages(s.d, id)).some((m) => m.role === 'tool' && m.toolName === 'Wait'), 'the slow tool');
      const st = await api(s.d, 'POST', `/api/agents/${id}/stop?wait=true`);
      assert.equal(st.status, 200, JSON.stringify(st.body));
      assert.equal(st.body.status, 'stopped');
      assert.ok((await messages(s.d, id)).some((m) => m.content === 'cancelled by the client'), 'the agent saw session/cancel');
    });

    await t.test('a message to the stopped agent loads its session in a new run', async () => {
      const session = (await agent(s.d, id)).sessionId;
      const n = (await runs(s.d, id)).length;
      await send(s.d, id, 'after restart');
      assert.equal(await said(s.d, id, 'echo'), 'echo: after restart');
      assert.equal((await runs(s.d, id)).length, n + 1);
      assert.equal((await agent(s.d, id)).sessionId, session);
      // the history the agent replays on load is not stored again
      assert.ok(!(await messages(s.d, id)).some((m) => m.content === 'old answer'));
    });
  } finally {
    await s.cleanup();
  }
});

test('acp executor: a misbehaving agent gets a clear run error, nothing else breaks', async (t) => {
  const s = await setup();
  try {
    const good = await s.make({ name: 'good' });
    assert.equal((await api(s.d, 'POST', `/api/agents/${good}/start`, { initialPrompt: 'hello' })).status, 200);
    await said(s.d, good, 'Hello');
    const cases = [
      ['malformed', /ACP agent broke the protocol: not JSON/],
      ['stranger', /ACP agent broke the protocol: a message for unknown session sess-nobody/],
      ['huge', /ACP agent broke the protocol: a line of \d+ bytes, over the \d+-byte limit/],
    ];
    for (const [prompt, reason] of cases) {
      await t.test(prompt, async () => {
        const id = await s.make({ name: `bad-${prompt}` });
        assert.equal((await api(s.d, 'POST', `/api/agents/${id}/start`, { initialPrompt: prompt })).status, 200);
        const run = await runEnded(s.d, id, 1);
        assert.equal(run.status, 'failed', JSON.stringify(run));
        const a = await agent(s.d, id);
        assert.equal(a.status, 'error');
        // the run's reason, on the agent (statusReason)
        assert.match(a.statusReason.text, reason);
        assert.match(a.state.statusReason, reason);
        assert.ok((await messages(s.d, id)).some((m) => m.role === 'system' && reason.test(m.content)), 'said in the transcript');
        // the other agent still answers
        await waiting(s.d, good);
        await send(s.d, good, `still there after ${prompt}`);
        assert.equal(await said(s.d, good, `echo: still there after ${prompt}`), `echo: still there after ${prompt}`);
      });
    }
  } finally {
    await s.cleanup();
  }
});

test('acp agents: the API checks executor, preset and command', async () => {
  const s = await setup();
  try {
    const wt = s.wt;
    const none = await api(s.d, 'POST', '/api/agents', { worktreeId: wt, executor: 'acp' });
    assert.equal(none.status, 422);
    assert.equal(none.body.error.details.field, 'acpAgent');
    const bad = await api(s.d, 'POST', '/api/agents', { worktreeId: wt, executor: 'acp', acpAgent: 'nope' });
    assert.equal(bad.status, 422);
    const wrong = await api(s.d, 'POST', '/api/agents', { worktreeId: wt, executor: 'claude', acpAgent: 'gemini' });
    assert.equal(wrong.status, 422);
    const ok = await api(s.d, 'POST', '/api/agents', { worktreeId: wt, executor: 'acp', acpAgent: 'codex-acp' });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal(ok.body.executor, 'acp');
    assert.equal(ok.body.state.acpAgent, 'codex-acp');
    const made = daemon.run(['--data-dir', s.d.dataDir, 'new', '--worktree', wt, '--acp-agent', 'gemini', '--json']);
    assert.equal(made.status, 0, made.stderr);
    const row = JSON.parse(made.stdout);
    assert.equal(row.executor, 'acp');
    assert.equal(row.state.acpAgent, 'gemini');
  } finally {
    await s.cleanup();
  }
});

test('acp executor: the agent outlives a daemon killed with -9, and takes the next message', async () => {
  const dataDir = daemon.tmpDir();
  let d = await daemon.start({ dataDir, args: ['--stop-grace-ms', '3000'] });
  try {
    const repo = daemon.tmpRepo('agentd-acp-restart-');
    const ws = await api(d, 'POST', '/api/workspaces', { path: repo });
    const ag = await api(d, 'POST', '/api/agents', { worktreeId: ws.body.worktrees[0].id, executor: 'acp', command: [process.execPath, ACP] });
    assert.equal(ag.status, 201, JSON.stringify(ag.body));
    const id = ag.body.id;
    const st = await api(d, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'hello' });
    assert.equal(st.status, 200);
    const pid = st.body.pid;
    await said(d, id, 'Hello');
    await waiting(d, id);
    await d.stop('SIGKILL');
    process.kill(pid, 0); // the agent still runs, under its holder
    d = await daemon.start({ dataDir, args: ['--stop-grace-ms', '3000'] });
    const a = await agent(d, id);
    assert.equal(a.pid, pid);
    await send(d, id, 'after the restart');
    assert.equal(await said(d, id, 'echo'), 'echo: after the restart');
    assert.equal((await runs(d, id)).length, 1, 'the same process and session');
    await waiting(d, id);
  } finally {
    await d.cleanup();
  }
});

test('acp executor: agentd\'s data dir, inside the worktree or linked from it, is not served', async () => {
  // a repository holding the data dir is no workspace at all (issue #73)
  const holder = daemon.tmpRepo('agentd-acp-datadir-');
  const d = await daemon.start({ dataDir: path.join(holder, 'agentd-data'), args: ['--stop-grace-ms', '3000'] });
  try {
    const refused = await api(d, 'POST', '/api/workspaces', { path: holder });
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assert.match(refused.body.error.message, /data dir/);
    // a link to it, made after the repository was registered, leads nowhere
    const repo = daemon.tmpRepo('agentd-acp-datalink-');
    const ws = await api(d, 'POST', '/api/workspaces', { path: repo });
    assert.equal(ws.status, 201, JSON.stringify(ws.body));
    fs.symlinkSync(d.dataDir, path.join(ws.body.worktrees[0].path || repo, 'agentd-data'));
    // auto: nothing is asked, the data dir is refused all the same
    const ag = await api(d, 'POST', '/api/agents', { worktreeId: ws.body.worktrees[0].id, executor: 'acp', mode: 'auto', command: [process.execPath, ACP] });
    assert.equal(ag.status, 201, JSON.stringify(ag.body));
    const id = ag.body.id;
    assert.ok(fs.existsSync(path.join(d.dataDir, 'owner-token')));
    assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'read agentd-data/owner-token' })).status, 200);
    assert.equal(await said(d, id, 'read'), 'read error: path is outside the worktree');
    await waiting(d, id);
    await send(d, id, 'write agentd-data/planted x');
    assert.equal(await said(d, id, 'write'), 'write error: path is outside the worktree');
    assert.ok(!fs.existsSync(path.join(d.dataDir, 'planted')));
  } finally {
    await d.cleanup();
  }
});
