// Training-curve helpers for the Analytics view (issue #16): debiased EMA
// smoothing as TensorBoard's slider does it (the first points are not
// pulled towards zero), and the per-bucket columns of a compare answer laid
// out on one shared x axis for uPlot (null where a run has no bucket).

export function emaDebiased(ys: (number | null)[], weight: number): (number | null)[] {
  const w = Math.min(Math.max(weight, 0), 0.999);
  let last = 0;
  let n = 0;
  return ys.map((y) => {
    if (y === null || !Number.isFinite(y)) return null;
    last = last * w + (1 - w) * y;
    n++;
    const debias = w === 0 ? 1 : 1 - Math.pow(w, n);
    return last / debias;
  });
}

export type RunBuckets = {
  runId: string;
  /** the run's display name and colour (issue #35) */
  name?: string;
  color?: string;
  points: number;
  buckets: { x: number[]; min: number[]; max: number[]; mean: number[]; last: number[]; count: number[] };
};

// One x column (the union of every run's bucket starts, ascending) and per
// run its mean, min and max aligned to it.
export function align(runs: RunBuckets[]): { x: number[]; cols: { runId: string; mean: (number | null)[]; min: (number | null)[]; max: (number | null)[] }[] } {
  const xs = new Set<number>();
  for (const r of runs) for (const x of r.buckets.x) xs.add(x);
  const x = [...xs].sort((a, b) => a - b);
  const at = new Map(x.map((v, i) => [v, i]));
  const cols = runs.map((r) => {
    const mean: (number | null)[] = new Array(x.length).fill(null);
    const min: (number | null)[] = new Array(x.length).fill(null);
    const max: (number | null)[] = new Array(x.length).fill(null);
    r.buckets.x.forEach((v, i) => {
      const k = at.get(v)!;
      mean[k] = r.buckets.mean[i];
      min[k] = r.buckets.min[i];
      max[k] = r.buckets.max[i];
    });
    return { runId: r.runId, mean, min, max };
  });
  return { x, cols };
}

export type Group = { x: number[]; mean: number[]; min: number[]; max: number[]; runs: number[] };

// compare's group (its buckets a subset of the runs' x) on the shared x:
// null where no run had a point.
export function alignGroup(x: number[], g: Group): { mean: (number | null)[]; min: (number | null)[]; max: (number | null)[] } {
  const at = new Map(g.x.map((v, i) => [v, i]));
  const pick = (col: number[]) => x.map((v) => (at.has(v) ? col[at.get(v)!] : null));
  return { mean: pick(g.mean), min: pick(g.min), max: pick(g.max) };
}

// Each run's colour (issue #35): its own (GET/PATCH /api/runs/:id), unless
// it is missing, malformed or shared with another drawn run; then the
// palette's colour for its position, so two curves never look alike.
export const PALETTE = ['#4f9cff', '#ff7a59', '#3ecf8e', '#c77dff', '#ffd166', '#ef476f', '#06d6a0', '#118ab2'];
export function runColors(runs: { color?: string }[]): string[] {
  const seen = new Map<string, number>();
  for (const r of runs) if (r.color) seen.set(r.color.toLowerCase(), (seen.get(r.color.toLowerCase()) || 0) + 1);
  return runs.map((r, i) => (r.color && /^#[0-9a-fA-F]{6}$/.test(r.color) && seen.get(r.color.toLowerCase()) === 1 ? r.color : PALETTE[i % PALETTE.length]));
}
