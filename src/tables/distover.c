/* SPDX-License-Identifier: MIT */
/*
 * A distribution over time (issue #16, migration 1950): the steps [from,
 * to] cut into equal buckets, each bucket the sum of every stored step in
 * it, never a sample. Histograms are added on common equal edges over the
 * range's outer edges (src/tsdb spreads a bucket over the ones it
 * overlaps); counts are added per category (past 512 categories the rest
 * go to "(other)"). Thread pool (a read connection), from dists.c.
 *
 * Ownership: q->out is set here and is the caller's.
 */
#include "store/table.h"
#include "tables/dists.h"
#include "tables/tables_int.h"
#include "tsdb/tsdb.h"

#include <stdlib.h>
#include <string.h>

#define OVER_CATEGORIES_MAX 512
#define OTHER "(other)"

typedef struct {
    int64_t from, to;
    size_t n;       /* step buckets */
    size_t m;       /* histogram: value bins */
    double *dedges; /* m + 1 */
    double *counts; /* n * m (histogram) */
    json_t **cats;  /* n objects (counts), NULL until used */
    json_t *seen;   /* category -> total over the range */
    int64_t *steps; /* how many stored steps each bucket holds */
    double *total;
} over_t;

static size_t bucket_of(const over_t *o, int64_t step)
{
    __int128 span = (__int128)o->to - o->from + 1;
    __int128 k = ((__int128)step - o->from) * (__int128)o->n / span;
    return k < 0 ? 0 : (k >= (__int128)o->n ? o->n - 1 : (size_t)k);
}

/* One stored histogram {edges, counts} into bucket b. */
static void add_hist(over_t *o, size_t b, json_t *data)
{
    json_t *je = json_object_get(data, "edges"), *jc = json_object_get(data, "counts");
    size_t n = json_array_size(jc);
    bool equal = je == NULL && json_is_number(json_object_get(data, "lo"));
    if (n == 0 || n > TSDB_HIST_BINS_MAX || (!equal && json_array_size(je) != n + 1)) {
        return; /* not what dists.c writes */
    }
    double e[TSDB_HIST_BINS_MAX + 1], c[TSDB_HIST_BINS_MAX];
    if (equal) { /* binned raw values: {lo, hi, counts} */
        tsdb_hist_edges(json_number_value(json_object_get(data, "lo")),
                        json_number_value(json_object_get(data, "hi")), n, e);
    }
    for (size_t i = 0; i <= n; i++) {
        if (!equal) {
            e[i] = json_number_value(json_array_get(je, i));
        }
        if (i < n) {
            c[i] = json_number_value(json_array_get(jc, i));
        }
    }
    tsdb_hist_add(e, c, n, o->dedges, o->counts + b * o->m, o->m);
}

static void add_cat(json_t *obj, const char *k, double v)
{
    json_t *old = json_object_get(obj, k);
    json_object_set_new(obj, k, json_real(json_number_value(old) + v));
}

/* One stored {counts: {category: n}} into bucket b. */
static void add_counts(over_t *o, size_t b, json_t *data)
{
    if (o->cats[b] == NULL) {
        o->cats[b] = json_object();
    }
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(data, "counts"), k, v)
    {
        const char *key = k;
        if (json_object_get(o->seen, k) == NULL &&
            json_object_size(o->seen) >= OVER_CATEGORIES_MAX) {
            key = OTHER;
        }
        add_cat(o->seen, key, json_number_value(v));
        add_cat(o->cats[b], key, json_number_value(v));
    }
}

static int add_rows(ad_db_t *db, const ad_store_dist_q_t *q, over_t *o)
{
    ad_db_stmt_t *s = ad_store_dists_rows(db, q, o->from, o->to);
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        size_t b = bucket_of(o, ad_db_column_int64(s, 0));
        json_t *data = json_loads((const char *)ad_db_column_text(s, 3), 0, NULL);
        o->steps[b]++;
        o->total[b] += ad_db_column_double(s, 2);
        if (q->counts) {
            add_counts(o, b, data);
        } else {
            add_hist(o, b, data);
        }
        json_decref(data);
    }
    ad_db_reset(s);
    return rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
}

static int by_total_desc(const void *a, const void *b)
{
    double x = json_number_value(json_array_get(*(json_t *const *)a, 1));
    double y = json_number_value(json_array_get(*(json_t *const *)b, 1));
    return x < y ? 1 : (x > y ? -1 : 0);
}

/* The categories, most counted first. */
static json_t *categories(json_t *seen)
{
    size_t n = json_object_size(seen), i = 0;
    json_t **pairs = ad_xcalloc(n > 0 ? n : 1, sizeof(*pairs));
    const char *k;
    json_t *v;
    json_object_foreach(seen, k, v)
    {
        pairs[i++] = json_pack("[s, O]", k, v);
    }
    qsort(pairs, n, sizeof(*pairs), by_total_desc);
    json_t *out = json_array();
    for (i = 0; i < n; i++) {
        json_array_append(out, json_array_get(pairs[i], 0));
        json_decref(pairs[i]);
    }
    free(pairs);
    return out;
}

/* The non-empty buckets as columns: x (each bucket's first step), steps,
 * total and counts (a row of m per bucket, or an object per bucket). */
static json_t *over_json(const ad_store_dist_q_t *q, over_t *o)
{
    json_t *x = json_array(), *steps = json_array(), *total = json_array(), *counts = json_array();
    __int128 span = (__int128)o->to - o->from + 1;
    for (size_t b = 0; b < o->n; b++) {
        if (o->steps[b] == 0) {
            continue;
        }
        __int128 at = o->from + (span * (__int128)b + (__int128)o->n - 1) / (__int128)o->n;
        json_array_append_new(x, json_integer((json_int_t)at));
        json_array_append_new(steps, json_integer(o->steps[b]));
        json_array_append_new(total, json_real(o->total[b]));
        if (q->counts) {
            json_array_append(counts, o->cats[b]);
            continue;
        }
        json_t *row = json_array();
        for (size_t i = 0; i < o->m; i++) {
            json_array_append_new(row, json_real(o->counts[b * o->m + i]));
        }
        json_array_append_new(counts, row);
    }
    json_t *out = json_pack("{s:s, s:s, s:I, s:I, s:I, s:o, s:o, s:o, s:o}", "name", q->name,
                            "kind", q->counts ? "counts" : "histogram", "from", (json_int_t)o->from,
                            "to", (json_int_t)o->to, "bucketCount", (json_int_t)o->n, "x", x,
                            "steps", steps, "total", total, "counts", counts);
    if (q->counts) {
        json_object_set_new(out, "categories", categories(o->seen));
    } else {
        json_t *e = json_array();
        for (size_t i = 0; i <= o->m; i++) {
            json_array_append_new(e, json_real(o->dedges[i]));
        }
        json_object_set_new(out, "edges", e);
    }
    return out;
}

static void over_init(over_t *o, const ad_store_dist_q_t *q, double lo, double hi)
{
    uint64_t steps = (uint64_t)o->to - (uint64_t)o->from + 1;
    o->n = q->buckets < 1 ? 1 : q->buckets;
    o->n = steps != 0 && steps < o->n ? (size_t)steps : o->n;
    o->m = q->counts ? 0 : (q->bins < 1 ? 1 : q->bins);
    o->steps = ad_xcalloc(o->n, sizeof(*o->steps));
    o->total = ad_xcalloc(o->n, sizeof(*o->total));
    if (q->counts) {
        o->cats = ad_xcalloc(o->n, sizeof(*o->cats));
        o->seen = json_object();
        return;
    }
    if (!(hi > lo)) {
        lo -= 0.5;
        hi += 0.5;
    }
    o->dedges = ad_xcalloc(o->m + 1, sizeof(*o->dedges));
    for (size_t i = 0; i <= o->m; i++) {
        o->dedges[i] = i == o->m ? hi : lo + (hi - lo) * (double)i / (double)o->m;
    }
    o->counts = ad_xcalloc(o->n * o->m, sizeof(*o->counts));
}

static void over_free(over_t *o)
{
    for (size_t b = 0; o->cats != NULL && b < o->n; b++) {
        json_decref(o->cats[b]);
    }
    free(o->cats);
    json_decref(o->seen);
    free(o->dedges);
    free(o->counts);
    free(o->steps);
    free(o->total);
}

int ad_store_dists_over_time(ad_db_t *db, ad_store_dist_q_t *q)
{
    int64_t span[3];
    double lo = 0, hi = 0;
    int rc = ad_store_dists_span(db, q, q->has_from ? q->from : INT64_MIN,
                                 q->has_to ? q->to : INT64_MAX, span, &lo, &hi);
    if (rc != 0) {
        return rc;
    }
    over_t o = {.from = q->has_from ? q->from : span[1], .to = q->has_to ? q->to : span[2]};
    over_init(&o, q, lo, hi);
    rc = add_rows(db, q, &o);
    if (rc == 0) {
        q->out = over_json(q, &o);
    }
    over_free(&o);
    return rc;
}
