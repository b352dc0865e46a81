// SPDX-License-Identifier: MIT
// Fan-out to readers that compress (permessage-deflate, as every browser
// offers it): N readers of one topic, R bursts of E events published
// through the test route, and agentd's CPU a delivery. Each reader counts
// its events; a run waits until every reader has all of them. Prints one
// line a run, so two builds can take turns. Needs the bench build
// (`make bench`, or AGENTD_BENCH_BIN).
// Usage: N=100 E=2000 R=3 P=300 [AGENTD_BENCH_BIN=…] node bench/deflate-fanout.js
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const WebSocket = require('ws');
const agentd = require('./lib/agentd');

const n = Math.min(Number(process.env.N || 100), 1000);
const events = Math.min(Number(process.env.E || 2000), 100000);
const reps = Math.min(Number(process.env.R || 3), 20);
const payload = Math.min(Number(process.env.P || 300), 65536);
const bin = process.env.AGENTD_BENCH_BIN || agentd.BENCH_BIN;

function cpu(pid) {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function open(port) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, {
      headers: { authorization: `Bearer ${process.env.AGENTD_BENCH_TOKEN}` }, perMessageDeflate: true });
    const r = { ws, got: 0 };
    const t = setTimeout(() => reject(new Error('no subscribed')), 10000);
    ws.on('message', (d) => {
      const m = JSON.parse(d);
      if (m.type === 'subscribed') { clearTimeout(t); resolve(r); } else if (m.type === 'tick') r.got++;
    });
    ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', payload: { topics: ['zfan'] } })));
    ws.on('error', reject);
  });
}

async function main() {
  const h = await agentd.start({ bin });
  try {
    const readers = [];
    for (let i = 0; i < n; i++) readers.push(await open(h.port));
    if (!readers.every((r) => /permessage-deflate/.test(r.ws.extensions))) {
      throw new Error('a reader did not negotiate permessage-deflate');
    }
    const body = { type: 'tick', topics: ['zfan'], count: events, perTick: 200, payload: { text: 'line of output '.repeat(Math.ceil(payload / 15)).slice(0, payload) } };
    for (let i = 0; i < reps; i++) {
      for (const r of readers) r.got = 0;
      const c0 = cpu(h.pid);
      const t0 = process.hrtime.bigint();
      const res = await agentd.request(h.port, 'POST', '/test/publish', body, { timeoutMs: 60000 });
      if (res.status !== 200) throw new Error(`publish answered ${res.status}`);
      const deadline = Date.now() + 120000;
      while (readers.some((r) => r.got < events)) {
        if (Date.now() > deadline) throw new Error('the readers did not get every event');
        await new Promise((r) => setTimeout(r, 20));
      }
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      const used = cpu(h.pid) - c0;
      console.log(`agentd ${path.basename(path.dirname(bin))} n=${n} e=${events} p=${payload}: `
        + `${(n * events / used / 1e6).toFixed(3)}M deliveries/CPU-s, server ${used.toFixed(2)} CPU-s in ${secs.toFixed(2)} s`);
    }
    for (const r of readers) r.ws.close();
  } finally { await h.stop(); }
}

main().catch((e) => { console.error(e.message); process.exit(1); });
