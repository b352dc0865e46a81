// SPDX-License-Identifier: MIT
// A /ws subscriber of one agent's output that times linegen's stamped lines
// ("bench <i> <intended CLOCK_MONOTONIC ns>", c/linegen.c) on arrival, on
// the same clock (this process's hrtime): bench/nodes.js (N2) and
// bench/planes.js (P2).
'use strict';

const path = require('node:path');

const E2E = path.resolve(__dirname, '..', '..', 'tests', 'e2e');
const WebSocket = require(require.resolve('ws', { paths: [E2E] }));

// Subscribes to topic on daemon d ({url, authHeaders}) and calls
// onLine(fields, now) for each line of every agent_output event, fields
// its words, now process.hrtime.bigint() at the event's arrival. opts.deflate
// false: no permessage-deflate (as c/fanout.c's readers). Resolves {ws, close}.
async function lineSubscriber(d, topic, onLine, opts = {}) {
  const ws = new WebSocket(d.url.replace('http', 'ws') + '/ws', { headers: d.authHeaders, perMessageDeflate: opts.deflate !== false });
  await new Promise((r, j) => { ws.on('open', r); ws.on('error', j); });
  ws.on('message', (m) => {
    const now = process.hrtime.bigint();
    let e;
    try { e = JSON.parse(m); } catch (_) { return; }
    if (e.type !== 'agent_output') return;
    for (const line of String(e.payload?.content ?? '').split('\n')) onLine(line.split(' '), now);
  });
  ws.send(JSON.stringify({ type: 'subscribe', topics: [topic] }));
  return { ws, close: () => ws.close() };
}

// Subscribes to agent:<id> on daemon d: {got, close}, got mapping each
// line's number to its latency in ms (first arrival).
async function stampSubscriber(d, id) {
  const got = new Map();
  const sub = await lineSubscriber(d, `agent:${id}`, (f, now) => {
    if (f[0] === 'bench' && f.length === 3 && !got.has(f[1])) got.set(f[1], Number(now - BigInt(f[2])) / 1e6);
  });
  return { got, close: sub.close };
}

module.exports = { stampSubscriber, lineSubscriber };
