/* SPDX-License-Identifier: MIT */
/* Tests for the training-metric chunk codec and buckets: round trips of
 * regular, irregular and extreme points, garbage that does not decode, a
 * one-point spike kept at every bucket count, and the step set that older
 * points look their rows up in. */
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

static void round_trip(const tsdb_point_t *in, size_t n, size_t *bytes)
{
    tsdb_enc_t e;
    tsdb_enc_init(&e);
    for (size_t i = 0; i < n; i++) {
        tsdb_enc_add(&e, &in[i]);
    }
    tsdb_point_t *out = calloc(n, sizeof(*out));
    assert_int_equal(tsdb_decode_all(e.buf, tsdb_enc_bytes(&e), n, out), 0);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(out[i].step, in[i].step);
        assert_int_equal(out[i].t_ms, in[i].t_ms);
        assert_memory_equal(&out[i].v, &in[i].v, sizeof(double));
    }
    if (bytes != NULL) {
        *bytes = tsdb_enc_bytes(&e);
    }
    free(out);
    tsdb_enc_free(&e);
}

static void regular_curve(void **state)
{
    AD_UNUSED(state);
    enum { N = TSDB_CHUNK_MAX };
    static tsdb_point_t p[N];
    for (int i = 0; i < N; i++) {
        p[i] = (tsdb_point_t){i * 10, 1700000000000 + i * 250, (double)(i / 100)};
    }
    size_t bytes = 0;
    round_trip(p, N, &bytes);
    assert_true(bytes < (size_t)N); /* repeated values, fixed spacing: < 1 byte a point */
}

static void irregular_and_extreme(void **state)
{
    AD_UNUSED(state);
    tsdb_point_t p[] = {
        {0, 0, 0.0},     {INT64_MAX, INT64_MIN, -0.0},
        {-5, 17, 1e308}, {3, 3, -1e-308},
        {3, 3, 0.1},     {1000000000000, 99, 0.30000000000000004},
        {7, 7, 123.456},
    };
    round_trip(p, sizeof(p) / sizeof(p[0]), NULL);
    srand(7);
    enum { N = 3000 };
    static tsdb_point_t r[N];
    int64_t s = 0, t = 0;
    for (int i = 0; i < N; i++) {
        s += rand() % 5;
        t += rand() % 100000;
        r[i] = (tsdb_point_t){s, t, (double)rand() / RAND_MAX * 200 - 100};
    }
    round_trip(r, N, NULL);
}

static void decimals_are_compact(void **state)
{
    AD_UNUSED(state);
    enum { N = TSDB_CHUNK_MAX };
    static tsdb_point_t p[N];
    srand(3);
    for (int i = 0; i < N; i++) {
        double noise = (rand() % 3001 - 1500) / 100.0;
        p[i] = (tsdb_point_t){i * 4, 1700000000000 + i * 50,
                              round((100.0 + i / 100.0 + noise) * 100.0) / 100.0};
    }
    p[100].v = -0.0;
    p[101].v = 1e300;
    p[102].v = 0.1 + 0.2; /* not a whole number of hundredths: the XOR form */
    size_t bytes = 0;
    round_trip(p, N, &bytes);
    assert_true(bytes < (size_t)N * 4); /* values logged to 2 decimals: under 4 bytes a point */
}

static void garbage_refused(void **state)
{
    AD_UNUSED(state);
    uint8_t junk[5] = {0xff, 0xff, 0xff, 0xff, 0xff};
    tsdb_point_t out[4];
    assert_int_equal(tsdb_decode_all(junk, sizeof(junk), 4, out), -1);
    tsdb_enc_t e;
    tsdb_enc_init(&e);
    tsdb_point_t a = {1, 2, 3.5}, b = {2, 3, 4.5};
    tsdb_enc_add(&e, &a);
    tsdb_enc_add(&e, &b);
    assert_int_equal(tsdb_decode_all(e.buf, tsdb_enc_bytes(&e) - 1, 2, out), -1);
    tsdb_enc_free(&e);
}

/* Every point written, taken back and written again with another value
 * (and sometimes twice): the bytes are those of the final points encoded
 * straight, and they decode to them. */
static void undo_replaces_the_last_point(void **state)
{
    AD_UNUSED(state);
    enum { N = 600 };
    tsdb_point_t *fin = calloc(N, sizeof(*fin));
    tsdb_enc_t e, ref;
    tsdb_enc_init(&e);
    tsdb_enc_init(&ref);
    assert_false(tsdb_enc_undo(&e));
    uint64_t r = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < N; i++) {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        tsdb_point_t first = {i * 3 + (int64_t)(r % 3), 1760000000000 + i * 50,
                              (double)(r % 977) / 7.0};
        tsdb_point_t last = {first.step, first.t_ms + 7,
                             i % 5 == 0 ? first.v : (double)(r % 131) * 0.01};
        tsdb_enc_add(&e, &first);
        assert_true(tsdb_enc_undo(&e));
        assert_false(tsdb_enc_undo(&e));
        if (i % 4 == 0) { /* a third write of the same step */
            tsdb_point_t mid = {first.step, first.t_ms, NAN};
            tsdb_enc_add(&e, &mid);
            assert_true(tsdb_enc_undo(&e));
        }
        tsdb_enc_add(&e, &last);
        tsdb_enc_add(&ref, &last);
        fin[i] = last;
        assert_int_equal(e.n, (size_t)i + 1);
    }
    assert_int_equal(e.bits, ref.bits);
    assert_memory_equal(e.buf, ref.buf, tsdb_enc_bytes(&ref));
    tsdb_point_t *out = calloc(N, sizeof(*out));
    assert_int_equal(tsdb_decode_all(e.buf, tsdb_enc_bytes(&e), N, out), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(out[i].step, fin[i].step);
        assert_memory_equal(&out[i].v, &fin[i].v, sizeof(double));
    }
    free(out);
    free(fin);
    tsdb_enc_free(&e);
    tsdb_enc_free(&ref);
}

static void spike_in_every_zoom(void **state)
{
    AD_UNUSED(state);
    enum { N = 100000, SPIKE = 77777 };
    size_t counts[] = {1, 3, 100, 1000, 2000, 99999, TSDB_BUCKETS_MAX};
    for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
        tsdb_agg_t a;
        tsdb_agg_init(&a, 0, N - 1, counts[c], false);
        for (int i = 0; i < N; i++) {
            tsdb_point_t p = {i, i, i == SPIKE ? 1e6 : sin(i / 1000.0)};
            tsdb_agg_add(&a, &p);
        }
        long k = tsdb_agg_index(&a, SPIKE);
        assert_true(a.b[k].max == 1e6);
        int64_t total = 0;
        for (size_t i = 0; i < a.n; i++) {
            total += a.b[i].count;
        }
        assert_int_equal(total, N);
        tsdb_agg_free(&a);
    }
    tsdb_agg_t a;
    tsdb_agg_init(&a, 0, 99, 2, false);
    assert_true(tsdb_agg_summary(&a, 0, 49, 50, -1, 9, 100, 3));
    assert_false(tsdb_agg_summary(&a, 40, 60, 21, -1, 9, 100, 3));
    assert_int_equal(a.b[0].count, 50);
    assert_true(a.b[0].max == 9);
    tsdb_agg_free(&a);
}

/* Steps and their rows: the newest row wins, every step put is found (the
 * set grows), none that was not, and the bound refuses a step more. */
static void stepset_finds_the_newest_row(void **state)
{
    (void)state;
    tsdb_stepset_t s;
    tsdb_stepset_init(&s, 5000);
    assert_int_equal(tsdb_stepset_get(&s, 7), -1);
    for (int64_t i = 0; i < 5000; i++) {
        assert_true(tsdb_stepset_put(&s, i * 977 - 1000000, i / 100));
    }
    assert_true(tsdb_stepset_put(&s, -1000000, 3)); /* an older row: the newer stays */
    assert_true(tsdb_stepset_put(&s, 977 * 4999 - 1000000, 60));
    for (int64_t i = 0; i < 5000; i++) {
        int64_t want = i == 0 ? 3 : i == 4999 ? 60 : i / 100;
        assert_int_equal(tsdb_stepset_get(&s, i * 977 - 1000000), want);
        assert_int_equal(tsdb_stepset_get(&s, i * 977 - 999999), -1);
    }
    assert_int_equal(s.n, 5000);
    assert_false(tsdb_stepset_put(&s, 123456789, 1)); /* full */
    assert_false(tsdb_stepset_put(&s, INT64_MIN, 1));
    assert_int_equal(tsdb_stepset_get(&s, INT64_MIN), -1);
    tsdb_stepset_free(&s);
    assert_int_equal(tsdb_stepset_get(&s, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(regular_curve),
        cmocka_unit_test(irregular_and_extreme),
        cmocka_unit_test(decimals_are_compact),
        cmocka_unit_test(garbage_refused),
        cmocka_unit_test(spike_in_every_zoom),
        cmocka_unit_test(undo_replaces_the_last_point),
        cmocka_unit_test(stepset_finds_the_newest_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
