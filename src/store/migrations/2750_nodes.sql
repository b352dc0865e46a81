-- SPDX-License-Identifier: MIT
-- 2750: worker nodes (issue #34, docs/nodes.md). A node is (org, name),
-- unique per organisation, joined with one API token of scope 'node' (the
-- token is its key: another token cannot take the name, the token cannot
-- take another). caps is the last capabilities JSON the node sent, labels
-- its labels JSON. A run placed on a node names it (runs.node_id, added by
-- 2620 with its index; NULL: the control plane's own).
CREATE TABLE api_tokens_2750 (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    scope TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin', 'node')),
    secret_hash TEXT NOT NULL,
    rate_per_minute INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
);
INSERT INTO api_tokens_2750 (id, name, org_id, scope, secret_hash, rate_per_minute, created_at,
                             expires_at, revoked_at)
    SELECT id, name, org_id, scope, secret_hash, rate_per_minute, created_at, expires_at, revoked_at
    FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_2750 RENAME TO api_tokens;

CREATE TABLE nodes (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    token_id TEXT NOT NULL UNIQUE,
    labels TEXT NOT NULL DEFAULT '{}',
    caps TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    revoked_at INTEGER,
    UNIQUE (org_id, name)
);
