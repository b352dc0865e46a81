// SPDX-License-Identifier: MIT
// Issue #78, "health is the truth at once": what goes wrong is in
// /api/health within a second, with a reason a person can act on, and in
// the transcript of the run it touches. PostgreSQL stopped: health said
// `status: ok` beside `database.up: false` for up to 15 s; now `degraded`
// within a second. A holder killed (kill -9 of the run's agentd-hold):
// the run ended "lost: the process could not be reaped" and nothing in its
// transcript said what happened; now the transcript explains it and health
// lists the run and says degraded.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { api, until, startWithWorktree, commandAgent, allMessages } = require('./lib/api');
const { startPostgres, PG_BIN } = require('./lib/pg');

const skipPg = fs.existsSync(path.join(PG_BIN, 'pg_ctl')) ? false
  : `PostgreSQL 15 is not installed (${PG_BIN}/pg_ctl): install the Debian package postgresql`;

// Polls health until ok(body) holds, at most ms; the answer and how long it took.
async function healthWithin(d, ok, ms) {
  const t0 = Date.now();
  for (;;) {
    const h = await api(d, 'GET', '/api/health');
    if (h.status === 200 && ok(h.body)) return { h, ms: Date.now() - t0 };
    if (Date.now() - t0 > ms) return { h, ms: null };
    await new Promise((res) => setTimeout(res, 25));
  }
}

test('PostgreSQL stopped: health degraded within a second, with the reason', { skip: skipPg }, async () => {
  const pg = await startPostgres();
  const dataDir = daemon.tmpDir();
  let d = null;
  try {
    pg.createDb('healthnow');
    d = await daemon.start({ dataDir, needUrl: true, env: { AGENTD_DATABASE_URL: pg.tcpUrl('healthnow') } });
    const h0 = await api(d, 'GET', '/api/health');
    assert.equal(h0.body.database.up, true, h0.text);
    assert.equal(h0.body.status, 'ok', h0.text);
    pg.halt();
    // nothing else asks the database: health alone must find it away
    const { h, ms } = await healthWithin(d, (b) => b.status === 'degraded', 2000);
    assert.ok(ms !== null, `health still ${h.body.status} (database.up ${h.body.database.up}) 2 s after PostgreSQL stopped: ${h.text}`);
    assert.ok(ms <= 1200, `degraded after ${ms} ms`);
    assert.equal(h.body.database.up, false, h.text);
    assert.ok(h.body.statusReasons.some((s) => /^the database is unreachable: .+check the database server/.test(s)), h.text);
    await pg.resume();
    const back = await healthWithin(d, (b) => b.status === 'ok' && b.database.up, 20000);
    assert.ok(back.ms !== null, back.h.text);
  } finally {
    if (d) await d.cleanup();
    pg.stop();
  }
});

test('a holder killed: the run\'s transcript says what happened, health lists it at once', { skip: daemon.PG_MODE ? 'one pass is enough' : false }, async () => {
  const dataDir = daemon.tmpDir();
  const { d, dir, wt } = await startWithWorktree({ dataDir, args: ['--stop-grace-ms', '300'] });
  let agentPid = 0;
  try {
    const id = await commandAgent(d, wt, ['sh', '-c', 'echo up; exec sleep 600']);
    const s = await api(d, 'POST', `/api/agents/${id}/start`, {});
    assert.equal(s.status, 200, s.text);
    agentPid = s.body.pid;
    await until(async () => (await allMessages(d, id)).some((m) => m.content.includes('up')), 'output');
    const h0 = await api(d, 'GET', '/api/health');
    const holder = h0.body.processes.holders.find((x) => x.agentId === id);
    assert.ok(holder && holder.pid > 0, h0.text);
    assert.equal(h0.body.status, 'ok', h0.text);
    process.kill(holder.pid, 'SIGKILL');
    const { h, ms } = await healthWithin(d, (b) => b.runs.lost.some((r) => r.agentId === id), 2000);
    assert.ok(ms !== null && ms <= 1200, `the lost run not in health within a second: ${h.text}`);
    assert.equal(h.body.status, 'degraded', h.text);
    const lost = h.body.runs.lost.find((r) => r.agentId === id);
    assert.match(lost.reason, /holder \(agentd-hold\) was killed or died/);
    assert.ok(h.body.statusReasons.some((x) => x.includes(lost.runId) && /start the agent again/.test(x)), h.text);
    const run = await until(async () => {
      const r = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0];
      return r.status !== 'running' ? r : null;
    }, 'the run\'s end stored');
    assert.equal(run.status, 'lost');
    // the transcript says what happened, what it means, what to do
    const note = await until(async () => (await allMessages(d, id))
      .find((m) => m.role === 'system' && /this run is lost/.test(m.content)), 'the note in the transcript');
    assert.match(note.content, /holder \(agentd-hold/);
    assert.match(note.content, /not recorded/);
    assert.match(note.content, new RegExp(`pid ${agentPid}\\) and its children may still be running: end them by hand \\(kill -- -${agentPid}\\)`));
    assert.match(note.content, /start the agent again/);
    // started again: no longer listed, health ok again
    if (agentPid > 0) { try { process.kill(-agentPid, 'SIGKILL'); } catch (_) { /* gone */ } }
    const again = await api(d, 'POST', `/api/agents/${id}/start`, {});
    assert.equal(again.status, 200, again.text);
    agentPid = again.body.pid;
    const ok = await healthWithin(d, (b) => !b.runs.lost.some((r) => r.agentId === id), 2000);
    assert.ok(ok.ms !== null, ok.h.text);
  } finally {
    if (agentPid > 0) { try { process.kill(-agentPid, 'SIGKILL'); } catch (_) { /* gone */ } }
    await d.cleanup();
    daemon.endHolders(dataDir);
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
