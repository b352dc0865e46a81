-- The health history on disk (issue #35): what the sampler measured, a
-- chunk row per minute or so (src/health/disk.c packs the records; the
-- store keeps the blobs), so a run page can show the machine's and the
-- run's own use on the run's time axis after a restart. Bounded by age and
-- bytes (--health-retention-seconds, --health-retention-bytes).
CREATE TABLE health_chunks (
    t0 INTEGER NOT NULL PRIMARY KEY, -- first record's time (ms)
    t1 INTEGER NOT NULL,             -- last record's time (ms)
    n INTEGER NOT NULL,
    data BLOB NOT NULL
);

CREATE TABLE run_health_chunks (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    t0 INTEGER NOT NULL,
    t1 INTEGER NOT NULL,
    n INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (run_id, t0)
) WITHOUT ROWID;
CREATE INDEX run_health_chunks_by_time ON run_health_chunks(t0);
