/* SPDX-License-Identifier: MIT */
/*
 * tables: workflows (workflows.c).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_WORKFLOWS_H
#define AD_TABLES_WORKFLOWS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- workflows (workflows.c) ----------------------------------------------------------
 * The workflow object: id, orgId, crewId, name, spec {input, budgetUsd?,
 * steps:[{id, needs, prompt, ...}]}, state {steps: {id: {agentId, status,
 * output?, costUsd?, error?}}}, status (running, succeeded, failed,
 * stopped, over_budget), createdAt, updatedAt.
 */
/* One workflow: 0, AD_ENOENT or an error. Loop thread. */
int ad_store_workflow_get(ad_store_t *st, const char *id, json_t **out);
/* The workflows of org ("": every org), newest first (at most 200), or with
 * running_only those running in every org (at most 100): an array. */
int ad_store_workflow_list(ad_store_t *st, const char *org, bool running_only, json_t **out);
/* args {id, orgId, crewId, name, spec, state, now, agents: [agent insert
 * args]}: the crew, its agents and the workflow (status running) in one
 * transaction. result {id, agents: [agent]}. */
int ad_store_op_workflow_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* Writes the workflow's status and state (copied). cb gets AD_ENOENT for
 * an unknown one. Loop thread. */
void ad_store_workflow_save(ad_store_t *st, const char *id, const char *status, const json_t *state,
                            ad_store_result_cb cb, void *ud);
/* What the agent's runs cost in all (USD). Loop thread. */
int ad_store_agent_cost(ad_store_t *st, const char *agent_id, double *usd);

#endif
