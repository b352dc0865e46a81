/* SPDX-License-Identifier: MIT */
/* Tests for the rollup tier of training metrics (issue #35, bench row T4):
 * the runs' arithmetic against the raw points, taking the last point back,
 * the encoding (any int64 step, garbage refused), and buckets filled from
 * runs: a spike stays in its own bucket, every point is counted once, and
 * each bucket's min and max lie between the raw envelope of the bucket
 * narrowed and widened by one run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "tsdb/tsdb.h"

static uint64_t rng = 88172645463325252ull;
static double noise(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng % 20001) / 10000.0 - 1.0;
}

/* n points: step i * 4, 50 ms apart, a noisy curve. */
static tsdb_point_t *curve(size_t n)
{
    tsdb_point_t *p = calloc(n, sizeof(*p));
    for (size_t i = 0; i < n; i++) {
        p[i] = (tsdb_point_t){(int64_t)i * 4, 1760000000000 + (int64_t)i * 50,
                              round((sin((double)i / 300.0) * 50.0 + noise() * 5.0) * 100) / 100};
    }
    return p;
}

/* The run built from pts[0..n) by hand. */
static void check_run(const tsdb_roll_t *e, const tsdb_point_t *pts, size_t n)
{
    assert_int_equal(e->n, n);
    double mn = pts[0].v, mx = pts[0].v, sum = 0;
    size_t imn = 0, imx = 0;
    for (size_t i = 0; i < n; i++) {
        if (pts[i].v < mn) {
            mn = pts[i].v;
            imn = i;
        }
        if (pts[i].v > mx) {
            mx = pts[i].v;
            imx = i;
        }
        sum += pts[i].v;
    }
    assert_true(e->min == mn && e->max == mx);
    assert_int_equal(e->s_min, pts[imn].step);
    assert_int_equal(e->t_min, pts[imn].t_ms);
    assert_int_equal(e->s_max, pts[imx].step);
    assert_int_equal(e->t_max, pts[imx].t_ms);
    assert_true(fabs(e->sum - sum) <= 1e-9 * fabs(sum) + 1e-9);
    assert_true(e->last == pts[n - 1].v);
    assert_int_equal(e->s_lo, pts[0].step);
    assert_int_equal(e->s_hi, pts[n - 1].step);
    assert_int_equal(e->t_lo, pts[0].t_ms);
    assert_int_equal(e->t_hi, pts[n - 1].t_ms);
}

static void runs_match_raw_points(void **state)
{
    AD_UNUSED(state);
    size_t n = 1000;
    tsdb_point_t *p = curve(n);
    tsdb_rolls_t r;
    tsdb_rolls_init(&r);
    for (size_t i = 0; i < n; i++) {
        tsdb_rolls_add(&r, &p[i]);
    }
    assert_int_equal(r.n, (n + TSDB_ROLL_POINTS - 1) / TSDB_ROLL_POINTS);
    for (size_t k = 0; k < r.n; k++) {
        size_t lo = k * TSDB_ROLL_POINTS, m = n - lo < TSDB_ROLL_POINTS ? n - lo : TSDB_ROLL_POINTS;
        check_run(&r.e[k], p + lo, m);
    }
    tsdb_roll_t t = tsdb_rolls_total(&r);
    check_run(&t, p, n);
    /* past TSDB_ROLL_MAX runs the last one takes the rest */
    size_t big = TSDB_ROLL_MAX * TSDB_ROLL_POINTS + 50;
    tsdb_point_t *q = curve(big);
    tsdb_rolls_init(&r);
    for (size_t i = 0; i < big; i++) {
        tsdb_rolls_add(&r, &q[i]);
    }
    assert_int_equal(r.n, TSDB_ROLL_MAX);
    check_run(&r.e[TSDB_ROLL_MAX - 1], q + (TSDB_ROLL_MAX - 1) * TSDB_ROLL_POINTS,
              TSDB_ROLL_POINTS + 50);
    free(q);
    free(p);
}

/* Replacing the last point (the same step again) gives the rollup of the
 * points as they end up, also when that point had started a run. */
static void undo_replaces_the_last_point(void **state)
{
    AD_UNUSED(state);
    size_t sizes[] = {1, 5, TSDB_ROLL_POINTS, TSDB_ROLL_POINTS + 1, 3 * TSDB_ROLL_POINTS + 7};
    for (size_t s = 0; s < AD_ARRAY_LEN(sizes); s++) {
        size_t n = sizes[s];
        tsdb_point_t *p = curve(n);
        tsdb_rolls_t r, want;
        tsdb_rolls_init(&r);
        tsdb_rolls_init(&want);
        for (size_t i = 0; i < n; i++) {
            tsdb_rolls_add(&r, &p[i]);
        }
        assert_true(tsdb_rolls_undo(&r));
        assert_false(tsdb_rolls_undo(&r)); /* one level deep */
        p[n - 1].v = 1e6;                  /* a spike replaces the last value */
        tsdb_rolls_add(&r, &p[n - 1]);
        for (size_t i = 0; i < n; i++) {
            tsdb_rolls_add(&want, &p[i]);
        }
        assert_int_equal(r.n, want.n);
        for (size_t k = 0; k < r.n; k++) {
            size_t lo = k * TSDB_ROLL_POINTS;
            check_run(&r.e[k], p + lo, n - lo < TSDB_ROLL_POINTS ? n - lo : TSDB_ROLL_POINTS);
        }
        free(p);
    }
    tsdb_rolls_t empty;
    tsdb_rolls_init(&empty);
    assert_false(tsdb_rolls_undo(&empty));
}

static void encoding_round_trips_and_refuses_garbage(void **state)
{
    AD_UNUSED(state);
    tsdb_point_t pts[] = {
        {INT64_MIN, INT64_MAX, -1e308}, {INT64_MAX, INT64_MIN, 1e308}, {0, 0, 0.0}, {-5, 7, -0.0}};
    tsdb_rolls_t r, back;
    tsdb_rolls_init(&r);
    for (int k = 0; k < 300; k++) { /* three runs, the extremes in each */
        tsdb_rolls_add(&r, &pts[k % 4]);
    }
    uint8_t buf[TSDB_ROLLS_BYTES];
    size_t len = tsdb_rolls_encode(&r, buf);
    assert_true(len > 2 && len <= TSDB_ROLLS_BYTES);
    assert_int_equal(tsdb_rolls_decode(buf, len, &back), 0);
    assert_int_equal(back.n, r.n);
    assert_memory_equal(back.e, r.e, r.n * sizeof(r.e[0]));
    /* a curve's runs are small: about 60 bytes a run of 128 points */
    tsdb_point_t *c = curve(TSDB_CHUNK_MAX);
    tsdb_rolls_init(&r);
    for (size_t i = 0; i < TSDB_CHUNK_MAX; i++) {
        tsdb_rolls_add(&r, &c[i]);
    }
    len = tsdb_rolls_encode(&r, buf);
    assert_true(len < (size_t)TSDB_ROLL_MAX * 64);
    assert_int_equal(tsdb_rolls_decode(buf, len, &back), 0);
    assert_memory_equal(back.e, r.e, r.n * sizeof(r.e[0]));
    free(c);
    /* truncated, padded, another version, no runs, too many, a garbled run */
    for (size_t cut = 0; cut < len; cut += 7) {
        assert_int_equal(tsdb_rolls_decode(buf, cut, &back), -1);
        assert_int_equal(back.n, 0);
    }
    uint8_t pad[TSDB_ROLLS_BYTES + 1];
    memcpy(pad, buf, len);
    pad[len] = 0;
    assert_int_equal(tsdb_rolls_decode(pad, len + 1, &back), -1);
    pad[0] = 9;
    assert_int_equal(tsdb_rolls_decode(pad, len, &back), -1);
    memcpy(pad, buf, len);
    pad[1] = 0;
    assert_int_equal(tsdb_rolls_decode(pad, len, &back), -1);
    pad[1] = TSDB_ROLL_MAX + 1;
    assert_int_equal(tsdb_rolls_decode(pad, len, &back), -1);
    memcpy(pad, buf, len);
    pad[2] = 0; /* the first run's count: 0 points */
    assert_int_equal(tsdb_rolls_decode(pad, len, &back), -1);
    assert_int_equal(tsdb_rolls_decode(NULL, 0, &back), -1);
    uint8_t ff[64];
    memset(ff, 0xff, sizeof(ff)); /* a varint that never ends */
    ff[0] = 1;
    ff[1] = 1;
    assert_int_equal(tsdb_rolls_decode(ff, sizeof(ff), &back), -1);
}

/* Raw bucket of every point (by index), for the envelope checks. */
static long raw_bucket(const tsdb_agg_t *a, const tsdb_point_t *p)
{
    return tsdb_agg_index(a, a->by_time ? p->t_ms : p->step);
}

/* Buckets over n points from their runs; checks each bucket against the
 * raw points of the bucket narrowed and widened by one run. */
/* A row of chunk totals (the chunk tier): the totals and places round-trip,
 * each x offset from the total before; truncated, padded, unordered places,
 * more than room and another version are refused. */
static void totals_round_trip_and_refuse_garbage(void **state)
{
    AD_UNUSED(state);
    tsdb_point_t *c = curve(4 * TSDB_CHUNK_MAX);
    tsdb_roll_t e[4], back[4];
    uint8_t place[4] = {0, 3, 4, 31}, bplace[4];
    for (size_t k = 0; k < 4; k++) { /* four chunks of the curve, each a total */
        tsdb_rolls_t r;
        tsdb_rolls_init(&r);
        for (size_t i = 0; i < TSDB_CHUNK_MAX; i++) {
            tsdb_rolls_add(&r, &c[k * TSDB_CHUNK_MAX + i]);
        }
        e[k] = tsdb_rolls_total(&r);
    }
    free(c);
    uint8_t buf[TSDB_TOTALS_BYTES(4) + 1];
    size_t len = tsdb_totals_encode(e, place, 4, buf);
    assert_true(len <= TSDB_TOTALS_BYTES(4));
    assert_true(len < 2 + 4 * 64); /* neighbours: small offsets */
    assert_int_equal(tsdb_totals_decode(buf, len, back, bplace, 4), 4);
    assert_memory_equal(back, e, sizeof(e));
    assert_memory_equal(bplace, place, sizeof(place));
    assert_int_equal(tsdb_totals_decode(buf, len, back, bplace, 3), -1); /* no room */
    for (size_t cut = 0; cut < len; cut += 5) {
        assert_int_equal(tsdb_totals_decode(buf, cut, back, bplace, 4), -1);
    }
    buf[len] = 0;
    assert_int_equal(tsdb_totals_decode(buf, len + 1, back, bplace, 4), -1);
    buf[3] = 0; /* places 0, 0: not ascending */
    assert_int_equal(tsdb_totals_decode(buf, len, back, bplace, 4), -1);
    buf[3] = 3;
    buf[0] = 9;
    assert_int_equal(tsdb_totals_decode(buf, len, back, bplace, 4), -1);
    assert_int_equal(tsdb_totals_decode(NULL, 0, back, bplace, 4), -1);
    /* none: a row with no total */
    assert_int_equal(tsdb_totals_decode(buf, tsdb_totals_encode(e, place, 0, buf), back, bplace, 4),
                     0);
}

static void envelope(const tsdb_point_t *p, size_t n, size_t buckets, bool by_time)
{
    tsdb_rolls_t r;
    tsdb_agg_t a;
    int64_t from = by_time ? p[0].t_ms : p[0].step, to = by_time ? p[n - 1].t_ms : p[n - 1].step;
    tsdb_agg_init(&a, from, to, buckets, by_time);
    for (size_t c = 0; c < n; c += TSDB_CHUNK_MAX) { /* chunk by chunk, as the store */
        size_t m = n - c < TSDB_CHUNK_MAX ? n - c : TSDB_CHUNK_MAX;
        tsdb_rolls_init(&r);
        for (size_t i = 0; i < m; i++) {
            tsdb_rolls_add(&r, &p[c + i]);
        }
        for (size_t k = 0; k < r.n; k++) {
            assert_true(tsdb_agg_roll(&a, &r.e[k]));
        }
    }
    int64_t total = 0;
    double top = -INFINITY, bottom = INFINITY, gtop = -INFINITY, gbottom = INFINITY;
    for (size_t i = 0; i < n; i++) {
        gtop = fmax(gtop, p[i].v);
        gbottom = fmin(gbottom, p[i].v);
    }
    size_t first = 0;
    for (size_t b = 0; b < a.n; b++) {
        size_t last = first; /* the raw points of bucket b: [first, last) */
        while (last < n && raw_bucket(&a, &p[last]) == (long)b) {
            last++;
        }
        const tsdb_bucket_t *k = &a.b[b];
        total += k->count;
        if (k->count > 0) {
            top = fmax(top, k->max);
            bottom = fmin(bottom, k->min);
            double wmax = -INFINITY, wmin = INFINITY, nmax = -INFINITY, nmin = INFINITY;
            size_t wl = first >= TSDB_ROLL_POINTS ? first - TSDB_ROLL_POINTS : 0;
            size_t wh = last + TSDB_ROLL_POINTS < n ? last + TSDB_ROLL_POINTS : n;
            for (size_t i = wl; i < wh; i++) {
                wmax = fmax(wmax, p[i].v);
                wmin = fmin(wmin, p[i].v);
                if (i >= first + TSDB_ROLL_POINTS && i + TSDB_ROLL_POINTS < last) {
                    nmax = fmax(nmax, p[i].v);
                    nmin = fmin(nmin, p[i].v);
                }
            }
            assert_true(k->max <= wmax && k->min >= wmin);
            assert_true(k->max >= nmax && k->min <= nmin);
        }
        first = last;
    }
    assert_int_equal(total, n);
    assert_true(top == gtop && bottom == gbottom);
    tsdb_agg_free(&a);
}

static void buckets_from_runs_keep_the_envelope(void **state)
{
    AD_UNUSED(state);
    size_t n = 50000;
    tsdb_point_t *p = curve(n);
    p[12345].v = 1e4; /* a spike in the middle of a run */
    p[777].v = -1e4;
    size_t counts[] = {7, 60, 97, 150, 195};
    for (size_t i = 0; i < AD_ARRAY_LEN(counts); i++) {
        envelope(p, n, counts[i], false);
        envelope(p, n, counts[i], true);
    }
    /* the spike's bucket has it as its max, wherever the edges fall */
    for (size_t b = 50; b < 200; b += 13) {
        tsdb_agg_t a;
        tsdb_agg_init(&a, 0, (int64_t)(n - 1) * 4, b, false);
        for (size_t c = 0; c < n; c += TSDB_CHUNK_MAX) {
            tsdb_rolls_t r;
            tsdb_rolls_init(&r);
            for (size_t k = c; k < n && k < c + TSDB_CHUNK_MAX; k++) {
                tsdb_rolls_add(&r, &p[k]);
            }
            for (size_t k = 0; k < r.n; k++) {
                tsdb_agg_roll(&a, &r.e[k]);
            }
        }
        assert_true(a.b[tsdb_agg_index(&a, 12345 * 4)].max == 1e4);
        assert_true(a.b[tsdb_agg_index(&a, 777 * 4)].min == -1e4);
        tsdb_agg_free(&a);
    }
    free(p);
}

static void runs_are_read_only_where_the_read_is_wide(void **state)
{
    AD_UNUSED(state);
    tsdb_agg_t a;
    tsdb_agg_init(&a, 0, 999999, 1000, false); /* buckets 1,000 steps wide */
    /* 2,048 points over 4,096 steps: 500 a bucket */
    assert_true(tsdb_agg_wide(&a, 1000, 1000 + 4095, 2048));
    /* the same over 40,960 steps: 50 a bucket, decoded */
    assert_false(tsdb_agg_wide(&a, 1000, 1000 + 40959, 2048));
    /* cut by the range's ends: decoded, so no point outside counts */
    assert_false(tsdb_agg_wide(&a, -10, 4085, 2048));
    assert_false(tsdb_agg_wide(&a, 999000, 1000500, 2048));
    /* a run outside the range is not added */
    tsdb_roll_t e = {10, -5, 50, 0, 0, -5, 0, 50, 0, 1, 2, 15, 2};
    assert_false(tsdb_agg_roll(&a, &e));
    for (size_t i = 0; i < a.n; i++) {
        assert_int_equal(a.b[i].count, 0);
    }
    tsdb_agg_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(runs_match_raw_points),
        cmocka_unit_test(undo_replaces_the_last_point),
        cmocka_unit_test(encoding_round_trips_and_refuses_garbage),
        cmocka_unit_test(totals_round_trip_and_refuse_garbage),
        cmocka_unit_test(buckets_from_runs_keep_the_envelope),
        cmocka_unit_test(runs_are_read_only_where_the_read_is_wide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
