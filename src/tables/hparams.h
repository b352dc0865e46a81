/* SPDX-License-Identifier: MIT */
/*
 * tables: hyper-parameter configs (hparams.c).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_HPARAMS_H
#define AD_TABLES_HPARAMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- hyper-parameter configs (hparams.c, migration 1900) -------------------------
 * A schema: id, orgId, name, createdAt, builtIn: false and its definition's
 * keys (description, fields, presets; see src/hparam/hparam.h). A config:
 * id, orgId, name, schemaId, values {field: value}, createdAt, updatedAt.
 * Loop thread for the reads. */
int ad_store_cfg_schema_get(ad_store_t *st, const char *id, json_t **out);
/* Of org ("" or NULL: every org), by name; at most 1000. Array. */
int ad_store_cfg_schema_list(ad_store_t *st, const char *org, json_t **out);
/* args {id, orgId, name, definition, now}. result {schema}. */
int ad_store_op_cfg_schema_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id}. AD_ESTATE (result {id, configs}) while configs use it. result
 * {id, deleted}. */
int ad_store_op_cfg_schema_delete(ad_store_tx_t *tx, json_t *args, json_t **result);
/* The config schema id as a caller who sees filter's rows ("" or NULL:
 * every org's) may use it for a config of org (NULL: any org): a built-in,
 * or a stored one of that org. New reference, or NULL. */
json_t *ad_store_cfg_schema_for(ad_store_t *st, const char *id, const char *filter,
                                const char *org);
int ad_store_config_get(ad_store_t *st, const char *id, json_t **out);
/* A config or config schema row (borrowed) created, updated or deleted
 * (change): config_update {id, change, config} when type is
 * "config_update", else type {id, change, schema}, to the row's org. */
void ad_store_cfg_publish(struct ad_bus *bus, const char *type, json_t *row, const char *change);
/* Of org ("" or NULL: every org) and schema_id (NULL: any), last changed
 * first, at most 1000. Array. */
int ad_store_config_list(ad_store_t *st, const char *org, const char *schema_id, json_t **out);
/* args {id, orgId, name, schemaId, values, now}. result {config}. */
int ad_store_op_config_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, now, name?, values?}. result {config}. */
int ad_store_op_config_update(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id}. result {id, deleted}. */
int ad_store_op_config_delete(ad_store_tx_t *tx, json_t *args, json_t **result);

#endif
