// SPDX-License-Identifier: MIT
// The training workspace's reads (issue #35): a run's commit and its log
// (GET /api/runs/:id/messages); the runs table lists only
// runs with metrics when asked (hasMetrics), by tag and by group, with each
// run's newest point time; the saved panel layout (GET/PUT/DELETE
// /api/training/layout) per workspace: a layout checked field by field
// (a 422 names the field and changes nothing), write scope to save, a
// workspace of another organisation answering as a missing one.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { startWithWorktree, api, until, assertError } = require('./lib/api');

const BOTH = path.resolve(__dirname, '..', 'fixtures', 'train-both.js');

async function ended(d, wt, name, command) {
  const a = await api(d, 'POST', '/api/agents', { worktreeId: wt, name, executor: 'command', command });
  assert.equal(a.status, 201);
  assert.equal((await api(d, 'POST', `/api/agents/${a.body.id}/start`, {})).status, 200);
  return until(async () => {
    const r = (await api(d, 'GET', `/api/agents/${a.body.id}/runs`)).body.runs[0];
    return r && r.status !== 'running' ? r : null;
  }, 'the run to end');
}

test('runs with metrics, by tag and group; the saved layout and its refusals', async () => {
  const { d, wt } = await startWithWorktree();
  try {
    const ws = (await api(d, 'GET', `/api/worktrees/${wt}`)).body.workspaceId;
    const trained = await ended(d, wt, 'trainer', ['node', BOTH, '20']);
    const shell = await ended(d, wt, 'shell', ['sh', '-c', 'echo hi']);
    assert.equal((await api(d, 'PATCH', `/api/runs/${trained.id}`, { tags: ['base', 'x'], group: 'seeds' })).status, 200);

    const ids = async (q) => (await api(d, 'GET', `/api/training/runs?${q}`)).body.runs.map((r) => r.id);
    assert.deepEqual(await until(async () => ((await ids('hasMetrics=true')).length === 1 ? ids('hasMetrics=true') : null), 'the run with metrics'), [
      trained.id,
    ]);
    assert.deepEqual(await ids('hasMetrics=false'), [shell.id]);
    assert.deepEqual((await ids('')).sort(), [trained.id, shell.id].sort());
    assert.deepEqual(await ids('tag=base'), [trained.id]);
    assert.deepEqual(await ids('tag=nope'), []);
    assert.deepEqual(await ids('group=seeds'), [trained.id]);
    const row = (await api(d, 'GET', '/api/training/runs?hasMetrics=true')).body.runs[0];
    assert.match(row.lastMetricAt, /^\d{4}-\d\d-\d\dT/);
    assert.equal((await api(d, 'GET', '/api/training/runs?hasMetrics=false')).body.runs[0].lastMetricAt, null);
    assertError(await api(d, 'GET', '/api/training/runs?hasMetrics=maybe'), 422, 'VALIDATION_ERROR', 'hasMetrics');
    assertError(await api(d, 'GET', `/api/training/runs?tag=${'t'.repeat(65)}`), 422, 'VALIDATION_ERROR', 'tag');
    assertError(await api(d, 'GET', '/api/training/runs?group='), 422, 'VALIDATION_ERROR', 'group');

    // the layout: none saved, then saved per scope and read back
    assert.deepEqual((await api(d, 'GET', '/api/training/layout')).body, { scope: '', layout: null, updatedAt: null });
    const layout = {
      panels: [
        { id: 'p1', title: 'Reward and loss', metrics: ['reward', 'loss'], x: 'relative', smooth: 0.3 },
        { id: 'p2', metrics: ['fps'], runs: [trained.id], log: true },
      ],
    };
    const put = await api(d, 'PUT', `/api/training/layout?workspaceId=${ws}`, layout);
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.scope, ws);
    assert.equal(put.body.orgId, undefined);
    const got = (await api(d, 'GET', `/api/training/layout?workspaceId=${ws}`)).body.layout;
    assert.deepEqual(got.panels[0], {
      id: 'p1',
      title: 'Reward and loss',
      metrics: ['reward', 'loss'],
      runs: null,
      x: 'relative',
      smooth: 0.3,
      log: false,
      group: true,
    });
    assert.deepEqual(got.panels[1].runs, [trained.id]);
    assert.equal((await api(d, 'GET', '/api/training/layout')).body.layout, null, 'another scope keeps its own');

    // refusals name the field and store nothing
    const bad = [
      [{ panels: [{ id: 'a', metrics: [] }] }, 'panels[0].metrics'],
      [{ panels: [{ id: 'a', metrics: ['r'], x: 'epoch' }] }, 'panels[0].x'],
      [{ panels: [{ id: 'a', metrics: ['r'], smooth: 1 }] }, 'panels[0].smooth'],
      [{ panels: [{ id: 'a', metrics: ['r'], runs: ['ag_1'] }] }, 'panels[0].runs[0]'],
      [{ panels: [{ id: 'a', metrics: ['r\n'] }] }, 'panels[0].metrics[0]'],
      [{ panels: [{ id: 'a b', metrics: ['r'] }] }, 'panels[0].id'],
      [
        {
          panels: [
            { id: 'a', metrics: ['r'] },
            { id: 'a', metrics: ['s'] },
          ],
        },
        'panels[1].id',
      ],
      [{ panels: [{ id: 'a', metrics: ['r'], script: 'x' }] }, 'panels[0].script'],
      [{ panels: Array.from({ length: 25 }, (_, i) => ({ id: `p${i}`, metrics: ['r'] })) }, 'panels'],
      [{ panels: [], extra: 1 }, 'extra'],
    ];
    for (const [body, field] of bad) assertError(await api(d, 'PUT', `/api/training/layout?workspaceId=${ws}`, body), 422, 'VALIDATION_ERROR', field);
    assert.equal((await api(d, 'PUT', '/api/training/layout', 'not json')).status, 400);
    assert.deepEqual((await api(d, 'GET', `/api/training/layout?workspaceId=${ws}`)).body.layout, got);

    // who may: a reader reads but does not save; another org sees no workspace
    const rd = await api(d, 'POST', '/api/tokens', { name: 'reader', scope: 'read' });
    const asReader = { authorization: `Bearer ${rd.body.token}` };
    assert.equal((await api(d, 'GET', `/api/training/layout?workspaceId=${ws}`, undefined, asReader)).status, 200);
    assert.equal((await api(d, 'PUT', `/api/training/layout?workspaceId=${ws}`, layout, asReader)).status, 403);
    const org = await api(d, 'POST', '/api/orgs', { name: 'other' });
    const ow = await api(d, 'POST', '/api/tokens', { name: 'other-w', scope: 'write', orgId: org.body.id });
    const asOther = { authorization: `Bearer ${ow.body.token}` };
    assertError(await api(d, 'GET', `/api/training/layout?workspaceId=${ws}`, undefined, asOther), 404, 'NOT_FOUND');
    assertError(await api(d, 'PUT', `/api/training/layout?workspaceId=${ws}`, layout, asOther), 404, 'NOT_FOUND');
    // the other org's own default layout is its own
    assert.equal((await api(d, 'PUT', '/api/training/layout', { panels: [{ id: 'o', metrics: ['m'] }] }, asOther)).status, 200);
    assert.equal((await api(d, 'GET', '/api/training/layout')).body.layout, null);
    assert.deepEqual((await api(d, 'GET', `/api/training/runs?hasMetrics=true`, undefined, asOther)).body.runs, []);

    // the run page's reads: the commit it started from, its messages oldest first
    const full = (await api(d, 'GET', `/api/runs/${trained.id}`)).body;
    assert.match(full.commit.id, /^[0-9a-f]{40}$/);
    assert.deepEqual([full.commit.branch, typeof full.commit.summary], ['main', 'string']);
    const sh = await until(async () => {
      const m = (await api(d, 'GET', `/api/runs/${shell.id}/messages?limit=1`)).body;
      return m.messages.length ? m : null;
    }, 'the shell run\'s log');
    assert.match(sh.messages[0].content, /hi/);
    assert.equal(sh.messages[0].runId, shell.id);
    assertError(await api(d, 'GET', `/api/runs/${shell.id}/messages?after=nope`), 422, 'VALIDATION_ERROR', 'after');
    assertError(await api(d, 'GET', `/api/runs/${shell.id}/messages?limit=0`), 422, 'VALIDATION_ERROR', 'limit');
    assertError(await api(d, 'GET', `/api/runs/${shell.id}/messages`, undefined, asOther), 404, 'NOT_FOUND');
    assertError(await api(d, 'GET', '/api/runs/run_missing/messages'), 404, 'NOT_FOUND');

    // back to the default
    const del = await api(d, 'DELETE', `/api/training/layout?workspaceId=${ws}`);
    assert.equal(del.status, 200);
    assert.equal((await api(d, 'GET', `/api/training/layout?workspaceId=${ws}`)).body.layout, null);
  } catch (e) {
    process.stderr.write(d.stderr.slice(-4000));
    throw e;
  } finally {
    await d.cleanup();
  }
});
