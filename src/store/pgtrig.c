/* SPDX-License-Identifier: MIT */
/*
 * The migrations' triggers, written again for PostgreSQL (issue #39): a
 * SQLite trigger's body is statements run per row; PostgreSQL runs a
 * PL/pgSQL function. Each CREATE TRIGGER of a migration has its version
 * here, by migration and name, and pgsql.c puts it in the translation; a
 * trigger without one fails the translation (and the unit test over every
 * migration), so a new trigger cannot reach PostgreSQL untranslated. What
 * differs from the SQLite text: comparisons stored as numbers are cast
 * ((a = b)::int), the target of ON CONFLICT ... DO UPDATE is named (an
 * unqualified column there is ambiguous in PostgreSQL), MAX(a, b) is
 * GREATEST, json_object is json_build_object (its text has spaces after
 * the colons: the same JSON), json_extract is ->>, julianday('now') is
 * clock_timestamp(), IS / IS NOT between values are IS [NOT] DISTINCT
 * FROM, and INSERT OR REPLACE is ON CONFLICT (id) DO UPDATE of every
 * column. The functions are named agentd_<trigger> (pg.c finds them so by
 * name to hold them off during a copy).
 */
#include "store/store_int.h"

#include <string.h>

/* 10 * digits + leading digit of the milliseconds (0800's bucket) */
#define BUCKET(d)                                                                                  \
    "10 * length(GREATEST(" d ", 0)::text) + substr(GREATEST(" d ", 0)::text, 1, 1)::bigint"

#define RUN_STATS(org)                                                                             \
    "INSERT INTO run_stats AS s (org_id, day, runs, succeeded, failed, stopped, lost, "            \
    "input_tokens, output_tokens, cost_usd) VALUES (" org ", COALESCE(NEW.ended_at, "              \
    "NEW.started_at) / 86400000, 1, (NEW.status = 'succeeded')::int, (NEW.status = "               \
    "'failed')::int, (NEW.status = 'stopped')::int, (NEW.status = 'lost')::int, "                  \
    "NEW.input_tokens, NEW.output_tokens, NEW.cost_usd) ON CONFLICT (org_id, day) DO UPDATE "      \
    "SET runs = s.runs + 1, succeeded = s.succeeded + excluded.succeeded, failed = s.failed + "    \
    "excluded.failed, stopped = s.stopped + excluded.stopped, lost = s.lost + excluded.lost, "     \
    "input_tokens = s.input_tokens + excluded.input_tokens, output_tokens = s.output_tokens + "    \
    "excluded.output_tokens, cost_usd = s.cost_usd + excluded.cost_usd;\n"                         \
    "IF NEW.duration_ms IS NOT NULL THEN INSERT INTO latency_hist AS h (org_id, day, kind, "       \
    "bucket, count) VALUES (" org                                                                  \
    ", COALESCE(NEW.ended_at, NEW.started_at) / 86400000, 'run', " BUCKET(                         \
        "NEW.duration_ms") ", 1) ON CONFLICT (org_id, day, kind, bucket) DO UPDATE SET "           \
                           "count = h.count + 1; END IF;\n"

#define AGENT_ORG "COALESCE((SELECT org_id FROM agents WHERE id = NEW.agent_id), 'org_default')"

#define AGENT_TIME(org, node_col, node_val)                                                        \
    "INSERT INTO agent_time AS t (org_id, day, agent_id" node_col ", runs, ms) VALUES (" org       \
    ", COALESCE(NEW.ended_at, NEW.started_at) / 86400000, NEW.agent_id" node_val ", 1, "           \
    "GREATEST(COALESCE(NEW.duration_ms, COALESCE(NEW.ended_at, NEW.started_at) - "                 \
    "NEW.started_at), 0)) ON CONFLICT (org_id, day, agent_id, node) DO UPDATE SET runs = "         \
    "t.runs + 1, ms = t.ms + excluded.ms;\n"

/* agent_usage's period rows of the day p.d (2860_usage_periods.sql: the same
 * integer arithmetic in both dialects), from a derived table v of d and
 * whatever else it carries */
#define USAGE_KEYS                                                                                 \
    "k.kind, CASE k.kind WHEN 'd' THEN p.d WHEN 'w' THEN p.d - (p.d + 3) % 7 ELSE p.d - p.doy + "  \
    "(153 * ((5 * p.doy + 2) / 153) + 2) / 5 END"
#define USAGE_FROM(v)                                                                              \
    " FROM (SELECT x.*, x.doe - (365 * x.yoe + x.yoe / 4 - x.yoe / 100) AS doy FROM (SELECT w.*, " \
    "(w.doe - w.doe / 1460 + w.doe / 36524 - w.doe / 146096) / 365 AS yoe FROM (SELECT v.*, "      \
    "(v.d + 719468) % 146097 AS doe FROM (" v ") AS v) AS w) AS x) AS p, (SELECT 'd' AS kind "     \
    "UNION ALL SELECT 'w' UNION ALL SELECT 'm') AS k"
/* OLD's and NEW's rows of one run fall in the same period rows when its
 * usage changes after its end: summed first, since PostgreSQL refuses an
 * upsert that would change one row twice. */
#define USAGE_UPSERT(v)                                                                            \
    "INSERT INTO agent_usage AS u (kind, start_day, agent_id, runs, input_tokens, "                \
    "output_tokens, cache_read_tokens, cache_write_tokens, cost_usd) SELECT q.kind, "              \
    "q.start_day, q.agent_id, sum(q.runs), sum(q.i), sum(q.o), sum(q.cr), sum(q.cw), sum(q.c) "    \
    "FROM (SELECT " USAGE_KEYS " AS start_day, p.agent_id, p.sign AS runs, p.sign * "              \
    "p.input_tokens AS i, p.sign * p.output_tokens AS o, p.sign * p.cache_read_tokens AS cr, "     \
    "p.sign * p.cache_write_tokens AS cw, p.sign * p.cost_usd AS c" USAGE_FROM(                    \
        v) ") AS q GROUP BY q.kind, q.start_day, q.agent_id ON CONFLICT (kind, start_day, "        \
           "agent_id) DO UPDATE SET runs = u.runs + excluded.runs, input_tokens = "                \
           "u.input_tokens + excluded.input_tokens, output_tokens = u.output_tokens + "            \
           "excluded.output_tokens, cache_read_tokens = u.cache_read_tokens + "                    \
           "excluded.cache_read_tokens, cache_write_tokens = u.cache_write_tokens + "              \
           "excluded.cache_write_tokens, cost_usd = u.cost_usd + excluded.cost_usd;\n"
#define USAGE_ROW(sign, R)                                                                         \
    "SELECT " sign " AS sign, " R ".agent_id AS agent_id, " R ".ended_at / 86400000 AS d, " R      \
    ".input_tokens AS input_tokens, " R ".output_tokens AS output_tokens, " R                      \
    ".cache_read_tokens AS cache_read_tokens, " R ".cache_write_tokens AS cache_write_tokens, " R  \
    ".cost_usd AS cost_usd WHERE " R ".ended_at IS NOT NULL"

#define RUN_ENDS "WHEN (OLD.status = 'running' AND NEW.status <> 'running')"

static const ad_store_pg_trigger_t triggers[] = {
    {"0800_run_stats.sql", "runs_org", "runs", "AFTER INSERT ON runs", "",
     "UPDATE runs SET org_id = " AGENT_ORG ", crew_id = (SELECT crew_id FROM agents WHERE id = "
     "NEW.agent_id) WHERE id = NEW.id;\n"},
    {"0800_run_stats.sql", "runs_count_end", "runs", "AFTER UPDATE OF status ON runs", RUN_ENDS,
     RUN_STATS("NEW.org_id")},
    {"0800_run_stats.sql", "runs_count_inserted", "runs", "AFTER INSERT ON runs",
     "WHEN (NEW.status <> 'running')", RUN_STATS(AGENT_ORG)},
    {"2430_credits.sql", "agent_time_end", "runs", "AFTER UPDATE OF status ON runs", RUN_ENDS,
     AGENT_TIME("NEW.org_id", "", "")},
    {"2430_credits.sql", "agent_time_inserted", "runs", "AFTER INSERT ON runs",
     "WHEN (NEW.status <> 'running')", AGENT_TIME(AGENT_ORG, "", "")},
    {"2431_agent_sessions.sql", "agent_sessions_run_end", "runs", "AFTER UPDATE OF status ON runs",
     RUN_ENDS,
     "INSERT INTO agent_sessions (id, agent_id, session_data, context_snapshot, created_at, "
     "updated_at) SELECT 'as_' || NEW.id, NEW.agent_id, json_build_object('runId', NEW.id, "
     "'sessionId', a.session_id, 'executor', a.executor, 'mode', a.mode, 'status', NEW.status, "
     "'exitCode', NEW.exit_code, 'startedAt', NEW.started_at, 'endedAt', NEW.ended_at, "
     "'durationMs', NEW.duration_ms)::text, json_build_object('contextLevel', a.context_level, "
     "'inputTokens', NEW.input_tokens, 'outputTokens', NEW.output_tokens, 'cacheReadTokens', "
     "NEW.cache_read_tokens, 'cacheWriteTokens', NEW.cache_write_tokens, 'costUsd', "
     "NEW.cost_usd, 'numTurns', NEW.num_turns, 'messageCount', (SELECT count(*) FROM messages "
     "WHERE run_id = NEW.id), 'lastMessages', (SELECT COALESCE(json_agg(json_build_object("
     "'role', m.role, 'content', substr(m.content, 1, 500), 'toolName', m.tool_name) ORDER BY "
     "m.created_at DESC, m.id DESC), '[]'::json) FROM (SELECT id, role, content, tool_name, "
     "created_at FROM messages WHERE run_id = NEW.id ORDER BY created_at DESC, id DESC LIMIT 5) "
     "m))::text, COALESCE(NEW.ended_at, NEW.started_at), COALESCE(NEW.ended_at, "
     "NEW.started_at) FROM agents a WHERE a.id = NEW.agent_id ON CONFLICT (id) DO UPDATE SET "
     "agent_id = excluded.agent_id, session_data = excluded.session_data, context_snapshot = "
     "excluded.context_snapshot, created_at = excluded.created_at, updated_at = "
     "excluded.updated_at;\n"},
    {"2470_status_reason.sql", "agent_status_unexplained", "agents",
     "AFTER UPDATE OF status ON agents",
     "WHEN (NEW.status IS DISTINCT FROM OLD.status AND NEW.status_reason IS NOT DISTINCT FROM "
     "OLD.status_reason)",
     "UPDATE agents SET status_reason = json_build_object('code', 'unexplained', 'text', "
     "'status changed to ' || NEW.status || ' with no reason recorded', 'at', "
     "COALESCE(NEW.updated_at, (extract(epoch FROM clock_timestamp()) * 1000)::bigint), 'ref', "
     "NULL)::text WHERE id = NEW.id;\n"},
    {"2470_status_reason.sql", "agent_status_history_add", "agents",
     "AFTER UPDATE OF status, status_reason ON agents",
     "WHEN (NEW.status_reason IS NOT NULL AND NEW.status_reason IS DISTINCT FROM "
     "OLD.status_reason)",
     "INSERT INTO agent_status_history (agent_id, status, code, text, ref, at) VALUES (NEW.id, "
     "NEW.status, NEW.status_reason::json ->> 'code', NEW.status_reason::json ->> 'text', "
     "NEW.status_reason::json ->> 'ref', COALESCE((NEW.status_reason::json ->> "
     "'at')::numeric::bigint, NEW.updated_at, 0));\n"
     "DELETE FROM agent_status_history WHERE agent_id = NEW.id AND id <= (SELECT id FROM "
     "agent_status_history WHERE agent_id = NEW.id ORDER BY id DESC LIMIT 1 OFFSET 200);\n"},
    {"2620_run_node.sql", "agent_time_end", "runs", "AFTER UPDATE OF status ON runs", RUN_ENDS,
     AGENT_TIME("NEW.org_id", ", node", ", COALESCE(NEW.node_id, 'control-plane')")},
    {"2620_run_node.sql", "agent_time_inserted", "runs", "AFTER INSERT ON runs",
     "WHEN (NEW.status <> 'running')",
     AGENT_TIME(AGENT_ORG, ", node", ", COALESCE(NEW.node_id, 'control-plane')")},
    {"2830_list_totals.sql", "agent_totals_run_insert", "runs", "AFTER INSERT ON runs", "",
     "INSERT INTO agent_totals AS t (agent_id, cost_usd, total_tokens) VALUES (NEW.agent_id, "
     "NEW.cost_usd, NEW.input_tokens + NEW.output_tokens) ON CONFLICT (agent_id) DO UPDATE SET "
     "cost_usd = t.cost_usd + excluded.cost_usd, total_tokens = t.total_tokens + "
     "excluded.total_tokens;\n"},
    {"2830_list_totals.sql", "agent_totals_run_update", "runs",
     "AFTER UPDATE OF input_tokens, output_tokens, cost_usd ON runs", "",
     "UPDATE agent_totals SET cost_usd = cost_usd + NEW.cost_usd - OLD.cost_usd, total_tokens = "
     "total_tokens + (NEW.input_tokens + NEW.output_tokens) - (OLD.input_tokens + "
     "OLD.output_tokens) WHERE agent_id = NEW.agent_id;\n"},
    {"2830_list_totals.sql", "agent_totals_run_delete", "runs", "AFTER DELETE ON runs", "",
     "UPDATE agent_totals SET cost_usd = cost_usd - OLD.cost_usd, total_tokens = total_tokens - "
     "(OLD.input_tokens + OLD.output_tokens) WHERE agent_id = OLD.agent_id;\n"},
    {"2830_list_totals.sql", "agent_totals_agent_delete", "agents", "AFTER DELETE ON agents", "",
     "DELETE FROM agent_totals WHERE agent_id = OLD.id;\n"},
    {"2860_usage_periods.sql", "agent_usage_run_insert", "runs", "AFTER INSERT ON runs",
     "WHEN (NEW.ended_at IS NOT NULL)", USAGE_UPSERT(USAGE_ROW("1", "NEW"))},
    {"2860_usage_periods.sql", "agent_usage_run_update", "runs",
     "AFTER UPDATE OF ended_at, agent_id, input_tokens, output_tokens, cache_read_tokens, "
     "cache_write_tokens, cost_usd ON runs",
     "WHEN (OLD.ended_at IS NOT NULL OR NEW.ended_at IS NOT NULL)",
     USAGE_UPSERT(USAGE_ROW("-1", "OLD") " UNION ALL " USAGE_ROW("1", "NEW"))},
    {"2860_usage_periods.sql", "agent_usage_run_delete", "runs", "AFTER DELETE ON runs",
     "WHEN (OLD.ended_at IS NOT NULL)", USAGE_UPSERT(USAGE_ROW("-1", "OLD"))},
    {"2830_list_totals.sql", "runs_number", "runs", "AFTER INSERT ON runs", "",
     "UPDATE runs SET run_no = run_no + 1 WHERE agent_id = NEW.agent_id AND started_at >= "
     "NEW.started_at AND (started_at > NEW.started_at OR id > NEW.id);\n"
     "UPDATE runs SET run_no = 1 + COALESCE((SELECT rn.run_no FROM runs rn WHERE rn.agent_id = "
     "NEW.agent_id AND rn.started_at <= NEW.started_at AND (rn.started_at < NEW.started_at OR "
     "rn.id < NEW.id) ORDER BY rn.started_at DESC, rn.id DESC LIMIT 1), 0) WHERE id = NEW.id;\n"},
};

const ad_store_pg_trigger_t *ad_store_pg_trigger(const char *migration, const char *name)
{
    for (size_t i = 0; i < AD_ARRAY_LEN(triggers); i++) {
        if ((migration == NULL || strcmp(triggers[i].migration, migration) == 0) &&
            strcmp(triggers[i].name, name) == 0) {
            return &triggers[i];
        }
    }
    return NULL;
}

int ad_store_pg_trigger_sql(const ad_store_pg_trigger_t *t, ad_buf_t *out)
{
    return ad_buf_printf(out,
                         "CREATE OR REPLACE FUNCTION agentd_%s() RETURNS trigger LANGUAGE plpgsql "
                         "AS $agentd$ BEGIN\n%sRETURN NULL; END $agentd$;\n"
                         "CREATE TRIGGER %s %s FOR EACH ROW %s EXECUTE FUNCTION agentd_%s();\n",
                         t->name, t->body, t->name, t->event, t->when, t->name);
}
