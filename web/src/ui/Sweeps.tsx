// Sweeps on the training workspace (issue #35): each sweep of your
// organisation with its method, status, progress (trials finished of its
// budget, how many run now, pruned), the metric it ranks by and its best
// trial so far (its value and config, a link to its run); open one for its
// trials (status, step, value, the parameters drawn, a link to each run)
// and Stop. Read from GET /api/sweeps; read again as the trials' runs start
// and end, and every few seconds while one runs. Hidden when the daemon
// has no sweeps.
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api, ApiError, listOf } from '../api';
import { fmtCell } from '../hparams';
import { runsTick } from '../store';
import { Badge, errText } from './common';

const POLL_MS = 3000;

type Trial = {
  n: number;
  name?: string;
  params?: Record<string, unknown>;
  runId?: string;
  status: string;
  lastStep?: number;
  value?: number | null;
  error?: string;
};
type Sweep = {
  id: string;
  name: string;
  status: string;
  spec: { method?: string; budget?: number; parallel?: number; metric?: { name: string; goal?: string } };
  state?: {
    trials?: Trial[];
    best?: { trial?: number; runId?: string; value?: number; values?: Record<string, unknown> } | null;
    gpus?: { available?: boolean; reason?: string };
  };
  updatedAt?: string;
};

export function progressOf(s: Sweep) {
  const trials = s.state?.trials || [];
  const done = trials.filter((t) => ['completed', 'pruned', 'failed', 'stopped'].includes(t.status)).length;
  const running = trials.filter((t) => t.status === 'running' || t.status === 'starting').length;
  const pruned = trials.filter((t) => t.status === 'pruned').length;
  const budget = s.spec?.budget ?? trials.length;
  return { done, running, pruned, budget, pct: budget ? Math.min(100, Math.round((done / budget) * 100)) : 0 };
}

const fmt = (v: unknown) => (typeof v === 'number' ? fmtCell(v) : v === null || v === undefined ? '–' : String(v));

function Trials({ s }: { s: Sweep }) {
  const trials = s.state?.trials || [];
  const keys = [...new Set(trials.flatMap((t) => Object.keys(t.params || {})))];
  return (
    <div class="table-scroll">
      <table class="runs-table" data-testid="sweep-trials">
        <thead>
          <tr>
            <th>#</th>
            <th>Status</th>
            {keys.map((k) => (
              <th key={k}>{k}</th>
            ))}
            <th>Step</th>
            <th>{s.spec?.metric?.name || 'value'}</th>
          </tr>
        </thead>
        <tbody>
          {trials.map((t) => (
            <tr key={t.n} data-trial={t.n} class={s.state?.best?.trial === t.n ? 'picked' : ''}>
              <td>{t.runId ? <a href={`#/runs/${encodeURIComponent(t.runId)}`}>{t.name || `#${t.n}`}</a> : t.name || `#${t.n}`}</td>
              <td title={t.error}>
                <Badge status={t.status} small />
              </td>
              {keys.map((k) => (
                <td key={k} class="mono">
                  {fmt(t.params?.[k])}
                </td>
              ))}
              <td class="mono">{fmt(t.lastStep)}</td>
              <td class="mono">{fmt(t.value)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function Sweeps() {
  const list = useSignal<Sweep[] | null>(null);
  const err = useSignal<string | null>(null);
  const open = useSignal<string | null>(null);
  const load = () =>
    api
      .sweeps()
      .then((d) => {
        err.value = null;
        list.value = listOf<Sweep>(d, 'sweeps');
      })
      .catch((e) => {
        // a daemon without sweeps: nothing to show
        if (e instanceof ApiError && e.status === 404) list.value = [];
        else err.value = errText(e);
      });
  useEffect(() => void load(), [runsTick.value]);
  const running = (list.value || []).some((s) => s.status === 'running');
  useEffect(() => {
    if (!running) return;
    const t = window.setInterval(() => void load(), POLL_MS);
    return () => clearInterval(t);
  }, [running]);

  if (!list.value || (list.value.length === 0 && !err.value)) return null;
  const stop = (id: string) =>
    api
      .stopSweep(id)
      .then(load)
      .catch((e) => (err.value = errText(e)));
  return (
    <section class="sweeps" aria-label="Sweeps">
      <h3>Sweeps</h3>
      {err.value && <p class="error-text">{err.value}</p>}
      <ul class="sweep-list">
        {list.value.map((s) => {
          const p = progressOf(s);
          const best = s.state?.best;
          return (
            <li key={s.id} class="sweep glass" data-testid="sweep" data-sweep={s.id} data-status={s.status}>
              <div class="sweep-head">
                <button type="button" class="link-btn" aria-expanded={open.value === s.id} onClick={() => (open.value = open.value === s.id ? null : s.id)}>
                  <strong>{s.name}</strong>
                </button>
                <Badge status={s.status} small />
                <span class="muted">
                  {s.spec?.method} · {s.spec?.metric?.goal === 'minimize' ? 'min' : 'max'} {s.spec?.metric?.name}
                </span>
                {s.status === 'running' && (
                  <button type="button" class="btn btn-sm" onClick={() => void stop(s.id)}>
                    Stop
                  </button>
                )}
              </div>
              <div class="sweep-progress" data-testid="sweep-progress" title={`${p.done} of ${p.budget} trials finished`}>
                <span class="bar">
                  <span class="bar-fill" style={{ width: `${p.pct}%` }} />
                </span>{' '}
                {p.done}/{p.budget} trials{p.running ? `, ${p.running} running` : ''}
                {p.pruned ? `, ${p.pruned} pruned` : ''}
              </div>
              {best && best.value !== undefined && (
                <div class="sweep-best" data-testid="sweep-best">
                  best {s.spec?.metric?.name} <span class="mono">{fmt(best.value)}</span>
                  {best.runId && (
                    <>
                      {' '}
                      ·{' '}
                      <a href={`#/runs/${encodeURIComponent(best.runId)}`}>
                        {(s.state?.trials || []).find((t) => t.n === best.trial)?.name || `trial ${best.trial}`}
                      </a>
                    </>
                  )}
                </div>
              )}
              {s.state?.gpus && s.state.gpus.available === false && <div class="muted">no GPU for the trials: {s.state.gpus.reason}</div>}
              {open.value === s.id && <Trials s={s} />}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
