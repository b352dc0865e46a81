import { describe, expect, it } from 'vitest';
import { adoptable, folderName, sessionKey, upsertSession, type ExternalSession } from '../src/sessions';

const s = (id: string, at: string, extra: Partial<ExternalSession> = {}): ExternalSession => ({
  tool: 'claude',
  sessionId: id,
  cwd: '/home/u/proj',
  gitBranch: 'main',
  startedAt: at,
  lastActivity: at,
  firstMessage: 'hi',
  lastMessage: 'hi',
  size: 10,
  live: false,
  ...extra,
});

describe('outside sessions', () => {
  it('an event puts a session in its place, newest first, keeping the agent that holds it', () => {
    const list = [s('a', '2026-11-29T10:00:00Z', { agentId: 'ag_1' }), s('b', '2026-11-29T09:00:00Z')];
    const next = upsertSession(list, s('b', '2026-11-29T11:00:00Z', { live: true }));
    expect(next.map((x) => x.sessionId)).toEqual(['b', 'a']);
    expect(next[0].live).toBe(true);
    const again = upsertSession(next, s('a', '2026-11-29T12:00:00Z'));
    expect(again[0].agentId).toBe('ag_1');
    expect(again).toHaveLength(2);
    expect(upsertSession([], s('c', '2026-11-29T12:00:00Z'))).toHaveLength(1);
  });
  it('shows a folder by its last part', () => {
    expect(folderName('/home/u/proj')).toBe('proj');
    expect(folderName(null)).toBe('—');
    expect(folderName('/')).toBe('/');
    expect(adoptable(s('a', '2026-11-29T12:00:00Z'))).toBe(true);
    expect(adoptable(s('g', '2026-11-29T12:00:00Z', { tool: 'gemini' }))).toBe(true);
    expect(adoptable(s('x', '2026-11-29T12:00:00Z', { tool: 'other' as any }))).toBe(false);
  });
  it('keys a node session apart from this machine one with the same id, and adopts each CLI session on a node too', () => {
    const here = s('a', '2026-11-29T10:00:00Z');
    const there = s('a', '2026-11-29T09:00:00Z', { node: { id: 'nd_1', name: 'box' } });
    expect(sessionKey(here)).not.toEqual(sessionKey(there));
    const list = upsertSession([there], s('a', '2026-11-29T11:00:00Z'));
    expect(list.map((x) => x.node?.name ?? 'here')).toEqual(['here', 'box']);
    expect(adoptable(there)).toBe(true);
    expect(adoptable(s('c', '2026-11-29T12:00:00Z', { tool: 'codex', node: { id: 'nd_1', name: 'box' } }))).toBe(true);
    expect(adoptable(s('g', '2026-11-29T12:00:00Z', { tool: 'gemini', node: { id: 'nd_1', name: 'box' } }))).toBe(true);
    expect(adoptable(s('x', '2026-11-29T12:00:00Z', { tool: 'other' as any, node: { id: 'nd_1', name: 'box' } }))).toBe(false);
  });
});
