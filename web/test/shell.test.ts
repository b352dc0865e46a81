import { describe, expect, it } from 'vitest';
import { COLLAPSED_KEY, loadCollapsed, pageOf, PAGES, setCollapsed, sidebarCollapsed } from '../src/shell';
import { parseRoute } from '../src/router';

function mem() {
  const m = new Map<string, string>();
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), m };
}

describe('the frame', () => {
  it('every route is under one of the pages of the top bar (the phone menu lists them all)', () => {
    const keys = new Set(PAGES.map((p) => p.key));
    for (const h of [
      '#/',
      '#/agents',
      '#/agents/a1',
      '#/grid',
      '#/crews/c',
      '#/chats',
      '#/projects/p',
      '#/definitions/x',
      '#/analytics',
      '#/health',
      '#/nodes',
      '#/routines',
      '#/routines/rt_1',
      '#/sessions',
      '#/settings',
    ])
      expect(keys.has(pageOf(parseRoute(h))), h).toBe(true);
    expect(pageOf(parseRoute('#/agents/a1'))).toBe('agents');
    expect(pageOf(parseRoute('#/projects'))).toBe('chats');
    expect(parseRoute('#/runs/run_abc')).toEqual({ page: 'run', id: 'run_abc' });
    expect(pageOf(parseRoute('#/runs/run_abc'))).toBe('analytics');
    expect(parseRoute('#/routines/rt_1')).toEqual({ page: 'routines', id: 'rt_1' });
    for (const p of PAGES) expect(pageOf(parseRoute(p.href))).toBe(p.key);
  });

  it('the folded sidebar is remembered, open by default', () => {
    const s = mem();
    expect(loadCollapsed(s)).toBe(false);
    setCollapsed(true, s);
    expect(sidebarCollapsed.value).toBe(true);
    expect(s.m.get(COLLAPSED_KEY)).toBe('1');
    expect(loadCollapsed(s)).toBe(true);
    setCollapsed(false, s);
    expect(loadCollapsed(s)).toBe(false);
  });
});
