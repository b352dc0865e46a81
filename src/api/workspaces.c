/* SPDX-License-Identifier: MIT */
/*
 * /api/workspaces: list, get and delete. Create (a git work tree, with
 * every worktree git knows) and refresh (rows follow git) are git work and
 * live in src/api/git.c.
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

void api_workspaces_register(ad_app_t *app)
{
    ad_server_route(app->server, "GET", "/api/workspaces", list, app);
    /* Creating and refreshing a workspace is git work (src/api/git.c). */
    ad_server_route(app->server, "POST", "/api/workspaces", api_git_workspace_create, app);
    ad_server_route(app->server, "GET", "/api/workspaces/:id", get, app);
    ad_server_route(app->server, "DELETE", "/api/workspaces/:id", del, app);
    ad_server_route(app->server, "POST", "/api/workspaces/:id/refresh", api_git_workspace_refresh,
                    app);
}
