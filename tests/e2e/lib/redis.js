// SPDX-License-Identifier: MIT
// A throwaway redis-server for the cluster tests: a free port on 127.0.0.1,
// no persistence; startRedis resolves once the port accepts connections.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
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

// A key file the nodes sharing one Redis are given (--redis-key-file):
// 0600 in dir, a random secret. Returns its path.
function keyFile(dir) {
  const file = path.join(dir, 'redis.key');
  fs.writeFileSync(file, crypto.randomBytes(32).toString('base64url'), { mode: 0o600 });
  return file;
}

// text (a JSON object) signed for channel as agentd signs (src/cluster/buskey.c):
// `,"at":MS` then `,"mac":"HEX"` before its '}', the mac the HMAC-SHA256
// under SHA-256(the key file's text) of channel, a newline and the text up to the mac.
function sign(file, channel, text, at = Date.now()) {
  const key = crypto.createHash('sha256').update(fs.readFileSync(file, 'utf8').trimEnd()).digest();
  const body = `${text.slice(0, -1)},"at":${at}`;
  const mac = crypto.createHmac('sha256', key).update(`${channel}\n${body}`).digest('hex');
  return `${body},"mac":"${mac}"}`;
}

module.exports = { REDIS, freePort, startRedis, keyFile, sign };
