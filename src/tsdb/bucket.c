/* SPDX-License-Identifier: MIT */
/* Bucketed min/max/sum/count/last over a range (see tsdb.h). */
#include "tsdb/tsdb.h"

#include "core/core.h"

#include <stdlib.h>
#include <string.h>

void tsdb_agg_init(tsdb_agg_t *a, int64_t from, int64_t to, size_t n, bool by_time)
{
    memset(a, 0, sizeof(*a));
    a->from = from;
    a->to = to < from ? from : to;
    a->n = n < 1 ? 1 : (n > TSDB_BUCKETS_MAX ? TSDB_BUCKETS_MAX : n);
    a->by_time = by_time;
    uint64_t span = (uint64_t)a->to - (uint64_t)a->from + 1;
    a->narrow = span != 0 && span <= UINT64_MAX / a->n;
    a->b = ad_xcalloc(a->n, sizeof(tsdb_bucket_t));
}

void tsdb_agg_free(tsdb_agg_t *a)
{
    free(a->b);
    a->b = NULL;
}

long tsdb_agg_index(const tsdb_agg_t *a, int64_t x)
{
    if (x < a->from || x > a->to) {
        return -1;
    }
    if (a->narrow) {
        uint64_t span = (uint64_t)a->to - (uint64_t)a->from + 1;
        return (long)(((uint64_t)x - (uint64_t)a->from) * a->n / span);
    }
    __int128 span = (__int128)a->to - a->from + 1;
    return (long)(((__int128)x - a->from) * (__int128)a->n / span);
}

static void put(tsdb_bucket_t *b, int64_t x, int64_t count, double min, double max, double sum,
                double last)
{
    if (b->count == 0 || min < b->min) {
        b->min = min;
    }
    if (b->count == 0 || max > b->max) {
        b->max = max;
    }
    if (b->count == 0 || x >= b->last_x) {
        b->last = last;
        b->last_x = x;
    }
    b->sum += sum;
    b->count += count;
}

void tsdb_agg_add(tsdb_agg_t *a, const tsdb_point_t *p)
{
    int64_t x = a->by_time ? p->t_ms : p->step;
    long i = tsdb_agg_index(a, x);
    if (i >= 0) {
        put(&a->b[i], x, 1, p->v, p->v, p->v, p->v);
    }
}

bool tsdb_agg_summary(tsdb_agg_t *a, int64_t x0, int64_t x1, int64_t count, double min, double max,
                      double sum, double last)
{
    long i = tsdb_agg_index(a, x0);
    if (i < 0 || tsdb_agg_index(a, x1) != i) {
        return false;
    }
    put(&a->b[i], x1, count, min, max, sum, last);
    return true;
}
