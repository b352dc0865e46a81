// SPDX-License-Identifier: MIT
// `make install PREFIX=~/.local` (issue #74: the README had no way to get
// agentd on PATH): scripts/install.sh puts this build's binaries together
// in PREFIX/lib/agentd, agentd on PATH as a link in PREFIX/bin (agentd
// finds agentd-hold and its .so files beside the file the link names), and
// the manual pages and completions under PREFIX/share. Installing again
// over a copy that runs replaces the files, never writes into them.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { BIN } = require('./lib/daemon');

const ROOT = path.resolve(__dirname, '../..');

test('scripts/install.sh installs a build under a prefix, agentd on PATH through PREFIX/bin', (t) => {
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'agentd-install-'));
  t.after(() => fs.rmSync(prefix, { recursive: true, force: true }));
  const inst = () => spawnSync('sh', ['scripts/install.sh', path.dirname(BIN), prefix], { cwd: ROOT, encoding: 'utf8' });
  let r = inst();
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /add .*\/bin to your PATH/);
  for (const f of ['agentd', 'agentd-hold', 'agentd-git.so', 'agentd-tls.so']) {
    assert.ok(fs.existsSync(path.join(prefix, 'lib/agentd', f)), f);
  }
  assert.equal(fs.readlinkSync(path.join(prefix, 'bin/agentd')), '../lib/agentd/agentd');
  assert.ok(fs.existsSync(path.join(prefix, 'share/man/man1/agentd.1')));
  assert.ok(fs.existsSync(path.join(prefix, 'share/bash-completion/completions/agentd')));
  assert.ok(fs.existsSync(path.join(prefix, 'share/zsh/site-functions/_agentd')));
  assert.ok(fs.existsSync(path.join(prefix, 'share/fish/vendor_completions.d/agentd.fish')));
  const env = { ...process.env, PATH: `${path.join(prefix, 'bin')}:${process.env.PATH}`, HOME: prefix };
  r = spawnSync('agentd', ['version'], { env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^agentd \d/);
  // Again, over the files the first install made: replaced, not rewritten.
  const ino = fs.statSync(path.join(prefix, 'lib/agentd/agentd')).ino;
  r = inst();
  assert.equal(r.status, 0, r.stderr);
  assert.notEqual(fs.statSync(path.join(prefix, 'lib/agentd/agentd')).ino, ino);
});
