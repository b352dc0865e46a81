// Pure helpers of the Analytics distributions and cards (src/dists.ts).
import { describe, expect, it } from 'vitest';
import { binValues, commonEdges, countRows, heatColumns, rebin, sharesOverTime, trendOf } from '../src/dists';

const sum = (a: number[]) => a.reduce((t, v) => t + v, 0);

describe('binValues', () => {
  it('counts every value in equal buckets, the max in the last', () => {
    const h = binValues([1, 2, 2, 3, 3, 3], 3);
    expect(h.edges[0]).toBe(1);
    expect(h.edges[3]).toBe(3);
    expect(h.counts).toEqual([1, 2, 3]);
  });
  it('puts a lone value in a bucket around it and drops non-finite ones', () => {
    expect(binValues([5, NaN, Infinity], 2)).toEqual({ edges: [4.5, 5, 5.5], counts: [0, 1] });
    expect(binValues([], 4)).toEqual({ edges: [], counts: [] });
  });
  it('bounds the buckets', () => {
    expect(binValues([0, 1], 10000).counts.length).toBe(256);
  });
});

describe('rebin and commonEdges', () => {
  it('spreads a bucket by overlap and keeps the total', () => {
    expect(rebin({ edges: [0.5, 2.5], counts: [4] }, [0, 1, 2, 3, 4])).toEqual([1, 2, 1, 0]);
    const out = rebin({ edges: [-10, -5, 10, 20], counts: [1, 2, 3] }, [0, 1, 2, 3, 4]);
    expect(sum(out)).toBeCloseTo(6, 9);
    expect(out[3]).toBeCloseTo(3 + (2 * 7) / 15, 9);
  });
  it('spans every histogram', () => {
    const e = commonEdges(
      [
        { edges: [0, 1], counts: [1] },
        { edges: [-1, 3], counts: [2] },
      ],
      4,
    );
    expect(e).toEqual([-1, 0, 1, 2, 3]);
    expect(commonEdges([], 4)).toEqual([]);
  });
});

describe('counts', () => {
  it('sorts categories by their total over every source', () => {
    const rows = countRows([
      { jump: 1, left: 3 },
      { jump: 4, shoot: 1 },
    ]);
    expect(rows.map((r) => r.name)).toEqual(['jump', 'left', 'shoot']);
    expect(rows[0].counts).toEqual([1, 4]);
    expect(rows[0].shares[0]).toBeCloseTo(0.25);
    expect(rows[0].shares[1]).toBeCloseTo(0.8);
  });
  it('gives each category its share per bucket', () => {
    expect(sharesOverTime(['a', 'b'], [{ a: 1, b: 3 }, { a: 2 }, {}])).toEqual([
      [0.25, 1, 0],
      [0.75, 0, 0],
    ]);
  });
  it('scales heat map columns to their own peak', () => {
    expect(
      heatColumns([
        [1, 2],
        [0, 0],
      ]),
    ).toEqual([
      [0.5, 1],
      [0, 0],
    ]);
  });
});

describe('trendOf', () => {
  it('says up, down or stable from the slope, with the change in percent', () => {
    const up = trendOf([1, 2, 3, 4]);
    expect(up).toEqual({ value: 4, change: ((3.5 - 1.5) / 1.5) * 100, trend: 'up' });
    expect(trendOf([4, 3, 2, 1]).trend).toBe('down');
    expect(trendOf([100, 100.5, 99.8, 100.1]).trend).toBe('stable');
  });
  it('copes with gaps, one point and none', () => {
    expect(trendOf([null, 2, null, 6]).value).toBe(6);
    expect(trendOf([3])).toEqual({ value: 3, change: null, trend: 'stable' });
    expect(trendOf([])).toEqual({ value: null, change: null, trend: 'stable' });
    expect(trendOf([0, 0, 0]).change).toBe(0);
  });
});

describe('alignGroup', () => {
  it("puts compare's group on the shared x, null where it has no bucket", async () => {
    const { alignGroup } = await import('../src/series');
    const g = { x: [0, 20], mean: [1, 3], min: [0, 2], max: [2, 4], runs: [2, 1] };
    expect(alignGroup([0, 10, 20], g)).toEqual({ mean: [1, null, 3], min: [0, null, 2], max: [2, null, 4] });
  });
});
