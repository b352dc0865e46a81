-- Where a held run's output is read again (issue #38, F1 re-attach): the
-- largest spool offsets the run's stored messages carry (1700_hold.sql),
-- kept in one row a run, written in the same transaction as the messages
-- (src/store/runs.c, messages.c), so a daemon taking 1,000 runs up reads
-- 1,000 rows instead of every message of every run (MAX over
-- messages_by_run, which grows with the run). Only runs still running
-- need theirs: the rows of ended runs are never read again.
CREATE TABLE run_hold (
    run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    hold_out INTEGER NOT NULL DEFAULT 0,
    hold_err INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO run_hold (run_id, hold_out, hold_err)
SELECT m.run_id, coalesce(MAX(m.hold_out), 0), coalesce(MAX(m.hold_err), 0)
FROM runs r JOIN messages m ON m.run_id = r.id
WHERE r.status = 'running' AND (m.hold_out IS NOT NULL OR m.hold_err IS NOT NULL)
GROUP BY m.run_id;
