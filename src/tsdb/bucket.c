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
    a->hit = -1;
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

/* tsdb_agg_index through the bucket last found: bucket i holds the x with
 * i * span <= (x - from) * n < (i + 1) * span. */
static long index_at(tsdb_agg_t *a, int64_t x)
{
    if (a->hit >= 0 && x >= a->hit_lo && x <= a->hit_hi) {
        return a->hit;
    }
    long i = tsdb_agg_index(a, x);
    if (i >= 0) {
        __int128 span = (__int128)a->to - a->from + 1, n = (__int128)a->n;
        a->hit = i;
        a->hit_lo = (int64_t)(a->from + (span * i + n - 1) / n);
        a->hit_hi = (int64_t)(a->from + (span * (i + 1) + n - 1) / n - 1);
    }
    return i;
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
    long i = index_at(a, x);
    if (i >= 0) {
        put(&a->b[i], x, 1, p->v, p->v, p->v, p->v);
    }
}

bool tsdb_agg_summary(tsdb_agg_t *a, int64_t x0, int64_t x1, int64_t count, double min, double max,
                      double sum, double last)
{
    long i = index_at(a, x0);
    if (i < 0 || index_at(a, x1) != i) {
        return false;
    }
    put(&a->b[i], x1, count, min, max, sum, last);
    return true;
}

bool tsdb_agg_wide(const tsdb_agg_t *a, int64_t x0, int64_t x1, int64_t n)
{
    if (x0 < a->from || x1 > a->to || x0 > x1 || n <= 0) {
        return false;
    }
    /* points a bucket: n spread over [x0, x1], a bucket (to - from + 1) / buckets wide */
    double bucket = ((double)a->to - (double)a->from + 1.0) / (double)a->n;
    double per = (double)n * bucket / ((double)x1 - (double)x0 + 1.0);
    return per >= (double)TSDB_ROLL_WIDE;
}

bool tsdb_agg_half(const tsdb_agg_t *a, int64_t x0, int64_t x1)
{
    if (x0 < a->from || x1 > a->to || x0 > x1) {
        return false;
    }
    double bucket = ((double)a->to - (double)a->from + 1.0) / (double)a->n;
    return 2.0 * ((double)x1 - (double)x0 + 1.0) <= bucket;
}

bool tsdb_agg_roll(tsdb_agg_t *a, const tsdb_roll_t *e)
{
    int64_t lo = a->by_time ? e->t_lo : e->s_lo, hi = a->by_time ? e->t_hi : e->s_hi;
    long i0 = index_at(a, lo), i1 = index_at(a, hi);
    if (i0 < 0 || i1 < 0) {
        return false;
    }
    if (i0 == i1) {
        put(&a->b[i0], hi, e->n, e->min, e->max, e->sum, e->last);
        return true;
    }
    /* Straddles an edge: the min and the max are points where they are. */
    int64_t xmin = a->by_time ? e->t_min : e->s_min, xmax = a->by_time ? e->t_max : e->s_max;
    put(&a->b[index_at(a, xmin)], xmin, 1, e->min, e->min, e->min, e->min);
    int64_t rest = e->n - 1;
    double sum = e->sum - e->min;
    bool one = e->min == e->max && xmin == xmax; /* every point the same value */
    if (!one && rest > 0) {
        put(&a->b[index_at(a, xmax)], xmax, 1, e->max, e->max, e->max, e->max);
        rest--;
        sum -= e->max;
    }
    tsdb_bucket_t *end = &a->b[i1]; /* the run's last point, at its end */
    if (end->count > 0 && hi >= end->last_x) {
        end->last = e->last;
        end->last_x = hi;
    }
    if (rest > 0) {
        /* the others where the run starts, their mean as their min and max
         * (it lies between theirs); the bucket's last is not theirs to set */
        tsdb_bucket_t *b = &a->b[i0];
        double mean = sum / (double)rest;
        double last = b->last;
        int64_t last_x = b->last_x;
        bool had = b->count > 0;
        put(b, lo, rest, mean, mean, sum, mean);
        if (had) {
            b->last = last;
            b->last_x = last_x;
        }
    }
    return true;
}
