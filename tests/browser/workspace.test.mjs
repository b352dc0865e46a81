// SPDX-License-Identifier: MIT
// Workspaces, worktrees, agents, transcripts and settings through the
// dashboard against the real daemon (needs the store and git REST routes):
// add a workspace by path, create a worktree, refuse to delete it while it
// has uncommitted work (the server's list of files is shown), create an
// agent, read a transcript where an XSS attempt renders as text, a tool call
// that folds open, 10,000 messages rendered through a window, and settings
// validated like the server does.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { api, capabilities, makeRepo, postMany, ROOT, shot, until } from './lib/harness.mjs';
import { nextFrame, session } from './lib/session.mjs';

let d;
let caps;
let b;
let repo;
session((s) => ({ d, b } = s), { stop: true, launchIf: async (x) => (caps = await capabilities(x.url)).store });

const need = (t) => {
  if (!caps.store) {
    t.skip('the store REST routes are not in this build');
    return false;
  }
  return true;
};

test('add a workspace by path, with the server refusing a bad path first', async (t) => {
  if (!need(t)) return;
  const { page } = b;
  repo = makeRepo();
  await page.goto(d.url + '/');
  await page.getByText('No workspace yet').waitFor();
  await page.getByRole('button', { name: '+ Add' }).click();
  const dlg = page.getByRole('dialog', { name: 'Add workspace' });
  await dlg.locator('input[name=path]').fill(path.join(repo, 'does-not-exist'));
  await dlg.getByRole('button', { name: 'Add workspace' }).click();
  await dlg.getByRole('alert').waitFor();
  assert.match(await dlg.getByRole('alert').innerText(), /\S/);
  await dlg.locator('input[name=path]').fill(repo);
  await dlg.locator('input[name=name]').fill('demo-repo');
  await dlg.getByRole('button', { name: 'Add workspace' }).click();
  await dlg.waitFor({ state: 'detached' });
  await page.locator('.ws-name', { hasText: 'demo-repo' }).waitFor();
  // The main worktree was discovered and is listed under it.
  await page.locator('.wt-name', { hasText: 'main' }).first().waitFor();
});

test('create a worktree, then delete it: refused with the changed files, then forced', async (t) => {
  if (!need(t)) return;
  const { page } = b;
  await page.getByRole('button', { name: 'New worktree in demo-repo' }).click();
  const dlg = page.getByRole('dialog', { name: 'New worktree' });
  await dlg.locator('input[name=name]').fill('../escape');
  await dlg.getByRole('button', { name: 'Create worktree' }).click();
  await dlg.getByRole('alert').waitFor(); // refused before any request
  await dlg.locator('input[name=name]').fill('feature-x');
  await dlg.getByRole('button', { name: 'Create worktree' }).click();
  await dlg.waitFor({ state: 'detached' });
  await page.locator('.wt-name', { hasText: 'feature-x' }).waitFor();

  const wts = (await api(d.url, 'GET', '/api/worktrees')).data.worktrees;
  const wt = wts.find((w) => w.name === 'feature-x');
  assert.ok(wt && fs.existsSync(wt.path), 'worktree folder exists');
  fs.writeFileSync(path.join(wt.path, 'unsaved-work.txt'), 'precious\n');

  await page.getByRole('button', { name: 'Delete worktree feature-x' }).click();
  const del = page.getByRole('dialog', { name: 'Remove worktree feature-x?' });
  await del.getByRole('button', { name: 'Remove the worktree', exact: true }).click();
  const refusal = del.locator('.refusal');
  await refusal.waitFor();
  assert.match(await refusal.innerText(), /unsaved-work\.txt/);
  await shot(page, 'worktree-delete-refused');
  assert.ok(fs.existsSync(path.join(wt.path, 'unsaved-work.txt')), 'nothing deleted on refusal');
  await del.getByRole('button', { name: /Remove anyway/ }).click();
  await del.waitFor({ state: 'detached' });
  await until(async () => !(await page.locator('.wt-name', { hasText: 'feature-x' }).count()), 'worktree gone from the sidebar');
  assert.ok(!fs.existsSync(wt.path), 'worktree folder removed');
});

let agentId;
test('create an agent; its page shows what it is and why it cannot take input', async (t) => {
  if (!need(t)) return;
  const { page } = b;
  await page.locator('.wt-row', { hasText: 'main' }).first().hover();
  await page.getByRole('button', { name: /^New agent in / }).first().click();
  const dlg = page.getByRole('dialog', { name: /^New agent in / });
  await dlg.locator('input[name=name]').fill('Reviewer');
  await dlg.locator('select[name=executor]').selectOption('command');
  await dlg.locator('select[name=mode]').selectOption('plan');
  await dlg.locator('input[name=command]').fill('node fake-agent.js echo');
  await dlg.getByRole('button', { name: 'Create agent' }).click();
  await page.waitForURL(/#\/agents\/ag_/);
  agentId = decodeURIComponent(page.url().split('#/agents/')[1]);
  const head = page.locator('.agent-head');
  await head.getByRole('heading', { name: 'Reviewer' }).waitFor();
  // A command agent has no mode nor permissions to show (issue #32: they mean nothing for it).
  const facts = await head.locator('.facts').innerText();
  assert.match(facts, /Executor\s+command/);
  assert.doesNotMatch(facts, /Mode|Permissions/);
  await page.locator('.agent-link', { hasText: 'Reviewer' }).waitFor();
  const composer = page.getByRole('textbox', { name: 'Message to the agent' });
  assert.equal(await composer.isDisabled(), true);
  assert.match(await page.locator('.composer-reason').innerText(), /not running/);
  await page.getByText('No messages yet').waitFor();
});

test('a transcript renders markdown safely: an XSS attempt shows as text; tool calls fold open', async (t) => {
  if (!need(t) || !agentId) return t.skip('needs the agent of the previous test');
  const { page } = b;
  const evil = '<img src=x onerror="window.__xss=1"> <script>window.__xss=2</script> [x](javascript:window.__xss=3) **bold**';
  const post = (body) => api(d.url, 'POST', `/api/agents/${agentId}/messages`, body);
  assert.equal((await post({ role: 'user', content: evil })).status < 300, true);
  for (const body of [
    { role: 'assistant', content: 'Looking at it:\n\n```js\nconst a = "<b>";\n```' },
    { role: 'tool', content: 'ls -la', toolName: 'Bash', toolInput: { command: 'ls -la' }, toolOutput: 'total 0\nREADME.md' },
  ]) {
    const r = await post(body);
    assert.ok(r.status < 300, JSON.stringify(r.data));
  }
  await page.reload();
  const tr = page.locator('.transcript');
  await tr.waitFor();
  const user = tr.locator('.msg-user').first();
  await user.waitFor();
  const text = await user.innerText();
  assert.ok(text.includes('<img src=x onerror="window.__xss=1">'), 'the tag is shown as text: ' + text);
  assert.ok(text.includes('<script>window.__xss=2</script>'));
  assert.equal(await tr.locator('img, script, a[href^="javascript"]').count(), 0);
  assert.equal(await user.locator('strong').innerText(), 'bold');
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  assert.equal(await tr.locator('pre code').first().innerText(), 'const a = "<b>";');
  const tool = tr.locator('.tool').first();
  assert.equal(await tool.getByRole('button').getAttribute('aria-expanded'), 'false');
  await tool.getByRole('button').click();
  assert.match(await tool.locator('.tool-body').innerText(), /"command": "ls -la"[\s\S]*README\.md/);
  await shot(page, 'agent-transcript');
  if (process.env.UPDATE_DOCS_SCREENSHOT === 'transcript') await page.screenshot({ path: path.join(ROOT, 'docs/agent-page.png') });
});

test('the Diff tab lists what changed in the worktree and shows a file\'s patch', async (t) => {
  if (!need(t) || !agentId) return t.skip('needs the agent of the previous test');
  const { page } = b;
  fs.appendFileSync(path.join(repo, 'README.md'), 'a line the agent added\n');
  await page.goto(`${d.url}/#/agents/${agentId}`);
  await page.getByRole('tab', { name: 'Diff' }).click();
  const file = page.locator('.diff-file', { hasText: 'README.md' });
  await file.waitFor();
  assert.match(await file.innerText(), /\+1[\s\S]*−0/);
  await file.click();
  await page.locator('.diff-table .add', { hasText: 'a line the agent added' }).waitFor();
  await shot(page, 'agent-diff');
});

test('10,000 messages: the page renders only what is visible and pages older ones in', async (t) => {
  if (!need(t) || !agentId) return t.skip('needs the agent of the previous test');
  const { page } = b;
  const big = (await api(d.url, 'POST', '/api/agents', { worktreeId: (await api(d.url, 'GET', '/api/worktrees')).data.worktrees[0].id, name: 'Chatty' })).data;
  // Its page open first: a transcript no page shows keeps only its latest
  // messages (events.ts, MAX_LIVE_UNLOADED), one that is open all.
  await page.goto(`${d.url}/#/agents/${big.id}`);
  await page.waitForFunction((id) => window.__agentd.model.value.transcripts[id]?.loaded, big.id);
  const N = 10000;
  await postMany(d.url, `/api/agents/${big.id}/messages`, N,
    (i) => ({ role: i % 2 ? 'assistant' : 'user', content: `message ${i}\n\nwith **markdown** and \`code\`` }));
  await page.goto(`${d.url}/#/agents/${big.id}`);
  const tr = page.locator('.transcript');
  await tr.locator('.msg', { hasText: `message ${N - 1}` }).waitFor();
  const domRows = async () => tr.locator('.row').count();
  assert.ok((await domRows()) < 80, `rows in the DOM: ${await domRows()}`);
  if (caps.bus) {
    // The open page heard all 10,000 live (message_created) while scrolled
    // to its end: it keeps the newest of them, about a page, and pages the
    // rest in when scrolled up (web/src/store.ts, followTranscript).
    await until(async () => Number(await tr.getAttribute('data-rows')) <= 50 + 256, 'the page holding its newest messages');
    assert.equal(await page.evaluate((id) => window.__agentd.model.value.transcripts[id].hasMore, big.id), true);
    for (const f of [0.5, 0]) {
      await tr.evaluate((el, frac) => (el.scrollTop = el.scrollHeight * frac), f);
      await nextFrame(page); // the scroll handled and the window drawn
      assert.ok((await domRows()) < 80, `rows in the DOM at ${f}: ${await domRows()}`);
    }
    // A fresh page load pages them in instead.
    await page.reload();
    await tr.locator('.msg', { hasText: `message ${N - 1}` }).waitFor();
  }
  // A render that comes between a scroll up and the browser's scroll event
  // (sent with the next frame) leaves the scroll where the user put it: the
  // list stops following its end (Transcript.tsx, drawnTop). A fresh
  // clone's run once lost the scroll that way.
  let loaded = Number(await tr.getAttribute('data-rows'));
  const pinned = await tr.evaluate(async (el, id) => {
    el.scrollTop = 0;
    const m = window.__agentd.model;
    const ts = m.value.transcripts;
    m.value = { ...m.value, transcripts: { ...ts, [id]: { ...ts[id] } } };
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    return el.scrollTop + el.clientHeight >= el.scrollHeight - 48;
  }, big.id);
  assert.equal(pinned, false, 'a render before the scroll event took the list back to its end');
  // Scroll to the top a few times: older pages load, the DOM stays small.
  for (let i = 0; i < 3; i++) {
    await tr.evaluate((el) => (el.scrollTop = 0));
    const state = () => page.evaluate((id) => {
      const t = window.__agentd.model.value.transcripts[id];
      const el = document.querySelector('.transcript');
      return { n: t.messages.length, hasMore: t.hasMore, cursor: t.cursor, top: el.scrollTop, h: el.scrollHeight };
    }, big.id);
    loaded = await until(async () => {
      const n = Number(await tr.getAttribute('data-rows'));
      return n > loaded ? n : 0;
    }, 'an older page').catch(async (e) => {
      throw new Error(`${e.message}; transcript ${JSON.stringify(await state())}`);
    });
    assert.ok((await domRows()) < 80, `rows in the DOM: ${await domRows()}`);
  }
  assert.ok(loaded >= 800, `rows loaded ${loaded}`);
  // No message appears twice after paging.
  const ids = await page.evaluate((id) => window.__agentd.model.value.transcripts[id].messages.map((m) => m.id), big.id);
  assert.equal(new Set(ids).size, ids.length);
});

test('settings are validated like the server does and saved', async (t) => {
  if (!need(t)) return;
  const { page } = b;
  await page.goto(d.url + '/#/settings');
  const input = page.locator('input[name=max_context_warning]');
  await input.waitFor();
  assert.equal(await input.inputValue(), '80');
  await input.fill('150');
  await page.getByText('must be between 0 and 100').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Save settings' }).isDisabled(), true);
  await input.fill('65');
  await page.locator('select[name=theme]').selectOption('light');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await page.getByText('Settings saved').waitFor();
  const s = (await api(d.url, 'GET', '/api/settings')).data;
  assert.equal(s.max_context_warning ?? s.maxContextWarning, 65);
  assert.equal(s.theme, 'light');
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'light');
  await shot(page, 'settings-light');
  // The System panel (Settings › Advanced) says how process trees are contained, as the daemon does.
  await page.goto(d.url + '/#/settings/advanced');
  const h = (await api(d.url, 'GET', '/api/health')).data;
  const mode = await page.locator('.system-panel dd[data-mode]').getAttribute('data-mode');
  assert.equal(mode, h.processes.containment.mode);
  await page.locator('.system-panel').getByText(h.processes.containment.detail).waitFor();
  // Back to dark for the screenshots that follow.
  await page.goto(d.url + '/#/settings/general');
  await page.locator('select[name=theme]').selectOption('dark');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await page.getByText('Settings saved').first().waitFor();
});
