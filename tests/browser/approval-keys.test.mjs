// SPDX-License-Identifier: MIT
// The approval keys (issue #32): y / n on the focused approval card of an
// agent's page, and on the grid's selected tile, send allow / deny for that
// approval. The approvals are inserted by the test route (no run waits on
// them, so the daemon answers 409 after taking the request: the test checks
// what the page sent).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, makeRepo, shot, until } from './lib/harness.mjs';
import { session } from './lib/session.mjs';

let d;
let b;
session((s) => ({ d, b } = s));

// The decisions the page POSTs, as [approvalId, decision].
function decisions(page) {
  const seen = [];
  page.on('request', (r) => {
    const m = /\/api\/approvals\/([^/?]+)$/.exec(new URL(r.url()).pathname);
    if (m && r.method() === 'POST') seen.push([m[1], JSON.parse(r.postData() || '{}').decision]);
  });
  return seen;
}

async function agentWithApproval(wt, name) {
  const r = await api(d.url, 'POST', '/api/agents', { worktreeId: wt, name, executor: 'command', command: ['true'] });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  const id = r.data.id;
  assert.equal((await api(d.url, 'POST', `/api/agents/${id}/start`, {})).status < 300, true);
  const run = await until(async () => {
    const l = (await api(d.url, 'GET', `/api/agents/${id}/runs`)).data;
    const x = (l.runs || []).find((y) => y.status !== 'running');
    return x && x.id;
  }, 'the run to end');
  const ap = await api(d.url, 'POST', '/test/approvals', { agentId: id, runId: run, toolName: 'Bash' });
  assert.equal(ap.status, 201, JSON.stringify(ap.data));
  assert.equal((await api(d.url, 'POST', '/test/agent-status', { agentId: id, status: 'waiting' })).status, 200);
  return { id, approval: ap.data.id };
}

test('y and n answer the focused approval card, and the grid tile', async () => {
  const { page } = b;
  const sent = decisions(page);
  const ws = (await api(d.url, 'POST', '/api/workspaces', { path: makeRepo() })).data;
  const wt = ws.worktrees[0].id;
  const one = await agentWithApproval(wt, 'keys-one');

  // The card takes the focus as it shows; y allows it.
  await page.goto(`${d.url}/#/agents/${one.id}`);
  const card = page.locator(`.approval[data-approval="${one.approval}"]`);
  await card.waitFor();
  await until(() => page.evaluate((id) => document.activeElement?.dataset?.approval === id, one.approval), 'the card to take the focus');
  await shot(page, 'approval-keys-card');
  await page.keyboard.press('y');
  await until(() => sent.some(([id, dd]) => id === one.approval && dd === 'allow'), 'allow sent for the card');

  // n on a focused card denies.
  const two = await agentWithApproval(wt, 'keys-two');
  await page.goto(`${d.url}/#/agents/${two.id}`);
  const card2 = page.locator(`.approval[data-approval="${two.approval}"]`);
  await card2.waitFor();
  await card2.focus();
  await page.keyboard.press('n');
  await until(() => sent.some(([id, dd]) => id === two.approval && dd === 'deny'), 'deny sent for the card');

  // The grid: the selected tile's approval answers to n and y.
  const three = await agentWithApproval(wt, 'keys-three');
  await page.goto(`${d.url}/#/grid`);
  const tile = page.locator(`.tile[data-agent="${three.id}"]`);
  await tile.locator('.tile-approval').waitFor();
  await tile.click();
  await until(async () => (await tile.getAttribute('class')).includes('selected'), 'the tile selected');
  await page.keyboard.press('n');
  await until(() => sent.some(([id, dd]) => id === three.approval && dd === 'deny'), 'deny sent from the grid');
  assert.equal(sent.filter(([id]) => id === three.approval).length, 1, 'one decision per key');
});
