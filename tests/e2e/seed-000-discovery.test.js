// SPDX-License-Identifier: MIT
// Seed 000's own message names on the root socket (issue #74): its Tauri
// commands start_autonomous_discovery(environment) and
// get_discovery_status(), sent by its WebSocketManager.send(type, payload)
// as {type, payload}. The first runs the owner's discovery_command for the
// environment (admin, as POST /api/jobs kind discovery); the second answers
// discovery_progress with the newest discovery job the caller's org can
// see (read). A name the seed never gives (a program) is refused.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { SeedWebSocketManager } = require('./lib/seedclient');
const { startApi, until } = require('./lib/api');

const JOB = path.resolve(__dirname, '..', 'fixtures', 'progress-job.js');
const rootUrl = (d, token) => `${d.url.replace('http', 'ws')}/?token=${encodeURIComponent(token)}`;

async function seedClient(d, token) {
  const seed = new SeedWebSocketManager();
  const s = await seed.connect(rootUrl(d, token));
  assert.equal(s.status, 'connected');
  return seed;
}

test('start_autonomous_discovery and get_discovery_status, in the seed\'s wire shape', async () => {
  const d = await startApi();
  try {
    const seed = await seedClient(d, d.token);
    const lastError = (c, n) => until(() => c.errors.length >= n && c.errors[n - 1], 'an error answer');
    // nothing yet: idle
    seed.send('get_discovery_status');
    await until(() => seed.discovery.length === 1, 'a discovery_progress answer');
    assert.deepEqual(seed.discovery[0], { status: 'idle' });
    // no discovery_command set: refused, in the seed's error shape
    seed.send('start_autonomous_discovery', { environment: 'megabonk' });
    let e = await lastError(seed, 1);
    assert.deepEqual([e.status, e.command], [422, 'start_autonomous_discovery']);
    assert.match(e.message, /discovery_command/);
    // a program is not the seed's to name on this message
    seed.send('start_autonomous_discovery', { environment: 'megabonk', command: ['/bin/sh', '-c', 'touch /tmp/x'] });
    e = await lastError(seed, 2);
    assert.equal(e.status, 422);
    assert.match(e.message, /environment/);
    assert.equal((await d.req('GET', '/api/jobs')).body.jobs.length, 0);

    const set = await d.req('PATCH', '/api/settings', { discovery_command: [process.execPath, JOB, '2', '20', '0', '--env={environment}'] });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    seed.send('start_autonomous_discovery', { environment: 'megabonk' });
    await until(() => seed.discovery.some((p) => p.fraction === 1), 'discovery_progress to the end', 20000);
    const jobs = (await d.req('GET', '/api/jobs')).body.jobs;
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0].kind, 'discovery');
    assert.equal(jobs[0].name, 'megabonk');
    assert.deepEqual(jobs[0].command.slice(-1), ['--env=megabonk']);
    // the status now names that job, to a reader too
    const reader = (await d.req('POST', '/api/tokens', { name: 'reader', scope: 'read' })).body.token;
    const rs = await seedClient(d, reader);
    rs.send('get_discovery_status');
    await until(() => rs.discovery.length === 1, 'the reader\'s answer');
    assert.equal(rs.discovery[0].id, jobs[0].id);
    assert.equal(rs.discovery[0].kind, 'discovery');
    // a reader starts nothing
    rs.send('start_autonomous_discovery', { environment: 'doom' });
    assert.equal((await lastError(rs, 1)).status, 403);
    // another org's reader sees no discovery of this org
    const org = (await d.req('POST', '/api/orgs', { name: 'other' })).body;
    const other = (await d.req('POST', '/api/tokens', { name: 'o', scope: 'read', orgId: org.id })).body.token;
    const os = await seedClient(d, other);
    os.send('get_discovery_status');
    await until(() => os.discovery.length === 1, 'the other org\'s answer');
    assert.deepEqual(os.discovery[0], { status: 'idle' });
    assert.equal((await d.req('GET', '/api/jobs')).body.jobs.length, 1);
    for (const c of [seed, rs, os]) c.disconnect();
  } finally {
    await d.cleanup();
  }
});
