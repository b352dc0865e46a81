/* SPDX-License-Identifier: MIT */
/*
 * git: a worktree's work carried between a control plane and its worker
 * nodes (issue #34, docs/nodes.md) as git bundles, made and read by the git
 * program: a fixed argv, no shell, every ref and commit checked first,
 * GIT_* of agentd's own environment dropped, prompts off, hooks off, a
 * bounded time. The control plane bundles a worktree's HEAD for a node;
 * the node keeps a bare mirror per workspace and a worktree of it per
 * agent's worktree, and bundles its work back, which the control plane
 * fetches into a hidden ref (refs/agentd/nodes/<worktree>) and, when it
 * can, fast-forwards its own worktree to. Pool threads only.
 */
#include "git/git_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define BUNDLE_TIMEOUT_MS 300000
#define OUTPUT_MAX (16 * 1024)
#define HAVE_MAX 16

static bool commit_id(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n != 40 && n != 64) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return false;
        }
    }
    return true;
}

/* "HEAD", or a full ref by git's rules. */
static bool ref_ok(const char *ref)
{
    char why[160];
    return ref != NULL && (strcmp(ref, "HEAD") == 0 || (strncmp(ref, "refs/", 5) == 0 &&
                                                        ad_git_ref_valid(ref, why, sizeof(why))));
}

static bool abs_path(const char *p)
{
    return p != NULL && p[0] == '/' && strstr(p, "/../") == NULL && strlen(p) < PATH_MAX - 64;
}

/* Runs git with args in dir, inert (inert.c) on t's folders (NULL: none
 * named); 0 and the output (NUL-terminated, trimmed) when it exited 0;
 * AD_ESTATE with the output as the message otherwise. */
static int git(const ad_git_trust_t *t, const char *dir, const char *const *args, ad_buf_t *out,
               ad_git_err_t *e)
{
    bool truncated = false, timed_out = false;
    int st = 0;
    int rc =
        ad_gitx_inert(t, dir, false, args, BUNDLE_TIMEOUT_MS, out, &truncated, &st, &timed_out, e);
    while (rc == 0 && out->len > 0 && (out->data[out->len - 1] == '\n')) {
        out->data[--out->len] = '\0';
    }
    if (rc == 0 && (timed_out || !WIFEXITED(st) || WEXITSTATUS(st) != 0)) {
        rc = ad_gitx_fail(e, AD_ESTATE, "git_failed", "git %s %s: %.300s", args[0],
                          timed_out ? "took too long" : "failed", out->data ? out->data : "");
    }
    return rc;
}

/* A bare repository agentd made (a node's mirror) as its own trust root:
 * its folder named explicitly, no work tree. */
static bool bare_root(const char *path, ad_git_trust_t *t)
{
    memset(t, 0, sizeof(*t));
    if (realpath(path, t->common) == NULL) {
        return false;
    }
    snprintf(t->gitdir, sizeof(t->gitdir), "%s", t->common);
    return true;
}

/* The commit ref names in dir (a worktree or a bare repository), into out
 * (41+ bytes); with branch (may be NULL), HEAD's branch ("" detached).
 * Through libgit2: a start on an idle node asks this of a worktree that
 * has not moved, and a process per question would be most of its time. */
static int rev(const char *dir, const char *ref, char *out, size_t outsz, char *branch,
               size_t branchsz, ad_git_err_t *e)
{
    git_repository *repo = NULL;
    git_object *obj = NULL;
    git_reference *head = NULL;
    if (git_repository_open_ext(&repo, dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) != 0) {
        return ad_gitx_fail(e, AD_ESTATE, "not_a_repository", "%s is not a git repository", dir);
    }
    int rc = 0;
    if (git_revparse_single(&obj, repo, ref) != 0 || git_object_type(obj) != GIT_OBJECT_COMMIT) {
        rc = ad_gitx_fail(e, AD_ESTATE, "no_commit", "%s names no commit", ref);
    } else {
        git_oid_tostr(out, outsz, git_object_id(obj));
    }
    if (rc == 0 && branch != NULL) {
        branch[0] = '\0';
        if (git_repository_head(&head, repo) == 0 && git_reference_is_branch(head)) {
            snprintf(branch, branchsz, "%s", git_reference_shorthand(head));
        }
    }
    git_reference_free(head);
    git_object_free(obj);
    git_repository_free(repo);
    return rc;
}

static int bundle(const ad_git_args_t *a, json_t **out, ad_git_err_t *e)
{
    if (!abs_path(a->path) || !abs_path(a->file) || !ref_ok(a->branch)) {
        return ad_gitx_fail(e, AD_EINVAL, "", "a bundle needs a folder, a file and a ref");
    }
    if (a->trust == NULL) {
        return ad_gitx_fail(e, AD_EPERM, "untrusted_git",
                            "a bundle needs the worktree's repository from agentd's rows");
    }
    ad_buf_t b;
    ad_buf_init(&b, OUTPUT_MAX);
    if (a->message != NULL) { /* what the agent left uncommitted goes too, as a commit */
        const char *st[] = {"status", "--porcelain", "--untracked-files=all", NULL};
        const char *add[] = {"add", "-A", NULL};
        const char *commit[] = {"-c",          "user.name=agentd",
                                "-c",          "user.email=agentd@localhost",
                                "commit",      "--quiet",
                                "--no-verify", "-m",
                                a->message,    NULL};
        int src = git(a->trust, a->path, st, &b, e);
        if (src == 0 && b.len > 0) {
            ad_buf_reset(&b);
            src = git(a->trust, a->path, add, &b, e);
            ad_buf_reset(&b);
            src = src != 0 ? src : git(a->trust, a->path, commit, &b, e);
        }
        ad_buf_reset(&b);
        if (src != 0) {
            ad_buf_cleanup(&b);
            return src;
        }
    }
    char tip[72], branch[256] = "";
    int rc = rev(a->path, a->branch, tip, sizeof(tip), branch, sizeof(branch), e);
    if (rc != 0) {
        ad_buf_cleanup(&b);
        return rc;
    }
    if (strcmp(a->branch, "HEAD") != 0) {
        branch[0] = '\0';
    }
    /* what the other side has: never twice; a commit unknown here is left out */
    const char *args[8 + HAVE_MAX] = {"bundle", "create", "--quiet", a->file, a->branch};
    size_t n = 5;
    char nots[HAVE_MAX][80];
    bool empty = false;
    size_t i;
    json_t *h;
    json_array_foreach(a->files, i, h)
    {
        const char *id = json_string_value(h);
        char have[72];
        if (n >= 5 + HAVE_MAX || !commit_id(id)) {
            continue;
        }
        if (strcmp(id, tip) == 0) {
            empty = true; /* it has the tip: nothing to send */
        }
        ad_buf_reset(&b);
        if (rev(a->path, id, have, sizeof(have), NULL, 0, e) == 0) {
            snprintf(nots[n - 5], sizeof(nots[0]), "^%s", have);
            args[n] = nots[n - 5];
            n++;
        }
        ad_git_err_cleanup(e);
        ad_git_err_init(e);
    }
    args[n] = NULL;
    ad_buf_reset(&b);
    if (!empty) {
        rc = git(a->trust, a->path, args, &b, e);
    }
    ad_buf_cleanup(&b);
    if (rc == 0) {
        struct stat st;
        *out = json_pack("{s:s, s:s, s:s, s:b, s:I}", "file", a->file, "tip", tip, "branch", branch,
                         "empty", empty, "bytes",
                         (json_int_t)(!empty && stat(a->file, &st) == 0 ? st.st_size : 0));
    }
    return rc;
}

static int bundle_fetch(const ad_git_args_t *a, json_t **out, ad_git_err_t *e)
{
    if (!abs_path(a->path) || !abs_path(a->file) || !ref_ok(a->branch) || a->name == NULL ||
        strncmp(a->name, "refs/", 5) != 0 || !ref_ok(a->name) ||
        (a->base != NULL && !abs_path(a->base))) {
        return ad_gitx_fail(e, AD_EINVAL, "", "a fetch needs a repository, a bundle and refs");
    }
    char spec[700], tip[72];
    snprintf(spec, sizeof(spec), "+%s:%s", a->branch, a->name);
    ad_buf_t b;
    ad_buf_init(&b, OUTPUT_MAX);
    const char *verify[] = {"bundle", "verify", "--quiet", a->file, NULL};
    const char *fetch[] = {"fetch", "--no-tags", "--no-write-fetch-head", "--quiet", "--", a->file,
                           spec,    NULL};
    int rc = 0;
    struct stat st;
    if (a->create_branch && stat(a->path, &st) != 0) { /* a node's first mirror of it */
        const char *init[] = {"init", "--quiet", "--bare", a->path, NULL};
        rc = git(NULL, "/", init, &b, e);
        ad_buf_reset(&b);
    }
    /* a worktree's repository as its trust root says, or a bare mirror */
    ad_git_trust_t bare;
    const ad_git_trust_t *t = a->trust;
    if (rc == 0 && t == NULL && !bare_root(a->path, &bare)) {
        rc = ad_gitx_fail(e, AD_ENOENT, "not_a_repository", "%s is gone", a->path);
    }
    t = t != NULL ? t : &bare;
    rc = rc != 0 ? rc : git(t, a->path, verify, &b, e);
    if (rc == 0) {
        ad_buf_reset(&b);
        rc = git(t, a->path, fetch, &b, e);
    }
    if (rc == 0) {
        rc = rev(a->path, a->name, tip, sizeof(tip), NULL, 0, e);
    }
    bool ff = false;
    if (rc == 0 && a->base != NULL) {
        /* its work on the worktree's own branch, when that only moves it on
         * (a worktree with changes of its own, or a branch gone elsewhere,
         * keeps the hidden ref for review instead) */
        const char *merge[] = {"merge", "--ff-only", "--quiet", tip, NULL};
        ad_buf_reset(&b);
        ad_git_err_t e2;
        ad_git_err_init(&e2);
        /* only the worktree the trust root is of */
        ff = a->trust != NULL && strcmp(a->base, a->path) == 0 &&
             git(a->trust, a->base, merge, &b, &e2) == 0;
        ad_git_err_cleanup(&e2);
    }
    ad_buf_cleanup(&b);
    if (rc == 0) {
        *out = json_pack("{s:s, s:s, s:b}", "ref", a->name, "tip", tip, "fastForwarded", ff);
    }
    return rc;
}

static int node_worktree(const ad_git_args_t *a, json_t **out, ad_git_err_t *e)
{
    char why[160];
    if (!abs_path(a->repo_path) || !abs_path(a->path) || !commit_id(a->base) || a->branch == NULL ||
        !ad_git_branch_name_valid(a->branch, why, sizeof(why))) {
        return ad_gitx_fail(e, AD_EINVAL, "",
                            "a node worktree needs a mirror, a folder, a "
                            "branch and a commit");
    }
    ad_buf_t b;
    ad_buf_init(&b, OUTPUT_MAX);
    struct stat st;
    char git_file[PATH_MAX + 8], head[72];
    snprintf(git_file, sizeof(git_file), "%s/.git", a->path);
    int rc = 0;
    bool created = stat(git_file, &st) != 0;
    if (stat(a->repo_path, &st) != 0) {
        const char *init[] = {"init", "--quiet", "--bare", a->repo_path, NULL};
        rc = git(NULL, "/", init, &b, e);
    }
    if (rc == 0 && created) {
        const char *add[] = {"worktree", "add", "--quiet", "-B", a->branch, a->path, a->base, NULL};
        ad_git_trust_t t;
        ad_buf_reset(&b);
        rc = bare_root(a->repo_path, &t)
                 ? git(&t, a->repo_path, add, &b, e)
                 : ad_gitx_fail(e, AD_ENOENT, "not_a_repository", "%s is gone", a->repo_path);
    }
    bool ff = false;
    if (rc == 0 && !created) {
        /* one an earlier run made moves on to what the control plane has
         * now, when that only moves it on: its work came home at that
         * run's end (committed there), and the plane's commits since (a
         * moved agent's, issue #76) come after it; one with work of its
         * own, or gone elsewhere, stays as it is */
        const char *merge[] = {"merge", "--ff-only", "--quiet", a->base, NULL};
        ad_git_trust_t t;
        ad_git_err_t e2;
        char why2[200];
        ad_git_err_init(&e2);
        ad_buf_reset(&b);
        ff = ad_git_trust_check(a->repo_path, true, a->path, &t, why2, sizeof(why2)) == 0 &&
             git(&t, a->path, merge, &b, &e2) == 0;
        ad_git_err_cleanup(&e2);
    }
    ad_buf_cleanup(&b);
    if (rc == 0) {
        rc = rev(a->path, "HEAD", head, sizeof(head), NULL, 0, e);
    }
    if (rc == 0) {
        *out = json_pack("{s:s, s:s, s:b, s:b}", "path", a->path, "head", head, "created", created,
                         "fastForwarded", ff);
    }
    return rc;
}

int ad_git_bundle_op(ad_git_op_t op, const ad_git_args_t *a, json_t **out, ad_git_err_t *e)
{
    switch (op) {
    case AD_GIT_OP_BUNDLE:
        return bundle(a, out, e);
    case AD_GIT_OP_BUNDLE_FETCH:
        return bundle_fetch(a, out, e);
    case AD_GIT_OP_NODE_WORKTREE:
        return node_worktree(a, out, e);
    default:
        return ad_gitx_fail(e, AD_EINVAL, "", "unknown git operation");
    }
}
