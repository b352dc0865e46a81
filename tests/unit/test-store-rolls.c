/* SPDX-License-Identifier: MIT */
/*
 * The rollup rows of training metrics (src/tables/seriesroll.c, migration
 * 2740): a series stored before them (no rows, rolled = 0, no ranges) gets
 * them from the job chain the store starts when it opens, over several
 * jobs, and then reads as a series written with them does; a chunk that
 * does not decode leaves the series read from its chunks (rolled = 2).
 * And every tier a bucketed read takes (a rollup row's summary, a chunk's,
 * its runs, its points) against the raw points, over random data, at
 * bucket widths from many rollup rows a bucket to fewer points than a run,
 * with the runs split among reader threads as a wide chart's are. The
 * chunk tier (migration 2830) likewise: built on open for a series rolled
 * before it, and read only where a chunk is at most half a bucket.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "store_fixture.h"
#include "tsdb/tsdb.h"

#define POINTS 250000 /* over 128 chunk rows: three jobs of 64 */

/* A run of agent_x for the points to belong to (its agent, worktree and
 * workspace made once). */
static void add_run(store_fx_t *f, const char *run)
{
    store_fx_exec(f, "INSERT INTO workspaces (id, name, path, created_at, updated_at) VALUES "
                     "('ws_x', 'x', '/x', 0, 0) ON CONFLICT DO NOTHING");
    store_fx_exec(f, "INSERT INTO worktrees (id, workspace_id, name, path, created_at, "
                     "updated_at) VALUES ('wt_x', 'ws_x', 'main', '/x', 0, 0) "
                     "ON CONFLICT DO NOTHING");
    store_fx_exec(f, "INSERT INTO agents (id, worktree_id, name, status, created_at, updated_at) "
                     "VALUES ('agent_x', 'wt_x', 'x', 'idle', 0, 0) ON CONFLICT DO NOTHING");
    char sql[200];
    snprintf(sql, sizeof(sql),
             "INSERT INTO runs (id, agent_id, started_at) VALUES ('%s', 'agent_x', 0)", run);
    store_fx_exec(f, sql);
}

/* Rollup rows the chunk rows need: one per AD_ROLL_BLOCK (6) of them. */
#define ROLL_ROWS(f) store_fx_int(f, "SELECT count(DISTINCT seq / 6) FROM metric_chunks")

static void reopen(store_fx_t *f)
{
    ad_store_close(f->st);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    char err[512] = "";
    ad_store_opts_t o = store_fx_opts_keep(f->path);
    if (ad_store_open(&f->loop, &o, &f->st, err, sizeof(err)) != 0) {
        fail_msg("store open failed: %s", err);
    }
    ad_store_rolls_start(f->st); /* as the daemon does (main.c) */
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

/* A read of the whole series in n buckets: its one run's answer, owned. */
static json_t *read_in(store_fx_t *f, size_t buckets)
{
    query_t r = {.q = {.nruns = 1, .buckets = buckets}};
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

/* The wide read (250 buckets of 400 points, from runs of 128). */
static json_t *wide_read(store_fx_t *f)
{
    return read_in(f, 250);
}

/* Runs the loop until the series' rolled is want (bounded: about 20 s). */
static void wait_rolled(store_fx_t *f, int64_t want)
{
    for (int i = 0; i < 2000; i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        if (store_fx_int(f, "SELECT rolled FROM metric_series WHERE run_id = 'run_r'") == want) {
            return;
        }
        usleep(10000);
    }
    fail_msg("the series never became rolled = %lld", (long long)want);
}

/* run_r's "loss": POINTS points of a noisy curve with one spike (54321). */
static void store_loss(store_fx_t *f)
{
    add_run(f, "run_r");
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
}

static void older_series_are_built_on_open(void **state)
{
    store_fx_t *f = *state;
    store_loss(f);
    int64_t chunks = store_fx_int(f, "SELECT count(*) FROM metric_chunks");
    assert_true(chunks > 128);
    assert_int_equal(store_fx_int(f, "SELECT count(*) FROM metric_rolls"), ROLL_ROWS(f));
    json_t *fresh = wide_read(f);
    assert_int_equal(json_integer_value(json_object_get(fresh, "tierPoints")), TSDB_ROLL_POINTS);
    assert_int_equal(json_integer_value(json_object_get(fresh, "points")), POINTS);

    /* as a series stored before migration 2740 */
    ad_store_close(f->st);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    store_fx_exec(f, "DELETE FROM metric_rolls");
    store_fx_exec(f, "UPDATE metric_series SET rolled = 0, step_lo = NULL, step_hi = NULL, "
                     "t_lo = NULL, t_hi = NULL");
    f->st = NULL;
    reopen(f);
    wait_rolled(f, 1);
    assert_int_equal(store_fx_int(f, "SELECT count(*) FROM metric_rolls"), ROLL_ROWS(f));
    assert_int_equal(store_fx_int(f, "SELECT step_hi FROM metric_series"), POINTS - 1);
    assert_int_equal(store_fx_int(f, "SELECT t_lo FROM metric_series"), 1760000000000);
    json_t *built = wide_read(f);
    assert_true(json_equal(json_object_get(built, "buckets"), json_object_get(fresh, "buckets")));
    assert_int_equal(json_integer_value(json_object_get(built, "tierPoints")), TSDB_ROLL_POINTS);
    json_decref(built);

    /* a chunk that does not decode: the series is read from its chunks */
    ad_store_close(f->st);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    f->st = NULL;
    store_fx_exec(f, "DELETE FROM metric_rolls");
    store_fx_exec(f, "UPDATE metric_chunks SET data = CAST('x' AS BLOB) WHERE seq = 3");
    store_fx_exec(f, "UPDATE metric_series SET rolled = 0");
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

/* The chunk tier (migration 2830): a read of 20 buckets of 5,000 points takes
 * each chunk's total; a series rolled before it (summed = 0, no rows) gets
 * its rows from its rollup rows when the store opens and then answers as
 * one written with them; until then (summed other than 1) it is read from
 * its runs; a row of the tier that does not parse is read from runs too. */
static double max_of(const json_t *run)
{
    json_t *max = json_object_get(json_object_get(run, "buckets"), "max");
    double top = -INFINITY;
    for (size_t i = 0; i < json_array_size(max); i++) {
        top = fmax(top, json_real_value(json_array_get(max, i)));
    }
    return top;
}

static void series_get_the_chunk_tier_on_open(void **state)
{
    store_fx_t *f = *state;
    store_loss(f);
    const char *rows = "SELECT count(DISTINCT seq / 32) FROM metric_chunks";
    assert_int_equal(store_fx_int(f, "SELECT count(*) FROM metric_sums"), store_fx_int(f, rows));
    json_t *fresh = read_in(f, 20);
    int64_t tier = json_integer_value(json_object_get(fresh, "tierPoints"));
    assert_true(tier > TSDB_ROLL_POINTS && tier <= TSDB_CHUNK_MAX);
    assert_int_equal(json_integer_value(json_object_get(fresh, "points")), POINTS);
    assert_true(max_of(fresh) == 1e6);

    /* not summed: read from the runs, the same points and extremes */
    ad_store_close(f->st);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    f->st = NULL;
    store_fx_exec(f, "UPDATE metric_series SET summed = 2");
    reopen(f);
    json_t *runs = read_in(f, 20);
    assert_int_equal(json_integer_value(json_object_get(runs, "tierPoints")), TSDB_ROLL_POINTS);
    assert_int_equal(json_integer_value(json_object_get(runs, "points")), POINTS);
    assert_true(max_of(runs) == 1e6);
    json_decref(runs);

    /* as a series rolled before migration 2830 */
    ad_store_close(f->st);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    f->st = NULL;
    store_fx_exec(f, "DELETE FROM metric_sums");
    store_fx_exec(f, "UPDATE metric_series SET summed = 0");
    reopen(f);
    for (int i = 0; i < 2000 && store_fx_int(f, "SELECT summed FROM metric_series") != 1; i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(10000);
    }
    assert_int_equal(store_fx_int(f, "SELECT summed FROM metric_series"), 1);
    assert_int_equal(store_fx_int(f, "SELECT count(*) FROM metric_sums"), store_fx_int(f, rows));
    json_t *built = read_in(f, 20);
    assert_true(json_equal(built, fresh));
    json_decref(built);

    /* a row of the tier that does not parse: its chunks from their runs */
    store_fx_exec(f, "UPDATE metric_sums SET data = CAST('x' AS BLOB) WHERE blk = 1");
    json_t *bad = read_in(f, 20);
    assert_int_equal(json_integer_value(json_object_get(bad, "points")), POINTS);
    assert_true(max_of(bad) == 1e6);
    json_decref(bad);
    json_decref(fresh);
}

/* ---- every tier against the raw points ------------------------------------------------ */

#define RAND_POINTS 120000 /* ~20 rollup rows of random values */
#define RAND_RUNS 2

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static void store_points(store_fx_t *f, const char *run, const double *v, int n)
{
    add_run(f, run);
    json_t *pts = json_array();
    for (int i = 0; i < n; i++) {
        json_array_append_new(pts,
                              json_pack("{s:s, s:i, s:I, s:f}", "name", "loss", "step", i, "ts",
                                        (json_int_t)(1760000000000 + i * 10), "value", v[i]));
    }
    store_wait_t w = {0};
    ad_store_series_append(f->st,
                           json_pack("{s:s, s:s, s:i, s:o}", "runId", run, "orgId", "org_default",
                                     "now", 0, "points", pts),
                           store_fx_on_result, &w);
    store_fx_wait(f, &w);
    assert_int_equal(w.rc, 0);
    json_decref(w.result);
}

/* min, max and count of the raw points with steps lo..hi (clipped). */
static void raw_span(const double *v, int64_t lo, int64_t hi, double *mn, double *mx, int64_t *n)
{
    *mn = INFINITY;
    *mx = -INFINITY;
    *n = 0;
    for (int64_t i = lo < 0 ? 0 : lo; i <= hi && i < RAND_POINTS; i++) {
        *mn = fmin(*mn, v[i]);
        *mx = fmax(*mx, v[i]);
        (*n)++;
    }
}

/* One run's buckets against its points: every count and the sum exact;
 * each bucket's min, max and count inside the envelope of its raw points
 * narrowed and widened by one run of tierPoints points (a run across an
 * edge puts its other points where it starts), and exact when no run was
 * read (tierPoints 1). A row or chunk summary added to the wrong bucket,
 * twice or not at all fails one of these. */
static void check_run(const json_t *run, const double *v, size_t buckets)
{
    const json_t *b = json_object_get(run, "buckets");
    const json_t *xs = json_object_get(b, "x"), *mn = json_object_get(b, "min"),
                 *mx = json_object_get(b, "max"), *mean = json_object_get(b, "mean"),
                 *cnt = json_object_get(b, "count");
    /* a run across an edge puts its other points where it starts: the
     * envelope widened by the most points a run held (tierPoints: 128, or a
     * whole chunk's from the chunk tier) */
    int64_t tier = json_integer_value(json_object_get(run, "tierPoints"));
    assert_true(tier >= 1 && tier <= TSDB_CHUNK_MAX);
    bool exact = tier == 1;
    int64_t total = 0;
    double sum = 0, want_sum = 0;
    for (int i = 0; i < RAND_POINTS; i++) {
        want_sum += v[i];
    }
    assert_int_equal(json_array_size(xs), buckets); /* no bucket is empty */
    for (size_t k = 0; k < buckets; k++) {
        /* bucket k holds steps lo..hi: k * span <= step * buckets < (k + 1) * span */
        int64_t lo = ((int64_t)k * RAND_POINTS + (int64_t)buckets - 1) / (int64_t)buckets;
        int64_t hi = (((int64_t)k + 1) * RAND_POINTS + (int64_t)buckets - 1) / (int64_t)buckets - 1;
        double bmin = json_real_value(json_array_get(mn, k));
        double bmax = json_real_value(json_array_get(mx, k));
        int64_t bn = json_integer_value(json_array_get(cnt, k));
        total += bn;
        sum += json_real_value(json_array_get(mean, k)) * (double)bn;
        double wmin, wmax, nmin, nmax;
        int64_t wn, nn;
        int64_t w = exact ? 0 : tier;
        raw_span(v, lo - w, hi + w, &wmin, &wmax, &wn);
        raw_span(v, lo + w, hi - w, &nmin, &nmax, &nn);
        assert_true(bmin >= wmin && bmax <= wmax);
        assert_true(bmin <= nmin && bmax >= nmax); /* vacuous when nothing is left narrowed */
        assert_true(bn >= nn && bn <= wn);
    }
    assert_int_equal(total, RAND_POINTS);
    assert_true(fabs(sum - want_sum) <= 1e-6 * fmax(1.0, fabs(want_sum)));
}

static void every_tier_matches_the_raw_points(void **state)
{
    store_fx_t *f = *state;
    static double v[RAND_RUNS][RAND_POINTS];
    const char *runs[RAND_RUNS] = {"run_a", "run_b"};
    for (int r = 0; r < RAND_RUNS; r++) {
        for (int i = 0; i < RAND_POINTS; i++) {
            uint64_t x = rnd();
            v[r][i] = (double)(int64_t)(x % 200001 - 100000) / 100.0;
            if (x % 997 == 0) { /* spikes, up and down */
                v[r][i] = (x & 1 ? 1 : -1) * 1e6 * (double)(1 + x % 7);
            }
        }
        store_points(f, runs[r], v[r], RAND_POINTS);
    }
    assert_true(store_fx_int(f, "SELECT count(*) FROM metric_rolls WHERE run_id = 'run_a'") > 10);
    setenv("AGENTD_TEST_SERIES_SPLIT", "1", 1); /* both runs' readers, each a connection */
    /* 3 buckets: many rows of the chunk tier each; 20 (6,000 points a
     * bucket, chunks of ~900): chunks by summary, the rest by their totals
     * (the chunk tier); 200: mostly runs (600 points a bucket); 1,000 (120 a
     * bucket, narrower than tsdb_agg_wide): chunks decoded, exact */
    const size_t widths[] = {3, 20, 200, 1000};
    const int64_t tiers[] = {-1, -1, TSDB_ROLL_POINTS, 1}; /* -1: a chunk's points */
    for (size_t wi = 0; wi < sizeof(widths) / sizeof(widths[0]); wi++) {
        query_t both = {.q = {.nruns = RAND_RUNS, .buckets = widths[wi]}};
        for (int r = 0; r < RAND_RUNS; r++) {
            snprintf(both.q.runs[r], sizeof(both.q.runs[r]), "%s", runs[r]);
        }
        snprintf(both.q.name, sizeof(both.q.name), "loss");
        ad_store_series_query(f->st, &both.q, on_query);
        store_fx_wait(f, &both.w);
        assert_int_equal(both.w.rc, 0);
        json_t *out = json_object_get(both.q.out, "runs");
        assert_int_equal(json_array_size(out), RAND_RUNS);
        for (int r = 0; r < RAND_RUNS; r++) {
            json_t *run = json_array_get(out, (size_t)r);
            assert_string_equal(json_string_value(json_object_get(run, "runId")), runs[r]);
            check_run(run, v[r], widths[wi]);
        }
        int64_t tier = json_integer_value(json_object_get(json_array_get(out, 0), "tierPoints"));
        if (tiers[wi] < 0) {
            assert_true(tier > TSDB_ROLL_POINTS && tier <= TSDB_CHUNK_MAX);
        } else {
            assert_int_equal(tier, tiers[wi]);
        }
        /* one run alone, on one connection, answers as it did among two */
        setenv("AGENTD_TEST_SERIES_SPLIT", "1000000000", 1);
        query_t one = {.q = {.nruns = 1, .buckets = widths[wi]}};
        snprintf(one.q.runs[0], sizeof(one.q.runs[0]), "run_b");
        snprintf(one.q.name, sizeof(one.q.name), "loss");
        ad_store_series_query(f->st, &one.q, on_query);
        store_fx_wait(f, &one.w);
        assert_int_equal(one.w.rc, 0);
        assert_true(json_equal(json_array_get(json_object_get(one.q.out, "runs"), 0),
                               json_array_get(out, 1)));
        setenv("AGENTD_TEST_SERIES_SPLIT", "1", 1);
        json_decref(one.q.out);
        json_decref(both.q.out);
    }
    unsetenv("AGENTD_TEST_SERIES_SPLIT");
}

STORE_FX_SETUP(setup, "rolls")

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(older_series_are_built_on_open, setup, store_fx_teardown),
        cmocka_unit_test_setup_teardown(series_get_the_chunk_tier_on_open, setup,
                                        store_fx_teardown),
        cmocka_unit_test_setup_teardown(every_tier_matches_the_raw_points, setup,
                                        store_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
