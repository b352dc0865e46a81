// The CLIs' own sessions on this machine (issue #76, docs/sessions.md): the
// list as the page keeps it, kept newest first as external_session events
// (topic "sessions") bring a session that is new or changed.
export type ExternalSession = {
  tool: 'claude' | 'codex' | 'gemini';
  sessionId: string;
  cwd: string | null;
  gitBranch: string | null;
  startedAt: string | null;
  lastActivity: string;
  firstMessage: string | null;
  lastMessage: string | null;
  size: number;
  live: boolean;
  agentId?: string | null;
};

export type ExternalMessage = {
  role: 'user' | 'assistant' | 'system' | 'tool';
  content: string;
  toolName?: string;
  toolInput?: string;
  toolOutput?: string;
  isError: boolean;
  createdAt: string | null;
};

export const sessionKey = (s: { tool: string; sessionId: string }) => `${s.tool}/${s.sessionId}`;

/** list with s in it (replacing the same session, keeping what only the list
 * knows: the agent that holds it), newest first. A new array. */
export function upsertSession(list: ExternalSession[], s: ExternalSession): ExternalSession[] {
  const old = list.find((x) => sessionKey(x) === sessionKey(s));
  const next = list.filter((x) => sessionKey(x) !== sessionKey(s));
  next.push({ ...s, agentId: s.agentId ?? old?.agentId ?? null });
  return next.sort((a, b) => Date.parse(b.lastActivity) - Date.parse(a.lastActivity));
}

/** Whether agentd can adopt a session of this tool (all three since Gemini's chats resume, issue #76). */
export const adoptable = (s: ExternalSession) => s.tool === 'claude' || s.tool === 'codex' || s.tool === 'gemini';

/** The last part of a folder, for a narrow column. */
export function folderName(cwd: string | null): string {
  if (!cwd) return '—';
  const parts = cwd.split('/').filter(Boolean);
  return parts.length ? parts[parts.length - 1] : cwd;
}
