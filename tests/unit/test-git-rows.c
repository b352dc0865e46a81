/* SPDX-License-Identifier: MIT */
/* Tests for the store side of git worktrees (src/tables/gitrows.c): creating
 * a workspace with git's worktrees, reconciling rows on refresh (vanished
 * worktrees with agents kept and flagged, others removed, new ones added,
 * branches followed) and the setup columns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "tables/agents.h"
#include "tables/gitrows.h"
#include "store/store_int.h"
#include "store_fixture.h"

typedef store_fx_t fixture_t;
STORE_FX_SETUP(setup, "gitrows")

/* Records a setup outcome (taken) through the typed write and waits. */
static int setup_save_sync(fixture_t *f, const char *id, int64_t now, json_t *setup,
                           json_t **result)
{
    store_wait_t w = {0};
    ad_store_worktree_setup_t in = {.now = now, .setup = setup};
    snprintf(in.id, sizeof(in.id), "%s", id);
    ad_store_worktree_setup_save(f->st, &in, store_fx_on_result, &w);
    store_fx_wait(f, &w);
    if (result != NULL) {
        *result = w.result;
    } else {
        json_decref(w.result);
    }
    return w.rc;
}

static json_t *by_path(json_t *rows, const char *path)
{
    size_t i;
    json_t *v;
    json_array_foreach(rows, i, v)
    {
        if (strcmp(json_string_value(json_object_get(v, "path")), path) == 0) {
            return v;
        }
    }
    return NULL;
}

static json_t *git_entry(const char *name, const char *path, const char *branch, bool main,
                         bool missing)
{
    return json_pack("{s:s, s:s, s:s?, s:b, s:b}", "name", name, "path", path, "branch", branch,
                     "isMain", main, "missing", missing);
}

static size_t changes_of(json_t *r, const char *kind)
{
    return json_array_size(json_object_get(json_object_get(r, "changes"), kind));
}

static void create_then_follow_git(void **state)
{
    fixture_t *f = *state;
    json_t *r = NULL;
    json_t *args = json_pack(
        "{s:s, s:s, s:s, s:I, s:s, s:s, s:[s], s:s, s:[{s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, "
        "s:s}]}",
        "id", "ws_1", "name", "repo", "path", "/r/repo", "now", (json_int_t)1000, "worktreeId",
        "wt_main", "branch", "main", "setupFiles", ".env", "setupCommand", "make", "linked", "id",
        "wt_a", "name", "a", "branch", "a", "path", "/r/a", "id", "wt_b", "name", "b", "branch",
        "b", "path", "/r/b");
    assert_int_equal(store_fx_write(f, ad_store_op_workspace_git_create, args, &r), 0);
    json_t *ws = json_object_get(r, "workspace");
    assert_string_equal(json_string_value(json_object_get(ws, "setupCommand")), "make");
    assert_string_equal(json_string_value(json_array_get(json_object_get(ws, "setupFiles"), 0)),
                        ".env");
    json_t *rows = json_object_get(r, "worktrees");
    assert_int_equal(json_array_size(rows), 3);
    assert_true(json_is_true(json_object_get(json_array_get(rows, 0), "isMain")));
    json_decref(r);

    /* wt_a gets an agent; then both a and b vanish and c appears; the
     * main worktree's branch changed. */
    args = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[s], s:I}", "id", "ag_1", "worktreeId", "wt_a",
                     "name", "agent", "mode", "regular", "executor", "command", "permissions",
                     "read", "now", (json_int_t)1000);
    assert_int_equal(store_fx_write(f, ad_store_op_agent_insert, args, NULL), 0);

    json_t *git = json_array();
    json_array_append_new(git, git_entry("repo", "/r/repo", "dev", true, false));
    json_array_append_new(git, git_entry("a", "/r/a", "a", false, true));
    json_array_append_new(git, git_entry("c", "/r/c", NULL, false, false));
    args = json_pack("{s:s, s:I, s:O}", "workspaceId", "ws_1", "now", (json_int_t)2000, "worktrees",
                     git);
    assert_int_equal(store_fx_write(f, ad_store_op_workspace_git_sync, args, &r), 0);
    rows = json_object_get(r, "worktrees");
    assert_int_equal(json_array_size(rows), 3);
    assert_string_equal(json_string_value(json_object_get(by_path(rows, "/r/repo"), "branch")),
                        "dev");
    json_t *a = by_path(rows, "/r/a");
    assert_non_null(a);
    assert_non_null(json_object_get(a, "vanishedAt"));
    assert_null(by_path(rows, "/r/b"));
    json_t *c = by_path(rows, "/r/c");
    assert_non_null(c);
    assert_string_equal(json_string_value(json_object_get(c, "branch")), "");
    assert_int_equal(changes_of(r, "added"), 1);
    assert_int_equal(changes_of(r, "updated"), 1);
    assert_int_equal(changes_of(r, "vanished"), 1);
    assert_int_equal(changes_of(r, "removed"), 1);
    assert_int_equal(changes_of(r, "flaggedAgents"), 1);
    json_decref(r);

    /* The agent is kept, and flagged. */
    assert_int_equal(store_fx_int(f, "SELECT worktree_vanished_at FROM agents WHERE id = 'ag_1'"),
                     2000);

    /* A second refresh with the same picture changes nothing. */
    args = json_pack("{s:s, s:I, s:O}", "workspaceId", "ws_1", "now", (json_int_t)3000, "worktrees",
                     git);
    assert_int_equal(store_fx_write(f, ad_store_op_workspace_git_sync, args, &r), 0);
    assert_int_equal(changes_of(r, "vanished") + changes_of(r, "added") + changes_of(r, "removed") +
                         changes_of(r, "updated"),
                     0);
    json_decref(r);

    /* The folder comes back: unflagged. */
    json_array_set_new(git, 1, git_entry("a", "/r/a", "a", false, false));
    args = json_pack("{s:s, s:I, s:o}", "workspaceId", "ws_1", "now", (json_int_t)4000, "worktrees",
                     git);
    assert_int_equal(store_fx_write(f, ad_store_op_workspace_git_sync, args, &r), 0);
    assert_int_equal(changes_of(r, "restored"), 1);
    assert_int_equal(changes_of(r, "unflaggedAgents"), 1);
    assert_null(json_object_get(by_path(json_object_get(r, "worktrees"), "/r/a"), "vanishedAt"));
    json_decref(r);
    assert_int_equal(store_fx_int(f, "SELECT count(*) FROM agents WHERE id = 'ag_1' AND "
                                     "worktree_vanished_at IS NULL"),
                     1);

    /* Unknown workspace. */
    args =
        json_pack("{s:s, s:I, s:[]}", "workspaceId", "ws_none", "now", (json_int_t)1, "worktrees");
    assert_int_equal(store_fx_write(f, ad_store_op_workspace_git_sync, args, NULL), AD_ENOENT);
}

static void setup_columns_round_trip(void **state)
{
    fixture_t *f = *state;
    json_t *r = NULL;
    json_t *args = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:[]}", "id", "ws_1", "name", "repo",
                             "path", "/r/repo", "now", (json_int_t)1000, "worktreeId", "wt_main",
                             "branch", "main", "linked");
    assert_int_equal(store_fx_write(f, ad_store_op_workspace_git_create, args, NULL), 0);
    args = json_pack("{s:s, s:I, s:[s, s]}", "id", "ws_1", "now", (json_int_t)2000, "setupFiles",
                     ".env", "cfg/local.json");
    assert_int_equal(store_fx_write(f, ad_store_op_workspace_setup_update, args, &r), 0);
    json_decref(r);
    json_t *ws = NULL;
    assert_int_equal(ad_store_git_workspace_get(f->st, "ws_1", &ws), 0);
    assert_int_equal(json_array_size(json_object_get(ws, "setupFiles")), 2);
    assert_string_equal(json_string_value(json_object_get(ws, "setupCommand")), "");
    assert_int_equal(json_array_size(json_object_get(ws, "worktrees")), 1);
    json_decref(ws);

    args = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:{s:s}}", "id", "wt_x", "workspaceId", "ws_1",
                     "name", "x", "branch", "x", "path", "/r/x", "now", (json_int_t)3000, "setup",
                     "state", "running");
    assert_int_equal(store_fx_write(f, ad_store_op_worktree_git_insert, args, &r), 0);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(r, "worktree"), "setup"), "state")),
                        "running");
    json_decref(r);
    json_t *saved = NULL;
    assert_int_equal(setup_save_sync(f, "wt_x", 4000,
                                     json_pack("{s:s, s:i}", "state", "succeeded", "exitCode", 0),
                                     &saved),
                     0);
    json_t *wt = NULL;
    assert_int_equal(ad_store_git_worktree_get(f->st, "wt_x", &wt), 0);
    assert_true(json_equal(json_object_get(saved, "worktree"), wt)); /* the row, read back */
    assert_string_equal(json_string_value(json_object_get(json_object_get(wt, "setup"), "state")),
                        "succeeded");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(wt, "setup"), "exitCode")),
                     0);
    json_decref(saved);
    json_decref(wt);
    assert_int_equal(setup_save_sync(f, "wt_gone", 1, json_object(), NULL), AD_ENOENT);
    assert_int_equal(ad_store_git_worktree_get(f->st, "wt_gone", &wt), AD_ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(create_then_follow_git, setup, store_fx_teardown),
        cmocka_unit_test_setup_teardown(setup_columns_round_trip, setup, store_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
