/* SPDX-License-Identifier: MIT */
/*
 * The health history on disk (src/tables/health.c, src/health/disk.c):
 * chunks packed from samples, stored, read back into buckets, and trimmed
 * by age and bytes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "health/health.h"
#include "store_fixture.h"
#include "tables/health.h"

STORE_FX_SETUP(setup, "hstore")

typedef struct {
    size_t host, run;
    ad_health_acc_t *acc;
} count_t;

static void count_row(bool run, const void *data, size_t len, size_t n, void *ud)
{
    count_t *c = ud;
    if (run) {
        c->run++;
    } else {
        c->host++;
    }
    if (c->acc != NULL) {
        assert_true(ad_health_acc_chunk(c->acc, run, data, len, n));
    }
}

typedef struct {
    ad_store_hquery_t q;
    count_t c;
    store_wait_t w;
} rq_t;

static void rq_done(int rc, void *ctx)
{
    rq_t *r = ctx;
    r->w.done = true;
    r->w.rc = rc;
}

static void read_range(store_fx_t *f, rq_t *r, int64_t from, int64_t to, const char *run)
{
    r->q.from = from;
    r->q.to = to;
    r->q.host = true;
    snprintf(r->q.run_id, sizeof(r->q.run_id), "%s", run);
    r->q.row = count_row;
    r->q.ud = &r->c;
    ad_store_health_read(f->st, &r->q, rq_done);
    store_fx_wait(f, &r->w);
    assert_int_equal(r->w.rc, 0);
}

static void flushed(int rc, void *ud)
{
    store_fx_on_result(rc, NULL, ud);
}

/* Puts a host chunk of n zero records of 44 bytes at t0, one a second. */
static void put_host(store_fx_t *f, int64_t t0, size_t n, int64_t min_t, uint64_t max_bytes)
{
    static uint8_t data[AD_HEALTH_CHUNK_RECS * AD_HEALTH_HOST_REC];
    memset(data, 0, sizeof(data));
    for (size_t k = 0; k < n; k++) {
        int64_t ts = t0 + (int64_t)k * 1000;
        memcpy(data + k * AD_HEALTH_HOST_REC, &ts, sizeof(ts));
    }
    ad_store_hchunk_t c = {.t0 = t0,
                           .t1 = t0 + (int64_t)(n - 1) * 1000,
                           .n = n,
                           .data = data,
                           .len = n * AD_HEALTH_HOST_REC};
    ad_store_health_put(f->st, &c, 1, min_t, max_bytes);
    store_wait_t w = {0};
    ad_store_flush(f->st, flushed, &w);
    store_fx_wait(f, &w);
}

static void test_trim_by_bytes_and_age(void **state)
{
    store_fx_t *f = *state;
    const size_t chunk = AD_HEALTH_CHUNK_RECS * AD_HEALTH_HOST_REC; /* 2640 bytes */
    for (int i = 0; i < 40; i++) {
        put_host(f, 1000000 + (int64_t)i * 60000, AD_HEALTH_CHUNK_RECS, 0, 0);
    }
    int64_t oldest = 0, newest = 0;
    assert_int_equal(ad_store_health_span(f->st, &oldest, &newest), 0);
    assert_int_equal(oldest, 1000000);
    assert_int_equal(newest, 1000000 + 39 * 60000 + 59000);

    /* 65,536 bytes hold 24 chunks: the oldest go until they fit */
    put_host(f, 1000000 + 40 * 60000, AD_HEALTH_CHUNK_RECS, 0, 65536);
    rq_t r = {0};
    read_range(f, &r, 0, INT64_MAX / 2, "");
    assert_true(r.c.host * chunk <= 65536);
    assert_true(r.c.host >= 16); /* an eighth a round: not much more than needed went */
    assert_int_equal(ad_store_health_span(f->st, &oldest, &newest), 0);
    assert_true(oldest > 1000000);
    assert_int_equal(newest, 1000000 + 40 * 60000 + 59000);

    /* by age: chunks that started before min_t - 10 min go */
    int64_t min_t = 1000000 + 38 * 60000;
    put_host(f, 1000000 + 41 * 60000, 10, min_t, 0);
    assert_int_equal(ad_store_health_span(f->st, &oldest, &newest), 0);
    assert_true(oldest >= min_t - AD_STORE_HCHUNK_SPAN_MS);
    assert_true(oldest <= min_t);
}

/* What the pending chunks handed out. */
typedef struct {
    uint8_t host[AD_HEALTH_CHUNK_RECS * AD_HEALTH_HOST_REC];
    size_t hn, hlen;
    uint8_t run[AD_HEALTH_CHUNK_RECS * AD_HEALTH_RUN_REC];
    size_t rn, rlen;
    char run_id[AD_ID_MAX];
    int calls;
} got_t;

static void got_chunk(const char *run_id, int64_t t0, int64_t t1, size_t n, const void *data,
                      size_t len, void *ud)
{
    got_t *g = ud;
    assert_true(t0 <= t1);
    g->calls++;
    if (run_id[0] == '\0') {
        memcpy(g->host, data, len);
        g->hn = n;
        g->hlen = len;
    } else {
        snprintf(g->run_id, sizeof(g->run_id), "%s", run_id);
        memcpy(g->run, data, len);
        g->rn = n;
        g->rlen = len;
    }
}

static void test_pending_to_buckets(void **state)
{
    (void)state;
    ad_health_pend_t *p = ad_health_pend_new();
    ad_health_sample_t *s = calloc(1, sizeof(*s));
    got_t *g = calloc(1, sizeof(*g));
    assert_non_null(s);
    assert_non_null(g);
    /* 60 samples a second apart: CPU 0..59, a run in the first 30, measured
     * from the third */
    for (int i = 0; i < AD_HEALTH_CHUNK_RECS; i++) {
        s->ts_ms = 10000 + i * 1000;
        s->has_cpu = true;
        s->cpu_pct = i;
        s->has_mem = i != 5; /* one sample without memory: not a zero */
        s->mem_total = 1000;
        s->mem_available = 400;
        s->nagents = i < 30 ? 1 : 0;
        snprintf(s->agents[0].run_id, sizeof(s->agents[0].run_id), "run_a");
        s->agents[0].has_cpu = true;
        s->agents[0].cpu_pct = 200;
        s->agents[0].rss_bytes = (uint64_t)(i + 1) << 20;
        s->agents[0].nprocs = 1;
        if (i < 2) { /* its tree not found yet: not measured, no record */
            s->agents[0].rss_bytes = 0;
            s->agents[0].nprocs = 0;
            s->agents[0].has_cpu = false;
        }
        ad_health_pend_add(p, s, NULL, 0, got_chunk, g);
        assert_int_equal(g->calls, i < AD_HEALTH_CHUNK_RECS - 1 ? 0 : 2);
    }
    assert_int_equal(g->hn, AD_HEALTH_CHUNK_RECS);
    assert_int_equal(g->hlen, AD_HEALTH_CHUNK_RECS * AD_HEALTH_HOST_REC);
    assert_int_equal(g->rn, 28);
    assert_string_equal(g->run_id, "run_a");

    ad_health_acc_t *a = ad_health_acc_new(10000, 69999, 2, "run_a");
    assert_true(ad_health_acc_chunk(a, false, g->host, g->hlen, g->hn));
    assert_true(ad_health_acc_chunk(a, true, g->run, g->rlen, g->rn));
    assert_false(ad_health_acc_chunk(a, true, g->run, g->rlen - 1, g->rn)); /* not whole */
    /* a sample still pending, newer than what was stored: added once */
    s->ts_ms = 69500;
    s->cpu_pct = 1000;
    s->nagents = 0;
    ad_health_pend_add(p, s, NULL, 0, got_chunk, g);
    ad_health_acc_pending(a, p);
    json_t *j = ad_health_acc_json(a);
    json_t *samples = json_object_get(j, "samples");
    assert_int_equal(json_integer_value(json_array_get(samples, 0)), 30);
    assert_int_equal(json_integer_value(json_array_get(samples, 1)), 31);
    json_t *cpu = json_object_get(json_object_get(j, "series"), "cpu");
    assert_true(fabs(json_real_value(json_array_get(cpu, 0)) - 14.5) < 1e-9);
    json_t *cpumax = json_object_get(json_object_get(j, "max"), "cpu");
    assert_true(json_real_value(json_array_get(cpumax, 1)) == 1000);
    json_t *mem = json_object_get(json_object_get(j, "series"), "memUsed");
    assert_true(json_real_value(json_array_get(mem, 0)) == 600);
    json_t *run = json_object_get(j, "run");
    assert_string_equal(json_string_value(json_object_get(run, "runId")), "run_a");
    json_t *rss = json_object_get(json_object_get(run, "max"), "rss");
    assert_true(json_real_value(json_array_get(rss, 0)) == (double)(30u << 20));
    assert_true(json_is_null(json_array_get(rss, 1)));
    json_decref(j);
    ad_health_acc_free(a);
    free(g);
    free(s);
    ad_health_pend_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_trim_by_bytes_and_age, setup, store_fx_teardown),
        cmocka_unit_test(test_pending_to_buckets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
