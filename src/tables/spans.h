/* SPDX-License-Identifier: MIT */
/*
 * tables: a run's trace (spans.c).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_SPANS_H
#define AD_TABLES_SPANS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- a run's trace (spans.c, migration 2671) ------------------------------------------
 * A span: {spanId, traceId, parentSpanId (or null), name, kind, startUs, endUs
 * (Unix microseconds), status (0 unset, 1 ok, 2 error), statusMessage?,
 * service?, source ("agentd" or "run"), attrs (an object)}. */
/* args {runId, source, max, spans: [span]}: the spans not yet kept, while
 * the run has fewer than max (the rest dropped); a run that is not there
 * keeps nothing. result {stored, dropped}. */
int ad_store_op_run_spans_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* The run's spans by start, at most limit (0: 10000), read on the pool;
 * cb gets them (an array, owned by cb) on the loop. */
void ad_store_run_spans(ad_store_t *st, const char *run_id, int limit, ad_store_result_cb cb,
                        void *ud);

#endif
