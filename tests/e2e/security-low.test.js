// SPDX-License-Identifier: MIT
// The lower items of issue #73, each as the attack or slip it stops: the
// variables that send an agent's requests (and keys) elsewhere or change
// where its CLI reads hooks need allowUnsafeEnv; the collector's key is
// never on the command line; the system unit is hardened, and agents still
// start under no_new_privs as such a unit runs them.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const daemon = require('./lib/daemon');
const { startWithWorktree, makeAgent, api, until, commandAgent, allMessages } = require('./lib/api');

const UNSAFE = ['HTTPS_PROXY', 'HTTP_PROXY', 'ALL_PROXY', 'NO_PROXY', 'https_proxy', 'ANTHROPIC_BASE_URL',
  'OPENAI_BASE_URL', 'GOOGLE_GEMINI_BASE_URL', 'CLAUDE_CONFIG_DIR', 'CODEX_HOME', 'BASHOPTS', 'BASH_ENV',
  'ENV', 'PROMPT_COMMAND'];

test('proxy, base URL and CLI config variables need allowUnsafeEnv', async (t) => {
  const { d, wt } = await startWithWorktree();
  t.after(() => d.cleanup());
  for (const name of UNSAFE) {
    const r = await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'claude', env: { [name]: 'http://attacker.example:8080' } });
    assert.equal(r.status, 422, `${name} passed the env check: ${JSON.stringify(r.body)}`);
    assert.match(r.body.error.message, new RegExp(`${name}.*allowUnsafeEnv`));
    const ok = await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'claude', env: { [name]: 'x' }, allowUnsafeEnv: true });
    assert.equal(ok.status, 201, `${name} with allowUnsafeEnv: ${JSON.stringify(ok.body)}`);
  }
  // an ordinary variable still passes
  const plain = await makeAgent(d, wt, { executor: 'claude', env: { MY_SETTING: '1' } });
  assert.ok(plain.id);
});

test('the OTLP key comes from a file or the environment, never the command line', async (t) => {
  const dir = daemon.tmpDir('agentd-otlp-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  // the old flag: refused, saying where the headers go now
  let r = daemon.run(['serve', '--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'a'),
    '--otlp-endpoint', 'http://127.0.0.1:1', '--otlp-headers', 'x-api-key=s3cret']);
  assert.notEqual(r.status, 0, r.stderr);
  assert.match(r.stderr, /--otlp-headers is no longer taken.*--otlp-headers-file.*OTEL_EXPORTER_OTLP_HEADERS/);
  r = daemon.run(['serve', '--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'a'), '--otlp-headers=x-api-key=s3cret']);
  assert.notEqual(r.status, 0, r.stderr);
  // a headers file others may read is refused
  const loose = path.join(dir, 'loose');
  fs.writeFileSync(loose, 'x-api-key=s3cret\n', { mode: 0o644 });
  r = daemon.run(['serve', '--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'b'), '--otlp-endpoint', 'http://127.0.0.1:1',
    '--otlp-headers-file', loose]);
  assert.notEqual(r.status, 0, r.stderr);
  assert.match(r.stderr, /--otlp-headers-file .*\(chmod 600\)/);
  // from a 0600 file, the headers reach the collector
  const seen = [];
  const http = require('node:http');
  const server = http.createServer((req, res) => { seen.push(req.headers['x-api-key']); req.resume(); req.on('end', () => res.end('{}')); });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const file = path.join(dir, 'headers');
  fs.writeFileSync(file, 'x-api-key=from-file\n', { mode: 0o600 });
  const { d, wt } = await startWithWorktree({ args: ['--otlp-endpoint', `http://127.0.0.1:${server.address().port}/`, '--otlp-headers-file', file] });
  t.after(() => d.cleanup());
  const id = await commandAgent(d, wt, ['true']);
  assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, {})).status, 200);
  await until(() => seen.includes('from-file'), 'a post with the header from the file', 20000);
});

test('the system unit is hardened, and a sandboxed agent starts under no_new_privs', async (t) => {
  const dir = daemon.tmpDir('agentd-units-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const r = daemon.run(['service', 'units', '--system', dir]);
  assert.equal(r.status, 0, r.stderr);
  const unit = fs.readFileSync(path.join(dir, 'agentd.service'), 'utf8');
  for (const line of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=read-only',
    'ReadWritePaths=/var/lib/agentd', 'PrivateTmp=yes', 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK']) {
    assert.ok(unit.split('\n').includes(line), `the system unit lacks ${line}:\n${unit}`);
  }
  assert.ok(!/^RestrictNamespaces=/m.test(unit), 'bubblewrap needs user namespaces');
  const analyze = spawnSync('systemd-analyze', ['verify', path.join(dir, 'agentd.service')], { encoding: 'utf8' });
  if (!analyze.error) {
    // the binary and man pages are not installed here; the directives must parse
    const bad = (analyze.stderr || '').split('\n').filter((l) => /Unknown key|Invalid|Failed to parse|unknown/i.test(l));
    assert.deepEqual(bad, [], analyze.stderr);
  }
  // NoNewPrivileges: agentd and its sandbox (bubblewrap, unprivileged user
  // namespaces) under no_new_privs, as the unit runs them.
  const setpriv = '/usr/bin/setpriv';
  if (!fs.existsSync(setpriv)) return;
  const wrap = path.join(dir, 'agentd-nnp');
  fs.writeFileSync(wrap, `#!/bin/sh\nexec ${setpriv} --no-new-privs ${daemon.BIN} "$@"\n`, { mode: 0o755 });
  const { d, wt } = await startWithWorktree({ bin: wrap });
  t.after(() => d.cleanup());
  const health = (await api(d, 'GET', '/api/health')).body;
  const id = await commandAgent(d, wt, ['sh', '-c', 'grep NoNewPrivs /proc/self/status; echo sandboxed-ok']);
  assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, {})).status, 200);
  const text = await until(async () => {
    const t2 = (await allMessages(d, id)).map((m) => m.content).join('\n');
    return /sandboxed-ok/.test(t2) ? t2 : null;
  }, 'the agent to run under no_new_privs');
  assert.match(text, /NoNewPrivs:\s+1/, JSON.stringify(health.processes));
});
