/* SPDX-License-Identifier: MIT */
/*
 * git: what changed in a worktree since HEAD, for review. Per-file
 * insertions and deletions (staged, unstaged and untracked files alike), or
 * one file's patch text, both capped.
 */
#include "git/git_int.h"

#include <string.h>

#define DIFF_FILES_MAX 5000
#define PATCH_MAX (1024 * 1024)

static const char *delta_word(git_delta_t s)
{
    switch (s) {
    case GIT_DELTA_ADDED:
    case GIT_DELTA_UNTRACKED:
        return "added";
    case GIT_DELTA_DELETED:
        return "deleted";
    case GIT_DELTA_RENAMED:
        return "renamed";
    case GIT_DELTA_COPIED:
        return "copied";
    case GIT_DELTA_TYPECHANGE:
        return "typechange";
    case GIT_DELTA_CONFLICTED:
        return "conflicted";
    default:
        return "modified";
    }
}

int ad_gitx_diff_workdir(git_repository *repo, git_tree *tree, const char *path, git_diff **out,
                         ad_git_err_t *e)
{
    char *paths[1] = {(char *)path};
    git_diff_options opts;
    git_diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION);
    opts.flags = GIT_DIFF_INCLUDE_UNTRACKED | GIT_DIFF_RECURSE_UNTRACKED_DIRS |
                 GIT_DIFF_SHOW_UNTRACKED_CONTENT | GIT_DIFF_IGNORE_SUBMODULES;
    if (path != NULL) {
        opts.flags |= GIT_DIFF_DISABLE_PATHSPEC_MATCH;
        opts.pathspec.strings = paths;
        opts.pathspec.count = 1;
    }
    int grc = git_diff_tree_to_workdir_with_index(out, repo, tree, &opts);
    return grc < 0 ? ad_gitx_lib(e, grc, "diff worktree") : 0;
}

/* The diff of HEAD's tree (none when unborn) against the work tree with
 * the index, untracked files shown as added; only `path` when given. */
static int worktree_diff(git_repository *repo, const char *path, git_diff **out, ad_git_err_t *e)
{
    git_oid oid;
    git_commit *commit = NULL;
    git_tree *tree = NULL;
    int rc = 0;
    if (ad_gitx_head_oid(repo, &oid) == 0) {
        int grc = git_commit_lookup(&commit, repo, &oid);
        if (grc == 0) {
            grc = git_commit_tree(&tree, commit);
        }
        if (grc < 0) {
            rc = ad_gitx_lib(e, grc, "read HEAD");
        }
    }
    if (rc == 0) {
        rc = ad_gitx_diff_workdir(repo, tree, path, out, e);
    }
    git_tree_free(tree);
    git_commit_free(commit);
    return rc;
}

json_t *ad_gitx_diff_files(git_diff *diff)
{
    size_t n = git_diff_num_deltas(diff);
    size_t ins_total = 0, del_total = 0;
    json_t *files = json_array();
    for (size_t i = 0; i < n && i < DIFF_FILES_MAX; i++) {
        git_patch *patch = NULL;
        size_t ins = 0, del = 0;
        const git_diff_delta *d = git_diff_get_delta(diff, i);
        bool binary = (d->flags & GIT_DIFF_FLAG_BINARY) != 0;
        if (git_patch_from_diff(&patch, diff, i) == 0 && patch != NULL) {
            git_patch_line_stats(NULL, &ins, &del, patch);
            binary = binary || (git_patch_get_delta(patch)->flags & GIT_DIFF_FLAG_BINARY);
        }
        git_patch_free(patch);
        const char *oldp = d->old_file.path;
        const char *newp = d->new_file.path ? d->new_file.path : oldp;
        json_t *f = json_pack("{s:s, s:s?, s:s, s:I, s:I, s:b}", "path", newp, "oldPath",
                              oldp && strcmp(oldp, newp) != 0 ? oldp : NULL, "status",
                              delta_word(d->status), "insertions", (json_int_t)ins, "deletions",
                              (json_int_t)del, "binary", binary);
        if (d->status == GIT_DELTA_UNTRACKED) { /* "added", and not even staged */
            json_object_set_new(f, "untracked", json_true());
        }
        json_array_append_new(files, f);
        ins_total += ins;
        del_total += del;
    }
    return json_pack("{s:o, s:I, s:I, s:b}", "files", files, "insertions", (json_int_t)ins_total,
                     "deletions", (json_int_t)del_total, "truncated", n > DIFF_FILES_MAX);
}

int ad_gitx_diff_patch(git_diff *diff, const char *path, json_t **out, ad_git_err_t *e)
{
    git_patch *patch = NULL;
    git_buf buf = {0};
    int rc = 0;
    if (git_diff_num_deltas(diff) == 0) {
        return ad_gitx_fail(e, AD_ENOENT, "no_changes", "%s has no changes", path);
    }
    int grc = git_patch_from_diff(&patch, diff, 0);
    if (grc == 0 && patch != NULL) {
        grc = git_patch_to_buf(&buf, patch);
    }
    if (grc < 0 || patch == NULL) {
        rc = grc < 0 ? ad_gitx_lib(e, grc, "make patch")
                     : ad_gitx_fail(e, AD_EINTERNAL, "", "no patch for %s", path);
        goto out;
    }
    bool binary = (git_patch_get_delta(patch)->flags & GIT_DIFF_FLAG_BINARY) != 0;
    size_t len = buf.size < PATCH_MAX ? buf.size : PATCH_MAX;
    json_t *text = ad_gitx_json_text(buf.ptr ? buf.ptr : "", len);
    *out = json_pack("{s:s, s:o, s:b, s:b}", "path", path, "patch", text, "truncated",
                     buf.size > PATCH_MAX, "binary", binary);
out:
    git_buf_dispose(&buf);
    git_patch_free(patch);
    return rc;
}

int ad_git_diff(const char *wt_path, const char *path, json_t **out, ad_git_err_t *e)
{
    git_repository *repo = NULL;
    git_diff *diff = NULL;
    *out = NULL;
    if (path != NULL && !ad_gitx_rel_path_safe(path)) {
        return ad_gitx_fail(e, AD_EINVAL, "invalid_path",
                            "path must be relative to the worktree, without '..': %s", path);
    }
    int rc = ad_gitx_open_worktree(wt_path, &repo, e);
    if (rc != 0) {
        return rc;
    }
    rc = worktree_diff(repo, path, &diff, e);
    if (rc == 0) {
        if (path != NULL) {
            rc = ad_gitx_diff_patch(diff, path, out, e);
        } else {
            *out = ad_gitx_diff_files(diff);
        }
    }
    git_diff_free(diff);
    git_repository_free(repo);
    return rc;
}
