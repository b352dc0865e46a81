/* SPDX-License-Identifier: MIT */
/*
 * tables: services (services.c).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_SERVICES_H
#define AD_TABLES_SERVICES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- services (services.c) --------------------------------------------------------
 * The service object: id, orgId, name, command (argv), cwd, config, schema,
 * restart (always, on-failure, never), probe (or null), enabled,
 * createdAt, updatedAt, nodeId (its worker node, or null), nodeRun (its
 * run on that node now, or null). Reads on the loop's read connection.
 */
int ad_store_service_get(ad_store_t *st, const char *id, json_t **out);
/* {services:[…]} of org ("": every org), oldest first, at most 1000. */
int ad_store_service_list(ad_store_t *st, const char *org, json_t **out);
/* args {id, orgId, name, command, cwd, config, schema, restart, probe,
 * enabled, now, nodeId?}, checked by the caller. result: the service. */
int ad_store_op_service_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, now, name?, config?, restart?, probe? (null clears), enabled?,
 * nodeId? ("" clears)}. AD_ENOENT for an unknown id. result: the service. */
int ad_store_op_service_update(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id}. AD_ENOENT for an unknown id. result {id, orgId, deleted}. */
int ad_store_op_service_delete(ad_store_tx_t *tx, json_t *args, json_t **result);
/* The service's run on its node now (run NULL or "": none); queued, no
 * answer. */
void ad_store_service_run(ad_store_t *st, const char *id, const char *run);

#endif
