/* SPDX-License-Identifier: MIT */
/*
 * A workspace's changes after it is registered (docs/api.md,
 * "Workspaces, worktrees and agents"): refresh (its rows follow what git lists), its setup files
 * and command, and PATCH {sandbox}, the default policy of its agents
 * (admin's; the audit row names the old and the new one). Git work runs on
 * the thread pool (gitsteps.c); no git and no SQL here.
 */
#include "api/api_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- POST /api/workspaces/:id/refresh ---------------------------------------------- */

static void ws_synced(int rc, json_t *result, void *ud)
{
    ad_api_gctx_t *c = ud;
    if (rc != 0) {
        ad_res_error_code(c->req, rc, NULL, "cannot save the refreshed worktrees");
        json_decref(result);
        ad_api_gctx_free(c);
        return;
    }
    const char *ws_id = ad_api_jstr(c->ws, "id");
    json_t *changes = json_object_get(result, "changes");
    json_t *rows = json_object_get(result, "worktrees");
    static const char *kinds[] = {"added", "updated", "vanished", "restored"};
    for (size_t k = 0; k < AD_ARRAY_LEN(kinds); k++) {
        size_t i, j;
        json_t *id, *row;
        json_array_foreach(json_object_get(changes, kinds[k]), i, id)
        {
            json_array_foreach(rows, j, row)
            {
                if (json_equal(json_object_get(row, "id"), id)) {
                    ad_api_publish_wt(c->app, k == 0 ? "worktree_created" : "worktree_updated",
                                      k == 0 ? NULL : (k == 1 ? "branch" : kinds[k]), row);
                }
            }
        }
    }
    size_t i;
    json_t *v;
    const char *org = ad_api_jstr(c->ws, "orgId");
    json_array_foreach(json_object_get(changes, "removed"), i, v)
    {
        ad_api_publish_wt_deleted(c->app, ad_api_jstr(v, "id"), ws_id, org, NULL);
    }
    json_array_foreach(json_object_get(changes, "flaggedAgents"), i, v)
    {
        ad_api_publish_agent_flag(c->app, json_string_value(v), ws_id, org, true);
    }
    json_array_foreach(json_object_get(changes, "unflaggedAgents"), i, v)
    {
        ad_api_publish_agent_flag(c->app, json_string_value(v), ws_id, org, false);
    }
    json_t *p = json_deep_copy(json_object_get(result, "workspace"));
    json_object_set(p, "changes", changes);
    ad_api_publish(c->app, "workspace_updated", p, "workspace", ws_id, "org", org, NULL);
    json_decref(p);
    json_t *ws = json_incref(json_object_get(result, "workspace"));
    json_object_set(ws, "worktrees", rows);
    json_object_set(ws, "changes", changes);
    ad_res_json(c->req, 200, ws);
    json_decref(result);
    ad_api_gctx_free(c);
}

static void ws_relisted(const ad_git_result_t *res, void *ud)
{
    ad_api_gctx_t *c = ud;
    if (!ad_api_gctx_still_open(c)) {
        return;
    }
    if (res->rc != 0) {
        if (res->rc == AD_ENOENT || res->rc == AD_EINVAL || res->rc == AD_ESTATE) {
            json_t *d = json_pack("{s:s, s:s?}", "reason", res->err.reason, "path",
                                  ad_api_jstr(c->ws, "path"));
            ad_res_error(c->req, 409, "CONFLICT", d, "the workspace's repository is unusable: %s",
                         res->err.msg);
        } else {
            ad_api_git_reply_error(c->req, res, false);
        }
        ad_api_gctx_free(c);
        return;
    }
    json_t *args =
        json_pack("{s:s?, s:I, s:O}", "workspaceId", ad_api_jstr(c->ws, "id"), "now",
                  (json_int_t)ad_wall_ms(), "worktrees", json_object_get(res->data, "worktrees"));
    ad_store_write(c->app->store, ad_store_op_workspace_git_sync, args, ws_synced, c);
}

static void ws_refresh(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_need_store(app, req)) {
        return;
    }
    const char *id = ad_req_param(req, "id");
    json_t *ws = NULL;
    if (!ad_api_visible(app, req, AD_API_WORKSPACE, id, NULL)) {
        return;
    }
    int rc = ad_store_workspace_get(app->store, id, &ws);
    if (rc != 0) {
        ad_res_error_code(req, rc, NULL, rc == AD_ENOENT ? "no workspace %s" : "cannot read %s",
                          id);
        return;
    }
    ad_api_gctx_t *c = ad_api_gctx_new(app, req);
    c->ws = ws;
    ad_git_args_t a = {.repo_path = ad_api_jstr(ws, "path")};
    ad_api_git_queue(c, AD_GIT_OP_LIST, &a, ws_relisted);
}

/* ---- GET|PUT /api/workspaces/:id/setup ------------------------------------------- */

static void ws_setup_get(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_need_store(app, req)) {
        return;
    }
    json_t *ws = NULL;
    if (!ad_api_visible(app, req, AD_API_WORKSPACE, ad_req_param(req, "id"), NULL)) {
        return;
    }
    int rc = ad_store_git_workspace_get(app->store, ad_req_param(req, "id"), &ws);
    if (rc != 0) {
        ad_res_error_code(req, rc, NULL, "no workspace %s", ad_req_param(req, "id"));
        return;
    }
    ad_res_json(req, 200, ad_api_setup_view(ws));
    json_decref(ws);
}

static void ws_setup_saved(int rc, json_t *result, void *ud)
{
    ad_api_gctx_t *c = ud;
    if (rc != 0) {
        ad_res_error_code(c->req, rc, NULL, "cannot save the setup");
    } else {
        json_t *ws = json_object_get(result, "workspace");
        ad_api_publish(c->app, "workspace_updated", ws, "workspace", ad_api_jstr(ws, "id"), "org",
                       ad_api_jstr(ws, "orgId"), NULL);
        ad_res_json(c->req, 200, ad_api_setup_view(ws));
    }
    json_decref(result);
    ad_api_gctx_free(c);
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
        !ad_api_visible(app, req, AD_API_WORKSPACE, ad_req_param(req, "id"), NULL)) {
        json_decref(body);
        return;
    }
    json_t *args =
        json_pack("{s:s, s:I}", "id", ad_req_param(req, "id"), "now", (json_int_t)ad_wall_ms());
    if (json_object_get(body, "setupFiles") != NULL) {
        json_object_set(args, "setupFiles", json_object_get(body, "setupFiles"));
    }
    if (json_object_get(body, "setupCommand") != NULL) {
        json_object_set(args, "setupCommand", json_object_get(body, "setupCommand"));
    }
    json_decref(body);
    ad_store_write(app->store, ad_store_op_workspace_setup_update, args, ws_setup_saved,
                   ad_api_gctx_new(app, req));
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
    ad_api_publish(app, "workspace_updated", ws, "workspace", ad_api_jstr(ws, "id"), "org",
                   ad_api_jstr(ws, "orgId"), NULL);
    ad_res_json(r, 200, ad_api_ws_with_worktrees(app, json_incref(ws)));
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
    if (!ad_api_visible(app, r, AD_API_WORKSPACE, ad_req_param(r, "id"), NULL)) {
        json_decref(body);
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v)
    {
        if (strcmp(k, "sandbox") != 0) {
            ad_api_invalid(r, k, "cannot be changed here (PATCH takes sandbox)");
            json_decref(body);
            return;
        }
    }
    json_t *sb = json_object_get(body, "sandbox");
    if (sb == NULL) {
        ad_api_invalid(r, "sandbox", "is required");
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
