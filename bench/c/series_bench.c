/* SPDX-License-Identifier: MIT */
/*
 * Training-metric store benchmarks (issue #16), rows T1-T3 of
 * bench/README.md, each a ratio against a peer run in the same process:
 *   T1 ingest: points per CPU-second through the store's writer
 *      (ad_store_series_append with batches as POST /api/runs/:id/metrics
 *      builds them) / a bare loop inserting the same points as plain rows
 *      into SQLite (same pragmas, one transaction per batch).
 *   T2 read: a 2,000-bucket min/max/mean/count query over the whole
 *      series / the same answer by SQLite GROUP BY over the plain table
 *      (indexed by run, name, step).
 *   T3 size: bytes on disk per point, store vs plain rows.
 *   T4 (issue #35) one chart of 16 runs: the 2,000-bucket compare read of
 *      --runs runs of --t4-points points each, p50/p95 of 20 reads.
 *   T5 (issue #35) the alert rules on the ingest path: CPU per point to
 *      evaluate four rules (NaN, above, below, stale) on every point, as a
 *      share of T1's CPU per point stored.
 * Linked against libagentd.a (make bench-series). Bounded: --points (default
 * 10,000,000; QUICK 1,000,000), no loop of its own beyond that.
 * --db DIR keeps the databases in DIR (made if missing) instead of a
 * temporary directory removed at the end; when DIR/agentd.db is already
 * there, from an earlier run with the same --points --runs --t4-points,
 * nothing is stored and only T4 is read (16 runs of 10M points take
 * minutes to store, a read well under a second).
 */
#include "store/store.h"
#include "tables/series.h"
#include "train/train.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BATCH 5000
#define BUCKETS 2000

static double cpu_s(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec +
           u.ru_stime.tv_usec / 1e6;
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A reward curve: a rising trend, noise, logged to two decimals, one
 * point every 4 steps, 50 ms apart; step i of the curve. */
static void point(int64_t i, int64_t *step, int64_t *t, double *v)
{
    static uint64_t s = 88172645463325252ull;
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    double noise = ((double)(s % 20001) / 10000.0 - 1.0) * 15.0;
    *step = i * 4;
    *t = 1760000000000 + i * 50;
    *v = round((200.0 * (1.0 - exp(-(double)i / 2e6)) + noise) * 100.0) / 100.0;
}

static int64_t file_bytes(const char *p)
{
    char w[600];
    struct stat st;
    int64_t n = stat(p, &st) == 0 ? st.st_size : 0;
    snprintf(w, sizeof(w), "%s-wal", p);
    return n + (stat(w, &st) == 0 ? st.st_size : 0);
}

typedef struct {
    int pending;
    int failed;
} waits_t;

static void on_append(int rc, json_t *result, void *ud)
{
    waits_t *w = ud;
    w->pending--;
    w->failed += rc != 0;
    json_decref(result);
}

static void add_run(const char *db_path, const char *id)
{
    sqlite3 *db;
    char sql[256];
    sqlite3_open(db_path, &db);
    snprintf(sql, sizeof(sql),
             "PRAGMA foreign_keys=OFF; INSERT INTO runs (id, agent_id, started_at) "
             "VALUES ('%s', 'agent_bench', 0)",
             id);
    sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
}

static json_t *batch_of(const char *run, int64_t *i, int64_t n)
{
    json_t *pts = json_array();
    for (int k = 0; k < BATCH && *i < n; k++, (*i)++) {
        int64_t step, t;
        double v;
        point(*i, &step, &t, &v);
        json_array_append_new(pts, json_pack("{s:s, s:I, s:I, s:f}", "name", "reward", "step",
                                             (json_int_t)step, "ts", (json_int_t)t, "value", v));
    }
    return json_pack("{s:s, s:s, s:I, s:o}", "runId", run, "orgId", "org_default", "now",
                     (json_int_t)0, "points", pts);
}

/* T1 agentd side: every point through the writer; CPU-s and wall-s. */
static int store_ingest(uv_loop_t *loop, ad_store_t *st, const char *run, int64_t n, double *cpu,
                        double *wall)
{
    waits_t w = {0, 0};
    double c0 = cpu_s(), w0 = wall_s();
    for (int64_t i = 0; i < n;) {
        json_t *batch = batch_of(run, &i, n);
        w.pending++;
        ad_store_series_append(st, batch, on_append, &w);
        while (w.pending > 8) {
            uv_run(loop, UV_RUN_ONCE);
        }
    }
    while (w.pending > 0) {
        uv_run(loop, UV_RUN_ONCE);
    }
    *cpu = cpu_s() - c0;
    *wall = wall_s() - w0;
    return w.failed;
}

/* T1 peer: plain rows, the store's pragmas, a transaction per batch. */
static void bare_ingest(const char *path, int64_t n, double *cpu, double *wall)
{
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_exec(db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; CREATE TABLE points (run_id "
                 "TEXT, name TEXT, step INTEGER, t INTEGER, value REAL); CREATE INDEX points_by "
                 "ON points(run_id, name, step)",
                 NULL, NULL, NULL);
    sqlite3_stmt *s;
    sqlite3_prepare_v2(db, "INSERT INTO points VALUES ('run_bench', 'reward', ?, ?, ?)", -1, &s,
                       NULL);
    double c0 = cpu_s(), w0 = wall_s();
    for (int64_t i = 0; i < n;) {
        sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        for (int k = 0; k < BATCH && i < n; k++, i++) {
            int64_t step, t;
            double v;
            point(i, &step, &t, &v);
            sqlite3_bind_int64(s, 1, step);
            sqlite3_bind_int64(s, 2, t);
            sqlite3_bind_double(s, 3, v);
            sqlite3_step(s);
            sqlite3_reset(s);
        }
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    }
    *cpu = cpu_s() - c0;
    *wall = wall_s() - w0;
    sqlite3_finalize(s);
    sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    sqlite3_close(db);
}

static void on_query(int rc, void *ctx)
{
    ad_store_series_q_t *q = ctx;
    if (rc != 0) {
        fprintf(stderr, "query failed: %d\n", rc);
    }
    *(int *)q->ud = 1;
}

/* T2 agentd side: seconds for the bucketed read (thread pool included). */
static double store_read(uv_loop_t *loop, ad_store_t *st, double *spike_max)
{
    ad_store_series_q_t q = {.nruns = 1, .buckets = BUCKETS};
    int done = 0;
    snprintf(q.runs[0], sizeof(q.runs[0]), "run_bench");
    snprintf(q.name, sizeof(q.name), "reward");
    q.ud = &done;
    double w0 = wall_s();
    ad_store_series_query(st, &q, on_query);
    while (!done) {
        uv_run(loop, UV_RUN_ONCE);
    }
    double sec = wall_s() - w0;
    json_t *max = json_object_get(
        json_object_get(json_array_get(json_object_get(q.out, "runs"), 0), "buckets"), "max");
    size_t i;
    json_t *v;
    *spike_max = -1e300;
    json_array_foreach(max, i, v)
    {
        *spike_max = fmax(*spike_max, json_real_value(v));
    }
    json_decref(q.out);
    return sec;
}

/* T4: the compare read over nruns runs (the chart of a run group). */
static double compare_read(uv_loop_t *loop, ad_store_t *st, int nruns, double *cpu)
{
    double c0 = cpu_s();
    ad_store_series_q_t q = {.nruns = (size_t)nruns, .buckets = BUCKETS};
    int done = 0;
    for (int r = 0; r < nruns; r++) {
        snprintf(q.runs[r], sizeof(q.runs[r]), r == 0 ? "run_bench" : "run_bench_%d", r);
    }
    snprintf(q.name, sizeof(q.name), "reward");
    q.ud = &done;
    double w0 = wall_s();
    ad_store_series_query(st, &q, on_query);
    while (!done) {
        uv_run(loop, UV_RUN_ONCE);
    }
    double sec = wall_s() - w0;
    *cpu = cpu_s() - c0; /* the pool thread's read and the loop's answer */
    json_decref(q.out);
    return sec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* T4's 20 reads, sorted: wall and CPU seconds. */
static void t4_reads(uv_loop_t *loop, ad_store_t *st, int runs, double *reads, double *cpus)
{
    for (int k = 0; k < 20; k++) {
        reads[k] = compare_read(loop, st, runs, &cpus[k]);
    }
    qsort(reads, 20, sizeof(double), cmp_d);
    qsort(cpus, 20, sizeof(double), cmp_d);
}

static void t4_print(int runs, int64_t n, int64_t t4n, const double *reads, const double *cpus)
{
    printf("T4 one chart of %d runs x %lld points (the first run %lld), %d buckets: p50 %.1f ms, "
           "p95 %.1f ms of 20 reads, CPU p50 %.1f ms p95 %.1f ms (goal p95 < 50 ms)\n",
           runs, (long long)t4n, (long long)n, BUCKETS, reads[9] * 1e3, reads[18] * 1e3,
           cpus[9] * 1e3, cpus[18] * 1e3);
}

static void t4_only(uv_loop_t *loop, ad_store_t *st, int runs, int64_t n, int64_t t4n)
{
    double reads[20], cpus[20];
    t4_reads(loop, st, runs, reads, cpus);
    t4_print(runs, n, t4n, reads, cpus);
}

/* T5: CPU per point to evaluate four rules on n points (in REST batches). */
static double alert_eval(uv_loop_t *loop, ad_store_t *st, int64_t n)
{
    ad_train_opts_t o = {.loop = loop, .store = st};
    ad_train_t *t = ad_train_new(&o);
    const char *rules[] = {
        "{\"id\":\"alr_1\",\"orgId\":\"org_default\",\"name\":\"n\",\"kind\":\"nan\","
        "\"series\":\"reward\",\"action\":\"none\"}",
        "{\"id\":\"alr_2\",\"orgId\":\"org_default\",\"name\":\"a\",\"kind\":\"above\","
        "\"series\":\"reward\",\"threshold\":1e9,\"steps\":3,\"action\":\"none\"}",
        "{\"id\":\"alr_3\",\"orgId\":\"org_default\",\"name\":\"b\",\"kind\":\"below\","
        "\"series\":\"reward\",\"threshold\":-1e9,\"steps\":3,\"action\":\"none\"}",
        "{\"id\":\"alr_4\",\"orgId\":\"org_default\",\"name\":\"s\",\"kind\":\"stale\","
        "\"series\":\"reward\",\"staleSeconds\":600,\"action\":\"none\"}",
    };
    for (size_t i = 0; i < 4; i++) {
        json_t *r = json_loads(rules[i], 0, NULL);
        ad_train_rule_set(t, r);
        json_decref(r);
    }
    double cpu = 0;
    for (int64_t i = 0; i < n;) {
        json_t *batch = batch_of("run_bench", &i, n);
        double c0 = cpu_s();
        ad_train_points(t, "agent_bench", "run_bench", "org_default",
                        json_object_get(batch, "points"));
        cpu += cpu_s() - c0;
        json_decref(batch);
    }
    ad_train_close(t);
    uv_run(loop, UV_RUN_NOWAIT);
    return cpu / (double)n;
}

static double bare_read(const char *path, int64_t n)
{
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_stmt *s;
    sqlite3_prepare_v2(db,
                       "SELECT (step - ?1) * ?2 / (?3 - ?1 + 1) AS b, min(value), max(value), "
                       "avg(value), count(*) FROM points WHERE run_id = 'run_bench' AND name = "
                       "'reward' GROUP BY b",
                       -1, &s, NULL);
    sqlite3_bind_int64(s, 1, 0);
    sqlite3_bind_int64(s, 2, BUCKETS);
    sqlite3_bind_int64(s, 3, (n - 1) * 4);
    double w0 = wall_s();
    int rows = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        rows++;
    }
    double sec = wall_s() - w0;
    sqlite3_finalize(s);
    sqlite3_close(db);
    return rows > 0 ? sec : -1;
}

int main(int argc, char **argv)
{
    int64_t n = 10000000, t4n = -1;
    int runs = 16;
    const char *keep = NULL;
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--db") == 0) {
            keep = argv[i + 1];
        } else if (strcmp(argv[i], "--points") == 0) {
            n = strtoll(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--t4-points") == 0) {
            t4n = strtoll(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--runs") == 0) {
            runs = (int)strtol(argv[i + 1], NULL, 10);
        }
    }
    if (t4n < 0) {
        t4n = n;
    }
    if (runs < 1 || runs > AD_SERIES_RUNS_MAX || t4n > n) {
        fprintf(stderr, "--runs from 1 to %d, --t4-points at most --points\n", AD_SERIES_RUNS_MAX);
        return 2;
    }
    if (n < BATCH || n > 100000000) {
        fprintf(stderr, "--points from %d to 100000000\n", BATCH);
        return 2;
    }
    char tmp[] = "/tmp/agentd-series-bench-XXXXXX";
    const char *dir = keep;
    if (keep != NULL ? mkdir(keep, 0700) != 0 && access(keep, W_OK) != 0
                     : (dir = mkdtemp(tmp)) == NULL) {
        fprintf(stderr, "no directory for the databases\n");
        return 1;
    }
    char a[600], b[600], err[256];
    snprintf(a, sizeof(a), "%s/agentd.db", dir);
    snprintf(b, sizeof(b), "%s/plain.db", dir);
    bool reuse = keep != NULL && access(a, F_OK) == 0;
    uv_loop_t loop;
    uv_loop_init(&loop);
    ad_store_t *st = NULL;
    ad_store_opts_t o = {.path = a};
    if (ad_store_open(&loop, &o, &st, err, sizeof(err)) != 0) {
        fprintf(stderr, "open: %s\n", err);
        return 1;
    }
    if (reuse) { /* the points are there: T4 alone */
        t4_only(&loop, st, runs, n, t4n);
        ad_store_close(st);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        return 0;
    }
    add_run(a, "run_bench");
    int64_t empty = file_bytes(a);
    double sc, sw, bc, bw, spike;
    int failed = store_ingest(&loop, st, "run_bench", n, &sc, &sw);
    bare_ingest(b, n, &bc, &bw);
    double sr = 1e9, br = 1e9;
    for (int k = 0; k < 3; k++) {
        sr = fmin(sr, store_read(&loop, st, &spike));
        br = fmin(br, bare_read(b, n));
    }
    int64_t chunks_bytes_before_t4 = file_bytes(a);
    double t5 = alert_eval(&loop, st, n);
    /* T4: runs - 1 more runs of t4n points (the first run's first t4n
     * points are the same curve) */
    for (int r = 1; r < runs; r++) {
        char id[32];
        double c, w;
        snprintf(id, sizeof(id), "run_bench_%d", r);
        add_run(a, id);
        failed += store_ingest(&loop, st, id, t4n, &c, &w);
    }
    double reads[20], cpus[20];
    t4_reads(&loop, st, runs, reads, cpus);
    ad_store_close(st);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    sqlite3 *db;
    sqlite3_open(a, &db);
    sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    sqlite3_stmt *q;
    double blob = 0, freep = 0, rolls = 0, sums = 0;
    sqlite3_prepare_v2(db,
                       "SELECT (SELECT sum(length(data)) FROM metric_chunks), "
                       "(SELECT freelist_count FROM pragma_freelist_count) * "
                       "(SELECT page_size FROM pragma_page_size), "
                       "(SELECT sum(length(data)) FROM metric_rolls), "
                       "(SELECT sum(length(data)) FROM metric_sums)",
                       -1, &q, NULL);
    if (sqlite3_step(q) == SQLITE_ROW) {
        double all = (double)n + (double)(runs - 1) * (double)t4n; /* T4's runs are in too */
        blob = sqlite3_column_double(q, 0) / all;
        freep = sqlite3_column_double(q, 1) / all;
        rolls = sqlite3_column_double(q, 2) / all;
        sums = sqlite3_column_double(q, 3) / all;
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    double sbytes = (double)(chunks_bytes_before_t4 - empty) / (double)n;
    /* the database alone, its WAL checkpointed away (with T4's runs in) */
    double dbytes = (double)(file_bytes(a) - empty) / ((double)n + (double)(runs - 1) * t4n);
    double bbytes = (double)file_bytes(b) / (double)n;
    printf("T1 ingest: store %.0f points/CPU-s (%.0f/s wall), bare rows %.0f points/CPU-s "
           "(%.0f/s wall): ratio %.2fx (budget >= 1x)%s\n",
           n / sc, n / sw, n / bc, n / bw, (n / sc) / (n / bc), failed ? " BATCHES FAILED" : "");
    printf("T2 read %d buckets over %lld points: store %.1f ms, SQLite GROUP BY %.1f ms: "
           "ratio %.1fx faster (budget >= 50x); max of bucket maxima %.2f\n",
           BUCKETS, (long long)n, sr * 1e3, br * 1e3, br / sr, spike);
    printf("T3 size: store %.2f bytes/point on disk (encoded points %.2f, their rollup runs "
           "%.2f, chunk totals %.2f, free pages %.2f; the database checkpointed at the end "
           "%.2f), plain rows %.2f bytes/point (budget <= 4)\n",
           sbytes, blob, rolls, sums, freep, dbytes, bbytes);
    t4_print(runs, n, t4n, reads, cpus);
    printf("T5 alert rules on ingest: %.0f ns CPU a point for 4 rules = %.1f%% of storing it "
           "(%.0f ns)\n",
           t5 * 1e9, 100.0 * t5 / (sc / (double)n), 1e9 * sc / (double)n);
    if (keep != NULL) {
        return failed == 0 ? 0 : 1;
    }
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 && failed == 0 ? 0 : 1;
}
