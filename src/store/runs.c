/* SPDX-License-Identifier: MIT */
/*
 * Runs and the run-time side of agents: a run row per start, its end
 * (status, exit, usage), what a live run changes on its agent (status, pid,
 * session, context level, state), the messages a run produces, and the
 * start-up reconciliation of runs a previous daemon left running.
 * Written for the runner (src/agent/runner.c); REST reads go through here.
 */
#include "store/store_int.h"

#include <string.h>

#define RUN_COLS                                                                                   \
    "id, agent_id, started_at, ended_at, status, exit_code, signal, duration_ms, input_tokens, "   \
    "output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, num_turns"
#define RUN_NULLS "ended_at,exit_code,signal,duration_ms"

static int agent_json(sqlite3 *db, const char *id, json_t **out)
{
    sqlite3_stmt *s = ad_store_stmt(db, "SELECT " AD_AGENT_COLS " FROM agents WHERE id = ?");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    return ad_store_one_json(db, s, AD_AGENT_JSON, AD_AGENT_NULLS, out);
}

static int run_json(sqlite3 *db, const char *id, json_t **out)
{
    sqlite3_stmt *s = ad_store_stmt(db, "SELECT " RUN_COLS " FROM runs WHERE id = ?");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    return ad_store_one_json(db, s, NULL, RUN_NULLS, out);
}

static void bind_opt_int(sqlite3_stmt *s, int idx, json_t *args, const char *key)
{
    json_t *v = json_object_get(args, key);
    if (json_is_integer(v)) {
        sqlite3_bind_int64(s, idx, json_integer_value(v));
    } else {
        sqlite3_bind_null(s, idx);
    }
}

/* Fills result {run, agent} after a change. */
static int run_and_agent(sqlite3 *db, const char *run_id, const char *agent_id, json_t **result)
{
    json_t *run = NULL, *agent = NULL;
    int rc = run_json(db, run_id, &run);
    if (rc == 0) {
        rc = agent_json(db, agent_id, &agent);
    }
    if (rc == 0) {
        *result = json_pack("{s:o, s:o}", "run", run, "agent", agent);
        return 0;
    }
    json_decref(run);
    json_decref(agent);
    return rc;
}

int ad_store_op_run_start(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    sqlite3 *db = tx->db;
    const char *id = ad_args_str(args, "id");
    const char *agent_id = ad_args_str(args, "agentId");
    int64_t now = ad_args_int(args, "now", 0);
    if (id == NULL || agent_id == NULL) {
        return AD_EINVAL;
    }
    sqlite3_stmt *s = ad_store_stmt(
        db, "INSERT INTO runs (id, agent_id, started_at, status) VALUES (?, ?, ?, 'running')");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    ad_store_bind_text(s, 2, agent_id);
    sqlite3_bind_int64(s, 3, now);
    int rc = ad_store_step_done(db, s);
    if (rc != 0) {
        return rc == AD_ECONSTRAINT ? AD_ENOENT : rc;
    }
    s = ad_store_stmt(db, "UPDATE agents SET status = 'running', pid = ?, started_at = ?, "
                          "stopped_at = NULL, updated_at = ?, state = CASE WHEN state IS NULL "
                          "THEN NULL ELSE json_remove(state, '$.statusReason') END WHERE id = ?");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    bind_opt_int(s, 1, args, "pid");
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int64(s, 3, now);
    ad_store_bind_text(s, 4, agent_id);
    rc = ad_store_step_done(db, s);
    if (rc != 0) {
        return rc;
    }
    return run_and_agent(db, id, agent_id, result);
}

int ad_store_op_run_end(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    sqlite3 *db = tx->db;
    const char *id = ad_args_str(args, "id");
    const char *agent_id = ad_args_str(args, "agentId");
    const char *status = ad_args_str(args, "status");
    const char *agent_status = ad_args_str(args, "agentStatus");
    int64_t now = ad_args_int(args, "now", 0);
    if (id == NULL || agent_id == NULL || status == NULL || agent_status == NULL) {
        return AD_EINVAL;
    }
    sqlite3_stmt *s = ad_store_stmt(
        db, "UPDATE runs SET ended_at = ?, status = ?, exit_code = ?, signal = ?, "
            "duration_ms = ?, input_tokens = ?, output_tokens = ?, cache_read_tokens = ?, "
            "cache_write_tokens = ?, cost_usd = ?, num_turns = ? WHERE id = ?");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    sqlite3_bind_int64(s, 1, now);
    ad_store_bind_text(s, 2, status);
    bind_opt_int(s, 3, args, "exitCode");
    bind_opt_int(s, 4, args, "signal");
    sqlite3_bind_int64(s, 5, ad_args_int(args, "durationMs", 0));
    sqlite3_bind_int64(s, 6, ad_args_int(args, "inputTokens", 0));
    sqlite3_bind_int64(s, 7, ad_args_int(args, "outputTokens", 0));
    sqlite3_bind_int64(s, 8, ad_args_int(args, "cacheReadTokens", 0));
    sqlite3_bind_int64(s, 9, ad_args_int(args, "cacheWriteTokens", 0));
    sqlite3_bind_double(s, 10, json_number_value(json_object_get(args, "costUsd")));
    sqlite3_bind_int64(s, 11, ad_args_int(args, "numTurns", 0));
    ad_store_bind_text(s, 12, id);
    int rc = ad_store_step_done(db, s);
    if (rc != 0) {
        return rc;
    }
    s = ad_store_stmt(db, "UPDATE agents SET status = ?, pid = NULL, stopped_at = ?, "
                          "updated_at = ?, state = CASE WHEN ? IS NULL THEN state ELSE "
                          "json_set(COALESCE(state, '{}'), '$.statusReason', ?) END WHERE id = ?");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    const char *reason = ad_args_str(args, "reason");
    ad_store_bind_text(s, 1, agent_status);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int64(s, 3, now);
    ad_store_bind_text(s, 4, reason);
    ad_store_bind_text(s, 5, reason);
    ad_store_bind_text(s, 6, agent_id);
    rc = ad_store_step_done(db, s);
    if (rc != 0) {
        return rc;
    }
    return run_and_agent(db, id, agent_id, result);
}

int ad_store_op_agent_runtime(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    sqlite3 *db = tx->db;
    const char *id = ad_args_str(args, "id");
    int64_t now = ad_args_int(args, "now", 0);
    if (id == NULL) {
        return AD_EINVAL;
    }
    json_t *patch = json_object_get(args, "statePatch");
    json_t *state = NULL;
    if (json_is_object(patch)) {
        /* Merge into the stored state: read, update, write, all inside this
         * job's transaction so concurrent patches cannot lose keys. */
        json_t *agent = NULL;
        int rc = agent_json(db, id, &agent);
        if (rc != 0) {
            return rc;
        }
        json_t *cur = json_object_get(agent, "state");
        state = json_is_object(cur) ? json_deep_copy(cur) : json_object();
        json_object_update(state, patch);
        json_decref(agent);
    }
    sqlite3_stmt *s = ad_store_stmt(
        db, "UPDATE agents SET status = COALESCE(?, status), session_id = COALESCE(?, session_id), "
            "context_level = COALESCE(?, context_level), state = COALESCE(?, state), "
            "updated_at = ? WHERE id = ?");
    if (s == NULL) {
        json_decref(state);
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "status"));
    ad_store_bind_text(s, 2, ad_args_str(args, "sessionId"));
    bind_opt_int(s, 3, args, "contextLevel");
    ad_store_bind_json(s, 4, state);
    sqlite3_bind_int64(s, 5, now);
    ad_store_bind_text(s, 6, id);
    json_decref(state);
    int rc = ad_store_step_done(db, s);
    if (rc != 0) {
        return rc;
    }
    if (sqlite3_changes(db) == 0) {
        return AD_ENOENT;
    }
    json_t *agent = NULL;
    rc = agent_json(db, id, &agent);
    if (rc == 0) {
        *result = json_pack("{s:o}", "agent", agent);
    }
    return rc;
}

int ad_store_op_run_messages(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    sqlite3 *db = tx->db;
    json_t *list = json_object_get(args, "messages");
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m)
    {
        sqlite3_stmt *s = ad_store_stmt(
            db, "INSERT INTO messages (id, agent_id, run_id, role, content, token_count, "
                "tool_name, tool_input, tool_output, is_complete, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        if (s == NULL) {
            return AD_EINTERNAL;
        }
        json_t *ti = json_object_get(m, "toolInput");
        ad_store_bind_text(s, 1, ad_args_str(m, "id"));
        ad_store_bind_text(s, 2, ad_args_str(m, "agentId"));
        ad_store_bind_text(s, 3, ad_args_str(m, "runId"));
        ad_store_bind_text(s, 4, ad_args_str(m, "role"));
        const char *content = ad_args_str(m, "content");
        ad_store_bind_text(s, 5, content != NULL ? content : "");
        sqlite3_bind_int64(s, 6, ad_args_int(m, "tokenCount", 0));
        ad_store_bind_text(s, 7, ad_args_str(m, "toolName"));
        ad_store_bind_json(s, 8, ti);
        ad_store_bind_text(s, 9, ad_args_str(m, "toolOutput"));
        sqlite3_bind_int(s, 10, json_is_false(json_object_get(m, "isComplete")) ? 0 : 1);
        sqlite3_bind_int64(s, 11, ad_args_int(m, "createdAt", 0));
        int rc = ad_store_step_done(db, s);
        if (rc != 0) {
            return rc;
        }
    }
    *result = NULL;
    return 0;
}

int ad_store_op_runs_reconcile(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    sqlite3 *db = tx->db;
    int64_t now = ad_args_int(args, "now", 0);
    json_t *runs = json_array();
    json_t *agents = json_array();
    sqlite3_stmt *s =
        ad_store_stmt(db, "SELECT id, agent_id, started_at FROM runs WHERE status = 'running'");
    int rc = 0;
    if (s == NULL) {
        rc = AD_EINTERNAL;
        goto out;
    }
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        json_array_append_new(runs, json_pack("{s:s, s:s, s:I}", "id",
                                              (const char *)sqlite3_column_text(s, 0), "agentId",
                                              (const char *)sqlite3_column_text(s, 1), "startedAt",
                                              (json_int_t)sqlite3_column_int64(s, 2)));
    }
    sqlite3_reset(s);
    if (step != SQLITE_DONE) {
        rc = ad_store_rc(db, step);
        goto out;
    }
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r)
    {
        int64_t started = ad_args_int(r, "startedAt", now);
        s = ad_store_stmt(db, "UPDATE runs SET status = 'lost', ended_at = ?, duration_ms = ? "
                              "WHERE id = ?");
        if (s == NULL) {
            rc = AD_EINTERNAL;
            goto out;
        }
        sqlite3_bind_int64(s, 1, now);
        sqlite3_bind_int64(s, 2, now > started ? now - started : 0);
        ad_store_bind_text(s, 3, ad_args_str(r, "id"));
        rc = ad_store_step_done(db, s);
        if (rc != 0) {
            goto out;
        }
        s = ad_store_stmt(db, "UPDATE agents SET status = 'error', pid = NULL, stopped_at = ?, "
                              "updated_at = ?, state = json_set(COALESCE(state, '{}'), "
                              "'$.statusReason', ?) WHERE id = ?");
        if (s == NULL) {
            rc = AD_EINTERNAL;
            goto out;
        }
        sqlite3_bind_int64(s, 1, now);
        sqlite3_bind_int64(s, 2, now);
        ad_store_bind_text(s, 3, ad_args_str(args, "reason"));
        ad_store_bind_text(s, 4, ad_args_str(r, "agentId"));
        rc = ad_store_step_done(db, s);
        if (rc != 0) {
            goto out;
        }
        json_t *agent = NULL;
        if (agent_json(db, ad_args_str(r, "agentId"), &agent) == 0) {
            json_array_append_new(agents, agent);
        }
    }
    /* Agents shown running without a run (a crash between writes) too. */
    s = ad_store_stmt(db, "UPDATE agents SET status = 'error', pid = NULL, updated_at = ? "
                          "WHERE status IN ('running', 'waiting', 'paused') AND id NOT IN "
                          "(SELECT agent_id FROM runs WHERE status = 'running')");
    if (s == NULL) {
        rc = AD_EINTERNAL;
        goto out;
    }
    sqlite3_bind_int64(s, 1, now);
    rc = ad_store_step_done(db, s);
out:
    if (rc == 0) {
        *result = json_pack("{s:o, s:o}", "runs", runs, "agents", agents);
    } else {
        json_decref(runs);
        json_decref(agents);
    }
    return rc;
}

int ad_store_run_get(ad_store_t *st, const char *id, json_t **out)
{
    return run_json(ad_store_rdb(st), id, out);
}

int ad_store_run_list(ad_store_t *st, const char *agent_id, int limit, json_t **out)
{
    sqlite3 *db = ad_store_rdb(st);
    sqlite3_stmt *s = ad_store_stmt(
        db, "SELECT " RUN_COLS " FROM runs WHERE agent_id = ? ORDER BY started_at DESC, id DESC "
            "LIMIT ?");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, agent_id);
    sqlite3_bind_int(s, 2, limit > 0 && limit <= 1000 ? limit : 100);
    json_t *runs = json_array();
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        json_array_append_new(runs, ad_store_row_json(s, NULL, RUN_NULLS));
    }
    sqlite3_reset(s);
    if (step != SQLITE_DONE) {
        json_decref(runs);
        return ad_store_rc(db, step);
    }
    *out = json_pack("{s:o}", "runs", runs);
    return 0;
}

int ad_store_runs_agent_get(ad_store_t *st, const char *id, json_t **agent,
                            char workspace_id[AD_ID_MAX], char *path, size_t pathsz)
{
    sqlite3 *db = ad_store_rdb(st);
    int rc = agent_json(db, id, agent);
    if (rc != 0) {
        return rc;
    }
    sqlite3_stmt *s = ad_store_stmt(db, "SELECT workspace_id, path FROM worktrees WHERE id = ?");
    if (s == NULL) {
        json_decref(*agent);
        *agent = NULL;
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, json_string_value(json_object_get(*agent, "worktreeId")));
    workspace_id[0] = '\0';
    if (pathsz > 0) {
        path[0] = '\0';
    }
    if (sqlite3_step(s) == SQLITE_ROW) {
        snprintf(workspace_id, AD_ID_MAX, "%s", (const char *)sqlite3_column_text(s, 0));
        snprintf(path, pathsz, "%s", (const char *)sqlite3_column_text(s, 1));
    }
    sqlite3_reset(s);
    return 0;
}
