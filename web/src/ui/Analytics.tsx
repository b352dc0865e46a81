// Analytics (a lazy chunk of its own): today's usage, usage by agent and by model (UsageTables),
// and the daily history from /api/usage/history as
// plain bars, then training runs and their curves (Training.tsx, a lazy
// chunk with uPlot).
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { lazy, Suspense } from 'preact/compat';
import { api, listOf } from '../api';
import { usageToday } from '../store';
import { Empty, ErrorState, errText, fmtCost, fmtInt, Spinner } from './common';
import { usageFigures } from './Home';
import { ConfigEditor } from './ConfigEditor';
import { RunsTable } from './RunsTable';
import { UsageTables } from './UsageTables';

const Training = lazy(() => import('./Training'));

export default function Analytics() {
  const rows = useSignal<any[] | null>(null);
  const err = useSignal<string | null>(null);
  const load = () => {
    err.value = null;
    api
      .usageHistory()
      .then((d) => (rows.value = listOf<any>(d, 'history').length ? listOf<any>(d, 'history') : listOf<any>(d, 'usage')))
      .catch((e) => (err.value = errText(e)));
  };
  useEffect(load, []);
  const today = usageFigures(usageToday.value);
  const list = (rows.value || []).map((r) => ({ date: String(r.date || r.day || ''), ...usageFigures(r) })).filter((r) => r.date);
  const max = Math.max(1, ...list.map((r) => r.tokens || 0));
  return (
    <div class="page analytics">
      <h1 class="page-title">Analytics</h1>
      <div class="cards">
        <div class="card glass tone-tokens">
          <div class="card-label">Tokens today</div>
          <div class="card-value">{today.tokens === null ? '–' : fmtInt(today.tokens)}</div>
        </div>
        <div class="card glass tone-cost">
          <div class="card-label">Cost today</div>
          <div class="card-value">{today.cost === null ? '–' : fmtCost(today.cost)}</div>
        </div>
        <div class="card glass tone-running">
          <div class="card-label">Requests today</div>
          <div class="card-value">{today.requests === null ? '–' : fmtInt(today.requests)}</div>
        </div>
      </div>
      <UsageTables />
      <Suspense fallback={<Spinner />}>
        <Training />
      </Suspense>
      <RunsTable />
      <ConfigEditor />
      <section class="panel glass">
        <h2>Tokens per day</h2>
        {err.value && <ErrorState message={err.value} onRetry={load} />}
        {!err.value && rows.value === null && <Spinner />}
        {rows.value !== null && list.length === 0 && <Empty title="No usage recorded yet">Usage appears here once agents make requests.</Empty>}
        {list.length > 0 && (
          <ul class="bars">
            {list.slice(-30).map((r) => (
              <li key={r.date}>
                <span class="bar-label">{r.date}</span>
                <span class="bar">
                  <span class="bar-fill" style={{ width: `${((r.tokens || 0) / max) * 100}%` }} />
                </span>
                <span class="bar-value">
                  {fmtInt(r.tokens || 0)} · {fmtCost(r.cost || 0)}
                </span>
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}
