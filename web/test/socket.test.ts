import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { emptyModel, reduce, type Model } from '../src/events';
import { LiveSocket, type ConnState } from '../src/socket';
import type { Envelope } from '../src/types';

class FakeWS {
  static all: FakeWS[] = [];
  url: string;
  readyState = 0;
  sent: any[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(url: string) {
    this.url = url;
    FakeWS.all.push(this);
  }
  send(s: string) {
    this.sent.push(JSON.parse(s));
  }
  close() {
    this.drop(1000);
  }
  // test side
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  push(m: unknown) {
    this.onmessage?.({ data: JSON.stringify(m) });
  }
  drop(code = 1006) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code });
  }
}

function ev(seq: number, content: string): Envelope {
  return { seq, ts: '', topic: 'agent:ag_1', type: 'agent_output', payload: { agentId: 'ag_1', content, isComplete: true } };
}

function setup() {
  let model: Model = emptyModel();
  const states: ConnState[] = [];
  const snapshots: number[] = [];
  const sock = new LiveSocket({
    url: 'ws://x/ws',
    WebSocketImpl: FakeWS as any,
    onState: (s) => states.push(s),
    random: () => 0.5,
    isOnline: () => true,
  });
  sock.subscribe(['agent:*'], {
    onEvent: (e) => (model = reduce(model, e).model),
    onResync: (from) => {
      snapshots.push(from);
      model = { ...model, lastSeq: from };
    },
  });
  return { sock, states, snapshots, lines: () => (model.transcripts.ag_1?.live || []).map((c) => c.text), model: () => model };
}

beforeEach(() => {
  FakeWS.all = [];
  vi.useFakeTimers();
});
afterEach(() => vi.useRealTimers());

describe('LiveSocket', () => {
  it('first connect: pings, asks for a snapshot at the server seq, subscribes since it', () => {
    const t = setup();
    t.sock.start();
    const ws = FakeWS.all[0];
    ws.open();
    expect(ws.sent).toEqual([{ type: 'ping', payload: {} }]);
    ws.push({ type: 'pong', payload: { seq: 41 } });
    expect(t.snapshots).toEqual([41]);
    expect(ws.sent[1]).toEqual({ type: 'subscribe', payload: { topics: ['agent:*'], since: 41 } });
    expect(t.states.at(-1)).toEqual({ status: 'connected', attempt: 0 });
  });

  it('reconnects after a drop with since = last applied seq, and every event shows exactly once', () => {
    const t = setup();
    t.sock.start();
    let ws = FakeWS.all[0];
    ws.open();
    ws.push({ type: 'pong', payload: { seq: 0 } });
    for (let i = 1; i <= 5; i++) ws.push(ev(i, 'line ' + i));
    ws.drop();
    expect(t.states.at(-1)).toMatchObject({ status: 'reconnecting', attempt: 1 });
    vi.advanceTimersByTime(30000);
    ws = FakeWS.all[1];
    ws.open();
    ws.push({ type: 'pong', payload: { seq: 9 } });
    expect(ws.sent[1]).toEqual({ type: 'subscribe', payload: { topics: ['agent:*'], since: 5 } });
    // The server replays 4..9 (overlapping what we had) and goes on live.
    for (let i = 4; i <= 10; i++) ws.push(ev(i, 'line ' + i));
    expect(t.lines()).toEqual(Array.from({ length: 10 }, (_, i) => 'line ' + (i + 1)));
    expect(t.snapshots).toEqual([0]); // no second snapshot: replay covered the gap
  });

  it('backs off exponentially while the server stays down and never gives up', () => {
    const t = setup();
    t.sock.start();
    const delays: number[] = [];
    for (let i = 0; i < 12; i++) {
      FakeWS.all.at(-1)!.drop();
      const s = t.states.at(-1)!;
      delays.push(s.retryInMs!);
      expect(s.attempt).toBe(i + 1);
      vi.advanceTimersByTime(s.retryInMs!);
      expect(FakeWS.all).toHaveLength(i + 2); // a new attempt every time
    }
    expect(delays.slice(0, 7)).toEqual([375, 750, 1500, 3000, 6000, 12000, 22500]);
    expect(Math.max(...delays)).toBeLessThanOrEqual(30000);
    // Success resets the count.
    const ws = FakeWS.all.at(-1)!;
    ws.open();
    ws.push({ type: 'pong', payload: { seq: 1 } });
    expect(t.states.at(-1)).toEqual({ status: 'connected', attempt: 0 });
  });

  it('replay_truncated asks for a fresh snapshot from the oldest seq still kept', () => {
    const t = setup();
    t.sock.start();
    let ws = FakeWS.all[0];
    ws.open();
    ws.push({ type: 'pong', payload: { seq: 3 } });
    ws.push(ev(4, 'a'));
    ws.drop();
    vi.advanceTimersByTime(30000);
    ws = FakeWS.all[1];
    ws.open();
    ws.push({ type: 'pong', payload: { seq: 900 } });
    ws.push({ type: 'replay_truncated', payload: { oldestSeq: 500 } });
    expect(t.snapshots).toEqual([3, 499]);
    ws.push(ev(500, 'b'));
    expect(t.lines()).toEqual(['a', 'b']);
  });

  it('a gap in history (the server crashed) asks for a fresh snapshot, then applies what follows', () => {
    const t = setup();
    t.sock.start();
    let ws = FakeWS.all[0];
    ws.open();
    ws.push({ type: 'pong', payload: { seq: 3 } });
    ws.push(ev(4, 'a'));
    ws.drop();
    vi.advanceTimersByTime(30000);
    ws = FakeWS.all[1];
    ws.open();
    ws.push({ type: 'pong', payload: { seq: 2000000 } });
    ws.push({ type: 'gap', payload: { from: 5, to: 1048580 } });
    expect(t.snapshots).toEqual([3, 1048580]);
    ws.push(ev(1048581, 'b'));
    expect(t.lines()).toEqual(['a', 'b']);
  });

  it('a 4401 close (signed out) stops retrying and tells the page once', () => {
    let told = 0;
    const sock = new LiveSocket({
      url: 'ws://x/ws',
      WebSocketImpl: FakeWS as any,
      onState: () => {},
      onUnauthorized: () => told++,
      random: () => 0.5,
      isOnline: () => true,
    });
    sock.start();
    FakeWS.all[0].open();
    FakeWS.all[0].drop(4401);
    vi.advanceTimersByTime(120000);
    expect(told).toBe(1);
    expect(FakeWS.all.length).toBe(1); // no reconnect without a session
    sock.start(); // signed in again: connects
    expect(FakeWS.all.length).toBe(2);
  });

  it('a server whose seq went backwards (new database) gets a snapshot, not a stale since', () => {
    const t = setup();
    t.sock.start();
    let ws = FakeWS.all[0];
    ws.open();
    ws.push({ type: 'pong', payload: { seq: 100 } });
    ws.drop();
    vi.advanceTimersByTime(30000);
    ws = FakeWS.all[1];
    ws.open();
    ws.push({ type: 'pong', payload: { seq: 2 } });
    expect(t.snapshots).toEqual([100, 2]);
    expect(ws.sent[1].payload.since).toBe(2);
  });

  it('subscribes live when the server never answers ping', () => {
    const t = setup();
    t.sock.start();
    const ws = FakeWS.all[0];
    ws.open();
    vi.advanceTimersByTime(5000);
    expect(ws.sent[1]).toEqual({ type: 'subscribe', payload: { topics: ['agent:*'] } });
    expect(t.snapshots).toEqual([0]);
  });

  it('ignores garbage and control messages it does not know', () => {
    const t = setup();
    t.sock.start();
    const ws = FakeWS.all[0];
    ws.open();
    ws.push({ type: 'pong', payload: { seq: 0 } });
    ws.onmessage?.({ data: 'not json' });
    ws.push({ type: 'error', payload: { message: 'unknown type' } });
    ws.push({ type: 'overflow', payload: { lastSeq: 0 } });
    ws.push(ev(1, 'ok'));
    expect(t.lines()).toEqual(['ok']);
  });

  it('reports offline when the browser is offline, and retries at once when it comes back', () => {
    let online = false;
    const states: ConnState[] = [];
    const sock = new LiveSocket({
      url: 'ws://x/ws',
      WebSocketImpl: FakeWS as any,
      onState: (s) => states.push(s),
      isOnline: () => online,
    });
    sock.start();
    FakeWS.all[0].drop();
    expect(states.at(-1)!.status).toBe('offline');
    online = true;
    sock.retryNow();
    expect(FakeWS.all).toHaveLength(2);
  });
});

// The one socket shared by the store, chats, crews and definitions lists.
describe('LiveSocket consumers', () => {
  function connected(seq = 0) {
    const sock = new LiveSocket({ url: 'ws://x/ws', WebSocketImpl: FakeWS as any, random: () => 0.5, isOnline: () => true });
    const seen = new Map<string, number[]>();
    const consumer = (name: string, extra = {}) => ({ onEvent: (e: Envelope) => seen.set(name, [...(seen.get(name) || []), e.seq]), ...extra });
    return {
      sock,
      seen,
      consumer,
      open: () => {
        sock.start();
        const ws = FakeWS.all.at(-1)!;
        ws.open();
        ws.push({ type: 'pong', payload: { seq } });
        return ws;
      },
    };
  }

  it('holds a topic once however many consumers want it, and drops it with the last one', () => {
    const t = connected();
    const ws = t.open();
    const a = t.sock.subscribe(['chat:c1', 'definitions'], t.consumer('a'));
    const b = t.sock.subscribe(['chat:c1'], t.consumer('b'));
    expect(ws.sent.slice(1)).toEqual([{ type: 'subscribe', payload: { topics: ['chat:c1', 'definitions'] } }]);
    a();
    expect(ws.sent.slice(2)).toEqual([{ type: 'unsubscribe', payload: { topics: ['definitions'] } }]);
    a(); // a second call does nothing
    expect(ws.sent).toHaveLength(3);
    b();
    expect(ws.sent.slice(3)).toEqual([{ type: 'unsubscribe', payload: { topics: ['chat:c1'] } }]);
    expect(t.sock.topics()).toEqual([]);
  });

  it('subscribes the held topics on connect, each once, and tells each consumer when the server has them', () => {
    const t = connected(7);
    let acks = 0;
    t.sock.subscribe(['crew:*'], t.consumer('a', { onSubscribed: () => acks++ }));
    t.sock.subscribe(['crew:*', 'crew:k'], t.consumer('b', { onSubscribed: () => acks++ }));
    const ws = t.open();
    expect(ws.sent[1]).toEqual({ type: 'subscribe', payload: { topics: ['crew:*', 'crew:k'], since: 7 } });
    ws.push({ type: 'subscribed', payload: { topics: ['crew:*', 'crew:k'], seq: 7 } });
    expect(acks).toBe(2);
    // A consumer of a topic already held is told at once.
    t.sock.subscribe(['crew:k'], t.consumer('c', { onSubscribed: () => acks++ }));
    expect(acks).toBe(3);
    expect(ws.sent).toHaveLength(2);
  });

  it('gives every consumer each event once, and replays what each missed after a reconnect', () => {
    const t = connected();
    let ws = t.open();
    t.sock.subscribe(['agent:*'], t.consumer('store'));
    ws.push(ev(1, 'a'));
    ws.push(ev(2, 'b'));
    // A chat joins at seq 2; it has seen nothing before that.
    t.sock.subscribe(['chat:c1'], t.consumer('chat'));
    ws.push(ev(3, 'c'));
    ws.drop();
    vi.advanceTimersByTime(30000);
    ws = FakeWS.all.at(-1)!;
    ws.open();
    ws.push({ type: 'pong', payload: { seq: 6 } });
    // Both topics from the oldest seq any consumer has: nothing is lost.
    expect(ws.sent[1]).toEqual({ type: 'subscribe', payload: { topics: ['agent:*', 'chat:c1'], since: 3 } });
    for (const s of [2, 3, 4, 5, 6]) ws.push(ev(s, 'x')); // the replay overlaps
    expect(t.seen.get('store')).toEqual([1, 2, 3, 4, 5, 6]);
    expect(t.seen.get('chat')).toEqual([3, 4, 5, 6]);
  });

  it('a consumer that joins mid-replay is not replayed what came before it, and the oldest since wins', () => {
    const t = connected(10);
    const ws = t.open();
    t.sock.subscribe(['agent:*'], t.consumer('store'));
    ws.push(ev(11, 'a'));
    ws.push(ev(12, 'b'));
    const stop = t.sock.subscribe(['run:*'], t.consumer('late'));
    ws.push(ev(12, 'b')); // a duplicate the server sends again
    ws.push(ev(13, 'c'));
    stop();
    ws.push(ev(14, 'd')); // gone: not given
    expect(t.seen.get('late')).toEqual([13]);
    expect(t.seen.get('store')).toEqual([11, 12, 13, 14]);
  });

  it('replay_truncated and gap make every consumer reload, then events go on from there', () => {
    const t = connected();
    const resyncs: string[] = [];
    t.sock.subscribe(['agent:*'], t.consumer('store', { onResync: (f: number) => resyncs.push(`store@${f}`) }));
    t.sock.subscribe(['chat:c1'], t.consumer('chat', { onResync: (f: number) => resyncs.push(`chat@${f}`) }));
    let ws = t.open();
    expect(resyncs).toEqual(['store@0', 'chat@0']); // the first connect loads
    ws.push(ev(1, 'a'));
    ws.drop();
    vi.advanceTimersByTime(30000);
    ws = FakeWS.all.at(-1)!;
    ws.open();
    ws.push({ type: 'pong', payload: { seq: 900 } });
    ws.push({ type: 'replay_truncated', payload: { oldestSeq: 500 } });
    expect(resyncs.slice(2)).toEqual(['store@499', 'chat@499']);
    ws.push(ev(500, 'b'));
    ws.push({ type: 'gap', payload: { from: 501, to: 700 } });
    expect(resyncs.slice(4)).toEqual(['store@700', 'chat@700']);
    ws.push(ev(701, 'c'));
    expect(t.seen.get('store')).toEqual([1, 500, 701]);
    expect(t.seen.get('chat')).toEqual([1, 500, 701]);
  });

  it('topics asked for while the socket is down are sent when it comes back', () => {
    const t = connected(5);
    let ws = t.open();
    ws.drop();
    t.sock.subscribe(['definitions'], t.consumer('defs'));
    expect(ws.sent).toHaveLength(1); // only the ping: nothing is sent on a closed socket
    vi.advanceTimersByTime(30000);
    ws = FakeWS.all.at(-1)!;
    ws.open();
    ws.push({ type: 'pong', payload: { seq: 5 } });
    expect(ws.sent[1]).toEqual({ type: 'subscribe', payload: { topics: ['definitions'], since: 5 } });
  });
});
