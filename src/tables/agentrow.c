/* SPDX-License-Identifier: MIT */
/*
 * The agent row (schema/rows.def, row agent; docs/internals/rows.md): the
 * columns of AD_AGENT_COLS (tables_int.h) into an ad_row_agent_t, and the
 * reads that hand one out. The JSON the API answers for an agent is
 * ad_row_agent_encode's of it.
 */
#include "core/core.h"
#include "rows.h"
#include "tables/agents.h"
#include "tables/tables_int.h"

#include <stdlib.h>
#include <string.h>

/* AD_AGENT_COLS, in its order. */
enum {
    C_ID,
    C_WORKTREE_ID,
    C_NAME,
    C_STATUS,
    C_CONTEXT_LEVEL,
    C_MODE,
    C_PERMISSIONS,
    C_DISPLAY_ORDER,
    C_PID,
    C_SESSION_ID,
    C_CREATED_AT,
    C_UPDATED_AT,
    C_STARTED_AT,
    C_STOPPED_AT,
    C_DELETED_AT,
    C_PARENT_AGENT_ID,
    C_EXECUTOR,
    C_CREW_ID,
    C_STATE,
    C_WORKTREE_VANISHED_AT,
    C_ORG_ID,
    C_STATUS_REASON,
    C_COST_USD,
    C_TOTAL_TOKENS,
    C_SUMMARY,
    AGENT_COLS /* the columns read */
};
/* The row's fields no column holds: stopping (the runner's, while a stop is
 * under way: ad_runner_agent_row_live), resumeAt (the runner's, from
 * state.suspended: src/run/suspend.c), stalled (the runner's, while its
 * run is stalled: src/run/control.c) and sandboxEffective (GET
 * /api/agents/:id's). */
#define AGENT_FIELDS_ELSEWHERE 4
_Static_assert(AGENT_COLS + AGENT_FIELDS_ELSEWHERE == AD_ROW_AGENT_FIELDS,
               "schema/rows.def's agent row and the agents family differ: for a new field add "
               "its column to AD_AGENT_COLS (src/tables/tables_int.h) and AG_TEXT_COLS "
               "(src/tables/agents.c), a C_ constant and a line of ad_agent_from_stmt() here "
               "(src/tables/agentrow.c), and a migration that adds the column "
               "(src/store/migrations); a field no column holds counts in "
               "AGENT_FIELDS_ELSEWHERE");

static bool col_null(ad_db_stmt_t *s, int i)
{
    return ad_db_column_type(s, i) == AD_DB_NULL;
}

/* A text column (NULL: NULL), copied. */
static char *col_str(ad_db_stmt_t *s, int i)
{
    return col_null(s, i) ? NULL : ad_xstrdup((const char *)ad_db_column_text(s, i));
}

/* An integer column that may be NULL: *has says which. */
static int64_t col_opt(ad_db_stmt_t *s, int i, bool *has)
{
    *has = !col_null(s, i);
    return *has ? ad_db_column_int64(s, i) : 0;
}

/* A JSON column read (NULL for SQL NULL; JSON null for text that does not
 * read, as the rows always were). */
static json_t *col_json(ad_db_stmt_t *s, int i)
{
    if (col_null(s, i)) {
        return NULL;
    }
    json_t *v = json_loads((const char *)ad_db_column_text(s, i), JSON_DECODE_ANY, NULL);
    return v != NULL ? v : json_null();
}

/* agents.status_reason {code, text, at, ref?} (migration 2470), or NULL. */
static ad_row_status_reason_t *col_reason(ad_db_stmt_t *s, int i)
{
    json_t *j = col_json(s, i);
    if (j == NULL || json_is_null(j)) {
        json_decref(j);
        return NULL;
    }
    ad_row_status_reason_t *r = ad_xcalloc(1, sizeof(*r));
    char err[128];
    if (ad_row_status_reason_decode(j, r, err, sizeof(err)) != 0) {
        ad_log(AD_LOG_WARN, "store", "agent status_reason does not read: %s", err);
        free(r);
        r = NULL;
    }
    json_decref(j);
    return r;
}

/* agent_summaries.summary {text, at, turn} (migration 3010), or NULL. */
static ad_row_agent_summary_t *col_summary(ad_db_stmt_t *s, int i)
{
    json_t *j = col_json(s, i);
    if (j == NULL || json_is_null(j)) {
        json_decref(j);
        return NULL;
    }
    ad_row_agent_summary_t *m = ad_xcalloc(1, sizeof(*m));
    char err[128];
    if (ad_row_agent_summary_decode(j, m, err, sizeof(err)) != 0) {
        ad_log(AD_LOG_WARN, "store", "agent summary does not read: %s", err);
        ad_row_agent_summary_cleanup(m);
        free(m);
        m = NULL;
    }
    json_decref(j);
    return m;
}

int ad_agent_from_stmt(ad_db_stmt_t *s, ad_row_agent_t *out)
{
    memset(out, 0, sizeof(*out));
    const char *status = (const char *)ad_db_column_text(s, C_STATUS);
    const char *mode = (const char *)ad_db_column_text(s, C_MODE);
    const char *executor = (const char *)ad_db_column_text(s, C_EXECUTOR);
    if (ad_row_agent_status_parse(status, &out->status) != 0 ||
        ad_row_agent_mode_parse(mode, &out->mode) != 0 ||
        ad_row_executor_parse(executor, &out->executor) != 0) {
        ad_log(AD_LOG_WARN, "store", "agent row with an unknown word status=%s mode=%s executor=%s",
               status != NULL ? status : "", mode != NULL ? mode : "",
               executor != NULL ? executor : "");
        return AD_EINTERNAL;
    }
    out->id = col_str(s, C_ID);
    out->worktree_id = col_str(s, C_WORKTREE_ID);
    out->name = col_str(s, C_NAME);
    out->context_level = ad_db_column_int64(s, C_CONTEXT_LEVEL);
    out->permissions = col_json(s, C_PERMISSIONS);
    out->display_order = ad_db_column_int64(s, C_DISPLAY_ORDER);
    out->pid = col_opt(s, C_PID, &out->has_pid);
    out->session_id = col_str(s, C_SESSION_ID);
    out->created_at = ad_db_column_int64(s, C_CREATED_AT);
    out->updated_at = ad_db_column_int64(s, C_UPDATED_AT);
    out->started_at = col_opt(s, C_STARTED_AT, &out->has_started_at);
    out->stopped_at = col_opt(s, C_STOPPED_AT, &out->has_stopped_at);
    out->deleted_at = col_opt(s, C_DELETED_AT, &out->has_deleted_at);
    out->parent_agent_id = col_str(s, C_PARENT_AGENT_ID);
    out->crew_id = col_str(s, C_CREW_ID);
    out->state = col_json(s, C_STATE);
    out->worktree_vanished_at = col_opt(s, C_WORKTREE_VANISHED_AT, &out->has_worktree_vanished_at);
    out->org_id = col_str(s, C_ORG_ID);
    out->status_reason = col_reason(s, C_STATUS_REASON);
    out->cost_usd = ad_db_column_double(s, C_COST_USD);
    out->total_tokens = ad_db_column_int64(s, C_TOTAL_TOKENS);
    out->summary = col_summary(s, C_SUMMARY);
    return 0;
}

/* The agent id by sql (AD_AGENT_COLS, then one JSON text column when ws is
 * not NULL): 0, AD_ENOENT or an error; *ws that column parsed, or NULL. */
static int row_read(ad_db_t *db, const char *sql, const char *id, ad_row_agent_t *out, json_t **ws)
{
    memset(out, 0, sizeof(*out));
    ad_db_stmt_t *s = ad_store_stmt(db, sql);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    int rc = ad_db_step(s);
    int e = rc == AD_DB_ROW    ? ad_agent_from_stmt(s, out)
            : rc == AD_DB_DONE ? AD_ENOENT
                               : ad_store_rc(db, rc);
    if (e == 0 && ws != NULL && !col_null(s, AGENT_COLS)) {
        *ws = json_loadb((const char *)ad_db_column_text(s, AGENT_COLS),
                         (size_t)ad_db_column_bytes(s, AGENT_COLS), 0, NULL);
    }
    ad_db_reset(s);
    return e;
}

int ad_agent_row_read(ad_db_t *db, const char *id, ad_row_agent_t *out)
{
    return row_read(db, "SELECT " AD_AGENT_COLS " FROM agents WHERE id = ?1", id, out, NULL);
}

int ad_store_agent_row_sandbox(ad_store_t *st, const char *id, ad_row_agent_t *out,
                               json_t **ws_sandbox)
{
    *ws_sandbox = NULL;
    return row_read(ad_store_rdb(st),
                    "SELECT " AD_AGENT_COLS ", (SELECT w.sandbox FROM worktrees t JOIN workspaces "
                    "w ON w.id = t.workspace_id WHERE t.id = agents.worktree_id AND w.removed_at "
                    "IS NULL) AS ws_sandbox FROM agents WHERE id = ?1",
                    id, out, ws_sandbox);
}

int ad_agent_json_read(ad_db_t *db, const char *id, json_t **out)
{
    ad_row_agent_t a;
    int e = ad_agent_row_read(db, id, &a);
    if (e == 0) {
        *out = ad_row_agent_encode(&a);
    }
    ad_row_agent_cleanup(&a);
    return e;
}

int ad_store_agent_row(ad_store_t *st, const char *id, ad_row_agent_t *out)
{
    return ad_agent_row_read(ad_store_rdb(st), id, out);
}

int ad_store_agent_get(ad_store_t *st, const char *id, json_t **out)
{
    return ad_agent_json_read(ad_store_rdb(st), id, out);
}
