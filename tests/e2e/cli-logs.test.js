// SPDX-License-Identifier: MIT
// `agentd logs [-f]` against a real daemon: command agents whose runs end
// with 0 and with 3 (the follower prints their lines and exits by itself,
// 0 or 1), --json one event a line, following a running agent until it is
// stopped, and the real Claude Code CLI (against the mock Anthropic API)
// rendered as user message, tool call and result, assistant text and
// statuses, live and from the stored transcript.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const fs = require('node:fs');
const daemon = require('./lib/daemon');
const { BIN, run, tmpRepo } = daemon;
const { startApi, until } = require('./lib/api');
const { start: startMock, defaultRules } = require('../fixtures/mock-anthropic');
const { CLAUDE_BIN, claudeMissingReason, makeSandbox, claudeEnv } = require('../fixtures/claude-run');

const FAKE = path.resolve(__dirname, '../fixtures/fake-agent.js');

// `agentd logs ...` in the background: a promise of how it ended, failing
// if it does not end by itself within ms; out() is what it printed so far.
function follow(dataDir, args, ms = 60000) {
  const child = spawn(BIN, ['--data-dir', dataDir, 'logs', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s) => { stdout += s; });
  child.stderr.setEncoding('utf8').on('data', (s) => { stderr += s; });
  const done = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`logs ${args.join(' ')} did not end by itself; it printed:\n${stdout}${stderr}`));
    }, ms);
    child.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
  return { child, done, out: () => stdout };
}

// Prints three lines, then exits with code once the file "release" is in
// its worktree: a follower that came up late on a loaded machine still
// finds the run going (it would print the ended run's transcript instead).
const script = (code) => `for (const w of ["one", "two", "three"]) console.log(w); `
  + `setInterval(() => { if (require("fs").existsSync("release")) process.exit(${code}); }, 20);`;

test('logs -f prints a command agent\'s lines and exits with its run: 0, or 1 for exit 3', async (t) => {
  const d = await startApi();
  t.after(() => d.cleanup());
  const cli = (...args) => run(['--data-dir', d.dataDir, ...args]);
  const repo = tmpRepo('logs-', d.dataDir);
  const ws = await d.req('POST', '/api/workspaces', { path: repo });
  const wt = ws.body.worktrees[0].id;
  for (const [name, code] of [['ok', 0], ['bad', 3]]) {
    const made = cli('new', '--worktree', wt, '--name', name, '--', process.execPath, '-e', script(code));
    assert.equal(made.status, 0, made.stderr);
  }

  // Followers started before the agents ever ran wait for their first run.
  const ok = follow(d.dataDir, ['-f', 'ok']);
  const okJson = follow(d.dataDir, ['-f', '--json', 'ok']);
  const bad = follow(d.dataDir, ['-f', 'bad']);
  assert.equal(cli('start', 'ok').status, 0);
  assert.equal(cli('start', 'bad').status, 0);
  // every follower is following the running agents before they end
  await until(() => [ok, okJson, bad].every((f) => f.out().includes('three')), 'the followers to show the lines');
  fs.writeFileSync(path.join(repo, 'release'), '');

  const a = await ok.done;
  assert.equal(a.code, 0, a.stdout + a.stderr);
  const lines = a.stdout.trim().split('\n');
  assert.deepEqual(lines.filter((l) => !l.startsWith('—')), ['one', 'two', 'three']);
  assert.ok(lines.includes('— status: finished'), a.stdout);
  assert.equal(lines[lines.length - 1], '— run succeeded (exit 0)');

  const b = await bad.done;
  assert.equal(b.code, 1, b.stdout + b.stderr);
  const blines = b.stdout.trim().split('\n');
  assert.deepEqual(blines.filter((l) => !l.startsWith('—')), ['one', 'two', 'three']);
  assert.ok(blines.includes('— status: error (exited with code 3)'), b.stdout);
  assert.equal(blines[blines.length - 1], '— run failed (exit 3)');

  // --json: the raw events, one a line, ending with the run's end
  const j = await okJson.done;
  assert.equal(j.code, 0, j.stderr);
  const events = j.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(events.every((e) => Number.isInteger(e.seq) && typeof e.type === 'string'));
  // (lines that arrive together may come as one output event)
  assert.equal(events.filter((e) => e.type === 'agent_output').map((e) => e.payload.content).join('\n'), 'one\ntwo\nthree');
  assert.equal(events[events.length - 1].type, 'run_ended');
  assert.equal(events[events.length - 1].payload.run.status, 'succeeded');

  // Once the run is over, -f prints the transcript and exits as the run did.
  const again = await follow(d.dataDir, ['-f', 'bad']).done;
  assert.equal(again.code, 1);
  // (the run's header line first: its number, id, start and end)
  const head = /^— run 1  run_\w+  started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC  failed \(exit 3\)\n/;
  assert.match(again.stdout, head);
  assert.equal(again.stdout.replace(head, ''), 'one\ntwo\nthree\n— run failed\n');
  assert.equal((await follow(d.dataDir, ['-f', 'ok']).done).code, 0);
  // and without -f, the stored transcript, exit 0 whatever the run did
  const stored = cli('logs', 'bad');
  assert.equal(stored.status, 0);
  assert.equal(stored.stdout.replace(head, ''), 'one\ntwo\nthree\n');
  const storedJson = cli('logs', 'bad', '--json');
  // (the lines are stored as they were read: together, or one then the rest
  // when the machine is busy, so the messages' contents are joined)
  const msgs = storedJson.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(msgs.every((m) => m.role === 'assistant'), storedJson.stdout);
  assert.equal(msgs.map((m) => m.content).join('\n'), 'one\ntwo\nthree');
});

test('logs -f on a running agent follows it until it is stopped (exit 0)', async (t) => {
  const d = await startApi();
  t.after(() => d.cleanup());
  const cli = (...args) => run(['--data-dir', d.dataDir, ...args]);
  const ws = await d.req('POST', '/api/workspaces', { path: tmpRepo('logs-', d.dataDir) });
  const made = cli('new', '--worktree', ws.body.worktrees[0].id, '--name', 'echo', '--', process.execPath, FAKE, 'echo');
  assert.equal(made.status, 0, made.stderr);
  // an earlier run, so the replay holds another run's events to skip
  assert.equal(cli('start', 'echo').status, 0);
  assert.equal(cli('send', 'echo', 'first run').status, 0);
  assert.equal(cli('stop', 'echo').status, 0);
  assert.equal(cli('start', 'echo').status, 0);

  const f = follow(d.dataDir, ['-f', 'echo']);
  assert.equal(cli('send', 'echo', 'second run').status, 0);
  // the agent's echo, not only the prompt line (`> second run`): a stop
  // sent after the prompt alone raced the echo, and lost it in ci2
  await until(() => f.out().includes('"line":"second run"'), 'the echo in logs -f');
  assert.equal(cli('stop', 'echo').status, 0);
  const r = await f.done;
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.ok(!r.stdout.includes('first run'), r.stdout);
  assert.match(r.stdout, /"line":"second run"/);
  assert.match(r.stdout, /\n— run stopped( \(exit \d+\))?\n$/);
});

const skip = claudeMissingReason() || false;

test('logs -f renders the real Claude CLI: prompt, tool calls and results, text, statuses', { skip }, async (t) => {
  const rules = [
    { match: 'fail please', reply: { tool: { name: 'Bash', input: { command: 'echo oops; exit 3', description: 'Fail' } }, then: { text: 'That failed.' } } },
    ...defaultRules(),
  ];
  const mock = await startMock({ rules });
  const sb = makeSandbox();
  const d = await daemon.start({ needUrl: true, args: ['--claude-bin', CLAUDE_BIN, '--stop-grace-ms', '3000'] });
  t.after(async () => { await d.cleanup(); await mock.close(); sb.cleanup(); });
  const cli = (...args) => run(['--data-dir', d.dataDir, ...args]);
  const ws = await d.fetch(`${d.url}/api/workspaces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: sb.cwd }) });
  const wt = (await ws.json()).worktrees[0].id;
  const env = claudeEnv(mock.url, sb.home);
  delete env.PATH;
  const ag = await d.fetch(`${d.url}/api/agents`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ worktreeId: wt, name: 'coder', executor: 'claude', env, allowUnsafeEnv: true, permissions: ['read', 'write', 'execute'] }),
  });
  assert.equal(ag.status, 201);

  const f = follow(d.dataDir, ['-f', 'coder'], 120000);
  assert.equal(cli('start', 'coder', 'please make a file').status, 0);
  await until(() => f.out().includes('— status: waiting'), 'the first turn to end', 60000);
  assert.equal(cli('send', 'coder', 'fail please').status, 0);
  await until(() => /That failed\.\n— status: waiting\n/.test(f.out()), 'the second turn to end', 60000);
  assert.equal(cli('stop', 'coder').status, 0);
  const r = await f.done;
  assert.equal(r.code, 0, r.stdout + r.stderr);
  if (process.env.CLI_LOGS_SHOW) console.log(r.stdout);
  const lines = r.stdout.trim().split('\n');
  const at = (s) => {
    const i = lines.indexOf(s);
    assert.ok(i >= 0, `missing line ${JSON.stringify(s)} in:\n${r.stdout}`);
    return i;
  };
  const order = [
    at('> please make a file'),
    at('▶ Bash  echo hello > out.txt'),
    at('✓ Bash'),
    at('I wrote hello to out.txt.'),
    lines.indexOf('— status: waiting'),
    at('> fail please'),
    at('▶ Bash  echo oops; exit 3'),
    lines.findIndex((l) => /^✗ Bash( \(exit 3\))?$/.test(l)),
    at('  Exit code 3 oops'), // what the failed call said
    at('That failed.'),
  ];
  assert.ok(order.every((v, i) => v >= 0 && (i === 0 || v > order[i - 1])), `${order}\n${r.stdout}`);
  assert.match(lines[lines.length - 1], /^— run stopped/);

  // The stored transcript renders the same calls and results.
  const stored = cli('logs', 'coder');
  assert.equal(stored.status, 0, stored.stderr);
  const s = stored.stdout.split('\n');
  const want = ['> please make a file', '▶ Bash  echo hello > out.txt', '✓ Bash', 'I wrote hello to out.txt.',
    '> fail please', '▶ Bash  echo oops; exit 3', '✗ Bash', '  Exit code 3 oops', 'That failed.'];
  const idx = want.map((w) => s.indexOf(w));
  assert.ok(idx.every((v, i) => v >= 0 && (i === 0 || v > idx[i - 1])), `${idx}\n${stored.stdout}`);
});

test('logs -f renders tool events of a command agent: one short line of input, the exit code of a failed call', async (t) => {
  const d = await startApi();
  t.after(() => d.cleanup());
  const cli = (...args) => run(['--data-dir', d.dataDir, ...args]);
  const ws = await d.req('POST', '/api/workspaces', { path: tmpRepo('logs-', d.dataDir) });
  const long = 'é'.repeat(120); // 240 bytes: cut at 100, never inside a character
  const events = [
    { type: 'tool_start', toolId: 't1', name: 'Read', params: { file_path: `/data/${long}` } },
    { type: 'tool_end', toolId: 't1', status: 'success', durationMs: 1 },
    { type: 'tool_start', toolId: 't2', name: 'Eval', params: { n: 1, lines: 'a\nb' } },
    { type: 'tool_end', toolId: 't2', status: 'error', exitCode: 2, durationMs: 1 },
  ];
  const prog = `for (const e of JSON.parse(${JSON.stringify(JSON.stringify(events))})) console.log(JSON.stringify(e)); console.log("done");`;
  const made = cli('new', '--worktree', ws.body.worktrees[0].id, '--name', 'tools', '--', process.execPath, '-e', prog);
  assert.equal(made.status, 0, made.stderr);
  const f = follow(d.dataDir, ['-f', 'tools']);
  assert.equal(cli('start', 'tools').status, 0);
  const r = await f.done;
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const lines = r.stdout.split('\n');
  const read = lines.find((l) => l.startsWith('▶ Read  '));
  assert.ok(read, r.stdout);
  assert.ok(read.endsWith('…'), read);
  const shown = read.slice('▶ Read  '.length, -1);
  assert.ok(Buffer.byteLength(shown) <= 100 && Buffer.byteLength(shown) >= 98, read);
  assert.ok(`/data/${long}`.startsWith(shown), 'whole characters only');
  assert.ok(lines.includes('✓ Read'), r.stdout);
  // no field that says what it does: the input as compact JSON, on one line
  assert.ok(lines.includes('▶ Eval  {"n":1,"lines":"a\\nb"}'), r.stdout);
  assert.ok(lines.includes('✗ Eval (exit 2)'), r.stdout);
  assert.ok(lines.includes('done'), r.stdout);
});

// The stored transcript is printed whole, however many pages it takes:
// `agentd logs` stopped after 200 pages (20,000 messages) and exited 0
// with the oldest part missing. A test build reads 1 message a page here
// (AGENTD_TEST_LOGS_PAGE), so 230 messages are 230 pages.
test('logs prints a transcript of more than 200 pages whole, oldest first', async (t) => {
  const d = await startApi();
  t.after(() => d.cleanup());
  const ws = await d.req('POST', '/api/workspaces', { path: tmpRepo('logs-', d.dataDir) });
  const made = run(['--data-dir', d.dataDir, 'new', '--worktree', ws.body.worktrees[0].id, '--name', 'long', '--json', '--', process.execPath, FAKE, 'echo']);
  assert.equal(made.status, 0, made.stderr);
  const id = JSON.parse(made.stdout).id;
  const N = 230;
  for (let i = 0; i < N; i++) {
    const r = await d.req('POST', `/api/agents/${id}/messages`, { content: `m${i}` });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
  const env = { AGENTD_TEST_LOGS_PAGE: '1' };
  const json = run(['--data-dir', d.dataDir, 'logs', 'long', '--json'], { env, timeout: 180000 });
  assert.equal(json.status, 0, json.stderr);
  const got = json.stdout.trim().split('\n').map((l) => JSON.parse(l).content);
  assert.deepEqual(got, Array.from({ length: N }, (_, i) => `m${i}`));

  const text = run(['--data-dir', d.dataDir, 'logs', 'long'], { env, timeout: 180000 });
  assert.equal(text.status, 0, text.stderr);
  const lines = text.stdout.trim().split('\n');
  assert.equal(lines.length, N, text.stdout.slice(0, 400));
  assert.equal(lines[0], '> m0');
  assert.equal(lines[N - 1], `> m${N - 1}`);
});
