// The Sessions page's list (issue #76): a node's session is keyed apart from
// this machine's with the same id, and only a node's Claude sessions offer Adopt.
import { describe, expect, it } from 'vitest';
import { adoptable, sessionKey, upsertSession, type ExternalSession } from '../src/sessions';

const s = (over: Partial<ExternalSession>): ExternalSession => ({
  tool: 'claude',
  sessionId: 'abc',
  cwd: '/w',
  gitBranch: null,
  startedAt: null,
  lastActivity: '2026-11-29T10:00:00.000Z',
  firstMessage: 'hi',
  lastMessage: null,
  size: 1,
  live: false,
  ...over,
});

describe('sessions of nodes', () => {
  it('keys a node session apart from this machine one with the same id', () => {
    const here = s({});
    const there = s({ node: { id: 'nd_1', name: 'box' } });
    expect(sessionKey(here)).not.toEqual(sessionKey(there));
    const list = upsertSession([there], { ...here, lastActivity: '2026-11-29T11:00:00.000Z' });
    expect(list.map((x) => x.node?.name ?? 'here')).toEqual(['here', 'box']);
  });

  it('offers Adopt for a node Claude session only', () => {
    expect(adoptable(s({ node: { id: 'nd_1', name: 'box' } }))).toBe(true);
    expect(adoptable(s({ tool: 'codex', node: { id: 'nd_1', name: 'box' } }))).toBe(false);
    expect(adoptable(s({ tool: 'codex' }))).toBe(true);
  });
});
