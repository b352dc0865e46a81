// SPDX-License-Identifier: MIT
// Agent definitions end to end: files in the data dir's definitions folder
// and in a workspace's .claude/agents, listed with categories, searched
// and ranked, one read with its prompt, a file with bad YAML listed with
// its error, an edit seen at once, the automatic choice for a prompt (and
// the default when nothing matches), a chat started from a definition
// (its prompt and model reach the provider), and another organisation
// never seeing a workspace's definitions.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { startApi, assertError, until } = require('./lib/api');
const mockAnthropic = require('../fixtures/mock-anthropic');

let d;
let mock;
let ws;
let defsDir;

const def = (front, body) => `---\n${front}\n---\n${body}\n`;

test.before(async () => {
  mock = await mockAnthropic.start({ direct: true, rules: [{ reply: { text: 'ok' } }] });
  d = await startApi();
  defsDir = path.join(d.dataDir, 'definitions');
  fs.mkdirSync(defsDir);
  fs.writeFileSync(path.join(defsDir, 'reviewer.md'), def(
    'name: code-reviewer\ncategory: quality\ndescription: Reviews pull requests for bugs and style\n' +
    'capabilities: [code review, security]\ntools: Read, Grep\nmodel: opus\ntier: thorough\ntags: [review]',
    'You are a careful code reviewer.'));
  fs.writeFileSync(path.join(defsDir, 'writer.md'), def(
    'name: doc-writer\ncategory: docs\ndescription: Writes documentation, guides and READMEs\ncapabilities: markdown, writing\ntier: fast',
    'You write clear documentation.'));
  fs.writeFileSync(path.join(defsDir, 'general.md'), def('name: general\ncategory: misc\ndescription: Anything', 'You help.'));
  fs.writeFileSync(path.join(defsDir, 'broken.md'), '---\nname: [oops\n---\nbody\n');
  fs.writeFileSync(path.join(defsDir, 'notes.txt'), 'not a definition');
  const repo = daemon.tmpRepo('defs-ws-', d.dataDir);
  fs.mkdirSync(path.join(repo, '.claude', 'agents'), { recursive: true });
  fs.writeFileSync(path.join(repo, '.claude', 'agents', 'db.md'), def(
    'name: db-expert\ndescription: Designs SQL schemas and migrations\ntools: Read, Bash\nmodel: sonnet',
    'You know databases.'));
  const r = await d.req('POST', '/api/workspaces', { path: repo });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  ws = r.body.id;
  await d.req('PUT', '/api/credentials/anthropic', { apiKey: 'sk-ant-defs-test-0000', baseUrl: mock.url });
});
test.after(async () => {
  if (d) await d.cleanup();
  if (mock) await mock.close();
});

test('definitions from the data dir and the workspace, with categories and errors', async () => {
  const r = await d.req('GET', '/api/definitions');
  assert.equal(r.status, 200);
  const names = r.body.definitions.map((x) => x.name).sort();
  assert.deepEqual(names, ['broken', 'code-reviewer', 'db-expert', 'doc-writer', 'general']);
  const broken = r.body.definitions.find((x) => x.name === 'broken');
  assert.match(broken.error, /bad YAML front matter/);
  const db = r.body.definitions.find((x) => x.name === 'db-expert');
  assert.equal(db.source, 'workspace');
  assert.equal(db.workspaceId, ws);
  assert.deepEqual(db.tools, ['Read', 'Bash']);
  assert.equal(db.systemPrompt, undefined, 'lists leave the prompt out');
  assert.deepEqual(r.body.categories.sort(), ['docs', 'misc', 'quality']);
  const c = await d.req('GET', '/api/definitions?category=docs');
  assert.deepEqual(c.body.definitions.map((x) => x.name), ['doc-writer']);
  const one = await d.req('GET', '/api/definitions/code-reviewer');
  assert.equal(one.status, 200);
  assert.equal(one.body.systemPrompt, 'You are a careful code reviewer.\n');
  assert.deepEqual(one.body.capabilities, ['code review', 'security']);
  assertError(await d.req('GET', '/api/definitions/nope'), 404, 'NOT_FOUND');
});

test('search ranks by the words that match; an edit shows at once', async () => {
  let r = await d.req('GET', '/api/definitions?q=' + encodeURIComponent('review my pull request for security bugs'));
  assert.equal(r.body.definitions[0].name, 'code-reviewer');
  assert.ok(r.body.definitions[0].score > 0);
  assert.ok(r.body.definitions[0].matched.includes('security'));
  assert.ok(!r.body.definitions.some((x) => x.name === 'doc-writer'), 'no match, not listed');
  fs.writeFileSync(path.join(defsDir, 'writer.md'), def(
    'name: doc-writer\ncategory: docs\ndescription: Writes documentation and security advisories', 'x'));
  r = await d.req('GET', '/api/definitions?q=security');
  assert.ok(r.body.definitions.some((x) => x.name === 'doc-writer'));
});

test('select picks the best definition for a prompt, or the default', async () => {
  let r = await d.req('POST', '/api/definitions/select', { prompt: 'design a SQL schema with migrations' });
  assert.equal(r.status, 200);
  assert.equal(r.body.definition.name, 'db-expert');
  assert.equal(r.body.default, false);
  assert.ok(r.body.matched.includes('schema'));
  r = await d.req('POST', '/api/definitions/select', { prompt: 'zzz qqq' });
  assert.equal(r.body.default, true);
  assert.equal(r.body.definition.name, 'general');
  assertError(await d.req('POST', '/api/definitions/select', {}), 422, 'VALIDATION_ERROR', 'prompt');
});

test('a chat from a definition sends its prompt and model', async () => {
  let r = await d.req('POST', '/api/chats', { definition: 'code-reviewer' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.model, 'claude-opus-4-1');
  assert.equal(r.body.definition, 'code-reviewer');
  assert.equal(r.body.system, 'You are a careful code reviewer.\n');
  const chat = r.body.id;
  r = await d.req('POST', `/api/chats/${chat}/messages`, { content: 'look at this' });
  assert.equal(r.status, 202);
  const sent = await until(() => mock.requests.find((x) => x.body && x.body.model === 'claude-opus-4-1'), 'the provider to get the definition\'s model');
  assert.equal(sent.body.system, 'You are a careful code reviewer.\n');
  // an explicit model wins; a broken or unknown definition is refused
  r = await d.req('POST', '/api/chats', { definition: 'doc-writer', model: 'claude-sonnet-4-5' });
  assert.equal(r.body.model, 'claude-sonnet-4-5');
  assertError(await d.req('POST', '/api/chats', { definition: 'broken' }), 422, 'VALIDATION_ERROR', 'definition');
  assertError(await d.req('POST', '/api/chats', { definition: 'nope' }), 422, 'VALIDATION_ERROR', 'definition');
});

test('another organisation sees the shared definitions, never a workspace\'s', async () => {
  const org = await d.req('POST', '/api/orgs', { name: 'defs b' });
  const tok = await d.req('POST', '/api/tokens', { name: 'defs-b', scope: 'write', orgId: org.body.id });
  const b = { authorization: `Bearer ${tok.body.token}` };
  const r = await d.req('GET', '/api/definitions', undefined, b);
  assert.ok(!r.body.definitions.some((x) => x.name === 'db-expert'));
  assert.ok(r.body.definitions.some((x) => x.name === 'code-reviewer'));
  assertError(await d.req('GET', '/api/definitions/db-expert', undefined, b), 404, 'NOT_FOUND');
  assertError(await d.req('POST', '/api/chats', { definition: 'db-expert' }, b), 422, 'VALIDATION_ERROR', 'definition');
});

// Polls GET /api/definitions (bounded: 100 tries, 50 ms apart) until pred holds.
async function pollDefs(pred, what, headers) {
  return until(async () => {
    const defs = (await d.req('GET', '/api/definitions', undefined, headers)).body.definitions;
    return pred(defs) ? defs : null;
  }, `the definitions to show ${what}`);
}

test('the folders are watched: new, changed, broken, deleted files and a new folder are announced', async () => {
  const { Live } = require('./lib/live');
  const org = await d.req('POST', '/api/orgs', { name: 'watch b' });
  const tok = await d.req('POST', '/api/tokens', { name: 'watch-b', scope: 'read', orgId: org.body.id });
  const b = { authorization: `Bearer ${tok.body.token}` };
  const live = await Live.open(d);
  live.send('subscribe', { topics: ['definitions'] });
  await live.next('subscribed');
  const other = await Live.open({ url: d.url, authHeaders: b });
  other.send('subscribe', { topics: ['definitions'] });
  await other.next('subscribed');
  const changes = (c, source) => c.msgs.filter((m) => m.type === 'definitions_changed' &&
    m.payload.source === source).length;
  try {
    // a new file in the data dir: everybody is told
    let n = changes(live, 'data');
    let m = changes(other, 'data');
    fs.writeFileSync(path.join(defsDir, 'tester.md'), def('name: tester\ndescription: Writes tests', 'You test.'));
    await pollDefs((x) => x.some((y) => y.name === 'tester'), 'the new file');
    await live.until(() => changes(live, 'data') > n, 5000, 'definitions_changed (new)');
    await other.until(() => changes(other, 'data') > m, 5000, 'definitions_changed for the other org');
    // changed, then broken, then deleted
    n = changes(live, 'data');
    fs.writeFileSync(path.join(defsDir, 'tester.md'), def('name: tester\ndescription: Writes unit tests\ntier: fast', 'x'));
    await pollDefs((x) => x.some((y) => y.name === 'tester' && y.tier === 'fast'), 'the change');
    await live.until(() => changes(live, 'data') > n, 5000, 'definitions_changed (changed)');
    fs.writeFileSync(path.join(defsDir, 'tester.md'), '---\ntier: [x\n---\n');
    await pollDefs((x) => x.some((y) => y.name === 'tester' && /bad YAML/.test(y.error || '')), 'the error');
    n = changes(live, 'data');
    fs.unlinkSync(path.join(defsDir, 'tester.md'));
    await pollDefs((x) => !x.some((y) => y.name === 'tester'), 'the deletion');
    await live.until(() => changes(live, 'data') > n, 5000, 'definitions_changed (deleted)');
    // a workspace without .claude/agents gets one: its org alone hears of it
    const repo = daemon.tmpRepo('defs-watch-', d.dataDir);
    const w = await d.req('POST', '/api/workspaces', { path: repo });
    assert.equal(w.status, 201);
    n = changes(live, 'workspace');
    fs.mkdirSync(path.join(repo, '.claude', 'agents'), { recursive: true });
    fs.writeFileSync(path.join(repo, '.claude', 'agents', 'ops.md'), def('name: ops-helper\ndescription: Runs deploys', 'You deploy.'));
    await pollDefs((x) => x.some((y) => y.name === 'ops-helper'), 'the workspace file');
    await live.until(() => live.msgs.some((x) => x.type === 'definitions_changed' &&
      x.payload.workspaceId === w.body.id), 5000, 'definitions_changed of the workspace');
    fs.writeFileSync(path.join(repo, '.claude', 'agents', 'ops.md'), def('name: ops-helper\ndescription: Runs deploys\ncategory: ops', 'x'));
    await pollDefs((x) => x.some((y) => y.name === 'ops-helper' && y.category === 'ops'), 'the workspace change');
    assert.ok(changes(live, 'workspace') > n);
    assert.equal(changes(other, 'workspace'), 0, 'another org never hears of a workspace\'s definitions');
  } finally {
    await live.close();
    await other.close();
  }
});

test('a definition given to a Claude Code agent: its prompt, model and tools', async () => {
  const w = await d.req('GET', `/api/workspaces/${ws}`);
  const wt = (w.body.worktrees || [])[0].id;
  let r = await d.req('POST', '/api/agents', { worktreeId: wt, definition: 'code-reviewer' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const a = r.body.agent || r.body;
  assert.equal(a.state.systemPrompt, 'You are a careful code reviewer.\n');
  assert.equal(a.state.model, 'opus');
  assert.equal(a.state.definition, 'code-reviewer');
  assert.deepEqual(a.permissions, ['Read', 'Grep']);
  // what the request says wins
  r = await d.req('POST', '/api/agents', { worktreeId: wt, definition: 'code-reviewer', model: 'sonnet', permissions: ['read'] });
  const b = r.body.agent || r.body;
  assert.equal(b.state.model, 'sonnet');
  assert.deepEqual(b.permissions, ['read']);
  assertError(await d.req('POST', '/api/agents', { worktreeId: wt, definition: 'nope' }), 422, 'VALIDATION_ERROR', 'definition');
  assertError(await d.req('POST', '/api/agents', { worktreeId: wt, definition: 'broken' }), 422, 'VALIDATION_ERROR', 'definition');
  assertError(await d.req('POST', '/api/agents', { worktreeId: wt, definition: 'code-reviewer', executor: 'codex' }), 422, 'VALIDATION_ERROR', 'definition');
  assertError(await d.req('POST', '/api/agents', { worktreeId: wt, definition: 7 }), 422, 'VALIDATION_ERROR', 'definition');
});
