// The seed's summary cards for the picked runs (issue #16): average reward,
// success rate, training FPS and GPU utilisation, each with its change and
// trend (↗ up, ↘ down, → stable) and a sparkline, plus the selected
// metric's best (its lowest for a loss-like metric: the API's direction). A run figure is the mean over the runs of their latest
// value; its curve is each run's series in 20 buckets (mean per bucket,
// the runs averaged bucket by bucket), the change is the second half's mean
// against the first half's, in percent. GPU utilisation comes from
// /api/health (and its 15-minute history) when the machine has a GPU.
import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { api } from '../api';
import { cachedRead } from '../readcache';
import { trendOf, type Trend } from '../dists';
import { metricsTick } from '../store';
import { useThrottled } from './useThrottled';

const CURVE = 20;
const LIVE_MS = 2000;
const GPU_MS = 5000;
const ICON = { up: '↗', down: '↘', stable: '→' };

function spark(ys: (number | null)[]) {
  const v = ys.filter((y): y is number => y !== null && Number.isFinite(y));
  if (v.length < 2) return '';
  const lo = Math.min(...v);
  const hi = Math.max(...v);
  let d = '';
  ys.forEach((y, i) => {
    if (y === null || !Number.isFinite(y)) return;
    const x = (i / (ys.length - 1)) * 100;
    const h = hi > lo ? 28 - ((y - lo) / (hi - lo)) * 26 : 15;
    d += `${d ? 'L' : 'M'}${x.toFixed(1)} ${h.toFixed(1)}`;
  });
  return d;
}

function Card({ id, label, value, t, curve, note }: { id: string; label: string; value: string; t: Trend | null; curve: (number | null)[]; note?: string }) {
  const d = spark(curve);
  return (
    <div class="card glass" data-testid={`card-${id}`} data-trend={t?.trend ?? ''}>
      <div class="card-label">{label}</div>
      <div class="card-value">{value}</div>
      {t && t.change !== null && (
        <div class={`card-change ${t.trend}`} title="second half of the curve against the first">
          {ICON[t.trend]} {Math.abs(t.change).toFixed(1)}%
        </div>
      )}
      {note && <div class="card-change stable">{note}</div>}
      {d && (
        <svg class="card-spark" viewBox="0 0 100 30" preserveAspectRatio="none" aria-hidden="true">
          <path d={d} />
        </svg>
      )}
    </div>
  );
}

// The runs' curves of one series averaged bucket by bucket.
function meanCurve(curves: number[][]): (number | null)[] {
  const n = Math.max(0, ...curves.map((c) => c.length));
  return Array.from({ length: n }, (_, i) => {
    const v = curves.map((c) => c[i]).filter((x) => x !== undefined && Number.isFinite(x));
    return v.length ? v.reduce((t, x) => t + x, 0) / v.length : null;
  });
}

export function TrainingCards({ picked, series, metric }: { picked: string[]; series: Record<string, any[]>; metric: string }) {
  const curves = useSignal<Record<string, (number | null)[]>>({});
  const gpu = useSignal<{ value: number | null; history: (number | null)[]; reason?: string } | null>(null);
  const rowsOf = (name: string) => picked.map((id) => [id, (series[id] || []).find((s) => s.name === name)] as const).filter(([, s]) => s);
  // the live timer's callback outlives its render: it loads through here
  const load = useRef(() => {});

  const gen = useRef(0); // answers of an older load never overwrite a newer one's
  const loadCurves = () => {
    const g = ++gen.current;
    for (const name of ['reward', 'successRate', 'fps']) {
      const rows = rowsOf(name);
      Promise.all(
        rows.map(([id]) =>
          cachedRead(`buckets|${id}|${name}|${CURVE}|m${metricsTick.value}`, () => api.seriesBuckets(id, name, CURVE))
            .then((d: any) => (d.buckets?.mean || []) as number[])
            .catch(() => []),
        ),
      ).then((cs) => g === gen.current && (curves.value = { ...curves.value, [name]: meanCurve(cs) }));
    }
  };
  load.current = loadCurves;
  useEffect(loadCurves, [picked.join(','), series]);
  useThrottled(metricsTick.value, LIVE_MS, () => load.current());

  useEffect(() => {
    const load = () =>
      Promise.all([api.health(), api.healthHistory('15m').catch(() => null)])
        .then(([h, hist]) => {
          const devs = h.gpu?.devices || [];
          const utils = devs.map((d) => d.utilization).filter((u): u is number => typeof u === 'number');
          gpu.value =
            h.gpu?.available && utils.length
              ? { value: utils.reduce((t, u) => t + u, 0) / utils.length, history: hist?.series?.gpuUtil || [] }
              : { value: null, history: [], reason: h.gpu?.reason || 'no GPU' };
        })
        .catch(() => (gpu.value = null));
    void load();
    const iv = window.setInterval(load, GPU_MS);
    return () => clearInterval(iv);
  }, []);

  const run = (id: string, label: string, name: string, fmt: (v: number) => string) => {
    const rows = rowsOf(name);
    if (rows.length === 0) return null;
    const last = rows.reduce((t, [, s]) => t + s.lastValue, 0) / rows.length;
    const curve = curves.value[name] || [];
    return <Card key={id} id={id} label={label} value={fmt(last)} t={curve.length ? trendOf(curve) : null} curve={curve} />;
  };
  // The metric's best over the picked runs, the way the API says it
  // improves (each series' direction and best: the metric_directions
  // setting, else its name: a loss is best at its lowest).
  const best = () => {
    const rows = rowsOf(metric);
    if (!metric || ['reward', 'successRate', 'fps'].includes(metric) || rows.length === 0) return null;
    const lower = rows[0][1].direction === 'min';
    const bests = rows.map(([, s]) => (typeof s.best === 'number' ? s.best : lower ? s.minValue : s.maxValue));
    const top = lower ? Math.min(...bests) : Math.max(...bests);
    const last = rows.reduce((t, [, s]) => t + s.lastValue, 0) / rows.length;
    return (
      <Card
        key="best"
        id={metric}
        label={`Best ${metric}`}
        value={top.toFixed(2)}
        t={null}
        curve={[]}
        note={`${lower ? 'lowest' : 'highest'} · latest ${last.toFixed(2)}`}
      />
    );
  };
  const g = gpu.value;
  return (
    <div class="cards training-cards">
      {run('reward', 'Average reward', 'reward', (v) => v.toFixed(2))}
      {run('successRate', 'Success rate', 'successRate', (v) => `${(v * 100).toFixed(1)}%`)}
      {run('fps', 'Training FPS', 'fps', (v) => v.toFixed(0))}
      {g && (
        <Card
          id="gpu"
          label="GPU util"
          value={g.value === null ? '–' : `${Math.round(g.value)}%`}
          t={g.history.length > 1 ? trendOf(g.history) : null}
          curve={g.history}
          note={g.value === null ? g.reason : undefined}
        />
      )}
      {best()}
    </div>
  );
}
