/* SPDX-License-Identifier: MIT */
/*
 * Tests for Claude Code's session files moved with a live agent
 * (src/proc/claudesess.c, issue #76): the folder the CLI keeps them in as
 * a run is arranged (the agent's own HOME, the owner's ~/.claude, the
 * agent's home in the data dir; the project named after the worktree's
 * real path, made or not), a session id that is a path refused, and a
 * file read and written with no link followed at its name or its folder.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <stdint.h>
#include <unistd.h>

#include "proc/claudesess.h"

static char root[64];

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/agentd-claudesess-XXXXXX");
    assert_non_null(mkdtemp(root));
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/data", root);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/user", root);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/wt", root);
    assert_int_equal(mkdir(p, 0700), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void session_ids_are_never_paths(void **state)
{
    (void)state;
    assert_true(ad_proc_claude_sid_ok("18a0e095-5279-4e34-b1e7-13b902b33dab"));
    const char *bad[] = {
        "",        "..",
        "../x",    "a/b",
        "a.jsonl", "a b",
        "x\n",     "0123456789012345678901234567890123456789012345678901234567890123456789"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(ad_proc_claude_sid_ok(bad[i]));
    }
    assert_false(ad_proc_claude_sid_ok(NULL));
}

static void the_folder_is_the_one_the_run_gets(void **state)
{
    (void)state;
    char data[256], user[256], wt[256], own[256], out[PATH_MAX], want[3 * PATH_MAX], name[PATH_MAX];
    snprintf(data, sizeof(data), "%s/data", root);
    snprintf(user, sizeof(user), "%s/user", root);
    snprintf(wt, sizeof(wt), "%s/wt", root);
    snprintf(own, sizeof(own), "%s/own", root);
    char real[PATH_MAX];
    assert_non_null(realpath(wt, real));
    ad_proc_claude_project_name(real, name, sizeof(name));
    size_t trusted = 0;
    ad_proc_claude_where_t w = {.data_dir = data,
                                .agent_id = "ag_1",
                                .wt = wt,
                                .user_home = user,
                                .boxed = true,
                                .owners = true};
    /* sandboxed, the owner's, the user has no ~/.claude: the agent's home */
    assert_int_equal(ad_proc_claude_projects(&w, out, sizeof(out), &trusted), 0);
    snprintf(want, sizeof(want), "%s/homes/ag_1/.claude/projects/%s", data, name);
    assert_string_equal(out, want);
    assert_int_equal(trusted, strlen(data) + strlen("/homes"));
    /* the user has one: the owner's agent's sessions are the user's */
    char cfg[PATH_MAX];
    snprintf(cfg, sizeof(cfg), "%s/.claude", user);
    assert_int_equal(mkdir(cfg, 0700), 0);
    assert_int_equal(ad_proc_claude_projects(&w, out, sizeof(out), &trusted), 0);
    snprintf(want, sizeof(want), "%s/.claude/projects/%s", user, name);
    assert_string_equal(out, want);
    /* another organisation's agent never gets the user's */
    w.owners = false;
    assert_int_equal(ad_proc_claude_projects(&w, out, sizeof(out), &trusted), 0);
    snprintf(want, sizeof(want), "%s/homes/ag_1/.claude/projects/%s", data, name);
    assert_string_equal(out, want);
    /* its own HOME (an owner's choice), and unsandboxed: the user's */
    w.owners = true;
    w.own_home = own;
    assert_int_equal(ad_proc_claude_projects(&w, out, sizeof(out), &trusted), 0);
    snprintf(want, sizeof(want), "%s/.claude/projects/%s", own, name);
    assert_string_equal(out, want);
    assert_int_equal(trusted, strlen(own));
    w.own_home = NULL;
    w.boxed = false;
    w.owners = false;
    assert_int_equal(ad_proc_claude_projects(&w, out, sizeof(out), &trusted), 0);
    snprintf(want, sizeof(want), "%s/.claude/projects/%s", user, name);
    assert_string_equal(out, want);
    /* a worktree not made yet: named after its parent's real path */
    w.wt = "/tmp/../tmp/not-made-yet";
    assert_int_equal(ad_proc_claude_projects(&w, out, sizeof(out), &trusted), 0);
    assert_non_null(strstr(out, "/projects/-tmp-not-made-yet"));
    /* an agent id or a worktree that is a path is refused */
    w.wt = wt;
    w.agent_id = "../x";
    assert_int_equal(ad_proc_claude_projects(&w, out, sizeof(out), &trusted), AD_EINVAL);
    w.agent_id = "ag_1";
    w.wt = "relative";
    assert_int_equal(ad_proc_claude_projects(&w, out, sizeof(out), &trusted), AD_EINVAL);
}

/* The same rule for Codex's and Gemini CLI's folders (a node's adoption
 * places their files there), and whether it is the user's own. */
static void each_clis_folder_follows_the_same_rule(void **state)
{
    (void)state;
    char data[256], user[256], wt[256], out[PATH_MAX], want[2 * PATH_MAX];
    snprintf(data, sizeof(data), "%s/data", root);
    snprintf(user, sizeof(user), "%s/user", root);
    snprintf(wt, sizeof(wt), "%s/wt", root);
    size_t trusted = 0;
    bool users = true;
    ad_proc_claude_where_t w = {.data_dir = data,
                                .agent_id = "ag_2",
                                .wt = wt,
                                .user_home = user,
                                .boxed = true,
                                .owners = true};
    assert_int_equal(ad_proc_cli_dir(&w, ".codex", out, sizeof(out), &trusted, &users), 0);
    snprintf(want, sizeof(want), "%s/homes/ag_2/.codex", data);
    assert_string_equal(out, want);
    assert_false(users);
    snprintf(want, sizeof(want), "%s/.codex", user);
    assert_int_equal(mkdir(want, 0700), 0);
    assert_int_equal(ad_proc_cli_dir(&w, ".codex", out, sizeof(out), &trusted, &users), 0);
    assert_string_equal(out, want);
    assert_true(users);
    assert_int_equal(trusted, strlen(want));
    w.owners = false; /* another organisation's: its own home's */
    assert_int_equal(ad_proc_cli_dir(&w, ".codex", out, sizeof(out), &trusted, &users), 0);
    assert_false(users);
    w.boxed = false; /* unsandboxed: the user's, made or not */
    assert_int_equal(ad_proc_cli_dir(&w, ".gemini", out, sizeof(out), &trusted, &users), 0);
    snprintf(want, sizeof(want), "%s/.gemini", user);
    assert_string_equal(out, want);
    assert_true(users);
    assert_int_equal(ad_proc_cli_dir(&w, "codex", out, sizeof(out), &trusted, &users), AD_EINVAL);
    assert_int_equal(ad_proc_cli_dir(&w, ".codex/../..", out, sizeof(out), &trusted, &users),
                     AD_EINVAL);
    assert_int_equal(ad_proc_cli_dir(&w, "..", out, sizeof(out), &trusted, &users), AD_EINVAL);
    /* a file name that is a path is never written */
    assert_int_equal(ad_proc_cli_file_write(data, strlen(data), "../x", "a", 1), EINVAL);
    assert_int_equal(ad_proc_cli_file_write(data, strlen(data), "..", "a", 1), EINVAL);
}

static void files_go_whole_and_follow_no_link(void **state)
{
    (void)state;
    char dir[256], other[256], link[512], p[512];
    snprintf(dir, sizeof(dir), "%s/h/.claude/projects/-x", root);
    const char *text = "{\"type\":\"user\"}\n";
    assert_int_equal(ad_proc_claude_session_write(dir, strlen(root), "s-1", text, strlen(text)), 0);
    char *got = NULL;
    size_t len = 0;
    assert_int_equal(ad_proc_claude_session_read(dir, strlen(root), "s-1", &got, &len), 0);
    assert_int_equal(len, strlen(text));
    assert_string_equal(got, text);
    free(got);
    struct stat st;
    snprintf(p, sizeof(p), "%s/s-1.jsonl", dir);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* not there; an id that is a path */
    assert_int_equal(ad_proc_claude_session_read(dir, strlen(root), "s-2", &got, &len), ENOENT);
    assert_int_equal(ad_proc_claude_session_read(dir, strlen(root), "../s-1", &got, &len), EINVAL);
    assert_int_equal(ad_proc_claude_session_write(dir, strlen(root), "../evil", "x", 1), EINVAL);
    /* a link at the file's name is neither read nor written through */
    snprintf(other, sizeof(other), "%s/outside.jsonl", root);
    FILE *f = fopen(other, "w");
    assert_non_null(f);
    fputs("secret\n", f);
    fclose(f);
    snprintf(link, sizeof(link), "%s/s-3.jsonl", dir);
    assert_int_equal(symlink(other, link), 0);
    assert_int_not_equal(ad_proc_claude_session_read(dir, strlen(root), "s-3", &got, &len), 0);
    assert_null(got);
    assert_int_not_equal(ad_proc_claude_session_write(dir, strlen(root), "s-3", "x", 1), 0);
    f = fopen(other, "r");
    char buf[32] = "";
    assert_non_null(fgets(buf, sizeof(buf), f));
    fclose(f);
    assert_string_equal(buf, "secret\n");
    /* a folder that is a link is not written into */
    char ldir[256];
    snprintf(ldir, sizeof(ldir), "%s/h/.claude/projects/-linked", root);
    assert_int_equal(symlink(root, ldir), 0);
    assert_int_not_equal(ad_proc_claude_session_write(ldir, strlen(root), "s-4", "x", 1), 0);
    snprintf(p, sizeof(p), "%s/s-4.jsonl", root);
    assert_int_not_equal(access(p, F_OK), 0);
    /* a link in the middle of the agent's part (its home's .claude made a
     * link to elsewhere) is not followed either */
    char mid[256], target[256];
    snprintf(target, sizeof(target), "%s/elsewhere", root);
    assert_int_equal(mkdir(target, 0700), 0);
    snprintf(mid, sizeof(mid), "%s/h2", root);
    assert_int_equal(mkdir(mid, 0700), 0);
    snprintf(mid, sizeof(mid), "%s/h2/.claude", root);
    assert_int_equal(symlink(target, mid), 0);
    snprintf(mid, sizeof(mid), "%s/h2/.claude/projects/-x", root);
    assert_int_not_equal(ad_proc_claude_session_write(mid, strlen(root), "s-6", "x", 1), 0);
    snprintf(p, sizeof(p), "%s/elsewhere/projects", root);
    assert_int_not_equal(access(p, F_OK), 0);
    /* past the bound */
    size_t big = AD_PROC_CLAUDE_SESSION_MAX + 1;
    char *b = calloc(1, big);
    assert_non_null(b);
    assert_int_equal(ad_proc_claude_session_write(dir, strlen(root), "s-5", b, big), EINVAL);
    free(b);
}

static void parts_go_in_order_and_in_place_at_the_end(void **state)
{
    (void)state;
    char dir[256], p[512];
    snprintf(dir, sizeof(dir), "%s/h3/.claude/projects/-y", root);
    size_t t = strlen(root);
    assert_int_equal(ad_proc_claude_session_put(dir, t, "s-7", 0, "abc", 3, false), 0);
    snprintf(p, sizeof(p), "%s/s-7.jsonl", dir);
    assert_int_not_equal(access(p, F_OK), 0); /* not there before the last part */
    /* a part out of order is refused, and the parts go */
    assert_int_equal(ad_proc_claude_session_put(dir, t, "s-7", 5, "x", 1, false), EINVAL);
    assert_int_equal(ad_proc_claude_session_put(dir, t, "s-7", 3, "def", 3, true), EINVAL);
    /* again, in order */
    assert_int_equal(ad_proc_claude_session_put(dir, t, "s-7", 0, "abc", 3, false), 0);
    assert_int_equal(ad_proc_claude_session_put(dir, t, "s-7", 3, "def", 3, true), 0);
    char *got = NULL;
    size_t len = 0;
    uint64_t size = 0;
    assert_int_equal(ad_proc_claude_session_read_at(dir, t, "s-7", 2, 3, &got, &len, &size), 0);
    assert_int_equal(size, 6);
    assert_int_equal(len, 3);
    assert_memory_equal(got, "cde", 3);
    free(got);
    assert_int_equal(ad_proc_claude_session_read_at(dir, t, "s-7", 9, 3, &got, &len, &size), 0);
    assert_int_equal(len, 0);
    free(got);
    /* no part is left beside it */
    snprintf(p, sizeof(p), "%s/.s-7.jsonl.agentd-part", dir);
    assert_int_not_equal(access(p, F_OK), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(session_ids_are_never_paths),
        cmocka_unit_test_setup_teardown(the_folder_is_the_one_the_run_gets, setup, teardown),
        cmocka_unit_test_setup_teardown(each_clis_folder_follows_the_same_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(files_go_whole_and_follow_no_link, setup, teardown),
        cmocka_unit_test_setup_teardown(parts_go_in_order_and_in_place_at_the_end, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
