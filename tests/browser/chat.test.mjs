// SPDX-License-Identifier: MIT
// The Chats page (issue #18) against the real daemon and the mock of the
// Messages API: the key saved in Settings shows only masked and validates;
// a new chat streams its answer into the page token by token (seen part
// way, then whole, with tokens and cost), and Stop keeps the partial
// answer, marked stopped.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import { api, daemon, launch, shot, until } from './lib/harness.mjs';

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
  await page.goto(d.url + '/#/settings');
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
  }, 'a partly streamed answer', 20000);
  await page.getByRole('button', { name: 'Stop' }).waitFor();
  await shot(page, 'chat-streaming');
  await until(async () => (await answer.getAttribute('data-status')) === 'complete', 'the complete answer', 20000);
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
  await until(async () => (await answer.innerText()).includes('w2 '), 'three tokens', 20000);
  await page.getByRole('button', { name: 'Stop' }).click();
  await until(async () => (await answer.getAttribute('data-status')) === 'stopped', 'the stopped answer', 20000);
  const text = await answer.innerText();
  assert.ok(text.includes('w0 w1 w2') && !text.includes('w199'), text);
  // Reloaded from the server: the same partial answer, still stopped.
  await page.reload();
  const again = page.getByTestId('msg-assistant').last();
  await until(async () => (await again.getAttribute('data-status')) === 'stopped', 'the stored answer');
  assert.equal((await again.innerText()).split('\n')[1], text.split('\n')[1]);
});
