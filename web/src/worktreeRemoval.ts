// What removing a worktree does, said before it is done (issue #74,
// "Nothing lost by a click"): its folder is deleted (the branch stays), its
// agents are archived with their transcripts, runs and metrics, and agents
// that run are named, since the removal stops them only when asked
// (DELETE /api/worktrees/:id?stop=true; without it agentd refuses, 409
// agents_running).
import type { Agent, Worktree } from './types';

const ALIVE = new Set(['running', 'waiting', 'paused']);

/** The worktree's agents that are not archived, and those of them that run. */
export function worktreeAgents(agents: Record<string, Agent>, worktreeId: string): { all: Agent[]; running: Agent[] } {
  const all = Object.values(agents).filter((a) => a.worktreeId === worktreeId && !a.deletedAt);
  return { all, running: all.filter((a) => ALIVE.has(a.status)) };
}

const names = (list: Agent[]) => list.map((a) => a.name).join(', ');

/** One paragraph: what goes, what is kept, and what will be stopped. */
export function removalText(wt: Pick<Worktree, 'name' | 'path' | 'branch'>, all: Agent[], running: Agent[]): string {
  const folder = `Its folder ${wt.path || wt.name} is deleted${wt.branch ? ` (the branch ${wt.branch} stays)` : ' (the branch stays)'}.`;
  const kept =
    all.length === 0
      ? ' It has no agents.'
      : ` ${all.length === 1 ? 'Its agent' : `Its ${all.length} agents`} (${names(all)}) ${all.length === 1 ? 'is' : 'are'} archived: transcripts, runs and metrics are kept.`;
  const stops =
    running.length === 0 ? '' : ` ${names(running)} ${running.length === 1 ? 'is running and will be stopped' : 'are running and will be stopped'}.`;
  return folder + kept + stops;
}

/** The label of a button that removes the worktree. */
export function removalLabel(all: Agent[], running: Agent[]): string {
  const what =
    all.length === 0
      ? 'Remove the worktree'
      : all.length === 1
        ? 'Archive the agent and remove the worktree'
        : `Archive its ${all.length} agents and remove the worktree`;
  return running.length > 0 ? `Stop, ${what[0].toLowerCase()}${what.slice(1)}` : what;
}
