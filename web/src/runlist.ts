// The live runs list of the training workspace (issue #35), the pure
// parts: the query its filters make (GET /api/training/runs: runs with
// metrics unless asked, by tag, status, agent, config value), and how a
// run's own event changes the rows in hand without a reload (a run that
// ends turns finished, a renamed one is renamed), or says the list must be
// read again (a run it does not hold started, or reported its first
// points, and may now belong in it).
import type { Envelope } from './types';

export interface RunTableRow {
  id: string;
  agentId: string;
  agentName?: string;
  name: string;
  color: string;
  tags: string[];
  notes?: string | null;
  group?: string | null;
  status: string;
  startedAt?: string | null;
  endedAt?: string | null;
  durationMs?: number | null;
  config?: { id?: string; name?: string; values?: Record<string, unknown> } | null;
  lastMetricAt?: string | null;
  metrics?: Record<string, { final: number; best: number; min: number; max: number; count: number; lastStep: number } | null>;
}

export interface RunFilter {
  workspaceId: string;
  tag: string;
  status: string;
  agentId: string;
  /** config comparisons as the runs table takes them: "learningRate>0.001" */
  config: string;
  /** false: only runs with points or distributions */
  all: boolean;
}

export const emptyFilter = (): RunFilter => ({ workspaceId: '', tag: '', status: '', agentId: '', config: '', all: false });

export const LIST_LIMIT = 200;

export function listQuery(f: RunFilter, limit = LIST_LIMIT, offset = 0, metrics = ''): string {
  const q = new URLSearchParams();
  if (!f.all) q.set('hasMetrics', 'true');
  if (f.workspaceId) q.set('workspaceId', f.workspaceId);
  if (f.tag) q.set('tag', f.tag);
  if (f.status) q.set('status', f.status);
  if (f.agentId) q.set('agentId', f.agentId);
  if (f.config.trim()) q.set('filter', f.config.trim());
  if (metrics) q.set('metrics', metrics);
  q.set('sort', 'startedAt');
  q.set('order', 'desc');
  q.set('limit', String(limit));
  if (offset) q.set('offset', String(offset));
  return q.toString();
}

export type RunChange = { rows: RunTableRow[]; reload: boolean };

const IDENTITY = ['name', 'color', 'tags', 'notes', 'group'] as const;

// What a run event does to the rows: run_ended and run_update patch the row
// they name; an event about a run not in the list asks for a reload when
// that run may now match (any run_started or run_ended; a metrics_update of
// a run the list has not tried lately: tried(id) says it has).
export function applyRunEvent(rows: RunTableRow[], ev: Envelope, tried: (id: string) => boolean): RunChange {
  const p = ev.payload && typeof ev.payload === 'object' ? ev.payload : {};
  const run = p.run && typeof p.run === 'object' ? p.run : ev.type === 'run_update' ? p : null;
  const id: string = (run && typeof run.id === 'string' && run.id) || (typeof p.runId === 'string' ? p.runId : '');
  if (!id) return { rows, reload: false };
  const at = rows.findIndex((r) => r.id === id);
  if (at < 0) {
    if (ev.type === 'metrics_update') return { rows, reload: !tried(id) };
    if (ev.type === 'run_update') return { rows, reload: false };
    return { rows, reload: true };
  }
  if (ev.type === 'metrics_update') {
    const cur = rows[at];
    if (cur.lastMetricAt && ev.ts && cur.lastMetricAt >= ev.ts) return { rows, reload: false };
    const next = rows.slice();
    next[at] = { ...cur, lastMetricAt: ev.ts || cur.lastMetricAt };
    return { rows: next, reload: false };
  }
  if (!run) return { rows, reload: false };
  const cur = rows[at];
  const patch: Partial<RunTableRow> = {};
  if (typeof run.status === 'string') patch.status = run.status;
  if (run.endedAt !== undefined) patch.endedAt = run.endedAt;
  if (run.durationMs !== undefined) patch.durationMs = run.durationMs;
  for (const k of IDENTITY) if (run[k] !== undefined) (patch as any)[k] = run[k];
  const next = rows.slice();
  next[at] = { ...cur, ...patch };
  return { rows: next, reload: false };
}

// The runs picked to draw by default: the most recent ones with metrics.
export function defaultPicks(rows: RunTableRow[], n = 5): string[] {
  return rows
    .filter((r) => r.lastMetricAt)
    .slice(0, n)
    .map((r) => r.id);
}

/** "a, b ,c" → ["a","b","c"] (empty and repeated tags dropped). */
export function parseTags(s: string): string[] {
  const out: string[] = [];
  for (const t of s.split(',').map((x) => x.trim())) if (t && !out.includes(t)) out.push(t);
  return out;
}
