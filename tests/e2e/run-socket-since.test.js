// SPDX-License-Identifier: MIT
// /ws/runs/:runId?since=N on an agent's second run (issue #74): the replay
// holds only that run's events. The defect it stops: the first run's
// agent_exit (on the agent's topic too) was replayed as the second run's
// end and the socket closed "run ended" while the second run went on, so
// the crews seed's client was told its run was over.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { start } = require('./lib/daemon');
const { Live, json, makeAgent } = require('./lib/live');
const { UNTIL_MS } = require('./lib/api');

// The first run ends at once; the second prints a line and waits for
// the "go" file the test writes, then ends.
const SCRIPT = `const fs = require('fs');
if (!fs.existsSync('run1.done')) { fs.writeFileSync('run1.done', ''); console.log('first'); process.exit(0); }
console.log('second');
const t = setInterval(() => { if (fs.existsSync('go')) { clearInterval(t); console.log('bye'); process.exit(0); } }, 50);`;

async function runStatus(d, id) {
  const r = await json(d, 'GET', `/api/runs/${id}`);
  return (r.body.run || r.body).status;
}

async function waitFor(pred, what) {
  const deadline = Date.now() + UNTIL_MS;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a second run replayed with since=0 gets only its own events and closes only when it ends', async () => {
  const d = await start({ needUrl: true });
  try {
    const { worktree, agent } = await makeAgent(d, { executor: 'command', command: [process.execPath, '-e', SCRIPT] });
    let r = await json(d, 'POST', `/api/agents/${agent.id}/start`, {});
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const first = r.body.runId;
    assert.match(first, /^run_/);
    await waitFor(async () => (await runStatus(d, first)) !== 'running', 'the first run to end');

    r = await json(d, 'POST', `/api/agents/${agent.id}/start`, {});
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const second = r.body.runId;
    assert.match(second, /^run_/);
    assert.notEqual(second, first);

    const c = await Live.open(d, `/ws/runs/${second}?since=0`);
    const out = (text) => c.events.some((e) => e.type === 'agent_output' && String(e.payload.content).includes(text));
    // "second" is published after the first run's exit, so once it is
    // here the replay of everything before it has been sent.
    await c.until(() => out('second') || c.closeCode !== null, UNTIL_MS, "the second run's output");
    assert.equal(c.closeCode, null, `closed while the second run goes on: ${JSON.stringify(c.msgs.slice(-3))}`);
    assert.ok(!out('first'), 'the first run\'s output replayed on the second run\'s socket');
    assert.deepEqual(c.events.filter((e) => e.type === 'agent_exit'), [], 'the first run\'s exit replayed');
    assert.equal(await runStatus(d, second), 'running');

    fs.writeFileSync(path.join(worktree.path, 'go'), '');
    const code = await Promise.race([c.closed, new Promise((res) => setTimeout(() => res('timeout'), UNTIL_MS))]);
    assert.equal(code, 1000);
    const exits = c.events.filter((e) => e.type === 'agent_exit');
    assert.equal(exits.length, 1);
    assert.equal(exits[0].payload.run_id, second);
    assert.ok(out('bye'));
    assert.notEqual(await runStatus(d, second), 'running');
  } finally {
    await d.cleanup();
  }
});
