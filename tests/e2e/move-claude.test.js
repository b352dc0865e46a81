// SPDX-License-Identifier: MIT
// A live Claude Code agent (the real CLI from npm, against the mock
// Anthropic API) moved from the control plane to a real node process and
// back (issue #76, docs/nodes.md "Moving a live agent"): a move asked
// mid-turn waits for the turn's end; the session file goes to where the
// CLI looks for it on the other machine (its project folder is named after
// the worktree's path there), the agent resumes the same session, and the
// next message's request to the API carries the conversation held on the
// other machine. Every answer is in the transcript once.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { start } = require('../fixtures/mock-anthropic');
const { CLAUDE_BIN, claudeMissingReason, claudeEnv } = require('../fixtures/claude-run');
const { api, until, allMessages, withAgentState } = require('./lib/api');
const { nodeToken, startNode, nodeNamed } = require('./lib/nodes');

const skip = claudeMissingReason() || false;
const RULES = [
  {
    match: 'make a file',
    reply: { tool: { name: 'Bash', input: { command: 'echo hello > out.txt', description: 'Write out.txt' } }, then: { text: 'I wrote hello to out.txt.' } },
  },
  { match: 'remember', reply: { text: 'I will remember the word banana.' } },
  // a session file past one part of the link (384 KiB): it goes in parts
  { match: 'long answer', reply: { text: `long:${'0123456789abcdef'.repeat(28 * 1024)}` } },
  { match: 'slow turn', reply: { text: 'Done slowly.', delayMs: 2500 } },
  { match: 'what word', reply: { text: 'The word was banana.' } },
  { reply: { text: 'Hello from the mock.' } },
];

// All user text the API saw in one request.
function userText(req) {
  return JSON.stringify(req.body.messages.filter((m) => m.role === 'user').map((m) => m.content));
}

test('a Claude agent moved control plane -> node -> control plane resumes its session each time', { skip }, async () => {
  const mock = await start({ rules: RULES });
  const home = daemon.tmpDir('agentd-move-claude-home-');
  const nodeHome = daemon.tmpDir('agentd-move-node-home-');
  const repo = daemon.tmpRepo('agentd-move-claude-');
  const d = await daemon.start({ needUrl: true, args: ['--claude-bin', CLAUDE_BIN, '--stop-grace-ms', '3000', '--node-lease-ms', '1500'] });
  let n = null;
  try {
    const ws = await api(d, 'POST', '/api/workspaces', { path: repo, name: 'claude-move' });
    assert.equal(ws.status, 201, JSON.stringify(ws.body));
    const wt = await api(d, 'POST', '/api/worktrees', { workspaceId: ws.body.id, name: 'cmove', branch: 'cmove', createBranch: true, base: 'main' });
    assert.equal(wt.status, 201, JSON.stringify(wt.body));
    const t = await nodeToken(d, 'cbox');
    // the node's user has a home of its own (not the test machine's ~/.claude)
    n = await startNode(d.url, { token: t.token, name: 'cbox', env: { PATH: `${path.dirname(CLAUDE_BIN)}:${path.dirname(process.execPath)}:/usr/bin:/bin`, HOME: nodeHome } });
    await until(async () => (await nodeNamed(d, 'cbox'))?.caps?.clis?.claude, 'the node has found claude');

    const env = claudeEnv(mock.url, home);
    delete env.PATH; // each machine's own finds node
    const ag = await api(d, 'POST', '/api/agents', { worktreeId: wt.body.id, executor: 'claude', env, allowUnsafeEnv: true });
    assert.equal(ag.status, 201, JSON.stringify(ag.body));
    const id = ag.body.id;
    const said = async () => (await allMessages(d, id)).filter((m) => m.role === 'assistant').map((m) => m.content);
    const waiting = async (what) => until(async () => (await api(d, 'GET', `/api/agents/${id}`)).body.status === 'waiting', what, 90000);
    await withAgentState(d, id, async () => {
      assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'remember this word' })).status, 200);
      await until(async () => (await said()).includes('I will remember the word banana.'), 'the first turn', 90000);
      await waiting('the first turn ended');
      const sid = (await api(d, 'GET', `/api/agents/${id}`)).body.sessionId;
      assert.ok(sid, 'a session id');
      const planeFile = fs.readdirSync(path.join(home, '.claude', 'projects')).map((p) => path.join(home, '.claude', 'projects', p, `${sid}.jsonl`)).find((f) => fs.existsSync(f));
      assert.ok(planeFile, 'the session file on the control plane');

      assert.equal((await api(d, 'POST', `/api/agents/${id}/message`, { content: 'a long answer please' })).status, 200);
      await until(async () => (await said()).some((t1) => t1.startsWith('long:')), 'the long answer', 90000);
      await waiting('the long turn ended');
      assert.ok(fs.statSync(planeFile).size > 400 * 1024, `a session file of more than one part: ${fs.statSync(planeFile).size}`);

      // mid-turn: the move waits for the turn to end, then goes
      assert.equal((await api(d, 'POST', `/api/agents/${id}/message`, { content: 'a slow turn please' })).status, 200);
      await until(async () => (await api(d, 'GET', `/api/agents/${id}`)).body.status === 'running', 'the slow turn under way');
      const out = await api(d, 'POST', `/api/agents/${id}/move`, { node: 'cbox' });
      assert.equal(out.status, 200, JSON.stringify(out.body));
      assert.equal(out.body.moved.toName, 'cbox');
      assert.equal(out.body.agent.state.node, 'cbox');
      assert.equal(out.body.agent.sessionId, sid);
      assert.ok((await said()).includes('Done slowly.'), 'the turn ended before the move');
      const box = await nodeNamed(d, 'cbox');
      assert.equal((await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0].nodeId, box.id);
      // the file is in the node's own home for the agent, under the node's
      // worktree's name (a path the node names before its worktree is made:
      // the run may still be setting up there)
      const nodeWt = path.join(fs.realpathSync(n.dataDir), 'worktrees');
      const proj = `${nodeWt}/${wt.body.id}`.replace(/[^A-Za-z0-9]/g, '-');
      const nodeFile = path.join(n.dataDir, 'homes', id, '.claude', 'projects', proj, `${sid}.jsonl`);
      await until(() => fs.existsSync(nodeFile), `the session file on the node: ${nodeFile}`);
      const sent = fs.readFileSync(planeFile);
      assert.ok(fs.readFileSync(nodeFile).subarray(0, sent.length).equals(sent), 'the node has the file as it was, byte for byte');

      // the next message continues the conversation on the node
      assert.equal((await api(d, 'POST', `/api/agents/${id}/message`, { content: 'what word was it?' })).status, 200);
      await until(async () => (await said()).includes('The word was banana.'), 'the answer from the node', 90000);
      const onNode = mock.agentRequests().slice(-1)[0];
      assert.match(userText(onNode), /remember this word/);
      assert.match(userText(onNode), /a slow turn please/);
      assert.equal((await api(d, 'GET', `/api/agents/${id}`)).body.sessionId, sid, 'the same session');
      await waiting('the node turn ended');

      // and back: the node's session (with the turn held there) comes home
      const back = await api(d, 'POST', `/api/agents/${id}/move`, { node: null });
      assert.equal(back.status, 200, JSON.stringify(back.body));
      assert.equal(back.body.agent.state.node, undefined);
      assert.ok(!(await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0].nodeId, 'the run is here');
      assert.match(fs.readFileSync(planeFile, 'utf8'), /The word was banana\./, 'the node\'s turn is in the file here');
      assert.ok(fs.readFileSync(planeFile).equals(fs.readFileSync(nodeFile)), 'the file came home whole, in parts');
      assert.equal((await api(d, 'POST', `/api/agents/${id}/message`, { content: 'and again?' })).status, 200);
      await until(async () => (await said()).includes('Hello from the mock.'), 'the answer back here', 90000);
      const home2 = mock.agentRequests().slice(-1)[0];
      assert.match(userText(home2), /remember this word/);
      assert.match(userText(home2), /what word was it\?/);
      assert.equal((await api(d, 'GET', `/api/agents/${id}`)).body.sessionId, sid);

      const texts = await said();
      for (const t1 of ['I will remember the word banana.', 'Done slowly.', 'The word was banana.', 'Hello from the mock.']) {
        assert.equal(texts.filter((x) => x === t1).length, 1, `${t1} once: ${JSON.stringify(texts)}`);
      }
      // waiting on an approval: refused, nothing moves
      assert.equal((await api(d, 'POST', `/api/agents/${id}/message`, { content: 'please make a file' })).status, 200);
      const ap = await until(async () => (await api(d, 'GET', `/api/agents/${id}/approvals?pending=true`)).body.approvals?.[0], 'the approval', 90000);
      const refused = await api(d, 'POST', `/api/agents/${id}/move`, { node: 'cbox' });
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.equal(refused.body.error.details.reason, 'approval_pending');
      assert.equal((await api(d, 'POST', `/api/approvals/${ap.id}`, { decision: 'deny' })).status, 200);
      assert.equal((await api(d, 'GET', `/api/agents/${id}`)).body.state.node, undefined, 'still here');

      const notes = (await allMessages(d, id)).filter((m) => m.role === 'system' && m.content.startsWith('moved ')).map((m) => m.content);
      assert.deepEqual(notes, ['moved from the control plane to node cbox; it goes on there', 'moved from node cbox to the control plane; it goes on there']);
    });
  } finally {
    if (n) await n.cleanup();
    await d.cleanup();
    await mock.close();
    for (const dir of [home, nodeHome, repo]) fs.rmSync(dir, { recursive: true, force: true });
  }
});
