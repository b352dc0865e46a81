// SPDX-License-Identifier: MIT
// Peer for H2 on PostgreSQL (issue #80; bench/planes.js, row P1): the seed
// product's stack with the `pg` driver, serving GET /api/agents/:id from the
// same database, schema and row as agentd on PostgreSQL: one prepared SELECT
// (a named statement, parsed once per connection), snake_case columns turned
// into the camelCase JSON object agentd answers with, as fastify-db.js does
// on SQLite. A pool of POOL connections (default 4) on the server's unix
// socket (PGHOST, PGPORT, PGDATABASE, PGUSER). 127.0.0.1 only.
'use strict';
const { Pool } = require('pg');
const fastify = require('fastify')({ logger: false });

const pool = new Pool({ max: Number(process.env.POOL || 4) });
const camel = (s) => s.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
const JSON_COLS = new Set(['permissions', 'state']);

fastify.get('/api/agents/:id', async (req, reply) => {
  const r = await pool.query({ name: 'agent', text: 'SELECT * FROM agents WHERE id = $1', values: [req.params.id] });
  if (r.rows.length === 0) {
    reply.code(404);
    return { error: { code: 'NOT_FOUND', message: 'agent not found', details: {} } };
  }
  const out = {};
  for (const [k, v] of Object.entries(r.rows[0])) {
    out[camel(k)] = JSON_COLS.has(k) && typeof v === 'string' ? JSON.parse(v) : v;
  }
  return out;
});
fastify.listen({ host: '127.0.0.1', port: Number(process.env.PORT) }).then(() => {
  process.stdout.write(`peer ready ${process.env.PORT}\n`);
});
