// SPDX-License-Identifier: MIT
// OpenSSL is agentd-tls.so's, loaded on the first TLS use (issue #38, bench
// row S2): agentd links neither libssl nor libcrypto; an agentd serving
// plain HTTP, WebSockets and HS256 JWTs, or a node on a ws:// link, never
// maps them; --tls-cert and a wss:// join load the library and work; and
// without it, what needed TLS says so while the rest goes on.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const https = require('node:https');
const { spawnSync } = require('node:child_process');
const WebSocket = require('./lib/ws');
const daemon = require('./lib/daemon');
const { api, until } = require('./lib/api');
const { nodeToken, startNode } = require('./lib/nodes');

const OPENSSL = /\/lib(ssl|crypto)\.so/;
const PLUGIN = /\/agentd-tls\.so$/m;
const maps = (pid) => fs.readFileSync(`/proc/${pid}/maps`, 'utf8');

const dir = daemon.tmpDir('agentd-tls-lazy-');
const cert = path.join(dir, 'cert.pem');
const key = path.join(dir, 'key.pem');
test.before(() => {
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

function httpsGet(url, p) {
  return new Promise((resolve, reject) => {
    const u = new URL(url + p);
    https.get({ host: u.hostname, port: u.port, path: u.pathname, ca: fs.readFileSync(cert), agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    }).on('error', reject);
  });
}

// A node token of a control plane fetch cannot reach (its certificate is
// ours): made by the CLI on its data dir.
function cliNodeToken(d, name) {
  const made = daemon.run(['--data-dir', d.dataDir, 'token', 'create', name, '--scope', 'node']);
  assert.equal(made.status, 0, made.stderr);
  return made.stdout.trim().split('\n').pop();
}

function wsOpens(url, headers) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, ca: fs.readFileSync(cert) });
    ws.on('open', () => { ws.close(); resolve(true); });
    ws.on('error', reject);
  });
}

test('the agentd executable links no OpenSSL; agentd-tls.so does', () => {
  const needed = (f) => {
    const r = spawnSync('readelf', ['-d', f], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return [...r.stdout.matchAll(/NEEDED.*\[(.+)\]/g)].map((m) => m[1]).join(' ');
  };
  assert.doesNotMatch(needed(daemon.BIN), /libssl|libcrypto/);
  assert.match(needed(path.join(path.dirname(daemon.BIN), 'agentd-tls.so')), /libssl/);
});

test('plain HTTP, a WebSocket and a node on ws:// map no OpenSSL; https and wss load it and work', async (t) => {
  // libpq, loaded to serve from PostgreSQL, maps OpenSSL itself
  const pgSsl = daemon.PG_MODE;
  if (pgSsl) t.diagnostic('on PostgreSQL libpq maps OpenSSL: the control plane is checked for agentd-tls.so only');
  const d = await daemon.start({ needUrl: true });
  let n = null;
  try {
    assert.equal((await api(d, 'GET', '/api/health')).status, 200);
    assert.ok(await wsOpens(`${d.url.replace('http', 'ws')}/ws`, d.authHeaders)); // SHA-1: core's own
    const t = await nodeToken(d, 'plain');
    n = await startNode(d.url, { token: t.token, name: 'plain' });
    for (const [who, pid] of [['the control plane', d.proc.pid], ['the node', n.proc.pid]]) {
      const m = maps(pid);
      if (!(pgSsl && pid === d.proc.pid)) assert.doesNotMatch(m, OPENSSL, `${who} maps OpenSSL`);
      assert.doesNotMatch(m, PLUGIN, `${who} maps agentd-tls.so`);
    }
  } finally {
    if (n) await n.cleanup();
    await d.cleanup();
  }

  const s = await daemon.start({ needUrl: true, args: ['--tls-cert', cert, '--tls-key', key] });
  let tn = null;
  try {
    assert.match(s.url, /^https:/);
    assert.equal(await httpsGet(s.url, '/healthz'), 200);
    assert.ok(await wsOpens(`${s.url.replace('https', 'wss')}/ws`, s.authHeaders));
    assert.match(maps(s.proc.pid), PLUGIN);
    assert.match(maps(s.proc.pid), OPENSSL);
    // a node's wss:// link: the library loaded by the join, the peer checked
    tn = await startNode(s.url, { token: cliNodeToken(s, 'tlsnode'), name: 'tlsnode', env: { AGENTD_NODE_CA_FILE: cert } });
    assert.match(maps(tn.proc.pid), PLUGIN);
    const ls = daemon.run(['--data-dir', s.dataDir, 'node', 'ls', '--json']);
    assert.equal(JSON.parse(ls.stdout).nodes.find((x) => x.name === 'tlsnode').state, 'connected');
  } finally {
    if (tn) await tn.cleanup();
    await s.cleanup();
  }
});

test('without agentd-tls.so: --tls-cert and --jwt-public-key stop with the reason, a wss join says why, plain serving goes on', async () => {
  // agentd alone in a folder: nothing beside it
  const bin = daemon.tmpDir('agentd-tls-lazy-bin-');
  fs.copyFileSync(daemon.BIN, path.join(bin, 'agentd'));
  fs.chmodSync(path.join(bin, 'agentd'), 0o755);
  const data = daemon.tmpDir('agentd-tls-lazy-data-');
  try {
    const r = spawnSync(path.join(bin, 'agentd'), ['serve', '--listen', '127.0.0.1:0', '--data-dir', data,
      '--tls-cert', cert, '--tls-key', key], { encoding: 'utf8', timeout: 20000 });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /--tls-cert.*TLS is not available: agentd-tls\.so is not beside the agentd executable/);
    // a library that cannot be loaded ($AGENTD_TLS_LIB) is named with dlopen's reason
    const pub = path.join(dir, 'pub.pem');
    assert.equal(spawnSync('openssl', ['pkey', '-in', key, '-pubout', '-out', pub]).status, 0);
    const j = daemon.run(['serve', '--listen', '127.0.0.1:0', '--data-dir', data, '--jwt-public-key', pub,
      '--jwt-issuer', 'i', '--jwt-audience', 'a'], { env: { AGENTD_TLS_LIB: path.join(bin, 'none.so') } });
    assert.notEqual(j.status, 0);
    assert.match(j.stderr, /--jwt-public-key.*TLS is not available: .*none\.so/);
  } finally {
    fs.rmSync(bin, { recursive: true, force: true });
    fs.rmSync(data, { recursive: true, force: true });
  }

  const s = await daemon.start({ needUrl: true, args: ['--tls-cert', cert, '--tls-key', key] });
  const d = await daemon.start({ needUrl: true, env: { AGENTD_TLS_LIB: '/nonexistent/agentd-tls.so' } });
  let n = null;
  try {
    assert.equal((await api(d, 'GET', '/api/health')).status, 200);
    n = await startNode(s.url, { token: cliNodeToken(s, 'nolib'), name: 'nolib', wait: false,
      env: { AGENTD_NODE_CA_FILE: cert, AGENTD_TLS_LIB: '/nonexistent/agentd-tls.so' } });
    await until(() => /cannot open the link: TLS is not available/.test(n.stderr), 'the reason in the node\'s log');
    assert.ok(!n.joined());
    assert.equal(n.exited, null, 'the node keeps trying');
  } finally {
    if (n) await n.cleanup();
    await d.cleanup();
    await s.cleanup();
  }
});
