// SPDX-License-Identifier: MIT
// The CLIs' own sessions on a worker node (issue #76, docs/sessions.md
// "Sessions on nodes"): a session the real Claude Code CLI made in the node
// user's home (a temporary one, against the mock Anthropic API) is listed
// on the control plane with its node, read over the link, adopted as an
// agent pinned to that node with its transcript imported, and its next
// start resumes it on the node (the mock sees the earlier conversation).
// Another organisation sees none of it and cannot adopt through the node;
// refusals are clear 4xx answers; a node that goes away lists nothing; a
// node's junk answers are dropped field by field, and one that does not
// answer a list is left out of it. The real Codex and Gemini CLIs' sessions
// on a node are adopted and resumed there the same way.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { start: startMock } = require('../fixtures/mock-anthropic');
const { CLAUDE_BIN, claudeMissingReason, claudeEnv, runClaude } = require('../fixtures/claude-run');
const { api, until, allMessages } = require('./lib/api');
const { nodeToken, startNode, nodeNamed, rogueNode } = require('./lib/nodes');
const { CODEX_BIN, GEMINI_BIN, codexMissingReason, geminiMissingReason, makeSandbox, runCodex, runGemini } = require('../fixtures/cli-run');

const skip = claudeMissingReason() || false;

function line(type, text, cwd, sessionId) {
  const message = type === 'user' ? { role: 'user', content: text } : { id: 'msg_1', type: 'message', role: 'assistant', model: 'm', content: [{ type: 'text', text }] };
  return JSON.stringify({ parentUuid: null, isSidechain: false, type, cwd, sessionId, message, uuid: `u${Math.random()}`, timestamp: new Date().toISOString() }) + '\n';
}

async function listed(d, sid, headers, query = '') {
  const r = await api(d, 'GET', `/api/sessions/external${query}`, undefined, headers);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return { s: r.body.sessions.find((x) => x.sessionId === sid), body: r.body };
}

test('a Claude session on a node is listed with its node, adopted there and resumed there', { skip }, async () => {
  const mock = await startMock();
  const repo = daemon.tmpRepo('agentd-nsess-repo-');
  const proj = fs.realpathSync(daemon.tmpRepo('agentd-nsess-proj-')); // a folder on the node
  const d = await daemon.start({ needUrl: true, args: ['--claude-bin', CLAUDE_BIN, '--node-lease-ms', '1500'] });
  let n = null;
  try {
    const ws = await api(d, 'POST', '/api/workspaces', { path: repo, name: 'nsess' });
    assert.equal(ws.status, 201, JSON.stringify(ws.body));
    const wt = await api(d, 'POST', '/api/worktrees', { workspaceId: ws.body.id, name: 'nsess', branch: 'nsess', createBranch: true, base: 'main' });
    assert.equal(wt.status, 201, JSON.stringify(wt.body));
    const t = await nodeToken(d, 'sbox');
    n = await startNode(d.url, { token: t.token, name: 'sbox', env: { PATH: `${path.dirname(CLAUDE_BIN)}:${path.dirname(process.execPath)}:/usr/bin:/bin` } });
    assert.ok(n.home && !n.home.startsWith(require('node:os').homedir() + '/.'), 'the node has a home of its own');
    const box = await until(async () => (await nodeNamed(d, 'sbox'))?.caps?.clis?.claude && nodeNamed(d, 'sbox'), 'the node has found claude');

    // The real CLI, run by the node's user in a folder of the node's.
    const first = await runClaude({ mockUrl: mock.url, home: n.home, cwd: proj, messages: ['remember this word'] });
    assert.equal(first.code, 0, first.stderr);
    const sid = first.results[0].session_id;

    // Listed on the control plane with its node, ended.
    const s = await until(async () => {
      const x = (await listed(d, sid)).s;
      return x && !x.live ? x : null;
    }, 'the node session listed as ended', 60000);
    assert.deepEqual(s.node, { id: box.id, name: 'sbox' });
    assert.equal(s.tool, 'claude');
    assert.equal(s.cwd, proj);
    assert.equal(s.firstMessage, 'remember this word');
    assert.match(s.lastMessage, /banana/);
    assert.equal(s.agentId, null);
    const only = await listed(d, sid, undefined, '?node=sbox');
    assert.ok(only.s, 'listed under ?node=');
    assert.ok(only.body.sessions.every((x) => x.node && x.node.id === box.id), 'only that node\'s');
    assert.deepEqual(only.body.nodes.map((x) => [x.name, x.listed]), [['sbox', true]]);
    assert.equal((await api(d, 'GET', '/api/sessions/external?node=nowhere')).status, 404);
    // the CLI says where each one is
    const cli = (...a) => daemon.run(['--data-dir', d.dataDir, 'sessions', ...a]);
    const table = cli('ls');
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout.split('\n')[0], /\bNODE\b/);
    assert.ok(table.stdout.split('\n').some((l) => l.includes(sid) && /\bsbox\b/.test(l)), table.stdout);
    const byNode = JSON.parse(cli('ls', '--node', 'sbox', '--json').stdout);
    assert.equal(byNode.sessions.find((x) => x.sessionId === sid).node.name, 'sbox');

    // Read over the link, read-only.
    const read = await api(d, 'GET', `/api/sessions/external/claude/${sid}?node=sbox`);
    assert.equal(read.status, 200, JSON.stringify(read.body));
    assert.deepEqual(read.body.messages.map((m) => [m.role, m.content]).slice(0, 2),
      [['user', 'remember this word'], ['assistant', 'I will remember the word banana.']]);
    assert.equal((await api(d, 'GET', `/api/sessions/external/claude/99999999-2222-4333-8444-555555555555?node=sbox`)).status, 404);

    // Another organisation: none of the node's sessions, and the node is not its own.
    const org = (await api(d, 'POST', '/api/orgs', { name: 'nsess-other' })).body;
    const tok = (await api(d, 'POST', '/api/tokens', { name: 'nsess other', scope: 'admin', orgId: org.id })).body;
    const h = { authorization: `Bearer ${tok.token}` };
    const theirs = await listed(d, sid, h);
    assert.equal(theirs.s, undefined, 'another org does not see the node\'s session');
    assert.deepEqual(theirs.body.nodes, []);
    assert.equal((await api(d, 'GET', `/api/sessions/external/claude/${sid}?node=sbox`, undefined, h)).status, 404);
    const foreign = await api(d, 'POST', '/api/sessions/external/adopt', { tool: 'claude', sessionId: sid, node: 'sbox' }, h);
    assert.equal(foreign.status, 404, JSON.stringify(foreign.body));
    assert.equal(foreign.body.error.details.field, 'node');

    // Refusals, each a clear 4xx, and nothing made.
    const env = claudeEnv(mock.url, n.home);
    delete env.PATH;
    delete env.HOME;
    const body = { tool: 'claude', sessionId: sid, node: 'sbox', env, allowUnsafeEnv: true, permissions: ['read', 'write', 'execute'] };
    const noWt = await api(d, 'POST', '/api/sessions/external/adopt', body);
    assert.equal(noWt.status, 409, JSON.stringify(noWt.body));
    assert.equal(noWt.body.error.code, 'WORKTREE_NEEDED');
    assert.equal(noWt.body.error.details.cwd, proj);
    assert.equal((await api(d, 'POST', '/api/sessions/external/adopt', { ...body, node: 'nowhere', worktreeId: wt.body.id })).status, 404);
    assert.equal((await api(d, 'POST', '/api/sessions/external/adopt', { ...body, worktreeId: 'wt_nope' })).status, 404);
    assert.equal((await api(d, 'POST', '/api/sessions/external/adopt', { ...body, tool: 'vim', worktreeId: wt.body.id })).status, 422);
    const noCodex = await api(d, 'POST', '/api/sessions/external/adopt', { ...body, tool: 'codex', worktreeId: wt.body.id });
    assert.equal(noCodex.status, 404, 'a Codex session the node does not have');
    assert.equal((await api(d, 'POST', '/api/sessions/external/adopt', { ...body, sessionId: '../../etc/passwd', worktreeId: wt.body.id })).status, 422);
    const unknown = await api(d, 'POST', '/api/sessions/external/adopt', { ...body, sessionId: '99999999-2222-4333-8444-555555555555', worktreeId: wt.body.id });
    assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
    const writer = (await api(d, 'POST', '/api/tokens', { name: 'nsess writer', scope: 'write' })).body;
    const byWriter = await api(d, 'POST', '/api/sessions/external/adopt', { tool: 'claude', sessionId: sid, node: 'sbox', worktreeId: wt.body.id },
      { authorization: `Bearer ${writer.token}` });
    assert.equal(byWriter.status, 403, 'choosing the node an agent runs on is an admin\'s');
    assert.deepEqual((await api(d, 'GET', '/api/agents')).body.agents, [], 'no agent was made');

    // Adopted into the worktree, pinned to the node, its transcript imported.
    const r = await api(d, 'POST', '/api/sessions/external/adopt', { ...body, worktreeId: wt.body.id });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const ag = r.body;
    assert.equal(ag.sessionId, sid);
    assert.equal(ag.state.node, 'sbox');
    assert.equal(ag.worktreeId, wt.body.id);
    assert.equal(ag.name, 'remember this word');
    const msgs = await allMessages(d, ag.id);
    assert.deepEqual(msgs.map((m) => [m.role, m.content]).slice(0, 2),
      [['user', 'remember this word'], ['assistant', 'I will remember the word banana.']]);
    assert.equal((await listed(d, sid)).s.agentId, ag.id);
    const again = await api(d, 'POST', '/api/sessions/external/adopt', { ...body, worktreeId: wt.body.id });
    assert.equal(again.status, 409, JSON.stringify(again.body));
    assert.equal(again.body.error.code, 'ALREADY_ADOPTED');

    // The file is where the agent's runs on the node look for it.
    const nodeWt = path.join(fs.realpathSync(n.dataDir), 'worktrees', wt.body.id);
    const placed = path.join(n.home, '.claude', 'projects', nodeWt.replace(/[^A-Za-z0-9]/g, '-'), `${sid}.jsonl`);
    assert.ok(fs.existsSync(placed), `the session file placed on the node: ${placed}`);

    // Its next start runs on the node and resumes the session there.
    const before = mock.agentRequests().length;
    const st = await api(d, 'POST', `/api/agents/${ag.id}/start`, { initialPrompt: 'what word was it?' });
    assert.equal(st.status, 200, JSON.stringify(st.body));
    const req = await until(() => mock.agentRequests().slice(before)
      .find((q) => JSON.stringify(q.body.messages).includes('what word was it?')), 'the resumed turn to reach the API', 90000);
    const sent = JSON.stringify(req.body.messages);
    assert.match(sent, /remember this word/, 'the resumed run carries the earlier conversation');
    assert.match(sent, /I will remember the word banana/);
    const runs = (await api(d, 'GET', `/api/agents/${ag.id}/runs`)).body.runs;
    assert.equal(runs[0].nodeId, box.id, 'the run is on the node');
    await until(async () => (await api(d, 'GET', `/api/agents/${ag.id}`)).body.status === 'waiting', 'the turn ended', 90000);
    assert.equal((await api(d, 'GET', `/api/agents/${ag.id}`)).body.sessionId, sid, 'the same session');
    assert.match(fs.readFileSync(placed, 'utf8'), /what word was it\?/, 'the node\'s CLI went on in that file');
    await api(d, 'POST', `/api/agents/${ag.id}/stop`, {});

    // A session that ran in the node's copy of a worktree is adopted into that
    // worktree without naming it.
    const sid2 = '77777777-2222-4333-8444-555555555555';
    const inCopy = path.join(n.home, '.claude', 'projects', path.join(n.dataDir, 'worktrees', wt.body.id).replace(/[^A-Za-z0-9]/g, '-'));
    fs.mkdirSync(inCopy, { recursive: true });
    const copyFile = path.join(inCopy, `${sid2}.jsonl`);
    fs.writeFileSync(copyFile, line('user', 'check the copy', path.join(n.dataDir, 'worktrees', wt.body.id), sid2));
    const old = new Date(Date.now() - 3600e3);
    fs.utimesSync(copyFile, old, old);
    const derived = await api(d, 'POST', '/api/sessions/external/adopt', { tool: 'claude', sessionId: sid2, node: 'sbox' });
    assert.equal(derived.status, 201, JSON.stringify(derived.body));
    assert.equal(derived.body.worktreeId, wt.body.id, 'the worktree whose copy it ran in');
    assert.equal(derived.body.state.node, 'sbox');

    // A node that goes away lists nothing, says so, and takes no adoption.
    await n.stop();
    const gone = await until(async () => {
      const x = await listed(d, sid);
      const e = x.body.nodes.find((y) => y.name === 'sbox');
      return e && !e.listed ? x : null;
    }, 'the node listed as away');
    assert.equal(gone.s, undefined, 'its sessions are absent');
    assert.ok(gone.body.nodes.find((y) => y.name === 'sbox').error);
    const away = await api(d, 'POST', '/api/sessions/external/adopt', { ...body, worktreeId: wt.body.id });
    assert.equal(away.status, 409, JSON.stringify(away.body));
    assert.equal(away.body.error.code, 'NODE_AWAY');
    const awayRead = await api(d, 'GET', `/api/sessions/external/claude/${sid}?node=sbox`);
    assert.equal(awayRead.status, 409, JSON.stringify(awayRead.body));
    assert.equal(awayRead.body.error.code, 'NODE_AWAY');

    // A node whose agentd does not say it reads sessions (an older one) is
    // not asked: the list says so at once instead of waiting for it.
    const rogue = await rogueNode(d, 'oldbox');
    try {
      const old1 = await listed(d, sid);
      const entry = old1.body.nodes.find((y) => y.name === 'oldbox');
      assert.equal(entry.listed, false);
      assert.match(entry.error, /older/);
      const oldRead = await api(d, 'GET', `/api/sessions/external/claude/${sid}?node=oldbox`);
      assert.equal(oldRead.status, 409, JSON.stringify(oldRead.body));
      assert.equal(oldRead.body.error.code, 'NODE_OUTDATED');
    } finally {
      rogue.ws.close();
    }
  } finally {
    if (n) await n.cleanup();
    await d.cleanup();
    await mock.close();
  }
});

test('what a node says of its sessions is taken only in the listing\'s shapes', async () => {
  const d = await daemon.start({ needUrl: true });
  const WebSocket = require('./lib/ws');
  let ws = null;
  try {
    // A node of the test's own making, saying it answers ext_sessions, and answering with junk.
    const t = await nodeToken(d, 'liar');
    ws = new WebSocket(d.url.replace('http', 'ws') + '/api/nodes/link', { headers: { authorization: `Bearer ${t.token}` } });
    await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
    const good = { tool: 'claude', sessionId: '88888888-2222-4333-8444-555555555555', cwd: '/srv/p', lastActivity: '2026-11-29T10:00:00.000Z', size: 5, live: false, firstMessage: 'fine', secret: 'dropped' };
    const asked = [];
    let silent = false; // lists asked while set are kept here, unanswered
    const unanswered = [];
    ws.on('message', (m) => {
      const msg = JSON.parse(String(m));
      if (msg.t !== 'ext_sessions') return;
      asked.push(msg.op);
      if (silent && msg.op === 'list') { unanswered.push(msg); return; }
      const sessions = msg.op === 'list' ? [good,
        { ...good, sessionId: '../../etc/passwd' }, { ...good, sessionId: '99999999-2222-4333-8444-555555555555', cwd: 'relative/path' },
        { ...good, sessionId: '77777777-2222-4333-8444-555555555555', tool: 'vim' }, { ...good, sessionId: '66666666-2222-4333-8444-555555555555', lastActivity: 'yesterday' },
        'not an object', 42] : undefined;
      const answer = msg.op === 'list' ? { sessions }
        : { session: good, messages: [{ role: 'user', content: 'hello', x: 1 }, { role: 'root', content: 'no' }, { role: 'assistant', content: 7 }] };
      ws.send(JSON.stringify({ t: 'ext_sessions_done', id: msg.id, ...answer }));
    });
    const welcomed = new Promise((resolve) => ws.on('message', (m) => { if (String(m).includes('welcome')) resolve(); }));
    ws.send(JSON.stringify({ t: 'hello', name: 'liar', labels: {}, caps: { sessions: true }, runs: [] }));
    await welcomed;

    const r = await api(d, 'GET', '/api/sessions/external?node=liar');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(asked, ['list']);
    assert.deepEqual(r.body.sessions.map((x) => x.sessionId), [good.sessionId], 'only the well-formed session');
    assert.equal(r.body.sessions[0].secret, undefined, 'an unknown field is dropped');
    assert.equal(r.body.sessions[0].node.name, 'liar');
    const read = await api(d, 'GET', `/api/sessions/external/claude/${good.sessionId}?node=liar`);
    assert.equal(read.status, 200, JSON.stringify(read.body));
    assert.deepEqual(read.body.messages.map((m) => [m.role, m.content, m.x]), [['user', 'hello', undefined]]);

    // A node that does not answer a list: the list answers without it (a
    // list is a page load: it waits a few seconds, not the link's 30), the
    // node marked as not answering in time; its late answer is dropped.
    silent = true;
    const slow = await api(d, 'GET', '/api/sessions/external');
    assert.equal(slow.status, 200, JSON.stringify(slow.body));
    assert.equal(unanswered.length, 1, 'the node was asked');
    const entry = slow.body.nodes.find((x) => x.name === 'liar');
    assert.equal(entry.listed, false, JSON.stringify(slow.body.nodes));
    assert.match(entry.error, /did not answer in time/);
    assert.ok(slow.body.sessions.every((x) => x.node === null), 'none of its sessions');
    silent = false;
    ws.send(JSON.stringify({ t: 'ext_sessions_done', id: unanswered[0].id, sessions: [good] }));
    const after = await api(d, 'GET', '/api/sessions/external?node=liar');
    assert.equal(after.status, 200, JSON.stringify(after.body));
    assert.deepEqual(after.body.sessions.map((x) => x.sessionId), [good.sessionId], 'the next list is answered as before');
    assert.equal(after.body.nodes[0].listed, true);
  } finally {
    if (ws) ws.close();
    await d.cleanup();
  }
});

// Cleanups run last registered first, once the test ends.
function undoer(t) {
  const fns = [];
  t.after(async () => { for (const f of fns.reverse()) await f(); });
  return (f) => fns.push(f);
}

// A control plane with a worktree, and a node `name` whose user's home is
// home, running its agents sandboxed with the CLIs from npm readable.
async function planeAndNode(undo, name, home, bin, cli) {
  const repo = daemon.tmpRepo('agentd-nsess-repo-');
  const d = await daemon.start({ needUrl: true, args: ['--node-lease-ms', '1500'] });
  undo(() => d.cleanup());
  const ws = await api(d, 'POST', '/api/workspaces', { path: repo, name: `ns-${name}` });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  const wt = await api(d, 'POST', '/api/worktrees', { workspaceId: ws.body.id, name, branch: name, createBranch: true, base: 'main' });
  assert.equal(wt.status, 201, JSON.stringify(wt.body));
  const tok = await nodeToken(d, name);
  const nodeModules = path.dirname(path.dirname(bin));
  const n = await startNode(d.url, {
    token: tok.token, name, env: { HOME: home, PATH: `${path.dirname(bin)}:${path.dirname(process.execPath)}:/usr/bin:/bin` },
    globalArgs: ['--sandbox-paths', `${path.resolve(__dirname, '..', 'fixtures')},${nodeModules}`],
  });
  undo(() => n.cleanup());
  const box = await until(async () => (await nodeNamed(d, name))?.caps?.clis?.[cli] && nodeNamed(d, name), `the node has found ${cli}`);
  return { d, n, box, wt: wt.body };
}

// The session listed on the plane with its node, ended.
async function listedOn(d, tool, box, pred = () => true) {
  return until(async () => {
    const r = await api(d, 'GET', `/api/sessions/external?node=${box.name}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.sessions.find((x) => x.tool === tool && !x.live && pred(x));
  }, `the node's ${tool} session listed as ended`, 60000);
}

test('a Codex session on a node is adopted there and its next start resumes the thread there', { skip: codexMissingReason() || false }, async (t) => {
  const undo = undoer(t);
  const mock = await require('../fixtures/mock-openai').start();
  undo(() => mock.close());
  const home = daemon.tmpDir('agentd-nsess-codex-home-');
  undo(() => fs.rmSync(home, { recursive: true, force: true }));
  const proj = fs.realpathSync(daemon.tmpRepo('agentd-nsess-codex-proj-'));
  const { d, box, wt } = await planeAndNode(undo, 'cxbox', home, CODEX_BIN, 'codex');

  // The real CLI, run by the node's user in a folder of the node's.
  fs.mkdirSync(path.join(home, '.codex'));
  const first = await runCodex({ mockUrl: mock.url, home, cwd: proj, prompt: 'remember this word' });
  assert.equal(first.code, 0, first.stderr);
  const sid = first.lines.find((l) => l.type === 'thread.started').thread_id;
  const s = await listedOn(d, 'codex', box, (x) => x.sessionId === sid);
  assert.deepEqual(s.node, { id: box.id, name: 'cxbox' });
  assert.equal(s.cwd, proj);
  assert.equal(s.firstMessage, 'remember this word');

  const r = await api(d, 'POST', '/api/sessions/external/adopt', {
    tool: 'codex', sessionId: sid, node: 'cxbox', worktreeId: wt.id, mode: 'auto', model: 'gpt-5.5', baseUrl: `${mock.url}/v1`,
    codexConfig: { 'model_providers.agentd.request_max_retries': 0, 'model_providers.agentd.stream_max_retries': 0 },
    env: { OPENAI_API_KEY: 'dummy' }, allowUnsafeEnv: true,
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.executor, 'codex');
  assert.equal(r.body.sessionId, sid);
  assert.equal(r.body.state.node, 'cxbox');
  const msgs = await allMessages(d, r.body.id);
  assert.deepEqual(msgs.map((m) => [m.role, m.content]).slice(0, 2), [['user', 'remember this word'], ['assistant', 'I will remember the word banana.']]);

  // Its next start runs on the node and resumes the thread there.
  const before = mock.modelRequests().length;
  const st = await api(d, 'POST', `/api/agents/${r.body.id}/start`, { initialPrompt: 'and again?' });
  assert.equal(st.status, 200, JSON.stringify(st.body));
  const req = await until(() => mock.modelRequests().slice(before)
    .find((q) => JSON.stringify(q.body.input).includes('and again?')), 'the resumed turn to reach the API', 90000);
  assert.match(JSON.stringify(req.body.input), /remember this word/, 'the resumed thread carries the earlier turn');
  const runs = (await api(d, 'GET', `/api/agents/${r.body.id}/runs`)).body.runs;
  assert.equal(runs[0].nodeId, box.id, 'the run is on the node');
  await until(async () => (await api(d, 'GET', `/api/agents/${r.body.id}`)).body.status !== 'running', 'the turn ended', 90000);
  assert.equal((await api(d, 'GET', `/api/agents/${r.body.id}`)).body.sessionId, sid, 'the same thread');
  await api(d, 'POST', `/api/agents/${r.body.id}/stop`, {});
});

test('a Gemini chat on a node is adopted there and its next start resumes it there', { skip: geminiMissingReason() || false }, async (t) => {
  const undo = undoer(t);
  const mock = await require('../fixtures/mock-gemini').start();
  undo(() => mock.close());
  const sb = makeSandbox(); // the node user's home, with the CLI's settings, and a folder of the node's
  undo(() => sb.cleanup());
  const { d, n, box, wt } = await planeAndNode(undo, 'gmbox', sb.home, GEMINI_BIN, 'gemini');

  const first = await runGemini({ mockUrl: mock.url, home: sb.home, cwd: sb.cwd, prompt: 'remember this word' });
  assert.equal(first.code, 0, first.stderr);
  const s = await listedOn(d, 'gemini', box);
  assert.deepEqual(s.node, { id: box.id, name: 'gmbox' });
  assert.equal(s.cwd, sb.cwd);
  assert.equal(s.firstMessage, 'remember this word');

  const r = await api(d, 'POST', '/api/sessions/external/adopt', {
    tool: 'gemini', sessionId: s.sessionId, node: 'gmbox', worktreeId: wt.id, mode: 'regular', baseUrl: mock.url,
    env: { GEMINI_API_KEY: 'dummy' }, allowUnsafeEnv: true,
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.executor, 'gemini');
  assert.equal(r.body.sessionId, s.sessionId);
  assert.equal(r.body.state.node, 'gmbox');
  const msgs = await allMessages(d, r.body.id);
  assert.deepEqual(msgs.map((m) => m.role).slice(0, 2), ['user', 'assistant']);
  assert.equal(msgs[0].content, 'remember this word');

  // The chat is in the project folder of the worktree's copy on the node,
  // which the node's registry names as the CLI would.
  const nodeWt = path.join(fs.realpathSync(n.dataDir), 'worktrees', wt.id);
  const reg = JSON.parse(fs.readFileSync(path.join(sb.home, '.gemini', 'projects.json'), 'utf8'));
  const slug = reg.projects[nodeWt];
  assert.ok(slug, `the registry names the worktree's copy: ${JSON.stringify(reg)}`);
  const chats = path.join(sb.home, '.gemini', 'tmp', slug, 'chats');
  assert.equal(fs.readFileSync(path.join(sb.home, '.gemini', 'tmp', slug, '.project_root'), 'utf8'), nodeWt);
  assert.equal(fs.readdirSync(chats).length, 1, 'the chat placed');

  // Its next start runs on the node and resumes the chat there.
  const before = mock.requests.length;
  const st = await api(d, 'POST', `/api/agents/${r.body.id}/start`, { initialPrompt: 'what word was it?' });
  assert.equal(st.status, 200, JSON.stringify(st.body));
  const req = await until(() => mock.requests.slice(before)
    .find((q) => q.rpc === 'streamGenerateContent' && JSON.stringify(q.body).includes('what word was it?')), 'the resumed turn to reach the API', 90000);
  assert.match(JSON.stringify(req.body.contents), /remember this word/, 'the resumed chat carries the earlier turn');
  const runs = (await api(d, 'GET', `/api/agents/${r.body.id}/runs`)).body.runs;
  assert.equal(runs[0].nodeId, box.id, 'the run is on the node');
  await until(async () => (await api(d, 'GET', `/api/agents/${r.body.id}`)).body.status !== 'running', 'the run ended', 90000);
  assert.ok(fs.readdirSync(chats).some((f) => /what word was it/.test(fs.readFileSync(path.join(chats, f), 'utf8'))), 'the node\'s CLI went on in that chat');
  await api(d, 'POST', `/api/agents/${r.body.id}/stop`, {});
});

test('a Codex session on a node adopted by another organisation goes to its agent\'s own home there, and resumes', { skip: codexMissingReason() || false }, async (t) => {
  const undo = undoer(t);
  const mock = await require('../fixtures/mock-openai').start();
  undo(() => mock.close());
  const home = daemon.tmpDir('agentd-nsess-codex-home-');
  undo(() => fs.rmSync(home, { recursive: true, force: true }));
  const proj = fs.realpathSync(daemon.tmpRepo('agentd-nsess-codex-proj-'));
  const d = await daemon.start({ needUrl: true, args: ['--node-lease-ms', '1500'] });
  undo(() => d.cleanup());
  // an organisation of its own, with a node and a worktree of its own
  const org = (await api(d, 'POST', '/api/orgs', { name: 'nsess codex org' })).body.id;
  const b = { authorization: `Bearer ${(await api(d, 'POST', '/api/tokens', { name: 'nsx-admin', scope: 'admin', orgId: org })).body.token}` };
  const roots = (await api(d, 'GET', '/api/settings')).body.workspace_roots || {};
  assert.equal((await api(d, 'PATCH', '/api/settings', { workspace_roots: { ...roots, [org]: [require('node:os').tmpdir()] } })).status, 200);
  const ws = await api(d, 'POST', '/api/workspaces', { path: daemon.tmpRepo('agentd-nsess-orgrepo-') }, b);
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  const wtId = ws.body.worktrees[0].id;
  const tok = await api(d, 'POST', '/api/tokens', { name: 'oxbox', scope: 'node', orgId: org });
  const nodeModules = path.dirname(path.dirname(CODEX_BIN));
  const n = await startNode(d.url, {
    token: tok.body.token, name: 'oxbox', env: { HOME: home, PATH: `${path.dirname(CODEX_BIN)}:${path.dirname(process.execPath)}:/usr/bin:/bin` },
    globalArgs: ['--sandbox-paths', `${path.resolve(__dirname, '..', 'fixtures')},${nodeModules}`],
  });
  undo(() => n.cleanup());
  const box = await until(async () => (await nodeNamed(d, 'oxbox'))?.caps?.clis?.codex && nodeNamed(d, 'oxbox'), 'the node has found codex');

  fs.mkdirSync(path.join(home, '.codex'));
  const first = await runCodex({ mockUrl: mock.url, home, cwd: proj, prompt: 'remember this word' });
  assert.equal(first.code, 0, first.stderr);
  const sid = first.lines.find((l) => l.type === 'thread.started').thread_id;
  await listedOn(d, 'codex', box, (x) => x.sessionId === sid);

  const r = await api(d, 'POST', '/api/sessions/external/adopt', {
    tool: 'codex', sessionId: sid, node: 'oxbox', worktreeId: wtId, mode: 'auto', model: 'gpt-5.5', baseUrl: `${mock.url}/v1`,
    codexConfig: { 'model_providers.agentd.request_max_retries': 0, 'model_providers.agentd.stream_max_retries': 0 },
    env: { OPENAI_API_KEY: 'dummy' }, allowUnsafeEnv: true,
  }, b);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  // its runs there never see the node user's ~/.codex: the file is copied
  // into its own home there, at the same date folder
  const rel = path.relative(path.join(home, '.codex', 'sessions'),
    require('node:child_process').execFileSync('find', [path.join(home, '.codex', 'sessions'), '-name', `*${sid}*`], { encoding: 'utf8' }).trim());
  const copy = path.join(n.dataDir, 'homes', r.body.id, '.codex', 'sessions', rel);
  assert.ok(fs.existsSync(copy), `the rollout copied for the agent: ${copy}`);

  const before = mock.modelRequests().length;
  const st = await api(d, 'POST', `/api/agents/${r.body.id}/start`, { initialPrompt: 'and again?' }, b);
  assert.equal(st.status, 200, JSON.stringify(st.body));
  const req = await until(() => mock.modelRequests().slice(before)
    .find((q) => JSON.stringify(q.body.input).includes('and again?')), 'the resumed turn to reach the API', 90000);
  assert.match(JSON.stringify(req.body.input), /remember this word/, 'the resumed thread carries the earlier turn');
  await until(async () => (await api(d, 'GET', `/api/agents/${r.body.id}`, undefined, b)).body.status !== 'running', 'the turn ended', 90000);
  await api(d, 'POST', `/api/agents/${r.body.id}/stop`, {}, b);
});
