// SPDX-License-Identifier: MIT
// The state fault-injection suite (issue #33): for each executor, faults
// are injected into a live agent (kill -9 of the agent, of its holder, of
// agentd then a restart, SIGSTOP/SIGCONT for 30 s, the CLI exiting with an
// error, a message sent mid-turn) and the agent's status and statusReason
// {code, text, at, ref} are asserted after each, polled (bounded), and so
// is the bound: each status within 1 s of its cause. Adding an executor is
// one row of EXECUTORS: how to make an agent that works on a turn, and
// which cases it takes. Rows: command, claude (the real Claude CLI), acp
// (our misbehaving test agent), codex (the real Codex CLI on `codex
// app-server`), gemini (the real Gemini CLI in ACP mode), codex-acp and
// claude-code-acp (Zed's adapters), the CLIs against the local mock APIs;
// a row whose CLI is missing is printed as skipped.
//
// How the bound is timed, so that a loaded machine cannot fail it and a
// slower daemon still does (docs/executors.md, the state fault suite):
// every row and case runs at once in this one process, and on a loaded
// 2-core machine this process itself falls seconds behind (a 10 ms timer
// ticked 2 to 14 times in 3 s while agentd's loop sat idle in epoll_wait);
// a delay timed from the test's clock was mostly the test's. So each end is
// a time agentd recorded where one exists: statusReason.at against the
// message's createdAt (message-mid-turn, lid), against the CLI's stored
// words (cli-error, less the time the CLI was busy before the next line it
// wrote, the one the status follows), and, for a restart, the very first answers after the
// new daemon listens must already read the right status (its re-attach is
// committed before it listens; the delay printed is the reason's time past
// its "started" log line). Where the cause is the test's own act (a kill,
// or a mock API's error answer), the test's clock dates it (the same
// machine clock), and the time agentd's loop thread waited for a CPU
// meanwhile (the kernel's schedstat, the machine's share, not agentd's) is
// taken off before the bound; a daemon that blocks or sleeps on the way
// still fails. The table prints pass/FAIL and the delay per cell.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const daemon = require('./lib/daemon');
const { threadSched } = require('./lib/sched');
const { api, until, startWithWorktree, commandAgent, pendingApprovals } = require('./lib/api');
const { claudeAgents } = require('./lib/agents');
const { start: startAnthropic, defaultRules: anthropicRules } = require('../fixtures/mock-anthropic');
const { CLAUDE_BIN, claudeMissingReason, makeSandbox, claudeEnv } = require('../fixtures/claude-run');
const { start: startOpenAI, defaultRules: openaiRules } = require('../fixtures/mock-openai');
const { start: startGemini, defaultRules: geminiRules } = require('../fixtures/mock-gemini');
const { CODEX_BIN, GEMINI_BIN, codexMissingReason, geminiMissingReason, makeSandbox: cliSandbox } = require('../fixtures/cli-run');

const FAKE = path.resolve(__dirname, '..', 'fixtures', 'fake-agent.js');
const ACP = path.resolve(__dirname, '..', 'fixtures', 'acp-agent.js');
const LID_MS = 30000; // a laptop lid closed for 30 s
const BOUND_MS = 1000; // from each cause to the status that says it (issue #33)
// A daemon's start is no cause: seven rows start fourteen ASan daemons and
// their CLIs at once, and on a loaded 2-core machine a first start (every
// migration) has taken over the harness's 30 s.
const START_MS = 120000;
// Nor is a client's request: with forty CLIs starting on two cores (load
// 26 seen) this file's own requests have waited over the daemon's 10 s
// header timeout to be written, and were dropped as slow clients.
const SLOW_OK = ['--header-timeout-ms', '120000'];
// How long a real CLI may take to reach its tool call on such a machine,
// and how long a status is waited for (its delay is what passes or fails).
const CLI_MS = 90000;
// Every mock API server the rows start, closed once the test ends: a
// setup that fails part-way (its daemon slow to start) never returns the
// cleanup that would, and a server left listening keeps this file's
// process, and make check, waiting for ever.
const mocks = [];
function kept(mock) {
  mocks.push(mock);
  return mock;
}
const BIN_DIR = path.join(__dirname, 'node_modules', '.bin');
const ADAPTER_MISSING = fs.existsSync(path.join(BIN_DIR, 'claude-code-acp')) ? null : 'claude-code-acp missing: run npm ci in tests/e2e';
const CODEX_ACP_MISSING = fs.existsSync(path.join(BIN_DIR, 'codex-acp')) ? null : 'codex-acp missing: run npm ci in tests/e2e';

// One row per executor. setup() gives a daemon with a way to make agents:
// {d, args (to restart it), make(mode) -> agent id, prompt(mode), cleanup};
// modes: 'work' (a turn under way), 'tool' (mid-tool: a tool runs, any
// approval it needed given), 'fail' (the CLI exits with an error), 'ask' (an
// approval pending). cases: those the executor takes (the rest are n/a);
// fail: the status reason a 'fail' agent ends with; allowed: the answer
// of an 'ask' agent once allowed; failedAt(): when the mock API answered
// the error (the cause cli-error is timed from).
const EXECUTORS = [
  {
    name: 'command',
    cases: ['kill-agent', 'kill-holder', 'kill-agentd', 'lid', 'cli-error', 'message-mid-turn'],
    async setup() {
      const args = [...SLOW_OK, '--stop-grace-ms', '300'];
      const { d, dir, wt } = await startWithWorktree({ args, timeout: START_MS });
      return {
        d, args,
        make: (mode) => commandAgent(d, wt, mode === 'fail' ? ['node', FAKE, 'exit', '7'] : ['node', FAKE, 'echo']),
        prompt: () => 'work on it',
        cleanup: async () => { await d.cleanup(); fs.rmSync(dir, { recursive: true, force: true }); },
      };
    },
  },
  {
    name: 'claude',
    skip: claudeMissingReason(),
    allowed: /^I wrote hello to out\.txt\.$/, // the answer to 'ask' once allowed
    cases: ['kill-agent', 'kill-holder', 'kill-agentd', 'lid', 'approval-restart', 'cli-error', 'message-mid-turn'],
    // the API refuses the request (a 400 the CLI does not retry): the turn
    // fails with the API's words, the process lives on
    fail: { code: 'turn_failed', text: /prompt is too long/i, said: /prompt is too long/i },
    async setup() {
      const mock = kept(await startAnthropic({
        rules: [{ match: 'too long for you', reply: { error: { status: 400, type: 'invalid_request_error', message: 'prompt is too long: 300000 tokens > 200000 maximum' } } }, ...anthropicRules()],
      }));
      const sb = makeSandbox();
      const args = [...SLOW_OK, '--claude-bin', CLAUDE_BIN, '--stop-grace-ms', '1000'];
      const d = await daemon.start({ needUrl: true, timeout: START_MS, args, keepDataDir: true });
      const make = await claudeAgents(d, sb, mock.url);
      return {
        d, args,
        make: async () => (await make()).id,
        prompt: (mode) => ({ work: 'think slowly', tool: 'sleep please', ask: 'please make a file', fail: 'too long for you' })[mode],
        failedAt: () => lastErrorAt(mock),
        // 'tool': the CLI runs `sleep 30` (a command it needs no approval for)
        async toolRunning(dd, id) {
          await until(async () => {
            const r = await api(dd, 'GET', `/api/agents/${id}/messages?limit=50`);
            return r.body.messages.some((m) => m.role === 'tool' && m.toolName === 'Bash');
          }, 'the Bash tool running', CLI_MS);
        },
        cleanup: async () => {
          await d.cleanup();
          fs.rmSync(d.dataDir, { recursive: true, force: true });
          await mock.close();
          sb.cleanup();
        },
      };
    },
  },
  {
    name: 'acp',
    // approval-restart: the new daemon answers with the options the agent
    // offered as the approval stored them (its parser never saw the request)
    cases: ['kill-agent', 'kill-holder', 'kill-agentd', 'lid', 'approval-restart', 'cli-error', 'message-mid-turn'],
    fail: { code: 'turn_failed', text: /ACP agent broke the protocol: not JSON/, said: /not JSON/ },
    allowed: /^outcome: selected allow-once$/,
    async setup() {
      const args = [...SLOW_OK, '--stop-grace-ms', '1000'];
      const { d, dir, wt } = await startWithWorktree({ args, timeout: START_MS });
      return {
        d, args,
        make: async () => (await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'acp', command: [process.execPath, ACP] })).body.id,
        prompt: (mode) => ({ work: 'slow', tool: 'slow', ask: 'edit a.txt', fail: 'malformed' })[mode],
        async toolRunning(dd, id) {
          await until(async () => (await api(dd, 'GET', `/api/agents/${id}/messages?limit=50`)).body.messages.some((m) => m.role === 'tool'), 'the tool running', CLI_MS);
        },
        cleanup: async () => { await d.cleanup(); fs.rmSync(dir, { recursive: true, force: true }); },
      };
    },
  },
  {
    // the real Codex CLI on `codex app-server` against the mock Responses API
    name: 'codex',
    skip: codexMissingReason(),
    cases: ['kill-agent', 'kill-holder', 'kill-agentd', 'lid', 'approval-restart', 'cli-error', 'message-mid-turn'],
    // the API fails the turn mid-stream (no retries): the app-server lives
    // on, the turn is failed with the API's words
    fail: { code: 'turn_failed', text: /server had an error/i, said: /server had an error/i },
    allowed: /^Asked\.$/,
    async setup() {
      const mock = kept(await codexMock());
      const sb = cliSandbox();
      const nodeModules = path.dirname(path.dirname(CODEX_BIN));
      const args = [...SLOW_OK, '--codex-bin', CODEX_BIN, '--stop-grace-ms', '1000', '--sandbox-paths', nodeModules];
      const { d, dir, wt } = await startWithWorktree({ args, timeout: START_MS });
      return {
        d, args,
        make: async (mode) => {
          const r = await api(d, 'POST', '/api/agents', { worktreeId: wt, executor: 'codex', ...codexAgent(mode, mock, { HOME: sb.home }) });
          assert.equal(r.status, 201, JSON.stringify(r.body));
          return r.body.id;
        },
        prompt: codexPrompt,
        failedAt: () => lastErrorAt(mock),
        async toolRunning(dd, id) {
          await toolRun(dd, id, mock, (m) => m.role === 'tool' && /sleep 30/.test(m.toolInput || ''));
        },
        cleanup: async () => {
          await d.cleanup();
          fs.rmSync(dir, { recursive: true, force: true });
          await mock.close();
          sb.cleanup();
        },
      };
    },
  },
  {
    // the real Gemini CLI in ACP mode (the "gemini" preset) against the mock
    // Gemini API
    name: 'gemini',
    skip: geminiMissingReason(),
    cases: ['kill-agent', 'kill-holder', 'kill-agentd', 'lid', 'approval-restart', 'cli-error', 'message-mid-turn'],
    // a request the API refuses (a 400 the CLI does not retry; a quota
    // would suspend the agent, issue #75): the prompt's answer is an error,
    // the process lives on
    fail: { code: 'turn_failed', text: /turn failed: .*invalid argument/i, said: /invalid argument/i },
    allowed: /^I ran the command\.$/,
    async setup() {
      const mock = kept(await startGemini({ rules: [{ match: 'fail the request', reply: { error: { status: 400, message: 'Request contains an invalid argument.' } } }, ...geminiRules()] }));
      const sb = cliSandbox();
      const args = [...SLOW_OK, '--gemini-bin', GEMINI_BIN, '--stop-grace-ms', '1000'];
      const { d, dir, wt } = await startWithWorktree({ args, timeout: START_MS });
      return {
        d, args,
        make: async (mode) => {
          const r = await api(d, 'POST', '/api/agents', {
            worktreeId: wt, executor: 'acp', acpAgent: 'gemini', mode: mode === 'ask' ? 'regular' : 'auto', baseUrl: mock.url,
            env: { GEMINI_API_KEY: 'dummy', HOME: sb.home }, allowUnsafeEnv: true,
          });
          assert.equal(r.status, 201, JSON.stringify(r.body));
          return r.body.id;
        },
        prompt: (mode) => ({ work: 'think slowly', tool: 'sleep please', ask: 'please run a command', fail: 'please fail the request' })[mode],
        failedAt: () => lastErrorAt(mock),
        async toolRunning(dd, id) {
          await toolRun(dd, id, mock, (m) => m.role === 'tool');
        },
        cleanup: async () => {
          await d.cleanup();
          fs.rmSync(dir, { recursive: true, force: true });
          await mock.close();
          sb.cleanup();
        },
      };
    },
  },
  {
    // Zed's Codex adapter (the "codex-acp" preset) against the mock
    // Responses API, as tests/e2e/acp-codex.test.js runs it
    name: 'codex-acp',
    skip: CODEX_ACP_MISSING,
    cases: ['kill-agent', 'kill-holder', 'kill-agentd', 'lid', 'approval-restart', 'cli-error', 'message-mid-turn'],
    // the API fails the turn mid-stream (no retries): the prompt's answer
    // is an error with the API's words, the adapter lives on
    fail: { code: 'turn_failed', text: /server had an error/i, said: /server had an error/i },
    allowed: /^Asked\.$/,
    async setup() {
      const mock = kept(await codexMock());
      const sb = cliSandbox();
      const args = [...SLOW_OK, '--stop-grace-ms', '1000', '--sandbox-paths', path.join(__dirname, 'node_modules')];
      const env = { PATH: `${BIN_DIR}:${process.env.PATH}` }; // the daemon finds the adapter
      const d = await daemon.start({ needUrl: true, timeout: START_MS, args, env, keepDataDir: true });
      const ws = await api(d, 'POST', '/api/workspaces', { path: sb.cwd });
      assert.equal(ws.status, 201, JSON.stringify(ws.body));
      return {
        d, args, env,
        make: async (mode) => {
          const r = await api(d, 'POST', '/api/agents', {
            worktreeId: ws.body.worktrees[0].id, executor: 'acp', acpAgent: 'codex-acp',
            ...codexAgent(mode, mock, { HOME: sb.home, CODEX_HOME: path.join(sb.home, '.codex') }),
          });
          assert.equal(r.status, 201, JSON.stringify(r.body));
          return r.body.id;
        },
        prompt: codexPrompt,
        failedAt: () => lastErrorAt(mock),
        async toolRunning(dd, id) {
          await toolRun(dd, id, mock, (m) => m.role === 'tool' && /sleep 30/.test(m.toolName || ''));
        },
        cleanup: async () => {
          await d.cleanup();
          fs.rmSync(d.dataDir, { recursive: true, force: true });
          await mock.close();
          sb.cleanup();
        },
      };
    },
  },
  {
    // Zed's Claude Code adapter (the "claude-code-acp" preset) running the
    // pinned Claude CLI against the mock Anthropic API
    name: 'claude-code-acp',
    skip: claudeMissingReason() || ADAPTER_MISSING,
    cases: ['kill-agent', 'kill-holder', 'kill-agentd', 'lid', 'approval-restart', 'cli-error', 'message-mid-turn'],
    fail: { code: 'turn_failed', text: /prompt is too long/i, said: /prompt is too long/i },
    allowed: /I wrote hello to out\.txt\./,
    async setup() {
      const mock = kept(await startAnthropic({
        rules: [{ match: 'too long for you', reply: { error: { status: 400, type: 'invalid_request_error', message: 'prompt is too long: 300000 tokens > 200000 maximum' } } }, ...anthropicRules()],
      }));
      const sb = makeSandbox();
      const args = [...SLOW_OK, '--stop-grace-ms', '1000'];
      const env = { PATH: `${BIN_DIR}:${process.env.PATH}` }; // the daemon finds the adapter
      const d = await daemon.start({ needUrl: true, timeout: START_MS, args, env, keepDataDir: true });
      const ws = await api(d, 'POST', '/api/workspaces', { path: sb.cwd });
      assert.equal(ws.status, 201, JSON.stringify(ws.body));
      const agentEnv = claudeEnv(mock.url, sb.home, { CLAUDE_CODE_EXECUTABLE: CLAUDE_BIN });
      delete agentEnv.PATH;
      return {
        d, args, env,
        make: async (mode) => {
          const r = await api(d, 'POST', '/api/agents', {
            worktreeId: ws.body.worktrees[0].id, executor: 'acp', acpAgent: 'claude-code-acp',
            mode: mode === 'ask' ? 'regular' : 'auto', env: agentEnv, allowUnsafeEnv: true,
          });
          assert.equal(r.status, 201, JSON.stringify(r.body));
          return r.body.id;
        },
        prompt: (mode) => ({ work: 'think slowly', tool: 'sleep please', ask: 'please make a file', fail: 'too long for you' })[mode],
        failedAt: () => lastErrorAt(mock),
        async toolRunning(dd, id) {
          await toolRun(dd, id, mock, (m) => m.role === 'tool');
        },
        cleanup: async () => {
          await d.cleanup();
          fs.rmSync(d.dataDir, { recursive: true, force: true });
          await mock.close();
          sb.cleanup();
        },
      };
    },
  },
];

// The mock Responses API of the Codex rows (codex, codex-acp): a command
// that needs approval ('ask'), then the default rules.
function codexMock() {
  return startOpenAI({
    rules: [
      { match: 'ask to write', reply: { tool: { command: 'echo asked > asked.txt' }, then: { text: 'Asked.' } } },
      // an API error that is not a rate limit (a rate limit suspends the agent, issue #75)
      { match: 'fail the turn', reply: { failed: { code: 'server_error', message: 'The server had an error while processing your request.' }, text: 'Partial' } },
      ...openaiRules(),
    ],
  });
}

// What a Codex row's agent is made with (mode 'ask' is regular, the rest
// auto), against mock, with env; no retries, so a failure is at once.
function codexAgent(mode, mock, env) {
  return {
    mode: mode === 'ask' ? 'regular' : 'auto', model: 'gpt-5.5', baseUrl: `${mock.url}/v1`,
    codexConfig: { 'model_providers.agentd.request_max_retries': 0, 'model_providers.agentd.stream_max_retries': 0 },
    env: { OPENAI_API_KEY: 'dummy', ...env }, allowUnsafeEnv: true,
  };
}

function codexPrompt(mode) {
  return { work: 'think slowly', tool: 'sleep please', ask: 'please ask to write', fail: 'please fail the turn' }[mode];
}

// Waits for the agent's tool to run (a message isTool takes); on a
// timeout says what the agent had and what the mock was asked (rows timed
// out so under a loaded make check, gemini's once and codex-acp's once,
// never alone).
async function toolRun(dd, id, mock, isTool) {
  try {
    await until(async () => (await api(dd, 'GET', `/api/agents/${id}/messages?limit=50`)).body.messages
      .some(isTool), 'the sleep command running', CLI_MS);
  } catch (e) {
    throw new Error(`${e.message}; ${await seenBy(dd, id, mock)}`);
  }
}

// What an agent that did not get where a case wanted had: its status and
// last messages, and the mock's requests (their paths and what each was
// answered), for a timeout's message.
async function seenBy(d, id, mock) {
  const a = (await api(d, 'GET', `/api/agents/${id}`)).body;
  const msgs = (await api(d, 'GET', `/api/agents/${id}/messages?limit=8`)).body.messages || [];
  const said = msgs.map((m) => `${m.role}: ${String(m.content || m.toolInput || '').slice(0, 80)}`);
  const asked = mock.requests.slice(-8).map((r) => `${r.path} -> ${JSON.stringify(r.reply || null).slice(0, 100)}`);
  return `agent ${a.status} (${JSON.stringify(a.statusReason || null).slice(0, 200)}); ` +
    `messages ${JSON.stringify(said)}; the mock's ${mock.requests.length} requests, the last ${JSON.stringify(asked)}`;
}

// The time a mock API last answered an error (a row's failedAt).
function lastErrorAt(mock) {
  const at = mock.requestsTo((r) => r.reply && (r.reply.error || r.reply.failed)).map((r) => r.at);
  assert.ok(at.length > 0, 'the mock answered an error');
  return Math.max(...at);
}

// The agent's first pending approval; when none comes, the error says
// where the agent was instead (its status, reason and last messages).
async function pendingApproval(d, id) {
  try {
    return (await pendingApprovals(d, id, 1, CLI_MS))[0];
  } catch (e) {
    const a = (await api(d, 'GET', `/api/agents/${id}`)).body;
    const m = ((await api(d, 'GET', `/api/agents/${id}/messages?limit=5`)).body.messages || []).map((x) => `${x.role}: ${String(x.content).slice(0, 200)}`);
    throw new Error(`${e.message}; the agent ${JSON.stringify({ status: a.status, statusReason: a.statusReason })}; its last messages ${JSON.stringify(m)}`);
  }
}

async function agentNow(d, id) {
  const g = await api(d, 'GET', `/api/agents/${id}`);
  assert.equal(g.status, 200, JSON.stringify(g.body));
  return g.body;
}

// Polls until the agent reads status with a reason of code (bounded); the
// agent and the delay from t0 (ms) to the change as the store dated it
// (waited for up to ms).
async function expectState(d, id, status, code, t0, what, ms = CLI_MS) {
  let last = null;
  const a = await until(async () => {
    last = await agentNow(d, id);
    return last.status === status && last.statusReason && last.statusReason.code === code
      ? last : null;
  }, `${what}: status ${status} (${code})`, ms).catch((e) => {
    throw new Error(`${e.message}; last ${JSON.stringify({ status: last && last.status, statusReason: last && last.statusReason })}`);
  });
  return { a, delay: Math.max(0, a.statusReason.at - t0) };
}

// A started agent of the row in mode; {id, pid}. A 'tool' agent is past
// its approval with the tool running.
async function started(ctx, mode = 'work') {
  const id = await ctx.make(mode);
  const s = await api(ctx.d, 'POST', `/api/agents/${id}/start`, { initialPrompt: ctx.prompt(mode) });
  assert.equal(s.status, 200, JSON.stringify(s.body));
  if (mode === 'tool' && ctx.toolRunning) await ctx.toolRunning(ctx.d, id);
  return { id, pid: s.body.pid };
}

// pid and its descendants (from /proc): a CLI whose launcher runs the real
// agent as a child (the Codex npm wrapper, the Gemini CLI's relaunch) is
// stopped whole, as a closed lid stops it.
function processTree(pid) {
  const kids = new Map();
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    let stat;
    try { stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8'); } catch { continue; }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!kids.has(ppid)) kids.set(ppid, []);
    kids.get(ppid).push(Number(e));
  }
  const all = [pid];
  for (let i = 0; i < all.length && all.length < 64; i++) all.push(...(kids.get(all[i]) || []));
  return all;
}

// How long the killed tree took to be gone, from t0 (ms): until each of its
// processes has exited (a zombie has closed its files, the output pipe
// with them). On a loaded machine a killed CLI's own exit (a Node heap
// unmapped) and its sandbox's took up to 2 s, all before agentd can see
// the output end: the kernel's share of the delay, as starved is the
// scheduler's. Polled every 5 ms, at most 10 s.
async function treeGone(tree, t0) {
  const alive = (p) => {
    try {
      const st = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      return st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3) !== 'Z';
    } catch { return false; }
  };
  while (tree.some(alive) && Date.now() - t0 < 10000) await new Promise((r) => setTimeout(r, 5));
  return Date.now() - t0;
}

// The row's restart, once for both cases that need one: a daemon of its
// own with a 'tool' agent (kill-agentd) and an 'ask' agent whose approval
// waits (approval-restart), killed with -9 and started again. Resolves to
// {d2, listening, first, tool, runId, ask, ap, done} (restarted());
// done() is called by each case
// that used it, and the last one stops the daemon.
function restartOnce(ctx) {
  if (ctx.restart) return ctx.restart;
  const wants = ['kill-agentd', 'approval-restart'].filter((c) => ctx.ex.cases.includes(c) && ctx.runs(c));
  ctx.restart = (async () => {
    const own = { ...(await ctx.ex.setup()), ex: ctx.ex };
    let users = wants.length;
    const r = {};
    r.done = async () => {
      if (--users > 0) return;
      if (r.d2) await r.d2.stop();
      await own.cleanup();
    };
    try {
      const [tool, ask] = await Promise.all([
        wants.includes('kill-agentd') ? started(own, 'tool') : null,
        wants.includes('approval-restart') ? started(own, 'ask') : null,
      ]);
      if (tool) {
        r.tool = tool.id;
        r.runId = await runIdOf(own.d, tool.id);
      }
      if (ask) {
        r.ask = ask.id;
        r.ap = await pendingApproval(own.d, ask.id);
        await expectState(own.d, ask.id, 'waiting', 'approval_requested', Date.now(), 'the approval asked');
      }
      await own.d.stop('SIGKILL');
      ({ d: r.d2, listening: r.listening, first: r.first } = await restarted(own, r));
      return r;
    } catch (e) {
      users = 1;
      await r.done();
      throw e;
    }
  })();
  return ctx.restart;
}

// A new daemon on own's data dir (the old one killed): {d, listening,
// first}. listening: when it listened, on its own clock (its "started" log
// line, written once what the start wrote is committed); first: the very
// first answers after it listens, the tool agent's status history and the
// ask agent's row, which must already read right (nothing polled).
async function restarted(own, ids) {
  const t0 = Date.now();
  const d = await daemon.start({ needUrl: true, timeout: START_MS, dataDir: own.d.dataDir, args: own.args, env: own.env });
  const first = {};
  if (ids.tool) first.tool = (await api(d, 'GET', `/api/agents/${ids.tool}/status-history`)).body;
  if (ids.ask) first.ask = await agentNow(d, ids.ask);
  const ready = Date.now();
  const line = await until(() => /^ts=(\S+) .*sub=main msg="started"/m.exec(d.stderr), 'its "started" line');
  const listening = Date.parse(line[1]);
  if (process.env.DBG) {
    const reasons = [first.tool && first.tool.entries[0], first.ask && first.ask.statusReason].filter(Boolean);
    console.log(`restart ${own.ex.name}: listening after ${listening - t0} ms, first answers ${ready - t0} ms, ` +
      `their reasons ${reasons.map((x) => `${x.code} set ${x.at - listening} ms after it listened`).join(', ')}`);
  }
  return { d, listening, first };
}

function holderPid(dataDir, runId) {
  return Number(fs.readFileSync(path.join(dataDir, 'hold', runId, 'info'), 'utf8').split(' ')[0]);
}

async function runIdOf(d, id) {
  return (await api(d, 'GET', `/api/agents/${id}/runs`)).body.runs[0].id;
}

// The daemon's loop thread (its main thread) as the kernel counts it
// (lib/sched.js).
function loopSched(d) {
  return threadSched(d.proc.pid);
}

// How long the loop waited for a CPU between two loopSched() readings (ms).
function starvedMs(before, after) {
  return before && after ? Math.round(after.wait - before.wait) : 0;
}

// The time the agent's side was busy (running or waiting for a CPU, from
// the kernel's schedstat of every thread of pid and its descendants) and
// agentd's loop waited for a CPU, sampled every 25 ms from now until
// stop(). between(a, b): both, in ms, over the samples inside [a, b] (the
// inner ones: it never counts more than happened in that span), the agent's
// busy time at most the span itself. A CLI that writes two lines 1.5 s apart
// on a loaded machine because it waited for a CPU is not agentd being slow;
// an agentd that sat on a line the CLI had written long before still is
// (the CLI idle meanwhile).
function busySampler(d, pid) {
  const samples = []; // {t, busy, wait}
  let tree = [];
  const busyOf = (p) => {
    let sum = 0;
    let tids = [];
    try { tids = fs.readdirSync(`/proc/${p}/task`); } catch { return 0; }
    for (const t of tids) {
      const st = threadSched(p, t);
      if (st) sum += st.cpu + st.wait;
    }
    return sum;
  };
  const tick = () => {
    if (samples.length % 8 === 0) tree = processTree(pid);
    const l = loopSched(d);
    samples.push({ t: Date.now(), busy: tree.map(busyOf), tree: tree.slice(), wait: l ? l.wait : 0 });
  };
  tick();
  const timer = setInterval(tick, 25);
  return {
    stop: () => clearInterval(timer),
    between(a, b) {
      const inner = samples.filter((s) => s.t >= a && s.t <= b);
      let cli = 0;
      for (let i = 1; i < inner.length; i++) {
        const [x, y] = [inner[i - 1], inner[i]];
        // per process seen in both samples (a process that ended or began
        // between them adds nothing)
        let dbusy = 0;
        y.tree.forEach((p, j) => {
          const k = x.tree.indexOf(p);
          if (k >= 0) dbusy += Math.max(0, y.busy[j] - x.busy[k]);
        });
        cli += Math.min(y.t - x.t, dbusy);
      }
      const loop = inner.length > 1 ? inner.at(-1).wait - inner[0].wait : 0;
      return { cli: Math.round(cli), loop: Math.round(Math.max(0, loop)) };
    },
  };
}

// DBG: what each of agentd's threads was in (state and system call, from
// /proc) every 10 ms until stop(), which says how often each was seen.
function sampleThreads(d) {
  const seen = new Map();
  const tick = () => {
    let tids = [];
    try { tids = fs.readdirSync(`/proc/${d.proc.pid}/task`); } catch { return; }
    for (const t of tids) {
      try {
        const base = `/proc/${d.proc.pid}/task/${t}`;
        const comm = fs.readFileSync(`${base}/comm`, 'utf8').trim();
        const stat = fs.readFileSync(`${base}/stat`, 'utf8');
        const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
        const sc = fs.readFileSync(`${base}/syscall`, 'utf8').split(' ')[0];
        const wchan = fs.readFileSync(`${base}/wchan`, 'utf8').trim();
        const k = `${t === String(d.proc.pid) ? 'loop' : comm}:${state}:${sc}:${wchan}`;
        seen.set(k, (seen.get(k) || 0) + 1);
      } catch { /* gone */ }
    }
  };
  const timer = setInterval(tick, 10);
  return {
    stop() {
      clearInterval(timer);
      return [...seen.entries()].sort((x, y) => y[1] - x[1]).map(([k, n]) => `${k} x${n}`).join(', ');
    },
  };
}

// The stored time (ms) of the agent's message id.
async function messageAt(d, id, msgId) {
  const m = (await api(d, 'GET', `/api/agents/${id}/messages?limit=200`)).body.messages.find((x) => x.id === msgId);
  assert.ok(m, `message ${msgId} stored`);
  return Date.parse(m.createdAt);
}

// Each case: (ctx) -> {delay, starved?, clock}, ctx the row's setup() with
// ex, the row. delay: from the cause to the stored change (ms); clock:
// 'daemon' when both ends are times agentd itself recorded, 'test' when
// the cause is the test's own act (a signal it sent), dated by the test
// (the same machine clock); starved: for 'test', how long agentd's loop
// waited for a CPU meanwhile (the machine's share of the delay, not
// agentd's); teardown: for a kill, how long the killed processes took to
// be gone (the kernel's share). The bound: delay - max(starved, teardown)
// <= BOUND_MS.
const CASES = {
  // The cause is the test's kill: nothing in agentd dates it.
  'kill-agent': async (ctx) => {
    const { d } = ctx;
    const { id, pid } = await started(ctx, 'tool');
    const tree = processTree(pid);
    const s0 = loopSched(d);
    const t0 = Date.now();
    process.kill(pid, 'SIGKILL');
    const gone = treeGone(tree, t0);
    const { a, delay } = await expectState(d, id, 'error', 'killed', t0, 'kill -9 of the agent');
    assert.match(a.statusReason.text, /process exited 137 \(SIGKILL\)/);
    assert.match(a.statusReason.ref, /^run_/);
    return { delay, starved: starvedMs(s0, loopSched(d)), teardown: await gone, clock: 'test' };
  },
  'kill-holder': async (ctx) => {
    const { d } = ctx;
    const { id } = await started(ctx, 'tool');
    const runId = await runIdOf(d, id);
    const s0 = loopSched(d);
    const t0 = Date.now();
    process.kill(holderPid(d.dataDir, runId), 'SIGKILL');
    const { a, delay } = await expectState(d, id, 'error', 'lost', t0, 'kill -9 of the holder');
    assert.equal(a.statusReason.ref, runId);
    return { delay, starved: starvedMs(s0, loopSched(d)), clock: 'test' };
  },
  // kill-agentd and approval-restart share one daemon of the row's own,
  // killed and restarted once (restartOnce): a 'tool' agent mid-tool and
  // an 'ask' agent whose approval waits. The restarted daemon's very first
  // answer must read right: the re-attach is stored before it listens, so
  // the delay is the reason's time past its listening (0 when before).
  'kill-agentd': async (ctx) => {
    const r = await restartOnce(ctx);
    try {
      const { d2, listening, first, tool: id, runId } = r;
      // reattached, or past it when the turn ended while no agentd ran
      // (what the holder kept is read after the re-attach)
      const back = first.tool.entries.find((e) => e.code === 'reattached');
      assert.ok(back, `the first answer after the restart: ${JSON.stringify(first.tool.entries.slice(0, 3))}`);
      assert.equal(back.ref, runId);
      assert.ok(['running', 'waiting'].includes(back.status), JSON.stringify(back)); // the status it had
      assert.ok(first.tool.entries.some((e) => e.code === 'run_started'), JSON.stringify(first.tool.entries));
      const a = await agentNow(d2, id);
      assert.ok(['running', 'waiting'].includes(a.status), JSON.stringify(a.statusReason));
      await api(d2, 'POST', `/api/agents/${id}/stop?wait=true`);
      return { delay: Math.max(0, back.at - listening), clock: 'daemon' };
    } finally {
      await r.done();
    }
  },
  // An approval pending when agentd is killed is pending after the
  // restart, the agent still waits for you, and the answer reaches it.
  'approval-restart': async (ctx) => {
    const r = await restartOnce(ctx);
    try {
      const { d2, listening, first, ask: id, ap } = r;
      const a = first.ask;
      assert.deepEqual({ status: a.status, code: a.statusReason && a.statusReason.code }, { status: 'waiting', code: 'reattached' },
        `the first answer after the restart: ${JSON.stringify(a.statusReason)}`);
      assert.match(a.statusReason.text, /re-attached/);
      assert.equal((await pendingApproval(d2, id)).id, ap.id);
      const ok = await api(d2, 'POST', `/api/approvals/${ap.id}`, { decision: 'allow' });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      // running on the answer (in the history: a quick agent is past it)
      await until(async () => (await api(d2, 'GET', `/api/agents/${id}/status-history`)).body.entries
        .some((e) => e.status === 'running' && e.code === 'approval_answered' && e.ref === ap.id), 'running on the answer', CLI_MS);
      // the answer reached the agent: its turn went on past the tool
      await until(async () => (await api(d2, 'GET', `/api/agents/${id}/messages?limit=50`)).body.messages
        .some((m) => m.role === 'assistant' && ctx.ex.allowed.test(m.content)), 'the turn after the answer', CLI_MS);
      await api(d2, 'POST', `/api/agents/${id}/stop?wait=true`);
      return { delay: Math.max(0, a.statusReason.at - listening), clock: 'daemon' };
    } finally {
      await r.done();
    }
  },
  // A stopped process keeps its status (docs/executors.md, the state
  // model): the turn goes on where it was when the process continues.
  lid: async (ctx) => {
    const { d } = ctx;
    const { id, pid } = await started(ctx, 'work');
    const before = (await expectState(d, id, 'running', 'run_started', Date.now(), 'started')).a;
    // a child of the agent's (an adapter's short-lived helper) may end
    // between the listing and the signal: ESRCH is that, nothing else
    const signal = (p, sig) => {
      try { process.kill(p, sig); } catch (e) { if (e.code !== 'ESRCH') throw e; }
    };
    const tree = processTree(pid);
    for (const p of tree) signal(p, 'SIGSTOP');
    try {
      await new Promise((r) => setTimeout(r, LID_MS));
      const during = await agentNow(d, id);
      assert.equal(during.status, 'running');
      assert.deepEqual(during.statusReason, before.statusReason);
    } finally {
      for (const p of tree) signal(p, 'SIGCONT');
    }
    const sent = await api(d, 'POST', `/api/agents/${id}/message`, { content: 'after the lid' });
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    // read from the history: a fast agent's turn may already be over (waiting)
    // by the time the agent itself is read
    const e = await until(async () => (await api(d, 'GET', `/api/agents/${id}/status-history`)).body.entries
      .find((x) => x.status === 'running' && x.code === 'message_sent' && x.ref === sent.body.messageId),
    'after SIGCONT: running (message_sent) in the status history', CLI_MS);
    // from the message as agentd stored it
    const delay = Math.max(0, e.at - await messageAt(d, id, sent.body.messageId));
    await api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
    return { delay, clock: 'daemon' };
  },
  // The cause: the CLI's words about its failure, as agentd stored them
  // (a message's createdAt); where it said nothing agentd kept, the mock
  // API's error answer (the test's clock).
  'cli-error': async (ctx) => {
    const { d } = ctx;
    const fail = ctx.ex.fail || { code: 'exited', text: /process exited 7/, said: /exiting 7/ };
    const s0 = loopSched(d);
    const t0 = Date.now();
    const { id, pid } = await started(ctx, 'fail');
    const busy = busySampler(d, pid);
    // (bounded wider: a CLI starts up first, slow on a busy machine)
    const { a } = await expectState(d, id, 'error', fail.code, t0, 'the CLI failing', CLI_MS)
      .finally(() => busy.stop());
    assert.match(a.statusReason.text, fail.text);
    const said = (await api(d, 'GET', `/api/agents/${id}/messages?limit=50`)).body.messages
      .filter((m) => m.role !== 'user' && fail.said.test(m.content)).map((m) => Date.parse(m.createdAt));
    const h = await api(d, 'GET', `/api/agents/${id}/status-history?limit=5`);
    assert.equal(h.status, 200);
    assert.deepEqual(h.body.entries[0], { ...h.body.entries[0], status: 'error', code: fail.code });
    assert.deepEqual(h.body.entries.at(-1), { ...h.body.entries.at(-1), status: 'running', code: 'run_started' });
    if (process.env.DBG) {
      console.log(`cli-error ${ctx.ex.name}: the status ${a.statusReason.at - t0} ms after the start, its words ` +
        `${said.map((x) => x - t0).join(', ') || 'none'}, the API's error ${ctx.failedAt ? ctx.failedAt() - t0 : '-'}`);
    }
    // timed to the first status that said error: an ACP agent that broke
    // the protocol reads error (protocol_error) at once, and turn_failed
    // once its process has gone, which a loaded machine delays past 1 s
    const firstError = h.body.entries.filter((e) => e.status === 'error').at(-1);
    const at = Math.min(a.statusReason.at, firstError ? firstError.at : Infinity);
    if (said.length > 0) {
      // from the CLI's words to the status that follows its next line (the
      // turn's result): the time the CLI was busy in between is its own
      const from = Math.max(...said);
      const b = busy.between(from, at);
      if (process.env.DBG) {
        const all = busy.between(t0, at);
        console.log(`cli-error ${ctx.ex.name}: ${at - from} ms, the CLI busy ${b.cli} ms, agentd's loop waited ` +
          `${b.loop} ms (from the start: ${at - t0} ms, the CLI busy ${all.cli} ms)`);
      }
      return { delay: Math.max(0, at - from), starved: b.loop, cliBusy: b.cli, clock: 'daemon' };
    }
    const cause = ctx.failedAt ? ctx.failedAt() : t0;
    return { delay: Math.max(0, a.statusReason.at - cause), starved: starvedMs(s0, loopSched(d)), clock: 'test' };
  },
  // The cause: the message as agentd stored it (its createdAt); the status
  // is set as agentd takes the message, not on the agent's answer (a Codex
  // steer's, an ACP prompt's).
  'message-mid-turn': async (ctx) => {
    const { d } = ctx;
    const { id } = await started(ctx, 'work');
    const s0 = loopSched(d);
    const t0 = Date.now();
    const probe = process.env.DBG ? sampleThreads(d) : null;
    const sent = await api(d, 'POST', `/api/agents/${id}/message`, { content: 'mid-turn' });
    const t1 = Date.now();
    const s1 = loopSched(d);
    if (probe) console.log(`mid-turn ${ctx.ex.name}: agentd's threads while the POST was out: ${probe.stop()}`);
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    const { a } = await expectState(d, id, 'running', 'message_sent', t0, 'a message mid-turn');
    assert.equal(a.statusReason.ref, sent.body.messageId);
    const at = await messageAt(d, id, sent.body.messageId);
    if (process.env.DBG) {
      console.log(`mid-turn ${ctx.ex.name}: answered ${t1 - t0} ms, stored ${at - t0} ms and the status set ` +
        `${a.statusReason.at - t0} ms after the POST; meanwhile agentd's loop ran ${s0 && s1 ? Math.round(s1.cpu - s0.cpu) : '?'} ms ` +
        `and waited for a CPU ${starvedMs(s0, s1)} ms`);
    }
    await api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
    return { delay: Math.max(0, a.statusReason.at - at), clock: 'daemon' };
  },
};

test('state fault injection: every executor x case reads the right status and reason', { timeout: 300000 }, async () => {
  const results = {}; // case -> executor -> {ok, delay, starved, clock, error}
  // STATE_FAULTS_ONLY=acp,codex-acp runs those rows only (while working on one)
  const only = (process.env.STATE_FAULTS_ONLY || '').split(',').filter(Boolean);
  const live = EXECUTORS.filter((ex) => !ex.skip && (only.length === 0 || only.includes(ex.name)));
  // and STATE_FAULTS_CASES=kill-agentd,lid those cases only
  const cases = (process.env.STATE_FAULTS_CASES || '').split(',').filter(Boolean);
  // every executor at once, each case of it at once: the 30 s lid is paid once
  try {
    await Promise.all(live.map(async (ex) => {
      const ctx = { ...(await ex.setup()), ex };
      try {
        ctx.runs = (c) => cases.length === 0 || cases.includes(c);
        await Promise.all(ex.cases.filter(ctx.runs).map((name) => {
          (results[name] = results[name] || {})[ex.name] = { ok: false };
          return CASES[name](ctx).then(
            ({ delay, starved = 0, cliBusy = 0, teardown = 0, clock }) => {
              // within the bound once the machine's share (and the CLI's
              // own time, where it wrote the cause and the line acted on
              // apart) is taken out; the loop's wait and a killed tree's
              // teardown both run from the kill, so the longer counts
              const machine = Math.max(starved, teardown);
              const ok = delay - machine - cliBusy <= BOUND_MS;
              results[name][ex.name] = {
                ok, delay, starved, teardown, cliBusy, clock,
                error: ok ? undefined : `${delay} ms from the cause to the status (${clock}'s clock; agentd's loop waited ${starved} ms for a CPU, the killed processes took ${teardown} ms to be gone, the CLI was busy ${cliBusy} ms): over ${BOUND_MS} ms`,
              };
            },
            (e) => { results[name][ex.name] = { ok: false, error: e.message }; });
        }));
      } finally {
        await ctx.cleanup();
      }
    }));
  } finally {
    for (const m of mocks) await m.close();
  }
  const names = EXECUTORS.map((e) => e.name);
  const rows = [['case', ...names]];
  for (const c of Object.keys(CASES)) {
    rows.push([c, ...names.map((n) => {
      const r = results[c] && results[c][n];
      const ex = EXECUTORS.find((e) => e.name === n);
      if (!r) return ex.skip ? 'skipped' : !ex.cases.includes(c) ? 'n/a' : 'not run';
      if (r.delay === undefined) return 'FAIL';
      const starved = r.starved > 0 ? ` (-${r.starved})` : '';
      const tree = r.teardown > 0 ? ` (-${r.teardown} tree)` : '';
      const cli = r.cliBusy > 0 ? ` (-${r.cliBusy} cli)` : '';
      return `${r.ok ? 'pass' : 'FAIL'} ${r.delay} ms${starved}${tree}${cli}${r.clock === 'test' ? '*' : ''}`;
    })]);
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const table = rows.map((r) => r.map((x, i) => x.padEnd(w[i])).join(' | ')).join('\n');
  console.log(`state faults (delay: cause to the stored change, on agentd's clock; * the test's, ` +
    `(-N) N ms agentd's loop waited for a CPU, (-N tree) N ms a killed agent's processes took to be gone, ` +
    `(-N cli) N ms the CLI was busy between its words and the line ` +
    `acted on; the bound: ${BOUND_MS} ms less the longer of the first two and the third)\n${table}`);
  const failed = [];
  for (const c of Object.keys(results)) {
    for (const n of Object.keys(results[c])) {
      if (!results[c][n].ok) failed.push(`${c} x ${n}: ${results[c][n].error}`);
    }
  }
  assert.deepEqual(failed, []);
});
