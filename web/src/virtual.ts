// Windowing for long lists with rows of varying height: heights measured
// once rendered, estimated before; only rows that intersect the viewport
// (plus an overscan) are rendered, so 10,000 messages cost what 30 do.

export interface Window {
  start: number; // first row index to render
  end: number; // one past the last
  offsets: Float64Array; // top of each row; offsets[n] = total height
}

export function computeOffsets(n: number, heightOf: (i: number) => number): Float64Array {
  const off = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) off[i + 1] = off[i] + heightOf(i);
  return off;
}

// First index whose bottom is below y (binary search over offsets).
export function indexAt(off: Float64Array, y: number): number {
  const n = off.length - 1;
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (off[mid + 1] <= y) lo = mid + 1;
    else hi = mid;
  }
  return Math.min(lo, Math.max(0, n - 1));
}

export function visibleRange(off: Float64Array, scrollTop: number, viewport: number, overscan = 6): { start: number; end: number } {
  const n = off.length - 1;
  if (n <= 0) return { start: 0, end: 0 };
  const first = indexAt(off, Math.max(0, scrollTop));
  const last = indexAt(off, scrollTop + viewport);
  return { start: Math.max(0, first - overscan), end: Math.min(n, last + 1 + overscan) };
}

// Drops the measured heights of rows a list no longer has. A transcript's
// live output line is a row of its own (live-<seq>) until it leaves the
// page's live chunks (past their bound, or found in fetched messages):
// without this the map gained a key for every line an open page was shown
// (bench/heap.mjs). Only once the map
// holds `slack` more entries than the list has rows, so the scan is paid
// once in a while, not on every change. Returns how many went.
export function pruneHeights(heights: Map<string, number>, n: number, keyAt: (i: number) => string, slack = 256): number {
  if (heights.size <= n + slack) return 0;
  const keep = new Set<string>();
  for (let i = 0; i < n; i++) keep.add(keyAt(i));
  let gone = 0;
  for (const k of heights.keys())
    if (!keep.has(k)) {
      heights.delete(k);
      gone++;
    }
  return gone;
}
