/* SPDX-License-Identifier: MIT */
/*
 * Training-metric series over REST (issue #16): what runs report, kept in
 * the store's metric_chunks (src/store/series.c, encoded by src/tsdb).
 * Not the daemon's own Prometheus /metrics (metrics.c) nor the health
 * sampler's history (health.c).
 * Its routes are listed in docs/api.md, their bodies and answers in
 * docs/training.md.
 * Buckets carry min, max, mean, last and count: never a sample.
 */
#include "api/api_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_MAX 100000
#define LIVE_POINTS_MAX 2000
#define BUCKETS_DEFAULT 1000

/* ---- query parameters ------------------------------------------------------------- */

int ad_api_query_int(ad_req_t *r, const char *key, int64_t min, int64_t max, bool *has,
                     int64_t *out)
{
    const char *s = ad_req_query(r, key);
    if (s == NULL || s[0] == '\0') {
        return 0;
    }
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (*end != '\0' || v < min || v > max) {
        ad_res_error(r, 422, "VALIDATION_ERROR",
                     json_pack("{s:s, s:s}", "field", key, "reason", "a whole number in range"),
                     "%s must be a whole number from %lld to %lld", key, (long long)min,
                     (long long)max);
        return -1;
    }
    *out = v;
    *has = true;
    return 0;
}

/* x, from, to, buckets and range of a bucketed read into q. */
static int q_read(ad_req_t *r, ad_store_series_q_t *q)
{
    const char *x = ad_req_query(r, "x");
    if (x != NULL && strcmp(x, "step") != 0 && strcmp(x, "time") != 0) {
        return ad_api_invalid(r, "x", "step or time");
    }
    q->by_time = x != NULL && strcmp(x, "time") == 0;
    bool hb = false;
    int64_t b = BUCKETS_DEFAULT;
    if (ad_api_query_int(r, "buckets", 1, 20000, &hb, &b) != 0 ||
        ad_api_query_int(r, "from", INT64_MIN, INT64_MAX, &q->has_from, &q->from) != 0 ||
        ad_api_query_int(r, "to", INT64_MIN, INT64_MAX, &q->has_to, &q->to) != 0) {
        return -1;
    }
    q->buckets = (size_t)b;
    const char *range = ad_req_query(r, "range");
    if (range == NULL || range[0] == '\0' || strcmp(range, "all") == 0) {
        return 0;
    }
    if (ad_store_series_range(q, range, (int64_t)ad_wall_ms()) != 0) {
        return ad_api_invalid(r, "range", "one of 5m, 15m, 1h, 6h, 24h, 7d, all");
    }
    return 0;
}

/* runs=a,b,c: each visible to the caller (else 404 as for a missing run). */
static int q_runs(ad_app_t *app, ad_req_t *r, char runs[][AD_ID_MAX], size_t *n)
{
    const char *s = ad_req_query(r, "runs");
    if (s == NULL || s[0] == '\0') {
        return ad_api_invalid(r, "runs", "a comma-separated list of run ids");
    }
    *n = 0;
    while (*s != '\0') {
        size_t len = strcspn(s, ",");
        if (len == 0 || len >= AD_ID_MAX || *n == AD_SERIES_RUNS_MAX) {
            return ad_api_invalid(r, "runs", "1 to 16 run ids separated by commas");
        }
        memcpy(runs[*n], s, len);
        runs[*n][len] = '\0';
        if (!ad_api_visible(app, r, AD_API_RUN, runs[*n], NULL)) {
            return -1;
        }
        (*n)++;
        s += len + (s[len] == ',');
    }
    return 0;
}

/* ---- reads -------------------------------------------------------------------------- */

static void list_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    if (!ad_api_visible(app, r, AD_API_RUN, id, NULL)) {
        return;
    }
    json_t *series = NULL;
    int rc = ad_store_series_list(app->store, id, &series);
    if (rc != 0) {
        ad_api_fail(r, rc, "run", id);
        return;
    }
    ad_res_json(r, 200, json_pack("{s:s, s:o}", "runId", id, "series", series));
}

/* Answers a finished read: flat for one run's series, else {.., runs}. */
static void answer_read(ad_store_series_q_t *q, int rc, bool flat)
{
    ad_req_t *r = q->ud;
    if (rc == AD_ENOENT) {
        ad_res_error(r, 404, "NOT_FOUND", json_pack("{s:s}", "name", q->name),
                     "no points in series %s", q->name);
    } else if (rc != 0) {
        ad_res_error_code(r, rc, NULL, "metric read failed: %s", ad_strerror(rc));
    } else {
        if (flat) {
            json_t *one = json_array_get(json_object_get(q->out, "runs"), 0);
            /* the run's name and colour beside the series' own name */
            json_object_set(one, "runName", json_object_get(one, "name"));
            json_object_set(one, "runColor", json_object_get(one, "color"));
            json_object_del(one, "name");
            json_object_del(one, "color");
            json_object_update(q->out, one);
            json_object_del(q->out, "runs");
            json_object_del(q->out, "group"); /* one run: the same as its buckets */
        }
        ad_res_json(r, 200, q->out);
        q->out = NULL;
    }
    json_decref(q->out);
    free(q);
}

static void series_done(int rc, void *ctx)
{
    answer_read(ctx, rc, true);
}

static void compare_done(int rc, void *ctx)
{
    answer_read(ctx, rc, false);
}

static int q_name(ad_req_t *r, const char *name, ad_store_series_q_t *q)
{
    if (name == NULL || name[0] == '\0' || strlen(name) > AD_SERIES_NAME_MAX) {
        return ad_api_invalid(r, "name", "a series name of 1 to 200 bytes");
    }
    snprintf(q->name, sizeof(q->name), "%s", name);
    return 0;
}

static void series_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    ad_store_series_q_t *q = ad_xcalloc(1, sizeof(*q));
    if (q_name(r, ad_req_param(r, "name"), q) != 0 || q_read(r, q) != 0 ||
        !ad_api_visible(app, r, AD_API_RUN, id, NULL)) {
        free(q);
        return;
    }
    snprintf(q->runs[0], sizeof(q->runs[0]), "%s", id);
    q->nruns = 1;
    q->ud = r;
    ad_store_series_query(app->store, q, series_done);
}

static void compare_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    ad_store_series_q_t *q = ad_xcalloc(1, sizeof(*q));
    if (q_name(r, ad_req_query(r, "name"), q) != 0 || q_read(r, q) != 0 ||
        q_runs(app, r, q->runs, &q->nruns) != 0) {
        free(q);
        return;
    }
    q->ud = r;
    ad_store_series_query(app->store, q, compare_done);
}

/* ---- export ----------------------------------------------------------------------------
 * Streamed (src/http's chunked stream): the first piece is read before the
 * answer, so an error there is still a status; then a piece at a time on
 * the thread pool, each asked for once the last one is on the socket. A
 * read error mid-way cuts the stream (the client sees it incomplete). */

typedef struct {
    ad_store_series_export_t x; /* first: the store's done gets &x */
    ad_app_t *app;
    ad_stream_t *st; /* NULL before the answer and once the stream is over */
    bool reading;    /* a piece is being read on the pool */
    bool gone;       /* the stream is over: free when the read returns */
} export_t;

static void export_free(export_t *e)
{
    ad_buf_cleanup(&e->x.body);
    json_decref(e->x.names);
    free(e);
}

/* Hands the piece in body to the stream (or ends it). */
static void export_send(export_t *e)
{
    if (e->x.body.len == 0 && e->x.end) {
        ad_stream_end(e->st);
        return;
    }
    ad_stream_write(e->st, e->x.body.data, e->x.body.len);
    ad_buf_reset(&e->x.body);
}

static void export_piece_done(int rc, void *ctx);

static void export_pull(ad_stream_t *st, void *ud)
{
    AD_UNUSED(st);
    export_t *e = ud;
    if (e->x.body.len > 0 || e->x.end) {
        export_send(e); /* the first piece, read before the answer */
        return;
    }
    e->reading = true;
    ad_store_series_export(e->app->store, &e->x, export_piece_done);
}

static void export_closed(ad_stream_t *st, bool ended, void *ud)
{
    AD_UNUSED(st);
    export_t *e = ud;
    if (!ended) {
        ad_log(AD_LOG_INFO, "api", "metrics export cut points=%lld", (long long)e->x.points);
    }
    e->st = NULL;
    e->gone = true;
    if (!e->reading) {
        export_free(e);
    }
}

static const ad_stream_ops_t export_ops = {export_pull, export_closed};

/* The first piece is in: answer, or fail with a status. */
static void export_start(export_t *e, int rc)
{
    ad_req_t *r = e->x.ud;
    if (rc != 0) {
        ad_res_error_code(r, rc, NULL, "export failed: %s", ad_strerror(rc));
        export_free(e);
        return;
    }
    ad_res_header(r, "Content-Disposition",
                  e->x.csv ? "attachment; filename=\"metrics.csv\""
                           : "attachment; filename=\"metrics.jsonl\"");
    e->st = ad_stream_start(r, 200, e->x.csv ? "text/csv; charset=utf-8" : "application/x-ndjson",
                            &export_ops, e);
    e->x.ud = NULL; /* the request is answered */
    if (e->st == NULL) {
        export_free(e);
    }
}

static void export_piece_done(int rc, void *ctx)
{
    export_t *e = ctx;
    e->reading = false;
    if (e->x.ud != NULL) {
        export_start(e, rc);
    } else if (e->gone) {
        export_free(e);
    } else if (rc != 0) {
        ad_log(AD_LOG_WARN, "api", "metrics export failed mid-way err=%s", ad_strerror(rc));
        ad_stream_abort(e->st);
    } else {
        export_send(e);
    }
}

/* format and names of an export into x. */
static int q_export(ad_req_t *r, ad_store_series_export_t *x)
{
    const char *f = ad_req_query(r, "format");
    if (f != NULL && strcmp(f, "csv") != 0 && strcmp(f, "jsonl") != 0) {
        return ad_api_invalid(r, "format", "csv or jsonl");
    }
    x->csv = f == NULL || strcmp(f, "csv") == 0;
    const char *names = ad_req_query(r, "names");
    if (names != NULL && names[0] != '\0') {
        x->names = json_array();
        while (*names != '\0') {
            size_t len = strcspn(names, ",");
            json_array_append_new(x->names, json_stringn(names, len));
            names += len + (names[len] == ',');
        }
    }
    ad_buf_init(&x->body, AD_SERIES_EXPORT_BODY_MAX);
    return 0;
}

static export_t *export_new(ad_app_t *app, ad_req_t *r)
{
    export_t *e = ad_xcalloc(1, sizeof(*e));
    e->app = app;
    e->x.ud = r;
    return e;
}

static void export_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    export_t *e = export_new(app, r);
    if (!ad_api_visible(app, r, AD_API_RUN, id, NULL) || q_export(r, &e->x) != 0) {
        export_free(e);
        return;
    }
    snprintf(e->x.runs[0], sizeof(e->x.runs[0]), "%s", id);
    e->x.nruns = 1;
    e->reading = true;
    ad_store_series_export(app->store, &e->x, export_piece_done);
}

static void compare_export_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    export_t *e = export_new(app, r);
    if (q_runs(app, r, e->x.runs, &e->x.nruns) != 0 || q_export(r, &e->x) != 0) {
        export_free(e);
        return;
    }
    e->reading = true;
    ad_store_series_export(app->store, &e->x, export_piece_done);
}

/* ---- writes ------------------------------------------------------------------------- */

/* Every point checked (ad_store_series_point_why): 0, or -1 after a 422
 * naming the point. */
static int check_points(ad_req_t *r, json_t *points)
{
    if (!json_is_array(points) || json_array_size(points) == 0 ||
        json_array_size(points) > BATCH_MAX) {
        return ad_api_invalid(r, "points", "an array of 1 to 100000 points");
    }
    size_t i;
    json_t *p;
    json_array_foreach(points, i, p)
    {
        const char *bad = ad_store_series_point_why(p);
        if (bad != NULL) {
            ad_res_error(r, 422, "VALIDATION_ERROR",
                         json_pack("{s:s, s:I, s:s}", "field", "points", "index", (json_int_t)i,
                                   "reason", bad),
                         "point %zu: %s", i, bad);
            return -1;
        }
    }
    return 0;
}

typedef struct {
    ad_app_t *app;
    ad_req_t *r;
    json_t *batch;
} post_t;

static void post_done(int rc, json_t *result, void *ud)
{
    post_t *p = ud;
    if (rc != 0) {
        ad_res_error_code(p->r, rc, NULL, "metrics not stored: %s", ad_strerror(rc));
    } else {
        const char *run = json_string_value(json_object_get(p->batch, "runId"));
        const char *org = json_string_value(json_object_get(p->batch, "orgId"));
        json_t *points = json_object_get(p->batch, "points");
        if (json_array_size(points) > 0) {
            json_t *ev = json_pack("{s:s}", "runId", run);
            if (json_array_size(points) <= LIVE_POINTS_MAX) {
                json_object_set(ev, "points", points);
            } else {
                json_object_set_new(ev, "count", json_integer((json_int_t)json_array_size(points)));
            }
            ad_api_publish(p->app, "metrics_update", ev, "run", run, "metrics", run, "org", org,
                           NULL);
            json_decref(ev);
        }
        ad_api_dists_published(p->app, p->batch);
        ad_res_json(p->r, 200, json_incref(result));
    }
    json_decref(p->batch);
    free(p);
}

static void post_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    char org[AD_ID_MAX];
    if (!ad_api_visible(app, r, AD_API_RUN, id, org)) {
        return;
    }
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    json_t *points = json_object_get(body, "points"), *dists = NULL;
    /* points may be left out when the batch has histograms or counts */
    if (ad_api_dists_check(r, body, &dists) != 0 ||
        ((points != NULL || json_array_size(dists) == 0) && check_points(r, points) != 0)) {
        json_decref(dists);
        json_decref(body);
        return;
    }
    post_t *p = ad_xcalloc(1, sizeof(*p));
    p->app = app;
    p->r = r;
    p->batch = json_pack("{s:s, s:s, s:I, s:o}", "runId", id, "orgId", org, "now",
                         (json_int_t)ad_wall_ms(), "points",
                         points != NULL ? json_incref(points) : json_array());
    if (json_array_size(dists) > 0) {
        json_object_set(p->batch, "dists", dists);
    }
    json_decref(dists);
    json_decref(body);
    ad_store_series_append(app->store, json_incref(p->batch), post_done, p);
}

void ad_api_scalars_register(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_server_route(s, "GET", "/api/runs/:id/metrics", AD_ACCESS_READ, list_h, app);
    ad_server_route(s, "POST", "/api/runs/:id/metrics", AD_ACCESS_WRITE, post_h, app);
    ad_server_route(s, "GET", "/api/runs/:id/metrics/export", AD_ACCESS_READ, export_h, app);
    ad_server_route(s, "GET", "/api/runs/:id/metrics/:name", AD_ACCESS_READ, series_h, app);
    ad_server_route(s, "GET", "/api/metrics/compare", AD_ACCESS_READ, compare_h, app);
    ad_server_route(s, "GET", "/api/metrics/compare/export", AD_ACCESS_READ, compare_export_h, app);
}
