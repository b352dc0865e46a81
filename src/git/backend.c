/* SPDX-License-Identifier: MIT */
/*
 * git: the entry of agentd-git.so, the part of src/git that calls libgit2
 * (front.c loads it on the first git use). One table: the operation a
 * queued job runs (on a pool thread, async.c) and the branch-name check.
 * ad_git_backend() is the library's only exported symbol; everything else
 * in it is hidden, and what it uses of agentd (core, the front's helpers)
 * comes from the executable, which exports it.
 */
#include "git/git_int.h"

/* The review and merge operations (kept apart so exec() stays short). */
static int review_op(ad_git_op_t op, const ad_git_args_t *j, json_t **out, ad_git_err_t *e)
{
    switch (op) {
    case AD_GIT_OP_REMOVE_CHECK:
    case AD_GIT_OP_REMOVE: {
        ad_git_remove_opts_t o = {.repo_path = j->repo_path,
                                  .wt_path = j->path,
                                  .force = j->force,
                                  .base = j->base,
                                  .merged = j->merged};
        return ad_git_worktree_remove_opts(&o, op == AD_GIT_OP_REMOVE_CHECK, out, e);
    }
    case AD_GIT_OP_REVIEW:
        return ad_git_review_merged(j->path, j->base, j->file, j->merged, out, e);
    case AD_GIT_OP_COMMITS:
        return ad_git_commits(j->path, j->base, out, e);
    case AD_GIT_OP_COMMIT:
        return ad_git_commit(j->path, j->message, j->force, out, e);
    case AD_GIT_OP_MERGE: {
        ad_git_merge_opts_t o = {
            .wt_path = j->path, .into = j->branch, .strategy = j->name, .message = j->message};
        return ad_git_merge(&o, out, e);
    }
    case AD_GIT_OP_REBASE:
        return ad_git_rebase(j->path, j->base, out, e);
    case AD_GIT_OP_PUSH:
        return ad_git_push(j->trust, j->path, j->name, out, e);
    case AD_GIT_OP_COMMIT_FILES:
        return ad_git_commit_files(j->path, j->file, j->files, j->message, out, e);
    case AD_GIT_OP_HEAD:
        return ad_git_head(j->path, out, e);
    case AD_GIT_OP_BUNDLE:
    case AD_GIT_OP_BUNDLE_FETCH:
    case AD_GIT_OP_NODE_WORKTREE:
        return ad_git_bundle_op(op, j, out, e);
    default:
        return ad_gitx_fail(e, AD_EINVAL, "", "unknown git operation");
    }
}

static int run_op(ad_git_op_t op, const ad_git_args_t *j, json_t **out, ad_git_err_t *e)
{
    switch (op) {
    case AD_GIT_OP_OPEN:
        return ad_git_open(j->path, out, e);
    case AD_GIT_OP_LIST:
        return ad_git_worktree_list(j->repo_path, out, e);
    case AD_GIT_OP_ADD: {
        ad_git_add_opts_t o = {.repo_path = j->repo_path,
                               .name = j->name,
                               .path = j->path,
                               .branch = j->branch,
                               .create_branch = j->create_branch,
                               .base = j->base};
        return ad_git_worktree_add(&o, out, e);
    }
    case AD_GIT_OP_SETUP:
        return ad_git_worktree_setup(j->repo_path, j->path, j->files, j->command, j->timeout_ms,
                                     out, e);
    case AD_GIT_OP_STATUS:
        return ad_git_status(j->path, out, e);
    case AD_GIT_OP_BRANCHES:
        return ad_git_branches(j->path, out, e);
    case AD_GIT_OP_CHECKOUT:
        return ad_git_checkout(j->path, j->branch, j->create_branch, out, e);
    case AD_GIT_OP_DIFF:
        return ad_git_diff(j->path, j->file, out, e);
    default:
        return review_op(op, j, out, e);
    }
}

static int exec(ad_git_op_t op, const ad_git_args_t *j, json_t **out, ad_git_err_t *e)
{
    /* Set up already by the loop thread (front.c); a no-op then. */
    if (ad_git_global_init() != 0) {
        return ad_gitx_fail(e, AD_EINTERNAL, "", "libgit2 failed to initialise");
    }
    ad_gitx_mem_begin();
    int rc = run_op(op, j, out, e);
    size_t bound;
    if (ad_gitx_mem_end(&bound) && rc != 0) {
        /* what libgit2 made of it ("out of memory") says less than this */
        ad_gitx_drop(e, out);
        rc = ad_gitx_fail(e, AD_ESTATE, "git_memory",
                          "git needed more than %zu MiB for this worktree: a file of its git "
                          "folder (its index, an object) is larger than git can read here",
                          bound >> 20);
    }
    return rc;
}

__attribute__((visibility("default"))) const ad_git_backend_t *ad_git_backend(void)
{
    static const ad_git_backend_t table = {
        .init = ad_git_global_init, .exec = exec, .branch_name_valid = ad_gitx_branch_name_valid};
    return &table;
}
