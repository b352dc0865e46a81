/* SPDX-License-Identifier: MIT */
/*
 * wtree: agentd's workspaces and worktrees as a user changes them. Each
 * request runs in steps: the git work on the thread pool (src/git), the
 * rows it writes (src/store), the events it publishes (the bus), and the
 * agents it stops first (src/run) before a worktree goes. Its outcome comes
 * back once, through a callback, in agentd's terms: an AD_E* code with
 * what failed, git's own error, or the answer's object. The REST layer
 * (src/api: workspaces.c, ws_edit.c, worktrees.c, wt_create.c, wt_git.c,
 * review.c, pr.c) reads the request, checks who may ask and turns the
 * outcome into a status.
 *
 * Events: worktree_created {row}, worktree_updated {row, change: branch,
 * setup, commit, merge, rebase, push, merged_into, vanished, restored},
 * worktree_deleted {id, workspaceId, agentIds}, agent_update {id,
 * worktreeVanished}, workspace_created, workspace_updated, each on the
 * worktree's, workspace's and org's topics.
 *
 * Ownership: the engine is the app's (ad_wtree_new / ad_wtree_close); the
 * JSON given to a request is borrowed (copied where it is kept). A
 * request's outcome and its data are borrowed for the callback's length.
 * Threads: loop thread only.
 */
#ifndef AD_WTREE_H
#define AD_WTREE_H

#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

#include "auth/auth.h"
#include "bus/bus.h"
#include "core/config.h"
#include "core/core.h"
#include "git/git.h"
#include "store/store.h"

struct ad_runner;
struct ad_procs;
struct ad_plane;
typedef struct ad_wtree ad_wtree_t;

/* How a request ended. */
typedef struct {
    int rc;                     /* 0, or an AD_E* code (AD_ECLOSED: agentd is closing) */
    const ad_git_result_t *git; /* the git step that failed (rc is its rc), or NULL */
    const char *msg;            /* rc != 0 and no git: what failed */
    json_t *details;            /* with msg: the error's details, or NULL */
    json_t *data;               /* rc 0: the answer */
    const char *code;           /* with msg: the answer's error code, or NULL: rc's own */
} ad_wtree_out_t;
typedef void (*ad_wtree_cb)(void *ud, const ad_wtree_out_t *out);

/* A new engine on the app's parts (borrowed; runner and procs may be NULL:
 * no agent can be stopped, a setup command of another org cannot run). */
ad_wtree_t *ad_wtree_new(uv_loop_t *loop, const ad_config_t *cfg, ad_store_t *store, ad_bus_t *bus,
                         struct ad_runner *runner, struct ad_procs *procs);
/* Marks the engine closed (the store is gone): a step that comes back
 * later ends its request with AD_ECLOSED. The memory goes when the last
 * request has ended. */
void ad_wtree_close(ad_wtree_t *W);
/* The worker nodes (src/node, borrowed; NULL: none). While a run works in
 * a worktree on a node, that worktree's status, diff and commit are asked
 * of the node; merge, rebase, push, checkout and a project's files end
 * AD_ESTATE with code WORKTREE_ON_NODE until the run's end brings its work
 * home (docs/nodes.md). */
void ad_wtree_set_plane(ad_wtree_t *W, struct ad_plane *plane);

/* ---- workspaces (workspace.c) ------------------------------------------------------- */
/* Whether who may register path for org: an admin, or a folder under one
 * of the org's workspace_roots (the setting; paths compared after
 * realpath). */
bool ad_wtree_path_allowed(ad_wtree_t *W, const ad_principal_t *who, const char *org,
                           const char *path);
/* Registers the work tree at body.path (checked by the caller: path, name,
 * setup) for org, with every worktree git lists: AD_EPERM when the
 * repository git found (upwards too) is not allowed to who; git's error
 * (ws_create: every "no work tree" reason is the path's); AD_EEXIST with
 * details when it is a workspace already; else data: the workspace with
 * its worktrees. */
void ad_wtree_ws_create(ad_wtree_t *W, const ad_principal_t *who, const char *org, json_t *body,
                        ad_wtree_cb cb, void *ud);
/* Refreshes workspace ws (its row): its worktree rows follow what git
 * lists, each change published; data: the workspace with worktrees and
 * changes. A repository that is unusable now is AD_ESTATE. */
void ad_wtree_ws_refresh(ad_wtree_t *W, json_t *ws, ad_wtree_cb cb, void *ud);
/* A workspace's setup {setupFiles, setupCommand, setupCommandApproved}
 * from its row. New reference. */
json_t *ad_wtree_setup_view(json_t *ws);
#define AD_WTREE_SETUP_FILES_MAX 64
#define AD_WTREE_SETUP_COMMAND_MAX 4096
/* body's setupFiles (at most 64 relative paths inside the repository, no
 * "..") and setupCommand (a string of at most 4096 bytes): 0, or AD_EINVAL
 * with the message in msg and *details (new) naming the field (and the
 * file's index). Setting a non-empty command is admin's: the caller checks
 * that between the two. */
int ad_wtree_setup_files_check(const json_t *body, char *msg, size_t msgsz, json_t **details);
int ad_wtree_setup_command_check(const json_t *body, char *msg, size_t msgsz, json_t **details);
/* The setup update's args {id, now, setupFiles?, setupCommand?} from a
 * checked body (reqs.c; new reference). A workspace's PATCH body: only
 * sandbox, which is required, into *sandbox (borrowed; its value is
 * checked by the caller); 0, or AD_EINVAL with e. */
json_t *ad_wtree_setup_args(const char *id, const json_t *body, int64_t now);
int ad_wtree_ws_patch_check(const json_t *body, json_t **sandbox, ad_field_err_t *e);
/* A worktree's PATCH {name?, branch?, baseBranch?, sortMode? (free,
 * status, name), displayOrder?} as the update's args {id, now, ...} (*out
 * new): a name, branch or base git would read as an option or a range is
 * refused as at create. 0, or AD_EINVAL with e. */
int ad_wtree_update_args(const char *id, const json_t *body, int64_t now, json_t **out,
                         ad_field_err_t *e);
/* POST /api/workspaces's path (required; *path borrowed) and name (1 to
 * 200 characters, or null). 0, or AD_EINVAL with e. */
int ad_wtree_ws_body_check(const json_t *body, const char **path, ad_field_err_t *e);
/* POST /api/worktrees's body: workspaceId given, name a worktree name,
 * branch (default: name) a branch name, createBranch a boolean and base a
 * commit-ish of 1 to 256 bytes or null. 0, or AD_EINVAL with e.why the
 * whole message and e.field the field ("" for createBranch or base). */
int ad_wtree_create_check(const json_t *body, ad_field_err_t *e);
/* A checkout's body {branch (a branch name), create?: boolean}: 0, or
 * AD_EINVAL with e as above. */
int ad_wtree_checkout_check(const json_t *body, ad_field_err_t *e);
/* A pull request's body {title (1 to 256 bytes), body? (at most 64 KiB),
 * draft?, remote? (a ref name, never an option or a URL)}: 0, or
 * AD_EINVAL with e naming the field. */
int ad_wtree_pr_check(const json_t *body, ad_field_err_t *e);

/* ---- worktrees (worktree.c) ---------------------------------------------------------- */
typedef struct {
    json_t *ws;       /* the workspace's row */
    json_t *body;     /* {name, branch?, createBranch?, base?} checked by the caller */
    const char *path; /* where it goes (ad_git_worktree_default_path) */
    json_t *setup;    /* what runs in it after: ad_wtree_setup_for (taken) */
    bool make_branch; /* a branch that exists nowhere, asked for without
                       * createBranch or base, is made from HEAD (not a 404) */
} ad_wtree_create_t;
/* The setup a new worktree of ws gets: its files, and its command only once
 * approved; a command nobody approved yet is left out and named
 * (pendingCommand, commandNeedsApproval) unless approve, which approves it.
 * New reference. */
json_t *ad_wtree_setup_for(ad_wtree_t *W, json_t *ws, bool approve);
/* Makes the worktree (git), writes its row, publishes worktree_created and
 * ends (data: the row, branchCreated, setup {state: running} when a setup
 * follows, setupCommandNeedsApproval); then runs the setup in it and
 * publishes its outcome as worktree_updated {change: setup}. */
void ad_wtree_create(ad_wtree_t *W, const ad_wtree_create_t *c, ad_wtree_cb cb, void *ud);
/* Runs ws's setup (files, then command) again in worktree wt: the row says
 * running first; AD_ESTATE "no setup" when it has none, AD_EPERM with the
 * command in details when it is not approved and approve is false. data:
 * {worktreeId, setup: {state: running}}; the outcome is an event. */
void ad_wtree_setup_run(ad_wtree_t *W, json_t *wt, json_t *ws, bool approve, ad_wtree_cb cb,
                        void *ud);
/* Removes worktree wt: unless stop, an agent of it that runs refuses
 * (AD_ESTATE, details {reason: agents_running, agents: [{id, name,
 * status}]}); unless force, uncommitted or unpushed work refuses (git's
 * error) before any agent is stopped; then its running agents are stopped,
 * its folder removed, its row marked removed and its agents archived (their
 * transcripts, runs and metrics kept). data {deleted, worktree, git,
 * agentIds, archived}. */
void ad_wtree_delete(ad_wtree_t *W, json_t *wt, bool force, bool stop, ad_wtree_cb cb, void *ud);
/* Checks out branch (create: a new one) in wt; data {worktree, checkout}. */
void ad_wtree_checkout(ad_wtree_t *W, json_t *wt, const char *branch, bool create, ad_wtree_cb cb,
                       void *ud);
/* One git read of wt's folder (AD_GIT_OP_STATUS, _BRANCHES, _DIFF with
 * file); data: git's answer. */
void ad_wtree_read(ad_wtree_t *W, json_t *wt, ad_git_op_t op, const char *file, ad_wtree_cb cb,
                   void *ud);

/* ---- review and merge (review.c) ----------------------------------------------------- */
/* The worktree commits agentd recorded merging: a new array of hex ids. */
json_t *ad_wtree_merged_heads(ad_wtree_t *W, const char *wt_id);
/* The review of wt against ref (AD_GIT_OP_REVIEW with file, or
 * AD_GIT_OP_COMMITS): data git's answer with baseBranch and, when merged,
 * the recorded merge (a squash found on the base by its tree is recorded
 * now). */
void ad_wtree_review(ad_wtree_t *W, json_t *wt, ad_git_op_t op, const char *ref, const char *file,
                     ad_wtree_cb cb, void *ud);
/* A write of wt: change "commit", "merge", "rebase" or "push" with its git
 * arguments (a.path is wt's). A merge is recorded before the outcome;
 * worktree_updated {change, git} is published (and merged_into on the
 * worktree that has the target checked out). data: git's answer. */
void ad_wtree_write(ad_wtree_t *W, json_t *wt, const char *change, ad_git_op_t op,
                    const ad_git_args_t *a, ad_wtree_cb cb, void *ud);

/* What a review or a write names (reqs.c), any thread. 0, or AD_EINVAL
 * with err: e the field and why, ref_reason "no_base" (wt has no base
 * branch to default to) or "invalid_ref" when the ref named is refused,
 * NULL for any other refusal. A ref: given, or wt's base branch when
 * given is NULL or "base", into *ref (borrowed). A write's body (commit
 * {message, all?}, merge {into?, strategy? (merge, squash, rebase),
 * message?}, rebase {onto?}, push {remote?}) into *a (zeroed; a->path
 * wt's; strings borrowed from wt and body). */
typedef struct {
    ad_field_err_t e;
    const char *ref_reason;
} ad_wtree_req_err_t;
int ad_wtree_req_ref(const json_t *wt, const char *given, const char *field, const char **ref,
                     ad_wtree_req_err_t *err);
int ad_wtree_req_write(ad_git_op_t op, const json_t *wt, const json_t *body, ad_git_args_t *a,
                       ad_wtree_req_err_t *err);
/* The words of a refused ref (err->ref_reason set) into msg: "this
 * worktree has no base branch; name one with <field>" (no_base), else
 * "<field>: <why>". */
void ad_wtree_req_ref_why(const ad_wtree_req_err_t *err, char *msg, size_t n);

/* Project project_id's files (src/store) written under body.path in wt and
 * committed with body.message (default "Add project <name>"); AD_ESTATE
 * {reason: no_files} when it has none. data: git's answer with projectId
 * and worktreeId; worktree_updated {change: commit} published. */
#define AD_WTREE_COMMIT_MESSAGE_MAX 4000
void ad_wtree_commit_project(ad_wtree_t *W, json_t *wt, const char *project_id, json_t *body,
                             ad_wtree_cb cb, void *ud);

/* ---- pull requests (pr.c) ------------------------------------------------------------ */
struct ad_creds;
/* Pushes wt's branch (body.remote, or its upstream), finds the forge the
 * remote is on, opens a pull request into wt's base branch with the org's
 * token from creds (an open one there is taken over: existing: true),
 * records it and publishes worktree_updated {change: pr, pr}. data: the
 * pull request with push {remote, branch}. Errors: git's; AD_EINVAL with
 * details {reason: unknown_forge, invalid_remote or no_token}; AD_EIO
 * with details {reason: forge_auth, forge_not_found, forge_refused,
 * forge_unreachable or forge_error, forgeStatus}: the forge failed;
 * AD_EAGAIN: the forge cannot be called. body {title, body?, draft?,
 * remote?} is checked by the caller. */
void ad_wtree_pr_open(ad_wtree_t *W, struct ad_creds *creds, json_t *wt, json_t *body,
                      ad_wtree_cb cb, void *ud);
/* wt's recorded pull request with its state and checks read again from the
 * forge and kept (refreshError instead when the forge cannot say or no
 * token is stored). AD_ENOENT with details {reason: no_pr} when none. */
void ad_wtree_pr_status(ad_wtree_t *W, struct ad_creds *creds, json_t *wt, ad_wtree_cb cb,
                        void *ud);

/* A git failure as an API answers it (answer.c): the details (new
 * reference) with *status and *code. ref_field: a ref that names nothing
 * (unknown_ref, unknown_branch) is a 422 on that field; ws_create: every
 * "this is no work tree" reason is a 422 on "path"; a missing worktree
 * folder (not_found) is 409 WORKTREE_MISSING. Any thread. */
json_t *ad_wtree_git_error(const ad_git_result_t *res, const char *ref_field, bool ws_create,
                           int *status, const char **code);

/* worktree_updated (or _created) of row wt with its change (may be NULL). */
void ad_wtree_publish(ad_wtree_t *W, const char *type, const char *change, json_t *wt);
/* The events of the rows' own changes (PATCH, reorder, delete, setup:
 * store writes, not git work), each to the row's topics, in this order:
 * worktree_updated of worktree row wt as stored (on worktree, workspace,
 * org); worktree_updated {id, displayOrder} of each row of worktrees (a
 * reorder); workspace_updated of workspace row ws (on workspace, org); and
 * workspace_deleted {id, worktreeIds, agentIds, archived} of a workspace
 * delete's result (on workspace, system, org). Borrowed; W may be NULL
 * (nothing is published). */
void ad_wtree_publish_row(ad_wtree_t *W, json_t *wt);
void ad_wtree_publish_order(ad_wtree_t *W, json_t *worktrees);
void ad_wtree_publish_ws(ad_wtree_t *W, json_t *ws);
void ad_wtree_publish_ws_deleted(ad_wtree_t *W, json_t *result);

/* The subsystem as an engine of the daemon (plugin.c; src/engine/engine.h;
 * src/engines.c opens it). */
extern const struct ad_engine ad_wtree_engine;

#endif
