// The Health page (issue #17): the machine as agentd samples it. CPU, GPU
// and memory cards with threshold warnings and sparklines over the chosen
// range, the health score with the reasons that lower it, each running
// agent's CPU, memory and GPU memory (HealthCards.tsx), services and jobs,
// made and managed here (Services.tsx, Jobs.tsx), and the requirements
// checklist (Requirements.tsx). /api/health is polled while the page is
// open (cheap: the sampler has the figures already); the history is
// fetched per range (useHealth.ts).
import { useSignal } from '@preact/signals';
import { Empty, ErrorState, Spinner } from './common';
import { AgentsTable, CpuCard, GpuCard, ScoreCard } from './HealthCards';
import { JobsPanel } from './Jobs';
import { ServicesPanel } from './Services';
import { RequirementsPanel } from './Requirements';
import { useHealth, useHealthHistory } from './useHealth';

export const RANGES = ['5m', '15m', '1h', '6h', '24h', '7d', 'all'];

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
