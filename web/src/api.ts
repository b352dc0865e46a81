// REST client: JSON in and out, the server's error shape
// {"error":{"code","message","details"}} turned into an ApiError the UI can
// show as is, and tolerant unwrapping of list answers ({agents:[…]} or […]).
import type { RoutineRow, RoutineRunRow, RunRow } from './rows';
import type { Agent, Approval, Message, Run, Workspace, Worktree } from './types';
import type { ChatMessage } from './workbench';
import type { Trace } from './trace';
import type { ExternalMessage, ExternalSession, SessionNode } from './sessions';

/** GET /api/usage/agents: each agent's use in the current period. */
export interface UsageByAgent {
  period: string;
  from: string;
  totals: { runs: number; totalTokens: number; costUsd: number };
  agents: {
    agentId: string;
    name: string;
    executor?: string;
    deletedAt?: string;
    runs: number;
    inputTokens: number;
    outputTokens: number;
    totalTokens: number;
    costUsd: number;
  }[];
}

/** One period of GET /api/usage/limits (a limit of 0 is none). */
export interface UsageLimit {
  tokenLimit: number;
  tokensUsed: number;
  tokensRemaining: number | null;
  costLimitUsd: number;
  costUsedUsd: number;
  costRemainingUsd: number | null;
  exceeded: boolean;
}
export interface UsageLimits {
  daily: UsageLimit;
  monthly: UsageLimit;
}

/** A worktree's pull request (GET /api/worktrees/:id/pr). */
export interface PullRequest {
  forge: string;
  number: number;
  url?: string;
  state: 'open' | 'closed' | 'merged';
  draft?: boolean;
  title?: string;
  head?: string;
  base?: string;
  existing?: boolean;
  checks?: { state: 'success' | 'failure' | 'pending' | 'none'; items: { name: string; state: string; url?: string }[] };
  refreshError?: string;
}

/** What a pull request's feedback loop sent its agent (issue #75). */
export interface PrLoopItem {
  id: string;
  kind: 'check' | 'review';
  forgeId: string;
  name: string; // the check's, or the comment's author
  url?: string;
  message: string;
  messageId?: string;
  runId?: string;
  turn: number;
  outcome: string; // sending, sent, answered, agent_error, unsent
  createdAt: string;
}
/** A worktree's feedback loop (GET /api/worktrees/:id/pr/loop). */
export interface PrLoop {
  worktreeId: string;
  agentId: string;
  enabled: boolean;
  checks: boolean;
  reviews: boolean;
  maxTurns: number;
  turns: number;
  status: 'watching' | 'answering' | 'passed' | 'closed' | 'limit' | 'off' | 'error';
  statusReason: { code: string; text: string } | null;
  items: PrLoopItem[];
}

/** A chat with Claude (GET /api/chats/:id), with its newest messages. */
export interface Chat {
  id: string;
  title?: string | null;
  model: string;
  system?: string | null;
  definition?: string | null;
  temperature?: number | null;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  updatedAt: string;
  streaming?: boolean;
  messages?: ChatMessage[];
  hasMore?: boolean; // older messages than these are stored (GET .../messages?before=)
}

/** An agent definition (GET /api/definitions); error when its file is bad. */
export interface Definition {
  name: string;
  category?: string;
  description?: string;
  capabilities?: string[];
  tools?: string[];
  tags?: string[];
  model?: string;
  tier?: string;
  source?: string;
  file?: string;
  error?: string;
  score?: number;
  matched?: string[];
  systemPrompt?: string;
}

/** The definition agentd would pick for a prompt (POST /api/definitions/select). */
export interface Suggestion {
  definition: Definition | null;
  score: number;
  matched: string[];
  default: boolean;
}

/** A project: files and messages saved from chats (GET /api/projects/:id). */
export interface Project {
  id: string;
  name: string;
  description?: string | null;
  updatedAt: string;
  fileCount?: number;
  messages?: { position: number; role: string; content: string }[];
  files?: { path: string; content: string; size: number }[];
}

/** A provider's stored key, masked (GET /api/credentials). */
export interface Credential {
  provider: string;
  masked: string;
  email?: string | null;
  baseUrl?: string | null;
  status: 'unchecked' | 'valid' | 'invalid';
  statusReason?: string | null;
  storage?: 'secret-service' | 'file' | 'none';
}

export class ApiError extends Error {
  status: number;
  code: string;
  details: any;
  constructor(status: number, code: string, message: string, details: any) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

// Called when the server answers 401: the session is gone or was never
// there, and the page shows the sign-in screen (store.ts sets it).
let unauthorized: (() => void) | null = null;
export function onUnauthorized(f: () => void) {
  unauthorized = f;
}

export async function request<T = any>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: body === undefined ? { Accept: 'application/json' } : { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, 'NETWORK', 'Cannot reach agentd. Is the daemon running?', {});
  }
  const text = await res.text();
  let data: any = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (res.status === 401 && unauthorized && !path.startsWith('/api/auth/')) unauthorized();
  if (!res.ok) {
    const err = data && data.error;
    const message = (err && (err.message || err.code)) || `${res.status} ${res.statusText || 'error'}`;
    throw new ApiError(res.status, (err && err.code) || 'HTTP_' + res.status, message, (err && err.details) || {});
  }
  return data as T;
}

export function listOf<T>(data: any, key: string): T[] {
  if (Array.isArray(data)) return data as T[];
  if (data && Array.isArray(data[key])) return data[key] as T[];
  if (data && Array.isArray(data.items)) return data.items as T[];
  if (data && Array.isArray(data.data)) return data.data as T[];
  return [];
}

function objOf<T>(data: any, key: string): T {
  return (data && typeof data === 'object' && data[key] && typeof data[key] === 'object' && !Array.isArray(data[key]) ? data[key] : data) as T;
}

const enc = encodeURIComponent;

/** Who the page is signed in as (GET /api/auth/whoami). */
export interface Principal {
  name: string;
  orgId?: string;
  scope: 'read' | 'write' | 'admin';
  owner: boolean;
  authRequired: boolean;
}

/** An API token as listed; the secret is only in the create answer. */
export interface ApiToken {
  id: string;
  name: string;
  orgId: string;
  scope: string;
  createdAt: string;
  expiresAt?: string;
  revokedAt?: string;
}

/** A worker node (docs/nodes.md): its row with its live state and capabilities. */
export interface NodeCaps {
  cpus?: number;
  cpuPct?: number;
  load1?: number;
  memTotal?: number;
  memAvailable?: number;
  diskTotal?: number;
  diskFree?: number;
  gpus?: { index: number; name: string; memTotal?: number; memUsed?: number; utilPct?: number }[];
  clis?: Record<string, { path: string; version: string }>;
  agentdVersion?: string;
  os?: string;
  arch?: string;
}
export interface WorkerNode {
  id: string;
  name: string;
  orgId: string;
  labels: Record<string, string>;
  caps: NodeCaps;
  state: 'connected' | 'unreachable' | 'offline' | 'revoked';
  connected: boolean;
  runs: number;
  lastSeenAt: string;
  createdAt: string;
  revokedAt?: string;
  unreachableSince?: string;
  /** The operator's settings (issue #77, docs/nodes.md). */
  cordoned?: boolean;
  draining?: boolean;
  drained?: boolean;
  maxRuns?: number | null;
  queued?: number;
  nodeLabels?: Record<string, string>;
  labelsSet?: boolean;
  /** The control plane holding its link (issue #77): `here` when it is the one asked. */
  plane?: { id: string; url: string | null; here: boolean } | null;
  planeId?: string | null;
}

/** A start waiting for a node with room (GET /api/nodes/queue). */
export interface QueuedStart {
  agentId: string;
  agentName?: string;
  orgId: string;
  nodeId?: string;
  reasons: string;
  queuedAt: string;
  queuedBy: string;
  claimedBy?: string;
}

/** One event of a node's history (GET /api/nodes/:id/events, docs/nodes.md). */
export interface NodeEvent {
  id: number;
  nodeId: string;
  at: string;
  kind: string;
  detail: Record<string, unknown>;
}

/** A registration token a node trades for its own key (docs/nodes.md). */
export interface RegistrationToken {
  id: string;
  orgId: string;
  labels?: Record<string, string> | null;
  maxUses: number;
  uses: number;
  expiresAt: string;
  createdAt: string;
  createdBy: string;
  state: 'active' | 'expired' | 'used' | 'revoked';
}

/** One step's state in a workflow (docs/workbench.md). */
export interface WorkflowStep {
  agentId?: string;
  status: 'pending' | 'running' | 'succeeded' | 'failed' | 'stopped' | 'skipped';
  output?: string;
  error?: string;
  costUsd?: number;
}

/** A multi-agent workflow (GET /api/workflows): a crew run by agentd. */
export interface Workflow {
  id: string;
  crewId: string;
  name: string;
  status: 'running' | 'succeeded' | 'failed' | 'stopped' | 'over_budget';
  spec: { input?: string; budgetUsd?: number; steps: { id: string; needs: string[]; prompt: string }[] };
  state: { steps: Record<string, WorkflowStep> };
  createdAt: string;
}

/** A crew (GET /api/crews) with its status derived from its agents. */
export interface Crew {
  id: string;
  name: string;
  status: 'available' | 'busy' | 'offline' | string;
  agentCount?: number;
}

export interface Latency {
  p50Ms: number | null;
  p95Ms: number | null;
  count: number;
}

/** GET /api/dashboard/stats */
export interface DashboardStats {
  totalRuns: number;
  /** runs still running, whose usage so far is in the tokens and cost */
  liveRuns?: number;
  succeeded: number;
  failed: number;
  successRate: number | null;
  totalTokens: number;
  costUsd: number;
  activeCrews: number;
  latency: { run: Latency; tool: Latency };
  recentRuns: Run[];
  range: string;
}

/** /api/projects/:id/sync: the folder a project is kept in sync with (path null: none) */
export interface ProjectSync {
  id: string;
  path: string | null;
  syncedAt: string | null;
}

/** /api/dashboard/tokens/stats: the month's usage and the org's credits (one credit: one US dollar) */
export interface TokenStats {
  orgId: string;
  unit: string;
  balance: number;
  earned: number;
  spent: number;
  pending: number;
  grants: number;
}

export interface NodeTime {
  node: string;
  agentSeconds: number;
  runs: number;
  activeRuns: number;
}

/** /api/dashboard/rentals/stats: agent time per node (and per org for the owner) */
export interface RentalStats {
  range: string;
  agentSeconds: number;
  agentHours: number;
  runs: number;
  activeRuns: number;
  nodes: NodeTime[];
  orgs: (NodeTime & { orgId: string; nodes: NodeTime[] })[];
}

export interface HealthReason {
  code: string;
  message: string;
  value: number;
  threshold: number;
  penalty: number;
}

export interface GpuDevice {
  index: number;
  name: string;
  uuid?: string;
  utilization: number | null;
  memoryUtilization: number | null;
  vramUsed: number | null;
  vramTotal: number | null;
  temperature: number | null;
  powerDraw: number | null;
  powerLimit: number | null;
  processes: { pid: number; vramUsed: number; agentId: string | null }[];
}

export interface AgentUse {
  agentId: string;
  runId: string;
  pid: number;
  cpuPercent: number | null;
  rssBytes: number;
  gpuMemoryBytes: number;
  processes: number;
  source: 'cgroup' | 'proc';
}

/** GET /api/health: the daemon, how it contains its agents' processes and,
 * once sampled, the machine, the GPUs, the score and each agent's use. */
export interface Health {
  status: string;
  version: string;
  uptimeSec: number;
  processes: {
    live: number;
    containment: { mode: 'cgroup' | 'process-group'; detail: string; memoryLimits: boolean; cpuLimits: boolean };
  };
  intervalMs?: number;
  sampledAt?: number | null;
  score?: number;
  reasons?: HealthReason[];
  thresholds?: Record<string, number>;
  cpu?: { utilization: number | null; cores: number[]; temperature: number | null; temperatureSource?: string; load: number[] | null };
  memory?: { total: number; available: number; used: number; swapTotal: number; swapUsed: number } | null;
  disk?: { total: number; free: number; used: number } | null;
  gpu?: { available: boolean; reason?: string; driverVersion?: string; cudaVersion?: string; devices?: GpuDevice[] };
  agents?: AgentUse[];
}

/** GET /api/health/history: columns over the range. */
export interface HealthHistory {
  range: string;
  rangeSec: number;
  stepSec: number;
  from: number;
  t: number[];
  series: Record<string, (number | null)[]>;
  max?: Record<string, (number | null)[]>;
}

/** A job: a program that reports progress (GET /api/jobs). */
export interface Job {
  id: string;
  name: string;
  kind: string;
  status: 'running' | 'succeeded' | 'failed' | 'stopped' | 'lost' | 'degraded';
  progress: number | null;
  stage: string | null;
  message: string | null;
  result: unknown;
  exitCode: number | null;
  createdAt: string;
  endedAt: string | null;
  stopping?: boolean;
  /** its plain output lines (the last 16 KiB): live while it runs */
  output?: string | null;
}

/** A service: a long-running helper (GET /api/services). */
export interface ConfigField {
  type: 'integer' | 'number' | 'boolean' | 'string';
  min?: number;
  max?: number;
  maxLength?: number;
  enum?: (string | number)[];
  default?: unknown;
  label?: string;
  description?: string;
  // Shown but not changed (agentd refuses a change): the seed's GPU device
  // is readOnly, its pixel format disabled.
  readOnly?: boolean;
  disabled?: boolean;
}
export interface ServiceTemplate {
  id: string;
  name: string;
  description?: string;
  schema: { fields: Record<string, ConfigField> };
}
export interface Service {
  id: string;
  name: string;
  command: string[];
  config: Record<string, unknown>;
  schema: { fields?: Record<string, ConfigField> };
  restart: 'always' | 'on-failure' | 'never';
  probe: Record<string, unknown> | null;
  enabled: boolean;
  /** the worker node it is placed on (null: this machine) */
  nodeId?: string | null;
  runtime: {
    status: string;
    pid?: number | null;
    /** wall ms the running process started (null while down) */
    startedAt?: number | null;
    restarts?: number;
    /** the last plain lines it printed (GET /api/services/:id only) */
    output?: string;
    backoffMs?: number;
    lastExit?: { code: number; signal: number; at: number } | null;
    health?: { status: string; latencyMs: number | null; error?: string; checkedAt: number | null };
    figures?: Record<string, number>;
    pendingRestart?: boolean;
    error?: string;
    /** on a worker node: the node (reachable: its link up), and its current run there */
    node?: { id: string; name?: string; state?: string; reachable: boolean };
    runId?: string | null;
  };
}

export interface Requirement {
  id: string;
  name: string;
  status: 'ok' | 'missing' | 'warning';
  value?: string;
  fix?: string;
  required: boolean;
}

/** GET|PUT /api/workspaces/:id/setup: copied into and run in each new worktree. */
export interface WorkspaceSetup {
  setupFiles: string[];
  setupCommand: string;
  setupCommandApproved: boolean;
}

// "&k=v&…" of q, each value encoded; "" for none.
function query(q: Record<string, string | number>): string {
  return Object.entries(q)
    .map(([k, v]) => `&${k}=${enc(String(v))}`)
    .join('');
}

export const api = {
  workspaces: async () => listOf<Workspace>(await request('GET', '/api/workspaces'), 'workspaces'),
  addWorkspace: async (path: string, name?: string) =>
    objOf<Workspace>(await request('POST', '/api/workspaces', name ? { path, name } : { path }), 'workspace'),
  deleteWorkspace: (id: string) => request('DELETE', `/api/workspaces/${enc(id)}`),
  refreshWorkspace: (id: string) => request('POST', `/api/workspaces/${enc(id)}/refresh`),
  worktrees: async (workspaceId?: string) =>
    listOf<Worktree>(await request('GET', '/api/worktrees' + (workspaceId ? `?workspaceId=${enc(workspaceId)}` : '')), 'worktrees'),
  patchWorktree: async (id: string, body: { sortMode?: string; name?: string }) =>
    objOf<Worktree>(await request('PATCH', `/api/worktrees/${enc(id)}`, body), 'worktree'),
  reorderWorktrees: (workspaceId: string, ids: string[]) => request('POST', '/api/worktrees/reorder', { workspaceId, ids }),
  reorderAgents: (worktreeId: string, ids: string[]) => request('POST', '/api/agents/reorder', { worktreeId, ids }),
  createWorktree: async (body: { workspaceId: string; name: string; branch: string; createBranch: boolean; base?: string }) =>
    objOf<Worktree>(await request('POST', '/api/worktrees', body), 'worktree'),
  // force: even with uncommitted or unmerged work; stop: stop its running
  // agents first (without it agentd refuses while one runs, 409 agents_running).
  deleteWorktree: (id: string, force = false, stop = false) => request('DELETE', `/api/worktrees/${enc(id)}?force=${force}&stop=${stop}`),
  // The repository's branches, read in one of its worktrees.
  branches: (id: string) => request<{ current: string | null; local: string[]; remote: string[] }>('GET', `/api/worktrees/${enc(id)}/branches`),
  workspaceSetup: (id: string) => request<WorkspaceSetup>('GET', `/api/workspaces/${enc(id)}/setup`),
  putWorkspaceSetup: (id: string, body: { setupFiles?: string[]; setupCommand?: string }) =>
    request<WorkspaceSetup>('PUT', `/api/workspaces/${enc(id)}/setup`, body),
  worktreeStatus: (id: string) => request('GET', `/api/worktrees/${enc(id)}/status`),
  diff: (id: string, path?: string) => request('GET', `/api/worktrees/${enc(id)}/diff${path ? `?path=${enc(path)}` : ''}`),
  // Review against a base: 'base' is the branch the worktree was made from.
  review: (id: string, against = 'base', path?: string) =>
    request('GET', `/api/worktrees/${enc(id)}/diff?against=${enc(against)}${path ? `&path=${enc(path)}` : ''}`),
  commits: (id: string, against = 'base') => request('GET', `/api/worktrees/${enc(id)}/commits?against=${enc(against)}`),
  commitWorktree: (id: string, message: string, all: boolean) => request('POST', `/api/worktrees/${enc(id)}/commit`, { message, all }),
  mergeWorktree: (id: string, body: { into?: string; strategy: 'merge' | 'squash' | 'rebase'; message?: string }) =>
    request('POST', `/api/worktrees/${enc(id)}/merge`, body),
  rebaseWorktree: (id: string, onto?: string) => request('POST', `/api/worktrees/${enc(id)}/rebase`, onto ? { onto } : {}),
  pushWorktree: (id: string) => request('POST', `/api/worktrees/${enc(id)}/push`, {}),
  // The worktree's pull request: opened on its remote's forge (admin), and read back with its checks.
  openPullRequest: (id: string, body: { title: string; body?: string; draft?: boolean }) => request<PullRequest>('POST', `/api/worktrees/${enc(id)}/pr`, body),
  pullRequest: (id: string) => request<PullRequest>('GET', `/api/worktrees/${enc(id)}/pr`),
  prLoop: (id: string) => request<PrLoop>('GET', `/api/worktrees/${enc(id)}/pr/loop`),
  setPrLoop: (id: string, body: { agentId: string; maxTurns?: number; checks?: boolean; reviews?: boolean }) =>
    request<PrLoop>('PUT', `/api/worktrees/${enc(id)}/pr/loop`, body),
  stopPrLoop: (id: string) => request<PrLoop>('DELETE', `/api/worktrees/${enc(id)}/pr/loop`),
  agents: async (includeDeleted = false) => listOf<Agent>(await request('GET', '/api/agents' + (includeDeleted ? '?includeDeleted=true' : '')), 'agents'),
  agent: async (id: string) => objOf<Agent>(await request('GET', `/api/agents/${enc(id)}`), 'agent'),
  createAgent: async (body: Record<string, unknown>) => objOf<Agent>(await request('POST', '/api/agents', body), 'agent'),
  patchAgent: async (id: string, body: Record<string, unknown>) => objOf<Agent>(await request('PATCH', `/api/agents/${enc(id)}`, body), 'agent'),
  deleteAgent: (id: string, archive: boolean) => request('DELETE', `/api/agents/${enc(id)}?archive=${archive}`),
  restoreAgent: async (id: string) => objOf<Agent>(await request('POST', `/api/agents/${enc(id)}/restore`), 'agent'),
  forkAgent: async (id: string, name?: string, worktreeId?: string) =>
    objOf<Agent>(await request('POST', `/api/agents/${enc(id)}/fork`, { ...(name ? { name } : {}), ...(worktreeId ? { worktreeId } : {}) }), 'agent'),
  start: async (id: string, initialPrompt?: string, force = false) =>
    objOf<Agent>(await request('POST', `/api/agents/${enc(id)}/start`, { ...(initialPrompt ? { initialPrompt } : {}), ...(force ? { force } : {}) }), 'agent'),
  stop: async (id: string, force = false) => objOf<Agent>(await request('POST', `/api/agents/${enc(id)}/stop${force ? '?force=true' : ''}`), 'agent'),
  pause: (id: string) => request('POST', `/api/agents/${enc(id)}/pause`),
  resume: (id: string) => request('POST', `/api/agents/${enc(id)}/resume`),
  send: (id: string, content: string, force = false) => request('POST', `/api/agents/${enc(id)}/message`, force ? { content, force } : { content }),
  messages: async (id: string, limit: number, before?: string | null) => {
    const d = await request('GET', `/api/agents/${enc(id)}/messages?limit=${limit}${before ? `&before=${enc(before)}` : ''}`);
    return {
      messages: listOf<Message>(d, 'messages'),
      hasMore: !!(d && d.hasMore),
      nextCursor: (d && d.nextCursor) || null,
    };
  },
  runs: async (id: string) => listOf<Run>(await request('GET', `/api/agents/${enc(id)}/runs`), 'runs'),
  runTrace: (id: string) => request<Trace>('GET', `/api/runs/${enc(id)}/trace`),
  approvals: async (id: string, pending = true) =>
    listOf<Approval>(await request('GET', `/api/agents/${enc(id)}/approvals${pending ? '?pending=true' : ''}`), 'approvals'),
  decide: (id: string, decision: 'allow' | 'deny' | 'allow_always') => request<Approval>('POST', `/api/approvals/${enc(id)}`, { decision }),
  settings: () => request('GET', '/api/settings'),
  prices: () => request<{ builtin: Record<string, unknown>; modelPrices: Record<string, unknown> }>('GET', '/api/prices'),
  health: () => request<Health>('GET', '/api/health'),
  crews: async () => listOf<Crew>(await request('GET', '/api/crews'), 'crews'),
  createCrew: (name: string) => request<Crew>('POST', '/api/crews', { name }),
  crewStart: (id: string) => request('POST', `/api/crews/${enc(id)}/start`, {}),
  crewStop: (id: string) => request('POST', `/api/crews/${enc(id)}/stop`),
  workflows: async () => listOf<Workflow>(await request('GET', '/api/workflows'), 'workflows'),
  workflowStop: (id: string) => request<Workflow>('POST', `/api/workflows/${enc(id)}/stop`, {}),
  dashboardStats: (range: string) => request<DashboardStats>('GET', `/api/dashboard/stats?range=${enc(range)}`),
  tokenStats: () => request<TokenStats>('GET', '/api/dashboard/tokens/stats'),
  grantCredits: (orgId: string, amount: number, note?: string) => request('POST', `/api/orgs/${enc(orgId)}/credits`, note ? { amount, note } : { amount }),
  rentalStats: (range: string) => request<RentalStats>('GET', `/api/dashboard/rentals/stats?range=${enc(range)}`),
  healthHistory: (range: string) => request<HealthHistory>('GET', `/api/health/history?range=${enc(range)}`),
  services: async () => listOf<Service>(await request('GET', '/api/services'), 'services'),
  patchService: (id: string, body: Record<string, unknown>) => request<Service>('PATCH', `/api/services/${enc(id)}`, body),
  restartService: (id: string) => request<Service>('POST', `/api/services/${enc(id)}/restart`),
  testService: (id: string) => request<{ ok: boolean; latencyMs: number; error?: string }>('POST', `/api/services/${enc(id)}/test`),
  jobs: async (limit = 20) => listOf<Job>(await request('GET', `/api/jobs?limit=${limit}`), 'jobs'),
  stopJob: (id: string) => request('POST', `/api/jobs/${enc(id)}/stop`),
  startJob: (body: { name?: string; command?: string[]; cwd?: string; kind?: 'job' | 'discovery'; environment?: string }) =>
    request<Job>('POST', '/api/jobs', body),
  service: (id: string) => request<Service>('GET', `/api/services/${enc(id)}`),
  createService: (body: Record<string, unknown>) => request<Service>('POST', '/api/services', body),
  serviceTemplates: async () => (await request<{ templates: ServiceTemplate[] }>('GET', '/api/services/templates')).templates,
  deleteService: (id: string) => request('DELETE', `/api/services/${enc(id)}`),
  requirements: (refresh = false) =>
    request<{ ok: boolean; checkedAt: number; items: Requirement[] }>('GET', `/api/requirements${refresh ? '?refresh=true' : ''}`),
  whoami: () => request<Principal>('GET', '/api/auth/whoami'),
  login: (token: string) => request<{ principal: Principal }>('POST', '/api/auth/login', { token }),
  loginCode: (code: string) => request<{ principal: Principal }>('POST', '/api/auth/login', { code }),
  loginPassword: (username: string, password: string) => request<{ principal: Principal }>('POST', '/api/auth/login', { username, password }),
  logout: () => request('POST', '/api/auth/logout'),
  tokens: async () => listOf<ApiToken>(await request('GET', '/api/tokens'), 'tokens'),
  createToken: (body: { name: string; scope: string; expiresInSeconds?: number }) => request<ApiToken & { token: string }>('POST', '/api/tokens', body),
  revokeToken: (id: string) => request('DELETE', `/api/tokens/${enc(id)}`),
  nodes: async () => listOf<WorkerNode>(await request('GET', '/api/nodes'), 'nodes'),
  routines: async () => listOf<RoutineRow>(await request('GET', '/api/routines'), 'routines'),
  createRoutine: (body: Record<string, unknown>) => request<RoutineRow>('POST', '/api/routines', body),
  patchRoutine: (id: string, body: Record<string, unknown>) => request<RoutineRow>('PATCH', `/api/routines/${enc(id)}`, body),
  deleteRoutine: (id: string) => request('DELETE', `/api/routines/${enc(id)}`),
  routineRuns: async (id: string) => listOf<RoutineRunRow>(await request('GET', `/api/routines/${enc(id)}/runs`), 'runs'),
  runRoutine: (id: string) => request<RoutineRunRow>('POST', `/api/routines/${enc(id)}/run`, {}),
  // The CLIs' own sessions on this machine (docs/sessions.md).
  externalSessions: async () => {
    const r = await request<{ sessions: ExternalSession[]; nodes?: SessionNode[] }>('GET', '/api/sessions/external');
    return { sessions: r.sessions ?? [], nodes: r.nodes ?? [] };
  },
  externalSession: (tool: string, id: string, node?: string) =>
    request<{ session: ExternalSession; messages: ExternalMessage[] }>(
      'GET',
      `/api/sessions/external/${enc(tool)}/${enc(id)}` + (node ? `?node=${enc(node)}` : ''),
    ),
  adoptSession: (tool: string, sessionId: string, node?: string, worktreeId?: string) =>
    request<Agent>('POST', '/api/sessions/external/adopt', { tool, sessionId, ...(node ? { node } : {}), ...(worktreeId ? { worktreeId } : {}) }),
  revokeNode: (id: string) => request('DELETE', `/api/nodes/${enc(id)}`),
  nodeAction: (id: string, what: 'drain' | 'cordon' | 'uncordon') => request('POST', `/api/nodes/${enc(id)}/${what}`),
  setNode: (id: string, body: { maxRuns?: number | null; labels?: Record<string, string> | null }) => request('PATCH', `/api/nodes/${enc(id)}`, body),
  nodeQueue: async () => listOf<QueuedStart>(await request('GET', '/api/nodes/queue'), 'queue'),
  registrationTokens: async () => listOf<RegistrationToken>(await request('GET', '/api/nodes/registration-tokens'), 'registrationTokens'),
  /** The token's text is in the answer this once. */
  makeRegistrationToken: (body: { ttlSeconds: number; maxUses?: number }) =>
    request<{ token: string; registrationToken: RegistrationToken }>('POST', '/api/nodes/registration-tokens', body),
  revokeRegistrationToken: (id: string) => request('DELETE', `/api/nodes/registration-tokens/${enc(id)}`),
  nodeEvents: async (id: string, limit = 20) => listOf<NodeEvent>(await request('GET', `/api/nodes/${enc(id)}/events?limit=${limit}`), 'events'),
  /** A stop of an agent that is not running cancels its queued start. */
  cancelQueued: (agentId: string) => request('POST', `/api/agents/${enc(agentId)}/stop`),
  approveSetup: (worktreeId: string) => request('POST', `/api/worktrees/${enc(worktreeId)}/setup`, { approve: true }),
  patchSettings: (body: Record<string, unknown>) => request('PATCH', '/api/settings', body),
  usageToday: () => request('GET', '/api/usage/today'),
  usageLimits: () => request<UsageLimits>('GET', '/api/usage/limits'),
  usageHistory: () => request('GET', '/api/usage/history'),
  usageAgents: (period: string) => request<UsageByAgent>('GET', `/api/usage/agents?period=${enc(period)}`),
  usage: (period: string, from: string, to: string) => request('GET', `/api/usage?period=${enc(period)}&from=${enc(from)}&to=${enc(to)}`),
  allRuns: (limit = 100) => request('GET', `/api/runs?limit=${limit}`),
  configSchemas: async () => listOf<any>(await request('GET', '/api/config-schemas'), 'schemas'),
  configs: async () => listOf<any>(await request('GET', '/api/configs'), 'configs'),
  createConfig: (body: { name: string; schemaId: string; preset?: string; values?: Record<string, unknown> }) => request('POST', '/api/configs', body),
  patchConfig: (id: string, body: { name?: string; values?: Record<string, unknown> }) => request('PATCH', `/api/configs/${enc(id)}`, body),
  resetConfig: (id: string) => request('POST', `/api/configs/${enc(id)}/reset`),
  presetConfig: (id: string, preset: string) => request('POST', `/api/configs/${enc(id)}/preset`, { preset }),
  deleteConfig: (id: string) => request('DELETE', `/api/configs/${enc(id)}`),
  startWithConfig: (agentId: string, configId: string, configFlags: boolean) => request('POST', `/api/agents/${enc(agentId)}/start`, { configId, configFlags }),
  runTable: (query: string) => request('GET', `/api/training/runs?${query}`),
  runSeries: (id: string) => request('GET', `/api/runs/${enc(id)}/metrics`),
  seriesBuckets: (id: string, name: string, buckets: number, q: Record<string, string | number> = {}) =>
    request('GET', `/api/runs/${enc(id)}/metrics/${enc(name)}?buckets=${buckets}${query(q)}`),
  // a run's display name, colour, tags, notes and group (issue #35); null puts one back to its default
  patchRun: (id: string, body: Record<string, unknown>) => request('PATCH', `/api/runs/${enc(id)}`, body),
  run: (id: string) => request<RunRow>('GET', `/api/runs/${enc(id)}`),
  // a run's messages oldest first (its log), and the health history over its span
  runMessages: (id: string, limit: number, after: string | null) =>
    request('GET', `/api/runs/${enc(id)}/messages?limit=${limit}${after ? `&after=${enc(after)}` : ''}`),
  // sweeps and alert firings (issue #35, the server's side)
  sweeps: () => request('GET', '/api/sweeps'),
  stopSweep: (id: string) => request('POST', `/api/sweeps/${enc(id)}/stop`, {}),
  runAlerts: (id: string) => request('GET', `/api/runs/${enc(id)}/alerts`),
  runHealth: (id: string, buckets: number) => request('GET', `/api/health/history?runId=${enc(id)}&buckets=${buckets}`),
  // the training workspace's saved panel layout ('' : every workspace's runs)
  layout: (workspaceId: string) => request('GET', `/api/training/layout${workspaceId ? `?workspaceId=${enc(workspaceId)}` : ''}`),
  saveLayout: (workspaceId: string, body: unknown) => request('PUT', `/api/training/layout${workspaceId ? `?workspaceId=${enc(workspaceId)}` : ''}`, body),
  resetLayout: (workspaceId: string) => request('DELETE', `/api/training/layout${workspaceId ? `?workspaceId=${enc(workspaceId)}` : ''}`),
  runDists: (id: string) => request('GET', `/api/runs/${enc(id)}/distributions`),
  // kind 'histograms' or 'counts'; q: view=latest|range|time, step, from, to, buckets, bins
  dist: (id: string, kind: 'histograms' | 'counts', name: string, q: Record<string, string | number> = {}) =>
    request(
      'GET',
      `/api/runs/${enc(id)}/${kind}/${enc(name)}?` +
        Object.entries(q)
          .map(([k, v]) => `${k}=${enc(String(v))}`)
          .join('&'),
    ),
  compareSeries: (runs: string[], name: string, q: Record<string, string | number>) =>
    request('GET', `/api/metrics/compare?runs=${runs.map(enc).join(',')}&name=${enc(name)}${query(q)}`),
  // chats, definitions, projects, credentials
  chats: () => request<{ chats: Chat[] }>('GET', '/api/chats'),
  chat: (id: string) => request<Chat>('GET', `/api/chats/${enc(id)}`),
  createChat: (body: Record<string, unknown>) => request<Chat>('POST', '/api/chats', body),
  chatMessagesBefore: (id: string, before: string, limit = 50) =>
    request<{ messages: ChatMessage[]; hasMore: boolean }>('GET', `/api/chats/${enc(id)}/messages?before=${enc(before)}&limit=${limit}`),
  sendChat: (id: string, content: string) => request<any>('POST', `/api/chats/${enc(id)}/messages`, { content }),
  stopChat: (id: string) => request<ChatMessage>('POST', `/api/chats/${enc(id)}/stop`),
  definitions: (query = '') => request<{ definitions: Definition[]; categories: string[] }>('GET', `/api/definitions${query ? `?${query}` : ''}`),
  definition: (name: string) => request<Definition>('GET', `/api/definitions/${enc(name)}`),
  selectDefinition: (prompt: string) => request<Suggestion>('POST', '/api/definitions/select', { prompt }),
  projects: () => request<{ projects: Project[] }>('GET', '/api/projects'),
  project: (id: string) => request<Project>('GET', `/api/projects/${enc(id)}`),
  createProject: (body: { name?: string; chatId?: string }) => request<Project>('POST', '/api/projects', body),
  deleteProject: (id: string) => request('DELETE', `/api/projects/${enc(id)}`),
  saveMessageFiles: (projectId: string, chatId: string, messageId: string) =>
    request<{ files: { path: string }[] }>('POST', `/api/projects/${enc(projectId)}/files/from-message`, { chatId, messageId }),
  projectSync: (id: string) => request<ProjectSync>('GET', `/api/projects/${enc(id)}/sync`),
  setProjectSync: (id: string, path: string) => request<ProjectSync>('PUT', `/api/projects/${enc(id)}/sync`, { path }),
  stopProjectSync: (id: string) => request<ProjectSync>('DELETE', `/api/projects/${enc(id)}/sync`),
  commitProject: (id: string, body: Record<string, unknown>) =>
    request<{ shortId: string; branch?: string | null; files: string[] }>('POST', `/api/projects/${enc(id)}/commit`, body),
  credentials: () => request<{ credentials: Credential[] }>('GET', '/api/credentials'),
  putCredential: (provider: string, body: Record<string, unknown>) => request<Credential>('PUT', `/api/credentials/${enc(provider)}`, body),
  validateCredential: (provider: string) => request<{ valid: boolean; reason?: string }>('POST', `/api/credentials/${enc(provider)}/validate`, {}),
};
