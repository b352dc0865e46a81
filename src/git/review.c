/* SPDX-License-Identifier: MIT */
/*
 * git: review of a worktree against its base. What changed since the
 * merge base with a ref (commits and uncommitted work together), the
 * commits since then, and committing the work tree. Pool threads only.
 */
#include "git/git_int.h"

#include <stdio.h>
#include <string.h>

#define COMMITS_MAX 500
#define REF_MAX 200

static bool all_hex(const char *s)
{
    size_t n = strlen(s);
    if (n < 4 || n > GIT_OID_HEXSZ) {
        return false;
    }
    return strspn(s, "0123456789abcdefABCDEF") == n;
}

int ad_gitx_resolve_commit(git_repository *repo, const char *ref, git_commit **out, ad_git_err_t *e)
{
    git_reference *r = NULL;
    git_object *obj = NULL;
    *out = NULL;
    int grc = git_reference_dwim(&r, repo, ref);
    if (grc == 0) {
        grc = git_reference_peel(&obj, r, GIT_OBJECT_COMMIT);
        git_reference_free(r);
        if (grc == 0) {
            *out = (git_commit *)obj;
            return 0;
        }
    }
    if (all_hex(ref)) {
        git_oid oid;
        if (git_oid_fromstrn(&oid, ref, strlen(ref)) == 0 &&
            git_commit_lookup_prefix(out, repo, &oid, strlen(ref)) == 0) {
            return 0;
        }
    }
    return ad_gitx_fail(e, AD_ENOENT, "unknown_ref", "no branch, tag or commit named %s", ref);
}

static json_t *oid_str(const git_oid *oid)
{
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof(hex), oid);
    return json_string(hex);
}

static json_t *commit_json(git_commit *c)
{
    char shortid[12];
    char ts[AD_TIME_MAX];
    git_oid_tostr(shortid, 8, git_commit_id(c));
    ad_time_format((int64_t)git_commit_time(c) * 1000, ts);
    const git_signature *a = git_commit_author(c);
    const char *summary = git_commit_summary(c);
    const char *msg = git_commit_message(c);
    json_t *o = json_pack("{s:o, s:s, s:o, s:o, s:s?, s:s?, s:s}", "id", oid_str(git_commit_id(c)),
                          "shortId", shortid, "summary",
                          ad_gitx_json_text(summary ? summary : "", summary ? strlen(summary) : 0),
                          "message", ad_gitx_json_text(msg ? msg : "", msg ? strlen(msg) : 0),
                          "author", a ? a->name : NULL, "email", a ? a->email : NULL, "time", ts);
    return o;
}

/* HEAD's commit, against's commit and their merge base. */
static int review_points(git_repository *repo, const char *against, git_oid *head,
                         git_commit **other, git_oid *base, ad_git_err_t *e)
{
    if (ad_gitx_head_oid(repo, head) != 0) {
        return ad_gitx_fail(e, AD_ESTATE, "unborn", "the worktree has no commit yet");
    }
    int rc = ad_gitx_resolve_commit(repo, against, other, e);
    if (rc != 0) {
        return rc;
    }
    int grc = git_merge_base(base, repo, head, git_commit_id(*other));
    if (grc == GIT_ENOTFOUND) {
        return ad_gitx_fail(e, AD_ESTATE, "unrelated", "HEAD and %s have no common history",
                            against);
    }
    return grc < 0 ? ad_gitx_lib(e, grc, "find the merge base") : 0;
}

/* Commits reachable from head and not from base, newest first. */
static json_t *commits_since(git_repository *repo, const git_oid *head, const git_oid *base,
                             bool *truncated)
{
    json_t *arr = json_array();
    git_revwalk *w = NULL;
    git_oid oid;
    *truncated = false;
    if (git_revwalk_new(&w, repo) != 0) {
        return arr;
    }
    git_revwalk_sorting(w, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME);
    if (git_revwalk_push(w, head) == 0 && git_revwalk_hide(w, base) == 0) {
        while (git_revwalk_next(&oid, w) == 0) {
            if (json_array_size(arr) >= COMMITS_MAX) {
                *truncated = true;
                break;
            }
            git_commit *c = NULL;
            if (git_commit_lookup(&c, repo, &oid) == 0) {
                json_array_append_new(arr, commit_json(c));
                git_commit_free(c);
            }
        }
    }
    git_revwalk_free(w);
    return arr;
}

/* The file list (or one patch) from the merge base's tree to the work tree. */
static int review_diff(git_repository *repo, const git_oid *base, const char *file, json_t **out,
                       ad_git_err_t *e)
{
    git_commit *c = NULL;
    git_tree *tree = NULL;
    git_diff *diff = NULL;
    int grc = git_commit_lookup(&c, repo, base);
    if (grc == 0) {
        grc = git_commit_tree(&tree, c);
    }
    int rc = grc < 0 ? ad_gitx_lib(e, grc, "read the merge base") : 0;
    if (rc == 0) {
        rc = ad_gitx_diff_workdir(repo, tree, file, &diff, e);
    }
    if (rc == 0) {
        if (file != NULL) {
            rc = ad_gitx_diff_patch(diff, file, out, e);
        } else {
            *out = ad_gitx_diff_files(diff);
        }
    }
    git_diff_free(diff);
    git_tree_free(tree);
    git_commit_free(c);
    return rc;
}

/* "merged": whether HEAD's work is in against though it counts ahead
 * (merged.c): {"merged", "how" (recorded, tree, ancestor), "commit"}. */
static json_t *merged_json(git_repository *repo, const git_oid *head, const git_oid *other,
                           size_t ahead, json_t *heads)
{
    git_oid at;
    const char *how = ad_gitx_merged_into(repo, head, other, heads, &at);
    if (how == NULL && ahead == 0 && heads != NULL && json_array_size(heads) > 0 &&
        !git_oid_equal(head, other) && git_graph_descendant_of(repo, other, head) == 1) {
        how = "ancestor"; /* merged by agentd before, and the base has it */
    }
    if (how == NULL) {
        return json_pack("{s:b}", "merged", false);
    }
    return json_pack("{s:b, s:s, s:o}", "merged", true, "how", how, "commit", oid_str(&at));
}

int ad_git_review(const char *wt_path, const char *against, const char *file, json_t **out,
                  ad_git_err_t *e)
{
    return ad_git_review_merged(wt_path, against, file, NULL, out, e);
}

int ad_git_review_merged(const char *wt_path, const char *against, const char *file, json_t *merged,
                         json_t **out, ad_git_err_t *e)
{
    git_repository *repo = NULL;
    git_commit *other = NULL;
    git_oid head, base;
    char why[200];
    *out = NULL;
    if (!ad_git_ref_valid(against, why, sizeof(why))) {
        return ad_gitx_fail(e, AD_EINVAL, "invalid_ref", "%s", why);
    }
    if (file != NULL && !ad_gitx_rel_path_safe(file)) {
        return ad_gitx_fail(e, AD_EINVAL, "invalid_path",
                            "path must be relative to the worktree, without '..': %s", file);
    }
    int rc = ad_gitx_open_worktree(wt_path, &repo, e);
    rc = rc != 0 ? rc : review_points(repo, against, &head, &other, &base, e);
    rc = rc != 0 ? rc : review_diff(repo, &base, file, out, e);
    if (rc == 0 && file == NULL) {
        size_t ahead = 0, behind = 0, changed = 0;
        bool truncated;
        json_t *changed_files = json_array();
        git_graph_ahead_behind(&ahead, &behind, repo, &head, git_commit_id(other));
        ad_gitx_changed_files(repo, true, changed_files, 0, &changed, e);
        json_decref(changed_files);
        json_object_set_new(*out, "against", json_string(against));
        json_object_set_new(*out, "againstCommit", oid_str(git_commit_id(other)));
        json_object_set_new(*out, "head", oid_str(&head));
        json_object_set_new(*out, "mergeBase", oid_str(&base));
        json_object_set_new(*out, "ahead", json_integer((json_int_t)ahead));
        json_object_set_new(*out, "behind", json_integer((json_int_t)behind));
        json_object_set_new(*out, "uncommitted", json_integer((json_int_t)changed));
        json_object_set_new(*out, "commits", commits_since(repo, &head, &base, &truncated));
        json_object_set_new(*out, "commitsTruncated", json_boolean(truncated));
        json_object_set_new(*out, "merged",
                            merged_json(repo, &head, git_commit_id(other), ahead, merged));
    }
    git_commit_free(other);
    git_repository_free(repo);
    return rc;
}

int ad_git_commits(const char *wt_path, const char *against, json_t **out, ad_git_err_t *e)
{
    git_repository *repo = NULL;
    git_commit *other = NULL;
    git_oid head, base;
    char why[200];
    *out = NULL;
    if (!ad_git_ref_valid(against, why, sizeof(why))) {
        return ad_gitx_fail(e, AD_EINVAL, "invalid_ref", "%s", why);
    }
    int rc = ad_gitx_open_worktree(wt_path, &repo, e);
    rc = rc != 0 ? rc : review_points(repo, against, &head, &other, &base, e);
    if (rc == 0) {
        bool truncated;
        json_t *list = commits_since(repo, &head, &base, &truncated);
        *out = json_pack("{s:s, s:o, s:o, s:b}", "against", against, "mergeBase", oid_str(&base),
                         "commits", list, "truncated", truncated);
    }
    git_commit_free(other);
    git_repository_free(repo);
    return rc;
}

int ad_git_head(const char *wt_path, json_t **out, ad_git_err_t *e)
{
    git_repository *repo = NULL;
    git_reference *ref = NULL;
    git_commit *c = NULL;
    *out = NULL;
    int rc = ad_gitx_open_worktree(wt_path, &repo, e);
    if (rc == 0 && git_repository_head_unborn(repo) == 1) {
        rc = ad_gitx_fail(e, AD_ESTATE, "unborn", "the worktree has no commit yet");
    }
    if (rc == 0) {
        git_oid oid;
        int grc = git_reference_name_to_id(&oid, repo, "HEAD");
        grc = grc < 0 ? grc : git_commit_lookup(&c, repo, &oid);
        rc = grc < 0 ? ad_gitx_lib(e, grc, "read HEAD") : 0;
    }
    if (rc == 0) {
        *out = commit_json(c);
        const char *branch = NULL;
        if (git_repository_head_detached(repo) != 1 && git_repository_head(&ref, repo) == 0) {
            branch = git_reference_shorthand(ref);
        }
        json_object_set_new(*out, "branch", branch ? json_string(branch) : json_null());
    }
    git_reference_free(ref);
    git_commit_free(c);
    git_repository_free(repo);
    return rc;
}

/* Stages everything (`git add -A`: new, changed and deleted files). */
static int stage_all(git_index *idx, ad_git_err_t *e)
{
    int grc = git_index_add_all(idx, NULL, GIT_INDEX_ADD_DEFAULT, NULL, NULL);
    if (grc == 0) {
        grc = git_index_update_all(idx, NULL, NULL, NULL);
    }
    if (grc == 0) {
        grc = git_index_write(idx);
    }
    return grc < 0 ? ad_gitx_lib(e, grc, "stage the changes") : 0;
}

int ad_gitx_signature(git_repository *repo, git_signature **out)
{
    if (git_signature_default(out, repo) == 0) {
        return 0;
    }
    return git_signature_now(out, "agentd", "agentd@localhost");
}

/* The paths that differ between the parent's tree (or none) and tree. */
static json_t *changed_paths(git_repository *repo, git_tree *parent, git_tree *tree)
{
    json_t *arr = json_array();
    git_diff *diff = NULL;
    if (git_diff_tree_to_tree(&diff, repo, parent, tree, NULL) == 0) {
        size_t n = git_diff_num_deltas(diff);
        for (size_t i = 0; i < n && i < 1000; i++) {
            const git_diff_delta *d = git_diff_get_delta(diff, i);
            json_array_append_new(arr, json_string(d->new_file.path));
        }
    }
    git_diff_free(diff);
    return arr;
}

static int commit_index(git_repository *repo, git_index *idx, const char *message, json_t **out,
                        ad_git_err_t *e)
{
    git_oid tree_id, head, id;
    git_tree *tree = NULL, *ptree = NULL;
    git_commit *parent = NULL;
    git_signature *sig = NULL;
    int rc = 0;
    int grc = git_index_write_tree(&tree_id, idx);
    bool born = ad_gitx_head_oid(repo, &head) == 0;
    if (grc == 0 && born) {
        grc = git_commit_lookup(&parent, repo, &head);
    }
    if (grc == 0 && parent != NULL) {
        grc = git_commit_tree(&ptree, parent);
    }
    if (grc == 0) {
        grc = git_tree_lookup(&tree, repo, &tree_id);
    }
    if (grc < 0) {
        rc = ad_gitx_lib(e, grc, "prepare the commit");
        goto out;
    }
    if (ptree != NULL && git_oid_equal(git_tree_id(ptree), &tree_id)) {
        rc = ad_gitx_fail(e, AD_ESTATE, "nothing_to_commit", "nothing to commit");
        goto out;
    }
    const git_commit *parents[1] = {parent};
    grc = ad_gitx_signature(repo, &sig);
    if (grc == 0) {
        grc = git_commit_create(&id, repo, "HEAD", sig, sig, NULL, message, tree, born ? 1 : 0,
                                parents);
    }
    if (grc < 0) {
        rc = ad_gitx_lib(e, grc, "commit");
        goto out;
    }
    char shortid[12];
    git_oid_tostr(shortid, 8, &id);
    *out = json_pack("{s:o, s:s, s:o, s:o}", "commit", oid_str(&id), "shortId", shortid, "branch",
                     ad_gitx_head_branch_json(repo), "files", changed_paths(repo, ptree, tree));
out:
    git_signature_free(sig);
    git_tree_free(tree);
    git_tree_free(ptree);
    git_commit_free(parent);
    return rc;
}

int ad_git_commit(const char *wt_path, const char *message, bool all, json_t **out, ad_git_err_t *e)
{
    git_repository *repo = NULL;
    git_index *idx = NULL;
    *out = NULL;
    if (message == NULL || message[0] == '\0') {
        return ad_gitx_fail(e, AD_EINVAL, "invalid_message", "a commit message is required");
    }
    int rc = ad_gitx_open_worktree(wt_path, &repo, e);
    if (rc == 0) {
        int grc = git_repository_index(&idx, repo);
        rc = grc < 0 ? ad_gitx_lib(e, grc, "read the index") : 0;
    }
    if (rc == 0 && all) {
        rc = stage_all(idx, e);
    }
    if (rc == 0 && git_index_has_conflicts(idx)) {
        rc = ad_gitx_fail(e, AD_ESTATE, "conflicts", "the index has unmerged paths");
    }
    if (rc == 0) {
        rc = commit_index(repo, idx, message, out, e);
    }
    git_index_free(idx);
    git_repository_free(repo);
    return rc;
}
