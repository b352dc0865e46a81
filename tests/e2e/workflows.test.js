// SPDX-License-Identifier: MIT
// Multi-agent workflows (issue #40, seed 002): a workflow's steps run as a
// crew, in parallel where their needs allow and in sequence where a step
// needs another's output; a failed step skips what needs it; stop ends it;
// a budget stops it; bad specs are refused naming the field.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { api, until, startWithWorktree, testRun, assertError } = require('./lib/api');
const { runAsync, tmpDir } = require('./lib/daemon');

const sh = (script) => ({ executor: 'command', command: ['sh', '-c', script] });

async function finished(d, id, what) {
  let wf = null;
  await until(async () => {
    wf = (await api(d, 'GET', `/api/workflows/${id}`)).body;
    return wf.status !== 'running';
  }, what);
  return wf;
}

test('steps run in parallel and in sequence, outputs flow into prompts, the crew holds them', async () => {
  const { d, dir, wt } = await startWithWorktree();
  try {
    const r = await api(d, 'POST', '/api/workflows', {
      name: 'review', worktreeId: wt, input: 'the input',
      steps: [
        { id: 'a', prompt: '{{input}}', agent: sh('read x; echo "A got: $x"') },
        { id: 'b', prompt: 'hello b', agent: sh('read x; echo "B got: $x"') },
        { id: 'c', needs: ['a', 'b'], prompt: 'a={{ steps.a.output }} b={{steps.b.output}}', agent: sh('read x; echo "C: $x"') },
      ],
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.status, 'running');
    const wf = await finished(d, r.body.id, 'the workflow to end');
    assert.equal(wf.status, 'succeeded', JSON.stringify(wf.state));
    const s = wf.state.steps;
    assert.equal(s.a.output, 'A got: the input');
    assert.equal(s.b.output, 'B got: hello b');
    assert.equal(s.c.output, 'C: a=A got: the input b=B got: hello b');
    // a and b were started together, c only after both ended
    assert.ok(s.a.startedAt <= s.b.endedAt && s.b.startedAt <= s.a.endedAt, JSON.stringify(s));
    assert.ok(s.c.startedAt >= Math.max(s.a.endedAt, s.b.endedAt), JSON.stringify(s));
    const crew = await api(d, 'GET', `/api/crews/${wf.crewId}`);
    assert.equal(crew.status, 200);
    assert.equal(crew.body.agentCount, 3);
    const agent = (await api(d, 'GET', `/api/agents/${s.c.agentId}`)).body;
    assert.equal(agent.name, 'review/c');
    assert.equal(agent.crewId, wf.crewId);
    const list = (await api(d, 'GET', '/api/workflows')).body.workflows;
    assert.deepEqual(list.map((w) => w.id), [wf.id]);
  } finally {
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a failed step skips what needs it; stop and a budget end a running workflow', async () => {
  const { d, dir, wt } = await startWithWorktree({ args: ['--stop-grace-ms', '300'] });
  try {
    let r = await api(d, 'POST', '/api/workflows', {
      name: 'fails', worktreeId: wt,
      steps: [
        { id: 'a', prompt: 'x', agent: sh('exit 3') },
        { id: 'b', needs: ['a'], prompt: '{{steps.a.output}}', agent: sh('read x; echo $x') },
      ],
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    let wf = await finished(d, r.body.id, 'the failing workflow to end');
    assert.equal(wf.status, 'failed');
    assert.equal(wf.state.steps.a.status, 'failed');
    assert.match(wf.state.steps.a.error, /exited 3/);
    assert.equal(wf.state.steps.b.status, 'skipped');
    assert.equal(wf.state.steps.b.startedAt, undefined);

    // stop: the running step's agent is stopped, the rest skipped
    r = await api(d, 'POST', '/api/workflows', {
      name: 'long', worktreeId: wt,
      steps: [
        { id: 'a', prompt: 'x', agent: sh('read x; sleep 60') },
        { id: 'b', needs: ['a'], prompt: 'y', agent: sh('read x; echo $x') },
      ],
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const id = r.body.id;
    await until(async () => (await api(d, 'GET', `/api/workflows/${id}`)).body.state.steps.a.status === 'running', 'step a running');
    const reader = (await api(d, 'POST', '/api/tokens', { name: 'r', scope: 'read' })).body.token;
    assert.equal((await api(d, 'POST', `/api/workflows/${id}/stop`, {}, { authorization: `Bearer ${reader}` })).status, 403);
    const st = await api(d, 'POST', `/api/workflows/${id}/stop`);
    assert.equal(st.status, 200, JSON.stringify(st.body));
    assert.equal(st.body.status, 'stopped');
    wf = (await api(d, 'GET', `/api/workflows/${id}`)).body;
    assert.equal(wf.status, 'stopped');
    assert.deepEqual([wf.state.steps.a.status, wf.state.steps.b.status], ['stopped', 'skipped']);
    await until(async () => (await api(d, 'GET', `/api/agents/${wf.state.steps.a.agentId}`)).body.status === 'stopped', 'step a\'s agent stopped');
    assertError(await api(d, 'POST', `/api/workflows/${id}/stop`), 409, 'CONFLICT');

    // a budget: the steps' runs cost more than it, the workflow stops
    r = await api(d, 'POST', '/api/workflows', {
      name: 'budget', worktreeId: wt, budgetUsd: 1,
      steps: [{ id: 'a', prompt: 'x', agent: sh('read x; sleep 60') }],
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const agentId = r.body.state.steps.a.agentId;
    await until(async () => (await api(d, 'GET', `/api/workflows/${r.body.id}`)).body.state.steps.a.status === 'running', 'step a running');
    await testRun(d, agentId, 'succeeded', { costUsd: 2.5 });
    wf = await finished(d, r.body.id, 'the budget to stop it');
    assert.equal(wf.status, 'over_budget');
    assert.equal(wf.state.steps.a.status, 'stopped');
    assert.ok(wf.state.steps.a.costUsd >= 2.5);
  } finally {
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a bad workflow is refused naming the field, and nothing is made', async () => {
  const { d, dir, wt } = await startWithWorktree();
  try {
    const ok = { id: 'a', prompt: 'x', agent: sh('true') };
    const bad = async (body, field) => {
      const r = await api(d, 'POST', '/api/workflows', { name: 'w', worktreeId: wt, ...body });
      assertError(r, 422, 'VALIDATION_ERROR', field);
    };
    await bad({ steps: [] }, 'steps');
    await bad({ steps: [{ ...ok, id: 'A B' }] }, 'steps[0].id');
    await bad({ steps: [ok, ok] }, 'steps[1].id');
    await bad({ steps: [{ ...ok, needs: ['b'] }, { ...ok, id: 'b' }] }, 'steps[0].needs');
    await bad({ steps: [ok, { ...ok, id: 'b', prompt: '{{steps.a.output}}' }] }, 'steps[1].prompt');
    await bad({ steps: [{ ...ok, prompt: '{{ env.HOME }}' }] }, 'steps[0].prompt');
    await bad({ steps: [{ id: 'a', prompt: 'x' }] }, 'steps[0].agent');
    await bad({ steps: [{ ...ok, agent: { executor: 'nope' } }] }, 'executor');
    await bad({ steps: [ok], budgetUsd: -1 }, 'budgetUsd');
    // a step's definition read on the way (src/flow/build.c): none by that name
    await bad({ steps: [ok, { id: 'b', prompt: 'x', definition: 'nobody' }] }, 'steps[1].definition');
    assert.deepEqual((await api(d, 'GET', '/api/agents')).body.agents, [], 'no step agent made');
    const w = await api(d, 'POST', '/api/workflows', { name: 'w', worktreeId: 'wt_nope', steps: [ok] });
    assert.equal(w.status, 404);
    const writer = (await api(d, 'POST', '/api/tokens', { name: 'w', scope: 'write' })).body.token;
    assert.equal((await api(d, 'POST', '/api/workflows', { name: 'w', worktreeId: wt, steps: [ok] },
      { authorization: `Bearer ${writer}` })).status, 403);
    assert.deepEqual((await api(d, 'GET', '/api/workflows')).body.workflows, []);
    assert.deepEqual((await api(d, 'GET', '/api/crews')).body.crews || (await api(d, 'GET', '/api/crews')).body, []);
  } finally {
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('agentd workflow run FILE --wait runs it and prints each step; a bad file is a clear error', async () => {
  const { d, dir, wt } = await startWithWorktree();
  const cli = (...args) => runAsync(['--data-dir', d.dataDir, ...args], { timeout: 60000 });
  const files = tmpDir('agentd-wf-');
  try {
    const file = path.join(files, 'flow.json');
    fs.writeFileSync(file, JSON.stringify({
      name: 'from-file',
      steps: [
        { id: 'plan', prompt: 'plan {{input}}', agent: sh('read x; echo "planned: $x"') },
        { id: 'do', needs: ['plan'], prompt: '{{steps.plan.output}}!', agent: sh('read x; echo "did: $x"') },
      ],
    }));
    let r = await cli('workflow', 'run', file, '--worktree', wt, '--input', 'the thing', '--wait');
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /succeeded from-file/);
    assert.match(r.stdout, /did: planned: plan the thing!/);
    const id = r.stdout.split(' ')[0];
    r = await cli('workflow', 'show', id, '--json');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).state.steps.do.output, 'did: planned: plan the thing!');
    r = await cli('workflow', 'ls');
    assert.match(r.stdout, new RegExp(`${id}\\s+succeeded\\s+from-file`));
    r = await cli('workflow', 'stop', id);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /not running/);
    fs.writeFileSync(file, '{"name": ');
    r = await cli('workflow', 'run', file, '--worktree', wt);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /not a JSON object/);
    fs.writeFileSync(file, JSON.stringify({ name: 'x', steps: [{ id: 'a', prompt: '{{steps.b.output}}', agent: sh('true') }] }));
    r = await cli('workflow', 'run', file, '--worktree', wt);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /steps\[0\]\.prompt: .*VALIDATION_ERROR, HTTP 422/);
  } finally {
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(files, { recursive: true, force: true });
  }
});

// ---- a step by a definition: the Claude CLI against the mock Anthropic API ----
const { CLAUDE_BIN, claudeMissingReason, makeSandbox, claudeEnv } = require('../fixtures/claude-run');
const mockAnthropic = require('../fixtures/mock-anthropic');
const daemonLib = require('./lib/daemon');

test('a step by a definition: Claude Code with the definition\'s prompt, its answer the step\'s output', { skip: claudeMissingReason() || false }, async () => {
  const mock = await mockAnthropic.start({ rules: [{ match: 'Review this', reply: { text: 'LGTM: the diff is fine.' } }] });
  const sb = makeSandbox();
  const d = await daemonLib.start({ needUrl: true, args: ['--claude-bin', CLAUDE_BIN, '--stop-grace-ms', '3000'] });
  try {
    const defs = path.join(d.dataDir, 'definitions');
    fs.mkdirSync(defs, { recursive: true });
    fs.writeFileSync(path.join(defs, 'reviewer.md'), '---\nname: reviewer\ndescription: reviews diffs\n---\nYou are a terse code reviewer.\n');
    const ws = await api(d, 'POST', '/api/workspaces', { path: sb.cwd });
    assert.equal(ws.status, 201, JSON.stringify(ws.body));
    const env = claudeEnv(mock.url, sb.home);
    delete env.PATH;
    const r = await api(d, 'POST', '/api/workflows', {
      name: 'rev', worktreeId: ws.body.worktrees[0].id, input: 'a patch',
      steps: [
        { id: 'gather', prompt: '{{input}}', agent: sh('read x; echo "diff of $x"') },
        { id: 'review', needs: ['gather'], definition: 'reviewer', prompt: 'Review this: {{steps.gather.output}}',
          agent: { env, allowUnsafeEnv: true } },
      ],
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const wf = await finished(d, r.body.id, 'the workflow to end');
    assert.equal(wf.status, 'succeeded', JSON.stringify(wf.state));
    assert.match(wf.state.steps.review.output, /LGTM: the diff is fine\./);
    const agent = (await api(d, 'GET', `/api/agents/${wf.state.steps.review.agentId}`)).body;
    assert.equal(agent.executor, 'claude');
    assert.equal(agent.crewId, wf.crewId);
    // what Claude Code sent: the definition's prompt, the rendered step prompt
    const req = mock.requests.find((q) => JSON.stringify(q.body.messages).includes('Review this: diff of a patch'));
    assert.ok(req, 'the step\'s prompt reached the model');
    assert.match(JSON.stringify(req.body.system), /terse code reviewer/);
  } finally {
    await d.cleanup();
    await mock.close();
    sb.cleanup();
  }
});
