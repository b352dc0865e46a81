/* SPDX-License-Identifier: MIT */
/*
 * A worktree's feedback loop and its items (tables/prloops.h, migration
 * 2940; issue #75).
 */
#include "store/table.h"
#include "tables/prloops.h"

#include <string.h>

#define STR_(x) #x
#define STR(x) STR_(x)

#define LOOP_COLS                                                                                  \
    "worktree_id, org_id, agent_id, enabled, checks, reviews, max_turns, turns, status, "          \
    "reason_code, reason_text, created_at, updated_at"
#define ITEM_COLS                                                                                  \
    "id, kind, forge_id, name, url, message, message_id, run_id, turn, outcome, created_at, "      \
    "updated_at"

static const char *col_text(ad_db_stmt_t *s, int i)
{
    return (const char *)ad_db_column_text(s, i);
}

/* The loop row of s as JSON (LOOP_COLS). */
static json_t *loop_row(ad_db_stmt_t *s)
{
    json_t *o = ad_store_row_json(s, NULL, NULL);
    static const char *bools[] = {"enabled", "checks", "reviews"};
    for (size_t i = 0; i < AD_ARRAY_LEN(bools); i++) {
        json_object_set_new(o, bools[i],
                            json_boolean(json_integer_value(json_object_get(o, bools[i])) != 0));
    }
    json_object_del(o, "reasonCode");
    json_object_del(o, "reasonText");
    const char *code = col_text(s, 9), *text = col_text(s, 10);
    json_object_set_new(
        o, "statusReason",
        code != NULL ? json_pack("{s:s, s:s}", "code", code, "text", text != NULL ? text : "")
                     : json_null());
    return o;
}

static int read_loop(ad_db_t *db, const char *wt, json_t **out)
{
    ad_db_stmt_t *s =
        ad_store_stmt(db, "SELECT " LOOP_COLS " FROM pr_loops WHERE worktree_id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, wt);
    return ad_store_one_row(db, s, loop_row, out);
}

static int answer_loop(ad_db_t *db, const char *wt, json_t **result)
{
    json_t *loop = NULL;
    int rc = read_loop(db, wt, &loop);
    if (rc == 0) {
        *result = json_pack("{s:o}", "loop", loop);
    }
    return rc;
}

int ad_store_op_prloop_put(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s = ad_store_stmt(
        db, "INSERT INTO pr_loops (worktree_id, org_id, agent_id, enabled, checks, reviews, "
            "max_turns, turns, status, created_at, updated_at) VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, "
            "0, ?7, ?8, ?8) ON CONFLICT(worktree_id) DO UPDATE SET agent_id = ?3, enabled = 1, "
            "checks = ?4, reviews = ?5, max_turns = ?6, turns = 0, status = ?7, reason_code = "
            "NULL, reason_text = NULL, updated_at = ?8");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "worktreeId"));
    ad_store_bind_text(s, 2, ad_args_str(args, "orgId"));
    ad_store_bind_text(s, 3, ad_args_str(args, "agentId"));
    ad_db_bind_int(s, 4, json_is_true(json_object_get(args, "checks")));
    ad_db_bind_int(s, 5, json_is_true(json_object_get(args, "reviews")));
    ad_db_bind_int64(s, 6, ad_args_int(args, "maxTurns", 1));
    ad_store_bind_text(s, 7, ad_args_str(args, "status"));
    ad_db_bind_int64(s, 8, ad_args_int(args, "now", 0));
    int e = ad_store_step_done(db, s);
    return e != 0 ? e : answer_loop(db, ad_args_str(args, "worktreeId"), result);
}

int ad_store_op_prloop_state(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s = ad_store_stmt(
        db, "UPDATE pr_loops SET status = ?2, reason_code = ?3, reason_text = ?4, turns = "
            "COALESCE(?5, turns), enabled = COALESCE(?6, enabled), updated_at = ?7 WHERE "
            "worktree_id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    json_t *turns = json_object_get(args, "turns"), *en = json_object_get(args, "enabled");
    ad_store_bind_text(s, 1, ad_args_str(args, "worktreeId"));
    ad_store_bind_text(s, 2, ad_args_str(args, "status"));
    ad_store_bind_text(s, 3, ad_args_str(args, "reasonCode"));
    ad_store_bind_text(s, 4, ad_args_str(args, "reasonText"));
    if (json_is_integer(turns)) {
        ad_db_bind_int64(s, 5, json_integer_value(turns));
    } else {
        ad_db_bind_null(s, 5);
    }
    if (json_is_boolean(en)) {
        ad_db_bind_int(s, 6, json_is_true(en));
    } else {
        ad_db_bind_null(s, 6);
    }
    ad_db_bind_int64(s, 7, ad_args_int(args, "now", 0));
    int e = ad_store_step_done(db, s);
    return e != 0 ? e : answer_loop(db, ad_args_str(args, "worktreeId"), result);
}

static json_t *item_row(ad_db_stmt_t *s)
{
    return ad_store_row_json(s, NULL, NULL);
}

int ad_store_op_prloop_item_add(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s = ad_store_stmt(
        db, "INSERT INTO pr_loop_items (id, worktree_id, kind, forge_id, name, url, message, "
            "turn, outcome, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
            "?10, ?10) ON CONFLICT (worktree_id, kind, forge_id) DO NOTHING");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    static const char *keys[] = {"id", "worktreeId", "kind", "forgeId", "name", "url", "message"};
    for (size_t i = 0; i < AD_ARRAY_LEN(keys); i++) {
        ad_store_bind_text(s, (int)i + 1, ad_args_str(args, keys[i]));
    }
    ad_db_bind_int64(s, 8, ad_args_int(args, "turn", 0));
    ad_store_bind_text(s, 9, ad_args_str(args, "outcome"));
    ad_db_bind_int64(s, 10, ad_args_int(args, "now", 0));
    int e = ad_store_step_done(db, s);
    if (e != 0) {
        return e;
    }
    /* added: the row holds this id (a job run twice finds its own row). */
    s = ad_store_stmt(db, "SELECT " ITEM_COLS " FROM pr_loop_items WHERE worktree_id = ?1 AND "
                          "kind = ?2 AND forge_id = ?3");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "worktreeId"));
    ad_store_bind_text(s, 2, ad_args_str(args, "kind"));
    ad_store_bind_text(s, 3, ad_args_str(args, "forgeId"));
    json_t *item = NULL;
    e = ad_store_one_row(db, s, item_row, &item);
    if (e == 0) {
        const char *id = json_string_value(json_object_get(item, "id"));
        bool added = id != NULL && strcmp(id, ad_args_str(args, "id")) == 0;
        *result = json_pack("{s:o, s:b}", "item", item, "added", added);
    }
    return e;
}

int ad_store_op_prloop_item_set(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s = ad_store_stmt(
        db, "UPDATE pr_loop_items SET outcome = ?2, message_id = COALESCE(?3, message_id), "
            "run_id = COALESCE(?4, run_id), updated_at = ?5 WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "id"));
    ad_store_bind_text(s, 2, ad_args_str(args, "outcome"));
    ad_store_bind_text(s, 3, ad_args_str(args, "messageId"));
    ad_store_bind_text(s, 4, ad_args_str(args, "runId"));
    ad_db_bind_int64(s, 5, ad_args_int(args, "now", 0));
    int e = ad_store_step_done(db, s);
    if (e == 0) {
        *result = json_object();
    }
    return e;
}

int ad_store_prloop_get(ad_store_t *st, const char *worktree_id, json_t **out)
{
    return read_loop(ad_store_rdb(st), worktree_id, out);
}

int ad_store_prloop_items(ad_store_t *st, const char *worktree_id, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT " ITEM_COLS " FROM pr_loop_items WHERE "
                                        "worktree_id = ?1 ORDER BY created_at DESC, id DESC "
                                        "LIMIT " STR(AD_PRLOOP_ITEMS_MAX));
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, worktree_id);
    return ad_store_all_rows(db, s, item_row, out);
}

int ad_store_prloop_active(ad_store_t *st, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s =
        ad_store_stmt(db, "SELECT " LOOP_COLS " FROM pr_loops WHERE enabled = 1 ORDER BY "
                          "created_at LIMIT " STR(AD_PRLOOP_ACTIVE_MAX));
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    return ad_store_all_rows(db, s, loop_row, out);
}

bool ad_store_prloop_has_item(ad_store_t *st, const char *worktree_id, const char *kind,
                              const char *forge_id)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT 1 FROM pr_loop_items WHERE worktree_id = ?1 AND "
                                        "kind = ?2 AND forge_id = ?3");
    if (s == NULL) {
        return false;
    }
    ad_store_bind_text(s, 1, worktree_id);
    ad_store_bind_text(s, 2, kind);
    ad_store_bind_text(s, 3, forge_id);
    bool has = ad_db_step(s) == AD_DB_ROW;
    ad_db_reset(s);
    return has;
}
