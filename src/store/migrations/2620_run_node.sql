-- The node a run ran on (issue #40, the crews seed's rental statistics per
-- organisation and node), named as the worker nodes' design names it
-- (the nodes branch, its migration 2750): runs.node_id, NULL for the
-- control plane's own runs. The control plane is a node of its
-- own in the figures, 'control-plane'; today every run is its. agent_time,
-- the per-day aggregate the rentals figures read, now takes the run's node,
-- so what nodes run is counted under them from the first run they place.
-- (2750 adds the same column and index: merged after this, its two lines
-- for them go.)
ALTER TABLE runs ADD COLUMN node_id TEXT;
CREATE INDEX runs_by_node ON runs(node_id) WHERE node_id IS NOT NULL;

DROP TRIGGER agent_time_end;
CREATE TRIGGER agent_time_end AFTER UPDATE OF status ON runs
WHEN OLD.status = 'running' AND NEW.status != 'running' BEGIN
    INSERT INTO agent_time (org_id, day, agent_id, node, runs, ms)
    VALUES (NEW.org_id, COALESCE(NEW.ended_at, NEW.started_at) / 86400000, NEW.agent_id,
            COALESCE(NEW.node_id, 'control-plane'), 1,
            MAX(COALESCE(NEW.duration_ms, COALESCE(NEW.ended_at, NEW.started_at) - NEW.started_at), 0))
    ON CONFLICT (org_id, day, agent_id, node) DO UPDATE SET runs = runs + 1, ms = ms + excluded.ms;
END;

DROP TRIGGER agent_time_inserted;
CREATE TRIGGER agent_time_inserted AFTER INSERT ON runs
WHEN NEW.status != 'running' BEGIN
    INSERT INTO agent_time (org_id, day, agent_id, node, runs, ms)
    VALUES (COALESCE((SELECT org_id FROM agents WHERE id = NEW.agent_id), 'org_default'),
            COALESCE(NEW.ended_at, NEW.started_at) / 86400000, NEW.agent_id,
            COALESCE(NEW.node_id, 'control-plane'), 1,
            MAX(COALESCE(NEW.duration_ms, COALESCE(NEW.ended_at, NEW.started_at) - NEW.started_at), 0))
    ON CONFLICT (org_id, day, agent_id, node) DO UPDATE SET runs = runs + 1, ms = ms + excluded.ms;
END;
