// SPDX-License-Identifier: MIT
// Runs the browser test files against one Chromium for the whole suite:
//   node tests/browser/lib/run.mjs [node --test options] FILE...
// It launches Chromium once (playwright-core's browser server), hands its
// address to the files in AGENTD_TEST_BROWSER_WS, runs `node --test` with
// the arguments given, stops Chromium and exits with the runner's status.
// Each file still gets a fresh browser context of its own (launch() in
// harness.mjs: cookies, storage and service workers are the context's), so
// files stay apart; what they share is Chromium's start-up, about 1.5-3 s a
// file. A file run by hand, without this runner, launches its own Chromium.
import { spawn } from 'node:child_process';
import { chromiumServer } from './harness.mjs';

const server = await chromiumServer();
const child = spawn(process.execPath, ['--test', ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, AGENTD_TEST_BROWSER_WS: server.wsEndpoint() },
});
const stop = (sig) => child.kill(sig);
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
const code = await new Promise((resolve) => child.on('exit', (c, sig) => resolve(sig ? 1 : c)));
await server.close().catch(() => undefined);
process.exit(code);
