/* SPDX-License-Identifier: MIT */
/* Tests for status (with ahead/behind), branches, checkout and diff against
 * repositories made by the git CLI. */
#include "git_fixture.h"

static json_t *status_of(const char *path)
{
    ad_git_err_t e;
    json_t *out = NULL;
    ad_git_err_init(&e);
    assert_int_equal(ad_git_status(path, &out, &e), 0);
    ad_git_err_cleanup(&e);
    return out;
}

static json_t *file_entry(json_t *files, const char *path)
{
    size_t i;
    json_t *v;
    json_array_foreach(files, i, v)
    {
        if (strcmp(jstr(v, "path"), path) == 0) {
            return v;
        }
    }
    return NULL;
}

static void status_counts_each_kind_of_change(void **state)
{
    fx_t *fx = *state;
    json_t *s = status_of(fx->repo);
    assert_true(jbool(s, "isClean"));
    assert_int_equal(jint(s, "modified"), 0);
    assert_string_equal(jstr(s, "branch"), "main");
    assert_string_equal(jstr(s, "compareKind"), "none");
    json_decref(s);

    SH("cd %s && echo b > b.txt && echo c > c.txt && git add b.txt c.txt && git commit -qm bc && "
       "echo more >> a.txt && echo staged > s.txt && git add s.txt && git rm -q c.txt && "
       "mkdir -p dir/sub && echo u > dir/sub/u.txt && echo ignored > x.log && "
       "echo '*.log' > .git/info/exclude && echo both >> b.txt && git add b.txt && "
       "echo again >> b.txt",
       fx->repo);
    s = status_of(fx->repo);
    assert_false(jbool(s, "isClean"));
    /* a.txt (worktree), b.txt (both) */
    assert_int_equal(jint(s, "modified"), 2);
    /* s.txt added, c.txt deleted, b.txt modified */
    assert_int_equal(jint(s, "staged"), 3);
    assert_int_equal(jint(s, "untracked"), 1);
    assert_int_equal(jint(s, "conflicted"), 0);
    json_t *files = json_object_get(s, "files");
    assert_int_equal(json_array_size(files), 5);
    json_t *u = file_entry(files, "dir/sub/u.txt");
    assert_non_null(u);
    assert_string_equal(jstr(u, "workdir"), "untracked");
    json_t *b = file_entry(files, "b.txt");
    assert_string_equal(jstr(b, "index"), "modified");
    assert_string_equal(jstr(b, "workdir"), "modified");
    assert_string_equal(jstr(file_entry(files, "c.txt"), "index"), "deleted");
    assert_null(file_entry(files, "x.log"));
    assert_false(jbool(s, "filesTruncated"));
    json_decref(s);
}

static void status_counts_conflicts(void **state)
{
    fx_t *fx = *state;
    SH("cd %s && git checkout -q -b other && echo theirs > a.txt && git commit -qam theirs && "
       "git checkout -q main && echo ours > a.txt && git commit -qam ours && "
       "(git merge -q other >/dev/null 2>&1; true)",
       fx->repo);
    json_t *s = status_of(fx->repo);
    assert_int_equal(jint(s, "conflicted"), 1);
    assert_string_equal(jstr(file_entry(json_object_get(s, "files"), "a.txt"), "index"),
                        "conflicted");
    json_decref(s);
}

static void ahead_and_behind_count_against_the_upstream(void **state)
{
    fx_t *fx = *state;
    char clone[PATH_MAX];
    snprintf(clone, sizeof(clone), "%s/clone", fx->root);
    SH("cd %s && git clone -q repo clone && cd clone && git config user.name T && "
       "git config user.email t@e && echo 1 > x && git add x && git commit -qm x1 && "
       "echo 2 >> x && git commit -qam x2 && cd ../repo && echo r > r.txt && git add r.txt && "
       "git commit -qm r && cd ../clone && git fetch -q",
       fx->root);
    json_t *s = status_of(clone);
    assert_int_equal(jint(s, "ahead"), 2);
    assert_int_equal(jint(s, "behind"), 1);
    assert_string_equal(jstr(s, "compareKind"), "upstream");
    assert_string_equal(jstr(s, "compareRef"), "origin/main");
    assert_true(jbool(s, "isClean"));
    json_decref(s);
}

static void a_linked_worktree_without_upstream_counts_against_main(void **state)
{
    fx_t *fx = *state;
    char wt[PATH_MAX];
    snprintf(wt, sizeof(wt), "%s/w", fx->root);
    SH("cd %s && git worktree add -q -b w ../w && cd ../w && echo 1 > w.txt && git add w.txt && "
       "git commit -qm w1 && cd ../repo && echo m > m.txt && git add m.txt && git commit -qm m1 "
       "&& echo m >> m.txt && git commit -qam m2",
       fx->repo);
    json_t *s = status_of(wt);
    assert_int_equal(jint(s, "ahead"), 1);
    assert_int_equal(jint(s, "behind"), 2);
    assert_string_equal(jstr(s, "compareKind"), "main");
    assert_string_equal(jstr(s, "compareRef"), "main");
    assert_string_equal(jstr(s, "branch"), "w");
    json_decref(s);
}

static void branches_lists_local_remote_and_current(void **state)
{
    fx_t *fx = *state;
    char clone[PATH_MAX];
    ad_git_err_t e;
    json_t *out = NULL;
    ad_git_err_init(&e);
    snprintf(clone, sizeof(clone), "%s/clone", fx->root);
    SH("cd %s && git branch feature/x && git clone -q . ../clone && cd ../clone && "
       "git branch local-only",
       fx->repo);
    assert_int_equal(ad_git_branches(clone, &out, &e), 0);
    assert_string_equal(jstr(out, "current"), "main");
    json_t *local = json_object_get(out, "local");
    assert_int_equal(json_array_size(local), 2);
    assert_true(jhas(local, "main"));
    assert_true(jhas(local, "local-only"));
    json_t *remote = json_object_get(out, "remote");
    assert_true(jhas(remote, "origin/main"));
    assert_true(jhas(remote, "origin/feature/x"));
    assert_false(jhas(remote, "origin/HEAD"));
    json_decref(out);

    SH("cd %s && git checkout -q --detach", clone);
    assert_int_equal(ad_git_branches(clone, &out, &e), 0);
    assert_true(json_is_null(json_object_get(out, "current")));
    json_decref(out);
    ad_git_err_cleanup(&e);
}

static void checkout_switches_and_refuses_dirty_trees(void **state)
{
    fx_t *fx = *state;
    ad_git_err_t e;
    json_t *out = NULL;
    ad_git_err_init(&e);
    SH("cd %s && git checkout -q -b dev && echo dev > dev.txt && git add dev.txt && "
       "git commit -qm dev && git checkout -q main",
       fx->repo);

    assert_int_equal(ad_git_checkout(fx->repo, "dev", false, &out, &e), 0);
    assert_string_equal(jstr(out, "branch"), "dev");
    assert_false(jbool(out, "created"));
    json_decref(out);
    SH("cd %s && test \"$(git rev-parse --abbrev-ref HEAD)\" = dev && test -f dev.txt && "
       "test -z \"$(git status --porcelain)\"",
       fx->repo);

    /* Dirty: refused with the files, nothing changed. */
    SH("cd %s && echo local >> a.txt", fx->repo);
    assert_int_equal(ad_git_checkout(fx->repo, "main", false, &out, &e), AD_ESTATE);
    assert_string_equal(e.reason, "dirty");
    assert_true(jhas(json_object_get(e.details, "changedFiles"), "a.txt"));
    SH("cd %s && test \"$(git rev-parse --abbrev-ref HEAD)\" = dev && grep -q local a.txt",
       fx->repo);
    SH("cd %s && git checkout -q -- a.txt", fx->repo);

    /* Untracked files do not block and survive. */
    SH("cd %s && echo keep > untracked.txt", fx->repo);
    assert_int_equal(ad_git_checkout(fx->repo, "main", false, &out, &e), 0);
    json_decref(out);
    SH("cd %s && test -f untracked.txt && test ! -f dev.txt", fx->repo);

    /* Create. */
    assert_int_equal(ad_git_checkout(fx->repo, "new/one", true, &out, &e), 0);
    assert_true(jbool(out, "created"));
    json_decref(out);
    SH("cd %s && test \"$(git rev-parse --abbrev-ref HEAD)\" = new/one", fx->repo);
    assert_int_equal(ad_git_checkout(fx->repo, "dev", true, &out, &e), AD_EEXIST);
    assert_int_equal(ad_git_checkout(fx->repo, "nope", false, &out, &e), AD_ENOENT);
    assert_string_equal(e.reason, "unknown_branch");
    assert_int_equal(ad_git_checkout(fx->repo, "bad..name", false, &out, &e), AD_EINVAL);
    assert_string_equal(e.reason, "invalid_branch");

    /* A branch checked out in another worktree. */
    SH("cd %s && git worktree add -q ../wdev dev", fx->repo);
    assert_int_equal(ad_git_checkout(fx->repo, "dev", false, &out, &e), AD_ESTATE);
    assert_string_equal(e.reason, "branch_checked_out");

    /* Untracked file in the way of a tracked one: refused, file kept. */
    SH("cd %s && git checkout -q main && git branch -q -D dev 2>/dev/null; "
       "git worktree remove --force ../wdev && git checkout -q -b t2 && echo t > t.txt && "
       "git add t.txt && git commit -qm t && git checkout -q main && echo mine > t.txt",
       fx->repo);
    assert_int_equal(ad_git_checkout(fx->repo, "t2", false, &out, &e), AD_ESTATE);
    assert_string_equal(e.reason, "conflict");
    SH("cd %s && grep -q mine t.txt && test \"$(git rev-parse --abbrev-ref HEAD)\" = main",
       fx->repo);
    ad_git_err_cleanup(&e);
}

static json_t *diff_entry(json_t *d, const char *path)
{
    return file_entry(json_object_get(d, "files"), path);
}

static void diff_lists_files_and_gives_one_patch(void **state)
{
    fx_t *fx = *state;
    ad_git_err_t e;
    json_t *out = NULL;
    ad_git_err_init(&e);
    SH("cd %s && printf 'l1\\nl2\\nl3\\n' > m.txt && echo gone > g.txt && git add . && "
       "git commit -qm base && printf 'l1\\nL2\\nl3\\nl4\\n' > m.txt && git rm -q g.txt && "
       "printf 'n1\\nn2\\nn3\\n' > new.txt && echo st > staged.txt && git add staged.txt && "
       "printf '\\000\\001\\002' > bin.dat",
       fx->repo);
    assert_int_equal(ad_git_diff(fx->repo, NULL, &out, &e), 0);
    json_t *m = diff_entry(out, "m.txt");
    assert_non_null(m);
    assert_string_equal(jstr(m, "status"), "modified");
    assert_int_equal(jint(m, "insertions"), 2);
    assert_int_equal(jint(m, "deletions"), 1);
    json_t *g = diff_entry(out, "g.txt");
    assert_string_equal(jstr(g, "status"), "deleted");
    assert_int_equal(jint(g, "deletions"), 1);
    json_t *n = diff_entry(out, "new.txt");
    assert_string_equal(jstr(n, "status"), "added");
    assert_int_equal(jint(n, "insertions"), 3);
    assert_non_null(diff_entry(out, "staged.txt"));
    assert_true(jbool(diff_entry(out, "bin.dat"), "binary"));
    assert_int_equal(json_array_size(json_object_get(out, "files")), 5);
    assert_int_equal(jint(out, "insertions"), 2 + 3 + 1);
    assert_int_equal(jint(out, "deletions"), 1 + 1);
    json_decref(out);

    assert_int_equal(ad_git_diff(fx->repo, "m.txt", &out, &e), 0);
    const char *patch = jstr(out, "patch");
    assert_non_null(strstr(patch, "--- a/m.txt"));
    assert_non_null(strstr(patch, "-l2\n+L2\n"));
    assert_non_null(strstr(patch, "+l4\n"));
    assert_false(jbool(out, "truncated"));
    json_decref(out);

    assert_int_equal(ad_git_diff(fx->repo, "new.txt", &out, &e), 0);
    assert_non_null(strstr(jstr(out, "patch"), "+n2\n"));
    json_decref(out);

    assert_int_equal(ad_git_diff(fx->repo, "a.txt", &out, &e), AD_ENOENT);
    assert_string_equal(e.reason, "no_changes");
    assert_int_equal(ad_git_diff(fx->repo, "../etc/passwd", &out, &e), AD_EINVAL);
    assert_int_equal(ad_git_diff(fx->repo, "/etc/passwd", &out, &e), AD_EINVAL);
    /* Pathspec magic is not interpreted: "*" is a file name. */
    assert_int_equal(ad_git_diff(fx->repo, "*", &out, &e), AD_ENOENT);
    assert_null(out);
    ad_git_err_cleanup(&e);
}

static void diff_of_an_unborn_repository_shows_everything_added(void **state)
{
    fx_t *fx = *state;
    ad_git_err_t e;
    json_t *out = NULL;
    char p[PATH_MAX];
    ad_git_err_init(&e);
    SH("cd %s && git init -q -b main empty && echo x > empty/f.txt", fx->root);
    snprintf(p, sizeof(p), "%s/empty", fx->root);
    assert_int_equal(ad_git_diff(p, NULL, &out, &e), 0);
    assert_string_equal(jstr(diff_entry(out, "f.txt"), "status"), "added");
    json_decref(out);
    json_t *s = status_of(p);
    assert_int_equal(jint(s, "untracked"), 1);
    assert_string_equal(jstr(s, "branch"), "main");
    assert_int_equal(jint(s, "ahead"), 0);
    json_decref(s);
    ad_git_err_cleanup(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(status_counts_each_kind_of_change, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(status_counts_conflicts, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(ahead_and_behind_count_against_the_upstream, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(a_linked_worktree_without_upstream_counts_against_main,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(branches_lists_local_remote_and_current, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(checkout_switches_and_refuses_dirty_trees, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(diff_lists_files_and_gives_one_patch, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(diff_of_an_unborn_repository_shows_everything_added,
                                        fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
