/* SPDX-License-Identifier: MIT */
/*
 * Distributions of runs over REST (issue #16): histograms (reward
 * distributions) and counts (action distributions), one per run, name and
 * step, kept in the store's metric_dists (src/tables/dists.c).
 * Its routes are listed in docs/api.md, their bodies and answers in
 * docs/training.md.
 * They are written by the metric batch (POST /api/runs/:id/metrics with
 * histograms: [...] and counts: [...], scalars.c; checked by the store,
 * src/tables/seriesbatch.c) and by a command agent's `histogram` and
 * `counts` lines (src/run/dists.c).
 */
#include "api/api_int.h"
#include "tables/dists.h"

#include <stdlib.h>

/* ---- reads ------------------------------------------------------------------------- */

static void read_done(int rc, void *ctx)
{
    ad_store_dist_q_t *q = ctx;
    ad_req_t *r = q->ud;
    if (rc == AD_ENOENT) {
        ad_res_error(r, 404, "NOT_FOUND", json_pack("{s:s}", "name", q->name),
                     "no %s %s at those steps", q->counts ? "counts" : "histogram", q->name);
    } else if (rc != 0) {
        ad_res_error_code(r, rc, NULL, "distribution read failed: %s", ad_strerror(rc));
    } else {
        ad_res_json(r, 200, q->out);
        q->out = NULL;
    }
    json_decref(q->out);
    free(q);
}

static void list_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    if (!ad_api_visible(app, r, AD_STORE_ROW_RUN, id, NULL)) {
        return;
    }
    ad_store_dist_q_t *q = ad_xcalloc(1, sizeof(*q));
    snprintf(q->run_id, sizeof(q->run_id), "%s", id);
    q->view = AD_DIST_LIST;
    q->ud = r;
    ad_store_dist_query(app->store, q, read_done);
}

static void read_one(ad_req_t *r, ad_app_t *app, bool counts)
{
    const char *id = ad_req_param(r, "id");
    if (!ad_api_visible(app, r, AD_STORE_ROW_RUN, id, NULL)) {
        return;
    }
    ad_store_dist_q_t *q = ad_xcalloc(1, sizeof(*q));
    ad_field_err_t e;
    if (ad_store_dist_parse(q, ad_req_param(r, "name"), ad_api_query_get, r, &e) != 0) {
        ad_api_invalid_err(r, &e);
        free(q);
        return;
    }
    snprintf(q->run_id, sizeof(q->run_id), "%s", id);
    q->counts = counts;
    q->ud = r;
    ad_store_dist_query(app->store, q, read_done);
}

static void hist_h(ad_req_t *r, void *ud)
{
    read_one(r, ud, false);
}

static void counts_h(ad_req_t *r, void *ud)
{
    read_one(r, ud, true);
}

void ad_api_dists_register(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_server_route(s, "GET", "/api/runs/:id/distributions", AD_ACCESS_READ, list_h, app);
    ad_server_route(s, "GET", "/api/runs/:id/histograms/:name", AD_ACCESS_READ, hist_h, app);
    ad_server_route(s, "GET", "/api/runs/:id/counts/:name", AD_ACCESS_READ, counts_h, app);
}
