/* SPDX-License-Identifier: MIT */
/*
 * tables: a Claude Manager database imported (import.c).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_IMPORT_H
#define AD_TABLES_IMPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* import.c: copies a Claude Manager database (path, opened read-only)
 * into agentd's tables, its workspaces in org, in one transaction. cb gets
 * {source, orgId, tables: {<table>: {source, imported, present, skipped}},
 * total: {…}}; AD_EINVAL when path is not such a database. */
void ad_store_import_seed(ad_store_t *st, const char *path, const char *org, int64_t now,
                          ad_store_result_cb cb, void *ud);
/* Whether path may be imported: absolute, and a regular file this daemon
 * can stat; 0, or AD_EINVAL with e naming path. */
int ad_store_import_path_check(const char *path, ad_field_err_t *e);

#endif
