/* SPDX-License-Identifier: MIT */
/*
 * Worker nodes (issue #34, docs/nodes.md): GET /api/nodes and /api/nodes/:id
 * (each node with its live state), DELETE /api/nodes/:id (revoke: its token,
 * its link, its runs); PATCH /api/nodes/:id, POST …/drain, …/cordon, …/uncordon
 * and GET /api/nodes/queue (issue #77); and the link itself, /api/nodes/link,
 * a WebSocket for node tokens only (the guard's AD_ACCESS_NODE, checked again here),
 * whose socket is src/node's (wslink.c: its messages go to the plane, and
 * it closes 4401 the moment its token is revoked or expires).
 */
#include "node/node.h"
#include "run/run.h"
#include "api/api_int.h"
#include "ws/ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The operator's tools (issue #77): the node as set, 200 {node}. */
static void node_set_done(int rc, json_t *node, void *ud)
{
    ad_req_t *r = ud;
    if (rc != 0) {
        ad_api_fail(r, rc, "node", ad_req_param(r, "id"));
    } else {
        ad_res_json(r, 200, json_pack("{s:O}", "node", node));
    }
    json_decref(node);
}

/* PATCH /api/nodes/:id {cordoned?, maxRuns?, labels?} (src/node checks it). */
static void node_patch(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *n = node_of(app, r);
    json_t *body = n != NULL ? ad_req_json(r) : NULL;
    json_decref(n);
    ad_store_node_set_t set = {0};
    ad_field_err_t e;
    if (body != NULL && ad_node_set_check(body, &set, &e) != 0) {
        ad_api_invalid_err(r, &e);
    } else if (body != NULL) {
        char note[AD_REQ_NOTE_MAX], *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
        snprintf(note, sizeof(note), "node %s set %.900s", ad_req_param(r, "id"), text);
        free(text);
        ad_req_set_note(r, note);
        ad_plane_set(app->plane, ad_req_param(r, "id"), &set, node_set_done, r);
    }
    free(set.labels);
    json_decref(body);
}

/* POST /api/nodes/:id/drain (cordoned and draining), /cordon (a drain
 * stays as it is) and /uncordon (neither). */
static void node_mark(ad_req_t *r, void *ud)
{
    json_t *n = node_of(ud, r);
    const char *end = strrchr(ad_req_path(r), '/');
    bool drain = strcmp(end, "/drain") == 0, cordon = drain || strcmp(end, "/cordon") == 0;
    if (n != NULL && !cordon && strcmp(end, "/uncordon") != 0) {
        ad_api_fail(r, AD_ENOENT, "route", NULL); /* none but the three routes lead here */
    } else if (n != NULL) {
        char note[160];
        snprintf(note, sizeof(note), "%sed node %s", end + 1, ad_api_jstr(n, "name"));
        ad_req_set_note(r, note);
        ad_store_node_set_t set = {.has_cordoned = true, .cordoned = cordon};
        set.has_draining = drain || !cordon;
        set.draining = drain;
        ad_plane_set(((ad_app_t *)ud)->plane, ad_req_param(r, "id"), &set, node_set_done, r);
    }
    json_decref(n);
}

/* GET /api/nodes/queue: the caller's organisation's queued starts. */
static void queue_list(ad_req_t *r, void *ud)
{
    json_t *q = NULL;
    int rc = ad_runner_queue_list(((ad_app_t *)ud)->runner, ad_principal_filter(ad_api_who(r)), &q);
    ad_api_list(r, rc, q, "queue", "queue");
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
    AD_UNUSED(ud);
    ad_plane_ws_closed(ws, code);
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
    if (app->runner != NULL) { /* before :id: /api/nodes/queue is not node "queue" */
        ad_server_route(app->server, "GET", "/api/nodes/queue", AD_ACCESS_READ, queue_list, app);
    }
    ad_server_route(app->server, "PATCH", "/api/nodes/:id", AD_ACCESS_ADMIN, node_patch, app);
    ad_server_route(app->server, "POST", "/api/nodes/:id/drain", AD_ACCESS_ADMIN, node_mark, app);
    ad_server_route(app->server, "POST", "/api/nodes/:id/cordon", AD_ACCESS_ADMIN, node_mark, app);
    ad_server_route(app->server, "POST", "/api/nodes/:id/uncordon", AD_ACCESS_ADMIN, node_mark,
                    app);
    ad_server_route(app->server, "GET", "/api/nodes/:id", AD_ACCESS_READ, node_get, app);
    ad_server_route(app->server, "DELETE", "/api/nodes/:id", AD_ACCESS_ADMIN, node_delete, app);
}
