// The order of worktrees and agents in the sidebar, as the server keeps it
// (issue #40, the Claude Manager seed): a worktree's sortMode says how its
// agents are listed (free: by displayOrder, the order a user dragged them
// into; status: running, waiting, error, idle, paused, the rest; name), and
// worktrees follow their displayOrder under the main one. A drop sends the
// whole new order (POST /api/agents/reorder, /api/worktrees/reorder), so a
// reload shows what the user left.
import { SortModeValues } from './rows';
import type { Agent, Worktree } from './types';

export type { SortMode } from './rows';
export const SORT_MODES = SortModeValues;

const STATUS_RANK: Record<string, number> = { running: 0, waiting: 1, error: 2, idle: 3, paused: 4 };
const rank = (s: string) => STATUS_RANK[s] ?? 5;
const byCreated = (a: { createdAt?: string; id: string }, b: { createdAt?: string; id: string }) =>
  (a.createdAt || '').localeCompare(b.createdAt || '') || a.id.localeCompare(b.id);
const byOrder = (a: Agent, b: Agent) => (a.displayOrder ?? 0) - (b.displayOrder ?? 0) || byCreated(a, b);

/** A worktree's agents in its sort mode (the server's list order). */
export function sortAgents(agents: Agent[], mode: string | undefined): Agent[] {
  const list = [...agents];
  if (mode === 'status') return list.sort((a, b) => rank(a.status) - rank(b.status) || byOrder(a, b));
  if (mode === 'name') return list.sort((a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase()) || byCreated(a, b));
  return list.sort(byOrder);
}

/** A workspace's worktrees: the main one first, then by displayOrder. */
export function sortWorktrees(wts: Worktree[]): Worktree[] {
  return [...wts].sort((a, b) => Number(!!b.isMain) - Number(!!a.isMain) || (a.displayOrder ?? 0) - (b.displayOrder ?? 0) || byCreated(a, b));
}

/** ids with moved placed where target was (before it when moving up,
 *  after it when moving down); ids unchanged when either is missing or
 *  they are the same. */
export function moveBefore(ids: string[], moved: string, target: string): string[] {
  const from = ids.indexOf(moved);
  const to = ids.indexOf(target);
  if (from < 0 || to < 0 || from === to) return ids;
  const out = ids.filter((x) => x !== moved);
  out.splice(to, 0, moved);
  return out;
}

/** The orders the server would give ids (0, 1, 2, …), to show a drop at
 *  once before its answer arrives. */
export function withOrders<T extends { id: string; displayOrder?: number }>(rows: T[], ids: string[]): T[] {
  const pos = new Map(ids.map((id, i) => [id, i]));
  return rows.map((r) => (pos.has(r.id) ? { ...r, displayOrder: pos.get(r.id) } : r));
}
