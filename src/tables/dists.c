/* SPDX-License-Identifier: MIT */
/*
 * Distributions of runs (migration 1950, issue #16): a `histogram` (bucket
 * edges and counts, or raw values binned here into equal buckets) or a
 * `counts` (category -> count, such as the actions taken) per run, name
 * and step. Checking (any thread, pure) turns what a program printed or
 * posted into the stored form, bounded; writes ride in the metric batch's
 * writer job (series.c calls ad_store_dists_put inside its transaction);
 * reads run on the thread pool: the list, the latest (at or before a
 * step), a step range, and over time (steps cut into buckets, each the sum
 * of its steps' histograms on common edges or of its categories' counts:
 * never a sample).
 *
 * Ownership: ad_store_dist_check returns a new object (the caller's);
 * query results (q->out) are the caller's once done runs.
 */
#include "store/table.h"
#include "tables/dists.h"
#include "tables/series.h"
#include "tables/tables_int.h"
#include "tsdb/tsdb.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- checking ------------------------------------------------------------------- */

static json_t *dist_fail(ad_dist_err_t *err, int status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static json_t *dist_fail(ad_dist_err_t *err, int status, const char *field, const char *fmt, ...)
{
    err->status = status;
    snprintf(err->field, sizeof(err->field), "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
    va_end(ap);
    return NULL;
}

/* A count: 0..AD_DIST_COUNT_MAX; an edge or value: within
 * ±AD_DIST_VALUE_MAX. So no sum of counts and no span of edges (of one
 * histogram or of many, in an over-time read) leaves the doubles. */
static bool finite_num(json_t *v, bool count)
{
    if (!json_is_number(v)) {
        return false;
    }
    double d = json_number_value(v);
    return count ? d >= 0 && d <= AD_DIST_COUNT_MAX : fabs(d) <= AD_DIST_VALUE_MAX;
}

/* values [finite, 1..AD_DIST_VALUES_MAX] and bins? into edges and counts. */
static json_t *hist_from_values(json_t *in, json_t *vals, ad_dist_err_t *err)
{
    size_t n = json_array_size(vals);
    json_t *jb = json_object_get(in, "bins");
    if (n == 0) {
        return dist_fail(err, 422, "values", "values must hold 1 to %lld numbers",
                         (long long)AD_DIST_VALUES_MAX);
    }
    if (n > AD_DIST_VALUES_MAX) {
        return dist_fail(err, 413, "values", "%lld raw values; at most %lld a histogram",
                         (long long)n, (long long)AD_DIST_VALUES_MAX);
    }
    if (jb != NULL && (!json_is_integer(jb) || json_integer_value(jb) < 1 ||
                       json_integer_value(jb) > TSDB_HIST_BINS_MAX)) {
        return dist_fail(err, 422, "bins", "bins must be a whole number from %lld to %lld", 1LL,
                         (long long)TSDB_HIST_BINS_MAX);
    }
    size_t bins = jb != NULL ? (size_t)json_integer_value(jb) : AD_DIST_BINS_DEFAULT;
    double *v = ad_xcalloc(n, sizeof(*v));
    double edges[TSDB_HIST_BINS_MAX + 1], counts[TSDB_HIST_BINS_MAX];
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(vals, i);
        if (!finite_num(x, false)) {
            free(v);
            return dist_fail(err, 422, "values", "value %lld is not a number within ±1e300",
                             (long long)i);
        }
        v[i] = json_number_value(x);
    }
    tsdb_hist_bin(v, n, bins, edges, counts);
    free(v);
    json_t *jc = json_array();
    for (size_t i = 0; i < bins; i++) {
        json_array_append_new(jc, json_integer((json_int_t)counts[i]));
    }
    /* equal edges: lo and hi are enough (tsdb_hist_edges gives them back) */
    return json_pack("{s:f, s:f, s:o, s:f}", "lo", edges[0], "hi", edges[bins], "counts", jc,
                     "total", (double)n);
}

json_t *ad_store_dist_edges(json_t *d)
{
    json_t *edges = json_object_get(d, "edges");
    if (json_is_array(edges)) {
        return json_incref(edges);
    }
    size_t n = json_array_size(json_object_get(d, "counts"));
    json_t *lo = json_object_get(d, "lo"), *hi = json_object_get(d, "hi");
    if (n == 0 || n > TSDB_HIST_BINS_MAX || !json_is_number(lo) || !json_is_number(hi)) {
        return NULL;
    }
    double e[TSDB_HIST_BINS_MAX + 1];
    tsdb_hist_edges(json_number_value(lo), json_number_value(hi), n, e);
    json_t *out = json_array();
    for (size_t i = 0; i <= n; i++) {
        json_array_append_new(out, json_real(e[i]));
    }
    return out;
}

/* edges [n + 1, strictly ascending] and counts [n, >= 0], n 1..256. */
static json_t *hist_from_edges(json_t *edges, json_t *counts, ad_dist_err_t *err)
{
    size_t n = json_array_size(counts);
    if (!json_is_array(edges) || !json_is_array(counts) || n == 0) {
        return dist_fail(err, 422, "edges", "a histogram needs edges and counts, or values");
    }
    if (n > TSDB_HIST_BINS_MAX) {
        return dist_fail(err, 413, "counts", "%lld buckets; at most %lld a histogram", (long long)n,
                         (long long)TSDB_HIST_BINS_MAX);
    }
    if (json_array_size(edges) != n + 1) {
        return dist_fail(err, 422, "edges", "%lld counts need %lld edges", (long long)n,
                         (long long)n + 1);
    }
    double total = 0;
    for (size_t i = 0; i <= n; i++) {
        json_t *e = json_array_get(edges, i);
        if (!finite_num(e, false) ||
            (i > 0 && !(json_number_value(e) > json_number_value(json_array_get(edges, i - 1))))) {
            return dist_fail(err, 422, "edges",
                             "edge %lld is not a number within ±1e300 above the one before it",
                             (long long)i);
        }
        if (i < n) {
            json_t *c = json_array_get(counts, i);
            if (!finite_num(c, true)) {
                return dist_fail(err, 422, "counts", "count %lld is not a number from 0 to 1e15",
                                 (long long)i);
            }
            total += json_number_value(c);
        }
    }
    return json_pack("{s:O, s:O, s:f}", "edges", edges, "counts", counts, "total", total);
}

/* counts {category (1..AD_DIST_CATEGORY_MAX bytes): finite >= 0}, at most
 * AD_DIST_CATEGORIES_MAX of them. */
static json_t *counts_check(json_t *counts, ad_dist_err_t *err)
{
    if (!json_is_object(counts) || json_object_size(counts) == 0) {
        return dist_fail(err, 422, "counts", "counts must be an object of category: count");
    }
    if (json_object_size(counts) > AD_DIST_CATEGORIES_MAX) {
        return dist_fail(err, 413, "counts", "%lld categories; at most %lld",
                         (long long)json_object_size(counts), (long long)AD_DIST_CATEGORIES_MAX);
    }
    double total = 0;
    const char *k;
    json_t *v;
    json_object_foreach(counts, k, v)
    {
        size_t len = strlen(k);
        if (len == 0 || len > AD_DIST_CATEGORY_MAX) {
            return dist_fail(err, 422, "counts", "a category name has 1 to %lld bytes",
                             (long long)AD_DIST_CATEGORY_MAX);
        }
        if (!finite_num(v, true)) {
            return dist_fail(err, 422, "counts", "a count must be a number from 0 to 1e15");
        }
        total += json_number_value(v);
    }
    return json_pack("{s:O, s:f}", "counts", counts, "total", total);
}

json_t *ad_store_dist_check(json_t *in, bool counts_kind, ad_dist_err_t *err)
{
    const char *name = json_string_value(json_object_get(in, "name"));
    json_t *st = json_object_get(in, "step"), *ts = json_object_get(in, "ts");
    if (name == NULL || name[0] == '\0' || strlen(name) > AD_SERIES_NAME_MAX) {
        return dist_fail(err, 422, "name", "name must be a string of 1 to %lld bytes",
                         (long long)AD_SERIES_NAME_MAX);
    }
    if ((st != NULL && !json_is_integer(st)) || (ts != NULL && !json_is_integer(ts))) {
        return dist_fail(err, 422, "step", "step and ts must be whole numbers");
    }
    json_t *out;
    if (counts_kind) {
        out = counts_check(json_object_get(in, "counts"), err);
    } else if (json_object_get(in, "values") != NULL) {
        out = json_is_array(json_object_get(in, "values"))
                  ? hist_from_values(in, json_object_get(in, "values"), err)
                  : dist_fail(err, 422, "values", "values must be an array");
    } else {
        out = hist_from_edges(json_object_get(in, "edges"), json_object_get(in, "counts"), err);
    }
    if (out == NULL) {
        return NULL;
    }
    json_object_set_new(out, "kind", json_string(counts_kind ? "counts" : "histogram"));
    json_object_set_new(out, "name", json_string(name));
    if (st != NULL) {
        json_object_set(out, "step", st);
    }
    if (ts != NULL) {
        json_object_set(out, "ts", ts);
    }
    return out;
}

/* ---- writing (writer thread) ---------------------------------------------------- */

static const char SQL_LAST_STEP[] =
    "SELECT max(step) FROM metric_dists WHERE run_id = ? AND kind = ? AND name = ?";
static const char SQL_PUT[] =
    "INSERT INTO metric_dists (run_id, kind, name, step, t, org_id, total, lo, hi, data) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, kind, name, step) DO UPDATE SET "
    "t = excluded.t, total = excluded.total, lo = excluded.lo, hi = excluded.hi, "
    "data = excluded.data";

/* A missing step is the last stored step of that distribution + 1 (0 for
 * the first). */
static int64_t next_step(ad_db_t *db, const char *run, const char *kind, const char *name)
{
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_LAST_STEP);
    ad_store_bind_text(s, 1, run);
    ad_store_bind_text(s, 2, kind);
    ad_store_bind_text(s, 3, name);
    int64_t step = 0;
    if (ad_db_step(s) == AD_DB_ROW && ad_db_column_type(s, 0) != AD_DB_NULL) {
        step = ad_db_column_int64(s, 0) + 1;
    }
    ad_db_reset(s);
    return step;
}

static int put_one(ad_db_t *db, json_t *args, json_t *d, int64_t now)
{
    const char *run = ad_args_str(args, "runId"), *kind = ad_args_str(d, "kind");
    const char *name = ad_args_str(d, "name");
    json_t *st = json_object_get(d, "step"), *edges = ad_store_dist_edges(d);
    int64_t step = json_is_integer(st) ? json_integer_value(st) : next_step(db, run, kind, name);
    /* stored: {edges, counts}, {lo, hi, counts} (equal edges) or {counts} */
    json_t *data = json_deep_copy(d);
    const char *const drop[] = {"kind", "name", "step", "ts", "total"};
    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++) {
        json_object_del(data, drop[i]);
    }
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_PUT);
    ad_store_bind_text(s, 1, run);
    ad_store_bind_text(s, 2, kind);
    ad_store_bind_text(s, 3, name);
    ad_db_bind_int64(s, 4, step);
    ad_db_bind_int64(s, 5, ad_args_int(d, "ts", now));
    ad_store_bind_text(s, 6, ad_args_str(args, "orgId"));
    ad_db_bind_double(s, 7, json_number_value(json_object_get(d, "total")));
    if (edges != NULL) {
        ad_db_bind_double(s, 8, json_number_value(json_array_get(edges, 0)));
        ad_db_bind_double(s, 9,
                          json_number_value(json_array_get(edges, json_array_size(edges) - 1)));
    } else {
        ad_db_bind_null(s, 8);
        ad_db_bind_null(s, 9);
    }
    ad_store_bind_json(s, 10, data);
    json_decref(data);
    json_decref(edges);
    return ad_store_step_done(db, s);
}

int ad_store_dists_put(ad_db_t *db, json_t *args, size_t *stored)
{
    json_t *dists = json_object_get(args, "dists");
    int64_t now = ad_args_int(args, "now", 0);
    size_t i;
    json_t *d;
    *stored = 0;
    json_array_foreach(dists, i, d)
    {
        int rc = put_one(db, args, d, now);
        if (rc != 0) {
            return rc;
        }
        (*stored)++;
    }
    return 0;
}

/* ---- reads (thread pool) -------------------------------------------------------- */

static const char SQL_LIST[] =
    "SELECT name, kind, count(*) AS steps, min(step) AS first_step, max(step) AS last_step, "
    "max(t) AS last_time_ms FROM metric_dists WHERE run_id = ? GROUP BY kind, name "
    "ORDER BY kind, name";

static int read_list(ad_db_t *db, ad_store_dist_q_t *q)
{
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_LIST);
    ad_store_bind_text(s, 1, q->run_id);
    json_t *arr = json_array();
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(arr, ad_store_row_json(s, NULL, NULL));
    }
    ad_db_reset(s);
    if (rc != AD_DB_DONE) {
        json_decref(arr);
        return ad_store_rc(db, rc);
    }
    q->out = json_pack("{s:s, s:o}", "runId", q->run_id, "distributions", arr);
    return 0;
}

/* One stored row (step, t, total, data) as {step, ts, total, edges?, counts}. */
static json_t *item_json(ad_db_stmt_t *s)
{
    json_t *it = json_loads((const char *)ad_db_column_text(s, 3), 0, NULL);
    if (!json_is_object(it)) {
        json_decref(it);
        it = json_object();
    }
    if (json_object_get(it, "lo") != NULL) { /* equal edges: given back whole */
        json_t *edges = ad_store_dist_edges(it);
        json_object_del(it, "lo");
        json_object_del(it, "hi");
        if (edges != NULL) {
            json_object_set_new(it, "edges", edges);
        }
    }
    json_object_set_new(it, "step", json_integer(ad_db_column_int64(s, 0)));
    json_object_set_new(it, "ts", json_integer(ad_db_column_int64(s, 1)));
    json_object_set_new(it, "total", json_real(ad_db_column_double(s, 2)));
    return it;
}

static void bind_key(ad_db_stmt_t *s, const ad_store_dist_q_t *q)
{
    ad_store_bind_text(s, 1, q->run_id);
    ad_store_bind_text(s, 2, q->counts ? "counts" : "histogram");
    ad_store_bind_text(s, 3, q->name);
}

static const char SQL_SPAN[] =
    "SELECT count(*), min(step), max(step), min(lo), max(hi) FROM metric_dists "
    "WHERE run_id = ? AND kind = ? AND name = ? AND step >= ? AND step <= ?";

/* How many steps [from, to] holds, their first and last, and the outer
 * edges of its histograms. AD_ENOENT when it holds none. */
static int read_span(ad_db_t *db, const ad_store_dist_q_t *q, int64_t from, int64_t to,
                     int64_t span[3], double *lo, double *hi)
{
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_SPAN);
    bind_key(s, q);
    ad_db_bind_int64(s, 4, from);
    ad_db_bind_int64(s, 5, to);
    int rc = ad_db_step(s);
    if (rc == AD_DB_ROW && ad_db_column_int64(s, 0) > 0) {
        for (int i = 0; i < 3; i++) {
            span[i] = ad_db_column_int64(s, i);
        }
        *lo = ad_db_column_double(s, 3);
        *hi = ad_db_column_double(s, 4);
        ad_db_reset(s);
        return 0;
    }
    ad_db_reset(s);
    return rc == AD_DB_ROW ? AD_ENOENT : ad_store_rc(db, rc);
}

/* two subqueries: SQLite answers a lone min() or max() from the index in
 * one probe each, where min(), max() and count(*) together scan it */
static const char SQL_STEPS[] =
    "SELECT (SELECT min(step) FROM metric_dists WHERE run_id = ?1 AND kind = ?2 AND name = ?3), "
    "(SELECT max(step) FROM metric_dists WHERE run_id = ?1 AND kind = ?2 AND name = ?3)";

static const char SQL_AT[] =
    "SELECT step, t, total, data FROM metric_dists WHERE run_id = ? AND kind = ? AND name = ? "
    "AND step <= ? ORDER BY step DESC LIMIT 1";

/* The latest (at or before q->step): the item, with the distribution's
 * firstStep and lastStep for a slider. */
static int read_latest(ad_db_t *db, ad_store_dist_q_t *q)
{
    /* two index probes (read_span would visit every row for its outer
     * edges, and a count every index entry) */
    int64_t span[2] = {0, 0};
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_STEPS);
    bind_key(s, q);
    int rc = ad_db_step(s);
    bool any = rc == AD_DB_ROW && ad_db_column_type(s, 0) != AD_DB_NULL;
    for (int i = 0; any && i < 2; i++) {
        span[i] = ad_db_column_int64(s, i);
    }
    ad_db_reset(s);
    if (!any) {
        return rc == AD_DB_ROW ? AD_ENOENT : ad_store_rc(db, rc);
    }
    s = ad_store_stmt(db, SQL_AT);
    bind_key(s, q);
    ad_db_bind_int64(s, 4, q->has_step ? q->step : INT64_MAX);
    rc = ad_db_step(s);
    if (rc != AD_DB_ROW) {
        ad_db_reset(s);
        return rc == AD_DB_DONE ? AD_ENOENT : ad_store_rc(db, rc);
    }
    q->out = item_json(s);
    ad_db_reset(s);
    json_object_set_new(q->out, "name", json_string(q->name));
    json_object_set_new(q->out, "kind", json_string(q->counts ? "counts" : "histogram"));
    json_object_set_new(q->out, "firstStep", json_integer(span[0]));
    json_object_set_new(q->out, "lastStep", json_integer(span[1]));
    return 0;
}

static const char SQL_RANGE[] =
    "SELECT step, t, total, data FROM metric_dists WHERE run_id = ? AND kind = ? AND name = ? "
    "AND step >= ? AND step <= ? ORDER BY step LIMIT ?";

/* Every stored step in [from, to], ascending, up to q->limit (more: true
 * when there are others after them; nextFrom is where to go on). */
static int read_range(ad_db_t *db, ad_store_dist_q_t *q)
{
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_RANGE);
    bind_key(s, q);
    ad_db_bind_int64(s, 4, q->has_from ? q->from : INT64_MIN);
    ad_db_bind_int64(s, 5, q->has_to ? q->to : INT64_MAX);
    ad_db_bind_int64(s, 6, (int64_t)q->limit + 1);
    json_t *items = json_array();
    int rc;
    bool more = false;
    int64_t next = 0;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        if (json_array_size(items) == q->limit) {
            more = true;
            next = ad_db_column_int64(s, 0);
            break;
        }
        json_array_append_new(items, item_json(s));
    }
    ad_db_reset(s);
    if (rc != AD_DB_DONE && rc != AD_DB_ROW) {
        json_decref(items);
        return ad_store_rc(db, rc);
    }
    q->out = json_pack("{s:s, s:s, s:o, s:b}", "name", q->name, "kind",
                       q->counts ? "counts" : "histogram", "items", items, "more", more);
    if (more) {
        json_object_set_new(q->out, "nextFrom", json_integer(next));
    }
    return 0;
}

static int query_fn(ad_db_t *db, void *ctx)
{
    ad_store_dist_q_t *q = ctx;
    switch (q->view) {
    case AD_DIST_LIST:
        return read_list(db, q);
    case AD_DIST_LATEST:
        return read_latest(db, q);
    case AD_DIST_RANGE:
        return read_range(db, q);
    default:
        return ad_store_dists_over_time(db, q);
    }
}

void ad_store_dist_query(ad_store_t *st, ad_store_dist_q_t *q, ad_store_done_cb done)
{
    ad_store_read_async(st, query_fn, done, q);
}

/* For distover.c: the span of [from, to] and a statement over its rows
 * (step, t, total, data), ascending. */
int ad_store_dists_span(ad_db_t *db, const ad_store_dist_q_t *q, int64_t from, int64_t to,
                        int64_t span[3], double *lo, double *hi)
{
    return read_span(db, q, from, to, span, lo, hi);
}

ad_db_stmt_t *ad_store_dists_rows(ad_db_t *db, const ad_store_dist_q_t *q, int64_t from, int64_t to)
{
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_RANGE);
    bind_key(s, q);
    ad_db_bind_int64(s, 4, from);
    ad_db_bind_int64(s, 5, to);
    ad_db_bind_int64(s, 6, INT64_MAX);
    return s;
}
