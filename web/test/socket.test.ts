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
    topics: ['agent:*'],
    WebSocketImpl: FakeWS as any,
    onEvent: (e) => (model = reduce(model, e).model),
    onState: (s) => states.push(s),
    onSnapshotNeeded: (from) => {
      snapshots.push(from);
      model = { ...model, lastSeq: from };
    },
    getLastSeq: () => model.lastSeq,
    random: () => 0.5,
    isOnline: () => true,
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
      topics: ['agent:*'],
      WebSocketImpl: FakeWS as any,
      onEvent: () => {},
      onState: () => {},
      onSnapshotNeeded: () => {},
      getLastSeq: () => 0,
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
    const snaps: number[] = [];
    const states: ConnState[] = [];
    const sock = new LiveSocket({
      url: 'ws://x/ws',
      topics: [],
      WebSocketImpl: FakeWS as any,
      onEvent: () => undefined,
      onState: (s) => states.push(s),
      onSnapshotNeeded: (f) => snaps.push(f),
      getLastSeq: () => 0,
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
