// The Health page (issue #17): the machine as agentd samples it. CPU, GPU
// and memory cards with threshold warnings and sparklines over the chosen
// range, the health score with the reasons that lower it, each running
// agent's CPU, memory and GPU memory (HealthCards.tsx), services and jobs,
// made and managed here (Services.tsx, Jobs.tsx), and the requirements
// checklist. /api/health is polled while the page is open (cheap: the
// sampler has the figures already); the history is fetched per range
// (useHealth.ts).
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api, ApiError, type Requirement } from '../api';
import { Empty, ErrorState, errText, Spinner } from './common';
import { AgentsTable, CpuCard, GpuCard, ScoreCard } from './HealthCards';
import { JobsPanel } from './Jobs';
import { ServicesPanel } from './Services';
import { useHealth, useHealthHistory } from './useHealth';

export const RANGES = ['5m', '15m', '1h', '6h', '24h', '7d', 'all'];

/** The requirements checklist (admin tokens: the check runs --version). */
export function RequirementsPanel() {
  const data = useSignal<{ ok: boolean; items: Requirement[] } | null>(null);
  const err = useSignal<string | null>(null);
  const busy = useSignal(false);
  const load = (refresh = false) => {
    err.value = null;
    busy.value = true;
    api
      .requirements(refresh)
      .then((d) => (data.value = d))
      .catch((e) => (err.value = e instanceof ApiError && e.status === 403 ? 'Checking requirements needs an admin token.' : errText(e)))
      .finally(() => (busy.value = false));
  };
  useEffect(() => load(), []);
  return (
    <section class="panel glass requirements" aria-label="Requirements">
      <div class="page-head">
        <h2>Requirements</h2>
        <button class="btn btn-sm" onClick={() => load(true)} disabled={busy.value}>
          {busy.value ? 'Checking…' : 'Check again'}
        </button>
      </div>
      {err.value && <ErrorState message={err.value} />}
      {!err.value && !data.value && <Spinner label="Checking…" />}
      {data.value && (
        <ul class="checklist">
          {data.value.items.map((i) => (
            <li key={i.id} class={`req req-${i.status}`} data-req={i.id} data-status={i.status}>
              <span class="req-mark" aria-hidden="true">
                {i.status === 'ok' ? '✓' : i.status === 'missing' ? '✗' : '!'}
              </span>
              <span class="req-name">
                {i.name}
                {!i.required && <span class="muted"> (optional)</span>}
              </span>
              <span class="req-value">{i.value}</span>
              {i.fix && <span class="req-fix">{i.fix}</span>}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function HealthPage() {
  const range = useSignal('15m');
  const { data: h, err } = useHealth();
  const { data: hist } = useHealthHistory(range.value);
  if (err.value && !h.value) return <ErrorState message={err.value} />;
  if (!h.value) return <Spinner label="Loading health…" />;
  const x = h.value;
  return (
    <div class="page health">
      <div class="page-head">
        <h1 class="page-title">Health</h1>
        <div class="ranges" role="group" aria-label="Range">
          {RANGES.map((r) => (
            <button key={r} class={`btn btn-sm${range.value === r ? ' btn-primary' : ''}`} aria-pressed={range.value === r} onClick={() => (range.value = r)}>
              {r}
            </button>
          ))}
        </div>
      </div>
      {!x.sampledAt ? (
        <Empty title="Not sampled">agentd samples the machine only with --health-interval-ms above 0.</Empty>
      ) : (
        <>
          <ScoreCard h={x} />
          {hist.value && (
            <p class="muted small" data-testid="history-step">
              {hist.value.t.length} points, one per {hist.value.stepSec} s{hist.value.stepSec > 1 ? ' (faint line: the highest in each step)' : ''}
            </p>
          )}
          <div class="hgrid">
            <CpuCard h={x} hist={hist.value} />
            <GpuCard h={x} hist={hist.value} />
          </div>
          <AgentsTable h={x} />
        </>
      )}
      <ServicesPanel t={x.thresholds || {}} />
      <JobsPanel />
      <RequirementsPanel />
    </div>
  );
}
