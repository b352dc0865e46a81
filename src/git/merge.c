/* SPDX-License-Identifier: MIT */
/*
 * git: merging a worktree's branch into its base, and rebasing it. The new
 * commits are computed in memory first (git_merge_commits, an in-memory
 * git_rebase), so a conflict changes nothing on disk or in any ref. Only
 * then a branch moves, compare-and-swap against the commit it was read at,
 * and the worktree that has it checked out (clean, checked first) follows
 * with a safe checkout. No hooks run. Pool threads only, under the write
 * lock of async.c.
 */
#include "git/git_int.h"

#include <stdio.h>
#include <string.h>

#define CONFLICTS_MAX 500

typedef struct {
    git_repository *repo;       /* the merged worktree's */
    char branch[256];           /* its branch (short name) */
    git_oid tip;                /* its commit */
    char target_path[PATH_MAX]; /* where `into` is checked out, or "" */
} merge_ctx_t;

static json_t *oid_str(const git_oid *oid)
{
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof(hex), oid);
    return json_string(hex);
}

/* The worktree's checked-out branch, refused when detached or unborn. */
static int head_branch(git_repository *repo, char *out, size_t outsz, git_oid *tip, ad_git_err_t *e)
{
    git_reference *head = NULL;
    int grc = git_repository_head(&head, repo);
    if (grc == GIT_EUNBORNBRANCH || grc == GIT_ENOTFOUND) {
        return ad_gitx_fail(e, AD_ESTATE, "unborn", "the worktree has no commit yet");
    }
    if (grc < 0) {
        return ad_gitx_lib(e, grc, "read HEAD");
    }
    int rc = 0;
    if (!git_reference_is_branch(head)) {
        rc = ad_gitx_fail(e, AD_ESTATE, "detached", "the worktree is not on a branch");
    } else {
        snprintf(out, outsz, "%s", git_reference_shorthand(head));
        git_oid_cpy(tip, git_reference_target(head));
    }
    git_reference_free(head);
    return rc;
}

/* Refuses (reason) when tracked files of repo have uncommitted changes. */
static int refuse_changes(git_repository *repo, const char *reason, const char *path,
                          ad_git_err_t *e)
{
    json_t *files = json_array();
    size_t total = 0;
    int rc = ad_gitx_changed_files(repo, false, files, 200, &total, e);
    if (rc == 0 && total > 0) {
        rc = ad_gitx_fail(e, AD_ESTATE, reason,
                          "%s has %zu uncommitted change%s to tracked files; commit or stash "
                          "them first",
                          path, total, total == 1 ? "" : "s");
        json_decref(e->details);
        e->details = json_pack("{s:O, s:I, s:s}", "changedFiles", files, "changedFileCount",
                               (json_int_t)total, "worktreePath", path);
    }
    json_decref(files);
    return rc;
}

/* The folder of the worktree that has `branch` checked out, or "". */
static int find_checkout(git_repository *repo, const char *branch, char *out, size_t outsz,
                         ad_git_err_t *e)
{
    char main_path[PATH_MAX];
    json_t *list = NULL;
    out[0] = '\0';
    int rc = ad_gitx_main_path(repo, main_path, sizeof(main_path));
    if (rc != 0) {
        return ad_gitx_fail(e, rc, "", "cannot find the main worktree");
    }
    rc = ad_git_worktree_list(main_path, &list, e);
    size_t i;
    json_t *w;
    json_array_foreach(rc == 0 ? json_object_get(list, "worktrees") : NULL, i, w)
    {
        const char *b = json_string_value(json_object_get(w, "branch"));
        if (b != NULL && strcmp(b, branch) == 0 && !json_is_true(json_object_get(w, "missing"))) {
            snprintf(out, outsz, "%s", json_string_value(json_object_get(w, "path")));
            break;
        }
    }
    json_decref(list);
    /* where git's record (<common>/worktrees/<x>/gitdir, which an agent can
     * write) says that worktree is: checked like any worktree before
     * anything is checked out there (trust.c, issue #73) */
    ad_git_trust_t t;
    char why[300];
    if (rc == 0 && out[0] != '\0' && strcmp(out, main_path) != 0 &&
        ad_git_trust_check(main_path, false, out, &t, why, sizeof(why)) != 0) {
        rc =
            ad_gitx_fail(e, AD_EPERM, "untrusted_git", "the worktree that has %s: %s", branch, why);
    }
    return rc;
}

/* Moves local branch from old to new (refused if it moved meanwhile); the
 * worktree at wt_path (or none: "") is checked out to new first. */
static int advance(git_repository *repo, const char *branch, const git_oid *old, const git_oid *new,
                   const char *wt_path, const char *why, ad_git_err_t *e)
{
    char name[300];
    git_reference *ref = NULL, *moved = NULL;
    git_repository *wt = NULL;
    git_commit *c = NULL;
    snprintf(name, sizeof(name), "refs/heads/%s", branch);
    int grc = git_reference_lookup(&ref, repo, name);
    if (grc < 0) {
        return ad_gitx_lib(e, grc, "read the branch");
    }
    int rc = 0;
    if (!git_oid_equal(git_reference_target(ref), old)) {
        rc = ad_gitx_fail(e, AD_ESTATE, "moved", "%s moved meanwhile; try again", branch);
        goto out;
    }
    if (wt_path[0] != '\0') {
        rc = ad_gitx_open_worktree(wt_path, &wt, e);
        grc = rc == 0 ? git_commit_lookup(&c, wt, new) : 0;
        git_checkout_options co;
        git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
        co.checkout_strategy = GIT_CHECKOUT_SAFE;
        if (rc == 0 && grc == 0) {
            grc = git_checkout_tree(wt, (const git_object *)c, &co);
        }
        if (rc == 0 && grc < 0) {
            rc = ad_gitx_lib(e, grc, "update the checked-out worktree");
            if (grc == GIT_ECONFLICT) { /* an untracked file in the way: nothing moved */
                snprintf(e->reason, sizeof(e->reason), "target_conflict");
            }
        }
        if (rc != 0) {
            goto out;
        }
    }
    grc = git_reference_set_target(&moved, ref, new, why);
    rc = grc < 0 ? ad_gitx_lib(e, grc, "move the branch") : 0;
out:
    git_commit_free(c);
    git_repository_free(wt);
    git_reference_free(moved);
    git_reference_free(ref);
    return rc;
}

static int conflicts_of(git_index *idx, const char *what, ad_git_err_t *e)
{
    git_index_conflict_iterator *it = NULL;
    const git_index_entry *anc, *ours, *theirs;
    json_t *arr = json_array();
    if (git_index_conflict_iterator_new(&it, idx) == 0) {
        while (json_array_size(arr) < CONFLICTS_MAX &&
               git_index_conflict_next(&anc, &ours, &theirs, it) == 0) {
            const git_index_entry *x = ours ? ours : theirs ? theirs : anc;
            json_array_append_new(arr, json_string(x ? x->path : ""));
        }
    }
    git_index_conflict_iterator_free(it);
    size_t n = json_array_size(arr);
    int rc = ad_gitx_fail(e, AD_ESTATE, "conflicts", "%s conflicts in %zu file%s; nothing changed",
                          what, n, n == 1 ? "" : "s");
    json_decref(e->details);
    e->details = json_pack("{s:o}", "conflicts", arr);
    return rc;
}

/* Replays the commits of tip not on onto on top of onto, in memory; *out
 * is the new tip. A conflict aborts with the files (nothing written but
 * unreferenced objects). */
static int rebase_mem(git_repository *repo, const git_oid *tip, const git_oid *onto, git_oid *out,
                      ad_git_err_t *e)
{
    git_annotated_commit *br = NULL, *up = NULL;
    git_rebase *rb = NULL;
    git_rebase_operation *op = NULL;
    git_signature *sig = NULL;
    git_rebase_options o;
    git_rebase_options_init(&o, GIT_REBASE_OPTIONS_VERSION);
    o.inmemory = 1;
    int rc = 0;
    int grc = git_annotated_commit_lookup(&br, repo, tip);
    grc = grc < 0 ? grc : git_annotated_commit_lookup(&up, repo, onto);
    grc = grc < 0 ? grc : ad_gitx_signature(repo, &sig);
    grc = grc < 0 ? grc : git_rebase_init(&rb, repo, br, up, NULL, &o);
    git_oid_cpy(out, onto);
    while (grc == 0 && (grc = git_rebase_next(&op, rb)) == 0) {
        git_index *idx = NULL;
        grc = git_rebase_inmemory_index(&idx, rb);
        if (grc == 0 && git_index_has_conflicts(idx)) {
            char what[64];
            snprintf(what, sizeof(what), "rebasing commit %.8s", git_oid_tostr_s(&op->id));
            rc = conflicts_of(idx, what, e);
        }
        git_index_free(idx);
        if (rc != 0) {
            break;
        }
        git_oid id;
        grc = grc < 0 ? grc : git_rebase_commit(&id, rb, NULL, sig, NULL, NULL);
        if (grc == GIT_EAPPLIED) {
            grc = 0; /* already on onto: skipped, as git does */
        } else if (grc == 0) {
            git_oid_cpy(out, &id);
        }
    }
    if (rc == 0 && grc != GIT_ITEROVER) {
        rc = ad_gitx_lib(e, grc, "rebase");
    }
    git_rebase_free(rb);
    git_signature_free(sig);
    git_annotated_commit_free(br);
    git_annotated_commit_free(up);
    return rc;
}

/* A merge commit (parents into, branch) or a squash commit (parent into)
 * of the two, computed in memory. */
static int merge_commit(merge_ctx_t *m, const git_oid *into_oid, const char *into, bool squash,
                        const char *message, git_oid *out, ad_git_err_t *e)
{
    git_commit *a = NULL, *b = NULL;
    git_index *idx = NULL;
    git_tree *tree = NULL;
    git_signature *sig = NULL;
    git_oid tree_id;
    int rc = 0;
    int grc = git_commit_lookup(&a, m->repo, into_oid);
    grc = grc < 0 ? grc : git_commit_lookup(&b, m->repo, &m->tip);
    grc = grc < 0 ? grc : git_merge_commits(&idx, m->repo, a, b, NULL);
    if (grc == 0 && git_index_has_conflicts(idx)) {
        rc = conflicts_of(idx, "the merge", e);
        goto out;
    }
    grc = grc < 0 ? grc : git_index_write_tree_to(&tree_id, idx, m->repo);
    grc = grc < 0 ? grc : git_tree_lookup(&tree, m->repo, &tree_id);
    grc = grc < 0 ? grc : ad_gitx_signature(m->repo, &sig);
    char dflt[600];
    snprintf(dflt, sizeof(dflt),
             squash ? "Squashed branch '%s' into %s" : "Merge branch '%s' into %s", m->branch,
             into);
    const git_commit *parents[2] = {a, b};
    grc = grc < 0
              ? grc
              : git_commit_create(out, m->repo, NULL, sig, sig, NULL,
                                  message != NULL ? message : dflt, tree, squash ? 1 : 2, parents);
    rc = grc < 0 ? ad_gitx_lib(e, grc, "merge") : 0;
out:
    git_signature_free(sig);
    git_tree_free(tree);
    git_index_free(idx);
    git_commit_free(a);
    git_commit_free(b);
    return rc;
}

/* Opens the worktree, reads its branch and refuses uncommitted work. */
static int open_source(const char *wt_path, merge_ctx_t *m, ad_git_err_t *e)
{
    int rc = ad_gitx_open_worktree(wt_path, &m->repo, e);
    rc = rc != 0 ? rc : head_branch(m->repo, m->branch, sizeof(m->branch), &m->tip, e);
    return rc != 0 ? rc : refuse_changes(m->repo, "uncommitted", wt_path, e);
}

static int branch_oid(git_repository *repo, const char *branch, git_oid *out, ad_git_err_t *e)
{
    char name[300];
    snprintf(name, sizeof(name), "refs/heads/%s", branch);
    int grc = git_reference_name_to_id(out, repo, name);
    if (grc == GIT_ENOTFOUND) {
        return ad_gitx_fail(e, AD_ENOENT, "unknown_branch", "no local branch %s", branch);
    }
    return grc < 0 ? ad_gitx_lib(e, grc, "read the branch") : 0;
}

/* Refuses a dirty target worktree (where into is checked out). */
static int check_target(merge_ctx_t *m, const char *into, ad_git_err_t *e)
{
    int rc = find_checkout(m->repo, into, m->target_path, sizeof(m->target_path), e);
    if (rc != 0 || m->target_path[0] == '\0') {
        return rc;
    }
    git_repository *t = NULL;
    rc = ad_gitx_open_worktree(m->target_path, &t, e);
    rc = rc != 0 ? rc : refuse_changes(t, "target_dirty", m->target_path, e);
    git_repository_free(t);
    return rc;
}

static int merge_apply(merge_ctx_t *m, const ad_git_merge_opts_t *o, const git_oid *into_oid,
                       git_oid *new_tip, json_t *out, ad_git_err_t *e)
{
    int rc = 0;
    if (strcmp(o->strategy, "rebase") == 0) {
        if (git_graph_descendant_of(m->repo, &m->tip, into_oid) == 1) {
            git_oid_cpy(new_tip, &m->tip); /* already on top: a fast-forward */
        } else {
            rc = rebase_mem(m->repo, &m->tip, into_oid, new_tip, e);
            const char *wt = git_repository_workdir(m->repo);
            char path[PATH_MAX];
            rc = rc != 0 ? rc : ad_gitx_path_trim(wt ? wt : "", path, sizeof(path));
            rc = rc != 0 ? rc
                         : advance(m->repo, m->branch, &m->tip, new_tip, path,
                                   "agentd: rebase for merge", e);
            json_object_set_new(out, "rebasedCommit", oid_str(new_tip));
        }
    } else {
        rc = merge_commit(m, into_oid, o->into, strcmp(o->strategy, "squash") == 0, o->message,
                          new_tip, e);
    }
    return rc != 0
               ? rc
               : advance(m->repo, o->into, into_oid, new_tip, m->target_path, "agentd: merge", e);
}

int ad_git_merge(const ad_git_merge_opts_t *o, json_t **out, ad_git_err_t *e)
{
    merge_ctx_t m = {0};
    git_oid into_oid, new_tip;
    char why[200];
    *out = NULL;
    if (!ad_git_ref_valid(o->into, why, sizeof(why)) ||
        !ad_git_branch_name_valid(o->into, why, sizeof(why))) {
        return ad_gitx_fail(e, AD_EINVAL, "invalid_ref", "%s", why);
    }
    const char *st = o->strategy != NULL ? o->strategy : "merge";
    if (strcmp(st, "merge") != 0 && strcmp(st, "squash") != 0 && strcmp(st, "rebase") != 0) {
        return ad_gitx_fail(e, AD_EINVAL, "invalid_strategy",
                            "strategy is merge, squash or rebase");
    }
    ad_git_merge_opts_t oo = *o;
    oo.strategy = st;
    int rc = open_source(o->wt_path, &m, e);
    rc = rc != 0 ? rc : branch_oid(m.repo, o->into, &into_oid, e);
    if (rc == 0 && strcmp(m.branch, o->into) == 0) {
        rc = ad_gitx_fail(e, AD_EINVAL, "same_branch", "cannot merge %s into itself", o->into);
    }
    rc = rc != 0 ? rc : check_target(&m, o->into, e);
    if (rc != 0) {
        goto out;
    }
    *out = json_pack("{s:s, s:s, s:s, s:o, s:s?}", "strategy", st, "branch", m.branch, "into",
                     o->into, "previous", oid_str(&into_oid), "targetWorktree",
                     m.target_path[0] ? m.target_path : NULL);
    bool up_to_date =
        git_oid_equal(&into_oid, &m.tip) || git_graph_descendant_of(m.repo, &into_oid, &m.tip) == 1;
    if (up_to_date) {
        json_object_set_new(*out, "merged", json_false());
        json_object_set_new(*out, "upToDate", json_true());
        json_object_set_new(*out, "commit", oid_str(&into_oid));
        json_object_set_new(*out, "head", oid_str(&m.tip));
        goto out;
    }
    rc = merge_apply(&m, &oo, &into_oid, &new_tip, *out, e);
    if (rc == 0) {
        /* the worktree commit that landed (rebase: the branch moved there) */
        json_object_set_new(*out, "head", oid_str(strcmp(st, "rebase") == 0 ? &new_tip : &m.tip));
        json_object_set_new(*out, "merged", json_true());
        json_object_set_new(*out, "upToDate", json_false());
        json_object_set_new(*out, "commit", oid_str(&new_tip));
        ad_log(AD_LOG_INFO, "git", "merged branch=%s into=%s strategy=%s", m.branch, o->into, st);
    } else {
        json_decref(*out);
        *out = NULL;
    }
out:
    git_repository_free(m.repo);
    return rc;
}

int ad_git_rebase(const char *wt_path, const char *onto, json_t **out, ad_git_err_t *e)
{
    merge_ctx_t m = {0};
    git_commit *target = NULL;
    git_oid new_tip;
    char why[200], path[PATH_MAX];
    *out = NULL;
    if (!ad_git_ref_valid(onto, why, sizeof(why))) {
        return ad_gitx_fail(e, AD_EINVAL, "invalid_ref", "%s", why);
    }
    int rc = open_source(wt_path, &m, e);
    rc = rc != 0 ? rc : ad_gitx_resolve_commit(m.repo, onto, &target, e);
    rc = rc != 0 ? rc : ad_gitx_path_trim(wt_path, path, sizeof(path));
    if (rc != 0) {
        goto out;
    }
    const git_oid *onto_oid = git_commit_id(target);
    bool up_to_date =
        git_oid_equal(onto_oid, &m.tip) || git_graph_descendant_of(m.repo, &m.tip, onto_oid) == 1;
    git_oid_cpy(&new_tip, &m.tip);
    if (!up_to_date) {
        rc = rebase_mem(m.repo, &m.tip, onto_oid, &new_tip, e);
        rc = rc != 0 ? rc : advance(m.repo, m.branch, &m.tip, &new_tip, path, "agentd: rebase", e);
    }
    if (rc == 0) {
        *out = json_pack("{s:b, s:b, s:s, s:s, s:o, s:o}", "rebased", !up_to_date, "upToDate",
                         up_to_date, "branch", m.branch, "onto", onto, "commit", oid_str(&new_tip),
                         "previous", oid_str(&m.tip));
    }
out:
    git_commit_free(target);
    git_repository_free(m.repo);
    return rc;
}
