/* SPDX-License-Identifier: MIT */
/*
 * A node's event history (issue #77, docs/nodes.md "A node's history"):
 * GET /api/nodes/:id/events?limit=1..500 (50)&before=<event id> (read),
 * newest first: {events: [{id, nodeId, at, kind, detail}], next: the
 * before of the page after, or null}. Another organisation's node is a
 * 404, as a missing one. The events are recorded by src/node (nodehist.c)
 * and this engine's trade; the rows are src/tables/nodeevents.c's.
 */
#include "fleet/fleet_int.h"

#include <stdio.h>

static void events_list(ad_req_t *r, void *ud)
{
    ad_fleet_t *f = ud;
    const char *id = ad_req_param(r, "id");
    json_t *n = id != NULL ? ad_plane_node(f->app->plane, id) : NULL;
    if (n == NULL ||
        !ad_principal_sees(ad_fleet_who(r), json_string_value(json_object_get(n, "orgId")))) {
        json_decref(n);
        ad_fleet_fail(r, AD_ENOENT, "node", id);
        return;
    }
    json_decref(n);
    int64_t limit = 50, before = 0;
    bool has_limit = false, has_before = false;
    ad_field_err_t e;
    if (ad_field_query_int(ad_req_query(r, "limit"), "limit", 1, 500, &has_limit, &limit, &e) !=
            0 ||
        ad_field_query_int(ad_req_query(r, "before"), "before", 1, INT64_MAX, &has_before, &before,
                           &e) != 0) {
        ad_fleet_invalid(r, &e);
        return;
    }
    json_t *rows = NULL;
    int rc = ad_store_node_events(f->app->store, id, (int)limit, before, &rows);
    if (rc != 0) {
        ad_fleet_fail(r, rc, "node events", NULL);
        return;
    }
    size_t count = json_array_size(rows);
    json_t *last = count == (size_t)limit ? json_array_get(rows, count - 1) : NULL;
    ad_res_json(r, 200,
                json_pack("{s:o, s:O?}", "events", rows, "next",
                          last != NULL ? json_object_get(last, "id") : NULL));
}

void ad_fleet_events_routes(ad_fleet_t *f)
{
    ad_server_route(f->app->server, "GET", "/api/nodes/:id/events", AD_ACCESS_READ, events_list, f);
}
