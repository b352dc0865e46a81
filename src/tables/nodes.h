/* SPDX-License-Identifier: MIT */
/*
 * tables: worker nodes (nodes.c).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_NODES_H
#define AD_TABLES_NODES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- worker nodes (nodes.c, migration 2750, issue #34) ------------------------------
 * A node: {id, orgId, name, labels, caps, createdAt, lastSeenAt, revokedAt?,
 * tokenId}. */
typedef struct {
    char id[AD_ID_MAX]; /* for a new row */
    char org_id[AD_ID_MAX];
    char name[64];
    char token_id[AD_ID_MAX];
    char *labels, *caps; /* JSON text, borrowed (copied by the call) */
    int64_t now;
} ad_store_node_join_t;
/* A node joins (or comes back): its row by its token, made or updated
 * (labels, caps, last seen). cb gets the row; AD_EEXIST with the row in
 * the way when the token is another name's key or the name another
 * token's, AD_EPERM (with the row) when the token's node was revoked.
 * A revoked node's name is taken over by a new token. Loop thread. */
void ad_store_node_join(ad_store_t *st, const ad_store_node_join_t *j, ad_store_result_cb cb,
                        void *ud);
/* A renewal: caps (JSON text, borrowed; NULL: unchanged) and the time
 * last seen. Queued; nothing is answered. Loop thread. */
void ad_store_node_seen(ad_store_t *st, const char *id, const char *caps, int64_t now);
/* Marks the node revoked; cb gets its row, or AD_ENOENT (unknown, or
 * revoked already). Loop thread. */
void ad_store_node_revoke(ad_store_t *st, const char *id, int64_t now, ad_store_result_cb cb,
                          void *ud);
/* One node (AD_ENOENT), or every node of org ("" or NULL: all) by name;
 * new references. Loop thread. */
int ad_store_node_get(ad_store_t *st, const char *id, json_t **out);
int ad_store_nodes_list(ad_store_t *st, const char *org, json_t **out);
/* Runs still running on nodes: [{id, agentId, nodeId, startedAt}] (new
 * reference). Loop thread, at start-up. */
int ad_store_runs_on_nodes(ad_store_t *st, json_t **out);

#endif
