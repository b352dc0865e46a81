-- SPDX-License-Identifier: MIT
-- 0400: accounts (issue 12). Organisations own resources; API tokens are
-- kept as SHA-256 hashes only; dashboard sessions likewise; every
-- state-changing request leaves an audit row. Workspaces, worktrees,
-- agents and crews carry their organisation (a worktree's and an agent's
-- is their workspace's, copied when they are created: an organisation
-- never changes, and copying keeps every org filter one indexed column).
CREATE TABLE orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
INSERT INTO orgs (id, name, created_at) VALUES ('org_default', 'default', 0);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    scope TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    secret_hash TEXT NOT NULL,
    rate_per_minute INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    token_id TEXT, -- NULL: the owner's
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    token_name TEXT NOT NULL,
    org_id TEXT NOT NULL, -- '' for the owner
    method TEXT NOT NULL,
    route TEXT NOT NULL,
    target_id TEXT,
    status INTEGER NOT NULL,
    remote TEXT NOT NULL
);
CREATE INDEX audit_by_ts ON audit_log(ts);

ALTER TABLE workspaces ADD COLUMN org_id TEXT NOT NULL DEFAULT 'org_default';
ALTER TABLE worktrees ADD COLUMN org_id TEXT NOT NULL DEFAULT 'org_default';
ALTER TABLE agents ADD COLUMN org_id TEXT NOT NULL DEFAULT 'org_default';
ALTER TABLE crews ADD COLUMN org_id TEXT NOT NULL DEFAULT 'org_default';
CREATE INDEX workspaces_by_org ON workspaces(org_id);
-- A workspace's setup command runs in new worktrees only once approved
-- (shown to an admin first); changing it needs approval again.
ALTER TABLE workspaces ADD COLUMN setup_command_approved INTEGER NOT NULL DEFAULT 0;
CREATE INDEX agents_by_org ON agents(org_id);
CREATE INDEX crews_by_org ON crews(org_id);

INSERT INTO settings (key, value, type, description, updated_at) VALUES
    ('allow_root_auto', 'false', 'boolean',
     'let Claude Code run in auto mode as root (agentd sets IS_SANDBOX=1 for it)', 0),
    ('audit_retention_days', '90', 'number', 'days audit rows are kept (0: forever)', 0);
