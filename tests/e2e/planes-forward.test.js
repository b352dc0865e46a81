// SPDX-License-Identifier: MIT
// Any plane answers for the fleet (issue #77, docs/operations.md "Several
// control planes"): two planes on one PostgreSQL database; an ACP agent's
// run is plane A's (its lease). Through plane B, which does not hold it, a
// message is answered by A and the agent answers it, an approval it asks is
// decided, a second start is A's 409, and a stop stops it: each request
// sent on to A as it came, with the caller's credential, and answered with
// A's answer (X-Agentd-Answered-By). A request that says it was sent on
// already is never sent on again nor run here (409), and one without a
// credential is refused as anywhere (401). Another organisation's caller gets
// the same 404 through B as for an agent that does not exist, and nothing is
// sent on to A.
// Skipped (saying why) without PostgreSQL 15.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { api, until, messages, said, agent, pendingApprovals } = require('./lib/agents');
const { PG_BIN, startPostgres } = require('./lib/pg');

const missing = !fs.existsSync(path.join(PG_BIN, 'initdb')) ? `no PostgreSQL 15 (${PG_BIN}/initdb)` : null;
if (missing) process.stdout.write(`# planes-forward.test.js skipped: ${missing}\n`);

const ACP = path.resolve(__dirname, '../fixtures/acp-agent.js');

// A request to d with exactly these headers (no owner token added).
async function raw(d, method, p, body, headers = {}) {
  const res = await fetch(d.url + p, {
    method, body: body === undefined ? undefined : JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (_) { json = text; }
  return { status: res.status, body: json, headers: res.headers };
}

test('a plane that does not hold an agent\'s run sends its requests on to the one that does', { skip: missing || false, timeout: 180000 }, async (t) => {
  const pg = await startPostgres();
  const dbUrl = pg.createDb('forward');
  const start = (id) => daemon.start({ needUrl: true, env: { AGENTD_DATABASE_URL: dbUrl }, args: ['--plane-id', id, '--stop-grace-ms', '3000'] });
  const a = await start('plane_a'); // migrates the database first
  const b = await start('plane_b');
  const repo = daemon.tmpRepo('agentd-fwd-');
  t.after(async () => {
    await a.cleanup();
    await b.cleanup();
    pg.stop();
    fs.rmSync(repo, { recursive: true, force: true });
  });
  const ws = await api(a, 'POST', '/api/workspaces', { path: repo });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  const made = await api(a, 'POST', '/api/agents', { worktreeId: ws.body.worktrees[0].id, executor: 'acp', command: [process.execPath, ACP] });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const id = made.body.id;
  assert.equal((await api(a, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'hello' })).status, 200);
  assert.equal(await said(a, id, 'Hello'), 'Hello from ACP.');
  await until(async () => (await api(a, 'GET', '/api/health')).body.plane?.planes?.find((p) => p.id === 'plane_a')?.runs >= 1,
    'plane A to hold the run\'s lease');
  await until(async () => (await agent(b, id)).status === 'waiting', 'the agent waiting for its next turn');

  // A message through B: sent on to A (B's owner token is the owner on A too,
  // once A has read it from the accounts' change log), answered there.
  await until(async () => (await raw(a, 'GET', `/api/agents/${id}`, undefined, { authorization: `Bearer ${b.token}` })).status === 200,
    'A to take B\'s owner token');
  const msg = await raw(b, 'POST', `/api/agents/${id}/message`, { content: 'echo through b' }, { authorization: `Bearer ${b.token}` });
  assert.equal(msg.status, 200, JSON.stringify(msg.body));
  assert.equal(msg.headers.get('x-agentd-answered-by'), 'plane_a');
  assert.equal(await said(b, id, 'echo: echo through b'), 'echo: echo through b');

  // An approval the agent asks, decided through B.
  await until(async () => (await agent(b, id)).status === 'waiting', 'the agent waiting again');
  assert.equal((await api(b, 'POST', `/api/agents/${id}/message`, { content: 'edit out.txt' })).status, 200);
  const ap = await until(async () => (await pendingApprovals(b, id))[0], 'the approval');
  const ok = await api(b, 'POST', `/api/approvals/${ap.id}`, { decision: 'allow' });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(await said(b, id, 'outcome'), 'outcome: selected allow-once');
  assert.equal(fs.readFileSync(path.join(repo, 'out.txt'), 'utf8'), 'written by acp\n');

  // Another organisation's caller asking B about the agent (its run A's):
  // the same 404 as for an agent that does not exist, never sent on to A (no
  // X-Agentd-Answered-By, nothing that says the agent lives elsewhere).
  const org = await api(b, 'POST', '/api/orgs', { name: 'org other' });
  assert.equal(org.status, 201, JSON.stringify(org.body));
  const otherTok = await api(b, 'POST', '/api/tokens', { name: 'other-admin', scope: 'admin', orgId: org.body.id });
  assert.equal(otherTok.status, 201, JSON.stringify(otherTok.body));
  const other = { authorization: `Bearer ${otherTok.body.token}` };
  const missingId = `${id.slice(0, -4)}zzzz`;
  for (const [method, p, body] of [['POST', 'message', { content: 'from another org' }], ['POST', 'stop', undefined],
    ['POST', 'start', {}], ['GET', '', undefined]]) {
    const theirs = await raw(b, method, `/api/agents/${id}${p ? `/${p}` : ''}`, body, other);
    const none = await raw(b, method, `/api/agents/${missingId}${p ? `/${p}` : ''}`, body, other);
    assert.equal(theirs.status, 404, `${method} ${p}: ${JSON.stringify(theirs.body)}`);
    assert.equal(none.status, 404, `${method} ${p} (missing): ${JSON.stringify(none.body)}`);
    assert.deepEqual(JSON.parse(JSON.stringify(theirs.body).replaceAll(id, 'ID')),
      JSON.parse(JSON.stringify(none.body).replaceAll(missingId, 'ID')), `${method} ${p}: the same answer`);
    assert.equal(theirs.headers.get('x-agentd-answered-by'), null, `${method} ${p}: not sent on to A`);
  }
  const apOther = await raw(b, 'POST', `/api/approvals/${ap.id}`, { decision: 'deny' }, other);
  const apNone = await raw(b, 'POST', `/api/approvals/${ap.id.slice(0, -4)}zzzz`, { decision: 'deny' }, other);
  assert.equal(apOther.status, 404, JSON.stringify(apOther.body));
  assert.deepEqual(JSON.parse(JSON.stringify(apOther.body).replaceAll(ap.id, 'ID')),
    JSON.parse(JSON.stringify(apNone.body).replaceAll(`${ap.id.slice(0, -4)}zzzz`, 'ID')));
  assert.equal(apOther.headers.get('x-agentd-answered-by'), null);
  assert.ok(!(await messages(a, id)).some((m) => m.content === 'from another org'), 'another org\'s message reached the agent');

  // A second start through B is A's answer: it runs already (no second run on B).
  const again = await raw(b, 'POST', `/api/agents/${id}/start`, {}, { authorization: `Bearer ${a.token}` });
  assert.equal(again.status, 409, JSON.stringify(again.body));
  assert.equal(again.headers.get('x-agentd-answered-by'), 'plane_a');
  assert.match(again.body.error.message, /already running/);
  // Said to come from another plane already: neither sent on again nor run on B.
  const loop = await raw(b, 'POST', `/api/agents/${id}/message`, { content: 'x' },
    { authorization: `Bearer ${b.token}`, 'x-agentd-forwarded-by': 'plane_a' });
  assert.equal(loop.status, 409, JSON.stringify(loop.body));
  assert.equal(loop.body.error.code, 'OWNED_ELSEWHERE');
  // No credential: refused as on any route, nothing sent on.
  assert.equal((await raw(b, 'POST', `/api/agents/${id}/message`, { content: 'x' })).status, 401);
  assert.ok(!(await messages(a, id)).some((m) => m.role === 'user' && m.content === 'x'), 'neither refused message reached the agent');

  // A stop through B stops it on A.
  const stop = await api(b, 'POST', `/api/agents/${id}/stop?wait=true`);
  assert.ok(stop.status === 200 || stop.status === 202, JSON.stringify(stop.body));
  await until(async () => !['running', 'waiting', 'stopping'].includes((await agent(a, id)).status), 'the stop on plane A');
  const runsOf = (await api(a, 'GET', `/api/agents/${id}/runs`)).body.runs;
  assert.equal(runsOf.length, 1, `one run, on A: ${JSON.stringify(runsOf)}`);
});

// A node linked to plane A, revoked through plane B: A closes its link within
// the auth change log's second (the node's token is revoked with it), the
// node stops (it was told its token ended), and both planes list it revoked.
test('a node revoked through the plane that does not hold its link is cut off by the one that does', { skip: missing || false, timeout: 180000 }, async (t) => {
  const { nodeToken, startNode, nodeNamed } = require('./lib/nodes');
  const pg = await startPostgres();
  const dbUrl = pg.createDb('forwardnode');
  const start = (id) => daemon.start({ needUrl: true, env: { AGENTD_DATABASE_URL: dbUrl }, args: ['--plane-id', id] });
  const a = await start('plane_a');
  const b = await start('plane_b');
  let node = null;
  t.after(async () => {
    if (node) await node.cleanup();
    await a.cleanup();
    await b.cleanup();
    pg.stop();
  });
  const nt = await nodeToken(a, 'n1');
  node = await startNode(a.url, { token: nt.token, name: 'n1', env: { PATH: '/usr/bin:/bin' } });
  const onB = await until(async () => { const x = await nodeNamed(b, 'n1'); return x?.state === 'connected' && x; }, 'B to list n1 connected through A');
  const del = await api(b, 'DELETE', `/api/nodes/${onB.id}`);
  assert.equal(del.status, 204, JSON.stringify(del.body));
  const exited = await node.exit;
  assert.notEqual(exited.code, 0, `the node stops, told its token ended: ${node.stderr}`);
  assert.match(node.stderr, /revoked|token has ended/);
  await until(async () => (await nodeNamed(a, 'n1'))?.state === 'revoked', 'A to list n1 revoked');
  assert.equal((await nodeNamed(b, 'n1')).state, 'revoked');
});
