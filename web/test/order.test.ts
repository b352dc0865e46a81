import { describe, expect, it } from 'vitest';
import { moveBefore, sortAgents, sortWorktrees } from '../src/order';
import type { Agent, Worktree } from '../src/types';

const ag = (id: string, name: string, status: string, displayOrder: number): Agent => ({
  id,
  worktreeId: 'wt',
  name,
  status,
  displayOrder,
  createdAt: '2026-11-23T10:00:00Z',
});

describe('order', () => {
  const list = [ag('a', 'Zed', 'idle', 0), ag('b', 'alpha', 'running', 1), ag('c', 'Mid', 'waiting', 2)];
  it('lists agents as the server does in each sort mode', () => {
    expect(sortAgents(list, 'free').map((a) => a.id)).toEqual(['a', 'b', 'c']);
    expect(sortAgents(list, 'status').map((a) => a.id)).toEqual(['b', 'c', 'a']);
    expect(sortAgents(list, 'name').map((a) => a.id)).toEqual(['b', 'c', 'a']);
  });
  it('moves a row to where it was dropped, up or down', () => {
    expect(moveBefore(['a', 'b', 'c'], 'c', 'a')).toEqual(['c', 'a', 'b']);
    expect(moveBefore(['a', 'b', 'c'], 'a', 'c')).toEqual(['b', 'c', 'a']);
    const same = ['a', 'b'];
    expect(moveBefore(same, 'a', 'x')).toBe(same);
  });
  it('keeps the main worktree first', () => {
    const wts: Worktree[] = [
      { id: 'x', workspaceId: 'w', name: 'x', displayOrder: 0 },
      { id: 'm', workspaceId: 'w', name: 'm', isMain: true, displayOrder: 5 },
    ];
    expect(sortWorktrees(wts).map((w) => w.id)).toEqual(['m', 'x']);
  });
});
