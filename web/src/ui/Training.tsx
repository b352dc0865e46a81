// The training workspace (issues #16, #35), a lazy chunk of the Analytics
// page with uPlot: the live runs list (RunList.tsx: pick the runs to draw;
// the most recent runs with metrics are picked at first), then a workspace
// of panels (Panel.tsx), each with its metrics, runs, x axis and
// smoothing. Without a saved layout the panels are the metrics the picked
// runs have, the most recently updated first; a change to a panel saves
// the layout on the server (PUT /api/training/layout, per workspace), so it
// follows the user to another browser; Reset layout goes back to the
// default. Below: the seed's summary cards (TrainingCards.tsx) and the
// reward and action distributions (Distributions.tsx) of the picked runs.
import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { api, ApiError, listOf } from '../api';
import {
  defaultPanels,
  layoutBody,
  metricsByRecency,
  newPanel,
  PANELS_MAX,
  sanitizeLayout,
  type Layout,
  type Panel as PanelT,
  type SeriesInfo,
} from '../panels';
import { defaultPicks, emptyFilter, type RunFilter, type RunTableRow } from '../runlist';
import { runColors } from '../series';
import { metricsTick, runsTick } from '../store';
import { cachedRead } from '../readcache';
import { errText } from './common';
import Distributions from './Distributions';
import { Panel, type RunIdent } from './Panel';
import { ParCoords } from './ParCoords';
import { RunList } from './RunList';
import { Sweeps } from './Sweeps';
import { TrainingCards } from './TrainingCards';

const RANGES = ['all', '5m', '15m', '1h', '6h', '24h', '7d'];
const PICK_MAX = 16;
const SAVE_MS = 600;
const SEED_CARDS = ['reward', 'successRate', 'fps']; // TrainingCards' own cards

type SaveState = { state: 'default' | 'saved' | 'saving' | 'local' | 'error'; message?: string };

// Names and colours of runs as drawn: each run's own colour, unless runs
// of the list share one (runColors over the whole list, so a run keeps its
// colour from panel to panel and in the list); a run the list does not
// hold by its id, in the palette's colour for its place.
export function colorsOf(rows: RunTableRow[] | null): Map<string, string> {
  const list = rows || [];
  const colors = runColors(list);
  return new Map(list.map((r, i) => [r.id, colors[i]]));
}

export function identsOf(ids: string[], rows: RunTableRow[] | null, colors: Map<string, string>): RunIdent[] {
  const by = new Map((rows || []).map((r) => [r.id, r]));
  const missing = runColors(ids.map(() => ({})));
  return ids.map((id, i) => {
    const r = by.get(id);
    return { id, name: r?.name || id, color: colors.get(id) || missing[i], startedAt: r?.startedAt };
  });
}

export default function Training() {
  const filter = useSignal<RunFilter>(emptyFilter());
  const rows = useSignal<RunTableRow[] | null>(null);
  const total = useSignal(0);
  const picked = useSignal<string[]>([]);
  const userPicked = useRef(false);
  const seriesOf = useSignal<Record<string, SeriesInfo[]>>({});
  const layout = useSignal<Layout | null>(null);
  const saved = useSignal<SaveState>({ state: 'default' });
  const range = useSignal('all');
  const adding = useSignal(false);
  const showPc = useSignal(false);
  // the runs inside the parallel coordinates' brushes (null: no brush)
  const visible = useSignal<Set<string> | null>(null);
  const scope = filter.value.workspaceId;

  // the most recent runs with metrics are drawn until the user picks
  useEffect(() => {
    if (userPicked.current || rows.value === null) return;
    const d = defaultPicks(rows.value);
    if (d.join(',') !== picked.value.join(',')) picked.value = d;
  }, [rows.value]);

  // the series of the picked runs: the metrics they have, and when each
  // last moved (refreshed as runs start and end)
  useEffect(() => {
    const ids = picked.value;
    if (ids.length === 0) {
      seriesOf.value = {};
      return;
    }
    const ticks = `r${runsTick.value}m${metricsTick.value}`;
    Promise.all(ids.map((id) => cachedRead(`series|${id}|${ticks}`, () => api.runSeries(id)).catch(() => null))).then((all) => {
      const by: Record<string, SeriesInfo[]> = {};
      all.forEach((a, i) => (by[ids[i]] = listOf<SeriesInfo>(a, 'series')));
      seriesOf.value = by;
    });
  }, [picked.value.join(','), runsTick.value]);

  // the saved layout of this scope (null: the default)
  useEffect(() => {
    layout.value = null;
    saved.value = { state: 'default' };
    api
      .layout(scope)
      .then((d: any) => {
        const l = sanitizeLayout(d?.layout);
        layout.value = l;
        saved.value = { state: l ? 'saved' : 'default' };
      })
      .catch(() => undefined);
  }, [scope]);

  const saveTimer = useRef<number | null>(null);
  useEffect(() => () => void (saveTimer.current !== null && clearTimeout(saveTimer.current)), []);
  const save = (l: Layout) => {
    layout.value = l;
    saved.value = { state: 'saving' };
    if (saveTimer.current !== null) clearTimeout(saveTimer.current);
    saveTimer.current = window.setTimeout(() => {
      saveTimer.current = null;
      const sc = scope;
      api
        .saveLayout(sc, layoutBody(layout.value!))
        .then(() => sc === filter.value.workspaceId && (saved.value = { state: 'saved' }))
        .catch((e) => {
          // a read-only token still arranges its own page, unsaved
          saved.value =
            e instanceof ApiError && e.status === 403 ? { state: 'local', message: 'read-only: not saved' } : { state: 'error', message: errText(e) };
        });
    }, SAVE_MS);
  };
  const reset = () => {
    api
      .resetLayout(scope)
      .then(() => {
        layout.value = null;
        saved.value = { state: 'default' };
      })
      .catch((e) => (saved.value = { state: 'error', message: errText(e) }));
  };

  const names = metricsByRecency(seriesOf.value);
  const panels: PanelT[] = layout.value?.panels ?? defaultPanels(seriesOf.value);
  const change = (i: number, p: PanelT | null) => {
    const next = panels.slice();
    if (p) next[i] = p;
    else next.splice(i, 1);
    save({ panels: next });
  };
  const toggle = (id: string) => {
    userPicked.current = true;
    const p = picked.value;
    picked.value = p.includes(id) ? p.filter((x) => x !== id) : [...p, id].slice(-PICK_MAX);
  };
  const colors = colorsOf(rows.value);
  const drawn = identsOf(picked.value, rows.value, colors);
  const savedText: Record<SaveState['state'], string> = {
    default: 'default layout: the metrics of the picked runs, most recent first',
    saved: 'layout saved',
    saving: 'saving…',
    local: 'layout not saved',
    error: 'layout not saved',
  };

  return (
    <section class="panel glass training">
      <div class="panel-head">
        <h2>Training runs</h2>
        {names.length > 0 && (
          <button type="button" class="btn btn-sm" aria-pressed={showPc.value} onClick={() => (showPc.value = !showPc.value)}>
            {showPc.value ? 'Hide parallel coordinates' : 'Parallel coordinates'}
          </button>
        )}
      </div>
      <Sweeps />
      {showPc.value && names.length > 0 && <ParCoords filter={filter.value} metricNames={names} onVisible={(v) => (visible.value = v)} />}
      <RunList rows={rows} total={total} filter={filter} picked={picked.value} visible={visible.value} colors={colors} onToggle={toggle} />
      <div class="training-controls workspace-bar">
        <label>
          Range{' '}
          <select aria-label="range" value={range.value} onChange={(e) => (range.value = (e.target as HTMLSelectElement).value)}>
            {RANGES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        {names.length > 0 && panels.length < PANELS_MAX && !adding.value && (
          <button type="button" class="btn btn-sm" onClick={() => (adding.value = true)}>
            + Panel
          </button>
        )}
        {adding.value && (
          <select
            aria-label="new panel metric"
            value=""
            onChange={(e) => {
              const m = (e.target as HTMLSelectElement).value;
              adding.value = false;
              if (m) save({ panels: [...panels, newPanel([m])] });
            }}
            onBlur={() => (adding.value = false)}
          >
            <option value="">metric of the new panel…</option>
            {names.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        )}
        <span class={`muted layout-state ${saved.value.state}`} data-testid="layout-state" data-state={saved.value.state} title={saved.value.message}>
          {savedText[saved.value.state]}
          {saved.value.message ? ` (${saved.value.message})` : ''}
        </span>
        {layout.value && (
          <button type="button" class="btn btn-sm" onClick={reset}>
            Reset layout
          </button>
        )}
      </div>
      {picked.value.length > 0 && (
        <TrainingCards picked={picked.value} series={seriesOf.value} metric={panels.flatMap((p) => p.metrics).find((m) => !SEED_CARDS.includes(m)) || ''} />
      )}
      <div class="panels" data-testid="panels">
        {panels.map((p, i) => (
          <Panel
            key={p.id}
            panel={p}
            runs={p.runs ? identsOf(p.runs, rows.value, colors) : drawn}
            metricNames={names}
            range={range.value}
            onChange={(np) => change(i, np)}
            onRemove={() => change(i, null)}
          />
        ))}
      </div>
      {picked.value.length > 0 && <Distributions runs={drawn} />}
    </section>
  );
}
