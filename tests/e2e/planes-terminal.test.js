// SPDX-License-Identifier: MIT
// An agent's terminal whichever plane the page came from (issue #77,
// docs/nodes.md "A request reaches the plane that does not hold the run"):
// two planes on one PostgreSQL database; a shell in a terminal runs on
// plane A (its run's lease). Its terminal opened through plane B is sent
// on to A: what is typed runs in A's shell and the screen comes back, with
// B's owner token and with a dashboard session made through B (as a
// browser on B's page sends it; a stop sent on with that session too).
// A's end closes B's socket with its code, a revocation closes it with
// 4401, and the viewer leaving closes A's.
// The attacker's read: no credential is 4401 and nothing is sent on,
// another org's token 4404, another origin 403, an upgrade that says it
// was sent on already 4409. And a terminal agent on a worker node linked to
// A, its terminal opened through B, types into the node; B stopping with
// it open closes both ends.
// Skipped (saying why) without PostgreSQL 15.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');
const WebSocket = require('./lib/ws');
const { api, until, commandAgent } = require('./lib/api');
const { PG_BIN, startPostgres } = require('./lib/pg');

const missing = !fs.existsSync(path.join(PG_BIN, 'initdb')) ? `no PostgreSQL 15 (${PG_BIN}/initdb)` : null;
if (missing) process.stdout.write(`# planes-terminal.test.js skipped: ${missing}\n`);

const SENT_ON = /socket sent on to the owning plane/g;

// The terminal of agent id through plane d: {ws, text(), closed, opened}.
function terminal(d, id, { protocols, headers } = {}) {
  const ws = new WebSocket(d.url.replace('http', 'ws') + `/ws/agents/${id}/terminal`, protocols || [], { headers: headers || {} });
  let seen = '';
  ws.on('message', (data) => { seen += data.toString('utf8'); });
  const closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  const opened = new Promise((resolve) => {
    ws.on('open', () => resolve(true));
    ws.on('unexpected-response', (req, res) => resolve(res.statusCode));
    ws.on('error', () => resolve(false));
  });
  return { ws, text: () => seen, closed, opened };
}

// A takes B's owner token (the owner on every plane; A reads it from the
// change log B writes at its start), as a user of B's page would need.
async function ownerOnBoth(a, b) {
  await until(async () => (await api(a, 'GET', '/api/tokens', undefined, { authorization: `Bearer ${b.token}` })).status === 200,
  'A to take B\'s owner token');
}

// A line typed into t, and the wait for what the shell makes of it.
async function typed(t, line, want) {
  t.ws.send(Buffer.from(`${line}\n`), { binary: true });
  await until(() => t.text().includes(want), `"${want}" on the screen (so far: ${JSON.stringify(t.text().slice(-300))})`);
}

// The WebSocket connections d has open now.
async function wsOpen(d) {
  const m = await api(d, 'GET', '/metrics');
  const line = String(m.text || m.body).split('\n').find((l) => l.startsWith('agentd_websocket_connections '));
  return Number(line.split(' ')[1]);
}

test('a terminal opened on the plane that does not hold the run types into the owner\'s shell', { skip: missing || false, timeout: 240000 }, async (t) => {
  const pg = await startPostgres();
  const dbUrl = pg.createDb('fwdterm');
  const start = (id) => daemon.start({ needUrl: true, env: { AGENTD_DATABASE_URL: dbUrl }, args: ['--plane-id', id, '--stop-grace-ms', '3000'] });
  const a = await start('plane_a'); // migrates the database first
  const b = await start('plane_b');
  await ownerOnBoth(a, b);
  const repo = daemon.tmpRepo('agentd-fwdterm-');
  const open = [];
  t.after(async () => {
    for (const x of open) x.ws.terminate();
    await a.cleanup();
    await b.cleanup();
    pg.stop();
    fs.rmSync(repo, { recursive: true, force: true });
  });
  const ws = await api(a, 'POST', '/api/workspaces', { path: repo });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  const wt = ws.body.worktrees[0].id;
  const id = await commandAgent(a, wt, ['/bin/sh'], { terminal: true });
  assert.equal((await api(a, 'POST', `/api/agents/${id}/start`, {})).status, 200);
  await until(async () => (await api(a, 'GET', '/api/health')).body.plane?.planes?.find((p) => p.id === 'plane_a')?.runs >= 1,
    'plane A to hold the run\'s lease');

  // B's owner token (the owner on A too): typed on B, run by A's shell.
  const t1 = terminal(b, id, { protocols: ['bearer', b.token] });
  open.push(t1);
  assert.equal(await t1.opened, true);
  await typed(t1, 'echo fwd-$((6*7))', 'fwd-42');
  assert.equal((b.stderr.match(SENT_ON) || []).length, 1, 'B sent the socket on');
  // Resize goes across too (a text frame): the shell's stty sees it.
  t1.ws.send(JSON.stringify({ type: 'resize', rows: 33, cols: 99 }));
  await typed(t1, 'echo size-$(stty size | tr " " x)', 'size-33x99');

  // A dashboard session made through B, as a browser on B's page sends it.
  const login = await fetch(`${b.url}/api/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json', origin: b.url }, body: JSON.stringify({ token: b.token }),
  });
  assert.equal(login.status, 200);
  const cookie = login.headers.get('set-cookie').split(';')[0];
  const t2 = terminal(b, id, { headers: { cookie, origin: b.url } });
  open.push(t2);
  assert.equal(await t2.opened, true);
  await typed(t2, 'echo session-$((2+3))', 'session-5');
  assert.ok(t1.text().includes('session-5'), 'both viewers see one screen');

  // The viewer leaving closes its socket on A as well.
  const before = await wsOpen(a);
  t2.ws.close(1000);
  assert.equal((await t2.closed).code, 1000);
  await until(async () => (await wsOpen(a)) === before - 1, `A's socket of the viewer that left to close (${before} open)`);

  // The attacker's read. No credential: 4401, nothing sent on.
  const sentBefore = (b.stderr.match(SENT_ON) || []).length;
  const none = terminal(b, id);
  assert.equal((await none.closed).code, 4401);
  // Another org's admin: the agent is not theirs (4404), nothing sent on.
  const org = await api(a, 'POST', '/api/orgs', { name: 'fwd other' });
  assert.equal(org.status, 201, JSON.stringify(org.body));
  const other = await api(a, 'POST', '/api/tokens', { name: 'other-admin', scope: 'admin', orgId: org.body.id });
  assert.equal(other.status, 201, JSON.stringify(other.body));
  const theirs = terminal(b, id, { protocols: ['bearer', other.body.token] });
  assert.equal((await theirs.closed).code, 4404);
  // Another origin: the upgrade is refused (403).
  const evil = terminal(b, id, { protocols: ['bearer', b.token], headers: { origin: 'http://evil.example' } });
  assert.equal(await evil.opened, 403);
  // Said to come from another plane already: never sent on again.
  const loop = terminal(b, id, { protocols: ['bearer', b.token], headers: { 'x-agentd-forwarded-by': 'plane_a' } });
  assert.equal((await loop.closed).code, 4409);
  assert.equal((b.stderr.match(SENT_ON) || []).length, sentBefore, 'none of them was sent on');

  // A token revoked (through A) closes B's terminal of it with 4401.
  const admin = await api(a, 'POST', '/api/tokens', { name: 'term-admin', scope: 'admin' });
  assert.equal(admin.status, 201, JSON.stringify(admin.body));
  const t3 = terminal(b, id, { protocols: ['bearer', admin.body.token] });
  open.push(t3);
  assert.equal(await t3.opened, true);
  await typed(t3, 'echo admin-$((1+1))', 'admin-2');
  assert.ok((await api(a, 'DELETE', `/api/tokens/${admin.body.id}`)).status < 300);
  assert.equal((await t3.closed).code, 4401);

  // A stop through B with B's dashboard session (a REST request sent on
  // with the cookie named as A reads it) ends the shell on A, and A's end
  // closes B's socket with A's code.
  const stop = await fetch(`${b.url}/api/agents/${id}/stop`, {
    method: 'POST', headers: { 'content-type': 'application/json', cookie, origin: b.url }, body: '{}',
  });
  assert.ok(stop.status === 200 || stop.status === 202, `${stop.status} ${await stop.text()}`);
  assert.equal(stop.headers.get('x-agentd-answered-by'), 'plane_a');
  assert.equal((await t1.closed).code, 1000);
  await until(async () => (await api(a, 'GET', `/api/agents/${id}/runs`)).body.runs[0].status !== 'running', 'the shell to end on A');
});

// A terminal agent on a worker node linked to plane A, its terminal opened
// through plane B: B sends the socket on to A, A reaches the node's pty.
test('a terminal of an agent on a node linked to the other plane types into the node', { skip: missing || false, timeout: 240000 }, async (t) => {
  const { nodeToken, startNode, nodeNamed } = require('./lib/nodes');
  const pg = await startPostgres();
  const dbUrl = pg.createDb('fwdtermnode');
  const start = (id) => daemon.start({ needUrl: true, env: { AGENTD_DATABASE_URL: dbUrl }, args: ['--plane-id', id, '--stop-grace-ms', '3000'] });
  const a = await start('plane_a');
  const b = await start('plane_b');
  await ownerOnBoth(a, b);
  const repo = daemon.tmpRepo('agentd-fwdtermnode-');
  let node = null;
  let term = null;
  t.after(async () => {
    if (term) term.ws.terminate();
    if (node) await node.cleanup();
    await a.cleanup();
    await b.cleanup();
    pg.stop();
    fs.rmSync(repo, { recursive: true, force: true });
  });
  const nt = await nodeToken(a, 'n1');
  node = await startNode(a.url, { token: nt.token, name: 'n1', env: { PATH: '/usr/bin:/bin' } });
  await until(async () => (await nodeNamed(b, 'n1'))?.state === 'connected', 'B to list n1 connected through A');
  const ws = await api(a, 'POST', '/api/workspaces', { path: repo });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  const id = await commandAgent(a, ws.body.worktrees[0].id,
    ['sh', '-c', 'echo ready; while read l; do case "$l" in size) stty size;; quit) exit 0;; *) echo "got:$l";; esac; done'],
    { node: 'n1', terminal: true });
  assert.equal((await api(a, 'POST', `/api/agents/${id}/start`, {})).status, 200);
  await until(async () => (await api(a, 'GET', '/api/health')).body.plane?.planes?.find((p) => p.id === 'plane_a')?.runs >= 1,
    'plane A to hold the run\'s lease');

  term = terminal(b, id, { protocols: ['bearer', b.token] });
  assert.equal(await term.opened, true);
  await until(() => term.text().includes('ready'), 'the replayed screen, from the node through A');
  term.ws.send(JSON.stringify({ type: 'resize', rows: 41, cols: 101 }));
  await typed(term, 'size', '41 101');
  await typed(term, 'hello', 'got:hello');

  // B stopping with the socket open: the viewer is told (1001), B exits
  // cleanly, and A's socket of it closes; the agent runs on.
  const viaA = terminal(a, id, { protocols: ['bearer', a.token] });
  assert.equal(await viaA.opened, true);
  const before = await wsOpen(a);
  assert.equal((await b.stop()).code, 0);
  assert.equal((await term.closed).code, 1001);
  await until(async () => (await wsOpen(a)) === before - 1, `A's socket of B's forward to close (${before} open)`);
  await typed(viaA, 'still', 'got:still');
  viaA.ws.send(Buffer.from('quit\n'), { binary: true });
  assert.equal((await viaA.closed).code, 1000);
  await until(async () => (await api(a, 'GET', `/api/agents/${id}`)).body.status === 'finished', 'the exit on the node');
});

// Backpressure: a viewer on B that stops reading while A's shell writes
// 16 MB. B's own send queue holds 512 KiB at most (--ws-send-queue-bytes):
// B stops reading from A past 256 KiB waiting, so the burst waits in A's
// queue (64 MiB here) and the viewer, reading again, gets all of it
// instead of being let go with 1008.
test('a viewer that stops reading pushes back on the owner instead of being let go', { skip: missing || false, timeout: 240000 }, async (t) => {
  const pg = await startPostgres();
  const dbUrl = pg.createDb('fwdtermbp');
  const start = (id, queue) => daemon.start({ needUrl: true, env: { AGENTD_DATABASE_URL: dbUrl },
    args: ['--plane-id', id, '--stop-grace-ms', '3000', '--ws-send-queue-bytes', String(queue)] });
  const a = await start('plane_a', 64 << 20);
  const b = await start('plane_b', 512 << 10);
  await ownerOnBoth(a, b);
  const repo = daemon.tmpRepo('agentd-fwdtermbp-');
  let term = null;
  t.after(async () => {
    if (term) term.ws.terminate();
    await a.cleanup();
    await b.cleanup();
    pg.stop();
    fs.rmSync(repo, { recursive: true, force: true });
  });
  const ws = await api(a, 'POST', '/api/workspaces', { path: repo });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  const id = await commandAgent(a, ws.body.worktrees[0].id,
    ['sh', '-c', 'echo ready; read x; head -c 16000000 /dev/zero | tr "\\0" a | fold -w 4000; echo; echo burst-done; read y'],
    { terminal: true });
  assert.equal((await api(a, 'POST', `/api/agents/${id}/start`, {})).status, 200);
  await until(async () => (await api(a, 'GET', '/api/health')).body.plane?.planes?.find((p) => p.id === 'plane_a')?.runs >= 1,
    'plane A to hold the run\'s lease');

  term = terminal(b, id, { protocols: ['bearer', b.token] });
  assert.equal(await term.opened, true);
  await until(() => term.text().includes('ready'), 'the screen');
  let bytes = 0;
  term.ws.on('message', (data) => { bytes += data.length; });
  term.ws._socket.pause(); // the viewer stops reading
  term.ws.send(Buffer.from('go\n'), { binary: true });
  await until(async () => {
    const r = await api(a, 'GET', `/api/agents/${id}/messages?limit=5`);
    return r.body.messages.some((m) => m.content.includes('burst-done'));
  }, 'A\'s shell to have written the whole burst', 120000);
  let code = null;
  term.closed.then((c) => { code = c.code; });
  term.ws._socket.resume();
  await until(() => term.text().includes('burst-done') || code !== null, 'the burst to reach the viewer', 120000);
  assert.equal(code, null, 'the viewer was not let go');
  assert.ok(bytes >= 16000000, `${bytes} bytes of the burst`);
  term.ws.send(Buffer.from('end\n'), { binary: true });
  assert.equal((await term.closed).code, 1000);
});
