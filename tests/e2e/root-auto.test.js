// SPDX-License-Identifier: MIT
// Auto mode as root (issue #32): Claude Code refuses to skip permissions as
// root outside a sandbox, so POST /api/agents and PATCH refuse it with 422
// before anything is created or changed (it used to be created and then fail
// at every start). Other executors, and allow_root_auto, are unaffected.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { startApi, assertError, makeWorkspace, makeAgent } = require('./lib/api');

const skip = process.getuid() !== 0 ? 'the daemon must run as root' : false;

test('auto mode as root is refused with 422 and nothing is created', { skip }, async (t) => {
  const d = await startApi();
  t.after(() => d.cleanup());
  const { wt } = await makeWorkspace(d);
  const r = await d.req('POST', '/api/agents', { worktreeId: wt.id, mode: 'auto', name: 'rooty' });
  assertError(r, 422, 'VALIDATION_ERROR', 'mode');
  assert.equal(r.body.error.details.reason, 'root_auto');
  assert.match(r.body.error.message, /allow_root_auto/);
  assertError(await d.req('POST', '/api/agents', { worktreeId: wt.id, executor: 'claude', mode: 'auto' }), 422, 'VALIDATION_ERROR', 'mode');
  assert.equal((await d.req('GET', '/api/agents?includeDeleted=true')).body.agents.length, 0);

  // The default_mode setting counts as asking for auto.
  assert.equal((await d.req('PATCH', '/api/settings', { default_mode: 'auto' })).status, 200);
  assertError(await d.req('POST', '/api/agents', { worktreeId: wt.id }), 422, 'VALIDATION_ERROR', 'mode');
  assert.equal((await d.req('PATCH', '/api/settings', { default_mode: 'regular' })).status, 200);

  // PATCH to auto is refused the same way, and the agent is unchanged.
  const a = await makeAgent(d, wt.id, { mode: 'plan' });
  assertError(await d.req('PATCH', `/api/agents/${a.id}`, { mode: 'auto', name: 'renamed' }), 422, 'VALIDATION_ERROR', 'mode');
  const now = (await d.req('GET', `/api/agents/${a.id}`)).body;
  assert.equal(now.mode, 'plan');
  assert.equal(now.name, a.name);

  // Other executors in auto mode, and claude once the owner allows it.
  const codex = await d.req('POST', '/api/agents', { worktreeId: wt.id, executor: 'codex', mode: 'auto' });
  assert.equal(codex.status, 201, JSON.stringify(codex.body));
  assert.equal((await d.req('PATCH', '/api/settings', { allow_root_auto: true })).status, 200);
  assert.equal((await d.req('POST', '/api/agents', { worktreeId: wt.id, mode: 'auto' })).status, 201);
  assert.equal((await d.req('PATCH', `/api/agents/${a.id}`, { mode: 'auto' })).body.mode, 'auto');
});
