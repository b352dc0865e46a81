// SPDX-License-Identifier: MIT
// auto_save (seed 001's setting, issue #74): on, a half-typed message to an
// agent and a chat's survive a reload of the page (kept in this browser as
// they are typed), and a sent one's draft goes; turned off in Settings,
// what was kept is wiped and nothing typed is kept. At desktop and phone
// sizes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { api, apiOk, daemon, launch, makeRepo, until } from './lib/harness.mjs';

let d;
let agent;
let chat;
before(async () => {
  d = await daemon.start({ needUrl: true });
  const ws = await apiOk(d.url, 'POST', '/api/workspaces', { path: makeRepo() });
  agent = await apiOk(d.url, 'POST', '/api/agents', { worktreeId: ws.worktrees[0].id, name: 'echo',
    executor: 'command', command: [process.execPath, '-e', "process.stdin.on('data', (b) => console.log('got ' + b))"] });
  await apiOk(d.url, 'POST', `/api/agents/${agent.id}/start`, {});
  chat = await apiOk(d.url, 'POST', '/api/chats', { model: 'claude-sonnet-4-5' });
});
after(async () => {
  if (d) {
    await api(d.url, 'POST', `/api/agents/${agent.id}/stop?force=true&wait=true`);
    await d.cleanup();
  }
});

const kept = (page) => page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('agentd.draft.')));

for (const [size, width, height] of [['desktop', 1280, 720], ['phone', 390, 844]]) {
  test(`a half-typed draft survives a reload with auto_save on, and not with it off (${size})`, async () => {
    await apiOk(d.url, 'PATCH', '/api/settings', { auto_save: true });
    const b = await launch({ width, height, login: d.url });
    try {
      const { page } = b;
      const box = page.getByLabel('Message to the agent');
      await page.goto(`${d.url}/#/agents/${agent.id}`);
      await box.fill(`half typed on the ${size}`);
      await until(async () => (await kept(page)).includes(`agentd.draft.agent:${agent.id}`), 'the draft kept as typed');
      await page.reload();
      await until(async () => (await box.inputValue()) === `half typed on the ${size}`, 'the draft back after a reload');
      // a chat's composer too
      const chatBox = page.locator('.composer textarea[aria-label="Message"]');
      await page.goto(`${d.url}/#/chats/${chat.id}`);
      await chatBox.fill('a question half asked');
      await page.reload();
      await until(async () => (await chatBox.inputValue()) === 'a question half asked', 'the chat draft back');
      await chatBox.fill('');
      // sent: its draft goes
      await page.goto(`${d.url}/#/agents/${agent.id}`);
      await until(async () => (await box.inputValue()) !== '', 'the agent draft shown');
      await box.press('Enter');
      await until(async () => (await box.inputValue()) === '', 'sent');
      await until(async () => (await kept(page)).length === 0, 'the sent draft forgotten');
      await page.reload();
      await box.waitFor();
      assert.equal(await box.inputValue(), '');

      // off, in Settings: what was kept is wiped, nothing typed is kept
      await box.fill('kept until auto_save goes off');
      await until(async () => (await kept(page)).length === 1, 'kept');
      await page.goto(`${d.url}/#/settings/general`);
      const sw = page.locator('input[name=auto_save]');
      assert.equal(await sw.isChecked(), true);
      await sw.uncheck();
      await page.getByRole('button', { name: 'Save settings' }).click();
      await until(async () => (await api(d.url, 'GET', '/api/settings')).data.auto_save === false, 'auto_save off');
      await until(async () => (await kept(page)).length === 0, 'the kept draft wiped');
      await page.goto(`${d.url}/#/agents/${agent.id}`);
      await box.fill('not to be kept');
      assert.deepEqual(await kept(page), [], 'nothing kept while off');
      await page.reload();
      await box.waitFor();
      assert.equal(await box.inputValue(), '');
      assert.deepEqual(await kept(page), []);
    } finally {
      await b.close();
    }
  });
}
