// One panel of the training workspace (issue #35): a uPlot chart of one or
// more metrics (one y scale each, the second on the right; a dash pattern
// per metric) over its runs (the runs picked in the list, or runs pinned to
// the panel), each run's mean line with its min/max band in the run's
// colour, the group's mean and band in the theme's colour, x as step, wall
// time or relative time, debiased EMA smoothing (raw kept faint), log y,
// drag to zoom (refetched at full resolution), and a hover box with each
// run's value at the cursor. The legend below has one entry per run, by
// name. Data: compare's buckets (never a sample) per metric; relative time
// reads each run's series on wall time and puts them on one grid
// (panels.ts). Refetched as points arrive, at most twice a second.
import { useSignal } from '@preact/signals';
import { useEffect, useMemo, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './training.css';
import { api } from '../api';
import { fmtRelative, gridGroup, METRICS_MAX, relativeGrid, X_AXES, X_LABEL, type Grid, type Panel as PanelT } from '../panels';
import { align, alignGroup, emaDebiased, type Group, type RunBuckets } from '../series';
import { sameData } from '../samedata';
import { metricsTick } from '../store';
import { axis, chartTheme, hoverPlugin, type HoverRow } from './chartkit';
import { errText } from './common';
import { useThrottled } from './useThrottled';

const BUCKETS = 600;
const LIVE_MS = 500;
const DASH: number[][] = [[], [8, 4], [2, 3], [12, 3, 2, 3]];

export type RunIdent = { id: string; name: string; color: string; startedAt?: string | null };

type Fetched = { metric: string; runs: RunBuckets[]; group?: Group };
type Line = { runId: string; metric: number; mean: (number | null)[]; min: (number | null)[]; max: (number | null)[] };
type Built = { x: number[]; lines: Line[]; groups: ({ mean: (number | null)[]; min: (number | null)[]; max: (number | null)[] } | null)[] };

// Every (run, metric) line on one x axis.
function build(fetched: Fetched[], p: PanelT, runs: RunIdent[]): Built {
  if (p.x === 'relative') {
    const all = fetched.flatMap((f) => f.runs);
    const starts: Record<string, number | undefined> = {};
    for (const r of runs) if (r.startedAt) starts[r.id] = Date.parse(r.startedAt);
    const g = relativeGrid(all, starts);
    let k = 0;
    const lines: Line[] = [];
    const groups = fetched.map((f, mi) => {
      const mine: Grid = { x: g.x, runs: g.runs.slice(k, k + f.runs.length) };
      k += f.runs.length;
      mine.runs.forEach((r) => lines.push({ runId: r.runId, metric: mi, mean: r.mean, min: r.min, max: r.max }));
      return f.runs.filter((r) => r.points > 0).length > 1 ? gridGroup(mine) : null;
    });
    return { x: g.x, lines, groups };
  }
  const all = fetched.flatMap((f) => f.runs);
  const { x, cols } = align(all);
  const lines: Line[] = [];
  let k = 0;
  fetched.forEach((f, mi) => {
    for (let i = 0; i < f.runs.length; i++, k++) lines.push({ runId: cols[k].runId, metric: mi, mean: cols[k].mean, min: cols[k].min, max: cols[k].max });
  });
  // a group only of two or more runs that have points of the metric
  const groups = fetched.map((f) => (f.group && f.runs.filter((r) => r.points > 0).length > 1 ? alignGroup(x, f.group) : null));
  return { x, lines, groups };
}

function fmtX(p: PanelT) {
  if (p.x === 'time') return (v: number) => new Date(v * 1000).toLocaleString();
  if (p.x === 'relative') return (v: number) => fmtRelative(v);
  return (v: number) => `step ${Math.round(v).toLocaleString('en-US')}`;
}

// The names and colours of the runs a chart draws. The chart is drawn again
// when they change, not when the list of runs is a new array: a run ticked
// whose data has not come yet, or the page drawn again for another reason,
// would otherwise make uPlot again from the same data (tens of ms a panel).
function identOf(built: Built, runs: RunIdent[]): string {
  const inChart = new Set(built.lines.map((l) => l.runId));
  return runs
    .filter((r) => inChart.has(r.id))
    .map((r) => `${r.id}\t${r.name}\t${r.color}`)
    .join('\n');
}

function Chart({ built, p, runs, onZoom }: { built: Built; p: PanelT; runs: RunIdent[]; onZoom: (a: number, b: number) => void }) {
  const el = useRef<HTMLDivElement>(null);
  const ident = identOf(built, runs);
  useEffect(() => {
    if (!el.current) return;
    const t = chartTheme();
    const byId = new Map(runs.map((r) => [r.id, r]));
    const xs = p.x === 'time' ? built.x.map((v) => v / 1000) : built.x;
    const series: uPlot.Series[] = [{ label: X_LABEL[p.x] }];
    const columns: (number | null)[][] = [];
    const bands: uPlot.Band[] = [];
    const hover: HoverRow[] = [];
    const multi = p.metrics.length > 1;
    for (const l of built.lines) {
      const r = byId.get(l.runId);
      const color = r?.color || '#888888';
      const name = r?.name || l.runId;
      const scale = `m${l.metric}`;
      const dash = DASH[l.metric % DASH.length];
      const base = columns.length + 1;
      const smooth = emaDebiased(l.mean, p.smooth);
      series.push({ label: `${name} max`, scale, stroke: color + '33', width: 1 });
      series.push({ label: `${name} min`, scale, stroke: color + '33', width: 1 });
      series.push({ label: `${name} raw`, scale, stroke: color + (p.smooth > 0 ? '55' : 'ff'), width: 1, dash, spanGaps: true });
      series.push({ label: name, scale, stroke: color, width: 2, dash, spanGaps: true, show: p.smooth > 0 });
      columns.push(l.max, l.min, l.mean, smooth);
      bands.push({ series: [base, base + 1], fill: color + '22' });
      hover.push({ runId: l.runId, label: multi ? `${name} · ${p.metrics[l.metric]}` : name, color, values: p.smooth > 0 ? smooth : l.mean });
    }
    // the group: the mean of the runs' means with the lowest min and the
    // highest max as a band, in the theme's text colour so it reads on both
    built.groups.forEach((g, mi) => {
      if (!g || !p.group) return;
      const scale = `m${mi}`;
      const base = columns.length + 1;
      series.push({ label: 'group max', scale, stroke: t.groupBand, width: 1, dash: [4, 4] });
      series.push({ label: 'group min', scale, stroke: t.groupBand, width: 1, dash: [4, 4] });
      series.push({ label: 'group mean', scale, stroke: t.group, width: 1.75, dash: mi % 2 ? [10, 3, 2, 3] : [7, 4], spanGaps: true });
      const mean = emaDebiased(g.mean, p.smooth);
      columns.push(g.max, g.min, mean);
      bands.push({ series: [base, base + 1], fill: t.groupBand });
      hover.push({ runId: 'group', label: multi ? `group mean · ${p.metrics[mi]}` : 'group mean', color: t.group, values: mean });
    });
    const scales: uPlot.Scales = { x: { time: p.x === 'time' } };
    const axes: uPlot.Axis[] = [axis(t, p.x === 'relative' ? { values: (_u, vals) => vals.map((v) => fmtRelative(v)) } : {})];
    p.metrics.forEach((m, mi) => {
      scales[`m${mi}`] = { distr: p.log ? 3 : 1 };
      axes.push(
        axis(t, { scale: `m${mi}`, size: 70, side: mi === 1 ? 1 : 3, label: multi ? m : undefined, grid: { show: mi === 0, stroke: t.grid, width: 1 } }),
      );
    });
    const u = new uPlot(
      {
        width: Math.max(300, el.current.clientWidth || 640),
        height: 280,
        series,
        bands,
        // our legend below: one entry per run, not uPlot's four per line
        legend: { show: false },
        scales,
        axes,
        // the cursor moves in every panel of the same x axis at once
        cursor: { drag: { x: true, y: false }, sync: { key: `training-${p.x}` } },
        plugins: [hoverPlugin(() => hover, fmtX(p))],
        hooks: {
          setSelect: [
            (u2: uPlot) => {
              if (u2.select.width < 2) return;
              const a = u2.posToVal(u2.select.left, 'x');
              const b = u2.posToVal(u2.select.left + u2.select.width, 'x');
              const k = p.x === 'time' ? 1000 : 1;
              onZoom(Math.floor(a * k), Math.ceil(b * k));
            },
          ],
        },
      },
      [xs, ...columns] as uPlot.AlignedData,
      el.current,
    );
    return () => u.destroy();
  }, [built, p.log, p.smooth, p.x, p.group, ident]);
  return <div class="training-chart" ref={el} />;
}

export function Panel({
  panel: p,
  runs,
  metricNames,
  range,
  onChange,
  onRemove,
}: {
  panel: PanelT;
  /** the runs this panel draws, with their names and colours */
  runs: RunIdent[];
  /** every metric the runs have, for the add-metric list */
  metricNames: string[];
  range: string;
  onChange: (p: PanelT) => void;
  onRemove: () => void;
}) {
  const fetched = useSignal<Fetched[] | null>(null);
  const err = useSignal<string | null>(null);
  const answers = useSignal(0); // answers applied (an equal one too): the tests wait on it
  const zoom = useSignal<{ from: number; to: number } | null>(null);
  const ids = runs.map((r) => r.id);
  const key = `${ids.join(',')}|${p.metrics.join(',')}|${p.x}|${range}|${zoom.value?.from}|${zoom.value?.to}`;
  const gen = useRef(0);

  const load = useRef(() => {});
  load.current = () => {
    if (ids.length === 0 || p.metrics.length === 0) {
      fetched.value = null;
      return;
    }
    const g = ++gen.current;
    const q: Record<string, string | number> = { buckets: BUCKETS, x: p.x === 'step' ? 'step' : 'time' };
    if (range !== 'all') q.range = range;
    if (zoom.value) Object.assign(q, zoom.value);
    Promise.all(
      p.metrics.map((m) =>
        p.x === 'relative'
          ? Promise.all(
              ids.map((id) =>
                api
                  .seriesBuckets(id, m, BUCKETS, { x: 'time', ...(range !== 'all' ? { range } : {}) })
                  .then((d: any) => ({ runId: id, points: d.points ?? 0, buckets: d.buckets }) as RunBuckets)
                  .catch(() => null),
              ),
            ).then((rs) => ({ metric: m, runs: rs.filter((r): r is RunBuckets => !!r && !!r.buckets) }))
          : api.compareSeries(ids, m, q).then((d: any) => ({ metric: m, runs: (d.runs || []) as RunBuckets[], group: d.group as Group | undefined })),
      ),
    )
      .then((f) => {
        if (g !== gen.current) return;
        err.value = null;
        if (!fetched.value || !sameData(fetched.value, f)) fetched.value = f;
        answers.value++;
      })
      .catch((e) => {
        if (g !== gen.current) return;
        err.value = errText(e);
      });
  };
  useEffect(() => load.current(), [key]);

  // live: refetch when points arrive, at most every LIVE_MS
  useThrottled(metricsTick.value, LIVE_MS, () => load.current());

  const set = (patch: Partial<PanelT>) => onChange({ ...p, ...patch });
  // made again when the data comes, not on every render (relative time also
  // reads the runs' start times)
  const starts = p.x === 'relative' ? runs.map((r) => `${r.id}@${r.startedAt || ''}`).join(',') : '';
  const built = useMemo(() => (fetched.value && fetched.value.some((f) => f.runs.length) ? build(fetched.value, p, runs) : null), [fetched.value, p.x, starts]);
  const points = new Map<string, number>();
  for (const f of fetched.value || []) for (const r of f.runs) if (r.points > 0) points.set(r.runId, (points.get(r.runId) || 0) + r.points);
  const exportUrl = (format: string) =>
    `/api/metrics/compare/export?runs=${ids.map(encodeURIComponent).join(',')}&format=${format}&names=${p.metrics.map(encodeURIComponent).join(',')}`;
  const addable = metricNames.filter((m) => !p.metrics.includes(m));
  const title = p.title || p.metrics.join(' · ');

  return (
    <section class="panel-card glass" data-testid="panel" data-metrics={p.metrics.join(',')} data-answers={answers.value} aria-label={`panel ${title}`}>
      <header class="panel-card-head">
        <h3>{title}</h3>
        <div class="panel-chips">
          {p.metrics.map((m, i) => (
            <span key={m} class="chip" data-metric={m}>
              <span class="dash-key" data-dash={i % DASH.length} />
              {m}
              {p.metrics.length > 1 && (
                <button
                  type="button"
                  class="chip-x"
                  aria-label={`remove ${m} from ${title}`}
                  onClick={() => set({ metrics: p.metrics.filter((x) => x !== m) })}
                >
                  ×
                </button>
              )}
            </span>
          ))}
          {addable.length > 0 && p.metrics.length < METRICS_MAX && (
            <select
              aria-label={`add a metric to ${title}`}
              value=""
              onChange={(e) => {
                const v = (e.target as HTMLSelectElement).value;
                if (v) set({ metrics: [...p.metrics, v] });
              }}
            >
              <option value="">+ metric</option>
              {addable.map((m) => (
                <option key={m} value={m}>
                  {m}
                </option>
              ))}
            </select>
          )}
        </div>
        <button type="button" class="btn btn-sm panel-remove" aria-label={`remove panel ${title}`} onClick={onRemove}>
          ×
        </button>
      </header>
      <div class="training-controls panel-controls">
        <label>
          X{' '}
          <select
            aria-label="x axis"
            value={p.x}
            onChange={(e) => {
              zoom.value = null;
              set({ x: (e.target as HTMLSelectElement).value as PanelT['x'] });
            }}
          >
            {X_AXES.map((x) => (
              <option key={x} value={x}>
                {X_LABEL[x]}
              </option>
            ))}
          </select>
        </label>
        <label>
          <input type="checkbox" checked={p.log} onChange={() => set({ log: !p.log })} /> log y
        </label>
        {runs.length > 1 && (
          <label>
            <input type="checkbox" aria-label="group band" checked={p.group} onChange={() => set({ group: !p.group })} /> group
          </label>
        )}
        <label>
          Smoothing{' '}
          <input
            type="range"
            aria-label="smoothing"
            min="0"
            max="0.99"
            step="0.01"
            value={p.smooth}
            onInput={(e) => set({ smooth: Number((e.target as HTMLInputElement).value) })}
          />{' '}
          <span class="mono">{p.smooth.toFixed(2)}</span>
        </label>
        <button
          type="button"
          class="btn btn-sm"
          aria-pressed={p.runs !== null}
          title={p.runs ? 'this panel keeps its own runs' : 'this panel follows the runs picked in the list'}
          onClick={() => set({ runs: p.runs ? null : ids })}
        >
          {p.runs ? `Pinned: ${p.runs.length} runs` : 'Pin these runs'}
        </button>
        {zoom.value && (
          <button class="btn btn-sm" onClick={() => (zoom.value = null)}>
            Reset zoom
          </button>
        )}
        <a class="btn btn-sm" href={exportUrl('csv')} download>
          CSV
        </a>
        <a class="btn btn-sm" href={exportUrl('jsonl')} download>
          JSON lines
        </a>
      </div>
      {err.value && <p class="error-text">{err.value}</p>}
      {ids.length === 0 && <p class="muted">Pick runs in the list to draw them here.</p>}
      {built && <Chart built={built} p={p} runs={runs} onZoom={(a, b) => (zoom.value = { from: a, to: b })} />}
      {built && (
        <ul class="training-legend">
          {runs
            .filter((r) => points.has(r.id))
            .map((r) => (
              <li key={r.id} data-testid="run-legend" data-run={r.id} title={r.id}>
                <span class="swatch" style={{ background: r.color }} />{' '}
                <a class="run-name" href={`#/runs/${encodeURIComponent(r.id)}`}>
                  {r.name}
                </a>
                <span class="muted">: {points.get(r.id)} points</span>
              </li>
            ))}
          {p.group && built.groups.some((g) => g) && (
            <li class="group-legend" data-testid="group-legend">
              group: mean of {points.size} runs, min–max band
            </li>
          )}
        </ul>
      )}
    </section>
  );
}
