// SPDX-License-Identifier: MIT
// Two agentd builds side by side, taking turns on H1's load (wrk -t1 on
// /healthz, 3 s each), requests per server CPU-second for every turn. On a
// noisy VM, where one build's H1 moves by a third between runs minutes
// apart, turns tell two builds apart where two bench/run.sh runs cannot.
// Usage: node bench/h1-ab.js OLD_BIN NEW_BIN [turns=6] [connections=16]
const agentd = require('./lib/agentd');
const sys = require('./lib/sys');

const [oldBin, newBin, turnsArg, connsArg] = process.argv.slice(2);
if (!oldBin || !newBin) {
  console.error('usage: node bench/h1-ab.js OLD_BIN NEW_BIN [turns=6] [connections=16]');
  process.exit(2);
}
const turns = Math.min(Number(turnsArg || 6), 50);
const conns = Number(connsArg || 16);

(async () => {
  const builds = [['old', await agentd.start({ bin: oldBin })], ['new', await agentd.start({ bin: newBin })]];
  try {
    for (const [, h] of builds) {
      await agentd.healthz(h);
      await sys.wrk(`${h.base}/healthz`, { conns, seconds: 1, serverPid: h.pid }); // warm-up
    }
    for (let t = 0; t < turns; t++) {
      const line = [];
      for (const [name, h] of builds) {
        const r = await sys.wrk(`${h.base}/healthz`, { conns, seconds: 3, serverPid: h.pid });
        line.push(`${name} ${(r.requests / r.serverCpuS / 1000).toFixed(1)}k req/CPU-s`);
      }
      console.log(line.join('   '));
    }
  } finally {
    for (const [, h] of builds) await h.stop();
  }
})().catch((e) => { console.error(`h1-ab: ${e.message}`); process.exit(1); });
