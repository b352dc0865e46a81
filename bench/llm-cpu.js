// SPDX-License-Identifier: MIT
// agentd's CPU per streamed token, alone (no peer): N chats stream 2,000
// tokens each from the mock provider (tests/fixtures/mock-anthropic.js, 2 ms
// apart) to one /ws client subscribed to chat:*; the daemon's utime+stime
// over the run ÷ the tokens the client got. For profiling the token path:
// `--perf` records it with `perf record -g` into /tmp/agentd-llm.perf.
// `--delay-ms D` spaces the tokens D ms apart (L2's 50 tokens/s is 20), and
// then each stream sends 250 tokens, as L2's quick run does.
// Usage: node bench/llm-cpu.js [N=50] [--perf] [--delay-ms D]   (needs build/release/agentd)
'use strict';

const fs = require('node:fs');
const { spawn } = require('node:child_process');
const agentd = require('./lib/agentd');
const { wsConnect } = require('./lib/wire');
const mockAnthropic = require('../tests/fixtures/mock-anthropic');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const N = Math.min(200, Number(process.argv.slice(2).find((a, i, all) => /^\d+$/.test(a) && all[i - 1] !== '--delay-ms') || 50));
const PERF = process.argv.includes('--perf');
const DELAY_ARG = process.argv.indexOf('--delay-ms');
const DELAY_MS = DELAY_ARG > 0 ? Number(process.argv[DELAY_ARG + 1]) : 2;
if (!Number.isInteger(DELAY_MS) || DELAY_MS < 1 || DELAY_MS > 1000) {
  console.error('llm-cpu: --delay-ms takes a whole number of ms from 1 to 1000');
  process.exit(2);
}
const TOKENS = DELAY_ARG > 0 ? 250 : 2000;

async function main() {
  process.env.AGENTD_LLM_RPM = '1000000';
  process.env.AGENTD_LLM_ITPM = '1000000000';
  process.env.AGENTD_LLM_OTPM = '1000000000';
  const mock = await mockAnthropic.start({ direct: true, rules: [] });
  const h = await agentd.start();
  const hdr = { authorization: `Bearer ${process.env.AGENTD_BENCH_TOKEN}`, 'content-type': 'application/json' };
  const req = async (m, p, b) => (await fetch(h.base + p, { method: m, headers: hdr, body: b && JSON.stringify(b) })).json();
  try {
    await req('PUT', '/api/credentials/anthropic', { apiKey: 'sk-ant-bench-0000', baseUrl: mock.url });
    let n = 0, ended = 0;
    const ws = await wsConnect({
      port: h.port, path: '/ws',
      onMessage: (buf) => {
        const m = JSON.parse(buf.toString());
        if (m.type === 'stream_token') n++;
        else if (m.type === 'stream_complete' || m.type === 'stream_error') ended++;
      },
    });
    ws.send(JSON.stringify({ type: 'subscribe', payload: { topics: ['chat:*'] } }));
    await sleep(200);
    const chats = [];
    for (let i = 0; i < N; i++) chats.push((await req('POST', '/api/chats', { model: 'claude-sonnet-4-5', maxTokens: 100000 })).id);
    mock.setRules([{ reply: { tokens: Array(TOKENS).fill('tok '), tokenDelayMs: DELAY_MS } }]);
    const perf = PERF ? spawn('perf', ['record', '-F', '999', '-g', '-p', String(h.pid), '-o', '/tmp/agentd-llm.perf'], { stdio: 'ignore' }) : null;
    if (perf) await sleep(300);
    const cpu = () => {
      const f = fs.readFileSync(`/proc/${h.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(f[11]) + Number(f[12])) / 100; // clock ticks (USER_HZ 100)
    };
    const c0 = cpu(), t0 = Date.now();
    await Promise.all(chats.map((c) => req('POST', `/api/chats/${c}/messages`, { content: 'go' })));
    while (ended < N && Date.now() - t0 < 60000) await sleep(100);
    const c = cpu() - c0;
    if (perf) { perf.kill('SIGINT'); await sleep(1500); }
    ws.close();
    console.log(`llm cpu: ${n} tokens, ${ended}/${N} streams ended in ${Date.now() - t0} ms; agentd CPU ${c.toFixed(2)} s = ${(c / Math.max(1, n) * 1e6).toFixed(1)} us/token`);
  } finally {
    await h.stop();
    await mock.close();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
