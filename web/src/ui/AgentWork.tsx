// The agent page's working views: the tool calls waiting for approval, the
// composer, and the runs table. Their state is useAgent.ts's (useApprovals,
// useComposer); every change to the model goes through the store.
import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { formatDuration } from '../events';
import { loadRuns, runsByAgent } from '../store';
import { decisionKey } from '../tasks';
import type { Agent, Approval } from '../types';
import { ago, Empty, fmtCost, fmtInt, Spinner } from './common';
import { LimitNotice } from './AgentDialogs';
import { useApprovals, useComposer } from './useAgent';
import { Waterfall } from './Waterfall';

// What a tool call would do, in a line or a few: a command, a file path, or the input as JSON.
export function approvalInputText(a: Approval): string {
  const inp = a.input || {};
  if (typeof inp.command === 'string') return inp.command;
  if (typeof inp.file_path === 'string' && typeof inp.content === 'string') return `${inp.file_path}\n${inp.content}`;
  return JSON.stringify(inp, null, 2);
}

// The agent's tool calls waiting for the user: stored on the daemon, so
// they are here again after a reload; reloaded on every approval event
// and status change.
export function ApprovalCards({ agent }: { agent: Agent }) {
  const { list, busy, decide } = useApprovals(agent);
  // The first card takes the focus when nothing else has it, so y / n
  // answer it at once; a composer being typed in keeps the focus.
  const host = useRef<HTMLDivElement>(null);
  const first = list.value[0]?.id;
  useEffect(() => {
    const el = document.activeElement;
    if (first && (!el || el === document.body || el.id === 'main')) host.current?.querySelector<HTMLElement>('.approval')?.focus();
  }, [first]);
  if (list.value.length === 0) return null;
  return (
    <div class="approvals" role="region" aria-label="Waiting for approval" ref={host}>
      {list.value.map((a) => (
        <div
          key={a.id}
          class="approval glass"
          data-approval={a.id}
          tabIndex={0}
          aria-keyshortcuts="y n"
          aria-label={`${a.toolName} needs approval: y allows, n denies`}
          onKeyDown={(e) => {
            if (e.target !== e.currentTarget || busy.value === a.id) return;
            const d = decisionKey(e);
            if (d) {
              e.preventDefault();
              void decide(a, d);
            }
          }}
        >
          <div class="approval-head">
            <strong>Needs approval:</strong> <code class="approval-tool">{a.toolName}</code>
            {a.description && <span class="muted"> — {a.description}</span>}
            <span class="muted approval-when">{ago(a.createdAt)}</span>
          </div>
          <pre class="approval-input">{approvalInputText(a)}</pre>
          <div class="approval-actions">
            <button class="btn btn-primary" disabled={busy.value === a.id} onClick={() => void decide(a, 'allow')} aria-keyshortcuts="y">
              Allow <kbd aria-hidden="true">y</kbd>
            </button>
            <button class="btn btn-danger" disabled={busy.value === a.id} onClick={() => void decide(a, 'deny')} aria-keyshortcuts="n">
              Deny <kbd aria-hidden="true">n</kbd>
            </button>
            <button
              class="btn"
              disabled={busy.value === a.id}
              onClick={() => void decide(a, 'allow_always')}
              title={`Add ${a.toolName} to this agent's allowed tools`}
            >
              Allow always for this agent
            </button>
          </div>
        </div>
      ))}
    </div>
  );
}

export function Composer({ agent }: { agent: Agent }) {
  const ref = useRef<HTMLTextAreaElement>(null);
  const { text, sending, reason, send } = useComposer(agent, () => ref.current?.focus());
  return (
    <div class={`composer glass${reason ? ' disabled' : ''}`}>
      <LimitNotice />
      <textarea
        ref={ref}
        aria-label="Message to the agent"
        placeholder={reason || 'Message the agent — Enter sends, Shift+Enter for a new line'}
        disabled={!!reason}
        rows={2}
        value={text.value}
        onInput={(e) => (text.value = e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            void send();
          }
        }}
      />
      <button class="btn btn-primary" disabled={!!reason || sending.value || !text.value.trim()} onClick={() => void send()}>
        Send
      </button>
      {reason && (
        <div class="composer-reason" role="note">
          {reason}
        </div>
      )}
    </div>
  );
}

export function RunsTab({ agentId }: { agentId: string }) {
  const runs = runsByAgent.value[agentId];
  const traced = useSignal<string | null>(null);
  useEffect(() => {
    loadRuns(agentId).catch(() => undefined);
  }, [agentId]);
  if (runs === undefined) return <Spinner label="Loading runs…" />;
  if (runs.length === 0) return <Empty title="No runs yet">Each start of the agent makes a run.</Empty>;
  const sorted = [...runs].sort((a, b) => (b.startedAt || '').localeCompare(a.startedAt || ''));
  return (
    <div class="panel glass scroll">
      <table class="table">
        <thead>
          <tr>
            <th>Run</th>
            <th>Status</th>
            <th>Started</th>
            <th class="num">Duration</th>
            <th class="num">Tokens in / out</th>
            <th class="num">Cost</th>
            <th class="num">Exit</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {sorted.map((r) => (
            <tr key={r.id}>
              <td>
                <code>{r.id}</code>
              </td>
              <td>
                <span class={`run-status run-${r.status}`}>
                  {r.status}
                  {r.phase && r.phase !== 'working' ? ` · ${r.phase}` : ''}
                </span>
              </td>
              <td>{ago(r.startedAt)}</td>
              <td class="num">{r.durationMs != null ? formatDuration(r.durationMs) : r.status === 'running' ? 'running' : '–'}</td>
              <td class="num">
                {fmtInt(r.inputTokens ?? 0)} / {fmtInt(r.outputTokens ?? 0)}
              </td>
              <td class="num">{fmtCost(r.costUsd ?? 0)}</td>
              <td class="num">{r.signal ? String(r.signal) : (r.exitCode ?? '–')}</td>
              <td>
                <button
                  type="button"
                  class="btn btn-sm"
                  aria-pressed={traced.value === r.id}
                  onClick={() => (traced.value = traced.value === r.id ? null : r.id)}
                >
                  Trace
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {traced.value && <Waterfall runId={traced.value} running={sorted.find((r) => r.id === traced.value)?.status === 'running'} />}
    </div>
  );
}
