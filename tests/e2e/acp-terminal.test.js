// SPDX-License-Identifier: MIT
// ACP terminals and the permissions of the agent's client requests, with
// the ACP test agent (tests/fixtures/acp-agent.js): terminal/create runs a
// command in the agent's sandbox inside its worktree (a cwd outside, by
// name or by a symlink, is refused; agentd's data dir and the folders
// around the worktree are not reachable), output bounded by
// outputByteLimit, exit codes and signals, kill, release, at most 4 per
// agent and all of them killed when the agent stops; a regular agent
// without `execute` is asked (an approval; allow, deny, allow always), a
// command the user allowed through a permission request is not asked
// twice, an fs write without `write` or a read without `read` is asked
// too, plan mode offers no terminal and writes nothing, a held request
// pending across a daemon restart is served by the new daemon, and a
// `kill -9` of agentd takes the terminals with it, also one that lands
// while they are being set up.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { api, until, messages, agent } = require('./lib/agents');

const ACP = path.resolve(__dirname, '../fixtures/acp-agent.js');
const ARGS = ['--stop-grace-ms', '3000'];

async function waiting(d, id) {
  await until(async () => (await agent(d, id)).status === 'waiting', `agent ${id} waiting`);
}

// Sends prompt and returns the agent's answer to it (the newest assistant
// message once one more than before has come).
async function ask(d, id, prompt, { started = false } = {}) {
  const before = (await messages(d, id)).filter((m) => m.role === 'assistant').length;
  if (!started) {
    const r = await api(d, 'POST', `/api/agents/${id}/message`, { content: prompt });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
  return until(async () => {
    const ms = (await messages(d, id)).filter((m) => m.role === 'assistant');
    return ms.length > before ? ms[0].content : null;
  }, `the answer to ${prompt.slice(0, 60)}`);
}

async function term(d, id, spec) {
  const text = await ask(d, id, `term ${JSON.stringify(spec)}`);
  if (text.startsWith('terminal error: ')) return { error: text.slice('terminal error: '.length) };
  assert.match(text, /^terminal: /);
  return JSON.parse(text.slice('terminal: '.length));
}

async function pending(d, id) {
  return until(async () => {
    const r = await api(d, 'GET', `/api/agents/${id}/approvals?pending=true`);
    return r.body.approvals.length > 0 ? r.body.approvals[0] : null;
  }, 'a pending approval');
}

// Processes whose command line has marker (from /proc, any pid namespace).
function withMarker(marker) {
  const out = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(marker)) out.push(Number(e));
    } catch { /* gone */ }
  }
  return out;
}

test('acp terminals and client-request permissions', async (t) => {
  const dataDir = daemon.tmpDir();
  let d = await daemon.start({ dataDir, args: ARGS });
  const repo = daemon.tmpRepo('agentd-acp-term-');
  try {
    const ws = await api(d, 'POST', '/api/workspaces', { path: repo });
    assert.equal(ws.status, 201, JSON.stringify(ws.body));
    const wt = ws.body.worktrees[0].id;
    const make = async (extra) => {
      const r = await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'acp', command: [process.execPath, ACP], ...extra });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const s = await api(d, 'POST', `/api/agents/${r.body.id}/start`, { initialPrompt: 'hello' });
      assert.equal(s.status, 200, JSON.stringify(s.body));
      await waiting(d, r.body.id);
      return r.body.id;
    };

    const auto = await make({ name: 'auto', mode: 'auto' });

    await t.test('a shell line: its output, its exit code, released after', async () => {
      const r = await term(d, auto, { command: 'echo hello; echo oops >&2; exit 3' });
      assert.deepEqual(r.exit, { exitCode: 3, signal: null });
      assert.deepEqual(r.exitStatus, { exitCode: 3, signal: null });
      assert.match(r.output, /hello\n/);
      assert.match(r.output, /oops\n/);
      assert.equal(r.truncated, false);
      assert.equal(r.after, 'no such terminal');
    });

    await t.test('args are passed as given (no shell), env entries are added', async () => {
      const a = await term(d, auto, { command: 'printf', args: ['%s|%s', 'a b', '$HOME'] });
      assert.equal(a.output, 'a b|$HOME');
      const e = await term(d, auto, { command: 'printf %s "$GREETING"', env: [{ name: 'GREETING', value: 'hi there' }] });
      assert.equal(e.output, 'hi there');
    });

    await t.test('outputByteLimit keeps the newest bytes', async () => {
      const r = await term(d, auto, { command: 'printf 0123456789abcdef', outputByteLimit: 6 });
      assert.equal(r.output, 'abcdef');
      assert.equal(r.truncated, true);
    });

    await t.test('kill ends it with its signal', async () => {
      const r = await term(d, auto, { command: 'sleep 30', kill: true });
      assert.deepEqual(r.exit, { exitCode: null, signal: 'SIGKILL' });
    });

    await t.test('cwd: a folder of the worktree; outside, by name or by a symlink, refused', async () => {
      fs.mkdirSync(path.join(repo, 'sub'));
      fs.symlinkSync(os.tmpdir(), path.join(repo, 'link-out'));
      const r = await term(d, auto, { command: 'pwd', cwd: path.join(repo, 'sub') });
      assert.equal(r.output.trim(), path.join(repo, 'sub'));
      for (const cwd of ['/etc', path.join(repo, '..'), path.join(repo, 'link-out'), 'sub']) {
        assert.deepEqual(await term(d, auto, { command: 'pwd', cwd }), { error: 'path is outside the worktree' }, cwd);
      }
    });

    await t.test('it runs in the agent\'s sandbox: no data dir, nothing written around the worktree', async () => {
      const token = fs.readFileSync(path.join(dataDir, 'owner-token'), 'utf8').trim();
      const r = await term(d, auto, { command: `cat ${dataDir}/owner-token` });
      assert.notEqual(r.exit.exitCode, 0, JSON.stringify(r));
      assert.ok(!r.output.includes(token));
      const escape = path.join(path.dirname(repo), `escape-${path.basename(repo)}.txt`);
      await term(d, auto, { command: `echo x > ${escape}` });
      assert.ok(!fs.existsSync(escape), 'written outside the worktree');
      const inside = await term(d, auto, { command: 'echo in > made-by-terminal.txt' });
      assert.equal(inside.exit.exitCode, 0);
      assert.equal(fs.readFileSync(path.join(repo, 'made-by-terminal.txt'), 'utf8'), 'in\n');
    });

    await t.test('its network is the agent\'s: out through the agent\'s proxy, never straight to the host', async () => {
      // (this file's daemon takes 127.0.0.1 for the internet: lib/daemon.js)
      const port = new URL(d.url).port;
      const via = await term(d, auto, { command: `curl -sf -p --max-time 10 http://127.0.0.1:${port}/healthz && echo " PROXY=$HTTPS_PROXY"` });
      assert.equal(via.exit.exitCode, 0, JSON.stringify(via));
      assert.match(via.output, /"ok".* PROXY=http:\/\/127\.0\.0\.1:\d+/);
      const direct = await term(d, auto, { command: `curl -sf --noproxy '*' --max-time 5 http://127.0.0.1:${port}/healthz` });
      assert.notEqual(direct.exit.exitCode, 0, JSON.stringify(direct));
    });

    await t.test('bad params get a clear error', async () => {
      assert.match((await term(d, auto, { command: '' })).error, /command must be a non-empty string/);
      assert.match((await term(d, auto, { command: 'true', env: [{ name: 'A=B', value: 'x' }] })).error, /env entries/);
      assert.match((await term(d, auto, { command: 'true', outputByteLimit: -1 })).error, /outputByteLimit/);
    });

    await t.test('at most 4 at once; stop kills them all', async () => {
      const marker = `acp-term-marker-${auto}`;
      const text = await ask(d, auto, `terms 5 ${marker}`);
      assert.equal(text, 'terms: 4 created; error: too many terminals: release one first (at most 4)');
      await until(async () => withMarker(marker).length >= 4, 'each terminal\'s shell (and the sandbox around it)');
      const st = await api(d, 'POST', `/api/agents/${auto}/stop?wait=true`);
      assert.equal(st.status, 200);
      await until(async () => withMarker(marker).length === 0, 'the terminals killed');
    });

    const regular = await make({ name: 'regular', permissions: ['read'] });

    await t.test('regular mode without execute: asked; allow runs it, deny refuses it', async () => {
      const answer = ask(d, regular, 'term {"command":"echo asked"}', { started: true });
      await api(d, 'POST', `/api/agents/${regular}/message`, { content: 'term {"command":"echo asked"}' });
      const ap = await pending(d, regular);
      assert.equal(ap.toolName, 'execute');
      assert.equal(ap.input.method, 'terminal/create');
      assert.equal(ap.input.params.command, 'echo asked');
      assert.equal(ap.input.title, 'Run echo asked');
      assert.equal((await agent(d, regular)).status, 'waiting');
      assert.equal((await api(d, 'POST', `/api/approvals/${ap.id}`, { decision: 'allow' })).status, 200);
      assert.match(await answer, /"output":"asked\\n"/);
      await waiting(d, regular);
      const answer2 = ask(d, regular, 'term {"command":"echo no"}', { started: true });
      await api(d, 'POST', `/api/agents/${regular}/message`, { content: 'term {"command":"echo no"}' });
      const ap2 = await pending(d, regular);
      assert.equal((await api(d, 'POST', `/api/approvals/${ap2.id}`, { decision: 'deny' })).status, 200);
      assert.equal(await answer2, 'terminal error: the user denied this request');
    });

    await t.test('a command allowed through a permission request is not asked twice', async () => {
      await waiting(d, regular);
      const before = (await api(d, 'GET', `/api/agents/${regular}/approvals`)).body.approvals.length;
      const answer = ask(d, regular, 'runperm echo granted', { started: true });
      await api(d, 'POST', `/api/agents/${regular}/message`, { content: 'runperm echo granted' });
      const ap = await pending(d, regular);
      assert.equal(ap.input.title, 'Run echo granted');
      assert.equal((await api(d, 'POST', `/api/approvals/${ap.id}`, { decision: 'allow' })).status, 200);
      assert.equal(await answer, 'runperm: outcome selected allow-once, exit 0, output granted');
      assert.equal((await api(d, 'GET', `/api/agents/${regular}/approvals`)).body.approvals.length, before + 1);
    });

    await t.test('fs: a write without `write` is asked; allow always adds it', async () => {
      await waiting(d, regular);
      const answer = ask(d, regular, 'write asked.txt hi', { started: true });
      await api(d, 'POST', `/api/agents/${regular}/message`, { content: 'write asked.txt hi' });
      const ap = await pending(d, regular);
      assert.equal(ap.toolName, 'write');
      assert.equal(ap.input.method, 'fs/write_text_file');
      assert.ok(!fs.existsSync(path.join(repo, 'asked.txt')));
      assert.equal((await api(d, 'POST', `/api/approvals/${ap.id}`, { decision: 'allow_always' })).status, 200);
      assert.equal(await answer, 'write ok');
      assert.equal(fs.readFileSync(path.join(repo, 'asked.txt'), 'utf8'), 'hi');
      assert.ok((await agent(d, regular)).permissions.includes('write'));
      assert.equal(await ask(d, regular, 'write again.txt unasked'), 'write ok');
    });

    await t.test('fs: a read without `read` is asked', async () => {
      fs.writeFileSync(path.join(repo, 'secret.txt'), 'kept\n');
      const blind = await make({ name: 'blind', permissions: [] });
      const answer = ask(d, blind, 'read secret.txt', { started: true });
      await api(d, 'POST', `/api/agents/${blind}/message`, { content: 'read secret.txt' });
      const ap = await pending(d, blind);
      assert.equal(ap.toolName, 'read');
      assert.equal((await api(d, 'POST', `/api/approvals/${ap.id}`, { decision: 'deny' })).status, 200);
      assert.equal(await answer, 'read error: the user denied this request');
    });

    await t.test('plan mode: no terminal offered, nothing written', async () => {
      const plan = await make({ name: 'plan', mode: 'plan' });
      assert.equal(await ask(d, plan, 'terminal'), 'terminal error: agentd offered no terminal to this agent');
      assert.equal(await ask(d, plan, 'write plan.txt x'), 'write error: the agent is in plan mode: nothing is written');
      assert.ok(!fs.existsSync(path.join(repo, 'plan.txt')));
    });

    await t.test('a terminal asked for before a restart is run by the new daemon; kill -9 of agentd kills the terminals', async () => {
      const keeper = await make({ name: 'keeper', mode: 'auto' });
      const marker = `acp-term-marker-${keeper}`;
      assert.equal(await ask(d, keeper, `terms 2 ${marker}`), 'terms: 2 created');
      // (a terminal's process is spawned off the loop: created is said before it runs)
      await until(async () => withMarker(marker).length >= 2, 'the two terminals running');
      await waiting(d, regular);
      const r = await api(d, 'POST', `/api/agents/${regular}/message`, { content: 'term {"command":"echo after restart"}' });
      assert.equal(r.status, 200);
      const ap = await pending(d, regular);
      await d.stop('SIGKILL');
      // the agents live on under their holders, their terminals do not
      await until(async () => withMarker(marker).length === 0, 'the terminals gone with agentd');
      d = await daemon.start({ dataDir, args: ARGS });
      assert.equal((await pending(d, regular)).id, ap.id);
      const answer = ask(d, regular, 'term', { started: true });
      assert.equal((await api(d, 'POST', `/api/approvals/${ap.id}`, { decision: 'allow' })).status, 200);
      assert.match(await answer, /"output":"after restart\\n"/);
    });

    await t.test('a kill -9 of agentd while terminals are being set up leaves none of them', async () => {
      // bwrap hands the parent-death signal on to the sandbox only once it
      // is set up: each round's kill lands while four terminals start
      for (let round = 0; round < 3; round++) {
        const starter = await make({ name: `starter-${round}`, mode: 'auto' });
        const marker = `acp-term-setup-${starter}`;
        const r = await api(d, 'POST', `/api/agents/${starter}/message`, { content: `terms 4 ${marker}` });
        assert.equal(r.status, 200);
        const end = Date.now() + 30000;
        while (withMarker(marker).length === 0 && Date.now() < end) { /* the first one starting */ }
        await d.stop('SIGKILL');
        await until(async () => withMarker(marker).length === 0, `round ${round}: the terminals gone with agentd`);
        d = await daemon.start({ dataDir, args: ARGS });
      }
    });
  } finally {
    await d.cleanup();
  }
});
