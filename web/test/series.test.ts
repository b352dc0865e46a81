import { describe, expect, it } from 'vitest';
import { align, emaDebiased, PALETTE, runColors } from '../src/series';

describe('emaDebiased', () => {
  it('starts at the first value, not pulled to zero', () => {
    const s = emaDebiased([10, 10, 10], 0.9);
    expect(s[0]).toBeCloseTo(10);
    expect(s[2]).toBeCloseTo(10);
  });
  it('weight 0 is the raw line; gaps stay gaps', () => {
    expect(emaDebiased([1, null, 3], 0)).toEqual([1, null, 3]);
  });
});

describe('align', () => {
  it('puts runs on one x axis with nulls where a run has no bucket', () => {
    const b = (x: number[], v: number[]) => ({ x, min: v, max: v, mean: v, last: v, count: v.map(() => 1) });
    const a = align([
      { runId: 'a', points: 2, buckets: b([0, 10], [1, 2]) },
      { runId: 'b', points: 2, buckets: b([10, 20], [5, 6]) },
    ]);
    expect(a.x).toEqual([0, 10, 20]);
    expect(a.cols[0].mean).toEqual([1, 2, null]);
    expect(a.cols[1].max).toEqual([null, 5, 6]);
  });
});

describe('runColors', () => {
  it("keeps each run's own colour", () => {
    expect(runColors([{ color: '#ff0000' }, { color: '#00ff00' }])).toEqual(['#ff0000', '#00ff00']);
  });
  it('falls back to the palette for a shared, missing or malformed colour', () => {
    expect(runColors([{ color: '#ff0000' }, { color: '#FF0000' }, {}, { color: 'red' }, { color: '#123456' }])).toEqual([
      PALETTE[0],
      PALETTE[1],
      PALETTE[2],
      PALETTE[3],
      '#123456',
    ]);
  });
});
