// SPDX-License-Identifier: MIT
// Memory bounds that hold in bytes resident (issue #41) and the HTTP bounds
// that hold before authentication (issue #31), as attacks: readers that
// never read, many replays from seq 0, slow and unauthenticated bodies at
// the connection cap, too many WebSockets for one token, a duplicate Host.
// Memory is read from /proc/<pid>/status (VmRSS); every bound asserted is
// derived from a configured bound, and every wait polls a condition.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const { spawn } = require('node:child_process');
const WebSocket = require('./lib/ws');
const path = require('node:path');
const { start, run } = require('./lib/daemon');
const { startApi, until } = require('./lib/api');
const { RawWs, exchange, hostPort } = require('./lib/raw');
const { Live, publish, hasTestRoutes } = require('./lib/live');

const MiB = 1 << 20;
// An ASan build keeps freed memory in quarantine (256 MiB by default), which
// would hide what the daemon itself gives back or holds; keep it small, and
// have its allocator hand freed pages back to the kernel as a release build's
// does (without, 100 replays left an ASan daemon at 2.2x idle; a release
// build came back to 0.98x).
const ASAN = { ASAN_OPTIONS: `${process.env.ASAN_OPTIONS ? `${process.env.ASAN_OPTIONS}:` : ''}quarantine_size_mb=4:allocator_release_to_os_interval_ms=200` };

function rss(pid) {
  const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
  return Number(m[1]) * 1024;
}

// lib/api's until() with the bound first, as this file's calls give it.
const poll = (fn, ms, what) => until(fn, what, ms);

// Opens a TCP connection that sends a request head and never its body.
function slowBody(url, headers) {
  const { host, port } = hostPort(url);
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const s = { sock, data: '', closed: false };
    sock.on('error', () => {});
    sock.on('data', (b) => { s.data += b.toString('latin1'); });
    sock.on('close', () => { s.closed = true; });
    sock.on('connect', () => {
      sock.write(`POST /api/workspaces HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
        `Content-Length: 100000\r\n${headers}\r\n{"pa`);
      resolve(s);
    });
  });
}

// n WebSocket subscribers to topic that never read after the ack, with a
// receive buffer of a few KiB: the kernel takes little, so what the server
// queues for them shows at once. (Node cannot set SO_RCVBUF; Python can.)
const FIXTURES = path.join(__dirname, '..', 'fixtures');
const STUCK_PY = `
import sys
sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, ${JSON.stringify(FIXTURES)})
from wsreader import open_ws, send_text
host, port, token, n, topic = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
socks = []
for i in range(n):
    s, rest = open_ws(host, port, token, timeout=10)
    send_text(s, '{"type":"subscribe","payload":{"topics":["%s"]}}' % topic)
    while b"subscribed" not in rest:
        rest += s.recv(4096)
    socks.append(s)
print("ready", flush=True)
if sys.stdin.readline().strip() == "drain":
    # read everything each socket was sent, to its close: print its tail
    for s in socks:
        s.settimeout(30)
        got = b""
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                got = (got + b)[-4096:]
                if got.count(b"send memory bound") >= 2 or got.count(b"overflow") >= 2:
                    break  # the notice and the close frame are in
        except OSError:
            pass
        print(got[-600:].decode("latin1").replace("\\n", " "), flush=True)
    print("drained", flush=True)
sys.stdin.read()
`;

function stuckReaders(d, n, topic) {
  const { host, port } = hostPort(d.url);
  const p = spawn('python3', ['-c', STUCK_PY, host, String(port), d.token, String(n), topic],
    { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stderr.on('data', (b) => { err += b; });
  return new Promise((resolve, reject) => {
    p.stdout.on('data', (b) => {
      out += b;
      if (out.includes('ready')) {
        resolve({
          kill: () => p.kill('SIGKILL'),
          // reads what each reader was sent, to its close; resolves with the tails
          drain: () => new Promise((res) => {
            p.stdout.on('data', () => { if (out.includes('drained')) res(out); });
            p.stdin.write('drain\n');
          }),
        });
      }
    });
    p.on('exit', () => reject(new Error(`the stuck readers exited: ${err}`)));
  });
}

test('eight subscribers that never read keep the daemon within its send bound', async (t) => {
  const bound = 128 * 1024;
  const ring = 1 << 20;
  const d = await start({ needUrl: true, env: ASAN,
    args: ['--ws-send-queue-bytes', String(bound), '--event-ring-bytes', String(ring)] });
  try {
    if (!(await hasTestRoutes(d))) { t.skip('needs a test build (/test/publish)'); return; }
    const small = { type: 'small', topics: ['load'], perTick: 1, intervalMs: 1, payload: { pad: 'p'.repeat(100) } };
    // warm up the same paths with a reader that keeps up
    const warm = await Live.open(d);
    warm.send('subscribe', { topics: ['load'] });
    await warm.next('subscribed');
    await publish(d, { ...small, count: 2000, perTick: 50 });
    await warm.close();
    const idle = rss(d.proc.pid);

    const stuck = await stuckReaders(d, 8, 'load');
    // ~2.5 MiB in large frames fills most of what the kernel takes for a
    // socket (its send buffer grows to 4 MiB on a loopback)...
    await publish(d, { type: 'big', topics: ['load'], perTick: 4, intervalMs: 1,
      payload: { pad: 'b'.repeat(64 * 1024) }, count: 40 });
    // ...then one small frame a loop turn: each turn's frame goes into a
    // cork of its own once the socket is full
    await publish(d, { ...small, count: 5000 });
    const grown = rss(d.proc.pid) - idle;
    // each reader may pin its bound plus a cork; the ring holds its bytes;
    // the rest is slack for the allocator (and an ASan build's shadow)
    const limit = 8 * (bound + 64 * 1024) * 2 + ring + 12 * MiB;
    t.diagnostic(`RSS idle ${(idle / MiB).toFixed(1)} MiB, grown ${(grown / MiB).toFixed(1)} MiB, limit ${(limit / MiB).toFixed(1)} MiB`);
    assert.ok(grown < limit, `RSS grew by ${(grown / MiB).toFixed(1)} MiB over idle ` +
      `(${(idle / MiB).toFixed(1)} MiB); the bound allows ${(limit / MiB).toFixed(1)} MiB`);
    stuck.kill();
  } finally {
    await d.cleanup();
  }
});

// A replaying reader that keeps up without parsing every event: it looks
// for the seq near the start of each message; resolves once it has seen
// `last`.
function replayReader(d, topic, last) {
  const ws = new WebSocket(`${d.url.replace('http', 'ws')}/ws`, { headers: d.authHeaders });
  ws.on('error', () => {});
  const r = { ws, done: false, bytes: 0 };
  r.closed = new Promise((resolve) => ws.on('close', resolve));
  ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', payload: { topics: [topic], since: 0 } })));
  ws.on('message', (data) => {
    r.bytes += data.length;
    const m = data.toString('latin1', 0, Math.min(data.length, 200)).match(/"seq":(\d+)/);
    if (m && Number(m[1]) === last) r.done = true;
  });
  return r;
}

test('after many replays from seq 0, resident memory comes back near idle', async (t) => {
  // The issue's 1,000 replays of a 33 MB log, scaled to 100 of a 12 MB log
  // (past the replay ring, so read from the events table on the workers)
  // to stay quick on a shared machine.
  const d = await start({ needUrl: true, env: ASAN, args: ['--event-ring-bytes', String(1 << 20)] });
  try {
    if (!(await hasTestRoutes(d))) { t.skip('needs a test build (/test/publish)'); return; }
    const r = await publish(d, { type: 'blob', topics: ['log'], count: 3000, perTick: 500,
      payload: { pad: 'x'.repeat(4000) } });
    // idle: the log written, one replay of its tail done, the daemon settled
    const w = await Live.open(d);
    w.send('subscribe', { topics: ['log'], since: r.last - 1 });
    await w.until(() => w.events.length > 0, 10000, 'a replayed event');
    await w.close();
    const idle = rss(d.proc.pid);

    // one round: N replays from seq 0 to the head, closed; its peak, and
    // the RSS once it is within `bound` (or where it stayed, after 15 s)
    const N = 100;
    const round = async (bound) => {
      const readers = [];
      for (let i = 0; i < N; i++) readers.push(replayReader(d, 'log', r.last));
      let peak = 0;
      await poll(() => {
        peak = Math.max(peak, rss(d.proc.pid));
        return readers.every((x) => x.done);
      }, 120000, 'every replay to reach the head');
      for (const x of readers) x.ws.close();
      await Promise.all(readers.map((x) => x.closed));
      let now = 0;
      const back = await poll(() => {
        now = rss(d.proc.pid);
        return now <= bound ? now : 0;
      }, 15000, 'RSS back within its bound').catch(() => now);
      return { peak, back };
    };
    const mib = (x) => `${(x / MiB).toFixed(1)} MiB`;
    const one = await round(2 * idle);
    t.diagnostic(`RSS idle ${mib(idle)}, peak ${mib(one.peak)}, back to ${mib(one.back)}`);
    if (one.back > 2 * idle) {
      // An ASan build's allocator may keep what was freed mapped (a release
      // build came back to 0.98x idle): then a second round must reuse it,
      // not add to it, or the replays leak.
      const again = Math.max(2 * idle, one.back * 1.1);
      const two = await round(again);
      t.diagnostic(`a second round: peak ${mib(two.peak)}, back to ${mib(two.back)}`);
      assert.ok(two.back <= again, `RSS ${mib(two.back)} after a second round of ${N} replays: ` +
        `more than 1.1x the ${mib(one.back)} the first left (idle ${mib(idle)})`);
    }
    const h = await fetch(`${d.url}/healthz`);
    assert.equal(h.status, 200);
  } finally {
    await d.cleanup();
  }
});

test('slow and unauthenticated bodies at the connection cap: the unix socket still works', async () => {
  const d = await start({ needUrl: true, args: ['--max-connections', '8'] });
  const open = [];
  try {
    // an unauthenticated body is refused from its headers: 401 at once,
    // before a byte of it is read (and the connection closes)
    const anon = await slowBody(d.url, '');
    await poll(() => anon.closed && anon.data, 5000, 'the 401 before the body');
    assert.match(anon.data, /^HTTP\/1\.1 401 /);
    assert.match(anon.data, /WWW-Authenticate: Bearer/);

    // token holders trickling bodies fill every TCP slot
    for (let i = 0; i < 8; i++) open.push(await slowBody(d.url, `Authorization: Bearer ${d.token}\r\n`));
    const refused = await exchange(d.url, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    assert.match(refused.text, /^HTTP\/1\.1 503 /, 'TCP is at its cap');
    // ...and the trusted unix socket has its own budget
    const ls = run(['ls', '--data-dir', d.dataDir]);
    assert.equal(ls.status, 0, `agentd ls: ${ls.stderr}`);
    for (const s of open) assert.equal(s.closed, false, 'the slow bodies are still waited for');
  } finally {
    for (const s of open) s.sock.destroy();
    await d.cleanup();
  }
});

// The flood of issue #31: many connections each sending most of a 1 MiB
// body with no token, and holding on. Before, every body was buffered
// before the token was looked at (600 connections: +603 MiB); now each is
// refused from its headers and closed, so resident memory stays near
// idle. The per-address caps are opened wide so that only the refusal
// before the body bounds it.
test('an unauthenticated body flood: each refused from its headers, the RSS bounded', async (t) => {
  const n = 200;
  const size = 1 << 20;
  const d = await startApi({ env: ASAN,
    args: ['--max-connections', '4096', '--max-connections-per-address', '4096',
      '--max-buffered-bytes-per-address', String(2 ** 39)] });
  const socks = [];
  try {
    const idle = rss(d.proc.pid);
    let peak = idle;
    const { host, port } = hostPort(d.url);
    const body = Buffer.alloc(size - 1, 'x');
    for (let batch = 0; batch < n; batch += 50) {
      for (let i = batch; i < Math.min(n, batch + 50); i++) {
        const sock = net.connect({ host, port });
        const s = { sock, data: '', closed: false };
        sock.on('error', () => {});
        sock.on('data', (b) => { s.data += b.toString('latin1'); });
        sock.on('close', () => { s.closed = true; });
        sock.on('connect', () => {
          sock.write(`POST /api/workspaces HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
            `Content-Length: ${size}\r\n\r\n`);
          sock.write(body);
        });
        socks.push(s);
      }
      await poll(() => socks.every((s) => s.closed), 60000, `the ${socks.length} flooding connections answered and closed`);
      peak = Math.max(peak, rss(d.proc.pid));
    }
    for (const s of socks) assert.match(s.data, /^HTTP\/1\.1 401 /, 'refused from its headers');
    const grown = peak - idle;
    t.diagnostic(`RSS idle ${(idle / MiB).toFixed(1)} MiB, peak grown ${(grown / MiB).toFixed(1)} MiB for ${n} x ${size / MiB} MiB bodies`);
    assert.ok(grown < 48 * MiB, `RSS grew by ${(grown / MiB).toFixed(1)} MiB for ${n} unauthenticated bodies`);
    const ok = await d.req('GET', '/api/agents');
    assert.equal(ok.status, 200, 'the owner is still served');
  } finally {
    for (const s of socks) s.sock.destroy();
    await d.cleanup();
  }
});

test('connections per address: past the cap 429 with Retry-After, another address still served', async () => {
  const d = await start({ needUrl: true, args: ['--max-connections-per-address', '4'] });
  const socks = [];
  try {
    const { host, port } = hostPort(d.url);
    for (let i = 0; i < 4; i++) {
      const s = net.connect({ host, port });
      s.on('error', () => {});
      await new Promise((r) => s.on('connect', r));
      socks.push(s);
    }
    const r = await exchange(d.url, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    assert.match(r.text, /^HTTP\/1\.1 429 /);
    assert.match(r.text, /Retry-After: \d+/);
    // 127.0.0.2 is another address on the loopback
    const other = await new Promise((resolve) => {
      const s = net.connect({ host, port, localAddress: '127.0.0.2' });
      let text = '';
      s.on('error', () => resolve('error'));
      s.on('data', (b) => { text += b; if (text.includes('"ok"')) { s.destroy(); resolve(text); } });
      s.on('connect', () => s.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    });
    assert.match(other, /^HTTP\/1\.1 200 /);
  } finally {
    for (const s of socks) s.destroy();
    await d.cleanup();
  }
});

test('too many WebSockets for one token: 429, while another token still connects', async () => {
  const d = await startApi({ args: ['--max-websockets-per-token', '3'] });
  const socks = [];
  try {
    const a = await d.req('POST', '/api/tokens', { name: 'ws-a', scope: 'read' });
    const b = await d.req('POST', '/api/tokens', { name: 'ws-b', scope: 'read' });
    assert.equal(a.status, 201);
    for (let i = 0; i < 3; i++) socks.push(await RawWs.open(d.url, '/ws', `Authorization: Bearer ${a.body.token}\r\n`));
    await assert.rejects(RawWs.open(d.url, '/ws', `Authorization: Bearer ${a.body.token}\r\n`),
      (e) => /^HTTP\/1\.1 429 /.test(e.message) && /Retry-After: \d+/.test(e.message));
    socks.push(await RawWs.open(d.url, '/ws', `Authorization: Bearer ${b.body.token}\r\n`));
    // one of a's closes: a may open one again
    socks[0].sock.destroy();
    await poll(async () => {
      try {
        socks.push(await RawWs.open(d.url, '/ws', `Authorization: Bearer ${a.body.token}\r\n`));
        return true;
      } catch (_) { return false; }
    }, 5000, 'a slot for token a once one of its sockets closed');
  } finally {
    for (const s of socks) s.sock.destroy();
    await d.cleanup();
  }
});

// A keep-alive connection that has sent one GET with tok and keeps the
// socket open; resolves with {sock, text} once its first answer is in.
function keptConnection(url, tok) {
  const { host, port } = hostPort(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    const c = { sock, text: '', closed: false };
    sock.on('error', () => {});
    sock.on('close', () => { c.closed = true; });
    sock.on('data', (b) => {
      c.text += b.toString('latin1');
      const m = c.text.match(/Content-Length: (\d+)\r\n[\s\S]*?\r\n\r\n/i);
      if (m && c.text.length >= c.text.indexOf('\r\n\r\n') + 4 + Number(m[1])) resolve(c);
    });
    sock.on('connect', () => sock.write(`GET /api/workspaces HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${tok}\r\n\r\n`));
    setTimeout(() => reject(new Error(`no answer on a kept connection: ${JSON.stringify(c.text.slice(0, 200))}`)), 10000);
  });
}

test('one token opening too many connections is refused (429), while another token still gets in', async () => {
  const d = await startApi({ args: ['--max-connections-per-token', '3'] });
  const conns = [];
  try {
    const a = await d.req('POST', '/api/tokens', { name: 'conn-a', scope: 'read' });
    const b = await d.req('POST', '/api/tokens', { name: 'conn-b', scope: 'read' });
    assert.equal(a.status, 201);
    assert.equal(b.status, 201);
    // the attacker holds three keep-alive connections with token a...
    for (let i = 0; i < 3; i++) {
      const c = await keptConnection(d.url, a.body.token);
      assert.match(c.text, /^HTTP\/1\.1 200 /, `connection ${i} of token a is within its cap`);
      conns.push(c);
    }
    // ...and its fourth is refused with Retry-After, and closed
    const over = await keptConnection(d.url, a.body.token);
    conns.push(over);
    assert.match(over.text, /^HTTP\/1\.1 429 /);
    assert.match(over.text, /Retry-After: \d+/);
    assert.match(over.text, /max-connections-per-token/);
    await poll(() => over.closed, 5000, 'the refused connection to close');
    // a WebSocket is a connection too
    await assert.rejects(RawWs.open(d.url, '/ws', `Authorization: Bearer ${a.body.token}\r\n`),
      (e) => /^HTTP\/1\.1 429 /.test(e.message));
    // token b is not held back by a's connections
    for (let i = 0; i < 3; i++) {
      const c = await keptConnection(d.url, b.body.token);
      assert.match(c.text, /^HTTP\/1\.1 200 /, `token b's connection ${i}`);
      conns.push(c);
    }
    // one of a's connections closes: a may open one again
    conns[0].sock.destroy();
    await poll(async () => {
      const c = await keptConnection(d.url, a.body.token);
      conns.push(c);
      return /^HTTP\/1\.1 200 /.test(c.text);
    }, 5000, 'a slot for token a once one of its connections closed');
  } finally {
    for (const c of conns) c.sock.destroy();
    await d.cleanup();
  }
});

test('a token made after another was revoked has caps of its own', async () => {
  const d = await startApi({ args: ['--max-connections-per-token', '2', '--max-websockets-per-token', '2'] });
  const conns = [];
  try {
    const a = await d.req('POST', '/api/tokens', { name: 'gone', scope: 'read' });
    assert.equal(a.status, 201);
    for (let i = 0; i < 2; i++) conns.push(await keptConnection(d.url, a.body.token));
    const r = await d.req('DELETE', `/api/tokens/${a.body.id}`);
    assert.ok(r.status < 300, JSON.stringify(r.body));
    // a's connections are still open (and counted under its id); a new
    // token is counted apart from them
    for (let i = 0; i < 5; i++) {
      const b = await d.req('POST', '/api/tokens', { name: `new-${i}`, scope: 'read' });
      assert.equal(b.status, 201);
      const c = await keptConnection(d.url, b.body.token);
      conns.push(c);
      assert.match(c.text, /^HTTP\/1\.1 200 /, `token new-${i} gets in`);
    }
  } finally {
    for (const c of conns) c.sock.destroy();
    await d.cleanup();
  }
});

test('a duplicate Host header is a 400', async () => {
  const d = await start({ needUrl: true });
  try {
    const r = await exchange(d.url, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n');
    assert.match(r.text, /^HTTP\/1\.1 400 /);
    assert.match(r.text, /more than one Host/);
    const ok = await exchange(d.url, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    assert.match(ok.text, /^HTTP\/1\.1 200 /);
  } finally {
    await d.cleanup();
  }
});

test('unauthenticated noise leaves aggregated audit rows, one per address per interval', async () => {
  const interval = 2000;
  const d = await startApi({ args: ['--audit-noise-interval-ms', String(interval)] });
  try {
    const N = 200;
    const t0 = Date.now();
    for (let i = 0; i < N; i++) {
      const r = await fetch(`${d.url}/api/workspaces`, { method: 'POST', body: '{}',
        headers: { 'content-type': 'application/json' } });
      assert.equal(r.status, 401);
      await r.arrayBuffer();
    }
    const sent = Date.now() - t0;
    // every refused request shows, counted: individually or in an interval's row
    const counted = (rows) => rows.reduce((n, e) =>
      n + (e.route === '(unauthenticated requests)' ? Number(e.targetId) : 1), 0);
    const rows = await poll(async () => {
      const r = await d.req('GET', '/api/audit?limit=500');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const anon = r.body.entries.filter((e) => e.tokenName === 'anonymous');
      return counted(anon) >= N ? anon : null;
    }, 3 * interval + 5000, 'every refused request counted in the audit');
    assert.equal(counted(rows), N);
    // at most two rows an interval: the first request, then the count
    const allowed = 2 * (Math.ceil(sent / interval) + 1);
    assert.ok(rows.length <= allowed, `${rows.length} audit rows for ${N} unauthenticated requests`);
    assert.equal(rows[0].remote, '127.0.0.1');
  } finally {
    await d.cleanup();
  }
});

test('request bodies per token per minute: past the cap 429 with Retry-After, another token goes on', async () => {
  const d = await startApi({ args: ['--max-body-bytes-per-minute', String(64 * 1024)] });
  try {
    const a = await d.req('POST', '/api/tokens', { name: 'bytes-a', scope: 'write' });
    const b = await d.req('POST', '/api/tokens', { name: 'bytes-b', scope: 'write' });
    assert.equal(a.status, 201);
    // ~20 KiB bodies (refused as invalid workspaces, but read and taken from the bucket).
    // Three leave under 4 KiB; the bucket refills ~1 KiB a second, so the 4th is
    // refused however slowly the first three went (up to ~15 s on a busy machine).
    const body = JSON.stringify({ path: '/nonexistent', name: 'x'.repeat(20 * 1024) });
    const send = (tok) => d.req('POST', '/api/workspaces', body, { authorization: `Bearer ${tok}` });
    let r;
    for (let i = 0; i < 3; i++) { // 3 x 20 KiB and a little fit in 64 KiB; a 4th does not
      r = await send(a.body.token);
      assert.notEqual(r.status, 429, `request ${i} is within the minute's 64 KiB`);
    }
    r = await send(a.body.token);
    assert.equal(r.status, 429);
    assert.equal(r.body.error.code, 'RATE_LIMITED');
    assert.match(r.headers.get('retry-after'), /^\d+$/);
    r = await send(b.body.token);
    assert.notEqual(r.status, 429, 'another token has its own bucket');
  } finally {
    await d.cleanup();
  }
});

test('past the server-wide send bound the readers holding most are cut with a notice saying why', async (t) => {
  // each reader's own bound (4 MiB) is far off: only the server-wide one (2 MiB) can cut
  const d = await start({ needUrl: true, args: ['--send-queue-total-bytes', String(2 * MiB)] });
  try {
    if (!(await hasTestRoutes(d))) { t.skip('needs a test build (/test/publish)'); return; }
    const fast = await Live.open(d);
    fast.send('subscribe', { topics: ['load'] });
    await fast.next('subscribed');
    const stuck = await stuckReaders(d, 4, 'load');
    // Two events at a time, the next two once the fast reader has both: it
    // holds at most 128 KiB, under its share of the bound (2 MiB over the
    // six or more connections), however slowly this process reads on a
    // busy machine; one published all at once left it holding megabytes,
    // more than a stuck reader, and it was the one cut (a fresh clone's
    // make check).
    let r;
    for (let i = 1; i <= 50; i++) {
      r = await publish(d, { type: 'big', topics: ['load'], perTick: 2, intervalMs: 1,
        payload: { pad: 'b'.repeat(64 * 1024) }, count: 2 });
      await fast.until(() => fast.events.length >= 2 * i || fast.closeCode !== null, 30000,
        `event ${2 * i} at the reader that keeps up`);
      assert.equal(fast.closeCode, null, `the reader that keeps up stays (cut after ${fast.events.length} events)`);
    }
    assert.equal(fast.events.length, 100);
    assert.equal(fast.events[fast.events.length - 1].seq, r.last);
    assert.equal(fast.closeCode, null, 'the reader that keeps up stays');
    const tails = await stuck.drain();
    const cut = tails.match(/"type":"overflow"[^}]*"reason":"server send memory bound"/g) || [];
    assert.equal(cut.length, 4, `each stuck reader is told why it is cut: ${tails.slice(-800)}`);
    assert.match(tails, /overflow: server send memory bound/, 'the close frame says it too');
    stuck.kill();
    fast.close();
  } finally {
    await d.cleanup();
  }
});

test('request bodies held per address: past the cap 429, another address still sends', async () => {
  const cap = 64 * 1024;
  const d = await start({ needUrl: true, args: ['--max-buffered-bytes-per-address', String(cap)] });
  const open = [];
  try {
    const { host, port } = hostPort(d.url);
    // token holders trickling bodies: each has sent 30 KiB of 100 KiB
    const head = `POST /api/workspaces HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
      `Content-Length: 102400\r\nAuthorization: Bearer ${d.token}\r\n\r\n`;
    const trickle = (localAddress) => new Promise((resolve) => {
      const sock = net.connect({ host, port, localAddress });
      const s = { sock, data: '', closed: false };
      sock.on('error', () => {});
      sock.on('data', (b) => { s.data += b.toString('latin1'); });
      sock.on('close', () => { s.closed = true; });
      sock.on('connect', () => { sock.write(head + ' '.repeat(30 * 1024)); resolve(s); });
    });
    // three of them hold 90 KiB from one address: one is refused
    for (let i = 0; i < 3; i++) open.push(await trickle('127.0.0.1'));
    const refused = await poll(() => open.find((s) => /^HTTP\/1\.1 429 /.test(s.data)), 5000,
      'a 429 for the body past the cap');
    assert.match(refused.data, /Retry-After: \d+/);
    assert.equal(open.filter((s) => s.closed).length, 1, 'the others are still being read');
    // another address is not held to 127.0.0.1's bytes: its whole request is answered
    const other = await new Promise((resolve) => {
      const sock = net.connect({ host, port, localAddress: '127.0.0.2' });
      let text = '';
      sock.on('error', () => resolve('error'));
      sock.on('data', (b) => { text += b; if (/\r\n\r\n/.test(text)) { sock.destroy(); resolve(text); } });
      sock.on('connect', () => sock.write(`POST /api/workspaces HTTP/1.1\r\nHost: localhost\r\n` +
        `Content-Type: application/json\r\nContent-Length: 2\r\nAuthorization: Bearer ${d.token}\r\n\r\n{}`));
    });
    assert.doesNotMatch(other, /^HTTP\/1\.1 429 /);
    assert.match(other, /^HTTP\/1\.1 4\d\d /, 'answered (an empty workspace is invalid)');
  } finally {
    for (const s of open) s.sock.destroy();
    await d.cleanup();
  }
});
