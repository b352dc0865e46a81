// SPDX-License-Identifier: MIT
// The chat once set up (issue #32): with a key saved and a chat open, the
// conversation gets the screen (the key's panel and the new-chat form fold
// away; the log fills the height, the composer stays in view; on a phone
// the list steps aside), and an answer from a model with no price reads
// "no price set", not $0.00 (a model neither the built-in list nor the
// model_prices setting prices). Against the mock of the Messages API.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import { api, shot, until } from './lib/harness.mjs';
import { session } from './lib/session.mjs';

const require = createRequire(import.meta.url);
const mockAnthropic = require('../fixtures/mock-anthropic.js');
const KEY = 'sk-ant-layout-test-key-4321';

let d;
let b;
let mock;
before(async () => {
  mock = await mockAnthropic.start({ direct: true, apiKey: KEY, rules: [{ reply: { text: 'A short answer.' } }] });
});
after(async () => {
  if (mock) await mock.close();
});
session((s) => ({ d, b } = s));

let chatId;

test('desktop: the open chat fills the page; an unpriced model says so', async () => {
  const { page } = b;
  assert.equal((await api(d.url, 'PUT', '/api/credentials/anthropic', { apiKey: KEY, baseUrl: mock.url })).status < 300, true);
  const c = await api(d.url, 'POST', '/api/chats', { provider: 'anthropic', model: 'claude-experimental-x' });
  assert.ok(c.status < 300, JSON.stringify(c.data));
  chatId = c.data.id;
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`${d.url}/#/chats/${chatId}`);
  const box = page.getByLabel('Message');
  await box.waitFor();
  await page.getByRole('button', { name: 'API keys' }).waitFor();
  assert.equal(await page.getByRole('region', { name: 'Anthropic credential' }).isVisible(), false, 'the key panel folded away');
  assert.equal(await page.getByRole('form', { name: 'New chat' }).count(), 0, 'the form waits behind its button');
  await page.getByRole('button', { name: '+ New chat' }).waitFor();
  await box.fill('hello');
  await page.getByRole('button', { name: 'Send' }).click();
  const answer = page.getByTestId('msg-assistant').last();
  await until(async () => (await answer.getAttribute('data-status')) === 'complete', 'the answer');
  await until(async () => /no price set/.test(await answer.getByTestId('answer-usage').innerText()), 'no price set');
  assert.doesNotMatch(await answer.getByTestId('answer-usage').innerText(), /\$0\.00/);
  const log = await page.getByTestId('chat-log').boundingBox();
  const composer = await box.boundingBox();
  assert.ok(log.height >= 800 * 0.45, `the log takes the height: ${log.height}px`);
  assert.ok(composer.y + composer.height <= 800, `the composer in view: ${JSON.stringify(composer)}`);
  await shot(page, 'chat-layout-1280');
  // The key panel comes back on demand.
  await page.getByRole('button', { name: 'API keys' }).click();
  await page.getByRole('region', { name: 'Anthropic credential' }).waitFor();
});

test('phone: the open chat, not the list, with its way back', async () => {
  const { page } = b;
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${d.url}/#/chats/${chatId}`);
  const box = page.getByLabel('Message');
  await box.waitFor();
  assert.equal(await page.getByRole('list', { name: 'Chats' }).isVisible(), false, 'the list steps aside');
  const log = await page.getByTestId('chat-log').boundingBox();
  assert.ok(log.height >= 844 * 0.4, `the log takes the height: ${log.height}px`);
  await shot(page, 'chat-layout-390');
  await page.getByRole('link', { name: '← Chats' }).click();
  await page.getByRole('list', { name: 'Chats' }).waitFor();
  assert.match(await page.getByRole('list', { name: 'Chats' }).innerText(), /no price set/);
  assert.deepEqual(b.errors, []);
});
