// SPDX-License-Identifier: MIT
// The MLflow-compatible tracking surface (issue #35), spoken as MLflow's
// Python client speaks it (its client is not installable here, so the test
// sends its wire format): set_experiment (get-by-name, then create), start_run
// (runs/create), log_metrics/log_params/set_tags (log-batch, with a bare NaN
// as Python's json writes it), log_param, end_run (runs/update), get_run;
// errors in MLflow's {error_code, message} shape; bearer tokens as every route.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const daemon = require('./lib/daemon');
const { startApi, api, until } = require('./lib/api');

let d, ws;
const M = '/api/2.0/mlflow';

test.before(async () => {
  d = await startApi();
  const r = await api(d, 'POST', '/api/workspaces', { path: daemon.tmpRepo('agentd-mlflow-'), name: 'w' });
  assert.equal(r.status, 201, r.text);
  ws = r.body;
});
test.after(() => d.cleanup());

function mlErr(r, status, code) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.body.error_code, code, r.text);
  assert.equal(typeof r.body.message, 'string');
}

test('an MLflow client logs a run: experiment, run, batches, params, tags, end; every value read back', async () => {
  mlErr(await api(d, 'GET', `${M}/experiments/get-by-name?experiment_name=cartpole`), 404, 'RESOURCE_DOES_NOT_EXIST');
  const c = await api(d, 'POST', `${M}/experiments/create`, { name: 'cartpole' });
  assert.equal(c.status, 200, c.text);
  const expId = c.body.experiment_id;
  mlErr(await api(d, 'POST', `${M}/experiments/create`, { name: 'cartpole' }), 400, 'RESOURCE_ALREADY_EXISTS');
  const g = await api(d, 'GET', `${M}/experiments/get-by-name?experiment_name=cartpole`);
  assert.equal(g.status, 200);
  assert.equal(g.body.experiment.experiment_id, expId);
  assert.equal(g.body.experiment.name, 'cartpole');
  assert.equal(g.body.experiment.lifecycle_stage, 'active');
  assert.equal((await api(d, 'GET', `${M}/experiments/get?experiment_id=${expId}`)).body.experiment.name, 'cartpole');
  // the experiment is an agent of the organisation's workspace
  assert.equal((await api(d, 'GET', `/api/agents/${expId}`)).body.name, 'cartpole');

  const start = 1700000000000;
  const cr = await api(d, 'POST', `${M}/runs/create`, { experiment_id: expId, start_time: start,
    tags: [{ key: 'mlflow.runName', value: 'sunny-cat-7' }, { key: 'mlflow.user', value: 'ada' }] });
  assert.equal(cr.status, 200, cr.text);
  const info = cr.body.run.info;
  assert.equal(info.status, 'RUNNING');
  assert.equal(info.run_name, 'sunny-cat-7');
  assert.equal(info.experiment_id, expId);
  assert.equal(info.start_time, start);
  assert.equal(info.run_id, info.run_uuid);
  const runId = info.run_id;

  // log_metrics + log_params + set_tags: one log-batch of 300 metrics, as
  // Python's json.dumps writes it (a NaN as a bare token)
  const metrics = [];
  for (let s = 0; s < 100; s++) {
    metrics.push({ key: 'loss', value: 1 / (s + 1), timestamp: start + s * 10, step: s });
    metrics.push({ key: 'reward', value: s * 0.5, timestamp: start + s * 10, step: s });
    metrics.push({ key: 'eval/acc', value: s / 100, timestamp: start + s * 10, step: s });
  }
  const rule = await api(d, 'POST', '/api/alert-rules', { name: 'nan grad', kind: 'nan', series: 'grad_norm', runId });
  assert.equal(rule.status, 201, rule.text);
  let body = JSON.stringify({ run_id: runId, metrics, params: [{ key: 'lr', value: '0.001' }, { key: 'batch_size', value: '64' }],
    tags: [{ key: 'stage', value: 'pretrain' }] });
  body = body.replace('"metrics":[', '"metrics":[{"key":"grad_norm","value":NaN,"timestamp":1700000000000,"step":0},');
  let r = await api(d, 'POST', `${M}/runs/log-batch`, body);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body, {});
  r = await api(d, 'POST', `${M}/runs/log-metric`, { run_id: runId, key: 'loss', value: 0.001, timestamp: start + 5000, step: 100 });
  assert.equal(r.status, 200, r.text);
  // a param keeps its value; logging the same one again is fine
  mlErr(await api(d, 'POST', `${M}/runs/log-parameter`, { run_id: runId, key: 'lr', value: '0.1' }), 400, 'INVALID_PARAMETER_VALUE');
  assert.equal((await api(d, 'POST', `${M}/runs/log-parameter`, { run_id: runId, key: 'lr', value: '0.001' })).status, 200);
  assert.equal((await api(d, 'POST', `${M}/runs/log-parameter`, { run_id: runId, key: 'optimizer', value: 'adam' })).status, 200);
  assert.equal((await api(d, 'POST', `${M}/runs/set-tag`, { run_id: runId, key: 'note', value: 'warm start' })).status, 200);

  const got = await api(d, 'GET', `${M}/runs/get?run_id=${runId}`);
  assert.equal(got.status, 200, got.text);
  const byKey = (list) => Object.fromEntries(list.map((x) => [x.key, x]));
  const m = byKey(got.body.run.data.metrics);
  assert.deepEqual(Object.keys(m).sort(), ['eval/acc', 'loss', 'reward'], 'the NaN is not stored');
  assert.deepEqual([m.loss.value, m.loss.step, m.loss.timestamp], [0.001, 100, start + 5000]);
  assert.deepEqual([m.reward.value, m.reward.step], [49.5, 99]);
  assert.deepEqual(byKey(got.body.run.data.params), { lr: { key: 'lr', value: '0.001' }, batch_size: { key: 'batch_size', value: '64' },
    optimizer: { key: 'optimizer', value: 'adam' } });
  const tags = byKey(got.body.run.data.tags);
  assert.equal(tags.stage.value, 'pretrain');
  assert.equal(tags['mlflow.user'].value, 'ada');
  assert.equal(tags.note.value, 'warm start');
  // every value, through agentd's own export
  const ex = await api(d, 'GET', `/api/runs/${runId}/metrics/export?format=jsonl&names=reward`);
  const rows = ex.text.trimEnd().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((p) => [p.step, p.value, p.ts]), Array.from({ length: 100 }, (_, s) => [s, s * 0.5, start + s * 10]));
  assert.equal((await api(d, 'GET', `/api/runs/${runId}/metrics/loss?buckets=1`)).body.points, 101);
  // the NaN reached the alert rule
  const f = await until(async () => (await api(d, 'GET', `/api/runs/${runId}/alerts`)).body.firings[0], 'the NaN firing');
  assert.equal(f.kind, 'nan');
  assert.equal(f.series, 'grad_norm');

  // end_run
  const up = await api(d, 'POST', `${M}/runs/update`, { run_id: runId, status: 'FINISHED', end_time: start + 60000 });
  assert.equal(up.status, 200, up.text);
  assert.equal(up.body.run_info.status, 'FINISHED');
  assert.equal(up.body.run_info.end_time, start + 60000);
  const run = (await api(d, 'GET', `/api/runs/${runId}`)).body;
  assert.equal(run.status, 'succeeded');
  assert.equal(run.name, 'sunny-cat-7');
  assert.equal(run.durationMs, 60000);
  assert.deepEqual(run.config.values, { lr: '0.001', batch_size: '64', optimizer: 'adam' });
});

test('the default experiment "0" is made on first use; MLflow\'s limits and errors', async () => {
  const cr = await api(d, 'POST', `${M}/runs/create`, { start_time: Date.now() });
  assert.equal(cr.status, 200, cr.text);
  const runId = cr.body.run.info.run_id;
  const exp = (await api(d, 'GET', `${M}/experiments/get-by-name?experiment_name=Default`)).body.experiment;
  assert.equal(cr.body.run.info.experiment_id, exp.experiment_id);
  assert.equal((await api(d, 'GET', `${M}/experiments/get?experiment_id=0`)).body.experiment.name, 'Default');
  const many = Array.from({ length: 1001 }, (_, i) => ({ key: 'x', value: i, timestamp: 1, step: i }));
  mlErr(await api(d, 'POST', `${M}/runs/log-batch`, { run_id: runId, metrics: many }), 400, 'INVALID_PARAMETER_VALUE');
  mlErr(await api(d, 'POST', `${M}/runs/log-batch`, { run_id: runId, metrics: [{ key: 'x', value: 1 }] }), 400, 'INVALID_PARAMETER_VALUE');
  mlErr(await api(d, 'POST', `${M}/runs/log-batch`, { run_id: runId, metrics: [{ key: 'bad key!', value: 1, timestamp: 1 }] }), 400, 'INVALID_PARAMETER_VALUE');
  mlErr(await api(d, 'POST', `${M}/runs/log-batch`, { run_id: 'run_nope', metrics: [] }), 404, 'RESOURCE_DOES_NOT_EXIST');
  mlErr(await api(d, 'POST', `${M}/runs/log-batch`, '{"run_id": '), 400, 'MALFORMED_REQUEST');
  mlErr(await api(d, 'POST', `${M}/runs/update`, { run_id: runId, status: 'DONE' }), 400, 'INVALID_PARAMETER_VALUE');
  mlErr(await api(d, 'POST', `${M}/experiments/create`, {}), 400, 'INVALID_PARAMETER_VALUE');
  mlErr(await api(d, 'POST', `${M}/runs/create`, { experiment_id: 'ag_nope' }), 404, 'RESOURCE_DOES_NOT_EXIST');
  assert.equal((await api(d, 'GET', `${M}/runs/get?run_id=${runId}`)).body.run.data.metrics.length, 0, 'nothing of the refused batches');
  // a run agentd started is not an MLflow run
  const a = await api(d, 'POST', '/api/agents', { worktreeId: ws.worktrees[0].id, executor: 'command', command: ['true'] });
  const t = await api(d, 'POST', '/test/runs', { agentId: a.body.id, status: 'succeeded' });
  const own = (t.body.run || t.body).id;
  mlErr(await api(d, 'POST', `${M}/runs/log-batch`, { run_id: own, metrics: [] }), 400, 'INVALID_PARAMETER_VALUE');
});

test('tokens as every route: none is refused, read cannot log, another organisation sees nothing', async () => {
  const cr = await api(d, 'POST', `${M}/runs/create`, { experiment_id: '0' });
  const runId = cr.body.run.info.run_id;
  const none = await fetch(`${d.url}${M}/runs/get?run_id=${runId}`);
  assert.equal(none.status, 401);
  const rd = await api(d, 'POST', '/api/tokens', { name: 'ml-reader', scope: 'read' });
  const asR = { authorization: `Bearer ${rd.body.token}` };
  assert.equal((await api(d, 'GET', `${M}/runs/get?run_id=${runId}`, undefined, asR)).status, 200);
  assert.equal((await api(d, 'POST', `${M}/runs/log-batch`, { run_id: runId, metrics: [] }, asR)).status, 403);
  const org = await api(d, 'POST', '/api/orgs', { name: 'mlflow b' });
  const b = await api(d, 'POST', '/api/tokens', { name: 'b', scope: 'write', orgId: org.body.id });
  const asB = { authorization: `Bearer ${b.body.token}` };
  mlErr(await api(d, 'GET', `${M}/runs/get?run_id=${runId}`, undefined, asB), 404, 'RESOURCE_DOES_NOT_EXIST');
  mlErr(await api(d, 'POST', `${M}/runs/log-batch`, { run_id: runId, metrics: [] }, asB), 404, 'RESOURCE_DOES_NOT_EXIST');
  mlErr(await api(d, 'GET', `${M}/experiments/get-by-name?experiment_name=Default`, undefined, asB), 404, 'RESOURCE_DOES_NOT_EXIST');
  // org B has no workspace: agentd makes one for its experiments (below)
});

test('a fresh organisation with no workspace: MLflow code logs at once, agentd makes the workspace it needs', async () => {
  const org = await api(d, 'POST', '/api/orgs', { name: 'mlflow fresh' });
  const t = await api(d, 'POST', '/api/tokens', { name: 'fresh', scope: 'write', orgId: org.body.id });
  const as = { authorization: `Bearer ${t.body.token}` };
  assert.deepEqual((await api(d, 'GET', '/api/workspaces', undefined, as)).body.workspaces, []);
  // mlflow.start_run() with no experiment set: the default experiment, on first use
  const cr = await api(d, 'POST', `${M}/runs/create`, { start_time: Date.now() }, as);
  assert.equal(cr.status, 200, cr.text);
  const c = await api(d, 'POST', `${M}/experiments/create`, { name: 'fresh-exp' }, as);
  assert.equal(c.status, 200, c.text);
  const wss = (await api(d, 'GET', '/api/workspaces', undefined, as)).body.workspaces;
  assert.equal(wss.length, 1, 'one workspace for both experiments');
  assert.equal(wss[0].name, 'Experiments');
  const exp = (await api(d, 'GET', `/api/agents/${c.body.experiment_id}`, undefined, as)).body;
  const def = (await api(d, 'GET', `/api/agents/${cr.body.run.info.experiment_id}`, undefined, as)).body;
  assert.equal(exp.worktreeId, def.worktreeId);
  // its worktree is a repository git can read (the dashboard's worktree page asks)
  const st = await api(d, 'GET', `/api/worktrees/${exp.worktreeId}/status`, undefined, as);
  assert.equal(st.status, 200, st.text);
  // the organisation's own
  assert.equal(wss[0].orgId, org.body.id);
});

test('reading back as MLflow\'s client and UI do: experiments/search, runs/search, metrics/get-history, runs/get', async () => {
  const org = await api(d, 'POST', '/api/orgs', { name: 'mlflow reader' });
  const t = await api(d, 'POST', '/api/tokens', { name: 'reader', scope: 'write', orgId: org.body.id });
  const as = { authorization: `Bearer ${t.body.token}` };
  const e1 = (await api(d, 'POST', `${M}/experiments/create`, { name: 'e1' }, as)).body.experiment_id;
  const e2 = (await api(d, 'POST', `${M}/experiments/create`, { name: 'e2' }, as)).body.experiment_id;
  const runs = [];
  for (let i = 0; i < 3; i++) {
    const cr = await api(d, 'POST', `${M}/runs/create`, { experiment_id: i < 2 ? e1 : e2, start_time: 1700000000000 + i * 1000,
      run_name: `r${i}` }, as);
    assert.equal(cr.status, 200, cr.text);
    runs.push(cr.body.run.info.run_id);
  }
  // 3000 points of one metric: more than a page of the store's export
  const start = 1700000000000;
  for (let b = 0; b < 4; b++) {
    const metrics = Array.from({ length: 750 }, (_, k) => ({ key: 'loss', value: 1 / (b * 750 + k + 1), timestamp: start + b * 750 + k,
      step: b * 750 + k }));
    if (b < 3) metrics.push({ key: 'acc', value: b / 10, timestamp: start + b, step: b });
    const r = await api(d, 'POST', `${M}/runs/log-batch`, { run_id: runs[0], metrics, params: b ? [] : [{ key: 'lr', value: '0.01' }] }, as);
    assert.equal(r.status, 200, r.text);
  }

  const es = await api(d, 'POST', `${M}/experiments/search`, { max_results: 1000 }, as);
  assert.equal(es.status, 200, es.text);
  assert.deepEqual(es.body.experiments.map((x) => x.name).sort(), ['e1', 'e2']);
  for (const x of es.body.experiments) {
    assert.deepEqual(Object.keys(x).sort(), ['artifact_location', 'creation_time', 'experiment_id', 'last_update_time', 'lifecycle_stage', 'name', 'tags']);
  }
  const p1 = await api(d, 'POST', `${M}/experiments/search`, { max_results: 1 }, as);
  assert.equal(p1.body.experiments.length, 1);
  const p2 = await api(d, 'POST', `${M}/experiments/search`, { max_results: 1, page_token: p1.body.next_page_token }, as);
  assert.equal(p2.body.experiments.length, 1);
  assert.equal(p2.body.next_page_token, undefined);
  assert.notEqual(p1.body.experiments[0].experiment_id, p2.body.experiments[0].experiment_id);

  const rs = await api(d, 'POST', `${M}/runs/search`, { experiment_ids: [e1], filter: '', max_results: 1000,
    order_by: ['attributes.start_time DESC'] }, as);
  assert.equal(rs.status, 200, rs.text);
  assert.deepEqual(rs.body.runs.map((r) => r.info.run_name), ['r1', 'r0'], 'e1\'s runs, newest first');
  const r0 = rs.body.runs[1];
  assert.equal(r0.info.experiment_id, e1);
  assert.deepEqual(r0.data.params, [{ key: 'lr', value: '0.01' }]);
  const latest = Object.fromEntries(r0.data.metrics.map((m) => [m.key, m]));
  assert.deepEqual([latest.loss.value, latest.loss.step], [1 / 3000, 2999]);
  assert.equal((await api(d, 'POST', `${M}/runs/search`, { experiment_ids: [e1, e2] }, as)).body.runs.length, 3);
  const rp = await api(d, 'POST', `${M}/runs/search`, { experiment_ids: [e1, e2], max_results: 2 }, as);
  assert.equal(rp.body.runs.length, 2);
  assert.equal((await api(d, 'POST', `${M}/runs/search`, { experiment_ids: [e1, e2], page_token: rp.body.next_page_token }, as)).body.runs[0].info.run_name, 'r0');
  // one column of order, either way
  const asc = await api(d, 'POST', `${M}/runs/search`, { experiment_ids: [e1, e2], order_by: ['start_time ASC'] }, as);
  assert.deepEqual(asc.body.runs.map((r) => r.info.run_name), ['r0', 'r1', 'r2']);
  const byName = await api(d, 'POST', `${M}/experiments/search`, { order_by: ['name DESC'] }, as);
  assert.deepEqual(byName.body.experiments.map((x) => x.name), ['e2', 'e1']);
  const made = await api(d, 'POST', `${M}/experiments/search`, { order_by: ['attributes.creation_time ASC'] }, as);
  assert.deepEqual(made.body.experiments.map((x) => x.name), ['e1', 'e2']);
  // what agentd cannot evaluate is refused, not ignored
  mlErr(await api(d, 'POST', `${M}/runs/search`, { experiment_ids: [e1], filter: 'metrics.loss < 1' }, as), 400, 'INVALID_PARAMETER_VALUE');
  mlErr(await api(d, 'POST', `${M}/runs/search`, { experiment_ids: [e1], order_by: ['metrics.loss'] }, as), 400, 'INVALID_PARAMETER_VALUE');
  mlErr(await api(d, 'POST', `${M}/runs/search`, { experiment_ids: [e1], order_by: ['start_time SIDEWAYS'] }, as), 400, 'INVALID_PARAMETER_VALUE');
  mlErr(await api(d, 'POST', `${M}/experiments/search`, { order_by: ['start_time'] }, as), 400, 'INVALID_PARAMETER_VALUE');
  mlErr(await api(d, 'POST', `${M}/runs/search`, { max_results: 0 }, as), 400, 'INVALID_PARAMETER_VALUE');

  // the whole history, in order, in MLflow's Metric shape
  const h = await api(d, 'GET', `${M}/metrics/get-history?run_id=${runs[0]}&metric_key=loss`, undefined, as);
  assert.equal(h.status, 200, h.text);
  assert.equal(h.body.metrics.length, 3000);
  assert.deepEqual(h.body.metrics[0], { key: 'loss', value: 1, timestamp: start, step: 0 });
  assert.deepEqual(h.body.metrics.map((m) => m.step), Array.from({ length: 3000 }, (_, i) => i));
  assert.equal(h.body.metrics[2999].timestamp, start + 2999);
  const hp = await api(d, 'GET', `${M}/metrics/get-history?run_id=${runs[0]}&metric_key=loss&max_results=1000&page_token=2500`, undefined, as);
  assert.deepEqual(hp.body.metrics.map((m) => m.step), Array.from({ length: 500 }, (_, i) => 2500 + i));
  assert.equal(hp.body.next_page_token, undefined);
  const hq = await api(d, 'GET', `${M}/metrics/get-history?run_id=${runs[0]}&metric_key=loss&max_results=10`, undefined, as);
  assert.equal(hq.body.next_page_token, '10');
  assert.deepEqual((await api(d, 'GET', `${M}/metrics/get-history?run_id=${runs[0]}&metric_key=acc`, undefined, as)).body.metrics.map((m) => m.value), [0, 0.1, 0.2]);
  assert.deepEqual((await api(d, 'GET', `${M}/metrics/get-history?run_id=${runs[1]}&metric_key=loss`, undefined, as)).body.metrics, []);
  mlErr(await api(d, 'GET', `${M}/metrics/get-history?run_id=${runs[0]}`, undefined, as), 400, 'INVALID_PARAMETER_VALUE');
  const o2 = await api(d, 'POST', '/api/orgs', { name: 'mlflow other' });
  const t2 = await api(d, 'POST', '/api/tokens', { name: 'other', scope: 'read', orgId: o2.body.id });
  const other = { authorization: `Bearer ${t2.body.token}` };
  mlErr(await api(d, 'GET', `${M}/metrics/get-history?run_id=${runs[0]}&metric_key=loss`, undefined, other), 404, 'RESOURCE_DOES_NOT_EXIST');
  assert.deepEqual((await api(d, 'POST', `${M}/runs/search`, { experiment_ids: [e1] }, other)).body.runs, []);
  assert.deepEqual((await api(d, 'POST', `${M}/experiments/search`, {}, other)).body.experiments, []);
  // runs/get: each metric's latest over its whole history
  const g = await api(d, 'GET', `${M}/runs/get?run_id=${runs[0]}`, undefined, as);
  const gm = Object.fromEntries(g.body.run.data.metrics.map((m) => [m.key, m]));
  assert.deepEqual(gm.loss, { key: 'loss', value: 1 / 3000, timestamp: start + 2999, step: 2999 });
});
