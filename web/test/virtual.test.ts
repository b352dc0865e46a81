import { describe, expect, it } from 'vitest';
import { computeOffsets, indexAt, pruneHeights, visibleRange } from '../src/virtual';

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
  it('forgets the heights of rows the list no longer has, in a bounded map', () => {
    // an open transcript: each output line a row, live-<seq>, until the
    // oldest leave (stored, or past the page's bound); their heights go too
    const heights = new Map<string, number>();
    let rows: string[] = [];
    for (let seq = 1; seq <= 10000; seq++) {
      rows.push(`live-${seq}`);
      if (rows.length > 2000) rows = rows.slice(rows.length - 2000);
      heights.set(`live-${seq}`, 20);
      pruneHeights(heights, rows.length, (i) => rows[i], 256);
      expect(heights.size).toBeLessThanOrEqual(rows.length + 256);
    }
    // the rows the list has keep their heights
    for (const k of rows) expect(heights.get(k)).toBe(20);
    expect(heights.has('live-1')).toBe(false);
  });
  it('leaves a map within its slack alone', () => {
    const heights = new Map([
      ['a', 1],
      ['gone', 2],
    ]);
    expect(pruneHeights(heights, 1, () => 'a', 1)).toBe(0);
    expect(heights.size).toBe(2);
    expect(pruneHeights(heights, 1, () => 'a', 0)).toBe(1);
    expect([...heights.keys()]).toEqual(['a']);
  });
});
