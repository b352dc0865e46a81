// Small shared pieces: status badges, states (loading / error / empty),
// a modal dialog with focus handling, and number/time formatting.
import type { ComponentChildren } from 'preact';
import type { Agent } from '../types';
import { createPortal } from 'preact/compat';
import { useSignal, type Signal } from '@preact/signals';
import { useEffect, useLayoutEffect, useRef } from 'preact/hooks';
import { api, type WorkerNode } from '../api';
import { agentNode } from '../nodes';
import { badgeStatus, isUnseen, needsYou, seenMarks } from '../attention';
import { question } from '../confirm';

const STATUS_LABEL: Record<string, string> = {
  running: 'Running',
  stopped: 'Stopped',
  over_budget: 'Over budget',
  waiting: 'Waiting',
  // Finished its turn: waits for a next message, but does not need the user.
  turn: 'Turn done',
  error: 'Error',
  finished: 'Finished',
  paused: 'Paused',
  // Hit a rate or usage limit: resumes itself at resumeAt (issue #75).
  suspended: 'Suspended',
  idle: 'Idle',
  archived: 'Archived',
  succeeded: 'Succeeded',
  failed: 'Failed',
  lost: 'Lost',
  // A run that did its work but lost some of its output (issue #41).
  degraded: 'Degraded',
  // A run that waits for the disk (the agent is blocked, nothing is lost).
  stalled: 'Stalled',
};

export function Badge({ status, small }: { status: string; small?: boolean }) {
  const s = status || 'unknown';
  // A status this page does not know yet is shown as its word, in the neutral colour.
  const label = STATUS_LABEL[s] || s.charAt(0).toUpperCase() + s.slice(1);
  return (
    <span class={`badge badge-${s.replace(/[^a-z0-9_-]/gi, '')}${small ? ' badge-sm' : ''}`} title={label}>
      <span class="dot" aria-hidden="true" />
      {label}
    </span>
  );
}

// An agent's status badge: Waiting only when it needs the user (an
// approval, a question); a turn done says so, with a dot until it is seen.
/** HH:MM of an RFC 3339 time, in the browser's time zone. */
export function clockTime(iso: string): string {
  const d = new Date(iso);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** What the badge adds (issue #75): until when a suspended agent waits, or the turn of its goal under way. */
export function agentNote(a: Agent): { text: string; title: string; kind: string } | null {
  if (a.status === 'suspended' && a.resumeAt) {
    return {
      text: `until ${clockTime(a.resumeAt)}`,
      title: `Hit a usage limit; resumes itself at ${new Date(a.resumeAt).toLocaleString()}`,
      kind: 'suspended',
    };
  }
  const g = (a.state as any)?.goal;
  if (g && g.status === 'active' && Number(g.maxTurns) > 0) {
    const turn = Math.min(Number(g.turn || 0) + 1, Number(g.maxTurns));
    return { text: `goal turn ${turn} of ${g.maxTurns}`, title: `Runs until ${(g.check || []).join(' ')} exits 0`, kind: 'goal' };
  }
  return null;
}

// An agent's one-line summary (issue #76): what it is doing, what it needs,
// written by the workbench's model after its last turn; nothing without one.
export function AgentSummary({ a, cls }: { a: Agent; cls?: string }) {
  const sm = a.summary;
  if (!sm || !sm.text) return null;
  const at = sm.at ? new Date(sm.at).toLocaleString() : '';
  return (
    <span class={`agent-summary${cls ? ` agent-summary-${cls}` : ''}`} data-testid="agent-summary" title={`${sm.text}${at ? ` · ${at}` : ''}`}>
      {sm.text}
    </span>
  );
}

export function AgentBadge({ a, small }: { a: Agent; small?: boolean }) {
  const s = badgeStatus(a);
  const unseen = s === 'turn' && isUnseen(a, seenMarks.value);
  const node = agentNode(a);
  const note = agentNote(a);
  return (
    <span class={`agent-badge${unseen ? ' unseen' : ''}`} data-attention={needsYou(a) ? 'needs-you' : unseen ? 'unseen' : s === 'turn' ? 'seen' : undefined}>
      <Badge status={s} small={small} />
      {note && (
        <span class="agent-note" data-note={note.kind} title={note.title}>
          {note.text}
        </span>
      )}
      {node && (
        <span class="node-badge" data-node={node} title={`Runs on worker node ${node}`}>
          {node}
        </span>
      )}
      {unseen && <span class="unseen-dot" role="img" aria-label="not seen yet" title="Finished its turn since you last looked" />}
    </span>
  );
}

/** Where a new agent runs: here, any worker node that fits (unless any is false: a service names its node), or one by name (docs/nodes.md). */
export function NodeField({ value, onChange, any = true }: { value: string; onChange: (v: string) => void; any?: boolean }) {
  const nodes = useSignal<WorkerNode[]>([]);
  useEffect(() => {
    api
      .nodes()
      .then((n) => (nodes.value = n.filter((x) => x.state !== 'revoked')))
      .catch(() => (nodes.value = []));
  }, []);
  if (nodes.value.length === 0 && !value) return null; // no node joined: nothing to choose
  return (
    <label>
      Runs on
      <select name="node" value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">This machine</option>
        {any && <option value="*">Any node that fits</option>}
        {any && <option value="*q">Any node that fits, waiting for room</option>}
        {nodes.value.map((n) => (
          <option key={n.id} value={n.name}>
            {n.name} ({n.state}
            {n.cordoned ? `, ${n.draining ? 'draining' : 'cordoned'}` : ''})
          </option>
        ))}
      </select>
    </label>
  );
}

export function Spinner({ label = 'Loading…' }: { label?: string }) {
  return (
    <div class="state state-loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" /> {label}
    </div>
  );
}

export function ErrorState({ message, onRetry }: { message: string; onRetry?: () => void }) {
  return (
    <div class="state state-error" role="alert">
      <strong>Something went wrong.</strong> <span>{message}</span>
      {onRetry && (
        <button class="btn btn-sm" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="state state-empty">
      <div class="empty-title">{title}</div>
      {children && <div class="empty-body">{children}</div>}
    </div>
  );
}

export function Modal({ title, onClose, children }: { title: string; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDivElement>(null);
  // A layout effect: the keys work from the moment the dialog shows (a
  // plain effect waits for the next frame, and an Esc before it was lost).
  useLayoutEffect(() => {
    const prev = document.activeElement as HTMLElement | null;
    const el = ref.current;
    const first = el?.querySelector<HTMLElement>('input, textarea, select, button:not(.modal-x)');
    first?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.preventDefault(); // handled: page-level keys (the grid's) leave it alone
        onClose();
      }
      if (e.key === 'Tab' && el) {
        const f = [...el.querySelectorAll<HTMLElement>('input, textarea, select, button, a[href]')].filter((x) => !x.hasAttribute('disabled'));
        if (!f.length) return;
        const i = f.indexOf(document.activeElement as HTMLElement);
        if (e.shiftKey && i <= 0) {
          f[f.length - 1].focus();
          e.preventDefault();
        } else if (!e.shiftKey && i === f.length - 1) {
          f[0].focus();
          e.preventDefault();
        }
      }
    };
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('keydown', onKey);
      prev?.focus?.();
    };
  }, []);
  // Rendered at the end of <body>: inside a .glass panel (backdrop-filter)
  // a fixed element is laid out in that panel, not centered on the page.
  return createPortal(
    <div class="modal-back" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="modal glass" role="dialog" aria-modal="true" aria-label={title} ref={ref}>
        <div class="modal-head">
          <h2>{title}</h2>
          <button class="icon-btn modal-x" aria-label="Close" onClick={onClose}>
            ×
          </button>
        </div>
        {children}
      </div>
    </div>,
    document.body,
  );
}

/** The open question of ask() (confirm.ts), as the app's own dialog. */
export function ConfirmHost() {
  const q = question.value;
  if (!q) return null;
  return (
    <Modal title={q.title} onClose={() => q.answer(false)}>
      <p class="confirm-body">{q.body}</p>
      <div class="form-actions">
        <button type="button" class="btn" onClick={() => q.answer(false)}>
          {q.no || 'Cancel'}
        </button>
        <button type="button" class={`btn ${q.danger ? 'btn-danger' : 'btn-primary'}`} onClick={() => q.answer(true)}>
          {q.yes}
        </button>
      </div>
    </Modal>
  );
}

/** A dialog form's last lines: its error, if any, then Cancel and the submit
 * button (busyLabel while busy). */
/** The create fields of an executor picked below: an ACP preset
 * ("acp:gemini") is the acp executor with that acpAgent. */
export function executorFields(value: string): Record<string, string> {
  return value.startsWith('acp:') ? { executor: 'acp', acpAgent: value.slice(4) } : { executor: value };
}

/** The executor and mode pickers of the new-agent and new-task dialogs. */
export function ExecutorModeRow({ executor, mode }: { executor: Signal<string>; mode: Signal<string> }) {
  return (
    <div class="form-row">
      <label>
        Executor
        <select name="executor" value={executor.value} onChange={(e) => (executor.value = e.currentTarget.value)}>
          <option value="claude">Claude Code</option>
          <option value="codex">Codex</option>
          <option value="gemini">Gemini</option>
          <option value="command">Command</option>
          <option value="acp:gemini">Gemini (ACP)</option>
          <option value="acp:claude-code-acp">Claude Code (ACP adapter)</option>
          <option value="acp:codex-acp">Codex (ACP adapter)</option>
        </select>
      </label>
      <label>
        Mode
        <select name="mode" value={mode.value} onChange={(e) => (mode.value = e.currentTarget.value)}>
          <option value="regular">Regular</option>
          <option value="plan">Plan</option>
          <option value="auto">Auto</option>
        </select>
      </label>
    </div>
  );
}

export function FormFooter({
  err,
  busy,
  label,
  busyLabel,
  onCancel,
}: {
  err: string | null;
  busy: boolean;
  label: string;
  busyLabel: string;
  onCancel: () => void;
}) {
  return (
    <>
      {err && (
        <div class="form-error" role="alert">
          {err}
        </div>
      )}
      <div class="form-actions">
        <button type="button" class="btn" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" class="btn btn-primary" disabled={busy}>
          {busy ? busyLabel : label}
        </button>
      </div>
    </>
  );
}

export function fmtInt(n: unknown): string {
  const v = Number(n);
  if (!Number.isFinite(v)) return '–';
  if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(1) + 'M';
  if (Math.abs(v) >= 1e4) return (v / 1e3).toFixed(1) + 'k';
  return Math.round(v).toLocaleString('en-US');
}

export function fmtCost(n: unknown): string {
  const v = Number(n);
  if (!Number.isFinite(v)) return '–';
  return '$' + (v > 0 && v < 1 ? v.toFixed(4) : v.toFixed(2));
}

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export function ago(iso: string | null | undefined): string {
  if (!iso) return '';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '';
  const s = Math.max(0, (Date.now() - t) / 1000);
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** "$0.42": what an agent's runs cost so far, compact (nothing when 0);
 * the tokens in its tooltip. */
export function fmtCostShort(n: unknown): string {
  const v = Number(n);
  if (!Number.isFinite(v) || v <= 0) return '';
  if (v < 0.01) return '<$0.01';
  if (v >= 1000) return '$' + (v / 1000).toFixed(1) + 'k';
  return '$' + v.toFixed(2);
}

export function AgentCost({ a }: { a: { costUsd?: number; totalTokens?: number } }) {
  const label = fmtCostShort(a.costUsd);
  if (!label) return null;
  return (
    <span class="agent-cost" title={`${fmtCost(a.costUsd)} · ${fmtInt(a.totalTokens ?? 0)} tokens over its runs`}>
      {label}
    </span>
  );
}
