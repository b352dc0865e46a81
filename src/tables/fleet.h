/* SPDX-License-Identifier: MIT */
/*
 * tables: the fleet's registration tokens and each worker node's event
 * history (noderegs.c, nodeevents.c; issue #77, docs/nodes.md).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_FLEET_H
#define AD_TABLES_FLEET_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- registration tokens (noderegs.c, migration 3030) --------------------------------
 * A short-lived token a node trades, once (or max_uses times), for its own
 * node key. Kept: its id, org, the SHA-256 (hex) of its secret, never the
 * secret. A row: {id, orgId, labels|null, maxUses, uses, expiresAt,
 * createdAt, createdBy, revokedAt?, lastUsedAt?, state: active | expired
 * | used | revoked}. */
typedef struct {
    char id[AD_ID_MAX];
    char org_id[AD_ID_MAX];
    char hash[65];        /* hex SHA-256 of the secret */
    char created_by[128]; /* who made it, for the row */
    char *labels;         /* JSON text, borrowed (copied); NULL: none */
    int64_t max_uses, expires_at, now;
} ad_store_nodereg_t;
/* Stores a new one; cb gets its row. Loop thread. */
void ad_store_nodereg_add(ad_store_t *st, const ad_store_nodereg_t *r, ad_store_result_cb cb,
                          void *ud);
/* Takes one use of token id whose secret hashes to hash (compared in
 * constant time): cb gets 0 and the row after the use; or AD_EPERM and
 * {refused: unknown | revoked | expired | used, orgId?} (unknown also for
 * a wrong secret). One conditional UPDATE: on one database each use is
 * taken once. Loop thread. */
void ad_store_nodereg_use(ad_store_t *st, const char *id, const char *hash, int64_t now,
                          ad_store_result_cb cb, void *ud);
/* The same judgement read only (the read connection, by its primary key):
 * 0 when a use could be taken now, else AD_EPERM and why (unknown,
 * revoked, expired, used; 16 bytes), or the store's error. A public
 * route asks this first, so a token that will be refused costs no write.
 * Loop thread. */
int ad_store_nodereg_check(ad_store_t *st, const char *id, const char *hash, int64_t now,
                           char why[16]);
/* Revokes it: cb gets the row, or AD_ENOENT (none in org; org "" any). */
void ad_store_nodereg_revoke(ad_store_t *st, const char *id, const char *org, int64_t now,
                             ad_store_result_cb cb, void *ud);
/* The tokens of org ("" or NULL: all), newest first, at most 200 (new
 * reference), with their state at now. Loop thread. */
int ad_store_noderegs_list(ad_store_t *st, const char *org, int64_t now, json_t **out);

/* ---- a node's event history (nodeevents.c, migration 3031) ---------------------------
 * {id, nodeId, at, kind, detail {…}}, newest first. Each insert keeps the
 * node's newest keep events and prunes the rest. */
#define AD_NODE_EVENTS_KEEP 1000
typedef struct {
    char node_id[AD_ID_MAX];
    char org_id[AD_ID_MAX];
    char kind[32];
    char *detail; /* JSON object text, borrowed (copied); NULL: {} */
    int64_t now;
    int64_t keep; /* 0: AD_NODE_EVENTS_KEEP */
} ad_store_node_event_t;
/* Queued; nothing is answered. Loop thread. */
void ad_store_node_event_add(ad_store_t *st, const ad_store_node_event_t *e);
/* At most limit events of node_id older than id before (0: the newest),
 * newest first (new reference). Loop thread. */
int ad_store_node_events(ad_store_t *st, const char *node_id, int limit, int64_t before,
                         json_t **out);

#endif
