// SPDX-License-Identifier: MIT
// Two agentd nodes sharing one real redis-server (started here on a free
// port): a crew's tool events on node A reach node B's /ws/graph and its
// signals B's /ws/mission, on the seed's channels graph:{crew_id} and
// mission:{crew_id}; any program may publish into a crew's graph; a node
// never sees its own events twice; Redis killed mid-run leaves local
// delivery untouched, and the bridge comes back when Redis does.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const { spawn, spawnSync } = require('node:child_process');
const daemon = require('./lib/daemon');
const { Live, json } = require('./lib/live');
const { until } = require('./lib/api');
const { freePort, startRedis, keyFile, sign } = require('./lib/redis');

// msg published on channel, signed with key (a key file) unless key is null.
function publishRaw(port, channel, msg, key = null) {
  const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'PUBLISH', channel,
    key ? sign(key, channel, msg) : msg], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout.trim());
}

const connected = async (d) => (await json(d, 'GET', '/api/health')).body.cluster.connected;
const tools = (c, type) => c.events.filter((e) => e.type === type);

test('two nodes share crew events through Redis, and survive Redis going away', async (t) => {
  const port = await freePort();
  let redis = await startRedis(port);
  const url = `redis://127.0.0.1:${port}`;
  const keyDir = daemon.tmpDir('agentd-redis-key-');
  const key = keyFile(keyDir); // the nodes sign with one key (issue #73)
  const a = await daemon.start({ needUrl: true, args: ['--redis-url', url, '--redis-key-file', key] });
  const b = await daemon.start({ needUrl: true, args: ['--redis-url', url, '--redis-key-file', key] });
  t.after(async () => { await a.cleanup(); await b.cleanup(); redis.kill('SIGKILL'); fs.rmSync(keyDir, { recursive: true, force: true }); });
  await until(() => connected(a), 'node A on Redis');
  await until(() => connected(b), 'node B on Redis');

  // A crew on node A; node B's owner watches its graph and the mission.
  const crew = (await json(a, 'POST', '/api/crews', { name: 'shared' })).body;
  const onB = await Live.open(b, `/ws/graph?crew_id=${crew.id}`);
  const missionB = await Live.open(b, '/ws/mission');
  const onA = await Live.open(a, `/ws/graph?crew_id=${crew.id}`);
  await json(a, 'PATCH', `/api/crews/${crew.id}`, { name: 'shared, renamed' });

  // A real command agent of the crew prints a tool call, then stays up: the
  // crew is busy while it runs (an agent that ended at once could be gone
  // before the crew's status was read, and no busy signal would be sent).
  const repo = daemon.tmpRepo();
  const ws = (await json(a, 'POST', '/api/workspaces', { path: repo })).body;
  const lines = [
    { type: 'tool_start', toolId: 't1', name: 'pytest', params: { k: 'all' } },
    { type: 'tool_end', toolId: 't1', durationMs: 1200, status: 'error', exitCode: 2 },
  ].map((l) => JSON.stringify(l));
  const ag = (await json(a, 'POST', '/api/agents', { worktreeId: ws.worktrees[0].id, crewId: crew.id, executor: 'command',
    command: [process.execPath, '-e', `for (const l of ${JSON.stringify(lines)}) console.log(l); setTimeout(() => {}, 120000)`] })).body;
  assert.equal((await json(a, 'POST', `/api/agents/${ag.id}/start`, {})).status, 200);
  await onB.until(() => tools(onB, 'tool_end').length === 1, 15000, 'the tool end on node B');
  const [start] = tools(onB, 'tool_start');
  assert.equal(start.crew_id, crew.id);
  assert.equal(start.agent_id, ag.id);
  assert.match(start.run_id, /^run_/);
  assert.deepEqual(start.params, { k: 'all' });
  assert.equal(tools(onB, 'tool_end')[0].exit_code, 2);
  await onA.until(() => tools(onA, 'tool_end').length >= 1, 10000, 'the tool end on node A');
  // The crew's signals reach node B's mission channel.
  await missionB.until(() => missionB.events.some((e) => e.type === 'signal' && e.crew_id === crew.id && e.status === 'busy'), 30000, 'the busy signal on B');

  // Any program holding the key may publish into a crew's graph: both nodes show it.
  const subscribers = publishRaw(port, `graph:${crew.id}`, JSON.stringify({ type: 'tool_start', payload: { toolId: 'ext', name: 'deploy' } }), key);
  assert.equal(subscribers, 2);
  await onB.until(() => onB.events.some((e) => e.tool_id === 'ext'), 10000, 'the outside event on B');
  await onA.until(() => onA.events.some((e) => e.tool_id === 'ext' && e.crew_id === crew.id), 10000, 'the outside event on A');
  // Node A saw its own tool events once (its echo from Redis is skipped):
  // that echo reached A's Redis connection before the outside event (B had
  // it before it was published), so by now a second copy would be here.
  assert.equal(tools(onA, 'tool_start').filter((e) => e.tool_id === 't1').length, 1);
  assert.equal(tools(onA, 'tool_end').length, 1);
  // Garbage on the channel is ignored; the nodes go on.
  publishRaw(port, `graph:${crew.id}`, 'not json');
  publishRaw(port, `graph:${crew.id}`, JSON.stringify({ type: 'agent_update', payload: {} }), key);

  // Redis goes away mid-run: node A still delivers its own events.
  const wsB = await Live.open(b, '/ws');
  wsB.send('subscribe', { topics: [`crew:${crew.id}`] });
  await wsB.next('subscribed');
  redis.kill('SIGKILL');
  await until(async () => !(await connected(a)), 'node A to notice');
  const pub = (type, toolId) => json(a, 'POST', '/test/publish',
    { type, topics: [`crew:${crew.id}`, 'org:org_default'], payload: { toolId, crewId: crew.id } });
  await pub('tool_start', 'offline');
  await onA.until(() => onA.events.some((e) => e.tool_id === 'offline'), 10000, 'local delivery without Redis');
  // Redis is back on the same port: both nodes reconnect and share again.
  redis = await startRedis(port);
  await until(() => connected(a), 'node A back on Redis');
  await until(() => connected(b), 'node B back on Redis');
  await pub('tool_end', 'after');
  await onB.until(() => onB.events.some((e) => e.tool_id === 'after'), 10000, 'events shared again');
  assert.ok(!onB.events.some((e) => e.tool_id === 'offline'), 'pub/sub keeps nothing: what passed while down stays local');
  // ...and B's clients are told so: a gap, to reload from the store (issue #77).
  const gap = await wsB.next('gap');
  assert.equal(gap.payload.reason, 'redis');
  assert.ok(gap.payload.from <= gap.payload.to + 1, JSON.stringify(gap.payload));
  wsB.close();
  onA.close();
  onB.close();
  missionB.close();
});

test('a bad --redis-url stops the daemon with the reason', async () => {
  const data = daemon.tmpDir('agentd-badredis-');
  const r = spawnSync(daemon.BIN, ['serve', '--listen', '127.0.0.1:0', '--data-dir', data, '--redis-url', 'redis://:99999'],
    { encoding: 'utf8', timeout: 10000 });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--redis-url/);
});
