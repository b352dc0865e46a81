-- SPDX-License-Identifier: MIT
-- A grown data dir's usage by agent and agents list (issue #38, row F2 of
-- bench/README.md).
--
-- GET /api/agents?limit=&cursor= pages every agent in creation order: the
-- page starts at its cursor by this index, and the whole list is read in
-- its order without a sort.
CREATE INDEX agents_by_created ON agents(created_at, id);

-- GET /api/usage/agents?period=daily|weekly|monthly sums what each agent's
-- runs of the period used. Read from the runs, a month was every run that
-- ended in it (83,000 at the bench's size); from here it is a row per agent
-- that ran in it. A row per period kind ('d' a UTC day, 'w' a week from
-- Monday, 'm' a month), the period's first day (days since 1970-01-01) and
-- agent, over the runs that ended in it; the triggers below keep it as a
-- run ends, changes its usage after its end, or goes (with its agent: the
-- rows of a deleted agent are left at zero, and the read joins agents).
-- Runs still running are read from the runs themselves (runs_by_end).
CREATE TABLE agent_usage (
    kind TEXT NOT NULL CHECK (kind IN ('d', 'w', 'm')),
    start_day INTEGER NOT NULL,
    agent_id TEXT NOT NULL,
    runs INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, start_day, agent_id)
) WITHOUT ROWID;

-- The periods of a day d in plain integer arithmetic, the same in SQLite and
-- PostgreSQL (no date functions): the week's Monday is d - (d + 3) % 7
-- (1970-01-01 was a Thursday); the month's first day comes from the civil
-- date of d (days from 0000-03-01 in 400-year eras: the day of the year
-- from March, doy, and its month from March, (5 * doy + 2) / 153).
INSERT INTO agent_usage (kind, start_day, agent_id, runs, input_tokens, output_tokens,
    cache_read_tokens, cache_write_tokens, cost_usd)
SELECT k.kind, CASE k.kind WHEN 'd' THEN p.d WHEN 'w' THEN p.d - (p.d + 3) % 7
        ELSE p.d - p.doy + (153 * ((5 * p.doy + 2) / 153) + 2) / 5 END AS start_day,
    p.agent_id, count(*), SUM(p.input_tokens), SUM(p.output_tokens), SUM(p.cache_read_tokens),
    SUM(p.cache_write_tokens), SUM(p.cost_usd)
FROM (SELECT x.*, x.doe - (365 * x.yoe + x.yoe / 4 - x.yoe / 100) AS doy
      FROM (SELECT w.*, (w.doe - w.doe / 1460 + w.doe / 36524 - w.doe / 146096) / 365 AS yoe
            FROM (SELECT v.*, (v.d + 719468) % 146097 AS doe
                  FROM (SELECT agent_id, ended_at / 86400000 AS d, input_tokens, output_tokens,
                            cache_read_tokens, cache_write_tokens, cost_usd
                        FROM runs WHERE ended_at IS NOT NULL) AS v) AS w) AS x) AS p,
     (SELECT 'd' AS kind UNION ALL SELECT 'w' UNION ALL SELECT 'm') AS k
GROUP BY 1, 2, 3;

CREATE TRIGGER agent_usage_run_insert AFTER INSERT ON runs WHEN NEW.ended_at IS NOT NULL BEGIN
    INSERT INTO agent_usage (kind, start_day, agent_id, runs, input_tokens, output_tokens,
        cache_read_tokens, cache_write_tokens, cost_usd)
    SELECT k.kind, CASE k.kind WHEN 'd' THEN p.d WHEN 'w' THEN p.d - (p.d + 3) % 7
            ELSE p.d - p.doy + (153 * ((5 * p.doy + 2) / 153) + 2) / 5 END,
        NEW.agent_id, 1, NEW.input_tokens, NEW.output_tokens, NEW.cache_read_tokens,
        NEW.cache_write_tokens, NEW.cost_usd
    FROM (SELECT x.d, x.doe - (365 * x.yoe + x.yoe / 4 - x.yoe / 100) AS doy
          FROM (SELECT w.d, w.doe, (w.doe - w.doe / 1460 + w.doe / 36524 - w.doe / 146096) / 365 AS yoe
                FROM (SELECT v.d, (v.d + 719468) % 146097 AS doe
                      FROM (SELECT NEW.ended_at / 86400000 AS d) AS v) AS w) AS x) AS p,
         (SELECT 'd' AS kind UNION ALL SELECT 'w' UNION ALL SELECT 'm') AS k
    WHERE true
    ON CONFLICT (kind, start_day, agent_id) DO UPDATE SET runs = runs + excluded.runs,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
        cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
        cost_usd = cost_usd + excluded.cost_usd;
END;

-- An update takes the old run's share away and adds the new one's (each
-- only for a run that had ended): a run ending, or its usage or end
-- changed after.
CREATE TRIGGER agent_usage_run_update AFTER UPDATE OF ended_at, agent_id, input_tokens,
    output_tokens, cache_read_tokens, cache_write_tokens, cost_usd ON runs
    WHEN OLD.ended_at IS NOT NULL OR NEW.ended_at IS NOT NULL BEGIN
    INSERT INTO agent_usage (kind, start_day, agent_id, runs, input_tokens, output_tokens,
        cache_read_tokens, cache_write_tokens, cost_usd)
    SELECT k.kind, CASE k.kind WHEN 'd' THEN p.d WHEN 'w' THEN p.d - (p.d + 3) % 7
            ELSE p.d - p.doy + (153 * ((5 * p.doy + 2) / 153) + 2) / 5 END,
        p.agent_id, p.sign, p.sign * p.input_tokens, p.sign * p.output_tokens,
        p.sign * p.cache_read_tokens, p.sign * p.cache_write_tokens, p.sign * p.cost_usd
    FROM (SELECT x.*, x.doe - (365 * x.yoe + x.yoe / 4 - x.yoe / 100) AS doy
          FROM (SELECT w.*, (w.doe - w.doe / 1460 + w.doe / 36524 - w.doe / 146096) / 365 AS yoe
                FROM (SELECT v.*, (v.d + 719468) % 146097 AS doe
                      FROM (SELECT -1 AS sign, OLD.agent_id AS agent_id, OLD.ended_at / 86400000 AS d,
                                OLD.input_tokens AS input_tokens, OLD.output_tokens AS output_tokens,
                                OLD.cache_read_tokens AS cache_read_tokens,
                                OLD.cache_write_tokens AS cache_write_tokens, OLD.cost_usd AS cost_usd
                            WHERE OLD.ended_at IS NOT NULL
                            UNION ALL
                            SELECT 1, NEW.agent_id, NEW.ended_at / 86400000, NEW.input_tokens,
                                NEW.output_tokens, NEW.cache_read_tokens, NEW.cache_write_tokens,
                                NEW.cost_usd
                            WHERE NEW.ended_at IS NOT NULL) AS v) AS w) AS x) AS p,
         (SELECT 'd' AS kind UNION ALL SELECT 'w' UNION ALL SELECT 'm') AS k
    WHERE true
    ON CONFLICT (kind, start_day, agent_id) DO UPDATE SET runs = runs + excluded.runs,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
        cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
        cost_usd = cost_usd + excluded.cost_usd;
END;

CREATE TRIGGER agent_usage_run_delete AFTER DELETE ON runs WHEN OLD.ended_at IS NOT NULL BEGIN
    UPDATE agent_usage SET runs = runs - 1, input_tokens = input_tokens - OLD.input_tokens,
        output_tokens = output_tokens - OLD.output_tokens,
        cache_read_tokens = cache_read_tokens - OLD.cache_read_tokens,
        cache_write_tokens = cache_write_tokens - OLD.cache_write_tokens,
        cost_usd = cost_usd - OLD.cost_usd
    WHERE agent_id = OLD.agent_id AND (kind, start_day) IN (
        SELECT k.kind, CASE k.kind WHEN 'd' THEN p.d WHEN 'w' THEN p.d - (p.d + 3) % 7
                ELSE p.d - p.doy + (153 * ((5 * p.doy + 2) / 153) + 2) / 5 END
        FROM (SELECT x.d, x.doe - (365 * x.yoe + x.yoe / 4 - x.yoe / 100) AS doy
              FROM (SELECT w.d, w.doe, (w.doe - w.doe / 1460 + w.doe / 36524 - w.doe / 146096) / 365 AS yoe
                    FROM (SELECT v.d, (v.d + 719468) % 146097 AS doe
                          FROM (SELECT OLD.ended_at / 86400000 AS d) AS v) AS w) AS x) AS p,
             (SELECT 'd' AS kind UNION ALL SELECT 'w' UNION ALL SELECT 'm') AS k);
END;
