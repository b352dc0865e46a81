/* SPDX-License-Identifier: MIT */
/*
 * /api/workspaces (docs/api.md, "Workspaces, worktrees and agents"):
 * list, get, delete; create (a git work tree, with every worktree git
 * knows; src/wtree does it); refresh, setup and PATCH are ws_edit.c's.
 * Events: workspace_created {workspace, worktree (main), worktrees}, workspace_updated {workspace
 * row, changes? (refresh)}, workspace_deleted {id, worktreeIds, agentIds, archived: true}. DELETE
 * removes the workspace from the lists and archives its agents; no file is touched (409 with
 * agentIds while any of them runs). Adding its path again brings it back.
 * Registering a path is admin's, or a write token's under the org's
 * workspace_roots. PATCH sets the workspace's sandbox {network, paths}
 * (admin's; null: agentd's default), the default of its agents
 * (src/run/sandbox.c); the audit row names the old and the new policy.
 * The git work and who may register which path are src/wtree's
 * (workspace.c). No git and no SQL here.
 */
#include "api/api_int.h"
#include "tables/workspaces.h"

static void list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *out = NULL;
    int rc = ad_store_workspace_list(app->store, ad_principal_filter(ad_api_who(r)), &out);
    ad_api_answer(r, rc, out, "workspaces", NULL);
}

static void get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *ws = ad_api_row_load(app, r, ad_store_workspace_get, "workspace");
    if (ws != NULL) {
        ad_res_json(r, 200, ad_store_workspace_with_worktrees(app->store, ws));
    }
}

static void deleted(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    json_t *live = json_object_get(result, "liveAgentIds");
    if (rc == AD_ESTATE && live != NULL) {
        ad_res_error(r, 409, "CONFLICT", json_pack("{s:O}", "agentIds", live),
                     "%zu of the workspace's agents are running: stop them first",
                     json_array_size(live));
        return;
    }
    if (rc != 0) {
        ad_api_fail(r, rc, "workspace", ad_req_param(r, "id"));
        return;
    }
    ad_wtree_publish_ws_deleted(app->wtree, result);
    ad_res_send(r, 204, NULL, NULL, 0);
}

static void del(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_visible(app, r, AD_STORE_ROW_WORKSPACE, ad_req_param(r, "id"), NULL)) {
        return;
    }
    ad_api_write(
        app, r, ad_store_op_workspace_delete,
        json_pack("{s:s, s:I}", "id", ad_req_param(r, "id"), "now", (json_int_t)ad_wall_ms()),
        deleted);
}

/* ---- POST /api/workspaces ----------------------------------------------------------- */

static void path_refused(ad_req_t *r)
{
    ad_res_error(r, 403, "FORBIDDEN",
                 json_pack("{s:s, s:s}", "field", "path", "needed", "workspace_roots"),
                 "this path is under none of the organisation's workspace_roots (the owner "
                 "sets them); elsewhere only the owner organisation's admins register");
}

static void ws_created(void *ud, const ad_wtree_out_t *o)
{
    ad_api_wtree_reply(ud, o, 201, NULL, true);
}

static void ws_create(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_need_store(app, req)) {
        return;
    }
    json_t *body = ad_req_json(req);
    if (body == NULL) {
        return;
    }
    const char *path = NULL;
    ad_field_err_t e;
    if (ad_wtree_ws_body_check(body, &path, &e) != 0) {
        ad_api_invalid_err(req, &e);
        json_decref(body);
        return;
    }
    char org[AD_ID_MAX];
    if (!ad_api_setup_valid(req, body) || ad_api_org_for(app, req, body, org) != 0) {
        json_decref(body);
        return;
    }
    if (!ad_wtree_path_allowed(app->wtree, ad_api_who(req), org, path)) {
        path_refused(req);
        json_decref(body);
        return;
    }
    ad_wtree_ws_create(app->wtree, ad_api_who(req), org, body, ws_created, req);
    json_decref(body);
}

void ad_api_workspaces_register(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_server_route(s, "GET", "/api/workspaces", AD_ACCESS_READ, list, app);
    ad_server_route(s, "POST", "/api/workspaces", AD_ACCESS_WRITE, ws_create, app);
    ad_server_route(s, "GET", "/api/workspaces/:id", AD_ACCESS_READ, get, app);
    ad_server_route(s, "DELETE", "/api/workspaces/:id", AD_ACCESS_WRITE, del, app);
    ad_api_ws_edit_register(app); /* ws_edit.c: refresh, setup, PATCH */
}
