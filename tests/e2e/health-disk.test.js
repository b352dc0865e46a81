// SPDX-License-Identifier: MIT
// The health history on disk (issue #35): every sample goes to the store in
// chunks, the host's and each run's own (CPU, RSS, GPU memory), and is read
// back by time range in buckets, after a restart too, so a run page shows
// the machine's and the run's use on the run's time axis.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { api, until } = require('./lib/api');

// the gate file's folder is shown to the (sandboxed) run
const GATE_DIR = daemon.tmpDir('agentd-hdisk-gate-');
const ARGS = ['--health-interval-ms', '100', '--sandbox-paths', GATE_DIR];

const sum = (a) => a.reduce((x, y) => x + y, 0);

test('a run\'s system metrics: measured while it ran, kept on disk across a restart', async () => {
  const dataDir = daemon.tmpDir('agentd-hdisk-');
  const gate = path.join(GATE_DIR, 'gate');
  let d = await daemon.start({ dataDir, needUrl: true, args: ARGS });
  let runId;
  try {
    const ws = await api(d, 'POST', '/api/workspaces', { path: daemon.tmpRepo('agentd-hdisk-r-'), name: 'w' });
    assert.equal(ws.status, 201, ws.text);
    // holds 64 MiB and spins until the gate file appears
    const script = `const b = Buffer.alloc(64 << 20, 1); const fs = require('fs');
      const t = setInterval(() => { let x = 0; for (let i = 0; i < 1e5; i++) x += i;
        if (fs.existsSync(${JSON.stringify(gate)})) { clearInterval(t); console.log('done', b[5] + x); } }, 5);`;
    const a = await api(d, 'POST', '/api/agents', {
      worktreeId: ws.body.worktrees[0].id, executor: 'command', command: ['node', '-e', script],
    });
    assert.equal(a.status, 201, a.text);
    assert.equal((await api(d, 'POST', `/api/agents/${a.body.id}/start`, {})).status, 200);
    runId = await until(async () => {
      const r = (await api(d, 'GET', `/api/agents/${a.body.id}/runs`)).body.runs[0];
      return r ? r.id : null;
    }, 'the run');
    // a minute of samples at 10 Hz is more than one chunk: some on disk, some pending
    // (and until a sample has the 64 MiB: a loaded machine may start node
    // late in the window)
    const maxRss = (body) => Math.max(...body.run.max.rss.filter((x) => x !== null));
    let last = null;
    const live = await until(async () => {
      const h = await api(d, 'GET', `/api/health/history?runId=${runId}&buckets=20`);
      assert.equal(h.status, 200, h.text);
      last = h.body;
      return sum(h.body.run.samples) >= 70 && maxRss(h.body) > 60 * 2 ** 20 ? h.body : null;
    }, 'the run sampled 70 times, its RSS holding its 64 MiB', 120000).catch((e) => {
      throw new Error(`${e.message}; last: ${JSON.stringify(last && { source: last.source, samples: last.run.samples, rss: last.run.max.rss })}`);
    });
    assert.equal(live.source, 'disk');
    assert.ok(sum(live.samples) >= 70, 'host samples beside the run\'s');
    fs.writeFileSync(gate, '');
    await until(async () => (await api(d, 'GET', `/api/runs/${runId}`)).body.status !== 'running', 'the run to end');
  } catch (e) {
    process.stderr.write(d.stderr.slice(-3000));
    throw e;
  } finally {
    await d.stop();
  }

  d = await daemon.start({ dataDir, needUrl: true, args: ARGS });
  try {
    const run = (await api(d, 'GET', `/api/runs/${runId}`)).body;
    const h = await api(d, 'GET', `/api/health/history?runId=${runId}&buckets=10`);
    assert.equal(h.status, 200, h.text);
    // the range defaults to the run's life
    assert.equal(h.body.from, Date.parse(run.startedAt));
    assert.equal(h.body.to, Date.parse(run.endedAt));
    assert.equal(h.body.t.length, 10);
    assert.equal(h.body.run.runId, runId);
    assert.ok(sum(h.body.run.samples) >= 70, `the run's samples came back from disk: ${sum(h.body.run.samples)}`);
    assert.ok(sum(h.body.samples) >= 70);
    assert.ok(h.body.series.cpu.some((x) => x !== null), 'host CPU');
    assert.ok(h.body.series.memUsed.some((x) => x > 0), 'host memory');
    assert.ok('gpuUtil' in h.body.series, 'a GPU column (null without one)');
    assert.ok(h.body.run.series.cpu.some((x) => x > 0), 'the run\'s CPU');
    assert.ok(Math.max(...h.body.run.max.rss.filter((x) => x !== null)) > 60 * 2 ** 20);
    assert.deepEqual(h.body.retention, { seconds: 2592000, bytes: 67108864 });

    // range=all: from the oldest sample kept; RFC 3339 times are taken too
    const all = await api(d, 'GET', '/api/health/history?range=all&buckets=5');
    assert.equal(all.status, 200, all.text);
    assert.ok(all.body.from <= Date.parse(run.startedAt), 'all reaches back before the run');
    assert.ok(sum(all.body.samples) >= sum(h.body.samples));
    assert.equal(all.body.run, undefined);
    const iso = await api(d, 'GET', `/api/health/history?from=${run.startedAt}&to=${run.endedAt}&buckets=10`);
    assert.deepEqual(iso.body.samples, h.body.samples);

    // refusals name the parameter; another run is answered as missing
    for (const [q, field] of [['from=yesterday', 'from'], ['to=x', 'to'], ['buckets=0', 'buckets'],
      ['buckets=5001', 'buckets'], ['from=2000&to=1000', 'from']]) {
      const r = await api(d, 'GET', `/api/health/history?${q}`);
      assert.equal(r.status, 422, `${q}: ${r.text}`);
      assert.equal(r.body.error.details.field, field, q);
    }
    assert.equal((await api(d, 'GET', '/api/health/history?runId=run_nope')).status, 404);
  } finally {
    await d.cleanup();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(GATE_DIR, { recursive: true, force: true });
  }
});
