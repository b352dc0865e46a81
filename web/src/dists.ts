// Pure helpers for the Analytics view's distributions and cards (issue #16):
// binning raw values and moving a histogram onto other edges (the same
// rules as the daemon's src/tsdb/hist.c: a bucket's count is spread over
// the buckets it overlaps by length), common edges for several runs'
// histograms, counts as sorted rows and as shares over time, a heat map's
// cells, and a figure's change and trend over its recent curve.

export type Hist = { edges: number[]; counts: number[] };

// Equal buckets over [min, max] (one bucket around a lone value); the max
// falls in the last bucket. Non-finite values are left out.
export function binValues(values: number[], bins: number): Hist {
  const v = values.filter((x) => Number.isFinite(x));
  const n = Math.max(1, Math.min(256, Math.floor(bins) || 1));
  if (v.length === 0) return { edges: [], counts: [] };
  let lo = Math.min(...v);
  let hi = Math.max(...v);
  if (!(hi > lo)) {
    lo -= 0.5;
    hi += 0.5;
  }
  const w = (hi - lo) / n;
  const edges = Array.from({ length: n + 1 }, (_, i) => (i === n ? hi : lo + w * i));
  const counts = new Array(n).fill(0);
  for (const x of v) counts[Math.min(n - 1, Math.max(0, Math.floor((x - lo) / w)))]++;
  return { edges, counts };
}

// Equal edges over the outer edges of every histogram given.
export function commonEdges(hs: Hist[], bins: number): number[] {
  const all = hs.filter((h) => h.edges.length > 1);
  if (all.length === 0) return [];
  let lo = Math.min(...all.map((h) => h.edges[0]));
  let hi = Math.max(...all.map((h) => h.edges[h.edges.length - 1]));
  if (!(hi > lo)) {
    lo -= 0.5;
    hi += 0.5;
  }
  const n = Math.max(1, Math.floor(bins));
  return Array.from({ length: n + 1 }, (_, i) => (i === n ? hi : lo + ((hi - lo) * i) / n));
}

// h's counts on equal edges `to` (what falls outside goes to the first or
// last bucket); the total is kept.
export function rebin(h: Hist, to: number[]): number[] {
  const m = to.length - 1;
  const out = new Array(Math.max(0, m)).fill(0);
  if (m < 1) return out;
  const lo = to[0];
  const w = (to[m] - lo) / m || 1;
  const binOf = (x: number) => Math.min(m - 1, Math.max(0, Math.floor((x - lo) / w)));
  h.counts.forEach((c, i) => {
    const a = h.edges[i];
    const b = h.edges[i + 1];
    if (!c) return;
    const ka = binOf(a);
    const kb = binOf(b);
    if (!(b > a) || ka === kb) {
      out[ka] += c;
      return;
    }
    for (let k = ka; k <= kb; k++) {
      const l = k === 0 ? -Infinity : lo + w * k;
      const r = k === m - 1 ? Infinity : lo + w * (k + 1);
      const ov = Math.min(b, r) - Math.max(a, l);
      if (ov > 0) out[k] += (c * ov) / (b - a);
    }
  });
  return out;
}

// The categories of one or several counts, most counted (over all) first,
// each with its count per source and share of that source's total.
export function countRows(cs: Record<string, number>[]): { name: string; counts: number[]; shares: number[] }[] {
  const totals = cs.map((c) => Object.values(c).reduce((t, v) => t + (Number(v) || 0), 0));
  const names = new Map<string, number>();
  for (const c of cs) for (const [k, v] of Object.entries(c)) names.set(k, (names.get(k) || 0) + (Number(v) || 0));
  return [...names.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([name]) => {
      const counts = cs.map((c) => Number(c[name]) || 0);
      return { name, counts, shares: counts.map((v, i) => (totals[i] > 0 ? v / totals[i] : 0)) };
    });
}

// Over-time counts (one object per bucket) as each category's share of its
// bucket's total, one column per category.
export function sharesOverTime(categories: string[], counts: Record<string, number>[]): number[][] {
  return categories.map((cat) =>
    counts.map((c) => {
      const t = Object.values(c).reduce((s, v) => s + (Number(v) || 0), 0);
      return t > 0 ? (Number(c[cat]) || 0) / t : 0;
    }),
  );
}

// A heat map's intensities: each column (a step bucket's histogram) scaled
// to its own largest count, so a column with few steps is as readable as
// a full one.
export function heatColumns(counts: number[][]): number[][] {
  return counts.map((row) => {
    const top = Math.max(0, ...row);
    return row.map((c) => (top > 0 ? c / top : 0));
  });
}

export type Trend = { value: number | null; change: number | null; trend: 'up' | 'down' | 'stable' };

// A figure from its recent curve (bucket means, oldest first): the latest
// value, its change in percent from the first half's mean to the second
// half's, and the trend: up or down when the least-squares slope moves the
// figure by more than `tol` (a fraction of its level) over the curve, else
// stable.
export function trendOf(ys: (number | null)[], tol = 0.02): Trend {
  const pts = ys.map((y, i) => [i, y] as const).filter((p): p is readonly [number, number] => p[1] !== null && Number.isFinite(p[1]));
  if (pts.length === 0) return { value: null, change: null, trend: 'stable' };
  const value = pts[pts.length - 1][1];
  if (pts.length < 2) return { value, change: null, trend: 'stable' };
  const half = Math.floor(pts.length / 2);
  const mean = (a: readonly (readonly [number, number])[]) => a.reduce((t, p) => t + p[1], 0) / a.length;
  const before = mean(pts.slice(0, half));
  const after = mean(pts.slice(half));
  const change = before !== 0 ? ((after - before) / Math.abs(before)) * 100 : after === 0 ? 0 : null;
  const mx = mean(pts.map((p) => [p[0], p[0]] as const));
  const my = mean(pts);
  let num = 0;
  let den = 0;
  for (const [x, y] of pts) {
    num += (x - mx) * (y - my);
    den += (x - mx) * (x - mx);
  }
  const slope = den > 0 ? num / den : 0;
  const moved = slope * (pts[pts.length - 1][0] - pts[0][0]);
  const level = Math.max(Math.abs(my), Math.max(...pts.map((p) => Math.abs(p[1]))) * 1e-9, 1e-12);
  const trend = Math.abs(moved) <= tol * level ? 'stable' : moved > 0 ? 'up' : 'down';
  return { value, change, trend };
}
