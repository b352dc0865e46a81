/* SPDX-License-Identifier: MIT */
/*
 * tables: runs agentd did not start, and imports (imports.c).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_IMPORTS_H
#define AD_TABLES_IMPORTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- runs agentd did not start, and imports (imports.c, migration 2720) ---------
 * args {id, agentId, source ('tfevents'|'mlruns'|'csv'|'mlflow'), name?,
 * config?, tags?, now, agent? (an agent to make first: the args of
 * ad_store_op_agent_insert), import? ({id, orgId, kind, path, runId,
 * follow, agentId, state}: its row, status running)}: a running run with no
 * process (the agent's status untouched; start-up leaves it running);
 * without id, only the import (attached to its runId). AD_ENOENT for an
 * unknown agent. result {runId, importId?, agentId?}. */
int ad_store_op_external_run(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, status? (running|succeeded|failed|stopped), endedAt?, name?,
 * config?, configPatch? (merged into config, RFC 7396), tags?}: only a run
 * with a source; AD_ENOENT otherwise. */
int ad_store_op_external_run_update(ad_store_tx_t *tx, json_t *args, json_t **result);
/* The MLflow experiment (an agent whose state has mlflowExperiment) of
 * org named name: {id, name, createdAt, updatedAt}, or AD_ENOENT. Loop. */
int ad_store_mlflow_experiment(ad_store_t *st, const char *org, const char *name, json_t **out);
/* org's MLflow experiments [{id, name, createdAt, updatedAt}] (at most
 * 10000) by creation. Loop. */
int ad_store_mlflow_experiments(ad_store_t *st, const char *org, json_t **out);
/* The main worktree of org's oldest workspace (not removed): 0 or
 * AD_ENOENT. Loop. */
int ad_store_org_first_worktree(ad_store_t *st, const char *org, char out[AD_ID_MAX]);
/* ad_store_op_agent_insert and ad_store_op_external_run for the MLflow
 * surface: args.home {id, name, path, orgId, worktreeId, branch, now} (or
 * none) is the org's experiments workspace (ad_store_op_workspace_git_create's
 * args), made when the org has no worktree yet; the new agent (args, or
 * args.agent) goes to the org's first worktree then. */
int ad_store_op_mlflow_exp_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
int ad_store_op_mlflow_run_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* The run's source ("" for a run agentd started): 0 or AD_ENOENT. Loop. */
int ad_store_run_source(ad_store_t *st, const char *run_id, char *out, size_t outsz);
/* An import {id, orgId, kind, path, runId, follow, status, error, state,
 * points, createdAt, updatedAt}. Loop thread. */
int ad_store_import_get(ad_store_t *st, const char *id, json_t **out);
/* Of org ("": all), newest first; or every running one (start-up). */
int ad_store_import_list(ad_store_t *st, const char *org, bool running_only, json_t **out);
/* args {id, status, error?, state, points (added), now}: result the import. */
int ad_store_op_import_save(ad_store_tx_t *tx, json_t *args, json_t **result);

#endif
