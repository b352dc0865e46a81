// SPDX-License-Identifier: MIT
// Starts the real agentd binary for a test: a temporary data dir, port 0 on
// 127.0.0.1, and the URL read from the line the daemon prints once it
// listens. stop() sends SIGTERM and waits for the exit; every daemon a test
// starts is stopped when the process exits, even after a failure.
'use strict';

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const BIN = process.env.AGENTD_BIN || path.resolve(__dirname, '../../../build/release/agentd');
const running = new Set();
const FIXTURES = path.resolve(__dirname, '..', '..', 'fixtures');

// Agents run under holders that outlive agentd (issue #15): whatever a test
// leaves in a data dir's holder registry ends with the test process.
const dataDirs = new Set();
function endHolders(dataDir) {
  const pids = [];
  for (const { text } of holdFiles(dataDir, 'info')) {
    const [pid, , agent] = text.trim().split(' ').map(Number);
    // an info file whose agent is not there yet says 0: kill(-0) would be
    // our own process group (the test runner)
    if (agent > 1) try { process.kill(-agent, 'SIGKILL'); } catch (_) { /* gone */ }
    if (pid > 1) try { process.kill(pid, 'SIGTERM'); pids.push(pid); } catch (_) { /* gone */ }
  }
  return pids;
}

// A pid that is gone, or a zombie nobody reaped yet (a holder's parent is
// init, which in a container may be slow or never reap).
function gone(pid) {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3) === 'Z';
  } catch (_) { return true; }
}

// The holders' folders of dataDir that hold a file named name (a run's
// "exit", its "info"): [{dir, text}].
function holdFiles(dataDir, name) {
  const root = path.join(dataDir, 'hold');
  const out = [];
  let names = [];
  try { names = fs.readdirSync(root); } catch (_) { return out; }
  for (const n of names) {
    try { out.push({ dir: path.join(root, n), text: fs.readFileSync(path.join(root, n, name), 'utf8') }); } catch (_) { /* not there */ }
  }
  return out;
}

// endHolders, then waits (at most ms) until those holders have exited, so
// nothing writes in the data dir any more when the caller removes it. The
// holders' ends are asked again meanwhile: one that was starting had no
// info file the first time.
async function endHoldersGone(dataDir, ms = 15000) {
  const until = Date.now() + ms;
  for (;;) {
    const left = endHolders(dataDir).filter((p) => !gone(p));
    if (left.length === 0 || Date.now() > until) return left;
    await new Promise((r) => setTimeout(r, 50));
  }
}

// The daemons this file started, newest last (at most KEEP_LOGS): when a
// test of the file failed, what each said last goes to the report, so a
// failure in CI can be read without running it again.
const KEEP_LOGS = 6;
const LOG_TAIL = 4000;
const started = [];

// What LeakSanitizer reported at a daemon's exit (the sanitizer build):
// memory a daemon made and never freed is memory a long-lived one piles
// up, so the file fails with the reports, whatever its tests said.
const leaks = [];
const LEAK_MARK = 'ERROR: LeakSanitizer: detected memory leaks';
// what is known not to be ours (see the file); every child inherits it
if (!/suppressions=/.test(process.env.LSAN_OPTIONS || '')) {
  const supp = `suppressions=${path.resolve(__dirname, '..', '..', 'lsan.supp')}`;
  process.env.LSAN_OPTIONS = process.env.LSAN_OPTIONS ? `${process.env.LSAN_OPTIONS}:${supp}` : supp;
}

process.on('exit', (code) => {
  for (const d of running) {
    try { d.proc.kill('SIGKILL'); } catch (_) { /* already gone */ }
  }
  for (const dir of dataDirs) endHolders(dir);
  for (const l of leaks) {
    process.stderr.write(`agentd with data dir ${l.dataDir} leaked (the first of LeakSanitizer's report):\n${l.report}\n`);
    process.exitCode = 1;
  }
  if (code !== 0) {
    for (const d of started) {
      process.stderr.write(`agentd with data dir ${d.dataDir} (${d.url || 'never ready'}; ${d.exited ? `exited code=${d.exited.code} signal=${d.exited.signal}` : 'killed at exit'}), the end of its log:\n${d.stderr.slice(-LOG_TAIL)}\n`);
    }
  }
});

// Waits (at most ms) until no process has the data dir's agentd.pid open.
async function lockLetGo(dataDir, ms = 10000) {
  let target;
  try { target = fs.realpathSync(path.join(dataDir, 'agentd.pid')); } catch (_) { return; }
  const held = () => {
    for (const p of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(p)) continue;
      let fds = [];
      try { fds = fs.readdirSync(`/proc/${p}/fd`); } catch (_) { continue; }
      for (const f of fds) {
        try { if (fs.readlinkSync(`/proc/${p}/fd/${f}`) === target) return true; } catch (_) { /* closed meanwhile */ }
      }
    }
    return false;
  };
  const end = Date.now() + ms;
  while (held() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

// Every directory tmpDir and tmpRepo made, removed when the test file's
// process exits, after its daemons were killed (the handler above runs
// first): each make check left some 6,000 of them in /tmp.
const madeDirs = [];
process.on('exit', () => {
  for (const dir of madeDirs) {
    // and the worktrees agentd made beside a repository (<repo>.worktrees)
    for (const d of [dir, `${dir}.worktrees`]) {
      try { fs.rmSync(d, { recursive: true, force: true }); } catch (_) { /* best effort */ }
    }
  }
});

// A file or folder a helper made outside tmpDir's, removed at exit as
// those are (lib/nodes.js's token file beside a node's data dir: a test
// that ended early never reached its node's cleanup).
function removeAtExit(p) {
  madeDirs.push(p);
}

function tmpDir(prefix = 'agentd-e2e-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  madeDirs.push(dir);
  return dir;
}

// A new git repository with one commit (a workspace must be a git work
// tree). Returns its real path. Global and system git config are ignored so
// the machine's settings cannot change what the tests see.
function tmpRepo(prefix = 'agentd-repo-', base = os.tmpdir()) {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(base, prefix)));
  madeDirs.push(dir);
  const env = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
  const git = (...a) => spawnSync('git', a, { cwd: dir, env, stdio: 'pipe' });
  git('init', '-q', '-b', 'main');
  const c = git('-c', 'user.name=agentd tests', '-c', 'user.email=tests@example.com',
    'commit', '-q', '--allow-empty', '-m', 'init');
  if (c.status !== 0) throw new Error(`git commit failed: ${c.stderr}`);
  return dir;
}

// Runs agentd to completion (for CLI tests). Returns {status, stdout, stderr}.
function run(args, opts = {}) {
  const r = spawnSync(BIN, args, {
    encoding: 'utf8',
    timeout: opts.timeout || 20000,
    env: { ...process.env, ...(opts.env || {}) },
    input: opts.input,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

// run() without blocking this process: for CLI calls that need a server of
// the test itself (a mock) to answer meanwhile. Resolves {status, stdout, stderr}.
function runAsync(args, opts = {}) {
  return new Promise((resolve) => {
    const p = spawn(BIN, args, { env: { ...process.env, ...(opts.env || {}) } });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (s) => (stdout += s));
    p.stderr.setEncoding('utf8').on('data', (s) => (stderr += s));
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeout || 20000);
    p.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

// The owner token the daemon printed at its first start, or its file's
// (null with --auth none): d.authHeaders carry it, and d.fetch is fetch
// with them added.
const tokens = new Map(); // url -> owner token, for helpers that only get a URL
function setToken(d, token) {
  d.token = token;
  if (token && d.url) tokens.set(d.url, token);
  d.authHeaders = token ? { authorization: `Bearer ${token}` } : {};
  d.fetch = (url, init = {}) =>
    fetch(url, { ...init, headers: { ...d.authHeaders, ...(init.headers || {}) } });
}

// AGENTD_TEST_DATABASE=pg (issue #39): every daemon keeps its tables in
// PostgreSQL, each data dir with a fresh database of its own (a restart of
// the same data dir finds it again). The server: the one AGENTD_TEST_PG_URL
// names when set (tests/unit/with-pg.sh started it for the whole pass; this
// process drops its databases when it exits), else one started for the test
// file (tests/e2e/lib/pg.js). A fresh database is a copy of a template
// that `agentd db migrate` prepared once per server (CREATE DATABASE …
// TEMPLATE: milliseconds, where the migrations take 0.3-0.5 s); the daemon
// still checks them at its start and finds them applied. A daemon of
// another binary (opts.bin: an older agentd) gets an empty database, which
// it migrates itself. opts.sqlite keeps a daemon on SQLite (a test about
// the file itself, or `db copy`'s source).
const PG_MODE = process.env.AGENTD_TEST_DATABASE === 'pg';
const PG_SHARED = process.env.AGENTD_TEST_PG_URL || '';
const PG_TEMPLATE = 'agentd_template';
let pgServer = null;
const pgDbs = new Map(); // data dir -> its database's URL
const pgNames = new Map(); // data dir -> its database's name
let pgReady = null; // the server, once started
let pgTemplate = null; // resolves once PG_TEMPLATE is there on it
let pgCount = 0; // databases named so far (taken before any await)

// The template, made once per server: migrated under a name of this
// process's, then renamed (atomic), so test files sharing the server can
// race for it; the loser drops its copy and uses the winner's.
function ensureTemplate(pg) {
  const exists = () => pg.psql('postgres',
    `SELECT 1 FROM pg_database WHERE datname = '${PG_TEMPLATE}'`).length > 0;
  if (exists()) return;
  const mine = `agentd_tpl_${process.pid}`;
  pg.createDb(mine);
  const { DBUS_SESSION_BUS_ADDRESS: _bus, ...env } = process.env;
  const r = spawnSync(BIN, ['db', 'migrate', '--database', pg.url(mine)],
    { encoding: 'utf8', env, timeout: 120000 });
  if (r.status !== 0) {
    pg.dropDbs([mine]);
    throw new Error(`agentd db migrate (the test template) failed: ${r.stderr}${r.stdout}`);
  }
  try {
    pg.psql('postgres', `ALTER DATABASE ${mine} RENAME TO ${PG_TEMPLATE}`);
  } catch (e) {
    pg.dropDbs([mine]);
    if (!exists()) throw e;
  }
}

async function pgUrlFor(dataDir, bin) {
  if (pgDbs.has(dataDir)) return pgDbs.get(dataDir);
  if (!pgServer) {
    const lib = require('./pg');
    pgServer = PG_SHARED ? Promise.resolve(lib.attachPostgres(PG_SHARED)) : lib.startPostgres();
    if (PG_SHARED) {
      process.on('exit', () => { if (pgReady) pgReady.dropDbs([...pgNames.values()]); });
    }
  }
  const name = `t${++pgCount}_${process.pid}`;
  // AGENTD_TEST_PG_MAP=FILE: which test file a database served
  // (scripts/pg-pick.mjs reads it beside the server's statement log)
  if (process.env.AGENTD_TEST_PG_MAP) {
    fs.appendFileSync(process.env.AGENTD_TEST_PG_MAP, `${name} ${path.basename(process.argv[1] || '')}\n`);
  }
  const pg = await pgServer;
  pgReady = pg;
  let url;
  if (bin && bin !== BIN) {
    url = pg.createDb(name);
  } else {
    if (!pgTemplate) pgTemplate = Promise.resolve().then(() => ensureTemplate(pg));
    await pgTemplate;
    url = pg.createDb(name, PG_TEMPLATE);
  }
  pgDbs.set(dataDir, url);
  pgNames.set(dataDir, name);
  return url;
}

// The rows of one SELECT (text) over a data dir's tables, as objects keyed
// by column (sqlite3 -json's shape), from its SQLite file or, with
// AGENTD_TEST_DATABASE=pg, its PostgreSQL database.
function dbRows(dataDir, text) {
  if (!PG_MODE || !pgNames.has(dataDir)) {
    const r = spawnSync('sqlite3', ['-json', path.join(dataDir, 'agentd.db')], { input: text, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`sqlite3 failed: ${r.stderr}`);
    return r.stdout.trim() === '' ? [] : JSON.parse(r.stdout);
  }
  // jsonb's text is one line (json_agg's breaks lines between rows)
  const out = pgReady.psql(pgNames.get(dataDir), `SELECT coalesce(jsonb_agg(q), '[]') FROM (${text}) q`);
  return JSON.parse(out.map((r) => r.join('\t')).join('\n'));
}

// AGENTD_TEST_KEEP_DBS=DIR (make e2e sets it): the SQLite database of every
// daemon a test cleans up after a clean stop is copied to DIR/<data dir's
// name>/ before the data dir goes, for `make e2e-copy`, which moves each one
// into PostgreSQL with `agentd db copy` (tests/e2e/pg-copy-suite.test.js).
// Left out: a daemon on PostgreSQL, one of another binary (its schema is
// not this one's), one that did not exit 0 on SIGTERM (killed: its file may
// wait on a recovery only a daemon does), a file over KEEP_MAX.
const KEEP_DIR = process.env.AGENTD_TEST_KEEP_DBS || '';
const KEEP_MAX = 16 * 1024 * 1024;
function keepDb(opts, dataDir, exited) {
  if (!KEEP_DIR || PG_MODE || (opts.env && opts.env.AGENTD_DATABASE_URL)) return;
  if ((opts.args || []).some((a) => String(a).startsWith('--database'))) return;
  if ((opts.bin && opts.bin !== BIN) || !exited || exited.code !== 0) return;
  const db = path.join(dataDir, 'agentd.db');
  let size = 0;
  try { size = fs.statSync(db).size; } catch (_) { return; }
  if (size > KEEP_MAX) return;
  // copied under a .part name and renamed whole: make check runs e2e-copy
  // beside the e2e files, so it may list DIR while a copy is under way
  const to = path.join(KEEP_DIR, path.basename(dataDir));
  const part = `${to}.part`;
  fs.mkdirSync(part, { recursive: true });
  for (const f of ['agentd.db', 'agentd.db-wal']) {
    try { fs.copyFileSync(path.join(dataDir, f), path.join(part, f)); } catch (e) { if (e.code !== 'ENOENT') throw e; }
  }
  fs.rmSync(to, { recursive: true, force: true }); // the same data dir kept again (a restart)
  fs.renameSync(part, to);
}

// An agent's network is the internet through agentd's proxy, never this
// host (issue #73); a test machine has no other host, and the mock APIs the
// CLIs talk to listen on its loopback. A test build's proxy takes what
// AGENTD_TEST_NET_PUBLIC names for the internet: here all of 127.0.0.1, so
// a test's agents reach its mocks through the proxy as a user's reach their
// API. sandbox-net.test.js sets its own, narrower, to show the host refused.
const NET_TEST_ENV = { AGENTD_TEST_NET_PUBLIC: '127.0.0.1:*' };

// Starts `agentd serve`. Resolves with a handle once the daemon says it is
// ready; rejects if it exits first or takes longer than opts.timeout.
function start(opts = {}) {
  const dataDir = opts.dataDir || tmpDir();
  const env = opts.env || {};
  if (PG_MODE && !opts.sqlite && !env.AGENTD_DATABASE_URL) {
    return pgUrlFor(dataDir, opts.bin).then((url) =>
      startOn({ ...opts, env: { ...env, AGENTD_DATABASE_URL: url } }, dataDir));
  }
  return startOn(opts, dataDir);
}

function startOn(opts, dataDir) {
  // No system_health events unless a test asks for them (its own
  // --health-event-interval-ms comes later and wins): tests that count
  // global seqs need a bus nothing else publishes on.
  // Agents run sandboxed (issue #31): the test fixtures (fake agents,
  // trainers) are shown to them read-only, as an admin would show a tools
  // folder; a test's own --sandbox-paths comes later and wins.
  const args = ['serve', '--listen', opts.listen || '127.0.0.1:0', '--data-dir', dataDir,
    '--health-event-interval-ms', '0', '--sandbox-paths', FIXTURES, ...(opts.args || [])];
  dataDirs.add(dataDir);
  // The developer's session bus is left out: a test must never put keys in
  // their real keyring (tests that want one start their own bus and say so).
  const { DBUS_SESSION_BUS_ADDRESS: _bus, ...inherited } = process.env;
  const proc = spawn(opts.bin || BIN, args, {
    env: { ...NET_TEST_ENV, ...inherited, ...(opts.env || {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const d = { proc, dataDir, url: null, stdout: '', stderr: '', exited: null };
  setToken(d, null);
  running.add(d);
  started.push(d);
  if (started.length > KEEP_LOGS) started.shift();
  d.exit = new Promise((resolve) => {
    proc.on('exit', async (code, signal) => {
      running.delete(d);
      d.exited = { code, signal };
      // a daemon no test stopped: what it said last, for the failure that follows
      if (!d.stopping && d.url) {
        process.stderr.write(`agentd at ${d.url} exited by itself (code=${code} signal=${signal}); its last words:\n${d.stderr.slice(-6000)}\n`);
      }
      // killed in the middle of a spawn: the child it had just cloned holds a
      // copy of the data dir's lock until its exec closes it; a restart
      // right away would find the dir taken
      if (signal === 'SIGKILL') await lockLetGo(dataDir);
      resolve(d.exited);
    });
  });
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (s) => { d.stderr += s; if (process.env.AGENTD_E2E_VERBOSE) process.stderr.write(s); });
  // its output read to the end (after 'exit'): what the sanitizer said last
  d.closed = new Promise((resolve) => proc.on('close', () => {
    const at = d.stderr.indexOf(LEAK_MARK);
    if (at >= 0) leaks.push({ dataDir, report: d.stderr.slice(at, at + LOG_TAIL) });
    resolve();
  }));
  proc.stdout.setEncoding('utf8');

  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`agentd did not become ready in time; stderr:\n${d.stderr}`));
    }, opts.timeout || 30000); // a bound for a busy machine: an idle one is ready in under a second
    proc.stdout.on('data', (s) => {
      d.stdout += s;
      const m = d.stdout.match(/listening on (https?:\/\/\S+?)\/?(\s|$)/);
      if (m || (!d.url && /agentd ready/.test(d.stdout))) {
        if (m) d.url = m[1];
        // The owner token is printed once, at the first start; later
        // starts of the same data dir read it from its file (0600, ours).
        const printed = d.stdout.match(/agentd owner token[^:]*: (\S+)/);
        if (printed) setToken(d, printed[1]);
        else if (/agentd login:/.test(d.stdout)) {
          try {
            setToken(d, fs.readFileSync(path.join(dataDir, 'owner-token'), 'utf8').trim());
          } catch (_) { /* --token given: the test knows it */ }
        }
        if (m || !opts.needUrl) {
          clearTimeout(timer);
          resolve(d);
        }
      }
    });
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`agentd exited early code=${code} signal=${signal}; stderr:\n${d.stderr}`));
    });
  });

  d.stop = async (signal = 'SIGTERM', timeoutMs = 10000) => {
    if (d.exited) return d.exited;
    d.stopping = true;
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    const r = await d.exit;
    clearTimeout(timer);
    // its stderr to the end, for the leak check above; bounded, in case a
    // child it left behind still holds the pipe
    let bound;
    await Promise.race([d.closed, new Promise((res) => { bound = setTimeout(res, 2000); })]);
    clearTimeout(bound);
    return r;
  };
  d.cleanup = async () => {
    const exited = await d.stop();
    endHolders(dataDir);
    keepDb(opts, dataDir, exited);
    if (!opts.dataDir && !opts.keepDataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  };
  return ready;
}

// The owner token of the daemon at url (null when unknown or --auth none).
function tokenFor(url) {
  return tokens.get(url.replace(/\/$/, '')) || null;
}

// What the shared network proxy keeps for the programs of id (an agent's,
// a job's) in dataDir: their folders and registrations, proxy/<id> and a
// second program's proxy/<id>-<when>-<n>, with their .reg (src/proc/plainnet.c).
function proxyEntries(dataDir, id) {
  let names = [];
  try { names = fs.readdirSync(path.join(dataDir, 'proxy')); } catch (_) { /* none yet */ }
  return names.filter((n) => n === id || n === `${id}.reg` || n.startsWith(`${id}-`));
}

// The pids of the shared network proxies serving dataDir.
function proxyPids(dataDir) {
  const want = `--net-proxyd\0${path.join(dataDir, 'proxy')}\0`;
  const pids = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (fs.readFileSync(`/proc/${p}/cmdline`, 'latin1').includes(want)) pids.push(Number(p));
    } catch (_) { /* gone */ }
  }
  return pids;
}

module.exports = {
  NET_TEST_ENV, BIN, PG_MODE, dbRows, start, run, runAsync, tmpDir, tmpRepo, removeAtExit, tokenFor, endHolders, endHoldersGone, lockLetGo,
  proxyEntries, proxyPids, holdFiles, gone };
