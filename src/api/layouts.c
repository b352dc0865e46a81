/* SPDX-License-Identifier: MIT */
/*
 * The training workspace's saved panel layout (issue #35), kept by agentd
 * so it follows the user from browser to browser:
 *   GET /api/training/layout?workspaceId=   {scope, layout, updatedAt}
 *                                           (layout null: none saved)
 *   PUT /api/training/layout?workspaceId=   {panels: [...]} (write)
 *   DELETE /api/training/layout?workspaceId= back to the default (write)
 * Without workspaceId the layout is the one of every workspace's runs. One
 * per organisation and scope: the workspace's organisation, or the
 * caller's. What a layout may hold is src/hparam's (layout.c); rows are the
 * store's (src/tables/layouts.c). A change publishes layout_update to the
 * organisation.
 */
#include "api/api_int.h"
#include "hparam/hparam.h"
#include "tables/layouts.h"

/* The organisation and scope of r's layout, or false after answering. */
static bool scope_of(ad_app_t *app, ad_req_t *r, char org[AD_ID_MAX], const char **scope)
{
    const char *ws = ad_req_query(r, "workspaceId");
    if (!ad_api_need_store(app, r)) {
        return false;
    }
    if (ws != NULL && ws[0] != '\0') {
        *scope = ws;
        return ad_api_visible(app, r, AD_STORE_ROW_WORKSPACE, ws, org);
    }
    *scope = "";
    snprintf(org, AD_ID_MAX, "%s", ad_principal_org_for(ad_api_who(r), NULL));
    return true;
}

static void layout_get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    char org[AD_ID_MAX];
    const char *scope = NULL;
    if (!scope_of(app, r, org, &scope)) {
        return;
    }
    json_t *out = NULL;
    int rc = ad_store_layout_get(app->store, org, scope, &out);
    if (rc == AD_ENOENT) {
        ad_res_json(r, 200, json_pack("{s:s, s:n, s:n}", "scope", scope, "layout", "updatedAt"));
    } else if (rc != 0) {
        ad_api_fail(r, rc, "layout", NULL);
    } else {
        ad_res_json(r, 200, out);
    }
}

static void layout_saved(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        ad_api_fail(r, rc, "layout", NULL);
        return;
    }
    ad_store_layout_publish(app->bus, result); /* orgId taken out of result */
    ad_res_json(r, 200, json_incref(result));
}

static void layout_write(ad_req_t *r, ad_app_t *app, bool put)
{
    char org[AD_ID_MAX];
    const char *scope = NULL;
    json_t *body = NULL, *layout = NULL;
    if (!scope_of(app, r, org, &scope)) {
        return;
    }
    if (put) {
        if ((body = ad_req_json(r)) == NULL) {
            return;
        }
        ad_hparam_err_t e;
        layout = ad_hparam_layout(body, &e);
        json_decref(body);
        if (layout == NULL) {
            ad_api_invalid(r, e.field, e.reason);
            return;
        }
    }
    json_t *args =
        json_pack("{s:s, s:s, s:I}", "orgId", org, "scope", scope, "now", (json_int_t)ad_wall_ms());
    if (layout != NULL) {
        json_object_set_new(args, "layout", layout);
    }
    ad_api_write(app, r, ad_store_op_layout_put, args, layout_saved);
}

static void layout_put(ad_req_t *r, void *ud)
{
    layout_write(r, ud, true);
}

static void layout_delete(ad_req_t *r, void *ud)
{
    layout_write(r, ud, false);
}

void ad_api_layouts_register(ad_app_t *app)
{
    ad_server_route(app->server, "GET", "/api/training/layout", AD_ACCESS_READ, layout_get, app);
    ad_server_route(app->server, "PUT", "/api/training/layout", AD_ACCESS_WRITE, layout_put, app);
    ad_server_route(app->server, "DELETE", "/api/training/layout", AD_ACCESS_WRITE, layout_delete,
                    app);
}
