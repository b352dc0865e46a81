// SPDX-License-Identifier: MIT
// Credentials in the Secret Service: with a session bus (a private
// dbus-daemon and gnome-keyring-daemon, unlocked, started here) a stored key
// goes to the keyring through libsecret, not to a file; no file under the
// data dir holds it; a restarted daemon reads it back (validate works with
// it); AGENTD_CREDENTIALS=file keeps the 0600 file; a delete clears it; a
// keyring that cannot take the key (no unlocked collection: a prompt nobody
// answers) leaves it in the 0600 file, within the call's timeout.
// Skipped when dbus-daemon, gnome-keyring-daemon or libsecret is missing.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const daemon = require('./lib/daemon');
const mockAnthropic = require('../fixtures/mock-anthropic');
const { api, until } = require('./lib/api');

const KEY = 'sk-ant-keyring-SECRET-4242';
const have = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const skip = !have('dbus-daemon') || !have('gnome-keyring-daemon') ||
  !/libsecret-1\.so\.0/.test(spawnSync('ldconfig', ['-p'], { encoding: 'utf8' }).stdout || '')
  ? 'needs dbus-daemon, gnome-keyring-daemon and libsecret-1-0' : false;

let bus; // {proc, address}
let keyring;
let mock;
let home;

// Resolves with the first line of proc's stdout matching re (bounded).
function line(proc, re, what) {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start: ${out}`)), 10000);
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (s) => {
      out += s;
      const m = out.match(re);
      if (m) { clearTimeout(timer); resolve(m); }
    });
    proc.on('exit', () => { clearTimeout(timer); reject(new Error(`${what} exited: ${out}`)); });
  });
}

test.before(async () => {
  if (skip) return;
  home = daemon.tmpDir();
  const env = { ...process.env, HOME: home, XDG_DATA_HOME: path.join(home, 'data') };
  delete env.DBUS_SESSION_BUS_ADDRESS;
  const b = spawn('dbus-daemon', ['--session', '--nofork', '--print-address=1'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  bus = { proc: b, address: null }; // ended by test.after whatever happens next
  bus.address = (await line(b, /^(unix:\S+)\n/m, 'dbus-daemon'))[1];
  env.DBUS_SESSION_BUS_ADDRESS = bus.address;
  keyring = spawn('gnome-keyring-daemon', ['--foreground', '--unlock', '--components=secrets'], { env, stdio: ['pipe', 'pipe', 'ignore'] });
  keyring.stdin.end('test-password');
  await line(keyring, /GNOME_KEYRING_CONTROL=/, 'gnome-keyring-daemon');
  mock = await mockAnthropic.start({ direct: true, apiKey: KEY, rules: [{ reply: { text: 'ok' } }] });
});
test.after(async () => {
  if (keyring) keyring.kill('SIGTERM');
  if (bus) bus.proc.kill('SIGTERM');
  if (mock) await mock.close();
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

function filesWith(dir, needle) {
  const hits = [];
  const walk = (p) => {
    for (const e of fs.readdirSync(p, { withFileTypes: true })) {
      const f = path.join(p, e.name);
      if (e.isDirectory()) walk(f);
      else if (e.isFile() && fs.readFileSync(f).includes(needle)) hits.push(f);
    }
  };
  walk(dir);
  return hits;
}

// The keyring's items of this data dir (python3-dbus asks the Secret
// Service directly; -1 when python3-dbus is missing).
function items(dataDir) {
  const py = `
import dbus, sys
b = dbus.SessionBus()
s = dbus.Interface(b.get_object('org.freedesktop.secrets', '/org/freedesktop/secrets'), 'org.freedesktop.Secret.Service')
u, l = s.SearchItems({'agentd-data': sys.argv[1], 'org': 'org_default', 'provider': 'anthropic'})
print(len(u) + len(l))
`;
  const r = spawnSync('/usr/bin/python3', ['-c', py, fs.realpathSync(dataDir)], { env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: bus.address }, encoding: 'utf8' });
  if (r.error || (r.status !== 0 && /No module named/.test(r.stderr))) return -1;
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout.trim());
}

async function storage(d) {
  return (await api(d, 'GET', '/api/credentials/anthropic')).body.storage;
}

test('a key goes to the Secret Service and comes back after a restart', { skip }, async () => {
  const dataDir = daemon.tmpDir();
  const env = { DBUS_SESSION_BUS_ADDRESS: bus.address };
  let d = await daemon.start({ dataDir, env, needUrl: true });
  try {
    let r = await api(d, 'PUT', '/api/credentials/anthropic', { apiKey: KEY, baseUrl: mock.url });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.storage, 'secret-service');
    assert.equal(r.body.masked, '••••4242');
    assert.ok(!fs.existsSync(path.join(dataDir, 'credentials', 'org_default.anthropic.key')));
    r = await api(d, 'POST', '/api/credentials/anthropic/validate', {});
    assert.equal(r.body.valid, true, JSON.stringify(r.body));
    await d.stop();
    assert.deepEqual(filesWith(dataDir, KEY), [], 'no file under the data dir holds the key');
    // a new daemon reads it back from the keyring (on the pool, just after start)
    d = await daemon.start({ dataDir, env, needUrl: true });
    await until(async () => (await storage(d)) === 'secret-service', 'the key read back from the keyring');
    const before = mock.requests.length;
    r = await api(d, 'POST', '/api/credentials/anthropic/validate', {});
    assert.equal(r.body.valid, true, JSON.stringify(r.body));
    assert.equal(mock.requests.at(-1).headers['x-api-key'], KEY);
    assert.ok(mock.requests.length > before);
    const direct = items(dataDir) !== -1; // python3-dbus can ask the keyring itself
    if (direct) assert.equal(items(dataDir), 1, 'one item in the keyring');
    // deleted: gone from the keyring too
    r = await api(d, 'DELETE', '/api/credentials/anthropic');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    if (direct) assert.equal(items(dataDir), 0, 'the item is cleared');
  } finally {
    await d.cleanup();
  }
});

test('AGENTD_CREDENTIALS=file keeps the 0600 file even with a session bus', { skip }, async () => {
  const d = await daemon.start({ env: { DBUS_SESSION_BUS_ADDRESS: bus.address, AGENTD_CREDENTIALS: 'file' }, needUrl: true });
  try {
    const r = await api(d, 'PUT', '/api/credentials/anthropic', { apiKey: KEY, baseUrl: mock.url });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.storage, 'file');
    const f = path.join(d.dataDir, 'credentials', 'org_default.anthropic.key');
    assert.equal(fs.statSync(f).mode & 0o777, 0o600);
    assert.equal(fs.readFileSync(f, 'utf8'), KEY);
  } finally {
    await d.cleanup();
  }
});

test('a keyring that cannot take the key leaves it in the 0600 file', { skip }, async () => {
  // a second bus with a keyring daemon that was never unlocked: no login collection
  const h2 = daemon.tmpDir();
  const env = { ...process.env, HOME: h2, XDG_DATA_HOME: path.join(h2, 'data') };
  delete env.DBUS_SESSION_BUS_ADDRESS;
  const b = spawn('dbus-daemon', ['--session', '--nofork', '--print-address=1'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  let k;
  let d;
  try {
    const address = (await line(b, /^(unix:\S+)\n/m, 'dbus-daemon'))[1];
    env.DBUS_SESSION_BUS_ADDRESS = address;
    k = spawn('gnome-keyring-daemon', ['--foreground', '--components=secrets'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
    await line(k, /GNOME_KEYRING_CONTROL=/, 'gnome-keyring-daemon');
    d = await daemon.start({ env: { DBUS_SESSION_BUS_ADDRESS: address }, needUrl: true });
    const r = await api(d, 'PUT', '/api/credentials/anthropic', { apiKey: KEY, baseUrl: mock.url });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.storage, 'file');
    const f = path.join(d.dataDir, 'credentials', 'org_default.anthropic.key');
    assert.equal(fs.statSync(f).mode & 0o777, 0o600);
    assert.match(d.stderr, /kept in a 0600 file/);
    assert.ok(!d.stderr.includes(KEY), 'the log never has the key');
  } finally {
    if (d) await d.cleanup();
    if (k) k.kill('SIGTERM');
    b.kill('SIGTERM');
    fs.rmSync(h2, { recursive: true, force: true });
  }
});
