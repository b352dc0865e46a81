/* SPDX-License-Identifier: MIT */
/*
 * What the control plane asks of a node over its link and waits for (a git
 * operation, gitsync.c; a service's probe, probes.c; an agent's file,
 * nodefs.c): each kind's request starts with an ad_node_ask_t and sits in
 * a list of the plane's until its answer comes, its node goes or its time
 * is up. An answer is taken only from the node it was asked of: another
 * node naming the id gets nothing (the caller logs it). Loop thread.
 */
#include "node/node_int.h"

#include <string.h>

void ad_node_ask_add(ad_plane_t *p, ad_node_ask_t **list, ad_node_ask_t *q, const char *node_id,
                     uint64_t timeout_ms)
{
    q->id = ++p->rpc_seq;
    snprintf(q->node, sizeof(q->node), "%s", node_id);
    q->deadline_ms = ad_mono_ms() + timeout_ms;
    q->next = *list;
    *list = q;
}

ad_node_ask_t *ad_node_ask_take(ad_node_ask_t **list, json_t *id, const char *node_id)
{
    if (!json_is_integer(id)) {
        return NULL;
    }
    for (ad_node_ask_t **pp = list; *pp != NULL; pp = &(*pp)->next) {
        ad_node_ask_t *q = *pp;
        if ((json_int_t)q->id == json_integer_value(id) && strcmp(q->node, node_id) == 0) {
            *pp = q->next;
            q->next = NULL;
            return q;
        }
    }
    return NULL;
}

ad_node_ask_t *ad_node_ask_expired(ad_plane_t *p, ad_node_ask_t **list, bool all, bool *gone)
{
    uint64_t now = ad_mono_ms();
    for (ad_node_ask_t **pp = list; *pp != NULL; pp = &(*pp)->next) {
        ad_node_ask_t *q = *pp;
        ad_node_live_t *n = all ? NULL : ad_plane_node_live(p, q->node);
        *gone = all || n == NULL || n->link == NULL;
        if (*gone || now >= q->deadline_ms) {
            *pp = q->next;
            q->next = NULL;
            return q;
        }
    }
    return NULL;
}
