// SPDX-License-Identifier: MIT
// Registration tokens, node events and the autoscaling hook with two
// control planes on one PostgreSQL (issue #77): a registration token made
// through plane A is traded by a real node at plane B, and once used is
// refused at A; the node's events read the same through either plane; with
// the same hook on both planes, only the live plane of the lowest id runs
// it. Skipped (saying why) without PostgreSQL 15.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { api, until, request } = require('./lib/api');
const { startNode, nodeNamed } = require('./lib/nodes');
const { PG_BIN, startPostgres } = require('./lib/pg');

const missing = !fs.existsSync(path.join(PG_BIN, 'initdb')) ? `no PostgreSQL 15 (${PG_BIN}/initdb)` : null;
if (missing) process.stdout.write(`# nodes-fleet-planes.test.js skipped: ${missing}\n`);

test('one fleet on two planes: a token made on A is traded at B, events read alike, one hook runs', { skip: missing || false, timeout: 180000 }, async (t) => {
  const pg = await startPostgres();
  const dbUrl = pg.createDb('fleet');
  const tokenDir = daemon.tmpDir('agentd-token-');
  const tokenFile = path.join(tokenDir, 'owner');
  const token = crypto.randomBytes(24).toString('hex');
  fs.writeFileSync(tokenFile, token, { mode: 0o600 });
  const hookDir = daemon.tmpDir('agentd-hook-');
  const hook = path.join(hookDir, 'hook.sh');
  // each run appends the plane that ran it (from its stdin) to runs.log
  fs.writeFileSync(hook, '#!/bin/sh\nsed -n \'s/.*"plane":"\\([^"]*\\)".*/\\1/p\' >> "$HOOK_DIR/runs.log"\n', { mode: 0o700 });
  const conf = path.join(hookDir, 'autoscale.json');
  fs.writeFileSync(conf, JSON.stringify({ argv: [hook], minWarmIdle: 1, intervalSeconds: 1, env: { HOOK_DIR: hookDir } }));
  const start = async (id) => {
    const d = await daemon.start({
      needUrl: true,
      env: { AGENTD_DATABASE_URL: dbUrl },
      args: ['--plane-id', id, '--token-file', tokenFile, '--node-autoscale', conf, '--node-lease-ms', '1500'],
    });
    d.token = token;
    d.authHeaders = { authorization: `Bearer ${token}` };
    return d;
  };
  const a = await start('plane_a');
  const b = await start('plane_b');
  let node = null;
  const nodeDir = daemon.tmpDir('agentd-node-');
  t.after(async () => {
    if (node) await node.cleanup();
    await a.cleanup();
    await b.cleanup();
    pg.stop();
    for (const x of [tokenDir, hookDir, nodeDir]) fs.rmSync(x, { recursive: true, force: true, maxRetries: 10 });
  });

  // the hook: below minWarmIdle (no node), only plane_a (the lowest live id) runs it
  await until(async () => fs.existsSync(path.join(hookDir, 'runs.log')) &&
    fs.readFileSync(path.join(hookDir, 'runs.log'), 'utf8').trim().split('\n').length >= 3, 'three runs of the hook', 60000);
  const ran = fs.readFileSync(path.join(hookDir, 'runs.log'), 'utf8').trim().split('\n');
  assert.deepEqual([...new Set(ran)], ['plane_a'], ran.join());
  assert.ok((await api(a, 'GET', '/api/nodes/autoscale')).body.runs.length >= 3);
  assert.deepEqual((await api(b, 'GET', '/api/nodes/autoscale')).body.runs, [], 'plane_b never ran it');

  // a token made on A, traded at B by a real node
  const reg = await api(a, 'POST', '/api/nodes/registration-tokens', { ttlSeconds: 600 });
  assert.equal(reg.status, 201, JSON.stringify(reg.body));
  node = await startNode(b.url, { registration: reg.body.token, name: 'fp1', dataDir: nodeDir, env: { PATH: '/usr/bin:/bin' } });
  const nb = await until(async () => { const n = await nodeNamed(b, 'fp1'); return n?.state === 'connected' && n; }, 'fp1 connected to B');
  // once used, refused at A too
  const again = await request(a.url, 'POST', '/api/nodes/register', { name: 'fp2' }, { authorization: `Bearer ${reg.body.token}` });
  assert.equal(again.status, 401);
  assert.equal(again.body.error.details.reason, 'used');
  // its events read the same through A
  const kinds = async (p) => (await api(p, 'GET', `/api/nodes/${nb.id}/events`)).body.events.map((e) => e.kind);
  await until(async () => { const k = await kinds(a); return k.includes('key_traded') && k.includes('linked'); }, 'the events through A');
  assert.deepEqual(await kinds(a), await kinds(b));
  const linked = (await api(a, 'GET', `/api/nodes/${nb.id}/events`)).body.events.find((e) => e.kind === 'linked');
  assert.equal(linked.detail.plane, 'plane_b', 'the plane that saw it');
});
