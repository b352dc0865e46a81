// The CLIs' own sessions on this machine and on the organisation's nodes
// (issue #76, docs/sessions.md): the list as the page keeps it, kept newest
// first as external_session events (topic "sessions") bring a session of
// this machine that is new or changed; a node's come with each read of the
// list.
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
  /** The node it is kept on; null: this machine. */
  node?: { id: string; name: string } | null;
};

/** A node asked for its sessions, and whether it answered. */
export type SessionNode = { id: string; name: string; state: string; listed: boolean; error?: string };

export type ExternalMessage = {
  role: 'user' | 'assistant' | 'system' | 'tool';
  content: string;
  toolName?: string;
  toolInput?: string;
  toolOutput?: string;
  isError: boolean;
  createdAt: string | null;
};

export const sessionKey = (s: { tool: string; sessionId: string; node?: { id: string } | null }) => `${s.node ? s.node.id + ':' : ''}${s.tool}/${s.sessionId}`;

/** list with s in it (replacing the same session, keeping what only the list
 * knows: the agent that holds it), newest first. A new array. */
export function upsertSession(list: ExternalSession[], s: ExternalSession): ExternalSession[] {
  const old = list.find((x) => sessionKey(x) === sessionKey(s));
  const next = list.filter((x) => sessionKey(x) !== sessionKey(s));
  next.push({ ...s, agentId: s.agentId ?? old?.agentId ?? null });
  return next.sort((a, b) => Date.parse(b.lastActivity) - Date.parse(a.lastActivity));
}

/** Whether agentd can adopt a session of this tool (all three since Gemini's chats resume, issue #76,
 * on this machine and on a node alike). */
export const adoptable = (s: ExternalSession) => s.tool === 'claude' || s.tool === 'codex' || s.tool === 'gemini';

/** The last part of a folder, for a narrow column. */
export function folderName(cwd: string | null): string {
  if (!cwd) return '—';
  const parts = cwd.split('/').filter(Boolean);
  return parts.length ? parts[parts.length - 1] : cwd;
}
