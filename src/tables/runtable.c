/* SPDX-License-Identifier: MIT */
/*
 * The runs table (issue #16): runs with their config and a summary of
 * chosen metrics (metric_series: last, min and max per series), sorted and
 * filtered in SQL. The statement is put together from fixed fragments; every
 * name and value the caller gives is a bound parameter (a config field goes
 * in as the JSON path '$.values.<field>'), so nothing a client sends is
 * ever SQL text. Pages are bounded (1-500 rows); total counts all matches.
 */
#include "store/table.h"
#include "tables/runs.h"
#include "tables/runtable.h"
#include "tables/tables_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQL_MAX 12288
#define BINDS_MAX 64

typedef struct {
    bool text, isint;
    double num;
    int64_t i;
    char s[200];
} bind_t;

typedef struct {
    char sql[SQL_MAX];
    size_t len;
    bool overflow;
    bind_t binds[BINDS_MAX];
    int n;
} sqlb_t;

__attribute__((format(printf, 2, 3))) static void put(sqlb_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(b->sql + b->len, sizeof(b->sql) - b->len, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= sizeof(b->sql) - b->len) {
        b->overflow = true;
        return;
    }
    b->len += (size_t)w;
}

static void bind_text(sqlb_t *b, const char *s)
{
    if (b->n >= BINDS_MAX) {
        b->overflow = true;
        return;
    }
    bind_t *x = &b->binds[b->n++];
    memset(x, 0, sizeof(*x));
    x->text = true;
    snprintf(x->s, sizeof(x->s), "%s", s);
    put(b, "?%d", b->n);
}

static void bind_num(sqlb_t *b, double v)
{
    if (b->n >= BINDS_MAX) {
        b->overflow = true;
        return;
    }
    bind_t *x = &b->binds[b->n++];
    memset(x, 0, sizeof(*x));
    x->num = v;
    put(b, "?%d", b->n);
}

static void bind_int(sqlb_t *b, int64_t v)
{
    if (b->n >= BINDS_MAX) {
        b->overflow = true;
        return;
    }
    bind_t *x = &b->binds[b->n++];
    memset(x, 0, sizeof(*x));
    x->isint = true;
    x->i = v;
    put(b, "?%d", b->n);
}

/* The SQL expression of a key. */
static void key_expr(sqlb_t *b, const ad_store_rt_query_t *q, const ad_store_rt_key_t *k)
{
    static const char *const stat_cols[] = {"last_value", "", "min_value", "max_value"};
    char path[96];
    switch (k->kind) {
    case AD_RT_KEY_STARTED:
        put(b, "r.started_at");
        break;
    case AD_RT_KEY_DURATION:
        put(b, "coalesce(r.duration_ms, ");
        bind_int(b, q->now);
        put(b, " - r.started_at)");
        break;
    case AD_RT_KEY_STATUS:
        put(b, "r.status");
        break;
    case AD_RT_KEY_AGENT:
        put(b, "a.name");
        break;
    case AD_RT_KEY_CONFIG:
        snprintf(path, sizeof(path), "$.values.%s", k->field);
        put(b, "json_extract(r.config, ");
        bind_text(b, path);
        put(b, ")");
        break;
    case AD_RT_KEY_METRIC: {
        const char *col = stat_cols[k->stat];
        if (k->stat == AD_RT_BEST) {
            col = q->metrics[k->metric].lower_is_better ? "min_value" : "max_value";
        }
        put(b, "m%d.%s", k->metric, col);
        break;
    }
    }
}

static void from_where(sqlb_t *b, const ad_store_rt_query_t *q)
{
    static const char *const ops[] = {"=", "!=", "<", "<=", ">", ">="};
    put(b, " FROM runs r JOIN agents a ON a.id = r.agent_id");
    if (q->workspace_id != NULL) {
        put(b, " LEFT JOIN worktrees w ON w.id = a.worktree_id");
    }
    for (size_t i = 0; i < q->nmetrics; i++) {
        put(b, " LEFT JOIN metric_series m%zu ON m%zu.run_id = r.id AND m%zu.name = ", i, i, i);
        bind_text(b, q->metrics[i].name);
    }
    put(b, " WHERE 1 = 1");
    if (q->org != NULL && q->org[0] != '\0') {
        put(b, " AND r.org_id = ");
        bind_text(b, q->org);
    }
    if (q->agent_id != NULL) {
        put(b, " AND r.agent_id = ");
        bind_text(b, q->agent_id);
    }
    if (q->workspace_id != NULL) {
        put(b, " AND w.workspace_id = ");
        bind_text(b, q->workspace_id);
    }
    if (q->tag != NULL) {
        put(b, " AND EXISTS (SELECT 1 FROM json_each(coalesce(r.tags, '[]')) WHERE value = ");
        bind_text(b, q->tag);
        put(b, ")");
    }
    if (q->group != NULL) {
        put(b, " AND r.run_group = ");
        bind_text(b, q->group);
    }
    if (q->has_metrics != 0) {
        put(b,
            " AND %s (EXISTS (SELECT 1 FROM metric_series s WHERE s.run_id = r.id) OR EXISTS "
            "(SELECT 1 FROM metric_dists dd WHERE dd.run_id = r.id))",
            q->has_metrics > 0 ? "" : "NOT");
    }
    if (q->statuses != 0) {
        put(b, " AND r.status IN ('_'");
        for (int s = AD_ROW_RUN_STATUS_RUNNING; s <= AD_ROW_RUN_STATUS_DEGRADED; s++) {
            if (q->statuses & (1u << s)) {
                put(b, ", '%s'", ad_row_run_status_name((ad_row_run_status_t)s));
            }
        }
        put(b, ")");
    }
    for (size_t i = 0; i < q->nfilters; i++) {
        const ad_store_rt_filter_t *f = &q->filters[i];
        put(b, " AND ");
        if (f->key.kind == AD_RT_KEY_CONFIG && !f->is_text) {
            /* a number against a config field: its value as a number, so
             * that PostgreSQL (whose json_extract answers text) compares
             * numbers too; a field that is no number does not match */
            char path[96];
            snprintf(path, sizeof(path), "$.values.%s", f->key.field);
            put(b, "CASE WHEN json_type(r.config, ");
            bind_text(b, path);
            put(b, ") IN ('integer', 'real') THEN CAST(");
            key_expr(b, q, &f->key);
            put(b, " AS REAL) END");
        } else {
            key_expr(b, q, &f->key);
        }
        put(b, " %s ", ops[f->op]);
        if (f->is_text) {
            bind_text(b, f->text);
        } else {
            bind_num(b, f->num);
        }
    }
}

static ad_db_stmt_t *prepare(ad_db_t *db, const sqlb_t *b)
{
    ad_db_stmt_t *s = NULL;
    if (b->overflow || ad_db_prepare_v2(db, b->sql, (int)b->len, &s, NULL) != AD_DB_OK) {
        ad_log(AD_LOG_ERROR, "store", "runs table query: %s", ad_db_errmsg(db));
        ad_db_finalize(s);
        return NULL;
    }
    for (int i = 0; i < b->n; i++) {
        const bind_t *x = &b->binds[i];
        if (x->text) {
            ad_db_bind_text(s, i + 1, x->s, -1, AD_DB_TRANSIENT);
        } else if (x->isint) {
            ad_db_bind_int64(s, i + 1, x->i);
        } else {
            ad_db_bind_double(s, i + 1, x->num);
        }
    }
    return s;
}

static json_t *col_num(ad_db_stmt_t *s, int i)
{
    switch (ad_db_column_type(s, i)) {
    case AD_DB_NULL:
        return json_null();
    case AD_DB_INTEGER:
        return json_integer(ad_db_column_int64(s, i));
    default:
        return json_real(ad_db_column_double(s, i));
    }
}

static json_t *col_str(ad_db_stmt_t *s, int i)
{
    const char *v = (const char *)ad_db_column_text(s, i);
    return v != NULL ? json_string(v) : json_null();
}

static json_t *col_time(ad_db_stmt_t *s, int i)
{
    if (ad_db_column_type(s, i) == AD_DB_NULL) {
        return json_null();
    }
    char ts[AD_TIME_MAX];
    ad_time_format(ad_db_column_int64(s, i), ts);
    return json_string(ts);
}

#define BASE_COLS 14

/* One result row: the run's columns, then per metric last, min, max,
 * count and last step. */
static json_t *row_json(ad_db_stmt_t *s, const ad_store_rt_query_t *q)
{
    json_t *cfg = NULL;
    if (ad_db_column_type(s, 7) != AD_DB_NULL) {
        cfg = json_loads((const char *)ad_db_column_text(s, 7), 0, NULL);
    }
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "id", ad_db_column_text(s, 0),
                          "agentId", ad_db_column_text(s, 1), "agentName", ad_db_column_text(s, 2),
                          "status", ad_db_column_text(s, 3), "startedAt", col_time(s, 4), "endedAt",
                          col_time(s, 5), "durationMs", col_num(s, 6), "config",
                          cfg != NULL ? cfg : json_null());
    json_t *tags = json_loads((const char *)ad_db_column_text(s, 10), 0, NULL);
    json_object_set_new(o, "name", json_string((const char *)ad_db_column_text(s, 8)));
    json_object_set_new(o, "color", json_string((const char *)ad_db_column_text(s, 9)));
    json_object_set_new(o, "tags", json_is_array(tags) ? tags : json_array());
    if (!json_is_array(tags)) {
        json_decref(tags);
    }
    json_object_set_new(o, "notes", col_str(s, 11));
    json_object_set_new(o, "group", col_str(s, 12));
    json_object_set_new(o, "lastMetricAt", col_time(s, 13));
    json_t *metrics = json_object();
    for (size_t i = 0; i < q->nmetrics; i++) {
        int c = BASE_COLS + (int)i * 5;
        json_t *m = json_null();
        if (ad_db_column_type(s, c + 3) != AD_DB_NULL) {
            json_t *min = col_num(s, c + 1), *max = col_num(s, c + 2);
            m = json_pack("{s:o, s:O, s:o, s:o, s:o, s:o}", "final", col_num(s, c), "best",
                          q->metrics[i].lower_is_better ? min : max, "min", min, "max", max,
                          "count", col_num(s, c + 3), "lastStep", col_num(s, c + 4));
        }
        json_object_set_new(metrics, q->metrics[i].name, m);
    }
    json_object_set_new(o, "metrics", metrics);
    return o;
}

static int page(ad_db_t *db, const ad_store_rt_query_t *q, json_t **out)
{
    sqlb_t *b = ad_xcalloc(1, sizeof(*b));
    put(b, "SELECT r.id, r.agent_id, a.name, r.status, r.started_at, r.ended_at, "
           "coalesce(r.duration_ms, ");
    bind_int(b, q->now);
    put(b, "%s",
        " - r.started_at), r.config, " AD_RUN_NAME_SQL("r") ", " AD_RUN_COLOR_SQL(
            "r") ", coalesce(r.tags, '[]'), r.notes, r.run_group, "
                 "(SELECT max(s.last_t) FROM metric_series s WHERE s.run_id = r.id)");
    for (size_t i = 0; i < q->nmetrics; i++) {
        put(b, ", m%zu.last_value, m%zu.min_value, m%zu.max_value, m%zu.count, m%zu.last_step", i,
            i, i, i, i);
    }
    from_where(b, q);
    put(b, " ORDER BY ");
    key_expr(b, q, &q->sort);
    put(b, " %s NULLS LAST, r.started_at DESC, r.id DESC LIMIT %d OFFSET %d",
        q->ascending ? "ASC" : "DESC", q->limit, q->offset);
    ad_db_stmt_t *s = prepare(db, b);
    free(b);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    json_t *arr = json_array();
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(arr, row_json(s, q));
    }
    int e = rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
    ad_db_finalize(s);
    if (e != 0) {
        json_decref(arr);
        return e;
    }
    *out = arr;
    return 0;
}

static int count(ad_db_t *db, const ad_store_rt_query_t *q, int64_t *total)
{
    sqlb_t *b = ad_xcalloc(1, sizeof(*b));
    put(b, "SELECT count(*)");
    from_where(b, q);
    ad_db_stmt_t *s = prepare(db, b);
    free(b);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    int rc = ad_db_step(s);
    int e = rc == AD_DB_ROW ? 0 : ad_store_rc(db, rc);
    *total = e == 0 ? ad_db_column_int64(s, 0) : 0;
    ad_db_finalize(s);
    return e;
}

int ad_store_run_table(ad_store_t *st, ad_store_rt_query_t *q, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    /* A metric named without :min or :max improves the way the setting or
     * its name says (metricdir.c). */
    json_t *dirs = ad_store_metric_dirs(db);
    for (size_t i = 0; i < q->nmetrics; i++) {
        if (!q->metrics[i].goal_given) {
            q->metrics[i].lower_is_better = ad_store_metric_lower(dirs, q->metrics[i].name);
        }
    }
    json_decref(dirs);
    json_t *runs = NULL;
    int64_t total = 0;
    int rc = page(db, q, &runs);
    if (rc == 0 && (rc = count(db, q, &total)) == 0) {
        *out = json_pack("{s:o, s:I}", "runs", runs, "total", (json_int_t)total);
        return 0;
    }
    json_decref(runs);
    return rc;
}
