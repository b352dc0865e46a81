// SPDX-License-Identifier: MIT
// Jobs with progress (issue #17): a program's progress lines become
// job_progress events (and discovery_progress for discovery jobs), its
// result and status are recorded, GET /api/jobs/:id shows the live figures,
// stop ends it, bad input is refused, and jobs stay inside their org.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { startApi, assertError, request, until } = require('./lib/api');
const { Live } = require('./lib/live');

const JOB = path.resolve(__dirname, '../fixtures/progress-job.js');

let d;
test.before(async () => { d = await startApi(); });
test.after(async () => { await d.cleanup(); });

const ended = (id) => until(async () => {
  const r = await d.req('GET', `/api/jobs/${id}`);
  return r.body.status !== 'running' ? r.body : null;
}, `job ${id} to end`);

test('a job reports progress, a result and succeeds', async () => {
  const c = await Live.open(d, '/ws');
  c.send('subscribe', { topics: ['job:*'] });
  await c.next('subscribed');
  const r = await d.req('POST', '/api/jobs', { name: 'scan', command: [process.execPath, JOB, '5', '30'] });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.match(r.body.id, /^job_/);
  assert.equal(r.body.name, 'scan');
  assert.equal(r.body.kind, 'job');
  assert.deepEqual(r.body.command, [process.execPath, JOB, '5', '30']);
  assert.equal(r.body.orgId, 'org_default');
  const job = await ended(r.body.id);
  assert.equal(job.status, 'succeeded');
  assert.equal(job.progress, 1);
  assert.equal(job.stage, 'done');
  assert.equal(job.message, '5 of 5');
  assert.deepEqual(job.result, { found: 5, names: ['a', 'b'] });
  assert.equal(job.exitCode, 0);
  assert.match(job.output, /plain line 1\n[\s\S]*plain line 5\n/);
  assert.ok(job.endedAt);
  // Events: progress in order, ending at 1, then the job's end.
  await c.until(() => c.events.some((e) => e.type === 'job_update' && e.payload.status === 'succeeded'), 10000, 'job_update');
  const prog = c.events.filter((e) => e.type === 'job_progress' && e.payload.jobId === job.id);
  assert.ok(prog.length >= 2, `${prog.length} progress events`);
  const fr = prog.map((e) => e.payload.fraction);
  assert.ok(fr.every((x, i) => i === 0 || x >= fr[i - 1]), JSON.stringify(fr));
  assert.equal(fr[fr.length - 1], 1);
  assert.equal(prog[0].topic, `job:${job.id}`);
  assert.ok(!c.events.some((e) => e.type === 'discovery_progress'));
  // Listed, newest first.
  const l = await d.req('GET', '/api/jobs?limit=5');
  assert.equal(l.body.jobs[0].id, job.id);
  c.ws.close();
});

test('a discovery job also speaks the seed\'s discovery_progress; percent works too', async () => {
  const c = await Live.open(d, '/ws');
  c.send('subscribe', { topics: ['job:*'] });
  await c.next('subscribed');
  const r = await d.req('POST', '/api/jobs', { name: 'discover', kind: 'discovery', command: [process.execPath, JOB, '2', '20', '0', '--percent'] });
  assert.equal(r.status, 201);
  await ended(r.body.id);
  await c.until(() => c.events.some((e) => e.type === 'discovery_progress' && e.payload.fraction === 1), 10000, 'discovery_progress');
  const e = c.events.find((x) => x.type === 'discovery_progress');
  assert.equal(e.payload.jobId, r.body.id);
  assert.equal(e.payload.kind, 'discovery');
  c.ws.close();
});

test('a failing job fails; a running one shows live progress and can be stopped', async () => {
  let r = await d.req('POST', '/api/jobs', { name: 'bad', command: [process.execPath, JOB, '1', '1', '3'] });
  const bad = await ended(r.body.id);
  assert.equal(bad.status, 'failed');
  assert.equal(bad.exitCode, 3);
  r = await d.req('POST', '/api/jobs', { name: 'long', command: [process.execPath, JOB, '2', '10', '0', '--hang'] });
  const id = r.body.id;
  const live = await until(async () => {
    const x = await d.req('GET', `/api/jobs/${id}`);
    return x.body.progress === 1 ? x.body : null;
  }, 'live progress');
  assert.equal(live.status, 'running');
  assert.equal(live.stopping, false);
  const s = await d.req('POST', `/api/jobs/${id}/stop`, {});
  assert.equal(s.status, 202);
  const stopped = await ended(id);
  assert.equal(stopped.status, 'stopped');
  assertError(await d.req('POST', `/api/jobs/${id}/stop`, {}), 409, 'CONFLICT');
});

test('bad input is refused with 422 and nothing runs', async () => {
  const before = (await d.req('GET', '/api/jobs?limit=1000')).body.jobs.length;
  for (const [body, field] of [
    [{ command: ['true'] }, 'name'],
    [{ name: 'x' }, 'command'],
    [{ name: 'x', command: [] }, 'command'],
    [{ name: 'x', command: 'true' }, 'command'],
    [{ name: 'x', command: [''] }, 'command'],
    [{ name: 'x', command: ['/nonexistent/prog'] }, 'command'],
    [{ name: 'x', command: ['true'], kind: 'other' }, 'kind'],
    [{ name: 'x', command: ['true'], cwd: 'relative' }, 'cwd'],
    [{ name: 'x', command: ['true'], cwd: '/nonexistent-dir' }, 'cwd'],
    [{ name: 'x'.repeat(200), command: ['true'] }, 'name'],
  ]) {
    assertError(await d.req('POST', '/api/jobs', body), 422, 'VALIDATION_ERROR', field);
  }
  assertError(await d.req('POST', '/api/jobs', '{"name":'), 400, 'INVALID_JSON');
  assertError(await d.req('GET', '/api/jobs?limit=0'), 422, 'VALIDATION_ERROR', 'limit');
  assertError(await d.req('GET', '/api/jobs/job_nope'), 404, 'NOT_FOUND');
  assert.equal((await d.req('GET', '/api/jobs?limit=1000')).body.jobs.length, before);
});

test('jobs belong to their organisation; starting one needs admin', async () => {
  const r = await d.req('POST', '/api/jobs', { name: 'mine', command: ['true'] });
  await ended(r.body.id);
  const org = await d.req('POST', '/api/orgs', { name: 'jobs-b' });
  const tok = await d.req('POST', '/api/tokens', { name: 'jb', scope: 'admin', orgId: org.body.id });
  const b = { authorization: `Bearer ${tok.body.token}` };
  assert.equal((await request(d.url, 'GET', `/api/jobs/${r.body.id}`, undefined, b)).status, 404);
  assert.deepEqual((await request(d.url, 'GET', '/api/jobs', undefined, b)).body.jobs, []);
  const own = await request(d.url, 'POST', '/api/jobs', { name: 'b-job', command: ['true'] }, b);
  assert.equal(own.status, 201);
  assert.equal(own.body.orgId, org.body.id);
  const w = await d.req('POST', '/api/tokens', { name: 'jw', scope: 'write' });
  assertError(await request(d.url, 'POST', '/api/jobs', { name: 'x', command: ['true'] },
    { authorization: `Bearer ${w.body.token}` }), 403, 'FORBIDDEN');
});

test('a job a dead daemon left running is marked lost', async () => {
  const x = await startApi({ keepDataDir: true });
  // (a job that ends by itself 3 s on: nobody is left to stop it)
  const r = await x.req('POST', '/api/jobs', { name: 'orphan', command: [process.execPath, JOB, '2', '3000'] });
  assert.equal(r.status, 201);
  x.proc.kill('SIGKILL');
  await x.exit;
  const y = await startApi({ dataDir: x.dataDir });
  try {
    const j = await y.req('GET', `/api/jobs/${r.body.id}`);
    assert.equal(j.body.status, 'lost');
    assert.match(j.body.message, /agentd stopped/);
  } finally {
    await y.cleanup();
    require('node:fs').rmSync(x.dataDir, { recursive: true, force: true });
  }
});

test('a running job shows what it printed so far (its log), not only at its end', async () => {
  // A shell job: a plain line, then it waits until stopped.
  const r = await d.req('POST', '/api/jobs', { name: 'chatty', command: ['/bin/sh', '-c', 'echo warming up; echo "oops" >&2; exec sleep 600'] });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const live = await until(async () => {
    const x = await d.req('GET', `/api/jobs/${r.body.id}`);
    return x.body.status === 'running' && /warming up/.test(x.body.output || '') ? x.body : null;
  }, 'the running job\'s output');
  assert.match(live.output, /oops/);
  const list = await d.req('GET', '/api/jobs?limit=5');
  assert.match(list.body.jobs.find((j) => j.id === r.body.id).output, /warming up/);
  assert.equal((await d.req('POST', `/api/jobs/${r.body.id}/stop`, {})).status, 202);
  const end = await ended(r.body.id);
  assert.match(end.output, /warming up/);
});
