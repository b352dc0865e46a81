// SPDX-License-Identifier: MIT
// Seed fidelity, seed 003 (issue #40): the crews dashboard's own sockets.
// - "Token passed via Sec-WebSocket-Protocol header": its client opens
//   new WebSocket(url, token), the token the only value. A browser fails a
//   handshake whose answer names none of the protocols it offered (the `ws`
//   package does the same: "Server sent no subprotocol"), so agentd names
//   the token back; a bad one is closed with 4401 as the seed says.
// - Replay on /ws/runs/:id, /ws/mission and /ws/graph with ?since=N, so a
//   client that comes late (or reconnects) misses nothing.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const WebSocket = require('./lib/ws');
const { start } = require('./lib/daemon');
const { Live, json, publish, hasTestRoutes, makeAgent } = require('./lib/live');

// The seed's RunWebSocket/MissionWebSocket/GraphWebSocket open: the token
// as the subprotocol; resolves {protocol, msgs, code} once it closes or
// `until` holds.
function seedSocket(url, token, until = () => false) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, token);
    const msgs = [];
    let protocol = null;
    const done = (code, error) => { clearTimeout(timer); resolve({ protocol, msgs, code, error }); ws.terminate(); };
    const timer = setTimeout(() => done('timeout'), 10000);
    ws.on('open', () => { protocol = ws.protocol; if (until(msgs)) done('open'); });
    ws.on('message', (m) => { msgs.push(JSON.parse(m.toString())); if (until(msgs)) done('open'); });
    ws.on('close', (code) => done(code));
    ws.on('error', (e) => done('error', e.message));
  });
}

test('the token as the only Sec-WebSocket-Protocol value is named back; a bad one gets 4401', async (t) => {
  const d = await start({ needUrl: true });
  try {
    if (!(await hasTestRoutes(d))) { t.skip('needs a test build (/test/publish)'); return; }
    const base = d.url.replace('http', 'ws');
    await json(d, 'POST', '/api/crews', { name: 'red' });
    // the mission channel's first message is the current state of each crew
    let r = await seedSocket(`${base}/ws/mission`, d.token, (m) => m.some((x) => x.type === 'signal'));
    assert.equal(r.error, undefined, r.error);
    assert.equal(r.protocol, d.token);
    assert.equal(r.msgs[0].type, 'signal');
    assert.equal(typeof r.msgs[0].crew_id, 'string');
    // an API token (id.secret) works the same way, on /ws/graph
    const read = (await json(d, 'POST', '/api/tokens', { name: 'reader', scope: 'read' })).body;
    await publish(d, { type: 'tool_start', topics: ['crew:crew_t'], payload: { toolId: 't0', crewId: 'crew_t' } });
    r = await seedSocket(`${base}/ws/graph?crew_id=crew_t&since=0`, read.token, (m) => m.some((x) => x.type === 'tool_start'));
    assert.equal(r.protocol, read.token);
    // a token that is not one: accepted as the handshake, closed with 4401
    r = await seedSocket(`${base}/ws/mission`, 'x'.repeat(43));
    assert.equal(r.code, 4401);
    // the bearer pair still works and still answers "bearer"
    const pair = await new Promise((resolve) => {
      const ws = new WebSocket(`${base}/ws/mission`, ['bearer', d.token]);
      ws.on('open', () => { resolve(ws.protocol); ws.close(); });
      ws.on('error', (e) => resolve(e.message));
    });
    assert.equal(pair, 'bearer');
  } finally {
    await d.cleanup();
  }
});

test('?since= on /ws/graph, /ws/mission and /ws/runs/:id replays what a late client missed', async (t) => {
  const d = await start({ needUrl: true });
  try {
    if (!(await hasTestRoutes(d))) { t.skip('needs a test build (/test/publish)'); return; }
    // graph: three tool events of crew_a (and one of crew_b) before anyone listens
    for (const [type, crew] of [['tool_start', 'crew_a'], ['tool_progress', 'crew_a'], ['tool_start', 'crew_b'], ['tool_end', 'crew_a']]) {
      await publish(d, { type, topics: ['agent:ag_1', `crew:${crew}`], payload: { toolId: 't1', crewId: crew } });
    }
    const late = await Live.open(d, '/ws/graph?crew_id=crew_a&since=0');
    await late.until(() => late.events.length >= 3, 10000, 'three replayed tool events');
    assert.deepEqual(late.events.map((e) => e.type), ['tool_start', 'tool_progress', 'tool_end']);
    assert.ok(late.events.every((e) => e.crew_id === 'crew_a'));
    // from a seq on: only what came after it
    const from = late.events[1].seq;
    const later = await Live.open(d, `/ws/graph?crew_id=crew_a&since=${from}`);
    await later.until(() => later.events.length >= 1, 10000, 'the last tool event');
    later.send('ping');
    await later.next('pong');
    assert.deepEqual(later.events.map((e) => e.type), ['tool_end']);
    // without since: nothing old
    const now = await Live.open(d, '/ws/graph?crew_id=crew_a');
    now.send('ping');
    await now.next('pong');
    assert.equal(now.events.length, 0);
    for (const c of [late, later, now]) c.close();
    assert.equal(await (await Live.open(d, '/ws/graph?crew_id=crew_a&since=-1')).closed, 1008);

    // mission: a signal published before the client came
    await publish(d, { type: 'signal', topics: ['crew:crew_m'], payload: { crewId: 'crew_m', status: 'busy' } });
    const m = await Live.open(d, '/ws/mission?since=0');
    await m.until(() => m.events.some((e) => e.type === 'signal' && e.crew_id === 'crew_m'), 10000, 'the replayed signal');
    assert.equal(m.events.find((e) => e.crew_id === 'crew_m').status, 'busy');
    m.close();

    // runs: a run's events, then the client; and a finished run's events
    const { agent } = await makeAgent(d);
    const run = (await json(d, 'POST', '/test/runs', { agentId: agent.id })).body.run;
    await publish(d, { type: 'agent_output', topics: [`agent:${agent.id}`],
      payload: { agentId: agent.id, runId: run.id, stream: 'stdout', content: 'early' } });
    const rc = await Live.open(d, `/ws/runs/${run.id}?since=0`);
    await rc.until(() => rc.events.length >= 1, 10000, 'the replayed output');
    assert.equal(rc.events[0].payload.content, 'early');
    // the seed's snake_case here too, as on /ws/mission and /ws/graph
    assert.equal(rc.events[0].run_id, run.id);
    assert.equal(rc.events[0].payload.agent_id, agent.id);
    assert.equal(rc.events[0].payload.runId, undefined);
    await publish(d, { type: 'agent_exit', topics: [`agent:${agent.id}`], payload: { agentId: agent.id, runId: run.id, code: 0 } });
    assert.equal(await rc.closed, 1000);
    const done = (await json(d, 'POST', '/test/runs', { agentId: agent.id, status: 'succeeded' })).body.run;
    await publish(d, { type: 'agent_output', topics: [`run:${done.id}`], payload: { runId: done.id, stream: 'stdout', content: 'was' } });
    await publish(d, { type: 'run_end', topics: [`run:${done.id}`], payload: { runId: done.id, status: 'succeeded' } });
    const over = await Live.open(d, `/ws/runs/${done.id}?since=0`);
    assert.equal(await over.closed, 1000);
    assert.deepEqual(over.events.map((e) => e.type), ['agent_output', 'run_end']);
    // without since a finished run still answers its status and closes
    const plain = await Live.open(d, `/ws/runs/${done.id}`);
    assert.equal(await plain.closed, 1000);
    assert.equal(plain.msgs[0].type, 'run_status');
    assert.equal(plain.msgs[0].run_id, done.id);
  } finally {
    await d.cleanup();
  }
});

test('tool_end always carries a duration: the program\'s, its seconds, or measured by agentd', async () => {
  const d = await start({ needUrl: true });
  try {
    const crew = (await json(d, 'POST', '/api/crews', { name: 'timers' })).body;
    const g = await Live.open(d, `/ws/graph?crew_id=${crew.id}`);
    // a: no duration (measured from its tool_start, ~300 ms later); b: the
    // seed's duration in seconds; c: a tool_end with no tool_start at all
    const script = `const out = (o) => console.log(JSON.stringify(o));
      out({type:'tool_start', toolId:'a', name:'pytest'});
      out({type:'tool_start', tool_id:'b', name:'git_clone'});
      setTimeout(() => {
        out({type:'tool_end', toolId:'a', status:'success', exitCode:0});
        out({type:'tool_end', tool_id:'b', duration:2.5, status:'success'});
        out({type:'tool_end', toolId:'c', status:'error'});
      }, 300);`;
    const { worktree } = await makeAgent(d, { crewId: crew.id });
    const a = (await json(d, 'POST', '/api/agents', { worktreeId: worktree.id, name: 'timer', crewId: crew.id,
      executor: 'command', command: [process.execPath, '-e', script] })).body;
    assert.equal((await json(d, 'POST', `/api/agents/${a.id}/start`, {})).status, 200);
    await g.until(() => g.events.filter((e) => e.type === 'tool_end').length >= 3, 15000, 'three tool ends');
    const ends = g.events.filter((e) => e.type === 'tool_end');
    const byId = (id) => ends.find((e) => e.tool_id === id);
    assert.ok(byId('a').duration_ms >= 250 && byId('a').duration_ms < 10000, JSON.stringify(byId('a')));
    assert.equal(typeof byId('a').duration, 'number');
    assert.equal(byId('a').duration_measured, true);
    assert.equal(byId('b').duration_ms, 2500);
    assert.equal(byId('b').duration, 2.5);
    assert.equal(byId('c').duration_ms, 0);
    assert.equal(byId('c').duration, 0);
    assert.equal(byId('c').duration_measured, false);
    g.close();
  } finally {
    await d.cleanup();
  }
});

// ---- Redis: the seed's Python side publishes and reads graph:{crew_id} --------------
const net = require('node:net');
const fs = require('node:fs');
const { spawn, spawnSync } = require('node:child_process');
const { freePort, startRedis, sign } = require('./lib/redis');

test('Redis: agentd publishes the seed\'s snake_case and takes its flat messages; a refusal is logged', async (t) => {
  if (!fs.existsSync('/usr/bin/redis-server')) { t.skip('needs redis-server'); return; }
  const port = await freePort();
  const redis = await startRedis(port);
  const d = await start({ needUrl: true, args: ['--redis-url', `redis://127.0.0.1:${port}`] });
  // the seed's side: a raw subscriber on the crew's graph channel
  let sub = null;
  try {
    if (!(await hasTestRoutes(d))) { t.skip('needs a test build (/test/publish)'); return; }
    const { until } = require('./lib/api');
    await until(async () => (await json(d, 'GET', '/api/health')).body.cluster.connected, 'agentd on Redis');
    const crew = (await json(d, 'POST', '/api/crews', { name: 'py' })).body;
    sub = spawn('redis-cli', ['-h', '127.0.0.1', '-p', String(port), '--raw', 'SUBSCRIBE', `graph:${crew.id}`]);
    let out = '';
    sub.stdout.on('data', (b) => { out += b.toString(); });
    await until(() => out.includes(`graph:${crew.id}`), 'the subscription');
    // out: agentd's own tool_end, as the seed's Python reads it
    await publish(d, { type: 'tool_end', topics: [`crew:${crew.id}`, 'org:org_default'],
      payload: { toolId: 'mine', crewId: crew.id, runId: 'run_x', agentId: 'ag_x', durationMs: 1500, status: 'success', exitCode: 0 } });
    const msg = await until(() => out.split('\n').map((l) => { try { return JSON.parse(l); } catch { return null; } })
      .find((m) => m && m.type === 'tool_end'), 'agentd\'s message on Redis');
    assert.equal(msg.tool_id, 'mine');
    assert.equal(msg.crew_id, crew.id);
    assert.equal(msg.exit_code, 0);
    assert.equal(msg.duration, 1.5);
    assert.equal(msg.payload.run_id, 'run_x');
    assert.equal(msg.payload.toolId, undefined);

    // in: the seed's flat snake_case message, no payload
    const g = await Live.open(d, `/ws/graph?crew_id=${crew.id}`);
    const own = await Live.open(d, '/ws');
    own.send('subscribe', { topics: [`crew:${crew.id}`] });
    await own.next('subscribed');
    // signed with the node's key, as the seed's side must (issue #73)
    const key = require('node:path').join(d.dataDir, 'redis.key');
    const pub = (m) => spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'PUBLISH', `graph:${crew.id}`,
      sign(key, `graph:${crew.id}`, m)]);
    pub(JSON.stringify({ type: 'tool_start', crew_id: crew.id, run_id: 'run_py', agent_id: 'ag_py', tool_id: 'flat1', tool: 'pytest', params: { k: 1 } }));
    pub(JSON.stringify({ type: 'tool_end', tool_id: 'flat1', duration: 0.25, status: 'error', exit_code: 3 }));
    await g.until(() => g.events.some((e) => e.type === 'tool_end' && e.tool_id === 'flat1'), 10000, 'the flat messages on /ws/graph');
    const start0 = g.events.find((e) => e.type === 'tool_start' && e.tool_id === 'flat1');
    assert.equal(start0.run_id, 'run_py');
    assert.deepEqual(start0.params, { k: 1 });
    const end0 = g.events.find((e) => e.type === 'tool_end' && e.tool_id === 'flat1');
    assert.equal(end0.exit_code, 3);
    assert.equal(end0.duration_ms, 250);
    // agentd's own /ws: camelCase
    await own.until(() => own.events.some((e) => e.type === 'tool_end' && e.payload.toolId === 'flat1'), 10000, 'camelCase on /ws');
    assert.equal(own.events.find((e) => e.type === 'tool_end').payload.exitCode, 3);
    // a refused message is said in the log, with the reason
    pub(JSON.stringify({ type: 'tool_start' }));
    await until(() => /redis message refused.*no payload and no fields/.test(d.stderr), 'the refusal in the log');
    g.close();
    own.close();
  } finally {
    if (sub) sub.kill('SIGKILL');
    await d.cleanup();
    redis.kill('SIGKILL');
  }
});

test('a flat message without payload is taken on the sockets ({type, topics}); a bad one says why', async (t) => {
  const d = await start({ needUrl: true });
  try {
    if (!(await hasTestRoutes(d))) { t.skip('needs a test build (/test/publish)'); return; }
    const c = await Live.open(d, '/ws');
    c.sendRaw(JSON.stringify({ type: 'subscribe', topics: ['crew:flat'] }));
    const ack = await c.next('subscribed');
    assert.deepEqual(ack.payload.topics, ['crew:flat']);
    await publish(d, { type: 'signal', topics: ['crew:flat'], payload: { crewId: 'flat', status: 'busy' } });
    await c.until(() => c.events.some((e) => e.type === 'signal'), 10000, 'the signal');
    // a payload that is not an object is refused with a reason, not dropped
    c.sendRaw(JSON.stringify({ type: 'subscribe', payload: 'crew:x' }));
    const err = await c.next('error');
    assert.equal(err.payload.code, 'VALIDATION_ERROR');
    c.close();
  } finally {
    await d.cleanup();
  }
});
