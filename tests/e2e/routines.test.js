// SPDX-License-Identifier: MIT
// Routines (issue #75, docs/routines.md): saved agents that run themselves.
// An interval routine fires on its own and its runs are listed, newest
// first, each an agent named after it; a webhook routine starts a run only
// for a delivery signed with its secret (GitHub's X-Hub-Signature-256), and
// the body reaches the run as the file AGENTD_TRIGGER_PAYLOAD names and in
// its prompt; forge events filter deliveries; limits refuse a fire with a
// recorded reason; a fire missed while agentd was down is handled as the
// routine chose; another org's routine is a 404.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { api, until, startWithWorktree, allMessages, testRun } = require('./lib/api');

const sh = (script) => ({ executor: 'command', command: ['sh', '-c', script] });

function sign(secret, body) {
  return `sha256=${crypto.createHmac('sha256', secret).update(body).digest('hex')}`;
}

// A delivery to the hook, with no credentials but its signature.
async function deliver(d, id, body, headers = {}) {
  const res = await fetch(`${d.url}/api/hooks/${id}`, {
    method: 'POST', body, headers: { 'content-type': 'application/json', ...headers },
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: res.status, body: json };
}

async function runs(d, id) {
  const r = await api(d, 'GET', `/api/routines/${id}/runs`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.runs;
}

// The routine's run (by id) once it has ended (not queued, starting, running).
async function ended(d, routine, runId, what) {
  return until(async () => {
    const r = (await runs(d, routine)).find((x) => x.id === runId);
    return r && !['queued', 'starting', 'running'].includes(r.status) ? r : null;
  }, what);
}

async function said(d, agentId) {
  return (await allMessages(d, agentId)).filter((m) => m.role === 'assistant').map((m) => m.content).join('\n');
}

test('an interval routine fires on its own, twice; its runs are listed newest first', async () => {
  const { d, dir, wt } = await startWithWorktree();
  try {
    const r = await api(d, 'POST', '/api/routines', {
      name: 'ticker', worktreeId: wt, agent: sh('echo "tick $AGENTD_ROUTINE_RUN_ID"'), trigger: { every: '2s' },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.secret, undefined, 'no secret for an interval routine');
    assert.ok(r.body.nextFireAt, JSON.stringify(r.body));
    const id = r.body.id;
    const two = await until(async () => {
      const list = (await runs(d, id)).filter((x) => x.status === 'succeeded');
      return list.length >= 2 ? list : null;
    }, 'two runs of the interval routine to succeed');
    const all = await runs(d, id);
    for (let i = 1; i < all.length; i++) assert.ok(all[i - 1].createdAt >= all[i].createdAt, 'newest first');
    assert.equal(two[0].source, 'interval');
    const agent = (await api(d, 'GET', `/api/agents/${two[0].agentId}`)).body;
    assert.match(agent.name, /^ticker /);
    assert.equal(agent.worktreeId, wt);
    assert.match(await said(d, two[0].agentId), new RegExp(`tick ${two[0].id}`));
    // listed, readable, and stopped by a PATCH
    assert.deepEqual((await api(d, 'GET', '/api/routines')).body.routines.map((x) => x.id), [id]);
    // a rename keeps the schedule, a new trigger moves it; pausing ends it
    const hourly = (await api(d, 'POST', '/api/routines', { name: 'hourly', worktreeId: wt, agent: sh('true'), trigger: { every: '1h' } })).body;
    const renamed = await api(d, 'PATCH', `/api/routines/${hourly.id}`, { name: 'hourly2' });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    assert.equal(renamed.body.name, 'hourly2');
    assert.equal(renamed.body.nextFireAt, hourly.nextFireAt);
    const moved = (await api(d, 'PATCH', `/api/routines/${hourly.id}`, { trigger: { every: '2h' } })).body;
    assert.ok(Date.parse(moved.nextFireAt) > Date.parse(hourly.nextFireAt) + 3000 * 1000, JSON.stringify(moved));
    assert.equal((await api(d, 'PATCH', `/api/routines/${hourly.id}`, { nope: 1 })).status, 422);
    assert.equal((await api(d, 'DELETE', `/api/routines/${hourly.id}`)).status, 200);
    const p = await api(d, 'PATCH', `/api/routines/${id}`, { enabled: false });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    assert.equal(p.body.enabled, false);
    assert.equal(p.body.nextFireAt, null);
    // the audit names who made it
    const audit = (await api(d, 'GET', '/api/audit?limit=200')).body;
    const rows = audit.entries || audit.audit || audit.rows || [];
    assert.ok(JSON.stringify(rows).includes(`routine ${id} (every) made`), JSON.stringify(rows).slice(0, 2000));
    // and its runs' requests are the routine's own: its agents made as routine:<id>
    assert.ok(rows.some((x) => JSON.stringify(x).includes(`routine:${id}`) && JSON.stringify(x).includes('/api/agents')),
      JSON.stringify(rows.filter((x) => JSON.stringify(x).includes('routine'))).slice(0, 2000));
    assert.equal((await api(d, 'DELETE', `/api/routines/${id}`)).status, 200);
    assert.equal((await api(d, 'GET', `/api/routines/${id}`)).status, 404);
  } finally {
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a webhook: a good signature starts a run with the payload, a bad one is 401 and starts nothing', async () => {
  const { d, dir, wt } = await startWithWorktree();
  try {
    const r = await api(d, 'POST', '/api/routines', {
      name: 'hooked', worktreeId: wt, trigger: { webhook: true },
      agent: { ...sh('for i in 1 2 3 4 5; do read l; echo "p$i: $l"; done; echo "file: $(cat "$AGENTD_TRIGGER_PAYLOAD")"'), prompt: 'look' },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const { id, secret, hookPath } = r.body;
    assert.ok(secret && secret.length >= 32, 'the secret, shown once');
    assert.equal(hookPath, `/api/hooks/${id}`);
    assert.equal((await api(d, 'GET', `/api/routines/${id}`)).body.secret, undefined, 'never shown again');

    const body = JSON.stringify({ action: 'opened', number: 7, title: 'héllo' });
    // unsigned, badly signed, signed with another secret, for an unknown routine: 401, nothing started
    assert.equal((await deliver(d, id, body)).status, 401);
    assert.equal((await deliver(d, id, body, { 'x-hub-signature-256': 'sha256=' + '0'.repeat(64) })).status, 401);
    assert.equal((await deliver(d, id, body, { 'x-hub-signature-256': sign('not the secret', body) })).status, 401);
    assert.equal((await deliver(d, id, body, { 'x-hub-signature-256': sign(secret, body + ' ') })).status, 401);
    assert.equal((await deliver(d, 'rt_nope', body, { 'x-hub-signature-256': sign(secret, body) })).status, 401);
    assert.deepEqual(await runs(d, id), []);

    const ok = await deliver(d, id, body, { 'x-hub-signature-256': sign(secret, body) });
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    assert.equal(ok.body.source, 'webhook');
    const run = await ended(d, id, ok.body.id, 'the webhook run to end');
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    const out = await said(d, run.agentId);
    assert.match(out, /p1: look/);
    assert.match(out, /p3: The trigger's payload \(the file \$AGENTD_TRIGGER_PAYLOAD, \/.*agentd-payloads\/rtr_/);
    assert.ok(out.includes(`p5: ${body}`), `the payload quoted into the prompt: ${out}`);
    assert.ok(out.includes(`file: ${body}`), out);
    // the file went with the run's end
    const file = /\$AGENTD_TRIGGER_PAYLOAD, (\/\S+\.json)\)/.exec(out)[1];
    assert.match(file, new RegExp(`/agentd-payloads/${run.id}\\.json$`));
    assert.equal(fs.existsSync(file), false, file);

    // rotated: the old secret no longer signs
    const rot = await api(d, 'PATCH', `/api/routines/${id}`, { rotateSecret: true });
    assert.equal(rot.status, 200, JSON.stringify(rot.body));
    assert.notEqual(rot.body.secret, secret);
    assert.equal((await deliver(d, id, body, { 'x-hub-signature-256': sign(secret, body) })).status, 401);
    assert.equal((await deliver(d, id, body, { 'x-hub-signature-256': sign(rot.body.secret, body) })).status, 202);
    // GitLab's shared token
    assert.equal((await deliver(d, id, body, { 'x-gitlab-token': rot.body.secret })).status, 202);
    assert.equal((await deliver(d, id, body, { 'x-gitlab-token': secret })).status, 401);
  } finally {
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a webhook run in a worktree whose .git file an agent rewrote writes no payload where it points', async () => {
  const { d, dir, wt } = await startWithWorktree();
  const elsewhere = fs.mkdtempSync(path.join(dir, '..', 'agentd-elsewhere-'));
  try {
    const main = (await api(d, 'GET', '/api/worktrees')).body.worktrees.find((w) => w.id === wt);
    const alt = await api(d, 'POST', '/api/worktrees', { workspaceId: main.workspaceId, name: 'alt', branch: 'alt', createBranch: true, base: main.branch });
    assert.equal(alt.status, 201, JSON.stringify(alt.body));
    const r = await api(d, 'POST', '/api/routines', {
      name: 'hooked', worktreeId: alt.body.id, trigger: { webhook: true }, agent: { ...sh('cat "$AGENTD_TRIGGER_PAYLOAD"'), prompt: 'look' },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    // what an agent in that worktree may write: its .git file, naming another folder
    fs.writeFileSync(path.join(alt.body.path, '.git'), `gitdir: ${elsewhere}\n`);
    const body = JSON.stringify({ action: 'opened' });
    const ok = await deliver(d, r.body.id, body, { 'x-hub-signature-256': sign(r.body.secret, body) });
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    const run = await ended(d, r.body.id, ok.body.id, 'the webhook run to end');
    assert.equal(run.status, 'failed', JSON.stringify(run));
    assert.deepEqual(fs.readdirSync(elsewhere), [], 'nothing written where the rewritten .git file points');
  } finally {
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(elsewhere, { recursive: true, force: true });
  }
});

test('forge events: only the deliveries the routine lists start a run', async () => {
  const { d, dir, wt } = await startWithWorktree();
  try {
    const r = await api(d, 'POST', '/api/routines', {
      name: 'ci-fixer', worktreeId: wt, agent: sh('cat "$AGENTD_TRIGGER_PAYLOAD"'),
      trigger: { webhook: true, events: ['pull_request.opened', 'check_run.failed', 'issues.labeled'] },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const { id, secret } = r.body;
    const send = (event, payload) => {
      const body = JSON.stringify(payload);
      return deliver(d, id, body, { 'x-github-event': event, 'x-hub-signature-256': sign(secret, body) });
    };
    assert.equal((await send('ping', { zen: 'hi' })).status, 200);
    let x = await send('pull_request', { action: 'closed' });
    assert.equal(x.status, 202);
    assert.equal(x.body.ignored, true);
    x = await send('check_run', { action: 'completed', check_run: { conclusion: 'success' } });
    assert.equal(x.body.ignored, true);
    assert.deepEqual(await runs(d, id), []);
    x = await send('check_run', { action: 'completed', check_run: { conclusion: 'failure', name: 'unit' } });
    assert.equal(x.status, 202, JSON.stringify(x.body));
    assert.equal(x.body.source, 'event');
    const run = await ended(d, id, x.body.id, 'the check-run routine to end');
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    assert.match(await said(d, run.agentId), /"conclusion":"failure"/);
  } finally {
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('limits refuse a fire with its reason; bad bodies are 422; another org sees nothing', async () => {
  const { d, dir, wt } = await startWithWorktree();
  try {
    const bad = [
      [{ name: 'x', worktreeId: wt, trigger: { every: '10 minutes' } }, 'trigger.every'],
      [{ name: 'x', worktreeId: wt, trigger: { cron: '61 * * * *' } }, 'trigger.cron'],
      [{ name: 'x', worktreeId: wt, trigger: { cron: '0 3 * * *', tz: 'Mars/Olympus' } }, 'trigger.tz'],
      [{ name: 'x', worktreeId: wt, trigger: { cron: '0 3 * * *', tz: '../../etc/passwd' } }, 'trigger.tz'],
      [{ name: 'x', worktreeId: wt, trigger: { every: '1h', webhook: true } }, 'trigger'],
      [{ name: 'x', trigger: { every: '1h' } }, 'worktreeId'],
      [{ name: 'x', worktreeId: wt, trigger: { every: '1h' }, limits: { concurrent: 0 } }, 'limits.concurrent'],
      [{ name: 'x', worktreeId: wt, trigger: { every: '1h' }, agent: { executor: 'nope' } }, 'executor'],
    ];
    for (const [body, field] of bad) {
      const r = await api(d, 'POST', '/api/routines', body);
      assert.equal(r.status, 422, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.details.field, field, JSON.stringify(r.body));
    }
    assert.deepEqual((await api(d, 'GET', '/api/routines')).body.routines, []);

    // one run a day: the second fire is skipped, saying why
    const r = await api(d, 'POST', '/api/routines', {
      name: 'once-a-day', worktreeId: wt, agent: sh('echo ok'), trigger: { webhook: true }, limits: { runsPerDay: 1 },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const id = r.body.id;
    const first = await api(d, 'POST', `/api/routines/${id}/run`, {});
    assert.equal(first.status, 202, JSON.stringify(first.body));
    assert.equal(first.body.source, 'manual');
    const second = await api(d, 'POST', `/api/routines/${id}/run`, {});
    assert.equal(second.body.status, 'skipped');
    assert.match(second.body.reason, /1 runs a day/);
    assert.equal((await ended(d, id, first.body.id, 'the manual run')).status, 'succeeded');

    // a read token may look, not fire; another org's token sees a 404
    const reader = (await api(d, 'POST', '/api/tokens', { name: 'r', scope: 'read' })).body.token;
    const rh = { authorization: `Bearer ${reader}` };
    assert.equal((await api(d, 'GET', `/api/routines/${id}`, undefined, rh)).status, 200);
    assert.equal((await api(d, 'POST', `/api/routines/${id}/run`, {}, rh)).status, 403);
    const org = await api(d, 'POST', '/api/orgs', { name: 'routines b' });
    const tok = await api(d, 'POST', '/api/tokens', { name: 'b', scope: 'admin', orgId: org.body.id });
    const b = { authorization: `Bearer ${tok.body.token}` };
    assert.equal((await api(d, 'GET', `/api/routines/${id}`, undefined, b)).status, 404);
    assert.equal((await api(d, 'GET', `/api/routines/${id}/runs`, undefined, b)).status, 404);
    assert.equal((await api(d, 'POST', `/api/routines/${id}/run`, {}, b)).status, 404);
    assert.equal((await api(d, 'PATCH', `/api/routines/${id}`, { name: 'y' }, b)).status, 404);
    assert.equal((await api(d, 'DELETE', `/api/routines/${id}`, undefined, b)).status, 404);
    assert.deepEqual((await api(d, 'GET', '/api/routines', undefined, b)).body.routines, []);
    const other = await api(d, 'POST', '/api/routines', { name: 'x', worktreeId: wt, trigger: { every: '1h' } }, b);
    assert.equal(other.status, 404, JSON.stringify(other.body));
    assert.equal((await runs(d, id)).length, 2, 'nothing more ran');
  } finally {
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a fresh worktree per run from a base branch', async () => {
  const { d, dir } = await startWithWorktree();
  try {
    const ws = (await api(d, 'GET', '/api/workspaces')).body.workspaces[0];
    const r = await api(d, 'POST', '/api/routines', {
      name: 'fresh', workspaceId: ws.id, baseBranch: 'main', agent: sh('git rev-parse --abbrev-ref HEAD'), trigger: { webhook: true },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const fire = await api(d, 'POST', `/api/routines/${r.body.id}/run`, {});
    const run = await ended(d, r.body.id, fire.body.id, 'the fresh-worktree run');
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    const wt = (await api(d, 'GET', `/api/worktrees/${run.worktreeId}`)).body;
    assert.match(wt.branch, /^routine-/);
    assert.match(await said(d, run.agentId), /^routine-/m);
  } finally {
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('fires missed while agentd was down: skip, once or all, as each routine chose', async () => {
  const dataDir = daemon.tmpDir();
  const repo = daemon.tmpRepo('agentd-wt-');
  let d = await daemon.start({ dataDir, needUrl: true });
  try {
    const ws = await api(d, 'POST', '/api/workspaces', { path: repo, name: 'w' });
    const wt = ws.body.worktrees[0].id;
    const ids = {};
    for (const missed of ['skip', 'once', 'all']) {
      const r = await api(d, 'POST', '/api/routines', {
        name: `m-${missed}`, worktreeId: wt, agent: sh('echo ran'), trigger: { every: '1h' }, missed, limits: { concurrent: 10 },
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      ids[missed] = r.body.id;
    }
    await d.stop();
    // back three and a half hours later (the test build's clock moved on):
    // three fires were missed
    d = await daemon.start({ dataDir, needUrl: true, env: { AGENTD_TEST_ROUTINE_SHIFT_MS: String(3.5 * 3600 * 1000) } });
    const settled = async (id, n) => until(async () => {
      const list = await runs(d, id);
      return list.length >= n && list.every((x) => !['queued', 'starting', 'running'].includes(x.status)) ? list : null;
    }, `the missed fires of ${id}`);
    const skip = await settled(ids.skip, 1);
    assert.equal(skip.length, 1, JSON.stringify(skip));
    assert.equal(skip[0].status, 'skipped');
    assert.match(skip[0].reason, /missed: 3 fire/);
    const once = await settled(ids.once, 1);
    assert.equal(once.length, 1, JSON.stringify(once));
    assert.equal(once[0].status, 'succeeded');
    const all = await settled(ids.all, 3);
    assert.equal(all.length, 3, JSON.stringify(all));
    assert.ok(all.every((x) => x.status === 'succeeded'), JSON.stringify(all));
    // each moved to its next fire, an hour after the last missed one
    for (const id of Object.values(ids)) {
      const r = (await api(d, 'GET', `/api/routines/${id}`)).body;
      assert.ok(Date.parse(r.nextFireAt) > Date.now() + 3.5 * 3600 * 1000, JSON.stringify(r));
    }
  } finally {
    await d.cleanup();
    fs.rmSync(repo, { recursive: true, force: true });
  }
});

test('agentd routine ls|new|run|runs|rm', async () => {
  const { d, dir } = await startWithWorktree();
  const cli = (...args) => daemon.runAsync(['--data-dir', d.dataDir, 'routine', ...args], { timeout: 60000 });
  try {
    let r = await cli('new', 'nightly', '--worktree', 'main', '--cron', '0 3 * * 1-5', '--tz', 'Europe/Paris',
      '--runs-per-day', '2', '--', 'sh', '-c', 'echo from-cli');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /nightly\s+on\s+cron 0 3 \* \* 1-5 Europe\/Paris/);
    r = await cli('new', 'hook', '--worktree', 'main', '--webhook', '--json', '--', 'true');
    assert.equal(r.status, 0, r.stderr);
    const hook = JSON.parse(r.stdout);
    assert.ok(hook.secret, r.stdout);
    r = await cli('new', 'bad', '--worktree', 'main', '--every', 'often', '--', 'true');
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stderr, /trigger\.every/);
    r = await cli('ls');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /nightly/);
    assert.match(r.stdout, /hook\s+on\s+webhook/);
    r = await cli('run', 'nightly');
    assert.equal(r.status, 0, r.stderr);
    const runId = r.stdout.split(/\s+/)[0];
    assert.match(runId, /^rtr_/);
    const rt = (await api(d, 'GET', '/api/routines')).body.routines.find((x) => x.name === 'nightly');
    const run = await ended(d, rt.id, runId, 'the CLI run');
    assert.equal(run.status, 'succeeded');
    assert.match(await said(d, run.agentId), /from-cli/);
    r = await cli('runs', 'nightly');
    assert.match(r.stdout, new RegExp(`${runId}\\s+manual\\s+succeeded`));
    r = await cli('rm', 'nightly');
    assert.equal(r.status, 0, r.stderr);
    r = await cli('run', 'nightly');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no routine named nightly/);
  } finally {
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an overlapping fire: queued once behind the running run, then started when it ends; more are skipped', async () => {
  const { d, dir, wt } = await startWithWorktree({ args: ['--stop-grace-ms', '300'] });
  try {
    const r = await api(d, 'POST', '/api/routines', {
      name: 'slow', worktreeId: wt, agent: sh('echo started; sleep 600'), trigger: { webhook: true }, missed: 'once',
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const id = r.body.id;
    const first = (await api(d, 'POST', `/api/routines/${id}/run`, {})).body;
    assert.equal(first.status, 'starting', JSON.stringify(first));
    const second = (await api(d, 'POST', `/api/routines/${id}/run`, {})).body;
    assert.equal(second.status, 'queued', JSON.stringify(second));
    const third = (await api(d, 'POST', `/api/routines/${id}/run`, {})).body;
    assert.equal(third.status, 'skipped', JSON.stringify(third));
    assert.match(third.reason, /overlap/);
    const running = await until(async () => (await runs(d, id)).find((x) => x.id === first.id && x.status === 'running'), 'the first run running');
    // its agent stopped: the run ends stopped, and the queued one starts
    assert.equal((await api(d, 'POST', `/api/agents/${running.agentId}/stop?wait=true`)).status, 200);
    const ended1 = await ended(d, id, first.id, 'the first run to end');
    assert.equal(ended1.status, 'stopped', JSON.stringify(ended1));
    const next = await until(async () => (await runs(d, id)).find((x) => x.id === second.id && x.status === 'running'), 'the queued run to start');
    assert.notEqual(next.agentId, running.agentId);
    assert.equal((await api(d, 'POST', `/api/agents/${next.agentId}/stop?wait=true`)).status, 200);
    await ended(d, id, second.id, 'the second run to end');
  } finally {
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a routine made with a token stops running once that token is revoked', async () => {
  const { d, dir, wt } = await startWithWorktree();
  try {
    const tok = await api(d, 'POST', '/api/tokens', { name: 'maker', scope: 'admin' });
    const h = { authorization: `Bearer ${tok.body.token}` };
    const r = await api(d, 'POST', '/api/routines', { name: 'made', worktreeId: wt, agent: sh('echo ok'), trigger: { webhook: true } }, h);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.match(r.body.createdBy, new RegExp(`maker ${tok.body.id}`));
    const ok = (await api(d, 'POST', `/api/routines/${r.body.id}/run`, {})).body;
    assert.equal((await ended(d, r.body.id, ok.id, 'the run while the token lives')).status, 'succeeded');
    assert.equal(Math.floor((await api(d, 'DELETE', `/api/tokens/${tok.body.id}`)).status / 100), 2);
    const after = (await api(d, 'POST', `/api/routines/${r.body.id}/run`, {})).body;
    const run = await ended(d, r.body.id, after.id, 'the run after the revocation');
    assert.equal(run.status, 'failed', JSON.stringify(run));
    assert.match(run.reason, /maker's token .* was revoked/);
    assert.equal(run.agentId, '', 'no agent was made');
  } finally {
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('agentd stops cleanly while a routine fires every second', async () => {
  const { d, dir, wt } = await startWithWorktree({ args: ['--stop-grace-ms', '300'] });
  try {
    const r = await api(d, 'POST', '/api/routines', {
      name: 'busy', worktreeId: wt, agent: sh('sleep 30'), trigger: { every: '1s' }, limits: { concurrent: 5 },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    await until(async () => (await runs(d, r.body.id)).filter((x) => x.status === 'running').length >= 2, 'two runs going');
  } finally {
    const exit = await d.stop();
    assert.equal(exit.code, 0, JSON.stringify(exit));
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('cost limits: a run past its cost a run is stopped over_budget; past the cost a day, a fire is skipped', async () => {
  const { d, dir, wt } = await startWithWorktree({ args: ['--stop-grace-ms', '300'] });
  try {
    const r = await api(d, 'POST', '/api/routines', {
      name: 'costly', worktreeId: wt, agent: sh('sleep 60'), trigger: { webhook: true },
      limits: { costPerRunUsd: 0.5, costPerDayUsd: 0.8 },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const id = r.body.id;
    const going = async (runId) => until(async () => (await runs(d, id)).find((x) => x.id === runId && x.status === 'running'), 'the run going');
    const first = (await api(d, 'POST', `/api/routines/${id}/run`, {})).body;
    const a = await going(first.id);
    await testRun(d, a.agentId, 'succeeded', { costUsd: 0.6 }); // its agent spent 0.60 USD
    const over = await ended(d, id, first.id, 'the first run past its cost');
    assert.equal(over.status, 'over_budget', JSON.stringify(over));
    assert.match(over.reason, /0\.6000 USD passed the limit of 0\.5000/);
    await until(async () => (await api(d, 'GET', `/api/agents/${a.agentId}`)).body.status !== 'running', 'its agent stopped');

    const second = (await api(d, 'POST', `/api/routines/${id}/run`, {})).body;
    const b = await going(second.id);
    await testRun(d, b.agentId, 'succeeded', { costUsd: 0.3 });
    await until(async () => (await runs(d, id)).find((x) => x.id === second.id && x.costUsd >= 0.3), 'the second run\'s cost seen');
    const third = (await api(d, 'POST', `/api/routines/${id}/run`, {})).body;
    assert.equal(third.status, 'skipped', JSON.stringify(third));
    assert.match(third.reason, /limit of 0\.80 USD a day is reached \(0\.90 spent\)/);
    await api(d, 'POST', `/api/agents/${b.agentId}/stop?wait=true`);
  } finally {
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
