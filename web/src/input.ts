// Whether the composer can send a message to an agent, and why not.
import type { Agent } from './types';

// Codex and Gemini run one turn per process: a message to one that has
// finished (or failed) starts a run that resumes its session; while a turn
// runs they take none.
export function oneShot(a: Agent): boolean {
  return a.executor === 'codex' || a.executor === 'gemini';
}

export function inputBlockedReason(a: Agent): string | null {
  if (a.deletedAt) return 'This agent is archived. Restore it to continue.';
  if (oneShot(a) && (a.status === 'finished' || a.status === 'stopped' || a.status === 'idle' || a.status === 'error')) return null;
  if (oneShot(a) && a.status === 'running') {
    return 'The agent is working on this turn. Send the next message when it has finished.';
  }
  switch (a.status) {
    case 'running':
    case 'waiting':
      return null;
    case 'paused':
      return 'The agent is paused. Resume it to send messages.';
    case 'error':
      return 'The agent stopped with an error. Start it again to continue.';
    default:
      return 'The agent is not running. Start it with a prompt first.';
  }
}
