// Home's figures, kept in one place so its cards and its runs list say the
// same thing (issue #32: "Nothing running" sat above a list of running
// runs). A run is open from its start to its end; its agent is running
// only while it works on a turn. An open run whose agent waits for the
// user (a turn done, an approval) reads as its agent does.
import { turnDone } from './attention';
import type { Agent, Run } from './types';

type AgentLike = Pick<Agent, 'status' | 'deletedAt' | 'reason' | 'state'>;

/** The status a run row shows. */
export function runShownStatus(r: Pick<Run, 'status'>, a: AgentLike | undefined): string {
  if (r.status !== 'running' || !a || a.status === 'running') return r.status;
  if (turnDone(a)) return 'turn done';
  return a.status === 'waiting' ? 'waiting' : a.status;
}

/** The Running card's line under its count. */
export function runningSub(running: Pick<Agent, 'name'>[], openRuns: number): string {
  if (running.length)
    return running
      .map((a) => a.name)
      .slice(0, 3)
      .join(', ');
  if (openRuns > 0) return `None working; ${openRuns} open run${openRuns === 1 ? '' : 's'} wait${openRuns === 1 ? 's' : ''} for you`;
  return 'Nothing running';
}
