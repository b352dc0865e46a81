-- Runs that agentd did not start (issue #35): imported from a TensorBoard
-- log folder, an MLflow run folder or a CSV, or logged over the MLflow
-- REST surface. source says which ('tfevents', 'mlruns', 'csv', 'mlflow');
-- a running run with a source has no process, so start-up leaves it
-- running. An import keeps where it has read to (state: per file offsets)
-- so a restarted daemon carries on tailing.
ALTER TABLE runs ADD COLUMN source TEXT;

CREATE TABLE imports (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('tfevents', 'mlruns', 'csv')),
    path TEXT NOT NULL,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    follow INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'stopped')),
    error TEXT,
    state TEXT NOT NULL DEFAULT '{}',
    points INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX imports_org ON imports(org_id, created_at);
CREATE INDEX imports_running ON imports(status) WHERE status = 'running';
