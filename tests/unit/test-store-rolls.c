/* SPDX-License-Identifier: MIT */
/*
 * The rollup rows of training metrics (src/store/seriesroll.c, migration
 * 2740): a series stored before them (no rows, rolled = 0, no ranges) gets
 * them from the job chain the store starts when it opens, over several
 * jobs, and then reads as a series written with them does; a chunk that
 * does not decode leaves the series read from its chunks (rolled = 2).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <sqlite3.h>
#include <string.h>

#include "store_fixture.h"
#include "tsdb/tsdb.h"

#define POINTS 100000 /* about 160 chunk rows: three jobs of 64 */

static void exec_raw(store_fx_t *f, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fail_msg("%s: %s", sql, err);
    }
    sqlite3_close(db);
}

static int64_t int_raw(store_fx_t *f, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

/* Rollup rows the chunk rows need: one per AD_ROLL_BLOCK (6) of them. */
#define ROLL_ROWS(f) int_raw(f, "SELECT count(DISTINCT seq / 6) FROM metric_chunks")

static void reopen(store_fx_t *f)
{
    ad_store_close(f->st);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    char err[512] = "";
    ad_store_opts_t o = {.path = f->path};
    if (ad_store_open(&f->loop, &o, &f->st, err, sizeof(err)) != 0) {
        fail_msg("store open failed: %s", err);
    }
}

typedef struct {
    ad_store_series_q_t q;
    store_wait_t w;
} query_t;

static void on_query(int rc, void *ctx)
{
    query_t *r = ctx;
    r->w.done = true;
    r->w.rc = rc;
}

/* The wide read (250 buckets of 400 points): its one run's answer, owned. */
static json_t *wide_read(store_fx_t *f)
{
    query_t r = {.q = {.nruns = 1, .buckets = 250}};
    snprintf(r.q.runs[0], sizeof(r.q.runs[0]), "run_r");
    snprintf(r.q.name, sizeof(r.q.name), "loss");
    ad_store_series_query(f->st, &r.q, on_query);
    store_fx_wait(f, &r.w);
    assert_int_equal(r.w.rc, 0);
    json_t *run = json_incref(json_array_get(json_object_get(r.q.out, "runs"), 0));
    assert_int_equal(json_integer_value(json_object_get(r.q.out, "from")), 0);
    assert_int_equal(json_integer_value(json_object_get(r.q.out, "to")), POINTS - 1);
    json_decref(r.q.out);
    return run;
}

/* Runs the loop until the series' rolled is want (bounded: about 20 s). */
static void wait_rolled(store_fx_t *f, int64_t want)
{
    for (int i = 0; i < 2000; i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        if (int_raw(f, "SELECT rolled FROM metric_series WHERE run_id = 'run_r'") == want) {
            return;
        }
        usleep(10000);
    }
    fail_msg("the series never became rolled = %lld", (long long)want);
}

static void older_series_are_built_on_open(void **state)
{
    store_fx_t *f = *state;
    exec_raw(f, "PRAGMA foreign_keys=OFF; INSERT INTO runs (id, agent_id, started_at) "
                "VALUES ('run_r', 'agent_x', 0)");
    json_t *pts = json_array();
    for (int i = 0; i < POINTS; i++) {
        double v = i == 54321 ? 1e6 : round(sin(i / 700.0) * 1000.0 + (i * 7919 % 101)) / 100.0;
        json_array_append_new(pts,
                              json_pack("{s:s, s:i, s:I, s:f}", "name", "loss", "step", i, "ts",
                                        (json_int_t)(1760000000000 + i * 10), "value", v));
    }
    store_wait_t w = {0};
    ad_store_series_append(f->st,
                           json_pack("{s:s, s:s, s:i, s:o}", "runId", "run_r", "orgId",
                                     "org_default", "now", 0, "points", pts),
                           store_fx_on_result, &w);
    store_fx_wait(f, &w);
    assert_int_equal(w.rc, 0);
    json_decref(w.result);
    int64_t chunks = int_raw(f, "SELECT count(*) FROM metric_chunks");
    assert_true(chunks > 128);
    assert_int_equal(int_raw(f, "SELECT count(*) FROM metric_rolls"), ROLL_ROWS(f));
    json_t *fresh = wide_read(f);
    assert_int_equal(json_integer_value(json_object_get(fresh, "tierPoints")), TSDB_ROLL_POINTS);
    assert_int_equal(json_integer_value(json_object_get(fresh, "points")), POINTS);

    /* as a series stored before migration 2740 */
    ad_store_close(f->st);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    exec_raw(f, "DELETE FROM metric_rolls; UPDATE metric_series SET rolled = 0, step_lo = NULL, "
                "step_hi = NULL, t_lo = NULL, t_hi = NULL");
    f->st = NULL;
    reopen(f);
    wait_rolled(f, 1);
    assert_int_equal(int_raw(f, "SELECT count(*) FROM metric_rolls"), ROLL_ROWS(f));
    assert_int_equal(int_raw(f, "SELECT step_hi FROM metric_series"), POINTS - 1);
    assert_int_equal(int_raw(f, "SELECT t_lo FROM metric_series"), 1760000000000);
    json_t *built = wide_read(f);
    assert_true(json_equal(json_object_get(built, "buckets"), json_object_get(fresh, "buckets")));
    assert_int_equal(json_integer_value(json_object_get(built, "tierPoints")), TSDB_ROLL_POINTS);
    json_decref(built);

    /* a chunk that does not decode: the series is read from its chunks */
    ad_store_close(f->st);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    f->st = NULL;
    exec_raw(f, "DELETE FROM metric_rolls; UPDATE metric_chunks SET data = x'ff' WHERE seq = 3; "
                "UPDATE metric_series SET rolled = 0");
    reopen(f);
    wait_rolled(f, 2);
    json_t *chunked = wide_read(f);
    assert_int_equal(json_integer_value(json_object_get(chunked, "tierPoints")), 1);
    json_t *max = json_object_get(json_object_get(chunked, "buckets"), "max");
    double top = -INFINITY;
    for (size_t i = 0; i < json_array_size(max); i++) {
        top = fmax(top, json_real_value(json_array_get(max, i)));
    }
    assert_true(top == 1e6);
    json_decref(chunked);
    json_decref(fresh);
}

STORE_FX_SETUP(setup, "rolls")

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(older_series_are_built_on_open, setup, store_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
