-- SPDX-License-Identifier: MIT
-- A grown data dir's lists in constant time (issue #38, row F2 of
-- bench/README.md). Every agent object carries what its runs cost
-- (costUsd, totalTokens): read from agent_totals, one row per agent kept
-- by the run triggers below, instead of summing the agent's runs for each
-- agent listed (10,000 agents over 1,000,000 runs: 7.6 s a list, cold).
-- A run's usage changes while it runs, so an update adds the difference;
-- a deleted run takes its share away, a deleted agent its row.
CREATE TABLE agent_totals (
    agent_id TEXT PRIMARY KEY,
    cost_usd REAL NOT NULL DEFAULT 0,
    total_tokens INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

INSERT INTO agent_totals (agent_id, cost_usd, total_tokens)
SELECT agent_id, COALESCE(SUM(cost_usd), 0), COALESCE(SUM(input_tokens + output_tokens), 0)
FROM runs GROUP BY agent_id;

CREATE TRIGGER agent_totals_run_insert AFTER INSERT ON runs BEGIN
    INSERT INTO agent_totals (agent_id, cost_usd, total_tokens)
    VALUES (NEW.agent_id, NEW.cost_usd, NEW.input_tokens + NEW.output_tokens)
    ON CONFLICT (agent_id) DO UPDATE SET cost_usd = cost_usd + excluded.cost_usd,
        total_tokens = total_tokens + excluded.total_tokens;
END;

CREATE TRIGGER agent_totals_run_update AFTER UPDATE OF input_tokens, output_tokens, cost_usd ON runs BEGIN
    UPDATE agent_totals SET cost_usd = cost_usd + NEW.cost_usd - OLD.cost_usd,
        total_tokens = total_tokens + (NEW.input_tokens + NEW.output_tokens) - (OLD.input_tokens + OLD.output_tokens)
    WHERE agent_id = NEW.agent_id;
END;

CREATE TRIGGER agent_totals_run_delete AFTER DELETE ON runs BEGIN
    UPDATE agent_totals SET cost_usd = cost_usd - OLD.cost_usd,
        total_tokens = total_tokens - (OLD.input_tokens + OLD.output_tokens)
    WHERE agent_id = OLD.agent_id;
END;

CREATE TRIGGER agent_totals_agent_delete AFTER DELETE ON agents BEGIN
    DELETE FROM agent_totals WHERE agent_id = OLD.id;
END;

-- GET /api/usage/agents: the runs alive in a period (ended in it, or still
-- running) by their end, with what the sums read, so the period's runs are
-- read from this index alone, not every run from the table.
CREATE INDEX runs_by_end ON runs(ended_at, agent_id, input_tokens, output_tokens,
    cache_read_tokens, cache_write_tokens, cost_usd);

-- A run's number among its agent's runs (its display name's "#N", in start
-- order), kept with the run instead of counted for each run shown: a page
-- of 50 runs of agents with 20,000 runs each counted 200,000 index entries
-- (80 ms). A new run takes its predecessor's number + 1, and any run of the
-- agent that started after it (an import of older runs) moves up one. Runs
-- are deleted only with their agent, so no delete renumbers.
ALTER TABLE runs ADD COLUMN run_no INTEGER;
UPDATE runs SET run_no = x.n FROM (SELECT id, row_number() OVER (PARTITION BY agent_id
    ORDER BY started_at, id) AS n FROM runs) AS x WHERE runs.id = x.id;

CREATE TRIGGER runs_number AFTER INSERT ON runs BEGIN
    UPDATE runs SET run_no = run_no + 1 WHERE agent_id = NEW.agent_id
        AND started_at >= NEW.started_at AND (started_at > NEW.started_at OR id > NEW.id);
    UPDATE runs SET run_no = 1 + COALESCE((SELECT rn.run_no FROM runs rn
        WHERE rn.agent_id = NEW.agent_id AND rn.started_at <= NEW.started_at
        AND (rn.started_at < NEW.started_at OR rn.id < NEW.id)
        ORDER BY rn.started_at DESC, rn.id DESC LIMIT 1), 0) WHERE id = NEW.id;
END;
