// The feedback loop of a worktree's pull request (issue #75), under the PR
// line of the Diff tab: a toggle that has the worktree's agent answer the
// pull request's failed checks and review comments, the turns it has taken
// of its limit, where the loop stands and why, and its history (which check
// or comment, which turn and run answered it). Live: the worktree's
// pr_loop_updated events reload it.
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api, ApiError, type PrLoop as Loop } from '../api';
import { socket } from '../store';
import type { Envelope } from '../types';
import { errText } from './common';
import { safeUrl } from './DiffDialogs';

const STATUS_WORDS: Record<string, string> = {
  watching: 'watching',
  answering: 'the agent is answering',
  passed: 'checks pass',
  closed: 'pull request closed',
  limit: 'turn limit reached',
  off: 'off',
  error: 'stopped',
};

const OUTCOME_WORDS: Record<string, string> = {
  sending: 'sending',
  sent: 'sent, the agent works on it',
  answered: 'answered',
  agent_error: 'the agent ended in an error',
  unsent: 'not sent',
};

export function PrLoopPanel({ worktreeId, agentId }: { worktreeId: string; agentId?: string }) {
  const loop = useSignal<Loop | null>(null);
  const err = useSignal<string | null>(null);
  const busy = useSignal(false);
  const maxTurns = useSignal(5);
  const load = () =>
    api
      .prLoop(worktreeId)
      .then((l) => {
        loop.value = l;
        maxTurns.value = l.maxTurns;
      })
      .catch((e) => {
        if (e instanceof ApiError && e.status === 404) loop.value = null;
        else err.value = errText(e);
      });
  useEffect(() => {
    loop.value = null;
    void load();
    return socket.subscribe([`worktree:${worktreeId}`], {
      onEvent: (ev: Envelope) => {
        const p = ev.payload as { worktreeId?: string } | undefined;
        if (ev.type === 'pr_loop_updated' && p?.worktreeId === worktreeId) void load();
      },
      onResync: () => void load(),
    });
  }, [worktreeId]);

  const l = loop.value;
  const on = !!l?.enabled;
  const who = l?.agentId || agentId;
  const toggle = async () => {
    busy.value = true;
    err.value = null;
    try {
      loop.value = on ? await api.stopPrLoop(worktreeId) : await api.setPrLoop(worktreeId, { agentId: who!, maxTurns: maxTurns.value });
    } catch (e) {
      err.value = errText(e);
    } finally {
      busy.value = false;
    }
  };
  return (
    <div class="pr-loop panel" role="region" aria-label="Feedback loop">
      <div class="pr-loop-bar">
        <label class="pr-loop-toggle">
          {/* while the change is asked for, the box shows what was asked */}
          <input type="checkbox" checked={busy.value ? !on : on} disabled={busy.value || !who} onChange={() => void toggle()} />
          Send failed checks and review comments to the agent
        </label>
        {!on && (
          <label class="pr-loop-turns-input">
            at most{' '}
            <input
              type="number"
              min={1}
              max={100}
              value={maxTurns.value}
              aria-label="Turn limit"
              onInput={(e) => (maxTurns.value = Math.max(1, Math.min(100, Number(e.currentTarget.value) || 1)))}
            />{' '}
            turns
          </label>
        )}
        {l && (
          <span class={`pr-loop-status loop-${l.status}`}>
            {STATUS_WORDS[l.status] || l.status} · turn <span class="pr-loop-turns">{l.turns}</span> of {l.maxTurns}
          </span>
        )}
      </div>
      {!who && <div class="muted">This worktree has no agent to send them to.</div>}
      {l?.statusReason && <div class="muted pr-loop-reason">{l.statusReason.text}</div>}
      {err.value && <div class="error">{err.value}</div>}
      {l && l.items.length > 0 && (
        <ol class="pr-loop-items" aria-label="What the loop sent">
          {l.items.map((it) => (
            <li key={it.id} class={`pr-loop-item outcome-${it.outcome}`}>
              <span class="pill">{it.kind === 'check' ? 'check' : 'comment'}</span>{' '}
              {safeUrl(it.url) ? (
                <a href={safeUrl(it.url)} target="_blank" rel="noopener noreferrer">
                  {it.name}
                </a>
              ) : (
                it.name
              )}{' '}
              · turn {it.turn}
              {it.runId && (
                <>
                  {' '}
                  · <a href={`#/runs/${encodeURIComponent(it.runId)}`}>{it.runId}</a>
                </>
              )}{' '}
              · {OUTCOME_WORDS[it.outcome] || it.outcome}
              <details>
                <summary>The message</summary>
                <pre class="pr-loop-message">{it.message}</pre>
              </details>
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
