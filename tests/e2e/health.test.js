// SPDX-License-Identifier: MIT
// Host and agent health (issue #17): GET /api/health with CPU, memory,
// disk, score and per-agent use; the NVML path through the fake
// libnvidia-ml.so the Makefile builds (present, a call that fails, init
// that fails, absent); thresholds from settings; /api/health/history and
// its ranges; system_health events on the "system" topic; another org's
// agents stay out of sight.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { startApi, assertError, makeWorkspace, makeAgent, request, until } = require('./lib/api');
const { Live } = require('./lib/live');

const FAKE_NVML = path.join(path.dirname(daemon.BIN), 'tests/fake-nvml/libnvidia-ml.so.1');

// A daemon sampling every 200 ms with the fake NVML reading `state`.
async function withGpu(state, extra = []) {
  const dir = daemon.tmpDir('agentd-gpu-');
  const file = path.join(dir, 'gpu-state');
  fs.writeFileSync(file, state);
  const d = await startApi({
    args: ['--health-interval-ms', '200', '--health-event-interval-ms', '1000', '--nvml-lib', FAKE_NVML, ...extra],
    env: { FAKE_NVML_STATE: file },
  });
  d.gpuState = file;
  return d;
}

// The members of a process session on this machine, from /proc: what a
// sample of an agent should count ([pid, state, comm] each).
function sessionOf(sid) {
  const out = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    let st;
    try { st = fs.readFileSync(`/proc/${e}/stat`, 'utf8'); } catch { continue; }
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    if (Number(f[3]) === sid) out.push([Number(e), f[0], st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'))]);
  }
  return out;
}

// Waits for a sample that pred accepts. On a timeout the error says what
// was missing: the last answer's age, agents and containment, the
// sampler's count of samples from /metrics, and (given sid) what /proc
// holds of the agent's session.
async function sampled(d, pred = () => true, sid = 0) {
  let last = null;
  try {
    return await until(async () => {
      const r = await d.req('GET', '/api/health');
      last = r;
      return r.status === 200 && r.body.sampledAt && r.body.cpu.utilization !== null && pred(r.body) ? r.body : null;
    }, 'a sample');
  } catch (e) {
    const b = (last && last.body) || {};
    const m = await d.req('GET', '/metrics').catch(() => ({ body: '' }));
    const text = typeof m.body === 'string' ? m.body : '';
    e.message += `; the last answer: ${JSON.stringify({
      status: last && last.status, ageMs: b.sampledAt ? Date.now() - b.sampledAt : null,
      utilization: b.cpu && b.cpu.utilization, agents: b.agents, processes: b.processes,
    })}; ${text.split('\n').filter((l) => l.startsWith('agentd_health_sample')).join(', ')}`;
    if (sid) e.message += `; session ${sid} in /proc: ${JSON.stringify(sessionOf(sid))}`;
    throw e;
  }
}

test('GET /api/health keeps its fields and adds the machine, the score and the agents', async () => {
  const d = await startApi({ args: ['--health-interval-ms', '200', '--nvml-lib', '/nonexistent/libnvidia-ml.so.1'] });
  try {
    const h = await sampled(d);
    assert.equal(h.status, 'ok');
    assert.equal(typeof h.version, 'string');
    assert.equal(typeof h.uptimeSec, 'number');
    assert.ok(['cgroup', 'process-group'].includes(h.processes.containment.mode));
    assert.equal(h.intervalMs, 200);
    assert.ok(h.cpu.utilization >= 0 && h.cpu.utilization <= 100);
    assert.equal(h.cpu.cores.length, require('node:os').cpus().length);
    assert.equal(h.cpu.load.length, 3);
    assert.ok(h.memory.total > 0 && h.memory.used > 0 && h.memory.used <= h.memory.total);
    assert.ok(h.disk.total > 0 && h.disk.free >= 0);
    // No GPU here: a clean answer with the reason, never an error.
    assert.equal(h.gpu.available, false);
    assert.match(h.gpu.reason, /nonexistent/);
    assert.ok(h.score >= 0 && h.score <= 100);
    assert.ok(Array.isArray(h.reasons));
    assert.equal(h.thresholds.gpuTemperature, 80);
    assert.equal(h.thresholds.cpuUtilization, 90);
    assert.deepEqual(h.agents, []);
    // The seed's shape, as the event carries it.
    assert.equal(h.summary.overallScore, h.score);
    assert.equal(h.summary.gpu.available, false);
    assert.ok(h.summary.cpu.ramTotal > 0);
  } finally {
    await d.cleanup();
  }
});

test('the NVML path: a fake GPU, a call that fails, thresholds from settings', async () => {
  const d = await withGpu('temp=70\npower_mw=250000\nfail=limit\nutil=40\n');
  try {
    let h = await sampled(d, (b) => b.gpu.available);
    assert.equal(h.gpu.driverVersion, '550.54.15');
    assert.equal(h.gpu.cudaVersion, '12.4');
    const g = h.gpu.devices[0];
    assert.equal(g.name, 'Fake RTX 4090');
    assert.equal(g.uuid, 'GPU-fake-0000');
    assert.equal(g.utilization, 40);
    assert.equal(g.temperature, 70);
    assert.equal(g.powerDraw, 250); // NVML's milliwatts, as watts
    assert.equal(g.powerLimit, null); // NOT_SUPPORTED: unknown, not an error
    assert.equal(g.vramTotal, 24 * 2 ** 30);
    assert.equal(g.vramUsed, 4 * 2 ** 30);
    assert.equal(h.summary.gpu.vramTotal, 24); // GB in the seed's shape
    assert.ok(!h.reasons.some((r) => r.code.startsWith('gpu_')));

    // The GPU heats up: the score drops and says why.
    fs.writeFileSync(d.gpuState, 'temp=86\npower_mw=320000\nutil=95\n');
    h = await sampled(d, (b) => b.reasons.some((r) => r.code === 'gpu_temperature'));
    const codes = h.reasons.map((r) => r.code);
    for (const c of ['gpu_temperature', 'gpu_power', 'gpu_utilization']) assert.ok(codes.includes(c), c);
    const temp = h.reasons.find((r) => r.code === 'gpu_temperature');
    assert.equal(temp.value, 86);
    assert.equal(temp.threshold, 80);
    assert.match(temp.message, /86 °C is above 80 °C/);
    assert.ok(h.score <= 100 - 20 - 15 - 10);

    // Thresholds are settings: raised, the reasons go at once.
    const s = await d.req('PATCH', '/api/settings', { health_gpu_temp_c: 90, health_gpu_power_w: 400, health_gpu_util_pct: 99 });
    assert.equal(s.status, 200, JSON.stringify(s.body));
    h = (await d.req('GET', '/api/health')).body;
    assert.equal(h.thresholds.gpuTemperature, 90);
    assert.ok(!h.reasons.some((r) => r.code.startsWith('gpu_')), JSON.stringify(h.reasons));
    // A bad threshold changes nothing.
    assertError(await d.req('PATCH', '/api/settings', { health_cpu_temp_c: -5 }), 422, 'VALIDATION_ERROR', 'health_cpu_temp_c');
    assertError(await d.req('PATCH', '/api/settings', { health_gpu_util_pct: 'high' }), 422, 'VALIDATION_ERROR', 'health_gpu_util_pct');
    assert.equal((await d.req('GET', '/api/settings')).body.health_gpu_temp_c, 90);
  } finally {
    await d.cleanup();
  }
});

test('NVML that cannot start, and two GPUs', async () => {
  let d = await withGpu('init=fail\n');
  try {
    const h = await sampled(d);
    assert.equal(h.gpu.available, false);
    assert.equal(h.gpu.reason, 'nvmlInit failed: Driver Not Loaded');
    assert.equal(h.summary.gpu.available, false);
  } finally {
    await d.cleanup();
  }
  d = await withGpu('count=2\n');
  try {
    const h = await sampled(d, (b) => b.gpu.available);
    assert.deepEqual(h.gpu.devices.map((g) => g.name), ['Fake RTX 4090', 'Fake RTX 4091']);
  } finally {
    await d.cleanup();
  }
});

test('per-agent CPU, memory and GPU memory, and only for the caller\'s org', async () => {
  const d = await withGpu('util=10\n');
  try {
    const { wt } = await makeWorkspace(d);
    const ag = await makeAgent(d, wt.id, { executor: 'command', command: ['sh', '-c', 'sleep 60 & sleep 60'] });
    assert.equal((await d.req('POST', `/api/agents/${ag.id}/start`, {})).status, 200);
    const row = await until(async () => {
      const r = await d.req('GET', `/api/agents/${ag.id}`);
      return r.body.pid ? r.body : null;
    }, 'the agent pid');
    // A sample taken as the agent starts may see its cgroup still empty
    // (slow builds: TSan); the one that counts sees sh and both sleeps.
    let h = await sampled(d, (b) => b.agents.some((a) => a.agentId === ag.id && a.cpuPercent !== null && a.processes >= 2), row.pid);
    let a = h.agents.find((x) => x.agentId === ag.id);
    assert.equal(a.pid, row.pid);
    assert.ok(a.rssBytes > 0, JSON.stringify(a));
    assert.ok(a.cpuPercent >= 0);
    assert.ok(['cgroup', 'proc'].includes(a.source));
    assert.ok(a.processes >= 2, JSON.stringify(a)); // sh and both sleeps
    // The GPU reports a process of this agent's tree: its memory is the agent's.
    fs.writeFileSync(d.gpuState, `util=10\npids=${row.pid}:5000000,1:7\n`);
    h = await sampled(d, (b) => b.agents.some((x) => x.agentId === ag.id && x.gpuMemoryBytes === 5000000));
    const procs = h.gpu.devices[0].processes;
    assert.deepEqual(procs.find((p) => p.pid === row.pid), { pid: row.pid, vramUsed: 5000000, agentId: ag.id });
    assert.equal(procs.find((p) => p.pid === 1).agentId, null);

    // Another organisation sees the machine, not this org's agents.
    const org = await d.req('POST', '/api/orgs', { name: 'other' });
    assert.equal(org.status, 201);
    const tok = await d.req('POST', '/api/tokens', { name: 'b', scope: 'read', orgId: org.body.id });
    const b = await request(d.url, 'GET', '/api/health', undefined, { authorization: `Bearer ${tok.body.token}` });
    assert.equal(b.status, 200);
    assert.deepEqual(b.body.agents, []);
    assert.equal(b.body.gpu.devices[0].processes.find((p) => p.pid === row.pid).agentId, null);
    assert.equal(b.body.score, b.body.summary.overallScore);

    assert.equal((await d.req('POST', `/api/agents/${ag.id}/stop?wait=true`, { force: true })).status, 200);
    h = await sampled(d, (x) => !x.agents.some((y) => y.agentId === ag.id));
  } finally {
    await d.cleanup();
  }
});

test('history: 1 s points for an hour, coarser beyond, ranges checked', async () => {
  const d = await withGpu('');
  try {
    await sampled(d);
    await until(async () => (await d.req('GET', '/api/health/history?range=1m')).body.t.length >= 3, 'points');
    const r = await d.req('GET', '/api/health/history?range=1m');
    assert.equal(r.status, 200);
    assert.equal(r.body.range, '1m');
    assert.equal(r.body.rangeSec, 60);
    assert.equal(r.body.stepSec, 1);
    const n = r.body.t.length;
    for (const k of ['cpu', 'memUsed', 'load1', 'gpuUtil', 'gpuTemp', 'gpuPower', 'vramUsed', 'score', 'cpuTemp']) {
      assert.equal(r.body.series[k].length, n, k);
    }
    assert.equal(r.body.series.gpuUtil[n - 1], 42);
    assert.ok(r.body.t.every((t, i) => i === 0 || t >= r.body.t[i - 1]));
    assert.equal(r.body.max, undefined);
    const def = await d.req('GET', '/api/health/history');
    assert.equal(def.body.rangeSec, 3600);
    for (const [q, sec, step] of [['6h', 21600, 10], ['24h', 86400, 60], ['7d', 604800, 600], ['900', 900, 1]]) {
      const x = await d.req('GET', `/api/health/history?range=${q}`);
      assert.equal(x.status, 200, q);
      assert.equal(x.body.rangeSec, sec, q);
      assert.equal(x.body.stepSec, step, q);
      if (step > 1) assert.ok(x.body.max && Array.isArray(x.body.max.cpu), q);
    }
    for (const q of ['8d', '0', 'abc', '5x', '-1h', '1h30m', '5s', '']) {
      assertError(await d.req('GET', `/api/health/history?range=${encodeURIComponent(q)}`), 422, 'VALIDATION_ERROR', 'range');
    }
  } finally {
    await d.cleanup();
  }
});

test('history kept on disk: a restart keeps it, range=all shows it; a damaged file is set aside', async () => {
  const dir = daemon.tmpDir('agentd-hist-');
  const args = ['--health-interval-ms', '200', '--nvml-lib', '/nonexistent/libnvidia-ml.so.1'];
  let d = await startApi({ dataDir: dir, args });
  let before;
  try {
    await until(async () => (await d.req('GET', '/api/health/history?range=1m')).body.t.length >= 5, 'points before the restart');
    before = (await d.req('GET', '/api/health/history?range=1m')).body.t;
  } finally {
    await d.stop();
  }
  assert.ok(fs.statSync(path.join(dir, 'health-history')).size > 0, 'the history file is written at stop');
  d = await startApi({ dataDir: dir, args });
  try {
    const started = Date.now();
    const all = await d.req('GET', '/api/health/history?range=all');
    assert.equal(all.status, 200, JSON.stringify(all.body));
    assert.equal(all.body.range, 'all');
    assert.equal(all.body.stepSec, 1);
    assert.ok(all.body.rangeSec >= 10);
    // every point from before the restart is there again, oldest first
    for (const t of before) assert.ok(all.body.t.includes(t), `point ${t} kept`);
    assert.ok(all.body.t[0] <= before[0] && before[0] < started);
    assert.ok(all.body.from <= before[0]);
    assert.ok(all.body.t.every((t, i) => i === 0 || t >= all.body.t[i - 1]));
    // and new ones come after them
    await until(async () => {
      const x = (await d.req('GET', '/api/health/history?range=all')).body.t;
      return x[x.length - 1] > before[before.length - 1] && x.length > before.length;
    }, 'new points after the kept ones');
  } finally {
    await d.stop();
  }
  // A damaged file: the daemon starts, the history starts empty.
  fs.writeFileSync(path.join(dir, 'health-history'), 'ADHHIST2 not a history');
  d = await startApi({ dataDir: dir, args });
  try {
    const r = await d.req('GET', '/api/health/history?range=all');
    assert.equal(r.status, 200);
    assert.ok(r.body.t.every((t) => t > before[before.length - 1]), 'nothing read from the damaged file');
  } finally {
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('system_health events on the system topic, in the seed\'s shape', async () => {
  const d = await withGpu('temp=66\n');
  try {
    const c = await Live.open(d, '/ws');
    c.send('subscribe', { topics: ['system'] });
    const ev = await c.next('system_health', 0, 15000);
    assert.equal(ev.topic, 'system');
    const p = ev.payload;
    for (const k of ['utilization', 'temperature', 'vramUsed', 'vramTotal', 'powerDraw']) assert.ok(k in p.gpu, k);
    for (const k of ['utilization', 'temperature', 'ramUsed', 'ramTotal']) assert.ok(k in p.cpu, k);
    assert.equal(p.gpu.temperature, 66);
    assert.equal(typeof p.overallScore, 'number');
    assert.ok(!JSON.stringify(p).includes('ag_'), 'no agent data in an event every org gets');
    c.ws.close();
  } finally {
    await d.cleanup();
  }
});

test('sampling off: health answers without figures, history says why', async () => {
  const d = await startApi({ args: ['--health-interval-ms', '0'] });
  try {
    const h = await d.req('GET', '/api/health');
    assert.equal(h.status, 200);
    assert.equal(h.body.sampledAt, null);
    assert.equal(h.body.processes.live, 0);
    assertError(await d.req('GET', '/api/health/history?range=1m'), 409, 'CONFLICT');
  } finally {
    await d.cleanup();
  }
  const r = daemon.run(['serve', '--health-interval-ms', '50']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /health-interval-ms/);
});

test('GET /api/requirements: each item ok, missing or warning with how to fix it', async () => {
  const bin = daemon.tmpDir('agentd-bin-');
  const claude = path.join(bin, 'claude');
  fs.writeFileSync(claude, '#!/bin/sh\necho "2.1.330 (Claude Code)"\n', { mode: 0o755 });
  const gemini = path.join(bin, 'gemini');
  fs.writeFileSync(gemini, '#!/bin/sh\necho broken >&2\nexit 3\n', { mode: 0o755 });
  const d = await withGpu('', ['--claude-bin', claude, '--codex-bin', '/nonexistent/codex', '--gemini-bin', gemini]);
  try {
    await sampled(d, (b) => b.gpu.available);
    const r = await d.req('GET', '/api/requirements');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const by = Object.fromEntries(r.body.items.map((i) => [i.id, i]));
    for (const i of r.body.items) {
      assert.ok(['ok', 'missing', 'warning'].includes(i.status), JSON.stringify(i));
      assert.equal(typeof i.name, 'string');
      if (i.status !== 'ok') assert.ok(i.fix && i.fix.length > 10, `${i.id} says how to fix it`);
    }
    assert.equal(by.kernel.status, 'ok');
    assert.match(by.kernel.value, /^Linux \d+\./);
    assert.ok(['ok', 'warning'].includes(by.cgroup.status));
    assert.ok(['ok', 'warning'].includes(by.dmabuf.status));
    assert.equal(by.git.status, 'ok');
    assert.match(by.git.value, /^git version \d/);
    assert.equal(by.claude.status, 'ok');
    assert.match(by.claude.value, /^2\.1\.330 \(Claude Code\)/);
    assert.equal(by.codex.status, 'missing');
    assert.match(by.codex.fix, /npm install -g @openai\/codex/);
    assert.equal(by.gemini.status, 'warning');
    assert.match(by.gemini.value, /--version failed/);
    assert.equal(by.disk.status, 'ok');
    assert.equal(by.gpu.status, 'ok');
    assert.equal(by.gpu.value, 'Fake RTX 4090, driver 550.54.15');
    assert.equal(by.cuda.value, '12.4');
    assert.equal(r.body.ok, true); // git and the kernel are what is required
    // Kept for a minute; refresh=true checks again.
    const again = await d.req('GET', '/api/requirements');
    assert.equal(again.body.checkedAt, r.body.checkedAt);
    await new Promise((res) => setTimeout(res, 5));
    const fresh = await d.req('GET', '/api/requirements?refresh=true');
    assert.ok(fresh.body.checkedAt > r.body.checkedAt);
    assertError(await d.req('GET', '/api/requirements?refresh=maybe'), 422, 'VALIDATION_ERROR', 'refresh');
    // It runs programs: admin only.
    const tok = await d.req('POST', '/api/tokens', { name: 'reader', scope: 'read' });
    const ro = await request(d.url, 'GET', '/api/requirements', undefined, { authorization: `Bearer ${tok.body.token}` });
    assertError(ro, 403, 'FORBIDDEN');
    assertError(await request(d.url, 'GET', '/api/requirements'), 401, 'UNAUTHORIZED');
    // A clean exit: in the sanitizer build, a check's answer that nothing
    // freed would make it 1 (LeakSanitizer's report).
    assert.deepEqual(await d.stop(), { code: 0, signal: null }, d.stderr.slice(-3000));
  } finally {
    await d.cleanup();
  }
  // Without a GPU the GPU items are missing, which does not make the machine unfit.
  const n = await startApi({ args: ['--health-interval-ms', '200', '--nvml-lib', '/nonexistent/nvml.so'] });
  try {
    await sampled(n);
    const r = await n.req('GET', '/api/requirements');
    const gpu = r.body.items.find((i) => i.id === 'gpu');
    assert.equal(gpu.status, 'missing');
    assert.match(gpu.value, /nonexistent/);
    assert.match(gpu.fix, /NVIDIA driver/);
    assert.equal(gpu.required, false);
  } finally {
    await n.cleanup();
  }
});
