// SPDX-License-Identifier: MIT
// One network proxy for all of a data dir's sandboxed programs (issue #80,
// src/hold/netproxyd.c): a connection's policy is the policy of the socket
// it came in on, which only that program's sandbox shows. So an agent X
// running beside an agent Y that an admin opened a host service to cannot
// reach that service, by the proxy or by naming Y, and Y still can. The
// proxy killed with -9 comes back (agentd starts another, which takes up
// the live registrations: the sandboxes see the new sockets, and removes
// one whose process is gone), and it
// outlives a daemon stopped with --keep-agents: the agent reaches the
// internet while no agentd runs. A program's folder at the proxy goes
// with its sandbox.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const daemon = require('./lib/daemon');
const { request, until, orgRoots } = require('./lib/api');

const call = (d, method, url, body, headers = d.authHeaders) => request(d.url, method, url, body, headers);

async function orgB(d) {
  let r = await call(d, 'POST', '/api/orgs', { name: 'org b' });
  assert.equal(r.status, 201, r.text);
  await orgRoots(d, r.body.id);
  const org = r.body.id;
  r = await call(d, 'POST', '/api/tokens', { name: 'b-admin', scope: 'admin', orgId: org });
  assert.equal(r.status, 201, r.text);
  return { authorization: `Bearer ${r.body.token}` };
}

async function workspace(d, headers) {
  const dir = daemon.tmpRepo('agentd-sbxshared-');
  const r = await call(d, 'POST', '/api/workspaces', { path: dir }, headers);
  assert.equal(r.status, 201, r.text);
  return { wt: r.body.worktrees[0].id, wtPath: r.body.worktrees[0].path || dir };
}

async function output(d, id, headers) {
  const r = await call(d, 'GET', `/api/agents/${id}/messages?limit=200`, undefined, headers);
  return (r.body.messages || []).map((m) => m.content).join('\n');
}

// Starts a command agent running `sh -c script`; its id.
async function startScript(d, headers, wt, script, extra = {}) {
  let r = await call(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command: ['sh', '-c', script], ...extra }, headers);
  assert.equal(r.status, 201, r.text);
  const id = r.body.id;
  r = await call(d, 'POST', `/api/agents/${id}/start`, {}, headers);
  assert.equal(r.status, 200, r.text);
  return id;
}

// Its output once a line matches re (bounded).
async function outputUntil(d, id, headers, re, what) {
  let last = '';
  return until(async () => {
    last = await output(d, id, headers);
    return re.test(last) ? last : null;
  }, what, 60000).catch((e) => { throw new Error(`${e.message}; its output:\n${last}`); });
}

// A raw CONNECT through the agent's proxy: "PROXY <name> <status>".
const connect = (name, target) =>
  `node -e "const u=new URL(process.env.HTTPS_PROXY||'http://127.0.0.1:9');const s=require('net').connect(+u.port,u.hostname);let b='';` +
  `s.setTimeout(10000,()=>{console.log('PROXY ${name} timeout');process.exit(0)});` +
  `s.on('connect',()=>s.write('CONNECT ${target} HTTP/1.1\\\\r\\\\nHost: ${target}\\\\r\\\\n\\\\r\\\\n'));` +
  `s.on('data',(d)=>{b+=d;const m=b.match(/^HTTP\\\\/1\\\\.1 (\\\\d+)/);if(m){console.log('PROXY ${name} '+m[1]);process.exit(0)}});` +
  `s.on('error',()=>{console.log('PROXY ${name} error');process.exit(0)})"`;
// Bytes sent straight to the proxy's socket in the sandbox; "RAW <name> <first line of the answer>".
const raw = (name, text) =>
  `node -e "const s=require('net').connect('/run/agentd-proxy/s');let b='';s.setTimeout(10000,()=>{console.log('RAW ${name} timeout');process.exit(0)});` +
  `s.on('connect',()=>s.write('${text}'));s.on('data',(d)=>{b+=d});` +
  `s.on('close',()=>{console.log('RAW ${name} '+(b.split('\\\\r\\\\n')[0]||'closed'));process.exit(0)});s.on('error',()=>{console.log('RAW ${name} error');process.exit(0)})"`;

// A shell loop waiting for FILE (bounded: 60 s).
const waitFile = (file) => `i=0; while [ ! -f ${file} ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done`;

function listener() {
  return new Promise((resolve) => {
    const srv = net.createServer((s) => { srv.hits++; s.on('error', () => {}); s.end('pg-standin\n'); });
    srv.hits = 0;
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
}

test('agent X cannot use agent Y\'s policy: a host service opened to Y is refused to X while both run', async () => {
  const pg = await listener();
  const P = pg.address().port;
  const d = await daemon.start({ needUrl: true, env: { AGENTD_TEST_NET_PUBLIC: '' } });
  try {
    const a = await workspace(d, d.authHeaders);
    const bHeaders = await orgB(d);
    const b = await workspace(d, bHeaders);
    const a2 = await workspace(d, d.authHeaders);
    const go = path.join(a.wtPath, '.x-done');
    // Y: the host service is its own; it waits while X tries, then uses it again
    const y = await startScript(d, d.authHeaders, a.wt, [
      connect('y1', `127.0.0.1:${P}`), 'echo "Y READY"', waitFile(go),
      connect('y2', `127.0.0.1:${P}`), 'echo DONE'].join('\n'), { sandbox: { hostServices: [`127.0.0.1:${P}`] } });
    const yOut = await outputUntil(d, y, d.authHeaders, /^Y READY$/m, 'Y to be ready');
    assert.match(yOut, /^PROXY y1 200$/m, yOut);
    const hitsBefore = pg.hits;
    // X, of another organisation, and X2 of Y's own, both without it
    const yDir = daemon.proxyEntries(d.dataDir, y).find((n) => !n.endsWith('.reg'));
    assert.ok(yDir, 'Y has a folder at the proxy');
    const xScript = (name) => [
      connect(`${name}-svc`, `127.0.0.1:${P}`),
      `echo "LS $(ls -A /run/agentd-proxy | tr '\\n' ' ')"`,
      // what X sends names no one: a registration on its own socket is a bad request
      raw(`${name}-reg`, `R ${y}\\\\n=127.0.0.1:${P}\\\\r\\\\n\\\\r\\\\n`),
      // and Y's folder at the proxy is not in X's sandbox
      `if [ -e ${path.join(d.dataDir, 'proxy', yDir)} ]; then echo "YDIR seen"; else echo "YDIR hidden"; fi`,
      'echo DONE'].join('\n');
    for (const [name, headers, wt] of [['x', bHeaders, b.wt], ['x2', d.authHeaders, a2.wt]]) {
      const x = await startScript(d, headers, wt, xScript(name));
      const out = await outputUntil(d, x, headers, /^DONE$/m, `${name} to finish`);
      assert.match(out, new RegExp(`^PROXY ${name}-svc 403$`, 'm'), out);
      assert.match(out, new RegExp(`refused CONNECT 127\\.0\\.0\\.1:${P} \\(127\\.0\\.0\\.1:${P} is 127\\.0\\.0\\.1 \\(loopback\\)`), out);
      assert.match(out, /^LS s ?$/m, out);
      assert.match(out, new RegExp(`^RAW ${name}-reg HTTP/1\\.1 400`, 'm'), out);
      assert.match(out, /^YDIR hidden$/m, out);
    }
    assert.equal(pg.hits, hitsBefore, 'X reached the host service opened to Y');
    assert.equal(daemon.proxyPids(d.dataDir).length, 1, 'one proxy serves them all');
    fs.writeFileSync(go, '');
    const yEnd = await outputUntil(d, y, d.authHeaders, /^DONE$/m, 'Y to finish');
    assert.match(yEnd, /^PROXY y2 200$/m, yEnd);
    // its folder at the proxy goes with its sandbox
    await until(() => daemon.proxyEntries(d.dataDir, y).length === 0,
      'Y\'s folder at the proxy to go');
  } finally {
    await d.cleanup();
    pg.close();
  }
});

test('the shared proxy killed with -9 comes back for running agents, and outlives agentd with --keep-agents', async () => {
  const web = http.createServer((req, res) => res.end(`internet-page ${req.url}`));
  await new Promise((r) => web.listen(0, '127.0.0.1', r));
  const webPort = web.address().port;
  const dataDir = daemon.tmpDir();
  const args = ['--keep-agents', '--stop-grace-ms', '300'];
  const env = { AGENTD_TEST_NET_PUBLIC: `127.0.0.1:${webPort}` };
  let d = await daemon.start({ needUrl: true, dataDir, args, env });
  try {
    const bHeaders = await orgB(d);
    const b = await workspace(d, bHeaders);
    const k1 = path.join(b.wtPath, '.k1'), k2 = path.join(b.wtPath, '.k2'), k3 = path.join(b.wtPath, '.k3');
    // tries each step until it gets through (bounded): curl through the proxy
    const fetchLoop = (tag) => `n=0; while [ $n -lt 200 ]; do r=$(curl -s -p --max-time 5 http://127.0.0.1:${webPort}/${tag}); ` +
      `if [ -n "$r" ]; then echo "WEB-${tag} $r"; break; fi; n=$((n+1)); sleep 0.05; done`;
    const id = await startScript(d, bHeaders, b.wt, [
      fetchLoop('one'), waitFile(k1), fetchLoop('two'), 'echo "TWO DONE"', waitFile(k2), fetchLoop('three'), waitFile(k3), 'echo DONE'].join('\n'));
    await outputUntil(d, id, bHeaders, /^WEB-one internet-page \/one$/m, 'the first fetch');
    const [first] = daemon.proxyPids(dataDir);
    assert.ok(first, 'no shared proxy runs');
    // a registration whose process is gone: the next proxy removes it
    const stale = path.join(dataDir, 'proxy', 'ag_stale');
    fs.mkdirSync(stale);
    fs.writeFileSync(`${stale}.reg`, `${spawnSync('true').pid} 1\n*\n`);
    process.kill(first, 'SIGKILL');
    await until(() => { const p = daemon.proxyPids(dataDir); return p.length === 1 && p[0] !== first; }, 'agentd to start another proxy');
    await until(() => !fs.existsSync(stale) && !fs.existsSync(`${stale}.reg`), 'the stale registration to be removed');
    fs.writeFileSync(k1, '');
    let out = await outputUntil(d, id, bHeaders, /^TWO DONE$/m, 'the fetch after the proxy came back');
    assert.match(out, /^WEB-two internet-page \/two$/m, out);

    // agentd stops, keeping its agents: the proxy serves the agent meanwhile
    const [second] = daemon.proxyPids(dataDir);
    await d.stop();
    fs.writeFileSync(k2, '');
    const logPath = path.join(dataDir, 'hold');
    await until(() => {
      for (const run of fs.readdirSync(logPath)) {
        try { if (/WEB-three internet-page \/three/.test(fs.readFileSync(path.join(logPath, run, 'out'), 'utf8'))) return true; } catch (_) { /* none */ }
      }
      return false;
    }, 'the fetch while no agentd runs');
    assert.deepEqual(daemon.proxyPids(dataDir), [second], 'the proxy outlived agentd');
    d = await daemon.start({ needUrl: true, dataDir, args, env });
    fs.writeFileSync(k3, '');
    out = await outputUntil(d, id, bHeaders, /^DONE$/m, 'the agent to finish');
    assert.match(out, /^WEB-three internet-page \/three$/m, out);
    // no agent left, agentd gone: the proxy ends
    await d.stop();
    await until(() => daemon.proxyPids(dataDir).length === 0, 'the proxy to end with no agent and no agentd');
  } finally {
    await d.cleanup();
    fs.rmSync(dataDir, { recursive: true, force: true });
    web.close();
  }
});
