// SPDX-License-Identifier: MIT
// W4 generator: N WebSocket subscribers of one agent's topic. Every
// `sampleEvery`-th subscriber reads the intended-send timestamps that
// bench/c/linegen wrote into each stdout line ("bench <i> <mono_ns>") and
// records arrival minus intention (open loop); the others only count
// frames. Ends when the samplers have seen every line or at the deadline.
'use strict';
const { params: p, mark, window, result, waitLine, fail, pool, sleep, pct } = require('./common');
const { wsConnect } = require('../lib/wire');

const lat = [];
const re = /bench (\d+) (\d+)/g;
let samplers = 0;
let seenBySamplers = 0;

(async () => {
  const subs = [];
  await pool(p.n, 32, async (i) => {
    const sample = i % p.sampleEvery === 0;
    if (sample) samplers++;
    const onMessage = sample ? (buf) => {
      const now = process.hrtime.bigint();
      const s = buf.toString('latin1');
      re.lastIndex = 0;
      let m;
      while ((m = re.exec(s)) !== null) {
        seenBySamplers++;
        lat.push(Number(now - BigInt(m[2])) / 1e6);
      }
    } : undefined;
    const c = await wsConnect({ port: p.port, path: p.path, onMessage });
    c.send(p.subscribe);
    subs.push(c);
  });
  await sleep(300);
  for (const s of subs) s.count = 0;
  mark('start');
  process.stdout.write('READY\n');
  const deadline = Date.now() + p.timeoutMs;
  while (seenBySamplers < p.lines * samplers && Date.now() < deadline) await sleep(20);
  const w = window();
  mark('end');
  lat.sort((a, b) => a - b);
  let frames = 0;
  for (const s of subs) frames += s.count;
  result({ n: subs.length, lines: p.lines, linesSeenPerSampler: seenBySamplers / samplers, frames,
    p50Ms: pct(lat, 50), p99Ms: pct(lat, 99), maxMs: lat.length ? lat[lat.length - 1] : null,
    seconds: w.seconds, genCpuS: w.genCpuS });
  for (const s of subs) s.close();
  setTimeout(() => process.exit(0), 50);
})().catch(fail);
