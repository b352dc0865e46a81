// SPDX-License-Identifier: MIT
// What a read on the thread pool costs (src/store/read.c): a fresh data dir,
// then GET routes that read there, one request at a time on one kept-alive
// connection: a search for a word no message has (nothing to rank: the
// read's fixed cost) and the health history. Prints the server's CPU a
// request, p50 and p99 in ms and the RSS after; with AGENTD_BASE_BIN (say
// $(bench/base.sh REF)) the same for that binary, the two taking turns.
// Figures only: nothing here passes or fails on time.
//   node bench/poolread.js [--requests N] [--rounds N]
'use strict';

const http = require('node:http');
const agentd = require('./lib/agentd');
const sys = require('./lib/sys');

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i > 0 && process.argv[i + 1] ? Number(process.argv[i + 1]) : dflt;
}
const REQUESTS = arg('--requests', 400);
const ROUNDS = arg('--rounds', 2);
const ROUTES = ['/api/search?q=qnosuchword&limit=20', '/api/health/history?buckets=60'];

function get(port, agent, p) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent,
      headers: { authorization: `Bearer ${process.env.AGENTD_BENCH_TOKEN}` } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${p}: ${res.statusCode}`))));
    });
    req.on('error', reject);
  });
}

const pct = (s, p) => s[Math.min(s.length - 1, Math.floor(s.length * p))];

async function measure(name, bin) {
  const h = await agentd.start({ bin });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (const route of ROUTES) {
      for (let i = 0; i < 20; i++) await get(h.port, agent, route); // warm
      const cpu0 = sys.cpuSeconds(h.pid);
      const ms = [];
      for (let i = 0; i < REQUESTS; i++) {
        const t = process.hrtime.bigint();
        await get(h.port, agent, route);
        ms.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
      const cpu = ((sys.cpuSeconds(h.pid) - cpu0) * 1000) / REQUESTS;
      ms.sort((a, b) => a - b);
      console.log(`${name.padEnd(6)} ${route.padEnd(40)} cpu ${cpu.toFixed(3)} ms/req  p50 ${pct(ms, 0.5).toFixed(2)}  ` +
        `p99 ${pct(ms, 0.99).toFixed(2)} ms  rss ${(sys.rssBytes(h.pid) / 1048576).toFixed(1)} MiB`);
    }
  } finally {
    agent.destroy();
    await h.stop();
  }
}

(async () => {
  for (let r = 0; r < ROUNDS; r++) {
    await measure('this', agentd.BIN);
    if (process.env.AGENTD_BASE_BIN) await measure('base', process.env.AGENTD_BASE_BIN);
  }
})().catch((e) => { console.error(e); sys.killAllSync(); process.exit(1); });
