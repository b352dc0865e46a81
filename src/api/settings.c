/* SPDX-License-Identifier: MIT */
/*
 * /api/settings: every setting with its typed value, and partial updates
 * that are checked whole first (422 naming the field, nothing changed).
 */
#include "agent/agent.h"
#include "agent/price.h"
#include "api/api_int.h"
#include "chat/chat.h"
#include "forge/forge.h"
#include "monitor/monitor.h"
#include "tables/settings.h"

static void get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *out = NULL;
    int rc = ad_store_settings_get(app->store, &out);
    if (rc != 0) {
        ad_api_fail(r, rc, "settings", NULL);
        return;
    }
    /* a token sees its own org's workspace roots only */
    ad_store_settings_roots_only(out, ad_api_who(r)->owner, ad_api_who(r)->org_id);
    ad_res_json(r, 200, out);
}

/* GET /api/prices: what a cost is counted at, so a page can say "no price
 * set" rather than $0.00: {builtin (the list prices agentd knows),
 * modelPrices (the setting, which comes first)}, USD per million tokens. */
static void prices_get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *set = NULL;
    int rc = ad_store_settings_prices(app->store, &set);
    if (rc != 0) {
        ad_api_fail(r, rc, "settings", NULL);
        return;
    }
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
    ad_monitor_apply_settings(app->monitor, all);
    ad_store_settings_publish(app->bus, all); /* without workspace roots */
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
    if (roots != NULL && ad_store_settings_roots_ok(roots, &why) != 0) {
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
    json_t *sm = json_object_get(body, "summary_model");
    if (json_is_string(sm) && !ad_chat_summary_model_ok(json_string_value(sm))) {
        ad_api_invalid(r, "summary_model",
                       "must be \"\" (off) or a model name: 1 to 128 letters, digits and . _ : / "
                       "@ -, starting with a letter or digit");
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
