/* SPDX-License-Identifier: MIT */
/*
 * /api/worktrees: list (by workspace), get, update (name, branch, sortMode,
 * displayOrder), delete (never the main worktree) and reorder. Creating
 * real git worktrees is the git subsystem's.
 */
#include "api/api_int.h"

#include <string.h>

static void list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *ws = ad_req_query(r, "workspaceId");
    if (ws != NULL && ws[0] == '\0') {
        ws = NULL;
    }
    json_t *out = NULL;
    if (ws != NULL) {
        int rc = ad_store_workspace_get(app->store, ws, &out);
        if (rc != 0) {
            api_fail(r, rc, "workspace", ws);
            return;
        }
        json_decref(out);
    }
    int rc = ad_store_worktree_list(app->store, ws, &out);
    if (rc != 0) {
        api_fail(r, rc, "worktrees", NULL);
        return;
    }
    ad_res_json(r, 200, out);
}

static void get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    json_t *wt = NULL;
    int rc = ad_store_worktree_get(app->store, id, &wt);
    if (rc != 0) {
        api_fail(r, rc, "worktree", id);
        return;
    }
    ad_res_json(r, 200, wt);
}

static void updated(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        api_fail(r, rc, "worktree", ad_req_param(r, "id"));
        return;
    }
    json_t *wt = json_object_get(result, "worktree");
    api_publish(app, "worktree_updated", wt, "worktree",
                json_string_value(json_object_get(wt, "id")), "workspace",
                json_string_value(json_object_get(wt, "workspaceId")), NULL);
    ad_res_json(r, 200, json_incref(wt));
}

static void patch(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    const char *name = NULL, *branch = NULL, *mode = NULL;
    int64_t order = 0;
    bool has_order = false;
    if (api_str(r, body, "name", false, 200, &name) != 0 ||
        api_str(r, body, "branch", false, 250, &branch) != 0 ||
        api_enum(r, body, "sortMode", false, "free,status,name", &mode) != 0 ||
        api_int(r, body, "displayOrder", false, -1000000000, 1000000000, &order, &has_order) != 0) {
        goto out;
    }
    if (name != NULL && name[0] == '\0') {
        api_invalid(r, "name", "must not be empty");
        goto out;
    }
    json_t *args =
        json_pack("{s:s, s:I}", "id", ad_req_param(r, "id"), "now", (json_int_t)ad_wall_ms());
    if (name != NULL) {
        json_object_set_new(args, "name", json_string(name));
    }
    if (branch != NULL) {
        json_object_set_new(args, "branch", json_string(branch));
    }
    if (mode != NULL) {
        json_object_set_new(args, "sortMode", json_string(mode));
    }
    if (has_order) {
        json_object_set_new(args, "displayOrder", json_integer(order));
    }
    api_write(app, r, ad_store_op_worktree_update, args, updated);
out:
    json_decref(body);
}

static void deleted(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc == AD_ESTATE) {
        ad_res_error_code(r, rc, NULL,
                          "the main worktree cannot be deleted; delete its "
                          "workspace instead");
        return;
    }
    if (rc != 0) {
        api_fail(r, rc, "worktree", ad_req_param(r, "id"));
        return;
    }
    json_t *wt = json_object_get(result, "worktree");
    const char *id = json_string_value(json_object_get(wt, "id"));
    const char *ws = json_string_value(json_object_get(wt, "workspaceId"));
    json_t *p = json_pack("{s:s, s:s, s:O}", "id", id, "workspaceId", ws, "agentIds",
                          json_object_get(result, "agentIds"));
    api_publish(app, "worktree_deleted", p, "worktree", id, "workspace", ws, NULL);
    json_decref(p);
    ad_res_send(r, 204, NULL, NULL, 0);
}

static void del(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    api_write(app, r, ad_store_op_worktree_delete, json_pack("{s:s}", "id", ad_req_param(r, "id")),
              deleted);
}

static void reordered(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        const char *id = json_string_value(json_object_get(result, "id"));
        api_fail(r, rc, "worktree", id);
        return;
    }
    json_t *arr = json_object_get(result, "worktrees");
    size_t i;
    json_t *wt;
    json_array_foreach(arr, i, wt)
    {
        json_t *p = json_pack("{s:O, s:O}", "id", json_object_get(wt, "id"), "displayOrder",
                              json_object_get(wt, "displayOrder"));
        api_publish(app, "worktree_updated", p, "worktree",
                    json_string_value(json_object_get(wt, "id")), "workspace",
                    json_string_value(json_object_get(wt, "workspaceId")), NULL);
        json_decref(p);
    }
    ad_res_json(r, 200, json_incref(result));
}

static void reorder(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    json_t *ids = NULL;
    if (api_str_array(r, body, "ids", true, 10000, AD_ID_MAX, &ids) == 0) {
        api_write(app, r, ad_store_op_worktree_reorder,
                  json_pack("{s:O, s:I}", "ids", ids, "now", (json_int_t)ad_wall_ms()), reordered);
    }
    json_decref(body);
}

void api_worktrees_register(ad_app_t *app)
{
    ad_server_route(app->server, "GET", "/api/worktrees", list, app);
    ad_server_route(app->server, "POST", "/api/worktrees/reorder", reorder, app);
    ad_server_route(app->server, "GET", "/api/worktrees/:id", get, app);
    ad_server_route(app->server, "PATCH", "/api/worktrees/:id", patch, app);
    ad_server_route(app->server, "DELETE", "/api/worktrees/:id", del, app);
}
