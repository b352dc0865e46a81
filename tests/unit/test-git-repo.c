/* SPDX-License-Identifier: MIT */
/* Tests for opening and validating work trees, and name/path validation. */
#include "git_fixture.h"

static void open_accepts_a_work_tree(void **state)
{
    fx_t *fx = *state;
    ad_git_err_t e;
    ad_git_err_init(&e);
    json_t *out = NULL;
    char with_slash[PATH_MAX + 2];
    snprintf(with_slash, sizeof(with_slash), "%s/", fx->repo);
    assert_int_equal(ad_git_open(with_slash, &out, &e), 0);
    assert_string_equal(jstr(out, "path"), fx->repo);
    assert_string_equal(jstr(out, "name"), "repo");
    assert_string_equal(jstr(out, "branch"), "main");
    assert_false(jbool(out, "givenWorktree"));
    json_decref(out);
    ad_git_err_cleanup(&e);
}

static void open_refuses_what_is_not_a_work_tree(void **state)
{
    fx_t *fx = *state;
    ad_git_err_t e;
    json_t *out = NULL;
    char p[PATH_MAX + 64];

    ad_git_err_init(&e);
    snprintf(p, sizeof(p), "%s/nope", fx->root);
    assert_int_equal(ad_git_open(p, &out, &e), AD_ENOENT);
    assert_null(out);
    assert_string_equal(e.reason, "not_found");
    assert_non_null(strstr(e.msg, "no such folder"));

    SH("mkdir %s/plain", fx->root);
    snprintf(p, sizeof(p), "%s/plain", fx->root);
    assert_int_equal(ad_git_open(p, &out, &e), AD_EINVAL);
    assert_string_equal(e.reason, "not_a_repository");
    assert_non_null(strstr(e.msg, "is not a git repository"));

    SH("cd %s && git init -q --bare bare.git", fx->root);
    snprintf(p, sizeof(p), "%s/bare.git", fx->root);
    assert_int_equal(ad_git_open(p, &out, &e), AD_ESTATE);
    assert_string_equal(e.reason, "bare_repository");
    assert_non_null(strstr(e.msg, "bare repository"));

    /* A sub-folder of a work tree names the top in its message. */
    SH("mkdir %s/sub", fx->repo);
    snprintf(p, sizeof(p), "%s/sub", fx->repo);
    assert_int_equal(ad_git_open(p, &out, &e), AD_EINVAL);
    assert_string_equal(e.reason, "not_a_repository");
    assert_non_null(strstr(e.msg, fx->repo));

    /* So does the .git folder. */
    snprintf(p, sizeof(p), "%s/.git", fx->repo);
    assert_int_equal(ad_git_open(p, &out, &e), AD_EINVAL);

    snprintf(p, sizeof(p), "%s/a.txt", fx->repo);
    assert_int_equal(ad_git_open(p, &out, &e), AD_EINVAL);
    assert_non_null(strstr(e.msg, "not a folder"));

    assert_int_equal(ad_git_open("relative/path", &out, &e), AD_EINVAL);
    assert_string_equal(e.reason, "invalid_path");
    assert_int_equal(ad_git_open("", &out, &e), AD_EINVAL);
    assert_null(out);
    ad_git_err_cleanup(&e);
}

static void open_resolves_a_linked_worktree_to_its_main(void **state)
{
    fx_t *fx = *state;
    ad_git_err_t e;
    json_t *out = NULL;
    char p[PATH_MAX + 64];
    ad_git_err_init(&e);
    SH("cd %s && git worktree add -q -b feature ../wt1", fx->repo);
    snprintf(p, sizeof(p), "%s/wt1", fx->root);
    assert_int_equal(ad_git_open(p, &out, &e), 0);
    assert_string_equal(jstr(out, "path"), fx->repo);
    assert_true(jbool(out, "givenWorktree"));
    json_decref(out);
    /* A symlink to the repository resolves to the real folder. */
    SH("ln -s %s %s/link", fx->repo, fx->root);
    snprintf(p, sizeof(p), "%s/link", fx->root);
    assert_int_equal(ad_git_open(p, &out, &e), 0);
    assert_string_equal(jstr(out, "path"), fx->repo);
    json_decref(out);
    ad_git_err_cleanup(&e);
}

static void open_names_an_unborn_branch(void **state)
{
    fx_t *fx = *state;
    ad_git_err_t e;
    json_t *out = NULL;
    char p[PATH_MAX + 64];
    ad_git_err_init(&e);
    SH("cd %s && git init -q -b trunk empty", fx->root);
    snprintf(p, sizeof(p), "%s/empty", fx->root);
    assert_int_equal(ad_git_open(p, &out, &e), 0);
    assert_string_equal(jstr(out, "branch"), "trunk");
    json_decref(out);
    ad_git_err_cleanup(&e);
}

static void worktree_names_cannot_escape(void **state)
{
    AD_UNUSED(state);
    char why[200];
    assert_true(ad_git_worktree_name_valid("feature-1", why, sizeof(why)));
    assert_true(ad_git_worktree_name_valid("fix_2.b", why, sizeof(why)));
    const char *bad[] = {"",     "..",     "../x", "a/b",   "/abs", ".hidden", "-rf", "a b",
                         "a..b", "x.lock", "a\\b", "tab\t", "é",    "a\nb",    "..."};
    for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
        why[0] = '\0';
        assert_false(ad_git_worktree_name_valid(bad[i], why, sizeof(why)));
        assert_true(why[0] != '\0');
    }
    char longname[102];
    memset(longname, 'a', 101);
    longname[101] = '\0';
    assert_false(ad_git_worktree_name_valid(longname, why, sizeof(why)));
    assert_false(ad_git_worktree_name_valid(NULL, why, sizeof(why)));
}

static void branch_names_follow_git_rules(void **state)
{
    AD_UNUSED(state);
    char why[200];
    const char *good[] = {"main", "feature/x", "agent/ag_1-fix", "v1.2", "a-b_c"};
    for (size_t i = 0; i < AD_ARRAY_LEN(good); i++) {
        assert_true(ad_git_branch_name_valid(good[i], why, sizeof(why)));
    }
    const char *bad[] = {"",    "a..b", "a b",  "a~b", "a^b",  "a:b",    "a?b",
                         "a*b", "a[b",  "/a",   "a/",  "a//b", "a.lock", "a@{b",
                         "@",   "-x",   "HEAD", ".a",  "a/.b", "a\\b",   "x\x7f"};
    for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
        why[0] = '\0';
        assert_false(ad_git_branch_name_valid(bad[i], why, sizeof(why)));
        assert_true(why[0] != '\0');
    }
}

static void default_paths_are_predictable(void **state)
{
    AD_UNUSED(state);
    char out[PATH_MAX];
    assert_int_equal(ad_git_worktree_default_path("/home/u/src/app", NULL, "fix", out, sizeof(out)),
                     0);
    assert_string_equal(out, "/home/u/src/app.worktrees/fix");
    assert_int_equal(ad_git_worktree_default_path("/home/u/src/app/", "", "fix", out, sizeof(out)),
                     0);
    assert_string_equal(out, "/home/u/src/app.worktrees/fix");
    assert_int_equal(
        ad_git_worktree_default_path("/home/u/src/app", "/var/wt/", "fix", out, sizeof(out)), 0);
    assert_string_equal(out, "/var/wt/app/fix");
    assert_int_equal(ad_git_worktree_default_path("/app", NULL, "x", out, sizeof(out)), 0);
    assert_string_equal(out, "/app.worktrees/x");
    assert_int_equal(ad_git_worktree_default_path("/home/u/app", NULL, "../x", out, sizeof(out)),
                     AD_EINVAL);
    assert_int_equal(ad_git_worktree_default_path("/home/u/app", "rel", "x", out, sizeof(out)),
                     AD_EINVAL);
    assert_int_equal(ad_git_worktree_default_path("app", NULL, "x", out, sizeof(out)), AD_EINVAL);
    assert_int_equal(ad_git_worktree_default_path("/", NULL, "x", out, sizeof(out)), AD_EINVAL);
    char small[10];
    assert_int_equal(ad_git_worktree_default_path("/home/u/app", NULL, "x", small, sizeof(small)),
                     AD_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(open_accepts_a_work_tree, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(open_refuses_what_is_not_a_work_tree, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(open_resolves_a_linked_worktree_to_its_main, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(open_names_an_unborn_branch, fx_setup, fx_teardown),
        cmocka_unit_test(worktree_names_cannot_escape),
        cmocka_unit_test(branch_names_follow_git_rules),
        cmocka_unit_test(default_paths_are_predictable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
