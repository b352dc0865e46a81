// SPDX-License-Identifier: MIT
// The /ws protocol as a client sees it: subscribe/unsubscribe with
// acknowledgements, ping answered with the current seq, the seed aliases
// (subscribe:agent, unsubscribe:agent, subscribe:workspace), errors for bad
// input with the connection left open, and REST mutations arriving as events.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('./lib/daemon');
const WebSocket = require('./lib/ws');
const { Live, json, makeAgent } = require('./lib/live');
const { until } = require('./lib/api');

test('REST mutations reach subscribers; aliases, ping and unsubscribe behave', async () => {
  const d = await start({ needUrl: true });
  try {
    const c = await Live.open(d);
    c.send('ping');
    const pong0 = await c.next('pong');
    assert.equal(typeof pong0.payload.seq, 'number');

    // An agent made over REST: its agent_update reaches an agent:* subscriber.
    c.send('subscribe', { topics: ['agent:*'] });
    const ack = await c.next('subscribed');
    assert.deepEqual(ack.payload.topics, ['agent:*']);
    const { agent, workspace } = await makeAgent(d);
    await c.until(() => c.events.some((e) => e.type === 'agent_update' && e.payload.id === agent.id),
      10000, 'agent_update over agent:*');
    const ev = c.events.find((e) => e.payload.id === agent.id);
    assert.equal(ev.topic, `agent:${agent.id}`);
    assert.match(ev.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    // Alias forms on a second connection.
    const a = await Live.open(d);
    a.send('subscribe:agent', { agentId: agent.id });
    await a.next('subscribed');
    a.send('subscribe:workspace', { workspaceId: workspace.id });
    const ack2 = await a.next('subscribed', a.msgs.length);
    assert.deepEqual(ack2.payload.topics, [`workspace:${workspace.id}`]);
    let r = await json(d, 'PATCH', `/api/agents/${agent.id}`, { name: 'renamed' });
    assert.equal(r.status, 200);
    await a.until(() => a.events.some((e) => e.payload.name === 'renamed'), 10000, 'rename event');
    // One delivery although the event matches both agent: and workspace: topics.
    assert.equal(a.events.filter((e) => e.payload.name === 'renamed').length, 1);

    a.send('unsubscribe:agent', { agentId: agent.id });
    await a.next('unsubscribed');
    a.send('unsubscribe', { topics: [`workspace:${workspace.id}`] });
    await a.next('unsubscribed', a.msgs.findIndex((m) => m.type === 'unsubscribed') + 1);
    const before = a.events.length;
    r = await json(d, 'PATCH', `/api/agents/${agent.id}`, { name: 'again' });
    assert.equal(r.status, 200);
    await c.until(() => c.events.some((e) => e.payload.name === 'again'), 10000, 'second rename');
    a.send('ping');
    const pong = await a.next('pong', a.msgs.length);
    assert.equal(a.events.length, before, 'nothing after unsubscribing');
    assert.ok(pong.payload.seq >= c.events[c.events.length - 1].seq, 'pong carries the current seq');
    a.close();
    c.close();
  } finally {
    await d.cleanup();
  }
});

test('bad messages get an error and the connection stays open', async () => {
  const d = await start({ needUrl: true });
  try {
    const c = await Live.open(d);
    c.sendRaw('{not json');
    const e1 = await c.next('error');
    assert.equal(e1.payload.code, 'INVALID_JSON');
    c.send('dance', {});
    await c.until(() => c.msgs.filter((m) => m.type === 'error').length === 2);
    assert.equal(c.msgs[1].payload.code, 'UNKNOWN_TYPE');
    c.send('subscribe', { topics: ['bad topic'] });
    c.send('subscribe', { topics: 'a*b' });
    c.send('subscribe', { topics: ['system'], since: -1 });
    c.send('subscribe:agent', {});
    await c.until(() => c.msgs.filter((m) => m.type === 'error').length === 6);
    const codes = c.msgs.filter((m) => m.type === 'error').map((m) => m.payload.code);
    assert.deepEqual(codes.slice(2), ['INVALID_TOPIC', 'INVALID_TOPIC', 'VALIDATION_ERROR', 'VALIDATION_ERROR']);
    c.send('ping');
    await c.next('pong');
    assert.equal(c.closeCode, null);
    c.close();
  } finally {
    await d.cleanup();
  }
});

// The benchmarks' publisher (bench W2/R1): messages on the test build's
// /test/ws-publish become events on their topic, in order; without a token
// the socket is closed with 4401 and publishes nothing.
test('the test-build WebSocket publisher: text becomes events in order; no token, 4401', async () => {
  const d = await start({ needUrl: true });
  try {
    const sub = await Live.open(d);
    sub.send('subscribe', { topics: ['bench'] });
    await sub.next('subscribed');
    const pub = new WebSocket(`${d.url.replace('http', 'ws')}/test/ws-publish?topic=bench`, { headers: d.authHeaders });
    await new Promise((resolve, reject) => { pub.on('open', resolve); pub.on('error', reject); });
    // Small frames are copied into the connection's cork and large ones
    // queued by reference (src/http/write.c): mixed, they keep their order.
    const body = (i) => (i % 3 === 2 ? `m${i} ` + 'L'.repeat(700 + i) : `m${i} "quoted"`);
    for (let i = 0; i < 300; i++) pub.send(body(i));
    await sub.until(() => sub.events.filter((e) => e.type === 'bench').length === 300, 10000, '300 bench events');
    assert.deepEqual(sub.events.filter((e) => e.type === 'bench').map((e) => e.payload.d),
      Array.from({ length: 300 }, (_, i) => body(i)));
    pub.close();

    // ?ack=1 (bench E1): told how many of its events the event log holds,
    // a rising count that reaches every one sent, and never ahead of it
    const acker = new WebSocket(`${d.url.replace('http', 'ws')}/test/ws-publish?topic=acked&ack=1`, { headers: d.authHeaders });
    await new Promise((resolve, reject) => { acker.on('open', resolve); acker.on('error', reject); });
    const acks = [];
    acker.on('message', (m) => acks.push(Number(m.toString())));
    for (let i = 0; i < 500; i++) acker.send(`a${i} ${'x'.repeat(1000)}`);
    await until(() => acks.includes(500), 'an ack of all 500');
    assert.deepEqual(acks, [...acks].sort((a, b) => a - b));
    assert.ok(acks.every((n) => n > 0 && n <= 500), JSON.stringify(acks));
    const stats = await json(d, 'GET', '/test/store-stats');
    assert.ok(stats.body.eventsStored >= 500, `eventsStored ${stats.body.eventsStored}`);
    acker.close();

    const anon = new WebSocket(`${d.url.replace('http', 'ws')}/test/ws-publish?topic=bench`);
    anon.on('error', () => {});
    anon.on('open', () => anon.send('sneaked in'));
    const code = await new Promise((resolve) => anon.on('close', resolve));
    assert.equal(code, 4401);
    sub.send('ping');
    await sub.next('pong', sub.msgs.length);
    assert.ok(!sub.events.some((e) => e.payload.d === 'sneaked in'), 'nothing published without a token');
  } finally {
    await d.stop();
    await d.cleanup();
  }
});
