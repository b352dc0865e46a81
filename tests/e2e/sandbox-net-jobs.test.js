// SPDX-License-Identifier: MIT
// A network of its own for another organisation's jobs, worktree setup
// commands and services (issue #73), as the attacks it stops: the admin of
// an organisation other than the owner's cannot start an agent that
// reaches the host's Redis or agentd's port any more (sandbox-net.test.js),
// so it tries the same through a job (POST /api/jobs), a workspace's setup
// command and a service. Each fails, and each still reaches the internet
// through agentd's proxy (HTTPS_PROXY set). A host service the owner opens
// on the workspace (sandbox.hostServices) reaches the setup command, and
// only that one.
//
// The "internet": the test's HTTP server on 127.0.0.1, taken for a host of
// the internet by AGENTD_TEST_NET_PUBLIC=127.0.0.1:PORT (test builds only;
// see sandbox-net.test.js).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { request, until, orgRoots } = require('./lib/api');
const { freePort, startRedis } = require('./lib/redis');

const call = (d, method, url, body, headers = d.authHeaders) => request(d.url, method, url, body, headers);

async function orgB(d) {
  let r = await call(d, 'POST', '/api/orgs', { name: 'org b' });
  assert.equal(r.status, 201, r.text);
  const org = r.body.id;
  r = await call(d, 'POST', '/api/tokens', { name: 'b-admin', scope: 'admin', orgId: org });
  assert.equal(r.status, 201, r.text);
  await orgRoots(d, org);
  return { org, headers: { authorization: `Bearer ${r.body.token}` } };
}

async function workspace(d, headers) {
  const dir = daemon.tmpRepo('agentd-netjobs-');
  const r = await call(d, 'POST', '/api/workspaces', { path: dir }, headers);
  assert.equal(r.status, 201, r.text);
  return { ws: r.body.id, wtPath: r.body.worktrees[0].path || dir };
}

// "TCP <name> on|off" for a direct connection.
const tcp = (name, port, host = '127.0.0.1') =>
  `node -e "const s=require('net').connect(${port},'${host}');s.setTimeout(5000,()=>{console.log('TCP ${name} off');process.exit(0)});` +
  `s.on('connect',()=>{console.log('TCP ${name} on');process.exit(0)});s.on('error',()=>{console.log('TCP ${name} off');process.exit(0)})"`;

// The probes every program of org B runs: the host's Redis and agentd's
// port straight and through the proxy, and the internet through it.
function attack(redisPort, agentdPort, webPort) {
  return [
    'echo "PROXYVAR ${HTTPS_PROXY-unset}"',
    `if redis-cli -h 127.0.0.1 -p ${redisPort} ping 2>/dev/null | grep -q PONG; then echo "REDIS reached"; else echo "REDIS refused"; fi`,
    tcp('redis', redisPort), tcp('agentd', agentdPort),
    `curl -s --max-time 10 -o /dev/null -w "PROXIED-REDIS %{http_code}\\n" http://127.0.0.1:${redisPort}/`,
    `curl -s --max-time 10 -o /dev/null -w "PROXIED-AGENTD %{http_code}\\n" http://127.0.0.1:${agentdPort}/healthz`,
    `echo "WEB $(curl -s -p --max-time 10 http://127.0.0.1:${webPort}/w)"`,
    'echo ATTACK-END',
  ].join('\n');
}

function assertContained(out) {
  assert.match(out, /^ATTACK-END$/m, out);
  assert.match(out, /^PROXYVAR http:\/\/127\.0\.0\.1:\d+$/m, out);
  assert.match(out, /^REDIS refused$/m, out);
  assert.match(out, /^TCP redis off$/m, out);
  assert.match(out, /^TCP agentd off$/m, out);
  assert.match(out, /^PROXIED-REDIS 403$/m, out);
  assert.match(out, /^PROXIED-AGENTD 403$/m, out);
  assert.match(out, /^WEB internet-page \/w$/m, out);
}

async function setupEnv() {
  const redisPort = await freePort();
  const redis = await startRedis(redisPort);
  const web = http.createServer((req, res) => res.end(`internet-page ${req.url}`));
  await new Promise((r) => web.listen(0, '127.0.0.1', r));
  const webPort = web.address().port;
  const d = await daemon.start({ needUrl: true, env: { AGENTD_TEST_NET_PUBLIC: `127.0.0.1:${webPort}` } });
  return { redis, redisPort, web, webPort, d, agentdPort: Number(new URL(d.url).port) };
}

async function runJob(d, headers, script, extra = {}) {
  const r = await call(d, 'POST', '/api/jobs', { name: 'net', command: ['sh', '-c', script], ...extra }, headers);
  assert.equal(r.status, 201, r.text);
  return until(async () => {
    const j = (await call(d, 'GET', `/api/jobs/${r.body.id}`, undefined, headers)).body;
    return j && j.status !== 'running' ? j : null;
  }, 'the job to end', 60000);
}

test('a job of another org reaches no Redis and no agentd port on the host, and the internet through the proxy', async () => {
  const e = await setupEnv();
  const { d } = e;
  try {
    const b = await orgB(d);
    const job = await runJob(d, b.headers, attack(e.redisPort, e.agentdPort, e.webPort));
    assertContained(job.output);
    // the proxy's refusal says why, in the job's output
    assert.match(job.output, new RegExp(`127\\.0\\.0\\.1:${e.redisPort} is 127\\.0\\.0\\.1 \\(loopback\\)`), job.output);
    // its proxy socket goes with it
    await until(() => daemon.proxyEntries(d.dataDir, job.id).length === 0, 'the job\'s proxy socket to go');
    // a stop reaches the job through the proxy and the bridge, and they end with it
    let r = await call(d, 'POST', '/api/jobs', { name: 'long', command: ['sh', '-c', 'echo UP; exec sleep 120'] }, b.headers);
    assert.equal(r.status, 201, r.text);
    const long = r.body.id;
    await until(async () => /UP/.test((await call(d, 'GET', `/api/jobs/${long}`, undefined, b.headers)).body.output || ''), 'the long job to run');
    assert.ok(daemon.proxyEntries(d.dataDir, long).length > 0, 'the running job has no proxy socket');
    r = await call(d, 'POST', `/api/jobs/${long}/stop`, {}, b.headers);
    assert.equal(r.status, 202, r.text);
    const stopped = await until(async () => {
      const j = (await call(d, 'GET', `/api/jobs/${long}`, undefined, b.headers)).body;
      return j.status !== 'running' ? j : null;
    }, 'the long job to stop');
    assert.equal(stopped.status, 'stopped', JSON.stringify(stopped));
    await until(() => daemon.proxyEntries(d.dataDir, long).length === 0, 'the stopped job\'s proxy socket to go');
    // the owner's jobs run as before (unconfined)
    const own = await runJob(d, d.authHeaders, tcp('redis', e.redisPort));
    assert.match(own.output, /^TCP redis on$/m, own.output);
  } finally {
    await d.cleanup();
    e.redis.kill('SIGKILL');
    e.web.close();
  }
});

test('a setup command of another org cannot reach the Redis; a host service the owner opens on the workspace reaches it, and only that one', async () => {
  const e = await setupEnv();
  const { d } = e;
  const pg = await new Promise((resolve) => {
    const srv = net.createServer((s) => { srv.hits++; s.on('error', () => {}); s.end('pg-standin\n'); });
    srv.hits = 0;
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
  const P = pg.address().port;
  try {
    const b = await orgB(d);
    const bws = await workspace(d, b.headers);
    const setup = async (name, script) => {
      let r = await call(d, 'PUT', `/api/workspaces/${bws.ws}/setup`, { setupCommand: script }, b.headers);
      assert.equal(r.status, 200, r.text);
      r = await call(d, 'POST', '/api/worktrees', { workspaceId: bws.ws, name, branch: name, createBranch: true, runSetupCommand: true }, b.headers);
      assert.equal(r.status, 201, r.text);
      const id = r.body.id;
      return until(async () => {
        const s = (await call(d, 'GET', `/api/worktrees/${id}/setup`, undefined, b.headers)).body.setup;
        return s && s.state !== 'running' ? s : null;
      }, 'the setup to end', 60000);
    };
    const one = await setup('s1', `${attack(e.redisPort, e.agentdPort, e.webPort)}\n${tcp('pg', P)}`);
    assertContained(one.output);
    assert.match(one.output, /^TCP pg off$/m, one.output);
    assert.equal(pg.hits, 0, 'a host service not opened was reached');

    // the owner opens the stand-in for the workspace: the setup command
    // reaches it (straight, on its loopback, and through the proxy), and
    // still not the Redis
    let r = await call(d, 'PATCH', `/api/workspaces/${bws.ws}`, { sandbox: { hostServices: [`127.0.0.1:${P}`] } });
    assert.equal(r.status, 200, r.text);
    const two = await setup('s2', [tcp('pg', P),
      `curl -s -p --max-time 10 -o /dev/null -w "PROXIED-PG %{http_code}\\n" http://127.0.0.1:${P}/ || true`,
      attack(e.redisPort, e.agentdPort, e.webPort)].join('\n'));
    assertContained(two.output);
    assert.match(two.output, /^TCP pg on$/m, two.output);
    assert.ok(pg.hits >= 1, `hits ${pg.hits}`);

    // network "off" on the workspace: nothing but that service
    r = await call(d, 'PATCH', `/api/workspaces/${bws.ws}`, { sandbox: { network: 'off', hostServices: [`127.0.0.1:${P}`] } });
    assert.equal(r.status, 200, r.text);
    const off = await setup('s3', [tcp('pg', P), tcp('redis', e.redisPort),
      `if curl -sf --max-time 5 http://127.0.0.1:${e.webPort}/ >/dev/null; then echo "WEB reached"; else echo "WEB failed"; fi`,
      'echo OFF-END'].join('\n'));
    assert.match(off.output, /^OFF-END$/m, off.output);
    assert.match(off.output, /^TCP pg on$/m, off.output);
    assert.match(off.output, /^TCP redis off$/m, off.output);
    assert.match(off.output, /^WEB failed$/m, off.output);
  } finally {
    await d.cleanup();
    e.redis.kill('SIGKILL');
    e.web.close();
    pg.close();
  }
});

// GET http://127.0.0.1:port/path from the host: its body, or the error's code.
const get = (port, p) => new Promise((resolve) => {
  const req = http.get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
    let b = '';
    res.on('data', (c) => { b += c; });
    res.on('end', () => resolve(b));
  });
  req.on('error', (err) => resolve(err.code));
  req.setTimeout(5000, () => { req.destroy(); resolve('timeout'); });
});

test('a service of another org reaches no Redis and no agentd port on the host, the internet through the proxy, and the host reaches the port its probe names only', async () => {
  const e = await setupEnv();
  const { d } = e;
  try {
    const b = await orgB(d);
    const bws = await workspace(d, b.headers);
    const P = await freePort(), Q = await freePort();
    // it serves P (its probe's) and Q on its loopback, and tries the host
    const serve = `node -e "for (const p of [${P}, ${Q}]) require('http').createServer((q,s)=>s.end('svc-'+p+' '+q.url)).listen(p,'127.0.0.1')"`;
    const r = await call(d, 'POST', '/api/services', { name: 'net-svc', cwd: bws.wtPath,
      probe: { type: 'http', url: `http://127.0.0.1:${P}/health`, intervalMs: 200, timeoutMs: 2000 },
      command: ['sh', '-c', `{ ${attack(e.redisPort, e.agentdPort, e.webPort)}\n} > svc.txt 2>&1; exec ${serve}`] }, b.headers);
    assert.equal(r.status, 201, r.text);
    const out = await until(() => {
      let text = '';
      try { text = fs.readFileSync(path.join(bws.wtPath, 'svc.txt'), 'utf8'); } catch (_) { /* not yet */ }
      return /ATTACK-END/.test(text) ? text : null;
    }, 'the service\'s output', 60000);
    assertContained(out);
    // agentd's probe and the host reach P, published from the host's
    // loopback into the service's; not Q
    await until(async () => {
      const s = (await call(d, 'GET', `/api/services/${r.body.id}`, undefined, b.headers)).body;
      return s.runtime && s.runtime.health && s.runtime.health.status === 'healthy';
    }, 'the service to be healthy', 60000);
    assert.equal(await get(P, '/from-host'), `svc-${P} /from-host`);
    assert.equal(await get(Q, '/from-host'), 'ECONNREFUSED');
    // removed, its port on the host goes with it
    const st = await call(d, 'DELETE', `/api/services/${r.body.id}`, undefined, b.headers);
    assert.ok(st.status >= 200 && st.status < 300, st.text);
    await until(async () => (await get(P, '/')) === 'ECONNREFUSED', 'the published port to close');
  } finally {
    await d.cleanup();
    e.redis.kill('SIGKILL');
    e.web.close();
  }
});

test('a service of another org cannot turn its published port into a host socket', async () => {
  const e = await setupEnv();
  const { d } = e;
  // a unix socket of the host's (agentd's own is one: its data dir is covered inside)
  const hostSock = path.join(daemon.tmpDir('agentd-netjobs-sock-'), 'host.sock');
  const hostSrv = net.createServer((s) => { hostSrv.hits++; s.on('error', () => {}); s.end('host-socket\n'); });
  hostSrv.hits = 0;
  await new Promise((r) => hostSrv.listen(hostSock, r));
  try {
    const b = await orgB(d);
    const bws = await workspace(d, b.headers);
    const P = await freePort();
    const pub = `/run/agentd-proxy/s.pub/${P}`;
    const r = await call(d, 'POST', '/api/services', { name: 'link-svc', cwd: bws.wtPath,
      probe: { type: 'tcp', host: '127.0.0.1', port: P, intervalMs: 200, timeoutMs: 1000 },
      command: ['sh', '-c', `ls -l ${pub} > link.txt 2>&1; rm -f ${pub} && ln -s ${hostSock} ${pub} && echo LINKED >> link.txt; exec sleep 60`] }, b.headers);
    assert.equal(r.status, 201, r.text);
    const said = await until(() => {
      let text = '';
      try { text = fs.readFileSync(path.join(bws.wtPath, 'link.txt'), 'utf8'); } catch (_) { /* not yet */ }
      return /LINKED/.test(text) ? text : null;
    }, 'the service to link its socket', 60000);
    assert.match(said, /^s/, said); // it was the bridge's socket
    // the host connects to the published port: nothing reaches the host socket
    const answer = await new Promise((resolve) => {
      const s = net.connect(P, '127.0.0.1');
      let got = '';
      s.on('data', (c) => { got += c; });
      s.on('close', () => resolve(got));
      s.on('error', () => resolve('error'));
      s.setTimeout(5000, () => { s.destroy(); resolve('timeout'); });
    });
    assert.doesNotMatch(answer, /host-socket/);
    assert.equal(hostSrv.hits, 0, 'the published port reached a host socket');
  } finally {
    await d.cleanup();
    e.redis.kill('SIGKILL');
    e.web.close();
    hostSrv.close();
  }
});
