// Parallel coordinates and parameter importance over runs (issue #35),
// part of the Training chunk: every run with metrics of the workspace
// shown (read from the runs table in pages of 500, up to 10,000), an axis
// per config field that varies and per metric's final value (and the
// target's best), drawn on a canvas by parcoords.ts. Drag along an axis to
// brush a range (again to move it, a click on the axis clears it): the
// runs list shows only the runs inside every brush. Below, each
// parameter's importance for the target metric (eta^2 over its bins, and
// its rank correlation).
import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { api } from '../api';
import { buildAxes, columns, draw, importance, inBrushes, layout, Raster, type Axis, type Brushes, type PcRow } from '../parcoords';
import { listQuery, type RunFilter } from '../runlist';
import { runsTick } from '../store';
import { cssVar } from './chartkit';
import { errText } from './common';
import { useThrottled } from './useThrottled';

const PAGE = 500;
const RUNS_MAX = 10000;
const HEIGHT = 300;
const METRICS = 4;
const RELOAD_MS = 5000;
// metrics whose best is their lowest value (the runs table's ":min")
const LOWER = /loss|error|err$|regret|perplexity|latency/i;

async function allRuns(f: RunFilter, metrics: string[]): Promise<{ rows: PcRow[]; total: number }> {
  const rows: PcRow[] = [];
  let total = 0;
  for (let off = 0; off < RUNS_MAX; off += PAGE) {
    const d: any = await api.runTable(listQuery({ ...f, all: false }, PAGE, off, metrics.map((m) => (LOWER.test(m) ? `${m}:min` : m)).join(',')));
    total = d.total ?? 0;
    rows.push(...(d.runs || []));
    if ((d.runs || []).length < PAGE) break;
  }
  return { rows, total };
}

export function ParCoords({ filter, metricNames, onVisible }: { filter: RunFilter; metricNames: string[]; onVisible: (ids: Set<string> | null) => void }) {
  const data = useSignal<{ rows: PcRow[]; total: number } | null>(null);
  const err = useSignal<string | null>(null);
  const target = useSignal('');
  const brushes = useSignal<Brushes>({});
  const inside = useSignal(0);
  const canvas = useRef<HTMLCanvasElement>(null);
  const drag = useRef<{ key: string; from: number; moved: boolean } | null>(null);
  // the list follows the brushes once a drag ends, not at every move
  const dragging = useSignal(false);
  const metrics = metricNames.slice(0, METRICS);
  const tgt = metrics.includes(target.value) ? target.value : metrics[0] || '';
  const key = `${listQuery(filter)}|${metrics.join(',')}`;

  const gen = useRef(0);
  const load = () => {
    if (metrics.length === 0) return;
    const g = ++gen.current;
    allRuns(filter, metrics)
      .then((d) => {
        if (g !== gen.current) return;
        err.value = null;
        data.value = d;
      })
      .catch((e) => g === gen.current && (err.value = errText(e)));
  };
  useEffect(load, [key]);
  // runs that start and end change the picture: read again, at most every
  // RELOAD_MS (up to 20 pages at 10,000 runs)
  useThrottled(runsTick.value, RELOAD_MS, load);
  useEffect(() => () => void gen.current++, []);

  const rows = data.value?.rows || [];
  const axes: Axis[] = data.value ? buildAxes(rows, metrics, tgt) : [];
  const cols = useRef<{ key: string; cols: Float32Array[] }>({ key: '', cols: [] });
  const colKey = `${axes.map((a) => a.key).join(',')}|${rows.length}|${data.value ? 1 : 0}`;
  if (cols.current.key !== colKey || cols.current.cols.length !== axes.length) cols.current = { key: colKey, cols: columns(rows, axes) };

  // the brushes say which runs the list shows
  useEffect(() => {
    if (dragging.value) return;
    const live = Object.keys(brushes.value).filter((k) => axes.some((a) => a.key === k));
    if (live.length === 0) return onVisible(null);
    const keep = inBrushes(cols.current.cols, axes, brushes.value, rows.length);
    const ids = new Set<string>();
    rows.forEach((r, i) => keep[i] && ids.add(r.id));
    onVisible(ids);
  }, [brushes.value, colKey, dragging.value]);
  useEffect(() => () => onVisible(null), []);

  // draw on the next frame after any change; the raster is made again
  // when the runs, the axes, the target or the canvas size change
  const frame = useRef<number | null>(null);
  const raster = useRef<{ key: string; r: Raster } | null>(null);
  useEffect(() => {
    const c = canvas.current;
    if (!c || axes.length === 0) return;
    if (frame.current !== null) cancelAnimationFrame(frame.current);
    frame.current = requestAnimationFrame(() => {
      frame.current = null;
      const w = c.clientWidth || 800;
      const dpr = window.devicePixelRatio || 1;
      if (c.width !== Math.round(w * dpr) || c.height !== Math.round(HEIGHT * dpr)) {
        c.width = Math.round(w * dpr);
        c.height = Math.round(HEIGHT * dpr);
      }
      const ctx = c.getContext('2d');
      if (!ctx) return;
      const t = axes.findIndex((a) => a.key === `${tgt}.final`);
      const rk = `${colKey}|${tgt}|${c.width}x${c.height}`;
      if (!raster.current || raster.current.key !== rk) raster.current = { key: rk, r: new Raster(c.width, c.height, axes, cols.current.cols, rows.length, t) };
      const theme = {
        text: cssVar('--text', '#e4e8f6'),
        muted: cssVar('--muted', '#8d96b3'),
        faint: cssVar('--pc-faint', 'rgba(141, 150, 179, 0.12)'),
        axis: cssVar('--border-strong', 'rgba(148, 163, 255, 0.28)'),
        brush: cssVar('--pc-brush', 'rgba(124, 140, 255, 0.35)'),
      };
      inside.value = draw(ctx, raster.current.r, dpr, axes, cols.current.cols, rows.length, brushes.value, theme);
    });
  }, [colKey, brushes.value, tgt]);

  // brushing: the axis under the pointer, and the pointer's height on 0..1
  const at = (e: MouseEvent) => {
    const c = canvas.current!;
    const r = c.getBoundingClientRect();
    const L = layout(c.clientWidth || r.width, HEIGHT, axes.length);
    const x = e.clientX - r.left;
    const y = e.clientY - r.top;
    let k = -1;
    L.xs.forEach((ax, i) => Math.abs(ax - x) <= 14 && (k = i));
    const v = Math.max(0, Math.min(1, (L.bottom - y) / (L.bottom - L.top)));
    return { k, v };
  };
  const down = (e: MouseEvent) => {
    const { k, v } = at(e);
    if (k < 0) return;
    e.preventDefault();
    drag.current = { key: axes[k].key, from: v, moved: false };
    dragging.value = true;
  };
  const move = (e: MouseEvent) => {
    const d = drag.current;
    if (!d) return;
    const { v } = at(e);
    if (Math.abs(v - d.from) < 0.01 && !d.moved) return;
    d.moved = true;
    brushes.value = { ...brushes.value, [d.key]: { lo: Math.min(d.from, v), hi: Math.max(d.from, v) } };
  };
  const up = () => {
    const d = drag.current;
    drag.current = null;
    dragging.value = false;
    if (d && !d.moved && brushes.value[d.key]) {
      const { [d.key]: _gone, ...rest } = brushes.value;
      brushes.value = rest;
    }
  };

  if (metrics.length === 0) return null;
  const imp = data.value ? importance(rows, axes, tgt) : [];
  const nBrush = Object.keys(brushes.value).length;
  const L = layout(canvas.current?.clientWidth || 800, HEIGHT, axes.length);
  return (
    <section class="parcoords" aria-label="Parallel coordinates">
      <div class="training-controls">
        <h3>Parallel coordinates</h3>
        <label>
          Colour by{' '}
          <select aria-label="target metric" value={tgt} onChange={(e) => (target.value = (e.target as HTMLSelectElement).value)}>
            {metrics.map((m) => (
              <option key={m} value={m}>
                {m} final
              </option>
            ))}
          </select>
        </label>
        <span class="muted" data-testid="pc-count">
          {data.value
            ? `${nBrush ? `${inside.value} of ` : ''}${rows.length} runs${data.value.total > rows.length ? ` (first ${rows.length} of ${data.value.total})` : ''}`
            : 'loading…'}
        </span>
        {nBrush > 0 && (
          <button type="button" class="btn btn-sm" onClick={() => (brushes.value = {})}>
            Clear brushes
          </button>
        )}
      </div>
      {err.value && <p class="error-text">{err.value}</p>}
      {data.value && axes.length < 2 && <p class="muted">Parallel coordinates need runs whose configs differ, or more than one metric.</p>}
      {axes.length >= 2 && (
        <canvas
          ref={canvas}
          class="pc-canvas"
          data-testid="parcoords"
          data-axes={axes.map((a) => a.key).join(',')}
          data-layout={JSON.stringify({ xs: L.xs.map((x) => Math.round(x)), top: L.top, bottom: L.bottom })}
          style={{ height: `${HEIGHT}px` }}
          onMouseDown={down}
          onMouseMove={move}
          onMouseUp={up}
          onMouseLeave={up}
          aria-label={`parallel coordinates of ${rows.length} runs over ${axes.map((a) => a.label).join(', ')}`}
        />
      )}
      {imp.length > 0 && (
        <table class="runs-table importance" data-testid="importance">
          <thead>
            <tr>
              <th>Parameter</th>
              <th title="the share of the metric's variance that the parameter's bins explain (eta²)">Importance for {tgt}</th>
              <th title="Spearman rank correlation with the metric">Correlation</th>
            </tr>
          </thead>
          <tbody>
            {imp.map((p) => (
              <tr key={p.key} data-param={p.label}>
                <td>{p.label}</td>
                <td>
                  <span class="imp-bar">
                    <span class="bar-fill" style={{ width: `${Math.round((p.importance ?? 0) * 100)}%` }} />
                  </span>{' '}
                  <span class="mono">{p.importance === null ? '–' : p.importance.toFixed(2)}</span>
                </td>
                <td class={`mono ${p.correlation !== null && p.correlation < 0 ? 'neg' : 'pos'}`}>
                  {p.correlation === null ? '–' : `${p.correlation > 0 ? '+' : ''}${p.correlation.toFixed(2)}`}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
