// SPDX-License-Identifier: MIT
// Plain output is stored on shared ticks (issue #38, F1): a command agent's
// lines become one stored message a second, and the runs that print at the
// same time queue theirs in the same loop turn, so the writer stores many
// runs' rows in one transaction instead of one small transaction a run.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { startApi, makeWorkspace, makeAgent, until, allMessages } = require('./lib/api');

const N = 30;
// A line every 0.2 s, numbered, so a lost or doubled line shows.
const SCRIPT = 'i=0; while :; do i=$((i+1)); echo "line $i"; sleep 0.2; done';
const STORED = 4; // messages each agent has stored before it is stopped

// Store moments: the messages' times sorted, split where two are more than
// GAP ms apart. The runs that share a tick store theirs in one loop turn, a
// few ms at most; ticks are 100 ms apart (output.c).
const GAP = 5;
function moments(times) {
  const t = [...times].sort((a, b) => a - b);
  let n = t.length > 0 ? 1 : 0;
  for (let i = 1; i < t.length; i++) if (t[i] - t[i - 1] > GAP) n++;
  return n;
}

test('the output of many agents is stored at shared moments, every line once', async () => {
  const d = await startApi();
  const ids = [];
  try {
    const { wt } = await makeWorkspace(d);
    for (let i = 0; i < N; i++) {
      const ag = await makeAgent(d, wt.id, { executor: 'command', command: ['sh', '-c', SCRIPT] });
      const r = await d.req('POST', `/api/agents/${ag.id}/start`, {});
      assert.equal(r.status, 200, JSON.stringify(r.body));
      ids.push(ag.id);
    }
    await until(async () => {
      for (const id of ids) {
        const m = await allMessages(d, id);
        if (m.filter((x) => x.role === 'assistant').length < STORED) return false;
      }
      return true;
    }, `${STORED} stored messages from every agent`, 60000);
    for (const id of ids) {
      assert.equal((await d.req('POST', `/api/agents/${id}/stop?wait=true`, { force: true })).status, 200);
    }

    const times = [];
    for (const id of ids) {
      const out = (await allMessages(d, id)).filter((x) => x.role === 'assistant');
      // Each agent's transcript holds its lines in order, each once.
      const nums = out.map((x) => x.content).join('\n').split('\n').filter(Boolean)
        .map((l) => Number(/^line (\d+)$/.exec(l)?.[1]));
      assert.ok(nums.length >= STORED, `${id}: ${nums.length} lines stored`);
      nums.forEach((n, i) => assert.equal(n, i + 1, `${id}: line ${i + 1} is "${n}"`));
      // (the last message is the stop's, not a tick's)
      for (const x of out.slice(0, -1)) times.push(Date.parse(x.createdAt));
    }
    // One moment a run would be about as many moments as messages; shared
    // ticks (ten a second at most) make it far fewer.
    const n = moments(times);
    assert.ok(n <= times.length / 2,
      `${times.length} messages were stored at ${n} moments: the runs' output was not stored together`);
  } finally {
    await d.cleanup();
  }
});
