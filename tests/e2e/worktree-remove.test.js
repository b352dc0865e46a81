// SPDX-License-Identifier: MIT
// Removing a worktree loses nothing by a click (issue #74): DELETE
// /api/worktrees/:id and `agentd wt rm` refuse while an agent of the
// worktree runs (409 naming it), stop it only when asked (stop=true,
// --stop or --yes), and archive the worktree's agents: their transcripts,
// runs and training metrics stay readable. The defect they stop: the
// removal deleted the worktree's row and, by cascade, its agents with all
// they recorded, and stopped a running agent without asking.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { BIN, run, tmpRepo } = require('./lib/daemon');
const { startApi, until } = require('./lib/api');

const FAKE = path.resolve(__dirname, '../fixtures/fake-agent.js');

async function setup(t) {
  const d = await startApi();
  t.after(() => d.cleanup());
  const ws = await d.req('POST', '/api/workspaces', { path: tmpRepo('wtrm-', d.dataDir), name: 'wtrm' });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  const wt = await d.req('POST', '/api/worktrees', { workspaceId: ws.body.id, name: 'busy', branch: 'busy', createBranch: true });
  assert.equal(wt.status, 201, JSON.stringify(wt.body));
  const agent = async (name, mode) => {
    const r = await d.req('POST', '/api/agents', { worktreeId: wt.body.id, name, executor: 'command', command: [process.execPath, FAKE, ...mode] });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const a = r.body.agent || r.body;
    const s = await d.req('POST', `/api/agents/${a.id}/start`, {});
    assert.equal(s.status, 200, JSON.stringify(s.body));
    return { id: a.id, runId: s.body.runId, pid: (s.body.agent || s.body).pid };
  };
  // One that ran and ended with metrics and output, one still running.
  const trained = await agent('trained', ['metrics', '5']);
  await until(async () => {
    const r = await d.req('GET', `/api/runs/${trained.runId}`);
    return (r.body.run || r.body).status !== 'running';
  }, 'the training run to end');
  const series = await until(async () => {
    const r = await d.req('GET', `/api/runs/${trained.runId}/metrics`);
    const s = (r.body.series || []).find((x) => x.name === 'loss');
    return s && s.count === 5 ? s : null;
  }, 'the loss series stored');
  const live = await agent('live', ['echo']);
  return { d, ws: ws.body, wt: wt.body, trained, live, series };
}

// What an archived agent still has: its row (deletedAt), its run, its
// metrics and its transcript.
async function assertKept(d, trained, series) {
  const a = await d.req('GET', `/api/agents/${trained.id}`);
  assert.equal(a.status, 200, JSON.stringify(a.body));
  assert.match(a.body.deletedAt, /Z$/, 'archived');
  const r = await d.req('GET', `/api/runs/${trained.runId}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const m = await d.req('GET', `/api/runs/${trained.runId}/metrics`);
  assert.equal(m.status, 200);
  assert.deepEqual(m.body.series.find((x) => x.name === 'loss'), series);
  const msgs = await d.req('GET', `/api/runs/${trained.runId}/messages`);
  assert.equal(msgs.status, 200);
  assert.ok(JSON.stringify(msgs.body).includes('step 4 done'), JSON.stringify(msgs.body).slice(0, 400));
}

test('DELETE /api/worktrees/:id refuses while an agent runs, and archives its agents when asked to stop them', async (t) => {
  const { d, ws, wt, trained, live, series } = await setup(t);
  let r = await d.req('DELETE', `/api/worktrees/${wt.id}`);
  assert.equal(r.status, 409, JSON.stringify(r.body));
  assert.equal(r.body.error.code, 'CONFLICT');
  assert.equal(r.body.error.details.reason, 'agents_running');
  assert.deepEqual(r.body.error.details.agents.map((a) => a.id), [live.id]);
  assert.match(r.body.error.message, /live \(running\)/);
  assert.match(r.body.error.message, /stop=true/);
  // Nothing happened: the folder, the row and the process are there.
  assert.ok(fs.existsSync(wt.path));
  assert.equal((await d.req('GET', `/api/worktrees/${wt.id}`)).status, 200);
  process.kill(live.pid, 0);
  assert.equal((await d.req('GET', `/api/agents/${live.id}`)).body.status, 'running');
  r = await d.req('DELETE', `/api/worktrees/${wt.id}?stop=maybe`);
  assert.equal(r.status, 422, JSON.stringify(r.body));

  r = await d.req('DELETE', `/api/worktrees/${wt.id}?stop=true`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.archived, true);
  assert.deepEqual(r.body.agentIds.sort(), [trained.id, live.id].sort());
  assert.ok(!fs.existsSync(wt.path), 'the folder is gone');
  assert.throws(() => process.kill(live.pid, 0), { code: 'ESRCH' });
  assert.equal((await d.req('GET', `/api/worktrees/${wt.id}`)).status, 404);
  const wts = (await d.req('GET', `/api/worktrees?workspaceId=${ws.id}`)).body.worktrees;
  assert.ok(!wts.some((w) => w.id === wt.id), 'the removed worktree is listed');
  const listed = (await d.req('GET', '/api/agents')).body.agents.map((a) => a.id);
  assert.ok(!listed.includes(trained.id) && !listed.includes(live.id), 'archived agents are listed');
  await assertKept(d, trained, series);
  const l = await d.req('GET', `/api/agents/${live.id}`);
  assert.equal(l.status, 200);
  assert.ok(l.body.deletedAt);
  assert.notEqual(l.body.status, 'running');

  // Its agents stay archived: nothing would show or run them.
  r = await d.req('POST', `/api/agents/${trained.id}/restore`);
  assert.equal(r.status, 409, JSON.stringify(r.body));
  assert.equal(r.body.error.details.reason, 'worktree_removed');
  assert.ok((await d.req('GET', `/api/agents/${trained.id}`)).body.deletedAt);

  // A worktree of the same name and path can be made again.
  r = await d.req('POST', '/api/worktrees', { workspaceId: ws.id, name: 'busy', branch: 'busy' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.path, wt.path);
  await assertKept(d, trained, series);
});

test('agentd wt rm names the running agents and stops them only with --stop or --yes', async (t) => {
  const { d, wt, trained, live, series } = await setup(t);
  const cli = (...args) => run(['--data-dir', d.dataDir, ...args], { input: '' });
  const help = cli('wt', 'rm', '--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /archives its agents/);
  assert.match(help.stdout, /--yes/);

  let r = cli('wt', 'rm', 'busy');
  assert.equal(r.status, 1, r.stdout);
  assert.match(r.stderr, /live \(running\)/);
  assert.match(r.stderr, /--stop \(or --yes\)/);
  assert.ok(fs.existsSync(wt.path));
  process.kill(live.pid, 0);

  r = cli('wt', 'rm', '--yes', 'busy');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /removed: its folder is deleted \(its branch stays\); 2 agents archived, with their transcripts, runs and metrics/);
  assert.ok(!fs.existsSync(wt.path));
  assert.throws(() => process.kill(live.pid, 0), { code: 'ESRCH' });
  await assertKept(d, trained, series);
});

// The questions on a terminal (util-linux script(1) gives the command one):
// wt rm names the running agents and asks; rm --hard says what goes for
// good and asks. No is no.
test('on a terminal wt rm and rm --hard ask first, and no changes nothing', async (t) => {
  if (spawnSync('script', ['--version']).status !== 0) return t.skip('no script(1) to give the command a terminal');
  const { d, wt, trained, live, series } = await setup(t);
  const onTty = (answer, ...args) => {
    const cmd = [BIN, '--data-dir', d.dataDir, ...args].map((a) => `'${a}'`).join(' ');
    return spawnSync('script', ['-qec', cmd, '/dev/null'], { input: `${answer}\n`, encoding: 'utf8', timeout: 20000 });
  };
  let r = onTty('n', 'wt', 'rm', 'busy');
  assert.equal(r.status, 1, r.stdout);
  assert.match(r.stdout, /These agents of busy run:/);
  assert.match(r.stdout, new RegExp(`${live.id} live \\(running\\)`));
  assert.match(r.stdout, /Stop them, archive the worktree's agents and remove its folder\? \[y\/N\]/);
  assert.ok(fs.existsSync(wt.path));
  process.kill(live.pid, 0);

  r = onTty('n', 'rm', '--hard', 'trained');
  assert.equal(r.status, 1, r.stdout);
  assert.match(r.stdout, /Delete agent trained .* for good, with its transcript, runs and metrics\?/);
  assert.match(r.stdout, /not deleted/);
  assert.equal((await d.req('GET', `/api/agents/${trained.id}`)).status, 200);

  r = onTty('y', 'wt', 'rm', 'busy');
  assert.equal(r.status, 0, r.stdout);
  assert.match(r.stdout, /2 agents archived/);
  assert.ok(!fs.existsSync(wt.path));
  await assertKept(d, trained, series);
});

// `agentd rm` (archive) stops a running agent: it no longer does so
// unasked. Off a terminal it refuses (exit 2, naming what runs) unless
// --yes; on a terminal it names what runs and asks, and no is no. The
// defect it stops: rm archived and stopped a running agent without a word.
test('agentd rm of a running agent asks on a terminal, refuses elsewhere (exit 2) without --yes', async (t) => {
  const { d, trained, live } = await setup(t);
  const cli = (...args) => run(['--data-dir', d.dataDir, ...args], { input: '' });
  const archived = async (id) => Boolean((await d.req('GET', `/api/agents/${id}`)).body.deletedAt);

  let r = cli('rm', 'live');
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.match(r.stderr, new RegExp(`agent live \\(${live.id}\\) runs \\(running, pid ${live.pid}\\): archiving it stops it; nothing done \\(--yes archives it anyway\\)`));
  assert.equal(r.stdout, '');
  assert.equal(await archived(live.id), false);
  process.kill(live.pid, 0);

  // One that does not run is archived at once, without a question.
  r = cli('rm', 'trained');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `${trained.id} archived\n`);

  if (spawnSync('script', ['--version']).status === 0) {
    const onTty = (answer, ...args) => {
      const cmd = [BIN, '--data-dir', d.dataDir, ...args].map((a) => `'${a}'`).join(' ');
      return spawnSync('script', ['-qec', cmd, '/dev/null'], { input: `${answer}\n`, encoding: 'utf8', timeout: 20000 });
    };
    r = onTty('n', 'rm', 'live');
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, new RegExp(`Agent live \\(${live.id}\\) runs \\(running, pid ${live.pid}\\)\\. Stop it and archive it \\(its transcript, runs and metrics stay\\)\\? \\[y/N\\]`));
    assert.match(r.stdout, /not archived/);
    assert.equal(await archived(live.id), false);
    process.kill(live.pid, 0);
  }

  r = cli('rm', '--yes', 'live');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `${live.id} archived\n`);
  assert.equal(await archived(live.id), true);
  await until(() => {
    try { process.kill(live.pid, 0); return false; } catch (e) { return e.code === 'ESRCH'; }
  }, 'the archived agent\'s process to end');
});
