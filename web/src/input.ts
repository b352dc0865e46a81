// Whether the composer can send a message to an agent, and why not.
import type { Agent } from './types';

// The first Codex CLI agentd runs on `codex app-server` (AD_CODEX_APP_MIN).
const CODEX_APP_MIN = [0, 169, 0];

// Whether version (x.y.z) is older than CODEX_APP_MIN; false when unknown.
function olderThanApp(version: unknown): boolean {
  if (typeof version !== 'string' || !/^\d/.test(version)) return false;
  const v = version.split('.').map((n) => parseInt(n, 10) || 0);
  for (let i = 0; i < 3; i++) {
    if ((v[i] ?? 0) !== CODEX_APP_MIN[i]) return (v[i] ?? 0) < CODEX_APP_MIN[i];
  }
  return false;
}

// Gemini, and Codex older than its app-server, run one turn per process:
// while a turn runs they take no message. Codex on app-server takes one
// mid-turn (it is steered into the turn).
export function oneShot(a: Agent): boolean {
  return a.executor === 'gemini' || (a.executor === 'codex' && olderThanApp(a.state?.codexVersion));
}

// A message to a Codex or Gemini agent that has finished (or failed)
// starts a run that resumes its thread or session.
function resumesByMessage(a: Agent): boolean {
  return a.executor === 'codex' || a.executor === 'gemini';
}

export function inputBlockedReason(a: Agent): string | null {
  if (a.deletedAt) return 'This agent is archived. Restore it to continue.';
  if (resumesByMessage(a) && (a.status === 'finished' || a.status === 'stopped' || a.status === 'idle' || a.status === 'error')) return null;
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
