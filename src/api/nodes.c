/* SPDX-License-Identifier: MIT */
/*
 * Worker nodes (issue #34, docs/nodes.md): GET /api/nodes and /api/nodes/:id
 * (each node with its live state), DELETE /api/nodes/:id (revoke: its token,
 * its link, its runs); the operator's tools (issue #77): PATCH
 * /api/nodes/:id {cordoned, maxRuns, labels}, POST …/drain, …/cordon,
 * …/uncordon, GET /api/nodes/queue and DELETE /api/nodes/queue/:agentId;
 * and the link itself, /api/nodes/link, a WebSocket
 * for node tokens only (the guard's AD_ACCESS_NODE, checked again here),
 * whose socket is src/node's (wslink.c: its messages go to the plane, and
 * it closes 4401 the moment its token is revoked or expires).
 */
#include "node/node.h"
#include "run/run.h"
#include "api/api_int.h"
#include "tables/nodes.h"
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

/* ---- the operator's tools (issue #77) ------------------------------------------------ */

/* The node as set: 200 {node}, the audit row saying what was done. */
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

/* Labels set by the operator: at most 32, names of letters, digits, . _ -
 * (as a node's own), values strings up to 128 bytes; into set (JSON
 * text). -1 after answering 422. */
static int labels_arg(ad_req_t *r, json_t *labels, ad_store_node_set_t *set)
{
    set->has_labels = true;
    if (json_is_null(labels)) {
        return 0; /* the node's own again */
    }
    char why[200];
    json_t *want = json_pack("{s:O}", "labels", labels);
    int bad = ad_run_placement_check(want, why, sizeof(why));
    json_decref(want);
    if (bad != 0) {
        return ad_api_invalid(r, "labels", why);
    }
    set->labels = json_dumps(labels, JSON_COMPACT | JSON_SORT_KEYS);
    return 0;
}

/* PATCH /api/nodes/:id {cordoned?, maxRuns?: int|null, labels?: {}|null}. */
static void node_patch(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *n = node_of(app, r);
    json_t *body = n != NULL ? ad_req_json(r) : NULL;
    json_decref(n);
    if (body == NULL) {
        return;
    }
    ad_store_node_set_t set = {0};
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v)
    {
        if (strcmp(k, "cordoned") != 0 && strcmp(k, "maxRuns") != 0 && strcmp(k, "labels") != 0) {
            ad_api_invalid(r, k, "is not a node setting (cordoned, maxRuns, labels)");
            goto out;
        }
    }
    json_t *max = json_object_get(body, "maxRuns");
    int64_t runs = -1;
    if (ad_api_bool(r, body, "cordoned", &set.cordoned, &set.has_cordoned) != 0 ||
        (max != NULL && !json_is_null(max) &&
         ad_api_int(r, body, "maxRuns", false, 0, 100000, &runs, &set.has_max_runs) != 0)) {
        goto out;
    }
    set.has_max_runs = max != NULL;
    set.max_runs = runs;
    json_t *labels = json_object_get(body, "labels");
    if (labels != NULL && !json_is_null(labels) && !json_is_object(labels)) {
        ad_api_invalid(r, "labels", "must be an object of label names to strings, or null");
        goto out;
    }
    if (labels != NULL && labels_arg(r, labels, &set) != 0) {
        goto out;
    }
    if (set.has_cordoned && !set.cordoned) {
        set.has_draining = true; /* uncordoned: no longer draining either */
    }
    char note[AD_REQ_NOTE_MAX];
    char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    snprintf(note, sizeof(note), "node %s set %.900s", ad_req_param(r, "id"), text);
    free(text);
    ad_req_set_note(r, note);
    ad_plane_set(app->plane, ad_req_param(r, "id"), &set, node_set_done, r);
out:
    free(set.labels);
    json_decref(body);
}

/* POST /api/nodes/:id/{drain,cordon,uncordon}. */
static void node_mark(ad_req_t *r, ad_app_t *app, const char *what, bool cordoned, bool draining)
{
    json_t *n = node_of(app, r);
    if (n == NULL) {
        return;
    }
    char note[160];
    snprintf(note, sizeof(note), "%s node %s", what, ad_api_jstr(n, "name"));
    ad_req_set_note(r, note);
    json_decref(n);
    ad_store_node_set_t set = {.has_cordoned = true, .cordoned = cordoned};
    set.has_draining = draining || !cordoned; /* cordon alone leaves a drain as it is */
    set.draining = draining;
    ad_plane_set(app->plane, ad_req_param(r, "id"), &set, node_set_done, r);
}

static void node_drain(ad_req_t *r, void *ud)
{
    node_mark(r, ud, "drained", true, true);
}

static void node_cordon(ad_req_t *r, void *ud)
{
    node_mark(r, ud, "cordoned", true, false);
}

static void node_uncordon(ad_req_t *r, void *ud)
{
    node_mark(r, ud, "uncordoned", false, false);
}

/* GET /api/nodes/queue: the caller's organisation's queued starts, oldest
 * first. */
static void queue_list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *items = NULL;
    int rc = ad_store_queue_list(app->store, ad_principal_filter(ad_api_who(r)), 1000, &items);
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        json_object_del(it, "claimedUntil");
        json_object_del(it, "prompt"); /* the agent's to show, not the queue's */
    }
    ad_api_list(r, rc, items, "queue", "queue");
}

static void queue_cancelled(int rc, json_t *result, const char *msg, void *ud)
{
    AD_UNUSED(msg);
    ad_req_t *r = ud;
    if (rc != 0) {
        ad_api_fail(r, rc, "queued start", ad_req_param(r, "agentId"));
        return;
    }
    ad_req_set_note(r, "queued start cancelled");
    ad_res_json(r, 200, json_incref(result));
}

/* DELETE /api/nodes/queue/:agentId: cancels the agent's queued start. */
static void queue_delete(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "agentId");
    if (!ad_api_visible(app, r, AD_STORE_ROW_AGENT, id, NULL)) {
        return;
    }
    ad_runner_queue_cancel(app->runner, id, queue_cancelled, r);
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
    /* the queue before :id: /api/nodes/queue is not node "queue" (issue #77) */
    if (app->runner != NULL) {
        ad_server_route(app->server, "GET", "/api/nodes/queue", AD_ACCESS_READ, queue_list, app);
        ad_server_route(app->server, "DELETE", "/api/nodes/queue/:agentId", AD_ACCESS_WRITE,
                        queue_delete, app);
    }
    ad_server_route(app->server, "PATCH", "/api/nodes/:id", AD_ACCESS_ADMIN, node_patch, app);
    ad_server_route(app->server, "POST", "/api/nodes/:id/drain", AD_ACCESS_ADMIN, node_drain, app);
    ad_server_route(app->server, "POST", "/api/nodes/:id/cordon", AD_ACCESS_ADMIN, node_cordon,
                    app);
    ad_server_route(app->server, "POST", "/api/nodes/:id/uncordon", AD_ACCESS_ADMIN, node_uncordon,
                    app);
    ad_server_route(app->server, "GET", "/api/nodes/:id", AD_ACCESS_READ, node_get, app);
    ad_server_route(app->server, "DELETE", "/api/nodes/:id", AD_ACCESS_ADMIN, node_delete, app);
}
