// SPDX-License-Identifier: MIT
// Seed fidelity (issue #40): each seed's own client, written from the
// seed's text (tests/fixtures/seed-clients/seed000.js … seed003.js), runs
// its main flows against agentd unchanged (flows.js): the training
// dashboard's root socket, Claude Manager's HTTP client and socket on
// /seed/api, the workbench's stream_ai_response and stop_stream, and the
// crews dashboard's sockets, toasts and stat cards. The same flows run in
// Chromium from another origin in tests/browser/seed-clients.test.mjs.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
globalThis.WebSocket ??= require('./lib/ws');
const flows = require('../fixtures/seed-clients/flows');
const { startApi, makeWorkspace, makeAgent, until } = require('./lib/api');
const daemon = require('./lib/daemon');
const mockAnthropic = require('../fixtures/mock-anthropic');

const JOB = path.resolve(__dirname, '..', 'fixtures', 'progress-job.js');
const KEY = 'sk-ant-api03-e2e-SEEDC-key-0123456789-wxyz';
const ws = (d) => d.url.replace('http', 'ws');

let d; // the daemon of 000, 002 and 003 (tokens as usual)
let mock;
test.before(async () => {
  mock = await mockAnthropic.start({ direct: true, apiKey: KEY, rules: [] });
  d = await startApi({ args: ['--health-interval-ms', '200', '--health-event-interval-ms', '300', '--nvml-lib', '/nonexistent/libnvidia-ml.so.1'] });
  assert.equal((await d.req('PUT', '/api/credentials/anthropic', { apiKey: KEY, baseUrl: mock.url })).status, 200);
});
test.after(async () => {
  await d?.cleanup();
  await mock?.close();
});

test('seed 000: the root socket\'s client renders System Health and drives an agent and a discovery', async () => {
  const { wt } = await makeWorkspace(d, 'w000');
  const agent = await makeAgent(d, wt.id, { name: 'trainer', executor: 'command', command: ['sleep', '60'] });
  // the owner names the program a discovery of an environment runs
  const cmd = [process.execPath, JOB, '2', '20', '0', '--percent', '--env={environment}'];
  assert.equal((await d.req('PATCH', '/api/settings', { discovery_command: cmd })).status, 200);
  const r = await flows.seed000({ wsBase: ws(d), token: d.token, agentId: agent.id });
  assert.equal(r.connected, 'connected');
  assert.equal(r.renderError, null);
  assert.equal(r.health.gpu.available, false);
  assert.deepEqual(r.statuses, ['training', 'paused', 'training', 'stopped']);
  assert.deepEqual([r.error.status, r.error.code, r.error.command], [404, 'NOT_FOUND', 'start_training']);
  assert.equal(r.discoveryDone.fraction, 1);
  const job = (await d.req('GET', '/api/jobs')).body.jobs.find((j) => j.kind === 'discovery');
  assert.equal(job.name, 'megabonk');
  assert.deepEqual(job.command.slice(-1), ['--env=megabonk']);
  assert.equal((await d.req('GET', `/api/agents/${agent.id}`)).body.status, 'stopped');
});

test('seed 001: the HTTP client and socket unchanged on /seed/api, every call of its api.ts', async () => {
  const own = await startApi({ args: ['--auth', 'none'] });
  try {
    const repo = daemon.tmpRepo('agentd-seedc1-');
    const r = await flows.seed001({ apiBase: `${own.url}/seed/api`, wsUrl: `${ws(own)}/ws?compat=seed`, repo, command: ['cat'] });
    assert.deepEqual(r.problems, []);
    assert.equal(r.branch, 'feature-seed');
    assert.deepEqual(r.counts, [2, 0]);
    assert.equal(r.started, 'running');
    // SendMessageResponse {messageId, status: "sent", running: true}
    assert.deepEqual(r.sent, { status: 'sent', running: true, hasId: true });
    assert.deepEqual(r.page, { roles: ['assistant', 'user'], hasMore: false });
    assert.equal(r.stopped, 'finished');
    // its list filter takes its own words: finished is every agent without a process
    assert.deepEqual(r.byStatus, { running: ['echo'], finished: [], finishedAfter: ['echo'] });
    assert.ok(r.liveStatuses.every((s) => ['running', 'waiting', 'error', 'finished'].includes(s)), r.liveStatuses.join());
    assert.deepEqual(r.fork, { name: 'echo (fork)', parent: true });
    assert.equal(r.archived, true);
    assert.equal(r.listed, 2);
    assert.equal(r.active, 1);
    // delete without archive: no body on /api (204), JSON the seed can read here
    assert.equal(r.hardDelete, null);
    assert.equal(r.gone.status, 404);
    assert.equal(r.gone.code, 'NOT_FOUND');
    assert.deepEqual(r.gitStatus, { modified: [], staged: [], untracked: [] });
    assert.equal(r.usageToday, true);
    // agentd's own answers keep their words
    const agents = (await own.req('GET', '/api/agents')).body.agents;
    assert.equal(agents[0].status, 'stopped');
    const del = await fetch(`${own.url}/api/agents/${agents[0].id}?archive=false`, { method: 'DELETE' });
    assert.equal(del.status, 204);
  } finally {
    await own.cleanup();
  }
});

test('seed 002: stream_ai_response streams into the chat view, stop_stream stops it; scoped to the caller\'s org', async () => {
  mock.setRules([
    { match: 'count', reply: { tokens: ['One', ', two', ', three.'], tokenDelayMs: 20 } },
  ]);
  const first = flows.seed002({ apiBase: `${d.url}/api`, wsUrl: ws(d), token: d.token, model: 'claude-sonnet-4-5',
    first: 'seed-one', second: 'seed-two' });
  // the second call streams slowly enough to be stopped: a rule for it once the first is done
  await until(() => mock.requests.length >= 1, 'the first request');
  mock.setRules([{ reply: { tokens: ['Slow', ' ', 'answer', ' that', ' goes', ' on'], tokenDelayMs: 400 } }]);
  const r = await first;
  assert.equal(r.first.shown, 'One, two, three.');
  assert.equal(r.first.appended, r.first.shown);
  assert.equal(r.first.fullMessage, 'One, two, three.');
  assert.equal(r.first.error, null);
  assert.equal(r.second.complete, true);
  assert.ok(r.second.shown.length > 0 && r.second.shown.length < 'Slow answer that goes on'.length, r.second.shown);
  assert.equal(r.again.status, 404); // the seed's SessionNotFound
  assert.ok(JSON.stringify(mock.requests.at(-2).body.system).includes('You count.'), 'the seed\'s systemPrompt sent');
});

test('seed 002: another org neither sees, blocks nor stops a call of the same sessionId', async () => {
  mock.setRules([{ reply: { tokens: ['a', 'b', 'c', 'd', 'e', 'f'], tokenDelayMs: 300 } }]);
  const org = (await d.req('POST', '/api/orgs', { name: 'other002' })).body;
  const other = (await d.req('POST', '/api/tokens', { name: 'o', scope: 'write', orgId: org.id })).body.token;
  assert.equal((await d.req('PUT', '/api/credentials/anthropic', { apiKey: KEY, baseUrl: mock.url, orgId: org.id })).status, 200);
  const asOther = { authorization: `Bearer ${other}` };
  const call = { sessionId: 'shared-id', messages: [{ role: 'user', content: 'hi' }], model: 'claude-sonnet-4-5' };
  assert.equal((await d.req('POST', '/api/chats/stream', call)).status, 202);
  // the same id in another org is another call: not a 409, and its stop is not ours
  assert.equal((await d.req('POST', '/api/chats/stream', call, asOther)).status, 202);
  assert.equal((await d.req('POST', '/api/chats/stream/shared-id/stop', {}, asOther)).status, 200);
  assert.equal((await d.req('POST', '/api/chats/stream/shared-id/stop', {}, asOther)).status, 404);
  // a read token may not stop; the owner's stop of its own call is answered once it ended
  const read = (await d.req('POST', '/api/tokens', { name: 'r', scope: 'read' })).body.token;
  assert.equal((await d.req('POST', '/api/chats/stream/shared-id/stop', {}, { authorization: `Bearer ${read}` })).status, 403);
  const stop = await d.req('POST', '/api/chats/stream/shared-id/stop', {});
  assert.equal(stop.status, 200, JSON.stringify(stop.body));
  assert.deepEqual(stop.body, { sessionId: 'shared-id', stopped: true });
  assert.equal((await d.req('POST', '/api/chats/stream/bad%20id/stop', {})).status, 404);
});

test('seed 003: the crews dashboard\'s sockets, toasts and cards', async () => {
  const crew = (await d.req('POST', '/api/crews', { name: 'seed003' })).body;
  const { wt } = await makeWorkspace(d, 'w003');
  const script = `setTimeout(() => {
    console.log(JSON.stringify({type:'tool_start', toolId:'t1', name:'pytest', params:{k:1}}));
    console.log(JSON.stringify({type:'tool_progress', toolId:'t1', progress:50, message:'half'}));
    setTimeout(() => console.log(JSON.stringify({type:'tool_end', toolId:'t1', status:'error', exitCode:3, durationMs:1500})), 100);
  }, 300);`;
  const agent = await makeAgent(d, wt.id, { name: 'Tester', crewId: crew.id, executor: 'command', command: [process.execPath, '-e', script] });
  const r = await flows.seed003({
    apiUrl: d.url, wsUrl: ws(d), token: d.token, crewId: crew.id, agentNames: { [agent.id]: 'Tester' },
    start: async () => assert.equal((await d.req('POST', `/api/crews/${crew.id}/start`, {})).status < 300, true),
    runId: async () => (await until(async () => (await d.req('GET', `/api/agents/${agent.id}/runs`)).body.runs[0], 'the run')).id,
  });
  assert.deepEqual(r.toasts, ['🔧 pytest started by Tester', '⏳ pytest 50%: half', '❌ pytest (Tester) error in 1.5s, exit 3']);
  assert.ok(r.statuses.includes('busy'), r.statuses.join());
  assert.equal(r.run.code, 1000);
  assert.ok(r.run.runIds.length > 0 && r.run.runIds.every((x) => typeof x === 'string' && x.startsWith('run_')), JSON.stringify(r.run));
  assert.equal(r.run.retried, false);
  assert.equal(r.badCode, 4401);
  assert.match(r.dashboard.successRate, /%$/);
  assert.ok(Number(r.dashboard.totalRuns) >= 1);
  assert.deepEqual(r.tokens, ['balance 0.00 C7T', 'spent 0.00 C7T', 'earned 0.00 C7T', 'pending 0.00 C7T']);
  assert.ok(r.rentals.runs >= 1);
  assert.deepEqual(r.rentals.nodes, ['control-plane']);
});
