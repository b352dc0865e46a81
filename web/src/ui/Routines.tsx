// The Routines page (issue #75, docs/routines.md): the organisation's
// routines (a saved agent and a trigger: every N, a cron in a zone, a
// signed webhook) with their next fire, a form to make one, and a
// routine's history, newest first, with why a fire was skipped and each
// run's agent. Kept live by the routine_update, routine_deleted and
// routine_run events of routine:* (on the page's one /ws).
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api } from '../api';
import { go } from '../router';
import type { RoutineRow, RoutineRunRow } from '../rows';
import { auth, socket, toast, worktrees } from '../store';
import type { Envelope } from '../types';
import { ago, Badge, Empty, ErrorState, errText, fmtCost, fmtTime, Spinner } from './common';

/** A trigger in words: "every 15m", "cron 0 3 * * 1-5 (Europe/Paris)", "webhook". */
export function triggerText(t: any): string {
  if (t?.every) return `every ${t.every}`;
  if (t?.cron) return `cron ${t.cron} (${t.tz || 'UTC'})`;
  return t?.events ? `webhook: ${(t.events as string[]).join(', ')}` : 'webhook';
}

function NewRoutine({ onMade }: { onMade: (r: RoutineRow) => void }) {
  const name = useSignal('');
  const wt = useSignal('');
  const kind = useSignal<'every' | 'cron' | 'webhook'>('every');
  const every = useSignal('1h');
  const cron = useSignal('0 3 * * 1-5');
  const tz = useSignal(Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
  const prompt = useSignal('');
  const command = useSignal('');
  const missed = useSignal('once');
  const perDay = useSignal('');
  const err = useSignal<string | null>(null);
  const busy = useSignal(false);
  const wts = worktrees.value || [];
  const submit = async (e: Event) => {
    e.preventDefault();
    busy.value = true;
    err.value = null;
    const trigger = kind.value === 'every' ? { every: every.value } : kind.value === 'cron' ? { cron: cron.value, tz: tz.value } : { webhook: true };
    const agent: Record<string, unknown> = command.value.trim() ? { executor: 'command', command: ['sh', '-c', command.value] } : {};
    const body: Record<string, unknown> = { name: name.value, worktreeId: wt.value || wts[0]?.id, agent, trigger, missed: missed.value };
    if (prompt.value.trim()) body.prompt = prompt.value;
    if (perDay.value) body.limits = { runsPerDay: Number(perDay.value) };
    try {
      onMade(await api.createRoutine(body));
      name.value = '';
      prompt.value = '';
      command.value = '';
    } catch (e2) {
      err.value = errText(e2);
    } finally {
      busy.value = false;
    }
  };
  return (
    <form class="panel glass routine-form" aria-label="New routine" onSubmit={submit}>
      <h2>New routine</h2>
      <div class="form-row">
        <input
          name="routine-name"
          aria-label="Name"
          placeholder="Name (e.g. nightly)"
          value={name.value}
          onInput={(e) => (name.value = e.currentTarget.value)}
        />
        <select name="routine-worktree" aria-label="Worktree" value={wt.value} onChange={(e) => (wt.value = e.currentTarget.value)}>
          {wts.map((w) => (
            <option key={w.id} value={w.id}>
              {w.name || w.branch || w.id}
            </option>
          ))}
        </select>
      </div>
      <div class="form-row">
        <select name="routine-kind" aria-label="Trigger" value={kind.value} onChange={(e) => (kind.value = e.currentTarget.value as any)}>
          <option value="every">every</option>
          <option value="cron">cron</option>
          <option value="webhook">webhook</option>
        </select>
        {kind.value === 'every' && (
          <input name="routine-every" aria-label="Every" placeholder="15m" value={every.value} onInput={(e) => (every.value = e.currentTarget.value)} />
        )}
        {kind.value === 'cron' && (
          <>
            <input name="routine-cron" aria-label="Cron" value={cron.value} onInput={(e) => (cron.value = e.currentTarget.value)} />
            <input name="routine-tz" aria-label="Time zone" value={tz.value} onInput={(e) => (tz.value = e.currentTarget.value)} />
          </>
        )}
        <select name="routine-missed" aria-label="Missed fires" value={missed.value} onChange={(e) => (missed.value = e.currentTarget.value)}>
          <option value="once">missed: run once</option>
          <option value="skip">missed: skip</option>
          <option value="all">missed: run all</option>
        </select>
        <input
          name="routine-per-day"
          aria-label="Runs a day at most"
          placeholder="runs a day"
          inputMode="numeric"
          value={perDay.value}
          onInput={(e) => (perDay.value = e.currentTarget.value)}
        />
      </div>
      <textarea
        name="routine-prompt"
        aria-label="Prompt"
        placeholder="Prompt (Claude Code by default)"
        value={prompt.value}
        onInput={(e) => (prompt.value = e.currentTarget.value)}
      />
      <input
        name="routine-command"
        aria-label="Command"
        placeholder="or a command (sh -c)"
        value={command.value}
        onInput={(e) => (command.value = e.currentTarget.value)}
      />
      <button type="submit" class="btn btn-primary btn-sm" disabled={busy.value || !name.value.trim() || wts.length === 0}>
        Create routine
      </button>
      {err.value && (
        <div class="form-error" role="alert">
          {err.value}
        </div>
      )}
    </form>
  );
}

function History({ routine, tick }: { routine: RoutineRow; tick: number }) {
  const runs = useSignal<RoutineRunRow[] | null>(null);
  const err = useSignal<string | null>(null);
  useEffect(() => {
    api
      .routineRuns(routine.id)
      .then((r) => ((runs.value = r), (err.value = null)))
      .catch((e) => (err.value = errText(e)));
  }, [routine.id, tick]);
  if (err.value) return <ErrorState message={`Could not read the runs: ${err.value}`} />;
  if (!runs.value) return <Spinner label="Loading runs…" />;
  return (
    <section class="panel glass routine-history" aria-label={`Runs of ${routine.name}`} data-routine={routine.id}>
      <h2>Runs of {routine.name}</h2>
      {runs.value.length === 0 ? (
        <Empty title="No run yet">It runs at its next fire, or now with Run now.</Empty>
      ) : (
        <table class="table routine-runs">
          <thead>
            <tr>
              <th>Fired</th>
              <th>By</th>
              <th>Status</th>
              <th>Why</th>
              <th>Agent</th>
              <th class="num">Cost</th>
            </tr>
          </thead>
          <tbody>
            {runs.value.map((x) => (
              <tr key={x.id} data-run={x.id} data-status={x.status}>
                <td title={fmtTime(x.fireAt)}>{ago(x.fireAt)}</td>
                <td>{x.source}</td>
                <td>
                  <Badge status={x.status} small />
                </td>
                <td class="routine-reason">{x.reason}</td>
                <td>{x.agentId ? <a href={`#/agents/${encodeURIComponent(x.agentId)}`}>{x.agentId}</a> : null}</td>
                <td class="num">{fmtCost(x.costUsd)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export default function Routines({ id }: { id?: string }) {
  const list = useSignal<RoutineRow[] | null>(null);
  const err = useSignal<string | null>(null);
  const secret = useSignal<RoutineRow | null>(null);
  const tick = useSignal(0);
  const who = auth.value.who;
  const admin = !who || !who.authRequired || who.owner || who.scope === 'admin';
  const load = () =>
    api
      .routines()
      .then((r) => ((list.value = r), (err.value = null)))
      .catch((e) => (err.value = errText(e)));
  useEffect(
    () =>
      socket.subscribe(['routine:*'], {
        onEvent: (ev: Envelope) => {
          if (ev.type === 'routine_run') tick.value++;
          if (ev.type === 'routine_update' || ev.type === 'routine_deleted' || ev.type === 'routine_run') void load();
        },
        onResync: () => void load(),
        onSubscribed: () => void load(),
      }),
    [],
  );
  const act = async (what: string, f: () => Promise<unknown>) => {
    try {
      await f();
      await load();
    } catch (e) {
      toast('error', what, errText(e));
    }
  };
  if (err.value && !list.value) return <ErrorState message={`Could not read the routines: ${err.value}`} onRetry={() => void load()} />;
  if (!list.value) return <Spinner label="Loading routines…" />;
  const sel = list.value.find((r) => r.id === id) || null;
  return (
    <section class="page routines-page" aria-label="Routines">
      <h1>Routines</h1>
      {secret.value && (
        <div class="token-fresh" role="status" data-secret-for={secret.value.id}>
          <div>Webhook {secret.value.hookPath}: sign deliveries with this secret (X-Hub-Signature-256). It is shown only once.</div>
          <code class="token-secret routine-secret">{secret.value.secret}</code>
        </div>
      )}
      {list.value.length === 0 ? (
        <Empty title="No routine yet">
          A routine runs an agent on a schedule or a webhook: make one below, or <code>agentd routine new</code>.
        </Empty>
      ) : (
        <table class="table routines">
          <thead>
            <tr>
              <th>Routine</th>
              <th>Trigger</th>
              <th>Next fire</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.value.map((r) => (
              <tr key={r.id} data-routine={r.name} data-enabled={String(r.enabled)} class={r.id === id ? 'selected' : ''}>
                <td>
                  <a href={`#/routines/${encodeURIComponent(r.id)}`}>
                    <strong>{r.name}</strong>
                  </a>
                  {!r.enabled && <span class="chip">paused</span>}
                </td>
                <td>{triggerText(r.trigger)}</td>
                <td title={r.nextFireAt ? fmtTime(r.nextFireAt) : undefined}>{r.nextFireAt ? fmtTime(r.nextFireAt) : '—'}</td>
                <td>
                  {admin && (
                    <>
                      <button type="button" class="btn btn-sm" onClick={() => void act('Not fired', () => api.runRoutine(r.id))}>
                        Run now
                      </button>{' '}
                      <button type="button" class="btn btn-sm" onClick={() => void act('Not changed', () => api.patchRoutine(r.id, { enabled: !r.enabled }))}>
                        {r.enabled ? 'Pause' : 'Resume'}
                      </button>{' '}
                      <button
                        type="button"
                        class="btn btn-sm"
                        onClick={() => {
                          if (confirm(`Remove routine "${r.name}" and its history?`))
                            void act('Not removed', () => api.deleteRoutine(r.id).then(() => go('/routines')));
                        }}
                      >
                        Remove
                      </button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {sel && <History routine={sel} tick={tick.value} />}
      {admin && (
        <NewRoutine
          onMade={(r) => {
            secret.value = r.secret ? r : null;
            toast('success', 'Routine made', r.name);
            void load();
            go(`/routines/${r.id}`);
          }}
        />
      )}
    </section>
  );
}
