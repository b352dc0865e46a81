// Training runs (issue #16), a lazy chunk of the Analytics page with uPlot:
// the runs table (pick runs to compare), a metric selector listing what
// the picked runs have, one chart of the metric with every run's mean line
// and its min/max band from the server's buckets (never a sample: a spike
// stays in its bucket's max), x as step or wall time, linear or log y,
// debiased EMA smoothing (raw kept faint), drag to zoom (refetched at full
// resolution for the zoomed range), the seed's time ranges, live refetch on
// metrics_update (throttled), CSV / JSON lines export, the group of several
// runs (mean line with a min/max band), the summary cards (TrainingCards.tsx)
// and the reward and action distributions (Distributions.tsx).
import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api, listOf } from '../api';
import { align, alignGroup, emaDebiased, runColors, type Group, type RunBuckets } from '../series';
import { metricsTick } from '../store';
import { Empty, ErrorState, errText } from './common';
import Distributions from './Distributions';
import { TrainingCards } from './TrainingCards';

const RANGES = ['all', '5m', '15m', '1h', '6h', '24h', '7d'];
const BUCKETS = 600;
const LIVE_MS = 500; // at most two refetches a second while points arrive

type Opts = { x: 'step' | 'time'; log: boolean; smooth: number; range: string; group: boolean; from?: number; to?: number };

function fmtDuration(ms?: number) {
  if (!ms && ms !== 0) return '–';
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

function Chart({ data, opts, onZoom }: { data: { runs: RunBuckets[]; group?: Group }; opts: Opts; onZoom: (a: number, b: number) => void }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!el.current) return;
    const { x, cols } = align(data.runs);
    const xs = opts.x === 'time' ? x.map((v) => v / 1000) : x;
    const series: uPlot.Series[] = [{ label: opts.x }];
    const columns: (number | null)[][] = [];
    const bands: uPlot.Band[] = [];
    const colors = runColors(data.runs);
    cols.forEach((c, i) => {
      const color = colors[i];
      const name = data.runs[i]?.name || c.runId;
      const base = columns.length + 1;
      series.push({ label: `${name} max`, stroke: color + '33', width: 1 });
      series.push({ label: `${name} min`, stroke: color + '33', width: 1 });
      series.push({ label: `${name} raw`, stroke: color + (opts.smooth > 0 ? '55' : 'ff'), width: 1 });
      series.push({ label: name, stroke: color, width: 2, show: opts.smooth > 0 });
      columns.push(c.max, c.min, c.mean, emaDebiased(c.mean, opts.smooth));
      bands.push({ series: [base, base + 1], fill: color + '22' });
    });
    // compare's group: the mean of the runs' means with the lowest min and
    // highest max as a band (several runs as one, like a seed's group)
    if (opts.group && cols.length > 1 && data.group) {
      const g = alignGroup(x, data.group);
      const base = columns.length + 1;
      series.push({ label: 'group max', stroke: '#ffffff44', width: 1, dash: [4, 4] });
      series.push({ label: 'group min', stroke: '#ffffff44', width: 1, dash: [4, 4] });
      series.push({ label: 'group mean', stroke: '#ffffff', width: 2.5 });
      columns.push(g.max, g.min, emaDebiased(g.mean, opts.smooth));
      bands.push({ series: [base, base + 1], fill: '#ffffff14' });
    }
    const u = new uPlot(
      {
        width: Math.max(320, el.current.clientWidth || 800),
        height: 320,
        series,
        bands,
        // the legend is ours below the chart: one entry per run by name,
        // not uPlot's four per run (max, min, raw, smoothed)
        legend: { show: false },
        scales: { x: { time: opts.x === 'time' }, y: { distr: opts.log ? 3 : 1 } },
        axes: [{}, { size: 80 }],
        cursor: { drag: { x: true, y: false } },
        hooks: {
          setSelect: [
            (p: uPlot) => {
              if (p.select.width < 2) return;
              const a = p.posToVal(p.select.left, 'x');
              const b = p.posToVal(p.select.left + p.select.width, 'x');
              const k = opts.x === 'time' ? 1000 : 1;
              onZoom(Math.floor(a * k), Math.ceil(b * k));
            },
          ],
        },
      },
      [xs, ...columns] as uPlot.AlignedData,
      el.current,
    );
    return () => u.destroy();
  }, [data, opts.log, opts.smooth, opts.x, opts.group]);
  return <div class="training-chart" ref={el} />;
}

export default function Training() {
  const runs = useSignal<any[] | null>(null);
  const err = useSignal<string | null>(null);
  const picked = useSignal<string[]>([]);
  const names = useSignal<string[]>([]);
  const seriesOf = useSignal<Record<string, any[]>>({});
  const metric = useSignal<string>('');
  const opts = useSignal<Opts>({ x: 'step', log: false, smooth: 0.6, range: 'all', group: true });
  const data = useSignal<{ runs: RunBuckets[]; group?: Group } | null>(null);
  const chartErr = useSignal<string | null>(null);

  useEffect(() => {
    api
      .allRuns(100)
      .then((d) => (runs.value = listOf<any>(d, 'runs')))
      .catch((e) => (err.value = errText(e)));
  }, []);

  // the metric names of the picked runs
  useEffect(() => {
    if (picked.value.length === 0) return;
    Promise.all(picked.value.map((id) => api.runSeries(id)))
      .then((all) => {
        const set = new Set<string>();
        const by: Record<string, any[]> = {};
        all.forEach((a, i) => (by[picked.value[i]] = listOf<any>(a, 'series')));
        seriesOf.value = by;
        for (const a of all) for (const s of listOf<any>(a, 'series')) set.add(s.name);
        names.value = [...set].sort();
        if (!set.has(metric.value)) metric.value = names.value[0] || '';
      })
      .catch((e) => (chartErr.value = errText(e)));
  }, [picked.value.join(',')]);

  const load = () => {
    if (!metric.value || picked.value.length === 0) return;
    const o = opts.value;
    const q: Record<string, string | number> = { buckets: BUCKETS, x: o.x };
    if (o.range !== 'all') q.range = o.range;
    if (o.from !== undefined && o.to !== undefined) Object.assign(q, { from: o.from, to: o.to });
    api
      .compareSeries(picked.value, metric.value, q)
      .then((d) => {
        chartErr.value = null;
        data.value = d;
      })
      .catch((e) => {
        data.value = null;
        chartErr.value = errText(e);
      });
  };
  useEffect(load, [metric.value, picked.value.join(','), opts.value.x, opts.value.range, opts.value.from, opts.value.to]);

  // live: refetch when points arrive, at most every LIVE_MS
  const timer = useRef<number | null>(null);
  useEffect(() => {
    if (metricsTick.value === 0 || timer.current !== null) return;
    timer.current = window.setTimeout(() => {
      timer.current = null;
      load();
    }, LIVE_MS);
  }, [metricsTick.value]);
  useEffect(
    () => () => {
      if (timer.current !== null) clearTimeout(timer.current);
    },
    [],
  );

  const toggle = (id: string) => {
    const p = picked.value;
    picked.value = p.includes(id) ? p.filter((x) => x !== id) : [...p, id].slice(-8);
  };
  const set = (patch: Partial<Opts>) => (opts.value = { ...opts.value, ...patch });
  const exportUrl = (format: string) =>
    `/api/metrics/compare/export?runs=${picked.value.map(encodeURIComponent).join(',')}&format=${format}` +
    (metric.value ? `&names=${encodeURIComponent(metric.value)}` : '');

  return (
    <section class="panel glass training">
      <h2>Training runs</h2>
      {err.value && <ErrorState message={err.value} onRetry={() => location.reload()} />}
      {runs.value !== null && runs.value.length === 0 && <Empty title="No runs yet">Runs appear here once an agent has run.</Empty>}
      {runs.value !== null && runs.value.length > 0 && (
        <table class="runs-table">
          <thead>
            <tr>
              <th />
              <th>Run</th>
              <th>Agent</th>
              <th>Status</th>
              <th>Started</th>
              <th>Duration</th>
            </tr>
          </thead>
          <tbody>
            {runs.value.map((r) => (
              <tr key={r.id} class={picked.value.includes(r.id) ? 'picked' : ''}>
                <td>
                  <input type="checkbox" aria-label={`compare ${r.id}`} checked={picked.value.includes(r.id)} onChange={() => toggle(r.id)} />
                </td>
                <td>
                  <span class="swatch" style={{ background: r.color }} /> {r.name || r.id} <span class="mono muted">{r.id}</span>
                  {(r.tags || []).map((t: string) => (
                    <span key={t} class="tag">
                      {t}
                    </span>
                  ))}
                </td>
                <td>{r.agentName || r.agentId}</td>
                <td>{r.status}</td>
                <td>{r.startedAt ? new Date(r.startedAt).toLocaleString() : '–'}</td>
                <td>{fmtDuration(r.durationMs)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {picked.value.length > 0 && (
        <div class="training-controls">
          <label>
            Metric{' '}
            <select
              aria-label="metric"
              value={metric.value}
              onChange={(e) => {
                metric.value = (e.target as HTMLSelectElement).value;
                set({ from: undefined, to: undefined });
              }}
            >
              {names.value.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
          <label>
            X{' '}
            <select
              aria-label="x axis"
              value={opts.value.x}
              onChange={(e) => set({ x: (e.target as HTMLSelectElement).value as Opts['x'], from: undefined, to: undefined })}
            >
              <option value="step">step</option>
              <option value="time">wall time</option>
            </select>
          </label>
          <label>
            Range{' '}
            <select
              aria-label="range"
              value={opts.value.range}
              onChange={(e) => set({ range: (e.target as HTMLSelectElement).value, from: undefined, to: undefined })}
            >
              {RANGES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </label>
          <label>
            <input type="checkbox" checked={opts.value.log} onChange={() => set({ log: !opts.value.log })} /> log y
          </label>
          {picked.value.length > 1 && (
            <label>
              <input type="checkbox" aria-label="group band" checked={opts.value.group} onChange={() => set({ group: !opts.value.group })} /> group band
            </label>
          )}
          <label>
            Smoothing{' '}
            <input
              type="range"
              min="0"
              max="0.99"
              step="0.01"
              value={opts.value.smooth}
              onInput={(e) => set({ smooth: Number((e.target as HTMLInputElement).value) })}
            />{' '}
            {opts.value.smooth.toFixed(2)}
          </label>
          {opts.value.from !== undefined && (
            <button class="btn btn-sm" onClick={() => set({ from: undefined, to: undefined })}>
              Reset zoom
            </button>
          )}
          <a class="btn btn-sm" href={exportUrl('csv')} download>
            Export CSV
          </a>
          <a class="btn btn-sm" href={exportUrl('jsonl')} download>
            Export JSON lines
          </a>
        </div>
      )}
      {picked.value.length > 0 && <TrainingCards picked={picked.value} series={seriesOf.value} metric={metric.value} />}
      {chartErr.value && <p class="error-text">{chartErr.value}</p>}
      {data.value && <Chart data={data.value} opts={opts.value} onZoom={(a, b) => set({ from: a, to: b })} />}
      {data.value && (
        <ul class="training-legend">
          {data.value.runs.map((r, i) => (
            <li key={r.runId} data-testid="run-legend" data-run={r.runId} style={{ color: runColors(data.value!.runs)[i] }} title={r.runId}>
              <span class="swatch" style={{ background: runColors(data.value!.runs)[i] }} /> <span class="run-name">{r.name || r.runId}</span>: {r.points}{' '}
              points
            </li>
          ))}
          {opts.value.group && data.value.runs.length > 1 && data.value.group && (
            <li class="group-legend" data-testid="group-legend">
              group: mean of {data.value.runs.length} runs, min–max band
            </li>
          )}
        </ul>
      )}
      {picked.value.length > 0 && <Distributions picked={picked.value} />}
    </section>
  );
}
