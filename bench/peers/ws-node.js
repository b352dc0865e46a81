// SPDX-License-Identifier: MIT
// Peer for W1/W2: a Node `ws` server (permessage-deflate off). A client on
// /pub is a publisher: each message it sends is relayed to every other open
// connection (the subscribers). Connections elsewhere only receive, which is
// also the idle connection of W1. 127.0.0.1 only.
'use strict';
const { WebSocketServer } = require('ws');
const subs = new Set();
const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(process.env.PORT), perMessageDeflate: false,
  clientTracking: false, backlog: 4096 });
wss.on('connection', (ws, req) => {
  if (req.url === '/pub') {
    ws.on('message', (data, isBinary) => {
      for (const s of subs) s.send(data, { binary: isBinary });
    });
    return;
  }
  subs.add(ws);
  ws.on('close', () => subs.delete(ws));
});
wss.on('listening', () => process.stdout.write(`peer ready ${process.env.PORT}\n`));
