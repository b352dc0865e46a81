// The sidebar: workspaces → worktrees → agents with live status badges and
// counts; add a workspace by path, create a worktree, delete one (showing
// the server's refusal when it has uncommitted work), create an agent (a
// Claude Code agent optionally from an agent definition).
import { useSignal } from '@preact/signals';
import { PermissionsField } from './Permissions';
import { api, ApiError, type Definition } from '../api';
import { DefinitionOptions, useDefinitions } from './useDefinitions';
import { go, route } from '../router';
import { agentList, loadError, loadTree, settings, toast, upsertAgent, workspaces, worktrees } from '../store';
import type { Agent, Worktree } from '../types';
import { needsYou } from '../attention';
import { AgentBadge, AgentCost, errText, executorFields, ExecutorModeRow, FormFooter, Modal, Spinner } from './common';
import { lazy, Suspense } from 'preact/compat';
import { SHELL_ARGV, splitArgs } from '../tasks';
import { setCollapsed } from '../shell';
import { sortAgents, sortWorktrees } from '../order';
import { dragRow, SortModeSelect } from './Reorder';

// Dialogs of issue #14, loaded when first opened.
const NewTask = lazy(() => import('./NewTask'));
const WorkspaceSettings = lazy(() => import('./WorkspaceSettings'));

const ACTIVE = new Set(['running', 'waiting', 'paused']);

function counts(agents: Agent[]) {
  let running = 0;
  let waiting = 0;
  let error = 0;
  for (const a of agents) {
    if (a.deletedAt) continue;
    if (a.status === 'running') running++;
    else if (needsYou(a))
      waiting++; // a turn done does not need the user
    else if (a.status === 'error') error++;
  }
  return { running, waiting, error };
}

function Counts({ agents }: { agents: Agent[] }) {
  const c = counts(agents);
  return (
    <span class="counts">
      {c.running > 0 && (
        <span class="count count-running" title={`${c.running} running`}>
          {c.running}
        </span>
      )}
      {c.waiting > 0 && (
        <span class="count count-waiting" title={`${c.waiting} need you`}>
          {c.waiting}
        </span>
      )}
      {c.error > 0 && (
        <span class="count count-error" title={`${c.error} failed`}>
          {c.error}
        </span>
      )}
    </span>
  );
}

export function Sidebar({ onNavigate }: { onNavigate?: () => void }) {
  const adding = useSignal(false);
  const newWt = useSignal<string | null>(null);
  const delWt = useSignal<Worktree | null>(null);
  const newAgent = useSignal<Worktree | null>(null);
  const newTask = useSignal<string | null>(null); // a workspace id
  const wsSettings = useSignal<string | null>(null);
  const shell = async (t: Worktree) => {
    try {
      const a = await openShell(t);
      onNavigate?.();
      go(`/agents/${a.id}`);
    } catch (e) {
      toast('error', 'No shell', errText(e));
    }
  };
  const wss = workspaces.value;
  const wts = worktrees.value || [];
  const agents = agentList.value.filter((a) => !a.deletedAt);
  const r = route.value;
  const current = r.page === 'agent' ? r.id : null;

  return (
    <nav class="sidebar glass" aria-label="Workspaces">
      <div class="side-head">
        <span class="side-title">Workspaces</span>
        <button class="btn btn-sm btn-primary" onClick={() => (adding.value = true)}>
          + Add
        </button>
        <button class="icon-btn side-fold" title="Hide the sidebar" aria-label="Hide the sidebar" onClick={() => setCollapsed(true)}>
          «
        </button>
      </div>
      {wss === null && !loadError.value && <Spinner />}
      {wss === null && loadError.value && (
        <div class="state state-error" role="alert">
          {loadError.value}{' '}
          <button class="btn btn-sm" onClick={() => void loadTree()}>
            Retry
          </button>
        </div>
      )}
      {wss && wss.length === 0 && <div class="state state-empty side-empty">No workspace yet. Add a git repository by its path to run agents in it.</div>}
      <ul class="tree" role="tree">
        {(wss || []).map((w) => {
          const myWts = sortWorktrees(wts.filter((t) => t.workspaceId === w.id));
          const wtOrder = myWts.filter((t) => !t.isMain).map((t) => t.id);
          const wtIds = new Set(myWts.map((t) => t.id));
          const myAgents = agents.filter((a) => wtIds.has(a.worktreeId));
          return (
            <li key={w.id} role="treeitem" aria-expanded="true" class="ws">
              <div class="ws-row">
                <span class="ws-name" title={w.path}>
                  {w.name || w.path}
                </span>
                <Counts agents={myAgents} />
                <button class="icon-btn" title="New task: a worktree and an agent" aria-label={`New task in ${w.name}`} onClick={() => (newTask.value = w.id)}>
                  ✚
                </button>
                <button class="icon-btn" title="New worktree" aria-label={`New worktree in ${w.name}`} onClick={() => (newWt.value = w.id)}>
                  ⎇+
                </button>
                <button
                  class="icon-btn"
                  title="Workspace settings: setup, remove"
                  aria-label={`Settings of workspace ${w.name}`}
                  onClick={() => (wsSettings.value = w.id)}
                >
                  ⚙
                </button>
              </div>
              <ul role="group">
                {myWts.length === 0 && <li class="muted small pad">No worktrees found.</li>}
                {myWts.map((t) => {
                  const ta = sortAgents(
                    myAgents.filter((a) => a.worktreeId === t.id),
                    t.sortMode,
                  );
                  const agOrder = ta.map((a) => a.id);
                  const free = (t.sortMode || 'free') === 'free';
                  return (
                    <li key={t.id} role="treeitem" class="wt" {...(t.isMain ? {} : dragRow('worktree', w.id, t.id, wtOrder))}>
                      <div class="wt-row">
                        <span class="wt-name" title={(t.path || '') + (t.baseBranch ? ` · base ${t.baseBranch}` : '')}>
                          <span class="branch-icon" aria-hidden="true">
                            ⎇
                          </span>{' '}
                          {t.name}
                          {t.branch && t.branch !== t.name && <span class="muted small"> {t.branch}</span>}
                        </span>
                        <Counts agents={ta} />
                        {ta.length > 1 && <SortModeSelect wt={t} />}
                        <button class="icon-btn" title="Open a shell here" aria-label={`Shell in ${t.name}`} onClick={() => void shell(t)}>
                          ›_
                        </button>
                        <button class="icon-btn" title="New agent" aria-label={`New agent in ${t.name}`} onClick={() => (newAgent.value = t)}>
                          +
                        </button>
                        {!t.isMain && (
                          <button class="icon-btn danger" title="Delete worktree" aria-label={`Delete worktree ${t.name}`} onClick={() => (delWt.value = t)}>
                            ×
                          </button>
                        )}
                      </div>
                      <ul role="group">
                        {ta.map((a) => (
                          <li key={a.id} role="treeitem" {...(free ? dragRow('agent', t.id, a.id, agOrder) : {})}>
                            <a
                              href={`#/agents/${a.id}`}
                              class={`agent-link${current === a.id ? ' active' : ''}${ACTIVE.has(a.status) ? ' live' : ''}`}
                              aria-current={current === a.id ? 'page' : undefined}
                              onClick={onNavigate}
                            >
                              <span class="agent-name">{a.name}</span>
                              <AgentCost a={a} />
                              <AgentBadge a={a} small />
                            </a>
                          </li>
                        ))}
                      </ul>
                    </li>
                  );
                })}
              </ul>
            </li>
          );
        })}
      </ul>
      {adding.value && <AddWorkspace onClose={() => (adding.value = false)} />}
      {newWt.value && <NewWorktree workspaceId={newWt.value} onClose={() => (newWt.value = null)} />}
      {delWt.value && <DeleteWorktree wt={delWt.value} onClose={() => (delWt.value = null)} />}
      {newAgent.value && <NewAgent wt={newAgent.value} onClose={() => (newAgent.value = null)} />}
      <Suspense fallback={null}>
        {newTask.value && <NewTask workspaceId={newTask.value} onClose={() => (newTask.value = null)} />}
        {wsSettings.value && <WorkspaceSettings workspaceId={wsSettings.value} onClose={() => (wsSettings.value = null)} />}
      </Suspense>
    </nav>
  );
}

function AddWorkspace({ onClose }: { onClose: () => void }) {
  const path = useSignal('');
  const name = useSignal('');
  const busy = useSignal(false);
  const err = useSignal<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!path.value.trim()) {
      err.value = 'Give the path of a git repository.';
      return;
    }
    busy.value = true;
    err.value = null;
    try {
      const w = await api.addWorkspace(path.value.trim(), name.value.trim() || undefined);
      toast('success', 'Workspace added', w.name || w.path);
      await loadTree();
      onClose();
    } catch (e2) {
      err.value = errText(e2);
    } finally {
      busy.value = false;
    }
  };
  return (
    <Modal title="Add workspace" onClose={onClose}>
      <form onSubmit={submit} class="form">
        <label>
          Repository path
          <input
            name="path"
            value={path.value}
            onInput={(e) => (path.value = e.currentTarget.value)}
            placeholder="/home/me/src/project"
            autocomplete="off"
            spellcheck={false}
          />
        </label>
        <label>
          Name <span class="muted">(optional)</span>
          <input name="name" value={name.value} onInput={(e) => (name.value = e.currentTarget.value)} />
        </label>
        <FormFooter err={err.value} busy={busy.value} label="Add workspace" busyLabel="Adding…" onCancel={onClose} />
      </form>
    </Modal>
  );
}

function NewWorktree({ workspaceId, onClose }: { workspaceId: string; onClose: () => void }) {
  const name = useSignal('');
  const branch = useSignal('');
  const create = useSignal(true);
  const base = useSignal(''); // the branch a new branch starts from (and merges back into)
  const busy = useSignal(false);
  const err = useSignal<string | null>(null);
  // A setup command nobody approved yet: shown, and run only when asked.
  const pending = useSignal<{ id: string; command: string } | null>(null);
  const approve = async () => {
    if (!pending.value) return;
    busy.value = true;
    err.value = null;
    try {
      await api.approveSetup(pending.value.id);
      toast('success', 'Setup command approved', 'It runs in the new worktree now.');
      onClose();
    } catch (e2) {
      err.value = errText(e2);
    } finally {
      busy.value = false;
    }
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    const n = name.value.trim();
    if (!/^[A-Za-z0-9._-]+$/.test(n) || n.startsWith('.')) {
      err.value = 'Name: letters, digits, dot, dash and underscore; not starting with a dot.';
      return;
    }
    busy.value = true;
    err.value = null;
    try {
      const wt: any = await api.createWorktree({
        workspaceId,
        name: n,
        branch: branch.value.trim() || n,
        createBranch: create.value,
        ...(create.value && base.value.trim() ? { base: base.value.trim() } : {}),
      });
      toast('success', 'Worktree created', n);
      await loadTree();
      if (wt && wt.setupCommandNeedsApproval && typeof wt.setupCommand === 'string') {
        pending.value = { id: wt.id, command: wt.setupCommand };
        return;
      }
      onClose();
    } catch (e2) {
      err.value = errText(e2);
    } finally {
      busy.value = false;
    }
  };
  if (pending.value) {
    return (
      <Modal title="Run the setup command?" onClose={onClose}>
        <div class="form setup-approval">
          <p>This workspace runs a setup command in each new worktree. agentd has not run it yet: it runs only once you approve this exact command.</p>
          <pre class="setup-command">{pending.value.command}</pre>
          {err.value && (
            <div class="form-error" role="alert">
              {err.value}
            </div>
          )}
          <div class="form-actions">
            <button type="button" class="btn" onClick={onClose}>
              Not now
            </button>
            <button type="button" class="btn btn-primary" disabled={busy.value} onClick={() => void approve()}>
              {busy.value ? 'Starting…' : 'Approve and run'}
            </button>
          </div>
        </div>
      </Modal>
    );
  }
  return (
    <Modal title="New worktree" onClose={onClose}>
      <form onSubmit={submit} class="form">
        <label>
          Name
          <input name="name" value={name.value} onInput={(e) => (name.value = e.currentTarget.value)} placeholder="feature-x" autocomplete="off" />
        </label>
        <label>
          Branch <span class="muted">(defaults to the name)</span>
          <input name="branch" value={branch.value} onInput={(e) => (branch.value = e.currentTarget.value)} autocomplete="off" />
        </label>
        <fieldset class="radio-row">
          <legend>Branch is</legend>
          <label>
            <input type="radio" name="create" checked={create.value} onChange={() => (create.value = true)} /> new (from HEAD)
          </label>
          <label>
            <input type="radio" name="create" checked={!create.value} onChange={() => (create.value = false)} /> existing
          </label>
        </fieldset>
        {create.value && (
          <label>
            Base branch <span class="muted">(where it starts and merges back; defaults to the main worktree’s branch)</span>
            <input name="base" value={base.value} onInput={(e) => (base.value = e.currentTarget.value)} placeholder="main" autocomplete="off" />
          </label>
        )}
        <FormFooter err={err.value} busy={busy.value} label="Create worktree" busyLabel="Creating…" onCancel={onClose} />
      </form>
    </Modal>
  );
}

function changedFiles(details: any): string[] {
  if (!details || typeof details !== 'object') return [];
  for (const k of ['files', 'changedFiles', 'changed', 'modified', 'paths']) {
    const v = details[k];
    if (Array.isArray(v)) return v.map((x) => (typeof x === 'string' ? x : x && (x.path || x.file) ? String(x.path || x.file) : JSON.stringify(x)));
  }
  return [];
}

function DeleteWorktree({ wt, onClose }: { wt: Worktree; onClose: () => void }) {
  const busy = useSignal(false);
  const refusal = useSignal<{ message: string; files: string[] } | null>(null);
  const err = useSignal<string | null>(null);
  const del = async (force: boolean) => {
    busy.value = true;
    err.value = null;
    try {
      await api.deleteWorktree(wt.id, force);
      toast('success', 'Worktree deleted', wt.name);
      await loadTree();
      onClose();
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) refusal.value = { message: e.message, files: changedFiles(e.details) };
      else err.value = errText(e);
    } finally {
      busy.value = false;
    }
  };
  return (
    <Modal title={`Delete worktree ${wt.name}?`} onClose={onClose}>
      <div class="form">
        {!refusal.value && (
          <p>
            This removes the folder <code>{wt.path || wt.name}</code> and stops its running agents. The branch stays.
          </p>
        )}
        {refusal.value && (
          <div class="refusal" role="alert">
            <strong>agentd refused:</strong> {refusal.value.message}
            {refusal.value.files.length > 0 && (
              <ul class="file-list">
                {refusal.value.files.slice(0, 50).map((f) => (
                  <li key={f}>
                    <code>{f}</code>
                  </li>
                ))}
                {refusal.value.files.length > 50 && <li class="muted">…and {refusal.value.files.length - 50} more</li>}
              </ul>
            )}
          </div>
        )}
        {err.value && (
          <div class="form-error" role="alert">
            {err.value}
          </div>
        )}
        <div class="form-actions">
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          {!refusal.value ? (
            <button class="btn btn-danger" disabled={busy.value} onClick={() => void del(false)}>
              Delete
            </button>
          ) : (
            <button class="btn btn-danger" disabled={busy.value} onClick={() => void del(true)}>
              Delete anyway, losing these changes
            </button>
          )}
        </div>
      </div>
    </Modal>
  );
}

export function NewAgent({ wt, onClose }: { wt: Worktree; onClose: () => void }) {
  const name = useSignal('');
  const executor = useSignal('claude');
  const mode = useSignal(String(settings.value.default_mode || 'regular'));
  const perms = useSignal<string[]>(['read']);
  const command = useSignal('');
  const terminal = useSignal(false);
  const definition = useSignal('');
  const busy = useSignal(false);
  const err = useSignal<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const body: Record<string, unknown> = {
      worktreeId: wt.id,
      ...executorFields(executor.value),
      mode: mode.value,
      permissions: perms.value,
    };
    if (name.value.trim()) body.name = name.value.trim();
    if (executor.value === 'claude' && definition.value) body.definition = definition.value;
    if (executor.value === 'command') {
      const argv = splitArgs(command.value);
      if (!argv.length) {
        err.value = 'Give the command to run.';
        return;
      }
      body.command = argv;
      if (terminal.value) body.terminal = true;
    }
    busy.value = true;
    err.value = null;
    try {
      const a = await api.createAgent(body);
      upsertAgent(a);
      onClose();
      go(`/agents/${a.id}`);
    } catch (e2) {
      err.value = errText(e2);
    } finally {
      busy.value = false;
    }
  };
  return (
    <Modal title={`New agent in ${wt.name}`} onClose={onClose}>
      <form class="form" onSubmit={submit}>
        <label>
          Name <span class="muted">(optional)</span>
          <input name="name" value={name.value} onInput={(e) => (name.value = e.currentTarget.value)} autocomplete="off" />
        </label>
        <ExecutorModeRow executor={executor} mode={mode} />
        {executor.value === 'claude' && (
          <DefinitionPicker
            value={definition.value}
            onPick={(d) => {
              definition.value = d ? d.name : '';
              if (d && d.tools && d.tools.length) perms.value = d.tools;
            }}
          />
        )}
        <PermissionsField value={perms.value} onChange={(p) => (perms.value = p)} />
        {executor.value === 'command' && (
          <>
            <label>
              Command
              <input
                name="command"
                value={command.value}
                onInput={(e) => (command.value = e.currentTarget.value)}
                placeholder="node agent.js --flag"
                spellcheck={false}
              />
            </label>
            <label class="check">
              <input type="checkbox" name="terminal" checked={terminal.value} onChange={(e) => (terminal.value = e.currentTarget.checked)} /> Run in a terminal
            </label>
          </>
        )}
        <FormFooter err={err.value} busy={busy.value} label="Create agent" busyLabel="Creating…" onCancel={onClose} />
      </form>
    </Modal>
  );
}

// The agent definitions (GET /api/definitions, kept current by
// definitions_changed): the one picked gives the agent its system prompt,
// model and tools. Shows nothing when there are none.
function DefinitionPicker({ value, onPick }: { value: string; onPick: (d: Definition | null) => void }) {
  const { defs } = useDefinitions();
  if (defs.value.length === 0) return null;
  const cur = defs.value.find((d) => d.name === value);
  return (
    <label>
      Agent definition <span class="muted">(its prompt, model and tools)</span>
      <select name="definition" value={value} onChange={(e) => onPick(defs.value.find((d) => d.name === e.currentTarget.value) || null)}>
        <DefinitionOptions defs={defs.value} />
      </select>
      {cur && (
        <span class="muted small" data-testid="definition-summary">
          {[cur.description, cur.model && `model ${cur.model}`].filter(Boolean).join(' · ')}
        </span>
      )}
    </label>
  );
}

/** Opens a plain shell in a worktree: a command agent on a terminal running
 * the user's shell, started at once. Needs the admin scope (it runs a
 * program); returns the agent. */
export async function openShell(wt: Worktree): Promise<Agent> {
  const a = await api.createAgent({ worktreeId: wt.id, name: `shell ${wt.name}`, executor: 'command', command: SHELL_ARGV, terminal: true });
  upsertAgent(a);
  try {
    upsertAgent(await api.start(a.id, undefined, true));
  } catch (e) {
    await api.deleteAgent(a.id, false).catch(() => undefined);
    throw e;
  }
  return a;
}
