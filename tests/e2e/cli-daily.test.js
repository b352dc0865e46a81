// SPDX-License-Identifier: MIT
// The CLI does what the dashboard does (issue #32): ws add, new --allow,
// fork, diff, commit, open, ls with full names, worktree names and cost,
// stop's wording, logs -f --until idle with approval ids (real Claude Code
// against the mock API), and completion scripts made from the command table
// (every command `agentd --help` lists is in them). Each with its exit codes
// and clear errors for bad input.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { BIN, run, tmpDir } = require('./lib/daemon');
const { startApi } = require('./lib/api');
const { git, makeRepo } = require('./lib/gitrepo');
const { until } = require('./lib/agents');
const { start: startMock } = require('../fixtures/mock-anthropic');
const { CLAUDE_BIN, claudeMissingReason, makeSandbox, claudeEnv } = require('../fixtures/claude-run');

const FAKE = path.resolve(__dirname, '../fixtures/fake-agent.js');

async function daemonWithRepo(t, opts = {}) {
  const d = await startApi(opts);
  t.after(() => d.cleanup());
  const cli = (...args) => run(['--data-dir', d.dataDir, ...args], { env: opts.env });
  return { d, cli };
}

test('ws add, new --allow, ls (full names, worktree names, cost), fork', async (t) => {
  const { d, cli } = await daemonWithRepo(t);
  const { repo } = makeRepo();
  // ws add takes a relative path too: the client makes it absolute.
  const rel = path.relative(process.cwd(), repo);
  let r = cli('ws', 'add', rel, '--name', 'myrepo');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^ws_\\w+ ${repo} \\(myrepo, 1 worktree\\)\\n$`));
  assert.equal(cli('ws', 'add', repo).status, 1); // already there: the daemon's 409
  r = cli('ws', 'add', path.join(repo, 'no-such-dir'));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no-such-dir: No such file or directory/);
  assert.equal(cli('ws', 'add').status, 2);
  assert.equal(cli('ws', 'frob').status, 2);
  const wt = JSON.parse(cli('wt', 'ls', '--json').stdout).worktrees[0];
  // Tables show names whole (they used to be cut at 16 or 20 characters).
  const longWt = 'a-worktree-name-longer-than-twenty';
  assert.equal(cli('wt', 'new', '--workspace', 'myrepo', longWt).status, 0);
  assert.match(cli('wt', 'ls').stdout, new RegExp(` ${longWt} +${longWt} +main `));
  assert.match(cli('ws', 'ls').stdout, / myrepo /);

  const long = 'an agent with a rather long name that used to be cut';
  r = cli('new', '--worktree', wt.name, '--name', long, '--allow', 'read,write,execute', '--', process.execPath, FAKE, 'echo');
  assert.equal(r.status, 0, r.stderr);
  const id = r.stdout.trim();
  const ag = (await d.req('GET', `/api/agents/${id}`)).body;
  assert.deepEqual(ag.permissions, ['read', 'write', 'execute']);
  r = cli('new', '--worktree', wt.name, '--allow', 'read,,write');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--allow takes permissions separated by commas/);
  r = cli('new', '--worktree', wt.name, '--allow', 'teleport');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /permissions: teleport/);

  const ls = cli('ls');
  assert.equal(ls.status, 0, ls.stderr);
  const lines = ls.stdout.trim().split('\n');
  assert.match(lines[0], /^ID\s+NAME\s+EXECUTOR\s+STATUS\s+MODE\s+WORKTREE\s+COST$/);
  assert.ok(lines[1].includes(long), lines[1]);
  assert.ok(lines[1].includes(` ${wt.name} `), lines[1]);
  assert.match(lines[1], /\$0\.00$/);

  r = cli('fork', long, '--name', 'the fork');
  assert.equal(r.status, 0, r.stderr);
  const forkId = r.stdout.trim();
  assert.match(forkId, /^ag_/);
  const fork = (await d.req('GET', `/api/agents/${forkId}`)).body;
  assert.equal(fork.name, 'the fork');
  assert.equal(fork.parentAgentId, id);
  r = cli('fork', 'nobody');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no agent named nobody/);
  assert.equal(cli('fork').status, 2);

  // stop's words: started (status running), then stopping/stopped.
  r = cli('start', forkId);
  assert.equal(r.status, 0, r.stderr);
  r = cli('stop', '--no-wait', forkId);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^${forkId} stopping`));
  await until(async () => (await d.req('GET', `/api/agents/${forkId}`)).body.status !== 'stopping', 'the stop');
});

test('diff and commit a worktree; open prints or opens the URL', async (t) => {
  const dir = tmpDir('cli-open-');
  const opened = path.join(dir, 'opened.txt');
  const opener = path.join(dir, 'opener.sh');
  fs.writeFileSync(opener, `#!/bin/sh\nprintf '%s' "$1" > ${opened}\n`, { mode: 0o755 });
  const { d, cli } = await daemonWithRepo(t, { env: { AGENTD_OPENER: opener } });
  const { repo } = makeRepo();
  const ws = await d.req('POST', '/api/workspaces', { path: repo });
  const w = await d.req('POST', '/api/worktrees', { workspaceId: ws.body.id, name: 'feat', createBranch: true });
  assert.equal(w.status, 201, JSON.stringify(w.body));
  fs.writeFileSync(path.join(w.body.path, 'new.txt'), 'one\ntwo\n');

  let r = cli('commit', 'feat', '-m', 'add new.txt');
  assert.equal(r.status, 1); // nothing staged
  assert.match(r.stderr, /nothing to commit/);
  assert.equal(cli('commit', 'feat').status, 2); // no message
  assert.equal(cli('commit', 'nope', '-m', 'x').status, 1);
  r = cli('commit', 'feat', '--all', '--message', 'add new.txt');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^[0-9a-f]{7} on feat: 1 file\n$/);
  assert.equal(git(w.body.path, 'log', '-1', '--format=%s'), 'add new.txt');

  r = cli('diff', 'feat');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^1 ahead, 0 behind main, 0 uncommitted\n/);
  assert.match(r.stdout, /add new\.txt/);
  assert.match(r.stdout, /added\s+new\.txt\s+\+2 -0/);
  r = cli('diff', 'feat', 'new.txt');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /\+two/);
  fs.writeFileSync(path.join(w.body.path, 'a.txt'), 'changed\n');
  r = cli('diff', 'feat', '--working');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^1 file changed/);
  assert.match(r.stdout, /a\.txt/);
  assert.equal(cli('diff', 'feat', '--working', '--against', 'main').status, 2);
  r = cli('diff', 'feat', '--against', 'no-such-ref');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no-such-ref/);

  r = cli('open', '--print');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `${d.url}/\n`);
  const ag = await d.req('POST', '/api/agents', { worktreeId: w.body.id, name: 'viewer', executor: 'command', command: ['true'] });
  r = cli('open', 'viewer');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, ''); // the opener took it
  assert.equal(fs.readFileSync(opened, 'utf8'), `${d.url}/#/agents/${ag.body.id}`);
  assert.equal(cli('open', 'nobody').status, 1);
  // agentd app: an app window of the browser it finds (here a stand-in
  // that records its arguments), left running
  const appArgs = path.join(dir, 'app-args.txt');
  const browser = path.join(dir, 'chromium');
  fs.writeFileSync(browser, `#!/bin/sh\nprintf '%s' "$*" > ${appArgs}.tmp && mv ${appArgs}.tmp ${appArgs}\n`, { mode: 0o755 });
  r = run(['--data-dir', d.dataDir, 'app', 'viewer'], { env: { AGENTD_APP_BROWSER: browser } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '');
  await until(() => fs.existsSync(appArgs), 'the browser started');
  assert.equal(fs.readFileSync(appArgs, 'utf8'), `--app=${d.url}/#/agents/${ag.body.id}`);
  fs.rmSync(dir, { recursive: true, force: true });
});

// The commands `agentd --help` lists: the first word of each line of its
// Commands section.
function helpCommands() {
  const out = run(['--help']).stdout;
  const from = out.indexOf('Commands:\n');
  const section = out.slice(from, out.indexOf('\n\n', from)); // up to the notes after the list
  const names = new Set();
  for (const line of section.split('\n').slice(1)) {
    const m = line.match(/^ {2}([a-z]+)(\s|$)/);
    if (m && !/^ {3}/.test(line)) names.add(m[1]);
  }
  return [...names];
}

test('completion scripts list every command agentd --help lists, with their options', () => {
  const cmds = helpCommands();
  for (const c of ['serve', 'ls', 'new', 'logs', 'ws', 'wt', 'merge', 'fork', 'diff', 'commit', 'open', 'completion']) {
    assert.ok(cmds.includes(c), `agentd --help lists ${c}: ${cmds}`);
  }
  const bash = run(['completion', 'bash']);
  assert.equal(bash.status, 0, bash.stderr);
  assert.equal(spawnSync('bash', ['-n'], { input: bash.stdout }).status, 0, 'valid bash');
  const top = bash.stdout.match(/words="([^"]*)"\n {2}else/)[1].split(' ');
  for (const c of cmds) assert.ok(top.includes(c), `bash completes ${c}`);
  // Run it as bash would: the command names, subcommands and options.
  const complete = (...words) => spawnSync('bash', ['-c',
    `${bash.stdout}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _agentd; echo "\${COMPREPLY[*]}"`],
  { encoding: 'utf8' }).stdout.trim().split(' ');
  assert.deepEqual(complete('agentd', 'w').sort(), ['workflow', 'ws', 'wt']);
  assert.deepEqual(complete('agentd', 'ws', '').slice(0, 2), ['ls', 'add']);
  assert.ok(complete('agentd', 'new', '--a').includes('--allow'));
  assert.ok(complete('agentd', 'logs', '--u').includes('--until'));

  const zsh = run(['completion', 'zsh']);
  assert.equal(zsh.status, 0, zsh.stderr);
  assert.match(zsh.stdout, /^#compdef agentd\n/);
  for (const c of cmds) assert.match(zsh.stdout, new RegExp(`^ {4}'${c}:`, 'm'), `zsh lists ${c}`);
  for (const c of cmds) assert.match(zsh.stdout, new RegExp(`^ {4}${c}\\) compadd`, 'm'), `zsh completes ${c}'s options`);
  if (spawnSync('zsh', ['--version']).status === 0) {
    assert.equal(spawnSync('zsh', ['-n'], { input: zsh.stdout }).status, 0, 'valid zsh');
  }
  const bad = run(['completion', 'tcsh']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /usage: agentd completion bash\|zsh\|fish/);
  // Every command's --help explains its options.
  const help = run(['new', '--help']).stdout;
  for (const o of ['--worktree', '--executor', '--mode', '--name', '--allow', '--terminal', '--model', '--base-url', '--json']) {
    assert.match(help, new RegExp(`^ {2}${o} `, 'm'), `new --help explains ${o}`);
  }
  assert.match(run(['logs', '--help']).stdout, /--until W +with -f: end/);
});

const skipClaude = claudeMissingReason() || false;

test('logs -f --until idle exits when a Claude turn ends and shows approval ids', { skip: skipClaude }, async (t) => {
  const mock = await startMock();
  t.after(() => mock.close());
  const sb = makeSandbox();
  t.after(() => sb.cleanup());
  const { d, cli } = await daemonWithRepo(t, { args: ['--claude-bin', CLAUDE_BIN, '--stop-grace-ms', '3000'] });
  const ws = await d.req('POST', '/api/workspaces', { path: sb.cwd });
  assert.equal(ws.status, 201);
  const env = claudeEnv(mock.url, sb.home);
  delete env.PATH;
  const ag = await d.req('POST', '/api/agents', { worktreeId: ws.body.worktrees[0].id, executor: 'claude', env, allowUnsafeEnv: true, name: 'talker' });
  assert.equal(ag.status, 201, JSON.stringify(ag.body));
  const id = ag.body.id;
  assert.equal(cli('logs', '--until', 'idle', id).status, 2); // needs -f
  assert.equal(cli('logs', '-f', '--until', 'soon', id).status, 2);

  assert.equal(cli('start', id, 'please remember a word').status, 0);
  const follow = (...extra) => new Promise((resolve) => {
    const p = spawn(BIN, ['--data-dir', d.dataDir, 'logs', '-f', '--until', 'idle', 'talker', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (s) => { out += s; });
    const timer = setTimeout(() => p.kill('SIGKILL'), 60000);
    p.on('exit', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
  let r = await follow();
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /I will remember the word banana\./);
  assert.match(r.out, /— turn ended \(waiting\)\n$/);
  assert.equal((await d.req('GET', `/api/agents/${id}/runs`)).body.runs[0].status, 'running');
  // ls: a turn done is not "needs you" (issue #32, attention)
  const lsLine = () => cli('ls').stdout.split('\n').find((l) => l.startsWith(id));
  assert.match(lsLine(), / claude +turn done +regular /);

  // The next turn: a tool call that waits for approval; logs shows its id
  // and keeps following until the turn really ends.
  assert.equal(cli('send', id, 'please make a file').stdout, `${id} sent\n`);
  const p = follow();
  const ap = await until(async () => (await d.req('GET', `/api/agents/${id}/approvals?pending=true`)).body.approvals[0], 'the approval');
  await until(() => / claude +needs you +regular /.test(lsLine()), 'ls: the agent needs you');
  const a = cli('approve', ap.id);
  assert.equal(a.status, 0, a.stderr);
  r = await p;
  assert.equal(r.code, 0, r.out);
  assert.ok(r.out.includes(`? approval ${ap.id}: Bash  echo hello > out.txt (agentd approve ${ap.id})`), r.out);
  assert.match(r.out, /I wrote hello to out\.txt\./);
  assert.match(r.out, /— turn ended \(waiting\)\n$/);
  assert.equal(cli('stop', id).status, 0);
});
