import { describe, expect, it } from 'vitest';
import { inputBlockedReason } from '../src/input';
import type { Agent } from '../src/types';

function agent(executor: string, status: string, extra: Partial<Agent> = {}): Agent {
  return { id: 'ag_1', worktreeId: 'wt_1', name: 'a', executor, status, ...extra } as Agent;
}

describe('inputBlockedReason', () => {
  it('lets a finished or failed codex or gemini agent take the next message (a resumed run)', () => {
    for (const ex of ['codex', 'gemini']) {
      expect(inputBlockedReason(agent(ex, 'finished'))).toBeNull();
      expect(inputBlockedReason(agent(ex, 'error'))).toBeNull();
    }
    expect(inputBlockedReason(agent('gemini', 'running'))).toMatch(/working on this turn/);
  });

  it('lets a codex agent on app-server take a message mid-turn (steered), not an older codex', () => {
    expect(inputBlockedReason(agent('codex', 'running'))).toBeNull();
    expect(inputBlockedReason(agent('codex', 'running', { state: { codexVersion: '0.169.0' } }))).toBeNull();
    expect(inputBlockedReason(agent('codex', 'running', { state: { codexVersion: '0.170.2' } }))).toBeNull();
    expect(inputBlockedReason(agent('codex', 'running', { state: { codexVersion: '0.168.9' } }))).toMatch(/working on this turn/);
    expect(inputBlockedReason(agent('codex', 'waiting'))).toBeNull();
  });

  it('keeps claude and command agents as they were', () => {
    expect(inputBlockedReason(agent('claude', 'waiting'))).toBeNull();
    expect(inputBlockedReason(agent('claude', 'running'))).toBeNull();
    expect(inputBlockedReason(agent('claude', 'finished'))).toMatch(/Start it with a prompt/);
    expect(inputBlockedReason(agent('claude', 'error'))).toMatch(/Start it again/);
    expect(inputBlockedReason(agent('command', 'paused'))).toMatch(/paused/);
  });

  it('refuses an archived agent whatever it runs', () => {
    expect(inputBlockedReason(agent('codex', 'finished', { deletedAt: '2026-11-22T00:00:00Z' }))).toMatch(/archived/);
  });
});
