// SPDX-License-Identifier: MIT
// Hyper-parameter configs and the runs table (issue #16) through the real
// binary: the built-in PPO schema and its presets, a value out of range or
// off its step refused with a 422 naming the field and the range, reset,
// a user's schema, another org's rows answered 404; a run started with a
// config whose program (a node script) reads the JSON file named by
// AGENTD_CONFIG (and the flags; the file goes when the run ends) and
// prints metric lines; the runs table sorted and filtered by config values
// and metric summaries.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { api, until } = require('./lib/api');

// The training program (its report, its reward curve): tests/fixtures/hp-trainer.js.
const TRAINER = path.resolve(__dirname, '../fixtures/hp-trainer.js');

let d;
let wt;
let ws;
let trainer;
let reports; // where the trainer writes what it got
test.before(async () => {
  d = await daemon.start({ needUrl: true });
  const dir = daemon.tmpRepo('agentd-hp-');
  const w = await api(d, 'POST', '/api/workspaces', { path: dir, name: 'w' });
  assert.equal(w.status, 201, JSON.stringify(w.body));
  ws = w.body.id;
  wt = w.body.worktrees[0].id;
  trainer = TRAINER;
  reports = daemon.tmpDir('agentd-hp-reports-');
});
test.after(async () => { await d.cleanup(); });

test('the built-in PPO schema: the seed\'s fields and ranges, three presets', async () => {
  const l = await api(d, 'GET', '/api/config-schemas');
  assert.equal(l.status, 200);
  const ppo = l.body.schemas.find((s) => s.id === 'ppo');
  assert.ok(ppo && ppo.builtIn);
  const f = Object.fromEntries(ppo.fields.map((x) => [x.name, x]));
  assert.deepEqual([f.learningRate.min, f.learningRate.max, f.learningRate.log], [1e-6, 1e-2, true]);
  assert.deepEqual([f.gamma.min, f.gamma.max], [0.9, 0.999]);
  assert.deepEqual([f.gaeLambda.min, f.gaeLambda.max], [0.9, 0.99]);
  assert.deepEqual([f.clipRange.min, f.clipRange.max], [0.1, 0.3]);
  assert.deepEqual([f.entropyCoef.min, f.entropyCoef.max], [0, 0.1]);
  assert.deepEqual([f.batchSize.min, f.batchSize.max, f.batchSize.type], [32, 2048, 'int']);
  assert.deepEqual([f.miniBatchSize.min, f.miniBatchSize.max, f.miniBatchSize.step], [16, 512, 16]);
  assert.deepEqual([f.epochs.min, f.epochs.max], [1, 20]);
  assert.deepEqual(Object.keys(ppo.presets).sort(), ['aggressive', 'balanced', 'conservative']);
  assert.equal((await api(d, 'DELETE', '/api/config-schemas/ppo')).status, 409);
});

test('configs: defaults, presets, 422 naming the field and range, reset, patch', async () => {
  const c = await api(d, 'POST', '/api/configs', { name: 'base', schemaId: 'ppo' });
  assert.equal(c.status, 201, JSON.stringify(c.body));
  assert.equal(c.body.values.learningRate, 3e-4);
  assert.equal(c.body.values.miniBatchSize, 64);

  const bad = [
    [{ learningRate: 0.5 }, 'values.learningRate', /from 1e-06 to 0\.01/],
    [{ miniBatchSize: 24 }, 'values.miniBatchSize', /from 16 to 512 in steps of 16/],
    [{ epochs: 2.5 }, 'values.epochs', /whole number from 1 to 20/],
    [{ gamma: 'high' }, 'values.gamma', /number from 0\.9 to 0\.999/],
    [{ momentum: 0.9 }, 'values.momentum', /not a field/],
  ];
  for (const [values, field, re] of bad) {
    const r = await api(d, 'PATCH', `/api/configs/${c.body.id}`, { values });
    assert.equal(r.status, 422, JSON.stringify(r.body));
    assert.equal(r.body.error.details.field, field);
    assert.match(r.body.error.message, re);
    assert.match(r.body.error.message, new RegExp(field.replace('.', '\\.')));
  }
  const after = await api(d, 'GET', `/api/configs/${c.body.id}`);
  assert.equal(after.body.values.learningRate, 3e-4, 'a refused change stores nothing');
  const bc = await api(d, 'POST', '/api/configs', { name: 'x', schemaId: 'ppo', values: { clipRange: 0.9 } });
  assert.equal(bc.status, 422);
  assert.equal(bc.body.error.details.field, 'values.clipRange');

  const p = await api(d, 'POST', `/api/configs/${c.body.id}/preset`, { preset: 'aggressive' });
  assert.equal(p.status, 200, JSON.stringify(p.body));
  assert.equal(p.body.values.learningRate, 1e-3);
  assert.equal(p.body.values.epochs, 15);
  assert.equal((await api(d, 'POST', `/api/configs/${c.body.id}/preset`, { preset: 'wild' })).status, 422);

  const m = await api(d, 'PATCH', `/api/configs/${c.body.id}`, { name: 'tuned', values: { learningRate: 0.002, miniBatchSize: 128 } });
  assert.equal(m.status, 200, JSON.stringify(m.body));
  assert.equal(m.body.name, 'tuned');
  assert.equal(m.body.values.learningRate, 0.002);
  assert.equal(m.body.values.epochs, 15, 'a patch keeps the other values');

  const r = await api(d, 'POST', `/api/configs/${c.body.id}/reset`);
  assert.equal(r.status, 200);
  assert.equal(r.body.values.learningRate, 3e-4);
  assert.equal(r.body.values.epochs, 10);

  const fromPreset = await api(d, 'POST', '/api/configs', { name: 'c', schemaId: 'ppo', preset: 'conservative', values: { epochs: 3 } });
  assert.equal(fromPreset.status, 201);
  assert.equal(fromPreset.body.values.clipRange, 0.1);
  assert.equal(fromPreset.body.values.epochs, 3);
});

test('a user schema: checked when made, its configs checked against it; another org sees 404', async () => {
  const badSchemas = [
    [{ name: 's', fields: [{ name: 'x', type: 'float', min: 1, max: 0, default: 0.5 }] }, 'fields[0].min'],
    [{ name: 's', fields: [{ name: 'x y', type: 'int', min: 0, max: 9, default: 1 }] }, 'fields[0].name'],
    [{ name: 's', fields: [{ name: 'x', type: 'int', min: 0, max: 9, default: 10 }] }, 'fields[0].default'],
    [{ name: 's', fields: [{ name: 'x', type: 'tensor', default: 1 }] }, 'fields[0].type'],
    [{ name: 's', fields: [{ name: 'x', type: 'enum', options: [], default: 'a' }] }, 'fields[0].options'],
    [{ name: 's', fields: [{ name: 'x', type: 'float', min: 0, max: 1, log: true, default: 0.5 }] }, 'fields[0].log'],
    [{ name: 's', fields: [{ name: 'x', type: 'int', min: 0, max: 9, default: 1 }], presets: { p: { y: 1 } } }, 'presets.p.y'],
  ];
  for (const [body, field] of badSchemas) {
    const r = await api(d, 'POST', '/api/config-schemas', body);
    assert.equal(r.status, 422, JSON.stringify(body));
    assert.equal(r.body.error.details.field, field, JSON.stringify(r.body));
  }
  const s = await api(d, 'POST', '/api/config-schemas', {
    name: 'DQN', fields: [
      { name: 'lr', type: 'float', min: 1e-5, max: 0.1, log: true, default: 0.001 },
      { name: 'buffer', type: 'int', min: 1000, max: 100000, step: 1000, default: 10000 },
      { name: 'double', type: 'bool', default: true },
      { name: 'optimizer', type: 'enum', options: ['adam', 'sgd'], default: 'adam' },
      { name: 'tag', type: 'string', maxLength: 8, default: 'x' },
    ], presets: { fast: { lr: 0.01, buffer: 5000 } },
  });
  assert.equal(s.status, 201, JSON.stringify(s.body));
  const c = await api(d, 'POST', '/api/configs', { name: 'dqn-1', schemaId: s.body.id, preset: 'fast' });
  assert.equal(c.status, 201, JSON.stringify(c.body));
  assert.deepEqual(c.body.values, { lr: 0.01, buffer: 5000, double: true, optimizer: 'adam', tag: 'x' });
  let r = await api(d, 'PATCH', `/api/configs/${c.body.id}`, { values: { optimizer: 'rmsprop' } });
  assert.equal(r.status, 422);
  assert.match(r.body.error.message, /values\.optimizer must be one of adam, sgd/);
  r = await api(d, 'PATCH', `/api/configs/${c.body.id}`, { values: { double: 1 } });
  assert.equal(r.body.error.details.field, 'values.double');
  r = await api(d, 'PATCH', `/api/configs/${c.body.id}`, { values: { tag: 'far too long' } });
  assert.equal(r.body.error.details.field, 'values.tag');
  assert.equal((await api(d, 'DELETE', `/api/config-schemas/${s.body.id}`)).status, 409, 'in use');

  // another organisation
  const org = await api(d, 'POST', '/api/orgs', { name: 'other' });
  assert.equal(org.status, 201);
  const tok = await api(d, 'POST', '/api/tokens', { name: 'b', scope: 'admin', orgId: org.body.id });
  assert.equal(tok.status, 201, JSON.stringify(tok.body));
  const b = { authorization: `Bearer ${tok.body.token}` };
  const call = async (method, url, body) => {
    const res = await fetch(d.url + url, { method, headers: { ...b, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, body: await res.json().catch(() => null) };
  };
  assert.equal((await call('GET', `/api/configs/${c.body.id}`)).status, 404);
  assert.equal((await call('PATCH', `/api/configs/${c.body.id}`, { name: 'x' })).status, 404);
  assert.equal((await call('POST', `/api/configs/${c.body.id}/reset`)).status, 404);
  assert.equal((await call('DELETE', `/api/configs/${c.body.id}`)).status, 404);
  assert.equal((await call('GET', `/api/config-schemas/${s.body.id}`)).status, 404);
  const theirs = await call('GET', '/api/config-schemas');
  assert.deepEqual(theirs.body.schemas.map((x) => x.id), ['ppo']);
  assert.deepEqual((await call('GET', '/api/configs')).body.configs, []);
  const borrow = await call('POST', '/api/configs', { name: 'y', schemaId: s.body.id });
  assert.equal(borrow.status, 422);
  assert.equal(borrow.body.error.details.field, 'schemaId');

  assert.equal((await api(d, 'DELETE', `/api/configs/${c.body.id}`)).status, 200);
  assert.equal((await api(d, 'DELETE', `/api/config-schemas/${s.body.id}`)).status, 200);
  assert.equal((await api(d, 'GET', `/api/configs/${c.body.id}`)).status, 404);
});

async function runWith(configId, flags, viaCli, worktree = wt) {
  const report = path.join(reports, `report-${Math.random().toString(36).slice(2)}.json`);
  const a = await api(d, 'POST', '/api/agents', { worktreeId: worktree, executor: 'command', command: ['node', trainer],
    env: { REPORT: report }, sandbox: { paths: [{ path: reports, write: true }] } });
  assert.equal(a.status, 201, JSON.stringify(a.body));
  if (viaCli) {
    const r = daemon.run(['--data-dir', d.dataDir, 'start', a.body.id, '--config', configId, ...(flags ? ['--config-flags'] : [])]);
    assert.equal(r.status, 0, r.stderr);
  } else {
    const s = await api(d, 'POST', `/api/agents/${a.body.id}/start`, { configId, configFlags: flags });
    assert.equal(s.status, 200, JSON.stringify(s.body));
  }
  const run = await until(async () => {
    const r = (await api(d, 'GET', `/api/agents/${a.body.id}/runs`)).body.runs[0];
    return r && r.status !== 'running' ? r : null;
  }, 'the run to end', 60000); // a real training program
  await until(async () => {
    const l = await api(d, 'GET', `/api/runs/${run.id}/metrics`);
    return l.body.series.length === 2 && l.body.series.every((x) => x.count === 11);
  }, 'the points stored');
  return { agent: a.body.id, run, seen: JSON.parse(fs.readFileSync(report, 'utf8')) };
}

test('a run with a config: the program reads the file (0600) and the flags; the run records it', async () => {
  const c = await api(d, 'POST', '/api/configs', { name: 'lr-2e-3', schemaId: 'ppo', values: { learningRate: 0.002, epochs: 4 } });
  assert.equal(c.status, 201);
  const { run, seen } = await runWith(c.body.id, true);
  assert.equal(run.status, 'succeeded');
  assert.deepEqual(run.config, { id: c.body.id, name: 'lr-2e-3', schemaId: 'ppo', values: c.body.values });
  const got = await api(d, 'GET', `/api/runs/${run.id}`);
  assert.deepEqual(got.body.config, run.config);
  assert.deepEqual(seen.cfg, c.body.values);
  assert.equal(seen.mode, '600');
  assert.ok(seen.file.endsWith(`/runs/${run.id}/config.json`), seen.file);
  await until(() => !fs.existsSync(path.dirname(seen.file)), 'the file removed once the run has ended');
  assert.ok(seen.flags.includes('--learningRate=0.002'), JSON.stringify(seen.flags));
  assert.ok(seen.flags.includes('--miniBatchSize=64'));
  assert.ok(seen.flags.includes('--epochs=4'));

  // the same from the command line
  const viaCli = await runWith(c.body.id, true, true);
  assert.deepEqual(viaCli.run.config, run.config);
  assert.deepEqual(viaCli.seen.flags, seen.flags);

  // an agent whose state names a default config gets it on every plain start
  const report = path.join(reports, 'report-default.json');
  const da = await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command: ['node', trainer],
    env: { REPORT: report }, state: { configId: c.body.id },
    sandbox: { paths: [{ path: reports, write: true }] } });
  assert.equal(da.status, 201, JSON.stringify(da.body));
  assert.equal((await api(d, 'POST', `/api/agents/${da.body.id}/start`, {})).status, 200);
  const drun = await until(async () => {
    const x = (await api(d, 'GET', `/api/agents/${da.body.id}/runs`)).body.runs[0];
    return x && x.status !== 'running' ? x : null;
  }, 'the default-config run to end', 60000);
  assert.equal(drun.config.id, c.body.id);
  const dseen = JSON.parse(fs.readFileSync(report, 'utf8'));
  assert.deepEqual(dseen.cfg, c.body.values);
  assert.deepEqual(dseen.flags, [], 'flags only when asked for');

  // refusals: no such config, flags without a config
  const a = await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command: ['node', trainer] });
  let r = await api(d, 'POST', `/api/agents/${a.body.id}/start`, { configId: 'cfg_nope' });
  assert.equal(r.status, 422);
  assert.equal(r.body.error.details.field, 'configId');
  r = await api(d, 'POST', `/api/agents/${a.body.id}/start`, { configFlags: true });
  assert.equal(r.status, 422);
  assert.equal(r.body.error.details.field, 'configFlags');
  // a default config that was deleted since: refused, naming it
  const gone = await api(d, 'POST', '/api/configs', { name: 'gone', schemaId: 'ppo' });
  const ga = await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command: ['node', trainer],
    state: { configId: gone.body.id } });
  assert.equal((await api(d, 'DELETE', `/api/configs/${gone.body.id}`)).status, 200);
  r = await api(d, 'POST', `/api/agents/${ga.body.id}/start`, {});
  assert.equal(r.status, 422);
  assert.equal(r.body.error.details.field, 'configId');
});

test('the runs table: config values, final and best metrics, sorted and filtered', async () => {
  // a workspace of its own: three runs
  const w2 = await api(d, 'POST', '/api/workspaces', { path: daemon.tmpRepo('agentd-hp-table-'), name: 'table' });
  assert.equal(w2.status, 201, JSON.stringify(w2.body));
  const ws = w2.body.id;
  const ids = {};
  for (const [lr, epochs] of [[0.0005, 10], [0.004, 5], [0.001, 20]]) {
    const c = await api(d, 'POST', '/api/configs', { name: `lr=${lr}`, schemaId: 'ppo', values: { learningRate: lr, epochs } });
    assert.equal(c.status, 201);
    ids[lr] = (await runWith(c.body.id, false, false, w2.body.worktrees[0].id)).run.id;
  }
  const q = (s) => api(d, 'GET', `/api/training/runs?workspaceId=${ws}&metrics=reward,loss:min&${s}`);
  let t = await q('sort=config.learningRate&order=desc&filter=' + encodeURIComponent('learningRate>=0.0005'));
  assert.equal(t.status, 200, JSON.stringify(t.body));
  assert.deepEqual(t.body.metrics, [{ name: 'reward', goal: 'max' }, { name: 'loss', goal: 'min' }]);
  const lrs = t.body.runs.map((r) => r.config.values.learningRate);
  assert.deepEqual(lrs, [0.004, 0.001, 0.0005]);
  const top = t.body.runs[0];
  assert.equal(top.id, ids[0.004]);
  assert.equal(top.status, 'succeeded');
  assert.ok(top.durationMs >= 0);
  assert.ok(Math.abs(top.metrics.reward.final - 0.4) < 1e-9, JSON.stringify(top.metrics));
  assert.ok(Math.abs(top.metrics.reward.best - 4) < 1e-9);
  assert.ok(Math.abs(top.metrics.loss.best - 0.2) < 1e-9, 'loss:min: best is the minimum');
  // Without :min a loss is still best at its lowest: its name says so (issue #74).
  const plain = await api(d, 'GET', `/api/training/runs?workspaceId=${ws}&metrics=loss,reward`);
  assert.deepEqual(plain.body.metrics, [{ name: 'loss', goal: 'min' }, { name: 'reward', goal: 'max' }]);
  assert.ok(Math.abs(plain.body.runs.find((r) => r.id === top.id).metrics.loss.best - 0.2) < 1e-9, JSON.stringify(plain.body.runs));
  assert.equal(top.metrics.reward.count, 11);

  t = await q('sort=reward.best&order=asc&filter=' + encodeURIComponent('epochs<=10,reward.final>0.06'));
  assert.deepEqual(t.body.runs.map((r) => r.config.values.learningRate), [0.004]);
  assert.ok(t.body.runs.every((r) => r.config.values.epochs <= 10 && r.metrics.reward.final > 0.06), JSON.stringify(t.body.runs));
  const best = t.body.runs.map((r) => r.metrics.reward.best);
  assert.deepEqual(best, [...best].sort((a, b) => a - b));
  assert.equal(t.body.total, t.body.runs.length);

  t = await q('sort=loss.final&order=asc&limit=2');
  assert.equal(t.body.runs.length, 2);
  assert.equal(t.body.total, 3);
  assert.equal(t.body.runs[0].config.values.epochs, 20, 'loss ends lowest with the most epochs');
  const page2 = await q('sort=loss.final&order=asc&limit=2&offset=2');
  assert.equal(page2.body.runs.length, 1);
  assert.ok(!page2.body.runs.some((r) => t.body.runs.find((x) => x.id === r.id)), 'pages do not overlap');
  const all = await api(d, 'GET', '/api/training/runs?metrics=reward&sort=config.learningRate');
  assert.equal(all.body.total, 6, 'without a scope: every run of the org');

  t = await q('status=failed');
  assert.deepEqual(t.body.runs, []);
  assert.equal((await q('sort=drop table')).status, 422);
  assert.equal((await q('filter=' + encodeURIComponent('lr~1'))).status, 422);
  assert.equal((await q('limit=501')).status, 422);
  assert.equal((await api(d, 'GET', '/api/training/runs?agentId=ag_nope')).status, 404);
  const one = await api(d, 'GET', `/api/training/runs?agentId=${encodeURIComponent((await api(d, 'GET', `/api/runs/${ids[0.001]}`)).body.agentId)}`);
  assert.deepEqual(one.body.runs.map((r) => r.id), [ids[0.001]]);
});
