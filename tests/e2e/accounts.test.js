// SPDX-License-Identifier: MIT
// User accounts (issue #74): a username and an argon2id password hash, a
// role per org that is a token scope, sign-in beside the token and the
// login URL, rate-limited like them. Tried as an attacker would: a role's
// scope is what the session gets and no more, a wrong password and an
// unknown user answer alike, a disabled account's open sessions end,
// another org's admin cannot see or touch this org's accounts, guessing
// is refused after a few tries, and the password is nowhere but in the hash.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');

let d;
test.before(async () => { d = await daemon.start({ needUrl: true }); });
test.after(async () => { await d.cleanup(); });

async function call(method, p, body, headers = {}) {
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
const owner = () => d.authHeaders;
const bearer = (t) => ({ authorization: `Bearer ${t}` });

// Signs in; resolves {status, cookie, body}. The cookie's requests carry our
// own Origin, as the dashboard's do.
async function signIn(username, password, extra = {}) {
  const r = await call('POST', '/api/auth/login', { username, password, ...extra });
  const set = r.headers.get('set-cookie');
  const cookie = set ? { cookie: set.split(';')[0], origin: d.url } : null;
  return { status: r.status, cookie, body: r.body, headers: r.headers };
}

const PW = 'correct horse battery';

test('an account signs in with its password and gets its role\'s scope, no more', async () => {
  let r = await call('POST', '/api/users', { username: 'alice', password: PW, role: 'write' }, owner());
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.username, 'alice');
  assert.deepEqual(r.body.roles, [{ orgId: 'org_default', role: 'write' }]);
  assert.ok(!JSON.stringify(r.body).includes(PW) && !/hash|password/i.test(JSON.stringify(r.body)));
  // the same name again is a conflict; a weak or bad one is refused
  assert.equal((await call('POST', '/api/users', { username: 'alice', password: PW }, owner())).status, 409);
  assert.equal((await call('POST', '/api/users', { username: 'bob', password: 'short' }, owner())).status, 422);
  assert.equal((await call('POST', '/api/users', { username: 'Bob Smith', password: PW }, owner())).status, 422);
  const nul = await call('POST', '/api/users', { username: 'bob', password: 'abcdefgh\u0000zz' }, owner());
  assert.ok(nul.status === 400 || nul.status === 422, JSON.stringify(nul.body));
  assert.ok(!(await call('GET', '/api/users', undefined, owner())).body.users.some((u) => u.username === 'bob'));

  const s = await signIn('alice', PW);
  assert.equal(s.status, 200, JSON.stringify(s.body));
  assert.match(s.headers.get('set-cookie'), /^agentd_session_\d+=[^;]+; Path=\/; HttpOnly; SameSite=Strict/);
  assert.equal(s.body.principal.scope, 'write');
  assert.equal(s.body.principal.orgId, 'org_default');
  const who = await call('GET', '/api/auth/whoami', undefined, s.cookie);
  assert.equal(who.status, 200);
  assert.equal(who.body.name, 'user:alice');
  // write: a crew may be made; admin: no token, no account
  assert.equal((await call('POST', '/api/crews', { name: 'alice-crew' }, s.cookie)).status, 201);
  assert.equal((await call('POST', '/api/tokens', { name: 'x', scope: 'read' }, s.cookie)).status, 403);
  assert.equal((await call('GET', '/api/users', undefined, s.cookie)).status, 403);

  // a role lowered: the session of the old role ends at once, the new one reads only
  r = await call('PUT', '/api/users/alice/roles/org_default', { role: 'read' }, owner());
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal((await call('GET', '/api/auth/whoami', undefined, s.cookie)).status, 401);
  const s2 = await signIn('alice', PW);
  assert.equal(s2.body.principal.scope, 'read');
  assert.equal((await call('POST', '/api/crews', { name: 'nope' }, s2.cookie)).status, 403);
  assert.equal((await call('GET', '/api/crews', undefined, s2.cookie)).status, 200);
  // an admin role: the account may manage its org's accounts
  await call('PUT', '/api/users/alice/roles/org_default', { role: 'admin' }, owner());
  const s3 = await signIn('alice', PW);
  assert.equal(s3.body.principal.scope, 'admin');
  assert.equal((await call('GET', '/api/users', undefined, s3.cookie)).status, 200);
  // no role: no sign-in
  await call('DELETE', '/api/users/alice/roles/org_default', undefined, owner());
  assert.equal((await call('GET', '/api/auth/whoami', undefined, s3.cookie)).status, 401);
  assert.equal((await signIn('alice', PW)).status, 401);
  await call('PUT', '/api/users/alice/roles/org_default', { role: 'write' }, owner());
});

test('a wrong password and an unknown user are the same 401; a new password ends the old one', async () => {
  const wrong = await signIn('alice', 'not the password');
  const nobody = await signIn('mallory', 'not the password');
  assert.equal(wrong.status, 401);
  assert.equal(nobody.status, 401);
  assert.deepEqual(wrong.body, nobody.body);
  assert.equal(wrong.cookie, null);
  // an account id is no username
  const id = (await call('GET', '/api/users', undefined, owner())).body.users.find((u) => u.username === 'alice').id;
  assert.equal((await signIn(id, PW)).status, 401);
  // token and password at once, or a password alone: refused
  assert.equal((await call('POST', '/api/auth/login', { username: 'alice', password: PW, token: 'x' })).status, 422);
  assert.equal((await call('POST', '/api/auth/login', { password: PW })).status, 422);

  const r = await call('PATCH', '/api/users/alice', { password: 'a brand new secret' }, owner());
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal((await signIn('alice', PW)).status, 401);
  assert.equal((await signIn('alice', 'a brand new secret')).status, 200);
  await call('PATCH', '/api/users/alice', { password: PW }, owner());
});

test('a disabled account\'s open session ends and it cannot sign in again', async () => {
  await call('POST', '/api/users', { username: 'carol', password: PW, role: 'read' }, owner());
  const s = await signIn('carol', PW);
  assert.equal((await call('GET', '/api/auth/whoami', undefined, s.cookie)).status, 200);
  const r = await call('PATCH', '/api/users/carol', { disabled: true }, owner());
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.disabled, true);
  assert.deepEqual(r.body.roles, []);
  assert.equal((await call('GET', '/api/auth/whoami', undefined, s.cookie)).status, 401);
  assert.equal((await signIn('carol', PW)).status, 401);
  assert.equal((await call('PUT', '/api/users/carol/roles/org_default', { role: 'read' }, owner())).status, 409);
  assert.equal((await call('PATCH', '/api/users/carol', { disabled: false }, owner())).status, 422);
  assert.equal((await call('DELETE', '/api/users/carol', undefined, owner())).status, 204);
  assert.equal((await call('GET', '/api/users/carol', undefined, owner())).status, 405);
  assert.ok(!(await call('GET', '/api/users', undefined, owner())).body.users.some((u) => u.username === 'carol'));
});

test('another org\'s admin cannot see or touch this org\'s accounts, nor give roles here', async () => {
  let r = await call('POST', '/api/orgs', { name: 'other' }, owner());
  assert.equal(r.status, 201);
  const orgB = r.body.id;
  r = await call('POST', '/api/tokens', { name: 'b-admin', scope: 'admin', orgId: orgB }, owner());
  const b = bearer(r.body.token);
  // B's admin makes its own account: its home is B, whatever it asks
  r = await call('POST', '/api/users', { username: 'bert', password: PW, role: 'admin' }, b);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.orgId, orgB);
  assert.equal((await call('POST', '/api/users', { username: 'bert2', password: PW, orgId: 'org_default' }, b)).status, 403);
  // it lists B's accounts only
  r = await call('GET', '/api/users', undefined, b);
  assert.deepEqual(r.body.users.map((u) => u.username), ['bert']);
  // alice (org_default) is none of its business: 404 like a missing one
  for (const [m, p, body] of [['PATCH', '/api/users/alice', { password: 'taken over!!' }],
    ['PATCH', '/api/users/alice', { disabled: true }], ['DELETE', '/api/users/alice'],
    ['PUT', `/api/users/alice/roles/${orgB}`, { role: 'admin' }],
    ['DELETE', '/api/users/alice/roles/org_default']]) {
    r = await call(m, p, body, b);
    assert.equal(r.status, 404, `${m} ${p}: ${JSON.stringify(r.body)}`);
  }
  // nor can it give its own account a role in org_default
  r = await call('PUT', '/api/users/bert/roles/org_default', { role: 'admin' }, b);
  assert.equal(r.status, 403, JSON.stringify(r.body));
  // alice is untouched and signs in as before
  const s = await signIn('alice', PW);
  assert.equal(s.status, 200);
  assert.equal(s.body.principal.scope, 'write');
  // bert's session is B's admin: it sees B, not org_default's crews
  const sb = await signIn('bert', PW);
  assert.equal(sb.body.principal.orgId, orgB);
  const crews = await call('GET', '/api/crews', undefined, sb.cookie);
  assert.ok(!JSON.stringify(crews.body).includes('alice-crew'));
  // the owner gives bert a role in the default org too: he picks it at sign-in
  r = await call('PUT', '/api/users/bert/roles/org_default', { role: 'read' }, owner());
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal((await signIn('bert', PW, { orgId: 'org_default' })).body.principal.scope, 'read');
  // B's admin sees only B's role of bert
  r = await call('GET', '/api/users', undefined, b);
  assert.deepEqual(r.body.users[0].roles, [{ orgId: orgB, role: 'admin' }]);
  // and may no longer set his password (it would sign in to org_default with it),
  // disable or remove him: the owner's now; B's own role stays B's to change
  for (const [m, body] of [['PATCH', { password: 'b admin knows it' }], ['PATCH', { disabled: true }], ['DELETE']]) {
    r = await call(m, '/api/users/bert', body, b);
    assert.equal(r.status, 403, `${m}: ${JSON.stringify(r.body)}`);
  }
  assert.equal((await signIn('bert', 'b admin knows it', { orgId: 'org_default' })).status, 401);
  assert.equal((await signIn('bert', PW, { orgId: 'org_default' })).status, 200);
  r = await call('PUT', `/api/users/bert/roles/${orgB}`, { role: 'write' }, b);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.roles, [{ orgId: orgB, role: 'write' }]);
});

test('agentd user add|ls|passwd|rm over the unix socket; the password from stdin only', async () => {
  const cli = (args, input) => daemon.run(['--data-dir', d.dataDir, 'user', ...args], { input });
  let r = cli(['add', 'dave', '--role', 'write'], 'dave password 1\n');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /made dave \(usr_/);
  assert.equal((await signIn('dave', 'dave password 1')).body.principal.scope, 'write');
  r = cli(['ls']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /dave\s+org_default\s+active\s+org_default:write/);
  r = cli(['passwd', 'dave'], 'dave password 2\n');
  assert.equal(r.status, 0, r.stderr);
  assert.equal((await signIn('dave', 'dave password 1')).status, 401);
  assert.equal((await signIn('dave', 'dave password 2')).status, 200);
  r = cli(['add', 'erin'], '');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no password/);
  r = cli(['add', 'erin'], 'short\n');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /password/);
  r = cli(['rm', 'dave']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal((await signIn('dave', 'dave password 2')).status, 401);
  r = cli(['rm', 'dave']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no such account/);
});

test('no password is kept, logged or shown anywhere but as its argon2id hash', async () => {
  const rows = daemon.dbRows(d.dataDir, "SELECT pw_hash FROM accounts WHERE username = 'alice'");
  assert.match(JSON.stringify(rows), /\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  const db = fs.readdirSync(d.dataDir).filter((f) => /\.db/.test(f))
    .map((f) => fs.readFileSync(path.join(d.dataDir, f)).toString('latin1')).join('');
  for (const secret of [PW, 'a brand new secret', 'dave password 1', 'not the password']) {
    assert.ok(!db.includes(secret), `the database holds ${secret}`);
    assert.ok(!d.stdout.includes(secret) && !(d.stderr || '').includes(secret), `the log holds ${secret}`);
  }
  const audit = await call('GET', '/api/audit?limit=1000', undefined, owner());
  assert.ok(!JSON.stringify(audit.body).includes(PW));
});

// On a daemon of its own: the lockout covers the whole loopback network.
test('guessing passwords is refused with 429 after 10 tries, before any hash is spent', async () => {
  const d2 = await daemon.start({ needUrl: true });
  try {
    const r = await fetch(`${d2.url}/api/users`, { method: 'POST', headers: { ...d2.authHeaders, 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: PW, role: 'read' }) });
    assert.equal(r.status, 201);
    const login = (username, password) => fetch(`${d2.url}/api/auth/login`, { method: 'POST',
      headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
    for (let i = 0; i < 9; i++) assert.equal((await login('alice', `guess ${i}`)).status, 401, `try ${i}`);
    assert.equal((await login('alice', PW)).status, 200, 'the right one before the lockout');
    assert.equal((await login('alice', 'guess 9')).status, 401);
    const locked = await login('alice', 'guess 10');
    assert.equal(locked.status, 429, await locked.text());
    assert.ok(Number(locked.headers.get('retry-after')) > 0);
    // the right password too, while locked: no hash for a guesser to time
    assert.equal((await login('alice', PW)).status, 429);
    // the owner's token still gets in
    const t = await fetch(`${d2.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: d2.token }) });
    assert.equal(t.status, 200);
  } finally {
    await d2.cleanup();
  }
});
