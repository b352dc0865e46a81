/* SPDX-License-Identifier: MIT */
/*
 * git: helpers shared by the files of this subsystem only. libgit2 error
 * translation, opening a work tree, path checks. Not for other subsystems.
 */
#ifndef AD_GIT_INT_H
#define AD_GIT_INT_H

#include <git2.h>

#include "git/git.h"

/* ---- the library and its loader (backend.c, front.c) ------------------------
 * src/git but front.c and async.c is agentd-git.so, loaded on first use. */
typedef struct {
    int (*init)(void); /* ad_git_global_init() */
    /* Runs one queued operation (a pool thread); 0 or an AD_E* code with e. */
    int (*exec)(ad_git_op_t op, const ad_git_args_t *a, json_t **out, ad_git_err_t *e);
    bool (*branch_name_valid)(const char *name, char *why, size_t whysz);
} ad_git_backend_t;
/* The library's table (backend.c): its one exported symbol. front.c refers
 * to it weakly, so it is defined only where the library's objects are
 * linked in (unit tests). */
const ad_git_backend_t *ad_git_backend(void);
/* The table, loading the library on the first call (any thread); NULL with
 * e filled (reason "git_unavailable") when it cannot be loaded. */
const ad_git_backend_t *ad_gitx_backend(ad_git_err_t *e);
/* The table loaded and libgit2 set up (front.c: on the loop thread, on
 * purpose). 0, or AD_EINTERNAL with e filled. */
int ad_gitx_ready(ad_git_err_t *e);
/* The check behind ad_git_branch_name_valid(), with libgit2 (repo.c). */
bool ad_gitx_branch_name_valid(const char *name, char *why, size_t whysz);
/* True once ad_git_shutdown() was called (setup commands end). */
bool ad_gitx_shutting_down(void);

/* libgit2's memory, bounded per job (alloc.c): the allocator, set once
 * before libgit2's own set-up; 0 or AD_EINTERNAL. Between begin() and end()
 * (one job, its thread) an allocation past the bound is refused; end() is
 * true when one was, with the bound in *bound. */
int ad_gitx_alloc_setup(void);
void ad_gitx_mem_begin(void);
bool ad_gitx_mem_end(size_t *bound);

/* Drops what a job answered so far (e's details, *data), before a refusal
 * that says more replaces it (async.c, backend.c). */
void ad_gitx_drop(ad_git_err_t *e, json_t **data);
/* Fills e (message from fmt, reason) and returns code. */
int ad_gitx_fail(ad_git_err_t *e, int code, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Translates a libgit2 return code into an AD_E* code, logs libgit2's own
 * message and fills e with "<what>: <libgit2 message>". */
int ad_gitx_lib(ad_git_err_t *e, int gitrc, const char *what);

/* Opens the work tree whose top is exactly path (no upward search). Errors
 * as ad_git_open(). The repository is owned: git_repository_free(). */
int ad_gitx_open_worktree(const char *path, git_repository **out, ad_git_err_t *e);

/* Copies path into out without trailing slashes ("/" stays "/"). */
int ad_gitx_path_trim(const char *path, char *out, size_t outsz);
/* True when rel is a relative path with no "..", no empty or "."-only
 * components, no NUL; what a caller may join below a folder. */
bool ad_gitx_rel_path_safe(const char *rel);

/* The main worktree's folder of the repository repo belongs to (the parent
 * of the common .git folder); trailing slash removed. */
int ad_gitx_main_path(git_repository *repo, char *out, size_t outsz);

/* The commit HEAD of repo points at; AD_ENOENT when unborn. */
int ad_gitx_head_oid(git_repository *repo, git_oid *oid);

/* HEAD's branch short name as a JSON string, or JSON null (detached, no
 * HEAD). An unborn branch is named too: a fresh repository is on "main"
 * before its first commit. Returns a new reference. */
json_t *ad_gitx_head_branch_json(git_repository *repo);

/* A JSON string of the n bytes at s, invalid UTF-8 (binary output, a cut
 * character) replaced by '?'. Returns a new reference. */
json_t *ad_gitx_json_text(const char *s, size_t n);

/* Looks up a local branch, or makes one tracking origin/<name> when only
 * that exists (what `git checkout <name>` does); *created tells which.
 * AD_ENOENT "unknown_branch" when neither exists. */
int ad_gitx_local_branch(git_repository *repo, const char *name, git_reference **out, bool *created,
                         ad_git_err_t *e);

/* Appends every changed path of the work tree (untracked included when
 * untracked is set, ignored never) to arr, at most max; returns the total
 * count through *total. */
int ad_gitx_changed_files(git_repository *repo, bool untracked, json_t *arr, size_t max,
                          size_t *total, ad_git_err_t *e);

/* Ahead/behind as documented at ad_git_status(); kind is "upstream", "main"
 * or "none" and compare_ref the name counted against (empty for none). */
int ad_gitx_ahead_behind(git_repository *repo, size_t *ahead, size_t *behind, const char **kind,
                         char *compare_ref, size_t refsz, ad_git_err_t *e);

/* Whether head's work is in other though git counts it ahead (merged.c):
 * "recorded" when heads (a JSON array of hex commit ids agentd merged, or
 * NULL) lists head, "tree" when a commit on other since their merge base
 * has head's tree (its id into at), else NULL. */
const char *ad_gitx_merged_into(git_repository *repo, const git_oid *head, const git_oid *other,
                                json_t *heads, git_oid *at);
/* The diff of tree (NULL: empty) against the work tree with the index,
 * untracked files shown as added; only `path` when given (pathspec magic
 * off). Owned by the caller: git_diff_free(). */
int ad_gitx_diff_workdir(git_repository *repo, git_tree *tree, const char *path, git_diff **out,
                         ad_git_err_t *e);
/* {"files":[{path, oldPath, status, insertions, deletions, binary}] (first
 * 5000), "insertions", "deletions", "truncated"} of diff. New reference. */
json_t *ad_gitx_diff_files(git_diff *diff);
/* The patch of the diff's only file (a diff made with that path):
 * {path, patch (first 1 MiB), truncated, binary}; AD_ENOENT "no_changes". */
int ad_gitx_diff_patch(git_diff *diff, const char *path, json_t **out, ad_git_err_t *e);

/* The commit a validated ref names (a branch, remote branch, tag or commit
 * id, as git would read it). AD_ENOENT "unknown_ref" when none. Owned. */
int ad_gitx_resolve_commit(git_repository *repo, const char *ref, git_commit **out,
                           ad_git_err_t *e);

/* The committer to use: the repository's user.name/email, else "agentd". */
int ad_gitx_signature(git_repository *repo, git_signature **out);

/* Runs argv (argv[0] an absolute program path; no shell unless that is the
 * program) in dir with envp (NULL: agentd's), stdin /dev/null, stdout and
 * stderr into output (up to its max, the rest drained: *truncated), killed
 * with its process group after timeout_ms or at shutdown (*timed_out).
 * *status is waitpid's. 0, or AD_EIO when it cannot be started. */
/* push.c: the git program on PATH when its path is absolute. */
bool ad_gitx_find_git(char *out, size_t outsz);
/* inert.c: the git program with args in dir, inert (issue #73): the
 * repository t's folders given explicitly (t NULL: none named, for an init
 * or a bare mirror agentd made), no system or global config, hooks off,
 * every program the repository's config names for a filter, diff, merge,
 * signing, credentials or a remote emptied, only the file, http(s) and ssh
 * transports. user_creds (a push): the user's HOME and the credential
 * helpers of the user's own global config (never the repository's). As
 * ad_gitx_run otherwise; AD_EPERM "untrusted_git" when the config cannot
 * be made inert. git's HOME (but a push's) is an empty folder made for the
 * call under $TMPDIR (or /tmp) and removed after it. */
int ad_gitx_inert(const ad_git_trust_t *t, const char *dir, bool user_creds,
                  const char *const *args, uint64_t timeout_ms, ad_buf_t *out, bool *truncated,
                  int *status, bool *timed_out, ad_git_err_t *e);
/* bundle.c: a worktree's work carried to and from worker nodes (issue
 * #34) as git bundles, by the git program. */
int ad_git_bundle_op(ad_git_op_t op, const ad_git_args_t *a, json_t **out, ad_git_err_t *e);
int ad_gitx_run(const char *dir, char *const argv[], char *const envp[], uint64_t timeout_ms,
                ad_buf_t *output, bool *truncated, int *status, bool *timed_out, ad_git_err_t *e);

#endif
