/* SPDX-License-Identifier: MIT */
/*
 * /api/workspaces (docs/api.md, "Workspaces, worktrees and agents"):
 * list, get, delete; create (a git work tree, with every worktree git
 * knows), git work on the thread pool (ad_git_queue); refresh, setup and PATCH are ws_edit.c's.
 * Events: workspace_created {workspace, worktree (main), worktrees}, workspace_updated {workspace
 * row, changes? (refresh)}, workspace_deleted {id, worktreeIds, agentIds, archived: true}. DELETE
 * removes the workspace from the lists and archives its agents; no file is touched (409 with
 * agentIds while any of them runs). Adding its path again brings it back.
 * Registering a path is admin's, or a write token's under the org's
 * workspace_roots. PATCH sets the workspace's sandbox {network, paths}
 * (admin's; null: agentd's default), the default of its agents
 * (src/run/sandbox.c); the audit row names the old and the new policy.
 * No git and no SQL here.
 */
#include "api/api_int.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The workspace object with its worktrees, for GET and create. */
json_t *ad_api_ws_with_worktrees(ad_app_t *app, json_t *ws)
{
    json_t *l = NULL;
    const char *id = json_string_value(json_object_get(ws, "id"));
    if (ad_store_worktree_list(app->store, id, NULL, &l) == 0) {
        json_object_set(ws, "worktrees", json_object_get(l, "worktrees"));
        json_decref(l);
    }
    return ws;
}

static void list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *out = NULL;
    int rc = ad_store_workspace_list(app->store, ad_principal_filter(ad_api_who(r)), &out);
    if (rc != 0) {
        ad_api_fail(r, rc, "workspaces", NULL);
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
    if (rc == 0 && !ad_principal_sees(ad_api_who(r), ad_api_jstr(ws, "orgId"))) {
        json_decref(ws);
        rc = AD_ENOENT; /* another org's workspace is as good as none */
    }
    if (rc != 0) {
        ad_api_fail(r, rc, "workspace", id);
        return;
    }
    ad_res_json(r, 200, ad_api_ws_with_worktrees(app, ws));
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
    json_t *ws = json_object_get(result, "workspace");
    const char *id = ad_api_jstr(ws, "id");
    json_t *p = json_pack("{s:s, s:O, s:O, s:b}", "id", id, "worktreeIds",
                          json_object_get(result, "worktreeIds"), "agentIds",
                          json_object_get(result, "agentIds"), "archived", 1);
    ad_api_publish(app, "workspace_deleted", p, "workspace", id, "system", "", "org",
                   ad_api_jstr(ws, "orgId"), NULL);
    json_decref(p);
    ad_res_send(r, 204, NULL, NULL, 0);
}

static void del(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_visible(app, r, AD_API_WORKSPACE, ad_req_param(r, "id"), NULL)) {
        return;
    }
    ad_api_write(
        app, r, ad_store_op_workspace_delete,
        json_pack("{s:s, s:I}", "id", ad_req_param(r, "id"), "now", (json_int_t)ad_wall_ms()),
        deleted);
}

/* ---- POST /api/workspaces ----------------------------------------------------------- */

/* Whether the workspace at path is one the caller sees: a 409 names the
 * path only then (another org's path is none of its business). */
static bool path_seen(ad_app_t *app, ad_req_t *r, const char *path)
{
    const ad_principal_t *who = ad_api_who(r);
    if (who->owner) {
        return true;
    }
    json_t *list = NULL;
    bool seen = false;
    if (path != NULL && ad_store_workspace_list(app->store, who->org_id, &list) == 0) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(list, "workspaces"), i, v)
        {
            const char *p = ad_api_jstr(v, "path");
            seen |= p != NULL && strcmp(p, path) == 0;
        }
    }
    json_decref(list);
    return seen;
}

static void ws_created(int rc, json_t *result, void *ud)
{
    ad_api_gctx_t *c = ud;
    const char *path = ad_api_jstr(c->git, "path");
    if (rc == AD_EEXIST && path_seen(c->app, c->req, path)) {
        ad_res_error(c->req, 409, "CONFLICT",
                     json_pack("{s:s, s:s?}", "field", "path", "path", path),
                     "a workspace for %s already exists", path);
    } else if (rc == AD_EEXIST) {
        ad_res_error(c->req, 409, "CONFLICT", json_pack("{s:s}", "field", "path"),
                     "that repository is already a workspace");
    } else if (rc != 0) {
        ad_res_error_code(c->req, rc, NULL, "cannot save the workspace");
    } else {
        json_t *ws = json_incref(json_object_get(result, "workspace"));
        json_t *wts = json_object_get(result, "worktrees");
        json_t *p = json_pack("{s:O, s:O, s:O}", "workspace", ws, "worktree",
                              json_array_get(wts, 0), "worktrees", wts);
        ad_api_publish(c->app, "workspace_created", p, "workspace", ad_api_jstr(ws, "id"), "system",
                       "", "org", ad_api_jstr(ws, "orgId"), NULL);
        json_decref(p);
        json_object_set(ws, "worktrees", wts);
        ad_res_json(c->req, 201, ws);
    }
    json_decref(result);
    ad_api_gctx_free(c);
}

static void ws_listed(const ad_git_result_t *res, void *ud)
{
    ad_api_gctx_t *c = ud;
    if (!ad_api_git_step_ok(c, res, true)) {
        return;
    }
    json_t *list = json_object_get(res->data, "worktrees");
    json_t *main = json_array_get(list, 0);
    char ws_id[AD_ID_MAX], wt_id[AD_ID_MAX];
    ad_id_new("ws", ws_id);
    ad_id_new("wt", wt_id);
    json_t *linked = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (json_is_true(json_object_get(v, "isMain")) ||
            json_is_true(json_object_get(v, "missing"))) {
            continue;
        }
        char id[AD_ID_MAX];
        ad_id_new("wt", id);
        json_array_append_new(
            linked, json_pack("{s:s, s:s?, s:s, s:s?}", "id", id, "name", ad_api_jstr(v, "name"),
                              "branch", ad_api_jstr(v, "branch") ? ad_api_jstr(v, "branch") : "",
                              "path", ad_api_jstr(v, "path")));
    }
    const char *name = ad_api_jstr(c->body, "name");
    json_t *args = json_pack(
        "{s:s, s:s?, s:s?, s:I, s:s, s:s, s:o}", "id", ws_id, "name",
        name != NULL ? name : ad_api_jstr(c->git, "name"), "path", ad_api_jstr(c->git, "path"),
        "now", (json_int_t)ad_wall_ms(), "worktreeId", wt_id, "branch",
        ad_api_jstr(main, "branch") ? ad_api_jstr(main, "branch") : "", "linked", linked);
    if (args == NULL) { /* a name or path that is not UTF-8 */
        ad_res_error(c->req, 422, "VALIDATION_ERROR", json_pack("{s:s}", "field", "path"),
                     "the repository's paths must be UTF-8");
        ad_api_gctx_free(c);
        return;
    }
    if (json_object_get(c->body, "setupFiles") != NULL) {
        json_object_set(args, "setupFiles", json_object_get(c->body, "setupFiles"));
    }
    if (ad_api_jstr(c->body, "setupCommand") != NULL) {
        json_object_set(args, "setupCommand", json_object_get(c->body, "setupCommand"));
    }
    json_object_set_new(args, "orgId", json_string(c->id)); /* ws_create put the org there */
    ad_store_write(c->app->store, ad_store_op_workspace_git_create, args, ws_created, c);
}

/* ---- who may register which path ----------------------------------------------------
 * A workspace's files are read and served to its org, so registering one
 * is admin business, or any write token's within a root the owner allowed
 * for its org (the workspace_roots setting: {orgId: [absolute folders]}).
 * Paths are compared after realpath, on both sides. */

static bool under_root(const char *real, const char *root)
{
    char rr[PATH_MAX];
    if (realpath(root, rr) == NULL) {
        return false;
    }
    size_t n = strlen(rr);
    while (n > 1 && rr[n - 1] == '/') {
        n--;
    }
    return strncmp(real, rr, n) == 0 && (real[n] == '\0' || real[n] == '/' || n == 1);
}

/* Whether r may register path (already resolved or not). */
static bool path_allowed(ad_app_t *app, ad_req_t *r, const char *org, const char *path)
{
    if (ad_principal_can(ad_api_who(r), AD_SCOPE_ADMIN)) {
        return true;
    }
    char real[PATH_MAX];
    if (path == NULL || realpath(path, real) == NULL) {
        return false;
    }
    json_t *settings = NULL;
    bool ok = false;
    if (ad_store_settings_get(app->store, &settings) == 0) {
        json_t *roots = json_object_get(json_object_get(settings, "workspace_roots"), org);
        size_t i;
        json_t *v;
        json_array_foreach(roots, i, v)
        {
            ok |= json_is_string(v) && under_root(real, json_string_value(v));
        }
    }
    json_decref(settings);
    return ok;
}

static void path_refused(ad_req_t *r)
{
    ad_res_error(r, 403, "FORBIDDEN", json_pack("{s:s, s:s}", "field", "path", "needed", "admin"),
                 "registering this path needs admin (or a folder under one of the org's "
                 "workspace_roots)");
}

static void ws_opened(const ad_git_result_t *res, void *ud)
{
    ad_api_gctx_t *c = ud;
    if (res->rc != 0) {
        ad_api_git_reply_error(c->req, res, true);
        ad_api_gctx_free(c);
        return;
    }
    /* git finds a repository upwards too: what it found must be allowed */
    if (!path_allowed(c->app, c->req, c->id, ad_api_jstr(res->data, "path"))) {
        path_refused(c->req);
        ad_api_gctx_free(c);
        return;
    }
    c->git = json_incref(res->data);
    ad_git_args_t a = {.repo_path = ad_api_jstr(c->git, "path")};
    ad_api_git_queue(c, AD_GIT_OP_LIST, &a, ws_listed);
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
    const char *path = ad_api_jstr(body, "path");
    json_t *name = json_object_get(body, "name");
    if (path == NULL || path[0] == '\0') {
        ad_res_error(req, 422, "VALIDATION_ERROR", json_pack("{s:s}", "field", "path"),
                     "path is required: the folder of a git work tree");
        json_decref(body);
        return;
    }
    if (name != NULL && !json_is_null(name) &&
        (!json_is_string(name) || json_string_length(name) == 0 ||
         json_string_length(name) > 200)) {
        ad_res_error(req, 422, "VALIDATION_ERROR", json_pack("{s:s}", "field", "name"),
                     "name must be a string of 1 to 200 characters");
        json_decref(body);
        return;
    }
    char org[AD_ID_MAX];
    if (!ad_api_setup_valid(req, body) || ad_api_org_for(app, req, body, org) != 0) {
        json_decref(body);
        return;
    }
    if (!path_allowed(app, req, org, path)) {
        path_refused(req);
        json_decref(body);
        return;
    }
    ad_api_gctx_t *c = ad_api_gctx_new(app, req);
    c->body = body;
    snprintf(c->id, sizeof(c->id), "%s", org);
    ad_git_args_t a = {.path = path};
    ad_api_git_queue(c, AD_GIT_OP_OPEN, &a, ws_opened);
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
