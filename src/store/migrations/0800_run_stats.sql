-- Runs know their organisation and crew (copied from the agent when the run
-- row is made), so the runs list filters by index; and run ends keep daily
-- aggregates, so dashboard statistics read a few rows per day instead of
-- scanning runs (issue #19). Latencies are counted in decimal buckets:
-- bucket = 10 * digits + leading digit of the milliseconds (1234 ms -> 41,
-- the bucket of 1000-1999 ms), which SQL and C compute alike.
ALTER TABLE runs ADD COLUMN org_id TEXT NOT NULL DEFAULT 'org_default';
ALTER TABLE runs ADD COLUMN crew_id TEXT;
UPDATE runs SET org_id = COALESCE((SELECT a.org_id FROM agents a WHERE a.id = runs.agent_id), 'org_default'),
                crew_id = (SELECT a.crew_id FROM agents a WHERE a.id = runs.agent_id);
CREATE INDEX runs_by_org ON runs(org_id, started_at);
CREATE INDEX runs_by_crew ON runs(crew_id, started_at);
CREATE INDEX runs_by_org_status ON runs(org_id, status, started_at);
-- The owner sees every org: newest first across all runs, by status too.
CREATE INDEX runs_by_start ON runs(started_at);
CREATE INDEX runs_by_status ON runs(status, started_at);

CREATE TABLE run_stats (
    org_id TEXT NOT NULL,
    day INTEGER NOT NULL, -- days since 1970-01-01 UTC, of the run's end
    runs INTEGER NOT NULL DEFAULT 0,
    succeeded INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    stopped INTEGER NOT NULL DEFAULT 0,
    lost INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, day)
) WITHOUT ROWID;

CREATE TABLE latency_hist (
    org_id TEXT NOT NULL,
    day INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('run', 'tool')),
    bucket INTEGER NOT NULL,
    count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, day, kind, bucket)
) WITHOUT ROWID;

-- A new run takes its agent's org and crew.
CREATE TRIGGER runs_org AFTER INSERT ON runs BEGIN
    UPDATE runs SET org_id = COALESCE((SELECT org_id FROM agents WHERE id = NEW.agent_id), 'org_default'),
                    crew_id = (SELECT crew_id FROM agents WHERE id = NEW.agent_id)
    WHERE id = NEW.id;
END;

-- A run that ends (or is stored ended) is counted once, on its end day.
CREATE TRIGGER runs_count_end AFTER UPDATE OF status ON runs
WHEN OLD.status = 'running' AND NEW.status != 'running' BEGIN
    INSERT INTO run_stats (org_id, day, runs, succeeded, failed, stopped, lost, input_tokens, output_tokens, cost_usd)
    VALUES (NEW.org_id, COALESCE(NEW.ended_at, NEW.started_at) / 86400000, 1,
            NEW.status = 'succeeded', NEW.status = 'failed', NEW.status = 'stopped', NEW.status = 'lost',
            NEW.input_tokens, NEW.output_tokens, NEW.cost_usd)
    ON CONFLICT (org_id, day) DO UPDATE SET runs = runs + 1,
        succeeded = succeeded + excluded.succeeded, failed = failed + excluded.failed,
        stopped = stopped + excluded.stopped, lost = lost + excluded.lost,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens, cost_usd = cost_usd + excluded.cost_usd;
    INSERT INTO latency_hist (org_id, day, kind, bucket, count)
    SELECT NEW.org_id, COALESCE(NEW.ended_at, NEW.started_at) / 86400000, 'run',
           10 * length(CAST(MAX(NEW.duration_ms, 0) AS TEXT)) + CAST(substr(CAST(MAX(NEW.duration_ms, 0) AS TEXT), 1, 1) AS INTEGER), 1
    WHERE NEW.duration_ms IS NOT NULL
    ON CONFLICT (org_id, day, kind, bucket) DO UPDATE SET count = count + 1;
END;

CREATE TRIGGER runs_count_inserted AFTER INSERT ON runs
WHEN NEW.status != 'running' BEGIN
    INSERT INTO run_stats (org_id, day, runs, succeeded, failed, stopped, lost, input_tokens, output_tokens, cost_usd)
    VALUES (COALESCE((SELECT org_id FROM agents WHERE id = NEW.agent_id), 'org_default'),
            COALESCE(NEW.ended_at, NEW.started_at) / 86400000, 1,
            NEW.status = 'succeeded', NEW.status = 'failed', NEW.status = 'stopped', NEW.status = 'lost',
            NEW.input_tokens, NEW.output_tokens, NEW.cost_usd)
    ON CONFLICT (org_id, day) DO UPDATE SET runs = runs + 1,
        succeeded = succeeded + excluded.succeeded, failed = failed + excluded.failed,
        stopped = stopped + excluded.stopped, lost = lost + excluded.lost,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens, cost_usd = cost_usd + excluded.cost_usd;
    INSERT INTO latency_hist (org_id, day, kind, bucket, count)
    SELECT COALESCE((SELECT org_id FROM agents WHERE id = NEW.agent_id), 'org_default'),
           COALESCE(NEW.ended_at, NEW.started_at) / 86400000, 'run',
           10 * length(CAST(MAX(NEW.duration_ms, 0) AS TEXT)) + CAST(substr(CAST(MAX(NEW.duration_ms, 0) AS TEXT), 1, 1) AS INTEGER), 1
    WHERE NEW.duration_ms IS NOT NULL
    ON CONFLICT (org_id, day, kind, bucket) DO UPDATE SET count = count + 1;
END;

-- Runs that ended before this migration.
INSERT INTO run_stats (org_id, day, runs, succeeded, failed, stopped, lost, input_tokens, output_tokens, cost_usd)
SELECT org_id, COALESCE(ended_at, started_at) / 86400000, COUNT(*),
       SUM(status = 'succeeded'), SUM(status = 'failed'), SUM(status = 'stopped'), SUM(status = 'lost'),
       SUM(input_tokens), SUM(output_tokens), SUM(cost_usd)
FROM runs WHERE status != 'running' GROUP BY 1, 2;
INSERT INTO latency_hist (org_id, day, kind, bucket, count)
SELECT org_id, COALESCE(ended_at, started_at) / 86400000, 'run',
       10 * length(CAST(MAX(duration_ms, 0) AS TEXT)) + CAST(substr(CAST(MAX(duration_ms, 0) AS TEXT), 1, 1) AS INTEGER), COUNT(*)
FROM runs WHERE status != 'running' AND duration_ms IS NOT NULL GROUP BY 1, 2, 4;
