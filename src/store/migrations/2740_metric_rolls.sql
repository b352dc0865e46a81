-- The rollup tier of training metrics (issue #35, bench row T4): one row
-- per six chunk rows of metric_chunks (seq / 6 of the same run and name)
-- holding their summary and, per chunk, its points in runs of 128, each
-- with its count, step and time ranges, min and max and the points where
-- they are, sum and last (src/tsdb/roll.c's encoding; the row's layout is
-- src/store/seriesroll.c's), so a wide read is answered from these rows
-- without decoding a chunk. Written with every chunk write (series.c).
-- Series stored before this migration are marked rolled = 0 and built by a
-- bounded job when the store opens (seriesroll.c); until then they are read
-- from their chunks, as before. rolled = 2: a chunk did not decode, so the
-- series is always read from its chunks. step_lo, step_hi, t_lo, t_hi: the
-- series' x ranges (NULL until known for an older series), so a read of the
-- whole series finds its range without a scan of its chunks.
CREATE TABLE metric_rolls (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    blk INTEGER NOT NULL, -- chunk rows seq blk * 6 to blk * 6 + 5
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
CREATE UNIQUE INDEX metric_rolls_by_series ON metric_rolls(run_id, name, blk);

ALTER TABLE metric_series ADD COLUMN rolled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE metric_series ADD COLUMN step_lo INTEGER;
ALTER TABLE metric_series ADD COLUMN step_hi INTEGER;
ALTER TABLE metric_series ADD COLUMN t_lo INTEGER;
ALTER TABLE metric_series ADD COLUMN t_hi INTEGER;
UPDATE metric_series SET rolled = 0;
CREATE INDEX metric_series_unrolled ON metric_series(run_id, name) WHERE rolled = 0;
