// SPDX-License-Identifier: MIT
// The Codex executor on `codex app-server` (issue #33): the real Codex CLI
// (pinned in package.json) run by agentd against the mock Responses API, one
// long-lived process and one thread per agent. Two turns on one thread, a
// message mid-turn steered into the running turn (no 409), as is one sent
// in the turn's last moment, stop that
// interrupts the turn first, command approvals (allow, deny, allow always
// that then does not ask again), the turn's diff and token usage recorded,
// a fork through thread/fork, and a restart of agentd mid-thread.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { api, until, messages, runs, agent, watch, seen, pendingApprovals } = require('./lib/agents');
const { start, defaultRules } = require('../fixtures/mock-openai');
const { CODEX_BIN, codexMissingReason, makeSandbox } = require('../fixtures/cli-run');

const skip = codexMissingReason() || false;
const PRICE = { input: 1.25, output: 10, cachedInput: 0.125 };

// The newest user text of a model request.
function userTexts(req) {
  return (req.body.input || []).filter((i) => i.role === 'user').map((i) => JSON.stringify(i.content)).join('\n');
}

const pendingApproval = (d, id, n = 1) => pendingApprovals(d, id, n);

async function statusIs(d, id, status) {
  return until(async () => ((await agent(d, id)).status === status ? true : null), `agent ${status}`);
}

test('codex app-server under agentd', { skip }, async (t) => {
  let endTurn;
  const endGate = new Promise((resolve) => (endTurn = resolve));
  const mock = await start({
    rules: [
      { match: 'steer me', reply: { tool: { command: 'sleep 2' }, then: { text: 'Steered.' } } },
      { match: 'also say steered', reply: { text: 'Steered too.' } },
      { match: 'end slowly', reply: { text: 'Ending slowly.', tailUntil: () => endGate } },
      { match: 'join the end', reply: { text: 'Joined.' } },
      { match: 'approve a file', reply: { tool: { command: 'echo approved > approved.txt' }, then: { text: 'Wrote approved.txt.' } } },
      { match: 'deny a file', reply: { tool: { command: 'echo denied > denied.txt' }, then: { text: 'It was declined.' } } },
      { match: 'write a plan file', reply: { patch: '*** Begin Patch\n*** Add File: plan-notes.md\n+step one\n*** End Patch\n', then: { text: 'Planned.' } } },
      { match: 'approve across', reply: { tool: { command: 'echo across > across.txt' }, then: { text: 'Across the restart.' } } },
      { match: 'stop while asking', reply: { tool: { command: 'echo x > never.txt' }, then: { text: 'Never.' } } },
      { match: 'always one', reply: { tool: { command: 'echo one > always.txt' }, then: { text: 'One.' } } },
      { match: 'always two', reply: { tool: { command: 'echo one > always.txt' }, then: { text: 'Two.' } } },
      ...defaultRules(),
    ],
  });
  const sb = makeSandbox();
  const nodeModules = path.dirname(path.dirname(CODEX_BIN));
  const args = ['--codex-bin', CODEX_BIN, '--stop-grace-ms', '3000', '--sandbox-paths', nodeModules];
  const dataDir = daemon.tmpDir();
  let d = await daemon.start({ needUrl: true, dataDir, args });
  const repo = daemon.tmpRepo('agentd-codex-app-');
  try {
    assert.equal((await api(d, 'PATCH', '/api/settings', { model_prices: { 'gpt-5.5': PRICE } })).status, 200);
    const ws = await api(d, 'POST', '/api/workspaces', { path: repo });
    assert.equal(ws.status, 201, JSON.stringify(ws.body));
    const wt = ws.body.worktrees[0].id;
    const mk = async (mode, extra = {}) => {
      const r = await api(d, 'POST', '/api/agents', {
        worktreeId: wt, executor: 'codex', mode, model: 'gpt-5.5', baseUrl: `${mock.url}/v1`,
        codexConfig: { 'model_providers.agentd.request_max_retries': 0, 'model_providers.agentd.stream_max_retries': 0 },
        env: { OPENAI_API_KEY: 'dummy', HOME: sb.home },
        allowUnsafeEnv: true,
        ...extra,
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.id;
    };
    const id = await mk('auto');

    await t.test('two turns on one thread in one process; usage and cost per turn', async () => {
      const s = await api(d, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'please remember a word' });
      assert.equal(s.status, 200, JSON.stringify(s.body));
      await statusIs(d, id, 'waiting');
      const run1 = (await runs(d, id))[0];
      assert.equal(run1.status, 'running', 'the app-server lives on between turns');
      const thread = (await agent(d, id)).sessionId;
      assert.match(thread, /^[0-9a-f-]{36}$/);
      const before = mock.modelRequests().length;
      const second = await api(d, 'POST', `/api/agents/${id}/message`, { content: 'what word was it?' });
      assert.equal(second.status, 200, JSON.stringify(second.body));
      const msgs = await until(async () => {
        const m = await messages(d, id);
        return m.some((x) => x.role === 'assistant' && x.content === 'The word was banana.') ? m : null;
      }, 'the second answer');
      await statusIs(d, id, 'waiting');
      assert.ok(msgs.some((m) => m.role === 'system' && /^reasoning: Noting the word/.test(m.content)), 'reasoning stored');
      const req = mock.modelRequests()[before];
      assert.ok(JSON.stringify(req.body.input).includes('I will remember the word banana.'), 'same thread');
      assert.equal(req.headers['thread-id'], thread);
      const all = await runs(d, id);
      assert.equal(all.length, 1, 'one run: one process for both turns');
      assert.equal(all[0].numTurns, 2);
      const r = all[0];
      assert.ok(r.inputTokens > 0 && r.cacheReadTokens > 0 && r.outputTokens > 0, JSON.stringify(r));
      const cost = (r.inputTokens * PRICE.input + r.cacheReadTokens * PRICE.cachedInput + r.outputTokens * PRICE.output) / 1e6;
      assert.ok(Math.abs(r.costUsd - cost) < 1e-9, `${r.costUsd} != ${cost}`);
    });

    await t.test('a message mid-turn is steered into the running turn, not refused', async () => {
      const live = await watch(d, id);
      assert.equal((await api(d, 'POST', `/api/agents/${id}/message`, { content: 'steer me' })).status, 200);
      await live.until(() => seen(live, 'tool_start').some((p) => /sleep 2/.test(JSON.stringify(p.params))), 20000, 'the command to start');
      const before = mock.modelRequests().length;
      const mid = await api(d, 'POST', `/api/agents/${id}/message`, { content: 'also say steered' });
      assert.equal(mid.status, 200, JSON.stringify(mid.body));
      await live.until(() => seen(live, 'message_created').some((p) => p.message.content === 'Steered too.'), 20000, 'the turn to end');
      await live.close();
      // the steer went into the same turn: the model's next request carries
      // the command's output and then the steered message
      const later = mock.modelRequests().slice(before);
      assert.ok(later.some((q) => userTexts(q).includes('also say steered')), 'the steer reached the model');
      await until(async () => (await runs(d, id))[0].numTurns === 3, 'the turn counted');
      await statusIs(d, id, 'waiting');
      assert.equal((await runs(d, id))[0].numTurns, 3, 'the steer made no turn of its own');
    });

    await t.test('a message sent after the answer, before the turn ends, joins that turn', async () => {
      // The answer's text is out while the model's response.completed
      // waits (the mock holds it): the agent is still running, so the
      // message is steered. codex takes it into that turn; had the turn
      // ended first, codex refuses the steer and agentd sends the message
      // as the next turn. Either way it is answered, in the same process
      // (a browser test that sent its next message on seeing the text
      // counted one turn too few).
      const live = await watch(d, id);
      assert.equal((await api(d, 'POST', `/api/agents/${id}/message`, { content: 'please end slowly' })).status, 200);
      await live.until(() => seen(live, 'message_created').some((p) => p.message.content === 'Ending slowly.'), 20000, 'the answer');
      assert.equal((await agent(d, id)).status, 'running');
      const late = await api(d, 'POST', `/api/agents/${id}/message`, { content: 'join the end' });
      assert.equal(late.status, 200, JSON.stringify(late.body));
      endTurn();
      await live.until(() => seen(live, 'message_created').some((p) => p.message.content === 'Joined.'), 20000, 'the late answer');
      await live.close();
      await statusIs(d, id, 'waiting');
      const all = await until(async () => ((await runs(d, id))[0].numTurns >= 4 ? runs(d, id) : null), 'the turn counted');
      assert.equal(all.length, 1, 'the same process');
      assert.ok([4, 5].includes(all[0].numTurns), `turns: ${all[0].numTurns}`);
    });

    await t.test('diff recorded: a file change and the turn diff', async () => {
      assert.equal((await api(d, 'POST', `/api/agents/${id}/message`, { content: 'please write notes' })).status, 200);
      const msgs = await until(async () => {
        const m = await messages(d, id);
        return m.some((x) => x.role === 'system' && /^turn diff:/.test(x.content)) ? m : null;
      }, 'the turn diff');
      const diff = msgs.find((x) => x.role === 'system' && /^turn diff:/.test(x.content)).content;
      assert.match(diff, /notes\.md/);
      assert.match(diff, /\+written by codex/);
      const edit = msgs.find((x) => x.role === 'tool' && x.toolName === 'Edit');
      assert.ok(edit && edit.isComplete && !edit.isError, JSON.stringify(edit));
      assert.ok(fs.existsSync(path.join(repo, 'notes.md')));
    });

    await t.test('stop interrupts the turn first, then the process ends', async () => {
      const live = await watch(d, id);
      assert.equal((await api(d, 'POST', `/api/agents/${id}/message`, { content: 'sleep please' })).status, 200);
      await live.until(() => seen(live, 'tool_start').some((p) => /sleep 30/.test(JSON.stringify(p.params))), 20000, 'the command');
      const stopped = await api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
      assert.equal(stopped.status, 200);
      assert.equal(stopped.body.status, 'stopped');
      await live.close();
      const run = (await runs(d, id))[0];
      assert.equal(run.status, 'stopped');
      const msgs = await messages(d, id);
      const tool = msgs.find((m) => m.role === 'tool' && /sleep 30/.test(m.toolInput || ''));
      // the turn ended as interrupted (turn/completed), which closed the command
      assert.ok(tool && tool.isComplete && tool.isError, 'the interrupted command is closed');
      assert.equal(tool.toolOutput, 'interrupted');
    });

    await t.test('after the stop a message resumes the thread in a new process', async () => {
      const thread = (await agent(d, id)).sessionId;
      const before = mock.modelRequests().length;
      assert.equal((await api(d, 'POST', `/api/agents/${id}/message`, { content: 'what word again?' })).status, 200);
      await until(async () => (await messages(d, id)).some((m) => m.content === 'The word was banana.' && m.runId !== undefined) && mock.modelRequests().length > before, 'an answer');
      await statusIs(d, id, 'waiting');
      assert.equal((await agent(d, id)).sessionId, thread);
      assert.equal(mock.modelRequests()[before].headers['thread-id'], thread);
      // codex recorded the stop as an interruption of the turn (turn/interrupt), not a kill
      assert.match(JSON.stringify(mock.modelRequests()[before].body.input), /<turn_aborted>/);
      assert.equal((await runs(d, id)).length, 2);
    });

    await t.test('fork: thread/fork gives the fork its own thread with the history', async () => {
      const parent = (await agent(d, id)).sessionId;
      const f = await api(d, 'POST', `/api/agents/${id}/fork`, { name: 'codex-fork' });
      assert.equal(f.status, 201, JSON.stringify(f.body));
      const before = mock.modelRequests().length;
      assert.equal((await api(d, 'POST', `/api/agents/${f.body.id}/start`, { initialPrompt: 'what word was it?' })).status, 200);
      await statusIs(d, f.body.id, 'waiting');
      const forked = (await agent(d, f.body.id)).sessionId;
      assert.match(forked, /^[0-9a-f-]{36}$/);
      assert.notEqual(forked, parent);
      const req = mock.modelRequests()[before];
      assert.ok(JSON.stringify(req.body.input).includes('please remember a word'), 'the fork has the history');
      assert.equal((await agent(d, id)).sessionId, parent);
      await api(d, 'POST', `/api/agents/${f.body.id}/stop?wait=true`);
    });

    await t.test('a rate limit suspends the agent; it resumes the thread at the reset; the next message goes on', async () => {
      const n = (await runs(d, id)).length;
      assert.equal((await api(d, 'POST', `/api/agents/${id}/message`, { content: 'please rate limit me' })).status, 200);
      // "try again in 0.2s": suspended (issue #75), then a new process on
      // the same thread with "continue"
      await until(async () => {
        const m = await messages(d, id); // newest first
        const i = m.findIndex((x) => x.role === 'user' && x.content === 'continue');
        return i > 0 && m.slice(0, i).some((x) => x.role === 'assistant') ? m : null;
      }, 'the resumed turn', 60000);
      await statusIs(d, id, 'waiting');
      const hist = (await api(d, 'GET', `/api/agents/${id}/status-history?limit=50`)).body.entries;
      const susp = hist.find((e) => e.status === 'suspended');
      assert.ok(susp, JSON.stringify(hist.slice(0, 8)));
      assert.equal(susp.code, 'usage_limit');
      assert.match(susp.text, /rate limit/i);
      const rs = await runs(d, id);
      assert.equal(rs.length, n + 1, 'the resume is a new run');
      assert.equal(rs[1].status, 'failed');
      assert.equal((await api(d, 'POST', `/api/agents/${id}/message`, { content: 'what word now?' })).status, 200);
      await until(async () => (await messages(d, id))[0].content === 'The word was banana.', 'the next turn');
      await statusIs(d, id, 'waiting');
      await api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
    });

    await t.test('a thread codex cannot resume: a new one, and the transcript says so', async () => {
      const old = (await agent(d, id)).sessionId;
      // another HOME: codex keeps its threads there, so the agent's is not found
      const home2 = fs.mkdtempSync(path.join(sb.home, 'other-'));
      const p = await api(d, 'PATCH', `/api/agents/${id}`, { env: { OPENAI_API_KEY: 'dummy', HOME: home2 }, allowUnsafeEnv: true });
      assert.equal(p.status, 200, JSON.stringify(p.body));
      assert.equal((await api(d, 'POST', `/api/agents/${id}/message`, { content: 'what word was it?' })).status, 200);
      await statusIs(d, id, 'waiting');
      const msgs = await messages(d, id);
      assert.ok(msgs.some((m) => m.role === 'system' && m.content.includes(`could not resume thread ${old}`)), 'said in the transcript');
      assert.equal(msgs[0].content, 'The word was banana.');
      const now = (await agent(d, id)).sessionId;
      assert.match(now, /^[0-9a-f-]{36}$/);
      assert.notEqual(now, old);
      await api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
    });

    const rid = await mk('regular');
    await t.test('approvals: allow runs the command, deny declines it', async () => {
      assert.equal((await api(d, 'POST', `/api/agents/${rid}/start`, { initialPrompt: 'please approve a file' })).status, 200);
      const [ap] = await pendingApproval(d, rid);
      assert.equal(ap.toolName, 'Bash');
      assert.match(ap.input.command, /echo approved > approved\.txt/);
      await statusIs(d, rid, 'waiting');
      assert.ok(!fs.existsSync(path.join(repo, 'approved.txt')), 'nothing ran before the decision');
      const ok = await api(d, 'POST', `/api/approvals/${ap.id}`, { decision: 'allow' });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      await until(async () => (await messages(d, rid)).some((m) => m.content === 'Wrote approved.txt.'), 'the turn to go on');
      assert.equal(fs.readFileSync(path.join(repo, 'approved.txt'), 'utf8'), 'approved\n');
      assert.equal((await api(d, 'POST', `/api/approvals/${ap.id}`, { decision: 'deny' })).status, 409);

      assert.equal((await api(d, 'POST', `/api/agents/${rid}/message`, { content: 'please deny a file' })).status, 200);
      const [ap2] = await pendingApproval(d, rid);
      assert.equal((await api(d, 'POST', `/api/approvals/${ap2.id}`, { decision: 'deny' })).status, 200);
      const msgs = await until(async () => {
        const m = await messages(d, rid);
        return m.some((x) => x.content === 'It was declined.') ? m : null;
      }, 'the turn after the denial');
      assert.ok(!fs.existsSync(path.join(repo, 'denied.txt')), 'a denied command does not run');
      const tool = msgs.find((m) => m.role === 'tool' && /denied\.txt/.test(m.toolInput || ''));
      assert.ok(tool && tool.isError, 'a denied command is a failed tool call');
    });

    await t.test('a file change asks too: Edit with the changes codex wants to make', async () => {
      assert.equal((await api(d, 'POST', `/api/agents/${rid}/message`, { content: 'please write a plan file' })).status, 200);
      const [ap] = await pendingApproval(d, rid);
      assert.equal(ap.toolName, 'Edit');
      assert.match(ap.input.changes[0].path, /plan-notes\.md$/);
      assert.ok(!fs.existsSync(path.join(repo, 'plan-notes.md')), 'nothing written before the decision');
      assert.equal((await api(d, 'POST', `/api/approvals/${ap.id}`, { decision: 'allow' })).status, 200);
      await until(async () => (await messages(d, rid)).some((m) => m.content === 'Planned.'), 'the turn to go on');
      assert.equal(fs.readFileSync(path.join(repo, 'plan-notes.md'), 'utf8'), 'step one\n');
    });

    await t.test('allow always: acceptForSession, the tool added to the agent, no second ask', async () => {
      assert.equal((await api(d, 'POST', `/api/agents/${rid}/message`, { content: 'please always one' })).status, 200);
      const [ap] = await pendingApproval(d, rid);
      // over the CLI, as for Claude: `agentd approvals AGENT`, `agentd approve ID --always`
      const cli = (...a) => daemon.run(['--data-dir', dataDir, ...a]);
      const ls = cli('approvals', rid);
      assert.equal(ls.status, 0, ls.stderr);
      assert.match(ls.stdout, new RegExp(`^${ap.id}  Bash  .*echo one > always\\.txt`, 'm'));
      const yes = cli('approve', ap.id, '--always');
      assert.equal(yes.status, 0, yes.stderr);
      assert.match(yes.stdout, new RegExp(`${ap.id} Bash: allowed`));
      await until(async () => (await messages(d, rid)).some((m) => m.content === 'One.'), 'the first turn');
      assert.ok((await agent(d, rid)).permissions.includes('Bash'));
      assert.equal((await api(d, 'POST', `/api/agents/${rid}/message`, { content: 'please always two' })).status, 200);
      await until(async () => (await messages(d, rid)).some((m) => m.content === 'Two.'), 'the second turn');
      const all = (await api(d, 'GET', `/api/agents/${rid}/approvals`)).body.approvals;
      assert.equal(all.length, 4, 'no approval asked for the second command');
    });

    await t.test('a restart of agentd mid-thread: its app-server is taken up on the same thread', async () => {
      const thread = (await agent(d, rid)).sessionId;
      const nruns = (await runs(d, rid)).length;
      await d.stop('SIGKILL'); // its app-server lives on under its holder
      d = await daemon.start({ needUrl: true, dataDir, args });
      const before = mock.modelRequests().length;
      const r = await api(d, 'POST', `/api/agents/${rid}/message`, { content: 'what word is it now?' });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      await until(async () => (await messages(d, rid)).some((m) => m.content === 'The word was banana.'), 'the answer after the restart');
      assert.equal((await agent(d, rid)).sessionId, thread);
      assert.equal(mock.modelRequests()[before].headers['thread-id'], thread);
      assert.equal((await runs(d, rid)).length, nruns, 'the same process, taken up');
      await statusIs(d, rid, 'waiting');
    });

    await t.test('an approval pending across a restart is answered after it', async () => {
      // "execute" was taken back, so commands ask again
      assert.equal((await api(d, 'PATCH', `/api/agents/${rid}`, { permissions: ['read'] })).status, 200);
      await api(d, 'POST', `/api/agents/${rid}/stop?wait=true`);
      assert.equal((await api(d, 'POST', `/api/agents/${rid}/message`, { content: 'please approve across' })).status, 200);
      const [ap] = await pendingApproval(d, rid);
      await d.stop('SIGKILL');
      d = await daemon.start({ needUrl: true, dataDir, args });
      const still = (await api(d, 'GET', `/api/agents/${rid}/approvals?pending=true`)).body.approvals;
      assert.deepEqual(still.map((a) => a.id), [ap.id], 'still pending after the restart');
      const ok = await api(d, 'POST', `/api/approvals/${ap.id}`, { decision: 'allow' });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      await until(async () => (await messages(d, rid)).some((m) => m.content === 'Across the restart.'), 'the turn to go on');
      assert.equal(fs.readFileSync(path.join(repo, 'across.txt'), 'utf8'), 'across\n');
    });

    await t.test('a restart without holders: the next message resumes the thread in a new process', async () => {
      const thread = (await agent(d, rid)).sessionId;
      await api(d, 'POST', `/api/agents/${rid}/stop?wait=true`);
      await d.stop();
      const bare = [...args, '--hold-agents=false'];
      d = await daemon.start({ needUrl: true, dataDir, args: bare });
      assert.equal((await api(d, 'POST', `/api/agents/${rid}/message`, { content: 'please remember a word' })).status, 200);
      await statusIs(d, rid, 'waiting');
      await d.stop('SIGKILL'); // the app-server loses its agentd (its stdin closes)
      d = await daemon.start({ needUrl: true, dataDir, args: bare });
      const nruns = (await runs(d, rid)).length;
      const before = mock.modelRequests().length;
      const r = await api(d, 'POST', `/api/agents/${rid}/message`, { content: 'what word, after all that?' });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      await until(async () => mock.modelRequests().length > before && (await agent(d, rid)).status === 'waiting', 'the answer');
      assert.equal((await runs(d, rid)).length, nruns + 1, 'a new process');
      assert.equal((await agent(d, rid)).sessionId, thread);
      const req = mock.modelRequests()[before];
      assert.equal(req.headers['thread-id'], thread);
      assert.ok(JSON.stringify(req.body.input).includes('I will remember the word banana.'), 'thread/resume brought the history');
    });

    await t.test('a stop while codex asks: the approval is withdrawn, nothing runs', async () => {
      assert.equal((await api(d, 'POST', `/api/agents/${rid}/message`, { content: 'please stop while asking' })).status, 200);
      const [ap] = await pendingApproval(d, rid);
      const stopped = await api(d, 'POST', `/api/agents/${rid}/stop?wait=true`);
      assert.equal(stopped.body.status, 'stopped');
      const after = await until(async () => {
        const a = (await api(d, 'GET', `/api/agents/${rid}/approvals`)).body.approvals.find((x) => x.id === ap.id);
        return a.status !== 'pending' ? a : null;
      }, 'the approval to end');
      assert.ok(['cancelled', 'expired'].includes(after.status), after.status);
      assert.equal((await api(d, 'POST', `/api/approvals/${ap.id}`, { decision: 'allow' })).status, 409);
      assert.ok(!fs.existsSync(path.join(repo, 'never.txt')), 'the command never ran');
    });
  } finally {
    await d.cleanup();
    fs.rmSync(dataDir, { recursive: true, force: true });
    await mock.close();
    sb.cleanup();
    fs.rmSync(repo, { recursive: true, force: true });
  }
});
