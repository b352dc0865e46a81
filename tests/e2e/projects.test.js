// SPDX-License-Identifier: MIT
// Projects end to end: created, listed by user, saved whole (1,000
// messages and 200 files in one PUT, read back in order), files changed by
// path all or none, paths that climb out or are absolute refused with
// nothing stored changed, code blocks of a chat answer saved as files, a
// save cut by kill -9 leaving the old project or the new one (never a
// mix), and another organisation seeing none of it.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const daemon = require('./lib/daemon');
const { startApi, assertError, chatIdle } = require('./lib/api');
const mockAnthropic = require('../fixtures/mock-anthropic');

let d;

test.before(async () => { d = await startApi(); });
test.after(async () => { if (d) await d.cleanup(); });

const version = (tag, nMsgs, nFiles) => ({
  messages: Array.from({ length: nMsgs }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `${tag} message ${i}` })),
  files: Array.from({ length: nFiles }, (_, i) => ({ path: `src/dir${i % 7}/file${i}.ts`, content: `// ${tag} ${i}\n`.repeat(20) })),
});

test('a project is saved whole and read back in order', async () => {
  let r = await d.req('POST', '/api/projects', { name: 'site', description: 'a web site', userId: 'u1' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const id = r.body.id;
  assert.match(id, /^proj_/);
  await d.req('POST', '/api/projects', { name: 'other', userId: 'u2' });
  r = await d.req('GET', '/api/projects?userId=u1');
  assert.deepEqual(r.body.projects.map((p) => p.name), ['site']);
  r = await d.req('GET', `/api/projects/${id}`);
  assert.deepEqual([r.body.messages, r.body.files], [[], []]);
  const v = version('v1', 1000, 200);
  r = await d.req('PUT', `/api/projects/${id}`, { name: 'site 2', ...v });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.messageCount, 1000);
  assert.equal(r.body.fileCount, 200);
  r = await d.req('GET', `/api/projects/${id}`);
  assert.equal(r.body.name, 'site 2');
  assert.equal(r.body.description, 'a web site');
  assert.equal(r.body.messages.length, 1000);
  assert.deepEqual(r.body.messages.map((m) => m.content), v.messages.map((m) => m.content));
  assert.equal(r.body.files.length, 200);
  const f = r.body.files.find((x) => x.path === 'src/dir3/file10.ts');
  assert.equal(f.content, v.files[10].content);
  assert.equal(f.size, v.files[10].content.length);
  // a save of the messages alone keeps the files
  r = await d.req('PUT', `/api/projects/${id}`, { messages: [{ role: 'user', content: 'only' }] });
  r = await d.req('GET', `/api/projects/${id}`);
  assert.equal(r.body.messages.length, 1);
  assert.equal(r.body.files.length, 200);
});

test('files change by path, all or none; bad paths and sizes are refused', async () => {
  const p = (await d.req('POST', '/api/projects', { name: 'files' })).body.id;
  let r = await d.req('PATCH', `/api/projects/${p}/files`, { changes: [{ path: 'a.txt', content: 'A' }, { path: 'b/c.txt', content: 'C' }] });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.files.map((x) => x.path), ['a.txt', 'b/c.txt']);
  r = await d.req('PATCH', `/api/projects/${p}/files`, { changes: [{ path: 'a.txt', content: 'A2' }, { path: 'b/c.txt', delete: true }] });
  assert.deepEqual(r.body.files.map((x) => [x.path, x.size]), [['a.txt', 2]]);
  // deleting a missing file fails the whole change: a.txt keeps A2
  r = await d.req('PATCH', `/api/projects/${p}/files`, { changes: [{ path: 'a.txt', content: 'A3' }, { path: 'nope.txt', delete: true }] });
  assertError(r, 404, 'NOT_FOUND');
  const bad = ['../x', '/etc/passwd', 'a/../../b', 'a//b', 'a\\b', 'C:x', '', 'a/./b', 'x\u0001'];
  for (const path of bad) {
    r = await d.req('PATCH', `/api/projects/${p}/files`, { changes: [{ path, content: 'evil' }] });
    assertError(r, 422, 'VALIDATION_ERROR', 'changes[0]');
    r = await d.req('PUT', `/api/projects/${p}`, { files: [{ path: 'ok.txt', content: 'x' }, { path, content: 'evil' }] });
    assertError(r, 422, 'VALIDATION_ERROR', 'files[1]');
  }
  r = await d.req('PATCH', `/api/projects/${p}/files`, { changes: [{ path: 'big.bin', content: 'x'.repeat(512 * 1024 + 1) }] });
  assertError(r, 422, 'VALIDATION_ERROR', 'changes[0]');
  r = await d.req('PUT', `/api/projects/${p}`, { files: [{ path: 'd.txt', content: '1' }, { path: 'd.txt', content: '2' }] });
  assertError(r, 422, 'VALIDATION_ERROR', 'files[1]');
  r = await d.req('PUT', `/api/projects/${p}`, { messages: [{ role: 'robot', content: 'x' }] });
  assertError(r, 422, 'VALIDATION_ERROR', 'messages[0]');
  r = await d.req('GET', `/api/projects/${p}`);
  assert.deepEqual(r.body.files.map((x) => [x.path, x.content]), [['a.txt', 'A2']]);
  assert.deepEqual(r.body.messages, []);
});

test('code blocks of an answer that name files are saved into the project', async () => {
  const mock = await mockAnthropic.start({ direct: true, rules: [{ reply: { text: 'Here you go:\n```js app/index.js\nconsole.log(1);\n```\nand\n```README.md\n# App\n```\n' } }] });
  try {
    await d.req('PUT', '/api/credentials/anthropic', { apiKey: 'sk-ant-projects-0000', baseUrl: mock.url });
    const chat = (await d.req('POST', '/api/chats', {})).body.id;
    const sent = await d.req('POST', `/api/chats/${chat}/messages`, { content: 'write an app' });
    const msg = sent.body.assistantMessage.id;
    const g = await chatIdle(d, chat);
    assert.equal(g.messages[1].status, 'complete');
    const p = (await d.req('POST', '/api/projects', { name: 'from chat', chatId: chat })).body.id;
    // a chat of the project adds its usage to the project's
    const pc = (await d.req('POST', '/api/chats', { projectId: p })).body.id;
    await d.req('POST', `/api/chats/${pc}/messages`, { content: 'count me' });
    await chatIdle(d, pc);
    const usage = (await d.req('GET', `/api/projects/${p}`)).body;
    assert.ok(usage.outputTokens > 0, JSON.stringify(usage));
    assert.ok(usage.inputTokens > 0);
    let r = await d.req('POST', `/api/projects/${p}/files/from-message`, { chatId: chat, messageId: msg });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.files.map((x) => x.path), ['README.md', 'app/index.js']);
    r = await d.req('GET', `/api/projects/${p}`);
    assert.equal(r.body.files.find((x) => x.path === 'app/index.js').content, 'console.log(1);\n');
    r = await d.req('POST', `/api/projects/${p}/files/from-message`, { chatId: chat, messageId: g.messages[0].id });
    assertError(r, 422, 'VALIDATION_ERROR', 'messageId');
  } finally {
    await mock.close();
  }
});

test('a project is exported as a folder (admin)', async () => {
  const fs = require('node:fs');
  const path = require('node:path');
  const p = (await d.req('POST', '/api/projects', { name: 'export me', description: 'd' })).body.id;
  await d.req('PUT', `/api/projects/${p}`, {
    messages: [{ role: 'user', content: 'make it' }, { role: 'assistant', content: 'made' }],
    files: [{ path: 'index.html', content: '<p>hi</p>' }, { path: 'src/js/app.js', content: 'go();' }],
  });
  const out = path.join(daemon.tmpDir(), 'export');
  let r = await d.req('POST', `/api/projects/${p}/export`, { path: out });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.files, 2);
  assert.equal(fs.readFileSync(path.join(out, 'src/js/app.js'), 'utf8'), 'go();');
  assert.equal(fs.readFileSync(path.join(out, 'index.html'), 'utf8'), '<p>hi</p>');
  const meta = JSON.parse(fs.readFileSync(path.join(out, '.agentd-project.json'), 'utf8'));
  assert.deepEqual(meta.messages.map((m) => m.content), ['make it', 'made']);
  r = await d.req('POST', `/api/projects/${p}/export`, { path: out });
  assertError(r, 409, 'CONFLICT');
  assertError(await d.req('POST', `/api/projects/${p}/export`, { path: 'relative/dir' }), 422, 'VALIDATION_ERROR', 'path');
  assertError(await d.req('POST', `/api/projects/${p}/export`, { path: '/tmp/../etc/x' }), 422, 'VALIDATION_ERROR', 'path');
  const w = await d.req('POST', '/api/tokens', { name: 'proj-writer', scope: 'write' });
  r = await d.req('POST', `/api/projects/${p}/export`, { path: out + '2' }, { authorization: `Bearer ${w.body.token}` });
  assertError(r, 403, 'FORBIDDEN');
  fs.rmSync(path.dirname(out), { recursive: true, force: true });
});

test('a project downloads as a tar archive that tar reads back', async () => {
  const fs = require('node:fs');
  const path = require('node:path');
  const { spawnSync } = require('node:child_process');
  const p = (await d.req('POST', '/api/projects', { name: 'My site / v1' })).body.id;
  const long = 'deep/' + 'a'.repeat(120) + '/file.txt';
  await d.req('PUT', `/api/projects/${p}`, {
    messages: [{ role: 'user', content: 'make it' }],
    files: [{ path: 'index.html', content: '<p>hi</p>' }, { path: long, content: 'x'.repeat(1000) }, { path: 'empty.txt', content: '' }],
  });
  const ro = await d.req('POST', '/api/tokens', { name: 'proj-reader', scope: 'read' });
  const res = await fetch(`${d.url}/api/projects/${p}/archive`, { headers: { authorization: `Bearer ${ro.body.token}` } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/x-tar');
  assert.match(res.headers.get('content-disposition'), /filename="My-site---v1\.tar"/);
  const buf = Buffer.from(await res.arrayBuffer());
  assert.equal(buf.length % 512, 0);
  const dir = daemon.tmpDir();
  fs.writeFileSync(path.join(dir, 'p.tar'), buf);
  const x = spawnSync('tar', ['-xf', 'p.tar'], { cwd: dir, encoding: 'utf8' });
  assert.equal(x.status, 0, x.stderr);
  const top = path.join(dir, 'My-site---v1');
  assert.equal(fs.readFileSync(path.join(top, 'index.html'), 'utf8'), '<p>hi</p>');
  assert.equal(fs.readFileSync(path.join(top, long), 'utf8'), 'x'.repeat(1000));
  assert.equal(fs.readFileSync(path.join(top, 'empty.txt'), 'utf8'), '');
  const meta = JSON.parse(fs.readFileSync(path.join(top, '.agentd-project.json'), 'utf8'));
  assert.deepEqual(meta.messages.map((m) => m.content), ['make it']);
  assertError(await d.req('GET', '/api/projects/proj_nope/archive'), 404, 'NOT_FOUND');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a project is committed into a worktree: its files alone, never outside it', async () => {
  const fs = require('node:fs');
  const path = require('node:path');
  const { spawnSync } = require('node:child_process');
  const repo = daemon.tmpRepo('proj-commit-');
  const env = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
  const git = (...a) => {
    const r = spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...a], { cwd: repo, env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  const outside = daemon.tmpDir();
  fs.symlinkSync(outside, path.join(repo, 'evil'));
  fs.writeFileSync(path.join(repo, 'notes.txt'), 'n1\n');
  git('add', 'evil', 'notes.txt');
  git('commit', '-qm', 'a link and notes');
  // unrelated work in progress: one file staged, one changed
  fs.writeFileSync(path.join(repo, 'staged.txt'), 'staged\n');
  git('add', 'staged.txt');
  fs.writeFileSync(path.join(repo, 'notes.txt'), 'n2\n');
  const ws = await d.req('POST', '/api/workspaces', { path: repo });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  const wt = ws.body.worktrees[0].id;
  const p = (await d.req('POST', '/api/projects', { name: 'commit me' })).body.id;
  await d.req('PUT', `/api/projects/${p}`, {
    files: [{ path: 'index.html', content: '<p>hi</p>' }, { path: 'src/js/app.js', content: 'go();' }],
  });
  let r = await d.req('POST', `/api/projects/${p}/commit`, { worktreeId: wt, path: 'site', message: 'Add the site' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.match(r.body.commit, /^[0-9a-f]{40}$/);
  assert.deepEqual(r.body.files, ['site/index.html', 'site/src/js/app.js']);
  assert.equal(git('rev-parse', 'HEAD').trim(), r.body.commit);
  assert.equal(git('log', '-1', '--format=%s').trim(), 'Add the site');
  assert.deepEqual(git('show', '--name-only', '--format=', 'HEAD').trim().split('\n'), ['site/index.html', 'site/src/js/app.js']);
  assert.equal(fs.readFileSync(path.join(repo, 'site/src/js/app.js'), 'utf8'), 'go();');
  // the work in progress is as it was, and the written files are clean
  assert.deepEqual(git('status', '--porcelain').split('\n').filter(Boolean).sort(), [' M notes.txt', 'A  staged.txt']);
  // the same files again: nothing to commit
  r = await d.req('POST', `/api/projects/${p}/commit`, { worktreeId: wt, path: 'site' });
  assertError(r, 409, 'CONFLICT');
  assert.equal(r.body.error.details.reason, 'nothing_to_commit');
  // changed in the worktree since: refused, the change kept
  fs.writeFileSync(path.join(repo, 'site/index.html'), 'mine');
  await d.req('PATCH', `/api/projects/${p}/files`, { changes: [{ path: 'index.html', content: '<p>v2</p>' }] });
  r = await d.req('POST', `/api/projects/${p}/commit`, { worktreeId: wt, path: 'site', message: 'v2' });
  assertError(r, 409, 'CONFLICT');
  assert.equal(r.body.error.details.reason, 'dirty');
  assert.deepEqual(r.body.error.details.changedFiles, ['site/index.html']);
  assert.equal(fs.readFileSync(path.join(repo, 'site/index.html'), 'utf8'), 'mine');
  git('checkout', '--', 'site/index.html');
  // a committed symlink to outside the worktree, and .git: refused, nothing written
  r = await d.req('POST', `/api/projects/${p}/commit`, { worktreeId: wt, path: 'evil', message: 'x' });
  assertError(r, 422, 'VALIDATION_ERROR');
  assert.equal(r.body.error.details.reason, 'unsafe_path');
  assert.deepEqual(fs.readdirSync(outside), []);
  r = await d.req('POST', `/api/projects/${p}/commit`, { worktreeId: wt, path: '.git/hooks', message: 'x' });
  assertError(r, 422, 'VALIDATION_ERROR');
  assert.ok(!fs.existsSync(path.join(repo, '.git/hooks/index.html')));
  assertError(await d.req('POST', `/api/projects/${p}/commit`, { worktreeId: wt, path: '../up' }), 422, 'VALIDATION_ERROR', 'path');
  assertError(await d.req('POST', `/api/projects/${p}/commit`, { worktreeId: 'wt_nope' }), 422, 'VALIDATION_ERROR', 'worktreeId');
  assertError(await d.req('POST', `/api/projects/${p}/commit`, {}), 422, 'VALIDATION_ERROR', 'worktreeId');
  // at the top of the worktree, with the default message
  r = await d.req('POST', `/api/projects/${p}/commit`, { worktreeId: wt });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(git('log', '-1', '--format=%s').trim(), 'Add project commit me');
  assert.equal(fs.readFileSync(path.join(repo, 'index.html'), 'utf8'), '<p>v2</p>');
  // a write token may not: it writes where programs run
  const w = await d.req('POST', '/api/tokens', { name: 'proj-commit-writer', scope: 'write' });
  r = await d.req('POST', `/api/projects/${p}/commit`, { worktreeId: wt, path: 'w' }, { authorization: `Bearer ${w.body.token}` });
  assertError(r, 403, 'FORBIDDEN');
  // an empty project has nothing to commit
  const empty = (await d.req('POST', '/api/projects', { name: 'empty' })).body.id;
  assertError(await d.req('POST', `/api/projects/${empty}/commit`, { worktreeId: wt }), 409, 'CONFLICT');
  // another organisation's admin: neither the project nor the worktree
  const org = await d.req('POST', '/api/orgs', { name: 'commit b' });
  const tok = await d.req('POST', '/api/tokens', { name: 'commit-b', scope: 'admin', orgId: org.body.id });
  const b = { authorization: `Bearer ${tok.body.token}` };
  assertError(await d.req('POST', `/api/projects/${p}/commit`, { worktreeId: wt }, b), 404, 'NOT_FOUND');
  const bp = (await d.req('POST', '/api/projects', { name: 'b project' }, b)).body.id;
  await d.req('PUT', `/api/projects/${bp}`, { files: [{ path: 'b.txt', content: 'b' }] }, b);
  assertError(await d.req('POST', `/api/projects/${bp}/commit`, { worktreeId: wt }, b), 422, 'VALIDATION_ERROR', 'worktreeId');
  assert.ok(!fs.existsSync(path.join(repo, 'b.txt')));
});

test('another organisation sees none of it', async () => {
  const p = (await d.req('POST', '/api/projects', { name: 'mine' })).body.id;
  const org = await d.req('POST', '/api/orgs', { name: 'proj b' });
  const tok = await d.req('POST', '/api/tokens', { name: 'proj-b', scope: 'admin', orgId: org.body.id });
  const b = { authorization: `Bearer ${tok.body.token}` };
  assertError(await d.req('GET', `/api/projects/${p}`, undefined, b), 404, 'NOT_FOUND');
  assertError(await d.req('PUT', `/api/projects/${p}`, { name: 'x' }, b), 404, 'NOT_FOUND');
  assertError(await d.req('PATCH', `/api/projects/${p}/files`, { changes: [] }, b), 404, 'NOT_FOUND');
  assertError(await d.req('DELETE', `/api/projects/${p}`, undefined, b), 404, 'NOT_FOUND');
  assert.deepEqual((await d.req('GET', '/api/projects', undefined, b)).body.projects, []);
  // B cannot hang its chats or projects on A's rows
  assertError(await d.req('POST', '/api/chats', { projectId: p }, b), 422, 'VALIDATION_ERROR', 'projectId');
  const aChat = (await d.req('POST', '/api/chats', {})).body.id;
  assertError(await d.req('POST', '/api/projects', { name: 'x', chatId: aChat }, b), 422, 'VALIDATION_ERROR', 'chatId');
  assert.equal((await d.req('GET', `/api/projects/${p}`)).body.name, 'mine');
  const r = await d.req('DELETE', `/api/projects/${p}`);
  assert.equal(r.status, 200);
  assertError(await d.req('GET', `/api/projects/${p}`), 404, 'NOT_FOUND');
});

test('a save cut by kill -9 leaves the old project or the new one', async (t) => {
  const dataDir = daemon.tmpDir();
  let k = await startApi({ dataDir });
  try {
    const id = (await k.req('POST', '/api/projects', { name: 'crash' })).body.id;
    const v1 = version('old', 10, 5);
    assert.equal((await k.req('PUT', `/api/projects/${id}`, v1)).status, 200);
    const outcomes = [];
    // Killed at once, a little later, later still, and once the answer
    // came (then the new project must be there: the answer means committed).
    for (const [round, delay] of [[1, 0], [2, 3], [3, 10], [4, 30], [5, 'answered']]) {
      const v2 = version(`new${round}`, 1000, 200);
      const put = k.req('PUT', `/api/projects/${id}`, v2).catch(() => null);
      if (delay === 'answered') assert.equal((await put).status, 200);
      else await new Promise((res) => setTimeout(res, delay));
      await k.stop('SIGKILL');
      await put;
      k = await startApi({ dataDir });
      const r = await k.req('GET', `/api/projects/${id}`);
      assert.equal(r.status, 200);
      const tags = new Set([...r.body.messages.map((m) => m.content.split(' ')[0]),
        ...r.body.files.map((f) => f.content.split(' ')[1])]);
      assert.equal(tags.size, 1, `a mix after round ${round}: ${[...tags]}`);
      const tag = [...tags][0];
      const want = tag === 'old' ? v1 : v2;
      assert.ok(tag === 'old' || tag === `new${round}`, `round ${round}: ${tag}`);
      if (tag === `new${round}`) {
        assert.equal(r.body.messages.length, 1000);
        assert.equal(r.body.files.length, 200);
      } else if (tag === 'old') {
        assert.equal(r.body.messages.length, want.messages.length);
      }
      outcomes.push(tag);
      // the next round starts from the old version again
      assert.equal((await k.req('PUT', `/api/projects/${id}`, v1)).status, 200);
    }
    t.diagnostic(`after kill -9: ${outcomes.join(', ')}`);
    assert.equal(outcomes[4], 'new5', 'an answered save survives kill -9');
  } finally {
    await k.cleanup();
    require('node:fs').rmSync(dataDir, { recursive: true, force: true });
  }
});
