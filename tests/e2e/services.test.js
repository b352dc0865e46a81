// SPDX-License-Identifier: MIT
// Services (issue #17): long-running helpers with a typed config, a
// restart policy with backoff and health probes. A service reports its
// figures, a probe measures latency or times out, Apply & Restart takes a
// changed config, a crashing service comes back with growing backoff, bad
// input is refused, and services stay inside their organisation.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { startApi, assertError, request, until } = require('./lib/api');
const { Live } = require('./lib/live');

const SVC = path.resolve(__dirname, '../fixtures/fake-service.js');
const NODE = process.execPath;

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

const SCHEMA = {
  fields: {
    width: { type: 'integer', min: 64, max: 4096, default: 640, label: 'Width' },
    fps: { type: 'number', min: 1, max: 1000, default: 480 },
    lockstep: { type: 'boolean', default: true },
    socketPath: { type: 'string', maxLength: 100 },
  },
};

let d;
let dir;
test.before(async () => {
  d = await startApi();
  dir = daemon.tmpDir('agentd-svc-');
});
test.after(async () => { await d.cleanup(); fs.rmSync(dir, { recursive: true, force: true }); });

const svcState = (id, pred, what) => until(async () => {
  const r = await d.req('GET', `/api/services/${id}`);
  return r.status === 200 && pred(r.body) ? r.body : null;
}, what);

test('a service runs with its config, reports figures, is probed, and applies a new config on restart', async () => {
  const sock = path.join(dir, 'eye.sock');
  const c = await Live.open(d, '/ws');
  c.send('subscribe', { topics: ['service:*'] });
  await c.next('subscribed');
  const r = await d.req('POST', '/api/services', {
    name: 'synthetic eye',
    command: [NODE, SVC, '--socket', '{socketPath}'],
    schema: SCHEMA,
    config: { socketPath: sock, width: 1280 },
    restart: 'always',
    probe: { type: 'unix', path: sock, intervalMs: 200, timeoutMs: 1000 },
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.match(r.body.id, /^svc_/);
  assert.deepEqual(r.body.config, { width: 1280, fps: 480, lockstep: true, socketPath: sock }); // defaults filled
  assert.equal(r.body.enabled, true);
  const id = r.body.id;
  let s = await svcState(id, (b) => b.runtime.health.status === 'healthy' && b.runtime.figures, 'healthy with figures');
  assert.equal(s.runtime.status, 'running');
  assert.ok(s.runtime.pid > 0);
  assert.ok(s.runtime.health.latencyMs >= 0 && s.runtime.health.latencyMs < 1000);
  assert.deepEqual(s.runtime.figures, { fps: 480, latency: 1.5, width: 1280 }); // numbers only
  assert.equal(s.runtime.pendingRestart, false);

  // A changed config waits for Apply & Restart.
  const p = await d.req('PATCH', `/api/services/${id}`, { config: { width: 1920 } });
  assert.equal(p.status, 200, JSON.stringify(p.body));
  assert.equal(p.body.config.width, 1920);
  assert.equal(p.body.config.socketPath, sock); // the rest kept
  assert.equal(p.body.runtime.pendingRestart, true);
  assert.equal((await d.req('GET', `/api/services/${id}`)).body.runtime.figures.width, 1280);
  const pid = p.body.runtime.pid;
  const rr = await d.req('POST', `/api/services/${id}/restart`, {});
  assert.equal(rr.status, 202);
  s = await svcState(id, (b) => b.runtime.status === 'running' && b.runtime.pid !== pid && b.runtime.figures &&
    b.runtime.figures.width === 1920, 'the new config to run');
  assert.equal(s.runtime.pendingRestart, false);

  // Test connection: the probe once.
  const t = await d.req('POST', `/api/services/${id}/test`, {});
  assert.equal(t.status, 200);
  assert.equal(t.body.ok, true);
  assert.ok(t.body.latencyMs >= 0);

  await c.until(() => c.events.some((e) => e.type === 'service_update' && e.payload.id === id &&
    e.payload.runtime.status === 'running'), 5000, 'service_update');
  assert.equal(c.events.find((e) => e.type === 'service_update').topic, `service:${id}`);

  // Disabled, it stops; deleted, it is gone.
  const off = await d.req('PATCH', `/api/services/${id}`, { enabled: false });
  assert.equal(off.status, 200);
  await svcState(id, (b) => b.runtime.status === 'stopped', 'stopped');
  assert.equal((await d.req('DELETE', `/api/services/${id}`)).status, 204);
  assertError(await d.req('GET', `/api/services/${id}`), 404, 'NOT_FOUND');
  c.ws.close();
});

test('a crashing service comes back with growing backoff; never and on-failure rest', async () => {
  const r = await d.req('POST', '/api/services', { name: 'crashy', command: [NODE, SVC, '--crash-after', '50'], restart: 'always' });
  assert.equal(r.status, 201);
  const s = await svcState(r.body.id, (b) => b.runtime.restarts >= 2 && b.runtime.backoffMs >= 1000, 'two restarts', 20000);
  assert.equal(s.runtime.lastExit.code, 1);
  assert.ok(['starting', 'running', 'backoff'].includes(s.runtime.status));
  assert.equal((await d.req('DELETE', `/api/services/${r.body.id}`)).status, 204);

  const n = await d.req('POST', '/api/services', { name: 'once', command: [NODE, SVC, '--crash-after', '50'], restart: 'never' });
  const ns = await svcState(n.body.id, (b) => b.runtime.status === 'failed', 'failed');
  assert.equal(ns.runtime.restarts, 0);
  const ok = await d.req('POST', '/api/services', { name: 'clean', command: [NODE, SVC, '--crash-after', '50', '--exit-code', '0'] });
  assert.equal(ok.body.restart, 'on-failure');
  const os = await svcState(ok.body.id, (b) => b.runtime.status === 'stopped', 'stopped after a clean exit');
  assert.equal(os.runtime.restarts, 0);
  const bad = await d.req('POST', '/api/services', { name: 'missing', command: ['/nonexistent/helper'] });
  const bs = await svcState(bad.body.id, (b) => b.runtime.status === 'failed', 'failed to start');
  assert.match(bs.runtime.error, /nonexistent/);
});

test('probes: HTTP status, a timeout, a command; no probe is 409', async () => {
  // A probe whose answer is not a timeout gets a long one: the 2 s default
  // can run out on a loaded machine before a command even starts.
  const LONG = 30000;
  const port = await freePort();
  const r = await d.req('POST', '/api/services', {
    name: 'web', command: [NODE, SVC, '--http', String(port)],
    probe: { type: 'http', url: `http://127.0.0.1:${port}/healthz`, intervalMs: 200, timeoutMs: 500 },
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  await svcState(r.body.id, (b) => b.runtime.health.status === 'healthy', 'http healthy');
  // The same server, a path that never answers: the probe times out.
  await d.req('PATCH', `/api/services/${r.body.id}`, { probe: { type: 'http', url: `http://127.0.0.1:${port}/hang`, timeoutMs: 150 } });
  let t = await d.req('POST', `/api/services/${r.body.id}/test`, {});
  assert.equal(t.body.ok, false);
  assert.equal(t.body.error, 'timed out');
  assert.ok(t.body.latencyMs >= 140);
  await d.req('PATCH', `/api/services/${r.body.id}`, { probe: { type: 'http', url: `http://127.0.0.1:${port}/other`, timeoutMs: LONG } });
  t = await d.req('POST', `/api/services/${r.body.id}/test`, {});
  assert.deepEqual([t.body.ok, t.body.error], [false, 'HTTP 503']);
  await d.req('PATCH', `/api/services/${r.body.id}`, { probe: { type: 'tcp', host: '127.0.0.1', port, timeoutMs: LONG } });
  assert.equal((await d.req('POST', `/api/services/${r.body.id}/test`, {})).body.ok, true);
  await d.req('PATCH', `/api/services/${r.body.id}`, { probe: { type: 'command', command: ['sh', '-c', 'exit 4'], timeoutMs: LONG } });
  t = await d.req('POST', `/api/services/${r.body.id}/test`, {});
  assert.deepEqual([t.body.ok, t.body.error], [false, 'exit 4']);
  await d.req('PATCH', `/api/services/${r.body.id}`, { probe: { type: 'command', command: ['sleep', '5'], timeoutMs: 100 } });
  t = await d.req('POST', `/api/services/${r.body.id}/test`, {});
  assert.deepEqual([t.body.ok, t.body.error], [false, 'timed out']);
  await d.req('PATCH', `/api/services/${r.body.id}`, { probe: null });
  assertError(await d.req('POST', `/api/services/${r.body.id}/test`, {}), 409, 'CONFLICT');
  assert.equal((await d.req('DELETE', `/api/services/${r.body.id}`)).status, 204);
});

test('bad input is refused with 422 naming the field, and nothing changes', async () => {
  const before = (await d.req('GET', '/api/services')).body.services.length;
  const base = { name: 'x', command: [NODE, SVC], schema: SCHEMA };
  for (const [body, field] of [
    [{ command: ['true'] }, 'name'],
    [{ name: 'x' }, 'command'],
    [{ ...base, restart: 'sometimes' }, 'restart'],
    [{ ...base, config: { width: 10 } }, 'config.width'],
    [{ ...base, config: { width: 'wide' } }, 'config.width'],
    [{ ...base, config: { fps: 0.5 } }, 'config.fps'],
    [{ ...base, config: { socketPath: 'x'.repeat(101) } }, 'config.socketPath'],
    [{ ...base, config: { colour: 'red' } }, 'config.colour'],
    [{ ...base, schema: { fields: { a: { type: 'colour' } } } }, 'schema'],
    [{ ...base, schema: { fields: { a: { type: 'integer', min: 5, max: 1 } } } }, 'schema'],
    [{ ...base, schema: { fields: { a: { type: 'integer', max: 3, default: 9 } } } }, 'schema'],
    [{ ...base, probe: { type: 'smoke' } }, 'probe.type'],
    [{ ...base, probe: { type: 'unix', path: 'relative.sock' } }, 'probe.path'],
    [{ ...base, probe: { type: 'http', url: 'https://x' } }, 'probe.url'],
    [{ ...base, probe: { type: 'tcp', host: '127.0.0.1', port: 70000 } }, 'probe'],
    [{ ...base, probe: { type: 'tcp', host: '127.0.0.1', port: 80, timeoutMs: 1 } }, 'probe.timeoutMs'],
    [{ ...base, cwd: '/nonexistent-dir' }, 'cwd'],
  ]) {
    assertError(await d.req('POST', '/api/services', body), 422, 'VALIDATION_ERROR', field);
  }
  assert.equal((await d.req('GET', '/api/services')).body.services.length, before);
  const r = await d.req('POST', '/api/services', { ...base, enabled: false });
  assert.equal(r.status, 201);
  assertError(await d.req('PATCH', `/api/services/${r.body.id}`, { config: { width: 99999 } }), 422, 'VALIDATION_ERROR', 'config.width');
  assertError(await d.req('PATCH', `/api/services/${r.body.id}`, { enabled: 'yes' }), 422, 'VALIDATION_ERROR', 'enabled');
  assert.equal((await d.req('GET', `/api/services/${r.body.id}`)).body.config.width, 640);
  assertError(await d.req('PATCH', '/api/services/svc_nope', {}), 404, 'NOT_FOUND');
  assert.equal((await d.req('DELETE', `/api/services/${r.body.id}`)).status, 204);
});

test('services belong to their org; changing them needs admin; enabled ones start with the daemon', async () => {
  const r = await d.req('POST', '/api/services', { name: 'mine', command: ['sleep', '30'] });
  const org = await d.req('POST', '/api/orgs', { name: 'svc-b' });
  const tok = await d.req('POST', '/api/tokens', { name: 'sb', scope: 'admin', orgId: org.body.id });
  const b = { authorization: `Bearer ${tok.body.token}` };
  assert.equal((await request(d.url, 'GET', `/api/services/${r.body.id}`, undefined, b)).status, 404);
  assert.equal((await request(d.url, 'POST', `/api/services/${r.body.id}/restart`, {}, b)).status, 404);
  assert.deepEqual((await request(d.url, 'GET', '/api/services', undefined, b)).body.services, []);
  const w = await d.req('POST', '/api/tokens', { name: 'sw', scope: 'write' });
  assertError(await request(d.url, 'POST', '/api/services', { name: 'x', command: ['true'] },
    { authorization: `Bearer ${w.body.token}` }), 403, 'FORBIDDEN');
  assert.equal((await d.req('DELETE', `/api/services/${r.body.id}`)).status, 204);

  const x = await startApi({ keepDataDir: true });
  const s = await x.req('POST', '/api/services', { name: 'persist', command: ['sleep', '30'] });
  await x.stop();
  const y = await startApi({ dataDir: x.dataDir });
  try {
    const again = await until(async () => {
      const g = await y.req('GET', `/api/services/${s.body.id}`);
      return g.body.runtime.status === 'running' ? g.body : null;
    }, 'the service to start with the daemon');
    assert.ok(again.runtime.pid > 0);
  } finally {
    await y.cleanup();
    fs.rmSync(x.dataDir, { recursive: true, force: true });
  }
});

test('service figures feed the health score and the seed\'s syntheticEye block', async () => {
  const h = await startApi({ args: ['--health-interval-ms', '200', '--health-event-interval-ms', '1000'] });
  try {
    const sock = path.join(dir, 'score.sock');
    const r = await h.req('POST', '/api/services', {
      name: 'eye', command: [NODE, SVC, '--socket', '{socketPath}'], schema: SCHEMA,
      config: { socketPath: sock, fps: 300 }, probe: { type: 'unix', path: sock, intervalMs: 200 },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const sample = (pred) => until(async () => {
      const x = await h.req('GET', '/api/health');
      return x.body.sampledAt && pred(x.body) ? x.body : null;
    }, 'a sample');
    let s = await sample((b) => b.summary.syntheticEye && b.summary.syntheticEye.status === 'healthy');
    assert.deepEqual(s.summary.syntheticEye, { fps: 300, latency: 1.5, pcieBandwidth: null, status: 'healthy' });
    const fps = s.reasons.find((x) => x.code === 'service_fps');
    assert.ok(fps, JSON.stringify(s.reasons));
    assert.equal(fps.value, 300);
    assert.equal(fps.threshold, 400);
    assert.ok(!s.reasons.some((x) => x.code === 'service_latency'));
    assert.equal((await h.req('PATCH', '/api/settings', { health_service_latency_ms: 1, health_service_fps_min: 100 })).status, 200);
    s = await sample((b) => b.reasons.some((x) => x.code === 'service_latency'));
    assert.ok(!s.reasons.some((x) => x.code === 'service_fps'));
    assert.equal(s.thresholds.serviceLatency, 1);
    const c = await Live.open(h, '/ws');
    c.send('subscribe', { topics: ['system'] });
    const ev = await c.next('system_health', 0, 10000);
    assert.equal(ev.payload.syntheticEye.fps, 300);
    c.ws.close();
  } finally {
    await h.cleanup();
  }
});

test('one service\'s read carries its log and when its process started (uptime); the list no log', async () => {
  const t0 = Date.now();
  const r = await d.req('POST', '/api/services', {
    name: 'chatty',
    command: ['/bin/sh', '-c', 'echo listening on 9; echo "{\\"type\\":\\"metrics\\",\\"fps\\":500}"; echo "a warning" >&2; exec sleep 600'],
    restart: 'never',
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const id = r.body.id;
  const s = await svcState(id, (b) => b.runtime.status === 'running' && /a warning/.test(b.runtime.output || ''), 'the service log');
  assert.match(s.runtime.output, /listening on 9/);
  assert.doesNotMatch(s.runtime.output, /metrics/, 'figures are not log lines');
  assert.ok(s.runtime.startedAt >= t0 - 1000 && s.runtime.startedAt <= Date.now(), `startedAt ${s.runtime.startedAt}`);
  const list = await d.req('GET', '/api/services');
  const row = list.body.services.find((x) => x.id === id);
  assert.equal(row.runtime.output, undefined);
  assert.equal(typeof row.runtime.startedAt, 'number');
  assert.equal((await d.req('PATCH', `/api/services/${id}`, { enabled: false })).status, 200);
  const down = await svcState(id, (b) => b.runtime.status === 'stopped', 'stopped');
  assert.equal(down.runtime.startedAt, null);
  assert.equal((await d.req('DELETE', `/api/services/${id}`)).status, 204);
});

test('the built-in Synthetic Eye template: no schema to write, read-only and disabled fields kept (issue #40)', async () => {
  const t = await d.req('GET', '/api/services/templates');
  assert.equal(t.status, 200);
  const eye = t.body.templates.find((x) => x.id === 'synthetic-eye');
  assert.ok(eye, JSON.stringify(t.body));
  const f = eye.schema.fields;
  assert.deepEqual(Object.keys(f).sort(), ['bufferCount', 'drmDevice', 'format', 'lockstep', 'resolution', 'socketPath']);
  assert.deepEqual(f.resolution.enum, ['1280x720', '1920x1080', '2560x1440', '3840x2160']);
  assert.equal(f.drmDevice.readOnly, true);
  assert.equal(f.format.disabled, true);
  assert.deepEqual([f.bufferCount.min, f.bufferCount.max, f.bufferCount.default], [2, 5, 3]);

  const sock = path.join(dir, 'eye-template.sock');
  const r = await d.req('POST', '/api/services', {
    template: 'synthetic-eye',
    command: [NODE, SVC, '--socket', '{socketPath}'],
    config: { socketPath: sock, resolution: '2560x1440' },
    enabled: false,
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.name, 'Synthetic Eye');
  assert.deepEqual(r.body.schema, eye.schema);
  assert.deepEqual(r.body.config, {
    resolution: '2560x1440', lockstep: false, bufferCount: 3, socketPath: sock, drmDevice: '/dev/dri/card0', format: 'ARGB8888',
  });
  const id = r.body.id;
  // the read-only and disabled fields keep their values; a bad one is refused; nothing changes
  assertError(await d.req('PATCH', `/api/services/${id}`, { config: { drmDevice: '/dev/dri/card1' } }), 422, 'VALIDATION_ERROR', 'config.drmDevice');
  assertError(await d.req('PATCH', `/api/services/${id}`, { config: { format: 'XRGB8888' } }), 422, 'VALIDATION_ERROR', 'config.format');
  assertError(await d.req('PATCH', `/api/services/${id}`, { config: { bufferCount: 9 } }), 422, 'VALIDATION_ERROR', 'config.bufferCount');
  assertError(await d.req('PATCH', `/api/services/${id}`, { config: { resolution: '999x1' } }), 422, 'VALIDATION_ERROR', 'config.resolution');
  const same = await d.req('PATCH', `/api/services/${id}`, { config: { drmDevice: '/dev/dri/card0', lockstep: true } });
  assert.equal(same.status, 200, JSON.stringify(same.body));
  assert.equal(same.body.config.lockstep, true);
  assert.equal(same.body.config.drmDevice, '/dev/dri/card0');
  // A template brings its schema: both, or an unknown template, are refused.
  assertError(await d.req('POST', '/api/services', { template: 'synthetic-eye', schema: SCHEMA, command: ['true'] }), 422, 'VALIDATION_ERROR', 'schema');
  assertError(await d.req('POST', '/api/services', { template: 'nope', command: ['true'] }), 422, 'VALIDATION_ERROR', 'template');
  assertError(await d.req('POST', '/api/services', { template: 'synthetic-eye', command: ['true'], config: { drmDevice: '/dev/mem' } }), 422, 'VALIDATION_ERROR', 'config.drmDevice');
  // A schema of one's own may mark fields too; a read-only one needs a default.
  assertError(await d.req('POST', '/api/services', { name: 'x', command: ['true'], schema: { fields: { a: { type: 'string', readOnly: true } } } }), 422, 'VALIDATION_ERROR', 'schema');
  assertError(await d.req('POST', '/api/services', { name: 'x', command: ['true'], schema: { fields: { a: { type: 'string', default: 'z', disabled: 'yes' } } } }), 422, 'VALIDATION_ERROR', 'schema');
  assert.equal((await d.req('DELETE', `/api/services/${id}`)).status < 300, true);

  // One vocabulary: a service schema written as the training configs' are (a list of
  // fields with float/int/bool/enum types and options) is taken in the same sense.
  const hp = await d.req('POST', '/api/services', {
    name: 'hp-vocab',
    command: ['true'],
    enabled: false,
    schema: {
      fields: [
        { name: 'lr', type: 'float', min: 0, max: 1, default: 0.5 },
        { name: 'batch', type: 'int', min: 1, max: 64, default: 8 },
        { name: 'mode', type: 'enum', options: ['a', 'b'], default: 'a', disabled: true },
        { name: 'on', type: 'bool', default: true },
      ],
    },
    config: { batch: 16 },
  });
  assert.equal(hp.status, 201, JSON.stringify(hp.body));
  assert.deepEqual(hp.body.config, { lr: 0.5, batch: 16, mode: 'a', on: true });
  assert.deepEqual(hp.body.schema.fields.mode, { type: 'string', enum: ['a', 'b'], default: 'a', disabled: true });
  assertError(await d.req('PATCH', `/api/services/${hp.body.id}`, { config: { batch: 65 } }), 422, 'VALIDATION_ERROR', 'config.batch');
  assertError(await d.req('PATCH', `/api/services/${hp.body.id}`, { config: { mode: 'b' } }), 422, 'VALIDATION_ERROR', 'config.mode');
  for (const fields of [[{ name: 'x', type: 'complex', default: 1 }], [{ type: 'int', min: 0, max: 1, default: 0 }], [{ name: 'x', type: 'bool', default: true }, { name: 'x', type: 'bool', default: true }]]) {
    assertError(await d.req('POST', '/api/services', { name: 'bad', command: ['true'], schema: { fields } }), 422, 'VALIDATION_ERROR', 'schema');
  }
});
