// SPDX-License-Identifier: MIT
// Two control planes on one PostgreSQL (issue #39, docs/operations.md
// "Several control planes"): both on one database and one Redis, a worker
// node given only plane A's address and `--planes-allow 127.0.0.1`. A
// WebSocket client on plane A sees an agent started through plane B live
// (its events come over Redis into A's bus); the node learns B's address
// from A (and refuses, never dialling them, the rows of the planes table that
// point elsewhere: a host not allowed, another scheme, userinfo); a counter
// agent on the node, owned by A, goes on under B after kill -9 of A: the
// survivor takes the run's lapsed lease, the node moves over by the URL it
// learned, and every value is stored once.
// Skipped (saying why) without PostgreSQL 15 or redis-server.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { api, until, allMessages, assertOnce, commandAgent } = require('./lib/api');
const { Live, publish } = require('./lib/live');
const { nodeToken, startNode, nodeNamed } = require('./lib/nodes');
const { REDIS, freePort, startRedis } = require('./lib/redis');
const { PG_BIN, startPostgres } = require('./lib/pg');

const missing = !fs.existsSync(path.join(PG_BIN, 'initdb')) ? `no PostgreSQL 15 (${PG_BIN}/initdb)`
  : !fs.existsSync(REDIS) ? `no redis-server (${REDIS})` : null;
if (missing) process.stdout.write(`# planes.test.js skipped: ${missing}\n`);

const N = 300; // counter values, one every 50 ms: 15 s of output
const COUNTER = ['sh', '-c', `i=0; while [ $i -lt ${N} ]; do echo "n=$i"; i=$((i+1)); sleep 0.05; done`];
const NODE_ENV = { PATH: '/usr/bin:/bin' };

async function counters(d, id) {
  const text = (await allMessages(d, id)).filter((m) => m.role === 'assistant').map((m) => m.content).join('\n');
  return text.split('\n').filter((l) => l.startsWith('n=')).map((l) => Number(l.slice(2)));
}

// An OTLP collector on a free port of 127.0.0.1: every span posted to it, in order.
function collector() {
  const c = { spans: [] };
  c.server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      try {
        for (const rs of JSON.parse(body).resourceSpans || []) {
          for (const ss of rs.scopeSpans || []) c.spans.push(...(ss.spans || []));
        }
      } catch { /* not OTLP JSON: nothing kept */ }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  return new Promise((resolve) => c.server.listen(0, '127.0.0.1', () => {
    c.url = `http://127.0.0.1:${c.server.address().port}`;
    resolve(c);
  }));
}

// Each plane's seq ceiling as the shared database keeps it.
function reserved(pg, db) {
  return Object.fromEntries(pg.psql(db, "SELECT key, value FROM bus_meta WHERE key LIKE 'seq_reserved%'")
    .map(([k, v]) => [k, Number(v)]));
}

// Plane p's view of the live planes ({id, url, runs}), from its /api/health.
async function planes(p) {
  const h = (await api(p, 'GET', '/api/health')).body;
  return h.plane;
}

test('two control planes on one database: live events across, a run taken over after kill -9', { skip: missing || false, timeout: 300000 }, async (t) => {
  const pg = await startPostgres();
  const dbUrl = pg.createDb('planes');
  const port = await freePort();
  const redis = await startRedis(port);
  const token = crypto.randomBytes(24).toString('hex');
  const tokenFile = path.join(daemon.tmpDir('agentd-token-'), 'owner');
  fs.writeFileSync(tokenFile, token, { mode: 0o600 });
  const otlp = await collector();
  const start = async (id) => {
    const d = await daemon.start({
      needUrl: true,
      env: { AGENTD_DATABASE_URL: dbUrl },
      args: ['--redis-url', `redis://127.0.0.1:${port}`, '--plane-id', id, '--token-file', tokenFile,
        '--stop-grace-ms', '300', '--otlp-endpoint', `${otlp.url}/`],
    });
    d.token = token;
    d.authHeaders = { authorization: `Bearer ${token}` };
    return d;
  };
  const a = await start('plane_a'); // migrates the database first
  const b = await start('plane_b');
  let node = null;
  const repo = daemon.tmpRepo('agentd-wt-');
  t.after(async () => {
    if (node) await node.cleanup();
    await a.cleanup();
    await b.cleanup();
    redis.kill('SIGKILL');
    pg.stop();
    otlp.server.close();
    fs.rmSync(repo, { recursive: true, force: true });
    fs.rmSync(path.dirname(tokenFile), { recursive: true, force: true });
  });

  // Both planes see each other, through the planes table.
  await until(async () => {
    const v = await planes(a);
    return v?.id === 'plane_a' && ['plane_a', 'plane_b'].every((id) => v.planes?.some((p) => p.id === id));
  }, 'plane A to list both planes');
  await until(async () => (await api(a, 'GET', '/api/health')).body.cluster?.connected
    && (await api(b, 'GET', '/api/health')).body.cluster?.connected, 'both planes on Redis');

  // A write on B is read on A at once (one database), and B's events reach A's clients live.
  const ws = await api(b, 'POST', '/api/workspaces', { path: repo, name: 'w' });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  const wt = ws.body.worktrees[0].id;
  const seen = await api(a, 'GET', `/api/workspaces/${ws.body.id}`);
  assert.equal(seen.status, 200, `the workspace made on B, read on A: ${JSON.stringify(seen.body)}`);
  const live = await Live.open(a, '/ws');
  live.send('subscribe', { topics: ['agent:*', 'run:*'] });
  await new Promise((r) => setTimeout(r, 200)); // the subscribe is in before B publishes
  const onB = await commandAgent(b, wt, ['sh', '-c', 'echo hello-from-b']);
  const startB = await api(b, 'POST', `/api/agents/${onB}/start`, {});
  assert.equal(startB.status, 200, JSON.stringify(startB.body));
  const about = (e) => e.payload?.agentId === onB || e.payload?.id === onB || e.payload?.message?.agentId === onB
    || e.topic === `agent:${onB}`;
  await live.until(() => live.events.some((e) => about(e) && e.type === 'agent_status' && e.payload.status === 'running'),
    30000, 'A\'s client to see B\'s agent running');
  await live.until(() => live.events.some((e) => about(e) && (e.type === 'agent_output' || e.type === 'message_created')
    && JSON.stringify(e.payload).includes('hello-from-b')), 30000, 'A\'s client to see B\'s agent\'s output')
    .catch((e) => { throw new Error(`${e.message}; seen: ${JSON.stringify(live.msgs.map((m) => [m.type, m.topic]))}`); });
  // each event once on A (its own copy is never sent back, nor doubled)
  const seqs = live.events.map((e) => e.seq);
  assert.equal(new Set(seqs).size, seqs.length, 'no event twice');
  live.ws.close();

  // Only the plane that ran it exports the run's spans: A's exporter leaves
  // B's events to B. A run on A after it: once A's spans are in, anything A
  // queued before them is too.
  await until(async () => (await api(b, 'GET', `/api/agents/${onB}`)).body.status !== 'running', 'B\'s agent to end');
  const onA = await commandAgent(a, wt, ['sh', '-c', 'echo hello-from-a']);
  assert.equal((await api(a, 'POST', `/api/agents/${onA}/start`, {})).status, 200);
  const runOf = async (d, agent) => (await api(d, 'GET', `/api/agents/${agent}/runs`)).body.runs?.[0];
  const runB = await until(async () => runOf(b, onB), 'B\'s run');
  const runA = await until(async () => { const r = await runOf(a, onA); return r && r.status !== 'running' ? r : null; }, 'A\'s run to end');
  const spanOf = (run) => otlp.spans.some((sp) => sp.attributes?.some((x) => x.key === 'agentd.run.id' && x.value.stringValue === run.id));
  await until(() => spanOf(runB) && spanOf(runA), 'both runs\' spans at the collector');
  const spanIds = otlp.spans.map((sp) => sp.spanId);
  assert.equal(new Set(spanIds).size, spanIds.length,
    `each span exported once, by the plane that ran it: ${spanIds.length - new Set(spanIds).size} twice`);

  // Each plane keeps its own seq ceiling, never lowered by the other's
  // writes: a plane restarting after a crash continues above every seq it
  // handed out, whatever the other one reserved since.
  const pa = await publish(a, { type: 'ceiling', topics: ['system'], count: 300, perTick: 100 });
  const pb = await publish(b, { type: 'ceiling', topics: ['system'], count: 3, perTick: 3 });
  await until(() => {
    const r = reserved(pg, 'planes');
    return r['seq_reserved:plane_a'] >= pa.last && r['seq_reserved:plane_b'] >= pb.last ? r : null;
  }, 'each plane\'s ceiling at or above its own last seq').catch((e) => {
    throw new Error(`${e.message}: ${JSON.stringify(reserved(pg, 'planes'))}, A at ${pa.last}, B at ${pb.last}`);
  });

  // Rows of the planes table that point a node (and its token) where its
  // operator did not: live (a heartbeat far ahead), sorted before the real
  // planes, all at a port that counts who dials it.
  const trap = { dialled: 0 };
  trap.server = net.createServer((s) => { trap.dialled++; s.destroy(); });
  await new Promise((r) => trap.server.listen(0, '127.0.0.1', r));
  t.after(() => trap.server.close());
  const tp = trap.server.address().port;
  const hostile = {
    aa_host: [`http://localhost:${tp}`, 'host localhost is not a --join host nor in --planes-allow'],
    aa_scheme: [`ftp://127.0.0.1:${tp}`, 'not an http:// or https:// URL'],
    aa_tls: [`https://127.0.0.1:${tp}`, 'scheme https, which no --join URL uses'],
    aa_userinfo: [`http://agentd:secret@127.0.0.1:${tp}`, 'it has userinfo', `http://***@127.0.0.1:${tp}`],
  };
  const far = Date.now() + 3600 * 1000;
  for (const [id, [url]] of Object.entries(hostile)) {
    pg.psql('planes', `INSERT INTO planes (id, url, started_at, heartbeat_at) VALUES ('${id}', '${url}', ${far}, ${far})`);
  }
  await until(async () => (await planes(a)).planes?.length === 6, 'plane A to list the hostile rows');

  // A node given only A's address (and 127.0.0.1 allowed) joins A and learns B's.
  const nt = await nodeToken(a, 'n1');
  node = await startNode(a.url, { token: nt.token, name: 'n1', env: NODE_ENV, args: ['--planes-allow', '127.0.0.1'] });
  await until(async () => (await nodeNamed(a, 'n1'))?.state === 'connected', 'n1 on plane A');
  await until(() => node.stderr.includes(`learned" url=${b.url}/api/nodes/link`), 'n1 to learn B\'s address')
    .catch((e) => { throw new Error(`${e.message}; its log:\n${node.stderr}`); });
  assert.ok(!node.stderr.includes(`learned" url=${a.url}/`), 'its own --join URL is not learned again');
  assert.ok(!node.stderr.includes('secret'), 'a refused URL\'s userinfo is not logged');
  for (const [url, why, logged] of Object.values(hostile)) {
    assert.ok(node.stderr.includes(`${logged || url} (${why}`), `refused with the reason: ${url}; log:\n${node.stderr}`);
    assert.ok(!node.stderr.includes(`learned" url=${url}`), `never learned: ${url}`);
  }
  const refusals = node.stderr.split('\n').filter((l) => l.includes('control plane URLs refused')).length;
  assert.equal(refusals, 1, 'the refusals are logged once');
  const id = await commandAgent(a, wt, COUNTER, { node: 'n1' });
  const started = await api(a, 'POST', `/api/agents/${id}/start`, {});
  assert.equal(started.status, 200, JSON.stringify(started.body));
  await until(async () => (await counters(a, id)).length >= 20, 'the first counters through plane A');
  const run = (await api(a, 'GET', `/api/agents/${id}/runs`)).body.runs[0];
  await until(async () => (await planes(a)).planes.find((p) => p.id === 'plane_a')?.runs >= 1,
    'plane A to hold the run\'s lease');

  // kill -9 of the owner: B takes the run over within 10 s.
  const killedAt = Date.now();
  await a.stop('SIGKILL');
  const tookMs = await until(async () => {
    const v = await planes(b);
    return v.planes.find((p) => p.id === 'plane_b')?.runs >= 1 ? Date.now() - killedAt : null;
  }, 'plane B to own the run', 20000);
  process.stdout.write(`# plane B took the run over ${tookMs} ms after kill -9 of plane A\n`);
  assert.ok(tookMs <= 10000, `taken over in ${tookMs} ms (over 10 s)`);
  await until(async () => (await nodeNamed(b, 'n1'))?.state === 'connected', 'n1 on plane B');
  assert.ok(node.stdout.includes(`joined ${b.url}/api/nodes/link`), `n1 joined B by the URL it learned: ${node.stdout}`);

  // The run ends under B with every value stored exactly once.
  const ended = await until(async () => {
    const r = (await api(b, 'GET', `/api/agents/${id}/runs`)).body.runs?.find((x) => x.id === run.id);
    return r && r.status !== 'running' ? r : null;
  }, 'the counter to end under B', 120000);
  assert.equal(ended.status, 'succeeded', JSON.stringify(ended));
  const values = await counters(b, id);
  assertOnce(values, 'across kill -9 of the owning plane');
  assert.equal(values.length, N, `every value once (${values.length} of ${N})`);
  // the hostile rows were sent again by B (its welcome): still never dialled, logged once
  assert.equal(trap.dialled, 0, 'no refused URL was ever dialled');
  assert.equal(node.stderr.split('\n').filter((l) => l.includes('control plane URLs refused')).length, 1,
    'each refusal logged once');
});
