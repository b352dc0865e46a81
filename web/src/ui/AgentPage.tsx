// The agent page: what the agent is (executor, mode, permissions, context
// gauge), what it can do (start, stop, pause, fork, archive, delete), and
// tabs for its transcript + composer, runs, the worktree's diff and, for
// terminal agents, a terminal.
import { useSignal } from '@preact/signals';
import { lazy, Suspense } from 'preact/compat';
import { useEffect, useRef } from 'preact/hooks';
import { api } from '../api';
import { formatDuration } from '../events';
import { go } from '../router';
import {
  loadOlder,
  loadRuns,
  loadTranscript,
  loadTree,
  model,
  openAgent,
  runsByAgent,
  settings,
  toast,
  toastError,
  upsertAgent,
  worktrees,
} from '../store';
import type { Agent, Message } from '../types';
import { ago, Badge, Empty, ErrorState, errText, fmtCost, fmtInt, Modal, Spinner } from './common';
import { Transcript } from './Transcript';
import { inputBlockedReason } from '../input';

const TerminalView = lazy(() => import('./Terminal'));

type Tab = 'transcript' | 'runs' | 'diff' | 'terminal';

export function isTerminalAgent(a: Agent): boolean {
  return !!(a.terminal || (a.state && (a.state as any).terminal));
}

// Why the composer is disabled, or null when the agent takes input.
export function AgentPage({ id }: { id: string }) {
  const agent = model.value.agents[id];
  const t = model.value.transcripts[id];
  const tab = useSignal<Tab>('transcript');
  const err = useSignal<string | null>(null);
  const notFound = useSignal(false);

  useEffect(() => {
    openAgent.value = id;
    err.value = null;
    notFound.value = false;
    tab.value = 'transcript';
    if (!model.value.agents[id])
      api
        .agent(id)
        .then(upsertAgent)
        .catch((e) => {
          if (e && e.status === 404) notFound.value = true;
          else err.value = errText(e);
        });
    loadTranscript(id).catch((e) => (err.value = errText(e)));
    loadRuns(id).catch(() => undefined);
    return () => {
      if (openAgent.value === id) openAgent.value = null;
    };
  }, [id]);

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
            onClick={() => (tab.value = k)}
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
              <Empty title="No messages yet">{agent.status === 'running' ? 'Waiting for the agent’s first words…' : 'Start the agent with a prompt to begin.'}</Empty>
            )}
            {t?.loaded && (t.messages.length > 0 || t.live.length > 0) && <Transcript t={t} onLoadOlder={() => loadOlder(id).catch((e) => toastError('Could not load older messages', e))} />}
            <Composer agent={agent} />
          </div>
        )}
        {tab.value === 'runs' && <RunsTab agentId={id} />}
        {tab.value === 'diff' && <DiffTab worktreeId={agent.worktreeId} />}
        {tab.value === 'terminal' && showTerm && (
          <Suspense fallback={<Spinner label="Loading terminal…" />}>
            <TerminalView agentId={id} />
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
        <div><dt>Status</dt><dd>{String(state.status ?? '–')}</dd></div>
        <div><dt>Environment</dt><dd>{String(state.environment ?? '–')}</dd></div>
        <div><dt>Step</dt><dd data-testid="train-step">{typeof state.step === 'number' ? state.step.toLocaleString() : '–'}</dd></div>
        <div><dt>Reward</dt><dd>{num(m.reward)}</dd></div>
        <div><dt>FPS</dt><dd>{num(m.fps, 0)}</dd></div>
        <div><dt>Success</dt><dd>{typeof m.successRate === 'number' ? `${Math.round(m.successRate * 100)}%` : '–'}</dd></div>
        <div><dt>Last action</dt><dd>{String(m.lastAction ?? '–')}</dd></div>
      </dl>
      {state.mind && (
        <div class="mind">
          <div><strong>System 1</strong> intent <span data-testid="mind-intent">{String(s1.intent ?? '–')}</span> ({typeof s1.confidence === 'number' ? `${Math.round(s1.confidence * 100)}%` : '–'} confidence)</div>
          <div><strong>System 2</strong> plan: {String(s2.plan ?? '–')} · reasoning: {String(s2.reasoning ?? '–')} · skill: {String(s2.skill ?? '–')}</div>
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
  const busy = useSignal<string | null>(null);
  const starting = useSignal(false);
  const confirmDelete = useSignal(false);
  const act = async (label: string, f: () => Promise<unknown>) => {
    busy.value = label;
    try {
      const r = await f();
      if (r && typeof r === 'object' && (r as Agent).id === agent.id) upsertAgent(r as Agent);
    } catch (e) {
      toastError(`${label} failed`, e);
    } finally {
      busy.value = null;
    }
  };
  const s = agent.status;
  const alive = s === 'running' || s === 'waiting' || s === 'paused';
  const archived = !!agent.deletedAt;
  const perms = Array.isArray(agent.permissions) ? agent.permissions : [];
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
        <Badge status={archived ? 'archived' : s} />
        {s === 'error' && (agent.reason || (agent.state as any)?.statusReason) && <span class="reason">{String(agent.reason || (agent.state as any).statusReason)}</span>}
      </div>
      <dl class="facts">
        <div>
          <dt>Executor</dt>
          <dd>{agent.executor || 'claude'}</dd>
        </div>
        <div>
          <dt>Mode</dt>
          <dd>{agent.mode || 'regular'}</dd>
        </div>
        <div>
          <dt>Permissions</dt>
          <dd>{perms.length ? perms.join(', ') : 'none'}</dd>
        </div>
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
      <ContextGauge level={agent.contextLevel ?? 0} />
      <div class="actions" role="toolbar" aria-label="Agent actions">
        {!alive && !archived && (
          <button class="btn btn-primary" disabled={!!busy.value} onClick={() => (starting.value = true)}>
            ▶ Start
          </button>
        )}
        {alive && (
          <button class="btn" disabled={!!busy.value} onClick={() => act('Stop', () => api.stop(agent.id))}>
            ■ Stop
          </button>
        )}
        {alive && (
          <button class="btn btn-danger" disabled={!!busy.value} onClick={() => act('Force stop', () => api.stop(agent.id, true))} title="Kill at once (SIGKILL)">
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
        <button
          class="btn"
          disabled={!!busy.value}
          onClick={() =>
            act('Fork', async () => {
              const f = await api.forkAgent(agent.id);
              upsertAgent(f);
              toast('success', 'Agent forked', f.name);
              go(`/agents/${f.id}`);
            })
          }
        >
          Fork
        </button>
        {!archived ? (
          <button class="btn" disabled={!!busy.value || alive} title={alive ? 'Stop the agent first' : undefined} onClick={() => act('Archive', () => api.deleteAgent(agent.id, true).then(loadTree))}>
            Archive
          </button>
        ) : (
          <button class="btn" disabled={!!busy.value} onClick={() => act('Restore', () => api.restoreAgent(agent.id))}>
            Restore
          </button>
        )}
        <button class="btn btn-danger" disabled={!!busy.value || alive} title={alive ? 'Stop the agent first' : undefined} onClick={() => (settings.value.confirm_delete ? (confirmDelete.value = true) : void doDelete())}>
          Delete
        </button>
      </div>
      {starting.value && <StartDialog agent={agent} onClose={() => (starting.value = false)} />}
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

function StartDialog({ agent, onClose }: { agent: Agent; onClose: () => void }) {
  const prompt = useSignal('');
  const busy = useSignal(false);
  const err = useSignal<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    busy.value = true;
    err.value = null;
    try {
      upsertAgent(await api.start(agent.id, prompt.value.trim() || undefined));
      onClose();
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
        {err.value && (
          <div class="form-error" role="alert">
            {err.value}
          </div>
        )}
        <div class="form-actions">
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" disabled={busy.value}>
            {busy.value ? 'Starting…' : 'Start agent'}
          </button>
        </div>
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
      const r: any = await api.send(agent.id, content);
      text.value = '';
      const mid = r && (r.messageId || r.id);
      if (typeof mid === 'string') {
        // Shown at once; the message_created event with the same id merges into it.
        const m = model.value;
        const tr = m.transcripts[agent.id];
        if (tr && !tr.messages.some((x) => x.id === mid)) {
          const msg: Message = { id: mid, agentId: agent.id, role: 'user', content, createdAt: new Date().toISOString() };
          model.value = { ...m, transcripts: { ...m.transcripts, [agent.id]: { ...tr, messages: [...tr.messages, msg] } } };
        }
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
                <span class={`run-status run-${r.status}`}>{r.status}</span>
              </td>
              <td>{ago(r.startedAt)}</td>
              <td class="num">{r.durationMs != null ? formatDuration(r.durationMs) : r.status === 'running' ? 'running' : '–'}</td>
              <td class="num">
                {fmtInt(r.inputTokens ?? 0)} / {fmtInt(r.outputTokens ?? 0)}
              </td>
              <td class="num">{fmtCost(r.costUsd ?? 0)}</td>
              <td class="num">{r.signal ? String(r.signal) : r.exitCode ?? '–'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

interface DiffFile {
  path: string;
  insertions?: number;
  deletions?: number;
  status?: string;
}

function DiffTab({ worktreeId }: { worktreeId: string }) {
  const files = useSignal<DiffFile[] | null>(null);
  const err = useSignal<string | null>(null);
  const sel = useSignal<string | null>(null);
  const patch = useSignal<string | null>(null);
  const load = () => {
    err.value = null;
    files.value = null;
    api
      .diff(worktreeId)
      .then((d: any) => (files.value = (Array.isArray(d) ? d : d?.files || []).map((f: any) => ({ ...f, path: f.path || f.newPath || f.file }))))
      .catch((e) => (err.value = errText(e)));
  };
  useEffect(load, [worktreeId]);
  const open = (p: string) => {
    sel.value = p;
    patch.value = null;
    api
      .diff(worktreeId, p)
      .then((d: any) => {
        const f = (d?.files || []).find((x: any) => (x.path || x.newPath) === p);
        patch.value = String(d?.patch ?? f?.patch ?? (typeof d === 'string' ? d : ''));
      })
      .catch((e) => (patch.value = 'Could not load the patch: ' + errText(e)));
  };
  if (err.value) return <ErrorState message={err.value} onRetry={load} />;
  if (files.value === null) return <Spinner label="Loading diff…" />;
  if (files.value.length === 0) return <Empty title="No changes">The worktree matches its branch’s last commit.</Empty>;
  return (
    <div class="diff">
      <ul class="diff-files panel glass">
        {files.value.map((f) => (
          <li key={f.path}>
            <button class={`diff-file${sel.value === f.path ? ' active' : ''}`} onClick={() => open(f.path)}>
              <span class="path">{f.path}</span>
              <span class="ins">+{f.insertions ?? 0}</span>
              <span class="del">−{f.deletions ?? 0}</span>
            </button>
          </li>
        ))}
      </ul>
      <div class="diff-patch panel glass">
        {!sel.value && <div class="muted">Choose a file to see its changes.</div>}
        {sel.value && patch.value === null && <Spinner label="Loading patch…" />}
        {sel.value && patch.value !== null && (
          <pre class="patch">
            {patch.value.split('\n').map((l, i) => (
              <div key={i} class={l.startsWith('+') && !l.startsWith('+++') ? 'add' : l.startsWith('-') && !l.startsWith('---') ? 'rem' : l.startsWith('@@') ? 'hunk' : ''}>
                {l || ' '}
              </div>
            ))}
          </pre>
        )}
      </div>
    </div>
  );
}
