// SPDX-License-Identifier: MIT
// A workbench project kept in sync with a folder, from the project's page
// (issue #40, seed 002's file sync; the API had it, the page did not): a
// folder outside the daemon's roots is refused with agentd's reason, one
// under them is set, the project's files appear there, a file written in the
// folder shows on the page without a reload, and Stop ends it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { api, tmpDir, until } from './lib/harness.mjs';
import { session, waitText } from './lib/session.mjs';

let d;
let b;
const root = fs.realpathSync(tmpDir('agentd-browser-sync-'));
session((s) => ({ d, b } = s), { daemon: { args: ['--project-sync-roots', root, '--project-sync-interval-ms', '200'] } });

test('a project kept in sync with a folder from its page, both ways, then stopped', async () => {
  const { page } = b;
  const proj = (await api(d.url, 'POST', '/api/projects', { name: 'synced' })).data;
  assert.equal((await api(d.url, 'PUT', `/api/projects/${proj.id}`, { files: [{ path: 'README.md', content: '# hi\n' }] })).status, 200);
  const folder = path.join(root, 'synced');
  fs.mkdirSync(folder);
  await page.goto(`${d.url}/#/projects/${proj.id}`);
  const sync = page.getByRole('group', { name: 'Folder sync' });
  await sync.getByRole('button', { name: 'Keep in sync with a folder…' }).click();
  // outside the roots: agentd's refusal, nothing set
  await sync.locator('input[name=sync-path]').fill(tmpDir('agentd-browser-out-'));
  await sync.getByRole('button', { name: 'Keep in sync' }).click();
  await sync.getByRole('alert').waitFor();
  assert.equal((await api(d.url, 'GET', `/api/projects/${proj.id}/sync`)).data.path, null);
  await sync.locator('input[name=sync-path]').fill(folder);
  await sync.getByRole('button', { name: 'Keep in sync' }).click();
  await waitText(sync, new RegExp(`In sync with ${folder}`), 'the folder named');
  await until(() => fs.existsSync(path.join(folder, 'README.md')), 'README.md in the folder');
  // a file made in the folder comes into the project, and the page shows it
  fs.writeFileSync(path.join(folder, 'notes.txt'), 'from the folder\n');
  const files = page.getByRole('list', { name: 'Files' });
  await files.getByRole('button', { name: 'notes.txt' }).click();
  await waitText(page.getByTestId('file-content'), /from the folder/, "the folder's file on the page");
  await sync.getByRole('button', { name: 'Stop syncing' }).click();
  await sync.getByRole('button', { name: 'Keep in sync with a folder…' }).waitFor();
  assert.equal((await api(d.url, 'GET', `/api/projects/${proj.id}/sync`)).data.path, null);
  assert.deepEqual(b.errors, []);
});
