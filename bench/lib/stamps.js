// SPDX-License-Identifier: MIT
// A /ws subscriber of one agent's output that times linegen's stamped lines
// ("bench <i> <intended CLOCK_MONOTONIC ns>", c/linegen.c) on arrival, on
// the same clock (this process's hrtime): bench/nodes.js (N2) and
// bench/planes.js (P2).
'use strict';

const path = require('node:path');

const E2E = path.resolve(__dirname, '..', '..', 'tests', 'e2e');
const WebSocket = require(require.resolve('ws', { paths: [E2E] }));

// Subscribes to agent:<id> on daemon d ({url, authHeaders}): {got, close},
// got mapping each line's number to its latency in ms (first arrival).
async function stampSubscriber(d, id) {
  const got = new Map();
  const ws = new WebSocket(d.url.replace('http', 'ws') + '/ws', { headers: d.authHeaders });
  await new Promise((r, j) => { ws.on('open', r); ws.on('error', j); });
  ws.on('message', (m) => {
    const now = process.hrtime.bigint();
    let e;
    try { e = JSON.parse(m); } catch (_) { return; }
    if (e.type !== 'agent_output') return;
    for (const line of String(e.payload?.content ?? '').split('\n')) {
      const f = line.split(' ');
      if (f[0] === 'bench' && f.length === 3 && !got.has(f[1])) got.set(f[1], Number(now - BigInt(f[2])) / 1e6);
    }
  });
  ws.send(JSON.stringify({ type: 'subscribe', topics: [`agent:${id}`] }));
  return { got, close: () => ws.close() };
}

module.exports = { stampSubscriber };
