// SPDX-License-Identifier: MIT
// A throwaway PostgreSQL 15 for the tests (issue #39): initdb into a
// temporary folder (as the user postgres when the tests run as root, which
// initdb refuses), listening on a unix socket in that folder and on a free
// port of 127.0.0.1 (password auth there, trust on the socket), stopped and
// removed by stop() or when the test process exits. No PostgreSQL binaries:
// startPostgres throws saying what to install; it never skips.
// AGENTD_TEST_PG_LOG=DIR keeps the server's log (each failed statement with
// its text) as DIR/pg-<pid>.log when the server goes.
// attachPostgres(url) gives the same handle (url, psql, createDb, dropDbs)
// on a server someone else started and stops (tests/unit/with-pg.sh, for a
// whole e2e pass): no initdb, no stop, no outage.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { freePort } = require('./redis');
const { until } = require('./api');

const PG_BIN = process.env.AGENTD_PG_BIN || '/usr/lib/postgresql/15/bin';
const PSQL = '/usr/bin/psql';
const USER = 'agentd';
const PASSWORD = 'agentd-test-password';
const started = new Set();

function stopNow(pg) {
  if (!started.has(pg)) return;
  started.delete(pg);
  spawnSync(path.join(PG_BIN, 'pg_ctl'), ['-D', pg.data, '-m', 'immediate', '-w', 'stop'],
    { stdio: 'ignore', ...pg.as });
  if (process.env.AGENTD_TEST_PG_LOG) {
    try {
      fs.copyFileSync(path.join(pg.dir, 'log'),
        path.join(process.env.AGENTD_TEST_PG_LOG, `pg-${process.pid}.log`));
    } catch { /* no log: the server never started */ }
  }
  fs.rmSync(pg.dir, { recursive: true, force: true });
}
process.on('exit', () => { for (const pg of [...started]) stopNow(pg); });

// Where a server's folder goes: AGENTD_TEST_PG_TMP, else /dev/shm when it is
// a tmpfs we may write, else the temporary folder. Each database a test
// makes is ~1,000 files, and on an ext4 without a journal (this project's
// VMs) every new inode costs a scan for recently deleted ones: a CREATE
// DATABASE of the test template took 0.5-0.9 s of system CPU there, 0.08-0.11 s
// on a tmpfs (the PostgreSQL pass of make check makes one per daemon).
function serverBase() {
  if (process.env.AGENTD_TEST_PG_TMP) return process.env.AGENTD_TEST_PG_TMP;
  try {
    fs.accessSync('/dev/shm', fs.constants.W_OK);
    const st = spawnSync('stat', ['-f', '-c', '%T', '/dev/shm'], { encoding: 'utf8' });
    if (st.status === 0 && st.stdout.trim() === 'tmpfs') return '/dev/shm';
  } catch { /* none */ }
  return os.tmpdir();
}

// uid/gid to run the server as: ours, or postgres's when we are root.
function runAs() {
  if (process.getuid() !== 0) return {};
  const id = (f) => spawnSync('id', [f, 'postgres'], { encoding: 'utf8' });
  const u = id('-u');
  const g = id('-g');
  if (u.status !== 0) {
    throw new Error('the tests run as root and there is no user postgres to run PostgreSQL as '
      + '(the Debian package postgresql makes it: make deps)');
  }
  return { uid: Number(u.stdout), gid: Number(g.stdout) };
}

// psql on one database of the server at socketDir:port; rows as psql() below.
function psqlOn(socketDir, port, db, sql) {
  const r = spawnSync(PSQL, ['-X', '-q', '-A', '-t', '-F', '\t', '-v', 'ON_ERROR_STOP=1',
    '-h', socketDir, '-p', String(port), '-U', USER, '-d', db, '-c', sql], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}

// The names of a test's own databases are [a-z0-9_] (they go into SQL text).
function checkName(name) {
  if (!/^[a-z][a-z0-9_]{0,62}$/.test(name)) throw new Error(`bad database name ${name}`);
  return name;
}

// CREATE DATABASE name (TEMPLATE template: a copy of it, which PostgreSQL
// makes file by file in milliseconds); its URL.
function createDbOn(pg, name, template) {
  pg.psql('postgres', `CREATE DATABASE ${checkName(name)}`
    + (template ? ` TEMPLATE ${checkName(template)}` : ''));
  return pg.url(name);
}

// Drops databases, cutting any connection a daemon left (WITH (FORCE));
// one psql for all of them (each -c is its own statement: DROP DATABASE
// refuses a transaction). A server already gone is no error here.
function dropDbsOn(pg, names) {
  if (names.length === 0) return;
  const args = ['-X', '-q', '-h', pg.socketDir, '-p', String(pg.port), '-U', USER, '-d', 'postgres'];
  for (const n of names) args.push('-c', `DROP DATABASE IF EXISTS ${checkName(n)} WITH (FORCE)`);
  spawnSync(PSQL, args, { stdio: 'ignore', timeout: 60000 });
}

// The server a URL names (postgres://USER@/DB?host=DIR&port=N, as
// tests/unit/with-pg.sh exports it), for tests that share it.
function attachPostgres(url) {
  // libpq's form with no host before the path (WHATWG URL refuses it)
  const q = new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
  const socketDir = q.get('host');
  const port = Number(q.get('port') || 5432);
  if (!socketDir || !socketDir.startsWith('/')) {
    throw new Error(`AGENTD_TEST_PG_URL must name a unix socket folder (?host=/dir): ${url}`);
  }
  const pg = { dir: null, socketDir, port, shared: true };
  pg.url = (db) => `postgres://${USER}@/${db}?host=${encodeURIComponent(socketDir)}&port=${port}`;
  pg.psql = (db, sql) => psqlOn(socketDir, port, db, sql);
  pg.createDb = (name, template) => createDbOn(pg, name, template);
  pg.dropDbs = (names) => dropDbsOn(pg, names);
  return pg;
}

// Starts a server; resolves { dir, socketDir, port, url(db), tcpUrl(db, password), psql(db, sql),
// createDb(name), stop() }.
async function startPostgres() {
  for (const b of ['initdb', 'pg_ctl', 'pg_isready']) {
    if (!fs.existsSync(path.join(PG_BIN, b))) {
      throw new Error(`PostgreSQL 15 is not installed (${path.join(PG_BIN, b)} is missing): `
        + 'install the Debian package postgresql (make deps does)');
    }
  }
  const as = runAs();
  const dir = fs.mkdtempSync(path.join(serverBase(), 'agentd-pg-'));
  if (as.uid !== undefined) fs.chownSync(dir, as.uid, as.gid);
  const pg = { dir, data: path.join(dir, 'data'), socketDir: dir, as: as.uid !== undefined ? as : {} };
  pg.port = await freePort();
  const sh = (bin, args) => {
    const r = spawnSync(path.join(PG_BIN, bin), args, { encoding: 'utf8', cwd: dir, timeout: 120000, ...pg.as });
    if (r.status !== 0) throw new Error(`${bin} failed (${r.status}): ${r.stderr || r.stdout}`);
    return r;
  };
  sh('initdb', ['-D', pg.data, '-U', USER, '-E', 'UTF8', '--no-sync', '--auth-local=trust',
    '--auth-host=scram-sha-256', '--no-instructions']);
  started.add(pg);
  // -w: pg_ctl returns once the server accepts connections (or fails at -t)
  sh('pg_ctl', ['-D', pg.data, '-l', path.join(dir, 'log'), '-w', '-t', '120', '-o',
    `-k ${dir} -p ${pg.port} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
  await until(() => spawnSync(path.join(PG_BIN, 'pg_isready'), ['-h', dir, '-p', String(pg.port)]).status === 0,
    'PostgreSQL to accept connections', 60000);
  pg.url = (db) => `postgres://${USER}@/${db}?host=${encodeURIComponent(dir)}&port=${pg.port}`;
  pg.tcpUrl = (db, password = PASSWORD) =>
    `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${pg.port}/${db}`;
  // One statement's rows: an array of arrays of strings (psql -A -t, tab-separated).
  pg.psql = (db, sql) => psqlOn(dir, pg.port, db, sql);
  pg.createDb = (name, template) => createDbOn(pg, name, template);
  pg.dropDbs = (names) => dropDbsOn(pg, names);
  // An outage: the server stopped at once (no checkpoint, connections cut), its
  // files kept; resume() starts it again on the same port and socket.
  pg.halt = () => sh('pg_ctl', ['-D', pg.data, '-m', 'immediate', '-w', 'stop']);
  pg.resume = async () => {
    sh('pg_ctl', ['-D', pg.data, '-l', path.join(dir, 'log'), '-w', '-t', '120', '-o',
      `-k ${dir} -p ${pg.port} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
    await until(() => spawnSync(path.join(PG_BIN, 'pg_isready'), ['-h', dir, '-p', String(pg.port)]).status === 0,
      'PostgreSQL to accept connections again', 60000);
  };
  pg.psql('postgres', `ALTER ROLE ${USER} PASSWORD '${PASSWORD}'`);
  pg.stop = () => stopNow(pg);
  // the postmaster's pid (its backends are its children): the benchmarks count their CPU
  pg.postmasterPid = () => Number(fs.readFileSync(path.join(pg.data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  return pg;
}

module.exports = { startPostgres, attachPostgres, PG_BIN, PG_USER: USER };
