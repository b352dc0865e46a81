// SPDX-License-Identifier: MIT
// TLS (--tls-cert, --tls-key): https and wss with a certificate made here
// by openssl, the printed URLs, Secure cookies and HSTS, plain HTTP on the
// TLS port refused with a word, bytes that are not TLS, large answers and
// pipelining through records, and the errors of a bad certificate.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const https = require('node:https');
const http = require('node:http');
const net = require('node:net');
const tls = require('node:tls');
const { spawnSync } = require('node:child_process');
const WebSocket = require('./lib/ws');
const daemon = require('./lib/daemon');
const { until } = require('./lib/api');

const dir = daemon.tmpDir('agentd-tls-');
const cert = path.join(dir, 'cert.pem');
const key = path.join(dir, 'key.pem');
const otherKey = path.join(dir, 'other.pem');

function makeCert() {
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const k = spawnSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-out', otherKey], { encoding: 'utf8' });
  assert.equal(k.status, 0, k.stderr);
}

// One HTTPS request that trusts only our certificate.
function req(d, method, p, { body, headers = {}, auth = true } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(d.url + p);
    const h = { ...(auth ? d.authHeaders : {}), ...headers };
    if (body !== undefined) h['content-type'] = 'application/json';
    const r = https.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers: h,
      ca: fs.readFileSync(cert), agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        let json = null;
        try { json = JSON.parse(raw.toString()); } catch (_) { json = null; }
        resolve({ status: res.statusCode, headers: res.headers, raw, body: json });
      });
    });
    r.on('error', reject);
    if (body !== undefined) r.write(JSON.stringify(body));
    r.end();
  });
}

let d;
test.before(async () => {
  makeCert();
  d = await daemon.start({ needUrl: true, args: ['--tls-cert', cert, '--tls-key', key] });
});
test.after(async () => {
  if (d) await d.cleanup();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the daemon prints https URLs and answers over TLS with HSTS', async () => {
  assert.match(d.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.match(d.stdout, /agentd login: https:\/\//);
  const h = await req(d, 'GET', '/healthz', { auth: false });
  assert.equal(h.status, 200);
  assert.equal(h.headers['strict-transport-security'], 'max-age=31536000');
  // and the headers every answer carries, over TLS too
  assert.equal(h.headers['x-frame-options'], 'DENY');
  assert.match(h.headers['content-security-policy'], /^default-src 'self';.*frame-ancestors 'none'$/);
  // Without trusting the certificate the client refuses: it really is TLS.
  await assert.rejects(new Promise((resolve, reject) => {
    https.get(`${d.url}/healthz`, { agent: false }, resolve).on('error', reject);
  }), /self[- ]signed|unable to verify|certificate/i);
  assert.equal((await req(d, 'GET', '/api/agents', { auth: false })).status, 401);
});

test('the login URL\'s one-time code gives a Secure session cookie that works', async () => {
  const code = d.stdout.match(/agentd login: https:\/\/\S+\/login#code=([A-Za-z0-9_-]+)/);
  assert.ok(code, d.stdout);
  const r = await req(d, 'POST', '/api/auth/login', { auth: false, body: { code: code[1] } });
  assert.equal(r.status, 200, r.raw.toString());
  const set = [].concat(r.headers['set-cookie'] || []);
  const c = set.find((s) => s.startsWith('agentd_session_'));
  assert.ok(c, JSON.stringify(set));
  assert.match(c, /; Secure/);
  assert.match(c, /HttpOnly/);
  const cookie = c.split(';')[0];
  const me = await req(d, 'GET', '/api/agents', { auth: false, headers: { cookie } });
  assert.equal(me.status, 200);
});

test('REST writes and a large body cross many records intact, both ways', async () => {
  const repo = daemon.tmpRepo();
  const ws = await req(d, 'POST', '/api/workspaces', { body: { path: repo } });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  // 300 KB up and back: many records each way, and the echo is exact.
  const big = require('node:crypto').randomBytes(150 * 1024).toString('hex');
  const echo = await new Promise((resolve, reject) => {
    const u = new URL(d.url + '/test/echo');
    const r = https.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent: false,
      ca: fs.readFileSync(cert), headers: { 'content-type': 'text/plain', 'content-length': big.length } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    r.on('error', reject);
    r.end(big);
  });
  assert.equal(echo.status, 200);
  assert.equal(echo.body.length, big.length);
  assert.ok(echo.body === big, 'the echo differs');
  fs.rmSync(repo, { recursive: true, force: true });
});

test('wss: a subscriber gets a burst of events in order, none missing', async () => {
  const sock = new WebSocket(`${d.url.replace('https', 'wss')}/ws`, ['bearer', d.token], { ca: fs.readFileSync(cert) });
  const seqs = [];
  await new Promise((resolve, reject) => { sock.on('open', resolve); sock.on('error', reject); });
  const subscribed = new Promise((resolve) => sock.on('message', (m) => {
    const x = JSON.parse(m.toString());
    if (x.type === 'subscribed') resolve();
    if (x.type === 'tls_burst') seqs.push(x.seq);
  }));
  sock.send(JSON.stringify({ type: 'subscribe', payload: { topics: ['tls'] } }));
  await subscribed;
  const n = 3000;
  const r = await req(d, 'POST', '/test/publish', { body: { type: 'tls_burst', topics: ['tls'], count: n, payload: { pad: 'x'.repeat(300) } } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await until(() => seqs.length >= n, `${n} events over TLS`);
  assert.equal(seqs.length, n);
  for (let i = 1; i < n; i++) assert.equal(seqs[i], seqs[i - 1] + 1);
  sock.close();
});

test('pipelined requests in one TLS write all get their answers, in order', async () => {
  const u = new URL(d.url);
  const s = tls.connect({ host: u.hostname, port: Number(u.port), ca: fs.readFileSync(cert), servername: 'localhost' });
  await new Promise((resolve, reject) => { s.on('secureConnect', resolve); s.on('error', reject); });
  const one = (i) => `GET /healthz?i=${i} HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`;
  s.write(one(1) + one(2) + one(3) + `GET /healthz HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\n\r\n`);
  let got = '';
  s.on('data', (c) => { got += c.toString(); });
  await new Promise((resolve) => s.on('end', resolve));
  assert.equal(got.match(/HTTP\/1\.1 200 OK/g).length, 4, got);
});

test('plain HTTP on the TLS port is told to use https; garbage is closed; the daemon goes on', async () => {
  const u = new URL(d.url);
  const plain = await new Promise((resolve, reject) => {
    http.get({ host: u.hostname, port: u.port, path: '/healthz', agent: false }, (res) => {
      let b = '';
      res.on('data', (c) => { b += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(b) }));
    }).on('error', reject);
  });
  assert.equal(plain.status, 400);
  assert.equal(plain.body.error.code, 'TLS_REQUIRED');
  // Bytes that are neither TLS nor HTTP: closed, nothing answered.
  const junk = await new Promise((resolve) => {
    const s = net.connect(Number(u.port), u.hostname, () => s.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5, 0xff, 0xfe])));
    let got = Buffer.alloc(0);
    s.on('data', (c) => { got = Buffer.concat([got, c]); });
    s.on('close', () => resolve(got));
    s.on('error', () => {});
    setTimeout(() => s.destroy(), 5000);
  });
  assert.ok(!junk.toString('latin1').includes('HTTP/1.1'), 'no HTTP answer to garbage');
  assert.equal((await req(d, 'GET', '/healthz', { auth: false })).status, 200);
});

test('a certificate that cannot be used stops the daemon with the reason', async () => {
  const cases = [
    { args: ['--tls-cert', path.join(dir, 'missing.pem'), '--tls-key', key], want: /--tls-cert/ },
    { args: ['--tls-cert', cert, '--tls-key', otherKey], want: /mismatch|does not match/ },
    { args: ['--tls-cert', cert], want: /go together/ },
  ];
  for (const c of cases) {
    const data = daemon.tmpDir('agentd-tlsbad-');
    const r = spawnSync(daemon.BIN, ['serve', '--listen', '127.0.0.1:0', '--data-dir', data, ...c.args],
      { encoding: 'utf8', timeout: 10000 });
    assert.notEqual(r.status, 0, `${c.args.join(' ')} started`);
    assert.match(r.stderr, c.want);
    fs.rmSync(data, { recursive: true, force: true });
  }
});
