// Parallel coordinates and parameter importance over runs (issue #35), the
// pure parts and the canvas drawing (no Preact, so bench/parcoords.mjs
// draws with the same code): axes from the runs' config values (those that
// vary) and their metrics' final and best values; each run a polyline
// across them, coloured by the target metric; brushes on axes (a range
// each) keep the runs inside every one. Values are kept per axis in a
// Float32Array normalised to 0..1 (NaN where a run has none), and the
// lines are pixel sums a brush changes run by run (Raster), so a frame of
// 10,000 runs x 20 axes costs the runs whose state changed, not 10,000
// strokes.
//
// Importance of a parameter for the target metric: its Spearman rank
// correlation (monotone effects, with their sign) and its correlation
// ratio eta^2 over up to ten quantile bins of the parameter (or its
// categories): the share of the metric's variance the bins' means explain,
// which also catches effects that rise and fall. Both are cheap and exact;
// no random forest.

export type AxisKind = 'num' | 'cat';
export interface Axis {
  key: string;
  label: string;
  kind: AxisKind;
  /** a config field (a parameter), or a metric's figure */
  param: boolean;
  log?: boolean;
  min: number;
  max: number;
  cats?: string[];
}

export interface PcRow {
  id: string;
  config?: { values?: Record<string, unknown> } | null;
  metrics?: Record<string, { final?: number; best?: number } | null>;
}

export type Brush = { lo: number; hi: number };
export type Brushes = Record<string, Brush>;

const PARAMS_MAX = 16;
export const AXES_MAX = 20;

function raw(r: PcRow, key: string): unknown {
  if (key.startsWith('config.')) return r.config?.values?.[key.slice(7)];
  const dot = key.lastIndexOf('.');
  const m = r.metrics?.[key.slice(0, dot)];
  return m ? (m as any)[key.slice(dot + 1)] : undefined;
}

// The axes the rows make: each config field whose values differ between
// runs (numbers on a linear or log scale, anything else as categories),
// then each metric's final value and the target's best, at most AXES_MAX.
export function buildAxes(rows: PcRow[], metrics: string[], target: string): Axis[] {
  const fields = new Map<string, unknown[]>();
  for (const r of rows)
    for (const [k, v] of Object.entries(r.config?.values || {})) {
      const l = fields.get(k);
      if (l) l.push(v);
      else fields.set(k, [v]);
    }
  const axes: Axis[] = [];
  for (const [k, vals] of fields) {
    if (axes.length >= PARAMS_MAX) break;
    const distinct = new Set(vals.map((v) => JSON.stringify(v)));
    if (distinct.size < 2) continue;
    const nums = vals.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    if (nums.length === vals.length) {
      const min = Math.min(...nums);
      const max = Math.max(...nums);
      axes.push({ key: `config.${k}`, label: k, kind: 'num', param: true, min, max, log: min > 0 && max / min >= 100 });
    } else {
      const cats = [...new Set(vals.map((v) => String(v)))].sort();
      axes.push({ key: `config.${k}`, label: k, kind: 'cat', param: true, min: 0, max: cats.length - 1, cats });
    }
  }
  const figs: [string, string][] = [];
  for (const m of metrics) figs.push([`${m}.final`, `${m} final`]);
  if (target) figs.push([`${target}.best`, `${target} best`]);
  for (const [key, label] of figs) {
    if (axes.length >= AXES_MAX) break;
    let min = Infinity;
    let max = -Infinity;
    for (const r of rows) {
      const v = raw(r, key);
      if (typeof v === 'number' && Number.isFinite(v)) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
    }
    if (min === Infinity) continue;
    axes.push({ key, label, kind: 'num', param: false, min, max });
  }
  return axes;
}

/** A value of an axis on 0..1 (NaN: none). */
export function norm(a: Axis, v: unknown): number {
  if (a.kind === 'cat') {
    if (v === undefined || v === null) return NaN;
    const i = a.cats!.indexOf(String(v));
    return i < 0 ? NaN : a.cats!.length > 1 ? i / (a.cats!.length - 1) : 0.5;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) return NaN;
  if (a.max === a.min) return 0.5;
  if (a.log) return (Math.log(v) - Math.log(a.min)) / (Math.log(a.max) - Math.log(a.min));
  return (v - a.min) / (a.max - a.min);
}

/** The value at position t (0..1) of an axis, for its labels. */
export function denorm(a: Axis, t: number): number {
  if (a.log) return Math.exp(Math.log(a.min) + t * (Math.log(a.max) - Math.log(a.min)));
  return a.min + t * (a.max - a.min);
}

export function columns(rows: PcRow[], axes: Axis[]): Float32Array[] {
  return axes.map((a) => {
    const c = new Float32Array(rows.length);
    for (let i = 0; i < rows.length; i++) c[i] = norm(a, raw(rows[i], a.key));
    return c;
  });
}

// 1 where a run is inside every brush, else 0.
export function inBrushes(cols: Float32Array[], axes: Axis[], brushes: Brushes, n: number): Uint8Array {
  const keep = new Uint8Array(n).fill(1);
  axes.forEach((a, k) => {
    const b = brushes[a.key];
    if (!b) return;
    const c = cols[k];
    for (let i = 0; i < n; i++) if (keep[i] && !(c[i] >= b.lo && c[i] <= b.hi)) keep[i] = 0;
  });
  return keep;
}

export type Layout = { left: number; right: number; top: number; bottom: number; xs: number[] };

export function layout(width: number, height: number, n: number): Layout {
  const left = 40;
  const right = width - 40;
  const top = 34;
  const bottom = height - 22;
  const xs = Array.from({ length: n }, (_, i) => (n > 1 ? left + (i * (right - left)) / (n - 1) : (left + right) / 2));
  return { left, right, top, bottom, xs };
}

// Eight colours from low to high of the target (blue to red).
export const BINS = ['#3b5bdb', '#4c6ef5', '#15aabf', '#12b886', '#82c91e', '#fab005', '#fd7e14', '#f03e3e'];

export type Theme = { text: string; muted: string; faint: string; axis: string; brush: string };

/** [r, g, b, a 0..1] of "#rrggbb" or "rgb(a)(r, g, b[, a])"; grey if neither. */
export function rgba(c: string): [number, number, number, number] {
  const h = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(c.trim());
  if (h) return [parseInt(h[1], 16), parseInt(h[2], 16), parseInt(h[3], 16), 1];
  const m = /^rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*(?:,\s*([\d.]+)\s*)?\)$/i.exec(c.trim());
  if (m) return [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === undefined ? 1 : Number(m[4])];
  return [128, 128, 128, 1];
}

// The runs' lines as pixel counts (issue #35: 10,000 runs x 20 axes at a
// frame rate). Each run's polyline is rasterised (a 1-pixel DDA, no
// antialiasing) into per-pixel sums: how many lines cross a pixel in all,
// how many of the runs inside the brushes do, and the sum of those runs'
// colours. A change of brushes adds or takes away only the runs whose
// state changed (a drag moves an edge a little: a few hundred runs), then
// the sums become the image in one pass over the pixels. Dense areas are
// more opaque, so 10,000 lines read as a density. Canvas strokes of every
// line each frame cost 0.5-1.6 s at 10,000 runs on a CPU-rasterised canvas
// (measured with bench/parcoords.mjs); this costs the changed runs' pixels.
export class Raster {
  readonly w: number;
  readonly h: number;
  private total: Uint16Array;
  private cnt: Uint16Array;
  private rgb: Float32Array;
  private inside: Uint8Array;
  private color: Uint8Array; // per run: its bin's r, g, b
  private img: ImageData | null = null;
  private xs: number[];
  private top: number;
  private span: number;

  constructor(
    w: number,
    h: number,
    private axes: Axis[],
    private cols: Float32Array[],
    private n: number,
    targetCol: number,
  ) {
    this.w = Math.max(1, Math.round(w));
    this.h = Math.max(1, Math.round(h));
    const L = layout(this.w, this.h, axes.length);
    this.xs = L.xs;
    this.top = L.top;
    this.span = L.bottom - L.top;
    this.total = new Uint16Array(this.w * this.h);
    this.cnt = new Uint16Array(this.w * this.h);
    this.rgb = new Float32Array(this.w * this.h * 3);
    this.inside = new Uint8Array(n);
    this.color = new Uint8Array(n * 3);
    const bins = BINS.map(rgba);
    const tc = targetCol >= 0 ? cols[targetCol] : null;
    for (let i = 0; i < n; i++) {
      const v = tc ? tc[i] : NaN;
      const c = bins[v === v ? Math.min(BINS.length - 1, Math.floor(v * BINS.length)) : 0];
      this.color[i * 3] = c[0];
      this.color[i * 3 + 1] = c[1];
      this.color[i * 3 + 2] = c[2];
    }
    for (let i = 0; i < n; i++) this.line(i, 0);
  }

  // Adds run i's line to the total (mode 0), or to the inside sums (+1)
  // or takes it from them (-1).
  private line(i: number, mode: number) {
    const { w, h, xs, cols, axes, top, span } = this;
    const r = this.color[i * 3];
    const g = this.color[i * 3 + 1];
    const b = this.color[i * 3 + 2];
    let px = -1;
    let py = 0;
    for (let k = 0; k < axes.length; k++) {
      const v = cols[k][i];
      if (v !== v) continue; // NaN: the line passes this axis by to the next value
      const x = xs[k];
      const y = top + (1 - v) * span;
      if (px >= 0) {
        const dx = x - px;
        const dy = y - py;
        const steps = Math.max(1, Math.ceil(Math.max(Math.abs(dx), Math.abs(dy))));
        const sx = dx / steps;
        const sy = dy / steps;
        let cx = px;
        let cy = py;
        // the last pixel is the next segment's first: not counted twice
        for (let s = 0; s < steps; s++, cx += sx, cy += sy) {
          const ix = cx | 0;
          const iy = cy | 0;
          if (ix < 0 || iy < 0 || ix >= w || iy >= h) continue;
          const j = iy * w + ix;
          if (mode === 0) this.total[j]++;
          else {
            this.cnt[j] += mode;
            this.rgb[j * 3] += mode * r;
            this.rgb[j * 3 + 1] += mode * g;
            this.rgb[j * 3 + 2] += mode * b;
          }
        }
      }
      px = x;
      py = y;
    }
  }

  /** Makes the inside sums those of keep; how many runs are inside. */
  update(keep: Uint8Array): number {
    let inside = 0;
    for (let i = 0; i < this.n; i++) {
      if (keep[i]) inside++;
      if (keep[i] === this.inside[i]) continue;
      this.line(i, keep[i] ? 1 : -1);
      this.inside[i] = keep[i];
    }
    return inside;
  }

  // The sums as pixels: inside runs in their mean colour, opaque with
  // density; the rest (only while some brush hides runs) in the faint
  // colour.
  paint(ctx: CanvasRenderingContext2D, faint: string, showOut: boolean, inside: number) {
    if (!this.img || this.img.width !== this.w || this.img.height !== this.h) this.img = ctx.createImageData(this.w, this.h);
    const px = new Uint32Array(this.img.data.buffer);
    const [fr, fg, fb, fa] = rgba(faint);
    // one line alone is clearly seen; where many cross, more opaque: the
    // alpha of c lines, looked up (a pixel's count is capped at LUT - 1)
    const unit = Math.max(0.06, Math.min(0.9, 40 / Math.sqrt(Math.max(1, inside))));
    const LUT = 256;
    const aIn = new Uint32Array(LUT);
    const aOut = new Uint32Array(LUT);
    for (let c = 0; c < LUT; c++) {
      aIn[c] = (Math.min(255, (1 - Math.pow(1 - unit, c)) * 255) | 0) << 24;
      aOut[c] = ((Math.min(255, (1 - Math.pow(1 - fa, c)) * 255) | 0) << 24) | (fb << 16) | (fg << 8) | fr;
    }
    const { cnt, total, rgb } = this;
    for (let j = 0, k = 0; j < px.length; j++, k += 3) {
      const c = cnt[j];
      if (c > 0) px[j] = aIn[c < LUT ? c : LUT - 1] | ((rgb[k + 2] / c) << 16) | ((rgb[k + 1] / c) << 8) | (rgb[k] / c);
      else if (showOut && total[j] > 0) px[j] = aOut[total[j] < LUT ? total[j] : LUT - 1];
      else px[j] = 0;
    }
    ctx.putImageData(this.img, 0, 0);
  }
}

// One frame: the lines from the raster (in device pixels), then the axes,
// their labels and the brushes on top. Returns how many runs are inside.
export function draw(
  ctx: CanvasRenderingContext2D,
  raster: Raster,
  dpr: number,
  axes: Axis[],
  cols: Float32Array[],
  n: number,
  brushes: Brushes,
  t: Theme,
): number {
  const keep = inBrushes(cols, axes, brushes, n);
  const inside = raster.update(keep);
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  raster.paint(ctx, t.faint, Object.keys(brushes).length > 0, inside);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const L = layout(raster.w / dpr, raster.h / dpr, axes.length);
  const span = L.bottom - L.top;
  ctx.lineWidth = 1;
  ctx.font = '11px system-ui, sans-serif';
  ctx.textAlign = 'center';
  axes.forEach((a, k) => {
    const x = L.xs[k];
    ctx.strokeStyle = t.axis;
    ctx.beginPath();
    ctx.moveTo(x, L.top);
    ctx.lineTo(x, L.bottom);
    ctx.stroke();
    ctx.fillStyle = a.param ? t.text : t.muted;
    ctx.fillText(a.label.length > 18 ? a.label.slice(0, 17) + '…' : a.label, x, L.top - 18);
    ctx.fillStyle = t.muted;
    if (a.kind === 'cat') {
      a.cats!.forEach((c, i) => ctx.fillText(c.slice(0, 12), x, L.bottom - (a.cats!.length > 1 ? i / (a.cats!.length - 1) : 0.5) * span + 4));
    } else {
      ctx.fillText(fmtTick(denorm(a, 1)), x, L.top - 5);
      ctx.fillText(fmtTick(denorm(a, 0)), x, L.bottom + 14);
    }
    const b = brushes[a.key];
    if (b) {
      ctx.fillStyle = t.brush;
      ctx.fillRect(x - 7, L.bottom - b.hi * span, 14, Math.max(2, (b.hi - b.lo) * span));
    }
  });
  return inside;
}

export function fmtTick(v: number): string {
  if (!Number.isFinite(v)) return '';
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(1).replace('.0e', 'e');
  return String(Number(v.toPrecision(3)));
}

// ---- parameter importance ----------------------------------------------------

function ranks(v: number[]): number[] {
  const idx = v.map((_, i) => i).sort((a, b) => v[a] - v[b]);
  const r = new Array(v.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && v[idx[j + 1]] === v[idx[i]]) j++;
    for (let k = i; k <= j; k++) r[idx[k]] = (i + j) / 2; // ties share their mean rank
    i = j + 1;
  }
  return r;
}

// Whether a sum of squared deviations is only rounding (values that are
// all equal, as 0.1 three times, leave about 1e-33 behind).
function flat(ss: number, mean: number, n: number): boolean {
  return !(ss > 1e-12 * n * Math.max(mean * mean, 1e-300));
}

function pearson(x: number[], y: number[]): number | null {
  const n = x.length;
  if (n < 3) return null;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return flat(sxx, mx, n) || flat(syy, my, n) ? null : sxy / Math.sqrt(sxx * syy);
}

export function spearman(x: number[], y: number[]): number | null {
  return pearson(ranks(x), ranks(y));
}

// eta^2: the share of y's variance that the means of y per group explain.
export function etaSquared(groups: number[], y: number[]): number | null {
  const n = y.length;
  if (n < 3) return null;
  const mean = y.reduce((s, v) => s + v, 0) / n;
  const sum = new Map<number, [number, number]>();
  for (let i = 0; i < n; i++) {
    const s = sum.get(groups[i]) || [0, 0];
    s[0] += y[i];
    s[1]++;
    sum.set(groups[i], s);
  }
  if (sum.size < 2) return null;
  let between = 0;
  for (const [s, c] of sum.values()) between += c * (s / c - mean) ** 2;
  let total = 0;
  for (const v of y) total += (v - mean) ** 2;
  return flat(total, mean, n) ? null : Math.min(1, between / total);
}

export type Importance = { key: string; label: string; importance: number | null; correlation: number | null; runs: number };

export function importance(rows: PcRow[], axes: Axis[], target: string): Importance[] {
  const out: Importance[] = [];
  for (const a of axes) {
    if (!a.param) continue;
    const x: number[] = [];
    const y: number[] = [];
    for (const r of rows) {
      const t = raw(r, `${target}.final`);
      const v = norm(a, raw(r, a.key)); // a log axis ranks and bins on its log
      if (typeof t !== 'number' || !Number.isFinite(t) || v !== v) continue;
      x.push(v);
      y.push(t);
    }
    let groups: number[];
    if (a.kind === 'cat') groups = x.map((v) => Math.round(v * 1000));
    else {
      const k = Math.max(2, Math.min(10, Math.floor(Math.sqrt(x.length))));
      const r = ranks(x);
      groups = r.map((v) => Math.min(k - 1, Math.floor((v / Math.max(1, x.length)) * k)));
    }
    out.push({ key: a.key, label: a.label, importance: etaSquared(groups, y), correlation: a.kind === 'num' ? spearman(x, y) : null, runs: x.length });
  }
  return out.sort((p, q) => (q.importance ?? -1) - (p.importance ?? -1));
}
