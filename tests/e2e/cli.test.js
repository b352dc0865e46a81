// SPDX-License-Identifier: MIT
// The command line and the daemon's life cycle: help, version, bad flags,
// clean shutdown on SIGTERM and SIGINT, and the data-dir lock.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { start, run, tmpDir } = require('./lib/daemon');

test('--help prints usage and exits 0', () => {
  const r = run(['--help']);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^Usage: agentd \[OPTION\]\.\.\. COMMAND/);
  assert.match(r.stdout, /--listen=HOST:PORT/);
  assert.match(r.stdout, /AGENTD_DATA_DIR/);
  const s = run(['serve', '--help']);
  assert.equal(s.status, 0);
  assert.match(s.stdout, /^Usage: agentd serve/);
  // Settings read from the environment where they are used are listed too.
  for (const v of ['AGENTD_LLM_RPM', 'AGENTD_LLM_ITPM', 'AGENTD_LLM_OTPM', 'AGENTD_LLM_QUEUE', 'AGENTD_LLM_STALL_MS', 'AGENTD_CREDENTIALS', 'AGENTD_GIT_LIB', 'AGENTD_TLS_LIB']) {
    assert.match(s.stdout, new RegExp(`^  ${v}=\\S+ +\\S`, 'm'), v);
  }
  assert.match(s.stdout, /AGENTD_LLM_STALL_MS=MS .*\n +\[environment only; default 60000\]/);
});

test('--version prints the version', () => {
  const r = run(['--version']);
  assert.equal(r.status, 0);
  // git describe's: 1.2.0, or 1.2.0+7.gabc1234 past a tag (.dirty with changes)
  assert.match(r.stdout, /^agentd \d+\.\d+\.\d+(\+[0-9a-z.]+)?\n$/);
});

test('bad flags and commands print one clear line and exit 2', () => {
  const cases = [
    [['--bogus', 'serve'], /unknown option '--bogus'/],
    [['serve', '--listen', 'nonsense'], /invalid value 'nonsense' for --listen/],
    [['serve', '--max-body-bytes=-1'], /--max-body-bytes: expected a whole number/],
    [['serve', 'extra'], /unexpected argument 'extra'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [[], /missing command/],
  ];
  for (const [args, re] of cases) {
    const r = run(args);
    assert.equal(r.status, 2, `agentd ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line for ${args.join(' ')}`);
  }
  const e = run(['serve'], { env: { AGENTD_LOG_LEVEL: 'loud' } });
  assert.equal(e.status, 2);
  assert.match(e.stderr, /AGENTD_LOG_LEVEL='loud'/);
});

test('SIGTERM and SIGINT shut the daemon down cleanly', async () => {
  for (const sig of ['SIGTERM', 'SIGINT']) {
    const d = await start();
    const st = fs.statSync(d.dataDir);
    assert.equal(st.mode & 0o777, 0o700);
    const r = await d.stop(sig);
    assert.deepEqual(r, { code: 0, signal: null }, d.stderr);
    assert.match(d.stderr, /shutting down/);
    await d.cleanup();
  }
});

test('the data dir is created 0700 when missing', async () => {
  const base = tmpDir();
  const dataDir = path.join(base, 'nested', 'agentd');
  const d = await start({ dataDir });
  assert.equal(fs.statSync(dataDir).mode & 0o777, 0o700);
  await d.stop();
  fs.rmSync(base, { recursive: true, force: true });
});

test('a second daemon on the same data dir refuses to start', async () => {
  const d = await start();
  const r = run(['serve', '--listen', '127.0.0.1:0', '--data-dir', d.dataDir]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`in use by another agentd \\(pid ${d.proc.pid}\\)`));
  // The first one is unharmed and the lock is free once it stops.
  assert.equal(d.exited, null);
  await d.stop();
  const again = await start({ dataDir: d.dataDir });
  await again.cleanup();
});

test('log lines are key=value text or JSON', async () => {
  const d = await start({ args: ['--log-format', 'json'] });
  await d.stop();
  const lines = d.stderr.trim().split('\n');
  assert.ok(lines.length >= 2);
  for (const l of lines) {
    const o = JSON.parse(l);
    assert.ok(o.ts && o.level && o.sub && 'msg' in o, l);
  }
  fs.rmSync(d.dataDir, { recursive: true, force: true });
  const t = await start();
  await t.stop();
  assert.match(t.stderr, /^ts=\S+ level=info sub=main msg="started" version=/m);
  fs.rmSync(t.dataDir, { recursive: true, force: true });
});
