/* SPDX-License-Identifier: MIT */
/*
 * tables: saved panel layouts (layouts.c).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_LAYOUTS_H
#define AD_TABLES_LAYOUTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- saved panel layouts (layouts.c, migration 2730, issue #35) ---------------
 * One per organisation and scope ("" every workspace's runs, else a
 * workspace id); the layout is checked by src/hparam before it is written. */
/* {scope, layout, updatedAt}: 0, AD_ENOENT (none saved). Loop thread. */
int ad_store_layout_get(ad_store_t *st, const char *org, const char *scope, json_t **out);
/* args {orgId, scope, layout?, now}: stores layout (replacing the scope's),
 * or without layout forgets it; result: the row as ad_store_layout_get's
 * ({scope, layout: null} once forgotten) with orgId. */
int ad_store_op_layout_put(ad_store_tx_t *tx, json_t *args, json_t **result);
/* A layout_put's result published as layout_update to its org: orgId is
 * taken out of result (it rides there only to name the topic). */
void ad_store_layout_publish(struct ad_bus *bus, json_t *result);

#endif
