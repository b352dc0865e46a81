// The agent page: what the agent is (executor, mode, permissions, context
// gauge), what it can do (start, stop, pause, fork, archive, delete), and
// tabs for its transcript + composer, runs, the worktree's diff and, for
// terminal agents, a terminal.
import { signal, useSignal } from '@preact/signals';
import { limitNotice, usageLimits, withLimitConfirm } from '../limits';
import { lazy, Suspense } from 'preact/compat';
import { useEffect, useRef } from 'preact/hooks';
import { api } from '../api';
import { formatDuration } from '../events';
import { seeAgent } from '../attention';
import { go } from '../router';
import {
  addSentMessage,
  loadOlder,
  loadRuns,
  loadTranscript,
  loadTree,
  model,
  runsByAgent,
  settings,
  toast,
  toastError,
  upsertAgent,
  worktrees,
} from '../store';
import type { Agent, Approval } from '../types';
import { AgentBadge, ago, Badge, Empty, ErrorState, errText, fmtCost, fmtInt, FormFooter, Modal, Spinner } from './common';
import { Transcript } from './Transcript';
import { useAgentAction, useEscBackToGrid, useOpenAgent } from './useAgent';
import { DiffTab } from './DiffTab';
import { inputBlockedReason } from '../input';
import { decisionKey } from '../tasks';
import { PermissionsField } from './Permissions';

const TerminalView = lazy(() => import('./Terminal'));

// Each agent's approvals waiting for a decision, as ApprovalCards last
// loaded them: the transcript marks the tool cards they hold.
const pendingApprovals = signal<Record<string, Approval[]>>({});
function setPending(id: string, list: Approval[]) {
  pendingApprovals.value = { ...pendingApprovals.value, [id]: list };
}

type Tab = 'transcript' | 'runs' | 'diff' | 'terminal';

export function isTerminalAgent(a: Agent): boolean {
  return !!(a.terminal || (a.state && (a.state as any).terminal));
}

// Why the composer is disabled, or null when the agent takes input.
export function AgentPage({ id }: { id: string }) {
  const { agent, transcript: t, err, notFound } = useOpenAgent(id);
  // null: the default, the terminal for a terminal agent (a shell), else the transcript.
  const tabSel = useSignal<Tab | null>(null);
  useEffect(() => {
    tabSel.value = null;
  }, [id]);
  useEscBackToGrid(id);
  // Its page is open: what it did is seen (a turn done stops counting as new).
  useEffect(() => {
    if (agent) seeAgent(agent);
  }, [agent?.id, agent?.status, agent?.updatedAt, agent?.waitingSince]);

  if (notFound.value)
    return (
      <div class="page">
        <Empty title="No such agent">
          It may have been deleted. <a href="#/">Back to the overview</a>.
        </Empty>
      </div>
    );
  if (!agent) return err.value ? <ErrorState message={err.value} onRetry={() => location.reload()} /> : <Spinner label="Loading agent…" />;

  const wt = (worktrees.value || []).find((w) => w.id === agent.worktreeId);
  const showTerm = isTerminalAgent(agent);
  const tabs: [Tab, string][] = [
    ['transcript', 'Transcript'],
    ['runs', 'Runs'],
    ['diff', 'Diff'],
  ];
  if (showTerm) tabs.push(['terminal', 'Terminal']);
  const current: Tab = tabSel.value ?? (showTerm ? 'terminal' : 'transcript');
  const tab = { value: current };
  const alive = agent.status === 'running' || agent.status === 'waiting' || agent.status === 'paused' || agent.status === 'stopping';

  return (
    <div class="page agent-page">
      <AgentHeader agent={agent} worktreeName={wt?.name} />
      <TrainingState state={agent.state as any} />
      <div class="subtabs" role="tablist" aria-label="Agent views">
        {tabs.map(([k, label]) => (
          <button
            key={k}
            role="tab"
            id={`tab-${k}`}
            aria-selected={tab.value === k}
            aria-controls={`panel-${k}`}
            class={`subtab${tab.value === k ? ' active' : ''}`}
            onClick={() => (tabSel.value = k)}
          >
            {label}
          </button>
        ))}
      </div>
      <div class="tabpanel" role="tabpanel" id={`panel-${tab.value}`} aria-labelledby={`tab-${tab.value}`}>
        {tab.value === 'transcript' && (
          <div class="convo">
            {err.value && !t?.loaded && <ErrorState message={err.value} onRetry={() => void loadTranscript(id).catch((e) => (err.value = errText(e)))} />}
            {!err.value && !t?.loaded && <Spinner label="Loading transcript…" />}
            {t?.loaded && t.messages.length === 0 && t.live.length === 0 && (
              <Empty title="No messages yet">
                {agent.status === 'running' ? 'Waiting for the agent’s first words…' : 'Start the agent with a prompt to begin.'}
              </Empty>
            )}
            {t?.loaded && (t.messages.length > 0 || t.live.length > 0) && (
              <Transcript
                t={t}
                pending={pendingApprovals.value[id]}
                onLoadOlder={() => loadOlder(id).catch((e) => toastError('Could not load older messages', e))}
              />
            )}
            <ApprovalCards agent={agent} />
            <Composer agent={agent} />
          </div>
        )}
        {tab.value === 'runs' && <RunsTab agentId={id} />}
        {tab.value === 'diff' && <DiffTab worktreeId={agent.worktreeId} agentId={agent.id} />}
        {tab.value === 'terminal' && showTerm && (
          <Suspense fallback={<Spinner label="Loading terminal…" />}>
            <TerminalView agentId={id} live={alive} />
          </Suspense>
        )}
      </div>
    </div>
  );
}

// A training program's own state from its agent_update lines (issue #16):
// status, environment, step, reward, fps, success rate, last action and the
// mind panel (intent with confidence; plan, reasoning, skill).
function TrainingState({ state }: { state: any }) {
  if (!state || typeof state !== 'object' || (state.step === undefined && !state.metrics && !state.mind)) return null;
  const m = state.metrics || {};
  const s1 = state.mind?.system1 || {};
  const s2 = state.mind?.system2 || {};
  const num = (v: any, d = 2) => (typeof v === 'number' ? v.toFixed(d) : '–');
  return (
    <section class="panel glass training-state" aria-label="Training state">
      <dl class="training-figures">
        <div>
          <dt>Status</dt>
          <dd>{String(state.status ?? '–')}</dd>
        </div>
        <div>
          <dt>Environment</dt>
          <dd>{String(state.environment ?? '–')}</dd>
        </div>
        <div>
          <dt>Step</dt>
          <dd data-testid="train-step">{typeof state.step === 'number' ? state.step.toLocaleString() : '–'}</dd>
        </div>
        <div>
          <dt>Reward</dt>
          <dd>{num(m.reward)}</dd>
        </div>
        <div>
          <dt>FPS</dt>
          <dd>{num(m.fps, 0)}</dd>
        </div>
        <div>
          <dt>Success</dt>
          <dd>{typeof m.successRate === 'number' ? `${Math.round(m.successRate * 100)}%` : '–'}</dd>
        </div>
        <div>
          <dt>Last action</dt>
          <dd>{String(m.lastAction ?? '–')}</dd>
        </div>
      </dl>
      {state.mind && (
        <div class="mind">
          <div>
            <strong>System 1</strong> intent <span data-testid="mind-intent">{String(s1.intent ?? '–')}</span> (
            {typeof s1.confidence === 'number' ? `${Math.round(s1.confidence * 100)}%` : '–'} confidence)
          </div>
          <div>
            <strong>System 2</strong> plan: {String(s2.plan ?? '–')} · reasoning: {String(s2.reasoning ?? '–')} · skill: {String(s2.skill ?? '–')}
          </div>
        </div>
      )}
    </section>
  );
}

function ContextGauge({ level }: { level: number }) {
  const max = Number(settings.value.max_context_warning ?? 80);
  const v = Math.max(0, Math.min(100, Math.round(level)));
  const warn = v > max;
  return (
    <div class={`gauge${warn ? ' warn' : ''}`} title={`Context ${v}% full${warn ? ` (over the ${max}% warning)` : ''}`}>
      <div class="gauge-label">
        Context <strong>{v}%</strong>
        {warn && (
          <span class="gauge-warn" role="status">
            {' '}
            ⚠ over {max}%
          </span>
        )}
      </div>
      <div class="gauge-bar" role="meter" aria-valuemin={0} aria-valuemax={100} aria-valuenow={v} aria-label="Context used">
        <div class="gauge-fill" style={{ width: `${v}%` }} />
        <div class="gauge-mark" style={{ left: `${max}%` }} />
      </div>
    </div>
  );
}

function AgentHeader({ agent, worktreeName }: { agent: Agent; worktreeName?: string }) {
  const { busy, act } = useAgentAction(agent);
  const starting = useSignal(false);
  const confirmDelete = useSignal(false);
  const editPerms = useSignal(false);
  const forking = useSignal(false);
  const s = agent.status;
  const stopping = s === 'stopping';
  const alive = s === 'running' || s === 'waiting' || s === 'paused' || stopping;
  const archived = !!agent.deletedAt;
  const perms = Array.isArray(agent.permissions) ? agent.permissions : [];
  // A mode and a context gauge are a coding CLI's (Claude Code, Codex,
  // Gemini); permissions are Claude Code's allowed tools. A command agent
  // (any program) has none of them.
  const executor = agent.executor || 'claude';
  const cli = executor !== 'command';
  const claude = executor === 'claude';
  const doDelete = () =>
    act('Delete', async () => {
      await api.deleteAgent(agent.id, false);
      toast('success', 'Agent deleted', agent.name);
      await loadTree();
      go('/');
    });

  return (
    <header class="agent-head glass">
      <div class="agent-title">
        <h1>{agent.name}</h1>
        <AgentBadge a={agent} />
        {agent.stalled && (
          <span class="stall" role="status" title="The agent waits on its writes until there is room; nothing it prints is lost">
            <Badge status="stalled" small /> <span class="reason">{agent.stalled}</span>
          </span>
        )}
        {s === 'error' && !agent.statusReason && (agent.reason || (agent.state as any)?.statusReason) && (
          <span class="reason">{String(agent.reason || (agent.state as any).statusReason)}</span>
        )}
      </div>
      {agent.statusReason && agent.statusReason.text && (
        <p
          class="status-reason muted"
          data-code={agent.statusReason.code}
          title={`${agent.statusReason.code}${agent.statusReason.ref ? ` · ${agent.statusReason.ref}` : ''} · ${new Date(agent.statusReason.at).toLocaleString()}`}
        >
          {agent.statusReason.text}
        </p>
      )}
      {agent.parentAgentId && <ForkedFrom agent={agent} />}
      <dl class="facts">
        <div>
          <dt>Executor</dt>
          <dd>{agent.executor || 'claude'}</dd>
        </div>
        {cli && (
          <div>
            <dt>Mode</dt>
            <dd>{agent.mode || 'regular'}</dd>
          </div>
        )}
        {claude && (
          <div>
            <dt>Permissions</dt>
            <dd>
              {perms.length ? perms.join(', ') : 'none'}{' '}
              <button class="btn btn-small" aria-label="Edit permissions" disabled={archived} onClick={() => (editPerms.value = true)}>
                Edit
              </button>
            </dd>
          </div>
        )}
        {worktreeName && (
          <div>
            <dt>Worktree</dt>
            <dd>{worktreeName}</dd>
          </div>
        )}
        {agent.startedAt && (
          <div>
            <dt>Started</dt>
            <dd>{ago(agent.startedAt)}</dd>
          </div>
        )}
      </dl>
      {cli && <ContextGauge level={agent.contextLevel ?? 0} />}
      <div class="actions" role="toolbar" aria-label="Agent actions">
        {!alive && !archived && (
          <button class="btn btn-primary" disabled={!!busy.value} onClick={() => (starting.value = true)}>
            ▶ Start
          </button>
        )}
        {alive && (
          <button class="btn" disabled={!!busy.value || stopping} onClick={() => act('Stop', () => api.stop(agent.id))}>
            {stopping ? 'Stopping…' : '■ Stop'}
          </button>
        )}
        {alive && (
          // stays available while a stop escalates (SIGINT, SIGTERM, SIGKILL)
          <button
            class="btn btn-danger"
            disabled={busy.value === 'Force stop'}
            onClick={() => act('Force stop', () => api.stop(agent.id, true))}
            title="Kill at once (SIGKILL)"
          >
            Force stop
          </button>
        )}
        {s === 'running' && (
          <button class="btn" disabled={!!busy.value} onClick={() => act('Pause', () => api.pause(agent.id))}>
            ❚❚ Pause
          </button>
        )}
        {s === 'paused' && (
          <button class="btn" disabled={!!busy.value} onClick={() => act('Resume', () => api.resume(agent.id))}>
            ▶ Resume
          </button>
        )}
        <button class="btn" disabled={!!busy.value} onClick={() => (forking.value = true)}>
          Fork
        </button>
        {!archived ? (
          <button
            class="btn"
            disabled={!!busy.value || alive}
            title={alive ? 'Stop the agent first' : undefined}
            onClick={() => act('Archive', () => api.deleteAgent(agent.id, true).then(loadTree))}
          >
            Archive
          </button>
        ) : (
          <button class="btn" disabled={!!busy.value} onClick={() => act('Restore', () => api.restoreAgent(agent.id))}>
            Restore
          </button>
        )}
        <button
          class="btn btn-danger"
          disabled={!!busy.value || alive}
          title={alive ? 'Stop the agent first' : undefined}
          onClick={() => (settings.value.confirm_delete ? (confirmDelete.value = true) : void doDelete())}
        >
          Delete
        </button>
      </div>
      {starting.value && <StartDialog agent={agent} onClose={() => (starting.value = false)} />}
      {editPerms.value && <PermissionsDialog agent={agent} onClose={() => (editPerms.value = false)} />}
      {forking.value && <ForkDialog agent={agent} onClose={() => (forking.value = false)} />}
      {confirmDelete.value && (
        <Modal title={`Delete ${agent.name}?`} onClose={() => (confirmDelete.value = false)}>
          <div class="form">
            <p>The agent and its transcript are deleted for good. Archive it instead to keep them.</p>
            <div class="form-actions">
              <button class="btn" onClick={() => (confirmDelete.value = false)}>
                Cancel
              </button>
              <button
                class="btn btn-danger"
                onClick={() => {
                  confirmDelete.value = false;
                  void doDelete();
                }}
              >
                Delete for good
              </button>
            </div>
          </div>
        </Modal>
      )}
    </header>
  );
}

// Said before a start or a message is refused: a usage limit at 90 % or past.
function LimitNotice() {
  const n = limitNotice(usageLimits.value);
  return n ? (
    <div class={`limit-notice limit-${n.level}`} role="status">
      {n.text}
    </div>
  ) : null;
}

// A fork says where it came from, with a link: a Claude fork continues the
// parent's conversation (its first run resumes that session into a new one),
// whose earlier messages are on the parent's page.
function ForkedFrom({ agent }: { agent: Agent }) {
  const parent = agent.parentAgentId ? model.value.agents[agent.parentAgentId] : undefined;
  const continues = (agent.executor || 'claude') === 'claude' && !!agent.sessionId;
  return (
    <p class="forked-from" role="note">
      Forked from <a href={`#/agents/${agent.parentAgentId}`}>{parent ? parent.name : agent.parentAgentId}</a>
      {continues ? ': it continues that conversation (the earlier messages are on the parent’s page).' : '.'}
    </p>
  );
}

// Fork here, or into a new worktree branched from this agent's branch.
function ForkDialog({ agent, onClose }: { agent: Agent; onClose: () => void }) {
  const wt = (worktrees.value || []).find((w) => w.id === agent.worktreeId);
  const name = useSignal(`${agent.name} (fork)`);
  const newWt = useSignal(false);
  const branch = useSignal(`${(wt?.branch || 'fork').replace(/[^A-Za-z0-9._/-]/g, '-')}-fork-${Date.now().toString(36).slice(-4)}`);
  const busy = useSignal(false);
  const err = useSignal<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    busy.value = true;
    err.value = null;
    try {
      let worktreeId: string | undefined;
      if (newWt.value && wt) {
        const created = await api.createWorktree({
          workspaceId: wt.workspaceId,
          name: branch.value,
          branch: branch.value,
          createBranch: true,
          base: wt.branch,
        });
        worktreeId = created.id;
        await loadTree();
      }
      const f = await api.forkAgent(agent.id, name.value.trim() || undefined, worktreeId);
      upsertAgent(f);
      toast('success', 'Agent forked', f.name);
      onClose();
      go(`/agents/${f.id}`);
    } catch (e2) {
      err.value = errText(e2);
    } finally {
      busy.value = false;
    }
  };
  return (
    <Modal title={`Fork ${agent.name}`} onClose={onClose}>
      <form class="form" onSubmit={submit}>
        <label>
          Name
          <input name="name" value={name.value} onInput={(e) => (name.value = e.currentTarget.value)} autocomplete="off" />
        </label>
        <label class="check">
          <input type="checkbox" name="new-worktree" checked={newWt.value} disabled={!wt?.branch} onChange={(e) => (newWt.value = e.currentTarget.checked)} />{' '}
          In a new worktree branched from <code>{wt?.branch || 'this worktree'}</code>
        </label>
        {newWt.value && (
          <label>
            New branch
            <input name="branch" value={branch.value} onInput={(e) => (branch.value = e.currentTarget.value)} spellcheck={false} />
          </label>
        )}
        <FormFooter err={err.value} busy={busy.value} label="Fork" busyLabel="Forking…" onCancel={onClose} />
      </form>
    </Modal>
  );
}

// The agent's permissions as checkboxes; they apply from its next start.
function PermissionsDialog({ agent, onClose }: { agent: Agent; onClose: () => void }) {
  const perms = useSignal<string[]>(Array.isArray(agent.permissions) ? agent.permissions : []);
  const busy = useSignal(false);
  const err = useSignal<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    busy.value = true;
    err.value = null;
    try {
      upsertAgent(await api.patchAgent(agent.id, { permissions: perms.value }));
      onClose();
    } catch (e2) {
      err.value = errText(e2);
    } finally {
      busy.value = false;
    }
  };
  return (
    <Modal title={`Permissions of ${agent.name}`} onClose={onClose}>
      <form class="form" onSubmit={submit}>
        <PermissionsField value={perms.value} onChange={(p) => (perms.value = p)} />
        <p class="muted">Anything else the agent wants to do in the regular mode waits for your approval. Changes apply from the next start.</p>
        <FormFooter err={err.value} busy={busy.value} label="Save" busyLabel="Saving…" onCancel={onClose} />
      </form>
    </Modal>
  );
}

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
function ApprovalCards({ agent }: { agent: Agent }) {
  const list = useSignal<Approval[]>([]);
  const busy = useSignal<string | null>(null);
  const load = () =>
    api
      .approvals(agent.id)
      .then((l) => {
        list.value = l;
        setPending(agent.id, l);
      })
      .catch(() => undefined);
  useEffect(() => {
    void load();
  }, [agent.id, agent.status, agent.approvalsRev]);
  // The first card takes the focus when nothing else has it, so y / n
  // answer it at once; a composer being typed in keeps the focus.
  const host = useRef<HTMLDivElement>(null);
  const first = list.value[0]?.id;
  useEffect(() => {
    const el = document.activeElement;
    if (first && (!el || el === document.body || el.id === 'main')) host.current?.querySelector<HTMLElement>('.approval')?.focus();
  }, [first]);
  if (list.value.length === 0) return null;
  const decide = async (a: Approval, d: 'allow' | 'deny' | 'allow_always') => {
    busy.value = a.id;
    try {
      await api.decide(a.id, d);
      list.value = list.value.filter((x) => x.id !== a.id);
      setPending(agent.id, list.value);
      if (d === 'allow_always') api.agent(agent.id).then(upsertAgent, () => undefined);
    } catch (e) {
      toastError('Decision not taken', e);
      void load();
    } finally {
      busy.value = null;
    }
  };
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

function StartDialog({ agent, onClose }: { agent: Agent; onClose: () => void }) {
  const prompt = useSignal('');
  const busy = useSignal(false);
  const err = useSignal<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    busy.value = true;
    err.value = null;
    try {
      const a = await withLimitConfirm((force) => api.start(agent.id, prompt.value.trim() || undefined, force));
      if (a) {
        upsertAgent(a);
        onClose();
      }
    } catch (e2) {
      err.value = errText(e2);
    } finally {
      busy.value = false;
    }
  };
  return (
    <Modal title={`Start ${agent.name}`} onClose={onClose}>
      <form class="form" onSubmit={submit}>
        <label>
          Prompt <span class="muted">(optional)</span>
          <textarea
            name="prompt"
            rows={5}
            value={prompt.value}
            onInput={(e) => (prompt.value = e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && (e.metaKey || e.ctrlKey)) void submit(e);
            }}
            placeholder="What should the agent do?"
          />
        </label>
        <LimitNotice />
        <FormFooter err={err.value} busy={busy.value} label="Start agent" busyLabel="Starting…" onCancel={onClose} />
      </form>
    </Modal>
  );
}

function Composer({ agent }: { agent: Agent }) {
  const text = useSignal('');
  const sending = useSignal(false);
  const ref = useRef<HTMLTextAreaElement>(null);
  const reason = inputBlockedReason(agent);
  const send = async () => {
    const content = text.value;
    if (!content.trim() || reason || sending.value) return;
    sending.value = true;
    try {
      const r: any = await withLimitConfirm((force) => api.send(agent.id, content, force));
      if (r === null) return; // not past the limit after all
      text.value = '';
      const mid = r && (r.messageId || r.id);
      if (typeof mid === 'string') {
        // Shown at once; the message_created event with the same id merges into it.
        addSentMessage({ id: mid, agentId: agent.id, role: 'user', content, createdAt: new Date().toISOString() });
      }
    } catch (e) {
      toastError('Message not sent', e);
    } finally {
      sending.value = false;
      ref.current?.focus();
    }
  };
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

function RunsTab({ agentId }: { agentId: string }) {
  const runs = runsByAgent.value[agentId];
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
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
