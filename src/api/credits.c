/* SPDX-License-Identifier: MIT */
/*
 * Credits and agent time (issue #40, the crews seed's token and rental
 * statistics): POST /api/orgs/:id/credits (the owner grants an org
 * credits), GET /api/credits (an org's balance and grants), the credit
 * figures /api/dashboard/tokens/stats adds (ad_store_credits_json), and
 * GET /api/dashboard/rentals/stats with the seed's /dashboard/rentals/stats
 * (agent time per org; the control plane is the only node today). The
 * figures come from src/tables/credits.c.
 */
#include "api/api_int.h"
#include "tables/credits.h"
#include "compat/compat.h"

/* The org whose credits r asks about: a token's own; the owner's ?orgId=
 * (id or name), else the default org. NULL after answering 404. */
static const char *credit_org(ad_app_t *app, ad_req_t *r, char org[AD_ID_MAX])
{
    const ad_principal_t *who = ad_api_who(r);
    const char *want = ad_req_query(r, "orgId");
    int rc = ad_auth_org_named(app->store, who, want != NULL && want[0] != '\0' ? want : NULL,
                               false, org);
    if (rc != 0) {
        ad_api_fail(r, rc, "organisation", want);
        return NULL;
    }
    return org;
}

static void credits_get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    char org[AD_ID_MAX];
    if (credit_org(app, r, org) == NULL) {
        return;
    }
    json_t *out = NULL;
    if (ad_store_credits_view(app->store, org, &out) != 0) {
        ad_api_fail(r, AD_EINTERNAL, "credits", NULL);
        return;
    }
    ad_res_json(r, 200, out);
}

static void granted(int rc, json_t *result, void *ud)
{
    ad_req_t *r = ud;
    if (rc != 0) {
        json_decref(result);
        ad_api_fail(r, rc, "organisation", NULL);
        return;
    }
    ad_res_json(r, 201, result);
}

/* POST /api/orgs/:id/credits {amount, note?}: the owner alone (an org's
 * admin granting itself credits would make them mean nothing). A negative
 * amount takes credits back. */
static void credits_grant(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_require_owner(r, "grants credits")) {
        return;
    }
    char org[AD_ID_MAX];
    const char *id = ad_req_param(r, "id");
    int rc = ad_store_org_find(app->store, id, org);
    if (rc != 0) {
        ad_api_fail(r, rc, "organisation", id);
        return;
    }
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    const char *note = NULL;
    double v = 0;
    ad_field_err_t e;
    if (ad_store_grant_check(body, &v, &note, &e) != 0) {
        ad_api_invalid_err(r, &e);
    } else {
        ad_store_credit_grant_new(app->store, org, v, note, ad_api_who(r)->name, granted, r);
    }
    json_decref(body);
}

/* ---- agent time ---------------------------------------------------------------------- */

json_t *ad_api_rentals_json(ad_app_t *app, ad_req_t *r)
{
    json_t *out = NULL;
    int rc = ad_store_agent_time_range(app->store, ad_principal_filter(ad_api_who(r)),
                                       ad_req_query(r, "range"), (int64_t)ad_wall_ms(), &out);
    if (rc == AD_EINVAL) {
        ad_api_invalid(r, "range", "must be one of 24h,7d,30d,90d,all");
    } else if (rc != 0) {
        ad_api_fail(r, rc, "agent time", NULL);
    }
    return rc == 0 ? out : NULL;
}

static void rentals_get(ad_req_t *r, void *ud)
{
    json_t *out = ad_api_rentals_json(ud, r);
    if (out != NULL) {
        ad_res_json(r, 200, out);
    }
}

static void seed_rentals_get(ad_req_t *r, void *ud)
{
    json_t *out = ad_api_rentals_json(ud, r);
    if (out != NULL) {
        ad_res_json(r, 200, ad_compat_snake(out));
        json_decref(out);
    }
}

void ad_api_credits_register(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_server_route(s, "GET", "/api/credits", AD_ACCESS_READ, credits_get, app);
    ad_server_route(s, "POST", "/api/orgs/:id/credits", AD_ACCESS_ADMIN, credits_grant, app);
    ad_server_route(s, "GET", "/api/dashboard/rentals/stats", AD_ACCESS_READ, rentals_get, app);
    ad_server_route(s, "GET", "/dashboard/rentals/stats", AD_ACCESS_READ, seed_rentals_get, app);
}
