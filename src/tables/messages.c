/* SPDX-License-Identifier: MIT */
/*
 * Messages: insertion and keyset pagination, newest first (an agent's) or
 * oldest first (a run's). The cursor is the (created_at, id) of the last
 * message of a page, so messages that arrive meanwhile (always newer) never
 * shift later pages: no message is skipped or repeated.
 */
#include "store/table.h"
#include "tables/messages.h"
#include "tables/tables_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_COLS                                                                                   \
    "id, agent_id, run_id, role, content, token_count, tool_name, tool_input, tool_output, "       \
    "is_complete, is_error, created_at"

static const char SQL_MSG_FIRST[] = "SELECT " MSG_COLS " FROM messages WHERE agent_id = ?1 "
                                    "ORDER BY created_at DESC, id DESC LIMIT ?2";
static const char SQL_MSG_BEFORE[] = "SELECT " MSG_COLS " FROM messages WHERE agent_id = ?1 "
                                     "AND (created_at, id) < (?3, ?4) "
                                     "ORDER BY created_at DESC, id DESC LIMIT ?2";

/* A cursor is "<created_at ms>:<message id>". A bare message id is accepted
 * too (looked up). */
static int parse_cursor(ad_db_t *db, const char *agent_id, const char *c, int64_t *ms,
                        const char **id)
{
    if (ad_id_valid(c, "msg")) {
        ad_db_stmt_t *s = ad_store_stmt(db, "SELECT created_at FROM messages WHERE id = ?1 AND "
                                            "agent_id = ?2");
        if (s == NULL) {
            return AD_EINTERNAL;
        }
        ad_db_bind_text(s, 1, c, -1, AD_DB_TRANSIENT);
        ad_db_bind_text(s, 2, agent_id, -1, AD_DB_TRANSIENT);
        int rc = ad_db_step(s);
        int e = 0;
        if (rc == AD_DB_ROW) {
            *ms = ad_db_column_int64(s, 0);
            *id = c;
        } else {
            e = rc == AD_DB_DONE ? AD_EINVAL : ad_store_rc(db, rc);
        }
        ad_db_reset(s);
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

/* A page's text stops growing past this (a row already written stays
 * whole): a page of 200 messages of up to AD_STORE_MESSAGE_MAX bytes each
 * would otherwise be gigabytes. The page then ends early, with hasMore and a
 * cursor, so nothing is skipped. */
#define PAGE_TEXT_SOFT (16u << 20)

/* Up to limit rows of s (bound for limit + 1, reset here) as a page's JSON
 * text appended to out: {messages, hasMore, nextCursor} with the cursor of
 * its last row. Written row by row from the statement, no json_t (issue #38,
 * F2: building and dumping the tree was most of a page's cost). */
static int page_rows(ad_db_t *db, ad_db_stmt_t *s, int limit, ad_buf_t *out)
{
    bool more = false;
    char cursor[AD_ID_MAX + 24] = "";
    ad_store_row_plan_t plan = {.n = -1};
    size_t start = out->len;
    int n = 0;
    int rc = AD_DB_DONE;
    int err = ad_buf_puts(out, "{\"messages\":[");
    while (err == 0 && (rc = ad_db_step(s)) == AD_DB_ROW) {
        if (n == limit || out->len - start >= PAGE_TEXT_SOFT) {
            more = true;
            break;
        }
        if (plan.n < 0) { /* PostgreSQL names the columns once the statement ran */
            ad_store_row_plan(s, NULL, NULL, &plan);
        }
        err = n > 0 ? ad_buf_putc(out, ',') : 0;
        err = err ? err : ad_store_row_text(s, &plan, NULL, out);
        snprintf(cursor, sizeof(cursor), "%lld:%s", (long long)ad_db_column_int64(s, 11),
                 (const char *)ad_db_column_text(s, 0));
        n++;
    }
    ad_db_reset(s);
    if (err != 0) {
        return err;
    }
    if (rc != AD_DB_ROW && rc != AD_DB_DONE) {
        return ad_store_rc(db, rc);
    }
    err = ad_buf_puts(out, more ? "],\"hasMore\":true,\"nextCursor\":"
                                : "],\"hasMore\":false,\"nextCursor\":null}");
    if (err == 0 && more) {
        err = ad_json_string(out, cursor, strlen(cursor));
        err = err ? err : ad_buf_putc(out, '}');
    }
    return err;
}

int ad_store_message_page_text(ad_store_t *st, const char *agent_id, int limit, const char *before,
                               ad_buf_t *out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT 1 FROM agents WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_text(s, 1, agent_id, -1, AD_DB_TRANSIENT);
    int rc = ad_db_step(s);
    ad_db_reset(s);
    if (rc != AD_DB_ROW) {
        return rc == AD_DB_DONE ? AD_ENOENT : ad_store_rc(db, rc);
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
    ad_db_bind_text(s, 1, agent_id, -1, AD_DB_TRANSIENT);
    ad_db_bind_int(s, 2, limit + 1);
    if (before != NULL) {
        ad_db_bind_int64(s, 3, cms);
        ad_db_bind_text(s, 4, cid, -1, AD_DB_TRANSIENT);
    }
    return page_rows(db, s, limit, out);
}

/* A run's messages lie in its agent's between the run's start and end (an
 * agent runs one run at a time), so the agent's index reads them in order
 * with a scan bounded by the run's span; the last batch of a run may be
 * written a moment after its end. PostgreSQL's planner takes agent_id and
 * run_id for independent unless told (migration 3080's statistics), and a
 * plan made for any run (the generic plan a prepared statement turns to
 * after five runs) reads the whole run by messages_by_run and sorts it:
 * 20 ms for a run of 25,000 messages instead of 0.1 ms (bench/README.md,
 * F2 on PostgreSQL). There the statement is planned for its values at
 * every call (uncached). */
const char ad_sql_run_messages[] =
    "SELECT " MSG_COLS " FROM messages WHERE agent_id = ?1 AND (created_at, id) > (?3, ?4) AND "
    "created_at <= ?5 AND run_id = ?6 ORDER BY created_at, id LIMIT ?2";
#define RUN_TAIL_MS 600000

int ad_store_run_messages_text(ad_store_t *st, const char *run_id, int limit, const char *after,
                               ad_buf_t *out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT agent_id, started_at, ended_at FROM runs WHERE "
                                        "id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, run_id);
    int rc = ad_db_step(s);
    if (rc != AD_DB_ROW) {
        ad_db_reset(s);
        return rc == AD_DB_DONE ? AD_ENOENT : ad_store_rc(db, rc);
    }
    char agent[AD_ID_MAX];
    snprintf(agent, sizeof(agent), "%s", (const char *)ad_db_column_text(s, 0));
    int64_t from = ad_db_column_int64(s, 1) - 1;
    int64_t to =
        ad_db_column_type(s, 2) == AD_DB_NULL ? INT64_MAX : ad_db_column_int64(s, 2) + RUN_TAIL_MS;
    ad_db_reset(s);
    const char *cid = "";
    if (after != NULL && parse_cursor(db, agent, after, &from, &cid) != 0) {
        return AD_EINVAL;
    }
    bool planned = ad_db_is_pg(db);
    if (planned) {
        rc = ad_db_prepare_v2(db, ad_sql_run_messages, -1, &s, NULL);
        if (rc != AD_DB_OK) {
            return ad_store_rc(db, rc);
        }
    } else if ((s = ad_store_stmt(db, ad_sql_run_messages)) == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, agent);
    ad_db_bind_int(s, 2, limit + 1);
    ad_db_bind_int64(s, 3, from);
    ad_db_bind_text(s, 4, cid, -1, AD_DB_TRANSIENT);
    ad_db_bind_int64(s, 5, to);
    ad_store_bind_text(s, 6, run_id);
    int e = page_rows(db, s, limit, out);
    if (planned) {
        ad_db_finalize(s);
    }
    return e;
}

int ad_store_message_page(ad_store_t *st, const char *agent_id, int limit, const char *before,
                          json_t **out)
{
    ad_buf_t b;
    ad_buf_init(&b, AD_STORE_PAGE_TEXT_MAX);
    return ad_store_text_tree(ad_store_message_page_text(st, agent_id, limit, before, &b), &b, out);
}

int ad_store_run_messages(ad_store_t *st, const char *run_id, int limit, const char *after,
                          json_t **out)
{
    ad_buf_t b;
    ad_buf_init(&b, AD_STORE_PAGE_TEXT_MAX);
    return ad_store_text_tree(ad_store_run_messages_text(st, run_id, limit, after, &b), &b, out);
}

static int bind_opt(ad_db_stmt_t *s, int idx, const char *v)
{
    return v != NULL ? ad_db_bind_text(s, idx, v, -1, AD_DB_STATIC) : ad_db_bind_null(s, idx);
}

int ad_store_message_insert(ad_store_tx_t *tx, ad_store_message_t *m)
{
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT a.worktree_id, w.workspace_id FROM agents a "
                                        "JOIN worktrees w ON w.id = a.worktree_id WHERE a.id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    bind_opt(s, 1, m->agent_id);
    int rc = ad_db_step(s);
    if (rc != AD_DB_ROW) {
        ad_db_reset(s);
        return rc == AD_DB_DONE ? AD_ENOENT : ad_store_rc(db, rc);
    }
    snprintf(m->worktree_id, sizeof(m->worktree_id), "%s", (const char *)ad_db_column_text(s, 0));
    snprintf(m->workspace_id, sizeof(m->workspace_id), "%s", (const char *)ad_db_column_text(s, 1));
    ad_db_reset(s);

    s = ad_store_stmt(db, "INSERT INTO messages (id, agent_id, run_id, role, content, "
                          "token_count, tool_name, tool_input, tool_output, is_complete, "
                          "created_at, is_error, hold_out, hold_err) VALUES (?1, ?2, ?3, ?4, "
                          "?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    /* Every string outlives the step: bound without copies, and the
     * bindings are cleared before returning. */
    bind_opt(s, 1, m->id);
    bind_opt(s, 2, m->agent_id);
    bind_opt(s, 3, m->run_id);
    bind_opt(s, 4, m->role);
    bind_opt(s, 5, m->content != NULL ? m->content : "");
    ad_db_bind_int64(s, 6, m->token_count);
    bind_opt(s, 7, m->tool_name);
    bind_opt(s, 8, m->tool_input);
    bind_opt(s, 9, m->tool_output);
    ad_db_bind_int(s, 10, m->is_complete ? 1 : 0);
    ad_db_bind_int64(s, 11, m->now);
    ad_db_bind_int(s, 12, m->is_error ? 1 : 0);
    if (m->hold_out > 0) {
        ad_db_bind_int64(s, 13, m->hold_out);
    }
    if (m->hold_err > 0) {
        ad_db_bind_int64(s, 14, m->hold_err);
    }
    rc = ad_db_step(s);
    ad_db_reset(s);
    ad_db_clear_bindings(s);
    if (rc != AD_DB_DONE) {
        return ad_store_rc(db, rc);
    }
    return ad_store_run_hold_note(db, m->run_id, m->hold_out, m->hold_err);
}

json_t *ad_store_message_json(const ad_store_message_t *m)
{
    /* Same keys, order and conversions as ad_store_row_json over MSG_COLS:
     * NULL columns left out, is_complete a boolean, created_at RFC 3339. */
    char ts[AD_TIME_MAX];
    ad_time_format(m->now, ts);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(m->id != NULL ? m->id : ""));
    json_object_set_new(o, "agentId", json_string(m->agent_id != NULL ? m->agent_id : ""));
    if (m->run_id != NULL) {
        json_object_set_new(o, "runId", json_string(m->run_id));
    }
    json_object_set_new(o, "role", json_string(m->role != NULL ? m->role : "user"));
    json_t *c = json_string(m->content != NULL ? m->content : "");
    json_object_set_new(o, "content", c != NULL ? c : json_string(""));
    json_object_set_new(o, "tokenCount", json_integer(m->token_count));
    const char *opt_keys[3] = {"toolName", "toolInput", "toolOutput"};
    const char *opt_vals[3] = {m->tool_name, m->tool_input, m->tool_output};
    for (int i = 0; i < 3; i++) {
        if (opt_vals[i] != NULL) {
            json_t *v = json_string(opt_vals[i]);
            json_object_set_new(o, opt_keys[i], v != NULL ? v : json_string(""));
        }
    }
    json_object_set_new(o, "isComplete", json_boolean(m->is_complete));
    json_object_set_new(o, "isError", json_boolean(m->is_error));
    json_object_set_new(o, "createdAt", json_string(ts));
    return o;
}

static int put_field(ad_buf_t *b, const char *key, const char *v)
{
    int rc = ad_buf_puts(b, key);
    return rc != 0 ? rc : ad_json_string(b, v, strlen(v));
}

int ad_store_message_text(const ad_store_message_t *m, ad_buf_t *out)
{
    char ts[AD_TIME_MAX];
    ad_time_format(m->now, ts);
    int rc = put_field(out, "{\"id\":", m->id != NULL ? m->id : "");
    rc = rc ? rc : put_field(out, ",\"agentId\":", m->agent_id != NULL ? m->agent_id : "");
    if (m->run_id != NULL) {
        rc = rc ? rc : put_field(out, ",\"runId\":", m->run_id);
    }
    rc = rc ? rc : put_field(out, ",\"role\":", m->role != NULL ? m->role : "user");
    rc = rc ? rc : put_field(out, ",\"content\":", m->content != NULL ? m->content : "");
    rc = rc ? rc : ad_buf_printf(out, ",\"tokenCount\":%lld", (long long)m->token_count);
    if (m->tool_name != NULL) {
        rc = rc ? rc : put_field(out, ",\"toolName\":", m->tool_name);
    }
    if (m->tool_input != NULL) {
        rc = rc ? rc : put_field(out, ",\"toolInput\":", m->tool_input);
    }
    if (m->tool_output != NULL) {
        rc = rc ? rc : put_field(out, ",\"toolOutput\":", m->tool_output);
    }
    rc = rc ? rc
            : ad_buf_puts(out, m->is_complete ? ",\"isComplete\":true" : ",\"isComplete\":false");
    rc = rc ? rc : ad_buf_puts(out, m->is_error ? ",\"isError\":true" : ",\"isError\":false");
    rc = rc ? rc : put_field(out, ",\"createdAt\":", ts);
    return rc ? rc : ad_buf_putc(out, '}');
}

int ad_store_op_message_insert(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    json_t *complete = json_object_get(args, "isComplete");
    ad_store_message_t m = {
        .id = ad_args_str(args, "id"),
        .agent_id = ad_args_str(args, "agentId"),
        .run_id = ad_args_str(args, "runId"),
        .role = ad_args_str(args, "role"),
        .content = ad_args_str(args, "content"),
        .tool_name = ad_args_str(args, "toolName"),
        .tool_input = ad_args_str(args, "toolInput"),
        .tool_output = ad_args_str(args, "toolOutput"),
        .token_count = ad_args_int(args, "tokenCount", 0),
        .is_complete = complete == NULL || json_is_true(complete),
        .is_error = json_is_true(json_object_get(args, "isError")),
        .now = ad_args_int(args, "now", 0),
    };
    int e = ad_store_message_insert(tx, &m);
    if (e != 0) {
        return e;
    }
    *result = json_pack("{s:o, s:s, s:s}", "message", ad_store_message_json(&m), "worktreeId",
                        m.worktree_id, "workspaceId", m.workspace_id);
    return 0;
}

/* toolInput/toolOutput: a string (borrowed from body), or any JSON value
 * kept as its text (*text, owned). */
static int text_or_json(const json_t *body, const char *key, const char **out, char **text,
                        ad_field_err_t *e)
{
    json_t *v = json_object_get(body, key);
    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    if (json_is_string(v)) {
        *out = json_string_value(v);
        return 0;
    }
    *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (*text == NULL) {
        return ad_field_fail(e, key, "must be a string or JSON");
    }
    *out = *text;
    return 0;
}

int ad_store_message_from(const json_t *body, ad_store_message_t *m, char *texts[2],
                          ad_field_err_t *e)
{
    const char *role = NULL;
    bool has_tokens = false;
    m->is_complete = true;
    if (ad_field_str(body, "content", true, AD_STORE_MESSAGE_MAX, &m->content, e) != 0 ||
        ad_field_enum(body, "role", false, "user,assistant,system,tool", &role, e) != 0 ||
        ad_field_str(body, "toolName", false, 200, &m->tool_name, e) != 0 ||
        ad_field_str(body, "runId", false, AD_ID_MAX, &m->run_id, e) != 0 ||
        ad_field_int(body, "tokenCount", false, 0, INT64_C(1) << 40, &m->token_count, &has_tokens,
                     e) != 0 ||
        ad_field_bool(body, "isComplete", &m->is_complete, NULL, e) != 0 ||
        text_or_json(body, "toolInput", &m->tool_input, &texts[0], e) != 0 ||
        text_or_json(body, "toolOutput", &m->tool_output, &texts[1], e) != 0) {
        return AD_EINVAL;
    }
    m->role = role != NULL ? role : "user";
    return 0;
}
