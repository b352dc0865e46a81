// SPDX-License-Identifier: MIT
// `agentd logs` of a terminal agent (issue #32, "The transcript"): what
// the agent wrote to its pty reaches the reader without the screen's
// escape sequences (colours, cursor moves, clears, window titles,
// hyperlinks) and control bytes, live (-f) and stored; and the stored
// transcript of an agent run twice says where each run starts, with its
// number, id, start time and how it ended.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const daemon = require('./lib/daemon');
const { BIN, run, tmpRepo } = daemon;
const { startApi, until } = require('./lib/api');

// A screenful of what a TUI writes: colours, a title (OSC 0), a hyperlink
// (OSC 8 ended by ST), a clear and cursor moves (CSI), a bell, a progress
// line redrawn with \r (a line each), and a backspace (dropped).
const SCREEN = String.raw`
const w = (s) => process.stdout.write(s);
w("\x1b]0;my title\x07\x1b[2J\x1b[H\x1b[1;32mgreen\x1b[0m text\r\n");
w("\x1b]8;;http://example.test/\x1b\\link\x1b]8;;\x1b\\ here\x07\r\n");
w("\x1b[?25lprogress 10%\rprogress 99%\x1b[K\r\nab\bc\x1b7\x1b8 end\r\n");
`;

// `agentd logs ARGS` in the background until it ends by itself (bounded).
function follow(dataDir, args) {
  const child = spawn(BIN, ['--data-dir', dataDir, 'logs', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s) => { stdout += s; });
  child.stderr.setEncoding('utf8').on('data', (s) => { stderr += s; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`logs did not end: ${stdout}${stderr}`)); }, 60000);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

// Every ESC, BEL, CR, BS of the output, or none.
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f]/;

test('logs strips a terminal agent\'s escape sequences and heads each run', async (t) => {
  const d = await startApi();
  t.after(() => d.cleanup());
  const cli = (...args) => run(['--data-dir', d.dataDir, ...args]);
  const ws = await d.req('POST', '/api/workspaces', { path: tmpRepo('logs-tty-', d.dataDir) });
  const made = cli('new', '--worktree', ws.body.worktrees[0].id, '--name', 'tty', '--terminal', '--', process.execPath, '-e', SCREEN);
  assert.equal(made.status, 0, made.stderr);

  // live: -f from before the run starts until it ends
  const follower = follow(d.dataDir, ['-f', 'tty']);
  assert.equal(cli('start', 'tty').status, 0);
  const live = await follower;
  assert.equal(live.code, 0, live.stdout + live.stderr);
  assert.doesNotMatch(live.stdout, CONTROLS, JSON.stringify(live.stdout));
  for (const want of ['green text', 'link here', 'progress 10%', 'progress 99%', 'abc end']) {
    assert.ok(live.stdout.split('\n').includes(want), `${want} in ${JSON.stringify(live.stdout)}`);
  }
  // the run's header line first
  assert.match(live.stdout, /^— run run_\w+  started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC  running\n/);

  // a second run, then the stored transcript: one header per run
  const agent = (await d.req('GET', '/api/agents')).body.agents.find((a) => a.name === 'tty');
  await until(async () => (await d.req('GET', `/api/agents/${agent.id}/runs`)).body.runs[0]?.status === 'succeeded', 'first run ended');
  assert.equal(cli('start', 'tty').status, 0);
  await until(async () => {
    const runs = (await d.req('GET', `/api/agents/${agent.id}/runs`)).body.runs;
    return runs.length === 2 && runs[0].status === 'succeeded';
  }, 'second run ended');
  const runs = (await d.req('GET', `/api/agents/${agent.id}/runs`)).body.runs.reverse();

  const stored = cli('logs', 'tty');
  assert.equal(stored.status, 0, stored.stderr);
  assert.doesNotMatch(stored.stdout, CONTROLS, JSON.stringify(stored.stdout));
  const lines = stored.stdout.split('\n');
  const heads = lines.filter((l) => l.startsWith('— run '));
  assert.equal(heads.length, 2, stored.stdout);
  runs.forEach((r, i) => {
    assert.match(heads[i], new RegExp(`^— run ${i + 1}  ${r.id}  started \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC  succeeded \\(exit 0\\)$`));
  });
  // each run's text under its own header
  const second = lines.indexOf(heads[1]);
  assert.ok(lines.slice(0, second).includes('green text') && lines.slice(second).includes('green text'), stored.stdout);
  // On a terminal (util-linux's script gives it one) the colours stay,
  // and only they; NO_COLOR drops them too.
  if (spawnSync('script', ['--version']).status === 0) {
    const onTty = (env) => spawnSync('script', ['-qec', `${BIN} --data-dir ${d.dataDir} logs tty`, '/dev/null'],
      { encoding: 'utf8', env: { ...process.env, ...env } }).stdout;
    const tty = onTty({});
    assert.ok(tty.includes('\x1b[1;32mgreen\x1b[0m text'), JSON.stringify(tty));
    assert.ok(!tty.includes('\x1b]') && !tty.includes('\x1b[2J') && !tty.includes('\x07'), JSON.stringify(tty));
    assert.ok(!onTty({ NO_COLOR: '1' }).includes('\x1b[1;32m'));
  }
  // --json keeps the raw content, escape sequences and all
  const raw = cli('logs', '--json', 'tty');
  assert.match(raw.stdout, /\\u001b\[1;32mgreen/i);
});
