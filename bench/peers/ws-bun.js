// SPDX-License-Identifier: MIT
// Peer for W1/W2 under Bun (uWebSockets inside): the same contract as
// ws-node.js, with fan-out through Bun's topic publish. Compression off.
// 127.0.0.1 only.
const server = Bun.serve({
  hostname: '127.0.0.1',
  port: Number(process.env.PORT),
  fetch(req, srv) {
    const pub = new URL(req.url).pathname === '/pub';
    if (srv.upgrade(req, { data: { pub } })) return undefined;
    return new Response('upgrade required', { status: 426 });
  },
  websocket: {
    perMessageDeflate: false,
    idleTimeout: 0,
    open(ws) { if (!ws.data.pub) ws.subscribe('t'); },
    message(ws, msg) { if (ws.data.pub) server.publish('t', msg); },
  },
});
process.stdout.write(`peer ready ${server.port}\n`);
