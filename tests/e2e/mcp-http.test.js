// SPDX-License-Identifier: MIT
// agentd's MCP server over Streamable HTTP (issue #36): POST /mcp with a
// token. The official SDKs drive it as hosts do: @modelcontextprotocol/sdk
// (the 2025-11-25 revision: initialize, a session, tasks/get, tasks/result,
// tasks/list, tasks/cancel) lists the tools, starts an agent as a task,
// disconnects, and a new session reads the finished task's result;
// @modelcontextprotocol/client (the 2026-07-28 revision: server/discover, no
// session) lists and calls tools, and the Tasks extension of that revision
// (resultType "task", tasks/get with the result, subscriptions/listen) is
// driven with plain requests, which that SDK does not send. Each tool refuses
// bad input naming the field and a token whose scope is too small naming the
// scope; another org's token sees nothing of this org's; a page of another
// origin, a Host not ours and headers that do not match the body are
// refused.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js');
const { CallToolResultSchema, TaskStatusNotificationSchema } = require('@modelcontextprotocol/sdk/types.js');
const { api, until, startWithWorktree } = require('./lib/api');
const daemon = require('./lib/daemon');

const MODERN = '2026-07-28';
const value = (r) => JSON.parse(r.content[0].text);
const bearer = (t) => ({ authorization: `Bearer ${t}` });

async function token(d, body) {
  const r = await api(d, 'POST', '/api/tokens', body);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.token;
}

// A host on the 2025-11-25 revision (the SDK's default), with token t.
async function legacyHost(d, t) {
  const client = new Client({ name: 'test-host', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${d.url}/mcp`), { requestInit: { headers: bearer(t) } });
  await client.connect(transport);
  return { client, transport };
}

// One request of the 2026-07-28 revision, as its transport wants it.
async function modern(d, t, method, params = {}, extra = {}) {
  const caps = extra.caps ?? { extensions: { 'io.modelcontextprotocol/tasks': {} } };
  const body = {
    jsonrpc: '2.0', id: extra.id ?? 1, method,
    params: { ...params, _meta: { 'io.modelcontextprotocol/protocolVersion': extra.version ?? MODERN, 'io.modelcontextprotocol/clientCapabilities': caps } },
  };
  const name = params.name ?? params.uri ?? params.taskId;
  const headers = {
    ...bearer(t), 'content-type': 'application/json', accept: 'application/json, text/event-stream',
    'mcp-protocol-version': extra.header ?? MODERN, 'mcp-method': extra.mcpMethod ?? method,
    ...(name !== undefined ? { 'mcp-name': name } : {}), ...(extra.headers ?? {}),
  };
  const res = await fetch(`${d.url}/mcp`, { method: 'POST', headers, body: JSON.stringify(body), signal: extra.signal });
  if (extra.raw) return res;
  return { status: res.status, body: await res.json() };
}

// An agent that answers "done: <prompt>" once flag exists.
const waiting = (flag) => ['sh', '-c', 'read x; while [ ! -e "$0" ]; do sleep 0.05; done; echo "done: $x"', flag];

let d; let dir; let wt; let owner; let firstTask;
test.before(async () => {
  ({ d, dir, wt } = await startWithWorktree());
  owner = d.authHeaders.authorization.slice(7);
});
test.after(async () => {
  await d.cleanup();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a host lists the tools, starts an agent as a task, leaves, and a new session reads its result', async () => {
  const flag = 'go-1'; // in the worktree, the agent's cwd (its sandbox shows little else)
  const h1 = await legacyHost(d, owner);
  const { tools } = await h1.client.listTools();
  assert.equal(tools.length, 14);
  const start = tools.find((t) => t.name === 'start_agent');
  assert.deepEqual(start.inputSchema.required, ['worktreeId', 'prompt']);
  assert.equal(start.execution.taskSupport, 'optional');
  assert.equal(tools.find((t) => t.name === 'list_agents').annotations.readOnlyHint, true);
  // the task: made, then the host goes away before it ends
  let taskId;
  const stream = h1.client.experimental.tasks.callToolStream(
    { name: 'start_agent', arguments: { worktreeId: wt, prompt: 'hello', executor: 'command', command: waiting(flag) } },
    CallToolResultSchema, { task: { ttl: 600000 } });
  for await (const m of stream) {
    if (m.type === 'taskCreated') { taskId = m.task.taskId; break; }
    assert.fail(JSON.stringify(m));
  }
  assert.match(taskId, /^run_/);
  firstTask = taskId;
  await h1.transport.terminateSession();
  await h1.client.close();

  // a new session, the same token: the task goes on, ends, and its result is there
  const h2 = await legacyHost(d, owner);
  const told = [];
  h2.client.setNotificationHandler(TaskStatusNotificationSchema, (n) => { told.push(n.params); });
  let t = await h2.client.experimental.tasks.getTask(taskId);
  assert.equal(t.status, 'working');
  assert.equal(t.pollInterval, 1000);
  const listed = await h2.client.experimental.tasks.listTasks();
  assert.ok(listed.tasks.some((x) => x.taskId === taskId));
  const waiter = h2.client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema); // blocks until the end
  fs.writeFileSync(path.join(dir, flag), '');
  const result = await waiter;
  assert.equal(result.isError, false, JSON.stringify(result));
  assert.equal(result.content[0].text, 'done: hello');
  assert.equal(result.structuredContent.runId, taskId);
  assert.equal(result._meta['io.modelcontextprotocol/related-task'].taskId, taskId);
  t = await h2.client.experimental.tasks.getTask(taskId);
  assert.equal(t.status, 'completed');
  await until(() => told.some((n) => n.taskId === taskId && n.status === 'completed'), 'the status notification on the GET stream');
  // the same run, seen over REST
  const run = (await api(d, 'GET', `/api/runs/${taskId}`)).body;
  assert.equal(run.status, 'succeeded');

  // cancel: the agent stops, the task is cancelled, a second cancel is refused
  const s2 = h2.client.experimental.tasks.callToolStream(
    { name: 'start_agent', arguments: { worktreeId: wt, prompt: 'wait', executor: 'command', command: ['sh', '-c', 'read x; sleep 600'] } },
    CallToolResultSchema, { task: {} });
  let t2;
  for await (const m of s2) {
    if (m.type === 'taskCreated') { t2 = m.task.taskId; break; }
  }
  const c = await h2.client.experimental.tasks.cancelTask(t2);
  assert.equal(c.status, 'cancelled');
  await assert.rejects(h2.client.experimental.tasks.cancelTask(t2), /terminal status 'cancelled'/);
  await until(async () => (await api(d, 'GET', `/api/runs/${t2}`)).body.status === 'stopped', 'the run stopped');
  await assert.rejects(h2.client.experimental.tasks.getTask('run_nope'), /Task not found/);
  // a task on a tool that has none
  await assert.rejects(h2.client.request({ method: 'tools/call', params: { name: 'health', arguments: {}, task: {} } }, CallToolResultSchema), /cannot run as a task/);
  await h2.client.close();
});

test('the 2026-07-28 revision: the SDK discovers and calls tools; tasks come back with their result', async () => {
  const { Client: ModernClient, StreamableHTTPClientTransport: ModernTransport } = await import('@modelcontextprotocol/client');
  const client = new ModernClient({ name: 'modern-host', version: '1.0.0' }, { versionNegotiation: { mode: { pin: MODERN } } });
  await client.connect(new ModernTransport(new URL(`${d.url}/mcp`), { requestInit: { headers: bearer(owner) } }));
  assert.equal(client.getNegotiatedProtocolVersion(), MODERN);
  const { tools } = await client.listTools();
  assert.equal(tools.length, 14);
  assert.equal(tools.find((t) => t.name === 'start_agent').execution, undefined);
  const r = await client.callTool({ name: 'list_worktrees', arguments: {} });
  assert.ok(r.structuredContent.worktrees.some((w) => w.id === wt));
  const bad = await client.callTool({ name: 'get_agent', arguments: {} });
  assert.equal(bad.isError, true);
  assert.match(bad.content[0].text, /agentId: is required/);
  await client.close();

  // the Tasks extension of this revision, as its wire says
  const flag = 'go-2';
  let res = await modern(d, owner, 'tools/call', { name: 'start_agent', arguments: { worktreeId: wt, prompt: 'modern', executor: 'command', command: waiting(flag) } });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.result.resultType, 'task');
  const taskId = res.body.result.taskId;
  assert.equal(res.body.result.status, 'working');
  assert.equal(res.body.result.pollIntervalMs, 1000);
  // a listener for the task's notifications
  const ctl = new AbortController();
  const listen = await modern(d, owner, 'subscriptions/listen', { notifications: { taskIds: [taskId, 'run_nope'] } }, { raw: true, id: 7, signal: ctl.signal });
  assert.equal(listen.headers.get('content-type').split(';')[0], 'text/event-stream');
  const events = [];
  const reading = (async () => {
    const dec = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of listen.body) {
        buf += dec.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const data = buf.slice(0, i).split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
          buf = buf.slice(i + 2);
          if (data) events.push(JSON.parse(data));
        }
      }
    } catch (_) { /* aborted */ }
  })();
  const ack = await until(() => events.find((e) => e.method === 'notifications/subscriptions/acknowledged'), 'the acknowledgement');
  assert.deepEqual(ack.params.notifications.taskIds, [taskId]);
  assert.equal(ack.params._meta['io.modelcontextprotocol/subscriptionId'], 7);
  res = await modern(d, owner, 'tasks/get', { taskId });
  assert.equal(res.body.result.status, 'working');
  assert.equal(res.body.result.resultType, 'complete');
  fs.writeFileSync(path.join(dir, flag), '');
  const done = await until(async () => {
    const g = await modern(d, owner, 'tasks/get', { taskId });
    return g.body.result.status === 'completed' ? g.body.result : null;
  }, 'the task completed');
  assert.equal(done.result.content[0].text, 'done: modern');
  assert.equal(done.result.isError, false);
  const note = await until(() => events.find((e) => e.method === 'notifications/tasks' && e.params.status === 'completed'), 'notifications/tasks');
  assert.equal(note.params.taskId, taskId);
  assert.equal(note.params.result.content[0].text, 'done: modern');
  assert.equal(note.params._meta['io.modelcontextprotocol/subscriptionId'], 7);
  ctl.abort();
  await reading;
  // without the extension: no task, and tasks/* names the capability
  res = await modern(d, owner, 'tasks/get', { taskId }, { caps: {} });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, -32021);
  assert.ok(res.body.error.data.requiredCapabilities.extensions['io.modelcontextprotocol/tasks']);
  res = await modern(d, owner, 'tools/call', { name: 'start_agent', arguments: { worktreeId: wt, prompt: 'x', executor: 'command', command: ['true'] } }, { caps: {} });
  assert.equal(res.body.result.resultType, 'complete');
  assert.match(res.body.result.structuredContent.id, /^ag_/);
  // tasks/list and tasks/result are not of this revision
  res = await modern(d, owner, 'tasks/list');
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, -32601);
});

test('the transport refuses what does not fit: versions, mirrored headers, sessions, origins, hosts', async () => {
  let res = await modern(d, owner, 'tools/list', {}, { version: '1900-01-01', header: '1900-01-01' });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, -32022);
  assert.deepEqual(res.body.error.data.supported.slice(0, 2), [MODERN, '2025-11-25']);
  res = await modern(d, owner, 'tools/list', {}, { header: '2025-11-25' });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, -32020);
  res = await modern(d, owner, 'tools/list', {}, { mcpMethod: 'tools/call' });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, -32020);
  res = await modern(d, owner, 'tools/call', { name: 'health', arguments: {} }, { headers: { 'mcp-name': 'stop_agent' } });
  assert.equal(res.status, 400);
  assert.match(res.body.error.message, /Mcp-Name/);
  res = await modern(d, owner, 'tools/call', { name: 'health', arguments: {} }, { headers: { 'mcp-name': `=?base64?${Buffer.from('health').toString('base64')}?=` } });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  res = await modern(d, owner, 'no/such');
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, -32601);
  // the handshake era: a session is needed, another's is not there, DELETE ends one
  const legacy = (headers, body) => fetch(`${d.url}/mcp`, {
    method: 'POST', body: JSON.stringify(body),
    headers: { ...bearer(owner), 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
  });
  let r = await legacy({}, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
  assert.equal(r.status, 400);
  r = await legacy({ 'mcp-session-id': 'nope' }, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
  assert.equal(r.status, 404);
  r = await legacy({}, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } });
  assert.equal(r.status, 200);
  const sid = r.headers.get('mcp-session-id');
  assert.match(sid, /^[!-~]{32,}$/);
  r = await legacy({ 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' }, { jsonrpc: '2.0', id: 2, method: 'tools/list' });
  assert.equal(r.status, 400);
  r = await legacy({ 'mcp-session-id': sid }, { jsonrpc: '2.0', method: 'notifications/initialized' });
  assert.equal(r.status, 202);
  r = await legacy({ 'mcp-session-id': sid, accept: 'application/json' }, { jsonrpc: '2.0', id: 2, method: 'tools/list' });
  assert.equal(r.status, 406);
  // another token cannot use this session
  const other = await token(d, { name: 'other-admin', scope: 'admin' });
  r = await fetch(`${d.url}/mcp`, { method: 'POST', headers: { ...bearer(other), 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': sid }, body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }) });
  assert.equal(r.status, 404);
  // a page of another origin: refused whatever the method
  r = await legacy({ 'mcp-session-id': sid, origin: 'http://evil.example' }, { jsonrpc: '2.0', id: 4, method: 'tools/list' });
  assert.equal(r.status, 403);
  r = await fetch(`${d.url}/mcp`, { headers: { ...bearer(owner), accept: 'text/event-stream', 'mcp-session-id': sid, origin: 'http://evil.example' } });
  assert.equal(r.status, 403);
  r = await fetch(`${d.url}/mcp`, { method: 'DELETE', headers: { ...bearer(owner), 'mcp-session-id': sid, origin: 'http://evil.example' } });
  assert.equal(r.status, 403);
  // our own origin is fine
  r = await legacy({ 'mcp-session-id': sid, origin: d.url }, { jsonrpc: '2.0', id: 5, method: 'tools/list' });
  assert.equal(r.status, 200);
  // a Host not ours (DNS rebinding): refused before anything
  const port = new URL(d.url).port;
  const status = await new Promise((resolve, reject) => {
    const q = http.request({ host: '127.0.0.1', port, path: '/mcp', method: 'POST', headers: { host: `evil.example:${port}`, ...bearer(owner), 'content-type': 'application/json', accept: 'application/json, text/event-stream' } }, (s) => { s.resume(); resolve(s.statusCode); });
    q.on('error', reject);
    q.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {} } }));
  });
  assert.equal(status, 403);
  // without a token: 401
  r = await fetch(`${d.url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' });
  assert.equal(r.status, 401);
  // DELETE ends the session
  r = await fetch(`${d.url}/mcp`, { method: 'DELETE', headers: { ...bearer(owner), 'mcp-session-id': sid } });
  assert.equal(r.status, 204);
  r = await legacy({ 'mcp-session-id': sid }, { jsonrpc: '2.0', id: 6, method: 'tools/list' });
  assert.equal(r.status, 404);
  // sessions are bounded per credential: a token that makes many pushes out its own oldest, not another's
  const init = async (t) => (await fetch(`${d.url}/mcp`, { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {} } }),
    headers: { ...bearer(t), 'content-type': 'application/json', accept: 'application/json, text/event-stream' } })).headers.get('mcp-session-id');
  const theirs = await init(other);
  const first = await init(owner);
  for (let i = 0; i < 64; i++) await init(owner);
  const list = (t, s) => fetch(`${d.url}/mcp`, { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }),
    headers: { ...bearer(t), 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': s } });
  assert.equal((await list(owner, first)).status, 404);
  assert.equal((await list(other, theirs)).status, 200);
  // GET and DELETE without a session: not of the 2026-07-28 revision
  r = await fetch(`${d.url}/mcp`, { headers: { ...bearer(owner), accept: 'text/event-stream' } });
  assert.equal(r.status, 405);
});

test('every tool refuses bad input naming the field, and a scope too small naming the scope', async () => {
  const h = await legacyHost(d, owner);
  const bad = [
    ['list_agents', { all: true }, /all: is not an argument/],
    ['get_agent', {}, /agentId: is required/],
    ['list_worktrees', { x: 1 }, /x: is not an argument/],
    ['create_worktree', { workspaceId: 'ws_x' }, /name: is required/],
    ['start_agent', { worktreeId: wt }, /prompt: is required/],
    ['start_agent', { worktreeId: wt, prompt: 'x', executor: 'bash' }, /executor: is not one of/],
    ['start_agent', { worktreeId: wt, prompt: 'x', command: [1] }, /command: must be a non-empty array of strings/],
    ['send_message', { agentId: 7, content: 'x' }, /agentId: must be a non-empty string/],
    ['stop_agent', { agentId: '' }, /agentId: must be a non-empty string/],
    ['read_transcript', { agentId: 'ag_x', limit: 5000 }, /limit: must be an integer in range/],
    ['list_approvals', {}, /agentId: is required/],
    ['decide_approval', { approvalId: 'ap_x', decision: 'maybe' }, /decision: is not one of/],
    ['diff', { worktreeId: wt, against: 'x' }, /against: is not an argument/],
    ['merge', { worktreeId: wt, strategy: 'octopus' }, /strategy: is not one of/],
    ['training_metrics', {}, /runId: is required/],
    ['health', { verbose: true }, /verbose: is not an argument/],
  ];
  for (const [name, args, why] of bad) {
    const b = await h.client.callTool({ name, arguments: args });
    assert.equal(b.isError, true, name);
    assert.match(value(b).error.message, why, name);
  }
  await h.client.close();

  // a read token: the read tools answer, the others name the scope they need
  const reader = await legacyHost(d, await token(d, { name: 'reader', scope: 'read' }));
  const agents = (await api(d, 'GET', '/api/agents')).body.agents;
  const wsId = (await api(d, 'GET', '/api/workspaces')).body.workspaces[0].id;
  const feature = await api(d, 'POST', '/api/worktrees', { workspaceId: wsId, name: 'feature', createBranch: true });
  assert.equal(feature.status, 201, JSON.stringify(feature.body));
  const needs = [
    ['create_worktree', { workspaceId: wsId, name: 'nope' }, 'write'],
    ['start_agent', { worktreeId: wt, prompt: 'x' }, 'admin'],
    ['send_message', { agentId: agents[0].id, content: 'x' }, 'admin'],
    ['stop_agent', { agentId: agents[0].id }, 'write'],
    ['decide_approval', { approvalId: 'ap_x', decision: 'allow' }, 'write'],
    ['merge', { worktreeId: wt }, 'write'],
  ];
  for (const [name, args, scope] of needs) {
    const b = await reader.client.callTool({ name, arguments: args });
    assert.equal(b.isError, true, name);
    assert.equal(value(b).error.code, 'FORBIDDEN', name);
    assert.match(value(b).error.message, new RegExp(`needs the ${scope} scope; this token's scope is read`), name);
    assert.equal(value(b).error.details.scope, 'read');
  }
  const before = (await api(d, 'GET', '/api/agents')).body.agents.length;
  assert.equal(before, agents.length, 'nothing was made');
  for (const [name, args] of [['list_agents', {}], ['get_agent', { agentId: agents[0].id }], ['list_worktrees', {}],
    ['read_transcript', { agentId: agents[0].id, limit: 5 }], ['list_approvals', { agentId: agents[0].id }], ['diff', { worktreeId: feature.body.id }], ['health', {}]]) {
    const ok = await reader.client.callTool({ name, arguments: args });
    assert.equal(ok.isError, false, `${name}: ${ok.content[0].text}`);
  }
  // a read token lists tasks but cannot cancel one
  const res = await modern(d, owner, 'tools/call', { name: 'start_agent', arguments: { worktreeId: wt, prompt: 'x', executor: 'command', command: ['sh', '-c', 'read x; sleep 600'] } });
  const running = res.body.result.taskId;
  const tasks = await reader.client.experimental.tasks.listTasks();
  assert.ok(tasks.tasks.some((x) => x.taskId === running));
  await assert.rejects(reader.client.experimental.tasks.cancelTask(running), /scope \(read\) cannot stop agents/);
  assert.equal((await reader.client.experimental.tasks.getTask(running)).status, 'working');
  await reader.client.close();
  assert.equal((await modern(d, owner, 'tasks/cancel', { taskId: running })).status, 200);
  // a write token: what starts a process needs admin
  const writer = await legacyHost(d, await token(d, { name: 'writer', scope: 'write' }));
  for (const [name, args] of [['start_agent', { worktreeId: wt, prompt: 'x' }], ['send_message', { agentId: agents[0].id, content: 'x' }]]) {
    const b = await writer.client.callTool({ name, arguments: args });
    assert.match(value(b).error.message, new RegExp(`${name} needs the admin scope; this token's scope is write`));
  }
  await writer.client.close();
});

test('another organisation\'s token sees nothing of this one\'s', async () => {
  const org = (await api(d, 'POST', '/api/orgs', { name: 'other' })).body.id;
  const t = await token(d, { name: 'b-admin', scope: 'admin', orgId: org });
  const mine = (await api(d, 'GET', '/api/agents')).body.agents;
  const myTask = firstTask;
  const h = await legacyHost(d, t);
  let r = await h.client.callTool({ name: 'list_agents', arguments: {} });
  assert.deepEqual(value(r).agents, []);
  r = await h.client.callTool({ name: 'get_agent', arguments: { agentId: mine[0].id } });
  assert.equal(r.isError, true);
  assert.equal(value(r).error.code, 'NOT_FOUND');
  r = await h.client.callTool({ name: 'list_worktrees', arguments: {} });
  assert.deepEqual(value(r).worktrees, []);
  r = await h.client.callTool({ name: 'start_agent', arguments: { worktreeId: wt, prompt: 'x', executor: 'command', command: ['true'] } });
  assert.equal(r.isError, true);
  assert.equal(value(r).error.code, 'NOT_FOUND');
  r = await h.client.callTool({ name: 'stop_agent', arguments: { agentId: mine[0].id } });
  assert.equal(value(r).error.code, 'NOT_FOUND');
  const tasks = await h.client.experimental.tasks.listTasks();
  assert.deepEqual(tasks.tasks, []);
  await assert.rejects(h.client.experimental.tasks.getTask(myTask), /Task not found/);
  await assert.rejects(h.client.experimental.tasks.cancelTask(myTask), /Task not found/);
  await h.client.close();
  const res = await modern(d, t, 'tasks/get', { taskId: myTask });
  assert.match(res.body.error.message, /Task not found/);
});

test('resources: transcripts a page at a time and metric series, bounded by scope and org', async () => {
  const agentId = (await api(d, 'GET', `/api/runs/${firstTask}`)).body.agentId;
  // a training run with two series
  const { commandAgent, testRun } = require('./lib/api');
  const trainer = await commandAgent(d, wt, ['true']);
  const run = await testRun(d, trainer, 'succeeded');
  const pts = [];
  for (let s = 0; s < 10; s++) pts.push({ name: 'train.loss', value: 1 / (s + 1), step: s }, { name: 'reward', value: s, step: s });
  assert.equal((await api(d, 'POST', `/api/runs/${run.id}/metrics`, { points: pts })).status < 300, true);

  const reader = await legacyHost(d, await token(d, { name: 'res-reader', scope: 'read' }));
  const { resourceTemplates } = await reader.client.listResourceTemplates();
  assert.deepEqual(resourceTemplates.map((t) => t.uriTemplate), [
    'agentd://agents/{agentId}/transcript{?before,limit}', 'agentd://runs/{runId}/metrics', 'agentd://runs/{runId}/metrics/{name}{?buckets}']);
  const { resources } = await reader.client.listResources();
  assert.ok(resources.some((r) => r.uri === `agentd://agents/${agentId}/transcript`), JSON.stringify(resources.map((r) => r.uri)));
  // a page, then the next one through nextUri
  let r = await reader.client.readResource({ uri: `agentd://agents/${agentId}/transcript?limit=1` });
  let page = JSON.parse(r.contents[0].text);
  assert.equal(r.contents[0].mimeType, 'application/json');
  assert.equal(page.messages.length, 1);
  assert.match(page.nextUri, new RegExp(`^agentd://agents/${agentId}/transcript\\?before=`));
  const first = page.messages[0].id;
  r = await reader.client.readResource({ uri: `${page.nextUri}&limit=1` });
  page = JSON.parse(r.contents[0].text);
  assert.equal(page.messages.length, 1);
  assert.notEqual(page.messages[0].id, first);
  // metric series: the summary, one series bucketed
  r = await reader.client.readResource({ uri: `agentd://runs/${run.id}/metrics` });
  const names = JSON.parse(r.contents[0].text).series.map((s) => s.name).sort();
  assert.deepEqual(names, ['reward', 'train.loss']);
  for (const uri of [`agentd://runs/${run.id}/metrics/train.loss?buckets=5`, `agentd://runs/${run.id}/metrics/train%2Eloss?buckets=5`]) {
    r = await reader.client.readResource({ uri });
    const series = JSON.parse(r.contents[0].text);
    assert.equal(series.name, 'train.loss');
    assert.deepEqual(series.buckets.x, [0, 2, 4, 6, 8]);
  }
  await assert.rejects(reader.client.readResource({ uri: 'agentd://agents/ag_nope/transcript' }), /Resource not found/);
  await assert.rejects(reader.client.readResource({ uri: 'file:///etc/passwd' }), /Resource not found/);
  await assert.rejects(reader.client.readResource({ uri: `agentd://agents/${agentId}/../../tokens` }), /Resource not found/);
  await reader.client.close();

  // another org: nothing listed, nothing read
  const org = (await api(d, 'POST', '/api/orgs', { name: 'res-other' })).body.id;
  const stranger = await legacyHost(d, await token(d, { name: 'res-b', scope: 'admin', orgId: org }));
  assert.deepEqual((await stranger.client.listResources()).resources, []);
  await assert.rejects(stranger.client.readResource({ uri: `agentd://agents/${agentId}/transcript` }), /Resource not found/);
  await assert.rejects(stranger.client.readResource({ uri: `agentd://runs/${run.id}/metrics` }), /Resource not found/);
  await stranger.client.close();

  // the current revision reads them too
  const res = await modern(d, owner, 'resources/read', { uri: `agentd://runs/${run.id}/metrics` });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.result.resultType, 'complete');
  assert.equal(res.body.result.cacheScope, 'private');
  assert.ok(JSON.parse(res.body.result.contents[0].text).series.length === 2);
});

test('a task whose run ends while agentd is down has ended when agentd is back', async () => {
  const dataDir = daemon.tmpDir('agentd-mcp-restart-');
  const first = await startWithWorktree({ dataDir, args: ['--keep-agents'] });
  const tok = first.d.authHeaders.authorization.slice(7);
  let second = null;
  try {
    const res = await modern(first.d, tok, 'tools/call', { name: 'start_agent', arguments: { worktreeId: first.wt, prompt: 'later', executor: 'command', command: waiting('go-3') } });
    assert.equal(res.body.result.resultType, 'task', JSON.stringify(res.body));
    const taskId = res.body.result.taskId;
    const pid = (await api(first.d, 'GET', `/api/runs/${taskId}`)).body.pid ??
      (await api(first.d, 'GET', `/api/agents/${(await api(first.d, 'GET', `/api/runs/${taskId}`)).body.agentId}`)).body.pid;
    assert.equal(typeof pid, 'number');
    await first.d.stop('SIGTERM');
    fs.writeFileSync(path.join(first.dir, 'go-3'), ''); // the agent ends while no agentd runs
    await until(() => { try { process.kill(pid, 0); return false; } catch (_) { return true; } }, 'the agent to exit');
    second = await daemon.start({ needUrl: true, dataDir, args: ['--keep-agents'] });
    const done = await until(async () => {
      const g = await modern(second, second.authHeaders.authorization.slice(7), 'tasks/get', { taskId });
      return g.body.result && g.body.result.status !== 'working' ? g.body.result : null;
    }, 'the task ended after the restart');
    assert.equal(done.status, 'completed', JSON.stringify(done));
    assert.equal(done.result.content[0].text, 'done: later');
  } finally {
    if (second) await second.cleanup();
    else await first.d.cleanup();
    fs.rmSync(first.dir, { recursive: true, force: true });
  }
});
