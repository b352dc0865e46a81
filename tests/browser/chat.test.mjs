// SPDX-License-Identifier: MIT
// The Chats page (issue #18) against the real daemon and the mock of the
// Messages API: the key saved in Settings shows only masked and validates;
// a new chat streams its answer into the page token by token (seen part
// way, then whole, with tokens and cost), and Stop keeps the partial
// answer, marked stopped; a definition suggested for the task starts a
// chat; an answer's code blocks are saved into a project and shown in its
// file tree; the definitions page lists a broken file with its error and
// follows a new file live; a Claude Code agent is created from a definition;
// the project downloads as a tar and is committed into a worktree.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import { api, daemon, launch, makeRepo, shot, until } from './lib/harness.mjs';
import { waitAttr } from './lib/session.mjs';

const require = createRequire(import.meta.url);
const mockAnthropic = require('../fixtures/mock-anthropic.js');

const KEY = 'sk-ant-browser-test-key-9876';
let d;
let b;
let mock;
before(async () => {
  mock = await mockAnthropic.start({ direct: true, apiKey: KEY, rules: [] });
  d = await daemon.start({ needUrl: true });
  b = await launch({ login: d.url });
});
after(async () => {
  if (b) await b.close();
  if (d) await d.stop();
  if (mock) await mock.close();
});

test('the key is saved masked and validates', async () => {
  const { page } = b;
  await page.goto(d.url + '/#/settings/advanced');
  const creds = page.getByRole('region', { name: 'Anthropic credential' });
  await creds.getByText('No key yet').waitFor();
  await creds.getByLabel('API key').fill(KEY);
  await creds.getByLabel('Base URL (optional)').fill(mock.url);
  await creds.getByRole('button', { name: 'Save key' }).click();
  await creds.getByTestId('cred-masked').getByText('••••9876').waitFor();
  assert.equal(await creds.getByLabel('Replace the key').inputValue(), '', 'the field is emptied');
  assert.ok(!(await page.content()).includes(KEY), 'the page shows the key');
  await creds.getByRole('button', { name: 'Validate' }).click();
  await creds.getByText('The key works.').waitFor();
  await creds.getByText('valid', { exact: true }).waitFor();
});

test('a chat streams its answer live, then shows tokens and cost', async () => {
  const { page } = b;
  await api(d.url, 'PATCH', '/api/settings', { model_prices: { 'claude-*': { input: 3, output: 15 } } });
  const words = ['Streaming ', 'answers ', 'arrive ', 'one ', 'token ', 'at ', 'a ', 'time, ', '**bold** ', 'too.'];
  mock.setRules([{ match: 'stream', reply: { tokens: words, tokenDelayMs: 250 } }]);
  await page.goto(d.url + '/#/chats');
  await page.getByRole('heading', { name: 'Chats', level: 1 }).waitFor();
  await page.getByRole('button', { name: 'New chat' }).click();
  await page.waitForURL(/#\/chats\/chat_/);
  await page.getByLabel('Message').fill('please stream something');
  await page.getByRole('button', { name: 'Send' }).click();
  const answer = page.getByTestId('msg-assistant').last();
  // Part way: some tokens shown while the answer is still streaming.
  await until(async () => {
    const t = await answer.innerText();
    return (await answer.getAttribute('data-status')) === 'streaming' && t.includes('Streaming') && !t.includes('too.');
  }, 'a partly streamed answer');
  await page.getByRole('button', { name: 'Stop' }).waitFor();
  await shot(page, 'chat-streaming');
  await until(async () => (await answer.getAttribute('data-status')) === 'complete', 'the complete answer');
  assert.match(await answer.innerText(), /Streaming answers arrive one token at a time, bold too\./);
  assert.equal(await answer.locator('strong').innerText(), 'bold', 'markdown is rendered');
  assert.match(await answer.getByTestId('answer-usage').innerText(), /\d+ in · 11 out · \$/);
  await page.getByRole('button', { name: 'Send' }).waitFor();
  await page.getByRole('link', { name: 'please stream something' }).waitFor();
  await shot(page, 'chat-complete');
});

test('Stop keeps the partial answer, marked stopped', async () => {
  const { page } = b;
  mock.setRules([{ reply: { tokens: Array.from({ length: 200 }, (_, i) => `w${i} `), tokenDelayMs: 100 } }]);
  await page.getByLabel('Message').fill('a long one');
  await page.getByRole('button', { name: 'Send' }).click();
  const answer = page.getByTestId('msg-assistant').last();
  await until(async () => (await answer.innerText()).includes('w2 '), 'three tokens');
  await page.getByRole('button', { name: 'Stop' }).click();
  await until(async () => (await answer.getAttribute('data-status')) === 'stopped', 'the stopped answer');
  const text = await answer.innerText();
  assert.ok(text.includes('w0 w1 w2') && !text.includes('w199'), text);
  // Reloaded from the server: the same partial answer, still stopped.
  await page.reload();
  const again = page.getByTestId('msg-assistant').last();
  await until(async () => (await again.getAttribute('data-status')) === 'stopped', 'the stored answer');
  assert.equal((await again.innerText()).split('\n')[1], text.split('\n')[1]);
});

test('a suggested definition, files saved to a project, the definitions page', async () => {
  const { page } = b;
  const defs = path.join(d.dataDir, 'definitions');
  fs.mkdirSync(defs, { recursive: true });
  fs.writeFileSync(path.join(defs, 'web.md'), '---\nname: web-builder\ncategory: code\ndescription: Builds small web pages and sites\nmodel: haiku\n---\nYou build web pages.\n');
  fs.writeFileSync(path.join(defs, 'broken.md'), '---\nname: [oops\n---\n');
  mock.setRules([{ reply: { text: 'Here:\n```html site/index.html\n<h1>Hi</h1>\n```\n' } }]);
  await page.goto(d.url + '/#/chats');
  await page.getByLabel('What is it for? (suggests a definition)').fill('build me a web page');
  const sug = page.getByTestId('def-suggestion');
  await sug.getByText('web-builder').waitFor();
  // picked for the task, with its score and the words that matched
  await sug.getByText(/Picked for the task/).waitFor();
  assert.match(await sug.innerText(), /score [0-9.]+: .*web/);
  assert.equal(await page.getByLabel('Agent definition').inputValue(), 'web-builder');
  // a choice of the user's own is not replaced by the next suggestion
  await page.getByLabel('Agent definition').selectOption('');
  await page.getByLabel('What is it for? (suggests a definition)').fill('build me a web site');
  // the suggestion for the new text has come (and left the user's choice alone)
  await waitAttr(sug, 'data-for', 'build me a web site', 'the suggestion for the new text');
  assert.equal(await page.getByLabel('Agent definition').inputValue(), '');
  await sug.getByRole('button', { name: 'Use' }).click();
  assert.equal(await page.getByLabel('Agent definition').inputValue(), 'web-builder');
  await page.getByRole('button', { name: 'New chat' }).click();
  await page.getByText('claude-haiku-4-5 · web-builder').waitFor();
  await page.getByLabel('Message').fill('make the page');
  await page.getByRole('button', { name: 'Send' }).click();
  const answer = page.getByTestId('msg-assistant').last();
  await until(async () => (await answer.getAttribute('data-status')) === 'complete', 'the answer');
  assert.equal(mock.requests.at(-1).body.system, 'You build web pages.\n');
  await answer.getByRole('button', { name: 'Save files to a project…' }).click();
  await answer.getByLabel('Project').selectOption('new');
  await answer.getByRole('button', { name: 'Save files' }).click();
  await answer.getByText('Saved: the project has 1 file.').waitFor();
  await page.goto(d.url + '/#/projects');
  await page.getByRole('link', { name: 'From chat' }).click();
  const tree = page.getByRole('list', { name: 'Files' });
  await tree.getByText('site/').waitFor();
  await tree.getByRole('button', { name: 'index.html' }).click();
  assert.equal(await page.getByTestId('file-content').innerText(), '<h1>Hi</h1>\n');
  await shot(page, 'project-files');
  await page.goto(d.url + '/#/definitions');
  const broken = page.locator('li[data-error=true]');
  await broken.getByText(/bad YAML front matter/).waitFor();
  await page.getByRole('link', { name: 'web-builder' }).click();
  await page.getByText('You build web pages.').waitFor();
});

test('the definitions page follows the folder; an agent from a definition', async () => {
  const { page } = b;
  const defs = path.join(d.dataDir, 'definitions');
  await page.goto(d.url + '/#/definitions');
  await page.getByRole('link', { name: 'web-builder' }).waitFor();
  // written while the page is open: listed without a reload
  fs.writeFileSync(path.join(defs, 'rev.md'), '---\nname: pr-reviewer\ncategory: quality\ndescription: Reviews pull requests\nmodel: opus\ntools: Read, Grep\n---\nYou review.\n');
  await page.getByRole('link', { name: 'pr-reviewer' }).waitFor();
  const repo = makeRepo();
  const ws = await api(d.url, 'POST', '/api/workspaces', { path: repo });
  assert.equal(ws.status, 201);
  await page.goto(d.url + '/#/');
  await page.locator('.wt-row', { hasText: 'main' }).first().hover();
  await page.getByRole('button', { name: /^New agent in / }).first().click();
  const dlg = page.getByRole('dialog', { name: /^New agent in / });
  await dlg.locator('input[name=name]').fill('From definition');
  await dlg.locator('select[name=definition]').selectOption('pr-reviewer');
  await dlg.getByTestId('definition-summary').getByText('model opus').waitFor();
  assert.equal(await dlg.locator('input[name=permission-rules]').inputValue(), 'Read, Grep');
  await shot(page, 'agent-from-definition');
  await dlg.getByRole('button', { name: 'Create agent' }).click();
  await page.waitForURL(/#\/agents\/ag_/);
  const id = decodeURIComponent(page.url().split('#/agents/')[1]);
  const a = (await api(d.url, 'GET', `/api/agents/${id}`)).data;
  const agent = a.agent || a;
  assert.equal(agent.state.definition, 'pr-reviewer');
  assert.equal(agent.state.systemPrompt, 'You review.\n');
  assert.equal(agent.state.model, 'opus');
  assert.deepEqual(agent.permissions, ['Read', 'Grep']);
  // the project of the earlier test: downloaded, and committed into the worktree
  await page.goto(d.url + '/#/projects');
  await page.getByRole('link', { name: 'From chat' }).click();
  const href = await page.getByRole('link', { name: 'Download .tar' }).getAttribute('href');
  const tar = await page.evaluate(async (h) => {
    const r = await fetch(h);
    return { status: r.status, type: r.headers.get('content-type'), size: (await r.arrayBuffer()).byteLength };
  }, href);
  assert.deepEqual([tar.status, tar.type], [200, 'application/x-tar']);
  assert.ok(tar.size >= 2048 && tar.size % 512 === 0);
  await page.getByRole('button', { name: 'Commit to a worktree…' }).click();
  const form = page.getByRole('form', { name: 'Commit to a worktree' });
  await form.getByLabel('Folder in it (optional)').fill('web');
  await form.getByLabel('Commit message (optional)').fill('Add the page from the chat');
  await form.getByRole('button', { name: 'Commit files' }).click();
  await form.getByTestId('commit-result').getByText(/Committed [0-9a-f]{7} on main: 1 file\./).waitFor();
  assert.equal(fs.readFileSync(path.join(repo, 'web/site/index.html'), 'utf8'), '<h1>Hi</h1>\n');
  await shot(page, 'project-committed');
});

test('a long chat loads its older messages when scrolled to the top', async () => {
  const { page } = b;
  mock.setRules([{ reply: { text: 'ok' } }]);
  const chat = (await api(d.url, 'POST', '/api/chats', { model: 'claude-sonnet-4-5' })).data.id;
  const N = 55; // 110 messages: the newest 100 come with the chat
  for (let i = 0; i < N; i++) {
    const r = await api(d.url, 'POST', `/api/chats/${chat}/messages`, { content: `question ${i}` });
    assert.equal(r.status, 202, JSON.stringify(r.data));
    await until(async () => !(await api(d.url, 'GET', `/api/chats/${chat}`)).data.streaming, 'the answer');
  }
  await page.goto(`${d.url}/#/chats/${chat}`);
  const log = page.getByTestId('chat-log');
  await until(async () => (await log.locator('.chat-msg').count()) === 100, 'the newest 100 messages');
  assert.equal(await log.locator('.chat-msg').first().locator('.chat-text').innerText(), 'question 5');
  await log.evaluate((el) => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); });
  await until(async () => (await log.locator('.chat-msg').count()) === 110, 'the older page');
  assert.equal(await log.locator('.chat-msg').first().locator('.chat-text').innerText(), 'question 0');
  assert.equal(await log.getByRole('button', { name: 'Load older messages' }).count(), 0, 'nothing older is left');
  await shot(page, 'chat-older-messages');
});

test('an answer that calls a tool shows the call', async () => {
  const { page } = b;
  mock.setRules([{ reply: { text: 'Checking the time.', tool: { name: 'get_time', input: { zone: 'UTC' } } } }]);
  await page.goto(d.url + '/#/chats');
  await page.getByRole('button', { name: 'New chat' }).click();
  await page.waitForURL(/#\/chats\/chat_/);
  await page.getByLabel('Message').fill('what time is it');
  await page.getByRole('button', { name: 'Send' }).click();
  const answer = page.getByTestId('msg-assistant').last();
  await answer.getByRole('list', { name: 'Tool calls' }).getByText('get_time({"zone":"UTC"})').waitFor();
  // and from the stored answer after a reload
  await page.reload();
  await page.getByTestId('msg-assistant').last().getByText('get_time({"zone":"UTC"})').waitFor();
});

test('Save to project: a project that keeps the conversation, opened at once', async () => {
  const { page } = b;
  mock.setRules([{ reply: { text: 'Kept in the project.' } }]);
  await page.goto(d.url + '/#/chats');
  await page.getByRole('button', { name: 'New chat' }).click();
  await page.waitForURL(/#\/chats\/chat_/);
  const chatId = decodeURIComponent(page.url().split('/').pop());
  assert.equal(await page.getByRole('button', { name: 'Save to project' }).isDisabled(), true, 'nothing to keep yet');
  await page.getByLabel('Message').fill('a question worth keeping');
  await page.getByRole('button', { name: 'Send' }).click();
  await until(async () => (await page.getByTestId('msg-assistant').last().getAttribute('data-status')) === 'complete', 'the answer');
  await page.getByRole('button', { name: 'Save to project' }).click();
  await page.waitForURL(/#\/projects\/proj_/);
  const projId = decodeURIComponent(page.url().split('/').pop());
  const p = (await api(d.url, 'GET', `/api/projects/${projId}`)).data;
  const texts = p.messages.map((m) => m.content);
  assert.ok(texts.includes('a question worth keeping'), JSON.stringify(texts));
  assert.ok(texts.includes('Kept in the project.'), JSON.stringify(texts));
  assert.equal((await api(d.url, 'GET', `/api/chats/${chatId}`)).data.projectId, projId);
  await page.getByText('Kept in the project.').first().waitFor();
});

test('code from an answer runs in the sandbox and its output streams back under it', async () => {
  const { page } = b;
  const repo = makeRepo();
  const ws = await api(d.url, 'POST', '/api/workspaces', { path: repo, name: 'code-runs' });
  assert.equal(ws.status, 201);
  const escape = `/tmp/agentd-chat-escape-${process.pid}`;
  fs.rmSync(escape, { force: true });
  const code = `echo sandboxed-$((6*7))\necho mark > ${escape} && echo wrote-tmp\necho in-worktree > made-here.txt\nls ${repo}/made-here.txt`;
  mock.setRules([{ reply: { text: 'Run this:\n\n```sh\n' + code + '\n```\n' } }]);
  await page.goto(d.url + '/#/chats');
  await page.getByRole('button', { name: 'New chat' }).click();
  await page.waitForURL(/#\/chats\/chat_/);
  await page.getByLabel('Message').fill('give me a script');
  await page.getByRole('button', { name: 'Send' }).click();
  const answer = page.getByTestId('msg-assistant').last();
  await answer.getByRole('button', { name: 'Run in sandbox…' }).click();
  // the worktree of this test's workspace (other tests' worktrees are listed too)
  const wtId = (await api(d.url, 'GET', '/api/worktrees')).data.worktrees.find((t) => t.workspaceId === ws.data.id).id;
  const pick = answer.getByRole('combobox', { name: 'Worktree to run in' });
  await until(async () => (await pick.locator(`option[value="${wtId}"]`).count()) === 1, 'the workspace\'s worktree offered');
  await pick.selectOption(wtId);
  await answer.getByRole('button', { name: 'Run', exact: true }).click();
  const out = answer.getByTestId('run-output');
  await until(async () => /sandboxed-42/.test(await out.innerText()) && /made-here\.txt/.test(await out.innerText()), 'the run output under the answer').catch(async (e) => {
    // say what the page showed and where the agent stood
    const shown = await out.innerText().catch((x) => String(x));
    const runs = (await api(d.url, 'GET', '/api/agents')).data.agents.filter((a) => a.name === 'chat run (sh)');
    const stood = await Promise.all(runs.map(async (a) => ({ status: a.status, reason: a.statusReason, messages: (await api(d.url, 'GET', `/api/agents/${a.id}/messages?limit=20`)).data.messages?.map((m) => m.content) })));
    throw new Error(`${e.message}; shown: ${JSON.stringify(shown)}; agents: ${JSON.stringify(stood)}`);
  });
  assert.doesNotMatch(await out.innerText(), /cannot access/);
  await until(async () => (await answer.locator('.code-run').getAttribute('data-status')) !== 'running' && (await answer.locator('.code-run').getAttribute('data-status')) !== 'starting', 'the run ended');
  // It ran as a command agent in the worktree, under the sandbox: the worktree
  // was written, the host's /tmp was not.
  assert.ok(fs.existsSync(path.join(repo, 'made-here.txt')), 'the worktree is writable');
  assert.equal(fs.existsSync(escape), false, 'the host /tmp is out of reach');
  const agents = (await api(d.url, 'GET', '/api/agents')).data.agents.filter((a) => a.name === 'chat run (sh)');
  assert.equal(agents.length, 1);
  assert.equal(agents[0].executor, 'command');
});
