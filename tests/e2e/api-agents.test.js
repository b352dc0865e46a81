// SPDX-License-Identifier: MIT
// REST: /api/agents: the exact agent object, defaults, filters, update,
// archive/delete/restore, fork, reorder, and every input error.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startApi, assertError, makeWorkspace, makeAgent } = require('./lib/api');

let d;
before(async () => { d = await startApi(); });
after(async () => { await d.cleanup(); });

const FIELDS = ['id', 'worktreeId', 'name', 'status', 'contextLevel', 'mode', 'permissions',
  'displayOrder', 'pid', 'sessionId', 'createdAt', 'updatedAt', 'startedAt', 'stoppedAt',
  'deletedAt', 'parentAgentId', 'executor', 'crewId', 'state', 'orgId',
  // what its runs cost so far (issue #14)
  'costUsd', 'totalTokens',
  // why it has its status (issue #33): null until it first changes
  'statusReason'];

async function makeCrew(name) {
  const r = await d.req('POST', '/api/crews', { name });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.id || r.body.crew.id;
}

test('create with defaults returns exactly the agent fields', async () => {
  const { wt } = await makeWorkspace(d);
  const a = await makeAgent(d, wt.id, { ignoredField: 'x' });
  for (const k of Object.keys(a)) assert.ok(FIELDS.includes(k), `unexpected field ${k}`);
  assert.match(a.id, /^ag_[0-9a-z]{26}$/);
  assert.equal(a.statusReason, null);
  assert.equal(a.worktreeId, wt.id);
  assert.match(a.name, /^Agent \d\d:\d\d$/);
  assert.equal(a.mode, 'regular');
  assert.deepEqual(a.permissions, ['read']);
  assert.equal(a.executor, 'claude');
  assert.equal(a.status, 'idle'); // it never ran
  assert.equal(a.contextLevel, 0);
  assert.equal(a.displayOrder, 0);
  assert.equal(a.crewId, null);
  assert.equal(a.state, null);
  assert.equal(a.deletedAt, undefined);
  assert.equal(a.ignoredField, undefined);
  assert.equal(a.costUsd, 0);
  assert.equal(a.totalTokens, 0);

  assert.equal(a.orgId, 'org_default');
  const crew = await makeCrew('builders');
  // A crew must exist (in the agent's organisation).
  assertError(await d.req('POST', '/api/agents', { worktreeId: wt.id, crewId: 'cr_nope' }), 422, 'VALIDATION_ERROR', 'crewId');
  const b = await makeAgent(d, wt.id, { name: 'Builder', mode: 'plan', permissions: ['read', 'write'], executor: 'codex', crewId: crew });
  assert.equal(b.name, 'Builder');
  assert.equal(b.mode, 'plan');
  assert.deepEqual(b.permissions, ['read', 'write']);
  assert.equal(b.executor, 'codex');
  assert.equal(b.crewId, crew);
  assert.equal(b.displayOrder, 1);

  const got = await d.req('GET', `/api/agents/${b.id}`);
  assert.equal(got.status, 200);
  // GET adds the sandbox the agent would run in (its own policy over its
  // workspace's over the default), which the create answer does not work out
  const { sandboxEffective, ...rest } = got.body;
  assert.deepEqual(sandboxEffective, { network: 'on', paths: [], from: { network: 'default', paths: 'default' } });
  assert.deepEqual(rest, b);
});

test('create errors name the field and write nothing', async () => {
  const { wt } = await makeWorkspace(d);
  const before = (await d.req('GET', `/api/agents?worktreeId=${wt.id}`)).body.agents.length;
  assertError(await d.req('POST', '/api/agents', {}), 422, 'VALIDATION_ERROR', 'worktreeId');
  assertError(await d.req('POST', '/api/agents', { worktreeId: 7 }), 422, 'VALIDATION_ERROR', 'worktreeId');
  assertError(await d.req('POST', '/api/agents', { worktreeId: wt.id, name: 5 }), 422, 'VALIDATION_ERROR', 'name');
  assertError(await d.req('POST', '/api/agents', { worktreeId: wt.id, mode: 'yolo' }), 422, 'VALIDATION_ERROR', 'mode');
  assertError(await d.req('POST', '/api/agents', { worktreeId: wt.id, permissions: 'read' }), 422, 'VALIDATION_ERROR', 'permissions');
  assertError(await d.req('POST', '/api/agents', { worktreeId: wt.id, permissions: [1] }), 422, 'VALIDATION_ERROR', 'permissions');
  assertError(await d.req('POST', '/api/agents', { worktreeId: wt.id, executor: 'vim' }), 422, 'VALIDATION_ERROR', 'executor');
  assertError(await d.req('POST', '/api/agents', { worktreeId: wt.id, crewId: 3 }), 422, 'VALIDATION_ERROR', 'crewId');
  assertError(await d.req('POST', '/api/agents', '{"worktreeId":'), 400, 'INVALID_JSON');
  assertError(await d.req('POST', '/api/agents', '[1,2]'), 400, 'INVALID_JSON');
  assertError(await d.req('POST', '/api/agents', { worktreeId: 'wt_nope' }), 404, 'NOT_FOUND');
  const after = (await d.req('GET', `/api/agents?worktreeId=${wt.id}`)).body.agents.length;
  assert.equal(after, before);
});

test('list filters: worktree, status, includeDeleted', async () => {
  const { wt } = await makeWorkspace(d);
  const { wt: other } = await makeWorkspace(d);
  const a = await makeAgent(d, wt.id);
  const b = await makeAgent(d, wt.id);
  const c = await makeAgent(d, other.id);
  const ids = async (q) => (await d.req('GET', `/api/agents${q}`)).body.agents.map((x) => x.id);
  assert.deepEqual(await ids(`?worktreeId=${wt.id}`), [a.id, b.id]);
  assert.ok((await ids('')).includes(c.id));
  assert.deepEqual(await ids(`?worktreeId=${wt.id}&status=running`), []);
  assert.deepEqual(await ids(`?worktreeId=${wt.id}&status=idle`), [a.id, b.id]);
  assert.equal((await d.req('DELETE', `/api/agents/${a.id}`)).status, 200);
  assert.deepEqual(await ids(`?worktreeId=${wt.id}`), [b.id]);
  assert.deepEqual(await ids(`?worktreeId=${wt.id}&includeDeleted=true`), [a.id, b.id]);
  assertError(await d.req('GET', '/api/agents?status=sleepy'), 422, 'VALIDATION_ERROR', 'status');
  assertError(await d.req('GET', '/api/agents?includeDeleted=maybe'), 422, 'VALIDATION_ERROR', 'includeDeleted');
  assertError(await d.req('GET', '/api/agents?worktreeId=wt_nope'), 404, 'NOT_FOUND');
  assertError(await d.req('GET', '/api/agents/ag_nope'), 404, 'NOT_FOUND');
});

test('the list of every agent pages by limit and cursor, each row as the whole list has it', async () => {
  const { wt } = await makeWorkspace(d);
  for (let i = 0; i < 5; i++) await makeAgent(d, wt.id);
  const all = (await d.req('GET', '/api/agents')).body;
  assert.equal(all.nextCursor, undefined); // the unpaged answer is as it was
  const seen = [];
  let cursor = '';
  for (let pages = 0; pages < 100; pages++) {
    const r = await d.req('GET', `/api/agents?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(r.status, 200);
    assert.ok(r.body.agents.length <= 2);
    seen.push(...r.body.agents);
    if (!r.body.nextCursor) break;
    assert.equal(r.body.nextCursor, r.body.agents[r.body.agents.length - 1].id);
    cursor = r.body.nextCursor;
  }
  // the pages put together are the whole list, field for field
  assert.deepEqual(seen, all.agents);
  assertError(await d.req('GET', '/api/agents?limit=0'), 422, 'VALIDATION_ERROR', 'limit');
  assertError(await d.req('GET', '/api/agents?limit=10001'), 422, 'VALIDATION_ERROR', 'limit');
  assertError(await d.req('GET', `/api/agents?limit=5&worktreeId=${wt.id}`), 422, 'VALIDATION_ERROR', 'limit');
  assertError(await d.req('GET', `/api/agents?cursor=x&worktreeId=${wt.id}`), 422, 'VALIDATION_ERROR', 'cursor');
  // an unknown cursor is an empty page, not another org's rows or an error
  const none = await d.req('GET', '/api/agents?limit=5&cursor=ag_nope');
  assert.equal(none.status, 200);
  assert.deepEqual(none.body.agents, []);
});

test('the paged list: another org sees none of these agents, even from their cursor; no token, none at all', async () => {
  const { wt } = await makeWorkspace(d);
  const mine = await makeAgent(d, wt.id);
  const first = (await d.req('GET', '/api/agents?limit=1')).body.agents[0].id;
  const org = (await d.req('POST', '/api/orgs', { name: 'paging-other' })).body;
  const tok = (await d.req('POST', '/api/tokens', { name: 'paging other', scope: 'admin', orgId: org.id })).body;
  const h = { authorization: `Bearer ${tok.token}` };
  for (const q of ['?limit=50', `?limit=50&cursor=${first}`, `?limit=50&cursor=${mine.id}`, '']) {
    const r = await d.req('GET', `/api/agents${q}`, undefined, h);
    assert.equal(r.status, 200, q);
    assert.deepEqual(r.body.agents, [], q);
  }
  const anon = await fetch(`${d.url}/api/agents?limit=5`);
  assert.equal(anon.status, 401);
  assert.match(anon.headers.get('content-type'), /json/);
});

test('patch updates only what is given', async () => {
  const { wt } = await makeWorkspace(d);
  const crew = await makeCrew('patchers');
  const a = await makeAgent(d, wt.id, { name: 'one', crewId: crew });
  const p = await d.req('PATCH', `/api/agents/${a.id}`, { name: 'two', mode: 'plan', permissions: ['read', 'execute'], displayOrder: 9, status: 'running' });
  assert.equal(p.status, 200);
  assert.equal(p.body.name, 'two');
  assert.equal(p.body.mode, 'plan');
  assert.deepEqual(p.body.permissions, ['read', 'execute']);
  assert.equal(p.body.displayOrder, 9);
  assert.equal(p.body.status, 'idle'); // not patchable: ignored
  assert.equal(p.body.crewId, crew);
  assert.ok(p.body.updatedAt >= a.updatedAt);
  const cleared = await d.req('PATCH', `/api/agents/${a.id}`, { crewId: null });
  assert.equal(cleared.body.crewId, null);
  assert.equal(cleared.body.name, 'two');
  for (const [body, field] of [[{ name: '' }, 'name'], [{ mode: 1 }, 'mode'], [{ permissions: {} }, 'permissions'],
    [{ displayOrder: 1.5 }, 'displayOrder'], [{ crewId: false }, 'crewId']]) {
    assertError(await d.req('PATCH', `/api/agents/${a.id}`, body), 422, 'VALIDATION_ERROR', field);
  }
  assertError(await d.req('PATCH', `/api/agents/${a.id}`, 'x'), 400, 'INVALID_JSON');
  assertError(await d.req('PATCH', '/api/agents/ag_nope', { name: 'x' }), 404, 'NOT_FOUND');
  const now = (await d.req('GET', `/api/agents/${a.id}`)).body;
  assert.equal(now.name, 'two');
  assert.equal(now.mode, 'plan');
});

test('archive, restore, hard delete', async () => {
  const { wt } = await makeWorkspace(d);
  const a = await makeAgent(d, wt.id);
  const arch = await d.req('DELETE', `/api/agents/${a.id}`);
  assert.equal(arch.status, 200);
  assert.match(arch.body.deletedAt, /Z$/);
  // still readable by id
  assert.equal((await d.req('GET', `/api/agents/${a.id}`)).body.deletedAt, arch.body.deletedAt);
  const again = await d.req('DELETE', `/api/agents/${a.id}?archive=true`);
  assert.equal(again.body.deletedAt, arch.body.deletedAt);
  const res = await d.req('POST', `/api/agents/${a.id}/restore`);
  assert.equal(res.status, 200);
  assert.equal(res.body.deletedAt, undefined);
  assertError(await d.req('DELETE', `/api/agents/${a.id}?archive=perhaps`), 422, 'VALIDATION_ERROR', 'archive');
  assert.equal((await d.req('DELETE', `/api/agents/${a.id}?archive=false`)).status, 204);
  assertError(await d.req('GET', `/api/agents/${a.id}`), 404, 'NOT_FOUND');
  assertError(await d.req('DELETE', `/api/agents/${a.id}?archive=false`), 404, 'NOT_FOUND');
  assertError(await d.req('DELETE', `/api/agents/${a.id}`), 404, 'NOT_FOUND');
  assertError(await d.req('POST', `/api/agents/${a.id}/restore`), 404, 'NOT_FOUND');
});

test('fork copies settings and points to its parent', async () => {
  const { wt } = await makeWorkspace(d);
  const a = await makeAgent(d, wt.id, { name: 'orig', mode: 'plan', permissions: ['read', 'write'], executor: 'gemini' });
  const f = await d.req('POST', `/api/agents/${a.id}/fork`);
  assert.equal(f.status, 201);
  assert.notEqual(f.body.id, a.id);
  assert.equal(f.body.parentAgentId, a.id);
  assert.equal(f.body.name, 'orig (fork)');
  assert.equal(f.body.status, 'idle', 'a fork has never run');
  assert.equal(f.body.mode, 'plan');
  assert.equal(f.body.executor, 'gemini');
  assert.deepEqual(f.body.permissions, ['read', 'write']);
  assert.equal(f.body.worktreeId, wt.id);
  const named = await d.req('POST', `/api/agents/${a.id}/fork`, { name: 'branch B' });
  assert.equal(named.body.name, 'branch B');
  assertError(await d.req('POST', `/api/agents/${a.id}/fork`, { name: 12 }), 422, 'VALIDATION_ERROR', 'name');
  assertError(await d.req('POST', `/api/agents/${a.id}/fork`, '{oops'), 400, 'INVALID_JSON');
  assertError(await d.req('POST', '/api/agents/ag_nope/fork'), 404, 'NOT_FOUND');
});

test('permissions: seed words and Claude Code tool rules; anything else is a 422 naming the entry', async () => {
  const { wt } = await makeWorkspace(d);
  const a = await makeAgent(d, wt.id, { permissions: ['read', 'write', 'execute', 'Bash(git:*)', 'WebFetch'] });
  assert.deepEqual(a.permissions, ['read', 'write', 'execute', 'Bash(git:*)', 'WebFetch']);
  for (const bad of ['bash', 'Bash(', 'Bash(a,b)', '', 'exec']) {
    const r = await d.req('POST', '/api/agents', { worktreeId: wt.id, permissions: ['read', bad] });
    assertError(r, 422, 'VALIDATION_ERROR', 'permissions');
    if (bad === '') continue; // an empty string is refused by the list check itself
    assert.equal(r.body.error.details.entry, bad);
    assert.equal(r.body.error.details.index, 1);
    assert.match(r.body.error.message, new RegExp(bad.replace(/[()]/g, '\\$&')));
  }
  const p = await d.req('PATCH', `/api/agents/${a.id}`, { permissions: ['Read('] });
  assertError(p, 422, 'VALIDATION_ERROR', 'permissions');
  assert.deepEqual((await d.req('GET', `/api/agents/${a.id}`)).body.permissions, a.permissions, 'nothing changed');
});

test('fork keeps a command agent\'s command and can go to a worktree branched from the parent\'s', async () => {
  const { ws, wt } = await makeWorkspace(d);
  const a = await makeAgent(d, wt.id, { name: 'cmd', executor: 'command', command: ['sh', '-c', 'echo hi'] });
  const f = await d.req('POST', `/api/agents/${a.id}/fork`);
  assert.equal(f.status, 201, JSON.stringify(f.body));
  assert.deepEqual(f.body.state.command, ['sh', '-c', 'echo hi']);
  assert.equal(f.body.state.forkSession, undefined, 'no session to fork');

  const alt = await d.req('POST', '/api/worktrees', { workspaceId: ws.id, name: 'alt', branch: 'alt', createBranch: true, base: wt.branch });
  assert.equal(alt.status, 201, JSON.stringify(alt.body));
  const altWt = alt.body.worktree || alt.body;
  const moved = await d.req('POST', `/api/agents/${a.id}/fork`, { worktreeId: altWt.id });
  assert.equal(moved.status, 201, JSON.stringify(moved.body));
  assert.equal(moved.body.worktreeId, altWt.id);
  assert.deepEqual(moved.body.state.command, ['sh', '-c', 'echo hi']);
  assertError(await d.req('POST', `/api/agents/${a.id}/fork`, { worktreeId: 'wt_nope' }), 404, 'NOT_FOUND');
});

test('reorder sets displayOrder, all or nothing', async () => {
  const { wt } = await makeWorkspace(d);
  const { wt: other } = await makeWorkspace(d);
  const a = await makeAgent(d, wt.id);
  const b = await makeAgent(d, wt.id);
  const x = await makeAgent(d, other.id);
  const r = await d.req('POST', '/api/agents/reorder', { worktreeId: wt.id, ids: [b.id, a.id] });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.agents.map((g) => [g.id, g.displayOrder]), [[b.id, 0], [a.id, 1]]);
  const bad = await d.req('POST', '/api/agents/reorder', { worktreeId: wt.id, ids: [a.id, x.id] });
  assertError(bad, 422, 'VALIDATION_ERROR', 'ids');
  assert.equal((await d.req('GET', `/api/agents/${a.id}`)).body.displayOrder, 1);
  assertError(await d.req('POST', '/api/agents/reorder', { ids: [a.id] }), 422, 'VALIDATION_ERROR', 'worktreeId');
  assertError(await d.req('POST', '/api/agents/reorder', { worktreeId: wt.id }), 422, 'VALIDATION_ERROR', 'ids');
  assertError(await d.req('POST', '/api/agents/reorder', { worktreeId: 'wt_nope', ids: [] }), 404, 'NOT_FOUND');
});

test('the default mode follows the default_mode setting', async () => {
  const { wt } = await makeWorkspace(d);
  assert.equal((await d.req('PATCH', '/api/settings', { default_mode: 'plan' })).status, 200);
  try {
    assert.equal((await makeAgent(d, wt.id)).mode, 'plan');
  } finally {
    await d.req('PATCH', '/api/settings', { default_mode: 'regular' });
  }
  assert.equal((await makeAgent(d, wt.id)).mode, 'regular');
});
