-- Training metrics (issue #16): every point of every series of a run,
-- kept until the run is deleted (independent of event retention). Points
-- are packed up to 512 to a row by src/tsdb (Gorilla-style deltas and
-- XORs); each chunk row carries its summary (count, step and time range,
-- min, max, sum, last) so a bucket that covers a whole chunk is answered
-- without decoding it. metric_series is the per-series summary the list
-- reads.
CREATE TABLE metric_series (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    org_id TEXT NOT NULL DEFAULT 'org_default',
    count INTEGER NOT NULL,
    chunks INTEGER NOT NULL,
    first_step INTEGER NOT NULL,
    last_step INTEGER NOT NULL,
    first_t INTEGER NOT NULL,
    last_t INTEGER NOT NULL,
    first_value REAL NOT NULL,
    last_value REAL NOT NULL,
    min_value REAL NOT NULL,
    max_value REAL NOT NULL,
    PRIMARY KEY (run_id, name)
) WITHOUT ROWID;

CREATE TABLE metric_chunks (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    seq INTEGER NOT NULL,
    n INTEGER NOT NULL,
    step_min INTEGER NOT NULL,
    step_max INTEGER NOT NULL,
    t_min INTEGER NOT NULL,
    t_max INTEGER NOT NULL,
    v_min REAL NOT NULL,
    v_max REAL NOT NULL,
    v_sum REAL NOT NULL,
    v_last REAL NOT NULL,
    data BLOB NOT NULL
);
CREATE UNIQUE INDEX metric_chunks_by_series ON metric_chunks(run_id, name, seq);
