// The agent page's header: what the agent is (executor, mode, permissions,
// worktree, context gauge, why it stopped, what it was forked from) and
// what can be done with it (start, stop, pause, fork, archive, delete); the
// dialogs those open are AgentDialogs.tsx's.
import { useSignal } from '@preact/signals';
import { api } from '../api';
import { go } from '../router';
import { loadTree, model, settings, toast } from '../store';
import type { Agent } from '../types';
import { AgentBadge, AgentSummary, ago, Badge, Modal } from './common';
import { useAgentAction } from './useAgent';
import { ForkDialog, PermissionsDialog, StartDialog } from './AgentDialogs';

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

export function AgentHeader({ agent, worktreeName }: { agent: Agent; worktreeName?: string }) {
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
      <AgentSummary a={agent} cls="head" />
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
        {s === 'suspended' && (
          <button class="btn" disabled={!!busy.value} onClick={() => act('Resume', () => api.resume(agent.id))} title="Resume now, not at the limit's reset">
            ▶ Resume now
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
