/* SPDX-License-Identifier: MIT */
/* Tests for histogram binning and adding histograms of other edges
 * (issue #16): every value counted, the max in the last bucket, one value
 * alone, and counts kept whole when spread over other edges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "core/core.h"
#include "tsdb/tsdb.h"

static double sum(const double *c, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        s += c[i];
    }
    return s;
}

static void bins_every_value(void **state)
{
    AD_UNUSED(state);
    double v[] = {1, 2, 2, 3, 3, 3}, e[4], c[3];
    tsdb_hist_bin(v, 6, 3, e, c);
    assert_true(e[0] == 1 && e[3] == 3);
    assert_true(c[0] == 1 && c[1] == 2 && c[2] == 3); /* 3, the max, in the last */
    double one[] = {5}, e1[3], c1[2];
    tsdb_hist_bin(one, 1, 2, e1, c1);
    assert_true(e1[0] == 4.5 && e1[2] == 5.5);
    assert_true(sum(c1, 2) == 1);
    double big[1000], eb[TSDB_HIST_BINS_MAX + 1], cb[TSDB_HIST_BINS_MAX];
    for (int i = 0; i < 1000; i++) {
        big[i] = sin(i) * 1e6;
    }
    tsdb_hist_bin(big, 1000, 100000, eb, cb); /* bins clamped to the bound */
    assert_true(sum(cb, TSDB_HIST_BINS_MAX) == 1000);
}

static void adds_across_edges(void **state)
{
    AD_UNUSED(state);
    double de[] = {0, 1, 2, 3, 4}, dc[4] = {0};
    double e[] = {0.5, 2.5}, c[] = {4};
    tsdb_hist_add(e, c, 1, de, dc, 4); /* half in [0.5,1), one in [1,2), half in [2,2.5) */
    assert_true(fabs(dc[0] - 1) < 1e-12 && fabs(dc[1] - 2) < 1e-12 && fabs(dc[2] - 1) < 1e-12);
    assert_true(dc[3] == 0);
    double out_e[] = {-10, -5, 10, 20}, out_c[] = {1, 2, 3};
    double dc2[4] = {0};
    tsdb_hist_add(out_e, out_c, 3, de, dc2, 4); /* outside: to the first or last bucket */
    assert_true(fabs(sum(dc2, 4) - 6) < 1e-9);
    assert_true(dc2[0] >= 1);
    assert_true(fabs(dc2[3] - (3 + 2 * 7.0 / 15)) < 1e-9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bins_every_value),
        cmocka_unit_test(adds_across_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
