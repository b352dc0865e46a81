// SPDX-License-Identifier: MIT
// An agent's network of its own (issue #73), as the attacks it stops. With
// the default policy (network "on") an agent of another organisation goes
// after what listens on the host: a Redis on 127.0.0.1 (every org's events),
// a PostgreSQL (here a plain TCP listener standing in for one), agentd's own
// port (at its own port inside, agentd's telemetry door answers its API
// 403: otlp-receive.test.js), the host's address, a host unix socket (abstract: no mount hides
// it, only a network namespace does), and the names that resolve to
// loopback through agentd's proxy; every one fails, /proc/net/unix lists
// none of the host's sockets, and the agent still reaches the internet
// through the proxy. An admin of the owner's organisation opens exactly
// one host service (127.0.0.1:PORT) for an agent or a workspace, recorded
// in the audit; a write token and another organisation's admin cannot.
// And a flood of connections without a credential to agentd's port does
// not shut a token holder out.
//
// The "internet": this test machine has no address that is not the
// host's, so the test's HTTP server listens on 127.0.0.1 and the daemon
// (a test build) is told, by AGENTD_TEST_NET_PUBLIC=127.0.0.1:PORT, to
// take that one listener for a host of the internet (instead of the
// 127.0.0.1:* the other test files give, lib/daemon.js). The knob exists
// only under AD_TEST_BUILD; everything else (the namespace, the bridge,
// the proxy's resolution and refusals) is what a release build runs.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { request, until, orgRoots } = require('./lib/api');
const { freePort, startRedis } = require('./lib/redis');

const call = (d, method, url, body, headers = d.authHeaders) => request(d.url, method, url, body, headers);

async function token(d, name, scope, orgId) {
  const r = await call(d, 'POST', '/api/tokens', { name, scope, ...(orgId ? { orgId } : {}) });
  assert.equal(r.status, 201, r.text);
  return { authorization: `Bearer ${r.body.token}` };
}

async function orgB(d) {
  const r = await call(d, 'POST', '/api/orgs', { name: 'org b' });
  assert.equal(r.status, 201, r.text);
  await orgRoots(d, r.body.id); // its admin registers repositories under these only
  return { org: r.body.id, headers: await token(d, 'b-admin', 'admin', r.body.id) };
}

async function workspace(d, headers) {
  const dir = daemon.tmpRepo('agentd-sbxnet-');
  const r = await call(d, 'POST', '/api/workspaces', { path: dir }, headers);
  assert.equal(r.status, 201, r.text);
  return { ws: r.body.id, wt: r.body.worktrees[0].id, wtPath: r.body.worktrees[0].path || dir };
}

async function output(d, id, headers) {
  const r = await call(d, 'GET', `/api/agents/${id}/messages?limit=200`, undefined, headers);
  return (r.body.messages || []).map((m) => m.content).join('\n');
}

// A command agent running `sh -c script` as who; its output once DONE.
async function runScript(d, headers, wt, script, extra = {}) {
  let r = await call(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command: ['sh', '-c', script], ...extra }, headers);
  assert.equal(r.status, 201, r.text);
  const id = r.body.id;
  r = await call(d, 'POST', `/api/agents/${id}/start`, {}, headers);
  assert.equal(r.status, 200, r.text);
  let last = '';
  const out = await until(async () => {
    last = await output(d, id, headers);
    return /^DONE$/m.test(last) ? last : null;
  }, 'the script to finish', 60000).catch((e) => { throw new Error(`${e.message}; its output:\n${last}`); });
  return { id, out };
}

// A node one-liner: prints "TCP <name> on|off" for a direct connection.
const tcp = (name, port, host = '127.0.0.1') =>
  `node -e "const s=require('net').connect(${port},'${host}');s.setTimeout(5000,()=>{console.log('TCP ${name} off');process.exit(0)});` +
  `s.on('connect',()=>{console.log('TCP ${name} on');process.exit(0)});s.on('error',()=>{console.log('TCP ${name} off');process.exit(0)})"`;
// ... for a unix socket (an abstract one: '@name').
const unix = (name, sock) =>
  `node -e "const s=require('net').connect('\\\\0${sock}');s.on('connect',()=>{console.log('UNIX ${name} on');process.exit(0)});` +
  `s.on('error',()=>{console.log('UNIX ${name} off');process.exit(0)})"`;
// ... a raw CONNECT through the proxy: "PROXY <name> <status>".
const connect = (name, target) =>
  `node -e "const u=new URL(process.env.HTTPS_PROXY||'http://127.0.0.1:9');const s=require('net').connect(+u.port,u.hostname);let b='';` +
  `s.setTimeout(10000,()=>{console.log('PROXY ${name} timeout');process.exit(0)});` +
  `s.on('connect',()=>s.write('CONNECT ${target} HTTP/1.1\\\\r\\\\nHost: ${target}\\\\r\\\\n\\\\r\\\\n'));` +
  `s.on('data',(d)=>{b+=d;const m=b.match(/^HTTP\\\\/1\\\\.1 (\\\\d+)/);if(m){console.log('PROXY ${name} '+m[1]);process.exit(0)}});` +
  `s.on('error',()=>{console.log('PROXY ${name} error');process.exit(0)})"`;

// A TCP listener that counts who came (the stand-in for PostgreSQL).
function listener(host) {
  return new Promise((resolve) => {
    const srv = net.createServer((s) => { srv.hits++; s.on('error', () => {}); s.end('pg-standin\n'); });
    srv.hits = 0;
    srv.listen(0, host, () => resolve(srv));
  });
}

// The host's first address that is not loopback (eth0's here), or null.
function hostAddress() {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list) if (!a.internal && a.family === 'IPv4') return a.address;
  }
  return null;
}

test('default network: an agent of another org reaches no Redis, PostgreSQL, agentd port or host socket, and the internet through the proxy', async () => {
  const redisPort = await freePort();
  const redis = await startRedis(redisPort);
  const pg = await listener('0.0.0.0'); // on every address: loopback and the host's own
  const web = http.createServer((req, res) => res.end(`internet-page ${req.url}`));
  await new Promise((r) => web.listen(0, '127.0.0.1', r));
  const webPort = web.address().port;
  const abstract = `agentd-test-host-${process.pid}-${Date.now()}`;
  const sockSrv = net.createServer((s) => { sockSrv.hits++; s.on('error', () => {}); s.end(); });
  sockSrv.hits = 0;
  await new Promise((r) => sockSrv.listen(`\0${abstract}`, r));
  const d = await daemon.start({ needUrl: true, env: { AGENTD_TEST_NET_PUBLIC: `127.0.0.1:${webPort}` } });
  try {
    const b = await orgB(d);
    const bws = await workspace(d, b.headers);
    const port = new URL(d.url).port;
    const eth = hostAddress();
    const script = [
      'echo "PROXYVAR $HTTPS_PROXY $HTTP_PROXY $https_proxy $http_proxy"',
      // straight at the host's services
      `if redis-cli -h 127.0.0.1 -p ${redisPort} ping 2>/dev/null | grep -q PONG; then echo "REDIS reached"; else echo "REDIS refused"; fi`,
      tcp('redis', redisPort), tcp('pg', pg.address().port),
      // agentd's port inside is its telemetry door: its API is not behind it
      `curl -s --noproxy '*' --max-time 5 -o /dev/null -w "AGENTD-DIRECT %{http_code}\\n" http://127.0.0.1:${port}/api/agents`,
      ...(eth ? [tcp('pg-eth', pg.address().port, eth)] : []),
      unix('host-abstract', abstract),
      `if grep -q '${abstract}' /proc/net/unix; then echo "PROCNET lists-host"; else echo "PROCNET own"; fi`,
      // through the proxy: by address, by a name that resolves to loopback, by a numeric form
      connect('redis', `127.0.0.1:${redisPort}`), connect('agentd', `127.0.0.1:${port}`),
      connect('localhost', `localhost:${pg.address().port}`), connect('v6', `[::1]:${redisPort}`),
      connect('numeric', `2130706433:${redisPort}`), connect('zero', `0.0.0.0:${redisPort}`),
      ...(eth ? [connect('eth', `${eth}:${pg.address().port}`)] : []),
      `curl -s --max-time 10 -o /dev/null -w "PLAIN-REDIS %{http_code}\\n" http://127.0.0.1:${redisPort}/`,
      // the internet, through the proxy, both ways a CLI goes
      `echo "WEB-TUNNEL $(curl -s -p --max-time 10 http://127.0.0.1:${webPort}/t)"`,
      `echo "WEB-PLAIN $(curl -s --max-time 10 http://127.0.0.1:${webPort}/p)"`,
      // and not around it
      `if curl -s --noproxy '*' --max-time 5 http://127.0.0.1:${webPort}/ >/dev/null; then echo "WEB-DIRECT reached"; else echo "WEB-DIRECT failed"; fi`,
      'echo DONE',
    ].join('\n');
    const { id, out } = await runScript(d, b.headers, bws.wt, script);
    assert.match(out, /^PROXYVAR (http:\/\/127\.0\.0\.1:\d+ ?){4}$/m, out);
    assert.match(out, /^REDIS refused$/m, out);
    for (const what of ['redis', 'pg', ...(eth ? ['pg-eth'] : [])]) {
      assert.match(out, new RegExp(`^TCP ${what} off$`, 'm'), `${what} reached directly:\n${out}`);
    }
    assert.match(out, /^AGENTD-DIRECT 403$/m, out);
    assert.match(out, /^UNIX host-abstract off$/m, out);
    assert.match(out, /^PROCNET own$/m, out);
    for (const what of ['redis', 'agentd', 'localhost', 'v6', 'numeric', 'zero', ...(eth ? ['eth'] : [])]) {
      assert.match(out, new RegExp(`^PROXY ${what} 403$`, 'm'), `${what} through the proxy:\n${out}`);
    }
    assert.match(out, /^PLAIN-REDIS 403$/m, out);
    assert.equal(pg.hits, 0, 'the PostgreSQL stand-in was reached');
    assert.equal(sockSrv.hits, 0, 'the host unix socket was reached');
    // the reason is in the agent's transcript
    assert.match(out, new RegExp(`refused CONNECT 127\\.0\\.0\\.1:${redisPort} \\(127\\.0\\.0\\.1:${redisPort} is 127\\.0\\.0\\.1 \\(loopback\\)`), out);
    assert.match(out, /localhost:\d+ is (127\.0\.0\.1|::1) \(loopback\)/, out);
    if (eth) assert.match(out, new RegExp(`${eth.replace(/\./g, '\\.')}:\\d+ is ${eth.replace(/\./g, '\\.')} \\(an address of this host\\)`), out);
    // the internet works
    assert.match(out, /^WEB-TUNNEL internet-page \/t$/m, out);
    assert.match(out, /^WEB-PLAIN internet-page \/p$/m, out); // in origin form, as a server takes it
    assert.match(out, /^WEB-DIRECT failed$/m, out);
    const r = await call(d, 'GET', `/api/agents/${id}`, undefined, b.headers);
    assert.deepEqual(r.body.sandboxEffective, { network: 'on', paths: [], from: { network: 'default', paths: 'default' } }, r.text);

    // network "off": nothing at all, not even the internet (no proxy)
    const off = await runScript(d, b.headers, bws.wt, [
      'echo "PROXYVAR ${HTTPS_PROXY-unset}"',
      `if curl -s --max-time 5 http://127.0.0.1:${webPort}/ >/dev/null; then echo "WEB reached"; else echo "WEB failed"; fi`,
      tcp('redis', redisPort), 'echo DONE'].join('\n'), { sandbox: { network: 'off' } });
    assert.match(off.out, /^PROXYVAR unset$/m, off.out);
    assert.match(off.out, /^WEB failed$/m, off.out);
    assert.match(off.out, /^TCP redis off$/m, off.out);

    // an allow-list names the internet's hosts; a loopback entry (an
    // org admin's) does not open the host
    const listed = await runScript(d, b.headers, bws.wt, [
      `echo "WEB $(curl -s -p --max-time 10 http://127.0.0.1:${webPort}/a)"`,
      connect('redis', `127.0.0.1:${redisPort}`), 'echo DONE'].join('\n'),
    { sandbox: { network: { allow: [`127.0.0.1:${webPort}`, `127.0.0.1:${redisPort}`] } } });
    assert.match(listed.out, /^WEB internet-page \/a$/m, listed.out);
    assert.match(listed.out, /^PROXY redis 403$/m, listed.out);
    assert.match(listed.out, /is 127\.0\.0\.1 \(loopback\)/, listed.out);
  } finally {
    await d.cleanup();
    redis.kill('SIGKILL');
    pg.close();
    web.close();
    sockSrv.close();
  }
});

test('host services: an admin of the owner\'s org opens 127.0.0.1:PORT for an agent or a workspace, and it reaches exactly that', async () => {
  const pg = await listener('127.0.0.1');
  const other = await listener('127.0.0.1');
  const P = pg.address().port, Q = other.address().port;
  const d = await daemon.start({ needUrl: true, env: { AGENTD_TEST_NET_PUBLIC: '' } }); // nothing here is the internet
  try {
    const admin = await token(d, 'a-admin', 'admin');
    const writer = await token(d, 'a-writer', 'write');
    const b = await orgB(d);
    const a = await workspace(d, d.authHeaders);
    const bws = await workspace(d, b.headers);
    const svc = { hostServices: [`127.0.0.1:${P}`] };
    const mk = (headers, sandbox, wt = a.wt) => call(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'command', command: ['true'], sandbox }, headers);
    // not a write token's, nor another organisation's admin's (this host's services)
    let r = await mk(writer, svc);
    assert.equal(r.status, 403, r.text);
    r = await mk(b.headers, svc, bws.wt);
    assert.equal(r.status, 403, r.text);
    assert.match(r.body.error.message, /owner's organisation/);
    r = await call(d, 'PATCH', `/api/workspaces/${bws.ws}`, { sandbox: svc }, b.headers);
    assert.equal(r.status, 403, r.text);
    r = await call(d, 'PATCH', `/api/workspaces/${a.ws}`, { sandbox: svc }, writer);
    assert.equal(r.status, 403, r.text);
    // only exact addresses: no names, no port 0 or 3128, no port twice
    for (const bad of [['localhost:5432'], ['127.0.0.1'], ['127.0.0.1:0'], ['127.0.0.1:3128'], ['::1:5432'],
      ['[::01]:5432'], ['127.0.0.1:5432', '[::1]:5432'], ['127.0.0.1:99999'], ['127.0.0.1:5432,x'], 'x', [5432]]) {
      r = await mk(admin, { hostServices: bad });
      assert.equal(r.status, 422, `${JSON.stringify(bad)}: ${r.text}`);
    }

    const script = [
      tcp('svc', P), tcp('other', Q),
      `echo "READ $(node -e "const s=require('net').connect(${P},'127.0.0.1');let b='';s.on('data',(d)=>b+=d);s.on('end',()=>console.log(b.trim()));s.on('error',()=>console.log('error'))")"`,
      connect('svc', `127.0.0.1:${P}`), connect('other', `127.0.0.1:${Q}`),
      'echo DONE'].join('\n');
    // an admin (not the owner) of the owner's organisation opens one
    const one = await runScript(d, admin, a.wt, script, { sandbox: svc });
    assert.match(one.out, /^TCP svc on$/m, one.out);
    assert.match(one.out, /^READ pg-standin$/m, one.out);
    assert.match(one.out, /^PROXY svc 200$/m, one.out);
    assert.match(one.out, /^TCP other off$/m, one.out);
    assert.match(one.out, /^PROXY other 403$/m, one.out);
    assert.equal(other.hits, 0, 'a service not opened was reached');
    assert.ok(pg.hits >= 2, `hits ${pg.hits}`);
    r = await call(d, 'GET', `/api/agents/${one.id}`, undefined, admin);
    assert.deepEqual(r.body.sandboxEffective.hostServices, svc.hostServices, r.text);
    assert.equal(r.body.sandboxEffective.from.hostServices, 'agent', r.text);
    // with network off too: the service, nothing else
    const off = await runScript(d, admin, a.wt, script, { sandbox: { network: 'off', ...svc } });
    assert.match(off.out, /^TCP svc on$/m, off.out);
    assert.match(off.out, /^TCP other off$/m, off.out);
    // the workspace's, for its agents without their own
    r = await call(d, 'PATCH', `/api/workspaces/${a.ws}`, { sandbox: svc }, admin);
    assert.equal(r.status, 200, r.text);
    const viaWs = await runScript(d, admin, a.wt, script);
    assert.match(viaWs.out, /^TCP svc on$/m, viaWs.out);
    assert.match(viaWs.out, /^TCP other off$/m, viaWs.out);
    r = await call(d, 'GET', `/api/agents/${viaWs.id}`, undefined, admin);
    assert.equal(r.body.sandboxEffective.from.hostServices, 'workspace', r.text);
    assert.equal(other.hits, 0, 'a service not opened was reached');
    // the audit names who opened what
    const detail = `agent sandbox: default -> {"hostServices":["127.0.0.1:${P}"]}`;
    const au = await until(async () => {
      const x = await call(d, 'GET', '/api/audit?limit=500');
      const rows = x.body.entries || [];
      return rows.some((e) => e.detail === detail) && rows.some((e) => e.route === '/api/workspaces/:id' && e.status === 200) ? rows : null;
    }, 'the audit rows');
    const row = au.find((e) => e.detail === detail && e.status === 201);
    assert.ok(row, JSON.stringify(au));
    assert.equal(row.tokenName, 'a-admin');
    assert.ok(au.some((e) => e.route === '/api/workspaces/:id' && e.tokenName === 'a-admin' &&
      e.detail === `workspace sandbox: default -> {"hostServices":["127.0.0.1:${P}"]}`), JSON.stringify(au));
  } finally {
    await d.cleanup();
    pg.close();
    other.close();
  }
});

test('a flood of connections without a credential to agentd\'s port does not shut a token holder out', async (t) => {
  const CAP = 1000, FLOOD = 2500, ASKS = 40;
  // (a header timeout longer than the test: the flood stays open as an
  // attacker's would, by opening new ones as fast as the old time out)
  const d = await daemon.start({ needUrl: true, args: ['--max-connections-per-address', String(CAP), '--max-connections', String(CAP),
    '--header-timeout-ms', '300000'] });
  const flood = [];
  try {
    const { hostname: host, port } = new URL(d.url);
    const t0 = Date.now();
    let closedByServer = 0;
    // open them in bursts, each held open and silent
    for (let i = 0; i < FLOOD; i += 250) {
      const burst = Promise.all(Array.from({ length: Math.min(250, FLOOD - i) }, () => new Promise((resolve) => {
        const s = net.connect({ host, port: Number(port) });
        s.on('error', () => {});
        s.resume(); // a refusal read, so its end is seen
        s.on('close', () => { closedByServer++; });
        s.on('connect', resolve);
        s.on('close', resolve);
        flood.push(s);
      })));
      await Promise.race([burst, new Promise((resolve) => setTimeout(resolve, 10000).unref())]); // bounded, whatever the server does
    }
    // while they are held (and more come), a token holder's requests, each on a new connection
    const asks = [];
    for (let i = 0; i < ASKS; i++) {
      const more = net.connect({ host, port: Number(port) });
      more.on('error', () => {});
      flood.push(more);
      asks.push(await new Promise((resolve) => {
        const req = http.request({ host, port, path: '/api/agents', agent: false, headers: d.authHeaders }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        });
        req.on('error', (e) => resolve(e.code));
        setTimeout(() => { req.destroy(); resolve('timeout'); }, 10000).unref();
        req.end();
      }));
      if (asks[asks.length - 1] !== 200) break; // refused: no need to ask again
    }
    const took = Date.now() - t0;
    t.diagnostic(`${FLOOD + ASKS} connections without a credential, ${ASKS} requests with one: ${took} ms; statuses ${[...new Set(asks)].join(',')}`);
    assert.deepEqual([...new Set(asks)], [200], `a token holder was refused: ${asks.join(',')}`);
    // the flood itself is bounded: past the cap, the oldest without a credential went
    await until(() => closedByServer >= FLOOD - 2 * CAP, `the server to close the flood past its caps (closed ${closedByServer})`);
    assert.ok(took < 60000, `took ${took} ms`);
    // a request without a credential past the caps: refused (429 from its address), and closed
    const anon = await new Promise((resolve) => {
      const req = http.request({ host, port, path: '/healthz', agent: false }, (res) => { res.resume(); resolve(res.statusCode); });
      req.on('error', (e) => resolve(e.code));
      setTimeout(() => { req.destroy(); resolve('timeout'); }, 10000).unref();
      req.end();
    });
    assert.ok(anon === 429 || anon === 503, `anon: ${anon}`);
  } finally {
    for (const s of flood) s.destroy();
    await d.cleanup();
  }
});
