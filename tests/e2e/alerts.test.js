// SPDX-License-Identifier: MIT
// Alerts that act (issue #35): a NaN stops the run before its next step, a
// threshold passed for N steps in a row signals the run (SIGUSR1, a
// checkpoint) and posts its webhook (tried again after a 500), a series
// that stops moving fires after T seconds; every firing is recorded on the
// run and published. Rules are checked field by field, webhooks need an
// admin and may reach only public addresses unless allowed, and another
// organisation sees none of it. The trainer waits at a gate the test opens,
// so what happened is read from state, never from a clock.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { startApi, api, until, assertError } = require('./lib/api');
const { Live } = require('./lib/live');

const TRAINER = path.resolve(__dirname, '..', 'fixtures', 'alert-trainer.js');
const GATES = daemon.tmpDir('agentd-alert-gates-');
const FIXTURES = path.resolve(__dirname, '..', 'fixtures');
const FAKE_NVML = path.join(path.dirname(daemon.BIN), 'tests/fake-nvml/libnvidia-ml.so.1');
const GPU_STATE = path.join(GATES, 'gpu-state');

let d, wt, ws, hook;
const hooks = [];

test.before(async () => {
  // the webhook's receiver: the first post of each firing answers 500
  hook = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const msg = { headers: req.headers, body: JSON.parse(body) };
      hooks.push(msg);
      const tries = hooks.filter((h) => h.body.firing.id === msg.body.firing.id).length;
      res.writeHead(tries === 1 ? 500 : 200).end();
    });
  });
  await new Promise((r) => hook.listen(0, '127.0.0.1', r));
  fs.writeFileSync(GPU_STATE, 'throttle=0\n');
  d = await startApi({
    args: ['--alert-webhook-allow', '127.0.0.1', '--sandbox-paths', `${FIXTURES},${GATES}`,
      '--nvml-lib', FAKE_NVML, '--health-interval-ms', '200'],
    env: { FAKE_NVML_STATE: GPU_STATE },
  });
  const r = await api(d, 'POST', '/api/workspaces', { path: daemon.tmpRepo('agentd-alerts-'), name: 'w' });
  assert.equal(r.status, 201, r.text);
  ws = r.body.id;
  wt = r.body.worktrees[0].id;
});

test.after(async () => {
  await d.cleanup();
  hook.close();
  fs.rmSync(GATES, { recursive: true, force: true });
});

// A trainer agent on values (its gate shut); {agent, run, gate}.
async function trainer(name, series, values) {
  const gate = path.join(GATES, name);
  fs.writeFileSync(gate, '-1');
  const a = await api(d, 'POST', '/api/agents', { worktreeId: wt, name, executor: 'command',
    command: ['node', TRAINER, gate, series, values.join(',')] });
  assert.equal(a.status, 201, a.text);
  return { agent: a.body.id, gate };
}

async function start(t) {
  assert.equal((await api(d, 'POST', `/api/agents/${t.agent}/start`, {})).status, 200);
  t.run = await until(async () => {
    const r = (await api(d, 'GET', `/api/agents/${t.agent}/runs`)).body.runs[0];
    return r ? r.id : null;
  }, 'the run');
  return t;
}

const open = (t, step) => fs.writeFileSync(t.gate, String(step));
const series = async (runId, name) =>
  (await api(d, 'GET', `/api/runs/${runId}/metrics`)).body.series.find((s) => s.name === name);
const firings = async (runId) => (await api(d, 'GET', `/api/runs/${runId}/alerts`)).body.firings;

async function rule(body, headers) {
  const r = await api(d, 'POST', '/api/alert-rules', body, headers);
  assert.equal(r.status, 201, r.text);
  return r.body;
}

test('NaN in a series stops the run before its next step; the firing is recorded and published', async () => {
  const t = await trainer('nan-trainer', 'loss', ['0.9', '0.8', '0.7', 'nan', '0.5', '0.4']);
  const r = await rule({ name: 'loss went NaN', kind: 'nan', series: 'loss', agentId: t.agent, action: 'stop' });
  assert.equal(r.kind, 'nan');
  assert.equal(r.action, 'stop');
  assert.deepEqual(r.notify, { desktop: true });
  const live = await Live.open(d);
  live.send('subscribe', { topics: [`agent:${t.agent}`] });
  await live.next('subscribed');
  await start(t);
  open(t, 3); // steps 0..3: the NaN is step 3; step 4 waits for the gate
  const run = await until(async () => {
    const x = (await api(d, 'GET', `/api/runs/${t.run}`)).body;
    return x.status !== 'running' ? x : null;
  }, 'the run to be stopped by the alert');
  assert.equal(run.status, 'stopped');
  const loss = await series(t.run, 'loss');
  assert.equal(loss.lastStep, 2, 'the NaN is not stored, and step 4 never came');
  assert.equal(loss.count, 3);
  const f = await firings(t.run);
  assert.equal(f.length, 1);
  assert.equal(f[0].ruleId, r.id);
  assert.equal(f[0].kind, 'nan');
  assert.equal(f[0].step, 3);
  assert.equal(f[0].value, 'NaN');
  assert.equal(f[0].action, 'stop');
  assert.equal(f[0].actionResult, 'done');
  assert.equal(f[0].message, 'loss is NaN at step 3');
  assert.equal(f[0].desktop, true);
  await live.until(() => live.events.some((e) => e.type === 'alert_fired'), 10000, 'alert_fired');
  const ev = live.events.find((e) => e.type === 'alert_fired');
  assert.equal(ev.payload.id, f[0].id);
  assert.equal(ev.payload.runId, t.run);
  live.close();
  // the rule's own list of firings
  const byRule = await api(d, 'GET', `/api/alert-rules/${r.id}/firings`);
  assert.deepEqual(byRule.body.firings.map((x) => x.id), [f[0].id]);
});

test('above a threshold for 3 steps in a row: SIGUSR1 to the run and a webhook, tried again after a 500', async () => {
  const t = await trainer('thr-trainer', 'loss', ['1', '1', '5', '5', '1', '5', '5', '5', '1', '1']);
  const url = `http://127.0.0.1:${hook.address().port}/hook`;
  const r = await rule({ name: 'loss high', kind: 'above', series: 'loss', threshold: 4, steps: 3,
    agentId: t.agent, action: 'signal', notify: { webhook: url, desktop: false } });
  assert.equal(r.signal, 'SIGUSR1');
  await start(t);
  open(t, 100);
  // the program answers SIGUSR1 with a checkpoint point
  await until(async () => await series(t.run, 'checkpoint'), 'the checkpoint the signal asked for');
  const f = await until(async () => {
    const x = await firings(t.run);
    return x.length === 1 && x[0].webhook.status !== 'pending' ? x : null;
  }, 'the webhook\'s outcome');
  assert.equal(f[0].step, 7, 'the third step in a row past 4 (the 1 at step 4 reset the count)');
  assert.equal(f[0].value, 5);
  assert.equal(f[0].threshold, 4);
  assert.equal(f[0].actionResult, 'done');
  assert.equal(f[0].message, 'loss above 4 for 3 steps (5 at step 7)');
  assert.deepEqual({ ...f[0].webhook }, { status: 'delivered', tries: 2, httpStatus: 200 });
  const got = hooks.filter((h) => h.body.firing.id === f[0].id);
  assert.equal(got.length, 2);
  assert.equal(got[1].body.type, 'alert_fired');
  assert.equal(got[1].body.firing.ruleId, r.id);
  assert.equal(got[1].headers['content-type'], 'application/json');
  assert.equal((await series(t.run, 'loss')).count, 10);
  assert.equal((await api(d, 'GET', `/api/runs/${t.run}`)).body.status, 'running', 'a signal does not stop it');
  await api(d, 'POST', `/api/agents/${t.agent}/stop`, { force: true });
});

test('no new step for 2 s: the stale rule stops the run', async () => {
  const t = await trainer('stale-trainer', 'reward', ['1', '2', '3']);
  const r = await rule({ name: 'stuck', kind: 'stale', series: 'reward', staleSeconds: 2, workspaceId: ws,
    action: 'stop' });
  await start(t);
  open(t, 1); // two steps, then the trainer waits at its gate
  await until(async () => (await series(t.run, 'reward'))?.lastStep === 1, 'two steps');
  const f = await until(async () => (await firings(t.run)).find((x) => x.ruleId === r.id), 'the stale firing');
  assert.equal(f.kind, 'stale');
  assert.equal(f.message, 'no new step of reward for 2 s');
  await until(async () => (await api(d, 'GET', `/api/runs/${t.run}`)).body.status === 'stopped', 'stopped');
  // a workspace rule: the other runs of the workspace are its too, the rule is removed for the next tests
  assert.equal((await api(d, 'DELETE', `/api/alert-rules/${r.id}`)).status, 204);
  assert.equal((await api(d, 'GET', `/api/alert-rules/${r.id}`)).status, 404);
});

test('a GPU throttled while the run runs: the gpuThrottle rule pauses it', async () => {
  const t = await trainer('gpu-trainer', 'reward', ['1', '2']);
  const r = await rule({ name: 'hot gpu', kind: 'gpuThrottle', agentId: t.agent, action: 'pause' });
  await start(t);
  open(t, 100);
  await until(async () => (await series(t.run, 'reward'))?.lastStep === 1, 'both steps');
  assert.deepEqual(await firings(t.run), [], 'not throttled: nothing');
  fs.writeFileSync(GPU_STATE, 'throttle=68\n'); // HW thermal and power cap
  const f = await until(async () => (await firings(t.run)).find((x) => x.ruleId === r.id), 'the throttle firing');
  assert.equal(f.kind, 'gpuThrottle');
  assert.equal(f.message, 'GPU throttled: GPU 0: power cap, thermal (HW)');
  await until(async () => (await api(d, 'GET', `/api/agents/${t.agent}`)).body.status === 'paused', 'paused');
  fs.writeFileSync(GPU_STATE, 'throttle=0\n');
  await api(d, 'POST', `/api/agents/${t.agent}/stop`, { force: true });
  await api(d, 'DELETE', `/api/alert-rules/${r.id}`);
});

test('rules are checked field by field; nothing is stored from a refused one', async () => {
  const before = (await api(d, 'GET', '/api/alert-rules')).body.rules.length;
  const cases = [
    [{ kind: 'nan', series: 'x' }, 'name'],
    [{ name: 'a', kind: 'bogus' }, 'kind'],
    [{ name: 'a', kind: 'above', series: 'x' }, 'threshold'],
    [{ name: 'a', kind: 'above', series: 'x', threshold: 1, steps: 0 }, 'steps'],
    [{ name: 'a', kind: 'nan' }, 'series'],
    [{ name: 'a', kind: 'stale' }, 'staleSeconds'],
    [{ name: 'a', kind: 'nan', series: 'x', threshold: 2 }, 'threshold'],
    [{ name: 'a', kind: 'nan', series: 'x', action: 'explode' }, 'action'],
    [{ name: 'a', kind: 'nan', series: 'x', action: 'stop', signal: 'SIGUSR1' }, 'signal'],
    [{ name: 'a', kind: 'nan', series: 'x', action: 'signal', signal: 'SIGKILL' }, 'signal'],
    [{ name: 'a', kind: 'nan', series: 'x', frobnicate: 1 }, 'frobnicate'],
    [{ name: 'a', kind: 'nan', series: 'x', notify: { email: 'x' } }, 'notify.email'],
    [{ name: 'a', kind: 'nan', series: 'x', workspaceId: 'ws_nope' }, 'workspaceId'],
    [{ name: 'a', kind: 'nan', series: 'x', workspaceId: ws, runId: 'run_x' }, 'runId'],
    [{ name: 'a', kind: 'gpuThrottle', series: 'x' }, 'series'],
  ];
  for (const [body, field] of cases) {
    assertError(await api(d, 'POST', '/api/alert-rules', body), 422, 'VALIDATION_ERROR', field);
  }
  assert.equal((await api(d, 'GET', '/api/alert-rules')).body.rules.length, before);
  // a patch is checked over the stored rule
  const r = await rule({ name: 'p', kind: 'below', series: 'reward', threshold: 0 });
  assertError(await api(d, 'PATCH', `/api/alert-rules/${r.id}`, { steps: -1 }), 422, 'VALIDATION_ERROR', 'steps');
  const p = await api(d, 'PATCH', `/api/alert-rules/${r.id}`, { steps: 5, enabled: false });
  assert.equal(p.status, 200, p.text);
  assert.deepEqual([p.body.steps, p.body.enabled, p.body.threshold, p.body.name], [5, false, 0, 'p']);
  assert.equal((await api(d, 'DELETE', `/api/alert-rules/${r.id}`)).status, 204);
});

test('webhooks: admin only, and only to public addresses unless --alert-webhook-allow lists them', async () => {
  for (const url of ['http://10.1.2.3/x', 'http://169.254.169.254/latest/meta-data', 'http://localhost:9/',
    'http://[::1]:9/', 'http://[::ffff:192.168.1.1]/', 'http://100.64.0.1/', 'ftp://example.com/',
    'http://user:pw@example.com/', 'http://0.0.0.0:80/', 'http:///nohost']) {
    assertError(await api(d, 'POST', '/api/alert-rules', { name: 'h', kind: 'nan', series: 'x', notify: { webhook: url } }),
      422, 'VALIDATION_ERROR', 'notify.webhook');
  }
  const w = await api(d, 'POST', '/api/tokens', { name: 'alert-writer', scope: 'write' });
  const rd = await api(d, 'POST', '/api/tokens', { name: 'alert-reader', scope: 'read' });
  const asW = { authorization: `Bearer ${w.body.token}` };
  const asR = { authorization: `Bearer ${rd.body.token}` };
  const body = { name: 'h', kind: 'nan', series: 'x', notify: { webhook: 'https://hooks.example.com/a' } };
  assertError(await api(d, 'POST', '/api/alert-rules', body, asW), 403, 'FORBIDDEN');
  assertError(await api(d, 'POST', '/api/alert-rules', { name: 'plain', kind: 'nan', series: 'x' }, asR), 403, 'FORBIDDEN');
  const plain = await rule({ name: 'plain', kind: 'nan', series: 'x' }, asW);
  // a write token cannot add a webhook to its rule either
  assertError(await api(d, 'PATCH', `/api/alert-rules/${plain.id}`, { notify: body.notify }, asW), 403, 'FORBIDDEN');
  const admin = await rule(body);
  assert.equal(admin.notify.webhook, 'https://hooks.example.com/a');
  await api(d, 'DELETE', `/api/alert-rules/${plain.id}`);
  await api(d, 'DELETE', `/api/alert-rules/${admin.id}`);
});

test('another organisation sees no rule and no firing', async () => {
  const mine = await rule({ name: 'mine', kind: 'nan', series: 'x' });
  const org = await api(d, 'POST', '/api/orgs', { name: 'alerts b' });
  const tok = await api(d, 'POST', '/api/tokens', { name: 'b', scope: 'admin', orgId: org.body.id });
  const b = { authorization: `Bearer ${tok.body.token}` };
  assert.equal((await api(d, 'GET', `/api/alert-rules/${mine.id}`, undefined, b)).status, 404);
  assert.equal((await api(d, 'PATCH', `/api/alert-rules/${mine.id}`, { name: 'x' }, b)).status, 404);
  assert.equal((await api(d, 'DELETE', `/api/alert-rules/${mine.id}`, undefined, b)).status, 404);
  assert.equal((await api(d, 'GET', `/api/alert-rules/${mine.id}/firings`, undefined, b)).status, 404);
  assert.deepEqual((await api(d, 'GET', '/api/alert-rules', undefined, b)).body.rules, []);
  const runs = (await api(d, 'GET', '/api/runs')).body.runs;
  assert.ok(runs.length > 0);
  assert.equal((await api(d, 'GET', `/api/runs/${runs[0].id}/alerts`, undefined, b)).status, 404);
  // nor can it aim a rule at this organisation's workspace
  assertError(await api(d, 'POST', '/api/alert-rules', { name: 'x', kind: 'nan', series: 'x', workspaceId: ws }, b),
    422, 'VALIDATION_ERROR', 'workspaceId');
  await api(d, 'DELETE', `/api/alert-rules/${mine.id}`);
});
