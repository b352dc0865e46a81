// SPDX-License-Identifier: MIT
// Peer for H1: fastify answering GET /healthz with the same 17-byte JSON
// body nginx returns. Logging off, 127.0.0.1 only.
'use strict';
const fastify = require('fastify')({ logger: false });
const BODY = '{"hello":"world"}';
fastify.get('/healthz', (req, reply) => { reply.type('application/json').send(BODY); });
fastify.listen({ host: '127.0.0.1', port: Number(process.env.PORT) }).then(() => {
  process.stdout.write(`peer ready ${process.env.PORT}\n`);
});
