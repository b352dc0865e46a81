// SPDX-License-Identifier: MIT
// The Debian package and the tarball (issue #37): `make deb` packages the
// build under test (its binaries are reused, never rebuilt here), lintian
// finds no error in it, `dpkg -x` installs it into a temporary root, and
// the installed agentd serves: the dashboard embedded, its version the
// package's, a workspace added (agentd-git.so loaded from beside the
// installed binary) and a command agent run under the installed holder.
// The package carries the manual pages (with a link per command), the
// completion scripts and the units systemd-analyze accepts; Depends names
// the libraries the binaries link. `make dist` makes the tarball with the
// same files.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const daemon = require('./lib/daemon');
const { BIN, tmpDir, tmpRepo } = daemon;
const { api, until, commandAgent } = require('./lib/api');

const TOP = path.resolve(__dirname, '..', '..');
const MODE = path.basename(path.dirname(BIN));
const inTree = path.dirname(path.dirname(BIN)) === path.join(TOP, 'build');
const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const skip = !inTree ? `AGENTD_BIN is not a build of this tree (${BIN})`
  : !have('dpkg-deb') || !have('dpkg-shlibdeps') ? 'dpkg-dev is not installed (scripts/deps.sh installs it)' : false;

// make run from a test that make check runs: not a part of that make
const { MAKEFLAGS: _mf, MFLAGS: _mfl, MAKELEVEL: _ml, ...ENV } = process.env;
const sh = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300000, env: ENV, ...opts });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
};

test('make deb: lintian clean of errors, installed into a temporary root, the installed agentd serves', { skip }, async (t) => {
  const out = tmpDir('agentd-deb-');
  const root = path.join(out, 'root');
  t.after(() => fs.rmSync(out, { recursive: true, force: true }));
  const made = sh('make', ['-s', '-C', TOP, `BUILD=${MODE}`, 'deb', `DEB_OUT=${out}`, 'DEB_Z=gzip']).trim().split('\n').pop();
  assert.match(made, /agentd_[0-9][^_]*_[a-z0-9]+\.deb$/);
  const deb = made;
  const version = sh('dpkg-deb', ['-f', deb, 'Version']).trim();
  assert.equal(version, sh(BIN, ['--version']).trim().replace(/^agentd /, ''), 'the package is the binary\'s version');

  // Depends: the libraries the binaries link, as dpkg-shlibdeps names them
  const depends = sh('dpkg-deb', ['-f', deb, 'Depends']);
  for (const lib of ['libc6', 'libuv1', 'libsqlite3-0', 'libjansson4', 'libgit2-', 'libssl3']) assert.ok(depends.includes(lib), depends);

  if (have('lintian')) {
    // (its temporary files in the test's folder: it left an mldbm-elf-* file in /tmp)
    const tmp = path.join(out, 'tmp');
    fs.mkdirSync(tmp);
    const l = spawnSync('lintian', ['--tag-display-limit', '0', deb],
      { encoding: 'utf8', timeout: 300000, env: { ...process.env, TMPDIR: tmp } });
    const lines = `${l.stdout}${l.stderr}`.split('\n').filter((x) => /^[EWIX]: /.test(x));
    assert.deepEqual(lines.filter((x) => x.startsWith('E: ')), [], 'lintian errors');
    for (const w of lines) t.diagnostic(`lintian ${w}`);
  } else {
    t.diagnostic('lintian is not installed (scripts/deps.sh installs it)');
  }

  sh('dpkg', ['-x', deb, root]);
  const at = (p) => path.join(root, p);
  // OpenSSL is agentd-tls.so's, never agentd's (issue #38)
  const needs = (f) => [...sh('readelf', ['-d', at(f)]).matchAll(/NEEDED.*\[(.+)\]/g)].map((m) => m[1]).join(' ');
  assert.doesNotMatch(needs('usr/lib/agentd/agentd'), /libssl|libcrypto/);
  assert.match(needs('usr/lib/agentd/agentd-tls.so'), /libssl/);
  assert.equal(fs.readlinkSync(at('usr/bin/agentd')), '../lib/agentd/agentd');
  for (const f of ['usr/lib/agentd/agentd-hold', 'usr/lib/agentd/agentd-git.so', 'usr/lib/agentd/agentd-tls.so', 'usr/share/man/man1/agentd.1.gz',
    'usr/share/man/man1/agentd-agents.1.gz', 'usr/share/bash-completion/completions/agentd',
    'usr/share/zsh/vendor-completions/_agentd', 'usr/share/fish/vendor_completions.d/agentd.fish',
    'usr/lib/systemd/user/agentd.socket', 'lib/systemd/system/agentd.service', 'usr/share/doc/agentd/copyright',
    'usr/share/doc/agentd/changelog.gz']) {
    assert.ok(fs.existsSync(at(f)), f);
  }
  assert.equal(fs.readlinkSync(at('usr/share/man/man1/agentd-logs.1.gz')), 'agentd-agents.1.gz');
  const page = sh('man', ['-l', at('usr/share/man/man1/agentd-logs.1.gz')], { env: { ...ENV, MANWIDTH: '100' } });
  assert.match(page, /agentd logs/);
  const bash = fs.readFileSync(at('usr/share/bash-completion/completions/agentd'), 'utf8');
  assert.equal(bash, sh(BIN, ['completion', 'bash']));

  // the units, as systemd reads them (ExecStart pointed at the installed binary)
  const units = path.join(out, 'units');
  fs.mkdirSync(path.join(units, 'user'), { recursive: true });
  fs.mkdirSync(path.join(units, 'system'));
  for (const [from, to] of [['usr/lib/systemd/user', 'user'], ['lib/systemd/system', 'system']]) {
    for (const u of ['agentd.socket', 'agentd.service']) {
      const text = fs.readFileSync(at(`${from}/${u}`), 'utf8');
      if (u === 'agentd.service') assert.match(text, /^KillMode=process$/m);
      fs.writeFileSync(path.join(units, to, u), text.replace('/usr/bin/agentd', at('usr/bin/agentd')));
    }
  }
  assert.match(fs.readFileSync(at('lib/systemd/system/agentd.service'), 'utf8'), /^User=agentd$/m);
  const rt = path.join(out, 'rt');
  fs.mkdirSync(rt, { mode: 0o700 });
  for (const [dir, flags] of [['user', ['--user']], ['system', []]]) {
    const v = spawnSync('systemd-analyze', ['verify', ...flags, '--man=no', 'agentd.socket', 'agentd.service'],
      { cwd: path.join(units, dir), encoding: 'utf8', env: { ...process.env, XDG_RUNTIME_DIR: rt } });
    assert.equal(`${v.status} ${v.stderr}`, '0 ', `systemd-analyze verify of the ${dir} units`);
  }

  // the installed agentd: serves the embedded dashboard, runs an agent
  const d = await daemon.start({ bin: at('usr/bin/agentd'), needUrl: true });
  try {
    const health = await api(d, 'GET', '/api/health');
    assert.equal(health.body.version, version);
    const index = await fetch(`${d.url}/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type'), /text\/html/);
    const ws = await api(d, 'POST', '/api/workspaces', { path: tmpRepo('agentd-deb-repo-'), name: 'deb' });
    assert.equal(ws.status, 201, JSON.stringify(ws.body));
    const id = await commandAgent(d, ws.body.worktrees[0].id, ['sh', '-c', 'echo from-the-package']);
    assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, {})).status, 200);
    const msgs = await until(async () => {
      const m = (await api(d, 'GET', `/api/agents/${id}/messages`)).body.messages || [];
      return m.some((x) => /from-the-package/.test(x.content || '')) ? m : null;
    }, 'the agent\'s output');
    assert.ok(msgs.length > 0);
    const runs = await until(async () => {
      const r = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs;
      return r[0] && r[0].status !== 'running' ? r : null;
    }, 'the run\'s end');
    assert.equal(runs[0].status, 'succeeded');
  } finally {
    await d.cleanup();
  }
});

test('make dist: a tarball with the binaries side by side, the pages, completions and units', { skip }, (t) => {
  const out = tmpDir('agentd-dist-');
  t.after(() => fs.rmSync(out, { recursive: true, force: true }));
  const tar = sh('make', ['-s', '-C', TOP, `BUILD=${MODE}`, 'dist', `DEB_OUT=${out}`]).trim().split('\n').pop();
  assert.match(tar, /agentd-[0-9].*-linux-[a-z0-9_]+\.tar\.gz$/);
  const list = sh('tar', ['-tzf', tar]).split('\n');
  const top = list[0].split('/')[0];
  for (const f of ['agentd', 'agentd-hold', 'agentd-git.so', 'agentd-tls.so', 'share/man/man1/agentd.1', 'share/fish/vendor_completions.d/agentd.fish',
    'systemd/user/agentd.socket', 'systemd/system/agentd.service', 'COPYRIGHT', 'VERSION']) {
    assert.ok(list.includes(`${top}/${f}`), f);
  }
  sh('tar', ['-xzf', tar, '-C', out]);
  assert.match(sh(path.join(out, top, 'agentd'), ['version']), /^agentd \S+/);
  // static enough: of the libraries, only glibc's and wslay (and the
  // sanitizers' in a check build) are left to the machine
  const needed = [...sh('readelf', ['-d', path.join(out, top, 'agentd')]).matchAll(/NEEDED.*\[(.+)\]/g)].map((m) => m[1]);
  const left = needed.filter((l) => !/^(libc|libm|libwslay|libasan|libubsan|libdl|libpthread)\.so/.test(l));
  assert.deepEqual(left, [], needed.join(' '));
});
