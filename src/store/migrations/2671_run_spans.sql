-- Issue #36: a run's trace kept beside its transcript: agentd's own spans
-- (turns, tool calls, approval waits) and those the run's program sent to
-- agentd's OTLP receiver (/v1/traces, authenticated per run). Bounded per
-- run by the writer (src/store/spans.c); gone with the run.
CREATE TABLE run_spans (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    span_id TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    parent_span_id TEXT,
    name TEXT NOT NULL,
    kind INTEGER NOT NULL DEFAULT 1,
    start_us INTEGER NOT NULL,
    end_us INTEGER NOT NULL,
    status INTEGER NOT NULL DEFAULT 0,
    status_message TEXT,
    service TEXT,
    source TEXT NOT NULL CHECK (source IN ('agentd', 'run')),
    attrs TEXT,
    PRIMARY KEY (run_id, span_id)
) WITHOUT ROWID;
