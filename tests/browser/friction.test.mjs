// SPDX-License-Identifier: MIT
// The daily loop without friction (issue #74), each defect at desktop and
// phone sizes: a half-typed message stays with its agent; a worktree's
// name stays beside its sort menu; the Health page's job and service forms
// are laid out (their height measured); a command agent that prints only
// metric lines shows that it runs, and its metrics; an approval's toast
// goes once it is decided and never covers Send; the phone's drawer closes
// on Escape and on navigation; forge_hosts has its settings panel; the
// seed's game words are no default; the seed's own tool events toast with
// the tool's and the agent's names.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, apiOk, makeRepo, shot, until } from './lib/harness.mjs';
import { nextFrame, session, waitText } from './lib/session.mjs';

let d;
let b;
session((s) => ({ d, b } = s));

const ok = (method, p, body) => apiOk(d.url, method, p, body);
const SIZES = [
  ['desktop', 1280, 800],
  ['phone', 390, 844],
];
const phone = (w) => w < 861;

let wsCache = null;
async function worktree() {
  if (!wsCache) wsCache = await ok('POST', '/api/workspaces', { path: makeRepo(), name: 'friction-repo' });
  return wsCache.worktrees[0].id;
}

async function agent(name, command, start = true) {
  const a = await ok('POST', '/api/agents', { worktreeId: await worktree(), name, executor: 'command', command });
  if (start) await ok('POST', `/api/agents/${a.id}/start`);
  return a;
}

// The sidebar, opened as the drawer on a phone.
async function sidebar(page, w) {
  if (phone(w) && !(await page.locator('.shell.nav-open').count())) await page.locator('.topbar .menu').click();
  await page.locator('.shell.nav-open, .shell:not(.nav-open)').first().waitFor();
  return page.locator('nav.sidebar, .sidebar').first();
}

function overlap(a, c) {
  return a.x < c.x + c.width && c.x < a.x + a.width && a.y < c.y + c.height && c.y < a.y + a.height;
}

for (const [size, w, h] of SIZES) {
  test(`${size}: a half-typed message stays with its agent; Enter sends it to that agent only`, async () => {
    const { page } = b;
    await page.setViewportSize({ width: w, height: h });
    const a = await agent(`Ada ${size}`, ['cat']);
    const c = await agent(`Cy ${size}`, ['cat']);
    const box = page.getByRole('textbox', { name: 'Message to the agent' });
    await page.goto(`${d.url}/#/agents/${a.id}`);
    await until(async () => !(await box.isDisabled()), 'the composer open');
    await box.fill('half for Ada');
    // to the other agent through the sidebar, as a user goes
    await (await sidebar(page, w)).getByRole('link', { name: new RegExp(`Cy ${size}`) }).click();
    await page.locator('.agent-head', { hasText: `Cy ${size}` }).waitFor();
    await until(async () => !(await box.isDisabled()), 'the composer open');
    assert.equal(await box.inputValue(), '', "Ada's draft is not in Cy's composer");
    await box.fill('for Cy later');
    await page.goto(`${d.url}/#/agents/${a.id}`);
    await page.locator('.agent-head', { hasText: `Ada ${size}` }).waitFor();
    assert.equal(await box.inputValue(), 'half for Ada', "Ada's draft waits on Ada's page");
    await box.press('Enter');
    const said = async (id, text) => ((await api(d.url, 'GET', `/api/agents/${id}/messages?limit=50`)).data.messages || []).some((m) => m.content === text);
    await until(() => said(a.id, 'half for Ada'), 'the message stored for Ada');
    assert.equal(await said(c.id, 'half for Ada'), false, 'nothing went to Cy');
    await page.goto(`${d.url}/#/agents/${c.id}`);
    await page.locator('.agent-head', { hasText: `Cy ${size}` }).waitFor();
    assert.equal(await box.inputValue(), 'for Cy later');
    await box.fill('');
  });

  test(`${size}: a worktree with two agents keeps its name beside the sort menu`, async () => {
    const { page } = b;
    await page.setViewportSize({ width: w, height: h });
    const wsx = await ok('POST', '/api/workspaces', { path: makeRepo(), name: `names-${size}` });
    const wt = await ok('POST', '/api/worktrees', { workspaceId: wsx.id, name: `feature-${size}`, createBranch: true });
    for (const n of ['one', 'two']) await ok('POST', '/api/agents', { worktreeId: wt.id, name: `${n}-${size}` });
    await page.goto(`${d.url}/#/`);
    const side = await sidebar(page, w);
    const row = side.locator('.wt-row', { hasText: `feature-${size}` });
    await row.locator('select.sort-mode').waitFor();
    const name = row.locator('.wt-name');
    const m = await name.evaluate((el) => ({ client: el.clientWidth, scroll: el.scrollWidth, text: el.textContent }));
    assert.ok(m.client >= m.scroll && m.client > 40, `the name is shown whole: ${JSON.stringify(m)}`);
    await shot(page, `friction-sidebar-${size}`);
  });

  test(`${size}: the Health page's job and service forms are laid out, not 1,200 px tall`, async () => {
    const { page } = b;
    await page.setViewportSize({ width: w, height: h });
    await page.goto(`${d.url}/#/health`);
    await page.getByRole('button', { name: '+ Start a job' }).click();
    await page.getByRole('button', { name: '+ Add a service' }).click();
    const limit = phone(w) ? 720 : 380;
    for (const label of ['Start a job', 'Add a service']) {
      const form = page.getByRole('form', { name: label });
      await form.waitFor();
      const fb = await form.boundingBox();
      assert.ok(fb.height < limit, `${label}: ${Math.round(fb.height)} px tall (under ${limit})`);
      // each field starts at the form's left, none pinned to the right
      const left = await form.locator('label.field').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().left));
      assert.ok(left.length >= 3);
      assert.ok(left.some((x) => x - fb.x < 40), `a field at the form's left: ${JSON.stringify(left)} vs ${fb.x}`);
      console.log(`# ${size} ${label}: ${Math.round(fb.height)} px`);
    }
    await shot(page, `friction-health-forms-${size}`);
  });

  test(`${size}: a command agent printing only metric lines shows that it runs, and its metrics`, async () => {
    const { page } = b;
    await page.setViewportSize({ width: w, height: h });
    const line = 'i=0; while :; do echo "{\\"type\\":\\"metric\\",\\"name\\":\\"loss\\",\\"value\\":0.25,\\"step\\":$i}"; i=$((i+1)); sleep 0.2; done';
    const a = await agent(`Trainer ${size}`, ['/bin/sh', '-c', line]);
    await page.goto(`${d.url}/#/agents/${a.id}`);
    const quiet = page.getByRole('status', { name: 'The agent is running' });
    await waitText(quiet, /Running/, 'the running note');
    const table = quiet.getByRole('table', { name: 'Latest metrics' });
    await waitText(table, /loss[\s\S]*0\.25/, 'its loss in the table');
    assert.equal(await page.getByText('Waiting for the agent’s first words…').count(), 0);
    await shot(page, `friction-quiet-run-${size}`);
    await ok('POST', `/api/agents/${a.id}/stop?force=true&wait=true`);
  });

  test(`${size}: an approval's toast goes when it is decided, and never covers Send`, async () => {
    const { page } = b;
    await page.setViewportSize({ width: w, height: h });
    const a = await agent(`Asker ${size}`, ['cat']);
    await page.goto(`${d.url}/#/agents/${a.id}`);
    await page.locator('.conn[data-status="connected"]').waitFor();
    const send = page.getByRole('button', { name: 'Send' });
    await send.waitFor();
    const approval = { id: `ap_friction_${size}`, agentId: a.id, runId: 'run_x', toolName: 'Bash', status: 'pending' };
    await ok('POST', '/test/publish', { type: 'approval_requested', topics: [`agent:${a.id}`], payload: { approval } });
    const toast = page.locator('.toast', { hasText: `Asker ${size} needs approval` });
    await toast.waitFor();
    const t0 = Date.now();
    assert.ok(!overlap(await toast.boundingBox(), await send.boundingBox()), 'the toast is clear of Send');
    assert.ok(!overlap(await toast.boundingBox(), await page.locator('.composer').boundingBox()), 'the toast is clear of the composer');
    await shot(page, `friction-approval-toast-${size}`);
    // decided elsewhere (another tab, the CLI): the toast goes at once, well
    // before its own 5 s
    await ok('POST', '/test/publish', { type: 'approval_decided', topics: [`agent:${a.id}`], payload: { approval: { ...approval, status: 'allowed', decision: 'allow' } } });
    await until(async () => (await toast.count()) === 0, 'the toast gone', 4000);
    assert.ok(Date.now() - t0 < 4500, `gone with the decision, not its timer (${Date.now() - t0} ms)`);
  });

  test(`${size}: forge_hosts has a settings panel: added, refused with the server's reason, removed`, async () => {
    const { page } = b;
    await page.setViewportSize({ width: w, height: h });
    await page.goto(`${d.url}/#/settings/advanced`);
    const panel = page.getByRole('region', { name: 'Forges' });
    await panel.waitFor();
    const prefix = `https://git-${size}.example.com/`;
    await panel.locator('input[name=forge-prefix]').fill(prefix);
    await panel.locator('select[name=forge-kind]').selectOption('gitlab');
    await panel.locator('input[name=forge-api-base]').fill(`https://git-${size}.example.com/api/v4`);
    await panel.getByRole('button', { name: 'Add forge' }).click();
    const saved = async () => (await api(d.url, 'GET', '/api/settings')).data.forge_hosts || {};
    await until(async () => (await saved())[prefix]?.kind === 'gitlab', 'the forge saved');
    assert.equal((await saved())[prefix].apiBase, `https://git-${size}.example.com/api/v4`);
    await waitText(panel.getByRole('list', { name: 'Forges known' }), new RegExp(prefix.replace(/\./g, '\\.')), 'the forge listed');
    // a prefix that does not end in / or : is the server's to refuse, and it says why
    await panel.locator('input[name=forge-prefix]').fill('https://bad.example.com');
    await panel.locator('input[name=forge-api-base]').fill('https://bad.example.com/api');
    await panel.getByRole('button', { name: 'Add forge' }).click();
    await waitText(panel.getByRole('alert'), /ending in/, "the server's reason");
    assert.equal((await saved())['https://bad.example.com'], undefined);
    await shot(page, `friction-forges-${size}`);
    await panel.getByRole('button', { name: `Remove forge ${prefix}` }).click();
    await until(async () => (await saved())[prefix] === undefined, 'the forge removed');
  });

  test(`${size}: the seed's game words are no default: no "megabonk", no "Synthetic Eye" section`, async () => {
    const { page } = b;
    await page.setViewportSize({ width: w, height: h });
    await page.evaluate(() => localStorage.removeItem('agentd.environment'));
    await page.goto(`${d.url}/#/settings/general`);
    await page.reload();
    const env = page.getByRole('region', { name: 'Environment' });
    await env.waitFor();
    assert.equal(await env.locator('select[name=environment]').inputValue(), '');
    const text = await page.locator('body').innerText();
    assert.doesNotMatch(text, /megabonk|Synthetic Eye/i);
    // the seed's address of the section still opens it
    await page.goto(`${d.url}/#/settings/synthetic-eye`);
    await page.locator('.settings-body[data-section=services]').waitFor();
    await page.getByRole('region', { name: 'Services' }).waitFor();
  });

  test(`${size}: the seed's own tool events toast with the tool's and the agent's names`, async () => {
    const { page } = b;
    await page.setViewportSize({ width: w, height: h });
    await page.goto(`${d.url}/#/`);
    await page.locator('.conn[data-status="connected"]').waitFor();
    const start = JSON.stringify({ type: 'tool_start', tool_id: `x-${size}`, tool: 'web_search', params: { q: 'agentd' } });
    const end = JSON.stringify({ type: 'tool_end', tool_id: `x-${size}`, duration: 2, status: 'error', exit_code: 1 });
    await agent(`Scout ${size}`, ['/bin/sh', '-c', `echo '${start}'; echo '${end}'; cat`]);
    const toast = page.locator('.toast', { hasText: 'web_search failed in 2.0 s' });
    await toast.waitFor();
    assert.match(await toast.innerText(), new RegExp(`Scout ${size}`));
    assert.doesNotMatch(await toast.innerText(), /^tool failed/);
  });
}

test('phone: the drawer closes on Escape and on navigation', async () => {
  const { page } = b;
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${d.url}/#/`);
  const menu = page.locator('.topbar .menu');
  const open = page.locator('.shell.nav-open');
  await menu.click();
  await open.waitFor();
  await page.keyboard.press('Escape');
  await until(async () => (await open.count()) === 0, 'closed by Escape');
  assert.equal(await menu.evaluate((el) => el === document.activeElement), true, 'the focus back on ☰');
  await menu.click();
  await open.waitFor();
  // a navigation not made by the drawer's own links (the back button, a link elsewhere)
  await page.evaluate(() => (location.hash = '#/health'));
  await until(async () => (await open.count()) === 0, 'closed by the navigation');
  await nextFrame(page);
  await page.setViewportSize({ width: 1280, height: 800 });
});
