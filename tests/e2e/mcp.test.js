// SPDX-License-Identifier: MIT
// agentd as an MCP server (issue #36): the MCP SDK's own client
// (@modelcontextprotocol/sdk, as Claude Code or another host uses it) runs
// `agentd mcp` on stdio (a bridge to the daemon's /mcp over its socket): it
// lists the tools with their schemas, starts a command agent on a prompt,
// reads its transcript; every tool refuses bad input naming the field; the
// daemon's refusals come back as error results; an agent started as a task
// is waited for with tasks/result (an event stream through the bridge); a
// host of the 2026-07-28 revision (@modelcontextprotocol/client) uses it too.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StdioClientTransport } = require('@modelcontextprotocol/sdk/client/stdio.js');
const { CallToolResultSchema } = require('@modelcontextprotocol/sdk/types.js');
const path = require('node:path');
const { until, startWithWorktree } = require('./lib/api');
const { BIN } = require('./lib/daemon');

async function host(d) {
  const client = new Client({ name: 'test-host', version: '1.0.0' });
  await client.connect(new StdioClientTransport({ command: BIN, args: ['--data-dir', d.dataDir, 'mcp'], stderr: 'inherit' }));
  return client;
}

const value = (r) => JSON.parse(r.content[0].text);

test('a host lists agentd\'s tools, starts an agent and reads its transcript; bad input names the field', async () => {
  const { d, dir, wt } = await startWithWorktree();
  const client = await host(d);
  try {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    for (const n of ['list_agents', 'get_agent', 'list_worktrees', 'create_worktree', 'start_agent', 'send_message',
      'stop_agent', 'read_transcript', 'list_approvals', 'decide_approval', 'diff', 'merge', 'training_metrics', 'health']) {
      assert.ok(names.includes(n), n);
    }
    const start = tools.find((t) => t.name === 'start_agent');
    assert.deepEqual(start.inputSchema.required, ['worktreeId', 'prompt']);
    assert.equal(start.inputSchema.additionalProperties, false);

    let r = await client.callTool({ name: 'start_agent', arguments: { worktreeId: wt, prompt: 'hello there', executor: 'command', command: ['sh', '-c', 'read x; echo "got: $x"'] } });
    assert.equal(r.isError, false, JSON.stringify(r));
    const agent = value(r);
    assert.match(agent.id, /^ag_/);
    await until(async () => {
      const t = await client.callTool({ name: 'read_transcript', arguments: { agentId: agent.id, limit: 20 } });
      return value(t).messages.some((m) => m.role === 'assistant' && /got: hello there/.test(m.content));
    }, 'the agent\'s answer in its transcript');
    r = await client.callTool({ name: 'get_agent', arguments: { agentId: agent.id } });
    assert.equal(value(r).worktreeId, wt);
    r = await client.callTool({ name: 'list_worktrees', arguments: {} });
    assert.ok(value(r).worktrees.some((w) => w.id === wt));
    r = await client.callTool({ name: 'health', arguments: {} });
    assert.equal(r.isError, false);

    // bad input: every tool names the field, and nothing is called
    const bad = [
      ['get_agent', {}, /agentId: is required/],
      ['start_agent', { worktreeId: wt }, /prompt: is required/],
      ['start_agent', { worktreeId: wt, prompt: 'x', executor: 'bash' }, /executor: is not one of/],
      ['start_agent', { worktreeId: wt, prompt: 'x', shell: true }, /shell: is not an argument/],
      ['read_transcript', { agentId: agent.id, limit: 5000 }, /limit: must be an integer in range/],
      ['decide_approval', { approvalId: 'ap_x', decision: 'maybe' }, /decision: is not one of/],
      ['send_message', { agentId: 7, content: 'x' }, /agentId: must be a non-empty string/],
      ['create_worktree', { workspaceId: 'ws_x' }, /name: is required/],
    ];
    for (const [name, args, why] of bad) {
      const b = await client.callTool({ name, arguments: args });
      assert.equal(b.isError, true, name);
      assert.match(value(b).error.message, why, name);
    }
    // the daemon's own refusal comes back as an error result
    r = await client.callTool({ name: 'get_agent', arguments: { agentId: 'ag_nope' } });
    assert.equal(r.isError, true);
    assert.equal(value(r).error.code, 'NOT_FOUND');
    await assert.rejects(client.callTool({ name: 'rm_rf', arguments: {} }), /unknown tool/);
  } finally {
    await client.close();
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('over stdio too, an agent started as a task is waited for and its answer read', async () => {
  const { d, dir, wt } = await startWithWorktree();
  const client = await host(d);
  try {
    let taskId;
    const stream = client.experimental.tasks.callToolStream(
      { name: 'start_agent', arguments: { worktreeId: wt, prompt: 'ping', executor: 'command', command: ['sh', '-c', 'read x; while [ ! -e go ]; do sleep 0.05; done; echo "pong: $x"'] } },
      CallToolResultSchema, { task: {} });
    for await (const m of stream) {
      if (m.type === 'taskCreated') { taskId = m.task.taskId; break; }
    }
    assert.match(taskId, /^run_/);
    const waiting = client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
    assert.equal((await client.experimental.tasks.getTask(taskId)).status, 'working'); // not held up by the wait
    fs.writeFileSync(path.join(dir, 'go'), '');
    const r = await waiting;
    assert.equal(r.content[0].text, 'pong: ping');
  } finally {
    await client.close();
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a host on the 2026-07-28 revision drives agentd mcp on stdio too', async () => {
  const { Client: ModernClient } = await import('@modelcontextprotocol/client');
  const { StdioClientTransport: ModernStdio } = await import('@modelcontextprotocol/client/stdio');
  const { d, dir, wt } = await startWithWorktree();
  const client = new ModernClient({ name: 'modern-host', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
  try {
    await client.connect(new ModernStdio({ command: BIN, args: ['--data-dir', d.dataDir, 'mcp'], stderr: 'inherit' }));
    assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
    const { tools } = await client.listTools();
    assert.equal(tools.length, 14);
    const r = await client.callTool({ name: 'list_worktrees', arguments: {} });
    assert.ok(r.structuredContent.worktrees.some((w) => w.id === wt));
    const { resourceTemplates } = await client.listResourceTemplates();
    assert.equal(resourceTemplates.length, 3);
  } finally {
    await client.close();
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
