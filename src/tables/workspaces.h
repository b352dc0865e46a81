/* SPDX-License-Identifier: MIT */
/*
 * tables: workspaces and worktrees (workspaces.c).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_WORKSPACES_H
#define AD_TABLES_WORKSPACES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- workspaces and worktrees (workspaces.c) -------------------------------------
 * Reads run on the read connection (loop thread); writes are ops for
 * ad_store_write. Objects are camelCase (workspace: id, name, path,
 * createdAt, updatedAt; worktree: id, workspaceId, name, branch, path,
 * sortMode, displayOrder, isMain, createdAt, updatedAt, baseBranch: the branch
 * it was made from, absent for the main worktree; migration 1300).
 */
int ad_store_workspace_get(ad_store_t *st, const char *id, json_t **out);
/* {workspaces:[…]} by creation order; org "" or NULL: every org. */
int ad_store_workspace_list(ad_store_t *st, const char *org, json_t **out);
/* The same workspaces with only {id, path, orgId}: no counts (read every
 * second by the definitions watch). */
int ad_store_workspace_paths(ad_store_t *st, const char *org, json_t **out);
/* args {id, name, path, now, worktreeId, branch}: inserts the workspace
 * and its main worktree (is_main 1, same path). result {workspace,
 * worktree}. AD_EEXIST when the path is taken. */
int ad_store_op_workspace_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, now}: touches updated_at. result {workspace}. */
int ad_store_op_workspace_touch(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id}: deletes the workspace, its worktrees and their agents.
 * result {workspace, worktreeIds:[…], agentIds:[…]}. */
int ad_store_op_workspace_delete(ad_store_tx_t *tx, json_t *args, json_t **result);

int ad_store_worktree_get(ad_store_t *st, const char *id, json_t **out);
/* {worktrees:[…]}: the main worktree first, then displayOrder, creation;
 * without workspace_id, those of org ("" or NULL: every org).
 * workspace_id may be NULL (all). */
int ad_store_worktree_list(ad_store_t *st, const char *workspace_id, const char *org, json_t **out);
/* ws (returned, the same reference) with its worktrees as the list above
 * gives them (left without when they cannot be read). */
json_t *ad_store_workspace_with_worktrees(ad_store_t *st, json_t *ws);
/* args {id, workspaceId, name, branch, path, now, isMain?, baseBranch?}: a
 * linked worktree without baseBranch takes the main worktree's branch.
 * result {worktree}. */
int ad_store_op_worktree_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, now, name?, branch?, sortMode?, displayOrder?, baseBranch?}: result
 * {worktree}. */
int ad_store_op_worktree_update(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, now}: marks the worktree removed and archives its agents (their
 * rows stay). AD_ESTATE for the main worktree, or (result {liveAgentIds})
 * while one of its agents runs. result {worktree, agentIds}. */
int ad_store_op_worktree_delete(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {ids:[…], now}: displayOrder = index. AD_ENOENT (result {id}) when
 * one is unknown; nothing changes then. result {worktrees:[…]}. */
int ad_store_op_worktree_reorder(ad_store_tx_t *tx, json_t *args, json_t **result);

#endif
