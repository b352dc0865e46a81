// SPDX-License-Identifier: MIT
// A repository of 100,000 files: its status runs on the thread pool, so
// another client's /healthz requests are answered while it runs (they
// complete before the status call does), and the status is right.
'use strict';

const test = require('node:test');
const assert = require('node:assert');
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const daemon = require('./lib/daemon');
const { git, makeRepo, GIT_ENV } = require('./lib/gitrepo');

const FILES = 100000;

// One commit of FILES files sharing one blob, written by a single
// fast-import stream, then checked out: a few seconds, bounded.
function makeLargeRepo() {
  const fx = makeRepo('agentd-git-large-');
  const lines = ['blob\nmark :1\ndata 6\nsmall\n\n',
    'commit refs/heads/main\ncommitter Test <test@example.com> 1700000000 +0000\n',
    'data 6\nlarge\nfrom refs/heads/main^0\n'];
  for (let i = 0; i < FILES; i++) {
    const dir = `d${String(i % 100).padStart(2, '0')}/s${Math.floor(i / 100) % 10}`;
    lines.push(`M 100644 :1 ${dir}/f${i}.txt\n`);
  }
  lines.push('\n');
  execFileSync('git', ['fast-import', '--quiet'], {
    cwd: fx.repo, env: GIT_ENV, input: lines.join(''), maxBuffer: 64 << 20, timeout: 120000,
  });
  execFileSync('git', ['reset', '-q', '--hard'], { cwd: fx.repo, env: GIT_ENV, timeout: 300000 });
  return fx;
}

function request(agent, port, method, urlPath, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, agent, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('a 100,000-file status does not stall other clients', { timeout: 600000 }, async (t) => {
  const { repo } = makeLargeRepo();
  assert.strictEqual(git(repo, 'ls-files').split('\n').length, FILES + 1);
  fs.appendFileSync(path.join(repo, 'd07', 's3', 'f307.txt'), 'edited\n');
  fs.writeFileSync(path.join(repo, 'd99', 'untracked.txt'), 'new\n');

  const d = await daemon.start({ needUrl: true });
  try {
    const port = Number(new URL(d.url).port);
    const slowAgent = new http.Agent({ keepAlive: true });
    const fastAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const wsRes = await d.fetch(d.url + '/api/workspaces', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ path: repo }),
    });
    assert.strictEqual(wsRes.status, 201);
    const main = (await wsRes.json()).worktrees[0];
    assert.strictEqual((await request(fastAgent, port, 'GET', '/healthz')).status, 200);

    let statusDone = false;
    const slow = request(slowAgent, port, 'GET', `/api/worktrees/${main.id}/status`, d.authHeaders)
      .then((r) => { statusDone = true; return r; });
    let before = 0;
    let total = 0;
    // Bounded: stops when the status answers or after 20,000 requests.
    while (!statusDone && total < 20000) {
      const h = await request(fastAgent, port, 'GET', '/healthz');
      assert.strictEqual(h.status, 200);
      total++;
      if (!statusDone) before++;
    }
    const r = await slow;
    assert.strictEqual(r.status, 200, r.body);
    const s = JSON.parse(r.body);
    assert.strictEqual(s.isClean, false);
    assert.strictEqual(s.modified, 1);
    assert.strictEqual(s.untracked, 1);
    assert.strictEqual(s.staged, 0);
    assert.ok(before >= 1, `no /healthz answered while status ran (${total} sent)`);
    t.diagnostic(`healthz answered while status ran: ${before}`);

    // The diff of the same tree lists just the two files.
    const diff = JSON.parse((await request(slowAgent, port, 'GET',
      `/api/worktrees/${main.id}/diff`, d.authHeaders)).body);
    assert.deepStrictEqual(diff.files.map((f) => f.path).sort(),
      ['d07/s3/f307.txt', 'd99/untracked.txt']);
    slowAgent.destroy();
    fastAgent.destroy();
  } finally {
    await d.cleanup();
    fs.rmSync(path.dirname(repo), { recursive: true, force: true });
  }
});
