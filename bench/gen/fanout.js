// SPDX-License-Identifier: MIT
// W2/R1 generator: N subscribers (WebSocket or Redis) and one publisher
// (a WebSocket, HTTP requests, or Redis PUBLISH). The publisher keeps at
// most `window` messages in flight towards the subscribers (sent x N minus
// deliveries), so a slow server is measured, not buried in its own queues.
// Counts deliveries in a timed window after a warm-up.
'use strict';
const { params: p, mark, window, result, fail, pool, sleep } = require('./common');
const { wsConnect, httpConn, redisConnect, respCommand } = require('../lib/wire');

const payload = 'x'.repeat(p.payload);
const subs = [];
const pubConns = [];
let sent = 0;
let errors = 0;

const tally = { n: 0, bytes: 0 };
const delivered = () => tally.n;

(async () => {
  // Subscribers.
  await pool(p.n, 64, async () => {
    if (p.sub.kind === 'redis') {
      const r = await redisConnect({ port: p.sub.port, tally });
      r.write(respCommand('SUBSCRIBE', p.sub.channel));
      subs.push(r);
    } else {
      const c = await wsConnect({ port: p.sub.port, path: p.sub.path, tally });
      if (p.sub.subscribe) c.send(p.sub.subscribe);
      subs.push(c);
    }
  });
  await sleep(300);
  tally.n = 0; // subscribe acks are not deliveries
  tally.bytes = 0;

  // Publisher.
  const N = subs.length;
  const limit = p.window * N;
  let pump;
  if (p.pub.kind === 'ws') {
    const pub = await wsConnect({ port: p.pub.port, path: p.pub.path });
    pubConns.push(pub);
    pump = () => {
      let burst = 0;
      while (burst < 64 && sent * N - delivered() < limit) { pub.send(payload); sent++; burst++; }
    };
  } else if (p.pub.kind === 'redis') {
    const pub = await redisConnect({ port: p.pub.port });
    pubConns.push(pub);
    const cmd = respCommand('PUBLISH', p.pub.channel, payload);
    pump = () => {
      let burst = 0;
      while (burst < 64 && sent * N - delivered() < limit) { pub.write(cmd); sent++; burst++; }
    };
  } else { // http
    const body = p.pub.body.replace('__PAYLOAD__', payload);
    const conns = [];
    // as many requests in flight as the other publishers keep messages
    for (let i = 0; i < (p.pub.conns || p.window); i++) conns.push(await httpConn({ port: p.pub.port }));
    pubConns.push(...conns);
    const idle = [...conns];
    pump = () => {
      while (idle.length && sent * N - delivered() < limit) {
        const c = idle.pop();
        sent++;
        c.request(p.pub.method, p.pub.path, body).then((r) => {
          if (r.status >= 300) { errors++; if (errors === 1) process.stderr.write(`fanout: publish ${r.status} ${r.body}\n`); }
          idle.push(c);
          schedule();
        }, () => { errors++; });
      }
    };
  }
  let scheduled = false;
  function schedule() {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => { scheduled = false; pump(); });
  }
  for (const s of subs) s.sock.on('data', schedule);
  const ticker = setInterval(schedule, 5);

  pump();
  await sleep(p.warmup * 1000);
  const d0 = delivered();
  const s0 = sent;
  mark('start');
  await sleep(p.seconds * 1000);
  const d1 = delivered();
  const w = window();
  mark('end');
  clearInterval(ticker);
  pump = () => {};
  result({ n: N, deliveries: d1 - d0, published: sent - s0, seconds: w.seconds, genCpuS: w.genCpuS, errors,
    perSub: (d1 - d0) / N, bytesPerDelivery: tally.n ? tally.bytes / tally.n : null });
  for (const s of subs) s.close();
  for (const c of pubConns) c.close();
  setTimeout(() => process.exit(0), 50);
})().catch(fail);
