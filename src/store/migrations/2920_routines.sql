-- Issue #75: routines, saved agents that run themselves. A routine is a
-- saved agent body and a trigger (spec, JSON written whole); next_fire_at is
-- its next scheduled fire (wall ms; 0: none, a webhook or a paused one),
-- which every control plane reads and claims with one conditional UPDATE
-- (WHERE next_fire_at = the value it read), so a fire runs on one plane.
-- secret is the webhook's HMAC key (never answered but at create and
-- rotate). routine_runs: one row a fire, with why it did not run (status
-- skipped and reason), the agent it made, its cost; payload is what a
-- webhook delivered (kept until the run starts, for a queued one).
CREATE TABLE routines (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    secret TEXT NOT NULL DEFAULT '',
    next_fire_at INTEGER NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX routines_org ON routines(org_id, created_at);
CREATE INDEX routines_next ON routines(next_fire_at) WHERE next_fire_at > 0;
CREATE TABLE routine_runs (
    id TEXT PRIMARY KEY,
    routine_id TEXT NOT NULL REFERENCES routines(id) ON DELETE CASCADE,
    org_id TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL,
    fire_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    agent_id TEXT NOT NULL DEFAULT '',
    worktree_id TEXT NOT NULL DEFAULT '',
    plane_id TEXT NOT NULL DEFAULT '',
    cost_usd REAL NOT NULL DEFAULT 0,
    payload TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX routine_runs_routine ON routine_runs(routine_id, created_at);
CREATE INDEX routine_runs_open ON routine_runs(status)
    WHERE status IN ('queued', 'starting', 'running');
