// SPDX-License-Identifier: MIT
// Accounts across control planes (issue #77, docs/operations.md "Several
// control planes"): two planes on one PostgreSQL database, each with its
// own data dir and so its own owner token. Either plane's owner token is
// the owner on both; a token made through one is listed, used and revoked
// through the other; a revocation through one closes the other's live
// sockets of that token; a dashboard session made through one signs in
// through the other (the cookie renamed as a shared address would send
// it) until a logout through the first; a login code made through one
// signs in once, through either.
// Skipped (saying why) without PostgreSQL 15.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { api, until } = require('./lib/api');
const { Live } = require('./lib/live');
const { PG_BIN, startPostgres } = require('./lib/pg');

const missing = !fs.existsSync(path.join(PG_BIN, 'initdb')) ? `no PostgreSQL 15 (${PG_BIN}/initdb)` : null;
if (missing) process.stdout.write(`# planes-auth.test.js skipped: ${missing}\n`);

const bearer = (t) => ({ authorization: `Bearer ${t}` });
const port = (d) => new URL(d.url).port;

// A request to d with exactly these headers (no owner token added).
async function raw(d, method, p, body, headers = {}) {
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['content-type'] = 'application/json';
  }
  const res = await fetch(d.url + p, init);
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (_) { json = text; }
  return { status: res.status, body: json, headers: res.headers };
}

// The session cookie d set, as the headers a browser on d's page sends.
function cookieFor(d, setCookie) {
  const [pair] = setCookie.split(';');
  return { cookie: pair, origin: d.url };
}

// The same session as a browser would send it to plane to (one address in
// front of both planes: one cookie name).
function cookieTo(to, c) {
  const value = c.cookie.slice(c.cookie.indexOf('=') + 1);
  return { cookie: `agentd_session_${port(to)}=${value}`, origin: to.url };
}

test('two planes on one database: one owner, tokens, sessions and login codes on both', { skip: missing || false, timeout: 180000 }, async (t) => {
  const pg = await startPostgres();
  const dbUrl = pg.createDb('authplanes');
  const start = (id) => daemon.start({ needUrl: true, env: { AGENTD_DATABASE_URL: dbUrl }, args: ['--plane-id', id] });
  const a = await start('plane_a'); // migrates the database first
  const b = await start('plane_b');
  t.after(async () => {
    await a.cleanup();
    await b.cleanup();
    pg.stop();
  });
  assert.notEqual(a.token, b.token, 'each plane made its own owner token');

  // Either owner token is the owner on both planes.
  await until(async () => (await raw(b, 'GET', '/api/tokens', undefined, bearer(a.token))).status === 200, "A's owner token on B");
  await until(async () => (await raw(a, 'GET', '/api/tokens', undefined, bearer(b.token))).status === 200, "B's owner token on A");
  assert.equal((await raw(b, 'GET', '/api/tokens', undefined, bearer(`${a.token}x`))).status, 401);

  // A token made through A: listed on B, used on B, and B's live socket of
  // it closes when A revokes it.
  const made = await api(a, 'POST', '/api/tokens', { name: 'both', scope: 'write' });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  await until(async () => (await api(b, 'GET', '/api/tokens')).body.tokens?.some((x) => x.id === made.body.id), 'the token listed on B');
  assert.equal((await raw(b, 'GET', '/api/agents', undefined, bearer(made.body.token))).status, 200);
  const live = await Live.open({ url: b.url, authHeaders: bearer(made.body.token) }, '/ws');
  assert.equal((await api(a, 'DELETE', `/api/tokens/${made.body.id}`)).status, 204);
  const code = await Promise.race([live.closed, new Promise((resolve) => setTimeout(() => resolve('open'), 20000))]);
  assert.notEqual(code, 'open', "B's socket of the revoked token closed");
  assert.equal((await raw(b, 'GET', '/api/agents', undefined, bearer(made.body.token))).status, 401);
  await until(async () => (await api(b, 'GET', '/api/tokens')).body.tokens?.find((x) => x.id === made.body.id)?.revokedAt, 'B lists it revoked');

  // A token made through A after B started is revoked through B (not 404).
  const second = await api(a, 'POST', '/api/tokens', { name: 'second', scope: 'read' });
  assert.equal((await api(b, 'DELETE', `/api/tokens/${second.body.id}`)).status, 204);
  await until(async () => (await raw(a, 'GET', '/api/agents', undefined, bearer(second.body.token))).status === 401, 'revoked through B, refused on A');

  // A session made through A signs in through B until A's logout.
  const login = await raw(a, 'POST', '/api/auth/login', { token: a.token }, { origin: a.url });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  const onA = cookieFor(a, login.headers.get('set-cookie'));
  assert.equal((await raw(b, 'GET', '/api/agents', undefined, cookieTo(b, onA))).status, 200, "A's session on B");
  const sessionLive = await Live.open({ url: b.url, authHeaders: cookieTo(b, onA) }, '/ws');
  assert.equal((await raw(a, 'POST', '/api/auth/logout', {}, onA)).status < 300, true);
  await until(async () => (await raw(b, 'GET', '/api/agents', undefined, cookieTo(b, onA))).status === 401, 'logged out through A, refused on B');
  const sessionEnd = await Promise.race([sessionLive.closed, new Promise((resolve) => setTimeout(() => resolve('open'), 20000))]);
  assert.notEqual(sessionEnd, 'open', "B's socket of the ended session closed");

  // A login code made through A signs in through B, once.
  const lc = await api(a, 'POST', '/api/auth/login-code', {});
  assert.equal(lc.status, 201, JSON.stringify(lc.body));
  const viaB = await raw(b, 'POST', '/api/auth/login', { code: lc.body.code }, { origin: b.url });
  assert.equal(viaB.status, 200, JSON.stringify(viaB.body));
  assert.equal((await raw(b, 'GET', '/api/agents', undefined, cookieFor(b, viaB.headers.get('set-cookie')))).status, 200);
  const again = await raw(a, 'POST', '/api/auth/login', { code: lc.body.code }, { origin: a.url });
  assert.equal(again.status, 401, 'a login code signs in once, whichever plane');
});
