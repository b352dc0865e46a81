// Reconnect delays: exponential from `base` up to `cap`, with "equal
// jitter" (half fixed, half random) so a restarted daemon is not hit by
// every tab at once, and never a give-up: the attempt count only grows.

export interface BackoffOptions {
  base?: number; // ms for the first retry
  cap?: number; // longest delay, ms
  random?: () => number; // [0, 1), injectable for tests
}

export function backoffDelay(attempt: number, opts: BackoffOptions = {}): number {
  const base = opts.base ?? 500;
  const cap = opts.cap ?? 30000;
  const rnd = opts.random ?? Math.random;
  const n = Math.max(0, Math.min(attempt, 30));
  const ceiling = Math.min(cap, base * 2 ** n);
  const half = ceiling / 2;
  return Math.round(half + rnd() * half);
}
