// SPDX-License-Identifier: MIT
// REST: /api/workspaces and /api/worktrees, their errors and their events'
// preconditions (answers come after the commit: a read right after sees it).
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startApi, assertError, makeWorkspace, makeRepoDir, makeAgent } = require('./lib/api');

let d;
before(async () => { d = await startApi(); });
after(async () => { await d.cleanup(); });

test('create, list, get, refresh and delete a workspace', async () => {
  const dir = makeRepoDir(d);
  // A path given with a detour is stored canonical.
  const r = await d.req('POST', '/api/workspaces', { path: `${dir}/../${path.basename(dir)}/`, extra: 1 });
  assert.equal(r.status, 201);
  const ws = r.body;
  assert.match(ws.id, /^ws_[0-9a-z]{26}$/);
  assert.equal(ws.path, fs.realpathSync(dir));
  assert.equal(ws.name, path.basename(dir));
  assert.match(ws.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(ws.worktrees.length, 1);
  const main = ws.worktrees[0];
  assert.equal(main.isMain, true);
  assert.equal(main.path, ws.path);
  assert.equal(main.workspaceId, ws.id);
  assert.equal(main.sortMode, 'free');

  const list = await d.req('GET', '/api/workspaces');
  assert.equal(list.status, 200);
  assert.ok(list.body.workspaces.some((w) => w.id === ws.id));

  const got = await d.req('GET', `/api/workspaces/${ws.id}`);
  assert.equal(got.status, 200);
  assert.equal(got.body.path, ws.path);
  assert.equal(got.body.worktrees[0].id, main.id);

  const named = await makeWorkspace(d, 'My project');
  assert.equal(named.ws.name, 'My project');

  const ref = await d.req('POST', `/api/workspaces/${ws.id}/refresh`);
  assert.equal(ref.status, 200);
  assert.equal(ref.body.id, ws.id);
  assert.ok(ref.body.updatedAt >= ws.updatedAt);

  const agent = await makeAgent(d, main.id);
  const del = await d.req('DELETE', `/api/workspaces/${ws.id}`);
  assert.equal(del.status, 204);
  assertError(await d.req('GET', `/api/workspaces/${ws.id}`), 404, 'NOT_FOUND');
  assertError(await d.req('GET', `/api/worktrees/${main.id}`), 404, 'NOT_FOUND');
  assert.ok(!(await d.req('GET', '/api/workspaces')).body.workspaces.some((w) => w.id === ws.id));
  assert.ok(!(await d.req('GET', '/api/worktrees')).body.worktrees.some((w) => w.id === main.id));
  // Its agents are archived, not deleted; its files stay.
  const archived = await d.req('GET', `/api/agents/${agent.id}`);
  assert.equal(archived.status, 200);
  assert.ok(archived.body.deletedAt, JSON.stringify(archived.body));
  assert.ok(fs.existsSync(path.join(dir, '.git')));
  assertError(await d.req('DELETE', `/api/workspaces/${ws.id}`), 404, 'NOT_FOUND');
  assertError(await d.req('POST', `/api/workspaces/${ws.id}/refresh`), 404, 'NOT_FOUND');
  assertError(await d.req('POST', '/api/worktrees', { workspaceId: ws.id, name: 'x', branch: 'x', createBranch: true }), 404, 'NOT_FOUND');
  assert.equal((await d.req('POST', '/api/agents', { worktreeId: main.id })).status, 404);
  // Added again, it comes back with its worktrees; the agent stays archived.
  const again = await d.req('POST', '/api/workspaces', { path: dir });
  assert.equal(again.status, 201, JSON.stringify(again.body));
  assert.equal(again.body.id, ws.id);
  assert.equal(again.body.worktrees[0].id, main.id);
  assert.ok((await d.req('GET', `/api/agents/${agent.id}`)).body.deletedAt);
});

test('a workspace with a running agent is not removed', async () => {
  const { ws } = await makeWorkspace(d, 'busy');
  const main = ws.worktrees[0];
  const a = await d.req('POST', '/api/agents', { worktreeId: main.id, name: 'sleeper', executor: 'command', command: ['sleep', '30'] });
  assert.equal(a.status, 201, JSON.stringify(a.body));
  assert.equal((await d.req('POST', `/api/agents/${a.body.id}/start`, {})).status, 200);
  const refused = await d.req('DELETE', `/api/workspaces/${ws.id}`);
  assertError(refused, 409, 'CONFLICT');
  assert.deepEqual(refused.body.error.details.agentIds, [a.body.id]);
  assert.equal((await d.req('GET', `/api/workspaces/${ws.id}`)).status, 200);
  assert.equal((await d.req('GET', `/api/agents/${a.body.id}`)).body.deletedAt ?? null, null);
  await d.req('POST', `/api/agents/${a.body.id}/stop?force=true&wait=true`);
});

test('workspace input errors', async () => {
  assertError(await d.req('POST', '/api/workspaces', {}), 422, 'VALIDATION_ERROR', 'path');
  assertError(await d.req('POST', '/api/workspaces', { path: 42 }), 422, 'VALIDATION_ERROR', 'path');
  assertError(await d.req('POST', '/api/workspaces', { path: '/no/such/dir/anywhere' }), 422, 'VALIDATION_ERROR', 'path');
  const file = path.join(d.dataDir, 'plain-file');
  fs.writeFileSync(file, 'x');
  assertError(await d.req('POST', '/api/workspaces', { path: file }), 422, 'VALIDATION_ERROR', 'path');
  assertError(await d.req('POST', '/api/workspaces', { path: 'relative/dir' }), 422, 'VALIDATION_ERROR', 'path');
  const plain = fs.mkdtempSync(path.join(d.dataDir, 'plain-'));
  // A directory that is no git work tree is refused (see git-worktrees.test.js).
  assertError(await d.req('POST', '/api/workspaces', { path: plain }), 422, 'VALIDATION_ERROR', 'path');
  const dir = makeRepoDir(d);
  assertError(await d.req('POST', '/api/workspaces', { path: dir, name: ['x'] }), 422, 'VALIDATION_ERROR', 'name');
  assertError(await d.req('POST', '/api/workspaces', '{"path": '), 400, 'INVALID_JSON');
  assert.equal((await d.req('POST', '/api/workspaces', { path: dir })).status, 201);
  // The same directory again, even spelled differently, is a conflict.
  assertError(await d.req('POST', '/api/workspaces', { path: `${dir}/.` }), 409, 'CONFLICT', 'path');
  assertError(await d.req('GET', '/api/workspaces/ws_nope'), 404, 'NOT_FOUND');
});

test('worktrees: list, get, patch, reorder, delete', async () => {
  const { ws, wt: main } = await makeWorkspace(d);
  const list = await d.req('GET', `/api/worktrees?workspaceId=${ws.id}`);
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.worktrees.map((w) => w.id), [main.id]);
  const all = await d.req('GET', '/api/worktrees');
  assert.ok(all.body.worktrees.some((w) => w.id === main.id));
  assertError(await d.req('GET', '/api/worktrees?workspaceId=ws_nope'), 404, 'NOT_FOUND');

  const p = await d.req('PATCH', `/api/worktrees/${main.id}`, { name: 'trunk', sortMode: 'status', displayOrder: 3, unknown: true });
  assert.equal(p.status, 200);
  assert.equal(p.body.name, 'trunk');
  assert.equal(p.body.sortMode, 'status');
  assert.equal(p.body.displayOrder, 3);
  assert.equal((await d.req('GET', `/api/worktrees/${main.id}`)).body.sortMode, 'status');

  assertError(await d.req('PATCH', `/api/worktrees/${main.id}`, { sortMode: 'random' }), 422, 'VALIDATION_ERROR', 'sortMode');
  assertError(await d.req('PATCH', `/api/worktrees/${main.id}`, { displayOrder: 'first' }), 422, 'VALIDATION_ERROR', 'displayOrder');
  assertError(await d.req('PATCH', `/api/worktrees/${main.id}`, { name: '' }), 422, 'VALIDATION_ERROR', 'name');
  assertError(await d.req('PATCH', `/api/worktrees/${main.id}`, 'nope'), 400, 'INVALID_JSON');
  assertError(await d.req('PATCH', '/api/worktrees/wt_nope', { name: 'x' }), 404, 'NOT_FOUND');
  // Nothing changed by the refused patches.
  assert.equal((await d.req('GET', `/api/worktrees/${main.id}`)).body.sortMode, 'status');

  assertError(await d.req('DELETE', `/api/worktrees/${main.id}`), 409, 'CONFLICT');
  assertError(await d.req('DELETE', '/api/worktrees/wt_nope'), 404, 'NOT_FOUND');
  assertError(await d.req('GET', '/api/worktrees/wt_nope'), 404, 'NOT_FOUND');

  const re = await d.req('POST', '/api/worktrees/reorder', { ids: [main.id] });
  assert.equal(re.status, 200);
  assert.equal(re.body.worktrees[0].displayOrder, 0);
  assertError(await d.req('POST', '/api/worktrees/reorder', { ids: [main.id, 'wt_nope'] }), 404, 'NOT_FOUND');
  // all or nothing: the known id kept its order from the successful call
  assert.equal((await d.req('GET', `/api/worktrees/${main.id}`)).body.displayOrder, 0);
  assertError(await d.req('POST', '/api/worktrees/reorder', {}), 422, 'VALIDATION_ERROR', 'ids');
  assertError(await d.req('POST', '/api/worktrees/reorder', { ids: [1, 2] }), 422, 'VALIDATION_ERROR', 'ids');
});

test('the worktree sortMode orders its agents', async () => {
  const { wt } = await makeWorkspace(d);
  const b = await makeAgent(d, wt.id, { name: 'bravo' });
  const a = await makeAgent(d, wt.id, { name: 'alpha' });
  const c = await makeAgent(d, wt.id, { name: 'charlie' });
  const ids = async () => (await d.req('GET', `/api/agents?worktreeId=${wt.id}`)).body.agents.map((x) => x.id);
  assert.deepEqual(await ids(), [b.id, a.id, c.id]); // free: creation / displayOrder
  await d.req('PATCH', `/api/worktrees/${wt.id}`, { sortMode: 'name' });
  assert.deepEqual(await ids(), [a.id, b.id, c.id]);
  await d.req('PATCH', `/api/worktrees/${wt.id}`, { sortMode: 'free' });
  await d.req('POST', '/api/agents/reorder', { worktreeId: wt.id, ids: [c.id, b.id, a.id] });
  assert.deepEqual(await ids(), [c.id, b.id, a.id]);
});
