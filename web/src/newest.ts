// Reads that a change of what is shown starts again (a sort, a filter, a
// tick of new runs) can be answered out of order: the server answers two
// requests on two connections in whichever order it finishes them. A
// guard from newest() takes only the answer of the read started last; an
// older one that comes after it is dropped, so it cannot put back what the
// user has just changed.
export type Take = <T>(p: Promise<T>, ok: (v: T) => void, fail?: (e: unknown) => void) => void;

export function newest(): Take {
  let gen = 0;
  return (p, ok, fail) => {
    const g = ++gen;
    p.then(
      (v) => g === gen && ok(v),
      (e) => g === gen && fail?.(e),
    );
  };
}
