// The training workspace's runs list (issue #35): live from the event
// stream (a new run appears, a finished one turns finished, a renamed one
// is renamed, with no reload), only runs with metrics unless "all runs" is
// ticked, filtered by tag, status, agent and config values (the runs
// table's filter words). Each row: a box to draw the run, its colour and
// name (a link to its page), tags, agent, status, start and duration, and
// ✎ to edit its name, colour, tags, notes and group. `visible` (from the
// parallel coordinates' brushes) narrows the rows shown.
import { useSignal, type Signal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { api } from '../api';
import { RunStatusValues } from '../rows';
import { applyRunEvent, emptyFilter, listQuery, type RunFilter, type RunTableRow } from '../runlist';
import { agentList, onRunEvent, workspaces } from '../store';
import type { Envelope } from '../types';
import { errText } from './common';
import { RunCells } from './RunCells';
import { RunEdit } from './RunEdit';

const STATUSES = ['', ...RunStatusValues];
const RELOAD_MS = 400;
// a run outside the list whose points keep coming asks for a reload at most
// this often (the first may have read the list before its points were in)
const RETRY_MS = 3000;
const SINCE_MAX = 2000; // events kept while a read is out

export function RunList({
  rows,
  total,
  filter,
  picked,
  visible,
  colors,
  onToggle,
}: {
  rows: Signal<RunTableRow[] | null>;
  total: Signal<number>;
  filter: Signal<RunFilter>;
  picked: string[];
  /** ids the brushes let through, or null for every row */
  visible: Set<string> | null;
  /** each run's colour as the panels draw it */
  colors?: Map<string, string>;
  onToggle: (id: string) => void;
}) {
  const err = useSignal<string | null>(null);
  const editing = useSignal<RunTableRow | null>(null);
  const form = useSignal({ tag: filter.value.tag, config: filter.value.config });
  const tried = useRef(new Map<string, number>());
  const gen = useRef(0);
  const timer = useRef<number | null>(null);

  // the run events that came while a read was out: the answer may predate
  // them (a run that ended meanwhile), so they are applied over it again
  const since = useRef<Envelope[]>([]);
  const load = useRef(() => {});
  load.current = () => {
    const g = ++gen.current;
    since.current = [];
    api
      .runTable(listQuery(filter.value))
      .then((d: any) => {
        if (g !== gen.current) return;
        err.value = null;
        let list = (d.runs || []) as RunTableRow[];
        for (const ev of since.current) list = applyRunEvent(list, ev, () => true).rows;
        since.current = [];
        rows.value = list;
        total.value = d.total ?? list.length;
      })
      .catch((e) => g === gen.current && (err.value = errText(e)));
  };
  const key = listQuery(filter.value);
  useEffect(() => load.current(), [key]);

  // live: patch the rows in hand, or read the list again (debounced)
  useEffect(() => {
    const off = onRunEvent((ev) => {
      if (since.current.length < SINCE_MAX) since.current.push(ev);
      if (rows.value === null) return;
      const now = Date.now();
      const c = applyRunEvent(rows.value, ev, (id) => now - (tried.current.get(id) ?? 0) < RETRY_MS);
      if (c.rows !== rows.value) rows.value = c.rows;
      if (c.reload && ev.type === 'metrics_update' && ev.payload?.runId) tried.current.set(ev.payload.runId, now);
      if (c.reload && timer.current === null) {
        timer.current = window.setTimeout(() => {
          timer.current = null;
          load.current();
        }, RELOAD_MS);
      }
    });
    return () => {
      off();
      if (timer.current !== null) clearTimeout(timer.current);
    };
  }, []);

  const set = (patch: Partial<RunFilter>) => (filter.value = { ...filter.value, ...patch });
  const apply = (e: Event) => {
    e.preventDefault();
    set({ tag: form.value.tag.trim(), config: form.value.config.trim() });
  };
  const shown = (rows.value || []).filter((r) => !visible || visible.has(r.id));
  const f = filter.value;
  return (
    <div class="run-list" data-testid="run-list">
      <form class="training-controls" onSubmit={apply}>
        <label>
          Runs of{' '}
          <select aria-label="workspace" value={f.workspaceId} onChange={(e) => set({ workspaceId: (e.target as HTMLSelectElement).value })}>
            <option value="">every workspace</option>
            {(workspaces.value || []).map((w) => (
              <option key={w.id} value={w.id}>
                {w.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Status{' '}
          <select aria-label="run status" value={f.status} onChange={(e) => set({ status: (e.target as HTMLSelectElement).value })}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s || 'any'}
              </option>
            ))}
          </select>
        </label>
        <label>
          Agent{' '}
          <select aria-label="run agent" value={f.agentId} onChange={(e) => set({ agentId: (e.target as HTMLSelectElement).value })}>
            <option value="">any</option>
            {agentList.value.map((a) => (
              <option key={a.id} value={a.id}>
                {a.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Tag{' '}
          <input
            aria-label="run tag"
            size={10}
            value={form.value.tag}
            onInput={(e) => (form.value = { ...form.value, tag: (e.target as HTMLInputElement).value })}
          />
        </label>
        <label>
          Config{' '}
          <input
            aria-label="config filter"
            placeholder="learningRate>0.001"
            value={form.value.config}
            onInput={(e) => (form.value = { ...form.value, config: (e.target as HTMLInputElement).value })}
          />
        </label>
        <button type="submit" class="btn btn-sm">
          Filter
        </button>
        <label title="chat, shell and other runs that reported no metrics">
          <input type="checkbox" aria-label="runs without metrics" checked={f.all} onChange={() => set({ all: !f.all })} /> runs without metrics
        </label>
        {(f.tag || f.status || f.agentId || f.config) && (
          <button
            type="button"
            class="btn btn-sm"
            onClick={() => {
              form.value = { tag: '', config: '' };
              filter.value = { ...emptyFilter(), workspaceId: f.workspaceId, all: f.all };
            }}
          >
            Clear filters
          </button>
        )}
      </form>
      {err.value && (
        <p class="error-text" role="alert">
          {err.value}
        </p>
      )}
      {rows.value !== null && rows.value.length === 0 && !err.value && (
        <p class="muted" data-testid="runs-empty">
          {f.all || f.tag || f.status || f.agentId || f.config
            ? 'No runs match.'
            : 'No runs with metrics yet: a program that prints metric lines shows up here as it runs.'}
        </p>
      )}
      {shown.length > 0 && (
        <div class="table-scroll run-list-scroll">
          <table class="runs-table">
            <thead>
              <tr>
                <th />
                <th>Run</th>
                <th>Agent</th>
                <th>Status</th>
                <th>Started</th>
                <th>Duration</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {shown.map((r) => (
                <tr key={r.id} class={picked.includes(r.id) ? 'picked' : ''} data-run={r.id} data-status={r.status}>
                  <td>
                    <input type="checkbox" aria-label={`compare ${r.id}`} checked={picked.includes(r.id)} onChange={() => onToggle(r.id)} />
                  </td>
                  <td>
                    <span class="swatch" style={{ background: colors?.get(r.id) || r.color }} />{' '}
                    <a class="run-name" href={`#/runs/${encodeURIComponent(r.id)}`} title={r.id}>
                      {r.name || r.id}
                    </a>
                    {r.group && <span class="run-group muted"> · {r.group}</span>}
                    {(r.tags || []).map((t) => (
                      <button
                        type="button"
                        key={t}
                        class="tag"
                        title={`only runs tagged ${t}`}
                        onClick={() => ((form.value = { ...form.value, tag: t }), set({ tag: t }))}
                      >
                        {t}
                      </button>
                    ))}
                  </td>
                  <RunCells r={r} />
                  <td>
                    <button
                      type="button"
                      class="icon-btn"
                      aria-label={`edit ${r.name || r.id}`}
                      title="name, colour, tags, notes, group"
                      onClick={() => (editing.value = r)}
                    >
                      ✎
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {rows.value !== null && (
        <p class="muted run-list-count" data-testid="runs-count">
          {visible ? `${shown.length} of ${rows.value.length} runs match the brushes` : `${rows.value.length} of ${total.value} runs`}
        </p>
      )}
      {editing.value && (
        <RunEdit
          run={editing.value}
          onClose={() => (editing.value = null)}
          onSaved={(r) => rows.value && (rows.value = rows.value.map((x) => (x.id === r.id ? { ...x, ...r } : x)))}
        />
      )}
    </div>
  );
}
