// SPDX-License-Identifier: MIT
// Helpers for the tests that run real agent CLIs under agentd: an agent's
// transcript and runs, and a live subscription to one agent's events (api()
// and until() come from ./api and are passed on for these tests).
'use strict';

const { Live } = require('./live');
const assert = require('node:assert/strict');
const { claudeEnv } = require('../../fixtures/claude-run');
const { api, until, pendingApprovals } = require('./api');

async function messages(d, id) {
  return (await api(d, 'GET', `/api/agents/${id}/messages?limit=200`)).body.messages;
}

// The first assistant message of agent id that starts with prefix, read
// through d, once there is one.
async function said(d, id, prefix) {
  return until(async () => {
    const m = (await messages(d, id)).find((x) => x.role === 'assistant' && x.content.startsWith(prefix));
    return m ? m.content : null;
  }, `an answer starting "${prefix}"`);
}

async function runs(d, id) {
  return (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs;
}

async function agent(d, id) {
  return (await api(d, 'GET', `/api/agents/${id}`)).body;
}

// Waits until the agent has `n` runs and none is running; returns the newest.
async function runEnded(d, id, n, ms) {
  return until(async () => {
    const rs = await runs(d, id);
    const a = await agent(d, id);
    return rs.length >= n && rs[0].status !== 'running' && a.status !== 'running' ? rs[0] : null;
  }, `run ${n} of ${id} to end`, ms);
}

// Claude agents working in sandbox sb (its cwd made a workspace) against the
// mock Anthropic API at mockUrl: returns make(extra) → a new agent (its row).
async function claudeAgents(d, sb, mockUrl) {
  const ws = await api(d, 'POST', '/api/workspaces', { path: sb.cwd });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  const env = claudeEnv(mockUrl, sb.home);
  delete env.PATH; // the daemon's own PATH finds the CLI
  return async (extra = {}) => {
    const ag = await api(d, 'POST', '/api/agents', { worktreeId: ws.body.worktrees[0].id, executor: 'claude', env, allowUnsafeEnv: true, ...extra });
    assert.equal(ag.status, 201, JSON.stringify(ag.body));
    return ag.body;
  };
}

// A live /ws subscription to one agent's topic.
async function watch(d, id) {
  const live = await Live.open(d, '/ws');
  live.send('subscribe', { topics: [`agent:${id}`] });
  await live.next('subscribed');
  return live;
}

// The bus events of a type seen so far on a watch.
function seen(live, type) {
  return live.events.filter((e) => e.type === type).map((e) => e.payload);
}

module.exports = { api, until, messages, said, runs, agent, runEnded, claudeAgents, watch, seen, pendingApprovals };
