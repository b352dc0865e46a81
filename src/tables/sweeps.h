/* SPDX-License-Identifier: MIT */
/*
 * tables: sweeps (sweeps.c).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_SWEEPS_H
#define AD_TABLES_SWEEPS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- sweeps (sweeps.c, migration 2725, issue #35) ---------------------------------
 * {id, orgId, name, spec, state, status (running|done|stopped|failed),
 * createdAt, updatedAt}. Loop thread. */
int ad_store_sweep_get(ad_store_t *st, const char *id, json_t **out);
/* Of org ("": all), newest first; or every running one (start-up). */
int ad_store_sweep_list(ad_store_t *st, const char *org, bool running_only, json_t **out);
/* args {id, orgId, name, spec, state, status, now}: inserts, or writes the
 * state and status of, the sweep. result: the sweep. */
int ad_store_op_sweep_put(ad_store_tx_t *tx, json_t *args, json_t **result);

#endif
