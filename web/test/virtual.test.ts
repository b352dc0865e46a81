import { describe, expect, it } from 'vitest';
import { computeOffsets, indexAt, visibleRange } from '../src/virtual';

describe('virtual window', () => {
  it('renders only the rows in view for a 10,000-row transcript', () => {
    const off = computeOffsets(10000, (i) => (i % 7 === 0 ? 200 : 60));
    const total = off[10000];
    for (const top of [0, total / 2, total - 700]) {
      const { start, end } = visibleRange(off, top, 700, 6);
      expect(end - start).toBeLessThan(40);
      expect(off[start]).toBeLessThanOrEqual(top);
      expect(off[end]).toBeGreaterThanOrEqual(Math.min(total, top + 700));
    }
  });
  it('finds the row under a y position', () => {
    const off = computeOffsets(3, () => 10);
    expect([0, 9.9, 10, 25, 29, 1000].map((y) => indexAt(off, y))).toEqual([0, 0, 1, 2, 2, 2]);
  });
  it('handles an empty list', () => {
    expect(
      visibleRange(
        computeOffsets(0, () => 1),
        0,
        500,
      ),
    ).toEqual({ start: 0, end: 0 });
  });
});
