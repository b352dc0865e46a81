// SPDX-License-Identifier: MIT
// A second connection with a node's token (a stolen token, or the same node
// started twice) replaced the real node's link, and the real node exited
// for good. Now the node that loses its link to a duplicate says so and
// reconnects with backoff; with the duplicate gone it is connected again
// (issue #73).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { until, startApi } = require('./lib/api');
const { nodeToken, startNode, nodeNamed } = require('./lib/nodes');

test('a node whose link a duplicate takes reconnects with backoff and says so', async (t) => {
  const d = await startApi();
  const tok = await nodeToken(d, 'real');
  const real = await startNode(d.url, { token: tok.token, name: 'real' });
  let dup = null;
  t.after(async () => { if (dup) await dup.cleanup(); await real.cleanup(); await d.cleanup(); });
  await until(async () => (await nodeNamed(d, 'real'))?.state === 'connected', 'the real node connected');

  // the duplicate joins with the same token and name: it takes the link
  dup = await startNode(d.url, { token: tok.token, name: 'real', wait: false });
  await until(() => /replaced the link; reconnecting in \d+ ms/.test(real.stderr) || real.exited,
    'the real node to say its link was replaced', 30000);
  assert.equal(real.exited, null, `the real node exited: ${real.stderr}`);

  // the duplicate goes; the real node is the node again
  await dup.stop();
  await until(async () => (real.stdout.match(/joined/g) || []).length >= 2 &&
    (await nodeNamed(d, 'real'))?.state === 'connected', 'the real node back on its link', 60000);
  assert.equal(real.exited, null, real.stderr);
});
