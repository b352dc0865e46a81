// SPDX-License-Identifier: MIT
// A worker node finds and shows an agent's program the way a control plane
// does (issues #34 and #74, docs/nodes.md "The agent sandbox"): with the
// node's own PATH and home, a relative program against the run's worktree
// on the node, a bare name on the agent's PATH (the home's ~/.local/bin and
// ~/.pyenv/shims in front), ~ against the node user's home, and the
// toolchain tree the program needs shown read-only in the node's sandbox,
// while the home's secrets stay out of sight. The node's home is a
// temporary one set up as a developer's.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');
const daemon = require('./lib/daemon');
const { api, until, startApi, allMessages, commandAgent } = require('./lib/api');
const { nodeToken, startNode, nodeNamed } = require('./lib/nodes');

// A home as a developer's: a pyenv shim tree, a ~/.local/bin CLI, a script
// under ~, and a secret.
function makeHome() {
  const home = fs.realpathSync(daemon.tmpDir('agentd-node-home-'));
  const put = (rel, text, mode = 0o755) => {
    const p = path.join(home, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text, { mode });
  };
  const py = fs.existsSync('/usr/bin/python3') ? fs.realpathSync('/usr/bin/python3')
    : fs.realpathSync(execFileSync('sh', ['-c', 'command -v python3'], { encoding: 'utf8' }).trim());
  fs.mkdirSync(path.join(home, '.pyenv/versions/3.11.9/bin'), { recursive: true });
  fs.symlinkSync(py, path.join(home, '.pyenv/versions/3.11.9/bin/python3'));
  put('.pyenv/shims/python3', `#!/bin/sh\necho "via the pyenv shim"\nexec "${home}/.pyenv/versions/3.11.9/bin/python3" "$@"\n`);
  put('.local/bin/mytool', '#!/bin/sh\necho "mytool ran from ~/.local/bin"\n');
  put('scripts/eval.sh', '#!/bin/sh\necho "eval ran with $1"\n');
  put('.ssh/id_rsa', 'SECRET-SSH-KEY\n', 0o600);
  return home;
}

test('a node resolves and shows an agent\'s toolchain as a control plane does: ./relative, ~/.local/bin, pyenv shims, ~/scripts', async () => {
  const home = makeHome();
  const d = await startApi();
  const repo = daemon.tmpRepo('agentd-node-tc-');
  const dataDir = daemon.tmpDir('agentd-node-');
  let n = null;
  try {
    // a program committed in the repository: the node's worktree has it
    fs.mkdirSync(path.join(repo, 'tools'));
    fs.writeFileSync(path.join(repo, 'tools/run.sh'), '#!/bin/sh\necho "tools ran in $(pwd)"\n', { mode: 0o755 });
    const git = (...a) => spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@x', ...a], { cwd: repo, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' } });
    assert.equal(git('add', 'tools/run.sh').status, 0);
    assert.equal(git('commit', '-qm', 'tools').status, 0);
    const ws = await api(d, 'POST', '/api/workspaces', { path: repo });
    assert.equal(ws.status, 201, JSON.stringify(ws.body));
    const wt = ws.body.worktrees[0].id;
    // the node's own user has that home; its PATH the system's only
    const t = await nodeToken(d, 'tc1');
    n = await startNode(d.url, { token: t.token, name: 'tc1', dataDir, env: { HOME: home, PATH: '/usr/bin:/bin' } });
    await until(async () => (await nodeNamed(d, 'tc1'))?.state === 'connected', 'tc1 connected');

    const probe = `import os\ntry:\n    print("LEAK", open("${home}/.ssh/id_rsa").read().strip())\nexcept OSError:\n    print("DENIED ssh")\nprint("python ran", os.environ["PATH"].split(":")[0])`;
    const cases = [
      [['./tools/run.sh'], new RegExp(`tools ran in ${dataDir}/worktrees/${wt}`)],
      [['mytool'], /mytool ran from ~\/\.local\/bin/],
      [['python3', '-c', probe], new RegExp(`via the pyenv shim\\n(.|\\n)*DENIED ssh\\n(.|\\n)*python ran ${home}/\\.local/bin`)],
      [['~/scripts/eval.sh', 'ARG'], /eval ran with ARG/],
    ];
    const wrong = [];
    for (const [command, want] of cases) {
      const id = await commandAgent(d, wt, command, { node: 'tc1' });
      const s = await api(d, 'POST', `/api/agents/${id}/start`, {});
      if (s.status !== 200) { wrong.push(`${command.join(' ')}: start ${s.status} ${JSON.stringify(s.body)}`); continue; }
      // its end, or its agent's (a spawn the node refused ends it without a run)
      const run = await until(async () => {
        const r = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0];
        if (r && r.status !== 'running') return r;
        const a = (await api(d, 'GET', `/api/agents/${id}`)).body;
        return !r && a.status === 'error' ? { status: `not started: ${JSON.stringify(a.statusReason)}` } : null;
      }, `${command[0]} to end on the node`);
      const text = (await allMessages(d, id)).map((m) => m.content).join('\n');
      if (run.status !== 'succeeded' || !want.test(text) || /SECRET/.test(text)) {
        wrong.push(`${command.join(' ')}: ${run.status}: ${text.trim() || '(nothing)'}`);
      }
    }
    assert.deepEqual(wrong, []);

    // a program the node cannot find, in a worktree already at its tip (the
    // spawn fails at once): said, and the node goes on (it once freed the run
    // and then read it, and died)
    const bad = await commandAgent(d, wt, ['agentd-no-such-program'], { node: 'tc1' });
    const s = await api(d, 'POST', `/api/agents/${bad}/start`, {});
    if (s.status === 200) {
      await until(async () => {
        const r = (await api(d, 'GET', `/api/agents/${bad}/runs`)).body.runs[0];
        return r && r.status !== 'running' ? r : null;
      }, 'the missing program\'s run to end');
    }
    const id = await commandAgent(d, wt, ['./tools/run.sh'], { node: 'tc1' });
    await until(async () => (await nodeNamed(d, 'tc1'))?.state === 'connected', 'tc1 still connected');
    assert.equal(n.exited, null, `the node exited: ${n.stderr.slice(-2000)}`);
    assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, {})).status, 200);
    await until(async () => /tools ran in/.test((await allMessages(d, id)).map((m) => m.content).join('\n')), 'a run after it');
  } finally {
    if (n) await n.cleanup();
    await d.cleanup();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(repo, { recursive: true, force: true });
  }
});
