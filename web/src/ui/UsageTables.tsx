// Usage per agent and per model for today, this week or this month (today
// first): agents from GET /api/usage/agents (their runs, the caller's
// organisation), models from the usage table's modelUsage of the same
// period key (the daemon's own accounts: the default organisation's).
import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { api, listOf, type UsageByAgent } from '../api';
import { newest } from '../newest';
import { runsTick, usageToday } from '../store';
import { Empty, errText, fmtCost, fmtInt, Spinner } from './common';

const PERIODS: [string, string][] = [
  ['daily', 'Today'],
  ['weekly', 'This week'],
  ['monthly', 'This month'],
];

interface ModelRow {
  model: string;
  tokens: number;
  requests: number;
  cost: number;
}

export function modelRows(row: any): ModelRow[] {
  const mu = row && typeof row.modelUsage === 'object' && row.modelUsage ? row.modelUsage : {};
  return Object.entries<any>(mu)
    .map(([model, u]) => ({
      model,
      tokens: Number(u.inputTokens || 0) + Number(u.outputTokens || 0),
      requests: Number(u.requestCount || 0),
      cost: Number(u.costUsd || 0),
    }))
    .sort((a, b) => b.cost - a.cost || b.tokens - a.tokens || a.model.localeCompare(b.model));
}

export function UsageTables() {
  const period = useSignal('daily');
  const agents = useSignal<UsageByAgent | null>(null);
  const models = useSignal<ModelRow[] | null>(null);
  const agentErr = useSignal<string | null>(null);
  const modelErr = useSignal<string | null>(null);
  // Only the newest read's answers are taken (a period switch or a tick
  // reads again, and two reads can be answered in either order). Both
  // reads of a load go through the one guard: a later load's first read
  // drops an earlier load's models read still on its way.
  const take = useRef(newest()).current;
  const load = () => {
    const p = period.value;
    take(
      api.usageAgents(p),
      (d) => {
        agents.value = d;
        agentErr.value = null;
        take(
          api.usage(p, d.from, d.from),
          (u) => {
            models.value = modelRows(listOf<any>(u, 'rows')[0]);
            modelErr.value = null;
          },
          (e) => (modelErr.value = errText(e)),
        );
      },
      (e) => (agentErr.value = errText(e)),
    );
  };
  // Reload on a period switch, when runs start or end, and with new usage.
  useEffect(load, [period.value, runsTick.value, usageToday.value]);
  return (
    <section class="panel glass usage-tables" aria-label="Usage by agent and model">
      <div class="panel-head">
        <h2>Usage by agent and model</h2>
        <div class="seg" role="tablist" aria-label="Usage period">
          {PERIODS.map(([k, label]) => (
            <button
              key={k}
              role="tab"
              aria-selected={period.value === k}
              class={`seg-btn${period.value === k ? ' active' : ''}`}
              onClick={() => {
                period.value = k;
                agents.value = null;
                models.value = null;
              }}
            >
              {label}
            </button>
          ))}
        </div>
      </div>
      <h3>By agent</h3>
      {agentErr.value && (
        <div class="form-error" role="alert">
          {agentErr.value}
        </div>
      )}
      {!agentErr.value && agents.value === null && <Spinner />}
      {agents.value && agents.value.agents.length === 0 && <Empty title="No agent runs in this period" />}
      {agents.value && agents.value.agents.length > 0 && (
        <table class="table usage-agents">
          <thead>
            <tr>
              <th>Agent</th>
              <th class="num">Runs</th>
              <th class="num">Tokens</th>
              <th class="num">Cost</th>
            </tr>
          </thead>
          <tbody>
            {agents.value.agents.map((a) => (
              <tr key={a.agentId}>
                <td>
                  <a href={`#/agents/${a.agentId}`}>{a.name}</a>
                  {a.deletedAt ? <span class="muted small"> (archived)</span> : null}
                </td>
                <td class="num">{fmtInt(a.runs)}</td>
                <td class="num">{fmtInt(a.totalTokens)}</td>
                <td class="num">{fmtCost(a.costUsd)}</td>
              </tr>
            ))}
          </tbody>
          <tfoot>
            <tr>
              <th>Total</th>
              <th class="num">{fmtInt(agents.value.totals.runs)}</th>
              <th class="num">{fmtInt(agents.value.totals.totalTokens)}</th>
              <th class="num">{fmtCost(agents.value.totals.costUsd)}</th>
            </tr>
          </tfoot>
        </table>
      )}
      <h3>By model</h3>
      {modelErr.value && <p class="muted small">Model usage is the default organisation's: {modelErr.value}</p>}
      {!modelErr.value && models.value === null && agents.value !== null && <Spinner />}
      {models.value && models.value.length === 0 && <Empty title="No model requests in this period" />}
      {models.value && models.value.length > 0 && (
        <table class="table usage-models">
          <thead>
            <tr>
              <th>Model</th>
              <th class="num">Requests</th>
              <th class="num">Tokens</th>
              <th class="num">Cost</th>
            </tr>
          </thead>
          <tbody>
            {models.value.map((m) => (
              <tr key={m.model}>
                <td>{m.model}</td>
                <td class="num">{fmtInt(m.requests)}</td>
                <td class="num">{fmtInt(m.tokens)}</td>
                <td class="num">{fmtCost(m.cost)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
