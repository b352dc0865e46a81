// SPDX-License-Identifier: MIT
// Reliability, as issue #21 found it broken: seq numbers reused after a
// kill -9, a full disk flooding the log and losing events, process trees
// escaping stop, validation gaps, and a slow reader cut without a word.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const WebSocket = require('./lib/ws');
const daemon = require('./lib/daemon');
const { startApi, makeWorkspace, assertError, until } = require('./lib/api');

// A subscriber to every event that remembers what each seq carried.
function record(d, since, book) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${d.url.replace('http', 'ws')}/ws`, ['bearer', d.token]);
    const c = { ws, gaps: [], seqs: [] };
    ws.on('message', (m) => {
      const x = JSON.parse(m.toString());
      if (x.type === 'gap') c.gaps.push(x.payload);
      if (typeof x.seq !== 'number') return;
      const what = `${x.type}:${JSON.stringify(x.payload)}`;
      const before = book.get(x.seq);
      assert.ok(before === undefined || before === what,
        `seq ${x.seq} was ${before} and now ${what}`);
      book.set(x.seq, what);
      c.seqs.push(x.seq);
    });
    ws.on('open', () => {
      const payload = since === null ? { topics: ['*'] } : { topics: ['*'], since };
      ws.send(JSON.stringify({ type: 'subscribe', payload }));
      resolve(c);
    });
    ws.on('error', reject);
  });
}

function pids(pattern) {
  const r = spawnSync('pgrep', ['-f', pattern], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).map(Number);
}

test('no seq is handed out twice across three kill -9s under load', async () => {
  const dataDir = daemon.tmpDir('agentd-crash-');
  const book = new Map(); // seq -> what it carried, across every daemon
  let last = null;
  let maxSeen = 0;
  try {
    for (let round = 0; round < 3; round++) {
      const d = await daemon.start({ needUrl: true, dataDir });
      const known = new Set(book.keys());
      const c = await record(d, last, book);
      if (round > 0) {
        // Everything after a crash is above what anyone saw before it, and
        // the resume across the crash is told about the hole.
        // (The resume point is the middle of the last round's seqs, which may
        // fall before an older crash's hole: that hole is told first.)
        await until(() => c.gaps.some((g) => g.to >= maxSeen), 'the gap notice after the crash');
        assert.ok(c.gaps.every((g) => g.from > last), JSON.stringify({ last, gaps: c.gaps }));
        assert.ok(c.gaps.some((g) => g.from > last && g.to >= maxSeen), JSON.stringify({ last, maxSeen, gaps: c.gaps }));
      }
      // Load: a burst of events from the test route, then kill -9 mid-burst.
      fetch(`${d.url}/test/publish`, { method: 'POST', headers: { ...d.authHeaders, 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'load', topics: ['load'], count: 200000, perTick: 50, intervalMs: 1, payload: { round } }) })
        .catch(() => {});
      // new events, not only the replay of the last round's (which a slow,
      // inflating client may still be reading)
      await until(() => c.seqs.filter((s) => !known.has(s)).length > 2000, 'new events under load');
      d.proc.kill('SIGKILL');
      await d.exit;
      // every frame the socket got before the kill, then its close
      await new Promise((r) => (c.ws.readyState === WebSocket.CLOSED ? r() : c.ws.once('close', r)));
      const seen = c.seqs;
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i] > seen[i - 1], 'seqs go up');
      // The replay carried only seqs seen before; every new one is above them all.
      const fresh = seen.filter((s) => !known.has(s));
      assert.ok(fresh.length > 0 && fresh[0] > maxSeen, `seq ${fresh[0]} after a crash was at or below ${maxSeen}`);
      maxSeen = Math.max(maxSeen, seen[seen.length - 1]);
      last = seen[Math.floor(seen.length / 2)]; // resume from the middle next time
      c.ws.terminate();
    }
    // A clean restart after a clean stop: no gap at all.
    let d = await daemon.start({ needUrl: true, dataDir });
    await fetch(`${d.url}/test/publish`, { method: 'POST', headers: { ...d.authHeaders, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'calm', topics: ['calm'], count: 10 }) });
    const calm = await record(d, null, book);
    await d.stop();
    d = await daemon.start({ needUrl: true, dataDir });
    const after = await record(d, maxSeen, book);
    await until(() => after.seqs.length >= 10, 'the replay after a clean restart');
    assert.ok(after.gaps.every((g) => g.to < after.seqs[0] || g.from > maxSeen + 1e9) || after.gaps.length <= 1,
      JSON.stringify(after.gaps));
    const r = await fetch(`${d.url}/test/publish`, { method: 'POST', headers: { ...d.authHeaders, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'calm2', topics: ['calm'], count: 1 }) });
    const { first } = await r.json();
    await until(() => after.seqs.includes(first), 'the new event');
    const prevLast = Math.max(...after.seqs.filter((s) => s < first));
    assert.equal(first, prevLast + 1, 'a clean restart continues right after the last seq');
    calm.ws.terminate();
    after.ws.terminate();
    await d.stop();
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a full disk: 507, reads work, a quiet log, and events kept until space is back', async (t) => {
  if (process.getuid() !== 0) return t.skip('needs root to mount a small tmpfs');
  if (daemon.PG_MODE) return t.skip('on PostgreSQL: the tables are on the server, not on the full disk');
  const mnt = daemon.tmpDir('agentd-full-');
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mnt]);
  if (mount.status !== 0) return t.skip(`cannot mount a tmpfs: ${mount.stderr}`);
  let d;
  try {
    d = await startApi({ dataDir: path.join(mnt, 'data') });
    const { ws } = await makeWorkspace(d);
    const ok = await d.req('POST', '/api/crews', { name: 'before' });
    assert.equal(ok.status, 201);
    const since = (await d.req('GET', '/api/crews')).body.crews.length;
    assert.equal(since, 1);
    // Fill the disk.
    const filler = path.join(mnt, 'filler');
    spawnSync('sh', ['-c', `dd if=/dev/zero of=${filler} bs=1M count=64 2>/dev/null; sync`]);
    const rec = await record(d, null, new Map());
    const stderrBefore = d.stderr.length;
    let full = 0;
    for (let i = 0; i < 400; i++) {
      const r = await d.req('POST', '/api/crews', { name: `c${i}`.padEnd(100, 'x') });
      if (r.status === 507) full++;
      else if (r.status !== 201) assert.fail(`status ${r.status} ${JSON.stringify(r.body)}`);
    }
    assert.ok(full > 300, `${full} writes refused with 507`);
    // Reads keep working.
    assert.equal((await d.req('GET', `/api/workspaces/${ws.id}`)).status, 200);
    // Events of this time (published, not committed writes) wait in memory.
    const pub = await fetch(`${d.url}/test/publish`, { method: 'POST', headers: { ...d.authHeaders, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'during', topics: ['full'], count: 50 }) });
    const burst = await pub.json();
    await until(() => rec.seqs.includes(burst.last), 'the live events');
    const logged = d.stderr.slice(stderrBefore).split('\n').filter(Boolean).length;
    assert.ok(logged < 40, `the log grew by ${logged} lines for ${full} refused writes`);
    // Space is back: writes work, and the waiting events reach the table.
    fs.rmSync(filler);
    await until(async () => (await d.req('POST', '/api/crews', { name: 'after' })).status === 201, 'writes again');
    await until(async () => {
      const r2 = await record(d, burst.first - 1, new Map());
      // the replay reaches the burst's last event, or says it lacks some
      await until(() => r2.seqs.includes(burst.last) || r2.gaps.length > 0,
        'the replay to reach the burst', 10000).catch(() => {});
      r2.ws.terminate();
      return r2.seqs.includes(burst.last) && r2.gaps.length === 0;
    }, 'the events of the full-disk time in the replay');
    rec.ws.terminate();
  } finally {
    if (d) await d.cleanup();
    spawnSync('umount', ['-l', mnt]);
    fs.rmSync(mnt, { recursive: true, force: true });
  }
});

test('a background child and a setsid child go with the run, at its end and at stop', async (t) => {
  const d = await startApi();
  // Unique durations name the sleeps so pgrep finds only ours.
  const tag = `${process.pid % 1000}${Date.now() % 100000}`;
  try {
    // The health answer says how trees are contained; only a cgroup holds a
    // child that left the process group (setsid).
    const h = await d.req('GET', '/api/health');
    assert.equal(h.status, 200);
    const c = h.body.processes.containment;
    assert.ok(['cgroup', 'process-group'].includes(c.mode), JSON.stringify(c));
    assert.equal(typeof c.detail, 'string');
    if (fs.existsSync('/sys/fs/cgroup/unified/cgroup.procs') || fs.existsSync('/sys/fs/cgroup/cgroup.controllers')) {
      if (process.getuid() === 0) assert.equal(c.mode, 'cgroup', c.detail);
    }
    const cg = c.mode === 'cgroup';
    if (!cg) t.diagnostic(`no cgroup here (${c.detail}): the setsid child is not checked`);
    const { wt } = await makeWorkspace(d);
    const sleeps = cg ? `^sleep 30[0-9]\\.${tag}` : `^sleep 30[13]\\.${tag}`; // not the sh -c that names them
    const script = `sleep 301.${tag} >/dev/null 2>&1 & setsid sleep 302.${tag} >/dev/null 2>&1 & echo started`;
    const mk = async (cmd) => {
      const r = await d.req('POST', '/api/agents', { worktreeId: wt.id, executor: 'command', command: ['sh', '-c', cmd] });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.id;
    };
    // Run end: the shell exits at once; what it left behind goes too.
    const a = await mk(script);
    assert.equal((await d.req('POST', `/api/agents/${a}/start`, {})).status, 200);
    await until(async () => (await d.req('GET', `/api/agents/${a}`)).body.status !== 'running', 'the run to end');
    await until(() => pids(sleeps).length === 0, 'the children of the ended run to go');
    // Stop: a run that is still going, with the same kind of children.
    const b = await mk(`${script}; sleep 303.${tag}`);
    assert.equal((await d.req('POST', `/api/agents/${b}/start`, {})).status, 200);
    await until(() => pids(sleeps).length === (cg ? 3 : 2), 'the sleeps of the second run');
    assert.equal((await d.req('POST', `/api/agents/${b}/stop?force=true&wait=true`)).status, 200);
    await until(() => pids(sleeps).length === 0, 'every member of the stopped tree to go');
    const runs = (await d.req('GET', `/api/agents/${b}/runs`)).body.runs;
    assert.equal(runs[0].status, 'stopped');
  } finally {
    spawnSync('pkill', ['-f', `^sleep 30[0-9]\\.${tag}`]);
    await d.cleanup();
  }
});

test('the validation gaps: names, bodies, crews, reorder, stop', async () => {
  const d = await startApi();
  try {
    const { ws, wt } = await makeWorkspace(d);
    for (const bad of ['--upload-pack=x', '-x', 'a..b', '', 'a\nb']) {
      assertError(await d.req('PATCH', `/api/worktrees/${wt.id}`, { name: bad }), 422, 'VALIDATION_ERROR', 'name');
      assertError(await d.req('PATCH', `/api/worktrees/${wt.id}`, { branch: bad }), 422, 'VALIDATION_ERROR', 'branch');
    }
    // Ids with invalid UTF-8 still get the JSON error shape.
    for (const p of ['/api/agents/%ff%fe', '/api/worktrees/%c3%28', '/api/workspaces/%80', '/api/runs/%ff']) {
      const r = await d.req('GET', p);
      assert.equal(r.status, 404, p);
      assert.equal(typeof r.body.error.message, 'string', `${p}: ${JSON.stringify(r.body)}`);
    }
    assertError(await d.req('POST', '/api/agents', { worktreeId: wt.id, crewId: 'crew_nope' }), 422, 'VALIDATION_ERROR', 'crewId');
    assertError(await d.req('POST', '/api/crews', { name: '   ' }), 422, 'VALIDATION_ERROR', 'name');
    assertError(await d.req('POST', '/api/worktrees/reorder', { ids: [wt.id], workspaceId: 7 }), 422, 'VALIDATION_ERROR', 'workspaceId');
    assert.equal((await d.req('POST', '/api/worktrees/reorder', { ids: [wt.id], workspaceId: ws.id })).status, 200);
    const other = await makeWorkspace(d);
    assertError(await d.req('POST', '/api/worktrees/reorder', { ids: [wt.id], workspaceId: other.ws.id }), 422, 'VALIDATION_ERROR', 'ids');
    const ag = await d.req('POST', '/api/agents', { worktreeId: wt.id, executor: 'command', command: ['true'] });
    const stop = await d.req('POST', `/api/agents/${ag.body.id}/stop?wait=true`);
    assert.equal(stop.status, 409);
    assert.equal(stop.body.error.code, 'CONFLICT');
    // Limits this machine cannot enforce are refused before anything runs.
    assertError(await d.req('POST', '/api/agents', { worktreeId: wt.id, executor: 'command', command: ['true'], limits: { memoryMb: 1 } }), 422, 'VALIDATION_ERROR', 'limits');
  } finally {
    await d.cleanup();
  }
});

test('a reader that stops for longer than the close timeout still gets overflow and 1013', async (t) => {
  const d = await daemon.start({ needUrl: true, args: ['--ws-send-queue-bytes', '65536'] });
  const { RawWs } = require('./lib/raw');
  try {
    const slow = await RawWs.open(d.url, '/ws', `Authorization: Bearer ${d.token}\r\n`);
    slow.send(0x1, Buffer.from(JSON.stringify({ type: 'subscribe', payload: { topics: ['load'] } })));
    await slow.nextData(5000);
    slow.sock.pause();
    const r = await fetch(`${d.url}/test/publish`, { method: 'POST', headers: { ...d.authHeaders, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'blob', topics: ['load'], count: 3000, perTick: 50, intervalMs: 1, payload: { pad: 'p'.repeat(2000) } }) });
    if (r.status === 404) return t.skip('needs a test build');
    await r.json();
    // Longer than the 5 s the server waits for a Close answer.
    await new Promise((res) => setTimeout(res, 7000));
    slow.sock.resume();
    const { msgs, code } = await slow.readToClose();
    const overflow = msgs.find((m) => m.type === 'overflow');
    assert.ok(overflow, 'the overflow notice arrived');
    assert.equal(code, 1013);
  } finally {
    await d.cleanup();
  }
});
