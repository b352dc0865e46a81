// SPDX-License-Identifier: MIT
// Run identity (issue #35): every run has a display name (by default the
// agent's name, its config's name and the run's number), a colour, tags,
// notes and a group; PATCH /api/runs/:id edits them (write scope, the run's
// org; bad input a 422 naming the field, nothing changed); the run reads,
// the runs lists, the compare read and the exports carry the name and
// colour.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { startWithWorktree, api, until, assertError } = require('./lib/api');

const TRAIN = path.resolve(__dirname, '..', 'fixtures', 'train-agent.js');

async function run(d, agentId, body = {}) {
  assert.equal((await api(d, 'POST', `/api/agents/${agentId}/start`, body)).status, 200);
  return until(async () => {
    const r = (await api(d, 'GET', `/api/agents/${agentId}/runs`)).body.runs[0];
    if (!r || r.status === 'running') return null;
    const s = (await api(d, 'GET', `/api/runs/${r.id}/metrics`)).body.series.find((x) => x.name === 'return');
    return s && s.count === 50 ? r : null;
  }, 'the run to end with its points', 60000);
}

test('a run\'s name, colour, tags, notes and group: defaults, PATCH, and where they show', async () => {
  const { d, wt } = await startWithWorktree();
  try {
    const cfg = await api(d, 'POST', '/api/configs', { name: 'balanced-lr', schemaId: 'ppo', preset: 'balanced' });
    assert.equal(cfg.status, 201, JSON.stringify(cfg.body));
    const ag = await api(d, 'POST', '/api/agents', { worktreeId: wt, name: 'ppo-trainer', executor: 'command', command: ['node', TRAIN, '50', '-1'] });
    assert.equal(ag.status, 201);
    const r1 = await run(d, ag.body.id, { configId: cfg.body.id });
    const r2 = await run(d, ag.body.id);

    // defaults: the agent's name, the config's name, the run's number
    let g1 = (await api(d, 'GET', `/api/runs/${r1.id}`)).body;
    assert.equal(g1.name, 'ppo-trainer · balanced-lr #1');
    assert.match(g1.color, /^#[0-9a-f]{6}$/);
    assert.deepEqual(g1.tags, []);
    assert.equal(g1.notes, null);
    assert.equal(g1.group, null);
    assert.equal((await api(d, 'GET', `/api/runs/${r2.id}`)).body.name, 'ppo-trainer #2');

    // PATCH: only what it names changes
    const p = await api(d, 'PATCH', `/api/runs/${r1.id}`, { name: 'baseline', color: '#12ABef', tags: ['ppo', 'sweep-1'], notes: 'first try', group: 'sweep-1' });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    assert.deepEqual([p.body.name, p.body.color, p.body.tags, p.body.notes, p.body.group], ['baseline', '#12ABef', ['ppo', 'sweep-1'], 'first try', 'sweep-1']);
    const p2 = await api(d, 'PATCH', `/api/runs/${r1.id}`, { notes: 'second look' });
    assert.equal(p2.body.name, 'baseline');
    assert.equal(p2.body.notes, 'second look');
    assert.deepEqual(p2.body.tags, ['ppo', 'sweep-1']);

    // bad input: a 422 naming the field, nothing stored
    const bad = [
      [{ color: 'red' }, 'color'], [{ color: '#12345' }, 'color'], [{ tags: [1] }, 'tags'], [{ tags: [''] }, 'tags'],
      [{ tags: Array.from({ length: 33 }, (_, i) => `t${i}`) }, 'tags'], [{ name: '' }, 'name'], [{ name: 'x'.repeat(201) }, 'name'],
      [{ name: 7 }, 'name'], [{ notes: 'n'.repeat(16385) }, 'notes'], [{ group: '' }, 'group'], [{ status: 'failed' }, 'status'],
    ];
    for (const [body, field] of bad) assertError(await api(d, 'PATCH', `/api/runs/${r1.id}`, body), 422, 'VALIDATION_ERROR', field);
    assert.equal((await api(d, 'PATCH', `/api/runs/${r1.id}`, 'not json')).status, 400);
    assertError(await api(d, 'PATCH', '/api/runs/run_missing', { name: 'x' }), 404, 'NOT_FOUND');
    g1 = (await api(d, 'GET', `/api/runs/${r1.id}`)).body;
    assert.deepEqual([g1.name, g1.color, g1.notes, g1.status], ['baseline', '#12ABef', 'second look', r1.status]);

    // scope: a read token may not; another org's writer cannot see it
    const rd = await api(d, 'POST', '/api/tokens', { name: 'reader', scope: 'read' });
    assert.equal(rd.status, 201, JSON.stringify(rd.body));
    const asReader = await api(d, 'PATCH', `/api/runs/${r1.id}`, { name: 'nope' }, { authorization: `Bearer ${rd.body.token}` });
    assert.equal(asReader.status, 403);
    const org = await api(d, 'POST', '/api/orgs', { name: 'other' });
    const ow = await api(d, 'POST', '/api/tokens', { name: 'other-w', scope: 'write', orgId: org.body.id });
    assert.equal(ow.status, 201, JSON.stringify(ow.body));
    const asOther = await api(d, 'PATCH', `/api/runs/${r1.id}`, { name: 'nope' }, { authorization: `Bearer ${ow.body.token}` });
    assert.equal(asOther.status, 404);
    assert.equal((await api(d, 'GET', `/api/runs/${r1.id}`)).body.name, 'baseline');

    // where they show: runs lists, the runs table, compare, exports
    const list = (await api(d, 'GET', `/api/runs?agentId=${ag.body.id}`)).body.runs;
    assert.deepEqual(list.map((r) => r.name), ['ppo-trainer #2', 'baseline']);
    assert.deepEqual(list[1].tags, ['ppo', 'sweep-1']);
    const table = (await api(d, 'GET', `/api/training/runs?agentId=${ag.body.id}&metrics=return`)).body.runs;
    assert.deepEqual(table.map((r) => [r.name, r.color, r.group]).sort(), [['baseline', '#12ABef', 'sweep-1'], ['ppo-trainer #2', (await api(d, 'GET', `/api/runs/${r2.id}`)).body.color, null]]);
    const cmp = await api(d, 'GET', `/api/metrics/compare?runs=${r1.id},${r2.id}&name=return&buckets=10`);
    assert.equal(cmp.status, 200);
    assert.deepEqual(cmp.body.runs.map((r) => [r.runId, r.name]), [[r1.id, 'baseline'], [r2.id, 'ppo-trainer #2']]);
    assert.equal(cmp.body.runs[0].color, '#12ABef');
    const one = await api(d, 'GET', `/api/runs/${r1.id}/metrics/return?buckets=5`);
    assert.deepEqual([one.body.name, one.body.runName, one.body.runColor], ['return', 'baseline', '#12ABef']);
    const csv = await api(d, 'GET', `/api/metrics/compare/export?runs=${r1.id},${r2.id}&names=return&format=csv`);
    const lines = csv.text.trimEnd().split('\n');
    assert.equal(lines[0], 'run_id,name,step,time_ms,value,run_name,run_color');
    assert.equal(lines.length - 1, 100);
    assert.ok(lines[1].startsWith(`${r1.id},"return",0,`) && lines[1].endsWith(',"baseline",#12ABef'), lines[1]);
    assert.ok(lines[100].endsWith(',"ppo-trainer #2",' + cmp.body.runs[1].color), lines[100]);
    const jl = await api(d, 'GET', `/api/runs/${r1.id}/metrics/export?format=jsonl&names=return`);
    const row = JSON.parse(jl.text.split('\n')[0]);
    assert.deepEqual([row.runName, row.runColor], ['baseline', '#12ABef']);

    // null puts a field back to its default
    const back = await api(d, 'PATCH', `/api/runs/${r1.id}`, { name: null, color: null, tags: null, group: null });
    assert.equal(back.status, 200);
    assert.deepEqual([back.body.name, back.body.tags, back.body.group], ['ppo-trainer · balanced-lr #1', [], null]);
    assert.match(back.body.color, /^#[0-9a-f]{6}$/);
  } catch (e) {
    process.stderr.write(d.stderr.slice(-4000));
    throw e;
  } finally {
    await d.cleanup();
  }
});
