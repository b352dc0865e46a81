// SPDX-License-Identifier: MIT
// Worker nodes for the e2e tests (issue #34): `agentd node` processes with
// their own data dirs, node tokens, and a small TCP proxy between a node and
// its control plane that can cut, stall or drop the connections, so a test
// can break the network as a real one breaks.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const daemon = require('./daemon');
const { api } = require('./api');

const running = new Set();
process.on('exit', () => {
  for (const n of running) {
    try { n.proc.kill('SIGKILL'); } catch (_) { /* gone */ }
    daemon.endHolders(n.dataDir);
  }
});

// A node token of the control plane d (its secret text and id).
async function nodeToken(d, name = 'node') {
  const r = await api(d, 'POST', '/api/tokens', { name, scope: 'node' });
  if (r.status !== 201) throw new Error(`token: ${r.status} ${JSON.stringify(r.body)}`);
  return { token: r.body.token, id: r.body.id };
}

// Starts `agentd node --join url`. opts: name, labels ('k=v,...'),
// dataDir, token (the secret), args, env (env.HOME: the node user's home;
// a temporary one, n.home, removed by n.cleanup, unless given). Resolves once it says it joined, unless
// opts.wait is false. n.stop(signal), n.kill() (SIGKILL), n.exit (a promise
// of {code, signal}).
function startNode(url, opts = {}) {
  const dataDir = opts.dataDir || daemon.tmpDir('agentd-node-');
  const tokenFile = path.join(dataDir, '..', `${path.basename(dataDir)}.token`);
  // opts.token: a node token (--token-file); opts.registration: a
  // registration token it trades for its key (--registration-token-file);
  // neither: its key from an earlier trade, in its data dir (issue #77)
  const cred = [];
  if (opts.token !== undefined || opts.registration !== undefined) {
    fs.writeFileSync(tokenFile, (opts.token ?? opts.registration) + '\n', { mode: 0o600 });
    daemon.removeAtExit(tokenFile);
    cred.push(opts.token !== undefined ? '--token-file' : '--registration-token-file', tokenFile);
  }
  // its agents run sandboxed, as a daemon's: the test fixtures readable
  // (a test's own --sandbox-paths comes later and wins)
  const args = ['--data-dir', dataDir, '--sandbox-paths', path.resolve(__dirname, '..', '..', 'fixtures'),
    ...(opts.globalArgs || []), 'node', '--join', url,
    ...cred, '--name', opts.name || 'n1'];
  if (opts.labels) args.push('--labels', opts.labels);
  if (opts.args) args.push(...opts.args);
  // the node's user has a home of its own (a temporary one unless the test
  // gives one), so the CLIs its agents run write their sessions there and
  // never into the test machine's ~/.claude
  const home = opts.env?.HOME ?? daemon.tmpDir('agentd-node-home-');
  const env = { ...daemon.NET_TEST_ENV, ...process.env, ...(opts.env || {}), HOME: home };
  const proc = spawn(daemon.BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  const n = { proc, dataDir, tokenFile, home, stdout: '', stderr: '', exited: null, name: opts.name || 'n1' };
  running.add(n);
  n.exit = new Promise((resolve) => proc.on('exit', async (code, signal) => {
    running.delete(n);
    n.exited = { code, signal };
    if (signal === 'SIGKILL') await daemon.lockLetGo(dataDir); // as a daemon's (lib/daemon.js)
    resolve(n.exited);
  }));
  proc.stderr.setEncoding('utf8').on('data', (s) => { n.stderr += s; if (process.env.AGENTD_E2E_VERBOSE) process.stderr.write(`[node ${n.name}] ${s}`); });
  proc.stdout.setEncoding('utf8').on('data', (s) => { n.stdout += s; });
  n.joined = () => /joined/.test(n.stdout);
  n.stop = async (signal = 'SIGTERM') => {
    if (n.exited) return n.exited;
    proc.kill(signal);
    const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
    const r = await n.exit;
    clearTimeout(t);
    return r;
  };
  n.kill = () => n.stop('SIGKILL');
  n.cleanup = async () => {
    await n.stop();
    await daemon.endHoldersGone(dataDir);
    if (!opts.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    if (opts.env?.HOME === undefined) fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(tokenFile, { force: true });
  };
  if (opts.wait === false) return Promise.resolve(n);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`node ${n.name} did not join; stderr:\n${n.stderr}`)), opts.timeout || 20000);
    const check = () => {
      if (n.joined()) { clearTimeout(t); resolve(n); }
    };
    proc.stdout.on('data', check);
    n.exit.then((e) => { clearTimeout(t); reject(new Error(`node ${n.name} exited ${JSON.stringify(e)}: ${n.stderr}`)); });
  });
}

// A TCP proxy to target (host:port of a URL). mode: 'pass' (forward),
// 'cut' (every connection ended now and new ones refused at once), 'stall'
// (connections kept open, nothing read either way until the mode changes:
// what was sent waits in the sockets, as behind a dead route),
// 'drop' (every connection ended now, new ones forwarded). url: the proxy's
// http://127.0.0.1:port. Counts the bytes it forwarded each way.
function proxy(targetUrl) {
  let t = new URL(targetUrl);
  const pairs = new Set();
  const p = { mode: 'pass', up: 0, down: 0, connections: 0 };
  const server = net.createServer((c) => {
    if (p.mode === 'cut') { c.destroy(); return; }
    p.connections++;
    const s = net.connect(Number(t.port), t.hostname);
    const pair = { c, s };
    pairs.add(pair);
    const end = () => { pairs.delete(pair); c.destroy(); s.destroy(); };
    c.on('error', end); s.on('error', end); c.on('close', end); s.on('close', end);
    c.on('data', (b) => { p.up += b.length; s.write(b); });
    s.on('data', (b) => { p.down += b.length; c.write(b); });
    if (p.mode === 'stall') { c.pause(); s.pause(); }
  });
  p.set = (mode) => {
    p.mode = mode;
    for (const { c, s } of pairs) {
      if (mode === 'stall') { c.pause(); s.pause(); } else { c.resume(); s.resume(); }
    }
    if (mode === 'cut' || mode === 'drop') {
      for (const { c, s } of pairs) { c.destroy(); s.destroy(); }
      pairs.clear();
      if (mode === 'drop') p.mode = 'pass';
    }
  };
  // New connections go to url from now on (a control plane restarted on
  // another port); the ones open stay where they are.
  p.retarget = (url) => { t = new URL(url); };
  p.close = () => new Promise((r) => { p.set('cut'); server.close(() => r()); });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    p.url = `http://127.0.0.1:${server.address().port}`;
    resolve(p);
  }));
}

// The control plane's view of a node by name.
async function nodeNamed(d, name) {
  const r = await api(d, 'GET', '/api/nodes');
  return (r.body.nodes || []).find((x) => x.name === name) || null;
}

// A node of the test's own making on control plane d (the ws client with a
// node token): it joins, then breaks the rules. {ws, closed (a promise of
// the close code)}.
async function rogueNode(d, name) {
  const WebSocket = require('./ws');
  const t = await nodeToken(d, name);
  const ws = new WebSocket(d.url.replace('http', 'ws') + '/api/nodes/link', { headers: { authorization: `Bearer ${t.token}` } });
  const closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
  const welcomed = new Promise((resolve) => ws.on('message', (m) => { if (String(m).includes('welcome')) resolve(); }));
  ws.send(JSON.stringify({ t: 'hello', name, labels: {}, caps: {}, runs: [] }));
  await welcomed;
  return { ws, closed };
}

// A link frame: [1][n][epoch LE][run][holder frame {len, type, stream, 0, 0}{payload}].
function linkFrame(run, type, payload, epoch = 1, stream = 1) {
  const h = Buffer.alloc(8);
  h.writeUInt32LE(payload.length, 0);
  h[4] = type; h[5] = stream;
  const pre = Buffer.alloc(6);
  pre[0] = 1; pre[1] = run.length; pre.writeUInt32LE(epoch, 2);
  return Buffer.concat([pre, Buffer.from(run), h, payload]);
}

module.exports = { nodeToken, startNode, proxy, nodeNamed, rogueNode, linkFrame };
