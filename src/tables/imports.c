/* SPDX-License-Identifier: MIT */
/*
 * Runs agentd did not start and the imports that fill them (migration
 * 2720, issue #35): the run row of an import or of the MLflow surface
 * (runs.source set, so start-up leaves it running), its end, and the
 * import rows with where each has read to. Reads on the loop thread;
 * writes through the writer.
 */
#include "store/table.h"
#include "tables/agents.h"
#include "tables/gitrows.h"
#include "tables/imports.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* args {id, agentId, source, name?, config?, tags?, now}: a running run of
 * an existing agent; the agent's status is left alone (no process). */
static int external_insert(ad_db_t *db, json_t *args)
{
    ad_db_stmt_t *s = ad_store_stmt(
        db, "INSERT INTO runs (id, agent_id, started_at, status, source, name, config, tags) "
            "SELECT ?1, ?2, ?3, 'running', ?4, ?5, ?6, ?7 WHERE EXISTS (SELECT 1 FROM agents "
            "WHERE id = ?2)");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "id"));
    ad_store_bind_text(s, 2, ad_args_str(args, "agentId"));
    ad_db_bind_int64(s, 3, ad_args_int(args, "now", 0));
    ad_store_bind_text(s, 4, ad_args_str(args, "source"));
    ad_store_bind_text(s, 5, ad_args_str(args, "name"));
    ad_store_bind_json(s, 6, json_object_get(args, "config"));
    ad_store_bind_json(s, 7, json_object_get(args, "tags"));
    int rc = ad_store_step_done(db, s);
    return rc == 0 && ad_db_changes(db) == 0 ? AD_ENOENT : rc;
}

int ad_store_op_external_run(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    json_t *agent = json_object_get(args, "agent");
    int rc = 0;
    if (agent != NULL) { /* a new agent to hold the run */
        json_t *res = NULL;
        rc = ad_store_op_agent_insert(tx, agent, &res);
        json_decref(res);
    }
    if (rc == 0 && ad_args_str(args, "id") != NULL) { /* else the import attaches to a run */
        rc = external_insert(tx->db, args);
    }
    json_t *imp = json_object_get(args, "import");
    if (rc == 0 && imp != NULL) {
        ad_db_stmt_t *s = ad_store_stmt(
            tx->db, "INSERT INTO imports (id, org_id, kind, path, run_id, follow, status, state, "
                    "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'running', "
                    "COALESCE(?8, '{}'), ?7, ?7)");
        if (s == NULL) {
            return AD_EINTERNAL;
        }
        ad_store_bind_text(s, 1, ad_args_str(imp, "id"));
        ad_store_bind_text(s, 2, ad_args_str(imp, "orgId"));
        ad_store_bind_text(s, 3, ad_args_str(imp, "kind"));
        ad_store_bind_text(s, 4, ad_args_str(imp, "path"));
        ad_store_bind_text(s, 5, ad_args_str(imp, "runId"));
        ad_db_bind_int(s, 6, json_is_true(json_object_get(imp, "follow")));
        ad_db_bind_int64(s, 7, ad_args_int(args, "now", 0));
        ad_store_bind_json(s, 8, json_object_get(imp, "state"));
        rc = ad_store_step_done(tx->db, s);
    }
    if (rc == 0) {
        const char *run = ad_args_str(args, "id");
        *result = json_pack("{s:s}", "runId", run != NULL ? run : ad_args_str(imp, "runId"));
        if (imp != NULL) {
            json_object_set_new(*result, "importId", json_string(ad_args_str(imp, "id")));
            json_object_set_new(*result, "agentId", json_string(ad_args_str(imp, "agentId")));
        }
    }
    return rc;
}

int ad_store_op_external_run_update(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    AD_UNUSED(result);
    const char *status = ad_args_str(args, "status");
    json_t *end = json_object_get(args, "endedAt");
    ad_db_stmt_t *s = ad_store_stmt(
        tx->db, "UPDATE runs SET status = COALESCE(?2, status), ended_at = CASE WHEN ?2 IS NULL "
                "OR ?2 = 'running' THEN ended_at ELSE ?3 END, duration_ms = CASE WHEN ?2 IS NULL "
                "OR ?2 = 'running' THEN duration_ms ELSE max(0, ?3 - started_at) END, name = "
                "COALESCE(?4, name), config = COALESCE(?5, CASE WHEN ?7 IS NULL THEN config ELSE "
                "json_patch(COALESCE(config, '{}'), ?7) END), tags = COALESCE(?6, tags) "
                "WHERE id = ?1 AND source IS NOT NULL");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "id"));
    ad_store_bind_text(s, 2, status);
    ad_db_bind_int64(s, 3, json_is_integer(end) ? json_integer_value(end) : ad_wall_ms());
    ad_store_bind_text(s, 4, ad_args_str(args, "name"));
    ad_store_bind_json(s, 5, json_object_get(args, "config"));
    ad_store_bind_json(s, 6, json_object_get(args, "tags"));
    ad_store_bind_json(s, 7, json_object_get(args, "configPatch"));
    int rc = ad_store_step_done(tx->db, s);
    return rc == 0 && ad_db_changes(tx->db) == 0 ? AD_ENOENT : rc;
}

/* The flag is JSON true: SQLite's json_extract reads it as 1, PostgreSQL's
 * (the prelude's) as 'true'. */
int ad_store_mlflow_experiment(ad_store_t *st, const char *org, const char *name, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(
        db, "SELECT id, name, created_at, updated_at FROM agents WHERE org_id = ?1 AND name = ?2 "
            "AND deleted_at IS NULL AND CAST(json_extract(state, '$.mlflowExperiment') AS TEXT) IN "
            "('1', 'true') ORDER BY created_at LIMIT 1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org);
    ad_store_bind_text(s, 2, name);
    return ad_store_one_json(db, s, NULL, NULL, out);
}

static json_t *exp_row(ad_db_stmt_t *s)
{
    return ad_store_row_json(s, NULL, NULL);
}

int ad_store_mlflow_experiments(ad_store_t *st, const char *org, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(
        db, "SELECT id, name, created_at, updated_at FROM agents WHERE org_id = ?1 AND deleted_at "
            "IS NULL AND CAST(json_extract(state, '$.mlflowExperiment') AS TEXT) IN ('1', 'true') "
            "ORDER BY created_at, id LIMIT 10000");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org);
    return ad_store_all_rows(db, s, exp_row, out);
}

/* The main worktree of org's oldest workspace still there. */
static int first_worktree(ad_db_t *db, const char *org, char out[AD_ID_MAX])
{
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT w.id FROM worktrees w JOIN workspaces ws ON ws.id "
                                        "= w.workspace_id WHERE ws.org_id = ?1 AND w.is_main = 1 "
                                        "AND ws.removed_at IS NULL ORDER BY ws.created_at, ws.id "
                                        "LIMIT 1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org);
    int step = ad_db_step(s);
    if (step == AD_DB_ROW) {
        snprintf(out, AD_ID_MAX, "%s", (const char *)ad_db_column_text(s, 0));
    }
    ad_db_reset(s);
    return step == AD_DB_ROW ? 0 : step == AD_DB_DONE ? AD_ENOENT : ad_store_rc(db, step);
}

int ad_store_org_first_worktree(ad_store_t *st, const char *org, char out[AD_ID_MAX])
{
    return first_worktree(ad_store_rdb(st), org, out);
}

/* args.home, when there: the org's experiments workspace, made (or
 * brought back) unless the org has a worktree by now; agent (args itself,
 * or the new agent's args) goes to the org's first worktree then. */
static int mlflow_home(ad_store_tx_t *tx, json_t *args, json_t *agent)
{
    json_t *home = json_object_get(args, "home"), *r = NULL;
    const char *org = ad_args_str(home, "orgId");
    char wt[AD_ID_MAX];
    if (home == NULL || agent == NULL || org == NULL) {
        return 0;
    }
    int rc = first_worktree(tx->db, org, wt);
    if (rc == AD_ENOENT) {
        rc = ad_store_op_workspace_git_create(tx, home, &r);
        json_decref(r);
        rc = rc != 0 ? rc : first_worktree(tx->db, org, wt);
    }
    if (rc == 0) {
        json_object_set_new(agent, "worktreeId", json_string(wt));
    }
    return rc;
}

int ad_store_op_mlflow_exp_insert(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    int rc = mlflow_home(tx, args, args);
    return rc != 0 ? rc : ad_store_op_agent_insert(tx, args, result);
}

int ad_store_op_mlflow_run_insert(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    int rc = mlflow_home(tx, args, json_object_get(args, "agent"));
    return rc != 0 ? rc : ad_store_op_external_run(tx, args, result);
}

int ad_store_run_source(ad_store_t *st, const char *run_id, char *out, size_t outsz)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT COALESCE(source, '') FROM runs WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, run_id);
    int step = ad_db_step(s);
    if (step == AD_DB_ROW) {
        snprintf(out, outsz, "%s", (const char *)ad_db_column_text(s, 0));
    }
    ad_db_reset(s);
    return step == AD_DB_ROW ? 0 : step == AD_DB_DONE ? AD_ENOENT : ad_store_rc(db, step);
}

/* ---- imports ----------------------------------------------------------------------- */

static json_t *import_row(ad_db_stmt_t *s)
{
    json_t *o = ad_store_row_json(s, "state", "error");
    json_object_set_new(o, "follow",
                        json_boolean(json_integer_value(json_object_get(o, "follow"))));
    return o;
}

#define IMPORT_SELECT                                                                              \
    "SELECT id, org_id, kind, path, run_id, follow, status, error, state, points, "                \
    "created_at, updated_at FROM imports "

int ad_store_import_get(ad_store_t *st, const char *id, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, IMPORT_SELECT "WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    return ad_store_one_row(db, s, import_row, out);
}

int ad_store_import_list(ad_store_t *st, const char *org, bool running_only, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s =
        running_only
            ? ad_store_stmt(db, IMPORT_SELECT "WHERE status = 'running' ORDER BY created_at")
            : ad_store_stmt(db, IMPORT_SELECT "WHERE ?1 = '' OR org_id = ?1 ORDER BY created_at "
                                              "DESC, id LIMIT 500");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    if (!running_only) {
        ad_store_bind_text(s, 1, org != NULL ? org : "");
    }
    return ad_store_all_rows(db, s, import_row, out);
}

int ad_store_op_import_save(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_stmt_t *s = ad_store_stmt(
        tx->db, "UPDATE imports SET status = ?2, error = ?3, state = ?4, points = points + ?5, "
                "updated_at = ?6 WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "id"));
    ad_store_bind_text(s, 2, ad_args_str(args, "status"));
    ad_store_bind_text(s, 3, ad_args_str(args, "error"));
    ad_store_bind_json(s, 4, json_object_get(args, "state"));
    ad_db_bind_int64(s, 5, ad_args_int(args, "points", 0));
    ad_db_bind_int64(s, 6, ad_args_int(args, "now", 0));
    int rc = ad_store_step_done(tx->db, s);
    if (rc == 0 && ad_db_changes(tx->db) == 0) {
        return AD_ENOENT;
    }
    s = ad_store_stmt(tx->db, IMPORT_SELECT "WHERE id = ?1");
    if (rc != 0 || s == NULL) {
        return rc != 0 ? rc : AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "id"));
    return ad_store_one_row(tx->db, s, import_row, result);
}
