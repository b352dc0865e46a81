// SPDX-License-Identifier: MIT
// The HTTP/1.1 server as a client sees it: keep-alive, pipelining in order
// (also with asynchronous handlers), HEAD, bodies, routing answers (404,
// 405 + Allow), the error shape, CORS, the unix socket, and IPv6.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { start, run, tmpDir } = require('./lib/daemon');
const { exchange, parseResponses } = require('./lib/raw');
const { until } = require('./lib/api');

let d;
test.before(async () => { d = await start(); });
test.after(async () => { await d.cleanup(); });

test('GET /healthz answers 200 {"status":"ok"} with Date and Content-Length', async () => {
  const r = await d.fetch(`${d.url}/healthz`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/json');
  assert.ok(!Number.isNaN(Date.parse(r.headers.get('date'))));
  assert.deepEqual(await r.json(), { status: 'ok' });
});

test('keep-alive: several requests on one connection', async () => {
  const req = 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n';
  const r = await exchange(d.url, [req, 50, req, 50, req]);
  const rs = parseResponses(r.text);
  assert.equal(rs.length, 3);
  for (const x of rs) assert.equal(x.body, '{"status":"ok"}');
  assert.equal(r.closed, false);
});

test('pipelined requests are answered in order, even when handlers answer late', async () => {
  const r = await exchange(d.url,
    'GET /test/async?ms=200&id=first HTTP/1.1\r\nHost: localhost\r\n\r\n' +
    'GET /test/async?ms=10&id=second HTTP/1.1\r\nHost: localhost\r\n\r\n' +
    'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n' +
    'POST /test/echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nfifth' +
    'GET /test/items/42 HTTP/1.1\r\nHost: localhost\r\n\r\n');
  const bodies = parseResponses(r.text).map((x) => x.body);
  assert.deepEqual(bodies, ['async first', 'async second', '{"status":"ok"}', 'fifth',
    '{"id":"42","q":null,"x":null,"path":"/test/items/42"}']);
});

test('many pipelined requests in one write are all answered', async () => {
  const n = 200;
  const r = await exchange(d.url, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n'.repeat(n));
  assert.equal(parseResponses(r.text).length, n);
});

test('a client that leaves before its asynchronous answer does not hurt the server', async () => {
  // answers to /test/async sent so far (a request counts once answered)
  const answered = async () => {
    const r = await d.fetch(`${d.url}/metrics`, { headers: d.authHeaders });
    const m = /^agentd_http_requests_total\{method="GET",route="\/test\/async",status="200"\} (\d+)/m.exec(await r.text());
    return m ? Number(m[1]) : 0;
  };
  const before = await answered();
  for (let i = 0; i < 5; i++) {
    await exchange(d.url, 'GET /test/async?ms=150 HTTP/1.1\r\nHost: localhost\r\n\r\n', { leave: true });
  }
  // the answers come, to clients that have gone
  await until(async () => (await answered()) >= before + 5, 'the five answers made');
  const r = await d.fetch(`${d.url}/healthz`);
  assert.equal(r.status, 200);
});

test('HEAD gets the headers of GET and no body', async () => {
  const r = await exchange(d.url, 'HEAD /healthz HTTP/1.1\r\nHost: localhost\r\n\r\nGET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
  const parts = r.text.split('HTTP/1.1 200 OK\r\n');
  assert.equal(parts.length, 3, r.text);
  assert.equal(parts[0], '');
  // The HEAD answer: GET's headers (its length too), then nothing.
  assert.match(parts[1], /Content-Length: 15\r\n/);
  assert.ok(parts[1].endsWith('\r\n\r\n') && !parts[1].includes('{'), r.text);
  assert.ok(parts[2].endsWith('\r\n\r\n{"status":"ok"}'), r.text);
});

test('request bodies: Content-Length, chunked and Expect: 100-continue', async () => {
  let r = await d.fetch(`${d.url}/test/json`, { method: 'POST', body: '{"a":[1,2,3]}' });
  assert.deepEqual(await r.json(), { a: [1, 2, 3] });
  const x = await exchange(d.url, [
    'POST /test/echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n',
    50, '5\r\nhello\r\n', 50, '6\r\n world\r\n0\r\n\r\n']);
  const rs = parseResponses(x.text);
  assert.equal(rs[0].body, 'hello world');
  assert.equal(rs[0].headers['content-type'], 'text/plain');
  // Trailers after the last chunk are read past, not merged into the
  // headers, and the connection keeps working.
  const tr = await exchange(d.url, [
    'POST /test/echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n' +
    '5\r\nhello\r\n0\r\nX-Trailer: 1\r\nContent-Type: evil/x\r\n\r\n' +
    'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n']);
  const trs = parseResponses(tr.text);
  assert.equal(trs.length, 2, tr.text);
  assert.equal(trs[0].body, 'hello');
  assert.equal(trs[0].headers['content-type'], 'text/plain');
  assert.equal(trs[1].status, 200);
  const e = await exchange(d.url, ['POST /test/echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n', 100, 'body']);
  assert.match(e.text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
  assert.match(e.text, /\r\n\r\nbody$/);
});

test('bad JSON gets 400 INVALID_JSON in the error shape', async () => {
  const r = await d.fetch(`${d.url}/test/json`, { method: 'POST', body: '{"a":' });
  assert.equal(r.status, 400);
  const j = await r.json();
  assert.equal(j.error.code, 'INVALID_JSON');
  assert.equal(typeof j.error.message, 'string');
  assert.deepEqual(j.error.details, {});
});

test('404 and 405 with Allow; OPTIONS lists the methods', async () => {
  let r = await d.fetch(`${d.url}/api/does-not-exist`);
  assert.equal(r.status, 404);
  assert.equal((await r.json()).error.code, 'NOT_FOUND');
  r = await d.fetch(`${d.url}/healthz`, { method: 'POST' });
  assert.equal(r.status, 405);
  assert.equal(r.headers.get('allow'), 'GET, HEAD, OPTIONS');
  assert.equal((await r.json()).error.code, 'METHOD_NOT_ALLOWED');
  r = await d.fetch(`${d.url}/test/items/1`, { method: 'OPTIONS' });
  assert.equal(r.status, 204);
  assert.equal(r.headers.get('allow'), 'GET, DELETE, HEAD, OPTIONS');
  assert.equal(r.headers.get('access-control-allow-origin'), null);
  r = await d.fetch(`${d.url}/test/items/1`, { method: 'DELETE' });
  assert.equal(r.status, 404); // ad_res_error_code(AD_ENOENT)
});

test('path parameters and query strings are percent-decoded', async () => {
  const r = await d.fetch(`${d.url}/test/items/a%20b?q=x%26y&x=1+2`);
  assert.deepEqual(await r.json(), { id: 'a b', q: 'x&y', x: '1 2', path: '/test/items/a b' });
});

test('CORS headers only for configured origins', async () => {
  const c = await start({ args: ['--cors-origins', 'http://good.example,http://also.example'] });
  try {
    let r = await c.fetch(`${c.url}/test/items/1`, { method: 'OPTIONS',
      headers: { Origin: 'http://good.example', 'Access-Control-Request-Method': 'GET',
        'Access-Control-Request-Headers': 'content-type' } });
    assert.equal(r.status, 204);
    assert.equal(r.headers.get('access-control-allow-origin'), 'http://good.example');
    assert.match(r.headers.get('access-control-allow-methods'), /GET/);
    assert.equal(r.headers.get('access-control-allow-headers'), 'content-type');
    r = await c.fetch(`${c.url}/healthz`, { headers: { Origin: 'http://also.example' } });
    assert.equal(r.headers.get('access-control-allow-origin'), 'http://also.example');
    assert.match(r.headers.get('vary'), /Origin/);
    r = await c.fetch(`${c.url}/healthz`, { headers: { Origin: 'http://evil.example' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('access-control-allow-origin'), null);
    r = await c.fetch(`${c.url}/test/items/1`, { method: 'OPTIONS', headers: { Origin: 'http://evil.example' } });
    assert.equal(r.headers.get('access-control-allow-origin'), null);
  } finally {
    await c.cleanup();
  }
});

test('the unix socket in the data dir answers and is private (0600)', async () => {
  const sock = path.join(d.dataDir, 'agentd.sock');
  assert.equal(fs.statSync(sock).mode & 0o777, 0o600);
  const body = await new Promise((resolve, reject) => {
    http.get({ socketPath: sock, path: '/healthz' }, (res) => {
      let s = '';
      res.on('data', (c) => { s += c; });
      res.on('end', () => resolve(s));
    }).on('error', reject);
  });
  assert.equal(body, '{"status":"ok"}');
});

test('IPv6 loopback listens and reports a bracketed URL', async (t) => {
  let c;
  try {
    c = await start({ listen: '[::1]:0' });
  } catch (e) {
    t.skip(`no IPv6 loopback here: ${e.message.split('\n')[0]}`);
    return;
  }
  try {
    assert.match(c.stdout, /^agentd listening on http:\/\/\[::1\]:(\d+)\/\nagentd owner token \(shown once, kept in \S+\): [A-Za-z0-9_-]{43}\nagentd login: http:\/\/\[::1\]:\1\/login#code=[A-Za-z0-9_-]{43} \(once, within 5 min; later: agentd login\)\n$/);
    const r = await c.fetch(`${c.url}/healthz`);
    assert.equal(r.status, 200);
  } finally {
    await c.cleanup();
  }
});

test('stdout has the listening line, the owner token and a login code once, nothing else', async () => {
  assert.match(d.stdout, /^agentd listening on http:\/\/127\.0\.0\.1:(\d+)\/\nagentd owner token \(shown once, kept in \S+\): [A-Za-z0-9_-]{43}\nagentd login: http:\/\/127\.0\.0\.1:\1\/login#code=[A-Za-z0-9_-]{43} \(once, within 5 min; later: agentd login\)\n$/);
});

test('a port already in use: one clear line and exit 1', async () => {
  const port = new URL(d.url).port;
  const dir = tmpDir();
  const r = run(['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dir]);
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`agentd: cannot listen on 127\\.0\\.0\\.1:${port}: address already in use`));
  assert.equal(r.stdout, '');
});

test('a connection accepted just before SIGTERM still has its first request answered', async () => {
  const net = require('node:net');
  const c = await start();
  try {
    const { hostname, port } = new URL(c.url);
    const sock = net.connect({ host: hostname, port: Number(port) });
    let got = '';
    let closed = false;
    sock.setEncoding('utf8').on('data', (s) => { got += s; });
    sock.on('close', () => { closed = true; });
    sock.on('error', () => {});
    await new Promise((resolve) => sock.once('connect', resolve));
    // a later connection answered: the daemon has accepted the first (in order)
    assert.equal((await c.fetch(`${c.url}/healthz`)).status, 200);
    c.proc.kill('SIGTERM');
    await until(() => /shutting down/.test(c.stderr), 'the shutdown begun').catch((e) => { throw new Error(e.message + c.stderr.slice(-3000)); });
    sock.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await until(() => closed, 'the connection closed by the daemon');
    assert.match(got, /^HTTP\/1\.1 200 /, got);
    assert.match(got, /Connection: close/i);
    assert.match(got, /\{"status":"ok"\}$/);
  } finally {
    await c.cleanup();
  }
});
