// SPDX-License-Identifier: MIT
// The autoscaling hook (issue #77, docs/operations.md "Autoscaling"): a
// control plane with --node-autoscale runs the configured command (argv as
// written, no shell) when a start waits in the queue. The hook here is a
// script that starts a real node with a registration token; the queued run
// then runs on that node. Its output and exit are kept (GET
// /api/nodes/autoscale, the audit log); it gets the figures on stdin and in
// AUTOSCALE_* variables and no AGENTD_* variable; a hook past its timeout
// is killed; below minWarmIdle it is asked for warm nodes.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { api, until, startApi, commandAgent } = require('./lib/api');
const { nodeNamed } = require('./lib/nodes');

const FIXTURES = path.resolve(__dirname, '..', 'fixtures');
const dirs = [];
function dir(prefix) {
  const x = daemon.tmpDir(prefix);
  dirs.push(x);
  return x;
}
function hookFile(hookDir, script, conf) {
  const exe = path.join(hookDir, 'hook.sh');
  fs.writeFileSync(exe, script, { mode: 0o700 });
  const file = path.join(hookDir, 'autoscale.json');
  fs.writeFileSync(file, JSON.stringify({ argv: [exe, '$(touch pwned)', 'two words'], ...conf }));
  return file;
}

// Starts a node when starts wait (once: its pid in node.pid), says what it
// was told; the plane's URL and the registration token are files the test
// writes once the plane is up.
const SCALER = `#!/bin/sh
input=$(cat)
echo "argv: [$1] [$2]"
echo "reason=$AUTOSCALE_REASON queue=$AUTOSCALE_QUEUE_DEPTH idle=$AUTOSCALE_IDLE_NODES warm=$AUTOSCALE_MIN_WARM_IDLE"
echo "stdin: $input" | head -c 300; echo
env | grep -c '^AGENTD_' | sed 's/^/agentd vars: /'
if [ "$AUTOSCALE_REASON" = queue ] && [ ! -e "$HOOK_DIR/node.pid" ]; then
  setsid "$HOOK_BIN" --data-dir "$HOOK_DIR/node" --sandbox-paths "$HOOK_FIXTURES" node \\
    --join "$(cat "$HOOK_DIR/url")" --registration-token-file "$HOOK_DIR/reg.token" \\
    --name auto1 </dev/null >"$HOOK_DIR/node.log" 2>&1 &
  echo $! > "$HOOK_DIR/node.pid"
  echo "started auto1"
fi
`;

test('a queued start makes the hook start a real node; the run then runs on it', async (t) => {
  const hookDir = dir('agentd-hook-');
  fs.mkdirSync(path.join(hookDir, 'node'), { mode: 0o700 });
  const file = hookFile(hookDir, SCALER, {
    minWarmIdle: 0, intervalSeconds: 1, timeoutSeconds: 30,
    env: { HOOK_DIR: hookDir, HOOK_BIN: daemon.BIN, HOOK_FIXTURES: FIXTURES },
  });
  const d = await startApi({ dataDir: dir('agentd-plane-'), args: ['--node-autoscale', file, '--node-lease-ms', '1500'] });
  t.after(async () => {
    const pid = fs.existsSync(path.join(hookDir, 'node.pid')) ? Number(fs.readFileSync(path.join(hookDir, 'node.pid'), 'utf8')) : 0;
    if (pid > 0) {
      try { process.kill(pid, 'SIGTERM'); } catch (_) { /* gone */ }
      await until(async () => { try { process.kill(pid, 0); return false; } catch (_) { return true; } }, 'the hook\'s node to stop');
      await daemon.endHoldersGone(path.join(hookDir, 'node'));
    }
    await d.cleanup();
  });
  const state = await api(d, 'GET', '/api/nodes/autoscale');
  assert.equal(state.status, 200, JSON.stringify(state.body));
  assert.equal(state.body.configured, true);
  assert.deepEqual(state.body.envNames.sort(), ['HOOK_BIN', 'HOOK_DIR', 'HOOK_FIXTURES']);
  assert.ok(!JSON.stringify(state.body).includes(hookDir + '"'), 'env values are not shown');
  assert.equal(state.body.lastRun, null, 'nothing to ask of it: no run yet');
  assert.deepEqual(state.body.runs, []);

  const reg = await api(d, 'POST', '/api/nodes/registration-tokens', { ttlSeconds: 600, labels: { pool: 'auto' } });
  fs.writeFileSync(path.join(hookDir, 'reg.token'), reg.body.token + '\n', { mode: 0o600 });
  fs.writeFileSync(path.join(hookDir, 'url'), d.url);
  const ws = await api(d, 'POST', '/api/workspaces', { path: daemon.tmpRepo('agentd-wt-'), name: 'w' });
  const id = await commandAgent(d, ws.body.worktrees[0].id, ['sh', '-c', 'echo ran on the new node'],
    { placement: { labels: { pool: 'auto' }, queue: true } });
  const s = await api(d, 'POST', `/api/agents/${id}/start`);
  assert.equal(s.status, 202, JSON.stringify(s.body));

  // the hook ran, started auto1, which registered and took the run
  const node = await until(async () => { const n = await nodeNamed(d, 'auto1'); return n?.state === 'connected' && n; }, 'auto1 connected', 60000);
  assert.deepEqual(node.labels, { pool: 'auto' });
  const run = await until(async () => { const r = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0]; return r?.status === 'succeeded' && r; }, 'the queued run to run');
  assert.equal(run.nodeId || run.node, run.nodeId ? node.id : 'auto1');
  const msgs = (await api(d, 'GET', `/api/agents/${id}/messages`)).body;
  assert.match(JSON.stringify(msgs), /ran on the new node/);
  const ev = (await api(d, 'GET', `/api/nodes/${node.id}/events`)).body.events.map((e) => e.kind);
  assert.ok(ev.includes('key_traded') && ev.includes('run_placed'), ev.join());

  const first = await until(async () => {
    const b = (await api(d, 'GET', '/api/nodes/autoscale')).body;
    return b.runs.find((r) => /started auto1/.test(r.output));
  }, 'the hook\'s run to be kept');
  const out = first.output;
  assert.equal(first.exitCode, 0);
  assert.match(out, /argv: \[\$\(touch pwned\)\] \[two words\]/, 'argv as written, no shell');
  assert.ok(!fs.existsSync(path.join(d.dataDir, 'pwned')));
  assert.match(out, /reason=queue queue=1 idle=0 warm=0/);
  assert.match(out, /"queueDepth":1/);
  assert.match(out, /agentd vars: 0/);
  assert.equal(first.input.reason, 'queue');
  assert.equal(first.input.queue[0].agentId, id);
  await until(async () => /autoscaling hook .*hook\.sh \(queue, queue 1, idle 0\): exit 0/
    .test(JSON.stringify((await api(d, 'GET', '/api/audit?limit=500')).body)), 'the hook\'s run audited');
  assert.match(d.stderr, /autoscaling hook ended" exit=0/);
  // once the queue is empty and the node idles past minWarmIdle 0, it is told so
  await until(async () => (await api(d, 'GET', '/api/nodes/autoscale')).body.lastRun?.input?.reason === 'above_warm', 'an above_warm run');
});

test('below minWarmIdle the hook is asked for warm nodes; past its timeout it is killed', async (t) => {
  const hookDir = dir('agentd-hook-');
  const file = hookFile(hookDir, '#!/bin/sh\necho "reason=$AUTOSCALE_REASON warm=$AUTOSCALE_MIN_WARM_IDLE"\nexec sleep 60\n',
    { minWarmIdle: 2, intervalSeconds: 3600, timeoutSeconds: 1 });
  const d = await startApi({ dataDir: dir('agentd-plane-'), args: ['--node-autoscale', file] });
  t.after(() => d.cleanup());
  const b = await until(async () => (await api(d, 'GET', '/api/nodes/autoscale')).body.lastRun, 'the hook to be killed');
  assert.equal(b.timedOut, true);
  assert.notEqual(b.exitCode, 0);
  assert.match(b.output, /reason=below_warm warm=2/);
  assert.ok(b.durationMs < 20000, String(b.durationMs));
  // rate-limited: one run an hour, so no second one started
  assert.equal((await api(d, 'GET', '/api/nodes/autoscale')).body.running, false);
  // a write token may not read it, nor an admin token (the hook sees every organisation)
  for (const scope of ['write', 'admin']) {
    const w = await api(d, 'POST', '/api/tokens', { name: `as-${scope}`, scope });
    const r = await api(d, 'GET', '/api/nodes/autoscale', undefined, { authorization: `Bearer ${w.body.token}` });
    assert.equal(r.status, 403, scope);
  }
});

test('a hook file that does not read leaves the hook off, said in the log', async (t) => {
  const hookDir = dir('agentd-hook-');
  const file = path.join(hookDir, 'autoscale.json');
  fs.writeFileSync(file, JSON.stringify({ argv: ['relative/path'] }));
  const d = await startApi({ dataDir: dir('agentd-plane-'), args: ['--node-autoscale', file] });
  t.after(() => d.cleanup());
  assert.equal((await api(d, 'GET', '/api/nodes/autoscale')).body.configured, false);
  assert.match(d.stderr, /the autoscaling hook is off: argv\[0\] must be/);
});

test.after(() => { for (const x of dirs) fs.rmSync(x, { recursive: true, force: true, maxRetries: 10 }); });
