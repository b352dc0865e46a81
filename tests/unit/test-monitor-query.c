/* SPDX-License-Identifier: MIT */
/*
 * What a health history read may ask (src/monitor, issue #79's test for
 * it): GET /api/health/history's query (from and to as epoch ms or RFC
 * 3339, buckets 1 to AD_HEALTH_BUCKETS_MAX with 500 by default, runId),
 * a range that ends before it starts refused on "from" before the store is
 * asked, and the in-memory samples' range refused, or AD_ESTATE while
 * sampling is off. The sampler's figures are src/health's tests; the
 * history on disk is the e2e suite's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "monitor/monitor.h"

/* A query string as pairs: "key", "value", ..., NULL. */
static const char *get(void *ud, const char *key)
{
    const char *const *kv = ud;
    for (size_t i = 0; kv[i] != NULL; i += 2) {
        if (strcmp(kv[i], key) == 0) {
            return kv[i + 1];
        }
    }
    return NULL;
}

static int parse(ad_monitor_hq_t *q, const char *const *kv, ad_field_err_t *e)
{
    memset(q, 0, sizeof(*q));
    memset(e, 0, sizeof(*e));
    return ad_monitor_hq_parse(q, get, (void *)kv, e);
}

static void history_query(void **state)
{
    (void)state;
    ad_monitor_hq_t q;
    ad_field_err_t e;
    const char *none[] = {NULL};
    assert_int_equal(parse(&q, none, &e), 0);
    assert_false(q.has_from);
    assert_false(q.has_to);
    assert_int_equal(q.buckets, 500);
    assert_null(q.run_id);

    const char *full[] = {"from",  "1700000000000", "to", "2023-11-14T22:15:00Z", "buckets", "5000",
                          "runId", "run_1",         NULL};
    assert_int_equal(parse(&q, full, &e), 0);
    assert_true(q.has_from);
    assert_int_equal(q.from, 1700000000000LL);
    assert_true(q.has_to);
    assert_int_equal(q.to, 1700000100000LL);
    assert_int_equal(q.buckets, 5000);
    assert_string_equal(q.run_id, "run_1");

    /* an empty value is no value */
    const char *empty[] = {"from", "", "buckets", "", NULL};
    assert_int_equal(parse(&q, empty, &e), 0);
    assert_false(q.has_from);
    assert_int_equal(q.buckets, 500);

    static const struct {
        const char *key, *value;
    } bad[] = {
        {"from", "yesterday"}, {"to", "12abc"},    {"buckets", "0"},
        {"buckets", "5001"},   {"buckets", "1.5"}, {"buckets", "-3"},
    };
    for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
        const char *kv[] = {bad[i].key, bad[i].value, NULL};
        if (parse(&q, kv, &e) != AD_EINVAL) {
            fail_msg("%s=%s was not refused", bad[i].key, bad[i].value);
        }
        assert_string_equal(e.field, bad[i].key);
    }
}

static void never_called(int rc, json_t *answer, void *ud)
{
    (void)rc;
    (void)answer;
    (void)ud;
    fail_msg("a refused read answered");
}

static void refused_reads(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    ad_config_t cfg;
    char err[256];
    assert_int_equal(ad_config_load_env(&cfg, err, sizeof(err)), 0);
    cfg.data_dir[0] = '\0';
    cfg.health_interval_ms = 0; /* no sampling */
    struct ad_store *store = NULL;
    struct ad_runner *runner = NULL;
    struct ad_procs *procs = NULL;
    struct ad_cluster *cluster = NULL;
    struct ad_plane *plane = NULL;
    struct ad_planes *planes = NULL;
    struct ad_services *services = NULL;
    ad_monitor_opts_t o = {.loop = &loop,
                           .cfg = &cfg,
                           .store = &store,
                           .runner = &runner,
                           .procs = &procs,
                           .cluster = &cluster,
                           .plane = &plane,
                           .planes = &planes,
                           .services = &services};
    ad_monitor_t *m = ad_monitor_new(&o);
    assert_non_null(m);

    /* to before from: "from", and the store is never asked */
    ad_monitor_hq_t q = {.has_from = true, .from = 2000, .has_to = true, .to = 1000, .buckets = 10};
    const char *field = NULL;
    assert_int_equal(ad_monitor_history(m, &q, never_called, NULL, &field), AD_EINVAL);
    assert_non_null(field);
    assert_string_equal(field, "from");

    /* the samples in memory: a bad range, then none while sampling is off */
    int rc = 0;
    const char *why = NULL;
    assert_null(ad_monitor_recent(m, "5x", &rc, &why));
    assert_int_equal(rc, AD_EINVAL);
    assert_non_null(why);
    rc = 0;
    assert_null(ad_monitor_recent(m, "1h", &rc, &why));
    assert_int_equal(rc, AD_ESTATE);
    char gwhy[128] = "";
    assert_int_equal(ad_health_gpus(ad_monitor_health(m), gwhy, sizeof(gwhy)), 0); /* no sample yet */
    assert_true(gwhy[0] != '\0');

    ad_monitor_free(m);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(history_query),
        cmocka_unit_test(refused_reads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
