// SPDX-License-Identifier: MIT
// The agent sandbox (issue #31), as the attacks it stops: an organisation's
// admin starts a command agent that goes after the owner token, the
// credentials, the holders' spools, another worktree, the daemon's /proc
// and the trusted unix socket; all of it fails, while the agent still
// reads, writes and runs programs in its own worktree. Also: agentd's
// environment never reaches a child (the setup command included), the
// sandbox policy is an admin's (and "none" the owner's) to set, an org
// other than the owner's cannot start agents without a sandbox, and the
// start refuses a planted data dir and a short owner token.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { request, until, orgRoots } = require('./lib/api');

// A request with these headers (the owner's token unless they are given).
const call = (d, method, url, body, headers = d.authHeaders) => request(d.url, method, url, body, headers);

// Org B and an admin token of it, made by the owner.
async function orgB(d) {
  let r = await call(d, 'POST', '/api/orgs', { name: 'org b' });
  assert.equal(r.status, 201, r.text);
  const org = r.body.id;
  r = await call(d, 'POST', '/api/tokens', { name: 'b-admin', scope: 'admin', orgId: org });
  assert.equal(r.status, 201, r.text);
  const headers = { authorization: `Bearer ${r.body.token}` };
  // its admin registers repositories only under the roots the owner gives it (issue #73)
  await orgRoots(d, org);
  return { org, headers };
}

// A workspace (a new repository outside the data dir) registered by who.
async function workspace(d, headers, files = {}) {
  const dir = daemon.tmpRepo('agentd-sbx-');
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  const r = await call(d, 'POST', '/api/workspaces', { path: dir }, headers);
  assert.equal(r.status, 201, r.text);
  return { dir, ws: r.body.id, wt: r.body.worktrees[0].id, wtPath: r.body.worktrees[0].path || dir };
}

async function output(d, id) {
  const r = await call(d, 'GET', `/api/agents/${id}/messages?limit=200`);
  return (r.body.messages || []).map((m) => m.content).join('\n');
}

// Starts a command agent running `sh -c script` as who; resolves with its
// output once it has printed DONE.
async function runScript(d, headers, wt, script, extra = {}) {
  let r = await call(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command: ['sh', '-c', script], ...extra }, headers);
  assert.equal(r.status, 201, r.text);
  const id = r.body.id;
  r = await call(d, 'POST', `/api/agents/${id}/start`, {}, headers);
  assert.equal(r.status, 200, r.text);
  const out = await until(async () => {
    const o = await output(d, id);
    return /^DONE$/m.test(o) ? o : null;
  }, 'the script to finish', 30000);
  return { id, out };
}

// PROXIED on / off: agentd's /healthz reached through the agent's proxy
// (HTTPS_PROXY, set when its network is "on"; these tests' daemons take
// 127.0.0.1 for the internet, lib/daemon.js).
// NET on when agentd's API answers at its own port straight from inside
// (no proxy); there only the telemetry door listens, which answers 403.
const apiProbe = (port) => `node -e "require('http').get({host:'127.0.0.1',port:${port},path:'/healthz'},(r)=>{console.log(r.statusCode===200?'NET on':'NET off');process.exit(0)}).on('error',()=>{console.log('NET off');process.exit(0)})"`;
const proxied = (port) => `if [ -n "$HTTPS_PROXY" ] && curl -sf -p --max-time 10 http://127.0.0.1:${port}/healthz >/dev/null; then echo "PROXIED on"; else echo "PROXIED off"; fi`;

// `check NAME CMD`: prints DENIED NAME when CMD fails, LEAK NAME when it works.
const CHECK = 'check() { if sh -c "$2" >/dev/null 2>&1; then echo "LEAK $1"; else echo "DENIED $1"; fi; }\n';

test('an org admin\'s command agent cannot reach agentd\'s files, sockets, spools or other worktrees', async () => {
  const d = await daemon.start({ needUrl: true, env: {
    AGENTD_TOKEN: 'planted-token-from-the-environment-0123456789',
    LD_PRELOAD: '/nonexistent/agentd-planted.so',
    MAKEFLAGS: '--eval=$(shell touch /tmp/agentd-makeflags-pwned)',
    JDK_JAVA_OPTIONS: '-javaagent:/tmp/evil.jar',
  } });
  try {
    // org A's worktree with a secret, and a credential stored for org A
    const a = await workspace(d, d.authHeaders, { 'secret.txt': 'org-a-secret\n' });
    let r = await call(d, 'PUT', '/api/credentials/anthropic', { apiKey: 'sk-ant-org-a-0123456789abcdef' });
    assert.ok(r.status === 200 || r.status === 201, r.text);
    // a held agent of org A, so the spools exist
    const held = await runScript(d, d.authHeaders, a.wt, 'echo DONE; sleep 30');
    assert.ok(fs.existsSync(path.join(d.dataDir, 'hold')), 'no spools to go after');

    const b = await orgB(d);
    const bws = await workspace(d, b.headers);
    const D = d.dataDir;
    const port = new URL(d.url).port;
    const script = CHECK + [
      `check owner-token "cat '${D}/owner-token'"`,
      // (an empty folder may stand where the data dir is: it shows nothing)
      `check data-dir "ls -A '${D}' | grep -q ."`,
      `check credentials "ls '${D}/credentials'"`,
      `check spools "ls '${D}/hold'"`,
      `check database "test -e '${D}/agentd.db'"`,
      `check other-worktree "cat '${a.wtPath}/secret.txt'"`,
      `check daemon-environ "cat /proc/${d.proc.pid}/environ"`,
      `check daemon-root "cat /proc/${d.proc.pid}/root${D}/owner-token"`,
      `check unix-socket "node -e \\"const s=require('net').connect('${D}/agentd.sock');s.on('connect',()=>process.exit(0));s.on('error',()=>process.exit(1))\\""`,
      `check etc-shadow "grep -q root /etc/shadow"`,
      'echo "worktree text" > mine.txt && echo "READ $(cat mine.txt)"',
      'printf "#!/bin/sh\\necho ran-in-worktree\\n" > t.sh && chmod +x t.sh && ./t.sh',
      apiProbe(port),
      proxied(port),
      'echo "ENV AGENTD_TOKEN=${AGENTD_TOKEN-unset} LD_PRELOAD=${LD_PRELOAD-unset} MAKEFLAGS=${MAKEFLAGS-unset} JDK=${JDK_JAVA_OPTIONS-unset}"',
      'echo DONE',
    ].join('\n');
    const { out } = await runScript(d, b.headers, bws.wt, script);
    for (const what of ['owner-token', 'data-dir', 'credentials', 'spools', 'database', 'other-worktree',
      'daemon-environ', 'daemon-root', 'unix-socket', 'etc-shadow']) {
      assert.match(out, new RegExp(`^DENIED ${what}$`, 'm'), `${what} was reachable:\n${out}`);
    }
    assert.doesNotMatch(out, /LEAK/);
    assert.doesNotMatch(out, /org-a-secret|sk-ant-org-a/);
    // its own worktree works as before, on disk where the owner sees it
    assert.match(out, /^READ worktree text$/m, out);
    assert.match(out, /^ran-in-worktree$/m, out);
    assert.equal(fs.readFileSync(path.join(bws.wtPath, 'mine.txt'), 'utf8'), 'worktree text\n');
    // the network is on by default (the CLI needs its API), through agentd's
    // proxy only: the host's loopback is not the agent's (sandbox-net.test.js)
    assert.match(out, /^NET off$/m, out);
    assert.match(out, /^PROXIED on$/m, out);
    // nothing of agentd's environment
    assert.match(out, /^ENV AGENTD_TOKEN=unset LD_PRELOAD=unset MAKEFLAGS=unset JDK=unset$/m, out);
    assert.match(d.stderr, /AGENTD_TOKEN is not read any more/);
    // the same through a job or a service of org B
    r = await call(d, 'POST', '/api/jobs', { name: 'steal', command: ['sh', '-c', `cat '${D}/owner-token'; ls -A '${D}'; echo JOB-END`] }, b.headers);
    assert.equal(r.status, 201, r.text);
    const job = await until(async () => {
      const j = (await call(d, 'GET', `/api/jobs/${r.body.id}`, undefined, b.headers)).body;
      return j && j.status !== 'running' ? j : null;
    }, 'the job to end');
    assert.match(job.output, /JOB-END/, JSON.stringify(job));
    assert.ok(!job.output.includes(d.token), 'a job of org B read the owner token');
    assert.doesNotMatch(job.output, /agentd\.db|agentd\.sock|credentials/, job.output);
    r = await call(d, 'POST', '/api/services', { name: 'steal-svc', cwd: bws.wtPath,
      command: ['sh', '-c', `{ cat '${D}/owner-token'; ls -A '${D}'; echo SVC-END; } > svc.txt 2>&1; sleep 30`] }, b.headers);
    assert.equal(r.status, 201, r.text);
    const svcOut = await until(async () => {
      let text = '';
      try { text = fs.readFileSync(path.join(bws.wtPath, 'svc.txt'), 'utf8'); } catch (_) { /* not yet */ }
      return /SVC-END/.test(text) ? text : null;
    }, 'the service output');
    assert.ok(!svcOut.includes(d.token), 'a service of org B read the owner token');
    assert.doesNotMatch(svcOut, /agentd\.db|agentd\.sock/, svcOut);
    await call(d, 'DELETE', `/api/services/${r.body.id}`, undefined, b.headers);
    await call(d, 'POST', `/api/agents/${held.id}/stop?force=true`);
    // and /api/requirements says the sandbox is there
    const req = await call(d, 'GET', '/api/requirements?refresh=true');
    const item = req.body.items.find((i) => i.id === 'sandbox');
    assert.ok(item, JSON.stringify(req.body));
    assert.equal(item.status, 'ok', JSON.stringify(item));
  } finally {
    await d.cleanup();
  }
});

test('sandbox policy: network off, extra paths, and "none" only for the owner', async () => {
  const d = await daemon.start({ needUrl: true });
  try {
    const b = await orgB(d);
    const bws = await workspace(d, b.headers);
    const shared = fs.realpathSync(daemon.tmpDir('agentd-sbx-shared-'));
    fs.writeFileSync(path.join(shared, 'data.txt'), 'shared data\n');
    // the policy is an admin's; "none" is the owner's; the data dir is no one's
    const tw = await call(d, 'POST', '/api/tokens', { name: 'b-writer', scope: 'write', orgId: b.org });
    assert.equal(tw.status, 201, tw.text);
    let r = await call(d, 'POST', '/api/agents', { worktreeId: bws.wt, executor: 'claude', sandbox: { network: 'off' } },
      { authorization: `Bearer ${tw.body.token}` });
    assert.equal(r.status, 403, r.text);
    r = await call(d, 'POST', '/api/agents', { worktreeId: bws.wt, executor: 'command', command: ['true'], sandbox: 'none' }, b.headers);
    assert.equal(r.status, 403, r.text);
    assert.match(r.body.error.message, /owner/);
    r = await call(d, 'POST', '/api/agents', { worktreeId: bws.wt, executor: 'command', command: ['true'], state: { sandbox: 'none' } }, b.headers);
    assert.equal(r.status, 403, r.text);
    for (const bad of [d.dataDir, path.dirname(d.dataDir), path.join(d.dataDir, 'hold'), '/', 'relative/path']) {
      r = await call(d, 'POST', '/api/agents', { worktreeId: bws.wt, executor: 'command', command: ['true'], sandbox: { paths: [bad] } }, b.headers);
      assert.equal(r.status, 422, `${bad}: ${r.text}`);
    }
    r = await call(d, 'POST', '/api/agents', { worktreeId: bws.wt, executor: 'command', command: ['true'], sandbox: { network: 'maybe' } }, b.headers);
    assert.equal(r.status, 422, r.text);

    // network off: the daemon's own port is out of reach; a read-only path is readable, not writable
    const port = new URL(d.url).port;
    const script = [
      apiProbe(port),
      `echo "SHARED $(cat '${shared}/data.txt')"`,
      `if echo x > '${shared}/new.txt' 2>/dev/null; then echo "SHARED writable"; else echo "SHARED read-only"; fi`,
      'echo DONE',
    ].join('\n');
    // paths show this machine's files: not an organisation admin's to give (~/.ssh, the owner's checkouts)
    for (const sandbox of [{ paths: [shared] }, { paths: [{ path: '/root', write: false }] }]) {
      r = await call(d, 'POST', '/api/agents', { worktreeId: bws.wt, executor: 'command', command: ['true'], sandbox }, b.headers);
      assert.equal(r.status, 403, r.text);
      assert.match(r.body.error.message, /owner's organisation/);
    }
    const { out } = await runScript(d, d.authHeaders, bws.wt, script, { sandbox: { network: 'off', paths: [shared] } });
    assert.match(out, /^NET off$/m, out);
    assert.match(out, /^SHARED shared data$/m, out);
    assert.match(out, /^SHARED read-only$/m, out);
    // a writable one
    const w = await runScript(d, d.authHeaders, bws.wt, `echo made > '${shared}/made.txt' && echo WROTE; echo DONE`,
      { sandbox: { paths: [{ path: shared, write: true }] } });
    assert.match(w.out, /^WROTE$/m, w.out);
    assert.equal(fs.readFileSync(path.join(shared, 'made.txt'), 'utf8'), 'made\n');

    // the owner may run an agent unconfined, and it then sees the data dir
    const a = await workspace(d, d.authHeaders);
    const n = await runScript(d, d.authHeaders, a.wt, `test -e '${d.dataDir}/owner-token' && echo SEES; echo DONE`, { sandbox: 'none' });
    assert.match(n.out, /^SEES$/m, n.out);
    // and the policy is kept on the agent for everyone to see
    r = await call(d, 'GET', `/api/agents/${n.id}`);
    assert.equal(r.body.state.sandbox, 'none', r.text);
  } finally {
    await d.cleanup();
  }
});

// NET on / NET off: whether the agent's network reaches port (through its
// proxy: a direct connection never leaves its namespace).
const netProbe = (port) => proxied(port).replace(/PROXIED/g, 'NET');

test('a workspace\'s sandbox: its admin cuts the network of all its agents, an agent\'s own policy overrides, and the audit names old and new', async () => {
  const d = await daemon.start({ needUrl: true });
  try {
    const b = await orgB(d);
    const bws = await workspace(d, b.headers);
    const a = await workspace(d, d.authHeaders);
    const shared = fs.realpathSync(daemon.tmpDir('agentd-sbx-wsshared-'));
    fs.writeFileSync(path.join(shared, 'data.txt'), 'workspace data\n');
    const tw = await call(d, 'POST', '/api/tokens', { name: 'b-writer', scope: 'write', orgId: b.org });
    assert.equal(tw.status, 201, tw.text);
    const writer = { authorization: `Bearer ${tw.body.token}` };
    const policy = { network: 'off', paths: [shared] };
    const url = `/api/workspaces/${bws.ws}`;

    // a write token may not widen or narrow it; another org's admin sees no such workspace
    let r = await call(d, 'PATCH', url, { sandbox: policy }, writer);
    assert.equal(r.status, 403, r.text);
    r = await call(d, 'PATCH', url, { sandbox: null }, writer);
    assert.equal(r.status, 403, r.text);
    r = await call(d, 'PATCH', `/api/workspaces/${a.ws}`, { sandbox: policy }, b.headers);
    assert.equal(r.status, 404, r.text);
    // the data dir is no one's, "none" is never a workspace's, and nothing else is patched here
    for (const bad of [d.dataDir, path.dirname(d.dataDir), path.join(d.dataDir, 'credentials'), '/', 'rel/path']) {
      r = await call(d, 'PATCH', url, { sandbox: { paths: [bad] } }, b.headers);
      assert.equal(r.status, 422, `${bad}: ${r.text}`);
    }
    for (const bad of [{ sandbox: 'none' }, { sandbox: { network: 'maybe' } }, { sandbox: { network: 'off', proxy: 'x' } }, { name: 'x' }, {}]) {
      r = await call(d, 'PATCH', url, bad, b.headers);
      assert.equal(r.status, 422, `${JSON.stringify(bad)}: ${r.text}`);
    }
    r = await call(d, 'PATCH', `/api/workspaces/${a.ws}`, { sandbox: 'none' });
    assert.equal(r.status, 422, r.text);
    // nothing of it was stored
    r = await call(d, 'GET', url, undefined, b.headers);
    assert.equal(r.body.sandbox, undefined, r.text);

    // the org's admin cuts the network; paths (this machine's files) are the owner's to give
    r = await call(d, 'PATCH', url, { sandbox: policy }, b.headers);
    assert.equal(r.status, 403, r.text);
    r = await call(d, 'PATCH', url, { sandbox: { network: 'off' } }, b.headers);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.sandbox, { network: 'off' });
    r = await call(d, 'PATCH', url, { sandbox: policy });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.sandbox, policy);
    r = await call(d, 'GET', url, undefined, b.headers);
    assert.deepEqual(r.body.sandbox, policy);
    const port = new URL(d.url).port;
    const script = [netProbe(port), `echo "SHARED $(cat '${shared}/data.txt')"`,
      `if echo x > '${shared}/new.txt' 2>/dev/null; then echo "SHARED writable"; else echo "SHARED read-only"; fi`, 'echo DONE'].join('\n');
    const plain = await runScript(d, b.headers, bws.wt, script);
    assert.match(plain.out, /^NET off$/m, plain.out);
    assert.match(plain.out, /^SHARED workspace data$/m, plain.out);
    assert.match(plain.out, /^SHARED read-only$/m, plain.out);
    r = await call(d, 'GET', `/api/agents/${plain.id}`, undefined, b.headers);
    assert.deepEqual(r.body.sandboxEffective, { network: 'off', paths: [shared], from: { network: 'workspace', paths: 'workspace' } }, r.text);
    // the other workspace's agents are untouched
    const other = await runScript(d, d.authHeaders, a.wt, [netProbe(port), 'echo DONE'].join('\n'));
    assert.match(other.out, /^NET on$/m, other.out);
    r = await call(d, 'GET', `/api/agents/${other.id}`);
    assert.deepEqual(r.body.sandboxEffective, { network: 'on', paths: [], from: { network: 'default', paths: 'default' } }, r.text);

    // an agent's own policy (its admin's) overrides field by field
    const own = await runScript(d, b.headers, bws.wt, script, { sandbox: { network: 'on' } });
    assert.match(own.out, /^NET on$/m, own.out);
    assert.match(own.out, /^SHARED workspace data$/m, own.out);
    r = await call(d, 'GET', `/api/agents/${own.id}`, undefined, b.headers);
    assert.deepEqual(r.body.sandboxEffective, { network: 'on', paths: [shared], from: { network: 'agent', paths: 'workspace' } }, r.text);
    // ... and is changed by a PATCH of the agent (an admin's; the data dir still no one's)
    r = await call(d, 'PATCH', `/api/agents/${plain.id}`, { sandbox: { network: 'on' } }, writer);
    assert.equal(r.status, 403, r.text);
    r = await call(d, 'PATCH', `/api/agents/${plain.id}`, { sandbox: { paths: [d.dataDir] } }, b.headers);
    assert.equal(r.status, 422, r.text);
    r = await call(d, 'PATCH', `/api/agents/${plain.id}`, { sandbox: 'none' }, b.headers);
    assert.equal(r.status, 403, r.text);
    r = await call(d, 'PATCH', `/api/agents/${plain.id}`, { sandbox: { network: 'on' } }, b.headers);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.state.sandbox, { network: 'on' });
    r = await call(d, 'PATCH', `/api/agents/${plain.id}`, { sandbox: null }, b.headers);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.state.sandbox, undefined, r.text);

    // clearing the workspace's brings agentd's default back
    r = await call(d, 'PATCH', url, { sandbox: null }, b.headers);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.sandbox, undefined, r.text);
    r = await call(d, 'GET', `/api/agents/${plain.id}`, undefined, b.headers);
    assert.equal(r.body.sandboxEffective.network, 'on', r.text);

    // the audit: each change names who, what, the old and the new policy
    const pol = JSON.stringify({ network: 'off', paths: [shared] });
    const want = [
      ['/api/workspaces/:id', bws.ws, 'workspace sandbox: default -> {"network":"off"}', 'b-admin'],
      ['/api/workspaces/:id', bws.ws, `workspace sandbox: {"network":"off"} -> ${pol}`, null],
      ['/api/workspaces/:id', bws.ws, `workspace sandbox: ${pol} -> default`, 'b-admin'],
      ['/api/agents/:id', plain.id, 'agent sandbox: default -> {"network":"on"}', 'b-admin'],
      ['/api/agents/:id', plain.id, 'agent sandbox: {"network":"on"} -> default', 'b-admin'],
    ];
    // every wanted row (the audit is written after the answer: on PostgreSQL
    // the settings' row could make up the count while one was on its way)
    const has = (got, [route, id, detail]) => got.some((e) => e.route === route && e.targetId === id && e.detail === detail);
    let last = [];
    const rows = await until(async () => {
      const au = await call(d, 'GET', '/api/audit?limit=500');
      last = au.body.entries.filter((e) => e.method === 'PATCH' && e.status === 200);
      return want.every((w) => has(last, w)) ? last : null;
    }, 'the audit rows of the changes').catch((e) => { throw new Error(`${e.message}: ${JSON.stringify(last)}`); });
    for (const [route, id, detail, who] of want) {
      const row = rows.find((e) => e.route === route && e.targetId === id && e.detail === detail);
      assert.ok(row, `no audit row ${detail}: ${JSON.stringify(rows)}`);
      if (who) assert.equal(row.tokenName, who);
    }
    // the create with a policy is named too; the refused tries leave rows without one
    const au = await call(d, 'GET', '/api/audit?limit=500');
    assert.ok(au.body.entries.some((e) => e.method === 'POST' && e.route === '/api/agents' && e.status === 201 &&
      e.detail === 'agent sandbox: default -> {"network":"on"}'), JSON.stringify(au.body.entries));
    const refused = au.body.entries.filter((e) => e.tokenName === 'b-writer' && e.method === 'PATCH');
    assert.ok(refused.length >= 3 && refused.every((e) => e.status === 403 && e.detail === undefined), JSON.stringify(refused));
    assert.ok(au.body.entries.some((e) => e.tokenName === 'b-admin' && e.status === 403 && e.detail === undefined &&
      e.route === '/api/workspaces/:id'), 'the refused paths');
  } finally {
    await d.cleanup();
  }
});

test('network allow-list: an agent reaches only the hosts its admin allowed, through agentd\'s proxy; nothing directly', async () => {
  const http = require('node:http');
  const hits = { allowed: 0, other: 0 };
  const serve = (name, text) => new Promise((resolve) => {
    const srv = http.createServer((req, res) => {
      hits[name]++;
      res.end(req.url === '/big' ? Buffer.alloc(8 << 20, 120) : text);
    });
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
  const okSrv = await serve('allowed', 'hello-through-proxy');
  const otherSrv = await serve('other', 'should-not-see');
  const P1 = okSrv.address().port, P2 = otherSrv.address().port;
  const d = await daemon.start({ needUrl: true });
  try {
    const b = await orgB(d);
    const bws = await workspace(d, b.headers);
    // the list is an admin's, and only names hosts
    for (const bad of [{ allow: [] }, { allow: ['a b'] }, { allow: ['x\r\nHost: y'] }, { allow: ['h'], extra: 1 }, { allow: 'h' }]) {
      const r = await call(d, 'POST', '/api/agents', { worktreeId: bws.wt, executor: 'command', command: ['true'], sandbox: { network: bad } }, b.headers);
      assert.equal(r.status, 422, `${JSON.stringify(bad)}: ${r.text}`);
    }
    const script = [
      'echo "PROXY=$HTTPS_PROXY"',
      `echo "TUNNEL $(curl -s -p --max-time 10 http://127.0.0.1:${P1}/)"`,
      `echo "PLAIN $(curl -s --max-time 10 http://127.0.0.1:${P1}/)"`,
      // a reader that goes away mid-answer: the bridge and the proxy live on
      `curl -s -p --max-time 10 http://127.0.0.1:${P1}/big | head -c 5 >/dev/null`,
      `curl -s --max-time 10 http://127.0.0.1:${P1}/big | head -c 5 >/dev/null`,
      `echo "AFTER $(curl -s -p --max-time 10 http://127.0.0.1:${P1}/)"`,
      `curl -s -p --max-time 10 -o /dev/null -w "OTHER %{http_connect}\\n" http://127.0.0.1:${P2}/`,
      `curl -s --max-time 10 -o /dev/null -w "OTHERPLAIN %{http_code}\\n" http://127.0.0.1:${P2}/`,
      `if curl -s --noproxy '*' --max-time 5 http://127.0.0.1:${P1}/ >/dev/null; then echo "DIRECT reached"; else echo "DIRECT failed"; fi`,
      `if curl -s --noproxy '*' --max-time 5 http://127.0.0.1:${P2}/ >/dev/null; then echo "DIRECT2 reached"; else echo "DIRECT2 failed"; fi`,
      netProbe(new URL(d.url).port),
      'echo DONE',
    ].join('\n');
    const policy = { network: { allow: [`127.0.0.1:${P1}`] } };
    const { id, out } = await runScript(d, b.headers, bws.wt, script, { sandbox: policy });
    assert.match(out, /^PROXY=http:\/\/127\.0\.0\.1:\d+$/m, out);
    assert.match(out, /^TUNNEL hello-through-proxy$/m, out);
    assert.match(out, /^PLAIN hello-through-proxy$/m, out);
    assert.match(out, /^AFTER hello-through-proxy$/m, out);
    assert.match(out, /^OTHER 403$/m, out);
    assert.match(out, /^OTHERPLAIN 403$/m, out);
    assert.match(out, /^DIRECT failed$/m, out);
    assert.match(out, /^DIRECT2 failed$/m, out);
    assert.match(out, /^NET off$/m, out);
    assert.doesNotMatch(out, /should-not-see/);
    assert.equal(hits.other, 0, 'the refused server was reached');
    assert.ok(hits.allowed >= 2, JSON.stringify(hits));
    // the refusals are logged where the agent's output is
    assert.match(out, new RegExp(`refused CONNECT 127\\.0\\.0\\.1:${P2} \\(not in the agent's allow list\\)`), out);
    const r = await call(d, 'GET', `/api/agents/${id}`, undefined, b.headers);
    assert.deepEqual(r.body.sandboxEffective.network, policy.network, r.text);
    // the same list as the workspace's default reaches an agent without a policy of its own
    let w = await call(d, 'PATCH', `/api/workspaces/${bws.ws}`, { sandbox: policy }, b.headers);
    assert.equal(w.status, 200, w.text);
    const viaWs = await runScript(d, b.headers, bws.wt, [
      `echo "TUNNEL $(curl -s -p --max-time 10 http://127.0.0.1:${P1}/)"`,
      `curl -s -p --max-time 10 -o /dev/null -w "OTHER %{http_connect}\\n" http://127.0.0.1:${P2}/`,
      'echo DONE'].join('\n'));
    assert.match(viaWs.out, /^TUNNEL hello-through-proxy$/m, viaWs.out);
    assert.match(viaWs.out, /^OTHER 403$/m, viaWs.out);
    w = await call(d, 'GET', `/api/agents/${viaWs.id}`, undefined, b.headers);
    assert.deepEqual(w.body.sandboxEffective.from, { network: 'workspace', paths: 'default' }, w.text);
    assert.equal(hits.other, 0, 'the refused server was reached');
    // nothing of the proxy's socket is left behind once the run ends
    await until(() => daemon.proxyEntries(d.dataDir, id).length === 0, 'the proxy socket to go');
    // a stop reaches the agent through the proxy and the bridge (they wait for its end)
    const long = await runScript(d, b.headers, bws.wt, 'trap "echo GOT-INT; exit 0" INT; echo DONE; while :; do sleep 1; done', { sandbox: policy });
    const st = await call(d, 'POST', `/api/agents/${long.id}/stop`, {}, b.headers);
    assert.ok(st.status === 200 || st.status === 202, st.text);
    await until(async () => {
      const a = (await call(d, 'GET', `/api/agents/${long.id}`, undefined, b.headers)).body;
      return a.status !== 'running' && a.status !== 'stopping';
    }, 'the stopped agent to end', 20000);
    assert.match(await output(d, long.id), /^GOT-INT$/m);
  } finally {
    await d.cleanup();
    okSrv.close();
    otherSrv.close();
  }
});

test('without a sandbox only the owner\'s organisation may start agents, and /api/requirements says why', async () => {
  const d = await daemon.start({ needUrl: true, args: ['--sandbox', 'off'] });
  try {
    const req = await call(d, 'GET', '/api/requirements?refresh=true');
    const item = req.body.items.find((i) => i.id === 'sandbox');
    assert.equal(item.status, 'warning', JSON.stringify(item));
    assert.match(item.value, /off/);
    assert.match(item.fix, /bubblewrap/);
    const b = await orgB(d);
    const bws = await workspace(d, b.headers);
    let r = await call(d, 'POST', '/api/agents', { worktreeId: bws.wt, executor: 'command', command: ['true'] }, b.headers);
    assert.equal(r.status, 201, r.text);
    r = await call(d, 'POST', `/api/agents/${r.body.id}/start`, {}, b.headers);
    assert.equal(r.status, 403, r.text);
    assert.match(r.body.error.message, /organisation other than the owner's.*sandbox/);
    // nor jobs
    r = await call(d, 'POST', '/api/jobs', { name: 'j', command: ['true'] }, b.headers);
    assert.equal(r.status, 422, r.text);
    assert.match(r.text, /organisation other than the owner's/);
    // the owner's own agents still run (unconfined, as before)
    const a = await workspace(d, d.authHeaders);
    const ok = await runScript(d, d.authHeaders, a.wt, 'echo DONE');
    assert.match(ok.out, /DONE/);
  } finally {
    await d.cleanup();
  }
});

test('the setup command gets a clean environment, not agentd\'s', async () => {
  const d = await daemon.start({ needUrl: true, env: {
    AGENTD_TOKEN: 'planted-token-from-the-environment-0123456789',
    LD_PRELOAD: '/nonexistent/agentd-planted.so',
    MAKEFLAGS: '--eval=$(shell touch /tmp/agentd-makeflags-pwned)',
  } });
  try {
    const a = await workspace(d, d.authHeaders);
    let r = await call(d, 'PUT', `/api/workspaces/${a.ws}/setup`, { setupCommand: 'env' });
    assert.equal(r.status, 200, r.text);
    r = await call(d, 'POST', '/api/worktrees', { workspaceId: a.ws, name: 'e1', branch: 'e1', createBranch: true, runSetupCommand: true });
    assert.equal(r.status, 201, r.text);
    const id = r.body.id;
    const outcome = await until(async () => {
      const s = (await call(d, 'GET', `/api/worktrees/${id}/setup`)).body.setup;
      return s && s.state !== 'running' ? s : null;
    }, 'the setup to end');
    assert.equal(outcome.exitCode, 0, JSON.stringify(outcome));
    assert.match(outcome.output, /^PATH=/m);
    assert.doesNotMatch(outcome.output, /AGENTD_|LD_PRELOAD|MAKEFLAGS/, outcome.output);
  } finally {
    await d.cleanup();
  }
});

test('start refuses a data dir of another user or writable by others, and a short or exposed token', () => {
  // made by another uid (as root here: chown; else skip that half)
  const other = daemon.tmpDir('agentd-planted-');
  fs.writeFileSync(path.join(other, 'owner-token'), 'planted-owner-token-0123456789abcdef\n', { mode: 0o600 });
  if (process.getuid() === 0) {
    fs.chownSync(other, 65534, 65534);
    const r = daemon.run(['serve', '--listen', '127.0.0.1:0', '--data-dir', other], { timeout: 10000 });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /belongs to uid 65534, not to this user/);
    assert.doesNotMatch(r.stdout, /listening/);
  }
  const open = daemon.tmpDir('agentd-open-');
  fs.chmodSync(open, 0o777);
  let r = daemon.run(['serve', '--listen', '127.0.0.1:0', '--data-dir', open], { timeout: 10000 });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /writable by other users \(mode 0777\)/);
  assert.doesNotMatch(r.stdout, /listening/);

  const dir = daemon.tmpDir();
  const tok = path.join(os.tmpdir(), `agentd-tok-${process.pid}`);
  fs.writeFileSync(tok, 'abc\n', { mode: 0o600 });
  r = daemon.run(['serve', '--listen', '127.0.0.1:0', '--data-dir', dir, '--token-file', tok], { timeout: 10000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /at least 128 bits/);
  fs.writeFileSync(tok, 'a'.repeat(40) + '\n', { mode: 0o600 });
  fs.chmodSync(tok, 0o644);
  r = daemon.run(['serve', '--listen', '127.0.0.1:0', '--data-dir', dir, '--token-file', tok], { timeout: 10000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /chmod 600/);
  // a token on the command line is refused outright
  r = daemon.run(['serve', '--listen', '127.0.0.1:0', '--data-dir', dir, '--token', 'a'.repeat(40)], { timeout: 10000 });
  assert.equal(r.status, 2, r.stderr);
  fs.rmSync(tok, { force: true });
});

test('a good --token-file is the owner token', async () => {
  const tok = path.join(os.tmpdir(), `agentd-tok-ok-${process.pid}`);
  const secret = require('node:crypto').randomBytes(32).toString('hex');
  fs.writeFileSync(tok, secret + '\n', { mode: 0o600 });
  const d = await daemon.start({ needUrl: true, args: ['--token-file', tok] });
  try {
    const r = await fetch(`${d.url}/api/agents`, { headers: { authorization: `Bearer ${secret}` } });
    assert.equal(r.status, 200);
    const bad = await fetch(`${d.url}/api/agents`, { headers: { authorization: 'Bearer wrong' } });
    assert.equal(bad.status, 401);
  } finally {
    await d.cleanup();
    fs.rmSync(tok, { force: true });
  }
});

// The real Claude Code CLI (tests/e2e/node_modules) against the mock
// Anthropic API, sandboxed: it reads, writes and runs a test command in its
// worktree as ever, and its Read and Bash of the owner token fail.
const { start: startMock } = require('../fixtures/mock-anthropic');
const { CLAUDE_BIN, claudeMissingReason, makeSandbox, claudeEnv } = require('../fixtures/claude-run');

test('claude in the sandbox does its work in its worktree and cannot read the owner token', { skip: claudeMissingReason() || false }, async () => {
  const sb = makeSandbox();
  const d = await daemon.start({ needUrl: true, args: ['--claude-bin', CLAUDE_BIN] });
  const tokenPath = path.join(d.dataDir, 'owner-token');
  const wt = fs.realpathSync(sb.cwd);
  fs.writeFileSync(path.join(wt, 'hello.txt'), 'hello from the worktree\n');
  fs.writeFileSync(path.join(wt, 'test.sh'), 'echo "tests passed" > test-ran.txt\necho tests passed\n');
  const mock = await startMock({ rules: [{
    match: 'do the work',
    reply: { tool: { name: 'Read', input: { file_path: path.join(wt, 'hello.txt') } },
      then: { tool: { name: 'Write', input: { file_path: path.join(wt, 'out.txt'), content: 'written by claude\n' } },
        then: { tool: { name: 'Bash', input: { command: 'sh ./test.sh', description: 'Run the tests' } },
          then: { tool: { name: 'Read', input: { file_path: tokenPath } },
            then: { tool: { name: 'Bash', input: { command: `cat ${tokenPath}; ls -A ${d.dataDir}`, description: 'Look around' } },
              then: { text: 'All done.' } } } } } },
  }] });
  try {
    if (process.getuid && process.getuid() === 0) {
      assert.equal((await call(d, 'PATCH', '/api/settings', { allow_root_auto: true })).status, 200);
    }
    const ws = await call(d, 'POST', '/api/workspaces', { path: wt });
    assert.equal(ws.status, 201, ws.text);
    const env = claudeEnv(mock.url, sb.home);
    delete env.PATH;
    const ag = await call(d, 'POST', '/api/agents', { worktreeId: ws.body.worktrees[0].id, executor: 'claude', mode: 'auto', env, allowUnsafeEnv: true });
    assert.equal(ag.status, 201, ag.text);
    const id = ag.body.id;
    const s = await call(d, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'please do the work' });
    assert.equal(s.status, 200, s.text);
    await until(async () => /All done\./.test(await output(d, id)), 'the end of the turn', 60000);

    // the tool results the CLI sent back to the API
    const results = [];
    for (const req of mock.requests) {
      for (const m of (req.body && req.body.messages) || []) {
        if (!Array.isArray(m.content)) continue;
        for (const b of m.content) {
          if (b.type === 'tool_result') {
            const text = typeof b.content === 'string' ? b.content : JSON.stringify(b.content);
            if (!results.some((x) => x.id === b.tool_use_id)) results.push({ id: b.tool_use_id, text, isError: !!b.is_error });
          }
        }
      }
    }
    assert.equal(results.length, 5, JSON.stringify(results));
    assert.match(results[0].text, /hello from the worktree/);
    assert.equal(fs.readFileSync(path.join(wt, 'out.txt'), 'utf8'), 'written by claude\n');
    assert.match(results[2].text, /tests passed/);
    assert.equal(fs.readFileSync(path.join(wt, 'test-ran.txt'), 'utf8'), 'tests passed\n');
    for (const r of results) assert.ok(!r.text.includes(d.token), `the owner token reached the model: ${r.text}`);
    assert.ok(results[3].isError || /not exist|no such file|ENOENT/i.test(results[3].text), JSON.stringify(results[3]));
    assert.match(results[4].text, /No such file/, results[4].text);
    assert.doesNotMatch(results[4].text, /agentd\.(db|sock|pid)|^credentials$/m, results[4].text);
  } finally {
    await d.cleanup();
    await mock.close();
    sb.cleanup();
  }
});

test('another organisation\'s setup command runs in the sandbox: its worktree, not the owner token', async () => {
  const d = await daemon.start({ needUrl: true });
  try {
    const b = await orgB(d);
    const bws = await workspace(d, b.headers);
    const D = d.dataDir;
    let r = await call(d, 'PUT', `/api/workspaces/${bws.ws}/setup`,
      { setupCommand: `cat '${D}/owner-token'; ls -A '${D}'; echo it\\'s here > setup.txt; echo SETUP-END` }, b.headers);
    assert.equal(r.status, 200, r.text);
    r = await call(d, 'POST', '/api/worktrees', { workspaceId: bws.ws, name: 's1', branch: 's1', createBranch: true, runSetupCommand: true }, b.headers);
    assert.equal(r.status, 201, r.text);
    const wt = r.body;
    const outcome = await until(async () => {
      const s = (await call(d, 'GET', `/api/worktrees/${wt.id}/setup`, undefined, b.headers)).body.setup;
      return s && s.state !== 'running' ? s : null;
    }, 'the setup to end');
    assert.match(outcome.output, /SETUP-END/, JSON.stringify(outcome));
    assert.ok(!outcome.output.includes(d.token), 'the setup command read the owner token');
    assert.doesNotMatch(outcome.output, /agentd\.(db|sock|pid)/, outcome.output);
    // it worked in its worktree, quotes and all
    assert.equal(fs.readFileSync(path.join(wt.path, 'setup.txt'), 'utf8'), 'it\'s here\n');
  } finally {
    await d.cleanup();
  }
});

test('the CLI\'s --version probe runs in the agent\'s sandbox: an org\'s env cannot use it to get out', async () => {
  // a CLI (one-turn: its version is asked for beside each run) that is a
  // bash script: BASH_ENV (an admin's, with allowUnsafeEnv) runs first in
  // every bash, the --version probe's too
  const dir = daemon.tmpDir('agentd-sbx-cli-');
  const cli = path.join(dir, 'gemini');
  fs.writeFileSync(cli, '#!/bin/bash\nif [ "$1" = --version ]; then echo "0.9.0"; exit 0; fi\nexit 0\n', { mode: 0o755 });
  const d = await daemon.start({ needUrl: true, args: ['--gemini-bin', cli] });
  try {
    const b = await orgB(d);
    const bws = await workspace(d, b.headers);
    const evil = path.join(bws.wtPath, 'evil.sh');
    fs.writeFileSync(evil, `{ echo "ran $*"; cat '${d.dataDir}/owner-token'; } >> '${bws.wtPath}/stolen.txt' 2>&1\n`);
    let r = await call(d, 'POST', '/api/agents', { worktreeId: bws.wt, executor: 'gemini', env: { BASH_ENV: evil, GEMINI_API_KEY: 'dummy' }, allowUnsafeEnv: true }, b.headers);
    assert.equal(r.status, 201, r.text);
    const id = r.body.id;
    r = await call(d, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'hi' }, b.headers);
    assert.equal(r.status, 200, r.text);
    // both the run and its --version probe have run (twice "ran"), each
    // with what its cat said after (the file is read between the two lines
    // otherwise, on a busy machine)
    const stolen = await until(() => {
      let t = '';
      try { t = fs.readFileSync(path.join(bws.wtPath, 'stolen.txt'), 'utf8'); } catch (_) { /* not yet */ }
      const said = t.split('\n').filter((l) => l !== '' && !l.startsWith('ran ')).length;
      return (t.match(/^ran/gm) || []).length >= 2 && said >= 2 ? t : null;
    }, 'the CLI and its probe to run');
    assert.ok(!stolen.includes(d.token), `the owner token was read:\n${stolen}`);
    assert.match(stolen, /No such file/);
  } finally {
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an owner-token file shorter than 128 bits is replaced, with a warning', async () => {
  const dir = daemon.tmpDir();
  fs.writeFileSync(path.join(dir, 'owner-token'), 'only-twenty-chars-xx\n', { mode: 0o600 });
  const d = await daemon.start({ needUrl: true, dataDir: dir });
  try {
    assert.match(d.stderr, /owner token file shorter than 32 characters/);
    const now = fs.readFileSync(path.join(dir, 'owner-token'), 'utf8').trim();
    assert.ok(now.length >= 32, now);
    const old = await fetch(`${d.url}/api/agents`, { headers: { authorization: 'Bearer only-twenty-chars-xx' } });
    assert.equal(old.status, 401);
    const r = await fetch(`${d.url}/api/agents`, { headers: { authorization: `Bearer ${now}` } });
    assert.equal(r.status, 200);
  } finally {
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
