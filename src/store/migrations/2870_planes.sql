-- Several control planes on one database (issue #39): each plane's row,
-- renewed every ~2 s by its writer (heartbeat_at, its own clock in ms), and
-- the lease of each run a plane runs. A run's lease is renewed with the
-- heartbeat; one whose expires_at has passed may be taken by another plane
-- with one conditional UPDATE, so exactly one plane wins it
-- (src/store/planes.c, docs/operations.md "Several control planes").
CREATE TABLE planes (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL DEFAULT '',
    started_at INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE run_leases (
    run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    plane_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX run_leases_plane ON run_leases(plane_id);
