// SPDX-License-Identifier: MIT
// agentd as a systemd service (issue #37): socket activation through
// Debian's systemd-socket-activate, which binds the TCP port and the CLI's
// unix socket and execs agentd on the first connection with LISTEN_FDS.
// The first request is answered by the agentd it starts; the CLI works on
// the inherited unix socket; a restart of the activated agentd (SIGTERM
// with --keep-agents, then the next agentd on the same sockets, as
// systemd's Restart does) refuses no connection on either socket and keeps
// the agent running under its holder; a client of another user on a
// socket made wider than 0600 is refused. `agentd service install` writes
// units that systemd-analyze accepts, enables them with systemctl --user,
// and refuses while an agentd started by hand runs; status and uninstall.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const daemon = require('./lib/daemon');
const { BIN, run, tmpDir, tmpRepo, endHolders } = daemon;
const { api, until, commandAgent } = require('./lib/api');

const FIXTURES = path.resolve(__dirname, '..', 'fixtures');
const ACTIVATE = '/usr/bin/systemd-socket-activate';
const COUNTER = ['sh', '-c', 'i=0; while [ $i -lt 100000 ]; do echo "n=$i"; i=$((i+1)); sleep 0.02; done'];
const skip = fs.existsSync(ACTIVATE) ? false : 'systemd-socket-activate is not installed (Debian package systemd)';

async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

// One request on a connection of its own (never a kept-alive one): the
// status, or the error's code (ECONNREFUSED...).
function once(opts) {
  return new Promise((resolve) => {
    const req = http.request({ agent: false, headers: { connection: 'close' }, timeout: 20000, ...opts }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', (e) => resolve({ error: e.code || e.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ error: e.code || e.message }));
    req.end();
  });
}

const readPid = (dir) => {
  try { return Number(fs.readFileSync(path.join(dir, 'agentd.pid'), 'utf8').trim()) || 0; } catch (_) { return 0; }
};

// systemd-socket-activate on 127.0.0.1:port and sock, running agentd
// under a loop that starts the next agentd on the same sockets whenever
// one exits, until stopFile exists (systemd's Restart=, in small). Each
// agentd gets LISTEN_PID of its own (the inner shell's $$, kept by exec).
function activate({ port, sock, dataDir, stopFile, args = [] }, t, extraDirs = []) {
  const serve = ['serve', '--data-dir', dataDir, '--keep-agents', '--stop-grace-ms', '300',
    '--health-event-interval-ms', '0', '--sandbox-paths', FIXTURES, ...args];
  const inner = 'export LISTEN_PID=$$; exec "$0" "$@"';
  const loop = `while [ ! -e "$0" ]; do sh -c '${inner}' "$@" || true; done`;
  const p = spawn(ACTIVATE, ['-l', `127.0.0.1:${port}`, '-l', sock, '--fdname=http:cli', '-E', 'PATH', '-E', 'HOME',
    '/bin/sh', '-c', loop, stopFile, BIN, ...serve], { stdio: ['ignore', 'pipe', 'pipe'] });
  p.log = '';
  p.stdout.setEncoding('utf8').on('data', (s) => { p.log += s; });
  p.stderr.setEncoding('utf8').on('data', (s) => { p.log += s; });
  p.done = new Promise((r) => p.on('exit', r));
  // the end: no next agentd, the running one stopped, the sockets gone
  t.after(async () => {
    fs.writeFileSync(stopFile, '');
    const pid = readPid(dataDir);
    if (pid) try { process.kill(pid, 'SIGTERM'); } catch (_) { /* gone */ }
    const timer = setTimeout(() => p.kill('SIGKILL'), 10000);
    await p.done;
    clearTimeout(timer);
    endHolders(dataDir);
    for (const dir of [dataDir, ...extraDirs]) fs.rmSync(dir, { recursive: true, force: true });
  });
  return p;
}

test('socket activation: the first request starts agentd; a restart refuses nothing and keeps the agent', { skip }, async (t) => {
  const dataDir = tmpDir('agentd-sa-');
  const sock = path.join(dataDir, 'agentd.sock');
  const stopFile = path.join(dataDir, 'stop');
  const port = await freePort();
  const sa = activate({ port, sock, dataDir, stopFile }, t);
  await until(() => fs.existsSync(sock), 'systemd-socket-activate listening');
  assert.equal(readPid(dataDir), 0, 'no agentd before the first connection');

  // The first request: the connection makes systemd-socket-activate exec
  // agentd, which answers it.
  const first = await once({ host: '127.0.0.1', port, path: '/healthz' });
  assert.deepEqual(first, { status: 200, body: '{"status":"ok"}' }, sa.log);
  const pid1 = readPid(dataDir);
  assert.ok(pid1 > 0);
  assert.match(sa.log, /inherited=tcp,unix/);
  assert.match(sa.log, /agentd listening on http:\/\/127\.0\.0\.1:\d+\//);
  assert.ok(sa.log.includes(`:${port}/`), 'the URL names the inherited port');
  const ls = run(['--data-dir', dataDir, 'ls']);
  assert.equal(ls.status, 0, `the CLI on the inherited unix socket: ${ls.stderr}`);

  const d = { url: `http://127.0.0.1:${port}` };
  d.authHeaders = { authorization: `Bearer ${fs.readFileSync(path.join(dataDir, 'owner-token'), 'utf8').trim()}` };
  const ws = await api(d, 'POST', '/api/workspaces', { path: tmpRepo('agentd-sa-repo-'), name: 'sa' });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  const id = await commandAgent(d, ws.body.worktrees[0].id, COUNTER);
  const started = await api(d, 'POST', `/api/agents/${id}/start`, {});
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const agentPid = started.body.pid;
  const run1 = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0];

  // The restart: agentd ends (its agents kept) and the next one takes the
  // same listeners up. Meanwhile a new connection every few ms, on TCP and
  // on the unix socket: every one is answered.
  process.kill(pid1, 'SIGTERM');
  const results = [];
  let pid2 = 0;
  let after = 0;
  const deadline = Date.now() + 60000;
  while (after < 5 && Date.now() < deadline) {
    results.push(await once({ host: '127.0.0.1', port, path: '/healthz' }));
    results.push(await once({ socketPath: sock, path: '/healthz' }));
    const now = readPid(dataDir);
    if (now && now !== pid1) pid2 = now;
    if (pid2) after++;
  }
  assert.ok(pid2 && pid2 !== pid1, `a new agentd took over (${pid1} -> ${pid2}): ${sa.log.slice(-2000)}`);
  const failed = results.filter((r) => r.status !== 200);
  assert.deepEqual(failed, [], `${results.length} connections during the restart`);
  assert.ok(results.length >= 10);

  // The agent ran on: same process, same run, still running.
  process.kill(agentPid, 0);
  const a = (await api(d, 'GET', `/api/agents/${id}`)).body;
  assert.equal(a.status, 'running');
  assert.equal(a.pid, agentPid);
  const runs = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs;
  assert.equal(runs.length, 1);
  assert.equal(runs[0].id, run1.id);
  assert.equal(runs[0].status, 'running');
  const st = await api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
  assert.ok(st.status === 200 || st.status === 202, JSON.stringify(st.body));
  await until(async () => (await api(d, 'GET', `/api/agents/${id}`)).body.status !== 'running', 'the stop');
});

test('an inherited unix socket made wider than 0600 still lets only agentd\'s user in', { skip: skip || (process.getuid() !== 0 && 'needs root to connect as another user') }, async (t) => {
  const dataDir = tmpDir('agentd-sa-');
  const open = fs.mkdtempSync(path.join(os.tmpdir(), 'agentd-sa-open-'));
  fs.chmodSync(open, 0o755);
  const sock = path.join(open, 'agentd.sock');
  const stopFile = path.join(dataDir, 'stop');
  const port = await freePort();
  const sa = activate({ port, sock, dataDir, stopFile }, t, [open]);
  // listening, not only bound: the file is there from bind(), and a
  // connect before listen() is refused
  await until(() => new Promise((resolve) => {
    const c = net.connect(sock, () => { c.destroy(); resolve(true); });
    c.on('error', () => resolve(false));
  }), 'listening');
  fs.chmodSync(sock, 0o777);
  const first = await once({ socketPath: sock, path: '/api/agents' });
  assert.equal(first.status, 200, `the first request: ${JSON.stringify(first)}; the log: ${sa.log}`);
  assert.match(sa.log, /inherited unix socket is not where the CLI looks/);
  // nobody (uid 65534) connects: the socket's mode lets it, agentd does not
  const probe = `const h=require('node:http');h.get({socketPath:${JSON.stringify(sock)},path:'/api/agents',agent:false},` +
    `(r)=>{console.log('status',r.statusCode);r.resume()}).on('error',(e)=>console.log('error',e.code||e.message))`;
  const r = spawnSync(process.execPath, ['-e', probe], { uid: 65534, gid: 65534, encoding: 'utf8', timeout: 20000 });
  assert.match(r.stdout, /^error /, `another user's request: ${r.stdout}${r.stderr}`);
  await until(() => /unix connection refused" reason=another-user uid=65534/.test(sa.log), 'the refusal logged');
});

// A systemctl that records its arguments (there is no user session
// manager here) and answers is-active/is-enabled from the environment.
function stubSystemctl(dir) {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  fs.writeFileSync(path.join(bin, 'systemctl'), '#!/bin/sh\n' +
    'echo "$*" >> "$STUB_LOG"\n' +
    'case "$2" in is-active) echo "${STUB_ACTIVE:-inactive}";; is-enabled) echo "${STUB_ENABLED:-disabled}";; esac\n', { mode: 0o755 });
  return bin;
}

test('agentd service install writes units systemd accepts and enables the socket; status; uninstall', async (t) => {
  const home = tmpDir('agentd-svc-');
  const dataDir = path.join(home, 'data');
  const log = path.join(home, 'systemctl.log');
  const bin = stubSystemctl(home);
  t.after(() => fs.rmSync(home, { recursive: true, force: true }));
  const env = { HOME: home, XDG_CONFIG_HOME: path.join(home, 'config'), PATH: `${bin}:${process.env.PATH}`, STUB_LOG: log };
  const svc = (...args) => run(['--data-dir', dataDir, '--listen', '127.0.0.1:18765', 'service', ...args], { env });

  const inst = svc('install');
  assert.equal(inst.status, 0, inst.stderr);
  const units = path.join(home, 'config', 'systemd', 'user');
  assert.match(inst.stdout, /agentd\.socket written/);
  assert.match(inst.stdout, /loginctl enable-linger/);
  assert.deepEqual(fs.readFileSync(log, 'utf8').trim().split('\n'), ['--user daemon-reload', '--user enable --now agentd.socket']);
  const socketUnit = fs.readFileSync(path.join(units, 'agentd.socket'), 'utf8');
  const serviceUnit = fs.readFileSync(path.join(units, 'agentd.service'), 'utf8');
  assert.match(socketUnit, /^ListenStream=127\.0\.0\.1:18765$/m);
  assert.ok(socketUnit.includes(`ListenStream=${dataDir}/agentd.sock\n`));
  assert.match(socketUnit, /^SocketMode=0600$/m);
  assert.match(serviceUnit, /^KillMode=process$/m);
  assert.ok(serviceUnit.includes(`ExecStart=${BIN} serve --data-dir=${dataDir} --keep-agents\n`), serviceUnit);
  assert.ok(serviceUnit.includes(`Environment=PATH=${env.PATH}\n`));

  // systemd itself reads them (no warning)
  const rt = path.join(home, 'rt');
  fs.mkdirSync(rt, { mode: 0o700 });
  const v = spawnSync('systemd-analyze', ['verify', '--user', '--man=no', path.join(units, 'agentd.socket'), path.join(units, 'agentd.service')],
    { encoding: 'utf8', env: { ...process.env, XDG_RUNTIME_DIR: rt, HOME: home } });
  assert.equal(v.status, 0, v.stderr);
  assert.equal(v.stderr, '', 'systemd-analyze verify');

  // again: nothing changes
  fs.writeFileSync(log, '');
  assert.match(svc('install').stdout, /agentd\.socket unchanged\n.*agentd\.service unchanged/);

  const st = JSON.parse(run(['--data-dir', dataDir, '--listen', '127.0.0.1:18765', 'service', 'status', '--json'],
    { env: { ...env, STUB_ACTIVE: 'active', STUB_ENABLED: 'enabled' } }).stdout);
  assert.equal(st.socketUnit.state, 'current');
  assert.equal(st.serviceUnit.state, 'current');
  assert.equal(st.socket.enabled, 'enabled');
  assert.equal(st.daemon.running, false);
  assert.equal(typeof st.linger, 'boolean');
  // another port: the units on disk differ from what install would write
  const other = JSON.parse(run(['--data-dir', dataDir, '--listen', '127.0.0.1:18766', 'service', 'status', '--json'], { env }).stdout);
  assert.equal(other.socketUnit.state, 'differs');

  // a daemon started by hand on this data dir: install says so and writes nothing
  const d = await daemon.start({ dataDir, needUrl: true });
  try {
    const busy = svc('install');
    assert.equal(busy.status, 1);
    assert.match(busy.stderr, /an agentd not started by systemd already runs/);
    assert.equal(JSON.parse(run(['--data-dir', dataDir, 'service', 'status', '--json'], { env }).stdout).daemon.running, true);
  } finally {
    await d.stop();
  }

  fs.writeFileSync(log, '');
  const un = svc('uninstall');
  assert.equal(un.status, 0, un.stderr);
  assert.equal(fs.existsSync(path.join(units, 'agentd.socket')), false);
  assert.equal(fs.existsSync(path.join(units, 'agentd.service')), false);
  assert.deepEqual(fs.readFileSync(log, 'utf8').trim().split('\n'),
    ['--user disable --now agentd.socket', '--user stop agentd.service', '--user daemon-reload']);

  // no port to listen on: refused with the reason
  const zero = run(['--data-dir', dataDir, '--listen', '127.0.0.1:0', 'service', 'install'], { env });
  assert.equal(zero.status, 2);
  assert.match(zero.stderr, /needs a fixed port/);
});
