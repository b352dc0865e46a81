// SPDX-License-Identifier: MIT
// The sandbox on a machine set up the way developers set theirs up (issue
// #74): Python from pyenv shims, a conda env, node from nvm, a script in
// ~/.local/bin whose #! is `/usr/bin/env python3`, a script under ~, a
// relative program in the worktree. Each runs in the default sandbox as it
// would in its user's shell, while ~/.ssh and the data dir stay out of
// sight, a --sandbox-paths folder over a repository keeps its worktree
// writable, and a path that may not be shown is named with how to allow it.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const daemon = require('./lib/daemon');
const { request, until, orgRoots } = require('./lib/api');

const call = (d, method, url, body) => request(d.url, method, url, body, d.authHeaders);

function which(name) {
  return fs.realpathSync(execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim());
}

// A home folder as a developer's: toolchains under it, and a secret.
function makeHome() {
  const home = fs.realpathSync(daemon.tmpDir('agentd-home-'));
  const put = (rel, text, mode = 0o755) => {
    const p = path.join(home, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text, { mode });
    return p;
  };
  const link = (rel, target) => {
    const p = path.join(home, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.symlinkSync(target, p);
    return p;
  };
  // the system's interpreter (this machine's own python3 may be a shim of
  // another home)
  const py = fs.existsSync('/usr/bin/python3') ? fs.realpathSync('/usr/bin/python3') : which('python3');
  // pyenv: a shim (a bash script, as pyenv writes them) exec'ing a version
  link('.pyenv/versions/3.11.9/bin/python3', py);
  put('.pyenv/shims/python3', `#!/usr/bin/env bash\nset -e\nexport PYENV_ROOT="${home}/.pyenv"\nexec "${home}/.pyenv/versions/3.11.9/bin/python3" "$@"\n`);
  put('.pyenv/version', '3.11.9\n', 0o644);
  // conda: an env with its conda-meta
  link('miniconda3/envs/ml/bin/python', py);
  fs.mkdirSync(path.join(home, 'miniconda3/envs/ml/conda-meta'), { recursive: true });
  // nvm: node of a version
  link('.nvm/versions/node/v20.11.1/bin/node', fs.realpathSync(process.execPath));
  // a pip --user style CLI whose interpreter is found through env
  put('.local/bin/mytool', '#!/usr/bin/env python3\nimport sys\nprint("mytool ran on", sys.version_info[0])\n');
  // a script of the user's, and a file a command names
  put('scripts/eval.sh', '#!/bin/sh\necho "eval ran with $1"\n');
  put('notes/input.txt', 'input from the home folder\n', 0o644);
  // secrets
  put('.ssh/id_rsa', 'SECRET-SSH-KEY\n', 0o600);
  put('.aws/credentials', 'SECRET-AWS\n', 0o600);
  return home;
}

// A daemon whose user has that home, its PATH as a pyenv user's shell has
// it (the shims first; ~/.local/bin left for agentd to add).
async function homeDaemon(home, args = []) {
  return daemon.start({ needUrl: true, args, env: { HOME: home, PATH: `${home}/.pyenv/shims:${process.env.PATH}` } });
}

async function worktree(d, dir = daemon.tmpRepo('agentd-home-wt-')) {
  const r = await call(d, 'POST', '/api/workspaces', { path: dir });
  assert.equal(r.status, 201, r.text);
  return { dir, wt: r.body.worktrees[0].id };
}

async function output(d, id) {
  const r = await call(d, 'GET', `/api/agents/${id}/messages?limit=200`);
  return (r.body.messages || []).map((m) => m.content).join('\n');
}

// Runs command as a command agent to its end: { start, out } (start: the
// start's answer; out: what it printed, when it started).
async function runCommand(d, wt, command) {
  let r = await call(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command });
  assert.equal(r.status, 201, r.text);
  const id = r.body.id;
  const start = await call(d, 'POST', `/api/agents/${id}/start`, {});
  if (start.status !== 200) return { id, start, out: '' };
  await until(async () => {
    const a = await call(d, 'GET', `/api/agents/${id}`);
    return !['running', 'starting', 'stopping'].includes(a.body.status);
  }, `the command ${command.join(' ')} to end`, 30000);
  return { id, start, out: await output(d, id) };
}

test('home toolchains run in the sandbox as in their user\'s shell: pyenv, conda, nvm, ~/.local/bin, ~/scripts, ./relative', async () => {
  const home = makeHome();
  const d = await homeDaemon(home);
  try {
    const { dir, wt } = await worktree(d);
    fs.writeFileSync(path.join(dir, 'x.py'), 'print("hello from", "pyenv")\n');
    fs.mkdirSync(path.join(dir, 'tools'));
    fs.writeFileSync(path.join(dir, 'tools/run.sh'), '#!/bin/sh\necho "tools ran in $(pwd)"\n', { mode: 0o755 });

    // every case is run, and what went wrong in each is said together
    const cases = [
      [['python3', 'x.py'], /hello from pyenv/],
      [[`${home}/miniconda3/envs/ml/bin/python`, '-c', 'print("conda env ran")'], /conda env ran/],
      [[`${home}/.nvm/versions/node/v20.11.1/bin/node`, '-e', 'console.log("nvm node ran")'], /nvm node ran/],
      [['mytool'], /mytool ran on 3/],
      [['~/scripts/eval.sh', 'ARG'], /eval ran with ARG/],
      [['./tools/run.sh'], new RegExp(`tools ran in ${dir}`)],
      // a file the command names outside the worktree is shown (read-only)
      [['cat', `${home}/notes/input.txt`], /input from the home folder/],
    ];
    const wrong = [];
    for (const [command, want] of cases) {
      const r = await runCommand(d, wt, command);
      if (r.start.status !== 200) wrong.push(`${command.join(' ')}: start ${r.start.status} ${r.start.text}`);
      else if (!want.test(r.out)) wrong.push(`${command.join(' ')}: ${r.out.trim() || '(nothing)'}`);
    }
    assert.deepEqual(wrong, []);
  } finally {
    await d.cleanup();
  }
});

test('~/.ssh, ~/.aws and the data dir stay out of sight, even with the toolchains shown; a named secret is refused with how to allow it', async () => {
  const home = makeHome();
  const d = await homeDaemon(home);
  try {
    const { wt } = await worktree(d);
    // the agent runs pyenv's python (so ~/.pyenv is shown) and looks around
    const probe = `import os\nfor p in ["${home}/.ssh/id_rsa", "${home}/.aws/credentials", "${d.dataDir}/owner-token"]:\n    try:\n        print("LEAK", p, open(p).read().strip())\n    except OSError as e:\n        print("DENIED", p)\nprint("home:", sorted(os.listdir("${home}")) if os.path.isdir("${home}") else "none")\n`;
    let r = await runCommand(d, wt, ['python3', '-c', probe]);
    assert.equal(r.start.status, 200, r.start.text);
    assert.doesNotMatch(r.out, /LEAK|SECRET/, r.out);
    assert.equal((r.out.match(/^DENIED /gm) || []).length, 3, r.out);
    assert.doesNotMatch(r.out, /'\.ssh'|'\.aws'/, r.out);

    // a command that names the key: refused, saying why and how to allow it
    r = await runCommand(d, wt, ['cat', `${home}/.ssh/id_rsa`]);
    assert.equal(r.start.status, 422, r.start.text);
    assert.match(r.start.body.error.message || r.start.text, /\.ssh\/id_rsa is outside the agent's sandbox .*--sandbox-paths/, r.start.text);
    // no run was made, yet the transcript and the agent's statusReason say why
    const note = await until(async () => {
      const m = await call(d, 'GET', `/api/agents/${r.id}/messages?limit=200`);
      return (m.body.messages || []).find((x) => x.role === 'system' && /\.ssh\/id_rsa is outside the agent's sandbox/.test(x.content)) || null;
    }, 'the refusal in the transcript', 10000);
    assert.match(note.content, /did not start.*--sandbox-paths/, note.content);
    const refused = await call(d, 'GET', `/api/agents/${r.id}`);
    assert.equal(refused.body.statusReason?.code, 'start_refused', JSON.stringify(refused.body));
    assert.match(refused.body.statusReason.text, /id_rsa is outside the agent's sandbox/, JSON.stringify(refused.body));
    const logs = daemon.run(['--data-dir', d.dataDir, 'logs', r.id], { timeout: 30000 });
    assert.match(logs.stdout, /did not start.*id_rsa is outside the agent's sandbox/, logs.stdout + logs.stderr);
    // a program found only while it runs (a script calls it): the run's
    // reason says where to look, not a bare exit 127
    fs.mkdirSync(path.join(home, 'private'));
    fs.writeFileSync(path.join(home, 'private/tool'), '#!/bin/sh\necho tool\n', { mode: 0o755 });
    r = await runCommand(d, wt, ['sh', '-c', `exec ${home}/private/tool`]);
    assert.equal(r.start.status, 200, r.start.text);
    const runs = await call(d, 'GET', `/api/agents/${r.id}`);
    assert.match(JSON.stringify(runs.body.statusReason), /127.*outside the agent's sandbox.*--sandbox-paths/, JSON.stringify(runs.body));
    // the data dir: refused, and no --sandbox-paths can allow it
    r = await runCommand(d, wt, ['cat', path.join(d.dataDir, 'owner-token')]);
    assert.equal(r.start.status, 422, r.start.text);
    assert.match(r.start.text, /outside the agent's sandbox \(it is in agentd's data dir/, r.start.text);
  } finally {
    await d.cleanup();
  }
});

test('--sandbox-paths naming the folder that holds a repository keeps its worktree writable, and covers the home\'s secrets', async () => {
  const home = makeHome();
  const projects = path.join(home, 'projects');
  fs.mkdirSync(projects);
  const repo = daemon.tmpRepo('repo-', projects);
  const fixtures = path.resolve(__dirname, '../fixtures');
  const d = await homeDaemon(home, ['--sandbox-paths', `${fixtures},${projects},${home}/.config`]);
  fs.mkdirSync(path.join(home, '.config/gcloud'), { recursive: true });
  fs.writeFileSync(path.join(home, '.config/gcloud/credentials.db'), 'SECRET-GCLOUD\n');
  fs.writeFileSync(path.join(home, '.config/tool.toml'), 'shown = true\n');
  try {
    const { wt } = await worktree(d, repo);
    const r = await runCommand(d, wt, ['sh', '-c',
      `echo written > written.txt && echo WROTE; cat ${home}/.config/tool.toml; cat ${home}/.config/gcloud/credentials.db || echo GCLOUD-DENIED`]);
    assert.equal(r.start.status, 200, r.start.text);
    assert.match(r.out, /WROTE/, r.out);
    assert.equal(fs.readFileSync(path.join(repo, 'written.txt'), 'utf8'), 'written\n');
    assert.match(r.out, /shown = true/, r.out);
    assert.match(r.out, /GCLOUD-DENIED/, r.out);
    assert.doesNotMatch(r.out, /SECRET/, r.out);
  } finally {
    await d.cleanup();
  }
});

// The real Claude Code CLI installed in the home's nvm tree (as `npm i -g`
// under nvm puts it), found by name on the agent's PATH, starts in the
// sandbox and answers; its owner's ~/.claude holds the backups an earlier
// start left but no ~/.claude.json, which made every start print
// "Claude configuration file not found" into the transcript.
const { start: startMock } = require('../fixtures/mock-anthropic');
const { CLAUDE_BIN, claudeMissingReason, claudeEnv } = require('../fixtures/claude-run');

test('the Claude CLI from the home\'s nvm tree starts in the sandbox, and its start writes no configuration noise', { skip: claudeMissingReason() || false }, async () => {
  const home = makeHome();
  const nvm = path.join(home, '.nvm/versions/node/v20.11.1');
  const pkg = path.join(nvm, 'lib/node_modules/@anthropic-ai/claude-code/bin');
  fs.mkdirSync(pkg, { recursive: true });
  const real = fs.realpathSync(CLAUDE_BIN);
  try { fs.linkSync(real, path.join(pkg, path.basename(real))); } catch (_) { fs.copyFileSync(real, path.join(pkg, path.basename(real))); }
  fs.chmodSync(path.join(pkg, path.basename(real)), 0o755);
  fs.symlinkSync(`../lib/node_modules/@anthropic-ai/claude-code/bin/${path.basename(real)}`, path.join(nvm, 'bin/claude'));
  fs.mkdirSync(path.join(home, '.claude/backups'), { recursive: true });
  fs.writeFileSync(path.join(home, '.claude/backups/.claude.json.backup.1700000000000'), '{"numStartups":1}\n');
  const mock = await startMock({ rules: [{ match: 'say hello', reply: { text: 'Hello from the nvm claude.' } }] });
  const d = await daemon.start({ needUrl: true, args: ['--claude-bin', 'claude'],
    env: { HOME: home, PATH: `${nvm}/bin:${home}/.pyenv/shims:${process.env.PATH}` } });
  try {
    if (process.getuid && process.getuid() === 0) {
      assert.equal((await call(d, 'PATCH', '/api/settings', { allow_root_auto: true })).status, 200);
    }
    const { wt } = await worktree(d);
    const env = claudeEnv(mock.url, home);
    delete env.PATH;
    delete env.HOME;
    let r = await call(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'claude', mode: 'auto', env, allowUnsafeEnv: true });
    assert.equal(r.status, 201, r.text);
    const id = r.body.id;
    r = await call(d, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'please say hello' });
    assert.equal(r.status, 200, r.text);
    const out = await until(async () => {
      const o = await output(d, id);
      return /Hello from the nvm claude\./.test(o) ? o : null;
    }, 'the answer', 60000);
    assert.doesNotMatch(out, /configuration file not found|backup file exists/i, out);
  } finally {
    await d.cleanup();
    await mock.close();
  }
});

test('agentd sandbox check runs a command as an agent would and says what the sandbox shows', async () => {
  const home = makeHome();
  const d = await homeDaemon(home);
  try {
    const cli = (...args) => daemon.run(['--data-dir', d.dataDir, 'sandbox', 'check', ...args], { timeout: 60000 });
    let r = cli('--', 'python3', '-c', 'print("checked", 6 * 7)');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`program: +${home}/\\.pyenv/shims/python3`), r.stdout);
    assert.match(r.stdout, new RegExp(`read-only +${home}/\\.pyenv\\n`), r.stdout);
    assert.match(r.stdout, /started: +yes, exit 0/, r.stdout);
    assert.match(r.stdout, /checked 42/, r.stdout);
    assert.doesNotMatch(r.stdout, /\.ssh/, r.stdout);

    r = cli('--json', '--', 'mytool');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.program, `${home}/.local/bin/mytool`);
    assert.ok(j.agentPath.startsWith(`${home}/.local/bin:`), j.agentPath);
    assert.ok(j.shown.some((b) => b.at === `${home}/.pyenv` && b.mode === 'read-only'), JSON.stringify(j.shown));
    assert.match(j.output, /mytool ran on 3/);

    r = cli('--', 'cat', `${home}/.ssh/id_rsa`);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /error: +.*\.ssh\/id_rsa is outside the agent's sandbox .*--sandbox-paths/, r.stdout);
    assert.doesNotMatch(r.stdout, /SECRET/, r.stdout);
  } finally {
    await d.cleanup();
  }
});

test('agentd sandbox check --worktree/--agent checks in that worktree (read-only), not an empty scratch one', async () => {
  const home = makeHome();
  const d = await homeDaemon(home);
  try {
    const { dir, wt } = await worktree(d);
    fs.mkdirSync(path.join(dir, 'tools'));
    fs.writeFileSync(path.join(dir, 'tools/run.sh'), '#!/bin/sh\necho "tools ran in $(pwd)"; touch written-by-check 2>/dev/null || echo READ-ONLY\n', { mode: 0o755 });
    const cli = (...args) => daemon.run(['--data-dir', d.dataDir, 'sandbox', 'check', ...args], { timeout: 60000 });
    // the scratch worktree has no tools/run.sh
    let r = cli('--', './tools/run.sh');
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /not found \(a relative path is taken against the worktree\)/, r.stdout);
    // the worktree by id, and by name
    const row = (await call(d, 'GET', `/api/worktrees/${wt}`)).body;
    for (const want of [wt, row.name]) {
      r = cli('--worktree', want, '--', './tools/run.sh');
      assert.equal(r.status, 0, `--worktree ${want}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout, new RegExp(`program: +${dir}/(\\./)?tools/run\\.sh`), r.stdout);
      assert.match(r.stdout, new RegExp(`tools ran in ${dir}`), r.stdout);
      assert.match(r.stdout, /READ-ONLY/, r.stdout);
    }
    assert.equal(fs.existsSync(path.join(dir, 'written-by-check')), false, 'a check wrote into the worktree');
    // a ~/.local/bin program resolves the same way there
    r = cli('--json', '--worktree', wt, '--', 'mytool');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.equal(JSON.parse(r.stdout).program, `${home}/.local/bin/mytool`);
    // --agent: that agent's worktree
    const a = await call(d, 'POST', '/api/agents', { worktreeId: wt, name: 'checker', executor: 'command', command: ['true'] });
    assert.equal(a.status, 201, a.text);
    r = cli('--agent', 'checker', '--', './tools/run.sh');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`tools ran in ${dir}`), r.stdout);
    // usage: --worktree needs a command; an unknown worktree is said
    r = cli('--worktree', wt);
    assert.equal(r.status, 2, r.stdout + r.stderr);
    r = cli('--worktree', 'no-such-worktree', '--', 'true');
    assert.notEqual(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stderr + r.stdout, /no-such-worktree/);
    // another organisation's admin cannot check in the owner's worktree (404, as if absent)
    let o = await call(d, 'POST', '/api/orgs', { name: 'org b' });
    o = await call(d, 'POST', '/api/tokens', { name: 'b-admin', scope: 'admin', orgId: o.body.id });
    const b = await request(d.url, 'POST', '/api/requirements/sandbox', { command: ['./tools/run.sh'], worktreeId: wt }, { authorization: `Bearer ${o.body.token}` });
    assert.equal(b.status, 404, b.text);
    assert.doesNotMatch(b.text, /tools ran/);
  } finally {
    await d.cleanup();
  }
});

test('/api/requirements tries each agent CLI inside the sandbox, not only on agentd\'s PATH', async () => {
  const home = makeHome();
  // a "claude" that runs for agentd but leans on a folder no sandbox shows,
  // and a "codex" that starts anywhere
  fs.mkdirSync(path.join(home, 'private'));
  fs.writeFileSync(path.join(home, 'private/real-claude'), '#!/bin/sh\necho "9.9.9 (Claude Code)"\n', { mode: 0o755 });
  fs.mkdirSync(path.join(home, 'tools'));
  fs.writeFileSync(path.join(home, 'tools/claude'), `#!/bin/sh\nexec ${home}/private/real-claude "$@"\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(home, '.local/bin/codex'), '#!/bin/sh\necho "codex-cli 1.2.3"\n', { mode: 0o755 });
  const d = await homeDaemon(home, ['--claude-bin', path.join(home, 'tools/claude'), '--codex-bin', 'codex']);
  try {
    const r = await call(d, 'GET', '/api/requirements?refresh=true');
    assert.equal(r.status, 200, r.text);
    const item = (id) => r.body.items.find((i) => i.id === id);
    assert.equal(item('claude').status, 'ok', JSON.stringify(item('claude')));
    assert.ok(item('claude-sandbox'), JSON.stringify(r.body.items.map((i) => i.id)));
    assert.equal(item('claude-sandbox').status, 'warning', JSON.stringify(item('claude-sandbox')));
    assert.match(item('claude-sandbox').fix, /--sandbox-paths/);
    assert.ok(item('codex-sandbox'), JSON.stringify(r.body.items.map((i) => i.id)));
    assert.equal(item('codex-sandbox').status, 'ok', JSON.stringify(item('codex-sandbox')));
    assert.match(item('codex-sandbox').value, /codex-cli 1\.2\.3/);

    const c = daemon.run(['--data-dir', d.dataDir, 'sandbox', 'check'], { timeout: 60000 });
    assert.equal(c.status, 1, c.stdout + c.stderr);
    assert.match(c.stdout, /FAIL Claude Code CLI in the agent sandbox/, c.stdout);
    assert.match(c.stdout, /ok +Codex CLI in the agent sandbox: codex-cli 1\.2\.3/, c.stdout);
  } finally {
    await d.cleanup();
  }
});

test('another organisation\'s admin cannot name this machine\'s files to have them shown', async () => {
  const home = makeHome();
  const d = await homeDaemon(home);
  try {
    let r = await call(d, 'POST', '/api/orgs', { name: 'org b' });
    assert.equal(r.status, 201, r.text);
    await orgRoots(d, r.body.id);
    r = await call(d, 'POST', '/api/tokens', { name: 'b-admin', scope: 'admin', orgId: r.body.id });
    assert.equal(r.status, 201, r.text);
    const b = { ...d, authHeaders: { authorization: `Bearer ${r.body.token}` } };
    const { wt } = await worktree(b);
    // the owner's agents see a file a command names; org b's do not
    const owners = await runCommand(d, (await worktree(d)).wt, ['cat', `${home}/notes/input.txt`]);
    assert.match(owners.out, /input from the home folder/, owners.out);
    r = await runCommand(b, wt, ['cat', `${home}/notes/input.txt`]);
    assert.equal(r.start.status, 200, r.start.text);
    assert.doesNotMatch(r.out, /input from the home folder/, r.out);
    assert.match(r.out, /No such file/, r.out);
    // nor the owner's toolchains
    r = await runCommand(b, wt, ['sh', '-c', `ls ${home}/.pyenv || echo NO-PYENV`]);
    assert.match(r.out, /NO-PYENV/, r.out);
  } finally {
    await d.cleanup();
  }
});
