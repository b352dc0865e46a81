/* SPDX-License-Identifier: MIT */
/*
 * tables: approvals (approvals.c).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_APPROVALS_H
#define AD_TABLES_APPROVALS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- approvals (approvals.c) -------------------------------------------------
 * Permission prompts of runs (see the file's comment for the object). */
/* One approval: 0, AD_ENOENT. Loop thread. */
int ad_store_approval_get(ad_store_t *st, const char *id, json_t **out);
/* The agent's newest 200 approvals (pending_only: those still waiting) as
 * an array, newest first. Loop thread. */
int ad_store_approval_list(ad_store_t *st, const char *agent_id, bool pending_only, json_t **out);
/* The pending approvals of run_id with the CLI's request ids, [{id,
 * requestId}] oldest first (at most 64): what a run taken up after a
 * restart still waits on. For the runner only: request ids never go out.
 * Loop thread. */
int ad_store_approval_pending_of_run(ad_store_t *st, const char *run_id, json_t **out);
/* args {id, agentId, runId, orgId, requestId, toolName, toolUseId?, input,
 * description?, now}; result: the approval. */
int ad_store_op_approval_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, decision: allow|deny|allow_always, status: allowed|denied, by,
 * now}: decides a pending approval (allow_always also adds its tool to the
 * agent's permissions); result: the approval. AD_ENOENT, or AD_ESTATE when
 * it is no longer pending. */
int ad_store_op_approval_decide(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {runId, requestId? (absent: all of the run's), status, now}: ends
 * pending approvals without a decision (cancelled, expired). */
int ad_store_op_approval_close(ad_store_tx_t *tx, json_t *args, json_t **result);

#endif
