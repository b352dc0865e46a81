// SPDX-License-Identifier: MIT
// A stop survives a daemon restart (issue #32: "a reload does not abort
// it"): an agent that ignores SIGINT and SIGTERM is asked to stop, agentd is
// killed (-9) during the escalation and started again; the agent it takes
// up from its holder still reads stopping (the same since) and the
// escalation goes on to SIGKILL, so the run ends stopped. Before, the stop
// was only in the old daemon's memory and the agent ran on for ever.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const daemon = require('./lib/daemon');
const { api, until, startWithWorktree, commandAgent, allMessages } = require('./lib/api');

// Only SIGKILL ends it.
const STUBBORN = ['/bin/sh', '-c', "trap '' INT TERM; echo up; while :; do sleep 0.2; done"];
const ARGS = ['--stop-grace-ms', '1500'];

const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };

test('a stop asked before agentd restarts goes on after it', async (t) => {
  const dataDir = daemon.tmpDir();
  const { d, wt } = await startWithWorktree({ dataDir, args: ARGS });
  let d2 = null;
  t.after(async () => { await (d2 || d).cleanup(); });
  const id = await commandAgent(d, wt, STUBBORN, { name: 'stubborn' });
  const s = await api(d, 'POST', `/api/agents/${id}/start`, {});
  assert.equal(s.status, 200, JSON.stringify(s.body));
  const pid = s.body.pid;
  // its traps are set once it has said so
  await until(async () => (await allMessages(d, id)).some((m) => m.content.includes('up')), 'the agent up');

  const r = await api(d, 'POST', `/api/agents/${id}/stop`);
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.equal(r.body.status, 'stopping');
  const since = r.body.stopping.since;
  // the 202 comes once the stop is stored: a crash right after it keeps it
  await d.stop('SIGKILL'); // mid-escalation: the polite step is trapped
  assert.ok(alive(pid), 'the agent outlives agentd');

  d2 = await daemon.start({ needUrl: true, dataDir, args: ARGS });
  const a = (await api(d2, 'GET', `/api/agents/${id}`)).body;
  assert.equal(a.status, 'stopping', JSON.stringify(a));
  assert.equal(a.stopping.since, since);
  await until(async () => (await api(d2, 'GET', `/api/agents/${id}`)).body.status === 'stopped', 'the stop carried on', 20000);
  assert.equal((await api(d2, 'GET', `/api/agents/${id}/runs`)).body.runs[0].status, 'stopped');
  await until(() => !alive(pid), 'the stubborn process gone', 5000);
});
