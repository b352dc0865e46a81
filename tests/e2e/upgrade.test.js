// SPDX-License-Identifier: MIT
// Upgrades keep every agent (issue #37): an agent started under a holder
// of an older agentd (agentd-hold built here from OLD_COMMIT, before
// holders said their version) is taken up by this agentd after a restart
// with --keep-agents, as a package upgrade does: its output goes on being
// stored, stop reaches it, its end is recorded. `agentd version` names the
// daemon's version and each holder's (the old one as older, a new one as
// the daemon's). The holder wire's rule (src/hold/hold.h: unknown frame
// types skipped, payloads only grow) is what this checks in practice.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const daemon = require('./lib/daemon');
const { BIN, run, tmpDir } = daemon;
const { api, until, startWithWorktree, commandAgent, allMessages } = require('./lib/api');

// The last commit whose holder sends no HELLO frame (main before #37's).
const OLD_COMMIT = '90cb0d3';
const TOP = path.resolve(__dirname, '..', '..');
const COUNTER = ['sh', '-c', 'i=0; while [ $i -lt 100000 ]; do echo "n=$i"; i=$((i+1)); sleep 0.02; done'];

const inGit = spawnSync('git', ['-C', TOP, 'cat-file', '-e', `${OLD_COMMIT}^{commit}`]).status === 0;
const skip = inGit ? false : `commit ${OLD_COMMIT} is not in this repository's history (a shallow clone?)`;

// agentd-hold as OLD_COMMIT built it (only the holder: src/core, src/hold),
// made once per build folder.
function oldHolder() {
  const dir = path.join(path.dirname(BIN), `old-hold-${OLD_COMMIT}`);
  const exe = path.join(dir, 'agentd-hold');
  if (fs.existsSync(exe)) return exe;
  const src = fs.mkdtempSync(path.join(path.dirname(BIN), 'old-hold-src-'));
  try {
    const sh = (cmd) => {
      const r = spawnSync('sh', ['-c', cmd], { cwd: src, encoding: 'utf8', timeout: 300000 });
      assert.equal(r.status, 0, `${cmd}: ${r.stderr}`);
    };
    sh(`git -C ${TOP} archive ${OLD_COMMIT} src/core src/hold tools/hold_main.c | tar -x`);
    sh('for f in src/core/*.c src/hold/*.c tools/hold_main.c; do ' +
      'cc -std=gnu11 -O1 -w -Isrc -D_FILE_OFFSET_BITS=64 $(pkg-config --cflags libuv jansson) -c "$f" -o "${f%.c}.o" || exit 1; done');
    sh('ar rcs libold.a src/core/*.o src/hold/*.o && cc -o agentd-hold tools/hold_main.o libold.a');
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(path.join(src, 'agentd-hold'), exe);
    fs.chmodSync(exe, 0o755);
  } finally {
    fs.rmSync(src, { recursive: true, force: true });
  }
  return exe;
}

const counters = async (d, id) => (await allMessages(d, id))
  .filter((m) => m.role === 'assistant').map((m) => m.content).join('\n')
  .split('\n').filter((l) => l.startsWith('n=')).length;
const version = (dataDir) => {
  const r = run(['--data-dir', dataDir, 'version', '--json']);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
};

test('an agent under an older agentd\'s holder goes on under this agentd; agentd version names both', { skip }, async (t) => {
  const old = oldHolder();
  // an agentd whose holder is the old one: this binary with the old
  // agentd-hold beside it (agentd runs the agentd-hold in its own folder)
  const bin = tmpDir('agentd-upgrade-bin-');
  for (const f of ['agentd', 'agentd-git.so']) fs.copyFileSync(path.join(path.dirname(BIN), f), path.join(bin, f));
  fs.chmodSync(path.join(bin, 'agentd'), 0o755);
  fs.copyFileSync(old, path.join(bin, 'agentd-hold'));
  fs.chmodSync(path.join(bin, 'agentd-hold'), 0o755);
  const dataDir = tmpDir('agentd-upgrade-');
  const args = ['--keep-agents', '--stop-grace-ms', '300'];
  const { d, wt } = await startWithWorktree({ bin: path.join(bin, 'agentd'), dataDir, args });
  let d2 = null;
  t.after(async () => {
    if (d2) await d2.stop();
    await d.stop();
    daemon.endHolders(dataDir);
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(bin, { recursive: true, force: true });
  });
  // unconfined: the old agentd ran its agents in the host's network, and
  // the old holder beside this agentd knows no --net-bridge (a real
  // upgrade keeps the old agentd's own sandbox for the agents it started)
  const id = await commandAgent(d, wt, COUNTER, { sandbox: 'none' });
  const started = await api(d, 'POST', `/api/agents/${id}/start`, {});
  assert.equal(started.status, 200, JSON.stringify(started.body));
  await until(async () => (await counters(d, id)) >= 10, 'output stored under the old holder');
  const v1 = version(dataDir);
  assert.equal(v1.client, v1.daemon);
  assert.equal(v1.holders.length, 1);
  assert.equal(v1.holders[0].version, '', 'a holder from before HELLO says no version');
  assert.match(run(['--data-dir', dataDir, 'version']).stdout, /^holder: older \(it does not say its version\)/m);

  // the upgrade: this agentd stops (agents kept), the new one starts
  await d.stop();
  d2 = await daemon.start({ needUrl: true, dataDir, args });
  const a = (await api(d2, 'GET', `/api/agents/${id}`)).body;
  assert.equal(a.status, 'running');
  const before = await counters(d2, id);
  await until(async () => (await counters(d2, id)) >= before + 20, 'output goes on through the old holder');
  const v2 = version(dataDir);
  assert.equal(v2.holders.length, 1);
  assert.equal(v2.holders[0].runId, started.body.runId || v2.holders[0].runId);
  assert.equal(v2.holders[0].version, '');
  assert.ok(v2.holders[0].pid > 0, 'the holder\'s pid, from its registry');

  // a new agent gets this agentd's holder, which says its version
  const id2 = await commandAgent(d2, wt, ['sh', '-c', 'sleep 600']);
  assert.equal((await api(d2, 'POST', `/api/agents/${id2}/start`, {})).status, 200);
  const v3 = await until(() => {
    const v = version(dataDir);
    return v.holders.length === 2 && v.holders.some((h) => h.version === v.daemon) ? v : null;
  }, 'the new holder\'s version');
  assert.equal(v3.holders.find((h) => h.agentId === id2).version, v3.daemon);

  // stop reaches the old holder's agent, and its end is stored
  for (const x of [id, id2]) {
    const st = await api(d2, 'POST', `/api/agents/${x}/stop?wait=true`);
    assert.ok(st.status === 200 || st.status === 202, JSON.stringify(st.body));
  }
  await until(async () => (await api(d2, 'GET', `/api/agents/${id}/runs`)).body.runs[0].status === 'stopped', 'the old holder\'s run stopped');
});

test('agentd version without a daemon says so', () => {
  const r = run(['--data-dir', tmpDir('agentd-version-'), 'version']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^agentd \S+\ndaemon: not running on /);
  assert.equal(r.stderr, '');
  const none = run(['version', '--json'], { env: { HOME: '', XDG_DATA_HOME: '' } });
  assert.equal(none.status, 0, none.stderr);
  const j = JSON.parse(none.stdout);
  assert.match(j.client, /^\d+\.\d+\.\d+/);
  assert.equal(j.daemon, null);
  assert.equal(j.holders, null);
});
