// SPDX-License-Identifier: MIT
// GET /metrics (issue #17): Prometheus text exposition, checked by
// Prometheus's own promtool and parsed with a Prometheus text parser from
// npm; the daemon's counters move with what it does; a read token is
// needed unless --metrics-public; per-agent series stay in their org.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const parse = require('parse-prometheus-text-format');
const daemon = require('./lib/daemon');
const { startApi, makeWorkspace, makeAgent, request, until } = require('./lib/api');
const { Live } = require('./lib/live');

const FAKE_NVML = path.join(path.dirname(daemon.BIN), 'tests/fake-nvml/libnvidia-ml.so.1');

async function scrape(d, headers = d.authHeaders) {
  const res = await fetch(`${d.url}/metrics`, { headers });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type'), text };
}

// promtool lints names, units, HELP and TYPE; its exit code is the verdict.
function promtool(text) {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.ok(!r.error, 'promtool is missing: make deps installs the Debian package prometheus');
  assert.equal(r.status, 0, `promtool check metrics:\n${r.stdout}${r.stderr}`);
}

// The conventions, line by line: one HELP and TYPE before a family's
// samples, families uninterrupted, counters ending in _total.
function conventions(text) {
  assert.ok(text.endsWith('\n'));
  const typed = new Map();
  const done = new Set();
  let current = null;
  for (const line of text.split('\n').filter(Boolean)) {
    let m = /^# TYPE (\S+) (counter|gauge|histogram)$/.exec(line);
    if (m) {
      assert.ok(!typed.has(m[1]), `two TYPE lines for ${m[1]}`);
      typed.set(m[1], m[2]);
      if (current) done.add(current);
      current = m[1];
      if (m[2] === 'counter') assert.match(m[1], /_total$/, `counter ${m[1]}`);
      continue;
    }
    if (line.startsWith('# HELP ')) continue;
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const family = typed.get(current) === 'histogram' ? m[1].replace(/_(bucket|sum|count)$/, '') : m[1];
    assert.equal(family, current, `${m[1]} outside its family`);
    assert.ok(!done.has(family));
    assert.ok(!Number.isNaN(Number(m[3])) || ['NaN', '+Inf', '-Inf'].includes(m[3]), line);
  }
  return typed;
}

const family = (fams, name) => fams.find((f) => f.name === name);
const value = (fams, name, labels = {}) => {
  const f = family(fams, name);
  assert.ok(f, `no family ${name}`);
  const s = f.metrics.find((x) => Object.entries(labels).every(([k, v]) => (x.labels || {})[k] === v));
  return s === undefined ? undefined : Number(s.value);
};

test('/metrics is valid exposition and counts what the daemon does', async () => {
  const d = await startApi({ args: ['--health-interval-ms', '200', '--nvml-lib', FAKE_NVML] });
  try {
    const denied = await scrape(d, {});
    assert.equal(denied.status, 401);
    assert.equal(JSON.parse(denied.text).error.code, 'UNAUTHORIZED');

    const { wt } = await makeWorkspace(d);
    const ag = await makeAgent(d, wt.id, { executor: 'command', command: ['sleep', '30'] });
    assert.equal((await d.req('POST', `/api/agents/${ag.id}/start`, {})).status, 200);
    const live = await Live.open(d, '/ws');
    for (let i = 0; i < 3; i++) assert.equal((await d.req('GET', '/api/agents')).status, 200);
    assert.equal((await d.req('GET', '/api/agents/ag_nope')).status, 404);
    // Wait for a sample that has the agent in it.
    const m = await until(async () => {
      const x = await scrape(d);
      return x.text.includes(`agent_id="${ag.id}"`) ? x : null;
    }, 'a sample with the agent');
    assert.equal(m.status, 200);
    assert.equal(m.type, 'text/plain; version=0.0.4; charset=utf-8');
    promtool(m.text);
    const types = conventions(m.text);
    const fams = parse(m.text);
    assert.equal(types.get('agentd_store_commit_duration_seconds'), 'histogram');
    assert.equal(types.get('agentd_run_duration_seconds'), 'histogram');

    assert.ok(value(fams, 'agentd_http_requests_total', { route: '/api/agents', status: '200', method: 'GET' }) >= 3);
    assert.equal(value(fams, 'agentd_http_requests_total', { route: '/api/agents/:id', status: '404' }), 1);
    assert.equal(value(fams, 'agentd_http_requests_total', { route: '/metrics', status: '401' }), 1);
    assert.equal(value(fams, 'agentd_websocket_connections'), 1);
    assert.ok(value(fams, 'agentd_websocket_connections_opened_total') >= 1);
    assert.ok(value(fams, 'agentd_events_published_total') >= 3);
    assert.ok(value(fams, 'agentd_events_persisted_total') >= 1);
    assert.ok(value(fams, 'agentd_event_log_bytes') > 16, 'the event log holds the persisted events');
    assert.equal(value(fams, 'agentd_agents', { status: 'running' }), 1);
    assert.equal(value(fams, 'agentd_processes'), 1);
    assert.ok(value(fams, 'agentd_store_jobs_total') >= 3);
    const commits = family(fams, 'agentd_store_commit_duration_seconds').metrics[0];
    // (object keys come back in JS order: sort them by bound)
    const counts = Object.entries(commits.buckets)
      .map(([le, c]) => [le === '+Inf' ? Infinity : Number(le), Number(c)])
      .sort((x, y) => x[0] - y[0]).map(([, c]) => c);
    assert.ok(counts.every((c, i) => i === 0 || c >= counts[i - 1]), 'buckets are cumulative');
    assert.equal(counts[counts.length - 1], Number(commits.count));
    assert.ok(Number(commits.count) >= 1);
    // Host and GPU gauges, in base units.
    const cpu = value(fams, 'agentd_host_cpu_utilization_ratio');
    assert.ok(cpu >= 0 && cpu <= 1);
    assert.ok(value(fams, 'agentd_host_memory_total_bytes') > 2 ** 20);
    assert.equal(value(fams, 'agentd_gpu_available'), 1);
    assert.equal(value(fams, 'agentd_gpu_power_watts', { gpu: '0' }), 123.456);
    assert.equal(value(fams, 'agentd_gpu_utilization_ratio', { gpu: '0' }), 0.42);
    assert.equal(value(fams, 'agentd_gpu_info', { name: 'Fake RTX 4090', driver: '550.54.15' }), 1);
    assert.ok(value(fams, 'agentd_agent_resident_memory_bytes', { agent_id: ag.id }) > 0);
    assert.ok(value(fams, 'agentd_health_samples_total') >= 2);

    // A run that ends shows in the run counters.
    assert.equal((await d.req('POST', `/api/agents/${ag.id}/stop?wait=true`, { force: true })).status, 200);
    const after = parse((await scrape(d)).text);
    const ended = ['succeeded', 'failed', 'stopped', 'lost']
      .reduce((n, s) => n + value(after, 'agentd_runs_ended_total', { status: s }), 0);
    assert.equal(ended, 1);
    assert.equal(Number(family(after, 'agentd_run_duration_seconds').metrics[0].count), 1);
    assert.equal(value(after, 'agentd_agents', { status: 'running' }), 0);

    // Another organisation's reader: the daemon's counters, not A's agents.
    const org = await d.req('POST', '/api/orgs', { name: 'b' });
    const tok = await d.req('POST', '/api/tokens', { name: 'b-read', scope: 'read', orgId: org.body.id });
    const b = await scrape(d, { authorization: `Bearer ${tok.body.token}` });
    assert.equal(b.status, 200);
    promtool(b.text);
    assert.ok(!b.text.includes(ag.id));
    assert.equal(value(parse(b.text), 'agentd_agents', { status: 'finished' }), 0);
    live.ws.close();
  } finally {
    await d.cleanup();
  }
});

test('--metrics-public serves /metrics without a token, and only /metrics', async () => {
  const d = await startApi({ args: ['--metrics-public', '--nvml-lib', '/nonexistent'] });
  try {
    // (the first sample lands a moment after start: wait for its gauges)
    const m = await until(async () => {
      const x = await scrape(d, {});
      assert.equal(x.status, 200);
      return x.text.includes('agentd_gpu_available') ? x : null;
    }, 'the first sample\'s gauges');
    promtool(m.text);
    assert.equal(value(parse(m.text), 'agentd_gpu_available'), 0);
    assert.equal((await request(d.url, 'GET', '/api/health')).status, 401);
  } finally {
    await d.cleanup();
  }
  const bad = daemon.run(['serve', '--metrics-public=maybe']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /expected true or false/);
});
