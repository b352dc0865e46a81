/* SPDX-License-Identifier: MIT */
/*
 * Worker nodes (issue #34, docs/nodes.md): GET /api/nodes and /api/nodes/:id
 * (each node with its live state), DELETE /api/nodes/:id (revoke: its token,
 * its link, its runs), and the link itself, /api/nodes/link, a WebSocket
 * for node tokens only (the guard's AD_ACCESS_NODE, checked again here),
 * whose socket is src/node's (wslink.c: its messages go to the plane, and
 * it closes 4401 the moment its token is revoked or expires).
 */
#include "node/node.h"
#include "api/api_int.h"
#include "ws/ws.h"

#include <stdio.h>

static void node_list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *nodes = ad_plane_nodes(app->plane, ad_principal_filter(ad_api_who(r)));
    if (nodes == NULL) {
        ad_api_fail(r, AD_EINTERNAL, "nodes", NULL);
        return;
    }
    ad_res_json(r, 200, json_pack("{s:o}", "nodes", nodes));
}

/* The node of :id, or NULL after answering 404 (another org's too). */
static json_t *node_of(ad_app_t *app, ad_req_t *r)
{
    const char *id = ad_req_param(r, "id");
    json_t *n = id != NULL ? ad_plane_node(app->plane, id) : NULL;
    if (n == NULL || !ad_principal_sees(ad_api_who(r), ad_api_jstr(n, "orgId"))) {
        json_decref(n);
        ad_api_fail(r, AD_ENOENT, "node", id);
        return NULL;
    }
    return n;
}

static void node_get(ad_req_t *r, void *ud)
{
    json_t *n = node_of(ud, r);
    if (n != NULL) {
        ad_res_json(r, 200, json_pack("{s:o}", "node", n));
    }
}

static void node_revoked(int rc, json_t *row, void *ud)
{
    ad_req_t *r = ud;
    if (rc != 0) {
        ad_api_fail(r, rc, "node", ad_req_param(r, "id"));
    } else {
        char note[128];
        snprintf(note, sizeof(note), "revoked node %s", ad_api_jstr(row, "name"));
        ad_req_set_note(r, note);
        ad_res_send(r, 204, NULL, NULL, 0);
    }
    json_decref(row);
}

static void node_delete(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *n = node_of(app, r);
    if (n == NULL) {
        return;
    }
    json_decref(n);
    ad_plane_revoke(app->plane, ad_req_param(r, "id"), ad_auth_token_drop, app->auth, node_revoked,
                    r);
}

/* ---- the link (src/node's, wslink.c) ------------------------------------------------- */

static void link_open(ad_ws_t *ws, ad_req_t *upgrade, void *ud)
{
    ad_app_t *app = ud;
    const char *reason = NULL;
    int code = ad_auth_ws_refusal(upgrade, &reason);
    const ad_principal_t *who = ad_auth_principal(upgrade);
    if (code == 0 && (who == NULL || who->scope != AD_SCOPE_NODE || who->token_id[0] == '\0')) {
        code = 4403; /* the owner included: only a node's token is a node */
        reason = "forbidden: only a node token may open the node link";
    }
    if (code != 0) {
        ad_ws_close(ws, code, reason);
        return;
    }
    ad_auth_cred_t cred;
    ad_auth_credential(upgrade, &cred);
    ad_plane_ws_open(app->plane, app->auth, ws, &cred, who->token_id, who->org_id);
}

static void link_message(ad_ws_t *ws, const char *data, size_t len, bool binary, void *ud)
{
    AD_UNUSED(ud);
    ad_plane_ws_message(ws, data, len, binary);
}

static void link_close(ad_ws_t *ws, int code, void *ud)
{
    AD_UNUSED(code);
    AD_UNUSED(ud);
    ad_plane_ws_closed(ws);
}

static const ad_ws_handler_t link_handler = {link_open, link_message, link_close};

void ad_api_nodes_register(ad_app_t *app)
{
    if (app->plane == NULL) {
        return;
    }
    /* the link first: an upgrade to /api/nodes/link is not node "link" */
    static const char *const protocols[] = {"bearer", NULL};
    ad_server_route_ws(app->server, "/api/nodes/link", AD_ACCESS_NODE, protocols, &link_handler,
                       app);
    ad_server_route(app->server, "GET", "/api/nodes", AD_ACCESS_READ, node_list, app);
    ad_server_route(app->server, "GET", "/api/nodes/:id", AD_ACCESS_READ, node_get, app);
    ad_server_route(app->server, "DELETE", "/api/nodes/:id", AD_ACCESS_ADMIN, node_delete, app);
}
