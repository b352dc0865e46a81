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
const { REDIS, freePort, startRedis, keyFile } = require('./lib/redis');
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

// The counter agent's run (runId) ends, succeeded, under plane p with each
// of its N values stored once.
async function endsWithEachValueOnce(p, id, runId, what) {
  const ended = await until(async () => {
    const r = (await api(p, 'GET', `/api/agents/${id}/runs`)).body.runs?.find((x) => x.id === runId);
    return r && r.status !== 'running' ? r : null;
  }, 'the counter to end under the plane that took it', 120000);
  assert.equal(ended.status, 'succeeded', JSON.stringify(ended));
  const values = await counters(p, id);
  assertOnce(values, what);
  assert.equal(values.length, N, `every value once (${values.length} of ${N})`);
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
  const redisKey = keyFile(path.dirname(tokenFile)); // one key for the planes' messages (issue #73)
  const otlp = await collector();
  const start = async (id) => {
    const d = await daemon.start({
      needUrl: true,
      env: { AGENTD_DATABASE_URL: dbUrl },
      args: ['--redis-url', `redis://127.0.0.1:${port}`, '--redis-key-file', redisKey, '--plane-id', id, '--token-file', tokenFile,
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
  await live.next('subscribed'); // the subscribe is in before B publishes
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

  // Only the plane that runs a crew's agent publishes the crew's status
  // (src/flow/crews.c skips events that came over Redis): B, which sees A's
  // agent events too, must not publish a second `signal` of its own. The
  // barrier: B has seen the agent end, then B publishes a marker; Redis
  // keeps B's messages in order, so a signal B made would reach A first.
  const crew = await api(a, 'POST', '/api/crews', { name: 'planes-crew' });
  assert.equal(crew.status, 201, JSON.stringify(crew.body));
  const missionA = await Live.open(a, '/ws/mission');
  const onBAll = await Live.open(b, '/ws');
  onBAll.send('subscribe', { topics: ['agent:*'] });
  const onASystem = await Live.open(a, '/ws');
  onASystem.send('subscribe', { topics: ['system'] });
  await onBAll.next('subscribed'); // both subscriptions are in before anything is published
  await onASystem.next('subscribed');
  // The agent runs until it is stopped: A's crew watch reads the crews when
  // an agent event comes, and a run that began and ended before that read
  // (a few ms, on a busy machine) left the crew as it was, with no signal.
  const crewAgent = await api(a, 'POST', '/api/agents', { worktreeId: wt, crewId: crew.body.id, executor: 'command',
    command: ['sh', '-c', 'echo crew-run; exec sleep 600'] });
  assert.equal(crewAgent.status, 201, JSON.stringify(crewAgent.body));
  assert.equal((await api(a, 'POST', `/api/agents/${crewAgent.body.id}/start`, {})).status, 200);
  const signalsOf = () => missionA.events.filter((e) => e.type === 'signal' && e.crew_id === crew.body.id).map((e) => e.status);
  await missionA.until(() => signalsOf().includes('busy'), 30000, 'A to publish its crew busy');
  const stopped = await api(a, 'POST', `/api/agents/${crewAgent.body.id}/stop?wait=true`);
  assert.equal(stopped.status, 200, JSON.stringify(stopped.body));
  const crewEnded = (e) => e.type === 'agent_status' && (e.payload?.agentId === crewAgent.body.id || e.payload?.id === crewAgent.body.id)
    && e.payload.status !== 'running' && e.payload.status !== 'starting';
  await onBAll.until(() => onBAll.events.some(crewEnded), 30000, 'B to see the crew agent on A end');
  const marker = await publish(b, { type: 'planes_marker', topics: ['system'], count: 1, perTick: 1 });
  await onASystem.until(() => onASystem.events.some((e) => e.type === 'planes_marker' && e.seq !== undefined), 30000,
    'B\'s marker on A');
  const signals = signalsOf();
  assert.ok(signals.includes('busy'), `A published its crew's status: ${JSON.stringify(signals)}`);
  assert.deepEqual(signals.filter((x) => x === 'busy'), ['busy'],
    `one signal per change, from the plane that runs the agent: ${JSON.stringify(signals)} (marker ${JSON.stringify(marker)})`);
  for (const l of [missionA, onBAll, onASystem]) l.ws.close();

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
  assert.deepEqual((await nodeNamed(a, 'n1')).plane, { id: 'plane_a', url: a.url, here: true });
  // B, which does not hold its link, says it is up and where (issue #77), not offline;
  // a start for it through B is sent on to A and runs there
  const n1OnB = await until(async () => { const x = await nodeNamed(b, 'n1'); return x?.state === 'connected' && x; },
    'plane B to list n1 connected through plane A');
  assert.deepEqual(n1OnB.plane, { id: 'plane_a', url: a.url, here: false });
  const viaB = await commandAgent(b, wt, ['sh', '-c', 'echo placed-through-b'], { node: 'n1' });
  const sentOn = await api(b, 'POST', `/api/agents/${viaB}/start`, {});
  assert.equal(sentOn.status, 200, JSON.stringify(sentOn.body));
  await until(async () => (await api(a, 'GET', `/api/agents/${viaB}/runs`)).body.runs?.[0]?.status === 'succeeded',
    'the start sent on through B to end on n1');
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

  // B's client follows the run live across the takeover: each line once,
  // never again under B's seqs when B reads the spool from what A had stored
  // (issue #77, src/run/seen.c)
  const followB = await Live.open(b, '/ws');
  followB.send('subscribe', { topics: [`agent:${id}`] });
  await followB.next('subscribed');
  await followB.until(() => followB.events.some((e) => e.type === 'agent_output'), 30000, 'B\'s client to see A\'s run\'s output');

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
  await endsWithEachValueOnce(b, id, run.id, 'across kill -9 of the owning plane');
  const streamed = followB.events.filter((e) => e.type === 'agent_output' && e.payload.runId === run.id)
    .flatMap((e) => e.payload.content.split('\n')).filter((l) => l.startsWith('n='));
  const twice = streamed.filter((l, i) => streamed.indexOf(l) !== i);
  assert.deepEqual(twice, [], `lines B's client got twice across the takeover (of ${streamed.length})`);
  followB.ws.close();
  // the hostile rows were sent again by B (its welcome): still never dialled, logged once
  assert.equal(trap.dialled, 0, 'no refused URL was ever dialled');
  assert.equal(node.stderr.split('\n').filter((l) => l.includes('control plane URLs refused')).length, 1,
    'each refusal logged once');
});

// Two control planes on one machine (issue #39, "local holders"): B is
// given A's data dir (--takeover-dirs), C is not. A's counter agent runs
// under a holder in A's data dir; after kill -9 of A, B wins the run's
// lapsed lease within 10 s and attaches to that holder; C, which cannot
// reach it, never takes the lease. A started again on its data dir leaves
// the run (B's now) alone, and every value is stored once.
test('a held run of a dead plane is taken over by a plane on the same machine; the restarted plane leaves it alone', { skip: missing || false, timeout: 300000 }, async (t) => {
  const pg = await startPostgres();
  const dbUrl = pg.createDb('held');
  const token = crypto.randomBytes(24).toString('hex');
  const tokenFile = path.join(daemon.tmpDir('agentd-token-'), 'owner');
  fs.writeFileSync(tokenFile, token, { mode: 0o600 });
  const dirA = daemon.tmpDir('agentd-plane-a-');
  const start = async (id, dataDir, more = []) => {
    const d = await daemon.start({
      needUrl: true, dataDir,
      env: { AGENTD_DATABASE_URL: dbUrl },
      args: ['--plane-id', id, '--token-file', tokenFile, '--stop-grace-ms', '300', ...more],
    });
    d.token = token;
    d.authHeaders = { authorization: `Bearer ${token}` };
    return d;
  };
  let a = await start('plane_a', dirA);
  const b = await start('plane_b', undefined, ['--takeover-dirs', `/nonexistent,${dirA}`]);
  const c = await start('plane_c');
  const repo = daemon.tmpRepo('agentd-wt-');
  t.after(async () => {
    for (const d of [a, b, c]) await d.cleanup();
    pg.stop();
    fs.rmSync(dirA, { recursive: true, force: true });
    fs.rmSync(repo, { recursive: true, force: true });
    fs.rmSync(path.dirname(tokenFile), { recursive: true, force: true });
  });
  const lease = (run) => pg.psql('held', `SELECT plane_id FROM run_leases WHERE run_id = '${run}'`)[0]?.[0];

  const ws = await api(a, 'POST', '/api/workspaces', { path: repo, name: 'w' });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  const id = await commandAgent(a, ws.body.worktrees[0].id, COUNTER);
  assert.equal((await api(a, 'POST', `/api/agents/${id}/start`, {})).status, 200);
  await until(async () => (await counters(a, id)).length >= 20, 'the first counters through plane A');
  const run = (await api(a, 'GET', `/api/agents/${id}/runs`)).body.runs[0];
  assert.ok(fs.existsSync(path.join(dirA, 'hold', run.id)), 'the run is held in A\'s data dir');
  await until(() => lease(run.id) === 'plane_a', 'plane A to hold the run\'s lease');

  const killedAt = Date.now();
  await a.stop('SIGKILL');
  const tookMs = await until(() => (lease(run.id) === 'plane_b' ? Date.now() - killedAt : null),
    'plane B to win the run\'s lease', 20000);
  process.stdout.write(`# plane B took the held run over ${tookMs} ms after kill -9 of plane A\n`);
  assert.ok(tookMs <= 10000, `taken over in ${tookMs} ms (over 10 s)`);
  const under = await until(async () => {
    const ag = (await api(b, 'GET', `/api/agents/${id}`)).body;
    return ag.statusReason?.code === 'taken_over' ? ag : null;
  }, 'B to say it took the run over');
  assert.equal(under.status, 'running', JSON.stringify(under));
  assert.match(under.statusReason.text, /plane_b took run .* from its holder in /);
  const before = (await counters(b, id)).length;
  await until(async () => (await counters(b, id)).length > before + 10, 'the counter to go on under B');
  // B measures (and would stop) the tree through the cgroup A made for it,
  // found by the agent's pid: not B's own folder of cgroups.
  const hb = await until(async () => {
    const h = (await api(b, 'GET', '/api/health')).body;
    return h.agents?.some((x) => x.runId === run.id) ? h : null;
  }, 'B to sample the run');
  if (hb.processes.containment.mode === 'cgroup') {
    assert.equal(hb.agents.find((x) => x.runId === run.id).source, 'cgroup', JSON.stringify(hb.agents));
  }

  // A again, on its data dir: the run is B's, its holder is left alone.
  a = await start('plane_a', dirA);
  await until(async () => (await planes(a))?.planes?.some((p) => p.id === 'plane_a'), 'A to beat again');
  assert.equal(lease(run.id), 'plane_b', 'the lease stays B\'s');
  assert.ok(a.stderr.includes(`a held run is another plane's now" run=${run.id}`), a.stderr.slice(-3000));

  await endsWithEachValueOnce(b, id, run.id, 'across kill -9 of the plane that held it');
  assert.ok(!c.stderr.includes(run.id), `plane C never touched the run: ${c.stderr.slice(-2000)}`);
  await until(() => !fs.existsSync(path.join(dirA, 'hold', run.id)), 'B to remove the holder\'s folder');

  // A holder B cannot reach (its socket gone): the lease is B's, the run is
  // marked lost with the reason, never left running with no one on it.
  const id2 = await commandAgent(a, ws.body.worktrees[0].id, ['sleep', '120']);
  assert.equal((await api(a, 'POST', `/api/agents/${id2}/start`, {})).status, 200);
  const run2 = await until(async () => (await api(a, 'GET', `/api/agents/${id2}/runs`)).body.runs?.[0], 'the second run');
  await until(() => lease(run2.id) === 'plane_a', 'plane A to hold the second run\'s lease');
  await a.stop('SIGKILL');
  fs.rmSync(path.join(dirA, 'hold', run2.id, 's'));
  const lost = await until(async () => {
    const r = (await api(b, 'GET', `/api/agents/${id2}/runs`)).body.runs?.[0];
    return r && r.status !== 'running' ? r : null;
  }, 'the unreachable run to end under B', 30000);
  assert.equal(lost.status, 'lost', JSON.stringify(lost));
  const ag2 = (await api(b, 'GET', `/api/agents/${id2}`)).body;
  assert.match(ag2.statusReason?.text || '', /plane_b could not take run .* over from its holder/, JSON.stringify(ag2.statusReason));
});

// Two planes on one new database and one Redis, sharing an owner token,
// plane A on a fixed address and data dir (it may be started again there):
// {pg, start(id, more), dirA, portA}; everything made is removed after t.
async function twoPlanes(t, db) {
  const pg = await startPostgres();
  const dbUrl = pg.createDb(db);
  const port = await freePort();
  const redis = await startRedis(port);
  const token = crypto.randomBytes(24).toString('hex');
  const tokenFile = path.join(daemon.tmpDir('agentd-token-'), 'owner');
  fs.writeFileSync(tokenFile, token, { mode: 0o600 });
  const redisKey = keyFile(path.dirname(tokenFile));
  const c = { pg, dirA: daemon.tmpDir('agentd-plane-a-'), portA: await freePort(), made: [] };
  c.start = async (id, more = {}) => {
    const d = await daemon.start({
      needUrl: true, ...more,
      env: { AGENTD_DATABASE_URL: dbUrl },
      args: ['--redis-url', `redis://127.0.0.1:${port}`, '--redis-key-file', redisKey, '--plane-id', id,
        '--token-file', tokenFile, '--stop-grace-ms', '300'],
    });
    d.token = token;
    d.authHeaders = { authorization: `Bearer ${token}` };
    c.made.push(d);
    return d;
  };
  c.repo = daemon.tmpRepo('agentd-wt-');
  t.after(async () => {
    if (c.node) await c.node.cleanup();
    for (const d of c.made) await d.cleanup();
    redis.kill('SIGKILL');
    pg.stop();
    for (const dir of [c.repo, c.dirA, path.dirname(tokenFile)]) fs.rmSync(dir, { recursive: true, force: true });
  });
  return c;
}

// A node restarted after a failover (issue #77): its --join plane A is up
// again but no longer holds its run, which plane B took over. A tells it
// to move (`moved`: the plane whose live lease holds every run it lists),
// the node dials B, and the run ends under B with every value once.
test('a node restarted after a failover dials its --join plane and is sent to the plane that owns its runs', { skip: missing || false, timeout: 300000 }, async (t) => {
  const c = await twoPlanes(t, 'moved');
  let a = await c.start('plane_a', { dataDir: c.dirA, listen: `127.0.0.1:${c.portA}` });
  const b = await c.start('plane_b');
  const repo = c.repo;
  await until(async () => (await planes(a))?.planes?.length === 2, 'plane A to list both planes');
  const ws = await api(a, 'POST', '/api/workspaces', { path: repo, name: 'w' });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  const nt = await nodeToken(a, 'n1');
  const nodeOpts = { token: nt.token, name: 'n1', env: NODE_ENV, args: ['--planes-allow', '127.0.0.1'] };
  let node = c.node = await startNode(a.url, nodeOpts);
  await until(() => node.stderr.includes(`learned" url=${b.url}/api/nodes/link`), 'n1 to learn B\'s address');
  const id = await commandAgent(a, ws.body.worktrees[0].id, COUNTER, { node: 'n1' });
  assert.equal((await api(a, 'POST', `/api/agents/${id}/start`, {})).status, 200);
  await until(async () => (await counters(a, id)).length >= 20, 'the first counters through plane A');
  const run = (await api(a, 'GET', `/api/agents/${id}/runs`)).body.runs[0];

  // kill -9 of A: B takes the run over and the node moves to B.
  await until(async () => (await planes(a)).planes.find((p) => p.id === 'plane_a')?.runs >= 1, 'A to hold the lease');
  await a.stop('SIGKILL');
  await until(async () => (await planes(b)).planes.find((p) => p.id === 'plane_b')?.runs >= 1, 'B to own the run', 20000);
  await until(async () => (await nodeNamed(b, 'n1'))?.state === 'connected', 'n1 on plane B');

  // A back on its address; the node restarted, dialling only A.
  a = await c.start('plane_a', { dataDir: c.dirA, listen: `127.0.0.1:${c.portA}` });
  await node.kill();
  node = c.node = await startNode(a.url, { ...nodeOpts, dataDir: node.dataDir });
  await until(() => node.stderr.includes('moving to the control plane that owns this node\'s runs'),
    'A to send n1 to B').catch((e) => { throw new Error(`${e.message}; its log:\n${node.stderr}`); });
  await until(async () => (await nodeNamed(b, 'n1'))?.state === 'connected', 'n1 back on plane B');
  await endsWithEachValueOnce(b, id, run.id, 'across a node restart after a failover');

  // SIGTERM of B while A is up: B leaves its node's agents to A (they are not
  // stopped), and A takes the run over once B's lease lapses.
  const id2 = await commandAgent(b, ws.body.worktrees[0].id, COUNTER, { node: 'n1' });
  assert.equal((await api(b, 'POST', `/api/agents/${id2}/start`, {})).status, 200);
  await until(async () => (await counters(b, id2)).length >= 20, 'the first counters through plane B');
  const run2 = (await api(b, 'GET', `/api/agents/${id2}/runs`)).body.runs[0];
  await b.stop('SIGTERM');
  assert.match(b.stderr, /other control planes are up: runs on nodes are left to them/);
  await until(async () => (await planes(a)).planes.find((p) => p.id === 'plane_a')?.runs >= 1, 'A to take the run', 30000);
  await endsWithEachValueOnce(a, id2, run2.id, 'across SIGTERM of the owning plane');
});

// A database outage longer than a lease (issue #77): every lease reads
// lapsed when it ends, though nobody could renew one. Leases freeze
// instead: the other plane takes nothing over, the owner keeps its run,
// and the run ends under it with every value once.
test('a database outage longer than a lease moves no run to the other plane', { skip: missing || false, timeout: 300000 }, async (t) => {
  const c = await twoPlanes(t, 'frozen');
  const pg = c.pg;
  const a = await c.start('plane_a');
  const b = await c.start('plane_b');
  const repo = c.repo;
  await until(async () => (await planes(a))?.planes?.length === 2, 'plane A to list both planes');
  const ws = await api(a, 'POST', '/api/workspaces', { path: repo, name: 'w' });
  const nt = await nodeToken(a, 'n1');
  const node = c.node = await startNode(a.url, { token: nt.token, name: 'n1', env: NODE_ENV, args: ['--planes-allow', '127.0.0.1'] });
  await until(async () => (await nodeNamed(a, 'n1'))?.state === 'connected', 'n1 on plane A');
  const id = await commandAgent(a, ws.body.worktrees[0].id, COUNTER, { node: 'n1' });
  assert.equal((await api(a, 'POST', `/api/agents/${id}/start`, {})).status, 200);
  await until(async () => (await counters(a, id)).length >= 20, 'the first counters through plane A');
  const run = (await api(a, 'GET', `/api/agents/${id}/runs`)).body.runs[0];
  await until(async () => (await planes(a)).planes.find((p) => p.id === 'plane_a')?.runs >= 1, 'A to hold the lease');

  // The database away until the run's stored lease has lapsed (one more
  // heartbeat may have renewed it after the read: 2 s more).
  const expires = Number(pg.psql('frozen', `SELECT expires_at FROM run_leases WHERE run_id = '${run.id}'`)[0][0]);
  pg.halt();
  await until(() => Date.now() > expires + 2500, 'the run\'s stored lease to lapse', 60000);
  await pg.resume();
  await endsWithEachValueOnce(a, id, run.id, 'across a database outage').catch((e) => {
    throw new Error(`${e.message}; lease: ${JSON.stringify(pg.psql('frozen', `SELECT plane_id, expires_at FROM run_leases WHERE run_id = '${run.id}'`))}, `
      + `run: ${JSON.stringify(pg.psql('frozen', `SELECT status FROM runs WHERE id = '${run.id}'`))}; `
      + `A:\n${a.stderr.split('\n').slice(-40).join('\n')}\nnode:\n${node.stderr.split('\n').slice(-15).join('\n')}`);
  });
  assert.ok(!b.stderr.includes('run lease taken over'), `B took a run over after the outage:\n${b.stderr.split('\n').filter((l) => l.includes('lease')).join('\n')}`);
});
