// Reward and action distributions of the picked runs (issue #16), part of
// the Training chunk (uPlot): the `histogram` and `counts` each run
// reported per step. "Latest step" shows every picked run's histogram on
// common edges (a stepped outline each) and its action shares as bars, with
// a step slider (each run's newest step at or before it); "Over time" shows
// each run's histograms (up to four runs) as a heat map (columns are step
// buckets, each the sum of its steps, scaled to its own peak; values on the
// run's own range) and its action shares per step bucket as lines.
// Runs are named and coloured as everywhere (issue #35). Refetched when
// distribution_update events arrive (at most once a second).
import { useSignal } from '@preact/signals';
import { useEffect, useMemo, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { api, listOf } from '../api';
import { commonEdges, countRows, heatColumns, rebin, sharesOverTime, type Hist } from '../dists';
import { distTick } from '../store';
import { cachedRead } from '../readcache';
import { errText } from './common';
import type { RunIdent } from './Panel';

const COLORS = ['#4f9cff', '#ff7a59', '#3ecf8e', '#c77dff', '#ffd166', '#ef476f', '#06d6a0', '#118ab2'];
const LIVE_MS = 1000;
const BINS = 30;
const TIME_BUCKETS = 60;
const TIME_RUNS = 4; // over-time charts side by side at most

type Info = { name: string; kind: 'histogram' | 'counts'; steps: number; firstStep: number; lastStep: number };
type HistItem = Hist & { step: number; total: number; runId: string };
type CountsItem = { step: number; total: number; counts: Record<string, number>; runId: string };

function pickName(names: string[], want: string, cur: string) {
  if (names.includes(cur)) return cur;
  return names.includes(want) ? want : names[0] || '';
}

// A uPlot chart rebuilt when its data changes.
function UChart({ opts, data, testid }: { opts: Omit<uPlot.Options, 'width'>; data: uPlot.AlignedData; testid: string }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!el.current) return;
    const u = new uPlot({ ...opts, width: Math.max(280, el.current.clientWidth || 480) } as uPlot.Options, data, el.current);
    return () => u.destroy();
  }, [data]);
  return <div class="dist-chart" data-testid={testid} ref={el} />;
}

type Ident = (id: string) => { name: string; color: string };

function HistLatest({ items, ident }: { items: HistItem[]; ident: Ident }) {
  const built = useMemo(() => {
    const one = items.length === 1;
    const edges = one ? items[0].edges : commonEdges(items, BINS);
    if (edges.length < 2) return null;
    const cols = items.map((h) => {
      const c = one ? h.counts : rebin(h, edges);
      return [...c, c[c.length - 1]];
    });
    const series: uPlot.Series[] = [{ label: 'value' }];
    items.forEach((h) => {
      const { name, color } = ident(h.runId);
      series.push({ label: name, stroke: color, fill: color + '33', width: 1.5, points: { show: false }, paths: uPlot.paths.stepped!({ align: 1 }) });
    });
    const opts = { height: 220, series, scales: { x: { time: false } }, axes: [{}, { size: 60 }], legend: { show: false } };
    return { opts, data: [edges, ...cols] as uPlot.AlignedData };
  }, [items]);
  return built && <UChart opts={built.opts} data={built.data} testid="hist-chart" />;
}

function CountsLatest({ items, ident }: { items: CountsItem[]; ident: Ident }) {
  const rows = countRows(items.map((c) => c.counts));
  return (
    <ul class="bars dist-bars" data-testid="counts-bars">
      {rows.map((r) => (
        <li key={r.name}>
          <span class="bar-label">{r.name}</span>
          <span class="bar dist-bar">
            {r.shares.map((s, i) => (
              <span key={i} class="bar-fill" title={ident(items[i].runId).name} style={{ width: `${s * 100}%`, background: ident(items[i].runId).color }} />
            ))}
          </span>
          <span class="bar-value">{r.shares.map((s) => `${Math.round(s * 100)}%`).join(' · ')}</span>
        </li>
      ))}
    </ul>
  );
}

// The over-time histogram as a heat map on a canvas: x step buckets, y
// value buckets (low at the bottom).
function Heat({ data, color, name }: { data: any; color: string; name: string }) {
  const el = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const c = el.current;
    const ctx = c?.getContext('2d');
    if (!c || !ctx) return;
    const cols = heatColumns(data.counts as number[][]);
    const m = (data.edges as number[]).length - 1;
    // a column where its step bucket is (empty buckets leave a gap)
    const span = Math.max(1, data.to - data.from + 1);
    const w = c.width / Math.max(1, data.bucketCount);
    const h = c.height / Math.max(1, m);
    ctx.clearRect(0, 0, c.width, c.height);
    cols.forEach((col, i) =>
      col.forEach((v, y) => {
        if (v <= 0) return;
        ctx.fillStyle = `rgba(79, 156, 255, ${0.08 + 0.92 * v})`;
        ctx.fillRect(((data.x[i] - data.from) / span) * c.width, c.height - (y + 1) * h, Math.ceil(w), Math.ceil(h));
      }),
    );
  }, [data]);
  const e = data.edges as number[];
  const x = data.x as number[];
  return (
    <figure class="dist-heat">
      <canvas
        ref={el}
        width={600}
        height={220}
        data-testid="hist-heat"
        data-run={data.runId}
        data-buckets={x.length}
        aria-label={`${data.name} of ${name} over steps ${x[0]} to ${data.to}`}
      />
      <figcaption>
        <span style={{ color }}>{name}</span>: steps {x[0]}–{data.to} · values {e[0].toPrecision(3)} to {e[e.length - 1].toPrecision(3)} · {x.length} step
        buckets
      </figcaption>
    </figure>
  );
}

function CountsOverTime({ data }: { data: any }) {
  const built = useMemo(() => {
    const cats = (data.categories as string[]).slice(0, COLORS.length);
    const shares = sharesOverTime(cats, data.counts);
    const series: uPlot.Series[] = [{ label: 'step' }, ...cats.map((c, i) => ({ label: c, stroke: COLORS[i], width: 1.5 }))];
    const opts = { height: 220, series, scales: { x: { time: false }, y: { range: [0, 1] as [number, number] } }, axes: [{}, { size: 50 }] };
    return { opts, data: [data.x, ...shares] as uPlot.AlignedData };
  }, [data]);
  return <UChart opts={built.opts} data={built.data} testid="counts-time" />;
}

export default function Distributions({ runs }: { runs: RunIdent[] }) {
  const picked = runs.map((r) => r.id);
  const ident: Ident = (id) => runs.find((r) => r.id === id) || { name: id, color: COLORS[0] };
  const infos = useSignal<Record<string, Info[]>>({});
  const histName = useSignal('');
  const countName = useSignal('');
  const mode = useSignal<'latest' | 'time'>('latest');
  const step = useSignal<number | null>(null);
  const hists = useSignal<HistItem[]>([]);
  const counts = useSignal<CountsItem[]>([]);
  const histTime = useSignal<any[]>([]);
  const countsTime = useSignal<any[]>([]);
  const err = useSignal<string | null>(null);
  const key = picked.join(',');
  // the live timer's callback outlives its render: it reads the runs from here
  const now = useRef(picked);
  now.current = picked;

  // answers of an older load never overwrite a newer one's
  const gen = useRef({ infos: 0, data: 0 });
  const loadInfos = () => {
    const g = ++gen.current.infos;
    const ids = now.current;
    const tick = distTick.value;
    return Promise.all(ids.map((id) => cachedRead(`dists|${id}|d${tick}`, () => api.runDists(id))))
      .then((all) => {
        if (g !== gen.current.infos) return;
        err.value = null;
        const by: Record<string, Info[]> = {};
        all.forEach((a, i) => (by[ids[i]] = listOf<Info>(a, 'distributions')));
        infos.value = by;
        const names = (k: Info['kind']) => [...new Set(Object.values(by).flatMap((l) => l.filter((x) => x.kind === k).map((x) => x.name)))].sort();
        histName.value = pickName(names('histogram'), 'reward', histName.value);
        countName.value = pickName(names('counts'), 'action', countName.value);
      })
      .catch((e) => (err.value = errText(e)));
  };

  const has = (id: string, kind: Info['kind'], name: string) => (infos.value[id] || []).some((x) => x.kind === kind && x.name === name);
  const loadData = () => {
    const g = ++gen.current.data;
    const mine = () => g === gen.current.data;
    const q: Record<string, number | string> = step.value !== null ? { step: step.value } : {};
    const each = <T,>(kind: Info['kind'], name: string, path: 'histograms' | 'counts') =>
      Promise.all(
        picked
          .filter((id) => name && has(id, kind, name))
          .map((id) =>
            api
              .dist(id, path, name, q)
              .then((d: any) => ({ ...d, runId: id }))
              .catch((e) => {
                if (mine()) err.value = `${ident(id).name}: ${errText(e)}`;
                return null;
              }),
          ),
      ).then((l) => l.filter(Boolean) as T[]);
    if (mode.value === 'latest') {
      each<HistItem>('histogram', histName.value, 'histograms').then((l) => mine() && (hists.value = l));
      each<CountsItem>('counts', countName.value, 'counts').then((l) => mine() && (counts.value = l));
      return;
    }
    // over time: one chart per run (the first TIME_RUNS that have it)
    const over = (kind: Info['kind'], name: string, path: 'histograms' | 'counts', q2: Record<string, number | string>) =>
      Promise.all(
        picked
          .filter((id) => name && has(id, kind, name))
          .slice(0, TIME_RUNS)
          .map((id) =>
            api
              .dist(id, path, name, q2)
              .then((d: any) => ({ ...d, runId: id }))
              .catch((e) => {
                if (mine()) err.value = `${ident(id).name}: ${errText(e)}`;
                return null;
              }),
          ),
      ).then((l) => l.filter(Boolean) as any[]);
    over('histogram', histName.value, 'histograms', { view: 'time', buckets: TIME_BUCKETS, bins: BINS }).then((l) => mine() && (histTime.value = l));
    over('counts', countName.value, 'counts', { view: 'time', buckets: TIME_BUCKETS }).then((l) => mine() && (countsTime.value = l));
  };

  useEffect(() => {
    step.value = null;
    void loadInfos();
  }, [key]);
  useEffect(loadData, [key, infos.value, histName.value, countName.value, mode.value, step.value]);

  // live: refetch when distributions arrive, at most every LIVE_MS
  const timer = useRef<number | null>(null);
  useEffect(() => {
    if (distTick.value === 0 || timer.current !== null) return;
    timer.current = window.setTimeout(() => {
      timer.current = null;
      void loadInfos();
    }, LIVE_MS);
  }, [distTick.value]);
  useEffect(
    () => () => {
      if (timer.current !== null) clearTimeout(timer.current);
    },
    [],
  );

  const all = Object.values(infos.value).flat();
  if (all.length === 0) return null;
  const names = (k: Info['kind']) => [...new Set(all.filter((x) => x.kind === k).map((x) => x.name))].sort();
  const span = all.filter((x) => (x.kind === 'histogram' ? x.name === histName.value : x.name === countName.value));
  const lo = Math.min(...span.map((x) => x.firstStep));
  const hi = Math.max(...span.map((x) => x.lastStep));
  return (
    <section class="dists" aria-label="Distributions">
      <div class="training-controls">
        <label>
          View{' '}
          <select aria-label="distribution view" value={mode.value} onChange={(e) => (mode.value = (e.target as HTMLSelectElement).value as 'latest' | 'time')}>
            <option value="latest">Latest step</option>
            <option value="time">Over time</option>
          </select>
        </label>
        {mode.value === 'latest' && span.length > 0 && (
          <label>
            Step{' '}
            <input
              type="range"
              aria-label="distribution step"
              min={lo}
              max={hi}
              value={step.value ?? hi}
              onInput={(e) => {
                const v = Number((e.target as HTMLInputElement).value);
                step.value = v >= hi ? null : v;
              }}
            />
            <span data-testid="dist-step">{step.value === null ? `latest (${hi})` : `≤ ${step.value}`}</span>
          </label>
        )}
      </div>
      {err.value && <p class="error-text">{err.value}</p>}
      <div class="dist-grid">
        <div class="dist-card">
          <h3>
            Reward distribution{' '}
            <select aria-label="histogram" value={histName.value} onChange={(e) => (histName.value = (e.target as HTMLSelectElement).value)}>
              {names('histogram').map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </h3>
          {names('histogram').length === 0 && <p class="muted">No histogram lines from these runs.</p>}
          {mode.value === 'latest' && hists.value.length > 0 && <HistLatest items={hists.value} ident={ident} />}
          {mode.value === 'latest' && (
            <ul class="training-legend" data-testid="hist-legend">
              {hists.value.map((h) => (
                <li key={h.runId} data-run={h.runId}>
                  <span class="swatch" style={{ background: ident(h.runId).color }} /> {ident(h.runId).name}: step {h.step}, {h.total} values
                </li>
              ))}
            </ul>
          )}
          {mode.value === 'time' && histTime.value.map((h) => <Heat key={h.runId} data={h} color={ident(h.runId).color} name={ident(h.runId).name} />)}
        </div>
        <div class="dist-card">
          <h3>
            Action distribution{' '}
            <select aria-label="counts" value={countName.value} onChange={(e) => (countName.value = (e.target as HTMLSelectElement).value)}>
              {names('counts').map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </h3>
          {names('counts').length === 0 && <p class="muted">No counts lines from these runs.</p>}
          {mode.value === 'latest' && counts.value.length > 0 && <CountsLatest items={counts.value} ident={ident} />}
          {mode.value === 'latest' && (
            <ul class="training-legend" data-testid="counts-legend">
              {counts.value.map((c) => (
                <li key={c.runId} data-run={c.runId}>
                  <span class="swatch" style={{ background: ident(c.runId).color }} /> {ident(c.runId).name}: step {c.step}, {c.total} actions
                </li>
              ))}
            </ul>
          )}
          {mode.value === 'time' &&
            countsTime.value.map((c) => (
              <figure key={c.runId} class="dist-heat">
                <CountsOverTime data={c} />
                <figcaption>
                  <span class="swatch" style={{ background: ident(c.runId).color }} /> {ident(c.runId).name}
                </figcaption>
              </figure>
            ))}
        </div>
      </div>
    </section>
  );
}
