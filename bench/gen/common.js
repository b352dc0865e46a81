// SPDX-License-Identifier: MIT
// The protocol between the driver and a load generator: the generator gets
// its parameters as one JSON argument, prints "MARK start" / "MARK end" as
// the measurement window opens and closes (the driver reads the server's CPU
// time at each), may wait for "go" on stdin, and ends with one JSON line
// "RESULT {...}" that includes its own CPU seconds in the window.
'use strict';

const params = JSON.parse(process.argv[2] || '{}');
let cpu0 = null;
let t0 = 0;

function mark(what) {
  if (what === 'start') { cpu0 = process.cpuUsage(); t0 = performance.now(); }
  process.stdout.write(`MARK ${what}\n`);
}
// CPU seconds and wall seconds since mark('start').
function window() {
  const c = process.cpuUsage(cpu0);
  return { genCpuS: (c.user + c.system) / 1e6, seconds: (performance.now() - t0) / 1000 };
}
function result(obj) {
  process.stdout.write(`RESULT ${JSON.stringify(obj)}\n`);
}
function waitLine(expect) {
  return new Promise((resolve) => {
    let acc = '';
    const on = (d) => {
      acc += d;
      if (acc.includes(expect)) { process.stdin.off('data', on); process.stdin.pause(); resolve(); }
    };
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', on);
    process.stdin.on('end', () => resolve());
    process.stdin.resume();
  });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function fail(msg) {
  process.stdout.write(`RESULT ${JSON.stringify({ error: String(msg) })}\n`);
  process.exit(1);
}
// Runs fn(i) for i in [0, n) with at most `limit` in flight.
async function pool(n, limit, fn) {
  let next = 0;
  const worker = async () => { while (next < n) { const i = next++; await fn(i); } };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
}
function pct(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

module.exports = { params, mark, window, result, waitLine, sleep, fail, pool, pct };
