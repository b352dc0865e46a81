// SPDX-License-Identifier: MIT
// The client commands against a real daemon over its unix socket: tables
// and --json output, the daemon's own errors shown as one line, and a clear
// message when no daemon is running.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { BIN, run, tmpDir, tmpRepo } = require('./lib/daemon');

const FAKE = path.resolve(__dirname, '../fixtures/fake-agent.js');
const { startApi } = require('./lib/api');

test('client commands drive agents through the unix socket', async (t) => {
  const d = await startApi();
  t.after(() => d.cleanup());
  const cli = (...args) => run(['--data-dir', d.dataDir, ...args]);

  const ws = await d.req('POST', '/api/workspaces', { path: tmpRepo('repo-', d.dataDir) });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  const wtId = ws.body.worktrees[0].id;

  const created = cli('new', '--worktree', wtId, '--name', 'cli agent', '--', process.execPath, FAKE, 'echo');
  assert.equal(created.status, 0, created.stderr);
  const id = created.stdout.trim();
  assert.match(id, /^ag_[0-9a-z]{26}$/);

  const ls = cli('ls');
  assert.equal(ls.status, 0, ls.stderr);
  const lines = ls.stdout.trim().split('\n');
  assert.match(lines[0], /^ID\s+NAME\s+EXECUTOR\s+STATUS\s+MODE\s+WORKTREE\s+COST$/);
  assert.equal(lines.length, 2);
  // the worktree by its name (issue #32), which resolves as --worktree does
  assert.ok(lines[1].startsWith(id) && lines[1].includes('cli agent') && lines[1].includes(` ${ws.body.worktrees[0].name} `), lines[1]);

  const lsJson = JSON.parse(cli('ls', '--json').stdout);
  assert.equal(lsJson.agents.length, 1);
  assert.equal(lsJson.agents[0].id, id);
  assert.equal(lsJson.agents[0].executor, 'command');

  // Filters reach the server as query parameters.
  assert.equal(JSON.parse(cli('ls', '--json', '--status', 'running').stdout).agents.length, 0);


  const empty = cli('logs', id);
  assert.equal(empty.status, 0, empty.stderr);
  assert.equal(empty.stdout, '');

  // Follow the agent live while it starts and answers a message.
  const follower = spawn(BIN, ['logs', '-f', id, '--data-dir', d.dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let followed = '';
  follower.stdout.setEncoding('utf8');
  const sawEcho = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`logs -f saw: ${followed}`)), 15000);
    follower.stdout.on('data', (s) => {
      followed += s;
      if (followed.includes('"line":"hello from cli"')) { clearTimeout(timer); resolve(); }
    });
  });
  t.after(() => follower.kill());

  const started = cli('start', id);
  assert.equal(started.status, 0, started.stderr);
  assert.equal(started.stdout.trim(), `${id} started (status running)`);
  assert.equal(cli('start', id).status, 1, 'starting a running agent is refused');

  const sent = cli('send', id, 'hello from cli');
  assert.equal(sent.status, 0, sent.stderr);
  assert.equal(sent.stdout, `${id} sent\n`); // not "sent: sent"
  await sawEcho;
  assert.match(followed, /"type":"ready"/);

  const stopped = cli('stop', id);
  assert.equal(stopped.status, 0, stopped.stderr);
  assert.match(stopped.stdout, new RegExp(`^${id} stopped( \\(status (finished|error)\\))?\n$`));
  const st = JSON.parse(cli('ls', '--json').stdout).agents[0];
  assert.notEqual(st.status, 'running');

  // The stored transcript has the output, oldest first.
  const logs = cli('logs', id);
  assert.equal(logs.status, 0, logs.stderr);
  const readyAt = logs.stdout.indexOf('"type":"ready"');
  const echoAt = logs.stdout.indexOf('"line":"hello from cli"');
  assert.ok(readyAt >= 0 && echoAt > readyAt, logs.stdout);

  // Archive hides the agent; --all shows it again.
  const rm = cli('rm', id);
  assert.equal(rm.status, 0, rm.stderr);
  assert.equal(rm.stdout.trim(), `${id} archived`);
  assert.equal(JSON.parse(cli('ls', '--json').stdout).agents.length, 0);
  const all = JSON.parse(cli('ls', '--json', '--all').stdout).agents;
  assert.equal(all.length, 1);
  assert.ok(all[0].deletedAt);
  // and the table says archived, whatever its last status was
  const row = cli('ls', '--all').stdout.split('\n').find((l) => l.startsWith(id));
  assert.match(row, /\sarchived\s/, row);

  const hard = cli('rm', '--hard', id);
  assert.equal(hard.status, 0, hard.stderr);
  assert.equal(JSON.parse(cli('ls', '--json', '--all').stdout).agents.length, 0);
});

test('client errors are one line with the daemon\'s message and exit 1', async (t) => {
  const d = await startApi();
  t.after(() => d.cleanup());
  const cli = (...args) => run(['--data-dir', d.dataDir, ...args]);

  const missing = cli('logs', 'ag_00000000000000000000000000');
  assert.equal(missing.status, 1);
  assert.equal(missing.stderr, 'agentd logs: no agent named ag_00000000000000000000000000\n');

  const bad = cli('new', '--worktree', 'wt_nope');
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr, 'agentd new: no worktree named wt_nope\n');

  // the daemon's own refusal is one line with its code
  const ws = await d.req('POST', '/api/workspaces', { path: tmpRepo('repo-', d.dataDir) });
  const refused = cli('new', '--worktree', ws.body.worktrees[0].id, '--executor', 'bogus');
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /^agentd new: .*\(VALIDATION_ERROR, HTTP 422\)\n$/);

  const usage = cli('new');
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /--worktree ID is required/);

  const dashes = cli('ls', '--', 'x');
  assert.equal(dashes.status, 2);
  assert.match(dashes.stderr, /unexpected arguments after '--'/);

  const extra = cli('stop', 'a', 'b');
  assert.equal(extra.status, 2);
  assert.match(extra.stderr, /unexpected argument 'b'/);

  // an option no command knows is named, never garbage
  const unknown = cli('start', '--bogus', 'x');
  assert.equal(unknown.status, 2);
  assert.equal(unknown.stderr, "agentd start: unknown option '--bogus' (see 'agentd --help')\n");

  // every command answers --help with what it takes, exit 0, nothing on stderr
  for (const cmd of ['ls', 'new', 'start', 'send', 'logs', 'stop', 'rm', 'token', 'approvals', 'approve', 'ws', 'wt', 'merge']) {
    const h = cli(cmd, '--help');
    assert.equal(h.status, 0, `${cmd}: ${h.stderr}`);
    assert.match(h.stdout, new RegExp(`^Usage: agentd ${cmd}`), cmd);
    assert.equal(h.stderr, '', cmd);
  }
});

test('a client with no daemon says so', () => {
  const dir = tmpDir();
  const r = run(['ls', '--data-dir', dir]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cannot reach the daemon at .*agentd\.sock: is 'agentd serve' running/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('agentd token create, ls and revoke: the token works over TCP, once revoked it does not', async (t) => {
  const d = await startApi();
  t.after(() => d.cleanup());
  const cli = (...args) => run(['--data-dir', d.dataDir, ...args]);
  const made = cli('token', 'create', 'ci bot', '--scope', 'write', '--expires-in', '30d');
  assert.equal(made.status, 0, made.stderr);
  const secret = made.stdout.trim();
  assert.match(secret, /^tok_[0-9a-z]{26}\.\S{20,}$/);
  assert.match(made.stderr, /shown only now/);
  const id = secret.split('.')[0];
  // The token works on the TCP port, with its scope.
  const asBot = (method, p, body) => fetch(d.url + p, { method, headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
  assert.equal((await asBot('GET', '/api/agents')).status, 200);
  assert.equal((await asBot('GET', '/api/tokens')).status, 403, 'write scope cannot list tokens');
  // ls shows it, never the secret.
  const ls = cli('token', 'ls');
  assert.equal(ls.status, 0, ls.stderr);
  assert.match(ls.stdout, /^ID\s+NAME\s+SCOPE\s+ORG\s+EXPIRES\s+STATE/);
  const row = ls.stdout.split('\n').find((l) => l.startsWith(id));
  assert.ok(row && /write/.test(row) && /active/.test(row) && /2\d{3}-/.test(row), ls.stdout);
  assert.ok(!ls.stdout.includes(secret.split('.')[1]), 'ls printed the secret');
  const j = JSON.parse(cli('token', 'ls', '--json').stdout);
  assert.ok(j.tokens.some((x) => x.id === id && x.name === 'ci bot' && x.token === undefined));
  // Bad input: one line, exit 2 (usage) or 1 (the daemon refused).
  const bad = cli('token', 'create', 'x', '--scope', 'root');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /scope must be one of/);
  assert.equal(cli('token', 'create', 'x', '--expires-in', 'soon').status, 2);
  assert.equal(cli('token', 'frob').status, 2);
  const missing = cli('token', 'revoke', 'tok_00000000000000000000000000');
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /not found/);
  // Revoked: refused at once.
  const rv = cli('token', 'revoke', id);
  assert.equal(rv.status, 0, rv.stderr);
  assert.equal((await asBot('GET', '/api/agents')).status, 401);
  const after = cli('token', 'ls').stdout.split('\n').find((l) => l.startsWith(id));
  assert.ok(after === undefined || /revoked/.test(after), after);
});

test('new --model --base-url: a codex agent pointed at a provider', async (t) => {
  const d = await startApi();
  t.after(() => d.cleanup());
  const cli = (...args) => run(['--data-dir', d.dataDir, ...args]);
  const ws = await d.req('POST', '/api/workspaces', { path: tmpRepo('repo-', d.dataDir) });
  const wtId = ws.body.worktrees[0].id;
  const created = cli('new', '--worktree', wtId, '--executor', 'codex', '--model', 'gpt-5.5',
    '--base-url', 'http://127.0.0.1:9/v1');
  assert.equal(created.status, 0, created.stderr);
  const a = (await d.req('GET', `/api/agents/${created.stdout.trim()}`)).body;
  assert.equal(a.executor, 'codex');
  assert.equal(a.state.model, 'gpt-5.5');
  assert.equal(a.state.baseUrl, 'http://127.0.0.1:9/v1');
  const bad = cli('new', '--worktree', wtId, '--executor', 'codex', '--base-url', 'ftp://x');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /baseUrl/);
});
