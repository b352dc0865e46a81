// SPDX-License-Identifier: MIT
// W4 generator: N WebSocket subscribers of one agent's topic. Every
// `sampleEvery`-th subscriber reads the intended-send timestamps that
// bench/c/linegen wrote into each stdout line ("bench <i> <mono_ns>") and
// records arrival minus intention (open loop); the others only count
// frames. Ends when the samplers have seen every line or at the deadline.
// p.pattern (M4) finds the line index and the time elsewhere in a frame,
// as named groups i and ns (a metric point: its step and value).
'use strict';
const { params: p, mark, window, result, waitLine, fail, pool, sleep, pct } = require('./common');
const { wsConnect } = require('../lib/wire');

const lat = [];
const late = []; // [line index, ms] of samples over the 2 ms budget: when in the run they fall
const re = new RegExp(p.pattern || 'bench (?<i>\\d+) (?<ns>\\d+)', 'g');
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
        const ms = Number(now - BigInt(m.groups.ns)) / 1e6;
        lat.push(ms);
        if (ms > 2) late.push([Number(m.groups.i), ms]);
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
  // Late lines grouped by tenth of the run: a start-up stall and a steady
  // backlog look different here.
  const lateByTenth = new Array(10).fill(0);
  for (const [i] of late) lateByTenth[Math.min(9, Math.floor((i * 10) / p.lines))]++;
  let frames = 0;
  for (const s of subs) frames += s.count;
  result({ n: subs.length, lines: p.lines, linesSeenPerSampler: seenBySamplers / samplers, frames,
    p50Ms: pct(lat, 50), p99Ms: pct(lat, 99), maxMs: lat.length ? lat[lat.length - 1] : null,
    lateByTenth, seconds: w.seconds, genCpuS: w.genCpuS });
  for (const s of subs) s.close();
  setTimeout(() => process.exit(0), 50);
})().catch(fail);
