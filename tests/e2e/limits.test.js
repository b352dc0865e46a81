// SPDX-License-Identifier: MIT
// Usage limits (issue #75), with the real Claude Code CLI against the mock
// Anthropic API: a 429 makes the agent `suspended` with resumeAt, not
// `error`, and it resumes itself at the reset (the same session, the message
// "continue"), across a daemon restart too (resumeAt is stored); POST
// /api/agents/:id/resume resumes it at once. `agentd ls` says until when.
//
// What the CLI (2.1.330) does, read from running it: on a subscription's
// credentials a 429 with the anthropic-ratelimit-unified-* headers is a
// rate_limit_event {status: "rejected", resetsAt} and the result "You've hit
// your 5-hour limit · resets …", not retried; on an API key a 429 is retried
// after retry-after, then "API Error: Request rejected (429) · …" without
// the reset.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const daemon = require('./lib/daemon');
const { api, until } = require('./lib/api');
const { claudeAgents } = require('./lib/agents');
const { start: startMock } = require('../fixtures/mock-anthropic');
const { CLAUDE_BIN, claudeMissingReason, makeSandbox } = require('../fixtures/claude-run');

const skip = claudeMissingReason() || false;

async function agent(d, id) {
  return (await api(d, 'GET', `/api/agents/${id}`)).body;
}

async function messages(d, id) {
  return (await api(d, 'GET', `/api/agents/${id}/messages?limit=200`)).body.messages;
}

function statusOf(d, id, status, ms) {
  return until(async () => {
    const a = await agent(d, id);
    return a.status === status ? a : null;
  }, `${id} ${status}`, ms);
}

// The answer after the resume: the "continue" turn's.
function resumedTurn(d, id, ms) {
  return until(async () => {
    const m = await messages(d, id);
    const i = m.findIndex((x) => x.role === 'user' && x.content === 'continue');
    return i > 0 && m.slice(0, i).some((x) => x.role === 'assistant' && x.content.includes('Hello from the mock.')) ? m : null;
  }, 'the resumed turn', ms);
}

// A 429 for the first request whose user text says "limit me", with the
// subscription headers of a reset `ahead` ms from the answer.
function limitRule(ahead) {
  return {
    match: 'limit me',
    times: 1,
    reply: {
      error: { status: 429, type: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit' },
      headers: () => {
        const reset = String(Math.ceil((Date.now() + ahead) / 1000));
        return {
          'anthropic-ratelimit-unified-status': 'rejected',
          'anthropic-ratelimit-unified-reset': reset,
          'anthropic-ratelimit-unified-representative-claim': 'five_hour',
          'anthropic-ratelimit-unified-5h-status': 'rejected',
          'anthropic-ratelimit-unified-5h-reset': reset,
          'anthropic-ratelimit-unified-5h-utilization': '1.0',
        };
      },
    },
  };
}

test('a usage limit suspends the agent; it resumes itself at the reset, across a restart', { skip, timeout: 300000 }, async () => {
  const mock = await startMock({ rules: [limitRule(8000), { reply: { text: 'Hello from the mock.' } }] });
  const sb = makeSandbox();
  const dataDir = daemon.tmpDir();
  const args = ['--claude-bin', CLAUDE_BIN];
  let d = await daemon.start({ needUrl: true, dataDir, args });
  try {
    // a subscription's credentials: the CLI reads the unified headers
    const make = await claudeAgents(d, sb, mock.url);
    const id = (await make({ env: { ...require('../fixtures/claude-run').claudeEnv(mock.url, sb.home), PATH: undefined, ANTHROPIC_API_KEY: '', CLAUDE_CODE_OAUTH_TOKEN: 'sk-ant-oat01-mock' } })).id;
    const t0 = Date.now();
    assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'limit me' })).status, 200);
    const s = await statusOf(d, id, 'suspended');
    assert.equal(s.statusReason.code, 'usage_limit', JSON.stringify(s.statusReason));
    assert.match(s.statusReason.text, /hit your 5-hour limit/);
    const at = Date.parse(s.resumeAt);
    // the reset the CLI said (whole seconds), plus at most 10 % of the wait
    assert.ok(at >= t0 + 5000 && at <= Date.now() + 8000 + 1800, `resumeAt ${s.resumeAt}`);
    assert.equal(s.state.suspended.resumeAt, s.resumeAt);
    // the run failed on the limit; the agent is not in error
    const runs = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs;
    assert.equal(runs.length, 1);
    assert.notEqual(runs[0].status, 'running');
    // the list and `agentd ls` say until when
    const list = (await api(d, 'GET', '/api/agents')).body.agents.find((x) => x.id === id);
    assert.equal(list.status, 'suspended');
    assert.equal(list.resumeAt, s.resumeAt);
    const ls = daemon.run(['--data-dir', dataDir, 'ls']);
    assert.equal(ls.status, 0, ls.stderr);
    assert.match(ls.stdout, /suspended until \d\d:\d\d/);
    // a restart keeps it: the new daemon re-arms the timer
    await d.stop();
    d = await daemon.start({ needUrl: true, dataDir, args });
    const again = await agent(d, id);
    assert.equal(again.status, 'suspended');
    assert.equal(again.resumeAt, s.resumeAt);
    // it resumes by itself at the reset: the same session, "continue"
    const before = mock.agentRequests().length;
    const msgs = await resumedTurn(d, id, 60000);
    const started = (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0].startedAt;
    assert.ok(Date.parse(started) >= at - 50, `resumed at ${started}, not before ${s.resumeAt}`);
    const reqs = mock.agentRequests().slice(before);
    assert.ok(reqs.some((r) => JSON.stringify(r.body.messages).includes('limit me')), 'the resumed session carries the first turn');
    const a = await statusOf(d, id, 'waiting');
    assert.equal(a.resumeAt, undefined);
    assert.equal(a.state.suspended, null);
    assert.ok(msgs.some((m) => m.role === 'assistant' && m.content.includes('hit your 5-hour limit')));
    // audited as agentd's own resume
    const audit = JSON.stringify((await api(d, 'GET', '/api/audit?limit=200')).body);
    assert.match(audit, /resumed at its usage limit's reset/);
    await api(d, 'POST', `/api/agents/${id}/stop?force=true&wait=true`);
  } finally {
    await d.cleanup();
    await mock.close();
    sb.cleanup();
  }
});

test('an API key\'s 429 suspends the agent; POST /resume resumes it at once', { skip, timeout: 300000 }, async () => {
  const err = { status: 429, type: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit' };
  const rules = ['limit me', 'limit again', 'limit third'].map((match) => ({ match, times: 1, reply: { error: err } }));
  const mock = await startMock({ rules: [...rules, { reply: { text: 'Hello from the mock.' } }] });
  const sb = makeSandbox();
  const d = await daemon.start({ needUrl: true, args: ['--claude-bin', CLAUDE_BIN] });
  try {
    const make = await claudeAgents(d, sb, mock.url);
    const id = (await make({ env: { ...require('../fixtures/claude-run').claudeEnv(mock.url, sb.home), PATH: undefined, CLAUDE_CODE_MAX_RETRIES: '0' } })).id;
    // not suspended: nothing to resume (and it is not paused either)
    assert.equal((await api(d, 'POST', `/api/agents/${id}/resume`)).status, 409);
    assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'limit me' })).status, 200);
    const s = await statusOf(d, id, 'suspended');
    assert.equal(s.statusReason.code, 'usage_limit');
    assert.match(s.statusReason.text, /Request rejected \(429\)/);
    // no reset said: five minutes, plus the jitter (at most 30 s of it)
    const wait = Date.parse(s.resumeAt) - Date.now();
    assert.ok(wait > 4 * 60000 && wait <= 5.5 * 60000 + 1000, `resumeAt ${s.resumeAt}`);
    // a read token may not; a write token may (it only moves the time earlier)
    const rd = await api(d, 'POST', '/api/tokens', { name: 'r', scope: 'read' });
    assert.equal((await api(d, 'POST', `/api/agents/${id}/resume`, undefined, { authorization: `Bearer ${rd.body.token}` })).status, 403);
    assert.equal((await agent(d, id)).status, 'suspended');
    const wr = await api(d, 'POST', '/api/tokens', { name: 'w', scope: 'write' });
    const r = await api(d, 'POST', `/api/agents/${id}/resume`, undefined, { authorization: `Bearer ${wr.body.token}` });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await resumedTurn(d, id);
    const a = await statusOf(d, id, 'waiting');
    assert.equal(a.resumeAt, undefined);
    assert.equal((await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs.length, 2);
    // once resumed, a second /resume has nothing to resume
    assert.equal((await api(d, 'POST', `/api/agents/${id}/resume`)).status, 409);
    // suspended again, then stopped: it no longer resumes
    assert.equal((await api(d, 'POST', `/api/agents/${id}/message`, { content: 'limit again' })).status, 200);
    await statusOf(d, id, 'suspended');
    const st = await api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
    assert.equal(st.status, 200, JSON.stringify(st.body));
    assert.equal(st.body.status, 'stopped');
    assert.equal(st.body.resumeAt, undefined);
    const stopped = await agent(d, id);
    assert.equal(stopped.status, 'stopped');
    assert.equal(stopped.state.suspended, null);
    assert.equal((await api(d, 'POST', `/api/agents/${id}/resume`)).status, 409);
    // suspended, then started by the user: no longer suspended, no timer left
    assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'limit third' })).status, 200);
    await statusOf(d, id, 'suspended');
    assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, { initialPrompt: 'say hi' })).status, 200);
    const again = await statusOf(d, id, 'waiting');
    assert.equal(again.resumeAt, undefined);
    assert.equal(again.state.suspended, null);
    assert.equal((await api(d, 'POST', `/api/agents/${id}/resume`)).status, 409);
    await api(d, 'POST', `/api/agents/${id}/stop?force=true&wait=true`);
  } finally {
    await d.cleanup();
    await mock.close();
    sb.cleanup();
  }
});
