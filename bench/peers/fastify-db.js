// SPDX-License-Identifier: MIT
// Peer for H2: the stack the seed product used (fastify + better-sqlite3),
// serving GET /api/agents/:id from the same database file, schema and row
// as agentd: one prepared SELECT, snake_case columns turned into the
// camelCase JSON object agentd answers with. 127.0.0.1 only.
'use strict';
const Database = require('better-sqlite3');
const fastify = require('fastify')({ logger: false });

const db = new Database(process.env.DB_PATH, { fileMustExist: true });
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('foreign_keys = ON');
const get = db.prepare('SELECT * FROM agents WHERE id = ?');
const camel = (s) => s.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
const JSON_COLS = new Set(['permissions', 'state']);

fastify.get('/api/agents/:id', (req, reply) => {
  const row = get.get(req.params.id);
  if (!row) {
    reply.code(404).send({ error: { code: 'NOT_FOUND', message: 'agent not found', details: {} } });
    return;
  }
  const out = {};
  for (const [k, v] of Object.entries(row)) {
    out[camel(k)] = JSON_COLS.has(k) && typeof v === 'string' ? JSON.parse(v) : v;
  }
  reply.send(out);
});
fastify.listen({ host: '127.0.0.1', port: Number(process.env.PORT) }).then(() => {
  process.stdout.write(`peer ready ${process.env.PORT}\n`);
});
