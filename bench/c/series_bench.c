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
 * Linked against libagentd.a (make bench-series). Bounded: --points (default
 * 10,000,000; QUICK 1,000,000), no loop of its own beyond that.
 */
#include "store/store.h"

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

static void add_run(const char *db_path)
{
    sqlite3 *db;
    sqlite3_open(db_path, &db);
    sqlite3_exec(db,
                 "PRAGMA foreign_keys=OFF; INSERT INTO runs (id, agent_id, started_at) "
                 "VALUES ('run_bench', 'agent_bench', 0)",
                 NULL, NULL, NULL);
    sqlite3_close(db);
}

/* T1 agentd side: every point through the writer; CPU-s and wall-s. */
static int store_ingest(uv_loop_t *loop, ad_store_t *st, int64_t n, double *cpu, double *wall)
{
    waits_t w = {0, 0};
    double c0 = cpu_s(), w0 = wall_s();
    for (int64_t i = 0; i < n;) {
        json_t *pts = json_array();
        for (int k = 0; k < BATCH && i < n; k++, i++) {
            int64_t step, t;
            double v;
            point(i, &step, &t, &v);
            json_array_append_new(pts,
                                  json_pack("{s:s, s:I, s:I, s:f}", "name", "reward", "step",
                                            (json_int_t)step, "ts", (json_int_t)t, "value", v));
        }
        json_t *batch = json_pack("{s:s, s:s, s:I, s:o}", "runId", "run_bench", "orgId",
                                  "org_default", "now", (json_int_t)0, "points", pts);
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
    int64_t n = 10000000;
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--points") == 0) {
            n = strtoll(argv[i + 1], NULL, 10);
        }
    }
    if (n < BATCH || n > 100000000) {
        fprintf(stderr, "--points from %d to 100000000\n", BATCH);
        return 2;
    }
    char dir[] = "/tmp/agentd-series-bench-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        return 1;
    }
    char a[600], b[600], err[256];
    snprintf(a, sizeof(a), "%s/agentd.db", dir);
    snprintf(b, sizeof(b), "%s/plain.db", dir);
    uv_loop_t loop;
    uv_loop_init(&loop);
    ad_store_t *st = NULL;
    ad_store_opts_t o = {.path = a};
    if (ad_store_open(&loop, &o, &st, err, sizeof(err)) != 0) {
        fprintf(stderr, "open: %s\n", err);
        return 1;
    }
    add_run(a);
    int64_t empty = file_bytes(a);
    double sc, sw, bc, bw, spike;
    int failed = store_ingest(&loop, st, n, &sc, &sw);
    bare_ingest(b, n, &bc, &bw);
    double sr = 1e9, br = 1e9;
    for (int k = 0; k < 3; k++) {
        sr = fmin(sr, store_read(&loop, st, &spike));
        br = fmin(br, bare_read(b, n));
    }
    ad_store_close(st);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    sqlite3 *db;
    sqlite3_open(a, &db);
    sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    sqlite3_stmt *q;
    double blob = 0, freep = 0;
    sqlite3_prepare_v2(db,
                       "SELECT (SELECT sum(length(data)) FROM metric_chunks), "
                       "(SELECT freelist_count FROM pragma_freelist_count) * "
                       "(SELECT page_size FROM pragma_page_size)",
                       -1, &q, NULL);
    if (sqlite3_step(q) == SQLITE_ROW) {
        blob = sqlite3_column_double(q, 0) / (double)n;
        freep = sqlite3_column_double(q, 1) / (double)n;
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    double sbytes = (double)(file_bytes(a) - empty) / (double)n;
    double bbytes = (double)file_bytes(b) / (double)n;
    printf("T1 ingest: store %.0f points/CPU-s (%.0f/s wall), bare rows %.0f points/CPU-s "
           "(%.0f/s wall): ratio %.2fx (budget >= 1x)%s\n",
           n / sc, n / sw, n / bc, n / bw, (n / sc) / (n / bc), failed ? " BATCHES FAILED" : "");
    printf("T2 read %d buckets over %lld points: store %.1f ms, SQLite GROUP BY %.1f ms: "
           "ratio %.1fx faster (budget >= 50x); max of bucket maxima %.2f\n",
           BUCKETS, (long long)n, sr * 1e3, br * 1e3, br / sr, spike);
    printf("T3 size: store %.2f bytes/point on disk (encoded points %.2f, free pages %.2f), "
           "plain rows %.2f bytes/point (budget <= 4)\n",
           sbytes, blob, freep, bbytes);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 && failed == 0 ? 0 : 1;
}
