/* SPDX-License-Identifier: MIT */
/*
 * The trust root (src/git/trust.c, issue #73): a worktree made by git is
 * trusted as its files say only while they name the repository agentd
 * registered; every way an agent can rewrite them is refused with a reason.
 */
#include "git_fixture.h"

#include "core/core.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(trusts_what_git_wrote, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(refuses_a_rewritten_dot_git, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(refuses_a_commondir_elsewhere, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(refuses_links_and_borrowed_objects, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(a_node_mirror_is_bare, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
