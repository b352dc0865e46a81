/* SPDX-License-Identifier: MIT */
/*
 * tables: distributions (dists.c, distover.c, distq.c).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_DISTS_H
#define AD_TABLES_DISTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "tables/series.h"

/* ---- distributions (dists.c, distover.c, migration 1950, issue #16) -------------
 * A `histogram` (edges and counts, or raw values binned into equal
 * buckets) or a `counts` (category -> count) per run, name and step. They
 * ride in the metric batch: ad_store_series_append's batch may carry
 * dists: [checked objects] beside its points (one writer job, one
 * transaction); its result then counts them in `distributions`. */
#define AD_DIST_VALUES_MAX 100000 /* raw values in one histogram */
#define AD_DIST_BINS_DEFAULT 30   /* buckets raw values are binned into */
#define AD_DIST_CATEGORIES_MAX 256
#define AD_DIST_CATEGORY_MAX 128 /* bytes of a category name */
#define AD_DIST_COUNT_MAX 1e15   /* a count (integers stay exact) */
#define AD_DIST_VALUE_MAX 1e300  /* an edge or raw value, either sign */

typedef struct {
    int status; /* 413 past a bound, else 422 */
    char field[32];
    char reason[160];
} ad_dist_err_t;

/* Checks a histogram ({name, step?, ts?, edges, counts} or {name, step?,
 * ts?, values, bins?}) or, with counts_kind, a counts object ({name,
 * step?, ts?, counts: {category: n}}) and returns the stored form {kind,
 * name, step?, ts?, edges | lo + hi (binned raw values: equal edges),
 * counts, total} (new), or NULL with err set.
 * Pure: any thread. */
json_t *ad_store_dist_check(json_t *in, bool counts_kind, ad_dist_err_t *err);
/* A checked histogram's edges (new): its own, or the equal edges of a
 * binned one ({lo, hi, counts}); NULL for counts. */
json_t *ad_store_dist_edges(json_t *d);

typedef enum { AD_DIST_LIST, AD_DIST_LATEST, AD_DIST_RANGE, AD_DIST_TIME } ad_dist_view_t;

#define AD_DIST_RANGE_MAX 2000  /* items a range read answers at most */
#define AD_DIST_BUCKETS_MAX 500 /* step buckets of an over-time read */

/* A read on the thread pool; done(rc, q) on the loop with q->out (the
 * caller's), or AD_ENOENT when the distribution has no step there.
 *   LIST   {runId, distributions: [{name, kind, steps, firstStep, lastStep,
 *          lastTimeMs}]}
 *   LATEST {name, kind, step, ts, total, edges?, counts, firstStep,
 *          lastStep}: the newest step, or the newest at or before q->step
 *   RANGE  {name, kind, items: [{step, ts, total, edges?, counts}], more,
 *          nextFrom?}: steps [from, to] ascending, at most limit
 *   TIME   {name, kind, from, to, bucketCount, x, steps, total, counts,
 *          edges (histogram) | categories (counts)}: [from, to] cut into
 *          buckets, each the sum of its steps (histograms on bins common
 *          edges; counts per category, most counted first).
 * q must live until done. */
typedef struct {
    char run_id[AD_ID_MAX];
    char name[AD_SERIES_NAME_MAX + 1];
    bool counts; /* the kind: counts, else histogram */
    ad_dist_view_t view;
    bool has_step, has_from, has_to;
    int64_t step, from, to;
    size_t limit, buckets, bins;
    json_t *out;
    void *ud;
} ad_store_dist_q_t;
void ad_store_dist_query(ad_store_t *st, ad_store_dist_q_t *q, ad_store_done_cb done);
/* A read's request into q (distq.c), any thread: name (1 to 200 bytes),
 * then view (latest, the default, range or time), step, from, to (from not
 * after to), limit (1 to AD_DIST_RANGE_MAX, 200), buckets (1 to
 * AD_DIST_BUCKETS_MAX, 50) and bins (1 to 256, AD_DIST_BINS_DEFAULT) read
 * through get. 0, or AD_EINVAL with e naming the field. */
int ad_store_dist_parse(ad_store_dist_q_t *q, const char *name, ad_store_query_fn get, void *ud,
                        ad_field_err_t *e);

#endif
