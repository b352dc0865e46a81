/* SPDX-License-Identifier: MIT */
/*
 * tables: crews (crews.c).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_CREWS_H
#define AD_TABLES_CREWS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- crews (crews.c) -----------------------------------------------------------------
 * The crew object: id, name, status (busy: an agent is running; available:
 * one is alive and not running; offline), agentCount, createdAt, updatedAt.
 */
/* The crews of org ("" or NULL: every org), oldest first (at most 1000):
 * an array. Loop thread. */
int ad_store_crew_list(ad_store_t *st, const char *org, json_t **out);
/* One crew: 0, AD_ENOENT or an error. Loop thread. */
int ad_store_crew_get(ad_store_t *st, const char *id, json_t **out);
typedef struct {
    char id[AD_ID_MAX];
    char name[256];
    char org_id[AD_ID_MAX]; /* "": the default org */
    int64_t now;
} ad_store_crew_t;
/* Inserts the crew (copied) and calls done after the commit. Loop thread. */
void ad_store_crew_create(ad_store_t *st, const ad_store_crew_t *c, ad_store_done_cb done,
                          void *ctx);
/* Renames crew c->id to c->name at c->now: done gets AD_ENOENT for an
 * unknown crew. Loop thread. */
void ad_store_crew_rename(ad_store_t *st, const ad_store_crew_t *c, ad_store_done_cb done,
                          void *ctx);

#endif
