/* SPDX-License-Identifier: MIT */
/*
 * Messages: insertion and keyset pagination, newest first. The cursor is
 * the (created_at, id) of the last message of a page, so messages that
 * arrive meanwhile (always newer) never shift later pages: no message is
 * skipped or repeated.
 */
#include "store/store.h"
#include "store/store_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MSG_COLS                                                                                   \
    "id, agent_id, run_id, role, content, token_count, tool_name, tool_input, tool_output, "       \
    "is_complete, created_at"

static const char SQL_MSG_FIRST[] = "SELECT " MSG_COLS " FROM messages WHERE agent_id = ?1 "
                                    "ORDER BY created_at DESC, id DESC LIMIT ?2";
static const char SQL_MSG_BEFORE[] = "SELECT " MSG_COLS " FROM messages WHERE agent_id = ?1 "
                                     "AND (created_at, id) < (?3, ?4) "
                                     "ORDER BY created_at DESC, id DESC LIMIT ?2";
static const char SQL_MSG_GET[] = "SELECT " MSG_COLS " FROM messages WHERE id = ?1";

/* A cursor is "<created_at ms>:<message id>". A bare message id is accepted
 * too (looked up). */
static int parse_cursor(sqlite3 *db, const char *agent_id, const char *c, int64_t *ms,
                        const char **id)
{
    if (ad_id_valid(c, "msg")) {
        sqlite3_stmt *s = ad_store_stmt(db, "SELECT created_at FROM messages WHERE id = ?1 AND "
                                            "agent_id = ?2");
        if (s == NULL) {
            return AD_EINTERNAL;
        }
        sqlite3_bind_text(s, 1, c, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 2, agent_id, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(s);
        int e = 0;
        if (rc == SQLITE_ROW) {
            *ms = sqlite3_column_int64(s, 0);
            *id = c;
        } else {
            e = rc == SQLITE_DONE ? AD_EINVAL : ad_store_rc(db, rc);
        }
        sqlite3_reset(s);
        return e;
    }
    const char *colon = strchr(c, ':');
    if (colon == NULL || colon == c || colon - c > 15 || !ad_id_valid(colon + 1, "msg")) {
        return AD_EINVAL;
    }
    int64_t v = 0;
    for (const char *p = c; p < colon; p++) {
        if (*p < '0' || *p > '9') {
            return AD_EINVAL;
        }
        v = v * 10 + (*p - '0');
    }
    *ms = v;
    *id = colon + 1;
    return 0;
}

int ad_store_message_page(ad_store_t *st, const char *agent_id, int limit, const char *before,
                          json_t **out)
{
    sqlite3 *db = ad_store_rdb(st);
    sqlite3_stmt *s = ad_store_stmt(db, "SELECT 1 FROM agents WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    sqlite3_bind_text(s, 1, agent_id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW) {
        return rc == SQLITE_DONE ? AD_ENOENT : ad_store_rc(db, rc);
    }
    int64_t cms = 0;
    const char *cid = NULL;
    if (before != NULL) {
        int e = parse_cursor(db, agent_id, before, &cms, &cid);
        if (e != 0) {
            return e;
        }
    }
    s = ad_store_stmt(db, before != NULL ? SQL_MSG_BEFORE : SQL_MSG_FIRST);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    sqlite3_bind_text(s, 1, agent_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 2, limit + 1);
    if (before != NULL) {
        sqlite3_bind_int64(s, 3, cms);
        sqlite3_bind_text(s, 4, cid, -1, SQLITE_TRANSIENT);
    }
    json_t *arr = json_array();
    bool more = false;
    char cursor[AD_ID_MAX + 24] = "";
    int n = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == limit) {
            more = true;
            break;
        }
        json_array_append_new(arr, ad_store_row_json(s, NULL, NULL));
        snprintf(cursor, sizeof(cursor), "%lld:%s", (long long)sqlite3_column_int64(s, 10),
                 (const char *)sqlite3_column_text(s, 0));
        n++;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        json_decref(arr);
        return ad_store_rc(db, rc);
    }
    *out = json_pack("{s:o, s:b, s:o}", "messages", arr, "hasMore", more, "nextCursor",
                     more ? json_string(cursor) : json_null());
    return 0;
}

int ad_store_op_message_insert(sqlite3 *db, json_t *args, json_t **result)
{
    const char *agent = ad_args_str(args, "agentId");
    sqlite3_stmt *s = ad_store_stmt(db, "SELECT a.worktree_id, w.workspace_id FROM agents a "
                                        "JOIN worktrees w ON w.id = a.worktree_id WHERE a.id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, agent);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(s);
        return rc == SQLITE_DONE ? AD_ENOENT : ad_store_rc(db, rc);
    }
    char wt[AD_ID_MAX], ws[AD_ID_MAX];
    snprintf(wt, sizeof(wt), "%s", (const char *)sqlite3_column_text(s, 0));
    snprintf(ws, sizeof(ws), "%s", (const char *)sqlite3_column_text(s, 1));
    sqlite3_reset(s);

    s = ad_store_stmt(db, "INSERT INTO messages (id, agent_id, run_id, role, content, "
                          "token_count, tool_name, tool_input, tool_output, is_complete, "
                          "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "id"));
    ad_store_bind_text(s, 2, agent);
    ad_store_bind_text(s, 3, ad_args_str(args, "runId"));
    ad_store_bind_text(s, 4, ad_args_str(args, "role"));
    const char *content = ad_args_str(args, "content");
    ad_store_bind_text(s, 5, content != NULL ? content : "");
    sqlite3_bind_int64(s, 6, ad_args_int(args, "tokenCount", 0));
    ad_store_bind_text(s, 7, ad_args_str(args, "toolName"));
    ad_store_bind_text(s, 8, ad_args_str(args, "toolInput"));
    ad_store_bind_text(s, 9, ad_args_str(args, "toolOutput"));
    json_t *complete = json_object_get(args, "isComplete");
    sqlite3_bind_int(s, 10, complete == NULL || json_is_true(complete) ? 1 : 0);
    sqlite3_bind_int64(s, 11, ad_args_int(args, "now", 0));
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        return ad_store_rc(db, rc);
    }
    s = ad_store_stmt(db, SQL_MSG_GET);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "id"));
    json_t *m = NULL;
    int e = ad_store_one_json(db, s, NULL, NULL, &m);
    if (e != 0) {
        return e;
    }
    *result = json_pack("{s:o, s:s, s:s}", "message", m, "worktreeId", wt, "workspaceId", ws);
    return 0;
}
