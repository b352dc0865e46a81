import { describe, expect, it } from 'vitest';
import { presenceOf } from '../src/presence';
import { LiveSocket } from '../src/socket';

describe('presence', () => {
  it('is the agent of an agent page that is visible and focused, else null', () => {
    expect(presenceOf({ page: 'agent', id: 'ag_1' }, true, true)).toBe('ag_1');
    expect(presenceOf({ page: 'agent', id: 'ag_1' }, false, true)).toBeNull();
    expect(presenceOf({ page: 'agent', id: 'ag_1' }, true, false)).toBeNull();
    expect(presenceOf({ page: 'agents' }, true, true)).toBeNull();
  });

  it('is sent when it changes and again on a new connection, never delivered to consumers', () => {
    const all: any[] = [];
    class WS {
      readyState = 0;
      sent: any[] = [];
      onopen: (() => void) | null = null;
      onmessage: ((e: { data: string }) => void) | null = null;
      onclose: ((e: { code: number }) => void) | null = null;
      constructor() {
        all.push(this);
      }
      send(s: string) {
        this.sent.push(JSON.parse(s));
      }
      close() {}
    }
    const timers: (() => void)[] = [];
    const sock = new LiveSocket({
      url: 'ws://x/ws',
      WebSocketImpl: WS as any,
      setTimer: (f) => timers.push(f),
      clearTimer: () => {},
      random: () => 0.5,
      isOnline: () => true,
    });
    const got: any[] = [];
    sock.subscribe(['agent:*'], { onEvent: (e) => got.push(e) });
    sock.setPresence('ag_1'); // before the connection: kept for it
    sock.start();
    const ws = all[0];
    ws.readyState = 1;
    ws.onopen();
    ws.onmessage({ data: JSON.stringify({ type: 'pong', payload: { seq: 0 } }) });
    expect(ws.sent.filter((m: any) => m.type === 'presence')).toEqual([{ type: 'presence', payload: { agentId: 'ag_1' } }]);
    sock.setPresence('ag_1'); // unchanged: nothing sent
    sock.setPresence(null);
    expect(ws.sent.filter((m: any) => m.type === 'presence').length).toBe(2);
    ws.onmessage({ data: JSON.stringify({ type: 'presence', payload: { agentId: null } }) });
    expect(got).toEqual([]);
  });
});
