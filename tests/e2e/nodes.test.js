// SPDX-License-Identifier: MIT
// Worker nodes (issue #34, docs/nodes.md), the node itself: a control plane
// with no node behaves as before; a node token is a node and nothing else
// (refused on REST, /ws, SSE, the terminal, sign-in) and the link takes
// nothing but a node token; a node joins with its labels and capabilities,
// shows in GET /api/nodes and `agentd node ls`; names are unique per org and
// a token is one node; a node killed reads unreachable within its lease; a
// revoked node is dropped at once and stops. One control plane for the file.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const WebSocket = require('./lib/ws');
const daemon = require('./lib/daemon');
const { api, until, startApi } = require('./lib/api');
const { nodeToken, startNode, nodeNamed } = require('./lib/nodes');

const LEASE = 1500;
const GRACE = 3000;
let d;
test.before(async () => {
  d = await startApi({ args: ['--node-lease-ms', String(LEASE), '--node-grace-ms', String(GRACE)] });
});
test.after(async () => { await d.cleanup(); });

// How a WebSocket to path with headers ends: its close code (or the HTTP
// status of a refused upgrade).
function wsEnd(path, headers) {
  return new Promise((resolve) => {
    const ws = new WebSocket(d.url.replace('http', 'ws') + path, { headers });
    ws.on('close', (code) => resolve(code));
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode));
    ws.on('error', () => {});
  });
}

test('a control plane no node joined lists none', async () => {
  const r = await api(d, 'GET', '/api/nodes');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.nodes, []);
});

test('a node token can do nothing but be a node; the link takes nothing else', async () => {
  const { token } = await nodeToken(d, 'only-a-node');
  const as = { authorization: `Bearer ${token}` };
  for (const [m, p] of [['GET', '/api/agents'], ['GET', '/api/nodes'], ['GET', '/api/workspaces'],
    ['POST', '/api/workspaces'], ['GET', '/api/tokens'], ['GET', '/api/health']]) {
    const r = await api(d, m, p, m === 'POST' ? {} : undefined, as);
    assert.equal(r.status, 403, `${m} ${p}: ${r.status}`);
  }
  const sse = await fetch(d.url + '/api/events', { headers: as });
  assert.equal(sse.status, 403);
  await sse.body?.cancel();
  assert.equal(await wsEnd('/ws', as), 4403);
  assert.equal(await wsEnd('/ws/agents/ag_x/terminal', as), 4403);
  const login = await api(d, 'POST', '/api/auth/login', { token }, { authorization: '' });
  assert.ok(login.status === 401 || login.status === 403, `login: ${login.status}`);
  // the owner, an admin token, nobody: not on the link
  assert.equal(await wsEnd('/api/nodes/link', d.authHeaders), 4403);
  const admin = await api(d, 'POST', '/api/tokens', { name: 'adm', scope: 'admin' });
  assert.equal(await wsEnd('/api/nodes/link', { authorization: `Bearer ${admin.body.token}` }), 4403);
  assert.equal(await wsEnd('/api/nodes/link', {}), 4401);
  // a JWT or a typo cannot name the scope: only node, read, write, admin
  const bad = await api(d, 'POST', '/api/tokens', { name: 'x', scope: 'nodes' });
  assert.equal(bad.status, 422);
});

test('a node joins with labels and capabilities; names are unique per org', async () => {
  const t1 = await nodeToken(d, 'box1');
  const n1 = await startNode(d.url, { token: t1.token, name: 'box1', labels: 'gpu=a100,zone=eu' });
  try {
    const n = await until(async () => { const x = await nodeNamed(d, 'box1'); return x?.caps?.memTotal > 0 && x; }, 'box1 listed with its figures');
    assert.equal(n.state, 'connected');
    assert.equal(n.connected, true);
    assert.deepEqual(n.labels, { gpu: 'a100', zone: 'eu' });
    assert.ok(n.caps.cpus > 0, JSON.stringify(n.caps));
    assert.ok(n.caps.memTotal > 0);
    assert.equal(n.caps.agentdVersion.length > 0, true);
    assert.equal(n.tokenId, undefined, 'the token id is not shown');
    const one = await api(d, 'GET', `/api/nodes/${n.id}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.node.name, 'box1');
    const ls = daemon.run(['--data-dir', d.dataDir, 'node', 'ls']);
    assert.equal(ls.status, 0, ls.stderr);
    assert.match(ls.stdout, /box1\s+connected/);
    assert.match(ls.stdout, /gpu=a100,zone=eu/);

    // another token under the same name: refused, the node says so and exits
    const t2 = await nodeToken(d, 'box1-again');
    const n2 = await startNode(d.url, { token: t2.token, name: 'box1', wait: false });
    const e2 = await n2.exit;
    assert.equal(e2.code, 3, n2.stderr);
    assert.match(n2.stderr, /refused/);
    await n2.cleanup();
    // the same token as another name: refused too (a token is one node)
    const n3 = await startNode(d.url, { token: t1.token, name: 'box9', wait: false });
    assert.equal((await n3.exit).code, 3, n3.stderr);
    await n3.cleanup();
    assert.equal((await nodeNamed(d, 'box1')).state, 'connected', 'the first box1 stays');
    assert.equal(await nodeNamed(d, 'box9'), null);
  } finally {
    await n1.cleanup();
  }
});

test('a node that dies reads unreachable within its lease, and connected when back', async () => {
  const t = await nodeToken(d, 'flaky');
  const dataDir = daemon.tmpDir('agentd-node-');
  let n = await startNode(d.url, { token: t.token, name: 'flaky', dataDir });
  try {
    await until(async () => (await nodeNamed(d, 'flaky'))?.state === 'connected', 'flaky connected');
    await n.kill();
    const t0 = Date.now();
    await until(async () => (await nodeNamed(d, 'flaky')).state === 'unreachable', 'flaky unreachable');
    // noticed within the lease and a tick (a bound for a busy machine, not a timing)
    assert.ok(Date.now() - t0 < 10000, `noticed after ${Date.now() - t0} ms`);
    n = await startNode(d.url, { token: t.token, name: 'flaky', dataDir });
    await until(async () => (await nodeNamed(d, 'flaky')).state === 'connected', 'flaky back');
  } finally {
    await n.cleanup();
    require('node:fs').rmSync(dataDir, { recursive: true, force: true });
  }
});

test('revoking a node drops its link at once; it stops, and cannot come back', async () => {
  const t = await nodeToken(d, 'doomed');
  const n = await startNode(d.url, { token: t.token, name: 'doomed' });
  try {
    const row = await until(() => nodeNamed(d, 'doomed'), 'doomed listed');
    const ro = await api(d, 'POST', '/api/tokens', { name: 'reader', scope: 'read' });
    const refused = await api(d, 'DELETE', `/api/nodes/${row.id}`, undefined, { authorization: `Bearer ${ro.body.token}` });
    assert.equal(refused.status, 403, 'a read token cannot revoke');
    const del = await api(d, 'DELETE', `/api/nodes/${row.id}`);
    assert.equal(del.status, 204);
    const e = await n.exit;
    assert.equal(e.code, 3, n.stderr);
    assert.equal((await nodeNamed(d, 'doomed')).state, 'revoked');
    const again = await api(d, 'DELETE', `/api/nodes/${row.id}`);
    assert.equal(again.status, 404);
    const tokens = (await api(d, 'GET', '/api/tokens')).body.tokens;
    assert.ok(tokens.find((x) => x.id === t.id).revokedAt, 'its token is revoked');
    const n2 = await startNode(d.url, { token: t.token, name: 'doomed', wait: false });
    assert.equal((await n2.exit).code, 3);
    await n2.cleanup();
  } finally {
    await n.cleanup();
  }
});

test('over TLS: a node joins an https control plane whose certificate it trusts, and refuses one it does not', async () => {
  const { spawnSync } = require('node:child_process');
  const path = require('node:path');
  const fs = require('node:fs');
  const dir = daemon.tmpDir('agentd-node-tls-');
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const t = await daemon.start({ needUrl: true, args: ['--tls-cert', cert, '--tls-key', key] });
  try {
    assert.match(t.url, /^https:/);
    const made = daemon.run(['--data-dir', t.dataDir, 'token', 'create', 'tlsnode', '--scope', 'node']);
    assert.equal(made.status, 0, made.stderr);
    const token = made.stdout.trim().split('\n').pop();
    // a certificate nobody vouches for: the node does not send its token, and keeps trying
    const untrusting = await startNode(t.url, { token, name: 'tls1', wait: false });
    await until(() => /TLS handshake failed/.test(untrusting.stderr), 'the refused handshake');
    assert.ok(!untrusting.joined());
    await untrusting.cleanup();
    // trusting the control plane's certificate: it joins over wss
    const n = await startNode(t.url, { token, name: 'tls1', env: { AGENTD_NODE_CA_FILE: cert } });
    try {
      const ls = daemon.run(['--data-dir', t.dataDir, 'node', 'ls', '--json']);
      assert.equal(JSON.parse(ls.stdout).nodes[0].state, 'connected');
    } finally {
      await n.cleanup();
    }
  } finally {
    await t.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// A link that closes with a spawn in flight (the node never read it): the
// node's hello after it lists no holder for the run, and the plane sends
// the spawn again instead of losing the run (the node here drops its first
// spawn and its link, as the flap in CI did).
test('a spawn lost with its link is sent again when the node is back', async () => {
  const repo = daemon.tmpRepo('agentd-flap-');
  const fs = require('node:fs');
  const t = await nodeToken(d, 'flappy');
  const n = await startNode(d.url, { token: t.token, name: 'flappy', env: { AGENTD_TEST_NODE_DROP_SPAWN: '1' } });
  try {
    const ws = await api(d, 'POST', '/api/workspaces', { path: repo, name: 'flap' });
    const a = await api(d, 'POST', '/api/agents', { worktreeId: ws.body.worktrees[0].id, executor: 'command', command: ['sh', '-c', 'echo up; sleep 600'], node: 'flappy' });
    assert.equal((await api(d, 'POST', `/api/agents/${a.body.id}/start`, {})).status, 200);
    await until(async () => (await api(d, 'GET', `/api/agents/${a.body.id}/messages?limit=20`)).body.messages.some((m) => m.content.includes('up')), 'its output, after the link came back');
    const run = (await api(d, 'GET', `/api/agents/${a.body.id}/runs`)).body.runs[0];
    assert.equal(run.status, 'running');
    assert.match(n.stderr, /spawn lost with its link/);
    assert.equal((await api(d, 'POST', `/api/agents/${a.body.id}/stop`, {})).status < 300, true);
  } finally {
    await n.cleanup();
    fs.rmSync(repo, { recursive: true, force: true });
  }
});

test('a node away past the grace: its run is lost, with the reason; a revoked node\'s at once', async () => {
  const repo = daemon.tmpRepo('agentd-grace-');
  const fs = require('node:fs');
  const t = await nodeToken(d, 'gracey');
  const n = await startNode(d.url, { token: t.token, name: 'gracey' });
  try {
    const ws = await api(d, 'POST', '/api/workspaces', { path: repo, name: 'grace' });
    const wt = ws.body.worktrees[0].id;
    const mk = async () => {
      const a = await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command: ['sh', '-c', 'echo up; sleep 600'], node: 'gracey' });
      assert.equal((await api(d, 'POST', `/api/agents/${a.body.id}/start`, {})).status, 200);
      await until(async () => (await api(d, 'GET', `/api/agents/${a.body.id}/messages?limit=20`)).body.messages.some((m) => m.content.includes('up')), 'it runs');
      return a.body.id;
    };
    const id = await mk();
    const runId = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0].id;
    await n.kill();
    await until(async () => (await api(d, 'GET', `/api/runs/${runId}`)).body.unreachable === true, 'unreachable first');
    assert.equal((await api(d, 'GET', `/api/agents/${id}`)).body.status, 'running', 'not lost within the grace');
    const run = await until(async () => {
      const r = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0];
      return r.status !== 'running' ? r : null;
    }, 'the run lost past the grace');
    assert.equal(run.status, 'lost');
    const a = (await api(d, 'GET', `/api/agents/${id}`)).body;
    assert.equal(a.status, 'error');
    assert.match(a.statusReason.text, /lost: node gracey unreachable since/);
    // a revoked node's runs are lost at once, saying so
    daemon.endHolders(n.dataDir);
    const n2 = await startNode(d.url, { token: t.token, name: 'gracey', dataDir: n.dataDir });
    const id2 = await mk();
    const row = (await api(d, 'GET', '/api/nodes')).body.nodes.find((x) => x.name === 'gracey');
    assert.equal((await api(d, 'DELETE', `/api/nodes/${row.id}`)).status, 204);
    await until(async () => (await api(d, 'GET', `/api/agents/${id2}`)).body.statusReason?.text?.includes('node gracey revoked'), 'lost: revoked');
    assert.equal((await n2.exit).code, 3);
    await n2.cleanup();
  } finally {
    await n.cleanup();
    fs.rmSync(repo, { recursive: true, force: true });
  }
});
