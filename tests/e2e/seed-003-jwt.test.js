// SPDX-License-Identifier: MIT
// Seed fidelity, seed 003 (issue #40): "JWT validation on connection" and
// "Same authentication as REST API". Tokens are minted here with node's
// crypto (HS256 with a secret file; RS256 and ES256 with a public key file),
// and sent as the seed's client sends them: Authorization: Bearer for REST,
// the token as the only Sec-WebSocket-Protocol value for its sockets.
// The issuer and audience are checked, exp and nbf honoured, the org and
// scope claims mapped, and a JWT never gets more than a token of its scope.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const WebSocket = require('./lib/ws');
const { startApi, api } = require('./lib/api');
const { tmpDir } = require('./lib/daemon');

const b64u = (b) => Buffer.from(b).toString('base64url');

function mint(alg, key, claims, header = {}) {
  const h = b64u(JSON.stringify({ alg, typ: 'JWT', ...header }));
  const p = b64u(JSON.stringify(claims));
  const msg = `${h}.${p}`;
  let sig;
  if (alg === 'HS256') sig = crypto.createHmac('sha256', key).update(msg).digest();
  else if (alg === 'RS256') sig = crypto.sign('sha256', Buffer.from(msg), key);
  else if (alg === 'ES256') sig = crypto.sign('sha256', Buffer.from(msg), { key, dsaEncoding: 'ieee-p1363' });
  else sig = Buffer.alloc(0);
  return `${msg}.${b64u(sig)}`;
}

const now = () => Math.floor(Date.now() / 1000);
const claims = (extra = {}) => ({
  iss: 'https://id.example', aud: 'agentd', sub: 'user-1', org: 'blue', scope: 'write',
  iat: now(), exp: now() + 600, ...extra,
});
const bearer = (t) => ({ authorization: `Bearer ${t}` });

// Opens the seed's socket (token as the only subprotocol): {protocol, code}
// once it closes (a refusal: 4401) or its first message came ('message':
// /ws/mission sends each crew's state at once).
function seedSocket(url, token) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, token);
    let protocol = null;
    const timer = setTimeout(() => { resolve({ protocol, code: 'timeout' }); ws.terminate(); }, 10000);
    ws.on('open', () => { protocol = ws.protocol; });
    ws.on('message', () => { clearTimeout(timer); resolve({ protocol, code: 'message' }); ws.close(); });
    ws.on('close', (code) => { clearTimeout(timer); resolve({ protocol, code }); });
    ws.on('error', (e) => { clearTimeout(timer); resolve({ protocol, code: 'error', error: e.message }); });
  });
}

function secretFile(dir) {
  const secret = crypto.randomBytes(32).toString('hex');
  const f = path.join(dir, 'jwt-secret');
  fs.writeFileSync(f, `${secret}\n`, { mode: 0o600 });
  return { secret, f };
}

const jwtArgs = (keyArgs) => [...keyArgs, '--jwt-issuer', 'https://id.example', '--jwt-audience', 'agentd'];

test('HS256 JWTs: REST and the seed socket, org and scope from the claims, every bad one refused', async () => {
  const dir = tmpDir();
  const { secret, f } = secretFile(dir);
  const d = await startApi({ args: jwtArgs(['--jwt-secret-file', f]) });
  try {
    assert.equal((await api(d, 'POST', '/api/orgs', { name: 'blue' })).status, 201);
    assert.equal((await api(d, 'POST', '/api/orgs', { name: 'green' })).status, 201);
    const good = mint('HS256', secret, claims());
    let r = await api(d, 'GET', '/api/auth/whoami', undefined, bearer(good));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.scope, 'write');
    assert.equal(r.body.owner, false);
    assert.match(r.body.name, /user-1/);
    const blue = r.body.orgId;
    assert.match(blue, /^org_/);
    // a crew made with the JWT is blue's; a green JWT does not see it
    r = await api(d, 'POST', '/api/crews', { name: 'jwt-crew' }, bearer(good));
    assert.equal(r.status, 201, r.text);
    const greenTok = mint('HS256', secret, claims({ org: 'green', sub: 'user-2' }));
    r = await api(d, 'GET', '/api/crews', undefined, bearer(greenTok));
    assert.equal(r.status, 200);
    assert.ok(!JSON.stringify(r.body).includes('jwt-crew'), 'another org sees the crew');
    r = await api(d, 'GET', '/api/crews', undefined, bearer(good));
    assert.ok(JSON.stringify(r.body).includes('jwt-crew'));
    // never wider than a token of its scope: write cannot make tokens (admin)
    r = await api(d, 'POST', '/api/tokens', { name: 'x', scope: 'admin' }, bearer(good));
    assert.equal(r.status, 403);
    const reader = mint('HS256', secret, claims({ scope: 'openid profile agentd:read' }));
    r = await api(d, 'POST', '/api/crews', { name: 'nope' }, bearer(reader));
    assert.equal(r.status, 403);
    assert.equal((await api(d, 'GET', '/api/crews', undefined, bearer(reader))).status, 200);
    // an admin JWT is an org's admin, never the owner: it sees only its org's tokens
    const admin = mint('HS256', secret, claims({ scope: 'admin' }));
    r = await api(d, 'GET', '/api/auth/whoami', undefined, bearer(admin));
    assert.equal(r.body.scope, 'admin');
    assert.equal(r.body.owner, false);
    assert.equal(r.body.orgId, blue);

    const bad = {
      'wrong issuer': mint('HS256', secret, claims({ iss: 'https://evil.example' })),
      'wrong audience': mint('HS256', secret, claims({ aud: ['other', 'more'] })),
      expired: mint('HS256', secret, claims({ exp: now() - 3600 })),
      'no exp': mint('HS256', secret, claims({ exp: undefined })),
      'not yet valid': mint('HS256', secret, claims({ nbf: now() + 3600 })),
      'wrong secret': mint('HS256', 'another secret that is long enough!!', claims()),
      'alg none': mint('none', '', claims()),
      'unknown org': mint('HS256', secret, claims({ org: 'nobody' })),
      'no scope': mint('HS256', secret, claims({ scope: 'openid' })),
      'RS256 without a key': mint('RS256', crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, claims()),
      'tampered claims': (() => {
        const [h, , s] = good.split('.');
        return `${h}.${b64u(JSON.stringify(claims({ scope: 'admin' })))}.${s}`;
      })(),
    };
    // the seed's sockets first (bad ones below lock this network out for a
    // while): the JWT as the only subprotocol, named back; a bad one gets 4401
    const base = d.url.replace('http', 'ws');
    let s = await seedSocket(`${base}/ws/mission`, good);
    assert.equal(s.code, 'message', s.error);
    assert.equal(s.protocol, good);
    s = await seedSocket(`${base}/ws/mission`, bad.expired);
    assert.equal(s.code, 4401);
    s = await seedSocket(`${base}/ws/graph?crew_id=c1`, bad['wrong audience']);
    assert.equal(s.code, 4401);
    // a good JWT is looked at before the lockout, so 429 (after ten bad
    // ones from this network) is a refusal too
    for (const [what, tok] of Object.entries(bad)) {
      r = await api(d, 'GET', '/api/auth/whoami', undefined, bearer(tok));
      assert.ok(r.status === 401 || r.status === 429, `${what}: ${r.status} ${r.text}`);
    }
    // the audience may be one of a list
    r = await api(d, 'GET', '/api/auth/whoami', undefined, bearer(mint('HS256', secret, claims({ aud: ['x', 'agentd'] }))));
    assert.equal(r.status, 200);

  } finally {
    await d.stop();
  }
});

test('a socket opened with a JWT is closed when the JWT expires', async () => {
  const dir = tmpDir();
  const { secret, f } = secretFile(dir);
  const d = await startApi({ args: jwtArgs(['--jwt-secret-file', f, '--jwt-leeway', '0']) });
  try {
    assert.equal((await api(d, 'POST', '/api/orgs', { name: 'blue' })).status, 201);
    const tok = mint('HS256', secret, claims({ exp: now() + 2 }));
    const code = await new Promise((resolve) => {
      const ws = new WebSocket(`${d.url.replace('http', 'ws')}/ws/mission`, tok);
      const timer = setTimeout(() => { resolve('still open'); ws.terminate(); }, 15000);
      ws.on('close', (c) => { clearTimeout(timer); resolve(c); });
      ws.on('error', () => {});
    });
    assert.equal(code, 4401);
  } finally {
    await d.stop();
  }
});

test('RS256 and ES256 JWTs verify with a public key file; the other family is refused', async () => {
  for (const [alg, type, opts] of [['RS256', 'rsa', { modulusLength: 2048 }], ['ES256', 'ec', { namedCurve: 'P-256' }]]) {
    const dir = tmpDir();
    const { publicKey, privateKey } = crypto.generateKeyPairSync(type, opts);
    const pub = path.join(dir, 'jwt.pem');
    fs.writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
    const d = await startApi({ args: jwtArgs(['--jwt-public-key', pub]) });
    try {
      assert.equal((await api(d, 'POST', '/api/orgs', { name: 'blue' })).status, 201);
      const writer = mint(alg, privateKey, claims());
      assert.equal((await api(d, 'POST', '/api/crews', { name: 'c' }, bearer(writer))).status, 201);
      let r = await api(d, 'GET', '/api/auth/whoami', undefined, bearer(mint(alg, privateKey, claims({ scope: 'read' }))));
      assert.equal(r.status, 200, `${alg}: ${r.text}`);
      assert.equal(r.body.scope, 'read');
      // another key of the same family
      const other = crypto.generateKeyPairSync(type, opts).privateKey;
      r = await api(d, 'GET', '/api/auth/whoami', undefined, bearer(mint(alg, other, claims())));
      assert.equal(r.status, 401, `${alg} with another key`);
      // the public key used as an HS256 secret (the classic confusion attack)
      const confused = mint('HS256', publicKey.export({ type: 'spki', format: 'pem' }), claims());
      r = await api(d, 'GET', '/api/auth/whoami', undefined, bearer(confused));
      assert.equal(r.status, 401, `${alg}: HS256 with the public key`);
      const s = await seedSocket(`${d.url.replace('http', 'ws')}/ws/mission`, writer);
      assert.equal(s.code, 'message', s.error);
      assert.equal(s.protocol, writer);
    } finally {
      await d.stop();
    }
  }
});

test('JWT options are checked at start: issuer and audience required, a weak secret refused', async () => {
  const { run } = require('./lib/daemon');
  const dir = tmpDir();
  const { f } = secretFile(dir);
  let r = run(['serve', '--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'd1'), '--jwt-secret-file', f]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /jwt-issuer/);
  const weak = path.join(dir, 'weak');
  fs.writeFileSync(weak, 'short\n', { mode: 0o600 });
  r = run(['serve', '--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'd2'), ...jwtArgs(['--jwt-secret-file', weak])]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /at least 32 bytes/);
  // a secret others may read is no secret; a link to one is not followed
  const open = path.join(dir, 'open-secret');
  fs.writeFileSync(open, `${'s'.repeat(48)}\n`, { mode: 0o644 });
  fs.chmodSync(open, 0o644);
  r = run(['serve', '--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'd3'), ...jwtArgs(['--jwt-secret-file', open])]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /mode 0600/);
  const link = path.join(dir, 'secret-link');
  fs.symlinkSync(f, link);
  r = run(['serve', '--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'd4'), ...jwtArgs(['--jwt-secret-file', link])]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /secret-link/);
});

test('a JWT\'s subject has an API token\'s request rate (--token-rate-per-minute)', async () => {
  const dir = tmpDir();
  const { secret, f } = secretFile(dir);
  const d = await startApi({ args: [...jwtArgs(['--jwt-secret-file', f]), '--token-rate-per-minute', '5'] });
  try {
    assert.equal((await api(d, 'POST', '/api/orgs', { name: 'blue' })).status, 201);
    // two JWTs of one subject share its rate; another subject has its own
    const one = mint('HS256', secret, claims({ sub: 'alice' }));
    const again = mint('HS256', secret, claims({ sub: 'alice', iat: now() - 1 }));
    const other = mint('HS256', secret, claims({ sub: 'bob' }));
    const seen = [];
    for (let i = 0; i < 6; i++) {
      seen.push((await api(d, 'GET', '/api/auth/whoami', undefined, bearer(i % 2 ? again : one))).status);
    }
    assert.deepEqual(seen, [200, 200, 200, 200, 200, 429]);
    assert.equal((await api(d, 'GET', '/api/auth/whoami', undefined, bearer(other))).status, 200);
  } finally {
    await d.stop();
  }
});
