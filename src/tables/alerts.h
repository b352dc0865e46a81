/* SPDX-License-Identifier: MIT */
/*
 * tables: alert rules and firings (alerts.c).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_ALERTS_H
#define AD_TABLES_ALERTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- alert rules and firings (alerts.c, migration 2710, issue #35) -------------
 * A rule is the JSON src/train checked ({name, kind, ...}); the row adds
 * id, orgId, createdAt, updatedAt. A firing is the JSON the engine made
 * ({id, orgId, ruleId, runId, ...}), written again with its webhook's
 * outcome. Reads: loop thread. */
/* Rules of org ("": every org), oldest first. */
int ad_store_alert_rule_list(ad_store_t *st, const char *org, json_t **out);
int ad_store_alert_rule_get(ad_store_t *st, const char *id, json_t **out);
/* args {id, orgId, spec, now}: inserts or replaces the spec. result: the rule. */
int ad_store_op_alert_rule_put(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id}: result the rule deleted; AD_ENOENT when there is none. */
int ad_store_op_alert_rule_delete(ad_store_tx_t *tx, json_t *args, json_t **result);
/* Records (or records again, by id) a firing (copied); none for a run
 * deleted meanwhile. cb may be NULL. */
void ad_store_alert_firing_put(ad_store_t *st, const json_t *firing, int64_t at,
                               ad_store_result_cb cb, void *ud);
/* The newest firings (at most limit) of run_id, or else of rule_id; org ""
 * or NULL: any. */
int ad_store_alert_firings(ad_store_t *st, const char *run_id, const char *rule_id, const char *org,
                           int limit, json_t **out);

#endif
