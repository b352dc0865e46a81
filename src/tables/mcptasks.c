/* SPDX-License-Identifier: MIT */
/*
 * Store side of MCP tasks (issue #36, migration 2670): a task is a run
 * an MCP host started as one; its row keeps the org it is bound to and,
 * once it ended, its status and tool result. The protocol is src/mcp's.
 */
#include "store/table.h"
#include "tables/mcptasks.h"

#include <string.h>

#define TASK_COLS                                                                                  \
    "id AS taskId, org_id AS orgId, agent_id AS agentId, created_at AS createdAt, "                \
    "updated_at AS updatedAt, status, status_message AS statusMessage, result"

int ad_store_op_mcp_task_insert(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s = ad_store_stmt(db, "INSERT INTO mcp_tasks (id, org_id, agent_id, created_at, "
                                        "updated_at) VALUES (?1, ?2, ?3, ?4, ?4)");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "id"));
    ad_store_bind_text(s, 2, ad_args_str(args, "orgId"));
    ad_store_bind_text(s, 3, ad_args_str(args, "agentId"));
    ad_db_bind_int64(s, 4, ad_args_int(args, "now", 0));
    int e = ad_store_step_done(db, s);
    if (e == 0) {
        *result = json_incref(args);
    }
    return e;
}

int ad_store_op_mcp_task_end(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s =
        ad_store_stmt(db, "UPDATE mcp_tasks SET status = ?2, status_message = ?3, result = ?4, "
                          "updated_at = ?5 WHERE id = ?1 AND status = 'working'");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    char *text = NULL;
    json_t *res = json_object_get(args, "result");
    if (res != NULL) {
        text = json_dumps(res, JSON_COMPACT);
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "id"));
    ad_store_bind_text(s, 2, ad_args_str(args, "status"));
    ad_store_bind_text(s, 3, ad_args_str(args, "statusMessage"));
    ad_store_bind_text(s, 4, text);
    ad_db_bind_int64(s, 5, ad_args_int(args, "now", 0));
    int e = ad_store_step_done(db, s);
    free(text);
    if (e == 0) {
        *result = json_pack("{s:b}", "changed", ad_db_changes(db) > 0);
    }
    return e;
}

int ad_store_mcp_task_get(ad_store_t *st, const char *id, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT " TASK_COLS " FROM mcp_tasks WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    int rc = ad_db_step(s);
    json_t *row = rc == AD_DB_ROW ? ad_store_row_json(s, "result", "statusMessage,result") : NULL;
    ad_db_reset(s);
    if (row == NULL) {
        return rc == AD_DB_ROW || rc == AD_DB_DONE ? AD_ENOENT : ad_store_rc(db, rc);
    }
    *out = row;
    return 0;
}

int ad_store_mcp_task_list(ad_store_t *st, const char *org, const char *after_id,
                           const char *status, int limit, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(
        db, "SELECT " TASK_COLS " FROM mcp_tasks WHERE (?1 = '' OR org_id = ?1) AND "
            "(?2 IS NULL OR (created_at, id) < (SELECT created_at, id FROM mcp_tasks WHERE id = "
            "?2)) AND (?3 IS NULL OR status = ?3) ORDER BY created_at DESC, id DESC LIMIT ?4");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org != NULL ? org : "");
    ad_store_bind_text(s, 2, after_id);
    ad_store_bind_text(s, 3, status);
    ad_db_bind_int(s, 4, limit > 0 && limit <= 1000 ? limit : 50);
    json_t *arr = json_array();
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(arr, ad_store_row_json(s, "result", "statusMessage,result"));
    }
    ad_db_reset(s);
    if (rc != AD_DB_DONE) {
        json_decref(arr);
        return ad_store_rc(db, rc);
    }
    *out = arr;
    return 0;
}
