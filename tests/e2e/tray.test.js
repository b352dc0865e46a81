// SPDX-License-Identifier: MIT
// The tray helper (issue #37) on a private session bus (tests/e2e/lib/
// desktop.js: Debian's dbus-daemon, a StatusNotifierWatcher and a
// notification server written for the test), against a real daemon and
// the ACP test agent, which asks permission before it edits a file:
// - the item registers with the watcher; its Status and tooltip follow the
//   agents that need the user, and its menu lists them;
// - an approval request is a notification with the tool and its input and
//   Allow / Deny; Allow from the notification decides the approval (the
//   agent writes the file), Deny refuses it; the notification closes;
// - a finished turn is a notification with Open;
// - no notification about an agent whose page the owner's dashboard shows
//   (the /ws presence message), while another token's presence (a
//   teammate's, another organisation's) silences nothing;
// - Pause all pauses the running agents; Open dashboard runs the opener;
// - agentd itself loads nothing of D-Bus.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const daemon = require('./lib/daemon');
const { BIN, tmpDir, tmpRepo } = daemon;
const { api, until } = require('./lib/api');
const { Live } = require('./lib/live');

const ACP = path.resolve(__dirname, '../fixtures/acp-agent.js');
const TRAY = path.join(path.dirname(BIN), 'agentd-tray');
const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const skip = !fs.existsSync(TRAY) ? `no ${TRAY} (the build makes it where libsystemd-dev is installed)`
  : !have('dbus-daemon') ? 'dbus-daemon is not installed' : false;

const ITEM = 'org.kde.StatusNotifierItem';
const MENU = 'com.canonical.dbusmenu';

test('the tray shows who needs you, and its notifications decide approvals', { skip }, async (t) => {
  const { startDesktop } = require('./lib/desktop');
  const desk = await startDesktop();
  const d = await daemon.start({ needUrl: true, args: ['--stop-grace-ms', '3000'] });
  const work = tmpDir('agentd-tray-');
  const opened = path.join(work, 'opened');
  const opener = path.join(work, 'opener');
  fs.writeFileSync(opener, `#!/bin/sh\necho "$1" >> ${opened}\n`, { mode: 0o755 });
  let tray = null;
  t.after(async () => {
    if (tray) tray.kill('SIGTERM');
    await d.cleanup();
    await desk.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  const repo = tmpRepo('agentd-tray-repo-');
  const ws = await api(d, 'POST', '/api/workspaces', { path: repo, name: 'tray' });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  const wt = ws.body.worktrees[0].id;
  const mk = async (name, extra) => {
    const r = await api(d, 'POST', '/api/agents', { worktreeId: wt, name, ...extra });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.id;
  };
  const asker = await mk('asker', { executor: 'acp', command: [process.execPath, ACP] });
  const sleeper = await mk('sleeper', { executor: 'command', command: ['sh', '-c', 'sleep 600'] });

  // nothing of D-Bus in the daemon
  const needed = spawnSync('readelf', ['-d', BIN], { encoding: 'utf8' }).stdout;
  assert.doesNotMatch(needed, /libsystemd|libdbus/);
  assert.doesNotMatch(fs.readFileSync(`/proc/${d.proc.pid}/maps`, 'utf8'), /libsystemd|libdbus/);

  tray = spawn(BIN, ['--data-dir', d.dataDir, 'tray'], {
    env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: desk.address, AGENTD_OPENER: opener },
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  let trayErr = '';
  tray.stderr.setEncoding('utf8').on('data', (s) => { trayErr += s; });
  const name = await until(() => desk.watcher.items[0], `the item registered with the watcher ${trayErr}`);
  assert.match(name, /^org\.kde\.StatusNotifierItem-\d+-1$/);
  const item = await desk.bus.getProxyObject(name, '/StatusNotifierItem');
  const props = item.getInterface('org.freedesktop.DBus.Properties');
  const prop = async (p) => (await props.Get(ITEM, p)).value;
  const menu = (await desk.bus.getProxyObject(name, '/MenuBar')).getInterface(MENU);
  const labels = async () => {
    const [, [, , children]] = await menu.GetLayout(0, -1, []);
    return children.map((v) => [v.value[0], v.value[1].label ? v.value[1].label.value : (v.value[1].type || {}).value]);
  };
  await until(async () => (await prop('Status')) === 'Active', 'the item Active (the daemon answers)');
  assert.equal(await prop('Menu'), '/MenuBar');
  assert.deepEqual((await labels()).map((x) => x[1]), ['no agent needs you', 'separator', 'Open dashboard', 'Pause all', 'separator', 'Quit']);

  const notes = desk.notifications.shown;
  const approvalNote = (from) => until(() => notes.slice(from).find((n) => n.actions.allow), 'an approval notification');
  const pending = () => until(async () => (await api(d, 'GET', `/api/agents/${asker}/approvals?pending=true`)).body.approvals[0], 'a pending approval');
  // how many answers match re, once there are at least n
  const said = (re, n) => until(async () => {
    const m = (await api(d, 'GET', `/api/agents/${asker}/messages?limit=200`)).body.messages;
    const k = m.filter((x) => x.role === 'assistant' && re.test(x.content)).length;
    return k >= n ? k : 0;
  }, `the agent saying ${re} ${n} times`);
  const waiting = () => until(async () => (await api(d, 'GET', `/api/agents/${asker}`)).body.status === 'waiting', 'the agent waiting');

  await t.test('an approval: the count, the menu, a notification whose Allow decides it', async () => {
    const s = await api(d, 'POST', `/api/agents/${asker}/start`, { initialPrompt: 'edit one.txt' });
    assert.equal(s.status, 200, JSON.stringify(s.body));
    const ap = await pending();
    const n = await approvalNote(0);
    assert.equal(n.summary, 'asker asks to use write');
    assert.match(n.body, /Edit one\.txt/);
    assert.deepEqual(n.actions, { allow: 'Allow', deny: 'Deny', default: 'Open' });
    assert.equal(n.timeout, 0, 'stays until answered');
    t.diagnostic(`notification ${n.at - Date.parse(ap.createdAt || ap.requestedAt || new Date().toISOString())} ms after the approval was stored`);
    await until(async () => (await prop('Status')) === 'NeedsAttention', 'NeedsAttention');
    const [, , title, text] = await prop('ToolTip');
    assert.equal(title, 'agentd: 1 agent needs you');
    assert.equal(text, 'asker: approval');
    assert.ok((await labels()).some(([, l]) => l === 'asker: approval write'));

    desk.notifications.ActionInvoked(n.id, 'allow'); // the user clicks Allow
    assert.equal(await said(/^outcome: selected allow-once/, 1), 1);
    assert.equal(fs.readFileSync(path.join(repo, 'one.txt'), 'utf8'), 'written by acp\n');
    const decided = (await api(d, 'GET', `/api/agents/${asker}/approvals`)).body.approvals.find((a) => a.id === ap.id);
    assert.equal(decided.status, 'allowed');
    await until(() => n.closed, 'the notification closed');
    await until(async () => (await prop('Status')) === 'Active', 'the count back to none');
  });

  await t.test('a finished turn: a notification with Open, which opens the agent\'s page', async () => {
    const n = await until(() => notes.find((x) => /finished its turn/.test(x.summary)), 'a turn-done notification');
    assert.equal(n.summary, 'asker finished its turn');
    assert.ok(n.actions.open && !n.actions.allow);
    desk.notifications.ActionInvoked(n.id, 'open');
    const url = await until(() => fs.existsSync(opened) && fs.readFileSync(opened, 'utf8').trim(), 'the opener run');
    assert.match(url, new RegExp(`#/agents/${asker}$`));
  });

  await t.test('none while the owner\'s dashboard shows the agent; another token\'s presence silences nothing', async () => {
    await waiting();
    const mine = await Live.open(d);
    t.after(() => mine.ws.close());
    mine.send('presence', { agentId: '../etc' });
    await mine.next('error');
    mine.send('presence', { agentId: asker });
    await mine.until(() => mine.msgs.some((m) => m.type === 'presence' && m.payload.agentId === asker), 5000, 'presence acknowledged');
    assert.equal((await api(d, 'GET', `/api/agents/${asker}/presence`)).body.viewed, true);

    const before = notes.length;
    await api(d, 'POST', `/api/agents/${asker}/message`, { content: 'edit two.txt' });
    const ap = await pending();
    // the tray has taken the request in (its count says so) and shown nothing
    await until(async () => (await prop('Status')) === 'NeedsAttention', 'NeedsAttention');
    assert.equal(notes.length, before, 'no notification while the page is in front of the user');
    assert.equal((await api(d, 'POST', `/api/approvals/${ap.id}`, { decision: 'allow' })).status, 200);
    assert.equal(await said(/^outcome: selected allow-once/, 2), 2);
    await waiting();
    assert.equal(notes.length, before, 'nor when the turn ends');

    // a teammate's token (read scope) says it looks at the agent: the
    // owner's notifications go on; the owner's own page goes away
    const tok = await api(d, 'POST', '/api/tokens', { name: 'teammate', scope: 'read' });
    assert.equal(tok.status, 201, JSON.stringify(tok.body));
    const theirs = await Live.open(d, '/ws', { headers: { authorization: `Bearer ${tok.body.token}` } });
    t.after(() => theirs.ws.close());
    theirs.send('presence', { agentId: asker });
    await theirs.next('presence');
    // and an admin of another organisation names the agent's id it cannot see
    const org = (await api(d, 'POST', '/api/orgs', { name: 'elsewhere' })).body;
    const admin = await api(d, 'POST', '/api/tokens', { name: 'stranger', scope: 'admin', orgId: org.id });
    assert.equal(admin.status, 201, JSON.stringify(admin.body));
    const stranger = await Live.open(d, '/ws', { headers: { authorization: `Bearer ${admin.body.token}` } });
    t.after(() => stranger.ws.close());
    stranger.send('presence', { agentId: asker });
    await stranger.next('presence');
    const seen = await fetch(`${d.url}/api/agents/${asker}/presence`, { headers: { authorization: `Bearer ${admin.body.token}` } });
    assert.equal(seen.status, 404, 'another organisation cannot even ask');
    mine.send('presence', { agentId: null });
    await mine.until(() => mine.msgs.some((m) => m.type === 'presence' && m.payload.agentId === null), 5000, 'presence cleared');
    assert.equal((await api(d, 'GET', `/api/agents/${asker}/presence`)).body.viewed, false);
    await api(d, 'POST', `/api/agents/${asker}/message`, { content: 'edit three.txt' });
    const n = await approvalNote(before);
    assert.match(n.body, /Edit three\.txt/);
    // events reach the tray in order: by this notification it had taken in
    // the second approval and the end of its turn, and shown neither
    assert.deepEqual(notes.slice(before).map((x) => x.id), [n.id], 'nothing else since the presence');
    desk.notifications.ActionInvoked(n.id, 'deny'); // the user clicks Deny
    assert.equal(await said(/^outcome: /, 3), 3);
    assert.ok(!fs.existsSync(path.join(repo, 'three.txt')), 'denied: nothing written');
    const last = (await api(d, 'GET', `/api/agents/${asker}/approvals`)).body.approvals.find((a) => /three/.test(JSON.stringify(a.input)));
    assert.equal(last.status, 'denied');
  });

  await t.test('Pause all pauses the running agents; Open dashboard opens it', async () => {
    assert.equal((await api(d, 'POST', `/api/agents/${sleeper}/start`, {})).status, 200);
    await until(async () => (await api(d, 'GET', `/api/agents/${sleeper}`)).body.status === 'running', 'sleeper running');
    const ids = Object.fromEntries((await labels()).map(([id, l]) => [l, id]));
    await menu.Event(ids['Pause all'], 'clicked', new (require('dbus-next').Variant)('s', ''), 0);
    await until(async () => (await api(d, 'GET', `/api/agents/${sleeper}`)).body.status === 'paused', 'sleeper paused');
    fs.rmSync(opened, { force: true });
    await menu.Event(ids['Open dashboard'], 'clicked', new (require('dbus-next').Variant)('s', ''), 0);
    const url = await until(() => fs.existsSync(opened) && fs.readFileSync(opened, 'utf8').trim(), 'the opener run');
    assert.ok(url.startsWith(d.url), url);
    await api(d, 'POST', `/api/agents/${sleeper}/stop?force=true`);
  });

  await t.test('the daemon goes away and comes back: the tray says so and follows the new one', async () => {
    const rss = fs.readFileSync(`/proc/${tray.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1];
    t.diagnostic(`agentd-tray VmRSS ${rss} kB (this build)`);
    await d.stop();
    await until(async () => (await prop('Status')) === 'Passive', 'Passive while no agentd runs');
    assert.equal((await prop('Title')), 'agentd: not running');
    const d2 = await daemon.start({ needUrl: true, dataDir: d.dataDir, keepDataDir: true });
    t.after(() => d2.stop());
    await until(async () => (await prop('Status')) !== 'Passive', 'back once agentd answers again');
  });
});

test('SSE ?types= and presence: what passes, and what is refused', async (t) => {
  const { openSse, publish, hasTestRoutes } = require('./lib/live');
  const d = await daemon.start({ needUrl: true });
  t.after(() => d.cleanup());
  const bad = await api(d, 'GET', '/api/events?types=agent_status,BAD!');
  assert.equal(bad.status, 422);
  assert.equal(bad.body.error.details.field, 'types');
  assert.equal((await api(d, 'GET', `/api/events?types=${'a,'.repeat(33)}`)).status, 422, 'at most 32 types');
  assert.equal((await api(d, 'GET', '/api/agents/ag_nobody/presence')).status, 404);
  if (await hasTestRoutes(d)) {
    const s = openSse(d, '/api/events?topics=agent:*&types=approval_requested,run_ended');
    await s.ready;
    t.after(() => s.req.destroy());
    assert.equal(s.status, 200);
    await publish(d, { type: 'agent_output', topics: ['agent:ag_x'], payload: { content: 'not for the tray' } });
    await publish(d, { type: 'approval_requested', topics: ['agent:ag_x'], payload: { approval: { id: 'ap_x' } } });
    await until(() => s.events.length > 0, 'the one event of a listed type');
    await publish(d, { type: 'run_ended', topics: ['agent:ag_x'], payload: {} });
    await until(() => s.events.length > 1, 'the second');
    assert.deepEqual(s.events.map((e) => e.json.type), ['approval_requested', 'run_ended']);
  }
});
