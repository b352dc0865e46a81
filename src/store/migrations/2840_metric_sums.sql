-- The chunk tier of training metrics (issue #35, bench row T4 at 16 runs x
-- 10M points): one row per 32 chunk rows of metric_chunks (seq / 32 of the
-- same run and name) holding, per chunk, its total with the step and time
-- of its min and its max (a one-run rollup, src/tsdb/roll.c's encoding; the
-- row's layout is src/store/seriesroll.c's), and the row's summary, so a
-- chart whose buckets are at least two chunks wide reads these rows and no
-- run of 128 points. In their own table: a read of metric_rolls pages would
-- copy every run whatever it decodes. Written with every chunk's rollup
-- (seriesroll.c). Series stored before this migration are marked
-- summed = 0 and get their rows from their rollup rows by a bounded job
-- when the store opens; until then they are read from their rollup rows, as
-- before. summed = 2: a rollup did not decode, so the chunk tier is never
-- used for that series.
CREATE TABLE metric_sums (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    blk INTEGER NOT NULL, -- chunk rows seq blk * 32 to blk * 32 + 31
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
CREATE UNIQUE INDEX metric_sums_by_series ON metric_sums(run_id, name, blk);

ALTER TABLE metric_series ADD COLUMN summed INTEGER NOT NULL DEFAULT 1;
UPDATE metric_series SET summed = 0;
CREATE INDEX metric_series_unsummed ON metric_series(run_id, name) WHERE summed = 0;
