// SPDX-License-Identifier: MIT
// The seed dashboard's own WebSocket client, unchanged (issue #16): its
// WebSocketManager (the seed product's "WebSocket Manager" class) opens
// ws://host:8765 — the root path — sends nothing, and routes {type, payload}
// messages: agent_update to updateAgent(payload.id, payload), metrics_update,
// system_health and discovery_progress. SeedWebSocketManager below is that
// class written to the seed's description (the stores replaced by records of
// what they were given). A plain GET on / is still the dashboard page.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const WebSocket = require('./lib/ws');
const daemon = require('./lib/daemon');
const { SeedWebSocketManager } = require('./lib/seedclient');
const { api, until } = require('./lib/api');

const TRAIN = path.resolve(__dirname, '..', 'fixtures', 'train-agent.js');
const HEALTH = ['--health-interval-ms', '200', '--health-event-interval-ms', '300'];

// A command agent printing the seed's agent_update lines (every 1,000 steps)
// and metric lines; resolves with its ids once its run has ended.
async function trainRun(d, points) {
  const ws = await api(d, 'POST', '/api/workspaces', { path: daemon.tmpRepo('agentd-seedws-'), name: 'w' });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  const a = await api(d, 'POST', '/api/agents',
    { worktreeId: ws.body.worktrees[0].id, executor: 'command', command: ['node', TRAIN, String(points), '-1'] });
  assert.equal(a.status, 201, JSON.stringify(a.body));
  assert.equal((await api(d, 'POST', `/api/agents/${a.body.id}/start`, {})).status, 200);
  await until(async () => {
    const r = (await api(d, 'GET', `/api/agents/${a.body.id}/runs`)).body.runs[0];
    return r && r.status !== 'running';
  }, 'the run to end', 60000); // a real training program
  return a.body.id;
}

// An upgrade that may be refused: {status} of a refusal, or {code, reason}
// of the close that follows an accepted one, or {open: true} once a ping
// sent on the open socket is answered with no close before it (a refusal
// comes as the socket opens); {timedOut: true} past a bound.
function wsTry(url, opts = {}) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, opts.protocols, { headers: opts.headers || {} });
    const done = (x) => { clearTimeout(timer); ws.terminate(); resolve(x); };
    const timer = setTimeout(() => done({ timedOut: true }), 30000);
    ws.on('open', () => ws.ping());
    ws.on('pong', () => done({ open: true }));
    ws.on('unexpected-response', (_req, res) => done({ status: res.statusCode }));
    ws.on('close', (code, reason) => done({ code, reason: reason.toString() }));
    ws.on('error', () => {});
  });
}

test('the seed client on / gets agent_update with flat fields, metrics_update and system_health', async () => {
  const d = await daemon.start({ needUrl: true, args: HEALTH });
  try {
    const root = d.url.replace('http', 'ws');
    // A page load on / is still the dashboard, public so the login page loads.
    const page = await fetch(`${d.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type'), /text\/html/);
    assert.match(await page.text(), /<html/i);
    // An upgrade on / without a credential is refused like /ws (4401), as is
    // one from another origin (a page elsewhere cannot use the cookie).
    const anon = await wsTry(`${root}/`);
    assert.equal(anon.code, 4401, JSON.stringify(anon));
    const cross = await wsTry(`${root}/?token=${d.token}`, { headers: { origin: 'https://evil.example' } });
    assert.equal(cross.status, 403, JSON.stringify(cross));

    // The seed's client, its URL carrying the token (the one thing added).
    const seed = new SeedWebSocketManager();
    const states = [];
    seed.on('connection', (s) => states.push(s.status));
    seed.connect(`${root}/?token=${encodeURIComponent(d.token)}`);
    await until(() => states.includes('connected'), 'the seed client to connect');

    const agentId = await trainRun(d, 3000);
    await until(() => seed.agents.get(agentId)?.step === 2999, 'agent_update step 2999');
    const agent = seed.agents.get(agentId);
    assert.equal(agent.id, agentId);
    assert.equal(agent.environment, 'MegaBonk');
    assert.equal(agent.metrics.fps, 60);
    assert.equal(typeof agent.metrics.reward, 'number');
    assert.equal(agent.metrics.lastAction, 'jump');
    assert.equal(agent.mind.system1.intent, 'dodge');
    await until(() => seed.metrics.length > 0, 'a metrics_update');
    await until(() => seed.health.length > 0, 'a system_health');
    assert.equal(typeof seed.health[0].cpu.utilization, 'number');
    assert.equal(typeof seed.health[0].overallScore, 'number');
    assert.deepEqual(states, ['connected'], 'the socket stayed open');
    seed.disconnect();

    // Replay with ?since= as on /ws: a client that comes later gets the run's
    // agent_updates from seq 0, and only the seed's four types.
    const late = new WebSocket(`${root}/?since=0`, ['bearer', d.token]);
    const types = new Set();
    let replayed = null;
    late.on('message', (m) => {
      const x = JSON.parse(m.toString());
      types.add(x.type);
      if (x.type === 'agent_update' && x.payload.id === agentId && x.payload.step === 999) replayed = x;
    });
    await until(() => replayed, 'the replayed agent_update');
    assert.equal(replayed.payload.metrics.successRate, 0.5);
    for (const t of types) {
      assert.ok(['agent_update', 'metrics_update', 'system_health', 'discovery_progress'].includes(t), t);
    }
    late.close();
    assert.equal((await wsTry(`${root}/?since=x&token=${d.token}`)).code, 1008);
  } finally {
    await d.cleanup();
  }
});

test('with --auth none the seed client connects to ws://host:port exactly as written', async () => {
  const d = await daemon.start({ needUrl: true, args: ['--auth', 'none', ...HEALTH] });
  try {
    const seed = new SeedWebSocketManager();
    seed.connect(d.url.replace('http', 'ws')); // no path, no token: the seed's default shape
    await until(() => seed.health.length > 0, 'a system_health');
    const agentId = await trainRun(d, 1000);
    await until(() => seed.agents.get(agentId)?.step === 999, 'agent_update step 999');
    assert.equal(seed.agents.get(agentId).metrics.successRate, 0.5);
    seed.disconnect();
    // another origin still cannot open it
    assert.equal((await wsTry(d.url.replace('http', 'ws'), { headers: { origin: 'http://evil.example' } })).status, 403);
    // and / is still the page
    assert.equal((await fetch(`${d.url}/`)).status, 200);
  } finally {
    await d.cleanup();
  }
});
