/* SPDX-License-Identifier: MIT */
/*
 * The trust root (src/git/trust.c, issue #73): a worktree made by git is
 * trusted as its files say only while they name the repository agentd
 * registered; every way an agent can rewrite them is refused with a reason.
 */
#include "git_fixture.h"

#include "core/core.h"
#include "git/git_int.h"

#include <dirent.h>

/* fx->repo with a linked worktree <root>/wt on branch w. */
static void linked(fx_t *fx, char *wt, size_t wtsz)
{
    SH("cd %s && git worktree add -q -b w %s/wt", fx->repo, fx->root);
    snprintf(wt, wtsz, "%s/wt", fx->root);
}

static int check(fx_t *fx, const char *wt, ad_git_trust_t *t, char *why, size_t whysz)
{
    return ad_git_trust_check(fx->repo, false, wt, t, why, whysz);
}

static void trusts_what_git_wrote(void **state)
{
    fx_t *fx = *state;
    ad_git_trust_t t;
    char wt[PATH_MAX], why[600], want[PATH_MAX + 32];
    assert_int_equal(check(fx, fx->repo, &t, why, sizeof(why)), 0); /* the main worktree */
    snprintf(want, sizeof(want), "%s/.git", fx->repo);
    assert_string_equal(t.common, want);
    assert_string_equal(t.gitdir, want);
    linked(fx, wt, sizeof(wt));
    assert_int_equal(check(fx, wt, &t, why, sizeof(why)), 0);
    snprintf(want, sizeof(want), "%s/.git/worktrees/wt", fx->repo);
    assert_string_equal(t.gitdir, want);
    assert_string_equal(t.work_tree, wt);
    /* a relative gitdir (git's worktree.useRelativePaths) is the same place */
    SH("printf 'gitdir: ../repo/.git/worktrees/wt\\r\\n' > %s/.git", wt);
    assert_int_equal(check(fx, wt, &t, why, sizeof(why)), 0);
    /* a folder that is gone is AD_ENOENT: the operation says so itself */
    assert_int_equal(check(fx, "/nonexistent/agentd-wt", &t, why, sizeof(why)), AD_ENOENT);
}

static void refuses_a_rewritten_dot_git(void **state)
{
    fx_t *fx = *state;
    ad_git_trust_t t;
    char wt[PATH_MAX], why[600];
    linked(fx, wt, sizeof(wt));
    SH("mkdir %s/victim && printf 'gitdir: %s/victim\\n' > %s/.git", fx->root, fx->root, wt);
    assert_int_equal(check(fx, wt, &t, why, sizeof(why)), AD_EPERM);
    assert_non_null(strstr(why, "not a worktree folder"));
    /* two lines, a symlink, a folder: none is the file git wrote */
    SH("printf 'gitdir: %s/repo/.git/worktrees/wt\\nmore\\n' > %s/.git", fx->root, wt);
    assert_int_equal(check(fx, wt, &t, why, sizeof(why)), AD_EPERM);
    SH("rm %s/.git && ln -s %s/repo/.git %s/.git", wt, fx->root, wt);
    assert_int_equal(check(fx, wt, &t, why, sizeof(why)), AD_EPERM);
    SH("rm %s/.git && mkdir %s/.git", wt, wt);
    assert_int_equal(check(fx, wt, &t, why, sizeof(why)), AD_EPERM);
    /* a folder below worktrees/ that is a link out */
    SH("rmdir %s/.git && ln -s %s/victim %s/repo/.git/worktrees/evil && "
       "printf 'gitdir: %s/repo/.git/worktrees/evil\\n' > %s/.git",
       wt, fx->root, fx->root, fx->root, wt);
    assert_int_equal(check(fx, wt, &t, why, sizeof(why)), AD_EPERM);
}

static void refuses_a_commondir_elsewhere(void **state)
{
    fx_t *fx = *state;
    ad_git_trust_t t;
    char wt[PATH_MAX], why[600];
    linked(fx, wt, sizeof(wt));
    SH("git init -q %s/other && printf '%s/other/.git\\n' > %s/repo/.git/worktrees/wt/commondir",
       fx->root, fx->root, fx->root);
    assert_int_equal(check(fx, wt, &t, why, sizeof(why)), AD_EPERM);
    assert_non_null(strstr(why, "commondir"));
    SH("printf '../..\\n' > %s/repo/.git/worktrees/wt/commondir", fx->root);
    assert_int_equal(check(fx, wt, &t, why, sizeof(why)), 0);
    /* the main worktree's own git folder gets a commondir */
    SH("printf '%s/other/.git\\n' > %s/repo/.git/commondir", fx->root, fx->root);
    assert_int_equal(check(fx, wt, &t, why, sizeof(why)), AD_EPERM);
    assert_int_equal(check(fx, fx->repo, &t, why, sizeof(why)), AD_EPERM);
}

static void refuses_links_and_borrowed_objects(void **state)
{
    fx_t *fx = *state;
    ad_git_trust_t t;
    char wt[PATH_MAX], why[600];
    linked(fx, wt, sizeof(wt));
    SH("git init -q %s/other && mkdir -p %s/repo/.git/refs/heads/deep && "
       "ln -s %s/other/.git/HEAD %s/repo/.git/refs/heads/deep/x",
       fx->root, fx->root, fx->root, fx->root);
    assert_int_equal(check(fx, wt, &t, why, sizeof(why)), AD_EPERM);
    assert_non_null(strstr(why, "symbolic link"));
    SH("rm %s/repo/.git/refs/heads/deep/x && mv %s/repo/.git/index %s/idx && "
       "ln -s %s/idx %s/repo/.git/index",
       fx->root, fx->root, fx->root, fx->root, fx->root);
    assert_int_equal(check(fx, fx->repo, &t, why, sizeof(why)), AD_EPERM);
    SH("rm %s/repo/.git/index && mv %s/idx %s/repo/.git/index", fx->root, fx->root, fx->root);
    assert_int_equal(check(fx, fx->repo, &t, why, sizeof(why)), 0);
    SH("printf '%s/other/.git/objects\\n' > %s/repo/.git/objects/info/alternates", fx->root,
       fx->root);
    assert_int_equal(check(fx, wt, &t, why, sizeof(why)), AD_EPERM);
    assert_non_null(strstr(why, "alternates"));
}

static void a_node_mirror_is_bare(void **state)
{
    fx_t *fx = *state;
    ad_git_trust_t t;
    char mirror[PATH_MAX], wt[PATH_MAX], why[600];
    snprintf(mirror, sizeof(mirror), "%s/mirror.git", fx->root);
    snprintf(wt, sizeof(wt), "%s/nodewt", fx->root);
    SH("git clone -q --bare %s %s && git -C %s worktree add -q %s main", fx->repo, mirror, mirror,
       wt);
    assert_int_equal(ad_git_trust_check(mirror, true, wt, &t, why, sizeof(why)), 0);
    assert_string_equal(t.common, mirror);
    /* the repository itself is no worktree of a mirror */
    assert_int_equal(ad_git_trust_check(mirror, true, fx->repo, &t, why, sizeof(why)), AD_EPERM);
}

/* git run inert gets an empty HOME made for it under TMPDIR, removed after
 * every call: 400 calls leave the folder empty (a name mkdtemp happened to
 * end with an X was once left behind, one call in 62). */
static void an_inert_git_leaves_no_home_behind(void **state)
{
    fx_t *fx = *state;
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s/tmp", fx->root);
    assert_int_equal(mkdir(tmp, 0700), 0);
    char *was = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
    setenv("TMPDIR", tmp, 1);
    ad_buf_t out;
    ad_buf_init(&out, 4096);
    bool truncated = false, timed_out = false;
    int st = 0;
    ad_git_err_t e = {0};
    const char *const where[] = {"-c", "alias.h=!echo \"$HOME\"", "h", NULL};
    assert_int_equal(
        ad_gitx_inert(NULL, fx->repo, false, where, 30000, &out, &truncated, &st, &timed_out, &e),
        0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char want[PATH_MAX + 16];
    snprintf(want, sizeof(want), "%s/agentd-git-", tmp);
    assert_true(out.len > strlen(want) && memcmp(out.data, want, strlen(want)) == 0);
    const char *const version[] = {"--version", NULL};
    for (int i = 0; i < 400; i++) {
        ad_buf_reset(&out);
        assert_int_equal(ad_gitx_inert(NULL, fx->repo, false, version, 30000, &out, &truncated, &st,
                                       &timed_out, &e),
                         0);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    DIR *d = opendir(tmp);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            fail_msg("left in TMPDIR: %s", de->d_name);
        }
    }
    closedir(d);
    ad_buf_cleanup(&out);
    if (was != NULL) {
        setenv("TMPDIR", was, 1);
        free(was);
    } else {
        unsetenv("TMPDIR");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(trusts_what_git_wrote, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(refuses_a_rewritten_dot_git, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(refuses_a_commondir_elsewhere, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(refuses_links_and_borrowed_objects, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(a_node_mirror_is_bare, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(an_inert_git_leaves_no_home_behind, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
