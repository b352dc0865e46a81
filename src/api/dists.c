/* SPDX-License-Identifier: MIT */
/*
 * Distributions of runs over REST (issue #16): histograms (reward
 * distributions) and counts (action distributions), one per run, name and
 * step, kept in the store's metric_dists (src/store/dists.c).
 * Its routes are listed in docs/api.md, their bodies and answers in
 * docs/training.md.
 * They are written by the metric batch (POST /api/runs/:id/metrics with
 * histograms: [...] and counts: [...], scalars.c; checked here) and by a
 * command agent's `histogram` and `counts` lines (src/run/dists.c).
 */
#include "api/api_int.h"

#include <stdlib.h>
#include <string.h>

#define DISTS_BATCH_MAX 1000 /* histograms and counts in one batch */
#define RANGE_DEFAULT 200
#define BUCKETS_DEFAULT 50
#define LIVE_ITEMS_MAX 100

/* ---- the batch --------------------------------------------------------------------- */

/* Checks body[key] (an array, or absent) into dists; -1 after the answer. */
static int check_kind(ad_req_t *r, json_t *body, const char *key, bool counts, json_t *dists)
{
    json_t *arr = json_object_get(body, key);
    if (arr == NULL) {
        return 0;
    }
    if (!json_is_array(arr)) {
        return ad_api_invalid(r, key, "must be an array");
    }
    size_t i;
    json_t *in;
    json_array_foreach(arr, i, in)
    {
        ad_dist_err_t err = {0};
        json_t *d = json_is_object(in) ? ad_store_dist_check(in, counts, &err) : NULL;
        if (d == NULL) {
            if (err.status == 0) {
                err.status = 422;
                snprintf(err.field, sizeof(err.field), "%s", key);
                snprintf(err.reason, sizeof(err.reason), "must be an object");
            }
            ad_res_error(r, err.status, err.status == 413 ? "TOO_LARGE" : "VALIDATION_ERROR",
                         json_pack("{s:s, s:I, s:s, s:s}", "field", key, "index", (json_int_t)i,
                                   "item", err.field, "reason", err.reason),
                         "%s %zu: %s", key, i, err.reason);
            return -1;
        }
        json_array_append_new(dists, d);
    }
    return 0;
}

int ad_api_dists_check(ad_req_t *r, json_t *body, json_t **dists)
{
    size_t n = json_array_size(json_object_get(body, "histograms")) +
               json_array_size(json_object_get(body, "counts"));
    *dists = json_array();
    if (n > DISTS_BATCH_MAX) {
        ad_res_error(
            r, 413, "TOO_LARGE",
            json_pack("{s:s, s:I}", "field", "histograms", "max", (json_int_t)DISTS_BATCH_MAX),
            "%zu histograms and counts in one batch; at most %d", n, DISTS_BATCH_MAX);
        return -1;
    }
    if (check_kind(r, body, "histograms", false, *dists) != 0 ||
        check_kind(r, body, "counts", true, *dists) != 0) {
        return -1;
    }
    return 0;
}

void ad_api_dists_published(ad_app_t *app, json_t *batch)
{
    json_t *dists = json_object_get(batch, "dists");
    if (json_array_size(dists) == 0) {
        return;
    }
    const char *run = json_string_value(json_object_get(batch, "runId"));
    const char *org = json_string_value(json_object_get(batch, "orgId"));
    json_t *items = json_array();
    size_t i;
    json_t *d;
    json_array_foreach(dists, i, d)
    {
        if (i == LIVE_ITEMS_MAX) {
            break;
        }
        json_t *it = json_pack("{s:O, s:O}", "kind", json_object_get(d, "kind"), "name",
                               json_object_get(d, "name"));
        if (json_object_get(d, "step") != NULL) {
            json_object_set(it, "step", json_object_get(d, "step"));
        }
        json_array_append_new(items, it);
    }
    json_t *ev = json_pack("{s:s, s:o, s:I}", "runId", run, "items", items, "count",
                           (json_int_t)json_array_size(dists));
    ad_api_publish(app, "distribution_update", ev, "run", run, "metrics", run, "org", org, NULL);
    json_decref(ev);
}

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
    if (!ad_api_visible(app, r, AD_API_RUN, id, NULL)) {
        return;
    }
    ad_store_dist_q_t *q = ad_xcalloc(1, sizeof(*q));
    snprintf(q->run_id, sizeof(q->run_id), "%s", id);
    q->view = AD_DIST_LIST;
    q->ud = r;
    ad_store_dist_query(app->store, q, read_done);
}

/* view, step, from, to, limit, buckets and bins into q. */
static int q_view(ad_req_t *r, ad_store_dist_q_t *q)
{
    const char *v = ad_req_query(r, "view");
    if (v == NULL || v[0] == '\0' || strcmp(v, "latest") == 0) {
        q->view = AD_DIST_LATEST;
    } else if (strcmp(v, "range") == 0) {
        q->view = AD_DIST_RANGE;
    } else if (strcmp(v, "time") == 0) {
        q->view = AD_DIST_TIME;
    } else {
        return ad_api_invalid(r, "view", "latest, range or time");
    }
    bool has = false;
    int64_t limit = RANGE_DEFAULT, buckets = BUCKETS_DEFAULT, bins = AD_DIST_BINS_DEFAULT;
    if (ad_api_query_int(r, "step", INT64_MIN, INT64_MAX, &q->has_step, &q->step) != 0 ||
        ad_api_query_int(r, "from", INT64_MIN, INT64_MAX, &q->has_from, &q->from) != 0 ||
        ad_api_query_int(r, "to", INT64_MIN, INT64_MAX, &q->has_to, &q->to) != 0 ||
        ad_api_query_int(r, "limit", 1, AD_DIST_RANGE_MAX, &has, &limit) != 0 ||
        ad_api_query_int(r, "buckets", 1, AD_DIST_BUCKETS_MAX, &has, &buckets) != 0 ||
        ad_api_query_int(r, "bins", 1, 256, &has, &bins) != 0) {
        return -1;
    }
    if (q->has_from && q->has_to && q->from > q->to) {
        return ad_api_invalid(r, "from", "must not be after to");
    }
    q->limit = (size_t)limit;
    q->buckets = (size_t)buckets;
    q->bins = (size_t)bins;
    return 0;
}

static void read_one(ad_req_t *r, ad_app_t *app, bool counts)
{
    const char *id = ad_req_param(r, "id"), *name = ad_req_param(r, "name");
    if (!ad_api_visible(app, r, AD_API_RUN, id, NULL)) {
        return;
    }
    ad_store_dist_q_t *q = ad_xcalloc(1, sizeof(*q));
    if (name == NULL || name[0] == '\0' || strlen(name) > AD_SERIES_NAME_MAX) {
        ad_api_invalid(r, "name", "a name of 1 to 200 bytes");
        free(q);
        return;
    }
    if (q_view(r, q) != 0) {
        free(q);
        return;
    }
    snprintf(q->run_id, sizeof(q->run_id), "%s", id);
    snprintf(q->name, sizeof(q->name), "%s", name);
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
