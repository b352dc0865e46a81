import { beforeEach, describe, expect, it } from 'vitest';
import { cachedRead, forgetReads, readsKept } from '../src/readcache';

describe('cachedRead', () => {
  beforeEach(forgetReads);

  it('asks once per key and gives every caller the same answer', async () => {
    let asked = 0;
    const load = () => Promise.resolve(++asked);
    expect(await cachedRead('series|run_a|r0m0', load)).toBe(1);
    expect(await cachedRead('series|run_a|r0m0', load)).toBe(1);
    expect(await cachedRead('series|run_b|r0m0', load)).toBe(2);
    // a live counter moved: a new key, asked again
    expect(await cachedRead('series|run_a|r0m1', load)).toBe(3);
    expect(asked).toBe(3);
  });

  it('forgets a read that failed, so the next one asks again', async () => {
    let asked = 0;
    const failing = () => (++asked, Promise.reject(new Error('503')));
    await expect(cachedRead('dists|run_a|d0', failing)).rejects.toThrow('503');
    await Promise.resolve();
    expect(await cachedRead('dists|run_a|d0', () => Promise.resolve('ok'))).toBe('ok');
    expect(asked).toBe(1);
  });

  it('keeps at most 256 answers, dropping the least recently used', async () => {
    for (let i = 0; i < 256; i++) await cachedRead(`k${i}`, () => Promise.resolve(i));
    await cachedRead('k0', () => Promise.resolve(-1)); // used again: kept
    await cachedRead('k256', () => Promise.resolve(256));
    expect(readsKept()).toBe(256);
    expect(await cachedRead('k0', () => Promise.resolve(-1))).toBe(0);
    expect(await cachedRead('k1', () => Promise.resolve(-1))).toBe(-1); // k1 was the oldest
  });

  it('forgets everything on sign-out', async () => {
    await cachedRead('a', () => Promise.resolve(1));
    forgetReads();
    expect(readsKept()).toBe(0);
    expect(await cachedRead('a', () => Promise.resolve(2))).toBe(2);
  });
});
