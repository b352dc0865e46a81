/* SPDX-License-Identifier: MIT */
/*
 * A node's event history as the control plane sees it (issue #77,
 * docs/nodes.md "A node's history"): each event a row of the node_events
 * table (src/tables/nodeevents.c, bounded per node) and node_event {event}
 * on the node's organisation's topic, so the Nodes page shows it at once.
 * The plane that saw it happen records it, naming itself. Loop thread.
 */
#include "node/node_int.h"
#include "tables/fleet.h"

#include <stdlib.h>
#include <string.h>

static int64_t keep(void)
{
#ifdef AD_TEST_BUILD
    const char *k = getenv("AGENTD_TEST_NODE_EVENTS_KEEP"); /* pruning, tested */
    if (k != NULL && atoll(k) > 0) {
        return atoll(k);
    }
#endif
    return AD_NODE_EVENTS_KEEP;
}

void ad_plane_event(ad_plane_t *p, const char *node_id, const char *org, const char *kind,
                    json_t *detail)
{
    if (p == NULL || p->store == NULL || node_id == NULL || node_id[0] == '\0') {
        json_decref(detail);
        return;
    }
    for (ad_node_live_t *n = p->nodes; org == NULL && n != NULL; n = n->next) {
        org = strcmp(n->id, node_id) == 0 ? n->org : NULL;
    }
    detail = json_is_object(detail) ? detail : json_object();
    json_object_set_new(detail, "plane", json_string(p->cfg->plane_id));
    ad_store_node_event_t e = {.now = ad_wall_ms(), .keep = keep()};
    snprintf(e.node_id, sizeof(e.node_id), "%s", node_id);
    snprintf(e.org_id, sizeof(e.org_id), "%s", org != NULL ? org : "");
    snprintf(e.kind, sizeof(e.kind), "%s", kind);
    e.detail = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
    ad_store_node_event_add(p->store, &e);
    if (e.org_id[0] != '\0' && p->bus != NULL) {
        char topic[AD_ID_MAX + 8], at[AD_TIME_MAX];
        snprintf(topic, sizeof(topic), "org:%s", e.org_id);
        const char *topics[] = {topic};
        ad_time_format(e.now, at);
        json_t *ev = json_pack("{s:{s:s, s:s, s:s, s:O}}", "event", "nodeId", node_id, "at", at,
                               "kind", kind, "detail", detail);
        ad_bus_publish(p->bus, "node_event", topics, 1, ev);
        json_decref(ev);
    }
    free(e.detail);
    json_decref(detail);
}

void ad_plane_event_set(ad_plane_t *p, json_t *row, const ad_store_node_set_t *set)
{
    const char *id = json_string_value(json_object_get(row, "id"));
    const char *org = json_string_value(json_object_get(row, "orgId"));
    if (set->has_draining && set->draining) {
        ad_plane_event(p, id, org, "drained", NULL);
    } else if (set->has_cordoned) {
        ad_plane_event(p, id, org, set->cordoned ? "cordoned" : "uncordoned", NULL);
    }
    if (set->has_max_runs) {
        ad_plane_event(p, id, org, "capacity_changed",
                       json_pack("{s:O?}", "maxRuns", json_object_get(row, "maxRuns")));
    }
    if (set->has_labels) {
        ad_plane_event(p, id, org, "labels_changed",
                       json_pack("{s:O?, s:O?}", "labels", json_object_get(row, "labels"),
                                 "labelsSet", json_object_get(row, "labelsSet")));
    }
}

const char *ad_plane_close_why(int code)
{
    switch (code) {
    case 1000:
    case 1001:
        return "the node closed its link (stopping)";
    case 1006:
        return "the connection dropped";
    case 4401:
        return "the node's key ended (revoked or expired)";
    case 4403:
        return "refused: forbidden or revoked";
    case 4409:
        return "refused: the name or key is another node's";
    case AD_NODE_CLOSE_REPLACED:
        return "replaced by a new connection of the node";
    default:
        return code >= 4400 && code < 4500 ? "refused by the control plane" : "the link closed";
    }
}
