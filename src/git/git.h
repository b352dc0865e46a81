/* SPDX-License-Identifier: MIT */
/*
 * git: workspaces and worktrees on real git repositories, through libgit2.
 * Opening and validating a work tree, discovering linked worktrees, creating
 * and removing them safely, status with ahead/behind, branches, checkout,
 * diffs, and the per-workspace setup (files copied, a command run).
 *
 * Threads: the synchronous ad_git_* functions block (disk, possibly long on a
 * large repository) and may run on any thread except the loop thread; each
 * call opens its own repository, so calls on different threads never share
 * libgit2 objects. The loop thread uses ad_git_queue(), which runs one of
 * them on the libuv thread pool and delivers the result on the loop.
 *
 * Results are jansson objects in the wire shape (camelCase keys), documented
 * per function; they are plain data, safe to hand from the pool thread to the
 * loop thread. libgit2 error codes never leave this subsystem: they become
 * AD_E* codes with a message in ad_git_err_t (the library's text is logged).
 */
#ifndef AD_GIT_H
#define AD_GIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "core/core.h"

/* Why an operation failed: a one-line lowercase message, a stable reason
 * ("not_a_repository", "dirty", ...; "" when none applies) and optional
 * details (owned; e.g. {"changedFiles":[...]} for a refusal). Initialise with
 * ad_git_err_init(), release with ad_git_err_cleanup(). */
#define AD_GIT_MSG_MAX 512
typedef struct {
    char msg[AD_GIT_MSG_MAX];
    char reason[48];
    json_t *details;
} ad_git_err_t;

void ad_git_err_init(ad_git_err_t *e);
void ad_git_err_cleanup(ad_git_err_t *e);

/* Initialises libgit2 once per process (later calls do nothing). Called by
 * every function below, so callers need not; any thread. Returns 0 or
 * AD_EINTERNAL. */
int ad_git_global_init(void);

/* Shutdown: setup commands still running are killed (within a second) and
 * later setups refuse with AD_ECLOSED, so no pool thread outlives the
 * daemon's grace period waiting on a child. Any thread; idempotent. */
void ad_git_shutdown(void);

/* ---- validation (pure, any thread) ---------------------------------------- */

/* A worktree name is a folder name: 1-100 bytes of [A-Za-z0-9._-], not
 * starting with '.' or '-', no "..", so it can never escape the base folder.
 * Returns true or false with the reason in why. */
bool ad_git_worktree_name_valid(const char *name, char *why, size_t whysz);
/* A local branch name by git's ref rules (git_branch_name_is_valid), at most
 * 200 bytes. Returns true or false with the reason in why. */
bool ad_git_branch_name_valid(const char *name, char *why, size_t whysz);
/* Where a new worktree `name` of the repository whose main worktree is
 * repo_path goes: <base_dir>/<repo folder name>/<name> when base_dir is set
 * (non-empty), else <parent of repo>/<repo folder name>.worktrees/<name>.
 * Returns 0, AD_EINVAL (bad name, relative paths) or AD_ETOOBIG. */
int ad_git_worktree_default_path(const char *repo_path, const char *base_dir, const char *name,
                                 char *out, size_t outsz);

/* ---- the trust root (trust.c, in the executable; any thread) -----------------
 * A worktree's git folders as agentd's rows give them (issue #73): the
 * repository (a workspace's main worktree, whose .git is the common
 * folder; or, bare, a node's mirror) and the worktree's folder. What the
 * worktree's `.git` file and its git folder's `commondir` say (both
 * writable by an agent) is checked against them, never followed. */
typedef struct {
    char common[4096];    /* the common git folder (real path) */
    char gitdir[4096];    /* the worktree's own git folder (common for the main one) */
    char work_tree[4096]; /* the worktree's folder (real path) */
} ad_git_trust_t;
/* 0 and out when the worktree at wt still is what agentd made of repo:
 * the common folder a real folder with no commondir and no symlink in it;
 * for a linked worktree, its .git a one-line regular file naming
 * <common>/worktrees/<x> (a real folder, no symlink in it) whose
 * commondir names common. AD_EPERM with why (a sentence) otherwise;
 * AD_ENOENT when wt itself is gone (nothing to open or show). */
int ad_git_trust_check(const char *repo, bool bare, const char *wt, ad_git_trust_t *out, char *why,
                       size_t whysz);

/* ---- synchronous operations (never on the loop thread) ---------------------
 * Each returns 0 and sets *out to a new JSON reference (json_decref() it), or
 * a negative AD_E* code with e filled in and *out NULL.
 */

/* Validates that path is the top of a git work tree and resolves the
 * repository's main worktree. Errors: AD_ENOENT "not_found" (no such
 * folder), AD_EINVAL "not_a_repository" (including a sub-folder of a work
 * tree; the message names the top), AD_ESTATE "bare_repository".
 * A linked worktree's path is accepted and resolved to its main worktree.
 * out: {"path": main worktree folder (absolute, no trailing '/'),
 *       "name": its folder name, "gitDir": the common .git folder,
 *       "branch": HEAD's branch or null, "givenWorktree": true when path was
 *       a linked worktree}. */
int ad_git_open(const char *path, json_t **out, ad_git_err_t *e);

/* Lists the main worktree and every linked worktree of the repository whose
 * main worktree is repo_path (made by agentd or by the git CLI).
 * out: {"worktrees":[{"name", "path", "branch" (short name or null when
 *       detached/unknown), "head" (hex id or null when unborn), "detached",
 *       "isMain", "locked", "lockReason" (or null), "prunable" (git would
 *       prune it: its folder is gone), "missing" (folder gone)}]},
 * the main worktree first, then linked ones by name. */
int ad_git_worktree_list(const char *repo_path, json_t **out, ad_git_err_t *e);

typedef struct {
    const char *repo_path; /* main worktree */
    const char *name;      /* worktree name (ad_git_worktree_name_valid) */
    const char *path;      /* absolute folder to create; must not exist */
    const char *branch;    /* local branch to check out there */
    bool create_branch;    /* create `branch` (from base, default HEAD) */
    const char *base;      /* commit-ish for a new branch, or NULL */
} ad_git_add_opts_t;

/* Creates a linked worktree. Refusals: AD_EINVAL (bad name, branch, path or
 * unknown base; reason "invalid_name", "invalid_branch", "unknown_base"),
 * AD_EEXIST (path or worktree name or new branch already exists), AD_ENOENT
 * "unknown_branch" (existing branch missing), AD_ESTATE "branch_checked_out"
 * (the branch is checked out in another worktree). A branch this call
 * created is deleted again if the worktree cannot be made.
 * out: the worktree as in ad_git_worktree_list plus "branchCreated". */
int ad_git_worktree_add(const ad_git_add_opts_t *o, json_t **out, ad_git_err_t *e);

/* Per-workspace setup of a new worktree: copies each of the relative paths
 * in files (a JSON array of strings, may be NULL) from src_path (the main
 * worktree) into wt_path, then runs command (may be NULL or "") with
 * /bin/sh -c in wt_path, stdin from /dev/null, stdout and stderr captured
 * (the first 64 KiB kept), killed after timeout_ms. File paths that are
 * absolute or contain ".." are refused (AD_EINVAL) before anything is done;
 * files missing in src_path are listed, not errors.
 * out: {"copied":[...], "missing":[...], "command", "exitCode" (or null),
 *       "signal" (or null), "timedOut", "output", "outputTruncated"}. A
 * failing command is reported in out, not as an error. */
int ad_git_worktree_setup(const char *src_path, const char *wt_path, json_t *files,
                          const char *command, uint64_t timeout_ms, json_t **out, ad_git_err_t *e);

/* Status of the worktree at wt_path.
 * out: {"isClean", "ahead", "behind", "modified", "staged", "untracked",
 *       "conflicted" (counts of files), "branch" (or null), "detached",
 *       "compareRef" (what ahead/behind count against, or null),
 *       "compareKind": "upstream" | "main" | "none",
 *       "modifiedFiles", "stagedFiles", "untrackedFiles" (the paths behind
 *       those counts, within the first 1000 files),
 *       "files":[{"path", "index", "workdir"}] (first 1000; index/workdir are
 *       "added", "modified", "deleted", "renamed", "typechange",
 *       "untracked", "conflicted" or null), "filesTruncated"}.
 * ahead/behind: against the branch's upstream when it has one; otherwise
 * against the main worktree's HEAD (a linked worktree's commits that are on
 * no upstream and not on the main branch are its "unpushed work"); 0/0 with
 * "none" for the main worktree's own branch without upstream, or an unborn
 * HEAD. */
int ad_git_status(const char *wt_path, json_t **out, ad_git_err_t *e);

/* Removes the linked worktree whose folder is wt_path from the repository
 * whose main worktree is repo_path: deletes the folder (never following
 * symlinks) and prunes git's record of it. The branch is kept. Refusals
 * unless force: AD_ESTATE "dirty" (uncommitted changes, untracked files
 * included) or "unpushed" (ahead > 0, see ad_git_status) with details
 * {"changedFiles":[...], "unpushedCommits", "compareRef"}, AD_ESTATE
 * "locked". Always refused: AD_EPERM "main_worktree"; AD_ESTATE
 * "not_a_worktree" when the folder exists but git does not know it as a
 * worktree of this repository. A worktree already gone (no folder, no git
 * record) succeeds. out: {"removed": folder deleted, "pruned": git record
 * pruned}. */
int ad_git_worktree_remove(const char *repo_path, const char *wt_path, bool force, json_t **out,
                           ad_git_err_t *e);

/* Branches seen from the worktree at wt_path.
 * out: {"local":[names], "remote":[names like "origin/main"],
 *       "current": checked-out branch or null (detached or unborn-less)}. */
int ad_git_branches(const char *wt_path, json_t **out, ad_git_err_t *e);

/* Checks out branch in the worktree at wt_path (create: make it from HEAD
 * first). Refusals: AD_ESTATE "dirty" when tracked files have uncommitted
 * changes (details list them; untracked files do not block and are kept),
 * AD_ESTATE "branch_checked_out" (in another worktree), AD_ENOENT
 * "unknown_branch", AD_EEXIST when create and it exists, AD_EINVAL
 * "invalid_branch". A branch that exists only as origin/<branch> is created
 * locally tracking it. out: {"branch", "head", "created"}. */
int ad_git_checkout(const char *wt_path, const char *branch, bool create, json_t **out,
                    ad_git_err_t *e);

/* The worktree's changes against HEAD (staged and unstaged, untracked files
 * included as added).
 * path NULL: out {"files":[{"path", "oldPath" (or null), "status",
 *   "insertions", "deletions", "binary"}] (first 5000), "insertions",
 *   "deletions" (totals of the listed files), "truncated"}.
 * path set: the patch of that one file: {"path", "patch" (unified diff text,
 *   first 1 MiB), "truncated", "binary"}; AD_ENOENT when it has no changes.
 * path is refused (AD_EINVAL) when absolute or containing "..". */
int ad_git_diff(const char *wt_path, const char *path, json_t **out, ad_git_err_t *e);

/* Like ad_git_worktree_remove() without removing anything: 0 with
 * {"removable": true} when a removal without force would go ahead, else the
 * same refusal ("dirty", "unpushed", "locked", "main_worktree", ...), so a
 * caller can refuse before it stops the worktree's agents. */
int ad_git_worktree_remove_check(const char *repo_path, const char *wt_path, json_t **out,
                                 ad_git_err_t *e);

/* A removal that knows what was merged (issue #32): base (the worktree's
 * base branch, or NULL) and merged (a JSON array of hex commit ids agentd
 * recorded merging, or NULL). Commits "ahead" are no refusal when HEAD is
 * one of merged, or its tree is the tree of a commit on base (or on the
 * compared ref) since the fork point: a squash or rebase landed there. */
typedef struct {
    const char *repo_path;
    const char *wt_path;
    bool force;
    const char *base;
    json_t *merged;
} ad_git_remove_opts_t;
/* ad_git_worktree_remove() (dry: ad_git_worktree_remove_check()) with o. */
int ad_git_worktree_remove_opts(const ad_git_remove_opts_t *o, bool dry, json_t **out,
                                ad_git_err_t *e);

/* ---- review and merge (review.c, merge.c, push.c) ------------------------------
 * A ref given by a user (a base, an "against", "into" or "onto") is a
 * branch name, a remote branch ("origin/main"), a tag or a commit id: never
 * an option, a range or revision syntax. */

/* True when ref may be handed to git: 1-200 bytes, not starting with '-',
 * by git's ref name rules (no "..", "~", "^", ":", "@{", spaces, ...). */
bool ad_git_ref_valid(const char *ref, char *why, size_t whysz);

/* The worktree's work since it left `against`: the diff of the merge base of
 * HEAD and against to the work tree with the index (commits and uncommitted
 * changes alike, untracked files as added).
 * file NULL: out {"against", "againstCommit", "head", "mergeBase", "ahead",
 *   "behind" (HEAD against against), "commits":[...] (as ad_git_commits),
 *   "uncommitted" (changed files in the work tree), "files":[...],
 *   "insertions", "deletions", "truncated"} (files as ad_git_diff);
 * file set: that file's patch as ad_git_diff. Errors: AD_ENOENT
 * "unknown_ref", AD_ESTATE "unborn" (no commit yet) or "unrelated" (no
 * common history). */
int ad_git_review(const char *wt_path, const char *against, const char *file, json_t **out,
                  ad_git_err_t *e);

/* ad_git_review() that also says whether HEAD's work is in against though
 * git counts it ahead: out "merged": {"merged", "how", "commit"}, how
 * "recorded" (merged lists HEAD: hex ids of commits agentd merged, or
 * NULL), "tree" (a commit on against since the fork point has HEAD's tree,
 * "commit": that one: a squash or rebase made elsewhere) or "ancestor"
 * (merged before, and against contains HEAD). */
int ad_git_review_merged(const char *wt_path, const char *against, const char *file, json_t *merged,
                         json_t **out, ad_git_err_t *e);

/* HEAD's commit: out {"id", "shortId", "summary", "message", "author",
 * "email", "time", "branch" (or null when detached)}. AD_ESTATE "unborn"
 * when there is no commit yet. (review.c) */
int ad_git_head(const char *wt_path, json_t **out, ad_git_err_t *e);

/* The commits on HEAD since its merge base with against, newest first,
 * first 500: out {"against", "mergeBase", "commits":[{"id", "shortId",
 * "summary", "message", "author", "email", "time"}], "truncated"}. */
int ad_git_commits(const char *wt_path, const char *against, json_t **out, ad_git_err_t *e);

/* Commits the index of the worktree at wt_path on HEAD (all: every change
 * first, as `git add -A`, ignored files excepted). No hooks run. Refusals:
 * AD_ESTATE "nothing_to_commit", "conflicts" (unmerged paths).
 * out: {"commit", "shortId", "branch", "summary", "files" (paths changed)}. */
int ad_git_commit(const char *wt_path, const char *message, bool all, json_t **out,
                  ad_git_err_t *e);

typedef struct {
    const char *wt_path;  /* the worktree whose branch is merged */
    const char *into;     /* local branch to merge into */
    const char *strategy; /* "merge" (a merge commit), "squash", "rebase" */
    const char *message;  /* commit message, or NULL for the default */
} ad_git_merge_opts_t;

/* Merges the worktree's branch into `into`, computed in memory first: a
 * conflict changes nothing (AD_ESTATE "conflicts", details {"conflicts":
 * [paths]}). When `into` is checked out in a worktree, that worktree is
 * updated too and must have no uncommitted changes to tracked files
 * (AD_ESTATE "target_dirty", details {"changedFiles", "worktreePath"}).
 * The merged worktree must be committed (AD_ESTATE "uncommitted").
 * rebase: the branch is rebased onto `into` (the branch moves, and its
 * worktree follows), then `into` fast-forwards to it. No hooks run.
 * out: {"merged", "upToDate", "strategy", "branch", "into", "commit",
 *       "previous", "targetWorktree" (path or null), "rebasedCommit"?,
 *       "head" (the worktree commit that landed: for rebase the rebased tip)}. */
int ad_git_merge(const ad_git_merge_opts_t *o, json_t **out, ad_git_err_t *e);

/* Rebases the worktree's branch onto `onto` in memory, then moves the
 * branch and checks the result out. Refusals as ad_git_merge ("conflicts"
 * with the commit that conflicts, "uncommitted").
 * out: {"rebased", "upToDate", "branch", "onto", "commit", "previous"}. */
int ad_git_rebase(const char *wt_path, const char *onto, json_t **out, ad_git_err_t *e);

/* Pushes the worktree's branch to remote (NULL: the branch's remote, else
 * "origin", else the only remote) with `git push --set-upstream`, run
 * without a shell (stdin /dev/null, no prompts, inert: src/git/inert.c,
 * on the folders of t, the worktree's trust root; NULL is refused,
 * 2 minutes at most). Refusals: AD_ESTATE "no_remote", "detached",
 * "push_failed" (details {"output"}); AD_EINVAL "invalid_remote".
 * out: {"pushed", "remote", "url" (the remote's, without user info), "branch",
 * "output"}. */
int ad_git_push(const ad_git_trust_t *t, const char *wt_path, const char *remote, json_t **out,
                ad_git_err_t *e);

/* Writes files ([{path, content}], paths relative to dir, a folder below
 * the worktree's top, "" or NULL for the top) into the worktree at wt_path
 * and commits exactly them on HEAD: the commit is HEAD's tree with those
 * blobs, so other staged or changed files stay out of it; the index
 * follows for the written paths. Folders are made as needed and walked
 * with O_NOFOLLOW; an existing file keeps its mode. Refusals: AD_EINVAL
 * "unsafe_path" (absolute, "..", a .git segment, a symlink or a folder in
 * the way), "invalid_message", "no_files"; AD_ESTATE "dirty" (details
 * {changedFiles}: those paths have uncommitted changes, untracked files
 * included) before anything is written; AD_ESTATE "nothing_to_commit"
 * (HEAD has them already). (files.c)
 * out: {"commit", "shortId", "branch", "files" (the paths written)}. */
int ad_git_commit_files(const char *wt_path, const char *dir, json_t *files, const char *message,
                        json_t **out, ad_git_err_t *e);
/* ---- asynchronous layer (loop thread) -------------------------------------- */

/* The bytes of a setup command's output kept (the rest: outputTruncated). */
#define AD_GIT_SETUP_OUTPUT_MAX (64 * 1024)

typedef enum {
    AD_GIT_OP_OPEN,         /* a.path */
    AD_GIT_OP_LIST,         /* a.repo_path */
    AD_GIT_OP_ADD,          /* a.repo_path, name, path, branch, create_branch, base */
    AD_GIT_OP_SETUP,        /* a.repo_path (source), path, files, command, timeout_ms */
    AD_GIT_OP_STATUS,       /* a.path */
    AD_GIT_OP_REMOVE,       /* a.repo_path, path, force, base, merged */
    AD_GIT_OP_BRANCHES,     /* a.path */
    AD_GIT_OP_CHECKOUT,     /* a.path, branch, create_branch */
    AD_GIT_OP_DIFF,         /* a.path, file (or NULL) */
    AD_GIT_OP_REMOVE_CHECK, /* a.repo_path, path, base, merged */
    AD_GIT_OP_REVIEW,       /* a.path, base (against), file (or NULL), merged */
    AD_GIT_OP_COMMITS,      /* a.path, base (against) */
    AD_GIT_OP_COMMIT,       /* a.path, message, force (all) */
    AD_GIT_OP_MERGE,        /* a.path, branch (into), name (strategy), message */
    AD_GIT_OP_REBASE,       /* a.path, base (onto) */
    AD_GIT_OP_PUSH,         /* a.path, name (remote, or NULL) */
    AD_GIT_OP_COMMIT_FILES, /* a.path, file (folder or NULL), files, message */
    AD_GIT_OP_HEAD,         /* a.path */
    /* Worker nodes (issue #34, bundle.c), by the git program:
     * BUNDLE: a.path's a.branch ("HEAD" or a full ref) into the bundle file
     *   a.file, less what a.files (commit ids the other side has) covers
     *   (with a.message, what is left uncommitted committed first with it);
     *   {file, tip, branch (HEAD's branch, "" detached), empty: nothing new}.
     * BUNDLE_FETCH: the bundle a.file's a.branch into a.name (a full ref) of
     *   the repository at a.path (a.create_branch: made bare when missing);
     *   with a.base (a worktree of it), that
     *   worktree's branch fast-forwarded to it when it can be; {tip,
     *   fastForwarded}.
     * NODE_WORKTREE: a.repo_path (a bare mirror, made when missing) gets a
     *   worktree at a.path on branch a.branch from commit a.base, unless it
     *   has one there; {path, head, created}. */
    AD_GIT_OP_BUNDLE,
    AD_GIT_OP_BUNDLE_FETCH,
    AD_GIT_OP_NODE_WORKTREE,
} ad_git_op_t;
/* The op's name ("status", "merge", ...; "git" for none), static. */
const char *ad_git_op_name(ad_git_op_t op);

/* Arguments of a queued operation; strings are borrowed for the call only
 * (the job copies them), files is borrowed too (deep-copied). */
typedef struct {
    const char *repo_path;
    const char *path;
    const char *name;
    const char *branch;
    const char *base;
    const char *file;
    const char *command;
    const char *message;
    json_t *files;
    json_t *merged; /* remove, remove_check, review: heads agentd merged (copied) */
    bool create_branch;
    bool force;
    uint64_t timeout_ms;
    /* The trust root of path (a worktree), from agentd's rows: the
     * repository (the workspace's main worktree, or bare: a node's mirror).
     * When set, the job checks it first (ad_git_trust_check; AD_EPERM
     * "untrusted_git" when it fails) and a git program it runs gets these
     * folders explicitly. */
    const char *trust_repo;
    bool trust_bare;
    const ad_git_trust_t *trust; /* filled by the job for the operation (NULL otherwise) */
} ad_git_args_t;

/* The outcome delivered on the loop: rc 0 with data, or rc < 0 with err.
 * Everything in it is borrowed for the callback's duration (json_incref()
 * data or err.details to keep them). */
typedef struct {
    ad_git_op_t op;
    int rc;
    json_t *data;
    ad_git_err_t err;
    uint64_t elapsed_ns; /* time spent on the pool thread */
} ad_git_result_t;

typedef void (*ad_git_done_cb)(const ad_git_result_t *res, void *ud);

/* Runs op on the libuv thread pool; done is called on the loop thread with
 * the result, exactly once, unless this returns an error (then never).
 * Mutating operations (add, remove, checkout, commit, merge, rebase) on any
 * repository run one at a
 * time, so two requests never race on git's lock files; setups run one at a
 * time too (queued on the loop), so long setup commands never hold more than
 * one pool thread. Loop thread only.
 * Returns 0 or AD_EINVAL (unknown op) / AD_EINTERNAL (libuv refused). */
int ad_git_queue(uv_loop_t *loop, ad_git_op_t op, const ad_git_args_t *a, ad_git_done_cb done,
                 void *ud);

#endif
