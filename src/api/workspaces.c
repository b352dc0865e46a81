/* SPDX-License-Identifier: MIT */
/*
 * /api/workspaces: list, create (an existing directory, stored by its
 * canonical path, with its main worktree), get, delete and refresh. The git
 * subsystem extends create and refresh with repository discovery.
 */
#include "api/api_int.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The workspace object with its worktrees, for GET and create. */
static json_t *with_worktrees(ad_app_t *app, json_t *ws)
{
    json_t *l = NULL;
    const char *id = json_string_value(json_object_get(ws, "id"));
    if (ad_store_worktree_list(app->store, id, &l) == 0) {
        json_object_set(ws, "worktrees", json_object_get(l, "worktrees"));
        json_decref(l);
    }
    return ws;
}

static void list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *out = NULL;
    int rc = ad_store_workspace_list(app->store, &out);
    if (rc != 0) {
        api_fail(r, rc, "workspaces", NULL);
        return;
    }
    ad_res_json(r, 200, out);
}

static void get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    json_t *ws = NULL;
    int rc = ad_store_workspace_get(app->store, id, &ws);
    if (rc != 0) {
        api_fail(r, rc, "workspace", id);
        return;
    }
    ad_res_json(r, 200, with_worktrees(app, ws));
}

static void created(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        if (rc == AD_EEXIST) {
            ad_res_error_code(r, rc, json_pack("{s:s}", "field", "path"),
                              "a workspace with this path already exists");
        } else {
            api_fail(r, rc, "workspace", NULL);
        }
        return;
    }
    json_t *ws = json_object_get(result, "workspace");
    json_t *wt = json_object_get(result, "worktree");
    const char *id = json_string_value(json_object_get(ws, "id"));
    api_publish(app, "workspace_created", result, "workspace", id, "system", "", NULL);
    json_t *body = json_copy(ws);
    json_object_set_new(body, "worktrees", json_pack("[O]", wt));
    ad_res_json(r, 201, body);
}

static void create(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    const char *path = NULL, *name = NULL;
    if (api_str(r, body, "path", true, PATH_MAX - 1, &path) != 0 ||
        api_str(r, body, "name", false, 200, &name) != 0) {
        goto out;
    }
    char real[PATH_MAX];
    struct stat sb;
    if (path[0] != '/') {
        api_invalid(r, "path", "must be an absolute path");
        goto out;
    }
    if (realpath(path, real) == NULL || stat(real, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        api_invalid(r, "path", "must be an existing directory");
        goto out;
    }
    if (name == NULL || name[0] == '\0') {
        const char *slash = strrchr(real, '/');
        name = slash != NULL && slash[1] != '\0' ? slash + 1 : real;
    }
    char id[AD_ID_MAX], wtid[AD_ID_MAX];
    ad_id_new("ws", id);
    ad_id_new("wt", wtid);
    json_t *args = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "id", id, "name", name, "path", real,
                             "worktreeId", wtid, "branch", "", "now", (json_int_t)ad_wall_ms());
    if (args == NULL) {
        /* realpath() resolved to bytes that are not UTF-8 */
        api_invalid(r, "path", "must resolve to a UTF-8 path");
        goto out;
    }
    api_write(app, r, ad_store_op_workspace_insert, args, created);
out:
    json_decref(body);
}

static void deleted(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        api_fail(r, rc, "workspace", ad_req_param(r, "id"));
        return;
    }
    const char *id = json_string_value(json_object_get(json_object_get(result, "workspace"), "id"));
    json_t *p = json_pack("{s:s, s:O, s:O}", "id", id, "worktreeIds",
                          json_object_get(result, "worktreeIds"), "agentIds",
                          json_object_get(result, "agentIds"));
    api_publish(app, "workspace_deleted", p, "workspace", id, "system", "", NULL);
    json_decref(p);
    ad_res_send(r, 204, NULL, NULL, 0);
}

static void del(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    api_write(app, r, ad_store_op_workspace_delete, json_pack("{s:s}", "id", ad_req_param(r, "id")),
              deleted);
}

static void refreshed(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        api_fail(r, rc, "workspace", ad_req_param(r, "id"));
        return;
    }
    json_t *ws = json_object_get(result, "workspace");
    api_publish(app, "workspace_updated", ws, "workspace",
                json_string_value(json_object_get(ws, "id")), NULL);
    ad_res_json(r, 200, with_worktrees(app, json_incref(ws)));
}

static void refresh(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    api_write(app, r, ad_store_op_workspace_touch,
              json_pack("{s:s, s:I}", "id", ad_req_param(r, "id"), "now", (json_int_t)ad_wall_ms()),
              refreshed);
}

void api_workspaces_register(ad_app_t *app)
{
    ad_server_route(app->server, "GET", "/api/workspaces", list, app);
    ad_server_route(app->server, "POST", "/api/workspaces", create, app);
    ad_server_route(app->server, "GET", "/api/workspaces/:id", get, app);
    ad_server_route(app->server, "DELETE", "/api/workspaces/:id", del, app);
    ad_server_route(app->server, "POST", "/api/workspaces/:id/refresh", refresh, app);
}
