-- SPDX-License-Identifier: MIT
-- 3030: short-lived registration tokens a worker node trades for its own
-- key (issue #77, docs/nodes.md "Registration tokens"). Only the SHA-256
-- of the secret is kept (hash, hex); the row is found by its id, the part
-- of the token before the dot, and the hash compared in constant time.
-- A use is one conditional UPDATE (uses < max_uses, not expired, not
-- revoked), so of the planes on one database one takes the last use.
CREATE TABLE node_regs (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    hash TEXT NOT NULL,
    labels TEXT,
    max_uses INTEGER NOT NULL DEFAULT 1,
    uses INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    revoked_at INTEGER,
    last_used_at INTEGER
);
CREATE INDEX node_regs_by_org ON node_regs(org_id, created_at);
