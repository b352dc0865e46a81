// A run's trace laid out as a waterfall (GET /api/runs/:id/trace): the run
// is the root, each span under its parent in start order, a span whose
// parent is not there hangs under the run. Times are microseconds; bars are
// fractions of the run's span (or of all the spans, if they overrun it).

export interface TraceSpan {
  spanId: string;
  traceId: string;
  parentSpanId?: string | null;
  name: string;
  kind?: number;
  startUs: number;
  endUs: number;
  status?: number;
  statusMessage?: string | null;
  service?: string | null;
  source: 'agentd' | 'run';
  attrs?: Record<string, unknown>;
}

export interface Trace {
  runId: string;
  traceId: string;
  spanId: string;
  run: { startedAt?: string; endedAt?: string | null; status?: string; name?: string };
  spans: TraceSpan[];
}

export interface TraceRow {
  id: string;
  name: string;
  depth: number;
  /** 0–1 of the waterfall's width */
  left: number;
  width: number;
  durationMs: number;
  source: 'agentd' | 'run' | 'root';
  service: string;
  error: boolean;
  title: string;
}

const MAX_DEPTH = 32;

/** The rows of trace, root first; `nowMs` ends a run that is still going. */
export function layoutTrace(trace: Trace, nowMs: number): TraceRow[] {
  const runStart = Date.parse(trace.run.startedAt ?? '') * 1000;
  const runEnd = trace.run.endedAt ? Date.parse(trace.run.endedAt) * 1000 : nowMs * 1000;
  const spans = trace.spans.filter((s) => s.spanId !== trace.spanId);
  let t0 = Number.isFinite(runStart) ? runStart : Math.min(...spans.map((s) => s.startUs), nowMs * 1000);
  let t1 = Number.isFinite(runEnd) ? runEnd : nowMs * 1000;
  for (const s of spans) {
    t0 = Math.min(t0, s.startUs);
    t1 = Math.max(t1, s.endUs);
  }
  const span = Math.max(t1 - t0, 1);
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, TraceSpan[]>();
  for (const s of spans) {
    const parent = s.parentSpanId && ids.has(s.parentSpanId) ? s.parentSpanId : trace.spanId;
    const list = children.get(parent) ?? [];
    list.push(s);
    children.set(parent, list);
  }
  for (const list of children.values()) list.sort((a, b) => a.startUs - b.startUs || a.name.localeCompare(b.name));
  const rows: TraceRow[] = [
    {
      id: trace.spanId,
      name: trace.run.name ? `invoke_agent ${trace.run.name}` : 'invoke_agent',
      depth: 0,
      left: (Math.min(runStart || t0, t1) - t0) / span,
      width: Math.max((Math.min(runEnd || t1, t1) - (runStart || t0)) / span, 0),
      durationMs: ((runEnd || t1) - (runStart || t0)) / 1000,
      source: 'root',
      service: 'agentd',
      error: trace.run.status === 'failed' || trace.run.status === 'lost',
      title: `run ${trace.runId} (${trace.run.status ?? ''})`,
    },
  ];
  const seen = new Set<string>();
  const walk = (parent: string, depth: number) => {
    for (const s of children.get(parent) ?? []) {
      if (seen.has(s.spanId)) continue; // a cycle a sender made up
      seen.add(s.spanId);
      const attrs = Object.entries(s.attrs ?? {})
        .slice(0, 12)
        .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
      rows.push({
        id: s.spanId,
        name: s.name,
        depth,
        left: (s.startUs - t0) / span,
        width: Math.max(s.endUs - s.startUs, 0) / span,
        durationMs: (s.endUs - s.startUs) / 1000,
        source: s.source,
        service: s.service ?? (s.source === 'agentd' ? 'agentd' : ''),
        error: s.status === 2,
        title: [s.name, s.statusMessage ?? '', ...attrs].filter(Boolean).join('\n'),
      });
      if (depth < MAX_DEPTH) walk(s.spanId, depth + 1);
    }
  };
  walk(trace.spanId, 1);
  return rows;
}
