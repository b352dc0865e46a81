-- SPDX-License-Identifier: MIT
-- 3000: accounts across control planes (issue 77). Several planes on one
-- PostgreSQL database each keep tokens and sessions in memory; what one
-- changes, the others read here within a second (src/auth/planes.c):
-- auth_changes says what changed (a token made or revoked: read its row
-- again; a session ended: forget it; a plane's owner token set: read
-- auth_owners again), kept an hour. auth_owners holds each plane's owner
-- token as its SHA-256 hash, so the owner token of any live plane is the
-- owner on every plane. login_codes holds one-time login codes (hashes)
-- so a code made through one plane signs in through another, once.
CREATE TABLE auth_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('token', 'session_end', 'owner')),
    key TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX auth_changes_by_at ON auth_changes(at);
CREATE TABLE auth_owners (
    plane_id TEXT PRIMARY KEY,
    owner_hash TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE login_codes (
    hash TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
