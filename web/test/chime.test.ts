import { describe, expect, it } from 'vitest';
import { setSoundEnabled, soundEnabled, SOUND_KEY, wantsChime } from '../src/attention';
import { emptyModel, reduce, type Effect, type Model } from '../src/events';
import type { Envelope } from '../src/types';

const ev = (seq: number, type: string, payload: any): Envelope => ({ seq, type, payload, ts: '' }) as any;
const start = (status: string): Model => ({
  ...emptyModel(),
  agents: { ag_1: { id: 'ag_1', worktreeId: 'wt_1', name: 'one', status } as any },
});

function effectsOf(m: Model, events: Envelope[]): Effect[] {
  const out: Effect[] = [];
  for (const e of events) {
    const r = reduce(m, e);
    m = r.model;
    out.push(...r.effects);
  }
  return out;
}

function memStore(): Pick<Storage, 'getItem' | 'setItem'> {
  const kv = new Map<string, string>();
  return { getItem: (k) => kv.get(k) ?? null, setItem: (k, v) => void kv.set(k, v) };
}

describe('the chime when an agent starts waiting', () => {
  it('is off by default and remembered per browser', () => {
    const s = memStore();
    expect(soundEnabled(s)).toBe(false);
    setSoundEnabled(true, s);
    expect(s.getItem(SOUND_KEY)).toBe('on');
    expect(soundEnabled(s)).toBe(true);
    setSoundEnabled(false, s);
    expect(soundEnabled(s)).toBe(false);
    expect(soundEnabled(null)).toBe(false);
  });

  it('sounds on the transition into waiting, only when enabled', () => {
    const fx = effectsOf(start('running'), [ev(1, 'agent_status', { agentId: 'ag_1', status: 'waiting' })]);
    expect(fx.filter((e) => e.kind === 'chime')).toHaveLength(1);
    expect(wantsChime(fx, true)).toBe(true);
    expect(wantsChime(fx, false)).toBe(false);
  });

  it('stays quiet while the agent keeps waiting, and for other statuses', () => {
    const again = effectsOf(start('waiting'), [
      ev(1, 'agent_status', { agentId: 'ag_1', status: 'waiting' }),
      ev(2, 'agent_update', { id: 'ag_1', status: 'waiting' }),
    ]);
    expect(wantsChime(again, true)).toBe(false);
    const other = effectsOf(start('idle'), [
      ev(1, 'agent_status', { agentId: 'ag_1', status: 'running' }),
      ev(2, 'agent_status', { agentId: 'ag_1', status: 'error', reason: 'boom' }),
    ]);
    expect(wantsChime(other, true)).toBe(false);
  });

  it('sounds again on the next turn: running, then waiting once more', () => {
    const fx = effectsOf(start('waiting'), [
      ev(1, 'agent_status', { agentId: 'ag_1', status: 'running' }),
      ev(2, 'agent_status', { agentId: 'ag_1', status: 'waiting' }),
    ]);
    expect(fx.filter((e) => e.kind === 'chime')).toHaveLength(1);
  });
});

describe("an agent's cost follows its runs", () => {
  it("run_ended brings the agent's new total; a turn's end reloads the agent", () => {
    let m = start('running');
    let r = reduce(m, ev(1, 'run_ended', { run: { id: 'run_1', agentId: 'ag_1', costUsd: 0.2 }, agentUsage: { costUsd: 0.42, totalTokens: 1234 } }));
    expect(r.model.agents.ag_1.costUsd).toBe(0.42);
    expect(r.model.agents.ag_1.totalTokens).toBe(1234);
    m = r.model;
    // A run_ended without the totals (an older daemon) changes nothing.
    r = reduce(m, ev(2, 'run_ended', { run: { id: 'run_2', agentId: 'ag_1' } }));
    expect(r.model.agents.ag_1.costUsd).toBe(0.42);
    r = reduce(start('running'), ev(3, 'agent_status', { agentId: 'ag_1', status: 'waiting' }));
    expect(r.effects).toContainEqual({ kind: 'reloadAgent', agentId: 'ag_1' });
  });
});
