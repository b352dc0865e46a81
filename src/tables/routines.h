/* SPDX-License-Identifier: MIT */
/*
 * tables: routines and their runs (routines.c, migration 2920, issue #75).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md, docs/routines.md.
 *
 * The routine object (flat: the spec's members beside the row's): id,
 * orgId, name, enabled, worktreeId | (workspaceId, baseBranch), agent,
 * prompt?, trigger, limits, missed, nextFireAt (RFC 3339 or null),
 * createdBy, createdAt, updatedAt. Never the webhook's secret.
 * The routine run object: id, routineId, orgId, source (interval, cron,
 * webhook, event, manual), fireAt, status (queued, starting, running,
 * succeeded, failed, stopped, over_budget, skipped), reason, agentId,
 * worktreeId, planeId, costUsd, createdAt, updatedAt.
 * Reads are bounded and indexed, on the loop thread.
 */
#ifndef AD_TABLES_ROUTINES_H
#define AD_TABLES_ROUTINES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define AD_ROUTINES_LIST_MAX 500
#define AD_ROUTINE_SECRET_MAX 128
#define AD_ROUTINE_RUNS_KEPT 1000 /* a routine's history: its newest runs */
#define AD_ROUTINE_QUEUED_MAX 100 /* runs waiting behind running ones (missed: all) */

/* One routine: 0, AD_ENOENT or an error. */
int ad_store_routine_get(ad_store_t *st, const char *id, json_t **out);
/* Its webhook secret into out (outsz bytes; "" when it has none): 0,
 * AD_ENOENT or an error. */
int ad_store_routine_secret(ad_store_t *st, const char *id, char *out, size_t outsz);
/* The routines of org ("": every org), oldest first, at most
 * AD_ROUTINES_LIST_MAX. */
int ad_store_routine_list(ad_store_t *st, const char *org, json_t **out);
/* The earliest next fire of any enabled routine (wall ms), 0 when none. */
int ad_store_routine_next(ad_store_t *st, int64_t *next);
/* The enabled routines due at now (next_fire_at <= now), earliest first,
 * at most 64, each with nextFireMs (the raw value to claim with). */
int ad_store_routine_due(ad_store_t *st, int64_t now, json_t **out);

/* args {id, orgId, name, spec, secret, nextFireAt, createdBy, now}:
 * result the routine, with secret when args gave one (for the caller's
 * answer only: publish it without). */
int ad_store_op_routine_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, name?, spec?, enabled?, secret?, nextFireAt?, now}: what is
 * given is written; result the routine, with secret as above (AD_ENOENT:
 * none). */
int ad_store_op_routine_update(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id}: the routine and its runs go. AD_ENOENT: none. */
int ad_store_op_routine_delete(ad_store_tx_t *tx, json_t *args, json_t **result);

/* A fire, in one transaction: args {routineId, orgId, claim?: {old,
 * next}, limits: {runsPerDay?, concurrent?, costPerDayUsd?}, overlap
 * (skip, once, all), planeId, now, fires: [{id, source, fireAt, payload?,
 * status?, reason?}]}. With claim, the routine's next_fire_at moves from
 * old to next only if it still reads old (a plane that lost the race
 * changes nothing: result {claimed: false}). Each fire without a status
 * is then held to the limits, counted over the routine's runs of the last
 * 24 hours with those inserted before it: past runsPerDay or
 * costPerDayUsd it is skipped with the reason; with concurrent runs
 * already queued, starting or running, it is skipped (overlap skip, once
 * with one queued already, all with AD_ROUTINE_QUEUED_MAX) or queued;
 * else it is starting on
 * planeId. Ended runs past the newest AD_ROUTINE_RUNS_KEPT go. result
 * {claimed: true, runs: [run]}. */
int ad_store_op_routine_fire(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, from: [status...], status, reason?, agentId?, worktreeId?,
 * costUsd?, planeId?, now}: the run moves only from one of from; result
 * {changed, run}. */
int ad_store_op_routine_run_set(ad_store_tx_t *tx, json_t *args, json_t **result);

/* The runs of a routine, newest first, at most limit. */
int ad_store_routine_runs(ad_store_t *st, const char *routine_id, int limit, json_t **out);
/* Every run queued, starting or running, oldest first (at most 200). */
int ad_store_routine_runs_open(ad_store_t *st, json_t **out);
/* One run: 0, AD_ENOENT or an error. */
int ad_store_routine_run_get(ad_store_t *st, const char *id, json_t **out);
/* A run's payload (a new string, or NULL when it has none). */
int ad_store_routine_run_payload(ad_store_t *st, const char *id, char **out);

#endif
