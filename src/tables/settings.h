/* SPDX-License-Identifier: MIT */
/*
 * tables: settings (settings.c).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_SETTINGS_H
#define AD_TABLES_SETTINGS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- settings (settings.c) ------------------------------------------------------------
 * Typed settings with defaults (theme=system,
 * notifications=true, default_mode=regular, confirm_delete=true,
 * max_context_warning=80, and the usage limits).
 */
/* {key: value, …} with typed values. */
int ad_store_settings_get(ad_store_t *st, json_t **out);
/* Checks a patch {key: value, …}: unknown keys are ignored; a wrong type or
 * out-of-range value is AD_EINVAL with *bad_key set (static string). */
int ad_store_settings_validate(json_t *patch, const char **bad_key, const char **why);
/* workspace_roots {orgId: [absolute folders]}: where a write token of the
 * org may register workspaces. Its shape (at most 1000 orgs of at most 64
 * absolute folders): 0, or AD_EINVAL with why (static). */
int ad_store_settings_roots_ok(const json_t *roots, const char **why);
/* Cuts settings' workspace_roots down to org's (NULL: none) unless all
 * (the owner's read). */
void ad_store_settings_roots_only(json_t *settings, bool all, const char *org);
/* settings_update with every setting after a change (all, borrowed) on
 * "system": a copy without any workspace roots (every reader gets it). */
void ad_store_settings_publish(struct ad_bus *bus, const json_t *all);
/* The model_prices setting ({} when none is set) into *out (new). 0 or a
 * read error. */
int ad_store_settings_prices(ad_store_t *st, json_t **out);
/* args {patch, now}: validated again, all or nothing. result {settings}. */
int ad_store_op_settings_update(ad_store_tx_t *tx, json_t *args, json_t **result);

#endif
