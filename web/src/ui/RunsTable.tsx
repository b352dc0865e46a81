// The runs table (issue #16): every run of the organisation (or of one
// workspace or agent) with the config it was started with, the final and
// best value of the metrics you name ("reward,loss:min": :min when lower is better), its duration and
// status, from GET /api/training/runs. Click a header to sort by it (again
// to flip the order); filter by status and by comparisons of config fields
// or metric values ("learningRate>0.001, reward.final>=0.5"). Pages of 50.
import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { api } from '../api';
import { RunStatusValues } from '../rows';
import { newest } from '../newest';
import { configColumns, fmtCell, fmtNum, metricNames, nextSort, tableQuery, type TableQuery } from '../hparams';
import { agentList, runsTick, workspaces } from '../store';
import { Empty, errText } from './common';
import { RunCells } from './RunCells';

const PAGE = 50;
const STATUSES = ['', ...RunStatusValues];

function cell(v: unknown) {
  if (v === null || v === undefined) return '–';
  return typeof v === 'number' ? <span title={fmtNum(v)}>{fmtCell(v)}</span> : String(v);
}

export function RunsTable() {
  const q = useSignal<TableQuery>({ metrics: 'reward', status: '', filter: '', sort: 'startedAt', order: 'desc', limit: PAGE, offset: 0 });
  const form = useSignal({ metrics: 'reward', filter: '' });
  const data = useSignal<any | null>(null);
  const err = useSignal<string | null>(null);

  const take = useRef(newest()).current; // a late answer to an older query is dropped
  const load = () => {
    take(
      api.runTable(tableQuery(q.value)),
      (d) => {
        err.value = null;
        data.value = d;
      },
      (e) => (err.value = errText(e)),
    );
  };
  useEffect(load, [tableQuery(q.value), runsTick.value]);

  const set = (patch: Partial<TableQuery>) => (q.value = { ...q.value, offset: 0, ...patch });
  // "" every run; "ws:<id>" a workspace's; "ag:<id>" an agent's
  const scopeValue = q.value.scope?.workspaceId ? `ws:${q.value.scope.workspaceId}` : q.value.scope?.agentId ? `ag:${q.value.scope.agentId}` : '';
  const setScope = (v: string) => set({ scope: v.startsWith('ws:') ? { workspaceId: v.slice(3) } : v.startsWith('ag:') ? { agentId: v.slice(3) } : undefined });
  const apply = (e: Event) => {
    e.preventDefault();
    set({ metrics: form.value.metrics, filter: form.value.filter });
  };
  const rows: any[] = data.value?.runs || [];
  const cfgCols = configColumns(rows);
  const metrics = metricNames(q.value.metrics);
  const th = (k: string, label: string) => {
    const on = q.value.sort === k;
    return (
      <th key={k} aria-sort={on ? (q.value.order === 'asc' ? 'ascending' : 'descending') : 'none'}>
        <button type="button" class="th-sort" data-sort={k} onClick={() => set(nextSort(q.value, k))}>
          {label}
          {on ? (q.value.order === 'asc' ? ' ▲' : ' ▼') : ''}
        </button>
      </th>
    );
  };
  const total = data.value?.total ?? 0;
  return (
    <section class="panel glass runs-by-config" data-testid="runs-table">
      <h2>Runs by config</h2>
      <form class="training-controls" onSubmit={apply}>
        <label>
          Runs of{' '}
          <select aria-label="scope" value={scopeValue} onChange={(e) => setScope((e.target as HTMLSelectElement).value)}>
            <option value="">every workspace</option>
            {(workspaces.value || []).map((w) => (
              <option key={w.id} value={`ws:${w.id}`}>
                workspace {w.name}
              </option>
            ))}
            {agentList.value.map((a) => (
              <option key={a.id} value={`ag:${a.id}`}>
                agent {a.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Metrics{' '}
          <input
            aria-label="metrics"
            value={form.value.metrics}
            placeholder="reward,loss:min"
            onInput={(e) => (form.value = { ...form.value, metrics: (e.target as HTMLInputElement).value })}
          />
        </label>
        <label>
          Filter{' '}
          <input
            aria-label="filter"
            value={form.value.filter}
            placeholder="learningRate>0.001, reward.final>0.5"
            onInput={(e) => (form.value = { ...form.value, filter: (e.target as HTMLInputElement).value })}
          />
        </label>
        <label>
          Status{' '}
          <select aria-label="status" value={q.value.status} onChange={(e) => set({ status: (e.target as HTMLSelectElement).value })}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s || 'any'}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" class="btn btn-sm btn-primary">
          Apply
        </button>
      </form>
      {err.value && (
        <p class="error-text" role="alert">
          {err.value}
        </p>
      )}
      {data.value && rows.length === 0 && <Empty title="No runs match">Runs started with a config show its values here.</Empty>}
      {rows.length > 0 && (
        <div class="table-scroll">
          <table class="runs-table">
            <thead>
              <tr>
                <th>Run</th>
                {th('agent', 'Agent')}
                {th('status', 'Status')}
                {th('startedAt', 'Started')}
                {th('duration', 'Duration')}
                <th>Config</th>
                {cfgCols.map((c) => th(`config.${c}`, c))}
                {metrics.flatMap((m) => [th(`${m}.final`, `${m} final`), th(`${m}.best`, `${m} best`)])}
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.id} data-run={r.id}>
                  <td>
                    <span class="swatch" style={{ background: r.color }} />{' '}
                    <a class="run-name" href={`#/runs/${encodeURIComponent(r.id)}`} title={r.id}>
                      {r.name || r.id}
                    </a>
                  </td>
                  <RunCells r={r} />
                  <td>{r.config?.name || '–'}</td>
                  {cfgCols.map((c) => (
                    <td key={c} class="mono" data-col={`config.${c}`}>
                      {cell(r.config?.values?.[c])}
                    </td>
                  ))}
                  {metrics.flatMap((m) => [
                    <td key={`${m}f`} class="mono" data-col={`${m}.final`}>
                      {cell(r.metrics?.[m]?.final)}
                    </td>,
                    <td key={`${m}b`} class="mono" data-col={`${m}.best`}>
                      {cell(r.metrics?.[m]?.best)}
                    </td>,
                  ])}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {total > PAGE && (
        <div class="pager">
          <button
            type="button"
            class="btn btn-sm"
            disabled={q.value.offset === 0}
            onClick={() => (q.value = { ...q.value, offset: Math.max(0, q.value.offset - PAGE) })}
          >
            Previous
          </button>
          <span>
            {(q.value.offset + 1).toLocaleString('en-US')}–{Math.min(total, q.value.offset + PAGE).toLocaleString('en-US')} of {total.toLocaleString('en-US')}
          </span>
          <button
            type="button"
            class="btn btn-sm"
            disabled={q.value.offset + PAGE >= total}
            onClick={() => (q.value = { ...q.value, offset: q.value.offset + PAGE })}
          >
            Next
          </button>
        </div>
      )}
    </section>
  );
}
