// SPDX-License-Identifier: MIT
// W1 generator: opens N WebSocket connections (spread over 127.0.0.x source
// addresses), optionally sends one subscribe message on each, reports
// "MARK start" once all are open and idle, waits for "go", then closes them.
'use strict';
const { params: p, mark, result, waitLine, fail, pool, sleep } = require('./common');
const { wsConnect } = require('../lib/wire');

(async () => {
  const conns = [];
  let failed = 0;
  const t0 = performance.now();
  const addrs = p.localAddrs || ['127.0.0.1'];
  const perAddr = 20000;
  await pool(p.n, p.concurrency || 256, async (i) => {
    try {
      const c = await wsConnect({ port: p.port, path: p.path, localAddress: addrs[Math.floor(i / perAddr) % addrs.length] });
      if (p.subscribe) c.send(p.subscribe);
      conns.push(c);
    } catch (e) {
      failed++;
      if (failed === 1) process.stderr.write(`ws-idle: ${e.message}\n`);
    }
  });
  const setupSeconds = (performance.now() - t0) / 1000;
  await sleep(p.settleMs || 1000);
  const open = conns.filter((c) => !c.closed).length;
  mark('start');
  await waitLine('go');
  result({ opened: open, failed, setupSeconds });
  for (const c of conns) c.close();
  setTimeout(() => process.exit(0), 100);
})().catch(fail);
