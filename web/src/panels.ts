// The training workspace's panels (issue #35), the pure parts: what a panel
// is (its metrics, its runs, its x axis, its smoothing), the default
// workspace (one panel per metric the runs have, the most recently updated
// first), a layout read back from the server checked field by field, and
// the relative-time x axis (each run's wall time less its start, put on one
// grid of buckets so runs started hours apart overlay, with the group's
// mean and min/max band computed on that grid).
import type { RunBuckets } from './series';

export type XAxis = 'step' | 'time' | 'relative';
export const X_AXES: XAxis[] = ['step', 'time', 'relative'];
export const X_LABEL: Record<XAxis, string> = { step: 'step', time: 'wall time', relative: 'relative time' };

export interface Panel {
  id: string;
  title?: string;
  /** 1 to METRICS_MAX metric names, drawn on one chart (one y scale each) */
  metrics: string[];
  /** null: the runs picked in the runs list; else these runs */
  runs: string[] | null;
  x: XAxis;
  smooth: number;
  log: boolean;
  group: boolean;
}
export interface Layout {
  panels: Panel[];
}

export const PANELS_MAX = 24;
export const METRICS_MAX = 8;
export const PANEL_RUNS_MAX = 16;
export const DEFAULT_PANELS = 6;

let seq = 0;
export function panelId(): string {
  seq = (seq + 1) % 1e6;
  return `p${Date.now().toString(36)}${seq.toString(36)}`;
}

export function newPanel(metrics: string[], over: Partial<Panel> = {}): Panel {
  return { id: panelId(), metrics: metrics.slice(0, METRICS_MAX), runs: null, x: 'step', smooth: 0.6, log: false, group: true, ...over };
}

export type SeriesInfo = { name: string; lastTimeMs?: number | null; count?: number };

// Every metric the runs have, the most recently updated first (a metric's
// time is the newest last point over the runs); ties by name.
export function metricsByRecency(series: Record<string, SeriesInfo[] | undefined>): string[] {
  const last = new Map<string, number>();
  for (const list of Object.values(series))
    for (const s of list || []) {
      const t = typeof s.lastTimeMs === 'number' ? s.lastTimeMs : 0;
      if (!last.has(s.name) || t > last.get(s.name)!) last.set(s.name, t);
    }
  return [...last.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([n]) => n);
}

export function defaultPanels(series: Record<string, SeriesInfo[] | undefined>, max = DEFAULT_PANELS): Panel[] {
  return metricsByRecency(series)
    .slice(0, max)
    .map((m, i) => ({ ...newPanel([m]), id: `auto-${i}-${m}` }));
}

// 1 to 200 characters, none a control character (the server's rule)
const nameOk = (m: string) => m.length >= 1 && m.length <= 200 && ![...m].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);

// A layout as the server keeps it, taken only where every field is what a
// panel may hold (a newer page's extra fields are dropped); null if it is
// not a layout at all.
export function sanitizeLayout(x: unknown): Layout | null {
  if (!x || typeof x !== 'object' || !Array.isArray((x as any).panels)) return null;
  const panels: Panel[] = [];
  for (const p of (x as any).panels.slice(0, PANELS_MAX)) {
    if (!p || typeof p !== 'object') continue;
    const metrics = Array.isArray(p.metrics) ? p.metrics.filter((m: unknown) => typeof m === 'string' && nameOk(m)).slice(0, METRICS_MAX) : [];
    if (metrics.length === 0) continue;
    const runs = Array.isArray(p.runs) ? p.runs.filter((r: unknown) => typeof r === 'string' && /^run_[0-9a-z]{1,60}$/.test(r)).slice(0, PANEL_RUNS_MAX) : null;
    panels.push({
      id: typeof p.id === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(p.id) ? p.id : panelId(),
      title: typeof p.title === 'string' && p.title.length <= 200 ? p.title : undefined,
      metrics,
      runs: runs && runs.length ? runs : null,
      x: X_AXES.includes(p.x) ? p.x : 'step',
      smooth: typeof p.smooth === 'number' && p.smooth >= 0 && p.smooth < 1 ? p.smooth : 0.6,
      log: p.log === true,
      group: p.group !== false,
    });
  }
  return { panels };
}

// What the server keeps of a panel: no undefined fields.
export function layoutBody(l: Layout): Layout {
  return { panels: l.panels.map((p) => ({ ...p, title: p.title || undefined })).map((p) => JSON.parse(JSON.stringify(p))) };
}

export type Grid = { x: number[]; runs: { runId: string; mean: (number | null)[]; min: (number | null)[]; max: (number | null)[] }[] };

// Relative time: each run's buckets (x in wall ms) less the run's start,
// averaged into n equal buckets over [0, the longest run]; x in ms.
export function relativeGrid(runs: RunBuckets[], startMs: Record<string, number | undefined>, n = 300): Grid {
  let end = 0;
  const shifted = runs.map((r) => {
    const s0 = startMs[r.runId] ?? r.buckets.x[0] ?? 0;
    const xs = r.buckets.x.map((v) => Math.max(0, v - s0));
    for (const v of xs) if (v > end) end = v;
    return { r, xs };
  });
  const width = end > 0 ? end / n : 1;
  const k = end > 0 ? n + 1 : 1;
  const x = Array.from({ length: k }, (_, i) => Math.round(i * width));
  return {
    x,
    runs: shifted.map(({ r, xs }) => {
      const sum = new Array(k).fill(0);
      const cnt = new Array(k).fill(0);
      const min: (number | null)[] = new Array(k).fill(null);
      const max: (number | null)[] = new Array(k).fill(null);
      xs.forEach((v, i) => {
        const b = Math.min(k - 1, Math.floor(v / width));
        const m = r.buckets.mean[i];
        if (!Number.isFinite(m)) return;
        sum[b] += m;
        cnt[b]++;
        const lo = r.buckets.min[i];
        const hi = r.buckets.max[i];
        if (min[b] === null || lo < min[b]!) min[b] = lo;
        if (max[b] === null || hi > max[b]!) max[b] = hi;
      });
      return { runId: r.runId, mean: sum.map((s, i) => (cnt[i] ? s / cnt[i] : null)), min, max };
    }),
  };
}

// The group of a grid's runs: per bucket the mean of the runs' means with
// the lowest min and the highest max (as compare's group on the server).
export function gridGroup(g: Grid): { mean: (number | null)[]; min: (number | null)[]; max: (number | null)[] } {
  const mean: (number | null)[] = [];
  const min: (number | null)[] = [];
  const max: (number | null)[] = [];
  for (let i = 0; i < g.x.length; i++) {
    let s = 0;
    let n = 0;
    let lo: number | null = null;
    let hi: number | null = null;
    for (const r of g.runs) {
      const v = r.mean[i];
      if (v === null) continue;
      s += v;
      n++;
      if (r.min[i] !== null && (lo === null || r.min[i]! < lo)) lo = r.min[i];
      if (r.max[i] !== null && (hi === null || r.max[i]! > hi)) hi = r.max[i];
    }
    mean.push(n ? s / n : null);
    min.push(lo);
    max.push(hi);
  }
  return { mean, min, max };
}

/** "1h 02m", "3m 20s", "45s" for a relative-time axis. */
export function fmtRelative(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
