// A run's page (issue #35, #/runs/:id, a lazy chunk): its name, colour,
// status, tags, group and notes (✎ edits them), the commit its worktree
// was at when it started and the prompt or command that started it, its
// config, a panel per metric it reported, the machine's and the run's own
// GPU, CPU and memory on the same wall-time axis (GET /api/health/history
// with runId: every sample kept on disk), its distributions, its log (the
// run's messages, oldest first) and its files (what changed in the worktree
// since that commit). Kept live by the run's events.
import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api, listOf } from '../api';
import { fmtCell } from '../hparams';
import { newPanel, type Panel as PanelT, type SeriesInfo } from '../panels';
import type { RunTableRow } from '../runlist';
import type { Message } from '../types';
import type { RunCommitRow, RunRow } from '../rows';
import { model, onRunEvent } from '../store';
import { axis, chartTheme, hoverPlugin } from './chartkit';
import { Badge, Empty, ErrorState, errText, Spinner } from './common';
import Distributions from './Distributions';
import { Panel, type RunIdent } from './Panel';
import { RunEdit } from './RunEdit';
import { fmtDuration } from './RunCells';

const LOG_PAGE = 200;
const SYS_BUCKETS = 300;
const LIVE_MS = 1000;

type Sys = { t: number[]; series: Record<string, (number | null)[]>; run?: { series: Record<string, (number | null)[]> } | null; disk: boolean };

// What the health history answers for the run's span: the samples on disk
// when the server keeps them (source "disk", with the run's own use), else
// the in-memory rings, cut to the run's span.
async function systemOf(run: RunRow): Promise<Sys | null> {
  const from = Date.parse(run.startedAt);
  const to = run.endedAt ? Date.parse(run.endedAt) : Date.now();
  const d: any = await api.runHealth(run.id, SYS_BUCKETS);
  if (!d || !Array.isArray(d.t)) return null;
  if (d.source === 'disk') return { t: d.t, series: d.series || {}, run: d.run || null, disk: true };
  const keep = d.t.map((t: number) => t >= from - 1000 && t <= to + 1000);
  const cut = (col: (number | null)[] = []) => col.filter((_, i) => keep[i]);
  const series: Record<string, (number | null)[]> = {};
  for (const k of Object.keys(d.series || {})) series[k] = cut(d.series[k]);
  return { t: cut(d.t) as number[], series, run: null, disk: false };
}

const SYS_LINES: { key: string; label: string; scale: 'pct' | 'bytes'; color: string; own?: boolean }[] = [
  { key: 'gpuUtil', label: 'GPU %', scale: 'pct', color: '#3ecf8e' },
  { key: 'cpu', label: 'CPU %', scale: 'pct', color: '#4f9cff' },
  { key: 'memUsed', label: 'memory used', scale: 'bytes', color: '#c77dff' },
  { key: 'vramUsed', label: 'GPU memory', scale: 'bytes', color: '#ffd166' },
  { key: 'cpu', label: 'run CPU % (one core)', scale: 'pct', color: '#ff7a59', own: true },
  { key: 'rss', label: 'run memory', scale: 'bytes', color: '#ef476f', own: true },
  { key: 'gpuMem', label: 'run GPU memory', scale: 'bytes', color: '#06d6a0', own: true },
];

function fmtBytes(v: number) {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (Math.abs(v) >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i ? 1 : 0)} ${u[i]}`;
}

function SystemChart({ sys }: { sys: Sys }) {
  const el = useRef<HTMLDivElement>(null);
  const lines = SYS_LINES.filter((l) => {
    const col = l.own ? sys.run?.series?.[l.key] : sys.series[l.key];
    return Array.isArray(col) && col.some((v) => v !== null && v !== undefined);
  });
  useEffect(() => {
    if (!el.current || lines.length === 0) return;
    const t = chartTheme();
    const cols = lines.map((l) => ((l.own ? sys.run!.series[l.key] : sys.series[l.key]) as (number | null)[]).map((v) => (v === undefined ? null : v)));
    const series: uPlot.Series[] = [
      { label: 'time' },
      ...lines.map((l) => ({ label: l.label, scale: l.scale, stroke: l.color, width: 1.5, dash: l.own ? [6, 3] : undefined, spanGaps: true })),
    ];
    const u = new uPlot(
      {
        width: Math.max(300, el.current.clientWidth || 640),
        height: 220,
        series,
        legend: { show: false },
        scales: { x: { time: true }, pct: { range: [0, 100] }, bytes: {} },
        // its cursor moves with the metric panels on wall time
        cursor: { sync: { key: 'training-time' } },
        axes: [
          axis(t),
          axis(t, { scale: 'pct', size: 50, values: (_u, v) => v.map((x) => `${x}%`) }),
          axis(t, { scale: 'bytes', side: 1, size: 70, grid: { show: false }, values: (_u, v) => v.map((x) => fmtBytes(x)) }),
        ],
        plugins: [
          hoverPlugin(
            () => lines.map((l, i) => ({ runId: l.key + (l.own ? '-run' : ''), label: l.label, color: l.color, values: cols[i] })),
            (x) => new Date(x * 1000).toLocaleTimeString(),
          ),
        ],
      },
      [sys.t.map((x) => x / 1000), ...cols] as uPlot.AlignedData,
      el.current,
    );
    return () => u.destroy();
  }, [sys]);
  if (lines.length === 0) return <p class="muted">No system samples cover this run.</p>;
  return (
    <>
      <div class="training-chart" data-testid="system-chart" ref={el} />
      <ul class="training-legend" data-testid="system-legend">
        {lines.map((l) => (
          <li key={l.label}>
            <span class="swatch" style={{ background: l.color }} /> {l.label}
          </li>
        ))}
      </ul>
    </>
  );
}

function Commit({ c }: { c: RunCommitRow | null }) {
  if (!c) return <p class="muted">No commit recorded for this run.</p>;
  return (
    <div class="run-commit" data-testid="run-commit">
      <div>
        <code class="mono">{c.shortId}</code> <strong>{c.summary}</strong>
        {c.branch && <span class="muted"> on {c.branch}</span>}
      </div>
      <div class="muted">
        {c.author} · {c.time ? new Date(c.time).toLocaleString() : ''}
      </div>
      {c.message && c.message.trim() !== c.summary && (
        <details>
          <summary>Full message</summary>
          <pre class="run-commit-message">{c.message}</pre>
        </details>
      )}
    </div>
  );
}

function Log({ runId, live }: { runId: string; live: number }) {
  const msgs = useSignal<Message[] | null>(null);
  const more = useSignal<string | null>(null);
  const err = useSignal<string | null>(null);
  const load = (after: string | null) =>
    api
      .runMessages(runId, LOG_PAGE, after)
      .then((d: any) => {
        err.value = null;
        const list = listOf<Message>(d, 'messages');
        if (after === null) msgs.value = list;
        else {
          const have = new Set((msgs.value || []).map((m) => m.id));
          msgs.value = [...(msgs.value || []), ...list.filter((m) => !have.has(m.id))];
        }
        more.value = d.hasMore ? d.nextCursor : null;
      })
      .catch((e) => (err.value = errText(e)));
  // the first page, again as the run goes on (until it has more than a page)
  useEffect(() => {
    if (more.value === null || msgs.value === null) void load(null);
  }, [runId, live]);
  if (err.value) return <p class="error-text">{err.value}</p>;
  if (msgs.value === null) return <Spinner />;
  if (msgs.value.length === 0) return <p class="muted">Nothing logged.</p>;
  return (
    <div class="run-log" data-testid="run-log">
      <pre>
        {msgs.value.map((m) => (
          <div key={m.id} class={`log-line log-${m.role}`}>
            <span class="muted">{new Date(m.createdAt).toLocaleTimeString()} </span>
            {m.toolName ? `[${m.toolName}] ` : ''}
            {m.content}
          </div>
        ))}
      </pre>
      {more.value && (
        <button type="button" class="btn btn-sm" onClick={() => void load(more.value)}>
          More
        </button>
      )}
    </div>
  );
}

// The run's alert firings (newest first): what fired, when, and what was
// done about it. Hidden on a daemon without alerts.
function Alerts({ runId, live }: { runId: string; live: number }) {
  const list = useSignal<any[] | null>(null);
  useEffect(() => {
    api
      .runAlerts(runId)
      .then((d: any) => (list.value = listOf<any>(d, 'firings')))
      .catch(() => (list.value = null));
  }, [runId, live]);
  if (!list.value || list.value.length === 0) return null;
  return (
    <section class="panel glass" data-testid="run-alerts">
      <h2>Alerts</h2>
      <ul class="run-alerts">
        {list.value.map((f) => (
          <li key={f.id} data-kind={f.kind}>
            <strong>{f.ruleName || f.kind}</strong> <span class="muted">{f.at ? new Date(typeof f.at === 'number' ? f.at : f.at).toLocaleString() : ''}</span>
            <div>
              {f.message}
              {f.action && f.action !== 'none' ? ` · ${f.action}: ${f.actionResult || 'asked'}` : ''}
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}

function Files({ worktreeId, commit, live }: { worktreeId?: string; commit?: any; live: number }) {
  const d = useSignal<any | null>(null);
  const err = useSignal<string | null>(null);
  useEffect(() => {
    if (!worktreeId || !commit?.id) return;
    api
      .review(worktreeId, commit.id)
      .then((x) => (d.value = x))
      .catch((e) => (err.value = errText(e)));
  }, [worktreeId, commit?.id, live]);
  if (!commit?.id) return <p class="muted">Without the run's commit there is nothing to compare.</p>;
  if (err.value) return <p class="error-text">{err.value}</p>;
  if (!d.value) return <Spinner />;
  const files: any[] = d.value.files || [];
  return (
    <div data-testid="run-files">
      <p class="muted">
        The worktree now against {commit.shortId}: {(d.value.commits || []).length} commits since, {files.length} files changed.
      </p>
      {files.length > 0 && (
        <ul class="run-files">
          {files.slice(0, 200).map((f) => (
            <li key={f.path}>
              <span class={`file-status ${f.status}`}>{f.status}</span> <code>{f.path}</code>{' '}
              <span class="muted">
                +{f.insertions ?? 0} −{f.deletions ?? 0}
              </span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export default function RunPage({ id }: { id: string }) {
  const run = useSignal<any | null>(null);
  const err = useSignal<string | null>(null);
  const series = useSignal<SeriesInfo[]>([]);
  const panels = useSignal<PanelT[]>([]);
  const sys = useSignal<Sys | null>(null);
  const editing = useSignal(false);
  const live = useSignal(0);
  const started = useSignal<string | null>(null);
  const timer = useRef<number | null>(null);

  const load = () => {
    api
      .run(id)
      .then((r) => {
        err.value = null;
        run.value = r;
        return Promise.all([api.runSeries(id), systemOf(r).catch(() => null)]);
      })
      .then(([s, h]) => {
        const list = listOf<SeriesInfo>(s, 'series');
        series.value = list;
        sys.value = h;
        // a panel per metric, on wall time like the system chart; the user's
        // changes to them are kept while the page is open
        const have = new Set(panels.value.flatMap((p) => p.metrics));
        const add = list.filter((x) => !have.has(x.name)).map((x) => ({ ...newPanel([x.name], { x: 'time', group: false }), id: `run-${x.name}` }));
        if (add.length) panels.value = [...panels.value, ...add];
      })
      .catch((e) => (err.value = errText(e)));
  };
  useEffect(() => {
    panels.value = [];
    run.value = null;
    started.value = null;
    load();
    // the message that started it: the run's first prompt
    api
      .runMessages(id, 5, null)
      .then((d: any) => (started.value = listOf<Message>(d, 'messages').find((m) => m.role === 'user')?.content ?? null))
      .catch(() => undefined);
  }, [id]);
  // live: the run's events bring its new status, name and points
  useEffect(() => {
    const off = onRunEvent((ev) => {
      const p = ev.payload || {};
      const rid = p.run?.id || p.runId || (ev.type === 'run_update' ? p.id : null);
      if (rid !== id || timer.current !== null) return;
      timer.current = window.setTimeout(() => {
        timer.current = null;
        live.value++;
        load();
      }, LIVE_MS);
    });
    return () => {
      off();
      if (timer.current !== null) clearTimeout(timer.current);
    };
  }, [id]);

  if (err.value) return <ErrorState message={err.value} onRetry={load} />;
  const r = run.value;
  if (!r) return <Spinner />;
  const agent = model.value.agents[r.agentId];
  const ident: RunIdent = { id: r.id, name: r.name || r.id, color: r.color, startedAt: r.startedAt };
  const names = series.value.map((s) => s.name);
  const values: Record<string, unknown> = r.config?.values || {};
  const cmd = (agent?.state as { command?: unknown } | undefined)?.command;
  const prompt = Array.isArray(cmd) ? cmd.join(' ') : '';
  return (
    <div class="page run-page" data-testid="run-page" data-run={r.id} data-status={r.status}>
      <div class="page-head">
        <h1 class="page-title">
          <span class="swatch" style={{ background: r.color }} /> <span data-testid="run-title">{r.name}</span>
        </h1>
        <div class="head-actions">
          <Badge status={r.status} />
          <button type="button" class="btn btn-sm" onClick={() => (editing.value = true)}>
            ✎ Edit
          </button>
          <a class="btn btn-sm" href="#/analytics">
            Analytics
          </a>
        </div>
      </div>
      <section class="panel glass run-facts">
        <dl class="run-dl">
          <dt>Agent</dt>
          <dd>
            <a href={`#/agents/${encodeURIComponent(r.agentId)}`}>{r.agentName || agent?.name || r.agentId}</a>
          </dd>
          <dt>Started</dt>
          <dd>{r.startedAt ? new Date(r.startedAt).toLocaleString() : '–'}</dd>
          <dt>Duration</dt>
          <dd>{fmtDuration(r.durationMs ?? (r.startedAt ? Date.now() - Date.parse(r.startedAt) : null))}</dd>
          {r.exitCode !== null && r.exitCode !== undefined && (
            <>
              <dt>Exit code</dt>
              <dd>{r.exitCode}</dd>
            </>
          )}
          <dt>Run id</dt>
          <dd class="mono">{r.id}</dd>
          {r.group && (
            <>
              <dt>Group</dt>
              <dd>{r.group}</dd>
            </>
          )}
          {(r.tags || []).length > 0 && (
            <>
              <dt>Tags</dt>
              <dd>
                {r.tags.map((t: string) => (
                  <span key={t} class="tag">
                    {t}
                  </span>
                ))}
              </dd>
            </>
          )}
        </dl>
        {r.notes && <p class="run-notes">{r.notes}</p>}
        <h3>Commit</h3>
        <Commit c={r.commit} />
        {started.value && (
          <>
            <h3>Prompt</h3>
            <pre class="run-command" data-testid="run-prompt">
              {started.value}
            </pre>
          </>
        )}
        {prompt && (
          <>
            <h3>Command</h3>
            <pre class="run-command" data-testid="run-command">
              {prompt}
            </pre>
          </>
        )}
      </section>
      {r.config && (
        <section class="panel glass" data-testid="run-config">
          <h2>Config {r.config.name ? <span class="muted">· {r.config.name}</span> : null}</h2>
          <table class="runs-table config-table">
            <tbody>
              {Object.keys(values).map((k) => (
                <tr key={k}>
                  <th>{k}</th>
                  <td class="mono">{typeof values[k] === 'number' ? fmtCell(values[k] as number) : String(values[k])}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
      <section class="panel glass training">
        <h2>Metrics</h2>
        {names.length === 0 && <Empty title="No metrics">This run reported no metric points.</Empty>}
        <div class="panels">
          {panels.value.map((p, i) => (
            <Panel
              key={p.id}
              panel={p}
              runs={[ident]}
              metricNames={names}
              range="all"
              onChange={(np) => (panels.value = panels.value.map((x, k) => (k === i ? np : x)))}
              onRemove={() => (panels.value = panels.value.filter((_, k) => k !== i))}
            />
          ))}
        </div>
        <Distributions runs={[ident]} />
      </section>
      <Alerts runId={r.id} live={live.value} />
      <section class="panel glass" data-testid="run-system">
        <h2>System</h2>
        <p class="muted">
          The machine's GPU, CPU and memory while the run ran{sys.value?.run ? ', and the run’s own' : ''} (dashed), on wall time.
          {sys.value && !sys.value.disk ? ' From the recent history kept in memory.' : ''}
        </p>
        {sys.value ? <SystemChart sys={sys.value} /> : <p class="muted">No system history.</p>}
      </section>
      <section class="panel glass">
        <h2>Log</h2>
        <Log runId={r.id} live={live.value} />
      </section>
      <section class="panel glass">
        <h2>Files</h2>
        <Files worktreeId={agent?.worktreeId} commit={r.commit} live={live.value} />
      </section>
      {editing.value && <RunEdit run={r as RunTableRow} onClose={() => (editing.value = false)} onSaved={(x) => (run.value = { ...r, ...x })} />}
    </div>
  );
}
