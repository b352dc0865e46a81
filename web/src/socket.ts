// The one WebSocket the dashboard keeps to /ws, shared by every part of the
// page that wants live events: the store (agents, runs, usage), a chat, the
// crews page, the definitions lists. A part calls subscribe(topics, consumer)
// and gets back the function that ends its subscription.
//
// - Topics are reference-counted: the server is asked for a topic when its
//   first consumer comes and told to drop it when its last one goes.
// - The connection never gives up: a lost one is retried with exponential
//   backoff and jitter; an `online` event retries at once. On every open it
//   asks the server for its current seq (ping → pong) and subscribes every
//   held topic with `since` = the oldest seq a consumer has been given, so the
//   bus replays exactly what each consumer missed; a consumer never sees a
//   seq twice. When that cannot be done (first connect, replay_truncated, a
//   gap in history, a server whose seq went backwards) every consumer is told
//   to reload (onResync) and events go on from there.
// - An event's envelope names only the first of its topics, so the client
//   cannot route by topic: every consumer is given every event of the
//   connection (once, in the order the server sends) and picks its own by
//   type and payload.
import { backoffDelay } from './backoff';
import type { Envelope } from './types';

export type ConnStatus = 'connecting' | 'connected' | 'reconnecting' | 'offline';

export interface ConnState {
  status: ConnStatus;
  attempt: number; // reconnect attempts since the last good connection
  retryInMs?: number;
  lastError?: string;
}

export interface Consumer {
  onEvent: (ev: Envelope) => void;
  // What this consumer shows must be reloaded: events given after this call
  // are newer than `fromSeq` and go on top of the reload.
  onResync?: (fromSeq: number) => void;
  // The server has acknowledged this consumer's topics (once, the first
  // time; after a reconnect the replay covers what was missed).
  onSubscribed?: () => void;
}

export interface LiveSocketOptions {
  url: string | (() => string);
  onState?: (s: ConnState) => void;
  // The server closed with 4401 (no valid token or session): retrying
  // cannot help until the user signs in, so the socket stops.
  onUnauthorized?: () => void;
  WebSocketImpl?: { new (url: string): WebSocket };
  setTimer?: (f: () => void, ms: number) => any;
  clearTimer?: (t: any) => void;
  random?: () => number;
  isOnline?: () => boolean;
  pongTimeoutMs?: number;
  heartbeatMs?: number;
}

interface Sub {
  topics: string[];
  c: Consumer;
  lastSeq: number; // the newest seq given to this consumer
  acked: boolean;
}

const CONTROL = new Set(['presence', 'pong', 'replay_truncated', 'gap', 'overflow', 'error', 'subscribed', 'unsubscribed', 'hello', 'welcome', 'replay_done']);

export class LiveSocket {
  private o: LiveSocketOptions;
  private ws: WebSocket | null = null;
  private attempt = 0;
  private timer: any = null;
  private pongTimer: any = null;
  private beat: any = null;
  private stopped = true;
  private subscribed = false; // the held topics were sent on this connection
  private lastRx = 0;
  private seq = 0; // the newest seq seen (or resynced to)
  private subs = new Set<Sub>();
  private counts = new Map<string, number>();
  private presence: string | null = null; // the agent page shown, visible and focused
  state: ConnState = { status: 'connecting', attempt: 0 };

  constructor(o: LiveSocketOptions) {
    this.o = o;
  }

  // ---- consumers --------------------------------------------------------

  // Gives consumer every event of the connection from now on, with topics
  // held on the server for it; returns the function that lets them go.
  subscribe(topics: string[], c: Consumer): () => void {
    const s: Sub = { topics: [...new Set(topics)], c, lastSeq: this.seq, acked: false };
    this.subs.add(s);
    const fresh = s.topics.filter((t) => {
      const n = this.counts.get(t) ?? 0;
      this.counts.set(t, n + 1);
      return n === 0;
    });
    if (this.live()) {
      if (fresh.length > 0) this.send('subscribe', { topics: fresh });
      else this.ack(s); // every topic was held already
    }
    return () => {
      if (!this.subs.delete(s)) return;
      const gone = s.topics.filter((t) => {
        const n = (this.counts.get(t) ?? 1) - 1;
        if (n > 0) this.counts.set(t, n);
        else this.counts.delete(t);
        return n <= 0;
      });
      if (gone.length > 0 && this.live()) this.send('unsubscribe', { topics: gone });
    };
  }

  // Tells the server which agent's page this tab shows while it is visible
  // and focused (null: none), so the tray helper shows no desktop
  // notification about that agent (issue #37). Said again on every new
  // connection; the server forgets it when the connection ends.
  setPresence(agentId: string | null) {
    if (agentId === this.presence) return;
    this.presence = agentId;
    if (this.live()) this.send('presence', { agentId });
  }

  // The topics held on the server, each once (for tests and debugging).
  topics(): string[] {
    return [...this.counts.keys()];
  }

  private live() {
    return this.ws !== null && this.subscribed && this.ws.readyState === 1;
  }

  private ack(s: Sub) {
    if (s.acked) return;
    s.acked = true;
    s.c.onSubscribed?.();
  }

  private resync(from: number) {
    this.seq = from;
    for (const s of [...this.subs]) {
      s.lastSeq = from;
      s.c.onResync?.(from);
    }
  }

  private deliver(ev: Envelope) {
    if (ev.seq > this.seq) this.seq = ev.seq;
    for (const s of [...this.subs]) {
      if (ev.seq <= s.lastSeq || !this.subs.has(s)) continue;
      s.lastSeq = ev.seq;
      s.c.onEvent(ev);
    }
  }

  // ---- the connection ---------------------------------------------------

  private setT(f: () => void, ms: number) {
    return (this.o.setTimer || ((g, m) => setTimeout(g, m)))(f, ms);
  }
  private clearT(t: any) {
    if (t != null) (this.o.clearTimer || clearTimeout)(t);
  }
  private emit(s: ConnState) {
    this.state = s;
    this.o.onState?.(s);
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    this.clearT(this.timer);
    this.clearT(this.pongTimer);
    this.clearT(this.beat);
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000);
  }

  // Retry now (the browser came back online, or the user asked).
  retryNow() {
    if (this.stopped || (this.ws && this.state.status === 'connected')) return;
    this.clearT(this.timer);
    this.timer = null;
    if (!this.ws) this.connect();
  }

  private send(type: string, payload: unknown) {
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify({ type, payload }));
  }

  private connect() {
    if (this.stopped) return;
    const Impl = this.o.WebSocketImpl || WebSocket;
    let ws: WebSocket;
    try {
      ws = new Impl(typeof this.o.url === 'function' ? this.o.url() : this.o.url);
    } catch (e) {
      this.scheduleRetry(String(e));
      return;
    }
    this.ws = ws;
    this.subscribed = false;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.lastRx = Date.now();
      this.send('ping', {});
      // A server that does not answer ping still gets a live subscription.
      this.pongTimer = this.setT(() => this.onPong(null), this.o.pongTimeoutMs ?? 4000);
    };
    ws.onmessage = (e: MessageEvent) => {
      if (this.ws !== ws) return;
      this.lastRx = Date.now();
      if (typeof e.data !== 'string') return;
      let msg: any;
      try {
        msg = JSON.parse(e.data);
      } catch {
        return;
      }
      this.onMessage(msg);
    };
    ws.onclose = (e: CloseEvent) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.subscribed = false;
      this.clearT(this.pongTimer);
      this.clearT(this.beat);
      if (e && e.code === 4401 && this.o.onUnauthorized) {
        this.stopped = true;
        this.emit({ status: 'offline', attempt: 0, lastError: 'signed out' });
        this.o.onUnauthorized();
        return;
      }
      this.scheduleRetry(e && e.code ? `closed (${e.code})` : 'closed');
    };
    ws.onerror = () => {
      /* onclose follows and schedules the retry */
    };
  }

  private scheduleRetry(why: string) {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt, { random: this.o.random });
    this.attempt++;
    const online = this.o.isOnline ? this.o.isOnline() : typeof navigator === 'undefined' || navigator.onLine !== false;
    this.emit({ status: online ? 'reconnecting' : 'offline', attempt: this.attempt, retryInMs: delay, lastError: why });
    this.clearT(this.timer);
    this.timer = this.setT(() => {
      this.timer = null;
      this.connect();
    }, delay);
  }

  // The replay point: the oldest seq a consumer has been given.
  private since() {
    let min = this.seq;
    for (const s of this.subs) min = Math.min(min, s.lastSeq);
    return min;
  }

  private onPong(serverSeq: number | null) {
    this.clearT(this.pongTimer);
    this.pongTimer = null;
    if (this.subscribed) return;
    this.subscribed = true;
    const last = this.since();
    let since: number | undefined;
    if (last > 0 && (serverSeq === null || serverSeq >= this.seq)) {
      since = last;
    } else {
      this.resync(serverSeq ?? 0);
      since = serverSeq ?? undefined;
    }
    const topics = this.topics();
    if (topics.length > 0) this.send('subscribe', since === undefined ? { topics } : { topics, since });
    if (this.presence !== null) this.send('presence', { agentId: this.presence });
    this.attempt = 0;
    this.emit({ status: 'connected', attempt: 0 });
    this.heartbeat();
  }

  private heartbeat() {
    this.clearT(this.beat);
    this.beat = this.setT(() => {
      if (!this.ws) return;
      // Silent for too long: the connection is dead even if TCP has not noticed.
      if (Date.now() - this.lastRx > (this.o.heartbeatMs ?? 25000) * 3) {
        this.ws.close();
        return;
      }
      this.send('ping', {});
      this.heartbeat();
    }, this.o.heartbeatMs ?? 25000);
  }

  private onMessage(msg: any) {
    if (!msg || typeof msg !== 'object') return;
    const p = msg.payload && typeof msg.payload === 'object' ? msg.payload : msg;
    if (CONTROL.has(msg.type)) {
      if (msg.type === 'pong') {
        const s = [p.seq, p.currentSeq, msg.seq].find((x) => typeof x === 'number');
        if (!this.subscribed) this.onPong(typeof s === 'number' ? s : null);
      } else if (msg.type === 'subscribed') {
        const got = new Set(Array.isArray(p.topics) ? p.topics : []);
        for (const s of [...this.subs]) if (s.topics.some((t) => got.has(t))) this.ack(s);
      } else if (msg.type === 'replay_truncated') {
        const oldest = Number(p.oldestSeq ?? p.oldest ?? msg.oldestSeq ?? 0);
        this.resync(Number.isFinite(oldest) && oldest > 0 ? oldest - 1 : 0);
      } else if (msg.type === 'gap') {
        // History lacks from..to (the server crashed, or could not store
        // them): what we show may miss some; reload, then apply what follows.
        const to = Number(p.to ?? 0);
        this.resync(Number.isFinite(to) && to > 0 ? to : 0);
      }
      // overflow: the server closes next; we reconnect with our last seq.
      return;
    }
    if (typeof msg.seq === 'number' && typeof msg.type === 'string') this.deliver(msg as Envelope);
  }
}

// ws: or wss: URL of a path on this page's host.
export function wsUrl(path: string): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}${path}`;
}
