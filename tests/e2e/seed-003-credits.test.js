// SPDX-License-Identifier: MIT
// Seed fidelity, seed 003 (issue #40): its dashboard's token card reads
// `GET /dashboard/tokens/stats` for "balance, spent, earned, pending", its
// rentals card `GET /dashboard/rentals/stats`, and its next step is "Export
// functionality (CSV/PDF)". Here: the owner grants an org credits (route and
// CLI), runs spend them by their cost, running ones are pending, another
// org sees none of it; agent time per org; the exports, the PDF checked by
// qpdf and read back by pdftotext.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { startWithWorktree, api, makeAgent, testRun, assertError } = require('./lib/api');
const daemon = require('./lib/daemon');

const close = (a, b) => Math.abs(a - b) < 1e-6;

test('credits: granted by the owner, spent by runs, pending while they run, per org; agent time; CSV and PDF', async (t) => {
  const { d } = await startWithWorktree();
  try {
    const probe = await api(d, 'POST', '/test/runs', {});
    if (probe.status === 404) { t.skip('needs a test build (/test/runs)'); return; }
    const wt = (await api(d, 'GET', '/api/worktrees')).body.worktrees[0].id;
    const agent = await makeAgent(d, wt, { executor: 'command', command: ['true'], name: '=HYPERLINK("http://x")' });
    // a second org with its own admin token
    const blue = (await api(d, 'POST', '/api/orgs', { name: 'blue' })).body;
    const blueAdmin = (await api(d, 'POST', '/api/tokens', { name: 'b', scope: 'admin', orgId: blue.id })).body.token;
    const asBlue = { authorization: `Bearer ${blueAdmin}` };

    // the owner grants; an org's admin may not grant itself credits
    let r = await api(d, 'POST', '/api/orgs/org_default/credits', { amount: 100, note: 'starter' });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.body.amount, 100);
    assert.equal(r.body.orgId, 'org_default');
    r = await api(d, 'POST', `/api/orgs/${blue.id}/credits`, { amount: 1000 }, asBlue);
    assertError(r, 403, 'FORBIDDEN');
    assertError(await api(d, 'POST', '/api/orgs/org_default/credits', { amount: 0 }), 422, 'VALIDATION_ERROR', 'amount');
    assertError(await api(d, 'POST', '/api/orgs/org_default/credits', { amount: 'lots' }), 422, 'VALIDATION_ERROR', 'amount');
    assertError(await api(d, 'POST', '/api/orgs/org_nope/credits', { amount: 5 }), 404, 'NOT_FOUND');

    // an ended run spends, a running one is pending
    await testRun(d, agent.id, 'succeeded', { costUsd: 12.5, durationMs: 60000 });
    await testRun(d, agent.id, 'running', { costUsd: 2.25 });
    const seed = (await api(d, 'GET', '/dashboard/tokens/stats')).body;
    assert.ok(close(seed.earned, 100), JSON.stringify(seed));
    assert.ok(close(seed.spent, 12.5));
    assert.ok(close(seed.pending, 2.25));
    assert.ok(close(seed.balance, 85.25));
    const camel = (await api(d, 'GET', '/api/dashboard/tokens/stats')).body;
    assert.ok(close(camel.balance, 85.25));
    assert.equal(typeof camel.spentTokens, 'number'); // agentd's own figures stay
    // another org: none of it
    const other = (await api(d, 'GET', '/dashboard/tokens/stats', undefined, asBlue)).body;
    assert.equal(other.earned, 0);
    assert.equal(other.spent, 0);
    assert.equal(other.balance, 0);
    r = await api(d, 'GET', '/api/credits', undefined, asBlue);
    assert.equal(r.body.orgId, blue.id);
    assert.equal(r.body.grantList.length, 0);

    // the CLI (the owner's unix socket)
    const cli = (...args) => daemon.run(['--data-dir', d.dataDir, ...args]);
    let c = cli('credits', 'grant', 'default', '4.75', '--note', 'top-up');
    assert.equal(c.status, 0, c.stderr);
    assert.match(c.stdout, /granted 4\.75 credits to org_default/);
    c = cli('credits', '--json');
    assert.equal(c.status, 0, c.stderr);
    const shown = JSON.parse(c.stdout);
    assert.ok(close(shown.earned, 104.75));
    assert.ok(close(shown.balance, 90));
    assert.deepEqual(shown.grantList.map((g) => g.note), ['top-up', 'starter']);
    c = cli('credits', 'grant', 'default', 'lots');
    assert.equal(c.status, 2);

    // agent time: the ended run's minute and the running one's time so far
    const rent = (await api(d, 'GET', '/dashboard/rentals/stats')).body;
    assert.ok(rent.agent_seconds >= 60 && rent.agent_seconds < 3600, JSON.stringify(rent));
    assert.equal(rent.runs, 1);
    assert.equal(rent.active_runs, 1);
    assert.equal(rent.nodes[0].node, 'control-plane');
    assert.equal(rent.agents[0].agent_id, agent.id);
    assert.ok(close(rent.agents[0].agent_seconds, 60));
    assert.equal(rent.nodes[0].active_runs, 1);
    assert.deepEqual(rent.orgs.map((o) => [o.org_id, o.nodes.map((n) => n.node)]), [['org_default', ['control-plane']]]);
    // per org per node: a run another node ran (as worker nodes will set it) counts there
    const blueWt = (await api(d, 'POST', '/api/workspaces', { path: daemon.tmpRepo('agentd-blue-', d.dataDir), orgId: blue.id })).body.worktrees[0].id;
    const blueAgent = await makeAgent(d, blueWt, { executor: 'command', command: ['true'] });
    await testRun(d, blueAgent.id, 'succeeded', { durationMs: 30000, node: 'gpu-box-1' });
    await testRun(d, agent.id, 'failed', { durationMs: 10000, node: 'gpu-box-1' });
    const all = (await api(d, 'GET', '/api/dashboard/rentals/stats')).body;
    const byOrg = Object.fromEntries(all.orgs.map((o) => [o.orgId, Object.fromEntries(o.nodes.map((n) => [n.node, [n.runs, Math.round(n.agentSeconds)]]))]));
    assert.deepEqual(byOrg.org_default['gpu-box-1'], [1, 10]);
    assert.equal(byOrg.org_default['control-plane'][0], 1);
    assert.deepEqual(byOrg[blue.id], { 'gpu-box-1': [1, 30] });
    const gpu = all.nodes.find((n) => n.node === 'gpu-box-1');
    assert.deepEqual([gpu.runs, Math.round(gpu.agentSeconds)], [2, 40]);
    const blueRent = (await api(d, 'GET', '/api/dashboard/rentals/stats', undefined, asBlue)).body;
    assert.equal(blueRent.runs, 1);
    assert.deepEqual(blueRent.orgs.map((o) => o.orgId), [blue.id]);
    assert.deepEqual(blueRent.nodes.map((n) => n.node), ['gpu-box-1']);
    assert.ok(!JSON.stringify(blueRent).includes(agent.id));
    assertError(await api(d, 'GET', '/api/dashboard/rentals/stats?range=1y'), 422, 'VALIDATION_ERROR', 'range');

    // CSV: the figures, a spreadsheet formula in a name made harmless
    r = await api(d, 'GET', '/api/dashboard/export?report=tokens&format=csv');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/csv/);
    assert.match(r.headers.get('content-disposition'), /attachment; filename="agentd-tokens-\d{4}-\d\d-\d\d\.csv"/);
    assert.match(r.text, /^"metric","value"\r\n/);
    assert.match(r.text, /"balance","90"\r\n/);
    r = await api(d, 'GET', '/api/dashboard/export?report=rentals&format=csv');
    assert.match(r.text, /^"agent_id","name","node","runs","agent_seconds"\r\n/);
    assert.ok(r.text.includes(`"${agent.id}","'=HYPERLINK(""http://x"")","control-plane","1","60.000"`), r.text);
    // the other org's export has none of this org's rows
    r = await api(d, 'GET', '/api/dashboard/export?report=rentals&format=csv', undefined, asBlue);
    assert.ok(!r.text.includes(agent.id));

    // PDF: a valid document (qpdf) whose text is the table (pdftotext)
    r = await fetch(`${d.url}/api/dashboard/export?report=tokens&format=pdf`, { headers: d.authHeaders });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/pdf');
    const pdf = Buffer.from(await r.arrayBuffer());
    assert.equal(pdf.subarray(0, 8).toString(), '%PDF-1.4');
    const file = path.join(d.dataDir, 'tokens.pdf');
    fs.writeFileSync(file, pdf);
    const check = spawnSync('qpdf', ['--check', file], { encoding: 'utf8' });
    assert.equal(check.status, 0, `qpdf --check: ${check.stdout}${check.stderr}`);
    assert.match(check.stdout, /No syntax or stream encoding errors/);
    const text = spawnSync('pdftotext', ['-layout', file, '-'], { encoding: 'utf8' });
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /agentd tokens report/);
    assert.match(text.stdout, /balance\s+90\b/);
    assert.match(text.stdout, /earned\s+104\.75\b/);
    for (const report of ['stats', 'rentals']) {
      const res = await fetch(`${d.url}/api/dashboard/export?report=${report}&format=pdf`, { headers: d.authHeaders });
      const f = path.join(d.dataDir, `${report}.pdf`);
      fs.writeFileSync(f, Buffer.from(await res.arrayBuffer()));
      assert.equal(spawnSync('qpdf', ['--check', f]).status, 0, `${report}.pdf`);
    }
    assertError(await api(d, 'GET', '/api/dashboard/export?report=bills'), 422, 'VALIDATION_ERROR', 'report');
    assertError(await api(d, 'GET', '/api/dashboard/export?report=stats&format=xls'), 422, 'VALIDATION_ERROR', 'format');
  } finally {
    await d.stop();
  }
});
