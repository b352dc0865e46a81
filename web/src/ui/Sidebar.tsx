// The sidebar: workspaces → worktrees → agents with live status badges and
// counts, and the buttons that open its dialogs (SidebarDialogs.tsx, and
// the new task and workspace settings dialogs, loaded when first opened).
// Its state is useSidebar's; on a wide screen it folds away (« / ☰).
import type { HTMLAttributes } from 'preact';
import { lazy, Suspense } from 'preact/compat';
import { route } from '../router';
import { setCollapsed } from '../shell';
import { loadError, loadTree, workspaces } from '../store';
import type { Agent } from '../types';
import { AgentBadge, AgentCost, AgentSummary, Spinner } from './common';
import { AddWorkspace, DeleteWorktree, NewAgent, NewWorktree } from './SidebarDialogs';
import { dragRow, SortModeSelect } from './Reorder';
import { counts, useSidebar } from './useSidebar';

// Dialogs of issue #14, loaded when first opened.
const NewTask = lazy(() => import('./NewTask'));
const WorkspaceSettings = lazy(() => import('./WorkspaceSettings'));

const ACTIVE = new Set(['running', 'waiting', 'paused']);

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

function AgentRow({ a, current, onNavigate, drag }: { a: Agent; current: string | null; onNavigate?: () => void; drag: HTMLAttributes<HTMLLIElement> }) {
  return (
    <li role="treeitem" {...drag}>
      <a
        href={`#/agents/${a.id}`}
        class={`agent-link${current === a.id ? ' active' : ''}${ACTIVE.has(a.status) ? ' live' : ''}`}
        aria-current={current === a.id ? 'page' : undefined}
        onClick={onNavigate}
      >
        <span class="agent-main">
          <span class="agent-name">{a.name}</span>
          <AgentSummary a={a} cls="side" />
        </span>
        <AgentCost a={a} />
        <AgentBadge a={a} small />
      </a>
    </li>
  );
}

export function Sidebar({ onNavigate }: { onNavigate?: () => void }) {
  const { adding, newWt, delWt, newAgent, newTask, wsSettings, shell, tree } = useSidebar(onNavigate);
  const wss = workspaces.value;
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
        {(tree || []).map(({ ws: w, worktrees: rows, agents: myAgents }) => {
          const wtOrder = rows.filter((x) => !x.wt.isMain).map((x) => x.wt.id);
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
                {rows.length === 0 && <li class="muted small pad">No worktrees found.</li>}
                {rows.map(({ wt: t, agents: ta }) => {
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
                          <AgentRow key={a.id} a={a} current={current} onNavigate={onNavigate} drag={free ? dragRow('agent', t.id, a.id, agOrder) : {}} />
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
