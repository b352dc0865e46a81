// SPDX-License-Identifier: MIT
// Seed fidelity in a browser (issue #40): each seed's own client
// (tests/fixtures/seed-clients, written from the seed's text) runs its main
// flows (flows.js) in Chromium, on a page of another origin as each seed's
// frontend is (its own dev server, VITE_API_URL pointing at agentd), with
// the browser's own fetch and WebSocket: CORS preflights for its headers,
// its token as the only Sec-WebSocket-Protocol value (a browser fails a
// handshake that names none back), the 4401 close. agentd lists that
// origin in --cors-origins; nothing else is set for the seeds. The same
// flows run in node in tests/e2e/seed-clients.test.js.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { api, daemon, launch, makeRepo, ROOT, until } from './lib/harness.mjs';

const require = createRequire(import.meta.url);
const mockAnthropic = require('../fixtures/mock-anthropic.js');
const CLIENTS = path.join(ROOT, 'tests/fixtures/seed-clients');
const JOB = path.join(ROOT, 'tests/fixtures/progress-job.js');
const KEY = 'sk-ant-api03-e2e-SEEDB-key-0123456789-wxyz';
const FILES = ['seed000.js', 'seed001.js', 'seed002.js', 'seed003.js', 'flows.js'];

let site; // the seeds' page, on an origin of its own
let origin;
let d; // tokens as usual: 000, 002, 003
let open; // --auth none: 001, whose client sends no credential
let mock;
let b;

before(async () => {
  site = http.createServer((req, res) => {
    const name = req.url === '/' ? null : path.basename(req.url);
    if (name === null) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><title>seeds</title>${FILES.map((f) => `<script src="/${f}"></script>`).join('')}<p id=ok>ready</p>`);
    } else if (FILES.includes(name)) {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
      res.end(fs.readFileSync(path.join(CLIENTS, name)));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => site.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${site.address().port}`;
  mock = await mockAnthropic.start({ direct: true, apiKey: KEY, rules: [] });
  d = await daemon.start({
    needUrl: true,
    args: ['--cors-origins', origin, '--health-interval-ms', '200', '--health-event-interval-ms', '300', '--nvml-lib', '/nonexistent/libnvidia-ml.so.1'],
  });
  open = await daemon.start({
    needUrl: true,
    args: ['--auth', 'none', '--cors-origins', origin],
  });
  assert.equal(
    (
      await api(d.url, 'PUT', '/api/credentials/anthropic', {
        apiKey: KEY,
        baseUrl: mock.url,
      })
    ).status,
    200,
  );
  b = await launch();
  await b.page.goto(origin + '/');
  await b.page.locator('#ok').waitFor();
});

after(async () => {
  if (b) await b.close();
  if (d) await d.cleanup();
  if (open) await open.cleanup();
  if (mock) await mock.close();
  if (site) site.close();
});

const ws = (x) => x.url.replace('http', 'ws');
const run = (name, ctx) => b.page.evaluate(([n, c]) => window.SeedFlows[n](c), [name, ctx]);

test('seed 000 in Chromium: System Health renders, the commands drive an agent and a discovery', async () => {
  const wt = (await api(d.url, 'POST', '/api/workspaces', { path: makeRepo() })).data.worktrees[0].id;
  const agent = (
    await api(d.url, 'POST', '/api/agents', {
      worktreeId: wt,
      name: 'trainer',
      executor: 'command',
      command: ['sleep', '60'],
    })
  ).data;
  // the owner names the program a discovery of an environment runs
  const set = await api(d.url, 'PATCH', '/api/settings', { discovery_command: [process.execPath, JOB, '2', '20', '0', '--percent'] });
  assert.equal(set.status, 200);
  const r = await run('seed000', { wsBase: ws(d), token: d.token, agentId: agent.id });
  assert.equal(r.connected, 'connected');
  assert.equal(r.renderError, null);
  assert.deepEqual(r.statuses, ['training', 'paused', 'training', 'stopped']);
  assert.equal(r.error.status, 404);
  assert.equal(r.discoveryDone.fraction, 1);
  assert.deepEqual(b.errors, []);
});

test('seed 001 in Chromium: its api.ts from another origin, every call', async () => {
  const r = await run('seed001', {
    apiBase: `${open.url}/seed/api`,
    wsUrl: `${ws(open)}/ws?compat=seed`,
    repo: makeRepo(),
    command: ['cat'],
  });
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.sent, { status: 'sent', running: true, hasId: true });
  assert.equal(r.stopped, 'finished');
  assert.deepEqual(r.byStatus, { running: ['echo'], finished: [], finishedAfter: ['echo'] });
  assert.deepEqual(r.fork, { name: 'echo (fork)', parent: true });
  assert.equal(r.hardDelete, null);
  assert.equal(r.gone.code, 'NOT_FOUND');
  assert.deepEqual(r.counts, [2, 0]);
});

test('seed 002 in Chromium: stream_ai_response into the chat view, stop_stream', async () => {
  mock.setRules([
    {
      match: 'count',
      reply: { tokens: ['One', ', two', ', three.'], tokenDelayMs: 20 },
    },
  ]);
  const before = mock.requests.length;
  const flow = run('seed002', {
    apiBase: `${d.url}/api`,
    wsUrl: ws(d),
    token: d.token,
    model: 'claude-sonnet-4-5',
    first: 'b-one',
    second: 'b-two',
  });
  await until(() => mock.requests.length > before, 'the first request');
  mock.setRules([
    {
      reply: {
        tokens: ['Slow', ' ', 'answer', ' that', ' goes', ' on'],
        tokenDelayMs: 400,
      },
    },
  ]);
  const r = await flow;
  assert.equal(r.first.shown, 'One, two, three.');
  assert.equal(r.first.fullMessage, 'One, two, three.');
  assert.equal(r.second.complete, true);
  assert.ok(r.second.shown.length < 'Slow answer that goes on'.length, r.second.shown);
  assert.equal(r.again.status, 404);
});

test('seed 003 in Chromium: the token as the subprotocol, live crew status, tool toasts, the cards; 4401', async () => {
  const crew = (await api(d.url, 'POST', '/api/crews', { name: 'browser003' })).data;
  const wt = (await api(d.url, 'POST', '/api/workspaces', { path: makeRepo() })).data.worktrees[0].id;
  const script = `setTimeout(() => {
    console.log(JSON.stringify({type:'tool_start', toolId:'t1', name:'pytest', params:{k:1}}));
    console.log(JSON.stringify({type:'tool_progress', toolId:'t1', progress:50, message:'half'}));
    setTimeout(() => console.log(JSON.stringify({type:'tool_end', toolId:'t1', status:'success', exitCode:0, durationMs:2500})), 100);
  }, 300);`;
  const agent = (
    await api(d.url, 'POST', '/api/agents', {
      worktreeId: wt,
      name: 'Runner',
      crewId: crew.id,
      executor: 'command',
      command: [process.execPath, '-e', script],
    })
  ).data;
  await b.page.exposeFunction('seedStart', async () => (await api(d.url, 'POST', `/api/crews/${crew.id}/start`, {})).status);
  await b.page.exposeFunction(
    'seedRunId',
    async () => (await until(async () => (await api(d.url, 'GET', `/api/agents/${agent.id}/runs`)).data.runs[0], 'the run')).id,
  );
  const r = await b.page.evaluate(
    (c) =>
      window.SeedFlows.seed003({
        ...c,
        start: () => window.seedStart(),
        runId: () => window.seedRunId(),
      }),
    {
      apiUrl: d.url,
      wsUrl: ws(d),
      token: d.token,
      crewId: crew.id,
      agentNames: { [agent.id]: 'Runner' },
    },
  );
  assert.deepEqual(r.toasts, ['🔧 pytest started by Runner', '⏳ pytest 50%: half', '✅ pytest (Runner) success in 2.5s, exit 0']);
  assert.ok(r.statuses.includes('busy'), r.statuses.join());
  assert.equal(r.run.code, 1000);
  assert.equal(r.badCode, 4401);
  assert.equal(r.tokens.length, 4);
  assert.ok(Number(r.dashboard.totalRuns) >= 1);
});

test('another origin not listed gets nothing: the same client is refused', async () => {
  const other = await daemon.start({ needUrl: true, args: ['--auth', 'none'] });
  try {
    const r = await b.page.evaluate(async (base) => {
      const api = window.Seed001.createApi(`${base}/seed/api`);
      try {
        await api.workspaces.list();
        return 'answered';
      } catch (e) {
        return String(e.message);
      }
    }, other.url);
    assert.match(r, /Failed to fetch/);
  } finally {
    await other.cleanup();
  }
});
