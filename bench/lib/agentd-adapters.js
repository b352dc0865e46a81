// SPDX-License-Identifier: MIT
// How the benchmarks drive agentd features that have no peer equivalent:
// publishing events for fan-out (W2, R1) and running an agent whose stdout
// lines reach WebSocket subscribers (W4). Each probe starts the binary once,
// checks that an event really arrives on /ws, and throws a one-line reason
// when this build lacks the feature.
'use strict';

const fs = require('node:fs');
const { wsConnect } = require('./wire');

const subscribeMsg = (topic) => JSON.stringify({ type: 'subscribe', payload: { topics: [topic] } });

// Opens a /ws subscriber on topic, runs act(), and resolves true when a data
// frame containing `needle` arrives within 3 s.
async function arrives(h, topic, needle, act) {
  let got = false;
  const c = await wsConnect({ port: h.port, path: '/ws', timeoutMs: 3000,
    onMessage: (buf) => { if (buf.toString('latin1').includes(needle)) got = true; } });
  try {
    c.send(subscribeMsg(topic));
    await new Promise((r) => setTimeout(r, 100));
    await act();
    const end = Date.now() + 3000;
    while (!got && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    return got;
  } finally { c.close(); }
}

async function withAgentd(agentd, bin, fn) {
  const h = await agentd.start({ bin });
  try { return await fn(h); } finally { await h.stop(); }
}

// Ways to publish one message to N subscribers of a topic, best first:
//  - "test": POST /test/publish on build/bench (release code plus the
//    test-only routes): an in-memory publish like the peers' relay;
//  - "rest": POST /api/agents/:id/messages on the release binary: every
//    publish is also a persisted write (message row, event row).
// Returns [{key, label, bin, prepare(h) -> {sub, pub}}]; throws if none works.
async function probePublish(agentd) {
  const variants = [];
  const why = [];
  if (fs.existsSync(agentd.BENCH_BIN)) {
    try {
      const body = (d) => JSON.stringify({ topics: ['bench'], type: 'bench', payload: { d } });
      const ok = await withAgentd(agentd, agentd.BENCH_BIN, (h) => arrives(h, 'bench', 'probe-123', async () => {
        const r = await agentd.request(h.port, 'POST', '/test/publish', JSON.parse(body('probe-123')));
        if (r.status >= 300) throw new Error(`POST /test/publish answered ${r.status}`);
      }));
      if (!ok) throw new Error('/test/publish event did not reach a /ws subscriber');
      variants.push({
        // The publisher sends its messages on a WebSocket, as it does to the
        // Node ws and Bun peers (and as PUBLISH does to Redis).
        key: 'agentd', label: 'in-memory publish over a WebSocket (/test/ws-publish, build/bench)', bin: agentd.BENCH_BIN,
        prepare: async (h) => ({
          sub: { kind: 'ws', port: h.port, path: '/ws', subscribe: subscribeMsg('bench') },
          pub: { kind: 'ws', port: h.port, path: '/test/ws-publish?topic=bench' },
        }),
      });
    } catch (e) { why.push(`test publish: ${e.message}`); }
  }
  try {
    const ok = await withAgentd(agentd, agentd.BIN, async (h) => {
      const ids = await agentd.seedAgent(h);
      return arrives(h, `agent:${ids.agentId}`, 'probe-456', async () => {
        const r = await agentd.request(h.port, 'POST', `/api/agents/${ids.agentId}/messages`, { content: 'probe-456' });
        if (r.status >= 300) throw new Error(`POST /api/agents/:id/messages answered ${r.status}`);
      });
    });
    if (!ok) throw new Error('message_created did not reach a /ws subscriber');
    variants.push({
      key: variants.length ? 'agentd_rest' : 'agentd', label: 'persisted REST publish (POST /api/agents/:id/messages)', bin: agentd.BIN,
      prepare: async (h) => {
        const ids = await agentd.seedAgent(h);
        return {
          sub: { kind: 'ws', port: h.port, path: '/ws', subscribe: subscribeMsg(`agent:${ids.agentId}`) },
          pub: { kind: 'http', port: h.port, method: 'POST', path: `/api/agents/${ids.agentId}/messages`,
            body: JSON.stringify({ content: '__PAYLOAD__' }) }, // a connection a message in flight (gen/fanout.js)
        };
      },
    });
  } catch (e) { why.push(`REST publish: ${e.message}`); }
  if (!variants.length) throw new Error(why.join('; '));
  return variants;
}

// W4: an agent with the command executor whose argv is linegen. Returns
// {prepare(h, argv) -> {agentId}, run(h, ag)} or throws.
async function probeRun(agentd) {
  const prepare = async (h, argv) => agentd.seedAgent(h, { executor: 'command', extra: { command: argv } });
  const run = async (h, ag) => {
    const r = await agentd.request(h.port, 'POST', `/api/agents/${ag.agentId}/start`, {});
    if (r.status >= 300) throw new Error(`POST /api/agents/:id/start answered ${r.status} ${r.body.slice(0, 120)}`);
  };
  const ok = await withAgentd(agentd, agentd.BIN, async (h) => {
    const ag = await prepare(h, ['/bin/echo', 'bench 0 123456789']);
    return arrives(h, `agent:${ag.agentId}`, 'bench 0 123456789', () => run(h, ag));
  });
  if (!ok) throw new Error("a command agent's stdout line did not reach a /ws subscriber of agent:<id>");
  return { prepare, run };
}

module.exports = { probePublish, probeRun, subscribeMsg };
