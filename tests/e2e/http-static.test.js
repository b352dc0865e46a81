// SPDX-License-Identifier: MIT
// The embedded assets: Content-Type, ETag and 304, precompressed gzip with
// Vary, cache headers (immutable for hashed names, no-cache for the page),
// the single-page-app fallback, and path traversal attempts that must never
// leave the table.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const { start } = require('./lib/daemon');
const { exchange, parseResponses } = require('./lib/raw');

// The folder the build embedded: scripts/web.mk exports AGENTD_ASSET_DIR
// when it embeds the built dashboard; otherwise the placeholder page.
const WEB = process.env.AGENTD_ASSET_DIR
  ? path.resolve(__dirname, '../..', process.env.AGENTD_ASSET_DIR)
  : path.resolve(__dirname, '../../web/placeholder');
const PLACEHOLDER = WEB === path.resolve(__dirname, '../../web/placeholder');
const INDEX = fs.readFileSync(path.join(WEB, 'index.html'), 'latin1');
const CSS_PATH = '/assets/' + fs.readdirSync(path.join(WEB, 'assets')).filter((f) => f.endsWith('.css')).sort()[0];
const CSS = fs.readFileSync(path.join(WEB, CSS_PATH), 'latin1');

let d;
test.before(async () => { d = await start(); });
test.after(async () => { await d.cleanup(); });

async function get(p, headers = '') {
  const r = await exchange(d.url, `GET ${p} HTTP/1.1\r\nHost: localhost\r\n${headers}\r\n`);
  return parseResponses(r.text)[0];
}

// GET p with Accept-Encoding ae, its bytes as they came: the head (text),
// the body (a Buffer, Content-Length long) and the size of both on the wire.
async function rawGet(p, ae) {
  const raw = await exchange(d.url, `GET ${p} HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: ${ae}\r\n\r\n`);
  const end = raw.buf.indexOf('\r\n\r\n');
  const head = raw.buf.slice(0, end).toString('latin1');
  const len = Number(/\r\nContent-Length: (\d+)/i.exec(head)[1]);
  return { head, body: raw.buf.slice(end + 4, end + 4 + len), wire: end + 4 + len };
}

test('/ serves the placeholder page with no-cache and a strong ETag', async () => {
  const r = await get('/');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(r.headers['cache-control'], 'no-cache');
  assert.match(r.headers.etag, /^"[0-9a-f]+-[0-9a-f]+"$/);
  assert.equal(r.body, INDEX);
  if (PLACEHOLDER) {
    assert.match(r.body, /dashboard is not built/);
    assert.match(r.body, /href="\/healthz"/);
  }
  assert.equal((await get('/index.html')).body, INDEX);
});

test('If-None-Match with the ETag answers 304 without a body', async () => {
  const first = await get(CSS_PATH);
  const etag = first.headers.etag;
  let r = await get(CSS_PATH, `If-None-Match: ${etag}\r\n`);
  assert.equal(r.status, 304);
  assert.equal(r.body, '');
  assert.equal(r.headers.etag, etag);
  r = await get(CSS_PATH, `If-None-Match: "nope", W/${etag}\r\n`);
  assert.equal(r.status, 304);
  r = await get(CSS_PATH, 'If-None-Match: "other"\r\n');
  assert.equal(r.status, 200);
  assert.notEqual((await get('/')).headers.etag, etag);
});

test('hashed assets are immutable for a year, with the right Content-Type', async () => {
  const r = await get(CSS_PATH);
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'text/css; charset=utf-8');
  assert.equal(r.headers['cache-control'], 'public, max-age=31536000, immutable');
  assert.equal(r.body, CSS);
});

test('gzip is served when Accept-Encoding allows it, identity otherwise', async () => {
  const { head, body: gz } = await rawGet('/', 'br, gzip;q=0.8');
  assert.match(head, /\r\nContent-Encoding: gzip(\r\n|$)/);
  assert.match(head, /\r\nVary: Accept-Encoding\r\n/);
  assert.ok(gz.length < INDEX.length);
  assert.equal(zlib.gunzipSync(gz).toString('latin1'), INDEX);
  for (const ae of ['gzip;q=0', 'identity', 'br', 'gzip;q=0.000']) {
    const r = await get('/', `Accept-Encoding: ${ae}\r\n`);
    assert.equal(r.headers['content-encoding'], undefined, ae);
    assert.equal(r.body, INDEX);
  }
  const star = await exchange(d.url, 'GET / HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: *\r\n\r\n');
  assert.match(star.text, /Content-Encoding: gzip/);
  // HEAD: same headers, no body
  const h = await exchange(d.url, 'HEAD / HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\n\r\n');
  assert.match(h.text, /Content-Encoding: gzip\r\n\r\n$/);
});

test('unknown app paths fall back to index.html; /api/ and /ws stay 404', async () => {
  for (const p of ['/agents/ag_1', '/settings', '/some/deep/route?x=1']) {
    const r = await get(p);
    assert.equal(r.status, 200, p);
    assert.equal(r.body, INDEX, p);
  }
  for (const p of ['/api/nothing', '/api', '/ws/nothing']) {
    const r = await get(p);
    assert.equal(r.status, 404, p);
    assert.equal(JSON.parse(r.body).error.code, 'NOT_FOUND');
  }
  const post = await exchange(d.url, 'POST /index.html HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n');
  assert.equal(parseResponses(post.text)[0].status, 404);
});

test('path traversal never reaches the file system', async () => {
  const attempts = [
    '/../../../../etc/passwd',
    '/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
    '/assets/..%2f..%2f..%2fMakefile',
    '/..%5c..%5cetc%5cpasswd',
    '//etc/passwd',
    '/assets/../../src/main.c',
    '/%252e%252e/etc/passwd',
    '/web/placeholder/index.html/../../../Makefile',
  ];
  for (const p of attempts) {
    const r = await exchange(d.url, `GET ${p} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    const x = parseResponses(r.text)[0];
    assert.ok(x, p);
    assert.ok([200, 400, 404].includes(x.status), `${p}: ${x.status}`);
    assert.doesNotMatch(x.body, /root:|int main|BUILD \?=/, p);
    if (x.status === 200) assert.equal(x.body, INDEX, p);
  }
});

// The dashboard's first load (issue #80, B1's "≤ 60 KB"): the page and
// everything it names (its scripts, the module preloads, the styles, the
// icon and the manifest), gzip on the wire as a browser gets them, the
// responses' headers counted as B1's (the browser's encodedDataLength). Every
// page but the overview is its own chunk, loaded when opened; a static
// import of one (the first-run card's requirements checklist once pulled
// in the whole Health page, 22 KB of script) shows here.
const FIRST_LOAD_MAX = 60 * 1024;

test('the dashboard\'s first load is within 60 KiB on the wire', { skip: PLACEHOLDER && 'the placeholder page (no dashboard built)' }, async (t) => {
  const paths = ['/', ...[...INDEX.matchAll(/\s(?:src|href)="(\/[^"]+)"/g)].map((m) => m[1])];
  assert.ok(paths.some((p) => /^\/assets\/index-[\w-]+\.js$/.test(p)), `the page's script: ${paths}`);
  const sizes = [];
  for (const p of paths) {
    const { head, wire } = await rawGet(p, 'gzip, deflate, br');
    assert.match(head, /^HTTP\/1\.1 200 /, p);
    sizes.push([p, wire]); // the response as it crosses the wire: its headers and its body
  }
  const total = sizes.reduce((s, [, n]) => s + n, 0);
  t.diagnostic(`first load ${total} B: ${sizes.map(([p, n]) => `${p} ${n}`).join(', ')}`);
  assert.ok(total <= FIRST_LOAD_MAX, `${total} B: ${sizes.map(([p, n]) => `${p} ${n}`).join(', ')}`);
});
