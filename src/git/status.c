/* SPDX-License-Identifier: MIT */
/*
 * git: what state a worktree is in. Status counts and files, ahead/behind
 * (against the upstream, else the main worktree's HEAD), the branch list,
 * and checkout, which refuses to run over uncommitted changes.
 */
#include "git/git_int.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#define STATUS_FILES_MAX 1000

static const char *index_word(unsigned s)
{
    if (s & GIT_STATUS_INDEX_NEW) {
        return "added";
    }
    if (s & GIT_STATUS_INDEX_MODIFIED) {
        return "modified";
    }
    if (s & GIT_STATUS_INDEX_DELETED) {
        return "deleted";
    }
    if (s & GIT_STATUS_INDEX_RENAMED) {
        return "renamed";
    }
    if (s & GIT_STATUS_INDEX_TYPECHANGE) {
        return "typechange";
    }
    return NULL;
}

static const char *workdir_word(unsigned s)
{
    if (s & GIT_STATUS_WT_NEW) {
        return "untracked";
    }
    if (s & GIT_STATUS_WT_MODIFIED) {
        return "modified";
    }
    if (s & GIT_STATUS_WT_DELETED) {
        return "deleted";
    }
    if (s & GIT_STATUS_WT_RENAMED) {
        return "renamed";
    }
    if (s & GIT_STATUS_WT_TYPECHANGE) {
        return "typechange";
    }
    return NULL;
}

static const char *entry_path(const git_status_entry *se)
{
    if (se->index_to_workdir != NULL && se->index_to_workdir->new_file.path != NULL) {
        return se->index_to_workdir->new_file.path;
    }
    if (se->head_to_index != NULL && se->head_to_index->new_file.path != NULL) {
        return se->head_to_index->new_file.path;
    }
    return "";
}

static int status_list(git_repository *repo, bool untracked, git_status_list **out, ad_git_err_t *e)
{
    git_status_options opts;
    git_status_options_init(&opts, GIT_STATUS_OPTIONS_VERSION);
    opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
    opts.flags = GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
    if (untracked) {
        opts.flags |= GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS;
    }
    int grc = git_status_list_new(out, repo, &opts);
    return grc < 0 ? ad_gitx_lib(e, grc, "read status") : 0;
}

int ad_gitx_changed_files(git_repository *repo, bool untracked, json_t *arr, size_t max,
                          size_t *total, ad_git_err_t *e)
{
    git_status_list *list = NULL;
    int rc = status_list(repo, untracked, &list, e);
    if (rc != 0) {
        return rc;
    }
    size_t n = git_status_list_entrycount(list);
    for (size_t i = 0; i < n && i < max; i++) {
        json_array_append_new(arr, json_string(entry_path(git_status_byindex(list, i))));
    }
    *total = n;
    git_status_list_free(list);
    return 0;
}

/* The upstream of local branch `branch` (a full refs/heads/ name), found
 * from branch.<name>.remote and .merge with the default fetch mapping
 * (refs/heads/x of remote r is refs/remotes/r/x; remote "." is local).
 * git_branch_upstream() is not used: in libgit2 1.5 its remote lookup leaks
 * about 20 KiB of PCRE2 match data per call. */
static int branch_upstream(git_repository *repo, const char *branch, git_reference **out)
{
    git_config *cfg = NULL;
    git_buf remote = {0}, merge = {0};
    char key[512], target[1024];
    int rc = AD_ENOENT;
    const char *name = branch + 11; /* after refs/heads/ */
    if (git_repository_config_snapshot(&cfg, repo) != 0) {
        return AD_ENOENT;
    }
    snprintf(key, sizeof(key), "branch.%s.remote", name);
    if (git_config_get_string_buf(&remote, cfg, key) != 0) {
        goto out;
    }
    snprintf(key, sizeof(key), "branch.%s.merge", name);
    if (git_config_get_string_buf(&merge, cfg, key) != 0 ||
        strncmp(merge.ptr, "refs/heads/", 11) != 0) {
        goto out;
    }
    int n = strcmp(remote.ptr, ".") == 0 ? snprintf(target, sizeof(target), "%s", merge.ptr)
                                         : snprintf(target, sizeof(target), "refs/remotes/%s/%s",
                                                    remote.ptr, merge.ptr + 11);
    if (n > 0 && (size_t)n < sizeof(target) && git_reference_lookup(out, repo, target) == 0) {
        rc = 0;
    }
out:
    git_buf_dispose(&merge);
    git_buf_dispose(&remote);
    git_config_free(cfg);
    return rc;
}

int ad_gitx_ahead_behind(git_repository *repo, size_t *ahead, size_t *behind, const char **kind,
                         char *compare_ref, size_t refsz, ad_git_err_t *e)
{
    git_reference *head = NULL;
    git_reference *up = NULL;
    git_repository *main = NULL;
    git_reference *mhead = NULL;
    git_oid oid, other;
    int rc = 0;
    *ahead = *behind = 0;
    *kind = "none";
    compare_ref[0] = '\0';

    if (ad_gitx_head_oid(repo, &oid) != 0) {
        goto out; /* unborn: nothing to count */
    }
    if (git_repository_head(&head, repo) == 0 && git_reference_is_branch(head) &&
        branch_upstream(repo, git_reference_name(head), &up) == 0 &&
        git_reference_target(up) != NULL) {
        git_oid_cpy(&other, git_reference_target(up));
        *kind = "upstream";
        snprintf(compare_ref, refsz, "%s", git_reference_shorthand(up));
    } else if (git_repository_is_worktree(repo)) {
        if (git_repository_open(&main, git_repository_commondir(repo)) != 0 ||
            git_repository_head(&mhead, main) != 0 || git_reference_target(mhead) == NULL) {
            goto out; /* the main worktree has no commit to compare with */
        }
        git_oid_cpy(&other, git_reference_target(mhead));
        *kind = "main";
        snprintf(compare_ref, refsz, "%s", git_reference_shorthand(mhead));
    } else {
        goto out;
    }
    int grc = git_graph_ahead_behind(ahead, behind, repo, &oid, &other);
    if (grc < 0) {
        rc = ad_gitx_lib(e, grc, "count ahead/behind");
    }
out:
    git_reference_free(mhead);
    git_repository_free(main);
    git_reference_free(up);
    git_reference_free(head);
    return rc;
}

int ad_git_status(const char *wt_path, json_t **out, ad_git_err_t *e)
{
    git_repository *repo = NULL;
    git_status_list *list = NULL;
    size_t modified = 0, staged = 0, untracked = 0, conflicted = 0;
    size_t ahead = 0, behind = 0;
    const char *kind = "none";
    char ref[256];
    *out = NULL;
    int rc = ad_gitx_open_worktree(wt_path, &repo, e);
    if (rc != 0) {
        return rc;
    }
    rc = status_list(repo, true, &list, e);
    if (rc != 0) {
        goto out;
    }
    rc = ad_gitx_ahead_behind(repo, &ahead, &behind, &kind, ref, sizeof(ref), e);
    if (rc != 0) {
        goto out;
    }
    json_t *files = json_array();
    json_t *by[3] = {json_array(), json_array(), json_array()}; /* modified, staged, untracked */
    size_t n = git_status_list_entrycount(list);
    for (size_t i = 0; i < n; i++) {
        const git_status_entry *se = git_status_byindex(list, i);
        unsigned s = se->status;
        const char *iw = index_word(s);
        const char *ww = workdir_word(s);
        bool in[3] = {false, false, false};
        if (s & GIT_STATUS_CONFLICTED) {
            conflicted++;
            iw = ww = "conflicted";
        } else {
            in[0] = ww != NULL && !(s & GIT_STATUS_WT_NEW);
            in[1] = iw != NULL;
            in[2] = (s & GIT_STATUS_WT_NEW) != 0;
            modified += in[0];
            staged += in[1];
            untracked += in[2];
        }
        if (i < STATUS_FILES_MAX) {
            json_array_append_new(files, json_pack("{s:s, s:s?, s:s?}", "path", entry_path(se),
                                                   "index", iw, "workdir", ww));
            for (int k = 0; k < 3; k++) {
                if (in[k]) {
                    json_array_append_new(by[k], json_string(entry_path(se)));
                }
            }
        }
    }
    bool detached = git_repository_head_detached(repo) == 1;
    *out = json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:b, s:s?, s:s, s:o, s:b}",
                     "isClean", n == 0, "ahead", (json_int_t)ahead, "behind", (json_int_t)behind,
                     "modified", (json_int_t)modified, "staged", (json_int_t)staged, "untracked",
                     (json_int_t)untracked, "conflicted", (json_int_t)conflicted, "branch",
                     detached ? json_null() : ad_gitx_head_branch_json(repo), "detached", detached,
                     "compareRef", ref[0] ? ref : NULL, "compareKind", kind, "files", files,
                     "filesTruncated", n > STATUS_FILES_MAX);
    /* The paths too, as the seed's status has them (first STATUS_FILES_MAX). */
    json_object_set_new(*out, "modifiedFiles", by[0]);
    json_object_set_new(*out, "stagedFiles", by[1]);
    json_object_set_new(*out, "untrackedFiles", by[2]);
out:
    git_status_list_free(list);
    git_repository_free(repo);
    return rc;
}

int ad_git_branches(const char *wt_path, json_t **out, ad_git_err_t *e)
{
    git_repository *repo = NULL;
    git_branch_iterator *it = NULL;
    git_reference *ref = NULL;
    git_branch_t type;
    *out = NULL;
    int rc = ad_gitx_open_worktree(wt_path, &repo, e);
    if (rc != 0) {
        return rc;
    }
    int grc = git_branch_iterator_new(&it, repo, GIT_BRANCH_ALL);
    if (grc < 0) {
        rc = ad_gitx_lib(e, grc, "list branches");
        goto out;
    }
    json_t *local = json_array();
    json_t *remote = json_array();
    while (git_branch_next(&ref, &type, it) == 0) {
        const char *name = NULL;
        /* origin/HEAD is a pointer to another remote branch, not a branch. */
        if (git_reference_type(ref) == GIT_REFERENCE_DIRECT && git_branch_name(&name, ref) == 0) {
            json_array_append_new(type == GIT_BRANCH_LOCAL ? local : remote, json_string(name));
        }
        git_reference_free(ref);
        ref = NULL;
    }
    bool detached = git_repository_head_detached(repo) == 1;
    *out = json_pack("{s:o, s:o, s:o}", "local", local, "remote", remote, "current",
                     detached ? json_null() : ad_gitx_head_branch_json(repo));
out:
    git_branch_iterator_free(it);
    git_repository_free(repo);
    return rc;
}

/* Already on branch: {branch, head, created:false}; else NULL. */
static json_t *already_on(git_repository *repo, const char *branch)
{
    json_t *current = ad_gitx_head_branch_json(repo);
    bool same = git_repository_head_detached(repo) != 1 && json_is_string(current) &&
                strcmp(json_string_value(current), branch) == 0;
    json_decref(current);
    if (!same) {
        return NULL;
    }
    git_oid oid;
    if (ad_gitx_head_oid(repo, &oid) != 0) {
        return json_pack("{s:s, s:n, s:b}", "branch", branch, "head", "created", false);
    }
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof(hex), &oid);
    return json_pack("{s:s, s:s, s:b}", "branch", branch, "head", hex, "created", false);
}

/* Untracked files survive a safe checkout; tracked changes would be
 * carried over or lost, so they block it (AD_ESTATE with the files). */
static int refuse_dirty(git_repository *repo, const char *branch, ad_git_err_t *e)
{
    json_t *files = json_array();
    size_t total = 0;
    int rc = ad_gitx_changed_files(repo, false, files, 200, &total, e);
    if (rc == 0 && total > 0) {
        rc = ad_gitx_fail(e, AD_ESTATE, "dirty",
                          "the worktree has %zu uncommitted change%s; commit or stash before "
                          "checking out '%s'",
                          total, total == 1 ? "" : "s", branch);
        e->details = json_pack("{s:O, s:I, s:b}", "changedFiles", files, "changedFileCount",
                               (json_int_t)total, "truncated", total > json_array_size(files));
    }
    json_decref(files);
    return rc;
}

/* A new branch at HEAD. */
static int create_branch(git_repository *repo, const char *branch, git_reference **ref,
                         ad_git_err_t *e)
{
    git_reference *existing = NULL;
    if (git_branch_lookup(&existing, repo, branch, GIT_BRANCH_LOCAL) == 0) {
        git_reference_free(existing);
        return ad_gitx_fail(e, AD_EEXIST, "branch_exists", "branch '%s' already exists", branch);
    }
    git_oid oid;
    git_commit *head = NULL;
    if (ad_gitx_head_oid(repo, &oid) != 0 || git_commit_lookup(&head, repo, &oid) != 0) {
        return ad_gitx_fail(e, AD_ESTATE, "unborn_head",
                            "the worktree has no commit yet to branch from");
    }
    int grc = git_branch_create(ref, repo, branch, head, 0);
    git_commit_free(head);
    return grc < 0 ? ad_gitx_lib(e, grc, "create branch") : 0;
}

/* Checks out ref's tree (safe: untracked files are never overwritten) and
 * points HEAD at it; hex gets the commit. */
static int switch_to(git_repository *repo, git_reference *ref, const char *branch,
                     char hex[GIT_OID_HEXSZ + 1], ad_git_err_t *e)
{
    git_object *target = NULL;
    int grc = git_reference_peel(&target, ref, GIT_OBJECT_COMMIT);
    if (grc < 0) {
        return ad_gitx_lib(e, grc, "resolve branch");
    }
    git_checkout_options copts;
    git_checkout_options_init(&copts, GIT_CHECKOUT_OPTIONS_VERSION);
    copts.checkout_strategy = GIT_CHECKOUT_SAFE;
    grc = git_checkout_tree(repo, target, &copts);
    int rc = 0;
    if (grc == GIT_ECONFLICT) {
        rc = ad_gitx_fail(e, AD_ESTATE, "conflict",
                          "checking out '%s' would overwrite untracked files in the worktree",
                          branch);
    } else {
        grc = grc == 0 ? git_repository_set_head(repo, git_reference_name(ref)) : grc;
        rc = grc < 0 ? ad_gitx_lib(e, grc, "check out") : 0;
    }
    if (rc == 0) {
        git_oid_tostr(hex, GIT_OID_HEXSZ + 1, git_object_id(target));
    }
    git_object_free(target);
    return rc;
}

int ad_git_checkout(const char *wt_path, const char *branch, bool create, json_t **out,
                    ad_git_err_t *e)
{
    git_repository *repo = NULL;
    git_reference *ref = NULL;
    bool created = false;
    char why[200];
    *out = NULL;
    if (!ad_git_branch_name_valid(branch, why, sizeof(why))) {
        return ad_gitx_fail(e, AD_EINVAL, "invalid_branch", "%s", why);
    }
    int rc = ad_gitx_open_worktree(wt_path, &repo, e);
    if (rc == 0 && !create && (*out = already_on(repo, branch)) != NULL) {
        goto out;
    }
    rc = rc != 0 ? rc : refuse_dirty(repo, branch, e);
    if (rc == 0 && create) {
        rc = create_branch(repo, branch, &ref, e);
        created = rc == 0;
    } else if (rc == 0) {
        rc = ad_gitx_local_branch(repo, branch, &ref, &created, e);
        if (rc == 0 && git_branch_is_checked_out(ref) == 1) {
            rc = ad_gitx_fail(e, AD_ESTATE, "branch_checked_out",
                              "branch '%s' is checked out in another worktree", branch);
        }
    }
    char hex[GIT_OID_HEXSZ + 1];
    rc = rc != 0 ? rc : switch_to(repo, ref, branch, hex, e);
    if (rc == 0) {
        *out = json_pack("{s:s, s:s, s:b}", "branch", branch, "head", hex, "created", created);
        ad_log(AD_LOG_INFO, "git", "checked out path=%s branch=%s created=%d", wt_path, branch,
               (int)created);
    }
out:
    if (rc != 0 && created && ref != NULL) {
        git_branch_delete(ref);
    }
    git_reference_free(ref);
    git_repository_free(repo);
    return rc;
}
