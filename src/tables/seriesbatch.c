/* SPDX-License-Identifier: MIT */
/*
 * A metric batch (store.h, "a metric batch"): the body of POST
 * /api/runs/:id/metrics checked (its points, histograms and counts) into
 * the batch ad_store_series_append writes, and the live events a stored
 * batch publishes (metrics_update, distribution_update). The checks are
 * pure (any thread; src/api answers the error); posting a batch, which
 * publishes its events once it is stored, is on the loop thread
 * (ad_store_series_post).
 */
#include "bus/bus.h"
#include "store/table.h"
#include "tables/dists.h"
#include "tables/series.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_MAX 100000     /* points in one batch */
#define DISTS_BATCH_MAX 1000 /* histograms and counts in one batch */
#define LIVE_POINTS_MAX 2000 /* points an event carries; past it, their count */
#define LIVE_ITEMS_MAX 100   /* distributions an event names */

static json_t *fail(ad_store_batch_err_t *e, int status, json_t *details, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static json_t *fail(ad_store_batch_err_t *e, int status, json_t *details, const char *fmt, ...)
{
    e->status = status;
    e->details = details;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return NULL;
}

/* body[key] (an array, or absent) checked into dists; false with e set. */
static bool check_kind(const json_t *body, const char *key, bool counts, json_t *dists,
                       ad_store_batch_err_t *e)
{
    json_t *arr = json_object_get(body, key);
    if (arr == NULL) {
        return true;
    }
    if (!json_is_array(arr)) {
        fail(e, 422, json_pack("{s:s, s:s}", "field", key, "reason", "must be an array"), "%s %s",
             key, "must be an array");
        return false;
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
            fail(e, err.status,
                 json_pack("{s:s, s:I, s:s, s:s}", "field", key, "index", (json_int_t)i, "item",
                           err.field, "reason", err.reason),
                 "%s %zu: %s", key, i, err.reason);
            return false;
        }
        json_array_append_new(dists, d);
    }
    return true;
}

/* Every point checked (ad_store_series_point_why). */
static bool check_points(const json_t *points, ad_store_batch_err_t *e)
{
    if (!json_is_array(points) || json_array_size(points) == 0 ||
        json_array_size(points) > BATCH_MAX) {
        fail(e, 422,
             json_pack("{s:s, s:s}", "field", "points", "reason", "an array of 1 to 100000 points"),
             "points an array of 1 to 100000 points");
        return false;
    }
    size_t i;
    json_t *p;
    json_array_foreach(points, i, p)
    {
        const char *bad = ad_store_series_point_why(p);
        if (bad != NULL) {
            fail(e, 422,
                 json_pack("{s:s, s:I, s:s}", "field", "points", "index", (json_int_t)i, "reason",
                           bad),
                 "point %zu: %s", i, bad);
            return false;
        }
    }
    return true;
}

json_t *ad_store_series_batch(const json_t *body, const char *run, const char *org, int64_t now,
                              ad_store_batch_err_t *e)
{
    size_t n = json_array_size(json_object_get(body, "histograms")) +
               json_array_size(json_object_get(body, "counts"));
    if (n > DISTS_BATCH_MAX) {
        return fail(
            e, 413,
            json_pack("{s:s, s:I}", "field", "histograms", "max", (json_int_t)DISTS_BATCH_MAX),
            "%zu histograms and counts in one batch; at most %d", n, DISTS_BATCH_MAX);
    }
    json_t *dists = json_array();
    json_t *points = json_object_get(body, "points");
    /* points may be left out when the batch has histograms or counts */
    if (!check_kind(body, "histograms", false, dists, e) ||
        !check_kind(body, "counts", true, dists, e) ||
        ((points != NULL || json_array_size(dists) == 0) && !check_points(points, e))) {
        json_decref(dists);
        return NULL;
    }
    json_t *batch =
        json_pack("{s:s, s:s, s:I, s:o}", "runId", run, "orgId", org, "now", (json_int_t)now,
                  "points", points != NULL ? json_incref(points) : json_array());
    if (json_array_size(dists) > 0) {
        json_object_set(batch, "dists", dists);
    }
    json_decref(dists);
    return batch;
}

static void batch_events(const json_t *batch, json_t **metrics, json_t **dists)
{
    const char *run = json_string_value(json_object_get(batch, "runId"));
    json_t *points = json_object_get(batch, "points");
    json_t *ds = json_object_get(batch, "dists");
    *metrics = *dists = NULL;
    if (json_array_size(points) > 0) {
        *metrics = json_pack("{s:s}", "runId", run);
        if (json_array_size(points) <= LIVE_POINTS_MAX) {
            json_object_set(*metrics, "points", points);
        } else {
            json_object_set_new(*metrics, "count",
                                json_integer((json_int_t)json_array_size(points)));
        }
    }
    if (json_array_size(ds) > 0) {
        json_t *items = json_array();
        size_t i;
        json_t *d;
        json_array_foreach(ds, i, d)
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
        *dists = json_pack("{s:s, s:o, s:I}", "runId", run, "items", items, "count",
                           (json_int_t)json_array_size(ds));
    }
}

/* The events of a stored batch, published (store.h, ad_store_series_post). */
static void batch_publish(struct ad_bus *bus, const json_t *batch)
{
    const char *run = json_string_value(json_object_get(batch, "runId"));
    const char *org = json_string_value(json_object_get(batch, "orgId"));
    json_t *metrics = NULL, *dists = NULL;
    batch_events(batch, &metrics, &dists);
    if (metrics != NULL) {
        ad_bus_publish_to(bus, "metrics_update", metrics, "run", run, "metrics", run, "org", org,
                          NULL);
    }
    if (dists != NULL) {
        ad_bus_publish_to(bus, "distribution_update", dists, "run", run, "metrics", run, "org", org,
                          NULL);
    }
    json_decref(metrics);
    json_decref(dists);
}

typedef struct {
    struct ad_bus *bus;
    json_t *batch; /* a reference of our own, for the events */
    ad_store_result_cb cb;
    void *ud;
} post_t;

static void posted(int rc, json_t *result, void *ud)
{
    post_t *p = ud;
    if (rc == 0) {
        batch_publish(p->bus, p->batch);
    }
    p->cb(rc, result, p->ud);
    json_decref(p->batch);
    free(p);
}

void ad_store_series_post(ad_store_t *st, struct ad_bus *bus, json_t *batch, ad_store_result_cb cb,
                          void *ud)
{
    post_t *p = ad_xcalloc(1, sizeof(*p));
    *p = (post_t){.bus = bus, .batch = json_incref(batch), .cb = cb, .ud = ud};
    ad_store_series_append(st, batch, posted, p);
}
