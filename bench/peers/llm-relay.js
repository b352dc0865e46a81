// SPDX-License-Identifier: MIT
// The L1/L2 peer: what people write instead of agentd's LLM client, a Node
// proxy that relays a provider's streamed answer to browsers. POST /relay
// {url, body} fetches the Messages API stream with fetch(), splits its SSE,
// and sends each text delta as a stream_token frame to every /ws client
// (a bare RFC 6455 server: no dependency, frames unmasked, no deflate).
// Usage: node llm-relay.js PORT
'use strict';

const http = require('node:http');
const crypto = require('node:crypto');

const port = Number(process.argv[2]);
const sockets = new Set();

function frame(text) {
  const p = Buffer.from(text);
  const n = p.length;
  let h;
  if (n < 126) h = Buffer.from([0x81, n]);
  else if (n < 65536) { h = Buffer.alloc(4); h[0] = 0x81; h[1] = 126; h.writeUInt16BE(n, 2); }
  else { h = Buffer.alloc(10); h[0] = 0x81; h[1] = 127; h.writeBigUInt64BE(BigInt(n), 2); }
  return Buffer.concat([h, p]);
}

function broadcast(obj) {
  const f = frame(JSON.stringify(obj));
  for (const s of sockets) s.write(f);
}

async function relay(url, body, session) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'bench', 'anthropic-version': '2023-06-01' }, body: JSON.stringify(body) });
  const dec = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body) {
    buf += dec.decode(chunk, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = ev.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
      if (!data) continue;
      const o = JSON.parse(data);
      if (o.type === 'content_block_delta' && o.delta.type === 'text_delta') {
        broadcast({ type: 'stream_token', payload: { sessionId: session, text: o.delta.text } });
      } else if (o.type === 'message_stop') {
        broadcast({ type: 'stream_complete', payload: { sessionId: session } });
      }
    }
  }
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.method !== 'POST' || req.url !== '/relay') { res.writeHead(404); res.end(); return; }
    const { url, body, session } = JSON.parse(Buffer.concat(chunks).toString());
    res.writeHead(202, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
    relay(url, body, session).catch(() => {});
  });
});
server.on('upgrade', (req, sock) => {
  const accept = crypto.createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  sock.setNoDelay(true);
  sockets.add(sock);
  sock.on('data', () => {}); // the bench client sends nothing but close
  sock.on('close', () => sockets.delete(sock));
  sock.on('error', () => sockets.delete(sock));
});
server.listen(port, '127.0.0.1');
