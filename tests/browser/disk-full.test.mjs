// SPDX-License-Identifier: MIT
// A full disk in the dashboard (issue #41): with the data dir on a small
// tmpfs filled while a command agent prints, the agent's page says the run
// is stalled and why; once space is back the mark goes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { api, daemon, launch, makeRepo, tmpDir, until } from './lib/harness.mjs';
import { WAIT_MS, waitText } from './lib/session.mjs';

let d = null;
let b = null;
let mnt = null;
let why = null;

before(async () => {
  if (process.getuid() !== 0) return (why = 'needs root to mount a small tmpfs');
  mnt = tmpDir('agentd-disk-ui-');
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mnt]);
  if (m.status !== 0) {
    why = `cannot mount a tmpfs here: ${m.stderr}`;
    fs.rmSync(mnt, { recursive: true, force: true });
    mnt = null;
    return;
  }
  d = await daemon.start({ needUrl: true, dataDir: path.join(mnt, 'data'), args: ['--stop-grace-ms', '300'] });
  b = await launch({ login: d.url });
  b.ctx.setDefaultTimeout(WAIT_MS);
});
after(async () => {
  if (b) await b.close();
  if (d) {
    daemon.endHolders(path.join(mnt, 'data'));
    await d.stop();
  }
  if (mnt) {
    spawnSync('umount', ['-l', mnt]);
    fs.rmSync(mnt, { recursive: true, force: true });
  }
});

// What the daemon knew when the page did not show the stall (a fresh
// clone's run once waited 60 s for it, the daemon's log tail full of
// storage warnings): the agent as the API gives it, the disk, and the
// log's lines about stalls, the spool and the runner's storing.
async function whyNot(id, filler) {
  const agent = await api(d.url, 'GET', `/api/agents/${id}`).catch((e) => ({ data: String(e) }));
  const df = spawnSync('df', ['-k', mnt], { encoding: 'utf8' }).stdout;
  const filled = fs.existsSync(filler) ? fs.statSync(filler).size : -1;
  const lines = d.stderr.split('\n').filter((l) => /stall|spool|storing|runner|holder|resumed/.test(l)).slice(0, 40);
  return `the agent: ${JSON.stringify(agent.data).slice(0, 1500)}\nthe filler: ${filled} B; df:\n${df}` +
    `the daemon's log about it:\n${lines.join('\n')}`;
}

test('the agent page shows "stalled: disk full" while the disk is full, and not after', async (t) => {
  if (why) return t.skip(why);
  const repo = makeRepo();
  const ws = await api(d.url, 'POST', '/api/workspaces', { path: repo, name: 'disk' });
  assert.ok(ws.status < 300, JSON.stringify(ws.data));
  const wt = ws.data.worktrees[0].id;
  const script = 'i=0; while [ $i -lt 2000000 ]; do echo "n=$i"; i=$((i+1)); if [ $((i % 200)) -eq 0 ]; then sleep 0.01; fi; done';
  const a = await api(d.url, 'POST', '/api/agents', { worktreeId: wt, name: 'Printer', executor: 'command', command: ['sh', '-c', script] });
  assert.ok(a.status < 300, JSON.stringify(a.data));
  const id = (a.data.agent || a.data).id;
  const { page } = b;
  await page.goto(`${d.url}/#/agents/${id}`);
  await page.locator('.conn[data-status="connected"]').waitFor();
  assert.equal((await api(d.url, 'POST', `/api/agents/${id}/start`, {})).status, 200);
  await page.locator('.agent-head .badge-running').waitFor();
  // Filled once the agent prints: the test is about a run under way, and
  // its start is over then. A disk filled while a busy machine still set
  // the sandbox up once ended the run before it printed (the network
  // proxy refused to register it then; it serves it now, tests/e2e/disk-full).
  await until(async () => (await api(d.url, 'GET', `/api/agents/${id}/messages?limit=1`)).data?.messages?.length > 0,
    'the agent\'s first output stored');
  const filler = path.join(mnt, 'filler');
  try {
    spawnSync('sh', ['-c', `dd if=/dev/zero of=${filler} bs=64k 2>/dev/null; sync`]);
    await waitText(page.locator('.agent-head .stall'), /Stalled\s+disk full/, 'the stall on the agent page')
      .catch(async (e) => { throw new Error(`${e.message}\n${await whyNot(id, filler)}`); });
    // A page opened while the run is stalled (or reloaded after a gap)
    // shows it too: the agent it loads says so.
    await page.reload();
    await page.locator('.conn[data-status="connected"]').waitFor();
    await waitText(page.locator('.agent-head .stall'), /Stalled\s+disk full/, 'the stall after a reload');
  } finally {
    fs.rmSync(filler, { force: true });
  }
  await page.locator('.agent-head .stall').waitFor({ state: 'detached' });
  await api(d.url, 'POST', `/api/agents/${id}/stop?force=true`);
  fs.rmSync(repo, { recursive: true, force: true });
});
