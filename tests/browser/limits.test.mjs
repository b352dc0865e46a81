// SPDX-License-Identifier: MIT
// Usage limits in the dashboard: past the daily token limit the composer
// says so before anything is sent; a message is then refused by the daemon
// (429 USAGE_LIMIT) and sent with force only once the user agrees.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, makeRepo, until } from './lib/harness.mjs';
import { session } from './lib/session.mjs';

let d;
let b;

session((s) => ({ d, b } = s));

test('a reached limit is said in the composer, and a message goes only when the user agrees', async () => {
  const { page } = b;
  const ws = (await api(d.url, 'POST', '/api/workspaces', { path: makeRepo() })).data;
  const ag = (await api(d.url, 'POST', '/api/agents', { worktreeId: ws.worktrees[0].id, name: 'echo',
    executor: 'command', command: [process.execPath, '-e', "process.stdin.on('data', (b) => console.log('got ' + b))"] })).data;
  assert.equal((await api(d.url, 'POST', `/api/agents/${ag.id}/start`, {})).status, 200);
  assert.equal((await api(d.url, 'PATCH', '/api/settings', { daily_token_limit: 1000 })).status, 200);
  assert.equal((await api(d.url, 'POST', '/api/usage', { inputTokens: 1500, outputTokens: 0 })).status, 201);

  await page.goto(`${d.url}/#/agents/${ag.id}`);
  const notice = page.locator('.composer .limit-notice');
  await notice.waitFor();
  assert.match(await notice.innerText(), /daily usage limit is reached \(1,500 of 1,000 tokens\)/);

  const box = page.getByLabel('Message to the agent');
  // The notice keeps the composer's layout (issue #32): it spans the row
  // above, the box and Send stay side by side on the row below it.
  const send = page.locator('.composer').getByRole('button', { name: 'Send' });
  const [nb, bb, sb] = [await notice.boundingBox(), await box.boundingBox(), await send.boundingBox()];
  assert.ok(nb.y + nb.height <= bb.y + 1, `notice above the box: ${JSON.stringify({ nb, bb })}`);
  assert.ok(sb.x >= bb.x + bb.width - 1 && sb.y < bb.y + bb.height, `Send beside the box: ${JSON.stringify({ bb, sb })}`);
  assert.ok(bb.width > nb.width / 2, `the box keeps its width: ${JSON.stringify({ nb, bb })}`);
  // The question is the app's own dialog, never the browser's.
  page.on('dialog', (dlg) => {
    void dlg.dismiss();
    throw new Error(`a browser dialog: ${dlg.message()}`);
  });
  const dialog = page.getByRole('dialog', { name: 'Usage limit reached' });
  // declined: nothing is sent and the text stays
  await box.fill('first try');
  await box.press('Enter');
  await dialog.waitFor();
  assert.match(await dialog.innerText(), /daily token limit is reached/);
  await dialog.getByRole('button', { name: 'Not now' }).click();
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await box.inputValue(), 'first try');
  // agreed: sent with force
  await box.press('Enter');
  await dialog.getByRole('button', { name: 'Go past the limit' }).click();
  await until(async () => (await box.inputValue()) === '', 'the box cleared once sent');
  const msgs = (await api(d.url, 'GET', `/api/agents/${ag.id}/messages?limit=20`)).data.messages;
  assert.equal(msgs.filter((m) => m.role === 'user' && m.content === 'first try').length, 1);
  await api(d.url, 'POST', `/api/agents/${ag.id}/stop?force=true&wait=true`);
  assert.deepEqual(b.errors.filter((e) => !/429/.test(e)), []);
});
