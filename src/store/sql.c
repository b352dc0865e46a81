/* SPDX-License-Identifier: MIT */
/*
 * Read-only SQL for agents and scripts (issue #35): one SELECT over a fixed
 * set of views of the caller's organisation (runs, series, agents,
 * alert_firings, sweeps), on the thread pool, on a connection of its own.
 *
 * What keeps it to that, each on its own: the connection is opened
 * read-only; the views are TEMP views made before anything else, reading
 * main.* with the organisation written in (an id of [a-z0-9_]); then an
 * authorizer allows a SELECT, reads only through those views (a read's
 * "inner-most view" must be one of them: main.runs named directly, or
 * sqlite_master, is refused), and only the plain functions listed below
 * (no load_extension, readfile, fts3_tokenizer...); ATTACH, PRAGMA, every
 * write and DDL are refused; one statement only, and sqlite3_stmt_readonly
 * must agree. Bounds: the statement's text, every string or blob a
 * function makes (zeroblob, randomblob) at 1 MB (printf and format are not
 * listed: a width of 10^8 spins inside one call, where the progress handler
 * cannot stop it), a progress
 * handler that interrupts past the time bound (a recursive CTE that never
 * ends), and the rows and bytes of the answer.
 */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VIEW_ORG "'%s'" /* the organisation, written into each view */

static const char *const views[] = {"runs", "series", "agents", "alert_firings", "sweeps"};

/* Each view: the org placeholder is ORG_FILTER(alias). */
static const char VIEWS_SQL[] =
    "CREATE TEMP VIEW runs AS SELECT r.id, r.agent_id, a.name AS agent_name, "
    "coalesce(r.name, a.name) AS name, r.status, r.started_at, r.ended_at, r.duration_ms, "
    "r.exit_code, r.config, json_extract(r.config, '$.values') AS params, r.tags, "
    "r.run_group AS grp, r.notes, r.source, r.cost_usd, r.input_tokens, r.output_tokens, "
    "w.workspace_id FROM main.runs r JOIN main.agents a ON a.id = r.agent_id LEFT JOIN "
    "main.worktrees w ON w.id = a.worktree_id WHERE %s;"
    "CREATE TEMP VIEW series AS SELECT s.run_id, s.name, s.count, s.first_step, s.last_step, "
    "s.first_t AS first_time, s.last_t AS last_time, s.first_value, s.last_value, s.min_value, "
    "s.max_value FROM main.metric_series s JOIN main.runs r ON r.id = s.run_id JOIN main.agents "
    "a ON a.id = r.agent_id WHERE %s;"
    "CREATE TEMP VIEW agents AS SELECT a.id, a.name, a.executor, a.status, a.mode, "
    "w.workspace_id, a.worktree_id, a.created_at, a.updated_at FROM main.agents a LEFT JOIN "
    "main.worktrees w ON w.id = a.worktree_id WHERE a.deleted_at IS NULL AND %s;"
    "CREATE TEMP VIEW alert_firings AS SELECT f.id, f.rule_id, f.run_id, f.at, "
    "json_extract(f.data, '$.kind') AS kind, json_extract(f.data, '$.series') AS series, "
    "json_extract(f.data, '$.message') AS message, f.data FROM main.alert_firings f JOIN "
    "main.runs r ON r.id = f.run_id JOIN main.agents a ON a.id = r.agent_id WHERE %s;"
    "CREATE TEMP VIEW sweeps AS SELECT s.id, s.name, s.status, s.spec, "
    "json_extract(s.state, '$.best.value') AS best_value, json_extract(s.state, "
    "'$.best.runId') AS best_run_id, json_array_length(s.state, '$.trials') AS trials, "
    "s.created_at, s.updated_at FROM main.sweeps s WHERE %s;";

static const char *const functions[] = {
    "abs",
    "avg",
    "count",
    "max",
    "min",
    "sum",
    "total",
    "round",
    "coalesce",
    "ifnull",
    "iif",
    "nullif",
    "length",
    "lower",
    "upper",
    "substr",
    "substring",
    "instr",
    "trim",
    "ltrim",
    "rtrim",
    "replace",
    "typeof",
    "like",
    "glob",
    "hex",
    "quote",
    "group_concat",
    "date",
    "time",
    "datetime",
    "julianday",
    "strftime",
    "unixepoch",
    "json",
    "json_extract",
    "json_array",
    "json_object",
    "json_type",
    "json_valid",
    "json_array_length",
    "json_group_array",
    "json_group_object",
    "->",
    "->>",
    "exp",
    "ln",
    "log",
    "log10",
    "log2",
    "pow",
    "power",
    "sqrt",
    "floor",
    "ceil",
    "ceiling",
    "sign",
    "mod",
    "pi",
    "row_number",
    "rank",
    "dense_rank",
    "percent_rank",
    "cume_dist",
    "ntile",
    "lag",
    "lead",
    "first_value",
    "last_value",
    "nth_value",
    "unicode",
    "char",
    "random",
    "likelihood",
    "unlikely",
    "likely",
    "trunc",
};

typedef struct {
    /* in */
    char path[4096];
    char org[AD_ID_MAX];
    char *query;
    int64_t max_rows, max_ms;
    size_t max_bytes;
    /* out */
    json_t *out;
    char error[512];
    bool timeout;
    /* while it runs */
    uint64_t deadline_ns;
    bool views_made;
} sql_job_t;

static bool is_view(const char *name)
{
    for (size_t i = 0; name != NULL && i < AD_ARRAY_LEN(views); i++) {
        if (strcmp(name, views[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* What the query may do; the views' own creation is allowed before. */
static int authorize(void *ud, int action, const char *a, const char *b, const char *db,
                     const char *inner)
{
    sql_job_t *j = ud;
    AD_UNUSED(b);
    if (!j->views_made) {
        return SQLITE_OK;
    }
    switch (action) {
    case SQLITE_SELECT:
    case SQLITE_RECURSIVE: /* bounded by the time */
        return SQLITE_OK;
    case SQLITE_READ:
        /* through a view of ours, a view of ours itself (temp), or a CTE or
         * subquery of the statement (no database: what it reads was
         * authorized on its own) */
        if (is_view(inner) || db == NULL || (strcmp(db, "temp") == 0 && is_view(a))) {
            return SQLITE_OK;
        }
        return SQLITE_DENY;
    case SQLITE_FUNCTION:
        for (size_t i = 0; b != NULL && i < AD_ARRAY_LEN(functions); i++) {
            if (strcmp(b, functions[i]) == 0) {
                return SQLITE_OK;
            }
        }
        return SQLITE_DENY;
    default:
        return SQLITE_DENY; /* ATTACH, PRAGMA, writes, DDL, transactions */
    }
}

static int progress(void *ud)
{
    sql_job_t *j = ud;
    if (ad_mono_ns() > j->deadline_ns) {
        j->timeout = true;
        return 1;
    }
    return 0;
}

static bool org_ok(const char *org)
{
    for (const char *p = org; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) {
            return false;
        }
    }
    return true;
}

static int make_views(sqlite3 *db, const char *org, char *err, size_t errsz)
{
    char filter[160];
    if (org[0] == '\0') {
        snprintf(filter, sizeof(filter), "1");
    } else {
        snprintf(filter, sizeof(filter), "a.org_id = " VIEW_ORG, org);
    }
    char sweep_filter[160];
    if (org[0] == '\0') {
        snprintf(sweep_filter, sizeof(sweep_filter), "1");
    } else {
        snprintf(sweep_filter, sizeof(sweep_filter), "s.org_id = " VIEW_ORG, org);
    }
    size_t n = sizeof(VIEWS_SQL) + 5 * sizeof(filter);
    char *sql = ad_xmalloc(n);
    snprintf(sql, n, VIEWS_SQL, filter, filter, filter, filter, sweep_filter);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    free(sql);
    if (rc != SQLITE_OK) {
        snprintf(err, errsz, "the views could not be made: %s", msg != NULL ? msg : "?");
        sqlite3_free(msg);
        return AD_EINTERNAL;
    }
    return 0;
}

static json_t *cell(sqlite3_stmt *s, int i)
{
    switch (sqlite3_column_type(s, i)) {
    case SQLITE_INTEGER:
        return json_integer(sqlite3_column_int64(s, i));
    case SQLITE_FLOAT:
        return json_real(sqlite3_column_double(s, i));
    case SQLITE_TEXT: {
        const char *t = (const char *)sqlite3_column_text(s, i);
        json_t *v = json_stringn(t, (size_t)sqlite3_column_bytes(s, i));
        return v != NULL ? v : json_string("(not UTF-8)");
    }
    case SQLITE_BLOB: {
        char note[64];
        snprintf(note, sizeof(note), "(blob, %d bytes)", sqlite3_column_bytes(s, i));
        return json_string(note);
    }
    default:
        return json_null();
    }
}

static int run_query(sqlite3 *db, sql_job_t *j)
{
    sqlite3_stmt *s = NULL;
    const char *tail = NULL;
    int rc = sqlite3_prepare_v2(db, j->query, -1, &s, &tail);
    if (rc != SQLITE_OK || s == NULL) {
        snprintf(j->error, sizeof(j->error), "%s",
                 s == NULL && rc == SQLITE_OK ? "the query is empty" : sqlite3_errmsg(db));
        sqlite3_finalize(s);
        return AD_EINVAL;
    }
    while (tail != NULL &&
           (*tail == ' ' || *tail == '\n' || *tail == '\t' || *tail == '\r' || *tail == ';')) {
        tail++;
    }
    if ((tail != NULL && *tail != '\0') || !sqlite3_stmt_readonly(s)) {
        snprintf(j->error, sizeof(j->error), "one SELECT statement only");
        sqlite3_finalize(s);
        return AD_EINVAL;
    }
    int ncol = sqlite3_column_count(s);
    json_t *cols = json_array(), *rows = json_array();
    for (int i = 0; i < ncol; i++) {
        const char *name = sqlite3_column_name(s, i);
        json_array_append_new(cols, json_string(name != NULL ? name : ""));
    }
    size_t bytes = 0;
    bool truncated = false;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if ((int64_t)json_array_size(rows) >= j->max_rows || bytes >= j->max_bytes) {
            truncated = true;
            break;
        }
        json_t *row = json_array();
        for (int i = 0; i < ncol; i++) {
            bytes += (size_t)sqlite3_column_bytes(s, i) + 8;
            json_array_append_new(row, cell(s, i));
        }
        json_array_append_new(rows, row);
    }
    int ret = 0;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        snprintf(j->error, sizeof(j->error), "%s",
                 j->timeout ? "the query took longer than its time bound" : sqlite3_errmsg(db));
        ret = j->timeout ? AD_ETIMEDOUT : AD_EINVAL;
        json_decref(cols);
        json_decref(rows);
    } else {
        j->out = json_pack("{s:o, s:o, s:I, s:b}", "columns", cols, "rows", rows, "rowCount",
                           (json_int_t)json_array_size(rows), "truncated", truncated);
    }
    sqlite3_finalize(s);
    return ret;
}

typedef struct {
    uv_work_t work;
    sql_job_t job;
    ad_store_sql_cb cb;
    void *ud;
} sql_req_t;

static void work(uv_work_t *w)
{
    sql_job_t *j = &((sql_req_t *)w->data)->job;
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(j->path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(j->error, sizeof(j->error), "the database could not be opened");
        sqlite3_close(db);
        return;
    }
    sqlite3_busy_timeout(db, 2000);
    sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 1000000);
    sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, 65536);
    sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
    sqlite3_limit(db, SQLITE_LIMIT_COMPOUND_SELECT, 64);
    sqlite3_limit(db, SQLITE_LIMIT_EXPR_DEPTH, 200);
    sqlite3_limit(db, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 1000);
    sqlite3_limit(db, SQLITE_LIMIT_FUNCTION_ARG, 32);
    sqlite3_set_authorizer(db, authorize, j);
    if (make_views(db, j->org, j->error, sizeof(j->error)) == 0) {
        j->views_made = true;
        sqlite3_exec(db, "PRAGMA query_only = 1", NULL, NULL, NULL); /* refused now: belt */
        j->deadline_ns = ad_mono_ns() + (uint64_t)j->max_ms * 1000000u;
        sqlite3_progress_handler(db, 1000, progress, j);
        run_query(db, j);
    }
    sqlite3_close(db);
}

static void after(uv_work_t *w, int status)
{
    sql_req_t *q = w->data;
    sql_job_t *j = &q->job;
    if (status != 0) {
        snprintf(j->error, sizeof(j->error), "agentd is stopping");
    }
    int rc = j->out != NULL ? 0 : j->timeout ? AD_ETIMEDOUT : AD_EINVAL;
    q->cb(rc, j->out, j->out == NULL ? j->error : NULL, q->ud);
    free(j->query);
    free(q);
}

int ad_store_sql(ad_store_t *st, const char *org, const char *query, const ad_store_sql_opts_t *o,
                 ad_store_sql_cb cb, void *ud)
{
    if (org == NULL || !org_ok(org) || strlen(org) >= AD_ID_MAX) {
        return AD_EINVAL;
    }
    /* SQLite only: its defences (authorizer, limits, progress handler) are
     * SQLite's, and on PostgreSQL the file holds nothing current. */
    if (st->url != NULL) {
        return AD_ESTATE;
    }
    sql_req_t *q = ad_xcalloc(1, sizeof(*q));
    sql_job_t *j = &q->job;
    snprintf(j->path, sizeof(j->path), "%s", st->path);
    snprintf(j->org, sizeof(j->org), "%s", org);
    j->query = ad_xstrdup(query);
    j->max_rows = o->max_rows;
    j->max_ms = o->max_ms;
    j->max_bytes = o->max_bytes;
    q->cb = cb;
    q->ud = ud;
    q->work.data = q;
    if (uv_queue_work(st->loop, &q->work, work, after) != 0) {
        free(j->query);
        free(q);
        return AD_EIO;
    }
    return 0;
}
