/* SPDX-License-Identifier: MIT */
/*
 * /api/settings: every setting with its typed value, and partial updates
 * that are checked whole first (422 naming the field, nothing changed).
 */
#include "agent/agent.h"
#include "api/api_int.h"
#include "forge/forge.h"

#include <string.h>

/* workspace_roots {orgId: [absolute folders]}: where a write token of the
 * org may register workspaces (src/api/workspaces.c). A token sees its own
 * org's only; every event gets none (the owner reads them with GET). */
static void roots_filter(json_t *settings, const ad_principal_t *who)
{
    json_t *roots = json_object_get(settings, "workspace_roots");
    if (roots == NULL || (who != NULL && who->owner)) {
        return;
    }
    json_t *mine = who != NULL ? json_object_get(roots, who->org_id) : NULL;
    json_t *only = json_object();
    if (mine != NULL) {
        json_object_set(only, who->org_id, mine);
    }
    json_object_set_new(settings, "workspace_roots", only);
}

static int roots_validate(json_t *roots, const char **why)
{
    const char *org;
    json_t *list;
    if (!json_is_object(roots) || json_object_size(roots) > 1000) {
        *why = "must be an object {orgId: [absolute folders]}";
        return AD_EINVAL;
    }
    json_object_foreach(roots, org, list)
    {
        if (!json_is_array(list) || json_array_size(list) > 64) {
            *why = "each org's roots must be an array of at most 64 absolute folders";
            return AD_EINVAL;
        }
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v)
        {
            const char *p = json_string_value(v);
            if (p == NULL || p[0] != '/' || strlen(p) >= 4096) {
                *why = "each root must be an absolute folder";
                return AD_EINVAL;
            }
        }
    }
    return 0;
}

static void get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *out = NULL;
    int rc = ad_store_settings_get(app->store, &out);
    if (rc != 0) {
        ad_api_fail(r, rc, "settings", NULL);
        return;
    }
    roots_filter(out, ad_api_who(r));
    ad_res_json(r, 200, out);
}

/* GET /api/prices: what a cost is counted at, so a page can say "no price
 * set" rather than $0.00: {builtin (the list prices agentd knows),
 * modelPrices (the setting, which comes first)}, USD per million tokens. */
static void prices_get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *all = NULL;
    int rc = ad_store_settings_get(app->store, &all);
    if (rc != 0) {
        ad_api_fail(r, rc, "settings", NULL);
        return;
    }
    json_t *mine = json_object_get(all, "model_prices");
    json_t *set = json_is_object(mine) ? json_incref(mine) : json_object();
    json_decref(all);
    ad_res_json(r, 200,
                json_pack("{s:o, s:o}", "builtin", ad_price_builtin_json(), "modelPrices", set));
}

static void updated(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        ad_api_fail(r, rc, "settings", NULL);
        return;
    }
    json_t *all = json_object_get(result, "settings");
    ad_api_health_apply_settings(app, all);
    json_t *pub = json_deep_copy(all);
    roots_filter(pub, NULL);
    ad_api_publish(app, "settings_update", pub, "system", "", NULL);
    json_decref(pub);
    ad_res_json(r, 200, json_incref(all));
}

static void patch(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_require_owner(r, "changes settings")) {
        return;
    }
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    const char *bad = NULL, *why = NULL;
    json_t *prices = json_object_get(body, "model_prices");
    if (prices != NULL && ad_prices_validate(prices, &why) != 0) {
        ad_api_invalid(r, "model_prices", why);
        json_decref(body);
        return;
    }
    json_t *roots = json_object_get(body, "workspace_roots");
    if (roots != NULL && roots_validate(roots, &why) != 0) {
        ad_api_invalid(r, "workspace_roots", why);
        json_decref(body);
        return;
    }
    json_t *forges = json_object_get(body, "forge_hosts");
    if (forges != NULL && ad_forge_hosts_validate(forges, &why) != 0) {
        ad_api_invalid(r, "forge_hosts", why);
        json_decref(body);
        return;
    }
    if (ad_store_settings_validate(body, &bad, &why) != 0) {
        ad_api_invalid(r, bad, why);
        json_decref(body);
        return;
    }
    ad_api_write(app, r, ad_store_op_settings_update,
                 json_pack("{s:o, s:I}", "patch", body, "now", (json_int_t)ad_wall_ms()), updated);
}

void ad_api_settings_register(ad_app_t *app)
{
    ad_server_route(app->server, "GET", "/api/settings", AD_ACCESS_READ, get, app);
    ad_server_route(app->server, "GET", "/api/prices", AD_ACCESS_READ, prices_get, app);
    ad_server_route(app->server, "PATCH", "/api/settings", AD_ACCESS_ADMIN, patch, app);
}
