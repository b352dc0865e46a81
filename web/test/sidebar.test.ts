import { describe, expect, it } from 'vitest';
import { counts, sidebarTree } from '../src/ui/useSidebar';

const ag = (id: string, worktreeId: string, status: string, extra: Record<string, unknown> = {}) => ({ id, name: id, worktreeId, status, ...extra }) as any;

describe('the sidebar tree', () => {
  it('groups agents under their worktree and workspace, archived ones left out', () => {
    const wss = [
      { id: 'ws1', name: 'one', path: '/a' },
      { id: 'ws2', name: 'two', path: '/b' },
    ] as any[];
    const wts = [
      { id: 'wt1', workspaceId: 'ws1', name: 'main' },
      { id: 'wt2', workspaceId: 'ws1', name: 'feat' },
      { id: 'wt3', workspaceId: 'ws2', name: 'main' },
    ] as any[];
    const agents = [ag('a', 'wt1', 'running'), ag('b', 'wt2', 'waiting'), ag('c', 'wt2', 'idle', { deletedAt: '2026-01-01' }), ag('d', 'wt9', 'idle')];
    const t = sidebarTree(wss, wts, agents);
    expect(t.map((x) => x.ws.id)).toEqual(['ws1', 'ws2']);
    expect(t[0].worktrees.map((w) => [w.wt.id, w.agents.map((a) => a.id)])).toEqual([
      ['wt1', ['a']],
      ['wt2', ['b']],
    ]);
    expect(t[0].agents.map((a) => a.id)).toEqual(['a', 'b']);
    expect(t[1].agents).toEqual([]);
  });

  it('counts running, needing the user (not a turn done) and failed', () => {
    const c = counts([
      ag('a', 'w', 'running'),
      ag('b', 'w', 'waiting', { reason: 'approval' }),
      ag('c', 'w', 'waiting', { reason: 'turn' }),
      ag('d', 'w', 'error'),
      ag('e', 'w', 'error', { deletedAt: 'x' }),
    ]);
    expect(c).toEqual({ running: 1, waiting: 1, error: 1 });
  });
});
