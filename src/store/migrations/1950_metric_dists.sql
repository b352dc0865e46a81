-- Distributions runs report per step (issue #16): `histogram` (bucket
-- edges and counts, or raw values agentd binned) and `counts` (category ->
-- count, e.g. actions taken). One row per run, kind, name and step (a step
-- reported again replaces its row); kept until the run is deleted. data is
-- {"edges":[n+1],"counts":[n]} or {"counts":{category:count}}, bounded
-- (256 buckets or categories) by the code that writes it; total is the sum
-- of the counts, lo/hi a histogram's outer edges (for over-time reads).
CREATE TABLE metric_dists (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('histogram', 'counts')),
    name TEXT NOT NULL,
    step INTEGER NOT NULL,
    t INTEGER NOT NULL,
    org_id TEXT NOT NULL DEFAULT 'org_default',
    total REAL NOT NULL,
    lo REAL,
    hi REAL,
    data TEXT NOT NULL
);
CREATE UNIQUE INDEX metric_dists_by_step ON metric_dists(run_id, kind, name, step);
