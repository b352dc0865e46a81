// SPDX-License-Identifier: MIT
// agentd as an ACP agent for editors (issue #36): the ACP SDK's own client
// (@agentclientprotocol/sdk, as an editor uses it) runs `agentd acp`. A new
// session is an agentd agent in the worktree at the session's cwd (here one
// of our `acp` executor running the test ACP agent); a prompt's text,
// tool calls and the answer come back as session/update; an approval comes
// as session/request_permission and the editor's answer decides it;
// session/load attaches a second editor to the running agent with its
// history; leaving the editor stops nothing; session/cancel stops the turn.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { Readable, Writable } = require('node:stream');
const { api, until, startWithWorktree } = require('./lib/api');
const { BIN } = require('./lib/daemon');

const AGENT = path.resolve(__dirname, '../fixtures/acp-agent.js');

// An editor: `agentd acp` spawned, the SDK's client on its stdio.
async function editor(d, acp, onPermission) {
  const child = spawn(BIN, ['--data-dir', d.dataDir, 'acp', '--executor', 'acp', '--', process.execPath, AGENT],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  const updates = [];
  const app = acp.client({ name: 'test-editor' })
    .onNotification(acp.methods.client.session.update, (n) => { updates.push(n.params.update); })
    .onRequest(acp.methods.client.session.requestPermission, async (r) => onPermission(r.params));
  const stream = acp.ndJsonStream(Writable.toWeb(child.stdin), Readable.toWeb(child.stdout));
  // leaving: the editor closes the agent's stdin (the connection's end alone does not)
  const run = async (op) => {
    try {
      return await app.connectWith(stream, op);
    } finally {
      child.stdin.destroy();
    }
  };
  return { child, exited, updates, run };
}

const said = (updates) => updates.filter((u) => u.sessionUpdate === 'agent_message_chunk').map((u) => u.content.text).join('');

test('an editor runs agentd acp: prompt, updates, a permission, load with history, cancel', { timeout: 120000 }, async () => {
  const acp = await import('@agentclientprotocol/sdk');
  const { d, dir, wt } = await startWithWorktree({ args: ['--stop-grace-ms', '1000'] });
  try {
    const cwd = (await api(d, 'GET', '/api/worktrees')).body.worktrees.find((w) => w.id === wt).path;
    let asked = null;
    const e1 = await editor(d, acp, (p) => {
      asked = p;
      return { outcome: { outcome: 'selected', optionId: 'allow' } };
    });
    let sessionId;
    await e1.run(async (ctx) => {
      const init = await ctx.request(acp.methods.agent.initialize, { protocolVersion: 1, clientCapabilities: {} });
      assert.equal(init.protocolVersion, 1);
      assert.equal(init.agentCapabilities.loadSession, true);
      await assert.rejects(ctx.request(acp.methods.agent.session.new, { cwd: '/', mcpServers: [] }), /not a worktree/);
      sessionId = (await ctx.request(acp.methods.agent.session.new, { cwd, mcpServers: [] })).sessionId;
      const agent = (await api(d, 'GET', `/api/agents/${sessionId}`)).body;
      assert.equal(agent.worktreeId, wt);
      assert.equal(agent.executor, 'acp');

      let r = await ctx.request(acp.methods.agent.session.prompt, { sessionId, prompt: [{ type: 'text', text: 'hello' }] });
      assert.equal(r.stopReason, 'end_turn');
      await until(() => said(e1.updates).includes('Hello from ACP.'), 'the answer as updates');

      // an approval: asked of the editor, its answer decides it in agentd
      r = await ctx.request(acp.methods.agent.session.prompt, { sessionId, prompt: [{ type: 'text', text: 'edit a.txt' }] });
      assert.equal(r.stopReason, 'end_turn');
      assert.ok(asked, 'a permission request');
      assert.equal(asked.sessionId, sessionId);
      assert.deepEqual(asked.options.map((o) => o.kind), ['allow_once', 'allow_always', 'reject_once']);
      assert.equal(asked.toolCall.title, 'Edit a.txt');
      assert.equal(asked.toolCall.kind, 'edit');
      await until(() => said(e1.updates).includes('outcome: selected allow-once'), 'the agent told it was allowed');
      assert.equal(fs.readFileSync(path.join(cwd, 'a.txt'), 'utf8'), 'written by acp\n');
      const approvals = (await api(d, 'GET', `/api/agents/${sessionId}/approvals`)).body.approvals;
      assert.equal(approvals[0].status, 'allowed', JSON.stringify(approvals));
    });
    // the editor left: its agent runs on
    await e1.exited;
    const after = (await api(d, 'GET', `/api/agents/${sessionId}`)).body;
    assert.ok(['running', 'waiting'].includes(after.status), after.status);

    // a second editor attaches to the running agent, with its history
    const e2 = await editor(d, acp, () => ({ outcome: { outcome: 'cancelled' } }));
    await e2.run(async (ctx) => {
      await ctx.request(acp.methods.agent.initialize, { protocolVersion: 1, clientCapabilities: {} });
      const list = await ctx.request(acp.methods.agent.session.list, {});
      assert.ok(list.sessions.some((s) => s.sessionId === sessionId), JSON.stringify(list));
      await ctx.request(acp.methods.agent.session.load, { sessionId, cwd, mcpServers: [] });
      await until(() => said(e2.updates).includes('Hello from ACP.'), 'the history');
      assert.ok(e2.updates.some((u) => u.sessionUpdate === 'user_message_chunk' && u.content.text === 'hello'));
      // cancel: the turn ends as cancelled and the agent's run stops
      const turn = ctx.request(acp.methods.agent.session.prompt, { sessionId, prompt: [{ type: 'text', text: 'slow' }] });
      // the slow tool is running (its tool_call reached the editor) before the cancel
      await until(() => e2.updates.some((u) => u.sessionUpdate === 'tool_call' && u.title === 'Wait'), 'the slow tool running', 30000);
      await ctx.notify(acp.methods.agent.session.cancel, { sessionId });
      assert.equal((await turn).stopReason, 'cancelled');
      await assert.rejects(ctx.request(acp.methods.agent.session.load, { sessionId: 'ag_nope', cwd, mcpServers: [] }), /no such session/);
    });
    await e2.exited;
    await until(async () => (await api(d, 'GET', `/api/agents/${sessionId}`)).body.status === 'stopped', 'the agent stopped');
  } finally {
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
