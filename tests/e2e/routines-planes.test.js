// SPDX-License-Identifier: MIT
// Routines on two control planes on one PostgreSQL (issue #75, docs/
// routines.md): both planes' schedulers see a routine made on plane A;
// each fire is claimed by one plane only (a conditional UPDATE of the
// routine's next fire), so every scheduled fire time has exactly one run,
// and the runs one plane fired are seen live by a client of the other
// (routine_run over Redis). Skipped (saying why) without PostgreSQL 15 or
// redis-server.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { api, until } = require('./lib/api');
const { Live } = require('./lib/live');
const { REDIS, freePort, startRedis, keyFile } = require('./lib/redis');
const { PG_BIN, startPostgres } = require('./lib/pg');

const missing = !fs.existsSync(path.join(PG_BIN, 'initdb')) ? `no PostgreSQL 15 (${PG_BIN}/initdb)`
  : !fs.existsSync(REDIS) ? `no redis-server (${REDIS})` : null;
if (missing) process.stdout.write(`# routines-planes.test.js skipped: ${missing}\n`);

test('a routine on two control planes fires once a fire', { skip: missing || false, timeout: 180000 }, async (t) => {
  const pg = await startPostgres();
  const dbUrl = pg.createDb('routines');
  const port = await freePort();
  const redis = await startRedis(port);
  const token = crypto.randomBytes(24).toString('hex');
  const tokenFile = path.join(daemon.tmpDir('agentd-token-'), 'owner');
  fs.writeFileSync(tokenFile, token, { mode: 0o600 });
  const redisKey = keyFile(path.dirname(tokenFile));
  const start = async (id) => {
    const d = await daemon.start({
      needUrl: true,
      env: { AGENTD_DATABASE_URL: dbUrl },
      args: ['--redis-url', `redis://127.0.0.1:${port}`, '--redis-key-file', redisKey, '--plane-id', id, '--token-file', tokenFile],
    });
    d.token = token;
    d.authHeaders = { authorization: `Bearer ${token}` };
    return d;
  };
  const a = await start('plane_a');
  const b = await start('plane_b');
  const repo = daemon.tmpRepo('agentd-wt-');
  t.after(async () => {
    await a.cleanup();
    await b.cleanup();
    redis.kill('SIGKILL');
    pg.stop();
    fs.rmSync(repo, { recursive: true, force: true });
    fs.rmSync(path.dirname(tokenFile), { recursive: true, force: true });
  });
  await until(async () => (await api(a, 'GET', '/api/health')).body.cluster?.connected
    && (await api(b, 'GET', '/api/health')).body.cluster?.connected, 'both planes on Redis');

  const live = await Live.open(b, '/ws');
  live.send('subscribe', { topics: ['routine:*'] });
  await live.next('subscribed');

  const ws = await api(a, 'POST', '/api/workspaces', { path: repo, name: 'w' });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  const wt = ws.body.worktrees[0].id;
  const r = await api(a, 'POST', '/api/routines', {
    name: 'both', worktreeId: wt, agent: { executor: 'command', command: ['sh', '-c', 'echo once'] },
    trigger: { every: '1s' }, limits: { concurrent: 20 },
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const id = r.body.id;
  assert.equal((await api(b, 'GET', `/api/routines/${id}`)).status, 200, 'B reads the routine A made');

  const N = 6;
  const list = await until(async () => {
    const runs = (await api(b, 'GET', `/api/routines/${id}/runs`)).body.runs;
    return runs.filter((x) => x.status === 'succeeded').length >= N ? runs : null;
  }, `${N} runs of the routine`, 60000);
  assert.equal((await api(a, 'PATCH', `/api/routines/${id}`, { enabled: false })).status, 200);
  // every scheduled fire time ran once, whichever plane claimed it
  const times = list.map((x) => x.fireAt);
  assert.equal(new Set(times).size, times.length, `a fire ran twice: ${JSON.stringify(list)}`);
  const planesUsed = new Set(list.map((x) => x.planeId));
  for (const p of planesUsed) assert.ok(['plane_a', 'plane_b'].includes(p), p);
  // once every run has ended, each made one agent: as many agents named after it as runs
  const settled = await until(async () => {
    const all = (await api(a, 'GET', `/api/routines/${id}/runs`)).body.runs;
    return all.every((x) => !['queued', 'starting', 'running'].includes(x.status)) ? all : null;
  }, 'every run to end');
  const agents = (await api(a, 'GET', '/api/agents?limit=500')).body.agents.filter((x) => x.name.startsWith('both '));
  assert.equal(agents.length, settled.filter((x) => x.agentId).length, 'one agent a run');
  assert.equal(new Set(settled.map((x) => x.fireAt)).size, settled.length, 'no fire ran twice');
  // B's client saw the runs live, also those plane A fired (over Redis)
  await live.until(() => live.events.some((e) => e.type === 'routine_run' && e.payload?.routineId === id
    && e.payload?.status === 'succeeded'), 30000, 'B\'s client to see a run end');
  const fromA = list.filter((x) => x.planeId === 'plane_a').map((x) => x.id);
  if (fromA.length > 0) {
    await live.until(() => live.events.some((e) => e.type === 'routine_run' && fromA.includes(e.payload?.id)),
      30000, 'B\'s client to see a run plane A fired');
  }
  live.ws.close();
});
