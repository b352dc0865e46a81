/* SPDX-License-Identifier: MIT */
/*
 * git: whether a worktree's work is already in a base branch, though git's
 * own count still says "ahead". Two ways: agentd recorded merging that very
 * commit (a squash leaves the branch's commits off the base for good), or a
 * commit on the base since the fork point has the worktree's tree (a squash
 * or a rebase made elsewhere, with the git CLI or a forge). Pool threads.
 */
#include "git/git_int.h"

#include <string.h>

#define TREE_WALK_MAX 2000 /* commits of the base looked at, newest first */

static bool listed(json_t *heads, const git_oid *head)
{
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof(hex), head);
    size_t i;
    json_t *v;
    json_array_foreach(heads, i, v)
    {
        const char *s = json_string_value(v);
        if (s != NULL && strcmp(s, hex) == 0) {
            return true;
        }
    }
    return false;
}

/* A commit reachable from other, not from their merge base, whose tree is
 * head's tree: its id into at. */
static bool tree_on(git_repository *repo, const git_oid *head, const git_oid *other, git_oid *at)
{
    git_commit *hc = NULL;
    git_revwalk *w = NULL;
    git_oid base, oid;
    bool found = false;
    if (git_commit_lookup(&hc, repo, head) != 0) {
        return false;
    }
    const git_oid *tree = git_commit_tree_id(hc);
    if (git_merge_base(&base, repo, head, other) == 0 && git_revwalk_new(&w, repo) == 0 &&
        git_revwalk_push(w, other) == 0 && git_revwalk_hide(w, &base) == 0) {
        for (int n = 0; !found && n < TREE_WALK_MAX && git_revwalk_next(&oid, w) == 0; n++) {
            git_commit *c = NULL;
            if (git_commit_lookup(&c, repo, &oid) == 0 &&
                git_oid_equal(git_commit_tree_id(c), tree)) {
                git_oid_cpy(at, &oid);
                found = true;
            }
            git_commit_free(c);
        }
    }
    git_revwalk_free(w);
    git_commit_free(hc);
    return found;
}

const char *ad_gitx_merged_into(git_repository *repo, const git_oid *head, const git_oid *other,
                                json_t *heads, git_oid *at)
{
    git_oid_cpy(at, other);
    if (heads != NULL && listed(heads, head)) {
        return "recorded";
    }
    if (git_oid_equal(head, other)) {
        return NULL; /* nothing of its own, or the base is the worktree itself */
    }
    return tree_on(repo, head, other, at) ? "tree" : NULL;
}
