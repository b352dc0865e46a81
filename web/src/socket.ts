// The one WebSocket the dashboard keeps to /ws. It never gives up: a lost
// connection is retried with exponential backoff and jitter, an `online`
// event retries at once. On every open it asks the server for its current
// seq (ping → pong) and then subscribes with `since` = the last seq this
// page applied, so the bus replays exactly what was missed. When it cannot
// (first connect, replay_truncated, a server whose seq went backwards) it
// asks its owner for a fresh snapshot before subscribing from "now".
import { backoffDelay } from './backoff';
import type { Envelope } from './types';

export type ConnStatus = 'connecting' | 'connected' | 'reconnecting' | 'offline';

export interface ConnState {
  status: ConnStatus;
  attempt: number; // reconnect attempts since the last good connection
  retryInMs?: number;
  lastError?: string;
}

export interface LiveSocketOptions {
  url: string;
  topics: string[];
  onEvent: (ev: Envelope) => void;
  onState: (s: ConnState) => void;
  // The page must reload its state; events delivered after this call are
  // newer than (or replay from) `fromSeq` and must be applied on top.
  onSnapshotNeeded: (fromSeq: number) => void;
  getLastSeq: () => number;
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

const CONTROL = new Set(['pong', 'replay_truncated', 'gap', 'overflow', 'error', 'subscribed', 'unsubscribed', 'hello', 'welcome', 'replay_done']);

export class LiveSocket {
  private o: LiveSocketOptions;
  private ws: WebSocket | null = null;
  private attempt = 0;
  private timer: any = null;
  private pongTimer: any = null;
  private beat: any = null;
  private stopped = false;
  private subscribed = false;
  private lastRx = 0;
  state: ConnState = { status: 'connecting', attempt: 0 };

  constructor(o: LiveSocketOptions) {
    this.o = o;
  }

  private setT(f: () => void, ms: number) {
    return (this.o.setTimer || ((g, m) => setTimeout(g, m)))(f, ms);
  }
  private clearT(t: any) {
    if (t != null) (this.o.clearTimer || clearTimeout)(t);
  }
  private emit(s: ConnState) {
    this.state = s;
    this.o.onState(s);
  }

  start() {
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

  send(type: string, payload: unknown) {
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify({ type, payload }));
  }

  private connect() {
    if (this.stopped) return;
    const Impl = this.o.WebSocketImpl || WebSocket;
    let ws: WebSocket;
    try {
      ws = new Impl(this.o.url);
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

  private onPong(serverSeq: number | null) {
    this.clearT(this.pongTimer);
    this.pongTimer = null;
    if (this.subscribed) return;
    this.subscribed = true;
    const last = this.o.getLastSeq();
    let since: number | undefined;
    if (last > 0 && (serverSeq === null || serverSeq >= last)) {
      since = last;
    } else {
      const from = serverSeq ?? 0;
      this.o.onSnapshotNeeded(from);
      since = serverSeq ?? undefined;
    }
    this.send('subscribe', since === undefined ? { topics: this.o.topics } : { topics: this.o.topics, since });
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
      } else if (msg.type === 'replay_truncated') {
        const oldest = Number(p.oldestSeq ?? p.oldest ?? msg.oldestSeq ?? 0);
        this.o.onSnapshotNeeded(Number.isFinite(oldest) && oldest > 0 ? oldest - 1 : 0);
      } else if (msg.type === 'gap') {
        // History lacks from..to (the server crashed, or could not store
        // them): what we show may miss some; reload, then apply what follows.
        const to = Number(p.to ?? 0);
        this.o.onSnapshotNeeded(Number.isFinite(to) && to > 0 ? to : 0);
      }
      // overflow: the server closes next; we reconnect with our last seq.
      return;
    }
    if (typeof msg.seq === 'number' && typeof msg.type === 'string') {
      this.o.onEvent(msg as Envelope);
    }
  }
}
