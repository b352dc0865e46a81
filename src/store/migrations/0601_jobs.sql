-- Jobs (src/svc): runs of a program that reports progress lines and ends
-- with a result. The row is written when a job starts and when it ends;
-- progress in between lives in memory and in job_progress events.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL DEFAULT 'org_default',
    name TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'job',
    command TEXT NOT NULL,              -- JSON argv
    cwd TEXT,
    status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'stopped', 'lost')),
    progress REAL,                      -- 0..1, NULL until reported
    stage TEXT,
    message TEXT,
    result TEXT,                        -- JSON, from a {"type":"result"} line
    output TEXT,                        -- the last lines that were not JSON
    exit_code INTEGER,
    signal INTEGER,
    created_at INTEGER NOT NULL,
    ended_at INTEGER
);
CREATE INDEX jobs_by_org ON jobs(org_id, created_at);
