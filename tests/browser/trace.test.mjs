// SPDX-License-Identifier: MIT
// A run's trace as a waterfall on its agent's page (issue #36): a program run
// by agentd sends its own spans to agentd's OTLP receiver (where and how its
// environment says: TRACEPARENT, OTEL_EXPORTER_OTLP_ENDPOINT, the run's
// credential), and prints a tool call agentd makes a span of; the Runs tab's
// Trace shows the run's span with agentd's tool span and the program's spans
// nested under it, each bar inside its parent's on the run's time line.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, capabilities, makeRepo, shot, until } from './lib/harness.mjs';
import { session, waitText } from './lib/session.mjs';

let d;
let caps;
let b;
session((s) => ({ d, b } = s), { launchIf: async (x) => (caps = await capabilities(x.url)).store });

async function ok(method, p, body) {
  const r = await api(d.url, method, p, body);
  assert.ok(r.status >= 200 && r.status < 300, `${method} ${p}: ${r.status} ${JSON.stringify(r.data)}`);
  return r.data;
}

// An instrumented program: two spans of its own under the run's span, sent as
// OTLP/HTTP JSON where its environment says, and a tool call on stdout.
const PROGRAM = `
const e = process.env;
const [, trace, parent] = e.TRACEPARENT.split('-');
const [hk, hv] = e.OTEL_EXPORTER_OTLP_HEADERS.split('=');
const ns = (ms) => String(ms) + '000000';
const t = Date.now();
const id = (c) => c.repeat(16);
const span = (spanId, parentSpanId, name, a, z) => ({ traceId: trace, spanId, parentSpanId, name, kind: 1,
  startTimeUnixNano: ns(t + a), endTimeUnixNano: ns(t + z), attributes: [{ key: 'step', value: { intValue: '1' } }] });
console.log(JSON.stringify({ type: 'tool_start', toolId: 't1', name: 'grep' }));
console.log(JSON.stringify({ type: 'tool_end', toolId: 't1', status: 'success', durationMs: 40 }));
fetch(e.OTEL_EXPORTER_OTLP_ENDPOINT + '/v1/traces', { method: 'POST', headers: { 'content-type': 'application/json', [hk]: hv },
  body: JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'trainer' } }] },
    scopeSpans: [{ spans: [span(id('a'), parent, 'train epoch', 0, 300), span(id('b'), id('a'), 'forward pass', 50, 150)] }] }] }) })
  .then((r) => { console.log('otlp ' + r.status); setTimeout(() => process.exit(0), 400); });
`;

test("the Runs tab shows a run's trace as a waterfall, the program's spans nested under the run", async (t) => {
  if (!caps.store) return t.skip('the store REST routes are not in this build');
  const { page } = b;
  const repo = makeRepo();
  const ws = await ok('POST', '/api/workspaces', { path: repo, name: 'traced' });
  const made = await ok('POST', '/api/agents', { worktreeId: ws.worktrees[0].id, name: 'Tracer', executor: 'command', command: [process.execPath, '-e', PROGRAM] });
  const agentId = (made.agent || made).id;
  const started = await ok('POST', `/api/agents/${agentId}/start`, {});
  const runId = started.runId;
  await until(async () => (await api(d.url, 'GET', `/api/runs/${runId}`)).data.status === 'succeeded', 'the run to end');
  const msgs = (await api(d.url, 'GET', `/api/agents/${agentId}/messages?limit=50`)).data.messages;
  assert.ok(msgs.some((m) => /otlp 200/.test(m.content)), JSON.stringify(msgs.map((m) => m.content)));

  await page.goto(`${d.url}/#/agents/${agentId}`);
  await page.getByRole('tab', { name: 'Runs' }).click();
  await page.getByRole('button', { name: 'Trace', exact: true }).click();
  const fall = page.getByRole('region', { name: `Trace of ${runId}` });
  await waitText(fall, /forward pass/, 'the program\'s spans in the waterfall');
  const row = (name) => fall.locator('.waterfall-row', { hasText: name });
  assert.equal(await row('invoke_agent').getAttribute('data-depth'), '0');
  assert.equal(await row('execute_tool grep').getAttribute('data-depth'), '1');
  assert.equal(await row('train epoch').getAttribute('data-depth'), '1');
  assert.equal(await row('forward pass').getAttribute('data-depth'), '2');
  assert.match(await row('train epoch').innerText(), /trainer/);
  // each bar inside its parent's, on one time line
  const box = async (name) => row(name).locator('.waterfall-bar').boundingBox();
  const [root, epoch, fwd] = [await box('invoke_agent'), await box('train epoch'), await box('forward pass')];
  assert.ok(epoch.width > 0 && fwd.width > 0, JSON.stringify({ epoch, fwd }));
  assert.ok(epoch.x >= root.x - 1 && epoch.x + epoch.width <= root.x + root.width + 1, JSON.stringify({ root, epoch }));
  assert.ok(fwd.x >= epoch.x - 1 && fwd.x + fwd.width <= epoch.x + epoch.width + 1, JSON.stringify({ epoch, fwd }));
  assert.ok(fwd.width < epoch.width);
  await shot(page, 'run-trace-waterfall');
  // Trace again closes it
  await page.getByRole('button', { name: 'Trace', exact: true }).click();
  await fall.waitFor({ state: 'detached' });
});
