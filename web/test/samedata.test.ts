import { describe, expect, it } from 'vitest';
import { sameData } from '../src/samedata';

describe('sameData', () => {
  const answer = () => [
    { metric: 'loss', runs: [{ runId: 'run_1', points: 3, buckets: { x: [1, 2, 3], mean: [0.5, 0.4, null], count: [1, 1, 0] } }], group: { n: 2 } },
  ];
  it('two equal answers are the same, whatever their key order', () => {
    expect(sameData(answer(), answer())).toBe(true);
    expect(sameData({ a: 1, b: [2] }, { b: [2], a: 1 })).toBe(true);
  });
  it('a new point, a changed value, a missing key or a null for a number are not', () => {
    const more = answer();
    more[0].runs[0].points = 4;
    expect(sameData(answer(), more)).toBe(false);
    const moved = answer();
    moved[0].runs[0].buckets.mean[1] = 0.41;
    expect(sameData(answer(), moved)).toBe(false);
    const noGroup: any = answer();
    delete noGroup[0].group;
    expect(sameData(answer(), noGroup)).toBe(false);
    expect(sameData(answer(), [...answer(), ...answer()])).toBe(false);
    expect(sameData([0], [null])).toBe(false);
    expect(sameData({ a: [] }, { a: {} })).toBe(false);
  });
});
