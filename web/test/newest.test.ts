import { describe, expect, it } from 'vitest';
import { newest } from '../src/newest';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}
const settle = () => new Promise((r) => setTimeout(r, 0));

describe('newest', () => {
  it('keeps the answer of the read started last when an older one comes after it', async () => {
    const take = newest();
    const got: string[] = [];
    const desc = deferred<string>();
    const asc = deferred<string>();
    take(desc.promise, (v) => got.push(v));
    take(asc.promise, (v) => got.push(v));
    asc.resolve('asc');
    await settle();
    desc.resolve('desc');
    await settle();
    expect(got).toEqual(['asc']);
  });
  it('takes answers that come in order, and an error only of the newest read', async () => {
    const take = newest();
    const got: string[] = [];
    const errs: unknown[] = [];
    take(Promise.resolve('one'), (v) => got.push(v));
    await settle();
    const old = deferred<string>();
    take(
      old.promise,
      (v) => got.push(v),
      (e) => errs.push(e),
    );
    take(
      Promise.reject(new Error('down')),
      (v) => got.push(v),
      (e) => errs.push((e as Error).message),
    );
    await settle();
    old.reject(new Error('late'));
    await settle();
    expect(got).toEqual(['one']);
    expect(errs).toEqual(['down']);
  });
});
