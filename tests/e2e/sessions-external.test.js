// SPDX-License-Identifier: MIT
// The CLIs' own sessions on this machine (issue #76, docs/sessions.md): a
// session the real Claude Code CLI made outside agentd (in the HOME the
// daemon has too) is listed with its folder, branch and messages, adopted
// with its history (its folder registered on the way), and its next start
// resumes it (the mock sees the earlier messages); a session whose file is
// still being appended is live and shows its new messages; another org sees
// nothing and cannot adopt; hostile files and ids are skipped or refused.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { orgRoots, startApi, until } = require('./lib/api');
const { Live } = require('./lib/live');
const { start: startMock } = require('../fixtures/mock-anthropic');
const { CLAUDE_BIN, claudeMissingReason, claudeEnv, runClaude } = require('../fixtures/claude-run');
const { CODEX_BIN, GEMINI_BIN, codexMissingReason, geminiMissingReason, makeSandbox, runCodex, runGemini } = require('../fixtures/cli-run');
const { start: startOpenAi } = require('../fixtures/mock-openai');

const skip = claudeMissingReason() || false;

const projectDir = (home, cwd) => path.join(home, '.claude', 'projects', cwd.replace(/[^A-Za-z0-9]/g, '-'));

function line(type, text, cwd, sessionId, extra = {}) {
  const message = type === 'user' ? { role: 'user', content: text }
    : { id: `msg_${Math.random().toString(36).slice(2)}`, type: 'message', role: 'assistant', model: 'm', content: [{ type: 'text', text }] };
  return JSON.stringify({ parentUuid: null, isSidechain: false, type, cwd, sessionId, gitBranch: 'main', message, uuid: `u${Math.random()}`, timestamp: new Date().toISOString(), ...extra }) + '\n';
}

async function listed(d, id, headers) {
  const r = await d.req('GET', '/api/sessions/external', undefined, headers);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.sessions.find((s) => s.sessionId === id);
}

test('a session of the real Claude CLI is listed, adopted with its history, and resumed', { skip }, async (t) => {
  const mock = await startMock();
  const home = daemon.tmpDir('agentd-sess-home-');
  const repo = daemon.tmpRepo('agentd-sess-repo-');
  const d = await startApi({ env: { HOME: home }, args: ['--claude-bin', CLAUDE_BIN] });
  t.after(async () => { await d.cleanup(); await mock.close(); });

  const first = await runClaude({ mockUrl: mock.url, home, cwd: repo, messages: ['remember this word'] });
  assert.equal(first.code, 0, first.stderr);
  const sid = first.results[0].session_id;

  // Listed with what its file says; live while just written, then ended.
  const s = await until(async () => {
    const x = await listed(d, sid);
    return x && !x.live ? x : null;
  }, 'the session listed as ended', 60000);
  assert.equal(s.tool, 'claude');
  assert.equal(s.cwd, repo);
  assert.equal(s.gitBranch, 'main');
  assert.equal(s.firstMessage, 'remember this word');
  assert.match(s.lastMessage, /banana/);
  assert.ok(Date.parse(s.lastActivity) > 0 && Date.parse(s.startedAt) > 0);

  // Adopted: no workspace is at its folder, so it is registered (the owner may).
  const env = claudeEnv(mock.url, home);
  delete env.PATH;
  delete env.HOME;
  const r = await d.req('POST', '/api/sessions/external/adopt', {
    tool: 'claude', sessionId: sid, env, allowUnsafeEnv: true, permissions: ['read', 'write', 'execute'],
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const ag = r.body;
  assert.equal(ag.sessionId, sid);
  assert.equal(ag.executor, 'claude');
  assert.equal(ag.name, 'remember this word');
  const wt = (await d.req('GET', `/api/worktrees/${ag.worktreeId}`)).body;
  assert.equal(wt.path, repo);
  const msgs = (await d.req('GET', `/api/agents/${ag.id}/messages?limit=200`)).body.messages.reverse();
  assert.deepEqual(msgs.map((m) => [m.role, m.content]).slice(0, 2),
    [['user', 'remember this word'], ['assistant', 'I will remember the word banana.']]);

  // The list names its agent now, and it is not adopted twice.
  assert.equal((await listed(d, sid)).agentId, ag.id);
  const again = await d.req('POST', '/api/sessions/external/adopt', { tool: 'claude', sessionId: sid });
  assert.equal(again.status, 409, JSON.stringify(again.body));
  assert.equal(again.body.error.code, 'ALREADY_ADOPTED');
  assert.equal(again.body.error.details.agentId, ag.id);

  // Its next start resumes the session: the API sees the earlier messages.
  const before = mock.agentRequests().length;
  const st = await d.req('POST', `/api/agents/${ag.id}/start`, { initialPrompt: 'and again?' });
  assert.equal(st.status, 200, JSON.stringify(st.body));
  const req = await until(() => mock.agentRequests().slice(before)
    .find((q) => JSON.stringify(q.body.messages).includes('and again?')), 'the resumed turn to reach the API', 90000);
  const users = JSON.stringify(req.body.messages);
  assert.match(users, /remember this word/, 'the resumed run carries the earlier conversation');
  assert.match(users, /I will remember the word banana/);
  const runs = (await d.req('GET', `/api/agents/${ag.id}/runs`)).body.runs;
  assert.equal(runs.length, 1);
  await d.req('POST', `/api/agents/${ag.id}/stop`, {});
  const after = (await d.req('GET', `/api/agents/${ag.id}`)).body;
  assert.equal(after.sessionId, sid);
});

test('a live outside session shows new lines; another org sees nothing; hostile files are skipped', async (t) => {
  const home = daemon.tmpDir('agentd-sess-home-');
  const repo = daemon.tmpRepo('agentd-sess-repo-');
  const d = await startApi({ env: { HOME: home } });
  t.after(() => d.cleanup());
  const dir = projectDir(home, repo);
  fs.mkdirSync(dir, { recursive: true });
  const sid = '11111111-2222-4333-8444-555555555555';
  const file = path.join(dir, `${sid}.jsonl`);
  fs.writeFileSync(file, line('user', 'first question', repo, sid) + line('assistant', 'first answer', repo, sid));

  // Hostile neighbours: a huge line, invalid JSON, a symlink out of ~/.claude,
  // a fifo, a name that is no session id.
  const bad = '22222222-2222-4333-8444-555555555555';
  fs.writeFileSync(path.join(dir, `${bad}.jsonl`), '{"type":"user","message":{"content":"' + 'x'.repeat(3 << 20) + '"}}\n{not json\n' + line('user', 'after the junk', repo, bad));
  const secret = path.join(daemon.tmpDir('agentd-sess-secret-'), 'secret.jsonl');
  fs.writeFileSync(secret, line('user', 'SECRET OUTSIDE', repo, 'x'));
  const linked = '33333333-2222-4333-8444-555555555555';
  fs.symlinkSync(secret, path.join(dir, `${linked}.jsonl`));
  fs.symlinkSync(path.dirname(secret), path.join(home, '.claude', 'projects', '-linked-dir'));
  require('node:child_process').execFileSync('mkfifo', [path.join(dir, '44444444-2222-4333-8444-555555555555.jsonl')]);
  fs.writeFileSync(path.join(dir, '..%2f..%2fetc.jsonl'), line('user', 'odd name', repo, 'odd'));

  const s = await listed(d, sid);
  assert.ok(s, 'the session is listed');
  assert.equal(s.live, true, 'just written: live');
  assert.equal(s.firstMessage, 'first question');
  const all = (await d.req('GET', '/api/sessions/external')).body.sessions;
  assert.ok(!JSON.stringify(all).includes('SECRET'), 'nothing read through a symlink');
  assert.deepEqual(all.map((x) => x.sessionId).sort(), [sid, bad].sort());
  const junk = all.find((x) => x.sessionId === bad);
  assert.equal(junk.firstMessage, 'after the junk', 'the huge line and the bad JSON are skipped');
  for (const id of [linked, '44444444-2222-4333-8444-555555555555']) {
    assert.equal((await d.req('GET', `/api/sessions/external/claude/${id}`)).status, 404, id);
  }

  // Live: a line appended shows in the read-only view and the list, and an
  // event is published on "sessions".
  const live = await Live.open(d);
  t.after(() => live.close());
  live.send('subscribe', { topics: ['sessions'] });
  await live.next('subscribed');
  const one = await d.req('GET', `/api/sessions/external/claude/${sid}`);
  assert.equal(one.status, 200, JSON.stringify(one.body));
  assert.deepEqual(one.body.messages.map((m) => m.content), ['first question', 'first answer']);
  fs.appendFileSync(file, line('user', 'a new question', repo, sid));
  await until(async () => {
    const x = await d.req('GET', `/api/sessions/external/claude/${sid}`);
    return x.body.messages.some((m) => m.content === 'a new question');
  }, 'the appended message in the read-only view');
  await until(async () => (await listed(d, sid))?.lastMessage === 'a new question', 'the list to follow');
  await live.until(() => live.events.some((e) => e.type === 'external_session' &&
    e.payload.session.sessionId === sid && e.payload.session.lastMessage === 'a new question'), 30000, 'an external_session event');
  // A live session is not adopted.
  const refused = await d.req('POST', '/api/sessions/external/adopt', { tool: 'claude', sessionId: sid });
  assert.equal(refused.status, 409, JSON.stringify(refused.body));

  // Ended (its file no longer written): adopted, but not into a worktree of
  // another folder, and not registered where the caller may not.
  const ended = '55555555-2222-4333-8444-555555555555';
  const endedFile = path.join(dir, `${ended}.jsonl`);
  fs.writeFileSync(endedFile, line('user', 'old work', repo, ended));
  const old = new Date(Date.now() - 3600e3);
  fs.utimesSync(endedFile, old, old);
  const other = daemon.tmpRepo('agentd-sess-other-');
  const ows = await d.req('POST', '/api/workspaces', { path: other });
  const elsewhere = await d.req('POST', '/api/sessions/external/adopt', { tool: 'claude', sessionId: ended, worktreeId: ows.body.worktrees[0].id });
  assert.equal(elsewhere.status, 409, JSON.stringify(elsewhere.body));
  assert.equal(elsewhere.body.error.details.cwd, repo);
  const writer = (await d.req('POST', '/api/tokens', { name: 'sess writer', scope: 'write' })).body;
  const w = { authorization: `Bearer ${writer.token}` };
  const notAllowed = await d.req('POST', '/api/sessions/external/adopt', { tool: 'claude', sessionId: ended }, w);
  assert.equal(notAllowed.status, 409, JSON.stringify(notAllowed.body));
  assert.equal(notAllowed.body.error.details.needed, 'workspace_roots');
  assert.equal((await d.req('GET', '/api/workspaces')).body.workspaces.length, 1, 'nothing registered');

  // Another org: an empty list, reads and adoptions 404.
  const org = (await d.req('POST', '/api/orgs', { name: 'sess-other' })).body;
  const tok = (await d.req('POST', '/api/tokens', { name: 'sess other', scope: 'admin', orgId: org.id })).body;
  const h = { authorization: `Bearer ${tok.token}` };
  const theirs = await d.req('GET', '/api/sessions/external', undefined, h);
  assert.equal(theirs.status, 200);
  assert.deepEqual(theirs.body.sessions, []);
  assert.equal((await d.req('GET', `/api/sessions/external/claude/${sid}`, undefined, h)).status, 404);
  assert.equal((await d.req('POST', '/api/sessions/external/adopt', { tool: 'claude', sessionId: sid }, h)).status, 404);

  // Ids that are paths, unknown tools: 422, and nothing is made.
  for (const id of ['../../etc/passwd', '..', 'a/b', '-rf', 'x'.repeat(100), '']) {
    const r = await d.req('POST', '/api/sessions/external/adopt', { tool: 'claude', sessionId: id });
    assert.ok(r.status === 422 || r.status === 400, `${id}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  assert.equal((await d.req('POST', '/api/sessions/external/adopt', { tool: 'vim', sessionId: sid })).status, 422);
  for (const p of ['..%2f..%2fetc', '..', '%2e%2e']) {
    const r = await d.req('GET', `/api/sessions/external/claude/${p}`);
    assert.ok([404, 422].includes(r.status), `${p}: ${r.status}`);
  }
  assert.equal((await d.req('POST', '/api/sessions/external/adopt', { tool: 'claude', sessionId: '99999999-2222-4333-8444-555555555555' })).status, 404);
  assert.deepEqual((await d.req('GET', '/api/agents')).body.agents, [], 'no agent was made');

  // Under one of the org's workspace_roots a write token registers the
  // folder itself, as POST /api/workspaces lets it.
  const rootsDir = daemon.tmpDir('agentd-sess-roots-');
  const rooted = fs.realpathSync(daemon.tmpRepo('agentd-sess-rooted-', rootsDir));
  const rootedId = '66666666-2222-4333-8444-555555555555';
  const rootedDir = projectDir(home, rooted);
  fs.mkdirSync(rootedDir, { recursive: true });
  const rootedFile = path.join(rootedDir, `${rootedId}.jsonl`);
  fs.writeFileSync(rootedFile, line('user', 'rooted work', rooted, rootedId));
  fs.utimesSync(rootedFile, old, old);
  await orgRoots(d, 'org_default', [fs.realpathSync(rootsDir)]);
  const byWriter = await d.req('POST', '/api/sessions/external/adopt', { tool: 'claude', sessionId: rootedId }, w);
  assert.equal(byWriter.status, 201, JSON.stringify(byWriter.body));
  const rootedWt = (await d.req('GET', `/api/worktrees/${byWriter.body.worktreeId}`)).body;
  assert.equal(rootedWt.path, rooted);
  const unasked = await d.req('POST', '/api/sessions/external/adopt', { tool: 'claude', sessionId: ended, mode: 'auto' }, w);
  assert.equal(unasked.status, 403, 'auto mode is an admin\'s, as at create');

  // The command line over the unix socket (the owner): the table, a refused
  // id, and an adoption that registers the session's folder.
  const cli = (...a) => daemon.run(['--data-dir', d.dataDir, 'sessions', ...a]);
  const table = cli();
  assert.equal(table.status, 0, table.stderr);
  assert.match(table.stdout, new RegExp(`claude +${ended}`));
  assert.match(table.stdout, /old work/);
  const badId = cli('adopt', 'claude', '../../etc/passwd');
  assert.notEqual(badId.status, 0);
  assert.match(badId.stderr, /sessionId/);
  const made = cli('adopt', 'claude', ended, '--name', 'from the cli');
  assert.equal(made.status, 0, made.stderr);
  const agId = made.stdout.trim();
  assert.match(agId, /^ag_/);
  const ag = (await d.req('GET', `/api/agents/${agId}`)).body;
  assert.equal(ag.name, 'from the cli');
  assert.equal(ag.sessionId, ended);
  assert.equal((await listed(d, ended)).agentId, agId);
  assert.equal(JSON.parse(cli('ls', '--json').stdout).sessions.find((x) => x.sessionId === ended).agentId, agId);
});

test('a session of the real Codex CLI is listed and adopted, and its next start resumes the thread', { skip: codexMissingReason() || false }, async (t) => {
  const mock = await startOpenAi();
  const home = daemon.tmpDir('agentd-sess-home-');
  const repo = daemon.tmpRepo('agentd-sess-codex-');
  const nodeModules = path.dirname(path.dirname(CODEX_BIN));
  const d = await startApi({ env: { HOME: home }, args: ['--codex-bin', CODEX_BIN, '--stop-grace-ms', '3000', '--sandbox-paths', nodeModules] });
  t.after(async () => { await d.cleanup(); await mock.close(); });
  fs.mkdirSync(path.join(home, '.codex'));
  const first = await runCodex({ mockUrl: mock.url, home, cwd: repo, prompt: 'remember this word' });
  assert.equal(first.code, 0, first.stderr);
  const sid = first.lines.find((l) => l.type === 'thread.started').thread_id;

  const s = await until(async () => {
    const x = await listed(d, sid);
    return x && !x.live ? x : null;
  }, 'the codex session listed as ended', 60000);
  assert.equal(s.tool, 'codex');
  assert.equal(s.cwd, repo);
  assert.equal(s.gitBranch, 'main');
  assert.equal(s.firstMessage, 'remember this word', 'the environment context is not the first message');
  assert.match(s.lastMessage, /banana/);

  const r = await d.req('POST', '/api/sessions/external/adopt', {
    tool: 'codex', sessionId: sid, mode: 'auto', model: 'gpt-5.5', baseUrl: `${mock.url}/v1`,
    codexConfig: { 'model_providers.agentd.request_max_retries': 0, 'model_providers.agentd.stream_max_retries': 0 },
    env: { OPENAI_API_KEY: 'dummy' }, allowUnsafeEnv: true,
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.executor, 'codex');
  assert.equal(r.body.sessionId, sid);
  const msgs = (await d.req('GET', `/api/agents/${r.body.id}/messages?limit=200`)).body.messages.reverse();
  assert.deepEqual(msgs.map((m) => [m.role, m.content]), [['user', 'remember this word'], ['assistant', 'I will remember the word banana.']]);

  const before = mock.modelRequests().length;
  const st = await d.req('POST', `/api/agents/${r.body.id}/start`, { initialPrompt: 'and again?' });
  assert.equal(st.status, 200, JSON.stringify(st.body));
  const req = await until(() => mock.modelRequests().slice(before)
    .find((q) => JSON.stringify(q.body.input).includes('and again?')), 'the resumed turn to reach the API', 90000);
  assert.match(JSON.stringify(req.body.input), /remember this word/, 'the resumed thread carries the earlier turn');
  await d.req('POST', `/api/agents/${r.body.id}/stop`, {});
});

test('a chat of the real Gemini CLI is listed, shown and adopted, and its next start resumes it', { skip: geminiMissingReason() || false }, async (t) => {
  const mock = await require('../fixtures/mock-gemini').start();
  const sb = makeSandbox();
  const nodeModules = path.dirname(path.dirname(GEMINI_BIN));
  const d = await startApi({ env: { HOME: sb.home }, args: ['--gemini-bin', GEMINI_BIN, '--stop-grace-ms', '3000', '--sandbox-paths', nodeModules] });
  t.after(async () => { await d.cleanup(); await mock.close(); sb.cleanup(); });
  const r = await runGemini({ mockUrl: mock.url, home: sb.home, cwd: sb.cwd, prompt: 'remember this word' });
  assert.equal(r.code, 0, r.stderr);
  const s = await until(async () => {
    const all = (await d.req('GET', '/api/sessions/external')).body.sessions;
    return all.find((x) => x.tool === 'gemini' && !x.live);
  }, 'the gemini chat listed as ended', 60000);
  assert.equal(s.cwd, sb.cwd);
  assert.equal(s.firstMessage, 'remember this word', 'the session context is not the first message');
  assert.match(s.lastMessage, /banana/);
  const one = await d.req('GET', `/api/sessions/external/gemini/${s.sessionId}`);
  assert.equal(one.status, 200, JSON.stringify(one.body));
  assert.deepEqual(one.body.messages.map((m) => m.role), ['user', 'assistant']);

  // Adopted: the agent works in the chat's folder, with its transcript.
  const a = await d.req('POST', '/api/sessions/external/adopt', {
    tool: 'gemini', sessionId: s.sessionId, mode: 'regular', baseUrl: mock.url,
    env: { GEMINI_API_KEY: 'dummy' }, allowUnsafeEnv: true,
  });
  assert.equal(a.status, 201, JSON.stringify(a.body));
  assert.equal(a.body.executor, 'gemini');
  assert.equal(a.body.sessionId, s.sessionId);
  const msgs = (await d.req('GET', `/api/agents/${a.body.id}/messages?limit=200`)).body.messages.reverse();
  assert.deepEqual(msgs.map((m) => m.role), ['user', 'assistant']);
  assert.equal(msgs[0].content, 'remember this word');
  assert.equal((await d.req('POST', '/api/sessions/external/adopt', { tool: 'gemini', sessionId: s.sessionId })).status, 409);

  // Its next start resumes the chat (its own home shows the user's chats of
  // that folder): the model sees the earlier turn.
  const before = mock.requests.length;
  const st = await d.req('POST', `/api/agents/${a.body.id}/start`, { initialPrompt: 'what word was it?' });
  assert.equal(st.status, 200, JSON.stringify(st.body));
  const req = await until(() => mock.requests.slice(before)
    .find((q) => q.rpc === 'streamGenerateContent' && JSON.stringify(q.body).includes('what word was it?')), 'the resumed turn to reach the API', 90000);
  assert.match(JSON.stringify(req.body.contents), /remember this word/, 'the resumed chat carries the earlier turn');
  await until(async () => (await d.req('GET', `/api/agents/${a.body.id}`)).body.status !== 'running', 'the run to end', 90000);
  // the user's chat has the new turn (the same chat, not a new one: the CLI
  // names its file by the minute it writes in and the chat's short id, so a
  // resume may start a second file of the same chat)
  const dir = path.join(sb.home, '.gemini', 'tmp', path.basename(sb.cwd).toLowerCase(), 'chats');
  const chats = fs.readdirSync(dir).sort();
  const shortId = (f) => f.replace(/\.jsonl?$/, '').split('-').pop();
  assert.deepEqual([...new Set(chats.map(shortId))], [shortId(chats[0])], `one chat: ${JSON.stringify(chats)}`);
  // (which file of it has the turn is the CLI's: seen both ways, the first or a new one)
  assert.ok(chats.some((f) => /what word was it/.test(fs.readFileSync(path.join(dir, f), 'utf8'))),
    `the new turn in the chat's files: ${JSON.stringify(chats)}`);
});
