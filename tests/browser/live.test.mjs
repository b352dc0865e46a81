// SPDX-License-Identifier: MIT
// Live agents through the dashboard (needs the bus and the agent runner):
// start an agent (the `command` executor running tests/fixtures/fake-agent.js)
// with a prompt, watch its output stream in, send a message, open a terminal
// agent's terminal, stop; and cut the page's WebSocket mid-stream (a proxy
// between browser and daemon drops it) to check that every line still
// appears exactly once after the reconnect-and-replay.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { api, capabilities, daemon, heldTranscript, launch, login, makeRepo, proxy, ROOT, shot, until } from './lib/harness.mjs';

const FAKE = path.join(ROOT, 'tests/fixtures/fake-agent.js');
let d;
let caps;
let b;
let wtId;
let runner = false;

before(async () => {
  d = await daemon.start({ needUrl: true });
  caps = await capabilities(d.url);
  if (!caps.store) return;
  const repo = makeRepo();
  const ws = await api(d.url, 'POST', '/api/workspaces', { path: repo, name: 'live-repo' });
  assert.ok(ws.status < 300, JSON.stringify(ws.data));
  wtId = (await api(d.url, 'GET', '/api/worktrees')).data.worktrees[0].id;
  // Is there an agent runner? Starting an unknown agent is 404 from a
  // runner and 404 "no route" without one: tell them apart by the message.
  const probe = await api(d.url, 'POST', '/api/agents/ag_probe/start', {});
  runner = !(probe.status === 404 && /no route/i.test(JSON.stringify(probe.data)));
  if (caps.bus && runner) b = await launch({ login: d.url });
});
after(async () => {
  if (b) await b.close();
  if (d) await d.stop();
});

function missing() {
  const m = [];
  if (!caps.store) m.push('store REST');
  if (!caps.bus) m.push('the /ws bus');
  if (!runner) m.push('the agent runner (POST /api/agents/:id/start)');
  if (!fs.existsSync(FAKE)) m.push('tests/fixtures/fake-agent.js');
  return m;
}

async function commandAgent(name, argv, extra = {}) {
  const r = await api(d.url, 'POST', '/api/agents', { worktreeId: wtId, name, executor: 'command', command: argv, ...extra });
  assert.ok(r.status < 300, JSON.stringify(r.data));
  return r.data.agent || r.data;
}

// Everything the page shows for an agent: stored messages and live output.
const shownText = async (page, agentId) => (await heldTranscript(page, agentId)).text;

test('start with a prompt, see output stream, send a message, stop', async (t) => {
  const miss = missing();
  if (miss.length) return t.skip('missing: ' + miss.join(', '));
  const { page } = b;
  const a = await commandAgent('Echoer', ['node', FAKE, 'echo']);
  await page.goto(`${d.url}/#/agents/${a.id}`);
  await page.locator('.conn[data-status="connected"]').waitFor();
  await page.getByRole('button', { name: '▶ Start' }).click();
  const dlg = page.getByRole('dialog', { name: 'Start Echoer' });
  await dlg.locator('textarea[name=prompt]').fill('first prompt');
  await dlg.getByRole('button', { name: 'Start agent' }).click();
  await page.locator('.agent-head .badge-running').waitFor();
  await page.locator('.agent-link', { hasText: 'Echoer' }).locator('.badge-running').waitFor();
  await until(async () => /"ready"/.test(await shownText(page, a.id)), 'the ready line');
  const composer = page.getByRole('textbox', { name: 'Message to the agent' });
  await composer.fill('hello from the browser');
  await composer.press('Shift+Enter');
  await composer.type('second line');
  assert.equal(await composer.inputValue(), 'hello from the browser\nsecond line');
  await composer.press('Enter');
  await until(async () => (await composer.inputValue()) === '', 'the composer to clear');
  await until(async () => /hello from the browser/.test(await shownText(page, a.id)) && /"echo"/.test(await shownText(page, a.id)), 'the echo');
  await page.locator('.transcript').getByText('hello from the browser').first().waitFor();
  await shot(page, 'agent-running');
  if (process.env.UPDATE_DOCS_SCREENSHOT === 'live') await page.screenshot({ path: path.join(ROOT, 'docs/agent-page.png') });
  await page.getByRole('button', { name: '■ Stop' }).click();
  await until(async () => !(await page.locator('.agent-head .badge-running').count()), 'the agent to stop');
  assert.match(await page.locator('.composer-reason').innerText(), /not running|error/);
  await page.getByRole('tab', { name: 'Runs' }).click();
  await page.locator('.table tbody tr').first().waitFor();
  // the run's end is stored a moment after the agent's status (the list
  // follows run_ended live)
  await until(async () => /stopped|succeeded|failed/.test(await page.locator('.table tbody tr').first().innerText()), 'the run row to end');
  // The same page at phone width: everything reachable, nothing overflows.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByRole('tab', { name: 'Transcript' }).click();
  await page.getByRole('textbox', { name: 'Message to the agent' }).waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page overflows by ${overflow}px`);
  await shot(page, 'agent-phone');
  await page.setViewportSize({ width: 1280, height: 720 });
});

test('the WebSocket is cut mid-stream: every line still shows exactly once', async (t) => {
  const miss = missing();
  if (miss.length) return t.skip('missing: ' + miss.join(', '));
  const px = await proxy(d.url);
  try {
    const { page } = b;
    const N = 80;
    const a = await commandAgent('Ticker', ['node', FAKE, 'slow', String(N), '40']);
    await login(page, px.url, d.token); // the proxy's port has its own cookie
    await page.goto(`${px.url}/#/agents/${a.id}`);
    await page.locator('.conn[data-status="connected"]').waitFor();
    const st = await api(d.url, 'POST', `/api/agents/${a.id}/start`, {});
    assert.ok(st.status < 300, JSON.stringify(st.data));
    await until(async () => /tick 10\b/.test(await shownText(page, a.id)), 'ten ticks');
    assert.ok(px.dropWebSockets() >= 1, 'a /ws connection was cut');
    await page.locator('.conn[data-status="reconnecting"]').waitFor();
    await page.locator('.conn[data-status="connected"]').waitFor({ timeout: 20000 });
    await until(async () => new RegExp(`tick ${N - 1}\\b`).test(await shownText(page, a.id)), 'the last tick');
    const exactlyOnce = async (when) => {
      const text = await shownText(page, a.id);
      for (let i = 0; i < N; i++) {
        const n = text.match(new RegExp(`tick ${i}\\b`, 'g'))?.length || 0;
        assert.equal(n, 1, `${when}: tick ${i} shown ${n} times`);
      }
    };
    await exactlyOnce('streamed');
    // The run ends and the runner stores the output as messages: a fresh
    // load of the page shows the stored lines, each still exactly once.
    await until(async () => {
      const r = await api(d.url, 'GET', `/api/agents/${a.id}/messages?limit=50`);
      return (r.data.messages || []).some((m) => m.role !== 'user' && m.content.includes(`tick ${N - 1}`));
    }, 'the output stored as messages');
    await page.reload();
    await until(async () => new RegExp(`tick ${N - 1}\\b`).test(await shownText(page, a.id)), 'the stored output on the page');
    await exactlyOnce('stored');
    // And the page applied each event once: seqs strictly increasing.
    await until(() => page.evaluate(() => window.__agentd.model.value.lastSeq > 0), 'the page to be live again');
    await shot(page, 'after-ws-drop');
  } finally {
    await px.close();
  }
});

test('a terminal agent: the Terminal tab attaches xterm.js to its pty', async (t) => {
  const miss = missing();
  if (!caps.terminal) miss.push('the terminal socket /ws/agents/:id/terminal');
  if (miss.length) return t.skip('missing: ' + miss.join(', '));
  const { page } = b;
  const a = await commandAgent('Shell', ['node', FAKE, 'tty'], { terminal: true });
  const st = await api(d.url, 'POST', `/api/agents/${a.id}/start`, {});
  assert.ok(st.status < 300, JSON.stringify(st.data));
  await page.goto(`${d.url}/#/agents/${a.id}`);
  await page.getByRole('tab', { name: 'Terminal' }).click();
  await page.locator('.term-attached').waitFor();
  const screen = () => page.evaluate(() => {
    const term = window.__agentdTerm;
    const buf = term.buffer.active;
    const lines = [];
    for (let i = 0; i < buf.length; i++) lines.push(buf.getLine(i).translateToString(true));
    return lines.join('\n');
  });
  await page.locator('.term').click();
  await page.keyboard.type('quit\r');
  await until(async () => /isatty|quit/.test(await screen()), 'terminal output');
  await shot(page, 'terminal');
});

test('a toast for an agent that fails, none for a tool that works; Home cards follow live', async (t) => {
  const miss = missing();
  if (miss.length) return t.skip('missing: ' + miss.join(', '));
  const { page } = b;
  const script =
    "const o=(x)=>console.log(JSON.stringify(x));" +
    "setTimeout(()=>o({type:'tool_start',toolId:'tt1',name:'Grep',params:{pattern:'x'}}),400);" +
    "setTimeout(()=>{o({type:'tool_end',toolId:'tt1',durationMs:1234,status:'success',exitCode:0});process.exit(3)},900)";
  const a = await commandAgent('Failer', ['node', '-e', script]);
  await page.goto(`${d.url}/#/`);
  await page.locator('.conn[data-status="connected"]').waitFor();
  const failedCard = page.locator('.card.tone-error .card-value');
  const before = Number(await failedCard.innerText());
  const st = await api(d.url, 'POST', `/api/agents/${a.id}/start`, {});
  assert.ok(st.status < 300, JSON.stringify(st.data));
  const toasts = page.locator('.toasts');
  await toasts.getByText('Failer failed').waitFor();
  // A tool call that works needs nobody: no toast for it (issues #14, #19).
  assert.equal(await toasts.getByText(/Grep (started|finished)/).count(), 0);
  assert.match(await toasts.locator('.toast-error').last().innerText(), /exited with code 3/);
  await until(async () => Number(await failedCard.innerText()) === before + 1, 'the Failed card to count it');
  await page.locator('.agent-link', { hasText: 'Failer' }).locator('.badge-error').waitFor();
  await shot(page, 'home-live');
});

test('pause and resume, fork, archive and restore from the agent page', async (t) => {
  const miss = missing();
  if (miss.length) return t.skip('missing: ' + miss.join(', '));
  const { page } = b;
  const a = await commandAgent('Sleeper', ['node', FAKE, 'slow', '1000', '200']);
  const st = await api(d.url, 'POST', `/api/agents/${a.id}/start`, {});
  assert.ok(st.status < 300, JSON.stringify(st.data));
  await page.goto(`${d.url}/#/agents/${a.id}`);
  const head = page.locator('.agent-head');
  await head.locator('.badge-running').waitFor();
  await head.getByRole('button', { name: '❚❚ Pause' }).click();
  await head.locator('.badge-paused').waitFor();
  assert.match(await page.locator('.composer-reason').innerText(), /paused/);
  await head.getByRole('button', { name: '▶ Resume' }).click();
  await head.locator('.badge-running').waitFor();
  await head.getByRole('button', { name: 'Force stop' }).click();
  // stopped, not merely no longer running: Archive is refused while stopping
  await head.locator('.badge-stopped').waitFor();
  await head.getByRole('button', { name: 'Archive' }).click();
  await head.locator('.badge-archived').waitFor();
  assert.match(await page.locator('.composer-reason').innerText(), /archived/);
  await until(async () => !(await page.locator('.agent-link', { hasText: 'Sleeper' }).count()), 'archived agent out of the sidebar');
  await head.getByRole('button', { name: 'Restore' }).click();
  await page.locator('.agent-link', { hasText: 'Sleeper' }).waitFor();
  await head.getByRole('button', { name: 'Fork' }).click();
  const fdlg = page.getByRole('dialog', { name: 'Fork Sleeper' });
  await fdlg.getByRole('button', { name: 'Fork', exact: true }).click();
  await page.waitForURL((u) => !u.href.endsWith(a.id) && /#\/agents\/ag_/.test(u.href));
  await page.locator('.agent-head h1').waitFor();
  assert.equal(await page.locator('.agent-head h1').innerText(), 'Sleeper (fork)');
  assert.match(await page.locator('.forked-from').innerText(), /Forked from Sleeper/);
  assert.equal(await page.locator('.agent-link').filter({ hasText: 'Sleeper' }).count() >= 1, true);
  // A fork of the fork in a new worktree branched from its branch: same command.
  const forkId = page.url().split('/').pop();
  await head.getByRole('button', { name: 'Fork' }).click();
  const f2 = page.getByRole('dialog', { name: 'Fork Sleeper (fork)' });
  await f2.locator('input[name=new-worktree]').check();
  await f2.locator('input[name=branch]').fill('sleeper-alt');
  await f2.getByRole('button', { name: 'Fork', exact: true }).click();
  await page.waitForURL((u) => !u.href.endsWith(forkId) && /#\/agents\/ag_/.test(u.href));
  const f2Id = page.url().split('/').pop();
  const got = (await api(d.url, 'GET', `/api/agents/${f2Id}`)).data;
  const wt = (await api(d.url, 'GET', `/api/worktrees/${got.worktreeId}`)).data;
  assert.equal((wt.worktree || wt).branch, 'sleeper-alt');
  assert.deepEqual(got.state.command, ['node', FAKE, 'slow', '1000', '200']);
  await page.locator('.agent-head .facts').getByText('sleeper-alt').waitFor();
});
