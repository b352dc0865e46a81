// SPDX-License-Identifier: MIT
// Sweeps (issue #35): a sweep of 12 trials of the built-in PPO schema over
// learningRate (a grid of 12 values, best first), two at a time, with the
// median early-stopping rule at every 5 steps: agentd starts each trial
// with its config, prunes the trials whose reward at a rung is below the
// median of those before, stops the rest at maxSteps, and records the
// sweep's progress and best run. The trainer waits to be stopped after its
// last step, so every outcome is read from state. Then a random sweep and
// a TPE one run through their budget, and refusals name the field.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { startApi, api, until, assertError } = require('./lib/api');

const TRAINER = path.resolve(__dirname, '..', 'fixtures', 'sweep-trainer.js');
const quality = (lr) => 1 - Math.abs(Math.log10(lr) + 3) / 3;
let d, wt, tmpl;

test.before(async () => {
  d = await startApi({ args: ['--health-interval-ms', '1000'] });
  const r = await api(d, 'POST', '/api/workspaces', { path: daemon.tmpRepo('agentd-sweep-'), name: 'w' });
  assert.equal(r.status, 201, r.text);
  wt = r.body.worktrees[0].id;
  const a = await api(d, 'POST', '/api/agents', { worktreeId: wt, name: 'trainer', executor: 'command', command: ['node', TRAINER, '20'] });
  assert.equal(a.status, 201, JSON.stringify(a.body));
  tmpl = a.body.id;
});
test.after(() => d.cleanup());

const sweep = async (id) => (await api(d, 'GET', `/api/sweeps/${id}`)).body;
const done = (id, ms = 300000) => until(async () => { const s = await sweep(id); return s.status !== 'running' ? s : null; }, 'the sweep to end', ms);

test('a grid sweep of 12 runs with median early stopping: losers pruned, the best run found', async () => {
  const lrs = [1e-3, 8e-4, 1.2e-3, 5e-4, 2e-3, 1e-4, 5e-3, 5e-5, 1e-5, 8e-3, 1e-6, 1e-2];
  const r = await api(d, 'POST', '/api/sweeps', {
    name: 'lr sweep', agentId: tmpl, schemaId: 'ppo', method: 'grid',
    params: { learningRate: { values: lrs } }, metric: { name: 'reward', goal: 'maximize' },
    parallel: 2, maxSteps: 20, earlyStop: { type: 'median', minSteps: 5 },
  });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.body.spec.budget, 12, 'a grid\'s budget is its size');
  assert.equal(r.body.status, 'running');
  const s = await done(r.body.id);
  assert.equal(s.status, 'done', JSON.stringify(s.state.trials.map((t) => [t.n, t.status, t.error])));
  const trials = s.state.trials;
  assert.equal(trials.length, 12);
  assert.equal(s.state.started, 12);
  trials.forEach((t, i) => {
    assert.equal(t.values.learningRate, lrs[i], 'grid order');
    assert.equal(t.values.gamma, 0.99, 'the other fields at their defaults');
    assert.ok(['completed', 'pruned'].includes(t.status), `${i}: ${t.status} ${t.error || ''}`);
  });
  // the trials clearly worse than the ones before them were pruned at a rung
  for (const t of trials.filter((x) => quality(x.values.learningRate) < 0.8)) {
    assert.equal(t.status, 'pruned', `lr ${t.values.learningRate}`);
    assert.ok(t.lastStep < 19 || t.prunedAt <= 19, 'pruned before its last step');
    assert.equal(t.final, undefined, 'a pruned trial does not rank');
  }
  assert.equal(trials[0].status, 'completed');
  assert.ok(trials.filter((t) => t.status === 'pruned').length >= 7);
  // the best run: lr 1e-3, reward 20 at its last step
  assert.equal(s.state.best.trial, 0);
  assert.equal(s.state.best.value, 20);
  assert.equal(s.state.best.values.learningRate, 1e-3);
  const best = (await api(d, 'GET', `/api/runs/${s.state.best.runId}`)).body;
  assert.equal(best.config.values.learningRate, 1e-3, 'the run was started with its config');
  assert.equal(best.status, 'stopped', 'complete at maxSteps: agentd stopped it');
  // every trial's run has its points and ended
  for (const t of trials) {
    const run = (await api(d, 'GET', `/api/runs/${t.runId}`)).body;
    assert.notEqual(run.status, 'running');
    assert.equal(run.config.values.learningRate, t.values.learningRate);
  }
  assert.deepEqual(s.state.gpus, { available: false, reason: s.state.gpus.reason }, 'no GPU here, and why');
  assert.equal(typeof s.state.gpus.reason, 'string');
});

test('random and TPE sweeps spend their budget within the schema\'s ranges; the same seed draws the same', async () => {
  const mk = (method, seed) => api(d, 'POST', '/api/sweeps', {
    name: `${method} ${seed}`, agentId: tmpl, schemaId: 'ppo', method, seed, budget: 6, parallel: 3,
    params: { learningRate: { min: 1e-5, max: 1e-2 }, epochs: {} }, metric: { name: 'reward' }, maxSteps: 20,
  });
  const a = await mk('random', 7);
  const b = await mk('bayes', 7);
  assert.equal(a.status, 201, JSON.stringify(a.body));
  assert.equal(b.status, 201, b.text);
  const sa = await done(a.body.id);
  const sb = await done(b.body.id);
  for (const s of [sa, sb]) {
    assert.equal(s.status, 'done');
    assert.equal(s.state.trials.length, 6);
    for (const t of s.state.trials) {
      assert.equal(t.status, 'completed', JSON.stringify(t));
      assert.ok(t.values.learningRate >= 1e-5 && t.values.learningRate <= 1e-2);
      assert.ok(Number.isInteger(t.values.epochs) && t.values.epochs >= 1 && t.values.epochs <= 20);
    }
    const finals = s.state.trials.map((t) => t.final);
    assert.equal(s.state.best.value, Math.max(...finals));
  }
  // the first four draws come before TPE has a history: the same seed, the same draws
  assert.deepEqual(sa.state.trials.slice(0, 3).map((t) => t.values.learningRate),
    sb.state.trials.slice(0, 3).map((t) => t.values.learningRate));
});

test('sweeps: refusals name the field; admin to start, another organisation sees none', async () => {
  const base = { name: 'x', agentId: tmpl, schemaId: 'ppo', params: { learningRate: { values: [1e-3] } }, metric: { name: 'reward' } };
  for (const [patch, field] of [
    [{ schemaId: 'nope' }, 'schemaId'], [{ method: 'annealing' }, 'method'], [{ metric: {} }, 'metric.name'],
    [{ metric: { name: 'r', goal: 'up' } }, 'metric.goal'], [{ params: {} }, 'params'],
    [{ params: { bogus: { values: [1] } } }, 'params.bogus'], [{ params: { learningRate: { values: [5] } } }, 'params.learningRate'],
    [{ parallel: 0 }, 'parallel'], [{ budget: 5000 }, 'budget'], [{ earlyStop: { type: 'asha' } }, 'earlyStop.type'],
    [{ color: 'red' }, 'color'], [{ agentId: undefined }, 'agentId'],
  ]) {
    assertError(await api(d, 'POST', '/api/sweeps', { ...base, ...patch }), 422, 'VALIDATION_ERROR', field);
  }
  const w = await api(d, 'POST', '/api/tokens', { name: 'sweep-writer', scope: 'write' });
  assertError(await api(d, 'POST', '/api/sweeps', base, { authorization: `Bearer ${w.body.token}` }), 403, 'FORBIDDEN');
  const org = await api(d, 'POST', '/api/orgs', { name: 'sweeps b' });
  const b = await api(d, 'POST', '/api/tokens', { name: 'b', scope: 'admin', orgId: org.body.id });
  const asB = { authorization: `Bearer ${b.body.token}` };
  assert.deepEqual((await api(d, 'GET', '/api/sweeps', undefined, asB)).body.sweeps, []);
  const mine = (await api(d, 'GET', '/api/sweeps')).body.sweeps[0];
  assert.equal((await api(d, 'GET', `/api/sweeps/${mine.id}`, undefined, asB)).status, 404);
  assert.equal((await api(d, 'POST', '/api/sweeps', base, asB)).status, 404, 'not its agent');
});

test('a restarted daemon carries on: the running trial is taken up again, the next one starts', async () => {
  const gates = daemon.tmpDir('agentd-sweep-gate-');
  const gate = path.join(gates, 'go');
  const dataDir = daemon.tmpDir('agentd-sweep-restart-');
  const args = ['--keep-agents', '--sandbox-paths', `${path.dirname(TRAINER)},${gates}`];
  let e = await startApi({ dataDir, args });
  let id;
  try {
    const w = await api(e, 'POST', '/api/workspaces', { path: daemon.tmpRepo('agentd-sweep-r-'), name: 'w' });
    const a = await api(e, 'POST', '/api/agents', { worktreeId: w.body.worktrees[0].id, executor: 'command',
      command: ['node', TRAINER, '10', gate] });
    const r = await api(e, 'POST', '/api/sweeps', { name: 'restart', agentId: a.body.id, schemaId: 'ppo', method: 'grid',
      params: { learningRate: { values: [1e-3, 1e-4] } }, metric: { name: 'reward' }, parallel: 1, maxSteps: 10 });
    assert.equal(r.status, 201, r.text);
    id = r.body.id;
    await until(async () => {
      const s = (await api(e, 'GET', `/api/sweeps/${id}`)).body;
      return s.state.trials[0]?.status === 'running';
    }, 'the first trial running (at its gate)');
  } finally {
    await e.stop();
  }
  e = await startApi({ dataDir, args });
  try {
    fs.writeFileSync(gate, '');
    const s = await until(async () => {
      const x = (await api(e, 'GET', `/api/sweeps/${id}`)).body;
      return x.status !== 'running' ? x : null;
    }, 'the sweep to end after the restart', 120000);
    assert.equal(s.status, 'done');
    assert.deepEqual(s.state.trials.map((t) => t.status), ['completed', 'completed']);
    assert.equal(s.state.best.trial, 0);
    assert.equal(s.state.best.value, 10);
  } finally {
    await e.cleanup();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(gates, { recursive: true, force: true });
  }
});
