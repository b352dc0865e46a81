/* SPDX-License-Identifier: MIT */
/*
 * Review and merge on real repositories made by the git CLI: which refs a
 * user may name, the review against a base, committing, and merges and
 * rebases that change nothing (no ref, no file) when they conflict.
 */
#include "git_fixture.h"

static char *head_of(const char *dir, const char *ref, char *out, size_t outsz)
{
    char cmd[PATH_MAX + 100];
    snprintf(cmd, sizeof(cmd), "git -C %s rev-parse %s", dir, ref);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(out, (int)outsz, p));
    pclose(p);
    out[strcspn(out, "\n")] = '\0';
    return out;
}

static void refs_are_names_never_options_or_syntax(void **state)
{
    AD_UNUSED(state);
    char why[200];
    const char *good[] = {"main", "origin/main", "feature/x", "v1.2", "0123abcd"};
    for (size_t i = 0; i < AD_ARRAY_LEN(good); i++) {
        assert_true(ad_git_ref_valid(good[i], why, sizeof(why)));
    }
    const char *bad[] = {"",
                         "-x",
                         "--output=/tmp/x",
                         "--upload-pack=touch x",
                         "a..b",
                         "main~1",
                         "main^",
                         "HEAD@{1}",
                         "a b",
                         "a:b",
                         "HEAD",
                         "@"};
    for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
        why[0] = '\0';
        assert_false(ad_git_ref_valid(bad[i], why, sizeof(why)));
        assert_true(why[0] != '\0');
    }
    assert_false(ad_git_ref_valid(NULL, why, sizeof(why)));
}

static void review_counts_commits_and_uncommitted_work(void **state)
{
    fx_t *fx = *state;
    ad_git_err_t e;
    ad_git_err_init(&e);
    json_t *out = NULL;
    SH("cd %s && git checkout -qb feat && echo b > b.txt && git add b.txt && "
       "git commit -qm 'add b' && echo more >> a.txt",
       fx->repo);
    assert_int_equal(ad_git_review(fx->repo, "main", NULL, &out, &e), 0);
    assert_int_equal(jint(out, "ahead"), 1);
    assert_int_equal(jint(out, "behind"), 0);
    assert_int_equal(jint(out, "uncommitted"), 1);
    assert_int_equal(json_array_size(json_object_get(out, "files")), 2);
    assert_string_equal(jstr(json_array_get(json_object_get(out, "commits"), 0), "summary"),
                        "add b");
    json_decref(out);
    assert_int_equal(ad_git_review(fx->repo, "main", "b.txt", &out, &e), 0);
    assert_non_null(strstr(jstr(out, "patch"), "+b"));
    json_decref(out);
    assert_int_equal(ad_git_review(fx->repo, "nope", NULL, &out, &e), AD_ENOENT);
    assert_string_equal(e.reason, "unknown_ref");
    assert_int_equal(ad_git_review(fx->repo, "main~1", NULL, &out, &e), AD_EINVAL);
    ad_git_err_cleanup(&e);
}

static void commit_stages_everything_or_refuses_nothing(void **state)
{
    fx_t *fx = *state;
    ad_git_err_t e;
    ad_git_err_init(&e);
    json_t *out = NULL;
    assert_int_equal(ad_git_commit(fx->repo, "empty", true, &out, &e), AD_ESTATE);
    assert_string_equal(e.reason, "nothing_to_commit");
    SH("cd %s && echo n > new.txt && rm a.txt", fx->repo);
    assert_int_equal(ad_git_commit(fx->repo, "only staged", false, &out, &e), AD_ESTATE);
    assert_int_equal(ad_git_commit(fx->repo, "all of it", true, &out, &e), 0);
    json_t *files = json_object_get(out, "files");
    assert_true(jhas(files, "new.txt") && jhas(files, "a.txt"));
    json_decref(out);
    assert_int_equal(fx_sh("cd %s && test -z \"$(git status --porcelain)\"", fx->repo), 0);
    ad_git_err_cleanup(&e);
}

/* files.c: a project's files written and committed alone; a symlink on
 * the way, a .git segment or a dirty path refused before anything is
 * written. */
static void commit_files_writes_exactly_those(void **state)
{
    fx_t *fx = *state;
    ad_git_err_t e;
    ad_git_err_init(&e);
    json_t *out = NULL;
    SH("cd %s && echo staged > s.txt && git add s.txt && echo changed > a.txt && "
       "ln -s %s out && git add out && git commit -qm link out",
       fx->repo, fx->root);
    json_t *files = json_pack("[{s:s, s:s}, {s:s, s:s}]", "path", "index.html", "content",
                              "<p>hi</p>", "path", "js/app.js", "content", "go();");
    assert_int_equal(ad_git_commit_files(fx->repo, "site", files, "Add the site", &out, &e), 0);
    json_t *paths = json_object_get(out, "files");
    assert_true(jhas(paths, "site/index.html") && jhas(paths, "site/js/app.js"));
    assert_string_equal(jstr(out, "branch"), "main");
    json_decref(out);
    assert_int_equal(
        fx_sh("cd %s && test \"$(git show --name-only --format= HEAD | tr '\\n' ' ')\" "
              "= 'site/index.html site/js/app.js '",
              fx->repo),
        0);
    assert_int_equal(fx_sh("cd %s && test \"$(git status --porcelain | tr '\\n' ' ')\" = "
                           "' M a.txt A  s.txt '",
                           fx->repo),
                     0);
    /* the same again: nothing to commit */
    assert_int_equal(ad_git_commit_files(fx->repo, "site", files, "again", &out, &e), AD_ESTATE);
    assert_string_equal(e.reason, "nothing_to_commit");
    /* through the committed symlink, under .git, or with ..: refused */
    assert_int_equal(ad_git_commit_files(fx->repo, "out", files, "x", &out, &e), AD_EINVAL);
    assert_string_equal(e.reason, "unsafe_path");
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/index.html", fx->root);
    assert_false(exists(p));
    assert_int_equal(ad_git_commit_files(fx->repo, ".git/hooks", files, "x", &out, &e), AD_EINVAL);
    assert_int_equal(ad_git_commit_files(fx->repo, "a/../..", files, "x", &out, &e), AD_EINVAL);
    /* a changed path: 409 before anything is written */
    SH("cd %s && echo mine > site/index.html", fx->repo);
    ad_git_err_cleanup(&e);
    ad_git_err_init(&e);
    assert_int_equal(ad_git_commit_files(fx->repo, "site", files, "x", &out, &e), AD_ESTATE);
    assert_string_equal(e.reason, "dirty");
    assert_true(jhas(json_object_get(e.details, "changedFiles"), "site/index.html"));
    assert_int_equal(fx_sh("grep -qx mine %s/site/index.html", fx->repo), 0);
    json_decref(files);
    ad_git_err_cleanup(&e);
}

static void a_conflicting_merge_changes_nothing(void **state)
{
    fx_t *fx = *state;
    ad_git_err_t e;
    ad_git_err_init(&e);
    json_t *out = NULL;
    char wt[PATH_MAX], before_main[64], before_feat[64], now[64];
    snprintf(wt, sizeof(wt), "%s/feat", fx->root);
    SH("cd %s && git worktree add -q -b feat %s && cd %s && echo theirs > a.txt && "
       "git commit -qam theirs && cd %s && echo ours > a.txt && git commit -qam ours",
       fx->repo, wt, wt, fx->repo);
    head_of(fx->repo, "main", before_main, sizeof(before_main));
    head_of(fx->repo, "feat", before_feat, sizeof(before_feat));
    const char *strategies[] = {"merge", "squash", "rebase"};
    for (size_t i = 0; i < AD_ARRAY_LEN(strategies); i++) {
        ad_git_merge_opts_t o = {.wt_path = wt, .into = "main", .strategy = strategies[i]};
        assert_int_equal(ad_git_merge(&o, &out, &e), AD_ESTATE);
        assert_string_equal(e.reason, "conflicts");
        assert_true(jhas(json_object_get(e.details, "conflicts"), "a.txt"));
    }
    assert_int_equal(ad_git_rebase(wt, "main", &out, &e), AD_ESTATE);
    assert_string_equal(e.reason, "conflicts");
    assert_string_equal(head_of(fx->repo, "main", now, sizeof(now)), before_main);
    assert_string_equal(head_of(fx->repo, "feat", now, sizeof(now)), before_feat);
    assert_int_equal(
        fx_sh("cd %s && test -z \"$(git status --porcelain)\" && grep -q ours a.txt", fx->repo), 0);
    ad_git_err_cleanup(&e);
}

static void merge_moves_the_checked_out_base_and_its_files(void **state)
{
    fx_t *fx = *state;
    ad_git_err_t e;
    ad_git_err_init(&e);
    json_t *out = NULL;
    char wt[PATH_MAX];
    snprintf(wt, sizeof(wt), "%s/feat", fx->root);
    SH("cd %s && git worktree add -q -b feat %s && cd %s && echo c > c.txt && git add c.txt && "
       "git commit -qm 'add c'",
       fx->repo, wt, wt);
    ad_git_merge_opts_t o = {.wt_path = wt, .into = "main", .strategy = "octopus"};
    assert_int_equal(ad_git_merge(&o, &out, &e), AD_EINVAL);
    o.strategy = "merge";
    o.into = "feat";
    assert_int_equal(ad_git_merge(&o, &out, &e), AD_EINVAL); /* into itself */
    o.into = "main";
    SH("cd %s && echo dirty > a.txt", fx->repo);
    assert_int_equal(ad_git_merge(&o, &out, &e), AD_ESTATE);
    assert_string_equal(e.reason, "target_dirty");
    SH("cd %s && git checkout -q -- a.txt && echo mine > c.txt", fx->repo);
    char before[64], now[64];
    head_of(fx->repo, "main", before, sizeof(before));
    assert_int_equal(ad_git_merge(&o, &out, &e), AD_ESTATE); /* untracked c.txt in the way */
    assert_string_equal(e.reason, "target_conflict");
    assert_string_equal(head_of(fx->repo, "main", now, sizeof(now)), before);
    assert_int_equal(fx_sh("grep -q mine %s/c.txt", fx->repo), 0);
    SH("rm %s/c.txt", fx->repo);
    assert_int_equal(ad_git_merge(&o, &out, &e), 0);
    assert_true(jbool(out, "merged"));
    assert_string_equal(jstr(out, "targetWorktree"), fx->repo);
    json_decref(out);
    char c_txt[PATH_MAX + 8];
    snprintf(c_txt, sizeof(c_txt), "%s/c.txt", fx->repo);
    assert_true(exists(c_txt));
    assert_int_equal(fx_sh("cd %s && test -z \"$(git status --porcelain)\" && "
                           "test \"$(git log -1 --format=%%P | wc -w)\" = 2",
                           fx->repo),
                     0);
    ad_git_err_cleanup(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(refs_are_names_never_options_or_syntax),
        cmocka_unit_test_setup_teardown(review_counts_commits_and_uncommitted_work, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(commit_stages_everything_or_refuses_nothing, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(commit_files_writes_exactly_those, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(a_conflicting_merge_changes_nothing, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(merge_moves_the_checked_out_base_and_its_files, fx_setup,
                                        fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
