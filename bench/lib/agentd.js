// SPDX-License-Identifier: MIT
// The agentd side of the benchmarks: start the release binary pinned to the
// server core with a fresh data dir, and find out which features this build
// has (health, REST store, /ws bus, agent runs), so a scenario whose agentd
// side is missing reports "n/a (reason)" instead of failing the run.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { startServer, freePort } = require('./sys');
const { httpConn, wsConnect } = require('./wire');

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = process.env.AGENTD_BIN || path.join(ROOT, 'build', 'release', 'agentd');
// The release build plus the test-only routes (make bench builds it): used
// only where the release API offers no way to drive a scenario.
const BENCH_BIN = process.env.AGENTD_BENCH_BIN || path.join(ROOT, 'build', 'bench', 'agentd');

// The owner token every agentd of this run gets (--token-file), so requests
// carry the same credentials a real client does; lib/wire.js and wrk send it.
if (!process.env.AGENTD_BENCH_TOKEN) {
  process.env.AGENTD_BENCH_TOKEN = require('node:crypto').randomBytes(32).toString('base64url');
}
const TOKEN = process.env.AGENTD_BENCH_TOKEN;
// Every generator connection carries the one bench token from the one address
// 127.0.0.1 (W1 holds 10,000 WebSockets), so the per-token and per-address caps
// are lifted wherever the bench starts agentd.
const LIMITS_OFF = ['--max-connections-per-token', '0', '--max-websockets-per-token', '0',
  '--max-connections-per-address', '30000'];

// core: the CPUs it is pinned to (taskset -c), the server core unless told.
async function start({ durability = 'normal', args = [], dataDir, bin = BIN, timeoutMs = 5000, core = 1, env = {} } = {}) {
  if (!fs.existsSync(bin)) throw new Error(`no binary at ${bin} (make BUILD=release)`);
  const port = await freePort();
  const dir = dataDir || fs.mkdtempSync(path.join(os.tmpdir(), 'agentd-bench-'));
  // A token never goes on a command line (every local user reads those).
  const tokenFile = path.join(dir, 'bench-token');
  fs.writeFileSync(tokenFile, TOKEN + '\n', { mode: 0o600 });
  const h = await startServer('agentd', bin, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dir,
    '--durability', durability, '--max-connections', '30000',
    ...LIMITS_OFF, '--log-level', 'warn', '--token-file', tokenFile, ...args], { port, timeoutMs, core, env });
  h.dataDir = dir;
  h.base = `http://127.0.0.1:${port}`;
  const stop = h.stop;
  h.made = []; // folders made for this server (seedAgent's workspaces), removed with it
  h.stop = async (keep) => {
    await stop();
    for (const m of h.made) fs.rmSync(m, { recursive: true, force: true });
    if (!keep && !dataDir) fs.rmSync(dir, { recursive: true, force: true });
  };
  return h;
}

async function request(port, method, p, body, { timeoutMs = 5000 } = {}) {
  const c = await httpConn({ port });
  try {
    const r = await Promise.race([
      c.request(method, p, body == null ? null : JSON.stringify(body)),
      new Promise((_, rej) => setTimeout(() => rej(new Error(`${method} ${p}: timeout`)), timeoutMs)),
    ]);
    let json = null;
    try { json = JSON.parse(r.body); } catch (_) { /* not JSON */ }
    return { status: r.status, body: r.body, json };
  } finally { c.close(); }
}

async function healthz(h) {
  const r = await request(h.port, 'GET', '/healthz');
  if (r.status !== 200) throw new Error(`GET /healthz answered ${r.status}`);
  return r;
}

// Creates workspace -> worktree -> agent through the REST API. Returns
// {agentId, ...} or throws with the first step that failed.
async function seedAgent(h, { executor, name = 'bench-agent', extra = {} } = {}) {
  const wsPath = fs.mkdtempSync(path.join(os.tmpdir(), 'agentd-bench-ws-'));
  if (h.made) h.made.push(wsPath);
  // A workspace must be a git repository with a commit.
  const git = (...a) => execFileSync('git', ['-C', wsPath, '-c', 'user.name=bench', '-c', 'user.email=bench@localhost', ...a], { stdio: 'ignore' });
  git('init', '-q', '-b', 'main');
  git('commit', '-q', '--allow-empty', '-m', 'bench');
  let r = await request(h.port, 'POST', '/api/workspaces', { name: 'bench', path: wsPath });
  if (r.status >= 300) throw new Error(`POST /api/workspaces answered ${r.status} ${r.body.slice(0, 120)}`);
  const workspaceId = r.json.id || (r.json.workspace && r.json.workspace.id);
  let worktreeId = r.json.worktrees && r.json.worktrees[0] ? r.json.worktrees[0].id : null;
  if (!worktreeId) r = await request(h.port, 'GET', `/api/worktrees?workspaceId=${workspaceId}`);
  const list = r.json && (Array.isArray(r.json) ? r.json : r.json.items || r.json.worktrees || r.json.data);
  if (!worktreeId && r.status === 200 && Array.isArray(list) && list.length) worktreeId = list[0].id;
  if (!worktreeId) {
    r = await request(h.port, 'POST', '/api/worktrees', { workspaceId, name: 'main', branch: 'main', path: wsPath, isMain: true });
    if (r.status >= 300) throw new Error(`POST /api/worktrees answered ${r.status} ${r.body.slice(0, 120)}`);
    worktreeId = r.json.id || (r.json.worktree && r.json.worktree.id);
  }
  r = await request(h.port, 'POST', '/api/agents', { worktreeId, name, ...(executor ? { executor } : {}), ...extra });
  if (r.status >= 300) throw new Error(`POST /api/agents answered ${r.status} ${r.body.slice(0, 160)}`);
  const agentId = r.json.id || (r.json.agent && r.json.agent.id);
  return { agentId, workspaceId, worktreeId, workspacePath: wsPath };
}

// n command agents running the program stamp (bench/bin/stamp: it prints
// its CLOCK_MONOTONIC time first thing after its exec) in one workspace,
// named <prefix>-<i>: their ids (SP1 in driver.js, ST1 in starts.js).
async function stampAgents(h, n, stamp, prefix) {
  const first = await seedAgent(h, { executor: 'command', name: `${prefix}-0`, extra: { command: [stamp] } });
  const ids = [first.agentId];
  for (let i = 1; i < n; i++) {
    const r = await request(h.port, 'POST', '/api/agents', { worktreeId: first.worktreeId, name: `${prefix}-${i}`, executor: 'command', command: [stamp] });
    if (r.status >= 300) throw new Error(`POST /api/agents answered ${r.status} ${r.body.slice(0, 120)}`);
    ids.push(r.json.id);
  }
  return ids;
}

// The newest stamp (monotonic ns) of agent id's runs once more than
// `before` are stored; tries times 25 ms apart.
async function stampOf(h, id, before, tries = 400) {
  for (let i = 0; i < tries; i++) {
    const r = await request(h.port, 'GET', `/api/agents/${id}/messages?limit=20`);
    const st = (r.json?.messages || []).map((m) => /stamp (\d+)/.exec(m.content || '')).filter(Boolean).map((m) => BigInt(m[1]));
    if (st.length > before) return st.sort((a, b) => (a < b ? -1 : 1))[st.length - 1];
    await new Promise((r2) => setTimeout(r2, 25));
  }
  throw new Error(`no stamp from ${id}`);
}

// True when /ws accepts an upgrade (the bus endpoint).
async function hasWs(h, p = '/ws') {
  try { const c = await wsConnect({ port: h.port, path: p, timeoutMs: 3000 }); c.close(); return true; } catch (_) { return false; }
}

module.exports = { BIN, BENCH_BIN, ROOT, start, request, healthz, seedAgent, stampAgents, stampOf, hasWs, LIMITS_OFF };
