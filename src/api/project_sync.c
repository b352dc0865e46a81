/* SPDX-License-Identifier: MIT */
/*
 * A workbench project's sync folder (issue #40, seed 002), opt-in per
 * project: PUT /api/projects/:id/sync {path} (admin: it writes on the
 * daemon's machine; the folder must exist, have no link in its path and
 * lie under one of --project-sync-roots), GET and DELETE. The engine that
 * keeps the project and the folder in step is src/psync (app->psync);
 * projects.c hands it every change of a project (ad_psync_changed, which
 * publishes project_update and pushes the files).
 */
#include "api/workbench.h"
#include "psync/psync.h"
#include "tables/llm.h"

static void sync_set(int rc, json_t *view, void *ud)
{
    if (rc != 0) {
        ad_api_fail(ud, rc, "project", NULL);
    } else {
        ad_res_json(ud, 200, view);
    }
}

static void set_path(ad_app_t *app, ad_req_t *r, const char *id, const char *path)
{
    ad_psync_set(app->psync, app->store, id, path, sync_set, r);
}

static void sync_put(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *p = ad_api_row_load(app, r, ad_store_project_get, "project"), *body = NULL;
    const char *path = NULL;
    char why[128];
    if (p != NULL && (body = ad_req_json(r)) != NULL &&
        ad_api_str(r, body, "path", true, 4000, &path) == 0) {
        int rc = ad_psync_path_check(app->cfg->project_sync_roots, path, why, sizeof(why));
        if (rc == AD_EPERM) {
            ad_res_error(r, 403, "FORBIDDEN", NULL, "%s", why);
        } else if (rc != 0) {
            ad_api_invalid(r, "path", why);
        } else {
            set_path(app, r, ad_api_jstr(p, "id"), path);
        }
    }
    json_decref(body);
    json_decref(p);
}

static void sync_get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *p = ad_api_row_load(app, r, ad_store_project_get, "project"), *view = NULL;
    if (p == NULL) {
        return;
    }
    if (ad_psync_view(app->store, ad_api_jstr(p, "id"), &view) != 0) {
        ad_api_fail(r, AD_EINTERNAL, "project", NULL);
    } else {
        ad_res_json(r, 200, view);
    }
    json_decref(p);
}

static void sync_delete(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *p = ad_api_row_load(app, r, ad_store_project_get, "project");
    if (p != NULL) {
        set_path(app, r, ad_api_jstr(p, "id"), NULL);
        json_decref(p);
    }
}

void ad_api_project_sync_register(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_server_route(s, "PUT", "/api/projects/:id/sync", AD_ACCESS_ADMIN, sync_put, app);
    ad_server_route(s, "GET", "/api/projects/:id/sync", AD_ACCESS_READ, sync_get, app);
    ad_server_route(s, "DELETE", "/api/projects/:id/sync", AD_ACCESS_ADMIN, sync_delete, app);
}
