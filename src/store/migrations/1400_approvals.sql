-- Tool calls an agent asked permission for (issue #14): one row per
-- permission prompt of a run, decided by a user (allow / deny / allow
-- always) or ended with its run. The request id is the CLI's, quoted back
-- in the answer on the run's stdin.
CREATE TABLE approvals (
    id          TEXT PRIMARY KEY,
    agent_id    TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    org_id      TEXT NOT NULL DEFAULT 'org_default',
    request_id  TEXT NOT NULL,
    tool_name   TEXT NOT NULL,
    tool_use_id TEXT,
    input       TEXT NOT NULL DEFAULT '{}',
    description TEXT,
    -- pending, allowed, denied, cancelled (the CLI withdrew it), expired (the run ended)
    status      TEXT NOT NULL DEFAULT 'pending',
    decision    TEXT, -- allow, deny, allow_always
    decided_by  TEXT,
    created_at  INTEGER NOT NULL,
    decided_at  INTEGER
);
CREATE INDEX approvals_agent ON approvals (agent_id, created_at);
CREATE INDEX approvals_pending ON approvals (status) WHERE status = 'pending';
