/* SPDX-License-Identifier: MIT */
/*
 * A workspace's changes after it is registered (docs/api.md,
 * "Workspaces, worktrees and agents"): refresh (its rows follow what git lists), its setup files
 * and command, and PATCH {sandbox}, the default policy of its agents
 * (admin's; the audit row names the old and the new one). The refresh runs
 * in src/wtree (workspace.c); no git and no SQL here.
 */
#include "api/api_int.h"
#include "tables/gitrows.h"
#include "tables/workspaces.h"

/* ---- POST /api/workspaces/:id/refresh ---------------------------------------------- */

static void ws_refresh(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_need_store(app, req)) {
        return;
    }
    const char *id = ad_req_param(req, "id");
    json_t *ws = NULL;
    if (!ad_api_visible(app, req, AD_STORE_ROW_WORKSPACE, id, NULL)) {
        return;
    }
    int rc = ad_store_workspace_get(app->store, id, &ws);
    if (rc != 0) {
        ad_res_error_code(req, rc, NULL, rc == AD_ENOENT ? "no workspace %s" : "cannot read %s",
                          id);
        return;
    }
    ad_wtree_ws_refresh(app->wtree, ws, ad_api_wtree_200, req);
    json_decref(ws);
}

/* ---- GET|PUT /api/workspaces/:id/setup ------------------------------------------- */

static void ws_setup_get(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_need_store(app, req)) {
        return;
    }
    json_t *ws = NULL;
    if (!ad_api_visible(app, req, AD_STORE_ROW_WORKSPACE, ad_req_param(req, "id"), NULL)) {
        return;
    }
    int rc = ad_store_git_workspace_get(app->store, ad_req_param(req, "id"), &ws);
    if (rc != 0) {
        ad_res_error_code(req, rc, NULL, "no workspace %s", ad_req_param(req, "id"));
        return;
    }
    ad_res_json(req, 200, ad_wtree_setup_view(ws));
    json_decref(ws);
}

static void ws_setup_saved(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        ad_res_error_code(r, rc, NULL, "cannot save the setup");
        return;
    }
    json_t *ws = json_object_get(result, "workspace");
    ad_wtree_publish_ws(app->wtree, ws);
    ad_res_json(r, 200, ad_wtree_setup_view(ws));
}

static void ws_setup_put(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_need_store(app, req)) {
        return;
    }
    json_t *body = ad_req_json(req);
    if (body == NULL) {
        return;
    }
    if (!ad_api_setup_valid(req, body) ||
        !ad_api_visible(app, req, AD_STORE_ROW_WORKSPACE, ad_req_param(req, "id"), NULL)) {
        json_decref(body);
        return;
    }
    json_t *args = ad_wtree_setup_args(ad_req_param(req, "id"), body, (int64_t)ad_wall_ms());
    json_decref(body);
    ad_api_write(app, req, ad_store_op_workspace_setup_update, args, ws_setup_saved);
}

/* ---- PATCH /api/workspaces/:id {sandbox} ----------------------------------------- */

static void ws_patched(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        ad_api_fail(r, rc, "workspace", ad_req_param(r, "id"));
        return;
    }
    json_t *ws = json_object_get(result, "workspace");
    ad_api_sandbox_note(r, "workspace sandbox", json_object_get(result, "old"),
                        json_object_get(ws, "sandbox"));
    ad_wtree_publish_ws(app->wtree, ws);
    ad_res_json(r, 200, ad_store_workspace_with_worktrees(app->store, json_incref(ws)));
}

static void ws_patch(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_need_store(app, r)) {
        return;
    }
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    if (!ad_api_visible(app, r, AD_STORE_ROW_WORKSPACE, ad_req_param(r, "id"), NULL)) {
        json_decref(body);
        return;
    }
    json_t *sb = NULL;
    ad_field_err_t e;
    if (ad_wtree_ws_patch_check(body, &sb, &e) != 0) {
        ad_api_invalid_err(r, &e);
        json_decref(body);
        return;
    }
    if (json_is_null(sb) ? !ad_api_require(r, AD_SCOPE_ADMIN, "setting a workspace's sandbox")
                         : ad_api_sandbox_ok(app, r, sb, true) != 0) {
        json_decref(body);
        return;
    }
    json_t *args = json_pack("{s:s, s:I, s:O}", "id", ad_req_param(r, "id"), "now",
                             (json_int_t)ad_wall_ms(), "sandbox", sb);
    json_decref(body);
    ad_api_write(app, r, ad_store_op_workspace_sandbox_set, args, ws_patched);
}

void ad_api_ws_edit_register(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_server_route(s, "PATCH", "/api/workspaces/:id", AD_ACCESS_WRITE, ws_patch, app);
    ad_server_route(s, "POST", "/api/workspaces/:id/refresh", AD_ACCESS_WRITE, ws_refresh, app);
    ad_server_route(s, "GET", "/api/workspaces/:id/setup", AD_ACCESS_READ, ws_setup_get, app);
    ad_server_route(s, "PUT", "/api/workspaces/:id/setup", AD_ACCESS_WRITE, ws_setup_put, app);
}
