/* SPDX-License-Identifier: MIT */
/* Allocation failures in the store writer. agentd's allocator aborts on
 * out-of-memory (core.h), so "clean" here means: a child process whose Nth
 * allocation fails dies by abort() with the out-of-memory message, never by
 * a crash elsewhere, and the database it leaves is intact with every write
 * whole or absent. N runs from 1 until the writes complete without reaching
 * the failing allocation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "tables/crews.h"
#include "tables/settings.h"
#include "tables/workspaces.h"
#include "store/store_int.h"
#include "alloc_fixture.h"

#define WRITES 3
#define MAX_N 2000

typedef struct {
    int left;
    int failed;
} wait_t;

static void on_write(int rc, json_t *result, void *ud)
{
    wait_t *w = ud;
    json_decref(result);
    w->left--;
    if (rc != 0) {
        w->failed++;
    }
}

static void on_crew(int rc, void *ud)
{
    on_write(rc, NULL, ud);
}

/* The child: opens the store, arms the failure, writes WRITES things (a
 * workspace with its main worktree, a crew, a message-less agent-free
 * settings patch) and exits 0 when all committed. */
static _Noreturn void child(void *ud, unsigned long n)
{
    const char *path = ud;
    uv_loop_t loop;
    uv_loop_init(&loop);
    ad_store_t *st = NULL;
    char err[512];
    ad_store_opts_t o = {.path = path};
    if (ad_store_open(&loop, &o, &st, err, sizeof(err)) != 0) {
        _exit(3);
    }
    ad_alloc_fail_after(n);
    wait_t w = {.left = WRITES};
    ad_store_write(st, ad_store_op_workspace_insert,
                   json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "id", "ws_a", "name", "a", "path",
                             "/tmp/a", "now", (json_int_t)1, "worktreeId", "wt_a", "branch",
                             "main"),
                   on_write, &w);
    ad_store_crew_t c = {.id = "crew_a", .name = "a", .now = 1};
    ad_store_crew_create(st, &c, on_crew, &w);
    ad_store_write(st, ad_store_op_settings_update,
                   json_pack("{s:{s:s}, s:I}", "patch", "theme", "light", "now", (json_int_t)1),
                   on_write, &w);
    while (w.left > 0) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    ad_alloc_fail_after(0);
    ad_store_close(st);
    uv_run(&loop, UV_RUN_DEFAULT);
    _exit(w.failed == 0 ? 0 : 4);
}

static long count(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    long v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

/* What a killed child left: an intact database, each write whole or not. */
static void check_db(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "ok");
    sqlite3_finalize(s);
    long ws = count(db, "SELECT count(*) FROM workspaces");
    long wt = count(db, "SELECT count(*) FROM worktrees");
    assert_true(ws == wt && ws <= 1); /* a workspace never without its main worktree */
    assert_true(count(db, "SELECT count(*) FROM crews") <= 1);
    sqlite3_close(db);
}

static void writer_survives_each_allocation_failing(void **state)
{
    AD_UNUSED(state);
    char dir[] = "/tmp/agentd-alloc-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[300];
    snprintf(path, sizeof(path), "%s/agentd.db", dir);
    ad_log_set_level(AD_LOG_OFF);
    unsigned long n = 1;
    int aborted = 0;
    for (; n <= MAX_N; n++) {
        unlink(path);
        if (alloc_run_child(child, path, n) == 0) {
            break; /* the writes needed fewer than n allocations */
        }
        aborted++;
        check_db(path);
    }
    print_message("writes completed once allocation %lu no longer failed (%d aborts checked)\n", n,
                  aborted);
    assert_true(n <= MAX_N);
    assert_true(aborted > 0); /* the loop did reach the writer's allocations */
    check_db(path);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(writer_survives_each_allocation_failing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
