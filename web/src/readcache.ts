// Answers of per-run reads kept for the page's life, so that ticking one
// more run in Analytics asks for that run's reads only, not again for every
// run already drawn (issue #38: 16 runs made 48 requests, and the chart's
// own request waited behind them).
//
// A key names the read and the live counters its answer depends on
// (metricsTick, runsTick, distTick): when a counter moves, the key is new
// and the next read asks the server. A read that fails is forgotten, so the
// next one asks again. At most MAX answers are kept, the oldest dropped
// first; signing out forgets them all.

const MAX = 256;
const kept = new Map<string, Promise<unknown>>();

export function cachedRead<T>(key: string, load: () => Promise<T>): Promise<T> {
  const had = kept.get(key);
  if (had) {
    // used again: the newest in the order of eviction
    kept.delete(key);
    kept.set(key, had);
    return had as Promise<T>;
  }
  const p = load();
  kept.set(key, p);
  p.catch(() => {
    if (kept.get(key) === p) kept.delete(key);
  });
  while (kept.size > MAX) kept.delete(kept.keys().next().value as string);
  return p;
}

export function forgetReads() {
  kept.clear();
}

export function readsKept(): number {
  return kept.size;
}
