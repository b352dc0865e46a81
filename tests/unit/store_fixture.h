/* SPDX-License-Identifier: MIT */
/*
 * Shared by the unit tests that need a store: a temporary folder
 * /tmp/agentd-<tag>-XXXXXX, a libuv loop, and (when asked) a store open on
 * <dir>/agentd.db; writes through the writer thread, waited for with a
 * bound. store_fx_free closes what is open, runs the loop dry and removes
 * the folder. Include after cmocka.h.
 * With AGENTD_TEST_PG_URL set (tests/unit/with-pg.sh, `make unit-pg`) the
 * store keeps its tables in that PostgreSQL database instead, emptied
 * before each open (issue #39); a test about SQLite's file itself says so
 * with STORE_FX_SQLITE_ONLY() and is skipped there; store_fx_exec and
 * store_fx_int reach the database behind the store's back on either.
 */
#ifndef AD_TEST_STORE_FIXTURE_H
#define AD_TEST_STORE_FIXTURE_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/core.h"
#include "store/store.h"
#include "tables/series.h"
#include "store/store_int.h"

/* Not every test file uses every helper. */
#pragma GCC diagnostic ignored "-Wunused-function"

typedef struct {
    char dir[256];
    char path[300]; /* <dir>/agentd.db */
    uv_loop_t loop;
    ad_store_t *st; /* open unless the test opens and closes its own */
} store_fx_t;

/* The PostgreSQL database the store tests run on, or NULL: SQLite. */
static const char *store_fx_pg(void)
{
    const char *u = getenv("AGENTD_TEST_PG_URL");
    return u != NULL && *u != '\0' ? u : NULL;
}

/* Skips the calling test on PostgreSQL, saying why. */
#define STORE_FX_SQLITE_ONLY(why)                                                                  \
    do {                                                                                           \
        if (store_fx_pg() != NULL) {                                                               \
            print_message("skipped on PostgreSQL: %s\n", why);                                     \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* Skips the calling test on SQLite, saying why. */
#define STORE_FX_PG_ONLY(why)                                                                      \
    do {                                                                                           \
        if (store_fx_pg() == NULL) {                                                               \
            print_message("skipped on SQLite: %s\n", why);                                         \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* Empties the PostgreSQL test database, if there is one (the schema
 * dropped, so the next open migrates it afresh). */
static void store_fx_pg_empty(void)
{
    if (store_fx_pg() == NULL) {
        return;
    }
    /* the URL stays in the environment: no quoting of it here */
    int rc = system("psql -X -q -v ON_ERROR_STOP=1 -d \"$AGENTD_TEST_PG_URL\" -c "
                    "'SET client_min_messages = warning; DROP SCHEMA public CASCADE; "
                    "CREATE SCHEMA public' >/dev/null");
    if (rc != 0) {
        fail_msg("emptying the PostgreSQL test database failed (%d)", rc);
    }
}

/* Options to open the store at path again: its file, or the PostgreSQL
 * database with its tables as they are. */
static ad_store_opts_t store_fx_opts_keep(const char *path)
{
    return (ad_store_opts_t){.path = path, .database_url = store_fx_pg()};
}

/* Options to open f's store: its file, or the PostgreSQL database emptied. */
static ad_store_opts_t store_fx_opts(const char *path)
{
    store_fx_pg_empty();
    return store_fx_opts_keep(path);
}

/* Owned: free with store_fx_free(). */
static store_fx_t *store_fx_new(const char *tag, bool open)
{
    store_fx_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/agentd-%s-XXXXXX", tag);
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/agentd.db", f->dir);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    ad_log_set_level(AD_LOG_OFF);
    if (open) {
        char err[512] = "";
        ad_store_opts_t o = store_fx_opts(f->path);
        if (ad_store_open(&f->loop, &o, &f->st, err, sizeof(err)) != 0) {
            fail_msg("store open failed: %s", err);
        }
        ad_store_rolls_start(f->st); /* as the daemon does (main.c) */
    }
    return f;
}

static void store_fx_free(store_fx_t *f)
{
    if (f->st != NULL) {
        ad_store_close(f->st);
    }
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
}

/* cmocka group set-up and tear-down with an open store. */
#define STORE_FX_SETUP(name, tag)                                                                  \
    static int name(void **state)                                                                  \
    {                                                                                              \
        *state = store_fx_new(tag, true);                                                          \
        return 0;                                                                                  \
    }
static int store_fx_teardown(void **state)
{
    store_fx_free(*state);
    return 0;
}

/* One write's answer: done, its rc and result (owned by whoever takes it). */
typedef struct {
    bool done;
    int rc;
    json_t *result;
} store_wait_t;

static void store_fx_on_result(int rc, json_t *result, void *ud)
{
    store_wait_t *w = ud;
    w->done = true;
    w->rc = rc;
    w->result = result;
}

/* Runs the loop until w is done (bounded: about 10 s). */
static void store_fx_wait(store_fx_t *f, store_wait_t *w)
{
    for (int i = 0; i < 100000 && !w->done; i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        if (!w->done) {
            usleep(100);
        }
    }
    assert_true(w->done);
}

/* Runs op(args) through the writer and waits. Returns rc; *result owned
 * (dropped when result is NULL). */
static int store_fx_write(store_fx_t *f, ad_store_op_fn op, json_t *args, json_t **result)
{
    store_wait_t w = {0};
    ad_store_write(f->st, op, args, store_fx_on_result, &w);
    store_fx_wait(f, &w);
    if (result != NULL) {
        *result = w.result;
    } else {
        json_decref(w.result);
    }
    return w.rc;
}

/* A connection of its own to f's database, as another process would open
 * it (the SQLite file or the PostgreSQL database): the statement layer's,
 * so SQL is translated as the store's is. Close with ad_store_conn_close. */
static ad_db_t *store_fx_conn(store_fx_t *f)
{
    ad_db_t *db = NULL;
    if (store_fx_pg() != NULL) {
        char err[512] = "";
        if (ad_db_pg_open(store_fx_pg(), &db, err, sizeof(err)) != 0) {
            fail_msg("connecting to the PostgreSQL test database: %s", err);
        }
        return db;
    }
    sqlite3 *sq = NULL;
    assert_int_equal(sqlite3_open(f->path, &sq), SQLITE_OK);
    sqlite3_busy_timeout(sq, 5000);
    return ad_db_wrap_sqlite(sq);
}

/* Runs one statement (no parameters) on a connection of its own. */
static void store_fx_exec(store_fx_t *f, const char *sql)
{
    ad_db_t *db = store_fx_conn(f);
    ad_db_stmt_t *s = NULL;
    if (ad_db_prepare_v2(db, sql, -1, &s, NULL) != AD_DB_OK) {
        fail_msg("%s: %s", sql, ad_db_errmsg(db));
    }
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
    }
    if (rc != AD_DB_DONE) {
        fail_msg("%s: %s", sql, ad_db_errmsg(db));
    }
    ad_db_finalize(s);
    ad_store_conn_close(db);
}

/* The first column of sql's first row as an integer on a connection of its
 * own, or -1 when there is no row. */
static int64_t store_fx_int(store_fx_t *f, const char *sql)
{
    ad_db_t *db = store_fx_conn(f);
    ad_db_stmt_t *s = NULL;
    if (ad_db_prepare_v2(db, sql, -1, &s, NULL) != AD_DB_OK) {
        fail_msg("%s: %s", sql, ad_db_errmsg(db));
    }
    int64_t v = ad_db_step(s) == AD_DB_ROW ? ad_db_column_int64(s, 0) : -1;
    ad_db_finalize(s);
    ad_store_conn_close(db);
    return v;
}

#endif
