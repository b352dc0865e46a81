// SPDX-License-Identifier: MIT
// Agents get their organisation's stored API key when their environment
// names none (issue #18): a claude agent ANTHROPIC_API_KEY, a codex agent
// OPENAI_API_KEY; a key the agent sets itself wins; the key is in no row,
// event or log line. The "CLIs" here are scripts that write what they got.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startApi, makeWorkspace, makeAgent, until } = require('./lib/api');

const ANT = 'sk-ant-stored-key-0123456789abcdef';
const OAI = 'sk-openai-stored-key-0123456789abcd';

function fakeCli(dir, name, variable) {
  const p = path.join(dir, name);
  fs.writeFileSync(p, `#!/bin/sh\nprintf '%s' "$${variable}" > "${name}-key.txt"\nexit 0\n`, { mode: 0o755 });
  return p;
}

test('agents get the stored key when their environment names none, never where it could leak', async () => {
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'agentd-keys-'));
  const d = await startApi({ args: ['--claude-bin', fakeCli(bin, 'claude', 'ANTHROPIC_API_KEY'), '--codex-bin', fakeCli(bin, 'codex', 'OPENAI_API_KEY')] });
  try {
    assert.equal((await d.req('PUT', '/api/credentials/anthropic', { apiKey: ANT })).status, 200);
    assert.equal((await d.req('PUT', '/api/credentials/openai', { apiKey: OAI })).status, 200);
    const { wt, dir } = await makeWorkspace(d);
    const read = (name) => until(() => fs.existsSync(path.join(dir, name)) && fs.readFileSync(path.join(dir, name), 'utf8'), name);

    const claude = await makeAgent(d, wt.id, { executor: 'claude' });
    assert.equal((await d.req('POST', `/api/agents/${claude.id}/start`, { initialPrompt: 'hi' })).status, 200);
    assert.equal(await read('claude-key.txt'), ANT);

    const codex = await makeAgent(d, wt.id, { executor: 'codex' });
    assert.equal((await d.req('POST', `/api/agents/${codex.id}/start`, { initialPrompt: 'hi' })).status, 200);
    assert.equal(await read('codex-key.txt'), OAI);

    // a key the agent names itself wins
    fs.rmSync(path.join(dir, 'claude-key.txt'));
    const own = await makeAgent(d, wt.id, { executor: 'claude', env: { ANTHROPIC_API_KEY: 'sk-ant-my-own' } });
    await until(async () => (await d.req('GET', `/api/agents/${claude.id}`)).body.status !== 'running', 'the first run to end');
    assert.equal((await d.req('POST', `/api/agents/${own.id}/start`, { initialPrompt: 'hi' })).status, 200);
    assert.equal(await read('claude-key.txt'), 'sk-ant-my-own');

    // nowhere else: rows, events, the log
    for (const id of [claude.id, codex.id]) {
      const a = await d.req('GET', `/api/agents/${id}`);
      const runs = await d.req('GET', `/api/agents/${id}/runs`);
      assert.ok(!JSON.stringify([a.body, runs.body]).includes(ANT) && !JSON.stringify([a.body, runs.body]).includes(OAI));
    }
    await d.stop();
    for (const f of fs.readdirSync(d.dataDir)) {
      const p = path.join(d.dataDir, f);
      if (!fs.statSync(p).isFile()) continue;
      const text = fs.readFileSync(p).toString('latin1');
      assert.ok(!text.includes(ANT) && !text.includes(OAI), `a key in ${f}`);
    }
    assert.ok(!d.stderr.includes(ANT) && !d.stderr.includes(OAI), 'a key in the log');
  } finally {
    await d.cleanup();
    fs.rmSync(bin, { recursive: true, force: true });
  }
});
