/* SPDX-License-Identifier: MIT */
/*
 * The MLflow surface's read routes (issue #74), the ones MLflow's client
 * and UI read back with: experiments/search and runs/search (an
 * organisation's experiments and their runs, a page at a time: the page
 * token is the offset), and metrics/get-history (every point of one
 * metric of a run, read through the store's export). Answers in MLflow's
 * shapes, ordered by one column (MLflow's defaults: runs newest first,
 * experiments last updated first); a filter, or an order by anything else,
 * is refused with MLflow's error rather than ignored. Loop thread.
 */
#include "train/train_int.h"
#include "tables/imports.h"
#include "tables/runs.h"
#include "tables/series.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BAD_VALUE "INVALID_PARAMETER_VALUE"
#define PAGE_MAX 50000    /* MLflow's max_results bound */
#define HISTORY_MAX 25000 /* get-history's page when max_results is not given */

/* max_results (default dflt, 1 to PAGE_MAX) and page_token (an offset) of
 * q, a body or the query as JSON strings. */
static int page_of(const json_t *q, int64_t dflt, int64_t *max, int64_t *off, ad_mlflow_err_t *e)
{
    json_t *m =
        json_is_null(json_object_get(q, "max_results")) ? NULL : json_object_get(q, "max_results");
    const char *tok = json_string_value(json_object_get(q, "page_token"));
    const char *ms = json_string_value(m);
    char *end = NULL;
    *max = json_is_integer(m) ? json_integer_value(m) : ms != NULL ? strtoll(ms, &end, 10) : dflt;
    if ((ms != NULL && (end == ms || *end != '\0')) || (m != NULL && !json_is_integer(m) && !ms) ||
        *max < 1 || *max > PAGE_MAX) {
        return ad_mlflow_fail(e, 400, BAD_VALUE,
                              "Invalid value for parameter 'max_results': 1 to %d", PAGE_MAX);
    }
    *off = 0;
    if (tok != NULL && tok[0] != '\0') {
        *off = strtoll(tok, &end, 10);
        if (end == tok || *end != '\0' || *off < 0) {
            return ad_mlflow_fail(e, 400, BAD_VALUE, "Invalid page token '%s'", tok);
        }
    }
    return 0;
}

/* The order of a search: a row's key (a time, or a text), descending or not. */
typedef struct {
    const char *key;
    bool text, desc;
} order_t;

static int64_t ms_of(const json_t *o, const char *key)
{
    int64_t ms = 0;
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL && ad_time_parse(s, &ms) == 0 ? ms : 0;
}

/* The filter (none: agentd evaluates none) and order_by (one column of
 * those below, ASC or DESC; none: MLflow's default) of body. */
static int query_of(const json_t *body, bool runs, order_t *o, ad_mlflow_err_t *e)
{
    static const struct {
        const char *col, *key;
        bool text, runs;
    } cols[] = {{"start_time", "startedAt", false, true},
                {"end_time", "endedAt", false, true},
                {"last_update_time", "updatedAt", false, false},
                {"creation_time", "createdAt", false, false},
                {"name", "name", true, false}};
    const char *filter = json_string_value(json_object_get(body, "filter"));
    json_t *order = json_object_get(body, "order_by");
    if (filter != NULL && filter[0] != '\0') {
        return ad_mlflow_fail(e, 400, BAD_VALUE,
                              "agentd does not evaluate search filters ('%s'): search without one",
                              filter);
    }
    *o = (order_t){.key = runs ? "startedAt" : "updatedAt", .desc = true};
    const char *s = json_string_value(json_array_get(order, 0));
    if (json_array_size(order) == 0) {
        return 0;
    }
    if (json_array_size(order) > 1 || s == NULL) {
        return ad_mlflow_fail(e, 400, BAD_VALUE, "agentd orders by one column (order_by)");
    }
    const char *c = strncmp(s, "attributes.", 11) == 0 ? s + 11 : s;
    size_t n = strcspn(c, " ");
    const char *dir = c + n + strspn(c + n, " ");
    for (size_t i = 0; i < AD_ARRAY_LEN(cols); i++) {
        if (cols[i].runs == runs && strlen(cols[i].col) == n && strncmp(c, cols[i].col, n) == 0 &&
            (*dir == '\0' || strcasecmp(dir, "ASC") == 0 || strcasecmp(dir, "DESC") == 0)) {
            *o = (order_t){
                .key = cols[i].key, .text = cols[i].text, .desc = strcasecmp(dir, "DESC") == 0};
            return 0;
        }
    }
    return ad_mlflow_fail(e, 400, BAD_VALUE, "order_by '%s' is not supported: %s, ASC or DESC", s,
                          runs ? "start_time or end_time"
                               : "name, creation_time or last_update_time");
}

/* The page [off, off + max) of all (taken), with next_page_token when more. */
static json_t *page(json_t *all, const char *key, int64_t max, int64_t off,
                    json_t *(*shape)(ad_store_t *, const json_t *), ad_store_t *st)
{
    json_t *items = json_array();
    size_t n = json_array_size(all);
    for (size_t i = (size_t)off; i < n && i < (size_t)(off + max); i++) {
        json_array_append_new(items, shape(st, json_array_get(all, i)));
    }
    json_t *out = json_pack("{s:o}", key, items);
    if ((size_t)(off + max) < n) {
        char tok[32];
        snprintf(tok, sizeof(tok), "%lld", (long long)(off + max));
        json_object_set_new(out, "next_page_token", json_string(tok));
    }
    json_decref(all);
    return out;
}

static json_t *exp_shape(ad_store_t *st, const json_t *agent)
{
    AD_UNUSED(st);
    return ad_mlflow_experiment(agent, NULL);
}

static json_t *run_shape(ad_store_t *st, const json_t *run)
{
    json_t *series = NULL;
    if (ad_store_series_list(st, json_string_value(json_object_get(run, "id")), &series) != 0) {
        series = json_array();
    }
    json_t *out = ad_mlflow_run(run, series);
    json_decref(series);
    return out;
}

/* The order a sort runs by: qsort's comparator has no context argument
 * (qsort_r is not standard), and sorts run on the loop thread only. */
static const order_t *sort_order;

/* By the order, then by id (a stable page). */
static int by_order(const void *a, const void *b)
{
    const order_t *o = sort_order;
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int c;
    if (o->text) {
        const char *sx = json_string_value(json_object_get(x, o->key));
        const char *sy = json_string_value(json_object_get(y, o->key));
        c = strcmp(sx != NULL ? sx : "", sy != NULL ? sy : "");
    } else {
        int64_t tx = ms_of(x, o->key), ty = ms_of(y, o->key);
        c = tx < ty ? -1 : tx > ty ? 1 : 0;
    }
    if (c == 0) {
        const char *ix = json_string_value(json_object_get(x, "id"));
        const char *iy = json_string_value(json_object_get(y, "id"));
        return strcmp(ix != NULL ? ix : "", iy != NULL ? iy : "");
    }
    return o->desc ? -c : c;
}

/* list (taken) in order o, a new array. */
static json_t *sorted(json_t *list, order_t *o)
{
    size_t n = json_array_size(list);
    json_t **v = ad_xcalloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        v[i] = json_incref(json_array_get(list, i));
    }
    sort_order = o;
    qsort(v, n, sizeof(*v), by_order);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(out, v[i]);
    }
    free(v);
    json_decref(list);
    return out;
}

/* Whether experiment agent exp is one ids names ("0": the one named
 * Default); every one when ids is empty. */
static bool named(const json_t *ids, const json_t *exp)
{
    size_t i;
    json_t *v;
    if (json_array_size(ids) == 0) {
        return true;
    }
    json_array_foreach(ids, i, v)
    {
        const char *id = json_string_value(v);
        const char *name = json_string_value(json_object_get(exp, "name"));
        if (id != NULL &&
            (json_equal(v, json_object_get(exp, "id")) ||
             (strcmp(id, "0") == 0 && name != NULL && strcmp(name, "Default") == 0))) {
            return true;
        }
    }
    return false;
}

int ad_mlflow_search(ad_store_t *st, const char *org, bool runs, const json_t *body, json_t **out,
                     ad_mlflow_err_t *e)
{
    int64_t max, off;
    order_t o;
    json_t *exps = NULL, *ids = json_object_get(body, "experiment_ids");
    const char *view =
        json_string_value(json_object_get(body, runs ? "run_view_type" : "view_type"));
    if (page_of(body, 1000, &max, &off, e) != 0 || query_of(body, runs, &o, e) != 0) {
        return AD_EINVAL;
    }
    if (ids != NULL && !json_is_array(ids)) {
        return ad_mlflow_fail(e, 400, BAD_VALUE, "experiment_ids must be a list of ids");
    }
    if (ad_store_mlflow_experiments(st, org, &exps) != 0) {
        return ad_mlflow_fail(e, 500, "INTERNAL_ERROR", "cannot read the experiments");
    }
    if (view != NULL && strcmp(view, "DELETED_ONLY") == 0) { /* agentd keeps none */
        json_array_clear(exps);
    }
    if (!runs) {
        *out = page(sorted(exps, &o), "experiments", max, off, exp_shape, st);
        return 0;
    }
    json_t *all = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(exps, i, x)
    {
        json_t *list = NULL;
        if (named(ids, x) &&
            ad_store_run_list(st, json_string_value(json_object_get(x, "id")), 1000, &list) == 0) {
            json_array_extend(all, json_object_get(list, "runs"));
        }
        json_decref(list);
    }
    json_decref(exps);
    *out = page(sorted(all, &o), "runs", max, off, run_shape, st);
    return 0;
}

/* ---- metrics/get-history ------------------------------------------------------------- */

typedef struct {
    ad_store_series_export_t x; /* first: the store's done gets &x */
    ad_store_t *st;
    int64_t max, off, seen;
    json_t *metrics;
    ad_mlflow_history_fn done;
    void *ud;
} history_t;

static void history_end(history_t *h, int rc)
{
    ad_mlflow_err_t e = {0};
    json_t *out = NULL;
    if (rc != 0) {
        ad_mlflow_fail(&e, 500, "INTERNAL_ERROR", "cannot read the metric: %s", ad_strerror(rc));
        rc = AD_EINVAL;
    } else {
        out = json_pack("{s:O}", "metrics", h->metrics);
        if (h->seen > h->off + h->max) {
            char tok[32];
            snprintf(tok, sizeof(tok), "%lld", (long long)(h->off + h->max));
            json_object_set_new(out, "next_page_token", json_string(tok));
        }
    }
    h->done(h->ud, rc, out, &e);
    json_decref(h->metrics);
    json_decref(h->x.names);
    ad_buf_cleanup(&h->x.body);
    free(h);
}

static void history_piece(int rc, void *ctx)
{
    history_t *h = ctx;
    const char *p = h->x.body.data, *end = p + h->x.body.len;
    while (rc == 0 && p != NULL && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        json_t *pt = len > 0 ? json_loadb(p, len, 0, NULL) : NULL;
        if (pt != NULL && h->seen >= h->off && h->seen < h->off + h->max) {
            json_array_append_new(h->metrics, json_pack("{s:O, s:O, s:O, s:O}", "key",
                                                        json_object_get(pt, "name"), "value",
                                                        json_object_get(pt, "value"), "timestamp",
                                                        json_object_get(pt, "ts"), "step",
                                                        json_object_get(pt, "step")));
        }
        h->seen += pt != NULL;
        json_decref(pt);
        p = nl != NULL ? nl + 1 : NULL;
    }
    ad_buf_reset(&h->x.body);
    if (rc != 0 || h->x.end || h->seen > h->off + h->max) {
        history_end(h, rc);
    } else {
        ad_store_series_export(h->st, &h->x, history_piece);
    }
}

void ad_mlflow_history(ad_store_t *st, const char *run_id, ad_store_query_fn get, void *gud,
                       ad_mlflow_history_fn done, void *ud)
{
    ad_mlflow_err_t e;
    int64_t max, off;
    const char *key = get(gud, "metric_key");
    json_t *q = json_pack("{s:s?, s:s?}", "max_results", get(gud, "max_results"), "page_token",
                          get(gud, "page_token"));
    int rc = q == NULL ? ad_mlflow_fail(&e, 400, BAD_VALUE, "max_results and page_token: UTF-8")
                       : page_of(q, HISTORY_MAX, &max, &off, &e);
    json_decref(q);
    if (rc == 0 && (key == NULL || key[0] == '\0' || strlen(key) > AD_SERIES_NAME_MAX)) {
        rc =
            ad_mlflow_fail(&e, 400, BAD_VALUE, "Missing value for required parameter 'metric_key'");
    }
    if (rc != 0) {
        done(ud, rc, NULL, &e);
        return;
    }
    history_t *h = ad_xcalloc(1, sizeof(*h));
    *h = (history_t){
        .st = st, .max = max, .off = off, .metrics = json_array(), .done = done, .ud = ud};
    snprintf(h->x.runs[0], sizeof(h->x.runs[0]), "%s", run_id);
    h->x.nruns = 1;
    h->x.names = json_pack("[s]", key);
    ad_buf_init(&h->x.body, AD_SERIES_EXPORT_BODY_MAX);
    ad_store_series_export(st, &h->x, history_piece);
}
