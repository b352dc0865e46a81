-- SPDX-License-Identifier: MIT
-- 2910: user accounts (issue 74). A person signs in with a username and a
-- password (an argon2id hash, never the password) and gets, per org, a
-- role that is one of the token scopes. Each role is backed by an API token
-- of its own (api_tokens, its secret known to nobody): a session made by
-- a password is that token's, so revoking it (a role changed or removed,
-- the account disabled or removed) ends the sessions as a token's do.
-- org_id is the account's home: the org whose admins manage it.
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    pw_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    disabled_at INTEGER
);
CREATE INDEX accounts_by_org ON accounts(org_id);
CREATE TABLE account_roles (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    role TEXT NOT NULL CHECK (role IN ('read', 'write', 'admin')),
    token_id TEXT NOT NULL,
    PRIMARY KEY (account_id, org_id)
);
