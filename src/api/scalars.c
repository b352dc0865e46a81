/* SPDX-License-Identifier: MIT */
/*
 * Training-metric series over REST (issue #16): what runs report, kept in
 * the store's metric_chunks (src/tables/series.c, encoded by src/tsdb).
 * Not the daemon's own Prometheus /metrics (metrics.c) nor the health
 * sampler's history (health.c).
 * Its routes are listed in docs/api.md, their bodies and answers in
 * docs/training.md.
 * Buckets carry min, max, mean, last and count: never a sample.
 */
#include "api/api_int.h"
#include "train/train.h"
#include "tables/series.h"

#include <stdlib.h>

/* ---- query parameters ------------------------------------------------------------- */

/* x, from, to, buckets and range of a bucketed read into q. */
static int q_read(ad_req_t *r, ad_store_series_q_t *q)
{
    ad_field_err_t e;
    return ad_store_series_parse(q, ad_api_query_get, r, (int64_t)ad_wall_ms(), &e) != 0
               ? ad_api_invalid_err(r, &e)
               : 0;
}

/* runs=a,b,c: each visible to the caller (else 404 as for a missing run). */
static int q_runs(ad_app_t *app, ad_req_t *r, char runs[][AD_ID_MAX], size_t *n)
{
    ad_field_err_t e;
    if (ad_store_series_runs(ad_req_query(r, "runs"), runs, n, &e) != 0) {
        return ad_api_invalid_err(r, &e);
    }
    for (size_t i = 0; i < *n; i++) {
        if (!ad_api_visible(app, r, AD_STORE_ROW_RUN, runs[i], NULL)) {
            return -1;
        }
    }
    return 0;
}

/* ---- reads -------------------------------------------------------------------------- */

static void list_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    if (!ad_api_visible(app, r, AD_STORE_ROW_RUN, id, NULL)) {
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
            ad_store_series_flat(q->out);
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
    ad_field_err_t e;
    return ad_store_series_name(q, name, &e) != 0 ? ad_api_invalid_err(r, &e) : 0;
}

static void series_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    ad_store_series_q_t *q = ad_xcalloc(1, sizeof(*q));
    if (q_name(r, ad_req_param(r, "name"), q) != 0 || q_read(r, q) != 0 ||
        !ad_api_visible(app, r, AD_STORE_ROW_RUN, id, NULL)) {
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
 * Streamed a piece at a time by src/http's ad_pieces_start: each piece is
 * the store's ad_store_series_export on the thread pool. */

typedef struct {
    ad_store_series_export_t x; /* first: the store's done gets &x */
    ad_app_t *app;
    ad_pieces_t *pc; /* the pump this export's pieces go to */
} export_t;

static void export_free(void *ud)
{
    export_t *e = ud;
    ad_buf_cleanup(&e->x.body);
    json_decref(e->x.names);
    free(e);
}

static void export_piece_done(int rc, void *ctx)
{
    export_t *e = ctx;
    ad_pieces_done(e->pc, rc);
}

static void export_read(ad_pieces_t *pc, void *ud)
{
    export_t *e = ud;
    e->pc = pc;
    ad_store_series_export(e->app->store, &e->x, export_piece_done);
}

static const ad_pieces_ops_t export_ops = {export_read, export_free};

/* format and names of an export into x. */
static int q_export(ad_req_t *r, ad_store_series_export_t *x)
{
    ad_field_err_t e;
    return ad_store_series_export_parse(x, ad_api_query_get, r, &e) != 0 ? ad_api_invalid_err(r, &e)
                                                                         : 0;
}

/* Reads the first piece of e's runs, then answers. */
static void export_start(ad_req_t *r, export_t *e)
{
    ad_pieces_opts_t o = {
        .content_type = e->x.csv ? "text/csv; charset=utf-8" : "application/x-ndjson",
        .disposition = e->x.csv ? "attachment; filename=\"metrics.csv\""
                                : "attachment; filename=\"metrics.jsonl\"",
        .what = "export",
        .log_what = "metrics export",
        .body = &e->x.body,
        .end = &e->x.end,
        .points = &e->x.points,
    };
    ad_pieces_start(r, &o, &export_ops, e);
}

static export_t *export_new(ad_app_t *app)
{
    export_t *e = ad_xcalloc(1, sizeof(*e));
    e->app = app;
    return e;
}

static void export_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    export_t *e = export_new(app);
    if (!ad_api_visible(app, r, AD_STORE_ROW_RUN, id, NULL) || q_export(r, &e->x) != 0) {
        export_free(e);
        return;
    }
    snprintf(e->x.runs[0], sizeof(e->x.runs[0]), "%s", id);
    e->x.nruns = 1;
    export_start(r, e);
}

static void compare_export_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    export_t *e = export_new(app);
    if (q_runs(app, r, e->x.runs, &e->x.nruns) != 0 || q_export(r, &e->x) != 0) {
        export_free(e);
        return;
    }
    export_start(r, e);
}

/* ---- writes ------------------------------------------------------------------------- */

/* Stored, and its events published (src/store). result: the store's (new
 * reference), answered as it is. */
static void post_done(int rc, json_t *result, void *ud)
{
    if (rc != 0) {
        json_decref(result);
        ad_res_error_code(ud, rc, NULL, "metrics not stored: %s", ad_strerror(rc));
    } else {
        ad_res_json(ud, 200, result);
    }
}

static void post_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    char org[AD_ID_MAX];
    if (!ad_api_visible(app, r, AD_STORE_ROW_RUN, id, org)) {
        return;
    }
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    ad_store_batch_err_t e = {0};
    json_t *batch = ad_store_series_batch(body, id, org, (int64_t)ad_wall_ms(), &e);
    json_decref(body);
    if (batch == NULL) {
        ad_res_error(r, e.status, e.status == 413 ? "TOO_LARGE" : "VALIDATION_ERROR", e.details,
                     "%s", e.msg);
        return;
    }
    ad_train_points(app->train, NULL, id, org, json_object_get(batch, "points"));
    ad_store_series_post(app->store, app->bus, batch, post_done, r);
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
