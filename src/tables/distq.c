/* SPDX-License-Identifier: MIT */
/*
 * What a distribution read may ask (dists.c's reads): the name, the view
 * and its window, size and bins, from a request's query. Pure: any thread;
 * src/api answers 422 on the field named.
 */
#include "store/table.h"
#include "tables/dists.h"
#include "tables/series.h"

#include <stdio.h>
#include <string.h>

#define RANGE_DEFAULT 200
#define BUCKETS_DEFAULT 50

static int q_int(ad_store_query_fn get, void *ud, const char *key, int64_t min, int64_t max,
                 bool *has, int64_t *out, ad_field_err_t *e)
{
    return ad_field_query_int(get(ud, key), key, min, max, has, out, e);
}

int ad_store_dist_parse(ad_store_dist_q_t *q, const char *name, ad_store_query_fn get, void *ud,
                        ad_field_err_t *e)
{
    if (name == NULL || name[0] == '\0' || strlen(name) > AD_SERIES_NAME_MAX) {
        return ad_field_fail(e, "name", "a name of 1 to 200 bytes");
    }
    snprintf(q->name, sizeof(q->name), "%s", name);
    const char *v = get(ud, "view");
    if (v == NULL || v[0] == '\0' || strcmp(v, "latest") == 0) {
        q->view = AD_DIST_LATEST;
    } else if (strcmp(v, "range") == 0) {
        q->view = AD_DIST_RANGE;
    } else if (strcmp(v, "time") == 0) {
        q->view = AD_DIST_TIME;
    } else {
        return ad_field_fail(e, "view", "latest, range or time");
    }
    bool has = false;
    int64_t limit = RANGE_DEFAULT, buckets = BUCKETS_DEFAULT, bins = AD_DIST_BINS_DEFAULT;
    if (q_int(get, ud, "step", INT64_MIN, INT64_MAX, &q->has_step, &q->step, e) != 0 ||
        q_int(get, ud, "from", INT64_MIN, INT64_MAX, &q->has_from, &q->from, e) != 0 ||
        q_int(get, ud, "to", INT64_MIN, INT64_MAX, &q->has_to, &q->to, e) != 0 ||
        q_int(get, ud, "limit", 1, AD_DIST_RANGE_MAX, &has, &limit, e) != 0 ||
        q_int(get, ud, "buckets", 1, AD_DIST_BUCKETS_MAX, &has, &buckets, e) != 0 ||
        q_int(get, ud, "bins", 1, 256, &has, &bins, e) != 0) {
        return AD_EINVAL;
    }
    if (q->has_from && q->has_to && q->from > q->to) {
        return ad_field_fail(e, "from", "must not be after to");
    }
    q->limit = (size_t)limit;
    q->buckets = (size_t)buckets;
    q->bins = (size_t)bins;
    return 0;
}
