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
 * tokenId, planeId (the control plane it last joined or renewed through,
 * migration 3040; null before), and the operator's settings below}. */
typedef struct {
    char id[AD_ID_MAX]; /* for a new row */
    char org_id[AD_ID_MAX];
    char name[64];
    char token_id[AD_ID_MAX];
    char plane_id[AD_ID_MAX]; /* the plane it links to ("": none said) */
    char *labels, *caps;      /* JSON text, borrowed (copied by the call) */
    int64_t now;
} ad_store_node_join_t;
/* A node joins (or comes back): its row by its token, made or updated
 * (labels, caps, last seen). cb gets the row; AD_EEXIST with the row in
 * the way when the token is another name's key or the name another
 * token's, AD_EPERM (with the row) when the token's node was revoked.
 * A revoked node's name is taken over by a new token. Loop thread. */
void ad_store_node_join(ad_store_t *st, const ad_store_node_join_t *j, ad_store_result_cb cb,
                        void *ud);
/* A renewal through plane_id ("": none said): caps (JSON text, borrowed;
 * NULL: unchanged) and the time last seen. Queued; nothing is answered.
 * Loop thread. */
void ad_store_node_seen(ad_store_t *st, const char *id, const char *plane_id, const char *caps,
                        int64_t now);
/* Marks the node revoked; cb gets its row, or AD_ENOENT (unknown, or
 * revoked already). Loop thread. */
void ad_store_node_revoke(ad_store_t *st, const char *id, int64_t now, ad_store_result_cb cb,
                          void *ud);
/* One node (AD_ENOENT), or every node of org ("" or NULL: all) by name;
 * new references. Loop thread. */
int ad_store_node_get(ad_store_t *st, const char *id, json_t **out);
int ad_store_nodes_list(ad_store_t *st, const char *org, json_t **out);
/* ---- the operator's settings (issue #77, migration 2990) ----------------------------
 * A node's row also says cordoned, draining, maxRuns (null: no bound),
 * labels (what the control plane set, when labelsSet, else the node's
 * own), nodeLabels (the node's own). Each has_ field says whether its
 * value changes; max_runs -1 is null; labels JSON text (copied) or NULL
 * (the node's own again). */
typedef struct {
    bool has_cordoned, cordoned;
    bool has_draining, draining;
    bool has_max_runs;
    int64_t max_runs;
    bool has_labels;
    char *labels;
} ad_store_node_set_t;
/* cb gets the row, or AD_ENOENT (unknown, or revoked). Loop thread. */
void ad_store_node_set(ad_store_t *st, const char *id, const ad_store_node_set_t *set,
                       ad_store_result_cb cb, void *ud);
/* The runs running on node id, as stored (every plane's). Loop thread. */
int ad_store_node_running(ad_store_t *st, const char *id, int64_t *n);

/* ---- the queue (nodequeue.c, migration 2990) -----------------------------------------
 * Starts waiting for a node with room, FIFO per organisation: {agentId,
 * orgId, nodeId|null, prompt|null, reasons, queuedAt, queuedBy,
 * claimedBy|null}. */
typedef struct {
    char agent_id[AD_ID_MAX];
    char org_id[AD_ID_MAX];
    char node_id[AD_ID_MAX]; /* "": its placement's */
    char queued_by[AD_ID_MAX];
    char *prompt;  /* borrowed, may be NULL (copied by the call) */
    char *reasons; /* borrowed (copied) */
    int64_t now;
} ad_store_queue_item_t;
/* Queues it; cb gets the item, AD_EEXIST when the agent is queued already. */
void ad_store_queue_add(ad_store_t *st, const ad_store_queue_item_t *it, ad_store_result_cb cb,
                        void *ud);
/* Takes it out; cb gets the item, or AD_ENOENT. cb may be NULL. */
void ad_store_queue_del(ad_store_t *st, const char *agent_id, ad_store_result_cb cb, void *ud);
/* Takes it for plane (a conditional update: nobody's, or a claim that
 * lapsed before now) until until; cb gets the item, AD_EBUSY when another
 * plane has it, AD_ENOENT when it is gone. */
void ad_store_queue_claim(ad_store_t *st, const char *agent_id, const char *plane, int64_t now,
                          int64_t until, ad_store_result_cb cb, void *ud);
/* Gives plane's claim back (the start could not go yet), with the reasons
 * now (copied; NULL: unchanged). Queued; nothing is answered. */
void ad_store_queue_release(ad_store_t *st, const char *agent_id, const char *plane,
                            const char *reasons);
/* The queue of org ("" or NULL: all), oldest first, at most limit items;
 * one item (AD_ENOENT); how many wait for node id. Loop thread. */
int ad_store_queue_list(ad_store_t *st, const char *org, int limit, json_t **out);
int ad_store_queue_get(ad_store_t *st, const char *agent_id, json_t **out);
int ad_store_queue_for_node(ad_store_t *st, const char *node_id, int64_t *n);

/* Runs still running on nodes: [{id, agentId, nodeId, startedAt}] (new
 * reference). Loop thread, at start-up. */
int ad_store_runs_on_nodes(ad_store_t *st, json_t **out);

#endif
