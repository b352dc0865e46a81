// The sidebar's state, apart from its view: which dialog is open (add a
// workspace, a new worktree / agent / task, delete a worktree, a
// workspace's settings), the tree it shows (workspaces → worktrees →
// agents, archived agents left out) with each level's counts, and opening a
// shell in a worktree.
import { useSignal } from '@preact/signals';
import { api } from '../api';
import { needsYou } from '../attention';
import { sortAgents, sortWorktrees } from '../order';
import { go } from '../router';
import { agentList, agentRequest, toast, upsertAgent, workspaces, worktrees } from '../store';
import { SHELL_ARGV } from '../tasks';
import type { Agent, Workspace, Worktree } from '../types';
import { errText } from './common';

/** Running, needing the user, failed: the badges of a workspace or worktree row. */
export function counts(agents: Pick<Agent, 'status' | 'deletedAt' | 'reason' | 'state'>[]) {
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

export interface TreeWorktree {
  wt: Worktree;
  agents: Agent[];
}
export interface TreeWorkspace {
  ws: Workspace;
  worktrees: TreeWorktree[];
  agents: Agent[];
}

/** The tree the sidebar draws, each level in its chosen order (order.ts). */
export function sidebarTree(wss: Workspace[], wts: Worktree[], agents: Agent[]): TreeWorkspace[] {
  const live = agents.filter((a) => !a.deletedAt);
  return wss.map((ws) => {
    const mine = sortWorktrees(wts.filter((t) => t.workspaceId === ws.id));
    const rows = mine.map((wt) => ({
      wt,
      agents: sortAgents(
        live.filter((a) => a.worktreeId === wt.id),
        wt.sortMode,
      ),
    }));
    return { ws, worktrees: rows, agents: rows.flatMap((r) => r.agents) };
  });
}

/** Opens a plain shell in a worktree: a command agent on a terminal running
 * the user's shell, started at once. Needs the admin scope (it runs a
 * program); returns the agent. */
export async function openShell(wt: Worktree): Promise<Agent> {
  const a = await api.createAgent({ worktreeId: wt.id, name: `shell ${wt.name}`, executor: 'command', command: SHELL_ARGV, terminal: true });
  upsertAgent(a);
  try {
    await agentRequest(a.id, () => api.start(a.id, undefined, true));
  } catch (e) {
    await api.deleteAgent(a.id, false).catch(() => undefined);
    throw e;
  }
  return a;
}

export function useSidebar(onNavigate?: () => void) {
  const adding = useSignal(false);
  const newWt = useSignal<string | null>(null); // a workspace id
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
  const tree = workspaces.value ? sidebarTree(workspaces.value, worktrees.value || [], agentList.value) : null;
  return { adding, newWt, delWt, newAgent, newTask, wsSettings, shell, tree };
}
