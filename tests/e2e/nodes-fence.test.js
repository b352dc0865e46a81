// SPDX-License-Identifier: MIT
// The node's fence (issue #77, docs/nodes.md "The failure model"): every
// message a control plane sends a node for a run carries the run's lease
// epoch, and the node refuses one lower than it has seen, from a plane that
// lost the run. A real `agentd node` joins a control plane of the test's own
// making (a WebSocket server speaking the link), which starts a reading agent
// under epoch 1, then speaks as the new owner (epoch 2) and as the old one
// (epoch 1): the old owner's input and stop never reach the agent and it is
// told `fenced` with the epoch the node has seen; the new owner's do; a
// `done` of the old owner does not make the node forget the run, nor its file
// request write a file (any message naming the run is checked); and the
// node's hello after a reconnect names the epoch it has seen.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { WebSocketServer } = require('ws');
const { startNode } = require('./lib/nodes');
const { until } = require('./lib/api');

const RUN = 'run_fence1';
const T = { DATA: 1, EXIT: 4, ATTACH: 16, INPUT: 17, SIGNAL: 19 };

// A link frame of the plane's, with the run's lease epoch (AD_LINK_HOLD_LEASE):
// [2][n][epoch LE][lease LE][run][holder frame {len, type, stream, 0, 0}{payload}].
function down(type, payload, lease, epoch = 1) {
  const h = Buffer.alloc(8);
  h.writeUInt32LE(payload.length, 0);
  h[4] = type;
  const pre = Buffer.alloc(10);
  pre[0] = 2; pre[1] = RUN.length; pre.writeUInt32LE(epoch, 2); pre.writeUInt32LE(lease, 6);
  return Buffer.concat([pre, Buffer.from(RUN), h, payload]);
}

// The holder frames a node sends up ([1][n][epoch][run][frame]), parsed.
function up(buf) {
  const n = buf[1];
  const f = buf.subarray(6 + n);
  return { run: buf.subarray(6, 6 + n).toString(), type: f[4], payload: f.subarray(8) };
}

// A control plane of the test's making: the node's link, its texts and what
// its agent printed (DATA on stdout, after each frame's offset).
function fakePlane() {
  const p = { texts: [], out: '', exits: [], hellos: [] };
  p.server = http.createServer();
  p.wss = new WebSocketServer({ server: p.server, path: '/api/nodes/link', perMessageDeflate: false });
  p.wss.on('connection', (ws) => {
    p.ws = ws;
    ws.on('message', (m, binary) => {
      if (!binary) {
        const msg = JSON.parse(String(m));
        p.texts.push(msg);
        if (msg.t === 'hello') {
          p.hellos.push(msg);
          ws.send(JSON.stringify({ t: 'welcome', nodeId: 'nd_fake', leaseMs: 60000, renewMs: 20000, planes: [] }));
        }
        return;
      }
      const f = up(m);
      if (f.type === T.DATA) p.out += f.payload.subarray(8).toString();
      if (f.type === T.EXIT) p.exits.push(f.payload.readInt32LE(0));
    });
  });
  p.send = (o) => p.ws.send(typeof o === 'string' || Buffer.isBuffer(o) ? o : JSON.stringify(o));
  p.fenced = () => p.texts.filter((x) => x.t === 'fenced');
  return new Promise((resolve) => p.server.listen(0, '127.0.0.1', () => {
    p.url = `http://127.0.0.1:${p.server.address().port}`;
    resolve(p);
  }));
}

function input(text, lease, epoch = 1) {
  return down(T.INPUT, Buffer.from(text), lease, epoch);
}

function signal(sig, lease, epoch) {
  const b = Buffer.alloc(4);
  b.writeInt32LE(sig, 0);
  return down(T.SIGNAL, b, lease, epoch);
}

// An ATTACH asking from stdout offset `at`, with no scrollback.
function attach(at, lease, epoch) {
  const b = Buffer.alloc(24);
  b.writeBigUInt64LE(BigInt(at), 0);
  b.writeBigUInt64LE(BigInt(at), 16);
  return down(T.ATTACH, b, lease, epoch);
}

test('a node refuses the messages of a control plane that lost the run, and says so', { timeout: 120000 }, async (t) => {
  const plane = await fakePlane();
  const node = await startNode(plane.url, { token: 'fake-node-token', name: 'n1' });
  t.after(async () => {
    await node.cleanup();
    plane.wss.close();
    plane.server.close();
  });
  await until(() => plane.ws && plane.hellos.length === 1, 'the node\'s hello');

  // The run starts under epoch 1 (its spawn's), then is attached.
  plane.send({
    t: 'spawn', run: RUN, agent: 'ag_fence', lease: 1, pty: false, rows: 24, cols: 80,
    argv: ['sh', '-c', 'echo ready; while read l; do echo "got=$l"; done'],
    env: ['PATH=/usr/bin:/bin', 'HOME=/tmp'], sandbox: { none: true },
  });
  await until(() => plane.texts.some((x) => x.t === 'spawned' && x.run === RUN), 'the spawn',
    20000).catch((e) => { throw new Error(`${e.message}; node:\n${node.stderr}`); });
  plane.send(attach(0, 1, 1));
  await until(() => plane.out.includes('ready'), 'the agent\'s first line');
  plane.send(input('one\n', 1, 1));
  await until(() => plane.out.includes('got=one'), 'input under epoch 1');

  // Another plane took the run over: its first word is epoch 2 (an ATTACH,
  // as after a takeover), and it is heard.
  plane.send(attach(Buffer.byteLength(plane.out), 2, 2));
  plane.send(input('two\n', 2, 2));
  await until(() => plane.out.includes('got=two'), 'input under epoch 2');
  await until(() => node.stderr.includes(`msg="run has a new owner" run=${RUN} lease=2`), 'the node\'s log of the new owner').catch((e) => { throw new Error(`${e.message}: ${node.stderr}`); });

  // The plane that lost it speaks with epoch 1: its input, its stop and its
  // `done` are refused, each answered `fenced` with the epoch the node saw.
  plane.send(input('stale\n', 1, 2));
  plane.send(signal(15, 1, 2));
  plane.send({ t: 'done', run: RUN, lease: 1 });
  plane.send({ t: 'end', run: RUN, lease: 1 });
  plane.send({ t: 'fs', id: 7, run: RUN, lease: 1, op: 'write', path: 'stale.txt', content: 'stale\n' });
  await until(() => plane.fenced().length >= 5, 'five fenced answers');
  for (const f of plane.fenced()) assert.deepEqual({ run: f.run, lease: f.lease }, { run: RUN, lease: 2 });
  assert.match(node.stderr, /msg="refused a message of a control plane that lost the run" run=run_fence1 what=frame lease=1 seen=2/);

  // The new owner's input after them is read: the agent is alive (the stop
  // was refused), and the stale line, sent before it, never came.
  plane.send(input('three\n', 2, 2));
  await until(() => plane.out.includes('got=three'), 'input under epoch 2 after the refusals');
  assert.ok(!plane.out.includes('got=stale'), `the old owner's input reached the agent:\n${plane.out}`);
  assert.deepEqual(plane.exits, [], 'the old owner\'s stop ended the agent');
  // its file write was not done either; the owner's is
  plane.send({ t: 'fs', id: 8, run: RUN, lease: 2, op: 'write', path: 'owner.txt', content: 'owner\n' });
  await until(() => plane.texts.some((x) => x.t === 'fs_done' && x.id === 8), 'the owner\'s file write');
  assert.ok(!plane.texts.some((x) => x.t === 'fs_done' && x.id === 7), 'the old owner\'s file request was answered');
  assert.ok(fs.existsSync(path.join(node.dataDir, 'work', 'ag_fence', 'owner.txt')));
  assert.ok(!fs.existsSync(path.join(node.dataDir, 'work', 'ag_fence', 'stale.txt')), 'the old owner\'s file was written');

  // A reconnect: the hello names the epoch the node has seen of the run.
  plane.ws.terminate();
  await until(() => plane.hellos.length === 2, 'the node\'s second hello', 30000);
  assert.deepEqual(plane.hellos[1].runs, [RUN]);
  assert.deepEqual(plane.hellos[1].leases, { [RUN]: 2 });

  // The owner's stop ends it.
  plane.send(attach(Buffer.byteLength(plane.out), 2, 3));
  plane.send(signal(15, 2, 3));
  await until(() => plane.exits.length === 1, 'the agent\'s end on the owner\'s stop');
});
