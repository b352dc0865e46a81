/* SPDX-License-Identifier: MIT */
/*
 * Reads of training-metric series (series.c appends them): the list of a
 * run's series (loop thread) and a bucketed range of one series over one
 * or several runs (thread pool, on read connections of their own: several
 * at once for a read of many points), from raw chunks, whole chunks' sums
 * or the rollup tier. Query results (q->out) are the caller's once done
 * runs.
 */
#include "store/table.h"
#include "tables/series.h"
#include "tables/tables_int.h"
#include "tsdb/tsdb.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reads ------------------------------------------------------------------------ */

static const char SQL_LIST[] =
    "SELECT name, count, first_step, last_step, first_t AS first_time_ms, "
    "last_t AS last_time_ms, first_value, last_value, min_value, max_value "
    "FROM metric_series WHERE run_id = ? ORDER BY name";

int ad_store_series_list(ad_store_t *st, const char *run_id, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_LIST);
    ad_store_bind_text(s, 1, run_id);
    json_t *arr = json_array();
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(arr, ad_store_row_json(s, NULL, NULL));
    }
    ad_db_reset(s);
    if (rc != AD_DB_DONE) {
        json_decref(arr);
        return ad_store_rc(db, rc);
    }
    ad_store_series_best(db, arr);
    *out = arr;
    return 0;
}

static const char SQL_RANGE[] =
    "SELECT min(step_min), max(step_max), min(t_min), max(t_max), count(*) FROM metric_chunks "
    "WHERE run_id = ? AND name = ?";
static const char SQL_INFO[] = "SELECT rolled, step_lo, step_hi, t_lo, t_hi, count, summed, "
                               "chunks FROM metric_series WHERE run_id = ? AND name = ?";

/* What the series row says of its tiers: whether every chunk has its
 * rollup row (migration 2740), and its x range when known. */
typedef struct {
    bool rolled, summed, ranged;
    int64_t lo, hi;
    int64_t count, chunks; /* points, chunk rows */
} series_info_t;

static series_info_t series_info(ad_db_t *db, const char *run_id, const char *name, bool by_time)
{
    series_info_t i = {0};
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_INFO);
    ad_store_bind_text(s, 1, run_id);
    ad_store_bind_text(s, 2, name);
    if (ad_db_step(s) == AD_DB_ROW) {
        int c = by_time ? 3 : 1;
        i.rolled = ad_db_column_int(s, 0) == 1;
        i.ranged =
            ad_db_column_type(s, c) != AD_DB_NULL && ad_db_column_type(s, c + 1) != AD_DB_NULL;
        i.lo = ad_db_column_int64(s, c);
        i.hi = ad_db_column_int64(s, c + 1);
        i.count = ad_db_column_int64(s, 5);
        i.summed = ad_db_column_int(s, 6) == 1;
        i.chunks = ad_db_column_int64(s, 7);
    }
    ad_db_reset(s);
    return i;
}

/* The x range of one series: 0, or AD_ENOENT when it has no points. From
 * the series row when it knows it, else a scan of the chunk rows. */
static int series_range(ad_db_t *db, const char *run_id, const char *name, bool by_time,
                        int64_t *lo, int64_t *hi, int64_t *count)
{
    series_info_t i = series_info(db, run_id, name, by_time);
    *count += i.count;
    if (i.ranged) {
        *lo = i.lo;
        *hi = i.hi;
        return 0;
    }
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_RANGE);
    ad_store_bind_text(s, 1, run_id);
    ad_store_bind_text(s, 2, name);
    int rc = ad_db_step(s);
    if (rc == AD_DB_ROW && ad_db_column_int64(s, 4) > 0) {
        *lo = ad_db_column_int64(s, by_time ? 2 : 0);
        *hi = ad_db_column_int64(s, by_time ? 3 : 1);
        ad_db_reset(s);
        return 0;
    }
    ad_db_reset(s);
    return rc == AD_DB_ROW || rc == AD_DB_DONE ? AD_ENOENT : ad_store_rc(db, rc);
}

static const char SQL_CHUNKS_STEP[] =
    "SELECT n, step_min, step_max, v_min, v_max, v_sum, v_last, data FROM metric_chunks "
    "WHERE run_id = ? AND name = ? AND step_max >= ? AND step_min <= ? ORDER BY seq";
static const char SQL_CHUNKS_TIME[] =
    "SELECT n, t_min, t_max, v_min, v_max, v_sum, v_last, data FROM metric_chunks "
    "WHERE run_id = ? AND name = ? AND t_max >= ? AND t_min <= ? ORDER BY seq";
static const char SQL_ROLLS_STEP[] =
    "SELECT n, step_min, step_max, v_min, v_max, v_sum, v_last, data, blk FROM metric_rolls "
    "WHERE run_id = ? AND name = ? AND step_max >= ? AND step_min <= ? ORDER BY blk";
static const char SQL_ROLLS_TIME[] =
    "SELECT n, t_min, t_max, v_min, v_max, v_sum, v_last, data, blk FROM metric_rolls "
    "WHERE run_id = ? AND name = ? AND t_max >= ? AND t_min <= ? ORDER BY blk";
static const char SQL_SUMS_STEP[] =
    "SELECT n, step_min, step_max, v_min, v_max, v_sum, v_last, data, blk FROM metric_sums "
    "WHERE run_id = ? AND name = ? AND step_max >= ? AND step_min <= ? ORDER BY blk";
static const char SQL_SUMS_TIME[] =
    "SELECT n, t_min, t_max, v_min, v_max, v_sum, v_last, data, blk FROM metric_sums "
    "WHERE run_id = ? AND name = ? AND t_max >= ? AND t_min <= ? ORDER BY blk";
static const char SQL_ROLL_ROW[] =
    "SELECT data FROM metric_rolls WHERE run_id = ? AND name = ? AND blk = ?";
static const char SQL_CHUNK_DATA[] =
    "SELECT n, data FROM metric_chunks WHERE run_id = ? AND name = ? AND seq = ?";

/* A chunk's points, decoded, into a (those inside its range). */
static void add_decoded(tsdb_agg_t *a, const void *data, size_t len, int64_t n, int64_t *points)
{
    tsdb_dec_t d;
    tsdb_point_t p;
    tsdb_dec_init(&d, data, len, (size_t)n);
    while (tsdb_dec_next(&d, &p) == 1) {
        int64_t x = a->by_time ? p.t_ms : p.step;
        if (x >= a->from && x <= a->to) {
            tsdb_agg_add(a, &p);
            (*points)++;
        }
    }
}

/* Chunk row seq of the series, decoded into a. */
static int add_chunk(ad_db_t *db, const char *run_id, const char *name, int64_t seq, tsdb_agg_t *a,
                     int64_t *points)
{
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_CHUNK_DATA);
    ad_store_bind_text(s, 1, run_id);
    ad_store_bind_text(s, 2, name);
    ad_db_bind_int64(s, 3, seq);
    int rc = ad_db_step(s);
    if (rc == AD_DB_ROW) {
        add_decoded(a, ad_db_column_blob(s, 1), (size_t)ad_db_column_bytes(s, 1),
                    ad_db_column_int64(s, 0), points);
    }
    ad_db_reset(s);
    return rc == AD_DB_ROW || rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
}

/* One chunk's rollup into a: by its total when it lies in one bucket, by
 * its runs when the read is wide there (*tier), else the chunk decoded. */
static int add_rolled(ad_db_t *db, const char *run_id, const char *name, const ad_roll_seg_t *g,
                      tsdb_agg_t *a, int64_t *points, int64_t *tier)
{
    tsdb_rolls_t r;
    if (tsdb_rolls_decode(g->data, g->len, &r) != 0) {
        return add_chunk(db, run_id, name, g->seq, a, points);
    }
    tsdb_roll_t t = tsdb_rolls_total(&r);
    int64_t x0 = a->by_time ? t.t_lo : t.s_lo, x1 = a->by_time ? t.t_hi : t.s_hi;
    if (x1 < a->from || x0 > a->to) {
        return 0; /* a chunk of the row outside the range */
    }
    if (tsdb_agg_summary(a, x0, x1, t.n, t.min, t.max, t.sum, t.last)) {
        *points += t.n;
        return 0;
    }
    if (!tsdb_agg_wide(a, x0, x1, t.n)) {
        return add_chunk(db, run_id, name, g->seq, a, points);
    }
    for (size_t i = 0; i < r.n; i++) {
        tsdb_agg_roll(a, &r.e[i]); /* inside [from, to]: tsdb_agg_wide */
        *points += r.e[i].n;
    }
    *tier = *tier > TSDB_ROLL_POINTS ? *tier : TSDB_ROLL_POINTS;
    return 0;
}

/* The rollup row a read of the chunk tier last needed (its chunks come in
 * seq order, so one fetch serves the row's six). */
typedef struct {
    int64_t blk; /* -1: none yet */
    uint8_t *data;
    int ng; /* its segments (pointing into data), 0 when it has none */
    ad_roll_seg_t g[AD_ROLL_BLOCK];
} roll_row_t;

/* Chunk row seq by its runs (add_rolled), or decoded when it has none. */
static int add_by_runs(ad_db_t *db, const char *run_id, const char *name, int64_t seq,
                       roll_row_t *c, tsdb_agg_t *a, int64_t *points, int64_t *tier)
{
    int64_t blk = seq / AD_ROLL_BLOCK;
    if (c->blk != blk) {
        free(c->data);
        c->data = NULL;
        c->ng = 0;
        c->blk = blk;
        ad_db_stmt_t *s = ad_store_stmt(db, SQL_ROLL_ROW);
        ad_store_bind_text(s, 1, run_id);
        ad_store_bind_text(s, 2, name);
        ad_db_bind_int64(s, 3, blk);
        int rc = ad_db_step(s);
        if (rc == AD_DB_ROW) {
            size_t len = (size_t)ad_db_column_bytes(s, 0);
            c->data = ad_xmalloc(len > 0 ? len : 1);
            if (len > 0) {
                memcpy(c->data, ad_db_column_blob(s, 0), len);
            }
            c->ng = ad_store_roll_segs(c->data, len, blk, c->g);
            c->ng = c->ng < 0 ? 0 : c->ng;
        }
        ad_db_reset(s);
        if (rc != AD_DB_ROW && rc != AD_DB_DONE) {
            c->blk = -1;
            return ad_store_rc(db, rc);
        }
    }
    for (int i = 0; i < c->ng; i++) {
        if (c->g[i].seq == seq) {
            return add_rolled(db, run_id, name, &c->g[i], a, points, tier);
        }
    }
    return add_chunk(db, run_id, name, seq, a, points);
}

/* One chunk's total from the chunk tier: by summary when it lies in one
 * bucket, as a run when it spans at most half a bucket (*tier: the most
 * points such a run held), else by its runs. */
static int add_summed(ad_db_t *db, const char *run_id, const char *name, int64_t seq,
                      const tsdb_roll_t *e, roll_row_t *c, tsdb_agg_t *a, int64_t *points,
                      int64_t *tier)
{
    int64_t x0 = a->by_time ? e->t_lo : e->s_lo, x1 = a->by_time ? e->t_hi : e->s_hi;
    if (x1 < a->from || x0 > a->to) {
        return 0;
    }
    if (tsdb_agg_summary(a, x0, x1, e->n, e->min, e->max, e->sum, e->last)) {
        *points += e->n;
        return 0;
    }
    if (!tsdb_agg_half(a, x0, x1)) {
        return add_by_runs(db, run_id, name, seq, c, a, points, tier);
    }
    tsdb_agg_roll(a, e);
    *points += e->n;
    *tier = *tier > e->n ? *tier : e->n;
    return 0;
}

/* Whether a read is wide enough for the chunk tier: the series' chunk rows,
 * spread evenly over its range, each at most half a bucket. A chunk that
 * is not (a denser stretch) is read by its runs all the same. */
static bool chunk_tier(const tsdb_agg_t *a, const series_info_t *i)
{
    if (!i->rolled || !i->summed || !i->ranged || i->chunks < 1) {
        return false;
    }
    double chunk = ((double)i->hi - (double)i->lo + 1.0) / (double)i->chunks;
    double bucket = ((double)a->to - (double)a->from + 1.0) / (double)a->n;
    return 2.0 * chunk <= bucket;
}

/* A tier's statement for the series and a's range: (run, name, from, to). */
static ad_db_stmt_t *range_stmt(ad_db_t *db, const char *sql, const char *run_id, const char *name,
                                const tsdb_agg_t *a)
{
    ad_db_stmt_t *s = ad_store_stmt(db, sql);
    ad_store_bind_text(s, 1, run_id);
    ad_store_bind_text(s, 2, name);
    ad_db_bind_int64(s, 3, a->from);
    ad_db_bind_int64(s, 4, a->to);
    return s;
}

/* A tier's row (columns 0-6: count, x from, x to, min, max and the rest of
 * tsdb_agg_summary's figures) answered by its
 * summary when it falls in one bucket: its points counted, true. */
static bool row_summary(ad_db_stmt_t *s, tsdb_agg_t *a, int64_t *points)
{
    int64_t n = ad_db_column_int64(s, 0);
    if (!tsdb_agg_summary(a, ad_db_column_int64(s, 1), ad_db_column_int64(s, 2), n,
                          ad_db_column_double(s, 3), ad_db_column_double(s, 4),
                          ad_db_column_double(s, 5), ad_db_column_double(s, 6))) {
        return false;
    }
    *points += n;
    return true;
}

/* The series from its chunk tier (chunk_tier): rows of AD_SUM_BLOCK chunks
 * by their summary when inside one bucket, else each chunk by add_summed. */
static int aggregate_sums(ad_db_t *db, const char *run_id, const char *name, tsdb_agg_t *a,
                          int64_t *points, int64_t *tier)
{
    ad_db_stmt_t *s = range_stmt(db, a->by_time ? SQL_SUMS_TIME : SQL_SUMS_STEP, run_id, name, a);
    roll_row_t c = {.blk = -1};
    int rc, err = 0;
    while (err == 0 && (rc = ad_db_step(s)) == AD_DB_ROW) {
        if (row_summary(s, a, points)) {
            continue;
        }
        int64_t blk = ad_db_column_int64(s, 8);
        tsdb_roll_t e[AD_SUM_BLOCK];
        uint8_t place[AD_SUM_BLOCK];
        int ne = tsdb_totals_decode(ad_db_column_blob(s, 7), (size_t)ad_db_column_bytes(s, 7), e,
                                    place, AD_SUM_BLOCK);
        for (int i = 0; err == 0 && i < ne; i++) {
            err = add_summed(db, run_id, name, blk * AD_SUM_BLOCK + place[i], &e[i], &c, a, points,
                             tier);
        }
        for (int64_t k = 0; err == 0 && ne < 0 && k < AD_SUM_BLOCK; k++) {
            err = add_by_runs(db, run_id, name, blk * AD_SUM_BLOCK + k, &c, a, points, tier);
        }
    }
    ad_db_reset(s);
    free(c.data);
    if (err != 0) {
        return err;
    }
    return rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
}

/* Feeds every chunk of the series overlapping a's range into a, each by
 * the cheapest of what answers it exactly enough (docs/training.md, "How
 * a read chooses its tier"): the summary of a chunk, or of a rollup row's
 * AD_ROLL_BLOCK chunks, that falls in one bucket; a chunk's rollup runs
 * when the read is wide there (tsdb_agg_wide: *tier becomes
 * TSDB_ROLL_POINTS); else its points, decoded. A series without rollup
 * rows (stored before migration 2740, not built yet) is read from its
 * chunks. */
static int aggregate(ad_db_t *db, const char *run_id, const char *name, tsdb_agg_t *a,
                     int64_t *points, int64_t *tier)
{
    series_info_t info = series_info(db, run_id, name, a->by_time);
    if (chunk_tier(a, &info)) {
        return aggregate_sums(db, run_id, name, a, points, tier);
    }
    bool rolled = info.rolled;
    ad_db_stmt_t *s = range_stmt(db,
                                 rolled ? (a->by_time ? SQL_ROLLS_TIME : SQL_ROLLS_STEP)
                                        : (a->by_time ? SQL_CHUNKS_TIME : SQL_CHUNKS_STEP),
                                 run_id, name, a);
    int rc, err = 0;
    while (err == 0 && (rc = ad_db_step(s)) == AD_DB_ROW) {
        if (row_summary(s, a, points)) {
            continue;
        }
        int64_t n = ad_db_column_int64(s, 0);
        const void *blob = ad_db_column_blob(s, 7);
        size_t len = (size_t)ad_db_column_bytes(s, 7);
        if (!rolled) {
            add_decoded(a, blob, len, n, points);
            continue;
        }
        int64_t blk = ad_db_column_int64(s, 8);
        ad_roll_seg_t g[AD_ROLL_BLOCK];
        int ng = ad_store_roll_segs(blob, len, blk, g);
        for (int i = 0; err == 0 && i < ng; i++) {
            err = add_rolled(db, run_id, name, &g[i], a, points, tier);
        }
        for (int64_t k = 0; err == 0 && ng < 0 && k < AD_ROLL_BLOCK; k++) {
            err = add_chunk(db, run_id, name, blk * AD_ROLL_BLOCK + k, a, points);
        }
    }
    ad_db_reset(s);
    if (err != 0) {
        return err;
    }
    return rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
}

/* The buckets as columns: x (each bucket's start), min, max, mean, last,
 * count; empty buckets left out. */
static json_t *agg_json(const tsdb_agg_t *a)
{
    json_t *x = json_array(), *mn = json_array(), *mx = json_array(), *mean = json_array(),
           *last = json_array(), *cnt = json_array();
    __int128 span = (__int128)a->to - a->from + 1;
    for (size_t i = 0; i < a->n; i++) {
        const tsdb_bucket_t *b = &a->b[i];
        if (b->count == 0) {
            continue;
        }
        json_array_append_new(
            x, json_integer((json_int_t)(a->from + span * (__int128)i / (__int128)a->n)));
        json_array_append_new(mn, json_real(b->min));
        json_array_append_new(mx, json_real(b->max));
        json_array_append_new(mean, json_real(b->sum / (double)b->count));
        json_array_append_new(last, json_real(b->last));
        json_array_append_new(cnt, json_integer(b->count));
    }
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "x", x, "min", mn, "max", mx, "mean", mean,
                     "last", last, "count", cnt);
}

/* The common range over every run that has the series (explicit bounds
 * win), and how many points the runs hold. AD_ENOENT when none has it. */
static int query_range(ad_db_t *db, ad_store_series_q_t *q, int64_t *from, int64_t *to,
                       int64_t *points)
{
    bool any = false;
    for (size_t i = 0; i < q->nruns; i++) {
        int64_t lo = 0, hi = 0;
        int rc = series_range(db, q->runs[i], q->name, q->by_time, &lo, &hi, points);
        if (rc == AD_ENOENT) {
            continue;
        }
        if (rc != 0) {
            return rc;
        }
        *from = !any || lo < *from ? lo : *from;
        *to = !any || hi > *to ? hi : *to;
        any = true;
    }
    if (q->has_from) {
        *from = q->from;
    }
    if (q->has_to) {
        *to = q->to;
    }
    return any || (q->has_from && q->has_to) ? 0 : AD_ENOENT;
}

/* One bucket of the group over several runs: the mean of the runs'
 * means, the lowest min and highest max, how many runs had points. */
typedef struct {
    double min, max, msum;
    int64_t runs;
} group_t;

static void group_add(group_t *g, const tsdb_agg_t *a)
{
    for (size_t i = 0; i < a->n; i++) {
        const tsdb_bucket_t *b = &a->b[i];
        if (b->count == 0) {
            continue;
        }
        if (g[i].runs == 0 || b->min < g[i].min) {
            g[i].min = b->min;
        }
        if (g[i].runs == 0 || b->max > g[i].max) {
            g[i].max = b->max;
        }
        g[i].msum += b->sum / (double)b->count;
        g[i].runs++;
    }
}

static json_t *group_json(const group_t *g, const tsdb_agg_t *shape)
{
    json_t *x = json_array(), *mean = json_array(), *mn = json_array(), *mx = json_array(),
           *runs = json_array();
    __int128 span = (__int128)shape->to - shape->from + 1;
    for (size_t i = 0; i < shape->n; i++) {
        if (g[i].runs == 0) {
            continue;
        }
        json_int_t at = (json_int_t)(shape->from + span * (__int128)i / (__int128)shape->n);
        json_array_append_new(x, json_integer(at));
        json_array_append_new(mean, json_real(g[i].msum / (double)g[i].runs));
        json_array_append_new(mn, json_real(g[i].min));
        json_array_append_new(mx, json_real(g[i].max));
        json_array_append_new(runs, json_integer(g[i].runs));
    }
    return json_pack("{s:o, s:o, s:o, s:o, s:o}", "x", x, "mean", mean, "min", mn, "max", mx,
                     "runs", runs);
}

static const char SQL_RUN_IDENT[] =
    "SELECT " AD_RUN_NAME_SQL("r") ", " AD_RUN_COLOR_SQL("r") " FROM runs r WHERE r.id = ?";

/* A run's display name and colour (issue #35) into name and color ("" for
 * a run that is gone). */
int ad_store_run_ident(ad_db_t *db, const char *run_id, char *name, size_t namesz, char *color,
                       size_t colorsz)
{
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_RUN_IDENT);
    ad_store_bind_text(s, 1, run_id);
    int rc = ad_db_step(s);
    name[0] = color[0] = '\0';
    if (rc == AD_DB_ROW) {
        const char *n = (const char *)ad_db_column_text(s, 0);
        const char *c = (const char *)ad_db_column_text(s, 1);
        size_t len = n != NULL ? strlen(n) : 0;
        if (len >= namesz) { /* cut on a UTF-8 character boundary */
            len = namesz - 1;
            while (len > 0 && ((unsigned char)n[len] & 0xC0) == 0x80) {
                len--;
            }
        }
        if (len > 0) {
            memcpy(name, n, len);
        }
        name[len] = '\0';
        snprintf(color, colorsz, "%s", c != NULL ? c : "");
    }
    ad_db_reset(s);
    return rc == AD_DB_ROW || rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
}

/* ---- the read of several runs, on several connections -------------------------------
 * A chart of a run group at 10M points a run steps ~2,600 rollup rows a
 * run and reads ~4 MB of pages: 16 runs one after another were ~100 ms of
 * one core (bench row T4). The runs are independent until the group's
 * buckets are summed, so a read of many points splits its runs among
 * SERIES_READERS threads, each on a read connection of its own (the pool
 * thread's and up to SERIES_READERS - 1 threads started for the read and
 * joined before it returns: never the loop). Each thread fills the buckets
 * of its runs; the answer is built after the join, in the runs' order, as
 * before. A read of fewer points stays on the one connection: a thread and
 * a connection cost more than they save below SERIES_SPLIT_POINTS. */
#define SERIES_READERS 4
#define SERIES_SPLIT_POINTS 2000000

typedef struct {
    ad_store_series_q_t *q;
    ad_store_done_cb done;
    /* the store's connection, copied: a pool read may outlive ad_store_close() */
    ad_store_conn_spec_t conn;
} query_job_t;

/* One run's part of the answer: its buckets and its entry of runs (built
 * by the thread that read it: the JSON of 2,000 buckets is not free). */
typedef struct {
    tsdb_agg_t a;
    int64_t points, tier;
    json_t *out;
    int rc;
} run_part_t;

typedef struct {
    const query_job_t *j;
    ad_db_t *db; /* NULL: the thread opens its own */
    run_part_t *runs;
    size_t first, step; /* the runs first, first + step, ... */
} reader_t;

static void read_runs(reader_t *r)
{
    const ad_store_series_q_t *q = r->j->q;
    ad_db_t *db = r->db;
    int rc = 0;
    if (db == NULL) {
        char err[256];
        rc = ad_store_conn_spec_open(&r->j->conn, &db, err, sizeof(err));
        if (rc != 0) {
            ad_log(AD_LOG_ERROR, "store", "%s", err);
        }
    }
    for (size_t i = r->first; i < q->nruns; i += r->step) {
        run_part_t *p = &r->runs[i];
        p->rc = rc;
        if (rc == 0) {
            p->rc = aggregate(db, q->runs[i], q->name, &p->a, &p->points, &p->tier);
        }
        char name[1024], color[16];
        if (p->rc == 0) {
            p->rc = ad_store_run_ident(db, q->runs[i], name, sizeof(name), color, sizeof(color));
        }
        if (p->rc == 0) {
            p->out = json_pack("{s:s, s:s, s:s, s:I, s:I, s:o}", "runId", q->runs[i], "name", name,
                               "color", color, "points", (json_int_t)p->points, "tierPoints",
                               (json_int_t)p->tier, "buckets", agg_json(&p->a));
        }
        rc = p->rc; /* the runs after a failure are not read */
    }
    if (r->db == NULL && db != NULL) {
        ad_store_conn_close(db);
    }
}

static void reader_main(void *arg)
{
    read_runs(arg);
}

/* SERIES_SPLIT_POINTS; test builds read AGENTD_TEST_SERIES_SPLIT instead
 * when it is set, so the unit tests split small reads too. */
static int64_t split_points(void)
{
#ifdef AD_TEST_BUILD
    const char *v = getenv("AGENTD_TEST_SERIES_SPLIT");
    if (v != NULL && v[0] != '\0') {
        return strtoll(v, NULL, 10);
    }
#endif
    return SERIES_SPLIT_POINTS;
}

/* Fills runs[i] for every run of q: on db alone, or split among readers. */
static void read_all(const query_job_t *j, ad_db_t *db, run_part_t *runs, int64_t points)
{
    const ad_store_series_q_t *q = j->q;
    size_t n = 1;
    if (points >= split_points()) {
        unsigned int cores = uv_available_parallelism();
        n = cores < SERIES_READERS ? cores : SERIES_READERS;
        n = n > q->nruns ? q->nruns : (n < 1 ? 1 : n);
    }
    reader_t r[SERIES_READERS];
    uv_thread_t t[SERIES_READERS];
    bool started[SERIES_READERS] = {false};
    for (size_t k = 0; k < n; k++) {
        r[k] = (reader_t){.j = j, .db = k == 0 ? db : NULL, .runs = runs, .first = k, .step = n};
    }
    for (size_t k = 1; k < n; k++) {
        started[k] = uv_thread_create(&t[k], reader_main, &r[k]) == 0;
    }
    read_runs(&r[0]);
    for (size_t k = 1; k < n; k++) {
        if (started[k]) {
            uv_thread_join(&t[k]);
        } else {
            read_runs(&r[k]); /* no thread: its runs on this one, after the others */
        }
    }
}

static int query_fn(ad_db_t *db, void *ctx)
{
    query_job_t *j = ctx;
    ad_store_series_q_t *q = j->q;
    int64_t from = 0, to = 0, points = 0;
    int rc = query_range(db, q, &from, &to, &points);
    if (rc != 0) {
        return rc;
    }
    size_t nparts = q->nruns > 0 ? q->nruns : 1; /* parts[0].a is the buckets' shape */
    run_part_t *parts = ad_xcalloc(nparts, sizeof(*parts));
    for (size_t i = 0; i < nparts; i++) {
        tsdb_agg_init(&parts[i].a, from, to < from ? from : to, q->buckets, q->by_time);
        parts[i].tier = 1;
    }
    read_all(j, db, parts, points);
    const tsdb_agg_t *shape = &parts[0].a;
    group_t *g = ad_xcalloc(shape->n, sizeof(*g));
    json_t *runs = json_array();
    for (size_t i = 0; rc == 0 && i < q->nruns; i++) {
        run_part_t *p = &parts[i];
        rc = p->rc;
        if (rc == 0) {
            group_add(g, &p->a);
            json_array_append(runs, p->out);
        }
    }
    if (rc == 0) {
        q->out = json_pack("{s:s, s:s, s:I, s:I, s:I, s:o, s:o}", "name", q->name, "x",
                           q->by_time ? "time" : "step", "from", (json_int_t)shape->from, "to",
                           (json_int_t)shape->to, "bucketCount", (json_int_t)shape->n, "runs", runs,
                           "group", group_json(g, shape));
    } else {
        json_decref(runs);
    }
    free(g);
    for (size_t i = 0; i < nparts; i++) {
        tsdb_agg_free(&parts[i].a);
        json_decref(parts[i].out);
    }
    free(parts);
    return rc;
}

static void query_done(int rc, void *ctx)
{
    query_job_t *j = ctx;
    ad_store_done_cb done = j->done;
    ad_store_series_q_t *q = j->q;
    ad_store_conn_spec_free(&j->conn);
    free(j);
    if (done != NULL) {
        done(rc, q);
    }
}

void ad_store_series_query(ad_store_t *st, ad_store_series_q_t *q, ad_store_done_cb done)
{
    query_job_t *j = ad_xcalloc(1, sizeof(*j));
    j->q = q;
    j->done = done;
    ad_store_conn_spec(st, &j->conn);
    ad_store_read_async(st, query_fn, query_done, j);
}
