/* SPDX-License-Identifier: MIT */
/*
 * /api/settings: every setting with its typed value, and partial updates
 * that are checked whole first (422 naming the field, nothing changed).
 */
#include "agent/agent.h"
#include "api/api_int.h"

static void get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *out = NULL;
    int rc = ad_store_settings_get(app->store, &out);
    if (rc != 0) {
        ad_api_fail(r, rc, "settings", NULL);
        return;
    }
    ad_res_json(r, 200, out);
}

static void updated(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        ad_api_fail(r, rc, "settings", NULL);
        return;
    }
    json_t *all = json_object_get(result, "settings");
    ad_api_health_apply_settings(app, all);
    ad_api_publish(app, "settings_update", all, "system", "", NULL);
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
    ad_server_route(app->server, "PATCH", "/api/settings", AD_ACCESS_ADMIN, patch, app);
}
