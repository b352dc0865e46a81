-- Credits (issue #40, the crews seed's token stats): the owner grants an
-- organisation credits (one credit is one US dollar of model cost, the unit
-- runs already record); runs spend them by their cost. Earned is the sum
-- of the grants, spent the cost of ended runs (run_stats), pending the
-- cost so far of running ones.
CREATE TABLE credit_grants (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    amount REAL NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    granted_by TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE INDEX credit_grants_by_org ON credit_grants(org_id, created_at);

-- Agent time per organisation, agent and day (the crews seed's rental
-- statistics: the control plane is the only node today), so the figures
-- read a few rows per day instead of scanning runs. A run counts on the
-- day it ends, once.
CREATE TABLE agent_time (
    org_id TEXT NOT NULL,
    day INTEGER NOT NULL, -- days since 1970-01-01 UTC, of the run's end
    agent_id TEXT NOT NULL,
    node TEXT NOT NULL DEFAULT 'control-plane',
    runs INTEGER NOT NULL DEFAULT 0,
    ms INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, day, agent_id, node)
) WITHOUT ROWID;

CREATE TRIGGER agent_time_end AFTER UPDATE OF status ON runs
WHEN OLD.status = 'running' AND NEW.status != 'running' BEGIN
    INSERT INTO agent_time (org_id, day, agent_id, runs, ms)
    VALUES (NEW.org_id, COALESCE(NEW.ended_at, NEW.started_at) / 86400000, NEW.agent_id, 1,
            MAX(COALESCE(NEW.duration_ms, COALESCE(NEW.ended_at, NEW.started_at) - NEW.started_at), 0))
    ON CONFLICT (org_id, day, agent_id, node) DO UPDATE SET runs = runs + 1, ms = ms + excluded.ms;
END;

CREATE TRIGGER agent_time_inserted AFTER INSERT ON runs
WHEN NEW.status != 'running' BEGIN
    INSERT INTO agent_time (org_id, day, agent_id, runs, ms)
    VALUES (COALESCE((SELECT org_id FROM agents WHERE id = NEW.agent_id), 'org_default'),
            COALESCE(NEW.ended_at, NEW.started_at) / 86400000, NEW.agent_id, 1,
            MAX(COALESCE(NEW.duration_ms, COALESCE(NEW.ended_at, NEW.started_at) - NEW.started_at), 0))
    ON CONFLICT (org_id, day, agent_id, node) DO UPDATE SET runs = runs + 1, ms = ms + excluded.ms;
END;

INSERT INTO agent_time (org_id, day, agent_id, runs, ms)
SELECT org_id, COALESCE(ended_at, started_at) / 86400000, agent_id, COUNT(*),
       SUM(MAX(COALESCE(duration_ms, COALESCE(ended_at, started_at) - started_at), 0))
FROM runs WHERE status != 'running' GROUP BY 1, 2, 3;
