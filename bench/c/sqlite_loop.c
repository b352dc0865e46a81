/* SPDX-License-Identifier: MIT */
/*
 * The bare-SQLite ceiling for scenario H3: a tight loop of prepared writes
 * on a database file, with the pragmas src/store uses (WAL, synchronous
 * NORMAL or FULL, foreign keys, temp_store=MEMORY) and a fixed number of
 * writes per transaction. Prints one JSON line: writes, seconds, writes/s,
 * own CPU-s, commit p50/p99.
 * Bounded by --seconds and --max-ops; it never loops on its own.
 */
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define MAX_STMTS 4
#define MAX_LAT 2000000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int exec_or_die(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "sqlite_loop: %s: %s\n", sql, msg ? msg : "?");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* Parameters are looked up once, at prepare; 0 means "not used". */
static const char *const PARAMS[6] = {":n", ":ts", ":id", ":body", ":i", ":ms"};

static void bind_text(sqlite3_stmt *st, int i, const char *val)
{
    if (i > 0) {
        sqlite3_bind_text(st, i, val, -1, SQLITE_STATIC);
    }
}

static void bind_int(sqlite3_stmt *st, int i, long long val)
{
    if (i > 0) {
        sqlite3_bind_int64(st, i, val);
    }
}

static void usage(void)
{
    fputs("usage: sqlite_loop --db FILE --sync normal|full --batch N --seconds S\n"
          "                   [--max-ops N] [--id ID] [--setup SQL] --stmt SQL [--stmt SQL]...\n"
          "Statements may use :n (counter text), :i (counter), :ts (RFC 3339 time),\n"
          ":ms (Unix ms), :id, :body (200 B JSON).\n",
          stderr);
}

int main(int argc, char **argv)
{
    const char *path = NULL, *sync = "normal", *id = "ag_bench", *setup = NULL;
    const char *sqls[MAX_STMTS];
    int nsql = 0;
    long batch = 1, max_ops = 10000000;
    double seconds = 2.0;
    int rc = 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            usage();
            return 2;
        }
        if (strcmp(a, "--db") == 0) {
            path = v;
        } else if (strcmp(a, "--sync") == 0) {
            sync = v;
        } else if (strcmp(a, "--batch") == 0) {
            batch = strtol(v, NULL, 10);
        } else if (strcmp(a, "--seconds") == 0) {
            seconds = strtod(v, NULL);
        } else if (strcmp(a, "--max-ops") == 0) {
            max_ops = strtol(v, NULL, 10);
        } else if (strcmp(a, "--id") == 0) {
            id = v;
        } else if (strcmp(a, "--setup") == 0) {
            setup = v;
        } else if (strcmp(a, "--stmt") == 0 && nsql < MAX_STMTS) {
            sqls[nsql++] = v;
        } else {
            usage();
            return 2;
        }
        i++;
    }
    if (path == NULL || nsql == 0 || batch < 1 || batch > 100000 || seconds <= 0 || seconds > 600 ||
        (strcmp(sync, "normal") != 0 && strcmp(sync, "full") != 0)) {
        usage();
        return 2;
    }

    sqlite3 *db = NULL;
    sqlite3_stmt *st[MAX_STMTS] = {0};
    double *lat = calloc(MAX_LAT, sizeof(double));
    /* As src/store opens its writer: no per-connection mutex, no memory
     * statistics (the global malloc mutex), so the ceiling is the real one. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    if (lat == NULL ||
        sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        fprintf(stderr, "sqlite_loop: cannot open %s\n", path);
        goto out;
    }
    char pragma[128];
    snprintf(pragma, sizeof(pragma), "PRAGMA synchronous=%s", sync);
    if (exec_or_die(db, "PRAGMA journal_mode=WAL") != 0 || exec_or_die(db, pragma) != 0 ||
        exec_or_die(db, "PRAGMA foreign_keys=ON") != 0 ||
        exec_or_die(db, "PRAGMA temp_store=MEMORY") != 0 ||
        exec_or_die(db, "PRAGMA busy_timeout=5000") != 0) {
        goto out;
    }
    if (setup != NULL && exec_or_die(db, setup) != 0) {
        goto out;
    }
    for (int i = 0; i < nsql; i++) {
        if (sqlite3_prepare_v2(db, sqls[i], -1, &st[i], NULL) != SQLITE_OK) {
            fprintf(stderr, "sqlite_loop: %s: %s\n", sqls[i], sqlite3_errmsg(db));
            goto out;
        }
    }

    /* Only what some statement binds is made per write, so the loop's
     * own overhead stays out of the ceiling. */
    bool want_ts = false, want_n = false;
    int idx[MAX_STMTS][6];
    for (int i = 0; i < nsql; i++) {
        for (int k = 0; k < 6; k++) {
            idx[i][k] = sqlite3_bind_parameter_index(st[i], PARAMS[k]);
        }
        want_ts = want_ts || sqlite3_bind_parameter_index(st[i], ":ts") > 0;
        want_n = want_n || sqlite3_bind_parameter_index(st[i], ":n") > 0;
    }
    char body[256], nbuf[32] = "", ts[96] = "";
    memset(body, 'x', sizeof(body));
    memcpy(body, "{\"bench\":\"", 10);
    memcpy(body + 200 - 2, "\"}", 3); /* 200-byte JSON body */

    long ops = 0, commits = 0;
    double t0 = now_s(), c0 = cpu_s(), deadline = t0 + seconds;
    while (ops < max_ops && now_s() < deadline && commits < MAX_LAT) {
        double tc = now_s();
        if (exec_or_die(db, "BEGIN IMMEDIATE") != 0) {
            goto out;
        }
        for (long b = 0; b < batch && ops < max_ops; b++, ops++) {
            struct timespec rt;
            clock_gettime(CLOCK_REALTIME, &rt);
            if (want_ts) {
                struct tm tm;
                gmtime_r(&rt.tv_sec, &tm);
                snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                         (int)(rt.tv_nsec / 1000000));
            }
            if (want_n) {
                snprintf(nbuf, sizeof(nbuf), "bench-%ld", ops);
            }
            for (int i = 0; i < nsql; i++) {
                bind_text(st[i], idx[i][0], nbuf);
                bind_text(st[i], idx[i][1], ts);
                bind_text(st[i], idx[i][2], id);
                bind_text(st[i], idx[i][3], body);
                bind_int(st[i], idx[i][4], ops);
                bind_int(st[i], idx[i][5], (long long)rt.tv_sec * 1000 + rt.tv_nsec / 1000000);
                int s = sqlite3_step(st[i]);
                if (s != SQLITE_DONE && s != SQLITE_ROW) {
                    fprintf(stderr, "sqlite_loop: step: %s\n", sqlite3_errmsg(db));
                    goto out;
                }
                sqlite3_reset(st[i]);
            }
        }
        if (exec_or_die(db, "COMMIT") != 0) {
            goto out;
        }
        lat[commits++] = now_s() - tc;
    }
    double el = now_s() - t0, cpu = cpu_s() - c0;
    qsort(lat, (size_t)commits, sizeof(double), cmp_double);
    double p50 = commits ? lat[commits / 2] : 0, p99 = commits ? lat[(commits * 99) / 100] : 0;
    printf("{\"ops\":%ld,\"commits\":%ld,\"seconds\":%.4f,\"opsPerS\":%.1f,\"cpuS\":%.4f,"
           "\"opsPerCpuS\":%.1f,\"commitP50Ms\":%.4f,\"commitP99Ms\":%.4f,\"sqlite\":\"%s\"}\n",
           ops, commits, el, ops / el, cpu, cpu > 0 ? ops / cpu : 0, p50 * 1e3, p99 * 1e3,
           sqlite3_libversion());
    rc = 0;
out:
    for (int i = 0; i < nsql; i++) {
        sqlite3_finalize(st[i]);
    }
    sqlite3_close(db);
    free(lat);
    return rc;
}
