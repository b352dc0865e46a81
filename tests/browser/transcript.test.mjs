// SPDX-License-Identifier: MIT
// The transcript of the daily driver (issue #32): a command agent's output
// is streamed live (agent_output) and stored in batches (messages); a page
// opened during or after the run shows each line once, in order, whatever
// order the fetch, the socket's replay and the live events come in. A
// failed command's error (its stderr) shows once too.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { api, apiOk, capabilities, heldTranscript, makeRepo, ROOT, shot, until } from './lib/harness.mjs';
import { session } from './lib/session.mjs';

let d;
let caps;
let b;
session((s) => ({ d, b } = s), {
  launchIf: async (x) => (caps = await capabilities(x.url)).store && caps.bus,
});

const ok = (method, p, body) => apiOk(d.url, method, p, body);

let wt = null;
async function worktree() {
  if (!wt) {
    const ws = await ok('POST', '/api/workspaces', { path: makeRepo(), name: 'transcript-repo' });
    wt = ws.worktrees[0];
  }
  return wt;
}

// The numbers of the "line N" lines the transcript shows, in order.
async function shownLines(page) {
  const text = await page.locator('.transcript').innerText();
  return [...text.matchAll(/\bline (\d+)\b/g)].map((m) => Number(m[1]));
}

const ALL = Array.from({ length: 16 }, (_, i) => i + 1);

// Opens the agent's page afresh (a new document: fetch and socket start over).
async function openFresh(page, id) {
  await page.goto('about:blank');
  await page.goto(`${d.url}/#/agents/${id}`);
  await page.locator('.conn[data-status="connected"]').waitFor();
  await page.locator('.convo').waitFor();
}

// Opens the agent's page from the dashboard already open (as a click in the
// sidebar does): the page has been live all along, hearing the agent's
// output while another view showed.
async function openFromHome(page, id) {
  await page.evaluate((h) => (location.hash = h), `#/agents/${id}`);
  await page.locator('.convo').waitFor();
}

test('a command agent opened mid-run and after the run shows each line once, in order', async (t) => {
  if (!b) return t.skip('the store or the bus is not in this build');
  const { page } = b;
  const w = await worktree();
  const go = path.join(w.path, 'go.flag');
  const end = path.join(w.path, 'end.flag');
  // Lines 1-8 before the page opens; 9-16 after it is open, one at a time
  // (each its own live event, stored in batches that do not line up with
  // them); then it waits for `end` so the run is still live while checked.
  const script =
    'i=1; while [ $i -le 8 ]; do echo "line $i"; i=$((i+1)); done; ' +
    'while [ ! -e go.flag ]; do sleep 0.05; done; ' +
    'while [ $i -le 16 ]; do echo "line $i"; i=$((i+1)); sleep 0.1; done; ' +
    'while [ ! -e end.flag ]; do sleep 0.05; done';
  const agent = await ok('POST', '/api/agents', { worktreeId: w.id, name: 'Counter', executor: 'command', command: ['/bin/sh', '-c', script] });
  await page.goto('about:blank');
  await page.goto(`${d.url}/#/`);
  await page.locator('.conn[data-status="connected"]').waitFor();
  await ok('POST', `/api/agents/${agent.id}/start`);
  // Lines 1-8 stored before the page opens.
  await until(async () => {
    const r = await api(d.url, 'GET', `/api/agents/${agent.id}/messages?limit=200`);
    return /line 8/.test(JSON.stringify(r.data));
  }, 'lines 1-8 stored');

  await openFromHome(page, agent.id);
  await until(async () => (await shownLines(page)).includes(8), 'lines 1-8 on the page');
  fs.writeFileSync(go, '');
  await until(async () => (await shownLines(page)).includes(16), 'line 16 on the page');
  // Stored batches land after the live lines: wait until all are stored,
  // and the page has heard of it, then look again.
  await until(async () => {
    const r = await api(d.url, 'GET', `/api/agents/${agent.id}/messages?limit=200`);
    return /line 16/.test(JSON.stringify(r.data));
  }, 'lines 9-16 stored');
  await until(async () => JSON.stringify(await shownLines(page)) === JSON.stringify(ALL), 'each line once', 10000).catch(async (e) => {
    throw new Error(`${e.message}: shown ${JSON.stringify(await shownLines(page))}`);
  });
  assert.deepEqual(await shownLines(page), ALL);
  await shot(page, 'transcript-mid-run');

  // Opened again mid-run (lines stored and streamed), then after the run.
  await openFresh(page, agent.id);
  await until(async () => (await shownLines(page)).includes(16), 'line 16 after a reopen');
  assert.deepEqual(await shownLines(page), ALL);
  fs.writeFileSync(end, '');
  await until(async () => (await api(d.url, 'GET', `/api/agents/${agent.id}`)).data.status !== 'running', 'the run to end');
  await openFresh(page, agent.id);
  await until(async () => (await shownLines(page)).includes(16), 'line 16 after the run');
  assert.deepEqual(await shownLines(page), ALL);
});

test("a failed command agent's error shows once", async (t) => {
  if (!b) return t.skip('the store or the bus is not in this build');
  const { page } = b;
  const w = await worktree();
  const script = 'while [ ! -e fail.flag ]; do sleep 0.05; done; echo "boom: the widget is missing" >&2; exit 3';
  const agent = await ok('POST', '/api/agents', { worktreeId: w.id, name: 'Failer', executor: 'command', command: ['/bin/sh', '-c', script] });
  // The dashboard is open on another view while the agent fails: it hears
  // the error live; then the agent's page is opened (and fetches it stored).
  await page.goto('about:blank');
  await page.goto(`${d.url}/#/`);
  await page.locator('.conn[data-status="connected"]').waitFor();
  await ok('POST', `/api/agents/${agent.id}/start`);
  fs.writeFileSync(path.join(w.path, 'fail.flag'), '');
  await until(async () => (await api(d.url, 'GET', `/api/agents/${agent.id}`)).data.status === 'error', 'the agent to fail');
  await until(async () => /the widget is missing/.test(JSON.stringify((await api(d.url, 'GET', `/api/agents/${agent.id}/messages`)).data)), 'the error stored');
  await until(
    () => page.evaluate((id) => window.__agentd.model.value.agents[id]?.status === 'error' && !!window.__agentd.model.value.transcripts[id]?.live.length, agent.id),
    'the page to hear the error live',
  );
  await openFromHome(page, agent.id);
  const count = async () => ((await page.locator('.transcript').innerText()).match(/boom: the widget is missing/g) || []).length;
  await until(async () => (await page.locator('.transcript .msg-system').count()) > 0, 'the stored error');
  assert.equal(await count(), 1, 'the error once');
  await openFresh(page, agent.id);
  await until(async () => (await count()) >= 1, 'the error after a reload');
  assert.equal(await count(), 1);
  fs.rmSync(path.join(w.path, 'fail.flag'));
});

test('an opened tool card pushes the next message down (no overlap, no scroll needed)', async (t) => {
  if (!b) return t.skip('the store or the bus is not in this build');
  const { page } = b;
  const w = await worktree();
  const agent = await ok('POST', '/api/agents', { worktreeId: w.id, name: 'Folder', executor: 'command', command: ['/bin/true'] });
  const output = Array.from({ length: 12 }, (_, i) => `output row ${i + 1}`).join('\n');
  await ok('POST', `/api/agents/${agent.id}/messages`, { role: 'tool', content: 'ls', toolName: 'Bash', toolInput: { command: 'ls' }, toolOutput: output });
  await ok('POST', `/api/agents/${agent.id}/messages`, { role: 'user', content: 'the message after the card' });
  await openFresh(page, agent.id);
  const tool = page.locator('.transcript .tool').first();
  const next = page.locator('.transcript .msg-user').first();
  await next.waitFor();
  await tool.getByRole('button').click();
  await tool.locator('.tool-body').waitFor();
  // The card's row is measured again and the rows after it move down.
  const overlap = async () => {
    const card = await tool.boundingBox();
    const after = await next.boundingBox();
    return after.y - (card.y + card.height);
  };
  await until(async () => (await overlap()) >= 0, 'the next row below the opened card', 5000).catch(async (e) => {
    throw new Error(`${e.message}: the next row starts ${-(await overlap())} px above the card's bottom`);
  });
  await shot(page, 'transcript-tool-open');
  // And back up when it closes.
  await tool.getByRole('button').click();
  await until(async () => {
    const d = await overlap();
    return d >= 0 && d < 40;
  }, 'the next row right under the closed card', 5000);
});

test("a command agent's page shows no mode, permissions or context gauge; a Claude agent's does", async (t) => {
  if (!b) return t.skip('the store or the bus is not in this build');
  const { page } = b;
  const w = await worktree();
  const cmd = await ok('POST', '/api/agents', { worktreeId: w.id, name: 'Plain', executor: 'command', command: ['/bin/true'] });
  const claude = await ok('POST', '/api/agents', { worktreeId: w.id, name: 'Coder', executor: 'claude' });
  const facts = async () => (await page.locator('.agent-head dl.facts dt').allInnerTexts()).map((x) => x.trim());
  await openFresh(page, cmd.id);
  await until(async () => (await facts()).includes('Executor'), 'the facts');
  assert.deepEqual((await facts()).filter((x) => x === 'Mode' || x === 'Permissions'), []);
  assert.equal(await page.locator('.agent-head .gauge').count(), 0);
  await openFresh(page, claude.id);
  await until(async () => (await facts()).includes('Mode'), 'the Claude agent facts');
  assert.ok((await facts()).includes('Permissions'));
  assert.equal(await page.locator('.agent-head .gauge').count(), 1);
});

// An open page that follows a long stream holds about a page of messages
// and the lines not stored yet, not every line (web/src/store.ts,
// followTranscript); scrolled up, it reads the stored lines back, and each
// line shows once: none falls between the messages and the live lines.
test('a page following a long stream stays small, and scrolled up shows every line once', async (t) => {
  if (!b) return t.skip('the store or the bus is not in this build');
  const { page } = b;
  const w = await worktree();
  const N = 3000;
  const agent = await ok('POST', '/api/agents', {
    worktreeId: w.id,
    name: 'Streamer',
    executor: 'command',
    command: ['node', path.join(ROOT, 'tests/fixtures/fake-agent.js'), 'slow', String(N), '3'],
  });
  await openFresh(page, agent.id);
  await ok('POST', `/api/agents/${agent.id}/start`);
  const held = () => heldTranscript(page, agent.id);
  await until(async () => new RegExp(`tick ${N - 1}\\b`).test((await held()).text), 'the last tick on the page', 60000);
  // The last read may still be on its way on a busy machine: wait for the
  // page to hold about a page (the old page kept 2,000 chunks for good).
  await until(async () => {
    const h = await held();
    return h.messages + h.live < 1000;
  }, 'the page to hold its newest messages, not every line').catch(async (e) => {
    const h = await held();
    throw new Error(`${e.message}: the page holds ${h.messages} messages and ${h.live} live chunks for ${N} lines`);
  });
  await until(async () => {
    const r = await api(d.url, 'GET', `/api/agents/${agent.id}/messages?limit=5`);
    return (r.data.messages || []).some((m) => m.content.includes(`tick ${N - 1}`));
  }, 'the output stored');
  // Scroll to the top until there is nothing older to read.
  await until(async () => {
    await page.evaluate(() => {
      const el = document.querySelector('.transcript');
      el.scrollTop = 0;
      el.dispatchEvent(new Event('scroll'));
    });
    return !(await held()).hasMore;
  }, 'every older page read', 60000);
  const text = (await held()).text;
  for (let i = 0; i < N; i++) {
    const n = text.match(new RegExp(`tick ${i}\\b`, 'g'))?.length || 0;
    assert.equal(n, 1, `tick ${i} shown ${n} times`);
  }
});

// A line printed just before the page's socket subscribed is in no event the
// page hears, and stored only when the runner next stores the agent's output
// (within about a second): the page reads the messages once more a moment
// later (web/src/store.ts, readAgain).
test('a line printed just before the page opened shows, once', async (t) => {
  if (!b) return t.skip('the store or the bus is not in this build');
  const { page } = b;
  const w = await worktree();
  const agent = await ok('POST', '/api/agents', { worktreeId: w.id, name: 'Early', executor: 'command', command: ['/bin/sh', '-c', 'echo early-line; sleep 30'] });
  await page.goto('about:blank');
  await ok('POST', `/api/agents/${agent.id}/start`);
  await page.goto(`${d.url}/#/agents/${agent.id}`);
  await until(async () => /early-line/.test(await page.locator('.transcript').innerText()), 'the early line on the page');
  await until(async () => {
    const r = await api(d.url, 'GET', `/api/agents/${agent.id}/messages?limit=5`);
    return /early-line/.test(JSON.stringify(r.data));
  }, 'the line stored');
  const { text } = await heldTranscript(page, agent.id);
  assert.equal(text.match(/early-line/g)?.length, 1, text);
  await ok('POST', `/api/agents/${agent.id}/stop?force=true&wait=true`);
});
