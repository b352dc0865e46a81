// Sort mode and drag reordering in the sidebar (issue #40, the Claude
// Manager seed): a worktree's agents are listed free (dragged order), by
// status or by name; in free mode an agent is dragged onto another to take
// its place, and a workspace's worktrees (not the main one) the same way.
// Alt+↑/↓ moves the focused row for those without a mouse. The server
// keeps both (order.ts), so a reload shows the same order.
import type { HTMLAttributes } from 'preact';
import { api } from '../api';
import { moveBefore, SORT_MODES } from '../order';
import { applyOrder, setSortMode, toastError } from '../store';
import type { Worktree } from '../types';

type Kind = 'agent' | 'worktree';
// What is being dragged: one row at a time, in one list.
let dragging: { kind: Kind; id: string; scope: string } | null = null;

async function commit(kind: Kind, scope: string, ids: string[]) {
  applyOrder(kind, ids);
  try {
    if (kind === 'agent') await api.reorderAgents(scope, ids);
    else await api.reorderWorktrees(scope, ids);
  } catch (e) {
    toastError('Could not reorder', e);
  }
}

/** Props that make a row of a list draggable within it: kind and scope
 *  (the worktree of agents, the workspace of worktrees) keep a drop in its
 *  own list; ids is the list's order now. */
export function dragRow(kind: Kind, scope: string, id: string, ids: string[]): HTMLAttributes<HTMLLIElement> {
  const ours = () => dragging !== null && dragging.kind === kind && dragging.scope === scope;
  return {
    draggable: true,
    onDragStart: (e: DragEvent) => {
      e.stopPropagation();
      dragging = { kind, id, scope };
      e.dataTransfer?.setData('text/plain', id);
      if (e.dataTransfer) e.dataTransfer.effectAllowed = 'move';
    },
    onDragOver: (e: DragEvent) => {
      if (!ours()) return;
      e.preventDefault();
      e.stopPropagation();
    },
    onDrop: (e: DragEvent) => {
      if (!ours()) return;
      e.preventDefault();
      e.stopPropagation();
      const next = moveBefore(ids, dragging!.id, id);
      dragging = null;
      if (next !== ids) void commit(kind, scope, next);
    },
    onDragEnd: () => (dragging = null),
    onKeyDown: (e: KeyboardEvent) => {
      if (!e.altKey || (e.key !== 'ArrowUp' && e.key !== 'ArrowDown')) return;
      e.stopPropagation(); // an agent's row moves the agent, not its worktree
      const i = ids.indexOf(id);
      const j = e.key === 'ArrowUp' ? i - 1 : i + 1;
      if (i < 0 || j < 0 || j >= ids.length) return;
      e.preventDefault();
      void commit(kind, scope, moveBefore(ids, id, ids[j]));
    },
  };
}

const LABEL: Record<string, string> = { free: 'Manual', status: 'Status', name: 'Name' };

/** How a worktree lists its agents; changing it is stored on the worktree. */
export function SortModeSelect({ wt }: { wt: Worktree }) {
  const change = async (mode: string) => {
    setSortMode(wt.id, mode as Worktree['sortMode']);
    try {
      await api.patchWorktree(wt.id, { sortMode: mode });
    } catch (e) {
      toastError('Could not change the sort', e);
    }
  };
  return (
    <select
      class="sort-mode"
      title="Sort agents: manual (drag to reorder), by status or by name"
      aria-label={`Sort agents in ${wt.name}`}
      value={wt.sortMode || 'free'}
      onChange={(e) => void change(e.currentTarget.value)}
    >
      {SORT_MODES.map((m) => (
        <option key={m} value={m}>
          {LABEL[m]}
        </option>
      ))}
    </select>
  );
}
