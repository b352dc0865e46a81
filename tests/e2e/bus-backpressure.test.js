// SPDX-License-Identifier: MIT
// Backpressure: a subscriber that stops reading is told `overflow` with the
// last seq it was given and closed with 1013, while a subscriber that keeps
// up receives every event; the slow one can then reconnect with that seq
// and lose nothing. With many small events each turn's sends to all the
// subscribers leave together, batched in one io_uring_enter (the default
// where the kernel allows it) or a sendmsg each (--io-uring=false); both
// ways are tested, and /metrics says which way they went.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { spawn } = require('node:child_process');
const test = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('./lib/daemon');
const { RawWs } = require('./lib/raw');
const { Live, publish, hasTestRoutes, contiguous } = require('./lib/live');
const { api, until } = require('./lib/api');

// The kernel's own switch (6.6 on): 1 or 2 refuse this process a ring.
function uringRefused() {
  try { return fs.readFileSync('/proc/sys/kernel/io_uring_disabled', 'utf8').trim() !== '0'; } catch (_) { return false; }
}

async function batchedSends(d) {
  const text = (await api(d, 'GET', '/metrics')).text;
  const m = text.match(/^agentd_http_batched_sends_total (\d+)$/m);
  assert.ok(m, 'agentd_http_batched_sends_total is on /metrics');
  return Number(m[1]);
}

// A reader on /ws subscribed to topic that then stops reading: kernel
// buffers fill, then the server's queue.
async function stalledReader(d, topic) {
  const slow = await RawWs.open(d.url, '/ws', `Authorization: Bearer ${d.token}\r\n`);
  slow.send(0x1, Buffer.from(JSON.stringify({ type: 'subscribe', payload: { topics: [topic] } })));
  assert.match((await slow.nextData(5000)).payload.toString(), /"subscribed"/);
  slow.sock.pause();
  return slow;
}

// The stalled reader reads again, to its close: it was told overflow and
// closed with 1013. Returns the overflow and the seqs it got before it.
async function cutOff(slow) {
  slow.sock.resume();
  const { msgs, code } = await slow.readToClose();
  const overflow = msgs.find((m) => m.type === 'overflow');
  assert.ok(overflow, 'an overflow message arrived');
  assert.equal(code, 1013);
  const got = msgs.filter((m) => m.type !== 'overflow' && typeof m.seq === 'number').map((m) => m.seq);
  return { overflow, got };
}

test('a slow consumer is cut off with overflow/1013; a fast one gets everything', async (t) => {
  const d = await start({ needUrl: true, args: ['--ws-send-queue-bytes', '262144'] });
  try {
    if (!(await hasTestRoutes(d))) { t.skip('needs a test build (/test/publish)'); return; }
    const fast = await Live.open(d);
    fast.send('subscribe', { topics: ['load'] });
    await fast.next('subscribed');

    const slow = await stalledReader(d, 'load');

    const r = await publish(d, { type: 'blob', topics: ['load'], count: 4000, perTick: 20,
      intervalMs: 2, payload: { pad: 'p'.repeat(4000) } });
    await fast.until(() => fast.events.length >= 4000, 60000, 'every event at the fast client');
    assert.equal(contiguous(fast.events.map((e) => e.seq), r.first, r.last), null);
    assert.equal(fast.closeCode, null, 'the fast client is still connected');

    const { overflow, got } = await cutOff(slow);
    assert.ok(got.length < 4000, `the slow client got ${got.length} events`);
    assert.equal(overflow.payload.lastSeq, got[got.length - 1], 'lastSeq is the last event it got');
    assert.equal(contiguous(got, r.first, overflow.payload.lastSeq), null);

    // Reconnecting from lastSeq fills the rest.
    const again = await Live.open(d);
    again.send('subscribe', { topics: ['load'], since: overflow.payload.lastSeq });
    await again.until(() => again.events.length > 0 && again.events[again.events.length - 1].seq === r.last,
      60000, 'the rest after reconnecting');
    assert.equal(contiguous(again.events.map((e) => e.seq), overflow.payload.lastSeq + 1, r.last), null);
    again.close();
    fast.close();
  } finally {
    await d.cleanup();
  }
});

// Readers that stop reading for a while and read again
// (tests/fixtures/paused-readers.py: 4 KiB receive buffers, so a paused
// one's socket is full at once): what the server queues for them meanwhile
// goes out through libuv's writes, and each must still get every event
// once it reads again, with the turn's batch or without it. The events end
// while two readers are paused, so no later event can carry what waited
// (a fresh clone's make check once saw a reader keep 97 of 100 events for
// 30 s, its cause not found).
const PAUSED_PY = path.join(__dirname, '..', 'fixtures', 'paused-readers.py');

async function pausedReaders(d, n, topic) {
  const { hostname, port } = new URL(d.url);
  const p = spawn('python3', [PAUSED_PY, hostname, port, d.token, String(n), topic], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  const waiting = [];
  p.stderr.on('data', (b) => { err += b; });
  readline.createInterface({ input: p.stdout }).on('line', (line) => {
    const w = waiting.shift();
    if (w) w(line);
  });
  const gone = new Promise((resolve) => p.on('exit', () => resolve(`the readers exited: ${err}`)));
  const answer = () => Promise.race([new Promise((resolve) => waiting.push(resolve)),
    gone.then((why) => { throw new Error(why); })]);
  const ask = (line) => { const a = answer(); p.stdin.write(`${line}\n`); return a; };
  assert.equal(await answer(), 'ready');
  return {
    pause: (ids) => ask(`pause ${ids.join(' ')}`),
    resume: (ids) => ask(`resume ${ids.join(' ')}`),
    state: async () => JSON.parse(await ask('state')),
    kill: () => p.kill('SIGKILL'),
  };
}

for (const uring of [true, false]) {
  test(`readers that pause and read again, --io-uring=${uring}: every event arrives`, async (t) => {
    const d = await start({ needUrl: true, args: ['--ws-send-queue-bytes', String(32 << 20), `--io-uring=${uring}`] });
    let readers;
    try {
      if (!(await hasTestRoutes(d))) { t.skip('needs a test build (/test/publish)'); return; }
      readers = await pausedReaders(d, 4, 'big');
      let first;
      let last;
      for (let round = 0; round < 3; round++) {
        // two of the four stop reading, in turns; 8 events of 6 KiB a
        // tick: under the size a connection is written at once, so the
        // sends leave from the turn's flush; 6 MB a round, past what the
        // kernel keeps of a socket's sends (tcp_wmem's 4 MiB at most)
        const paused = round % 2 === 0 ? [0, 2] : [1, 3];
        await readers.pause(paused);
        const p = await publish(d, { type: 'big', topics: ['big'], count: 1000, perTick: 8, intervalMs: 1,
          payload: { pad: 'b'.repeat(6 * 1024) } });
        first = first ?? p.first;
        last = p.last;
        // the readers that read have this round's events while the others wait
        await until(async () => (await readers.state()).every((r, i) => paused.includes(i) || r.last === last),
          `round ${round}'s events at the readers that read`, 60000);
        await readers.resume(paused);
      }
      const state = await until(async () => {
        const st = await readers.state();
        return st.every((r) => r.last === last) ? st : null;
      }, 'every event at every reader', 60000).catch(async (e) => {
        throw new Error(`${e.message}: ${JSON.stringify(await readers.state())}, the last seq ${last}`);
      });
      for (const [i, r] of state.entries()) {
        assert.deepEqual(r, { events: last - first + 1, last, gaps: 0 }, `reader ${i} whole and in order`);
      }
      const batched = await batchedSends(d);
      t.diagnostic(`batched sends: ${batched}`);
      if (!uring) assert.equal(batched, 0, 'no send is batched with --io-uring=false');
      else if (!uringRefused()) assert.ok(batched > 0, 'the turns\' sends were batched');
    } finally {
      if (readers) readers.kill();
      await d.cleanup();
    }
  });
}

for (const uring of [true, false]) {
  test(`small events to three readers and a stalled one, --io-uring=${uring}: each reader whole and in order, the stalled one cut off`, async (t) => {
    const d = await start({ needUrl: true, args: ['--ws-send-queue-bytes', '262144', `--io-uring=${uring}`] });
    try {
      if (!(await hasTestRoutes(d))) { t.skip('needs a test build (/test/publish)'); return; }
      const readers = [];
      for (let i = 0; i < 3; i++) {
        const r = await Live.open(d);
        r.send('subscribe', { topics: ['small'] });
        await r.next('subscribed');
        readers.push(r);
      }
      const slow = await stalledReader(d, 'small');

      // 20 events of ~400 B a turn: far below the size a connection is
      // written at once, so every turn's sends leave from the turn's flush;
      // 8 MB in all, past what the stalled reader's socket and queue hold.
      const count = 20000;
      const r = await publish(d, { type: 'small', topics: ['small'], count, perTick: 20,
        intervalMs: 1, payload: { pad: 'q'.repeat(300) } });
      for (const [i, reader] of readers.entries()) {
        await reader.until(() => reader.events.length >= count, 120000, `every event at reader ${i}`);
        assert.equal(contiguous(reader.events.map((e) => e.seq), r.first, r.last), null);
        assert.equal(reader.closeCode, null, `reader ${i} is still connected`);
      }
      const { overflow, got } = await cutOff(slow);
      assert.equal(contiguous(got, r.first, overflow.payload.lastSeq), null, 'what it got is whole up to lastSeq');
      for (const reader of readers) reader.close();

      const batched = await batchedSends(d);
      t.diagnostic(`batched sends: ${batched}`);
      if (!uring) assert.equal(batched, 0, 'no send is batched with --io-uring=false');
      else if (uringRefused()) assert.match(d.stderr, /io_uring unavailable/, 'the daemon says it sends without');
      else assert.ok(batched >= count / 20, `the turns' sends were batched (${batched})`);
    } finally {
      await d.cleanup();
    }
  });
}
