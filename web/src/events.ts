// The live model and the pure reducer that folds bus events into it.
// `reduce` is the only place an event changes state: it drops anything at
// or below the last seq it has applied (replays overlap, one event may
// match several topics), and returns side effects (toasts, reloads) for
// the caller to run, so it stays testable without a browser.
import { sameData } from './samedata';
import type { Agent, Approval, Envelope, Message, ToolCall } from './types';

export interface LiveChunk {
  runId: string | null;
  stream: string;
  text: string;
  open: boolean; // still receiving deltas (isComplete not seen yet)
  seq: number; // seq of the first delta
  ts: string; // time of the first delta (orders it among stored messages)
}

export interface Transcript {
  messages: Message[]; // oldest first, unique by id
  live: LiveChunk[]; // output not (yet) stored as a message
  hasMore: boolean;
  cursor: string | null;
  loaded: boolean;
  // Live chunks were dropped at the bound before they were known stored:
  // the messages and the live chunks no longer meet, and what lies between
  // them is read back from the stored messages (withNewest).
  dropped?: boolean;
}

export interface Model {
  lastSeq: number;
  agents: Record<string, Agent>;
  transcripts: Record<string, Transcript>;
  tools: Record<string, ToolCall>;
  // Tool calls the user denied (approval_decided, by toolUseId): their
  // tool_end is the user's own answer, not a failure to toast.
  denied: Record<string, true>;
}

export type Effect =
  | { kind: 'toast'; level: 'info' | 'success' | 'warn' | 'error'; title: string; body?: string; agentId?: string; runId?: string; key?: string }
  /** the toast of that key goes: what it asked for is done (an approval decided) */
  | { kind: 'dismissToast'; key: string; prefix?: boolean }
  | { kind: 'notify'; title: string; body: string; agentId?: string }
  | { kind: 'reloadTree' }
  | { kind: 'reloadUsage' }
  | { kind: 'reloadRuns'; agentId: string }
  | { kind: 'reloadAgent'; agentId: string }
  | { kind: 'chime'; agentId: string }
  | { kind: 'reloadAll' };

export const MAX_LIVE_CHUNKS = 2000;
// An agent whose transcript no page has loaded keeps only its latest
// output chunks and messages (the grid's tile shows 8 lines): 100 agents
// streaming into a dashboard would otherwise each hold 2,000 chunks,
// copied on every line, and every message. Its page fetches the stored
// messages when it opens.
export const MAX_LIVE_UNLOADED = 64;
export const MAX_TOOLS = 500;

export function emptyModel(): Model {
  return { lastSeq: 0, agents: {}, transcripts: {}, tools: {}, denied: {} };
}

export function emptyTranscript(): Transcript {
  return { messages: [], live: [], hasMore: false, cursor: null, loaded: false };
}

function cmpMsg(a: Message, b: Message): number {
  const ta = a.createdAt || '';
  const tb = b.createdAt || '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

// The transcripts no page shows any more (an agent's page left) back to
// what an unloaded one keeps, but `keep`'s: a loaded one gathers its
// agent's lines and messages up to MAX_LIVE_CHUNKS.
export function releaseTranscripts(m: Model, keep: string | null): Model {
  let out: Record<string, Transcript> | null = null;
  for (const [id, t] of Object.entries(m.transcripts)) {
    if (!t.loaded || id === keep) continue;
    out = out || { ...m.transcripts };
    out[id] = { ...emptyTranscript(), messages: t.messages.slice(-MAX_LIVE_UNLOADED), live: t.live.slice(-MAX_LIVE_UNLOADED) };
  }
  return out ? { ...m, transcripts: out } : m;
}

// The grid closed: the messages read for its tiles go (the unloaded
// transcripts' messages serve only tiles; their live tails stay, bounded).
export function releaseTiles(m: Model): Model {
  let out: Record<string, Transcript> | null = null;
  for (const [id, t] of Object.entries(m.transcripts)) {
    if (t.loaded || t.messages.length === 0) continue;
    out = out || { ...m.transcripts };
    out[id] = { ...t, messages: [] };
  }
  return out ? { ...m, transcripts: out } : m;
}

// Merges messages (any order, possibly overlapping) into a sorted, unique list.
export function mergeMessages(list: Message[], incoming: Message[]): Message[] {
  if (incoming.length === 0) return list;
  const byId = new Map<string, Message>();
  for (const m of list) byId.set(m.id, m);
  const added: Message[] = [];
  let updated = false;
  for (const m of incoming) {
    if (!m || typeof m.id !== 'string') continue;
    const prev = byId.get(m.id);
    if (prev === m) continue;
    if (prev) {
      byId.set(m.id, { ...prev, ...m });
      updated = true;
    } else {
      byId.set(m.id, m);
      added.push(m);
    }
  }
  if (!updated && added.length === 0) return list;
  added.sort(cmpMsg);
  if (!updated && (list.length === 0 || cmpMsg(list[list.length - 1], added[0]) < 0)) return list.concat(added);
  return [...byId.values()].sort(cmpMsg);
}

// The transcript with the newest page of stored messages read again (its
// page opened, or followed: store.ts, followTranscript): the page and the messages heard of
// since it was read; paging older goes on from the page's cursor. Output
// lines the page holds leave the live chunks, and so do closed lines older
// than the page when older pages exist: they are stored (the runner stores a
// run's output in order), and scrolling up reads them.
export function withNewest(t: Transcript, page: { messages: Message[]; hasMore: boolean; nextCursor: string | null }): Transcript {
  const oldest = page.messages.reduce<Message | null>((o, m) => (o === null || cmpMsg(m, o) < 0 ? m : o), null);
  const newer = oldest && page.hasMore ? t.messages.filter((m) => cmpMsg(m, oldest) > 0) : t.messages;
  const messages = mergeMessages(newer, page.messages);
  let live = reconcileLive(messages, t.live);
  if (oldest && page.hasMore && oldest.createdAt) {
    const before = oldest.createdAt;
    const kept = live.filter((c) => c.open || c.runId === null || !LINE_STREAM_ROLE[c.stream] || !c.ts || c.ts >= before);
    if (kept.length !== live.length) live = kept;
  }
  return { ...t, messages, live, hasMore: page.hasMore, cursor: page.nextCursor, loaded: true, dropped: false };
}

// Inserts one message; O(1) for the common case of a newer message.
export function insertMessage(list: Message[], m: Message): Message[] {
  const n = list.length;
  if (n === 0 || cmpMsg(list[n - 1], m) < 0) {
    // Newer than everything: still make sure the id is not already there.
    for (let i = n - 1; i >= 0 && i >= n - 64; i--) if (list[i].id === m.id) return mergeMessages(list, [m]);
    if (n > 64 && list.some((x) => x.id === m.id)) return mergeMessages(list, [m]);
    const out = list.slice();
    out.push(m);
    return out;
  }
  return mergeMessages(list, [m]);
}

function withTranscript(model: Model, agentId: string, f: (t: Transcript) => Transcript): Model {
  const t = model.transcripts[agentId] || emptyTranscript();
  const nt = f(t);
  if (nt === t) return model;
  return { ...model, transcripts: { ...model.transcripts, [agentId]: nt } };
}

function withAgent(model: Model, id: string, fields: Partial<Agent>): Model {
  const a = model.agents[id];
  // A command agent's agent_update carries a patch of its state: merge it.
  if (a && fields.state && typeof fields.state === 'object' && a.state && typeof a.state === 'object')
    fields = { ...fields, state: { ...a.state, ...fields.state } };
  if (!a) {
    if (typeof fields.worktreeId !== 'string') return model;
    return { ...model, agents: { ...model.agents, [id]: { name: id, status: 'idle', ...fields, id } as Agent } };
  }
  return { ...model, agents: { ...model.agents, [id]: { ...a, ...fields, id } } };
}

function agentName(model: Model, id: string | undefined): string {
  return (id && model.agents[id]?.name) || id || 'agent';
}

// A tool event in agentd's shape or in the seed's own, which a program may
// print as is (tool_id, tool, exit_code, duration in seconds, agent_id):
// both read alike (issue #74: the seed's read "tool failed in 2.0 s / agent").
function toolEvent(p: any) {
  const num = (...vs: unknown[]) => vs.find((v): v is number => typeof v === 'number');
  const secs = num(p.duration);
  return {
    toolId: str(p.toolId ?? p.tool_id),
    name: str(p.name ?? p.tool ?? p.tool_name),
    exitCode: num(p.exitCode, p.exit_code),
    durationMs: num(p.durationMs, p.duration_ms) ?? (secs !== undefined ? secs * 1000 : undefined),
    agentId: (p.agentId ?? p.agent_id) as string | undefined,
    runId: (p.runId ?? p.run_id) as string | undefined,
  };
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : v == null ? '' : String(v);
}

export interface ReduceResult {
  model: Model;
  effects: Effect[];
  applied: boolean; // false for a duplicate or malformed event
}

export function reduce(model: Model, ev: Envelope): ReduceResult {
  const effects: Effect[] = [];
  if (!ev || typeof ev.seq !== 'number' || !Number.isFinite(ev.seq) || typeof ev.type !== 'string') return { model, effects, applied: false };
  if (ev.seq <= model.lastSeq) return { model, effects, applied: false };
  let m: Model = { ...model, lastSeq: ev.seq };
  const p = ev.payload && typeof ev.payload === 'object' ? ev.payload : {};

  switch (ev.type) {
    case 'agent_update': {
      const id = str(p.id || p.agentId);
      if (!id) break;
      const { agentId: _drop, ...all } = p;
      // A program's own agent_update (issue #16) has its fields at the top
      // level for the seed's client; ours takes only its state patch.
      const fields = p.source === 'program' ? { state: p.state } : all;
      const before = m.agents[id];
      m = withAgent(m, id, fields);
      if (!before && !m.agents[id]) effects.push({ kind: 'reloadTree' });
      if (before && fields.status && fields.status !== before.status) statusEffects(m, id, fields.status, fields.reason, effects);
      if (fields.deletedAt !== undefined || fields.worktreeId !== undefined) effects.push({ kind: 'reloadTree' });
      break;
    }
    case 'agent_status': {
      const id = str(p.agentId);
      if (!id) break;
      const before = m.agents[id];
      // reason null (not left out) so the stored state's reason of an
      // earlier wait is not read again (attention.ts, waitReason).
      const fields: Partial<Agent> = { status: p.status, reason: p.reason ?? null };
      // suspended: until when (issue #75); any other status: no longer
      fields.resumeAt = typeof p.resumeAt === 'string' ? p.resumeAt : undefined;
      if (p.statusReason && typeof p.statusReason === 'object') fields.statusReason = p.statusReason;
      if (p.status === 'waiting' && (!before || before.status !== 'waiting' || before.reason !== fields.reason)) fields.waitingSince = ev.ts || undefined;
      m = withAgent(m, id, fields);
      if (!before) effects.push({ kind: 'reloadTree' });
      else if (p.status !== before.status) statusEffects(m, id, p.status, p.reason, effects);
      if (p.status !== 'running' && p.status !== 'paused') {
        // The run is over or the turn ended: streaming chunks are complete.
        m = withTranscript(m, id, (t) => (t.live.some((c) => c.open) ? { ...t, live: t.live.map((c) => (c.open ? { ...c, open: false } : c)) } : t));
        effects.push({ kind: 'reloadRuns', agentId: id });
        // a turn's end stores the run's usage so far: the agent's total moved
        if (p.status === 'waiting' || p.status === 'error') effects.push({ kind: 'reloadAgent', agentId: id });
        else if (p.status === 'suspended') effects.push({ kind: 'reloadAgent', agentId: id });
      }
      // a goal's progress is in its state (issue #75), whatever the status
      if (String(p.statusReason?.code || '').startsWith('goal_') && p.status !== 'waiting' && p.status !== 'error')
        effects.push({ kind: 'reloadAgent', agentId: id });
      break;
    }
    case 'agent_summary': {
      // its one-line summary (issue #76): what it is doing, what it needs
      const id = str(p.agentId);
      const sm = p.summary;
      if (!id || !m.agents[id] || !sm || typeof sm !== 'object' || typeof sm.text !== 'string') break;
      m = withAgent(m, id, { summary: { text: sm.text, at: str(sm.at), turn: str(sm.turn) } });
      break;
    }
    case 'approval_requested':
    case 'approval_decided':
    case 'approval_updated': {
      const a = p.approval && typeof p.approval === 'object' ? p.approval : p;
      const id = str(a.agentId);
      if (id && m.agents[id]) m = withAgent(m, id, { approvalsRev: ev.seq });
      if (ev.type === 'approval_decided' && isDenied(a) && typeof a.toolUseId === 'string' && a.toolUseId) {
        const denied: Record<string, true> = { ...(m.denied || {}), [str(a.toolUseId)]: true };
        const keys = Object.keys(denied);
        if (keys.length > MAX_TOOLS) delete denied[keys[0]];
        m = { ...m, denied };
      }
      // Its toast lasts while it waits: decided (here, in another tab, by
      // the CLI or the API), expired or closed, the toast goes (issue #74).
      // (approval_updated without an id: every pending one of the run ended)
      const key = id && a.id ? `approval:${id}:${str(a.id)}` : undefined;
      if (id && ev.type !== 'approval_requested' && str(a.status || 'decided') !== 'pending')
        effects.push({ kind: 'dismissToast', key: key || `approval:${id}:`, prefix: !key });
      if (id && ev.type === 'approval_requested') {
        const name = m.agents[id]?.name || 'An agent';
        effects.push({ kind: 'toast', level: 'warn', title: `${name} needs approval`, body: str(a.toolName), agentId: id, key });
        effects.push({ kind: 'notify', title: `${name} needs approval`, body: `${str(a.toolName)} is waiting for Allow or Deny.`, agentId: id });
      }
      break;
    }
    case 'agent_context': {
      const id = str(p.agentId);
      if (id && typeof p.level === 'number') m = withAgent(m, id, { contextLevel: p.level });
      break;
    }
    case 'agent_exit': {
      const id = str(p.agentId);
      if (id && m.agents[id]?.stalled) m = withAgent(m, id, { stalled: null });
      if (id) effects.push({ kind: 'reloadRuns', agentId: id });
      break;
    }
    case 'run_stalled':
    case 'run_resumed': {
      // A full disk (issue #41): the run waits, its agent blocked on its writes.
      const id = str(p.agentId);
      if (!id || !m.agents[id]) break;
      const stalled = ev.type === 'run_stalled' ? str(p.reason) || 'stalled' : null;
      m = withAgent(m, id, { stalled });
      if (stalled) {
        const name = m.agents[id].name || 'An agent';
        effects.push({
          kind: 'toast',
          level: 'warn',
          title: `${name} stalled: ${stalled}`,
          body: 'Its output waits until there is room; nothing is lost.',
          agentId: id,
        });
      }
      break;
    }
    case 'agent_output': {
      const id = str(p.agentId);
      if (!id) break;
      const content = str(p.content);
      const runId = p.runId ? str(p.runId) : null;
      const stream = str(p.stream || 'stdout');
      const complete = p.isComplete !== false;
      m = withTranscript(m, id, (t) => {
        const live = t.live.slice();
        const lastChunk = live[live.length - 1];
        if (lastChunk && lastChunk.open && lastChunk.runId === runId && lastChunk.stream === stream) {
          live[live.length - 1] = { ...lastChunk, text: lastChunk.text + content, open: !complete };
        } else {
          live.push({ runId, stream, text: content, open: !complete, seq: ev.seq, ts: ev.ts || '' });
        }
        const max = t.loaded ? MAX_LIVE_CHUNKS : MAX_LIVE_UNLOADED;
        let dropped = t.dropped;
        if (live.length > max) {
          live.splice(0, live.length - max);
          if (t.loaded) dropped = true;
        }
        // The page may have fetched the stored lines before this event
        // came (a replay after the fetch): they show once.
        return { ...t, live: reconcileLive(t.messages, live, runId, stream), dropped };
      });
      break;
    }
    case 'message_created':
    case 'message_updated':
    case 'message_update': {
      const msg = (p.message || p) as Message;
      if (!msg || typeof msg.id !== 'string') break;
      const id = str(msg.agentId || p.agentId);
      if (!id) break;
      const full: Message = { ...msg, agentId: id, createdAt: msg.createdAt || ev.ts || '' };
      m = withTranscript(m, id, (t) => {
        let messages = insertMessage(t.messages, full);
        // A transcript no page has loaded keeps only its latest messages:
        // the rest are stored, and its page fetches them when it opens
        // (100 agents streaming would grow the page's memory without end).
        if (!t.loaded && messages.length > MAX_LIVE_UNLOADED) messages = messages.slice(messages.length - MAX_LIVE_UNLOADED);
        let live = t.live;
        // A stored assistant message replaces the token deltas streamed for
        // its run (the open chunk); output lines it holds are dropped from
        // the live chunks by reconcileLive.
        if (full.role === 'assistant' && live.length) {
          const run = full.runId ?? null;
          const keep = live.filter((c) => !(c.runId === run && (c.open || c.stream === 'assistant' || c.stream === 'text')));
          if (keep.length !== live.length) live = keep;
        }
        if (live.length && LINE_ROLE_STREAM[full.role]) live = reconcileLive(messages, live, full.runId ?? null, LINE_ROLE_STREAM[full.role]);
        return messages === t.messages && live === t.live ? t : { ...t, messages, live };
      });
      break;
    }
    case 'tool_start': {
      const te = toolEvent(p);
      const toolId = te.toolId;
      if (!toolId) break;
      const call: ToolCall = {
        toolId,
        name: te.name || 'tool',
        params: p.params,
        agentId: te.agentId,
        runId: te.runId,
        status: 'running',
        startSeq: ev.seq,
      };
      const tools = { ...m.tools, [toolId]: call };
      const keys = Object.keys(tools);
      if (keys.length > MAX_TOOLS) {
        keys.sort((a, b) => tools[a].startSeq - tools[b].startSeq);
        for (const k of keys.slice(0, keys.length - MAX_TOOLS)) delete tools[k];
      }
      m = { ...m, tools };
      break;
    }
    case 'tool_progress': {
      const toolId = toolEvent(p).toolId;
      const t = m.tools[toolId];
      if (t) m = { ...m, tools: { ...m.tools, [toolId]: { ...t, progress: str(p.message) } } };
      break;
    }
    case 'tool_end': {
      const te = toolEvent(p);
      const toolId = te.toolId;
      const t = m.tools[toolId];
      const status = str(p.status) || 'done';
      if (t) m = { ...m, tools: { ...m.tools, [toolId]: { ...t, status, durationMs: te.durationMs, exitCode: te.exitCode } } };
      // denied: by approval_decided, or said by tool_end itself (the CLI hears
      // the answer before the decision is stored, so tool_end may come first)
      const denied = !!m.denied?.[toolId] || p.denied === true;
      if (denied && m.tools[toolId]) m = { ...m, tools: { ...m.tools, [toolId]: { ...m.tools[toolId], status: 'denied' } } };
      // A call the user denied ends as an error for the CLI; for the user it
      // is their own answer: no red toast.
      const failed = !denied && (status === 'error' || status === 'failed' || (typeof te.exitCode === 'number' && te.exitCode !== 0));
      const dur = typeof te.durationMs === 'number' ? ` in ${formatDuration(te.durationMs)}` : '';
      // Toasts are for what needs the user: a failed tool, not every call.
      if (failed) {
        const agentId = t?.agentId || te.agentId;
        effects.push({
          kind: 'toast',
          level: 'error',
          title: `${t?.name || te.name || 'A tool'} failed${dur}`,
          body: agentName(m, agentId),
          agentId,
        });
      }
      break;
    }
    case 'usage_update':
      effects.push({ kind: 'reloadUsage' });
      break;
    case 'alert_fired': {
      // an alert rule fired on a run (issue #35): a toast naming the rule,
      // the run and what was done; a desktop notification when it asks
      const agentId = str(p.agentId) || undefined;
      const what = p.action && p.action !== 'none' ? ` · ${str(p.action)}: ${str(p.actionResult) || 'asked'}` : '';
      const title = `${str(p.ruleName) || 'An alert'} fired`;
      const body = `${str(p.message) || str(p.kind)}${what}`;
      effects.push({ kind: 'toast', level: p.action === 'stop' ? 'error' : 'warn', title, body, agentId, runId: str(p.runId) || undefined });
      if (p.desktop !== false) effects.push({ kind: 'notify', title, body, agentId });
      break;
    }
    default:
      if (/^(workspace|worktree)/.test(ev.type)) effects.push({ kind: 'reloadTree' });
      else if (/^run/.test(ev.type)) {
        // run_started / run_ended carry {run}; others the agentId itself
        const agentId = str(p.agentId ?? (p.run && p.run.agentId));
        if (agentId) effects.push({ kind: 'reloadRuns', agentId });
        // run_ended also carries the agent's new total cost
        const u = p.agentUsage;
        if (agentId && m.agents[agentId] && u && typeof u === 'object' && typeof u.costUsd === 'number')
          m = withAgent(m, agentId, { costUsd: u.costUsd, totalTokens: typeof u.totalTokens === 'number' ? u.totalTokens : m.agents[agentId].totalTokens });
      }
      break;
  }
  return { model: m, effects, applied: true };
}

function isDenied(a: Pick<Approval, 'decision' | 'status'>): boolean {
  return a.decision === 'deny' || a.status === 'denied';
}

// Whether a tool call shown in the transcript is the one a pending approval
// waits on: same run and tool, and the same input when both have one (a
// stored call does not carry the CLI's tool use id).
export function awaitsApproval(call: Message, pending: readonly Approval[]): boolean {
  for (const a of pending) {
    if (a.status !== 'pending' || a.toolName !== call.toolName) continue;
    if (call.runId && a.runId && call.runId !== a.runId) continue;
    if (call.toolInput != null && a.input != null && !sameJson(call.toolInput, a.input)) continue;
    return true;
  }
  return false;
}

function sameJson(x: unknown, y: unknown): boolean {
  const parse = (v: unknown) => {
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v);
    } catch {
      return v;
    }
  };
  return sameData(parse(x), parse(y));
}

// An agent list read from the server can be a moment behind events already
// applied: a program's agent_update (its state patch) is published before
// its write commits, so a list read meanwhile lacks it, and nothing comes
// after to put it back. Those patches, applied lately, are applied again on
// top of such a list, oldest first. Only those: other agent events carry
// whole rows (a key left out means null), and applying one again over a
// newer list would bring back what the list has dropped.
export function isStatePatch(ev: Envelope): boolean {
  return ev.type === 'agent_update' && !!ev.payload && typeof ev.payload === 'object' && ev.payload.source === 'program';
}

// An agent read over REST (an action's answer, a reload) is what the
// daemon held at some moment while the request was out; the stream brings
// every change of status, in order. So when the model's agent changed while
// the request was out (was: the model's agent when it was sent, null when
// it had none), the model's status stands: a change the answer shows and
// the model lacks is still on its way, while one the model has may be newer
// than the answer (a forced stop's exit heard before the stop's 202). The
// answer's other fields are taken either way.
const STREAM_FIELDS = ['status', 'reason', 'statusReason', 'waitingSince', 'stalled'] as const;

export function takeAgentAnswer(cur: Agent | undefined, was: Agent | null | undefined, a: Agent): Agent {
  if (!cur) return a;
  if (was === undefined || cur === was) return { ...cur, ...a };
  const kept: Partial<Agent> = {};
  for (const k of STREAM_FIELDS) if (k in cur) (kept as any)[k] = cur[k];
  return { ...cur, ...a, ...kept };
}

// A list of agents fetched while the model went on changing: the list is
// the truth for what it has, but an agent the model gained or changed after
// the request left (before: the agents then; the model's entries are
// replaced, never mutated, so identity says it) is newer than the list and
// stays, also when the list has it: a status that came as an event while
// the list was on its way must not be put back (an ACP agent's "waiting"
// was, under load, and its page showed it running). What the list saw
// and the model not yet comes as an event after it. One that is in
// neither the list nor changed since was removed.
export function mergeAgentList(before: Record<string, Agent>, now: Record<string, Agent>, list: Agent[]): Record<string, Agent> {
  const map: Record<string, Agent> = {};
  for (const a of list) map[a.id] = a;
  for (const id of Object.keys(now)) {
    if (before[id] !== now[id]) map[id] = now[id];
  }
  return map;
}

export function reapplyStatePatches(m: Model, events: Envelope[]): Model {
  for (const ev of events) {
    if (!isStatePatch(ev) || typeof ev.seq !== 'number') continue;
    if (!m.agents[str(ev.payload.id)]) continue; // one the list no longer has stays gone
    const r = reduce({ ...m, lastSeq: ev.seq - 1 }, ev);
    m = { ...r.model, lastSeq: m.lastSeq };
  }
  return m;
}

// A command's output reaches the page twice: live, as agent_output lines
// (stdout, stderr), and stored, as messages the runner writes in batches
// (stdout as 'assistant', stderr as 'system') that the page fetches or
// hears of in message_created. Neither carries an offset and their batches
// do not line up, so the two are one sequence by their lines: per run and
// stream, each live line is matched in order against the stored lines
// (greedily, each stored line used once, never going back), and a matched
// line is dropped from the live chunks. What is left is output not stored
// yet. Whatever order the fetch, the replay and the events come in, a
// line shows once. `runId`/`stream` limit the work to one run's stream.
const LINE_STREAM_ROLE: Record<string, string> = { stdout: 'assistant', stderr: 'system' };
const LINE_ROLE_STREAM: Record<string, string> = { assistant: 'stdout', system: 'stderr' };

export function reconcileLive(messages: Message[], live: LiveChunk[], runId?: string | null, stream?: string): LiveChunk[] {
  if (messages.length === 0 || live.length === 0) return live;
  const groups = new Map<string, number[]>();
  for (let i = 0; i < live.length; i++) {
    const c = live[i];
    if (c.open || c.runId === null || !LINE_STREAM_ROLE[c.stream]) continue;
    if (runId !== undefined && (c.runId !== runId || c.stream !== stream)) continue;
    const key = c.runId + '\n' + c.stream;
    const g = groups.get(key);
    if (g) g.push(i);
    else groups.set(key, [i]);
  }
  if (groups.size === 0) return live;
  let out: (LiveChunk | null)[] | null = null;
  for (const idx of groups.values()) {
    const first = live[idx[0]];
    const { at, n } = storedLines(messages, first.runId as string, LINE_STREAM_ROLE[first.stream]);
    if (n === 0) continue;
    let pos = 0; // the next stored line a live line may match
    for (const i of idx) {
      const c = live[i];
      const lines = c.text.split('\n');
      const kept: string[] = [];
      for (const line of lines) {
        const k = firstAtOrAfter(at.get(line), pos);
        if (k < 0) kept.push(line);
        else pos = k + 1;
      }
      if (kept.length === lines.length) continue;
      out = out || live.slice();
      out[i] = kept.length ? { ...c, text: kept.join('\n') } : null;
    }
  }
  return out ? (out.filter((c) => c !== null) as LiveChunk[]) : live;
}

// Where each stored line of a run's role is, in order, per message list: a
// list is replaced, never changed, so this is worked out once per list and
// run, not once per output line (each line used to split every message).
interface StoredLines {
  at: Map<string, number[]>;
  n: number;
}
const storedIndex = new WeakMap<Message[], Map<string, StoredLines>>();

function storedLines(messages: Message[], runId: string, role: string): StoredLines {
  let byRun = storedIndex.get(messages);
  if (!byRun) {
    byRun = new Map();
    storedIndex.set(messages, byRun);
  }
  const key = runId + '\n' + role;
  let s = byRun.get(key);
  if (s) return s;
  const at = new Map<string, number[]>();
  let n = 0;
  for (const m of messages) {
    if ((m.runId ?? null) !== runId || m.role !== role || m.toolName) continue;
    for (const line of (m.content || '').split('\n')) {
      const l = at.get(line);
      if (l) l.push(n);
      else at.set(line, [n]);
      n++;
    }
  }
  s = { at, n };
  byRun.set(key, s);
  return s;
}

// The least element of the sorted list that is >= from, or -1.
function firstAtOrAfter(list: number[] | undefined, from: number): number {
  if (!list) return -1;
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid] < from) lo = mid + 1;
    else hi = mid;
  }
  return lo < list.length ? list[lo] : -1;
}

// Called only on a change of status: the chime (when the user turned it
// on) sounds once as an agent starts waiting, never again while it waits.
function statusEffects(m: Model, id: string, status: string, reason: unknown, effects: Effect[]) {
  const name = agentName(m, id);
  if (status === 'waiting') effects.push({ kind: 'chime', agentId: id });
  if (status === 'waiting' && reason === 'approval') {
    // approval_requested says it, with the tool
  } else if (status === 'waiting') {
    effects.push({ kind: 'toast', level: 'warn', title: `${name} is waiting for input`, agentId: id });
    // A desktop notification only when the agent needs the user (a
    // question); a turn done or a failure is a toast, not an interruption.
    if (reason === 'question') effects.push({ kind: 'notify', title: `${name} asks you`, body: 'The agent waits for your answer.', agentId: id });
  } else if (status === 'error') {
    const why = str(reason);
    effects.push({ kind: 'toast', level: 'error', title: `${name} failed`, body: why || undefined, agentId: id });
  }
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min}m ${Math.round(s - min * 60)}s`;
  return `${Math.floor(min / 60)}h ${min % 60}m`;
}
