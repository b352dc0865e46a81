/* SPDX-License-Identifier: MIT */
/*
 * tables: a worktree's feedback loop and what it sent its agent
 * (prloops.c, migration 2940; issue #75). The loop itself is src/loop's,
 * the routes src/api/prloop.c's.
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 *
 * A loop as JSON: {worktreeId, orgId, agentId, enabled, checks, reviews,
 * maxTurns, turns, status, statusReason ({code, text}, or null),
 * createdAt, updatedAt}. An item: {id, kind (check|review),
 * forgeId, name (the check's, or the comment's author), url?, message (the
 * text sent), messageId?, runId?, turn, outcome, createdAt, updatedAt}.
 *
 * Threads: the ops on the writer thread, the reads on the loop (one row,
 * or an indexed page of at most AD_PRLOOP_ITEMS_MAX / AD_PRLOOP_ACTIVE_MAX
 * rows).
 */
#ifndef AD_TABLES_PRLOOPS_H
#define AD_TABLES_PRLOOPS_H

#include <jansson.h>
#include <stdbool.h>

#include "store/store.h"

#define AD_PRLOOP_ITEMS_MAX 100  /* items a read answers, newest first */
#define AD_PRLOOP_ACTIVE_MAX 256 /* enabled loops the poller reads at once */

/* args {worktreeId, orgId, agentId, maxTurns, checks, reviews, status,
 * now}: the loop made or set again, enabled, its turns back to 0 and its
 * reason cleared (the items it sent stay). result {loop}. */
int ad_store_op_prloop_put(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {worktreeId, status, reasonCode?, reasonText?, turns?, enabled?,
 * now}: where the loop stands (absent turns/enabled keep theirs; absent
 * reasonCode clears the reason). result {loop}, or
 * AD_ENOENT when there is no loop. */
int ad_store_op_prloop_state(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, worktreeId, kind, forgeId, name, url?, message, turn, outcome,
 * now}: an item recorded before it is sent; one already there for the same
 * (worktree, kind, forgeId) is kept as it is. result {item, added}. */
int ad_store_op_prloop_item_add(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, outcome, messageId?, runId?, now}: what became of an item
 * (absent ids keep theirs). result {}. */
int ad_store_op_prloop_item_set(ad_store_tx_t *tx, json_t *args, json_t **result);

/* The loop of worktree_id (*out owned): 0, AD_ENOENT, or an error. */
int ad_store_prloop_get(ad_store_t *st, const char *worktree_id, json_t **out);
/* The loop's items, newest first, at most AD_PRLOOP_ITEMS_MAX (*out an
 * owned array). */
int ad_store_prloop_items(ad_store_t *st, const char *worktree_id, json_t **out);
/* The enabled loops, oldest first, at most AD_PRLOOP_ACTIVE_MAX (*out an
 * owned array). */
int ad_store_prloop_active(ad_store_t *st, json_t **out);
/* Whether the loop of worktree_id recorded the forge's kind/forge_id. */
bool ad_store_prloop_has_item(ad_store_t *st, const char *worktree_id, const char *kind,
                              const char *forge_id);

#endif
