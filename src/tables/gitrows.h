/* SPDX-License-Identifier: MIT */
/*
 * tables: git worktrees, recorded merges and pull requests (gitrows.c, merges.c, prs.c).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_GITROWS_H
#define AD_TABLES_GITROWS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- git worktrees (gitrows.c, migration 0200) -----------------------------------
 * Workspace objects here also carry setupFiles (array of relative paths) and
 * setupCommand; worktree objects carry vanishedAt (only when the folder
 * vanished outside agentd while agents used it) and setup (the outcome of
 * the workspace's setup in it, or absent).
 */
/* args as ad_store_op_workspace_insert plus setupFiles?, setupCommand? and
 * linked:[{id, name, branch, path}] (the linked worktrees git reported).
 * result {workspace, worktrees:[…]}. */
int ad_store_op_workspace_git_create(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {workspaceId, now, worktrees: git's list (ad_git_worktree_list)}:
 * rows follow git. A new worktree gets a row; a changed branch is updated;
 * a row whose folder is gone is deleted, or when it has agents kept with
 * vanishedAt set and its agents flagged (worktreeVanishedAt); a vanished one
 * that is back is unflagged. The main row is never removed.
 * result {workspace, worktrees, changes:{added, updated, vanished, restored
 * (ids), removed (rows), flaggedAgents, unflaggedAgents (ids)}}. */
int ad_store_op_workspace_git_sync(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args as ad_store_op_worktree_insert plus setup? (JSON). result
 * {worktree} with vanishedAt and setup. */
int ad_store_op_worktree_git_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, now, sandbox (an object, or null: agentd's default)}: the
 * workspace's sandbox policy (checked by src/api). result {workspace,
 * old (the policy before, or null)}. AD_ENOENT for an unknown one. */
int ad_store_op_workspace_sandbox_set(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, now, setupFiles?, setupCommand?}: result {workspace}. */
int ad_store_op_workspace_setup_update(ad_store_tx_t *tx, json_t *args, json_t **result);
/* A worktree's setup outcome, written after the setup ran with no request
 * behind it. setup (the outcome object: state, exitCode, output…) is
 * taken. */
typedef struct {
    char id[AD_ID_MAX];
    int64_t now;
    json_t *setup;
} ad_store_worktree_setup_t;
/* Records the outcome. cb gets {worktree} with vanishedAt and setup;
 * AD_ENOENT when the worktree is gone. Loop thread. */
void ad_store_worktree_setup_save(ad_store_t *st, const ad_store_worktree_setup_t *in,
                                  ad_store_result_cb cb, void *ud);
/* Approves the workspace's setup command to run in new worktrees, if it is
 * still command (AD_ESTATE when it changed meanwhile). Loop thread. */
void ad_store_setup_command_approve(ad_store_t *st, const char *ws_id, const char *command,
                                    ad_store_result_cb cb, void *ud);
/* ---- recorded merges (merges.c, migration 2320) ----------------------------------
 * A merge object: id, worktreeId, branch, into, strategy, head (the
 * worktree commit merged), commit (the base branch afterwards), previous
 * (the base branch before, or null), createdAt. */
/* args {id, worktreeId, branch, into, strategy, head, commit, previous?,
 * now}: records a merge agentd made. result {merge: args}. */
int ad_store_op_worktree_merge_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* {merges:[…]}: a worktree's recorded merges, newest first, at most 100.
 * Loop thread. */
int ad_store_worktree_merges(ad_store_t *st, const char *worktree_id, json_t **out);

/* ---- a worktree's pull request (prs.c, migration 2410) ------------------------------
 * A PR object: worktreeId, forge, apiBase, owner, repo, number, url, title,
 * head, base, state (open|closed|merged), draft, createdAt, updatedAt. */
/* args {worktreeId, forge, apiBase, owner, repo, number, url, title, head,
 * base, state, draft, now}: records (or replaces) the worktree's PR. */
int ad_store_op_worktree_pr_put(ad_store_tx_t *tx, json_t *args, json_t **result);
/* The worktree's PR, or AD_ENOENT. */
int ad_store_worktree_pr(ad_store_t *st, const char *worktree_id, json_t **out);
/* Loop thread: the workspace with setup columns and "worktrees". */
int ad_store_git_workspace_get(ad_store_t *st, const char *id, json_t **out);
/* Loop thread: the worktree row with vanishedAt and setup. */
int ad_store_git_worktree_get(ad_store_t *st, const char *id, json_t **out);

#endif
