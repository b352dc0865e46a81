// Home: live cards for running / waiting / failed agents, today's tokens
// and cost, and the most recent runs. Everything here updates from events.
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { agentList, loadError, loadRuns, loadTree, runsByAgent, usageToday, workspaces } from '../store';
import { FirstRun, onboardingComplete } from './FirstRun';
import type { Agent, Run } from '../types';
import { formatDuration } from '../events';
import { isUnseen, needsYou, seenMarks } from '../attention';
import { runningSub, runShownStatus } from '../overview';
import { AgentBadge, AgentSummary, ago, Empty, ErrorState, fmtCost, fmtInt, Spinner } from './common';

export function usageFigures(u: any): { tokens: number | null; cost: number | null; requests: number | null } {
  if (!u || u.error) return { tokens: null, cost: null, requests: null };
  const src = u.usage && typeof u.usage === 'object' ? u.usage : u.today && typeof u.today === 'object' ? u.today : u;
  const num = (...ks: string[]) => {
    for (const k of ks) if (typeof src[k] === 'number') return src[k] as number;
    return null;
  };
  let tokens = num('totalTokens', 'tokens', 'total_tokens');
  if (tokens === null) {
    const i = num('inputTokens', 'input_tokens');
    const o = num('outputTokens', 'output_tokens');
    if (i !== null || o !== null) tokens = (i || 0) + (o || 0);
  }
  return { tokens, cost: num('costUsd', 'cost', 'totalCost', 'cost_usd'), requests: num('requestCount', 'requests', 'request_count') };
}

function Card({ label, value, tone, sub, href }: { label: string; value: string; tone: string; sub?: string; href?: string }) {
  const body = (
    <>
      <div class="card-label">{label}</div>
      <div class="card-value">{value}</div>
      {sub && <div class="card-sub">{sub}</div>}
    </>
  );
  return href ? (
    <a class={`card glass tone-${tone}`} href={href}>
      {body}
    </a>
  ) : (
    <div class={`card glass tone-${tone}`}>{body}</div>
  );
}

function AgentMini({ list, empty }: { list: Agent[]; empty: string }) {
  if (!list.length) return <div class="muted small">{empty}</div>;
  return (
    <ul class="mini-list">
      {list.slice(0, 6).map((a) => (
        <li key={a.id}>
          <a href={`#/agents/${a.id}`}>{a.name}</a> <AgentBadge a={a} small />
          <AgentSummary a={a} cls="mini" />
        </li>
      ))}
    </ul>
  );
}

export function Home() {
  const agents = agentList.value.filter((a) => !a.deletedAt);
  const running = agents.filter((a) => a.status === 'running');
  // Waiting for you: an approval or a question. A turn done is only
  // attention-worthy until it has been seen.
  const waiting = agents.filter(needsYou);
  const unseen = agents.filter((a) => isUnseen(a, seenMarks.value));
  const failed = agents.filter((a) => a.status === 'error');
  const u = usageFigures(usageToday.value);
  const recentAgents = [...agents].sort((a, b) => (b.updatedAt || '').localeCompare(a.updatedAt || '')).slice(0, 6);
  const recentKey = recentAgents.map((a) => a.id).join(',');
  const runsLoading = useSignal(true);

  useEffect(() => {
    let live = true;
    runsLoading.value = true;
    Promise.all(recentAgents.map((a) => loadRuns(a.id).catch(() => undefined))).finally(() => {
      if (live) runsLoading.value = false;
    });
    return () => {
      live = false;
    };
  }, [recentKey]);

  const runs: (Run & { agent: Agent })[] = [];
  for (const a of recentAgents) for (const r of runsByAgent.value[a.id] || []) runs.push({ ...r, agent: a });
  runs.sort((a, b) => (b.startedAt || '').localeCompare(a.startedAt || ''));
  // Open runs of agents not working now (a turn done, an approval).
  const openRuns = runs.filter((r) => r.status === 'running' && r.agent.status !== 'running').length;

  if (workspaces.value === null) return loadError.value ? <ErrorState message={loadError.value} onRetry={() => void loadTree()} /> : <Spinner />;

  return (
    <div class="page home">
      <h1 class="page-title">Overview</h1>
      {workspaces.value.length === 0 && !onboardingComplete.value && <FirstRun />}
      <div class="cards">
        <Card label="Running" value={String(running.length)} tone="running" sub={runningSub(running, openRuns)} />
        <Card
          label="Waiting for you"
          value={String(waiting.length)}
          tone="waiting"
          sub={
            waiting.length
              ? waiting
                  .map((a) => a.name)
                  .slice(0, 3)
                  .join(', ')
              : 'No agent waits'
          }
        />
        <Card
          label="Failed"
          value={String(failed.length)}
          tone="error"
          sub={
            failed.length
              ? failed
                  .map((a) => a.name)
                  .slice(0, 3)
                  .join(', ')
              : 'No failures'
          }
        />
        <Card
          label="Tokens today"
          value={u.tokens === null ? '–' : fmtInt(u.tokens)}
          tone="tokens"
          sub={u.requests === null ? undefined : `${fmtInt(u.requests)} requests`}
        />
        <Card label="Cost today" value={u.cost === null ? '–' : fmtCost(u.cost)} tone="cost" />
      </div>
      <div class="home-grid">
        <section class="panel glass">
          <h2>Needs attention</h2>
          <AgentMini list={[...waiting, ...failed, ...unseen]} empty="Nothing needs you right now." />
          <h2>Running</h2>
          <AgentMini list={running} empty="No agent is running." />
        </section>
        <section class="panel glass">
          <h2>Recent runs</h2>
          {runsLoading.value && runs.length === 0 && <Spinner label="Loading runs…" />}
          {!runsLoading.value && runs.length === 0 && (
            <Empty title="No runs yet">
              {agents.length ? 'Start an agent to see its runs here.' : 'Add a workspace, then create an agent in one of its worktrees.'}
            </Empty>
          )}
          {runs.length > 0 && (
            <table class="table">
              <thead>
                <tr>
                  <th>Agent</th>
                  <th>Status</th>
                  <th>Started</th>
                  <th class="num">Duration</th>
                  <th class="num">Tokens</th>
                  <th class="num">Cost</th>
                </tr>
              </thead>
              <tbody>
                {runs.slice(0, 10).map((r) => (
                  <tr key={r.id}>
                    <td>
                      <a href={`#/agents/${r.agent.id}`}>{r.agent.name}</a>
                    </td>
                    <td>
                      <span class={`run-status run-${r.status}`} data-status={r.status}>
                        {runShownStatus(r, r.agent)}
                      </span>
                    </td>
                    <td>{ago(r.startedAt)}</td>
                    <td class="num">{r.durationMs != null ? formatDuration(r.durationMs) : '–'}</td>
                    <td class="num">{fmtInt((r.inputTokens || 0) + (r.outputTokens || 0))}</td>
                    <td class="num">{fmtCost(r.costUsd ?? 0)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      </div>
    </div>
  );
}
