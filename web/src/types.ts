// Shapes of the REST resources and live events (docs/api.md, docs/events.md).
// Fields the server may omit are optional; the UI never assumes more. The
// words of the statuses and the rows' wire shapes are generated from
// schema/rows.def (./rows.ts).
// A word the server may add later is kept as it comes: `| (string & {})`
// takes any string and still offers the known words to the editor.
import type { AgentStatus as AgentStatusWord, ApprovalStatus, MessageRole, RunRow, SortMode, StatusReasonRow } from './rows';

export type AgentStatus = AgentStatusWord | (string & {});

export interface Workspace {
  id: string;
  name: string;
  path: string;
  createdAt?: string;
}

export interface Worktree {
  id: string;
  workspaceId: string;
  name: string;
  branch?: string;
  path?: string;
  isMain?: boolean;
  displayOrder?: number;
  // How its agents are listed: free (dragged order), status or name.
  sortMode?: SortMode;
  baseBranch?: string;
  createdAt?: string;
}

// Why an agent has its status (issue #33): the protocol event that caused
// the change, with its id (docs/api.md).
export type StatusReason = StatusReasonRow;

export interface Agent {
  id: string;
  worktreeId: string;
  name: string;
  status: AgentStatus;
  statusReason?: StatusReason | null;
  contextLevel?: number;
  mode?: string;
  permissions?: string[];
  displayOrder?: number;
  pid?: number | null;
  sessionId?: string | null;
  createdAt?: string;
  updatedAt?: string;
  startedAt?: string | null;
  stoppedAt?: string | null;
  deletedAt?: string | null;
  parentAgentId?: string | null;
  executor?: string;
  crewId?: string | null;
  state?: Record<string, unknown> | null;
  terminal?: boolean;
  reason?: string | null;
  // When it last started waiting (the agent_status event's time; client-side).
  waitingSince?: string;
  // Why its run cannot go on for now ("disk full"): run_stalled until
  // run_resumed or the run's end (client-side only).
  stalled?: string | null;
  // A stop under way (the server keeps it: a reload still shows it).
  stopping?: { since: string; force: boolean };
  // What the agent's runs cost so far (the server sums them; run_ended and
  // a turn's end bring the new total).
  costUsd?: number;
  totalTokens?: number;
  // The seq of the last approval event for this agent (client-side only):
  // the approval card reloads when it changes.
  approvalsRev?: number;
}

// A tool call waiting for (or given) the user's permission.
export interface Approval {
  id: string;
  agentId: string;
  runId: string;
  orgId?: string;
  toolName: string;
  toolUseId?: string;
  input: Record<string, unknown>;
  description?: string;
  status: ApprovalStatus | (string & {});
  decision?: string | null;
  createdAt: string;
  decidedAt?: string | null;
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

// A run (GET /api/runs/:id, run_started, run_ended): the wire row, every
// field but its id, agent and status read as one the answer may lack.
export type Run = Pick<RunRow, 'id' | 'agentId' | 'status'> & Partial<Omit<RunRow, 'id' | 'agentId' | 'status'>>;

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
