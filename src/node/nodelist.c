/* SPDX-License-Identifier: MIT */
/*
 * The nodes as the API lists them (node.h): each stored row with what this
 * plane knows live (connected, unreachable, its runs and queue) and, with
 * several planes on one database (issue #77), which plane holds its link:
 * a node linked to another live plane that renewed lately is connected
 * there, not offline. The rows are src/tables/nodes.c's.
 */
#include "node/node_int.h"
#include "cluster/cluster.h"
#include "tables/nodes.h"

#include <stdlib.h>
#include <string.h>

/* {id, url, here} of the plane id among the live ones (url null when it is
 * not there), new. */
static json_t *plane_of(const json_t *live, const char *id, bool here)
{
    size_t i;
    json_t *x, *url = json_null();
    json_array_foreach(live, i, x)
    {
        const char *xid = json_string_value(json_object_get(x, "id"));
        if (xid != NULL && strcmp(xid, id) == 0 && json_is_string(json_object_get(x, "url"))) {
            url = json_object_get(x, "url");
        }
    }
    return json_pack("{s:s, s:O, s:b}", "id", id, "url", url, "here", here);
}

/* The plane ({id, url, here: false}) a node not linked here is linked to:
 * its row's planeId, a live plane, and the node renewed lately; or NULL:
 * then it is offline for every plane. */
static json_t *linked_elsewhere(ad_plane_t *p, const json_t *row, const json_t *live)
{
    const char *plane = json_string_value(json_object_get(row, "planeId"));
    int64_t seen = 0;
    if (plane == NULL || strcmp(plane, p->cfg->plane_id) == 0 ||
        ad_time_parse(json_string_value(json_object_get(row, "lastSeenAt")), &seen) != 0 ||
        ad_wall_ms() - seen > (int64_t)ad_plane_lease_ms(p)) {
        return NULL;
    }
    json_t *o = plane_of(live, plane, false);
    if (json_is_null(json_object_get(o, "url"))) {
        json_decref(o); /* not a live plane: it went with its links */
        return NULL;
    }
    return o;
}

/* The live planes (src/cluster's rows), for linked_elsewhere; a new
 * reference, an empty array when they cannot be read or there is one. */
static json_t *live_planes(ad_plane_t *p)
{
    json_t *rows = NULL;
    if (p->cfg->plane_id[0] == '\0' ||
        ad_store_planes_list(p->store, ad_wall_ms() - AD_PLANES_LEASE_MS, &rows) != 0) {
        return json_array();
    }
    return rows;
}

static json_t *with_live(ad_plane_t *p, json_t *row, const json_t *live)
{
    const char *id = json_string_value(json_object_get(row, "id"));
    ad_node_live_t *n = NULL;
    for (ad_node_live_t *x = p->nodes; x != NULL; x = x->next) {
        n = strcmp(x->id, id) == 0 ? x : n;
    }
    json_int_t runs = 0;
    for (ad_relay_t *r = p->relays; r != NULL; r = r->next) {
        runs += strcmp(r->node_id, id) == 0 && r->pipe_open;
    }
    int64_t stored = 0, queued = 0; /* every plane's runs on it, and its queue */
    (void)ad_store_node_running(p->store, id, &stored);
    (void)ad_store_queue_for_node(p->store, id, &queued);
    runs = stored > runs ? (json_int_t)stored : runs;
    json_object_set_new(row, "drained",
                        json_boolean(json_is_true(json_object_get(row, "draining")) && runs == 0));
    json_object_set_new(row, "queued", json_integer((json_int_t)queued));
    bool connected = n != NULL && n->link != NULL;
    json_t *via = connected ? NULL : linked_elsewhere(p, row, live);
    const char *state = json_object_get(row, "revokedAt") != NULL ? "revoked"
                        : n != NULL && n->unreachable             ? "unreachable"
                        : connected || via != NULL                ? "connected"
                                                                  : "offline";
    /* which plane holds its link: this one, another live one, or none */
    json_object_set_new(row, "plane",
                        connected && p->cfg->plane_id[0] != '\0'
                            ? plane_of(live, p->cfg->plane_id, true)
                        : via != NULL ? via
                                      : json_null());
    connected = connected || via != NULL;
    json_object_del(row, "tokenId");
    json_object_set_new(row, "state", json_string(state));
    json_object_set_new(row, "connected", json_boolean(connected));
    json_object_set_new(row, "runs", json_integer(runs));
    if (n != NULL && n->unreachable) {
        char at[AD_TIME_MAX];
        ad_time_format(n->unreachable_since, at);
        json_object_set_new(row, "unreachableSince", json_string(at));
    }
    return row;
}

json_t *ad_plane_nodes(ad_plane_t *p, const char *org)
{
    json_t *rows = NULL;
    if (ad_store_nodes_list(p->store, org, &rows) != 0) {
        return NULL;
    }
    size_t i;
    json_t *row;
    json_t *live = live_planes(p);
    json_array_foreach(rows, i, row)
    {
        with_live(p, row, live);
    }
    json_decref(live);
    return rows;
}

json_t *ad_plane_node_row(ad_plane_t *p, json_t *row)
{
    json_t *live = live_planes(p);
    with_live(p, row, live);
    json_decref(live);
    return row;
}

json_t *ad_plane_node(ad_plane_t *p, const char *id)
{
    json_t *row = NULL;
    if (ad_store_node_get(p->store, id, &row) != 0) {
        return NULL;
    }
    json_t *live = live_planes(p);
    with_live(p, row, live);
    json_decref(live);
    return row;
}

int ad_plane_find(ad_plane_t *p, const char *org, const char *name, char id[AD_ID_MAX],
                  bool *connected)
{
    json_t *rows = NULL;
    if (ad_store_nodes_list(p->store, org, &rows) != 0) {
        return AD_EINTERNAL;
    }
    int rc = AD_ENOENT;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *rid = json_string_value(json_object_get(row, "id"));
        const char *rname = json_string_value(json_object_get(row, "name"));
        if (rc == AD_ENOENT && json_object_get(row, "revokedAt") == NULL &&
            (strcmp(rid, name) == 0 || strcmp(rname, name) == 0)) {
            snprintf(id, AD_ID_MAX, "%s", rid);
            ad_node_live_t *n = ad_plane_node_live(p, rid);
            *connected = n != NULL && n->link != NULL && !n->unreachable;
            rc = 0;
        }
    }
    json_decref(rows);
    return rc;
}
