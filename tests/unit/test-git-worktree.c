/* SPDX-License-Identifier: MIT */
/* Tests for discovering, creating, setting up and removing worktrees, and
 * for the thread-pool layer, against repositories made by the git CLI. */
#include "git_fixture.h"

static json_t *find_wt(json_t *list, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(list, "worktrees"), i, v)
    {
        if (strcmp(jstr(v, "name"), name) == 0) {
            return v;
        }
    }
    return NULL;
}

static json_t *list_of(fx_t *fx)
{
    ad_git_err_t e;
    json_t *out = NULL;
    ad_git_err_init(&e);
    assert_int_equal(ad_git_worktree_list(fx->repo, &out, &e), 0);
    ad_git_err_cleanup(&e);
    return out;
}

static void lists_worktrees_made_by_the_git_cli(void **state)
{
    fx_t *fx = *state;
    char p[PATH_MAX + 64];
    SH("cd %s && git worktree add -q -b feat ../feat && git worktree add -q --detach ../det && "
       "git worktree add -q -b locked ../lk && git worktree lock --reason 'on usb' ../lk",
       fx->repo);
    json_t *list = list_of(fx);
    json_t *arr = json_object_get(list, "worktrees");
    assert_int_equal(json_array_size(arr), 4);

    json_t *m = json_array_get(arr, 0);
    assert_true(jbool(m, "isMain"));
    assert_string_equal(jstr(m, "path"), fx->repo);
    assert_string_equal(jstr(m, "branch"), "main");
    assert_int_equal(strlen(jstr(m, "head")), 40);

    json_t *f = find_wt(list, "feat");
    assert_non_null(f);
    snprintf(p, sizeof(p), "%s/feat", fx->root);
    assert_string_equal(jstr(f, "path"), p);
    assert_string_equal(jstr(f, "branch"), "feat");
    assert_false(jbool(f, "isMain"));
    assert_false(jbool(f, "detached"));
    assert_false(jbool(f, "locked"));
    assert_false(jbool(f, "prunable"));
    assert_false(jbool(f, "missing"));
    assert_string_equal(jstr(f, "head"), jstr(m, "head"));

    json_t *d = find_wt(list, "det");
    assert_true(jbool(d, "detached"));
    assert_null(jstr(d, "branch"));
    assert_string_equal(jstr(d, "head"), jstr(m, "head"));

    json_t *l = find_wt(list, "lk");
    assert_true(jbool(l, "locked"));
    assert_string_equal(jstr(l, "lockReason"), "on usb");
    json_decref(list);
}

static void a_worktree_deleted_behind_gits_back_is_prunable(void **state)
{
    fx_t *fx = *state;
    SH("cd %s && git worktree add -q -b gone ../gone && rm -rf ../gone", fx->repo);
    json_t *list = list_of(fx);
    json_t *g = find_wt(list, "gone");
    assert_non_null(g);
    assert_true(jbool(g, "missing"));
    assert_true(jbool(g, "prunable"));
    assert_string_equal(jstr(g, "branch"), "gone");
    char p[PATH_MAX + 64];
    snprintf(p, sizeof(p), "%s/gone", fx->root);
    json_decref(list);

    /* Removing it just prunes git's record; the branch stays. */
    ad_git_err_t e;
    json_t *out = NULL;
    ad_git_err_init(&e);
    assert_int_equal(ad_git_worktree_remove(fx->repo, p, false, &out, &e), 0);
    assert_false(jbool(out, "removed"));
    assert_true(jbool(out, "pruned"));
    json_decref(out);
    list = list_of(fx);
    assert_null(find_wt(list, "gone"));
    json_decref(list);
    assert_int_equal(
        fx_sh("cd %s && git rev-parse -q --verify refs/heads/gone >/dev/null", fx->repo), 0);
    /* Once gone everywhere, removing again is not an error. */
    assert_int_equal(ad_git_worktree_remove(fx->repo, p, false, &out, &e), 0);
    assert_false(jbool(out, "pruned"));
    json_decref(out);
    ad_git_err_cleanup(&e);
}

static void adds_worktrees_on_new_and_existing_branches(void **state)
{
    fx_t *fx = *state;
    ad_git_err_t e;
    json_t *out = NULL;
    char path[PATH_MAX];
    char p[PATH_MAX + 64];
    ad_git_err_init(&e);
    SH("cd %s && echo two > b.txt && git add b.txt && git commit -qm second && "
       "git branch old HEAD~1",
       fx->repo);

    assert_int_equal(ad_git_worktree_default_path(fx->repo, NULL, "w1", path, sizeof(path)), 0);
    ad_git_add_opts_t o = {.repo_path = fx->repo,
                           .name = "w1",
                           .path = path,
                           .branch = "agent/w1",
                           .create_branch = true};
    assert_int_equal(ad_git_worktree_add(&o, &out, &e), 0);
    assert_string_equal(jstr(out, "name"), "w1");
    assert_string_equal(jstr(out, "path"), path);
    assert_string_equal(jstr(out, "branch"), "agent/w1");
    assert_true(jbool(out, "branchCreated"));
    json_decref(out);
    /* Files are checked out and git itself sees a clean worktree. */
    snprintf(p, sizeof(p), "%s/b.txt", path);
    assert_true(exists(p));
    SH("cd %s && test -z \"$(git status --porcelain)\" && "
       "test \"$(git rev-parse --abbrev-ref HEAD)\" = agent/w1",
       path);
    snprintf(p, sizeof(p), "%s/repo.worktrees/w1", fx->root);
    assert_string_equal(path, p);

    /* From a base. */
    snprintf(path, sizeof(path), "%s/elsewhere/w2", fx->root);
    ad_git_add_opts_t o2 = {.repo_path = fx->repo,
                            .name = "w2",
                            .path = path,
                            .branch = "from-base",
                            .create_branch = true,
                            .base = "HEAD~1"};
    assert_int_equal(ad_git_worktree_add(&o2, &out, &e), 0);
    json_decref(out);
    snprintf(p, sizeof(p), "%s/b.txt", path);
    assert_false(exists(p));
    SH("cd %s && test \"$(git rev-parse HEAD)\" = \"$(git -C %s rev-parse HEAD~1)\"", path,
       fx->repo);

    /* An existing branch. */
    snprintf(path, sizeof(path), "%s/w3", fx->root);
    ad_git_add_opts_t o3 = {.repo_path = fx->repo, .name = "w3", .path = path, .branch = "old"};
    assert_int_equal(ad_git_worktree_add(&o3, &out, &e), 0);
    assert_false(jbool(out, "branchCreated"));
    assert_string_equal(jstr(out, "branch"), "old");
    json_decref(out);

    json_t *list = list_of(fx);
    assert_int_equal(json_array_size(json_object_get(list, "worktrees")), 4);
    json_decref(list);
    SH("cd %s && test $(git worktree list | wc -l) -eq 4", fx->repo);
    ad_git_err_cleanup(&e);
}

static void add_refuses_bad_requests(void **state)
{
    fx_t *fx = *state;
    ad_git_err_t e;
    json_t *out = NULL;
    char path[PATH_MAX];
    ad_git_err_init(&e);
    snprintf(path, sizeof(path), "%s/x", fx->root);

    ad_git_add_opts_t o = {
        .repo_path = fx->repo, .name = "../x", .path = path, .branch = "b", .create_branch = true};
    assert_int_equal(ad_git_worktree_add(&o, &out, &e), AD_EINVAL);
    assert_string_equal(e.reason, "invalid_name");
    o.name = "a/b";
    assert_int_equal(ad_git_worktree_add(&o, &out, &e), AD_EINVAL);
    o.name = "x";
    o.branch = "bad..branch";
    assert_int_equal(ad_git_worktree_add(&o, &out, &e), AD_EINVAL);
    assert_string_equal(e.reason, "invalid_branch");
    o.branch = "main";
    assert_int_equal(ad_git_worktree_add(&o, &out, &e), AD_EEXIST);
    assert_string_equal(e.reason, "branch_exists");
    o.create_branch = false;
    assert_int_equal(ad_git_worktree_add(&o, &out, &e), AD_ESTATE);
    assert_string_equal(e.reason, "branch_checked_out");
    o.branch = "nosuch";
    assert_int_equal(ad_git_worktree_add(&o, &out, &e), AD_ENOENT);
    assert_string_equal(e.reason, "unknown_branch");
    o.branch = "nb";
    o.create_branch = true;
    o.base = "no-such-rev";
    assert_int_equal(ad_git_worktree_add(&o, &out, &e), AD_EINVAL);
    assert_string_equal(e.reason, "unknown_base");
    /* No branch was left behind by the refusals. */
    assert_int_not_equal(fx_sh("cd %s && git rev-parse -q --verify refs/heads/nb", fx->repo), 0);
    o.base = NULL;
    o.path = "relative/x";
    assert_int_equal(ad_git_worktree_add(&o, &out, &e), AD_EINVAL);
    o.path = fx->repo;
    assert_int_equal(ad_git_worktree_add(&o, &out, &e), AD_EEXIST);
    assert_string_equal(e.reason, "path_exists");
    /* A second worktree with a taken name. */
    o.path = path;
    assert_int_equal(ad_git_worktree_add(&o, &out, &e), 0);
    json_decref(out);
    snprintf(path, sizeof(path), "%s/y", fx->root);
    o.path = path;
    o.branch = "nb2";
    assert_int_equal(ad_git_worktree_add(&o, &out, &e), AD_EEXIST);
    assert_string_equal(e.reason, "worktree_exists");
    assert_int_not_equal(fx_sh("cd %s && git rev-parse -q --verify refs/heads/nb2", fx->repo), 0);
    assert_null(out);
    /* Not a repository. */
    o.repo_path = fx->root;
    o.name = "z";
    assert_int_equal(ad_git_worktree_add(&o, &out, &e), AD_EINVAL);
    assert_string_equal(e.reason, "not_a_repository");
    ad_git_err_cleanup(&e);
}

static void add_makes_a_local_branch_from_origin(void **state)
{
    fx_t *fx = *state;
    ad_git_err_t e;
    json_t *out = NULL;
    char path[PATH_MAX];
    ad_git_err_init(&e);
    SH("cd %s && git clone -q repo clone && cd repo && git branch remote-only", fx->root);
    char clone[PATH_MAX];
    snprintf(clone, sizeof(clone), "%s/clone", fx->root);
    snprintf(path, sizeof(path), "%s/ro", fx->root);
    ad_git_add_opts_t o = {.repo_path = clone, .name = "ro", .path = path, .branch = "main"};
    /* main is checked out in the clone itself. */
    assert_int_equal(ad_git_worktree_add(&o, &out, &e), AD_ESTATE);
    SH("cd %s && git fetch -q origin", clone);
    o.branch = "remote-only";
    assert_int_equal(ad_git_worktree_add(&o, &out, &e), 0);
    assert_true(jbool(out, "branchCreated"));
    json_decref(out);
    SH("cd %s && test \"$(git rev-parse --abbrev-ref remote-only@{upstream})\" = "
       "origin/remote-only",
       clone);
    ad_git_err_cleanup(&e);
}

static void add_wt(fx_t *fx, const char *name, char *path, size_t pathsz)
{
    ad_git_err_t e;
    json_t *out = NULL;
    ad_git_err_init(&e);
    assert_int_equal(ad_git_worktree_default_path(fx->repo, NULL, name, path, pathsz), 0);
    ad_git_add_opts_t o = {
        .repo_path = fx->repo, .name = name, .path = path, .branch = name, .create_branch = true};
    assert_int_equal(ad_git_worktree_add(&o, &out, &e), 0);
    json_decref(out);
    ad_git_err_cleanup(&e);
}

static void remove_refuses_to_lose_work(void **state)
{
    fx_t *fx = *state;
    ad_git_err_t e;
    json_t *out = NULL;
    char path[PATH_MAX];
    ad_git_err_init(&e);
    add_wt(fx, "dirty", path, sizeof(path));

    /* Untracked file. */
    SH("echo new > %s/new.txt", path);
    assert_int_equal(ad_git_worktree_remove(fx->repo, path, false, &out, &e), AD_ESTATE);
    assert_string_equal(e.reason, "dirty");
    assert_true(jhas(json_object_get(e.details, "changedFiles"), "new.txt"));
    assert_non_null(strstr(e.msg, "1 changed file"));
    assert_true(exists(path));

    /* Modified tracked file too. */
    SH("echo changed >> %s/a.txt", path);
    assert_int_equal(ad_git_worktree_remove(fx->repo, path, false, &out, &e), AD_ESTATE);
    json_t *files = json_object_get(e.details, "changedFiles");
    assert_int_equal(json_array_size(files), 2);
    assert_true(jhas(files, "a.txt"));
    assert_int_equal(jint(e.details, "changedFileCount"), 2);

    /* Committed but not on main and no upstream: unpushed. */
    SH("cd %s && git add -A && git commit -qm work", path);
    assert_int_equal(ad_git_worktree_remove(fx->repo, path, false, &out, &e), AD_ESTATE);
    assert_string_equal(e.reason, "unpushed");
    assert_int_equal(jint(e.details, "unpushedCommits"), 1);
    assert_string_equal(jstr(e.details, "compareRef"), "main");
    assert_true(exists(path));

    /* Merged into main: nothing to lose any more. */
    SH("cd %s && git merge -q --ff-only dirty", fx->repo);
    assert_int_equal(ad_git_worktree_remove(fx->repo, path, false, &out, &e), 0);
    assert_true(jbool(out, "removed"));
    json_decref(out);
    assert_false(exists(path));
    SH("cd %s && test $(git worktree list | wc -l) -eq 1 && test ! -e .git/worktrees/dirty",
       fx->repo);
    ad_git_err_cleanup(&e);
}

static void remove_with_force_and_the_main_never(void **state)
{
    fx_t *fx = *state;
    ad_git_err_t e;
    json_t *out = NULL;
    char path[PATH_MAX];
    char outside[PATH_MAX];
    ad_git_err_init(&e);
    add_wt(fx, "f", path, sizeof(path));
    /* A symlink inside pointing out: the target must survive. */
    snprintf(outside, sizeof(outside), "%s/keep", fx->root);
    SH("mkdir %s && echo keep > %s/k && ln -s %s %s/link && echo x > %s/u.txt && "
       "mkdir -p %s/deep/er && echo y > %s/deep/er/z",
       outside, outside, outside, path, path, path, path);
    assert_int_equal(ad_git_worktree_remove(fx->repo, path, true, &out, &e), 0);
    json_decref(out);
    assert_false(exists(path));
    assert_true(exists(outside));
    char k[PATH_MAX + 8];
    snprintf(k, sizeof(k), "%s/k", outside);
    assert_true(exists(k));

    assert_int_equal(ad_git_worktree_remove(fx->repo, fx->repo, true, &out, &e), AD_EPERM);
    assert_string_equal(e.reason, "main_worktree");
    char slash[PATH_MAX + 2];
    snprintf(slash, sizeof(slash), "%s/", fx->repo);
    assert_int_equal(ad_git_worktree_remove(fx->repo, slash, true, &out, &e), AD_EPERM);
    assert_true(exists(fx->repo));

    /* A folder that is no worktree of this repository is left alone. */
    assert_int_equal(ad_git_worktree_remove(fx->repo, outside, true, &out, &e), AD_ESTATE);
    assert_string_equal(e.reason, "not_a_worktree");
    assert_true(exists(k));

    /* Locked: refused without force. */
    add_wt(fx, "lk", path, sizeof(path));
    SH("cd %s && git worktree lock %s", fx->repo, path);
    assert_int_equal(ad_git_worktree_remove(fx->repo, path, false, &out, &e), AD_ESTATE);
    assert_string_equal(e.reason, "locked");
    assert_int_equal(ad_git_worktree_remove(fx->repo, path, true, &out, &e), 0);
    json_decref(out);
    assert_false(exists(path));
    SH("cd %s && test $(git worktree list | wc -l) -eq 1", fx->repo);
    ad_git_err_cleanup(&e);
}

static void setup_copies_files_and_runs_the_command(void **state)
{
    fx_t *fx = *state;
    ad_git_err_t e;
    json_t *out = NULL;
    char path[PATH_MAX];
    char p[PATH_MAX + 64];
    ad_git_err_init(&e);
    add_wt(fx, "s", path, sizeof(path));
    SH("cd %s && echo SECRET=1 > .env && mkdir -p config && echo c > config/local.json", fx->repo);
    json_t *files = json_pack("[s, s, s]", ".env", "config/local.json", "absent.txt");
    assert_int_equal(ad_git_worktree_setup(fx->repo, path, files,
                                           "echo setting up; cat .env; echo oops >&2; exit 3",
                                           10000, &out, &e),
                     0);
    assert_true(jhas(json_object_get(out, "copied"), ".env"));
    assert_true(jhas(json_object_get(out, "copied"), "config/local.json"));
    assert_true(jhas(json_object_get(out, "missing"), "absent.txt"));
    assert_int_equal(jint(out, "exitCode"), 3);
    assert_false(jbool(out, "timedOut"));
    const char *text = jstr(out, "output");
    assert_non_null(strstr(text, "setting up"));
    assert_non_null(strstr(text, "SECRET=1"));
    assert_non_null(strstr(text, "oops"));
    json_decref(out);
    snprintf(p, sizeof(p), "%s/config/local.json", path);
    assert_true(exists(p));
    json_decref(files);

    /* Traversal in the file list is refused before anything runs. */
    files = json_pack("[s]", "../escape");
    assert_int_equal(ad_git_worktree_setup(fx->repo, path, files, "touch ran", 10000, &out, &e),
                     AD_EINVAL);
    snprintf(p, sizeof(p), "%s/ran", path);
    assert_false(exists(p));
    json_decref(files);
    files = json_pack("[s]", "/etc/passwd");
    assert_int_equal(ad_git_worktree_setup(fx->repo, path, files, NULL, 10000, &out, &e),
                     AD_EINVAL);
    json_decref(files);

    /* Big output is capped (a command that ends by itself: what it wrote
     * does not race its time limit on a loaded machine). */
    assert_int_equal(ad_git_worktree_setup(fx->repo, path, NULL,
                                           "head -c 200000 /dev/zero | tr '\\0' x", 600000, &out,
                                           &e),
                     0);
    assert_false(jbool(out, "timedOut"));
    assert_true(jbool(out, "outputTruncated"));
    assert_int_equal(strlen(jstr(out, "output")), 64 * 1024);
    assert_int_equal(jint(out, "exitCode"), 0);
    json_decref(out);
    /* Reads that do not fall on the bound still fill it: a short first
     * line, then the flood (the last read past the room used to be
     * dropped whole, leaving 64 KiB less the odd first read's tail). */
    assert_int_equal(ad_git_worktree_setup(fx->repo, path, NULL,
                                           "echo short; sleep 0.2; "
                                           "head -c 200000 /dev/zero | tr '\\0' y",
                                           600000, &out, &e),
                     0);
    assert_true(jbool(out, "outputTruncated"));
    assert_int_equal(json_string_length(json_object_get(out, "output")), 64 * 1024);
    json_decref(out);
    /* A command that outlives its time is killed. */
    assert_int_equal(
        ad_git_worktree_setup(fx->repo, path, NULL, "echo started; sleep 30", 300, &out, &e), 0);
    assert_true(jbool(out, "timedOut"));
    assert_true(json_is_null(json_object_get(out, "exitCode")));
    json_decref(out);
    ad_git_err_cleanup(&e);
}

/* ---- the thread-pool layer ---- */

typedef struct {
    int calls;
    int rc;
    char reason[48];
    json_t *data;
} done_t;

static void on_done(const ad_git_result_t *res, void *ud)
{
    done_t *d = ud;
    d->calls++;
    d->rc = res->rc;
    snprintf(d->reason, sizeof(d->reason), "%s", res->err.reason);
    d->data = json_incref(res->data);
}

static void queue_runs_on_the_pool_and_answers_on_the_loop(void **state)
{
    fx_t *fx = *state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    done_t a = {0}, b = {0}, c = {0};
    char path[PATH_MAX];
    assert_int_equal(ad_git_worktree_default_path(fx->repo, NULL, "q", path, sizeof(path)), 0);
    ad_git_args_t args = {.path = fx->repo};
    assert_int_equal(ad_git_queue(&loop, AD_GIT_OP_OPEN, &args, on_done, &a), 0);
    ad_git_args_t add = {
        .repo_path = fx->repo, .name = "q", .path = path, .branch = "q", .create_branch = true};
    assert_int_equal(ad_git_queue(&loop, AD_GIT_OP_ADD, &add, on_done, &b), 0);
    ad_git_args_t bad = {.path = "/definitely/not/here"};
    assert_int_equal(ad_git_queue(&loop, AD_GIT_OP_STATUS, &bad, on_done, &c), 0);
    assert_int_equal(ad_git_queue(&loop, (ad_git_op_t)99, &bad, on_done, &c), AD_EINVAL);
    assert_int_equal(a.calls + b.calls + c.calls, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.rc, 0);
    assert_string_equal(jstr(a.data, "path"), fx->repo);
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.rc, 0);
    assert_string_equal(jstr(b.data, "branch"), "q");
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.rc, AD_ENOENT);
    assert_string_equal(c.reason, "not_found");
    assert_null(c.data);
    json_decref(a.data);
    json_decref(b.data);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void setups_run_one_at_a_time(void **state)
{
    fx_t *fx = *state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    done_t d[3] = {{0}};
    /* Overlapping runs would find the lock folder taken and exit 9. */
    ad_git_args_t a = {.repo_path = fx->repo,
                       .path = fx->repo,
                       .command = "mkdir .setup-lock || exit 9; sleep 0.2; rmdir .setup-lock",
                       .timeout_ms = 20000};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ad_git_queue(&loop, AD_GIT_OP_SETUP, &a, on_done, &d[i]), 0);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(d[i].calls, 1);
        assert_int_equal(d[i].rc, 0);
        assert_int_equal(jint(d[i].data, "exitCode"), 0);
        json_decref(d[i].data);
    }
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(lists_worktrees_made_by_the_git_cli, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(a_worktree_deleted_behind_gits_back_is_prunable, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(adds_worktrees_on_new_and_existing_branches, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(add_refuses_bad_requests, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(add_makes_a_local_branch_from_origin, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(remove_refuses_to_lose_work, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(remove_with_force_and_the_main_never, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(setup_copies_files_and_runs_the_command, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(queue_runs_on_the_pool_and_answers_on_the_loop, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(setups_run_one_at_a_time, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
