/* SPDX-License-Identifier: MIT */
/*
 * tables: MCP tasks (mcptasks.c).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_MCPTASKS_H
#define AD_TABLES_MCPTASKS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- MCP tasks (mcptasks.c, migration 2670) -----------------------------------------
 * A task row: {taskId (its run's id), orgId, agentId, createdAt, updatedAt (ms),
 * status (working, completed, failed, cancelled), statusMessage, result (the
 * tool result it ended with, or null)}. */
/* args {id, orgId, agentId, now}: result args. */
int ad_store_op_mcp_task_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, status, statusMessage?, result?, now}: ends a working task
 * (one that ended already keeps its end). result {changed}. */
int ad_store_op_mcp_task_end(ad_store_tx_t *tx, json_t *args, json_t **result);
/* The row of id, or AD_ENOENT. Loop thread. */
int ad_store_mcp_task_get(ad_store_t *st, const char *id, json_t **out);
/* Rows of org ("" every org), newest first, after the task after_id (NULL:
 * from the newest), of status (NULL: any), at most limit (1-1000): an
 * array. Loop thread. */
int ad_store_mcp_task_list(ad_store_t *st, const char *org, const char *after_id,
                           const char *status, int limit, json_t **out);

#endif
