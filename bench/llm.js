// SPDX-License-Identifier: MIT
// The LLM workbench's benchmarks (issue #18), against a Node relay peer in
// the same run. The mock provider (tests/fixtures/mock-anthropic.js) and the
// WebSocket client run in this process on core 0; agentd or the peer runs
// on core 1.
//   L1  the provider's byte to the browser's frame: each token carries the
//       mock's performance.now() when written; the client subtracts it on
//       arrival (same process, same clock). p50/p99, agentd ÷ the relay.
//   L2  N streams at 50 tokens/s each: server CPU per token delivered,
//       agentd ÷ the relay (a Node proxy doing the same relay with fetch).
//   P   the seed's targets: first token after POST (the mock answers at
//       once, so this is agentd's part), project save (PUT 1,000 messages +
//       200 files) and load (GET), p50 over the runs.
// Usage: node bench/llm.js [--quick]   (needs build/release/agentd)
'use strict';

const path = require('node:path');
const { execFileSync } = require('node:child_process');
const agentd = require('./lib/agentd');
const sys = require('./lib/sys');
const { wsConnect } = require('./lib/wire');
const mockAnthropic = require('../tests/fixtures/mock-anthropic');

const QUICK = process.argv.includes('--quick');
const L2_STREAMS = QUICK ? 100 : 1000;
const L2_SECONDS = QUICK ? 5 : 10;
const L1_TOKENS = QUICK ? 300 : 1000;

const pct = (a, p) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hdr = { authorization: `Bearer ${process.env.AGENTD_BENCH_TOKEN}` };

async function req(base, method, p, body) {
  const r = await fetch(base + p, { method, headers: { ...hdr, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const t = await r.text();
  return { status: r.status, json: t ? JSON.parse(t) : null };
}

// A client on agentd's /ws subscribed to every chat; onEvent(type, payload).
async function agentdClient(h, onEvent) {
  const ws = await wsConnect({
    port: h.port, path: '/ws',
    onMessage: (buf) => {
      const m = JSON.parse(buf.toString());
      if (m.payload && m.payload.sessionId) onEvent(m.type, m.payload);
    },
  });
  ws.send(JSON.stringify({ type: 'subscribe', payload: { topics: ['chat:*'] } }));
  await sleep(200);
  return ws;
}

async function startAgentd(mock) {
  const h = await agentd.start();
  const r = await req(h.base, 'PUT', '/api/credentials/anthropic', { apiKey: 'sk-ant-bench-0000', baseUrl: mock.url });
  if (r.status !== 200) throw new Error(`credential: ${r.status}`);
  return h;
}

async function newChats(h, n) {
  const ids = [];
  for (let i = 0; i < n; i++) ids.push((await req(h.base, 'POST', '/api/chats', { model: 'claude-sonnet-4-5', maxTokens: 100000 })).json.id);
  return ids;
}

// ---- L1 -------------------------------------------------------------------------------

async function l1Agentd(mock) {
  const h = await startAgentd(mock);
  try {
    const lat = [];
    let done = false;
    const ws = await agentdClient(h, (type, p) => {
      if (type === 'stream_token') lat.push(performance.now() - Number(p.text));
      if (type === 'stream_complete' || type === 'stream_error') done = true;
    });
    mock.setRules([{ reply: { tokens: Array(L1_TOKENS).fill(''), tokenDelayMs: 5, stamp: true } }]);
    const [chat] = await newChats(h, 1);
    await req(h.base, 'POST', `/api/chats/${chat}/messages`, { content: 'latency' });
    for (let i = 0; i < 600 && !done; i++) await sleep(50);
    ws.close();
    return lat;
  } finally { await h.stop(); }
}

// The harness's own floor: this process reads the mock's stream itself
// (fetch, no server between), so what L1 adds beyond this is the server's.
async function l1Direct(mock) {
  mock.setRules([{ reply: { tokens: Array(L1_TOKENS).fill(''), tokenDelayMs: 5, stamp: true } }]);
  const res = await fetch(`${mock.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(relayBody('latency')) });
  const lat = [];
  const dec = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body) {
    buf += dec.decode(chunk, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const m = /"text_delta","text":"([0-9.]+) "/.exec(ev);
      if (m) lat.push(performance.now() - Number(m[1]));
    }
  }
  return lat;
}

async function startRelay() {
  const port = await sys.freePort();
  return sys.startServer('llm-relay', process.execPath, [path.join(__dirname, 'peers', 'llm-relay.js'), String(port)], { port, timeoutMs: 5000 });
}

async function relayClient(h, onEvent) {
  return wsConnect({ port: h.port, path: '/ws', onMessage: (buf) => { const m = JSON.parse(buf.toString()); onEvent(m.type, m.payload); } });
}

function relayBody(content) {
  return { model: 'claude-sonnet-4-5', max_tokens: 100000, stream: true, messages: [{ role: 'user', content }] };
}

async function l1Relay(mock) {
  const h = await startRelay();
  try {
    const lat = [];
    let done = false;
    const ws = await relayClient(h, (type, p) => {
      if (type === 'stream_token') lat.push(performance.now() - Number(p.text));
      if (type === 'stream_complete') done = true;
    });
    mock.setRules([{ reply: { tokens: Array(L1_TOKENS).fill(''), tokenDelayMs: 5, stamp: true } }]);
    await fetch(`http://127.0.0.1:${h.port}/relay`, { method: 'POST', body: JSON.stringify({ url: `${mock.url}/v1/messages`, body: relayBody('latency'), session: 's' }) });
    for (let i = 0; i < 600 && !done; i++) await sleep(50);
    ws.close();
    return lat;
  } finally { await h.stop(); }
}

// ---- L2 -------------------------------------------------------------------------------

async function l2(kind, mock) {
  const tokens = Array(50 * L2_SECONDS).fill('tok ');
  mock.setRules([{ reply: { tokens, tokenDelayMs: 20 } }]);
  const h = kind === 'agentd' ? await startAgentd(mock) : await startRelay();
  try {
    let n = 0, ended = 0;
    const on = (type) => { if (type === 'stream_token') n++; else if (type === 'stream_complete' || type === 'stream_error') ended++; };
    const ws = kind === 'agentd' ? await agentdClient(h, on) : await relayClient(h, on);
    const chats = kind === 'agentd' ? await newChats(h, L2_STREAMS) : Array.from({ length: L2_STREAMS }, (_, i) => `s${i}`);
    const cpu0 = sys.cpuSeconds(h.pid), gen0 = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(chats.map((c) => (kind === 'agentd'
      ? req(h.base, 'POST', `/api/chats/${c}/messages`, { content: 'go' })
      : fetch(`http://127.0.0.1:${h.port}/relay`, { method: 'POST', body: JSON.stringify({ url: `${mock.url}/v1/messages`, body: relayBody('go'), session: c }) }))));
    const deadline = t0 + (L2_SECONDS + 30) * 1000;
    while (ended < L2_STREAMS && performance.now() < deadline) await sleep(100);
    const cpu = sys.cpuSeconds(h.pid) - cpu0;
    const g = process.cpuUsage(gen0);
    const secs = (performance.now() - t0) / 1000;
    const dropped = ws.closed; // the server dropped a client that fell behind (overflow)
    ws.close();
    return { tokens: n, ended, cpu, perToken: cpu / Math.max(1, n), secs, dropped, genCpuShare: (g.user + g.system) / 1e6 / secs };
  } finally { await h.stop(); }
}

// ---- the seed's targets ----------------------------------------------------------------

async function seedTargets(mock) {
  const h = await startAgentd(mock);
  try {
    const first = [];
    let waiting = null;
    const ws = await agentdClient(h, (type) => { if (type === 'stream_token' && waiting) { waiting(); waiting = null; } });
    mock.setRules([{ reply: { text: 'hi' } }]);
    for (let i = 0; i < 20; i++) {
      const [chat] = await newChats(h, 1);
      const t = performance.now();
      const got = new Promise((r) => { waiting = r; });
      await req(h.base, 'POST', `/api/chats/${chat}/messages`, { content: 'first' });
      await got;
      first.push(performance.now() - t);
    }
    ws.close();
    const project = (await req(h.base, 'POST', '/api/projects', { name: 'bench' })).json.id;
    const body = {
      messages: Array.from({ length: 1000 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `message ${i} `.repeat(15) })),
      files: Array.from({ length: 200 }, (_, i) => ({ path: `src/d${i % 10}/f${i}.ts`, content: `export const v${i} = ${i};\n`.repeat(80) })),
    };
    const save = [], load = [];
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      const r = await req(h.base, 'PUT', `/api/projects/${project}`, body);
      if (r.status !== 200) throw new Error(`save: ${r.status}`);
      save.push(performance.now() - t);
    }
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      const r = await req(h.base, 'GET', `/api/projects/${project}`);
      if (r.json.files.length !== 200) throw new Error('load');
      load.push(performance.now() - t);
    }
    return { first, save, load, bytes: JSON.stringify(body).length };
  } finally { await h.stop(); }
}

async function main() {
  try { execFileSync('taskset', ['-cp', '0', String(process.pid)], { stdio: 'ignore' }); } catch (_) { /* one core */ }
  process.env.AGENTD_LLM_RPM = '1000000';
  process.env.AGENTD_LLM_ITPM = '1000000000';
  process.env.AGENTD_LLM_OTPM = '1000000000';
  const mock = await mockAnthropic.start({ direct: true, rules: [] });
  const rows = [];
  const f = (x) => x.toFixed(3);
  try {
    const a = await l1Agentd(mock), b = await l1Relay(mock), c = await l1Direct(mock);
    rows.push(['L1', `provider byte -> /ws frame, p50 (ms), ${a.length} tokens`, f(pct(a, 50)), f(pct(b, 50)), (pct(a, 50) / pct(b, 50)).toFixed(2) + 'x', '']);
    rows.push(['L1', 'same, p99 (ms)', f(pct(a, 99)), f(pct(b, 99)), (pct(a, 99) / pct(b, 99)).toFixed(2) + 'x', '']);
    rows.push(['L1', `the harness alone (fetch of the mock), p50 / p99 (ms)`, `${f(pct(c, 50))} / ${f(pct(c, 99))}`, '', '', '']);
    const added = pct(a, 99) - pct(c, 99);
    rows.push(['L1', 'added by the server, p99 minus the harness p99 (ms)', f(added), f(pct(b, 99) - pct(c, 99)), '', added < 1 ? 'p99 < 1 ms ok' : 'p99 < 1 ms MISS']);
    const la = await l2('agentd', mock), lb = await l2('relay', mock);
    const gb = (x) => (x.dropped ? ' (client fell behind and was dropped)' : x.genCpuShare >= 0.9 ? ' (generator-bound)' : '');
    rows.push(['L2', `${L2_STREAMS} streams x 50 tok/s: server CPU-us per token`, (la.perToken * 1e6).toFixed(1) + gb(la), (lb.perToken * 1e6).toFixed(1) + gb(lb), (la.perToken / lb.perToken).toFixed(2) + 'x', la.perToken / lb.perToken <= 0.3 ? '<= 0.3x ok' : '<= 0.3x MISS']);
    rows.push(['L2', 'tokens delivered / streams ended', `${la.tokens} / ${la.ended}`, `${lb.tokens} / ${lb.ended}`, '', '']);
    const s = await seedTargets(mock);
    rows.push(['P', 'first token after POST, p50 / p99 (ms)', `${f(pct(s.first, 50))} / ${f(pct(s.first, 99))}`, '', '', pct(s.first, 50) < 2000 ? '< 2 s ok' : '< 2 s MISS']);
    rows.push(['P', `project save, 1,000 messages + 200 files (${(s.bytes / 1024).toFixed(0)} KiB), p50 (ms)`, f(pct(s.save, 50)), '', '', pct(s.save, 50) < 200 ? '< 200 ms ok' : '< 200 ms MISS']);
    rows.push(['P', 'project load, same project, p50 (ms)', f(pct(s.load, 50)), '', '', pct(s.load, 50) < 100 ? '< 100 ms ok' : '< 100 ms MISS']);
  } finally {
    await mock.close();
    await sys.stopAll?.();
  }
  console.log('| id | what | agentd | Node relay | ratio | budget |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log(`llm bench: ${rows.length} rows${QUICK ? ' (quick)' : ''}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
