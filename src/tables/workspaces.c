/* SPDX-License-Identifier: MIT */
/*
 * Workspaces and worktrees: reads on the loop's read connection, writes as
 * ops for the writer thread. Git discovery (branches, real worktrees) is the
 * git subsystem's; this file only keeps the rows.
 */
#include "store/table.h"
#include "tables/agents.h"
#include "tables/gitrows.h"
#include "tables/tables_int.h"
#include "tables/workspaces.h"

#include <string.h>

/* worktreeCount and agentCount beside the lists (the seed's worktree_count
 * and agent_count: src/api/seed.c) */
#define WS_COLS                                                                                    \
    "id, name, path, created_at, updated_at, org_id, sandbox, (SELECT count(*) FROM worktrees t "  \
    "WHERE "                                                                                       \
    "t.workspace_id = workspaces.id AND t.removed_at IS NULL) AS worktree_count, (SELECT "         \
    "count(*) FROM agents a JOIN "                                                                 \
    "worktrees t ON t.id = a.worktree_id WHERE t.workspace_id = workspaces.id AND a.deleted_at "   \
    "IS NULL) AS agent_count"
#define WT_COLS                                                                                    \
    "id, workspace_id, name, branch, path, sort_mode, display_order, is_main, created_at, "        \
    "updated_at, vanished_at, org_id, base_branch"

/* A removed worktree, and a removed workspace (removed_at set) and its
 * worktrees, read as missing. */
#define WT_SHOWN                                                                                   \
    "removed_at IS NULL AND workspace_id NOT IN (SELECT id FROM workspaces WHERE removed_at IS "   \
    "NOT NULL)"

static const char SQL_WS_GET[] = "SELECT " WS_COLS " FROM workspaces WHERE id = ?1 AND "
                                 "removed_at IS NULL";
/* ?1: an org, or '' for every org */
static const char SQL_WS_LIST[] = "SELECT " WS_COLS " FROM workspaces WHERE (?1 = '' OR org_id = "
                                  "?1) AND removed_at IS NULL ORDER BY created_at, id LIMIT 10000";
/* the same rows, only where they are: for the folders watched every second
 * (src/defs), without the counts (3.5 ms of the idle loop's second on a
 * data dir of 10,000 agents, bench/README F2) */
static const char SQL_WS_PATHS[] = "SELECT id, path, org_id FROM workspaces WHERE (?1 = '' OR "
                                   "org_id = ?1) AND removed_at IS NULL ORDER BY created_at, id "
                                   "LIMIT 10000";
static const char SQL_WT_GET[] = "SELECT " WT_COLS " FROM worktrees WHERE id = ?1 AND " WT_SHOWN;
static const char SQL_WT_LIST_ALL[] = "SELECT " WT_COLS " FROM worktrees WHERE (?1 = '' OR "
                                      "org_id = ?1) AND " WT_SHOWN " ORDER BY workspace_id, "
                                      "is_main DESC, display_order, created_at, id LIMIT 10000";
static const char SQL_WT_LIST_WS[] = "SELECT " WT_COLS " FROM worktrees WHERE workspace_id = ?1 "
                                     "AND " WT_SHOWN " ORDER BY is_main DESC, display_order, "
                                     "created_at, id LIMIT 10000";

/* Collects every row of a bound stmt into {key: […]}. Resets stmt. */
static int list_json(ad_db_t *db, ad_db_stmt_t *s, const char *key, const char *json_cols,
                     const char *null_cols, json_t **out)
{
    json_t *arr = json_array();
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(arr, ad_store_row_json(s, json_cols, null_cols));
    }
    ad_db_reset(s);
    if (rc != AD_DB_DONE) {
        json_decref(arr);
        return ad_store_rc(db, rc);
    }
    *out = json_object();
    json_object_set_new(*out, key, arr);
    return 0;
}

static int get_by_id(ad_db_t *db, const char *sql, const char *id, json_t **out)
{
    ad_db_stmt_t *s = ad_store_stmt(db, sql);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_text(s, 1, id, -1, AD_DB_TRANSIENT);
    return ad_store_one_json(db, s, "sandbox", NULL, out); /* a workspace's policy */
}

int ad_store_workspace_get(ad_store_t *st, const char *id, json_t **out)
{
    return get_by_id(ad_store_rdb(st), SQL_WS_GET, id, out);
}

/* {workspaces:[…]} of sql (SQL_WS_LIST or SQL_WS_PATHS) for org. */
static int workspace_rows(ad_store_t *st, const char *sql, const char *json_cols, const char *org,
                          json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, sql);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org != NULL ? org : "");
    return list_json(db, s, "workspaces", json_cols, NULL, out);
}

int ad_store_workspace_list(ad_store_t *st, const char *org, json_t **out)
{
    return workspace_rows(st, SQL_WS_LIST, "sandbox", org, out);
}

int ad_store_workspace_paths(ad_store_t *st, const char *org, json_t **out)
{
    return workspace_rows(st, SQL_WS_PATHS, NULL, org, out);
}

int ad_store_worktree_get(ad_store_t *st, const char *id, json_t **out)
{
    return get_by_id(ad_store_rdb(st), SQL_WT_GET, id, out);
}

int ad_store_worktree_list(ad_store_t *st, const char *workspace_id, const char *org, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, workspace_id != NULL ? SQL_WT_LIST_WS : SQL_WT_LIST_ALL);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_text(s, 1, workspace_id != NULL ? workspace_id : (org != NULL ? org : ""), -1,
                    AD_DB_TRANSIENT);
    return list_json(db, s, "worktrees", NULL, NULL, out);
}

int ad_store_worktree_workspace(ad_store_t *st, const char *worktree_id, char out[AD_ID_MAX])
{
    return ad_store_workspace_of(ad_store_rdb(st), worktree_id, out);
}

int ad_store_worktree_sandbox(ad_store_t *st, const char *worktree_id, json_t **out)
{
    ad_db_stmt_t *s = ad_store_stmt(ad_store_rdb(st),
                                    "SELECT w.sandbox FROM worktrees t JOIN workspaces w ON w.id = "
                                    "t.workspace_id WHERE t.id = ?1 AND w.removed_at IS NULL");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, worktree_id);
    return ad_store_one_json(ad_store_rdb(st), s, "sandbox", NULL, out);
}

/* ---- writes (writer thread) ------------------------------------------------- */

static int wt_insert(ad_db_t *db, json_t *args)
{
    /* A removed worktree's row keeps its path until a new one is made
     * there: then the old row's path is marked, so the unique path is the
     * new row's and the archived agents keep their worktree. */
    ad_db_stmt_t *s = ad_store_stmt(db, "UPDATE worktrees SET path = path || ' (removed ' || id || "
                                        "')' WHERE path = ?1 AND removed_at IS NOT NULL");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "path"));
    int e = ad_store_step_done(db, s);
    if (e != 0) {
        return e;
    }
    s = ad_store_stmt(db, "INSERT INTO worktrees (id, workspace_id, name, branch, "
                          "path, is_main, display_order, created_at, updated_at, "
                          "org_id, base_branch) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                          "(SELECT COALESCE(MAX(display_order) + 1, 0) FROM "
                          "worktrees WHERE workspace_id = ?2), ?7, ?7, (SELECT "
                          "org_id FROM workspaces WHERE id = ?2), CASE WHEN ?6 <> 0 "
                          "THEN NULL ELSE COALESCE(?8, (SELECT NULLIF(branch, '') "
                          "FROM worktrees WHERE workspace_id = ?2 AND is_main = "
                          "1)) END)");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "id"));
    ad_store_bind_text(s, 2, ad_args_str(args, "workspaceId"));
    ad_store_bind_text(s, 3, ad_args_str(args, "name"));
    const char *branch = ad_args_str(args, "branch");
    ad_store_bind_text(s, 4, branch != NULL ? branch : "");
    ad_store_bind_text(s, 5, ad_args_str(args, "path"));
    ad_db_bind_int(s, 6, json_is_true(json_object_get(args, "isMain")) ? 1 : 0);
    ad_db_bind_int64(s, 7, ad_args_int(args, "now", 0));
    /* The branch it was made from; else the workspace's default branch. */
    ad_store_bind_text(s, 8, ad_args_str(args, "baseBranch"));
    return ad_store_step_done(db, s);
}

int ad_store_op_workspace_insert(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s = ad_store_stmt(db, "INSERT INTO workspaces (id, name, path, created_at, "
                                        "updated_at, org_id) VALUES (?1, ?2, ?3, ?4, ?4, "
                                        "COALESCE(?5, 'org_default'))");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "id"));
    ad_store_bind_text(s, 2, ad_args_str(args, "name"));
    ad_store_bind_text(s, 3, ad_args_str(args, "path"));
    ad_db_bind_int64(s, 4, ad_args_int(args, "now", 0));
    ad_store_bind_text(s, 5, ad_args_str(args, "orgId"));
    int e = ad_store_step_done(db, s);
    if (e != 0) {
        return e;
    }
    json_t *wt =
        json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?, s:b, s:I}", "id", ad_args_str(args, "worktreeId"),
                  "workspaceId", ad_args_str(args, "id"), "name", ad_args_str(args, "name"),
                  "branch", ad_args_str(args, "branch"), "path", ad_args_str(args, "path"),
                  "isMain", 1, "now", (json_int_t)ad_args_int(args, "now", 0));
    e = wt_insert(db, wt);
    json_decref(wt);
    if (e != 0) {
        return e;
    }
    json_t *ws = NULL, *w = NULL;
    e = get_by_id(db, SQL_WS_GET, ad_args_str(args, "id"), &ws);
    if (e == 0) {
        e = get_by_id(db, SQL_WT_GET, ad_args_str(args, "worktreeId"), &w);
    }
    if (e != 0) {
        json_decref(ws);
        return e;
    }
    *result = json_pack("{s:o, s:o}", "workspace", ws, "worktree", w);
    return 0;
}

int ad_store_op_workspace_touch(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s = ad_store_stmt(db, "UPDATE workspaces SET updated_at = ?2 WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "id"));
    ad_db_bind_int64(s, 2, ad_args_int(args, "now", 0));
    int e = ad_store_step_done(db, s);
    if (e == 0 && ad_db_changes(db) == 0) {
        e = AD_ENOENT;
    }
    json_t *ws = NULL;
    if (e == 0) {
        e = get_by_id(db, SQL_WS_GET, ad_args_str(args, "id"), &ws);
    }
    if (e == 0) {
        *result = json_pack("{s:o}", "workspace", ws);
    }
    return e;
}

/* Appends the first column of every row of a bound stmt to arr. */
static int collect_ids(ad_db_t *db, ad_db_stmt_t *s, json_t *arr)
{
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(arr, json_string((const char *)ad_db_column_text(s, 0)));
    }
    ad_db_reset(s);
    return rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
}

/* Ids of the workspace's agents that still run (?1), or those not yet archived. */
static const char SQL_WS_AGENTS[] = "SELECT a.id FROM agents a JOIN worktrees w ON w.id = "
                                    "a.worktree_id WHERE w.workspace_id = ?1 AND a.deleted_at IS "
                                    "NULL AND (?2 = 0 OR a.status IN ('running', 'waiting', "
                                    "'paused'))";

static int ws_ids(ad_db_t *db, const char *sql, const char *id, int live, json_t *arr)
{
    ad_db_stmt_t *s = ad_store_stmt(db, sql);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_text(s, 1, id, -1, AD_DB_TRANSIENT);
    if (live >= 0) {
        ad_db_bind_int(s, 2, live);
    }
    return collect_ids(db, s, arr);
}

static const char SQL_WS_ARCHIVE[] = "UPDATE agents SET deleted_at = ?2, updated_at = ?2 WHERE "
                                     "deleted_at IS NULL AND worktree_id IN (SELECT id FROM "
                                     "worktrees WHERE workspace_id = ?1)";

static int exec_id_now(ad_db_t *db, const char *sql, const char *id, int64_t now)
{
    ad_db_stmt_t *s = ad_store_stmt(db, sql);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_text(s, 1, id, -1, AD_DB_TRANSIENT);
    ad_db_bind_int64(s, 2, now);
    return ad_store_step_done(db, s);
}

/* Removes a workspace: marks it removed and archives its agents; its rows
 * (and files) stay. Refused with AD_ESTATE and {liveAgentIds} while any of
 * its agents runs. */
int ad_store_op_workspace_delete(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    const char *id = ad_args_str(args, "id");
    int64_t now = ad_args_int(args, "now", 0);
    json_t *ws = NULL;
    int e = get_by_id(db, SQL_WS_GET, id, &ws);
    if (e != 0) {
        return e;
    }
    json_t *wts = json_array(), *ags = json_array(), *live = json_array();
    e = ws_ids(db, SQL_WS_AGENTS, id, 1, live);
    if (e == 0 && json_array_size(live) > 0) {
        e = AD_ESTATE;
        *result = json_pack("{s:O}", "liveAgentIds", live);
    }
    if (e == 0) {
        e = ws_ids(db, "SELECT id FROM worktrees WHERE workspace_id = ?1", id, -1, wts);
    }
    if (e == 0) {
        e = ws_ids(db, SQL_WS_AGENTS, id, 0, ags);
    }
    if (e == 0) {
        e = exec_id_now(db, SQL_WS_ARCHIVE, id, now);
    }
    if (e == 0) {
        e = exec_id_now(db, "UPDATE workspaces SET removed_at = ?2, updated_at = ?2 WHERE id = ?1",
                        id, now);
    }
    json_decref(live);
    if (e != 0) {
        json_decref(ws);
        json_decref(wts);
        json_decref(ags);
        return e;
    }
    *result = json_pack("{s:o, s:o, s:o}", "workspace", ws, "worktreeIds", wts, "agentIds", ags);
    return 0;
}

int ad_store_op_worktree_insert(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    int e = wt_insert(db, args);
    json_t *w = NULL;
    if (e == 0) {
        e = get_by_id(db, SQL_WT_GET, ad_args_str(args, "id"), &w);
    }
    if (e == 0) {
        *result = json_pack("{s:o}", "worktree", w);
    }
    return e;
}

int ad_store_op_worktree_update(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s = ad_store_stmt(
        db, "UPDATE worktrees SET name = COALESCE(?2, name), branch = COALESCE(?3, branch), "
            "sort_mode = COALESCE(?4, sort_mode), display_order = COALESCE(?5, display_order), "
            "base_branch = COALESCE(?7, base_branch), updated_at = ?6 WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "id"));
    ad_store_bind_text(s, 2, ad_args_str(args, "name"));
    ad_store_bind_text(s, 3, ad_args_str(args, "branch"));
    ad_store_bind_text(s, 4, ad_args_str(args, "sortMode"));
    json_t *order = json_object_get(args, "displayOrder");
    if (json_is_integer(order)) {
        ad_db_bind_int64(s, 5, json_integer_value(order));
    }
    ad_db_bind_int64(s, 6, ad_args_int(args, "now", 0));
    ad_store_bind_text(s, 7, ad_args_str(args, "baseBranch"));
    int e = ad_store_step_done(db, s);
    if (e == 0 && ad_db_changes(db) == 0) {
        e = AD_ENOENT;
    }
    json_t *w = NULL;
    if (e == 0) {
        e = get_by_id(db, SQL_WT_GET, ad_args_str(args, "id"), &w);
    }
    if (e == 0) {
        *result = json_pack("{s:o}", "worktree", w);
    }
    return e;
}

/* The worktree's agents that still run (?2 = 1), or those not yet archived. */
static const char SQL_WT_AGENTS[] = "SELECT id FROM agents WHERE worktree_id = ?1 AND deleted_at "
                                    "IS NULL AND (?2 = 0 OR status IN ('running', 'waiting', "
                                    "'paused'))";

/* Removes a worktree's row as removing a workspace does: marked removed,
 * its agents archived, their rows (messages, runs, metrics) kept. */
int ad_store_op_worktree_delete(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    const char *id = ad_args_str(args, "id");
    int64_t now = ad_args_int(args, "now", 0);
    json_t *w = NULL;
    int e = get_by_id(db, SQL_WT_GET, id, &w);
    if (e != 0) {
        return e;
    }
    if (json_is_true(json_object_get(w, "isMain"))) {
        json_decref(w);
        return AD_ESTATE;
    }
    json_t *ags = json_array(), *live = json_array();
    e = ws_ids(db, SQL_WT_AGENTS, id, 1, live);
    if (e == 0 && json_array_size(live) > 0) {
        e = AD_ESTATE; /* one started meanwhile: the caller stops it first */
        *result = json_pack("{s:O}", "liveAgentIds", live);
    }
    if (e == 0) {
        e = ws_ids(db, SQL_WT_AGENTS, id, 0, ags);
    }
    if (e == 0) {
        e = exec_id_now(db,
                        "UPDATE agents SET deleted_at = ?2, updated_at = ?2 WHERE worktree_id "
                        "= ?1 AND deleted_at IS NULL",
                        id, now);
    }
    if (e == 0) {
        e = exec_id_now(db, "UPDATE worktrees SET removed_at = ?2, updated_at = ?2 WHERE id = ?1",
                        id, now);
    }
    json_decref(live);
    if (e != 0) {
        json_decref(w);
        json_decref(ags);
        return e;
    }
    *result = json_pack("{s:o, s:o}", "worktree", w, "agentIds", ags);
    return 0;
}

int ad_store_op_worktree_reorder(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    json_t *ids = json_object_get(args, "ids");
    ad_db_stmt_t *s = ad_store_stmt(db, "UPDATE worktrees SET display_order = ?2, updated_at = ?3 "
                                        "WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    size_t i;
    json_t *v;
    json_t *out = json_array();
    json_array_foreach(ids, i, v)
    {
        ad_db_bind_text(s, 1, json_string_value(v), -1, AD_DB_TRANSIENT);
        ad_db_bind_int64(s, 2, (int64_t)i);
        ad_db_bind_int64(s, 3, ad_args_int(args, "now", 0));
        int e = ad_store_step_done(db, s);
        if (e == 0 && ad_db_changes(db) == 0) {
            e = AD_ENOENT;
        }
        json_t *w = NULL;
        if (e == 0) {
            e = get_by_id(db, SQL_WT_GET, json_string_value(v), &w);
        }
        /* With workspaceId, every worktree must be one of its (the whole
         * transaction rolls back otherwise). */
        const char *ws = ad_args_str(args, "workspaceId");
        if (e == 0 && ws != NULL && strcmp(ws, ad_args_str(w, "workspaceId")) != 0) {
            json_decref(w);
            e = AD_EINVAL;
        }
        if (e != 0) {
            json_decref(out);
            *result = json_pack("{s:O}", "id", v);
            return e;
        }
        json_array_append_new(out, w);
    }
    *result = json_pack("{s:o}", "worktrees", out);
    return 0;
}

int ad_store_op_workspace_sandbox_set(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    const char *id = ad_args_str(args, "id");
    json_t *before = NULL;
    int e = get_by_id(db, SQL_WS_GET, id, &before);
    if (e != 0) {
        return e;
    }
    json_t *old = json_incref(json_object_get(before, "sandbox"));
    json_decref(before);
    ad_db_stmt_t *s =
        ad_store_stmt(db, "UPDATE workspaces SET sandbox = ?2, updated_at = ?3 WHERE id = ?1");
    if (s == NULL) {
        json_decref(old);
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    ad_store_bind_json(s, 2, json_object_get(args, "sandbox"));
    ad_db_bind_int64(s, 3, ad_args_int(args, "now", 0));
    e = ad_store_step_done(db, s);
    json_t *ws = NULL;
    if (e == 0) {
        e = get_by_id(db, SQL_WS_GET, id, &ws);
    }
    if (e != 0) {
        json_decref(old);
        return e;
    }
    *result = json_pack("{s:o, s:o}", "workspace", ws, "old", old != NULL ? old : json_null());
    return 0;
}

json_t *ad_store_workspace_with_worktrees(ad_store_t *st, json_t *ws)
{
    json_t *l = NULL;
    const char *id = json_string_value(json_object_get(ws, "id"));
    if (ad_store_worktree_list(st, id, NULL, &l) == 0) {
        json_object_set(ws, "worktrees", json_object_get(l, "worktrees"));
        json_decref(l);
    }
    return ws;
}

int ad_store_workspace_of(ad_db_t *db, const char *worktree_id, char out[AD_ID_MAX])
{
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT workspace_id FROM worktrees WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, worktree_id);
    int rc = ad_db_step(s);
    int e = 0;
    if (rc == AD_DB_ROW) {
        snprintf(out, AD_ID_MAX, "%s", (const char *)ad_db_column_text(s, 0));
    } else {
        e = rc == AD_DB_DONE ? AD_ENOENT : ad_store_rc(db, rc);
    }
    ad_db_reset(s);
    return e;
}
