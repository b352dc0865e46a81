// SPDX-License-Identifier: MIT
// Seed fidelity, seed 000 (issue #40): the training dashboard's own client
// on the root-path socket, unchanged.
// - Its System Health panel renders every figure with HealthMetric's
//   `value.toFixed(1)` (gpu.utilization, temperature, vramUsed, powerDraw;
//   cpu.utilization, temperature, ramUsed; syntheticEye.fps, latency,
//   pcieBandwidth): on a machine without a GPU or an fps-reporting
//   service each must still be a number, the availability beside it.
//   agentd's own /ws keeps its nulls.
// - Its WebSocketManager.send(type, payload) sends {type, payload}:
//   start_training, pause_training, resume_training, stop_training and
//   start_discovery map to the REST actions with their scopes; refusals
//   come back as {type: 'error', payload} (its default branch emits them).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const WebSocket = require('./lib/ws');
const daemon = require('./lib/daemon');
const { SeedWebSocketManager, renderSystemHealth } = require('./lib/seedclient');
const { startApi, makeWorkspace, makeAgent, until } = require('./lib/api');
const { Live } = require('./lib/live');

const JOB = path.resolve(__dirname, '..', 'fixtures', 'progress-job.js');
const NO_GPU = ['--nvml-lib', '/nonexistent/libnvidia-ml.so.1'];
const HEALTH = ['--health-interval-ms', '200', '--health-event-interval-ms', '300'];

const rootUrl = (d, token) => `${d.url.replace('http', 'ws')}/?token=${encodeURIComponent(token)}`;

async function seedClient(d, token) {
  const seed = new SeedWebSocketManager();
  const s = await seed.connect(rootUrl(d, token));
  assert.equal(s.status, 'connected');
  return seed;
}

test('the seed\'s System Health panel renders without a GPU or an fps service; /ws keeps its nulls', async () => {
  const d = await startApi({ args: [...HEALTH, ...NO_GPU] });
  try {
    const own = await Live.open(d, '/ws');
    own.send('subscribe', { topics: ['system'] });
    await own.next('subscribed');
    const seed = await seedClient(d, d.token);
    await until(() => seed.health.length > 0, 'a system_health on /', 20000);
    const h = seed.health[0];
    assert.doesNotThrow(() => renderSystemHealth(h));
    // numbers, with what could not be measured said beside them
    assert.equal(h.gpu.available, false);
    assert.equal(h.gpu.utilization, 0);
    assert.equal(h.gpu.utilizationAvailable, false);
    assert.equal(h.gpu.temperatureAvailable, false);
    assert.match(h.gpu.reason, /nonexistent/);
    assert.equal(h.syntheticEye.available, false);
    assert.equal(h.syntheticEye.fps, 0);
    assert.equal(h.syntheticEye.fpsAvailable, false);
    assert.equal(h.syntheticEye.status, 'unknown');
    assert.equal(h.cpu.available, true);
    assert.equal(typeof h.cpu.temperature, 'number');
    assert.equal(typeof h.cpu.temperatureAvailable, 'boolean');
    assert.equal(h.cpu.ramUsedAvailable, true);
    assert.ok(h.cpu.ramTotal > 0);
    // agentd's own channel: unchanged, unknown is null
    const ev = await own.next('system_health', 0, 15000);
    assert.deepEqual(Object.keys(ev.payload.gpu).sort(), ['available', 'reason']);
    assert.equal(ev.payload.syntheticEye, null);
    own.ws.close();
    seed.disconnect();
  } finally {
    await d.cleanup();
  }
});

test('a GPU without a temperature sensor: its other figures as read, the temperature 0 and said so', async () => {
  const fs = require('node:fs');
  const dir = daemon.tmpDir('agentd-seedgpu-');
  const state = path.join(dir, 'gpu-state');
  fs.writeFileSync(state, 'util=40\nfail=temp,power\n');
  const FAKE_NVML = path.join(path.dirname(daemon.BIN), 'tests/fake-nvml/libnvidia-ml.so.1');
  const d = await startApi({ args: [...HEALTH, '--nvml-lib', FAKE_NVML], env: { FAKE_NVML_STATE: state } });
  try {
    const seed = await seedClient(d, d.token);
    await until(() => seed.health.some((h) => h.gpu.available), 'a system_health with the GPU', 20000);
    const h = seed.health.find((x) => x.gpu.available);
    assert.doesNotThrow(() => renderSystemHealth(h));
    assert.equal(h.gpu.utilization, 40);
    assert.equal(h.gpu.utilizationAvailable, true);
    assert.equal(h.gpu.temperature, 0);
    assert.equal(h.gpu.temperatureAvailable, false);
    assert.equal(h.gpu.powerDrawAvailable, false);
    seed.disconnect();
  } finally {
    await d.cleanup();
  }
});

test('the seed\'s commands on / start, pause, resume and stop an agent with the REST scopes', async () => {
  const d = await startApi();
  try {
    const { wt } = await makeWorkspace(d, 'w');
    const agent = await makeAgent(d, wt.id, { name: 'trainer', executor: 'command', command: ['sleep', '60'] });
    const status = async () => (await d.req('GET', `/api/agents/${agent.id}`)).body.status;
    const lastError = (seed, n) => until(() => seed.errors.length >= n && seed.errors[n - 1], 'an error answer');

    // A read token: every command refused with 403, nothing started.
    const read = (await d.req('POST', '/api/tokens', { name: 'reader', scope: 'read' })).body;
    const reader = await seedClient(d, read.token);
    reader.send('start_training', { agentId: agent.id });
    let e = await lastError(reader, 1);
    assert.deepEqual({ code: e.code, status: e.status, command: e.command },
      { code: 'FORBIDDEN', status: 403, command: 'start_training' });
    reader.send('pause_training', { agentId: agent.id });
    assert.equal((await lastError(reader, 2)).status, 403);
    reader.send('start_discovery', { name: 'd', command: [process.execPath, JOB, '1', '1', '0'] });
    assert.equal((await lastError(reader, 3)).status, 403);
    assert.equal((await d.req('GET', '/api/jobs')).body.jobs.length, 0);
    // A write token may pause or stop (as REST) but not start a process.
    const write = (await d.req('POST', '/api/tokens', { name: 'writer', scope: 'write' })).body;
    const writer = await seedClient(d, write.token);
    writer.send('start_training', { agentId: agent.id });
    e = await lastError(writer, 1);
    assert.equal(e.status, 403);
    assert.match(e.message, /admin/);
    assert.notEqual(await status(), 'running');

    // A page on another origin cannot open the socket at all.
    const cross = await new Promise((resolve) => {
      const ws = new WebSocket(rootUrl(d, d.token), { headers: { origin: 'https://evil.example' } });
      ws.on('unexpected-response', (_q, res) => { resolve(res.statusCode); ws.terminate(); });
      ws.on('open', () => { resolve('open'); ws.close(); });
      ws.on('error', () => {});
    });
    assert.equal(cross, 403);

    // The owner: the seed's four actions, each answered with agent_update.
    const seed = await seedClient(d, d.token);
    seed.send('start_training', { agentId: agent.id });
    await until(() => seed.agents.get(agent.id)?.status === 'training', 'agent_update training');
    assert.equal(seed.agents.get(agent.id).agentStatus, 'running');
    assert.equal(await status(), 'running');
    seed.send('pause_training', { agentId: agent.id });
    await until(() => seed.agents.get(agent.id)?.status === 'paused', 'agent_update paused');
    assert.equal(await status(), 'paused');
    // pausing twice is refused as REST does (409), in the seed's shape
    seed.send('pause_training', { agentId: agent.id });
    e = await lastError(seed, 1);
    assert.deepEqual({ status: e.status, command: e.command }, { status: 409, command: 'pause_training' });
    // the write token resumes, as POST /resume with it would
    writer.send('resume_training', { agentId: agent.id });
    await until(async () => (await status()) === 'running', 'resumed');
    seed.send('stop_training', { id: agent.id });
    await until(() => seed.agents.get(agent.id)?.status === 'stopped', 'agent_update stopped');
    assert.equal(await status(), 'stopped');
    seed.send('stop_training', { agentId: agent.id });
    assert.equal((await lastError(seed, 2)).status, 409);
    // an unknown agent, and a payload without one
    seed.send('start_training', { agentId: 'nope' });
    assert.deepEqual(((x) => [x.status, x.code])(await lastError(seed, 3)), [404, 'NOT_FOUND']);
    seed.send('pause_training', {});
    assert.deepEqual(((x) => [x.status, x.code])(await lastError(seed, 4)), [422, 'VALIDATION_ERROR']);

    // start_discovery: a discovery job, its progress on the same socket
    seed.send('start_discovery', { environment: 'megabonk', command: [process.execPath, JOB, '2', '20', '0', '--percent'] });
    await until(() => seed.discovery.some((p) => p.fraction === 1), 'discovery_progress to the end', 20000);
    const jobs = (await d.req('GET', '/api/jobs')).body.jobs;
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0].kind, 'discovery');
    assert.equal(jobs[0].name, 'megabonk');
    seed.send('start_discovery', { environment: 'x', command: ['/nonexistent/prog'] });
    assert.equal((await lastError(seed, 5)).status, 422);

    // {environment} alone, as the seed's start_autonomous_discovery(environment):
    // refused while no discovery_command is set, then the setting's program runs
    seed.send('start_discovery', { environment: 'doom' });
    e = await lastError(seed, 6);
    assert.deepEqual([e.status, e.command], [422, 'start_discovery']);
    assert.match(e.message, /discovery_command/);
    const setting = async (v) => d.req('PATCH', '/api/settings', { discovery_command: v });
    for (const bad of [['-c', 'x'], 'sh -c x', [''], [1], Array(65).fill('a'), ['{environment}'], ['/usr/bin/{environment}', 'x']]) {
      const r = await setting(bad);
      assert.equal(r.status, 422, JSON.stringify(bad));
      assert.equal(r.body.error.details.field, 'discovery_command');
    }
    // the owner's alone: an org's admin may not set what every org's discovery runs
    const org = (await d.req('POST', '/api/orgs', { name: 'disc' })).body;
    const orgAdmin = (await d.req('POST', '/api/tokens', { name: 'oa', scope: 'admin', orgId: org.id })).body.token;
    assert.equal((await d.req('PATCH', '/api/settings', { discovery_command: ['true'] }, { authorization: `Bearer ${orgAdmin}` })).status, 403);
    assert.equal((await setting([process.execPath, JOB, '1', '1', '0', '--env={environment}'])).status, 200);
    assert.deepEqual((await d.req('GET', '/api/settings')).body.discovery_command.slice(-1), ['--env={environment}']);
    // an environment that is no name is refused, not handed to the program
    seed.send('start_discovery', { environment: '--evil' });
    assert.match((await lastError(seed, 7)).message, /environment/);
    const before = seed.discovery.length;
    seed.send('start_discovery', { environment: 'doom' });
    await until(() => seed.discovery.slice(before).some((p) => p.fraction === 1), 'the setting\'s discovery to the end', 20000);
    const doom = (await d.req('GET', '/api/jobs')).body.jobs.find((j) => j.name === 'doom');
    assert.deepEqual(doom.command.slice(-1), ['--env=doom']);
    // and over REST: POST /api/jobs {kind: discovery, environment}
    let r = await d.req('POST', '/api/jobs', { kind: 'discovery', environment: 'quake' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.name, 'quake');
    assert.deepEqual(r.body.command.slice(-1), ['--env=quake']);
    r = await d.req('POST', '/api/jobs', { kind: 'discovery', environment: 'a b' });
    assert.equal(r.status, 422);
    assert.equal(r.body.error.details.field, 'environment');
    r = await d.req('POST', '/api/jobs', { kind: 'job', environment: 'quake' });
    assert.equal(r.status, 422); // a plain job still names its program
    assert.equal((await setting([])).status, 200);
    for (const c of [seed, reader, writer]) c.disconnect();
  } finally {
    await d.cleanup();
  }
});

test('another org\'s agent is as good as none on the command socket', async () => {
  const d = await startApi();
  try {
    const { wt } = await makeWorkspace(d, 'w');
    const agent = await makeAgent(d, wt.id, { executor: 'command', command: ['sleep', '60'] });
    const org = (await d.req('POST', '/api/orgs', { name: 'elsewhere' })).body;
    const other = (await d.req('POST', '/api/tokens', { name: 'x', scope: 'admin', orgId: org.id })).body;
    const seed = await seedClient(d, other.token);
    seed.send('start_training', { agentId: agent.id });
    const e = await until(() => seed.errors[0], 'an error answer');
    assert.equal(e.status, 404);
    assert.notEqual((await d.req('GET', `/api/agents/${agent.id}`)).body.status, 'running');
    // revoking the token closes the socket: no command after that
    const closed = new Promise((resolve) => seed.ws.on('close', (code) => resolve(code)));
    assert.equal((await d.req('DELETE', `/api/tokens/${other.id}`)).status < 300, true);
    assert.equal(await closed, 4401);
  } finally {
    await d.cleanup();
  }
});
