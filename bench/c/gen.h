/* SPDX-License-Identifier: MIT */
/*
 * What the data-dir generators share (bigdir.c, row F2; searchgen.c, row
 * S4 of bench/README.md): a fixed-seed xorshift, a monotonic clock in
 * seconds, plain SQLite statements that stop the program with its name and
 * SQLite's message on failure, and the DIR/<name>.done marker that lets a
 * finished data dir of the same sizes be reused. Header-only (each
 * generator is one file linked against libagentd.a): define GEN_NAME, the
 * program's name for its messages, before including it.
 */
#ifndef AD_BENCH_GEN_H
#define AD_BENCH_GEN_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef GEN_NAME
#error "define GEN_NAME before including gen.h"
#endif

/* The same numbers every run: sizes and skews repeat. */
static uint64_t gen_seed = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
    gen_seed ^= gen_seed << 13;
    gen_seed ^= gen_seed >> 7;
    gen_seed ^= gen_seed << 17;
    return gen_seed;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* 0, or -1 after printing sql and SQLite's message. */
static int exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, GEN_NAME ": %s: %s\n", sql, msg != NULL ? msg : "?");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* sql prepared, or the program ends. */
static sqlite3_stmt *prep(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        fprintf(stderr, GEN_NAME ": %s: %s\n", sql, sqlite3_errmsg(db));
        exit(1);
    }
    return s;
}

/* One insert run and s reset for the next, or the program ends. */
static void step(sqlite3 *db, sqlite3_stmt *s)
{
    if (sqlite3_step(s) != SQLITE_DONE) {
        fprintf(stderr, GEN_NAME ": insert: %s\n", sqlite3_errmsg(db));
        exit(1);
    }
    sqlite3_reset(s);
}

/* Whether the marker at done_path says a finished data dir of sig. */
static bool done_same(const char *done_path, const char *sig)
{
    FILE *f = fopen(done_path, "r");
    if (f == NULL) {
        return false;
    }
    char have[256] = "";
    bool same = fgets(have, sizeof(have), f) != NULL && strncmp(have, sig, strlen(sig)) == 0;
    fclose(f);
    return same;
}

/* The marker of a finished data dir of sig. */
static void done_write(const char *done_path, const char *sig)
{
    FILE *f = fopen(done_path, "w");
    if (f != NULL) {
        fprintf(f, "%s\n", sig);
        fclose(f);
    }
}

#endif
