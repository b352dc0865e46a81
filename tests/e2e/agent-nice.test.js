// SPDX-License-Identifier: MIT
// Agents run below agentd (issue #80; docs/operations.md, "CPU share"): an
// agent's program, in its sandbox, reads its own nice and its session's
// autogroup's. By default both are 10 (--agent-nice), with --agent-nice 0
// both are agentd's; agentd itself keeps its own either way; on a worker
// node, 10 below the node. Without the kernel's autogroups (no
// /proc/self/autogroup here) only the nice is read.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { api, until, allMessages, startWithWorktree, commandAgent } = require('./lib/api');
const { nodeToken, startNode } = require('./lib/nodes');

const PROBE = ['sh', '-c',
  'echo "nice=$(cut -d" " -f19 /proc/self/stat)"; echo "group=$(cat /proc/self/autogroup 2>/dev/null || echo none)"'];
const GROUPS = fs.existsSync('/proc/self/autogroup');
const niceOf = (pid) => Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[16]);

// What the probe printed in an agent of daemon d (on node, if given): {nice, group}.
async function probe(d, wt, node) {
  const id = await commandAgent(d, wt, PROBE, node ? { node } : {});
  const s = await api(d, 'POST', `/api/agents/${id}/start`, {});
  assert.equal(s.status, 200, s.text);
  const text = await until(async () => {
    const t = (await allMessages(d, id)).map((m) => m.content).join('\n');
    return /group=.+/.test(t) ? t : false;
  }, "the probe's two lines");
  return { nice: Number(/nice=(-?\d+)/.exec(text)[1]), group: /group=(.*)/.exec(text)[1] };
}

// A process in the kernel's default group (init's session: CI's runner may
// start agentd there) reads an empty file; that group weighs as nice 0.
const groupNice = (pid) => {
  const m = / nice (-?\d+)/.exec(fs.readFileSync(`/proc/${pid}/autogroup`, 'utf8'));
  return m ? Number(m[1]) : 0;
};

for (const [args, want] of [[[], 10], [['--agent-nice', '0'], 0]]) {
  test(`an agent runs ${want} below agentd, and its session's group too${args.length ? ` (${args.join(' ')})` : ' (the default)'}; agentd keeps its own`, async () => {
    const base = niceOf(process.pid);
    const { d, wt } = await startWithWorktree({ args });
    try {
      const got = await probe(d, wt);
      assert.equal(got.nice, Math.min(19, base + want), JSON.stringify(got));
      if (GROUPS) {
        const g = want > 0 ? Math.min(19, groupNice(d.proc.pid) + want) : 0; // a new session's group starts at 0
        assert.match(got.group, new RegExp(`^/autogroup-\\d+ nice ${g}$`), JSON.stringify(got));
      }
      assert.equal(niceOf(d.proc.pid), base, "agentd's own nice is the one it was started with");
    } finally {
      await d.cleanup();
    }
  });
}

test('an agent on a worker node runs 10 below the node', async () => {
  const base = niceOf(process.pid);
  const { d, wt } = await startWithWorktree({});
  const t = await nodeToken(d, 'nicen');
  const n = await startNode(d.url, { token: t.token, name: 'nicen' });
  try {
    const got = await probe(d, wt, 'nicen');
    assert.equal(got.nice, Math.min(19, base + 10), JSON.stringify(got));
    if (GROUPS) assert.match(got.group, new RegExp(`^/autogroup-\\d+ nice ${Math.min(19, groupNice(n.proc.pid) + 10)}$`), JSON.stringify(got));
  } finally {
    await n.cleanup();
    await d.cleanup();
  }
});
