// The Crews page (issue #19), loaded lazily: stat cards from
// /api/dashboard/stats, credits and agent time with their exports (the
// crews seed's token and rental cards, issue #40), the crews with their status colours kept live by
// `signal` events of crew:*, and for the open crew its agent graph kept live
// by the tool events of crew:<id> (both on the page's one /ws): agents as nodes
// around the crew, each tool call a badge on its agent (running, progress,
// done, failed in red) and the crew-agent edge animated while a tool runs
// (CrewGraph.tsx). Layout: d3-force (see docs/internals/cluster.md for why), run to
// rest off screen, drawn as SVG by Preact. Only failed tools toast (events.ts).
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api, type Crew, type DashboardStats, type RentalStats, type TokenStats } from '../api';
import { go } from '../router';
import { agentList, auth, runsTick, toast } from '../store';
import type { Envelope } from '../types';
import { ago, Empty, errText, ErrorState, fmtCost, fmtInt, Spinner } from './common';
import { CrewGraph, useTopics } from './CrewGraph';
import { CrewSpotlight } from './CrewSpotlight';

// ---- stat cards ---------------------------------------------------------------

function ms(v: number | null | undefined) {
  if (v === null || v === undefined) return '—';
  return v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`;
}

function StatCards({ stats, err, onRetry }: { stats: DashboardStats | null; err: string | null; onRetry: () => void }) {
  if (err) return <ErrorState message={err} onRetry={onRetry} />;
  if (!stats) return <Spinner label="Loading statistics…" />;
  const cards: [string, string, string][] = [
    ['Runs', fmtInt(stats.totalRuns), `${fmtInt(stats.succeeded)} succeeded, ${fmtInt(stats.failed)} failed`],
    ['Success rate', stats.successRate === null ? '—' : `${Math.round(stats.successRate * 100)}%`, 'of runs that passed or failed'],
    ['Latency', ms(stats.latency.run.p50Ms), `p95 ${ms(stats.latency.run.p95Ms)}; tools p50 ${ms(stats.latency.tool.p50Ms)}`],
    ['Tokens', fmtInt(stats.totalTokens), `${fmtCost(stats.costUsd)}${stats.liveRuns ? `, ${fmtInt(stats.liveRuns)} running now included` : ''}`],
    ['Active crews', fmtInt(stats.activeCrews), 'with an agent alive'],
  ];
  return (
    <div class="stat-cards">
      {cards.map(([k, v, sub]) => (
        <div class="panel glass stat-card" key={k} data-stat={k}>
          <div class="stat-label">{k}</div>
          <div class="stat-value">{v}</div>
          <div class="stat-sub muted">{sub}</div>
        </div>
      ))}
    </div>
  );
}

// ---- credits, agent time, exports ---------------------------------------------
// The crews seed's token cards (balance, spent, earned, pending: credits are
// US dollars of model cost the owner grants an org), its rental statistics
// (agent time, by node) and its "Export (CSV/PDF)".

function hours(sec: number) {
  return sec >= 3600 ? `${(sec / 3600).toFixed(1)} h` : sec >= 60 ? `${Math.round(sec / 60)} min` : `${Math.round(sec)} s`;
}

const REPORTS: [string, string][] = [
  ['stats', 'Runs'],
  ['tokens', 'Credits'],
  ['rentals', 'Agent time'],
];

// The owner grants the org credits (POST /api/orgs/:id/credits; an org's own
// admin may not: it would grant itself).
function GrantCredits({ orgId, onGranted }: { orgId: string; onGranted: () => void }) {
  const open = useSignal(false);
  const amount = useSignal('');
  const note = useSignal('');
  const err = useSignal<string | null>(null);
  const busy = useSignal(false);
  if (!auth.value.who?.owner && auth.value.who?.authRequired !== false) return null;
  if (!open.value)
    return (
      <button class="btn btn-sm" onClick={() => (open.value = true)}>
        Grant credits…
      </button>
    );
  const submit = async (e: Event) => {
    e.preventDefault();
    const v = Number(amount.value);
    if (!Number.isFinite(v) || v === 0) {
      err.value = 'An amount of credits (US dollars), not 0; negative takes some back.';
      return;
    }
    busy.value = true;
    err.value = null;
    try {
      await api.grantCredits(orgId, v, note.value.trim() || undefined);
      toast('success', `Granted ${v} credits`);
      open.value = false;
      amount.value = note.value = '';
      onGranted();
    } catch (x) {
      err.value = errText(x);
    } finally {
      busy.value = false;
    }
  };
  return (
    <form class="row-form" aria-label="Grant credits" onSubmit={submit} noValidate>
      <label class="field">
        <span>Credits (US dollars)</span>
        <input name="grant-amount" inputMode="decimal" value={amount.value} onInput={(e) => (amount.value = e.currentTarget.value)} />
      </label>
      <label class="field">
        <span>Note (optional)</span>
        <input name="grant-note" maxLength={200} value={note.value} onInput={(e) => (note.value = e.currentTarget.value)} />
      </label>
      <button class="btn btn-sm btn-primary" type="submit" disabled={busy.value}>
        Grant
      </button>
      <button class="btn btn-sm" type="button" onClick={() => (open.value = false)}>
        Cancel
      </button>
      {err.value && (
        <p class="error-text" role="alert">
          {err.value}
        </p>
      )}
    </form>
  );
}

function Ledger({ tokens, rentals, onChange }: { tokens: TokenStats | null; rentals: RentalStats | null; onChange: () => void }) {
  if (!tokens && !rentals) return null;
  const cards: [string, string, string][] = [];
  if (tokens) {
    cards.push(
      ['Balance', fmtCost(tokens.balance), 'earned − spent − pending'],
      ['Spent', fmtCost(tokens.spent), 'by ended runs'],
      ['Earned', fmtCost(tokens.earned), `${fmtInt(tokens.grants)} grant${tokens.grants === 1 ? '' : 's'}`],
      ['Pending', fmtCost(tokens.pending), 'running now'],
    );
  }
  if (rentals) {
    const by = rentals.nodes.map((n) => `${n.node} ${hours(n.agentSeconds)}`).join(', ');
    cards.push(['Agent time', hours(rentals.agentSeconds), `${fmtInt(rentals.runs)} runs in 30 days${by ? `; ${by}` : ''}`]);
  }
  return (
    <section class="ledger" aria-label="Credits and agent time">
      <div class="stat-cards">
        {cards.map(([k, v, sub]) => (
          <div class="panel glass stat-card" key={k} data-stat={k}>
            <div class="stat-label">{k}</div>
            <div class="stat-value">{v}</div>
            <div class="stat-sub muted">{sub}</div>
          </div>
        ))}
      </div>
      {tokens && <GrantCredits orgId={tokens.orgId} onGranted={onChange} />}
      <div class="exports muted" role="group" aria-label="Export">
        Export:
        {REPORTS.map(([report, label]) => (
          <span key={report} class="export">
            {' '}
            {label}{' '}
            {['csv', 'pdf'].map((f) => (
              <a key={f} class="btn btn-sm" href={`/api/dashboard/export?report=${report}&format=${f}`} download data-export={`${report}-${f}`}>
                {f.toUpperCase()}
              </a>
            ))}
          </span>
        ))}
      </div>
    </section>
  );
}

// ---- a new crew ----------------------------------------------------------------

/** A new crew by its name; opens it. */
function NewCrew({ onCreated }: { onCreated: (c: Crew) => void }) {
  const name = useSignal('');
  const busy = useSignal(false);
  const err = useSignal<string | null>(null);
  return (
    <form
      class="row-form new-crew"
      aria-label="New crew"
      onSubmit={async (e) => {
        e.preventDefault();
        if (!name.value.trim()) return;
        busy.value = true;
        err.value = null;
        try {
          const c = await api.createCrew(name.value.trim());
          name.value = '';
          onCreated(c);
        } catch (x) {
          err.value = errText(x);
        } finally {
          busy.value = false;
        }
      }}
    >
      <input aria-label="Crew name" placeholder="New crew name" maxLength={127} value={name.value} onInput={(e) => (name.value = e.currentTarget.value)} />
      <button type="submit" class="btn btn-sm btn-primary" disabled={busy.value || !name.value.trim()}>
        Create
      </button>
      {err.value && (
        <div class="form-error" role="alert">
          {err.value}
        </div>
      )}
    </form>
  );
}

// ---- the page -------------------------------------------------------------------

export default function Crews({ id }: { id?: string }) {
  const crews = useSignal<Crew[] | null>(null);
  const err = useSignal<string | null>(null);
  const stats = useSignal<DashboardStats | null>(null);
  const statsErr = useSignal<string | null>(null);
  const tokens = useSignal<TokenStats | null>(null);
  const rentals = useSignal<RentalStats | null>(null);
  const loadStats = () => {
    // the ledger is extra: a failure there leaves the run cards alone
    api.tokenStats().then(
      (t) => (tokens.value = t),
      () => undefined,
    );
    api.rentalStats('30d').then(
      (t) => (rentals.value = t),
      () => undefined,
    );
    return api
      .dashboardStats('7d')
      .then((s) => ((stats.value = s), (statsErr.value = null)))
      .catch((e) => (statsErr.value = errText(e)));
  };
  const load = () => {
    api
      .crews()
      .then((c) => ((crews.value = c), (err.value = null)))
      .catch((e) => (err.value = errText(e)));
    void loadStats();
  };
  // signal {crewId, status} of every crew (crew:*)
  let pending: any = null;
  const onSignal = (ev: Envelope) => {
    const f = ev.payload || {};
    if (ev.type !== 'signal' || !f.crewId) return;
    const list = crews.value || [];
    if (!list.some((c) => c.id === f.crewId)) return void load(); // a new crew
    crews.value = list.map((c) => (c.id === f.crewId ? { ...c, status: f.status } : c));
    clearTimeout(pending);
    pending = setTimeout(() => void loadStats(), 300); // a run started or ended
  };
  const live = useTopics(['crew:*'], onSignal, load, []);
  useEffect(load, []);
  // A credit grant is no event: the cards read again every 30 s, as the seed's do.
  useEffect(() => {
    const t = setInterval(() => void loadStats(), 30000);
    return () => clearInterval(t);
  }, []);
  // Runs that start or end anywhere move the cards (run_started/run_ended).
  const tick = runsTick.value;
  useEffect(() => {
    if (tick === 0) return;
    const t = setTimeout(() => void loadStats(), 300);
    return () => clearTimeout(t);
  }, [tick]);
  // An agent's usage moves at each turn's end (as its page and the list
  // show): the cards follow, so they never lag behind the rest of the app.
  const spent = agentList.value.reduce((n, a) => n + (a.totalTokens || 0), 0);
  useEffect(() => {
    if (tick === 0 && stats.value === null) return;
    const t = setTimeout(() => void loadStats(), 300);
    return () => clearTimeout(t);
  }, [spent]);
  const open = (crews.value || []).find((c) => c.id === id) || null;
  // the open crew, else the first busy one: its agents in turn (CrewSpotlight)
  const active = open || (crews.value || []).find((c) => c.status === 'busy') || null;
  const members = new Map<string, number>();
  for (const a of agentList.value) if (a.crewId && !a.deletedAt) members.set(a.crewId, (members.get(a.crewId) || 0) + 1);
  return (
    <div class="page crews">
      <div class="page-head">
        <h1 class="page-title">Crews</h1>
        <span class={`live-dot${live ? ' on' : ''}`} data-live={live ? 'yes' : 'no'} aria-live="polite">
          {live ? 'Live' : 'Connecting…'}
        </span>
      </div>
      <StatCards stats={stats.value} err={statsErr.value} onRetry={() => void loadStats()} />
      <Ledger tokens={tokens.value} rentals={rentals.value} onChange={() => void loadStats()} />
      {active && <CrewSpotlight crew={active} />}
      <div class="crews-body">
        <section class="panel glass crew-list" aria-label="Crews">
          <h2>Crews</h2>
          {err.value && <ErrorState message={err.value} onRetry={load} />}
          {!err.value && crews.value === null && <Spinner label="Loading crews…" />}
          <NewCrew
            onCreated={(c) => {
              crews.value = [...(crews.value || []).filter((x) => x.id !== c.id), c];
              go(`/crews/${c.id}`);
            }}
          />
          {crews.value && crews.value.length === 0 && <Empty title="No crews yet">Name one above, then add agents to it.</Empty>}
          <ul>
            {(crews.value || []).map((c) => {
              // The same agents the rest of the app shows (live), not a count from the list's load.
              const n = members.get(c.id) || 0;
              return (
                <li key={c.id}>
                  <a href={`#/crews/${c.id}`} class={c.id === id ? 'active' : ''} data-crew={c.id}>
                    <span class={`crew-dot crew-${c.status}`} data-status={c.status} aria-label={c.status} />
                    {c.name}
                    <span class="muted crew-count">
                      {' '}
                      {n} agent{n === 1 ? '' : 's'}
                    </span>
                  </a>
                </li>
              );
            })}
          </ul>
        </section>
        {open ? <CrewGraph crew={open} /> : <Empty title="Pick a crew">Its agents and their tool calls show here, live.</Empty>}
      </div>
      {stats.value && stats.value.recentRuns.length > 0 && (
        <section class="panel glass" aria-label="Recent runs">
          <h2>Recent runs</h2>
          <table class="table">
            <tbody>
              {stats.value.recentRuns.map((r) => (
                <tr key={r.id}>
                  <td>
                    <a href={`#/agents/${r.agentId}`}>{r.agentName || r.agentId}</a>
                  </td>
                  <td>{r.status}</td>
                  <td>{ms(r.durationMs)}</td>
                  <td>{ago(r.startedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
    </div>
  );
}
