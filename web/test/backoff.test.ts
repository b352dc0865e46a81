import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/backoff';

describe('backoffDelay', () => {
  it('doubles from the base up to the cap, with half of it random', () => {
    const lo = (n: number) => backoffDelay(n, { base: 500, cap: 30000, random: () => 0 });
    const hi = (n: number) => backoffDelay(n, { base: 500, cap: 30000, random: () => 0.999999 });
    expect([0, 1, 2, 3, 4, 5, 6, 7].map(lo)).toEqual([250, 500, 1000, 2000, 4000, 8000, 15000, 15000]);
    expect([0, 1, 2, 6, 7].map(hi)).toEqual([500, 1000, 2000, 30000, 30000]);
  });
  it('never gives up and never overflows, however many attempts', () => {
    for (const n of [50, 1000, 1e9, Infinity]) {
      const d = backoffDelay(n, { random: () => 0.5 });
      expect(d).toBeGreaterThan(0);
      expect(d).toBeLessThanOrEqual(30000);
    }
  });
  it('spreads clients: different random draws give different delays', () => {
    const ds = new Set([0.1, 0.3, 0.5, 0.7, 0.9].map((r) => backoffDelay(4, { random: () => r })));
    expect(ds.size).toBe(5);
  });
});
