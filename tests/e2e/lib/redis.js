// SPDX-License-Identifier: MIT
// A throwaway redis-server for the cluster tests: a free port on 127.0.0.1,
// no persistence; startRedis resolves once the port accepts connections.
'use strict';

const net = require('node:net');
const { spawn } = require('node:child_process');
const { until } = require('./api');

const REDIS = '/usr/bin/redis-server';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

// The server process (kill it when done); rejects if it does not listen.
async function startRedis(port) {
  const p = spawn(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' });
  const accepts = () => new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
  try {
    await until(accepts, 'redis-server to listen', 10000);
  } catch (e) {
    p.kill('SIGKILL');
    throw e;
  }
  return p;
}

module.exports = { REDIS, freePort, startRedis };
