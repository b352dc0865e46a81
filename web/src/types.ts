// Shapes of the REST resources and live events (docs/api.md, docs/events.md).
// Fields the server may omit are optional; the UI never assumes more. The
// words of the statuses and the rows' wire shapes are generated from
// schema/rows.def (./rows.ts).
// A word the server may add later is kept as it comes: `| (string & {})`
// takes any string and still offers the known words to the editor.
import type {
  AgentRow,
  AgentStatus as AgentStatusWord,
  ApprovalRow,
  ApprovalStatus,
  MessageRole,
  RunRow,
  StatusReasonRow,
  WorkspaceRow,
  WorktreeRow,
} from './rows';

export type AgentStatus = AgentStatusWord | (string & {});

// A wire row whose fields but K the UI reads as ones an answer may lack
// (a list, an event or an older agentd may leave them out).
type Lacking<T, K extends keyof T> = Pick<T, K> & Partial<Omit<T, K>>;

export type Workspace = Lacking<WorkspaceRow, 'id' | 'name' | 'path'>;

// sortMode: how its agents are listed, free (dragged order), status or name.
export type Worktree = Lacking<WorktreeRow, 'id' | 'workspaceId' | 'name'>;

// Why an agent has its status (issue #33): the protocol event that caused
// the change, with its id (docs/api.md).
export type StatusReason = StatusReasonRow;

// The wire row (its status a word the server may add later, its state the
// executor's own object), and what only the dashboard keeps.
export interface Agent extends Lacking<Omit<AgentRow, 'status' | 'state'>, 'id' | 'worktreeId' | 'name'> {
  status: AgentStatus;
  state?: Record<string, unknown> | null;
  terminal?: boolean;
  reason?: string | null;
  // When it last started waiting (the agent_status event's time; client-side).
  waitingSince?: string;
  // Why its run cannot go on for now ("disk full"): run_stalled until
  // run_resumed or the run's end (client-side only).
  stalled?: string | null;
  // The seq of the last approval event for this agent (client-side only):
  // the approval card reloads when it changes.
  approvalsRev?: number;
}

// A tool call waiting for (or given) the user's permission.
export interface Approval extends Lacking<Omit<ApprovalRow, 'status' | 'input' | 'decision'>, 'id' | 'agentId' | 'runId' | 'toolName' | 'createdAt'> {
  status: ApprovalStatus | (string & {});
  input: Record<string, unknown>;
  decision?: string | null; // allow, deny, allow_always
}

export interface Message {
  id: string;
  agentId: string;
  runId?: string | null;
  role: MessageRole | (string & {});
  content: string;
  tokenCount?: number | null;
  toolName?: string | null;
  toolInput?: unknown;
  toolOutput?: unknown;
  isComplete?: boolean;
  isError?: boolean; // a failed or denied tool call, an API error
  createdAt: string;
}

// A run (GET /api/runs/:id, run_started, run_ended).
export type Run = Lacking<RunRow, 'id' | 'agentId' | 'status'>;

export interface Envelope {
  seq: number;
  ts?: string;
  topic?: string;
  type: string;
  payload: any;
}

export interface ToolCall {
  toolId: string;
  name: string;
  params?: unknown;
  agentId?: string;
  runId?: string;
  status: 'running' | string;
  durationMs?: number;
  exitCode?: number | null;
  progress?: string;
  startSeq: number;
}
