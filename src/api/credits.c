/* SPDX-License-Identifier: MIT */
/*
 * Credits and agent time (issue #40, the crews seed's token and rental
 * statistics): POST /api/orgs/:id/credits (the owner grants an org
 * credits), GET /api/credits (an org's balance and grants), the credit
 * figures /api/dashboard/tokens/stats adds (ad_api_credits_json), and
 * GET /api/dashboard/rentals/stats with the seed's /dashboard/rentals/stats
 * (agent time per org; the control plane is the only node today). The
 * figures come from src/store/credits.c.
 */
#include "api/api_int.h"

#include <math.h>
#include <string.h>

#define DAY_MS INT64_C(86400000)

/* The org whose credits r asks about: a token's own; the owner's ?orgId=
 * (id or name), else the default org. NULL after answering 404. */
static const char *credit_org(ad_app_t *app, ad_req_t *r, char org[AD_ID_MAX])
{
    const ad_principal_t *who = ad_api_who(r);
    const char *want = ad_req_query(r, "orgId");
    if (!who->owner) {
        snprintf(org, AD_ID_MAX, "%s", who->org_id);
        return org;
    }
    int rc =
        ad_store_org_find(app->store, want != NULL && want[0] != '\0' ? want : AD_ORG_DEFAULT, org);
    if (rc != 0) {
        ad_api_fail(r, rc, "organisation", want);
        return NULL;
    }
    return org;
}

json_t *ad_api_credits_json(ad_app_t *app, const char *org)
{
    ad_store_credits_t c;
    if (ad_store_credit_totals(app->store, org, &c) != 0) {
        return NULL;
    }
    return json_pack("{s:s, s:s, s:f, s:f, s:f, s:f, s:I}", "orgId", org, "unit", "usd", "balance",
                     c.balance, "earned", c.earned, "spent", c.spent, "pending", c.pending,
                     "grants", (json_int_t)c.grants);
}

static void credits_get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    char org[AD_ID_MAX];
    if (credit_org(app, r, org) == NULL) {
        return;
    }
    json_t *out = ad_api_credits_json(app, org);
    json_t *grants = NULL;
    if (out == NULL || ad_store_credit_grant_list(app->store, org, 100, &grants) != 0) {
        json_decref(out);
        ad_api_fail(r, AD_EINTERNAL, "credits", NULL);
        return;
    }
    json_object_set_new(out, "grantList", grants);
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
    json_t *amount = json_object_get(body, "amount");
    const char *note = NULL;
    double v = json_is_number(amount) ? json_number_value(amount) : NAN;
    if (!isfinite(v) || v == 0 || fabs(v) > 1e9) {
        ad_api_invalid(r, "amount",
                       "must be a non-zero number of credits (US dollars), at most 1e9");
    } else if (ad_api_str(r, body, "note", false, 200, &note) == 0) {
        char gid[AD_ID_MAX];
        ad_id_new("cred", gid);
        ad_store_grant_t g = {.id = gid,
                              .org_id = org,
                              .note = note,
                              .granted_by = ad_api_who(r)->name,
                              .amount = v,
                              .created_at = ad_wall_ms()};
        ad_store_credit_grant(app->store, &g, granted, r);
    }
    json_decref(body);
}

/* ---- agent time ---------------------------------------------------------------------- */

json_t *ad_api_rentals_json(ad_app_t *app, ad_req_t *r)
{
    const char *range = ad_req_query(r, "range");
    static const struct {
        const char *name;
        int64_t days;
    } ranges[] = {{"24h", 1}, {"7d", 7}, {"30d", 30}, {"90d", 90}, {"all", -1}};
    int64_t now = ad_wall_ms(), from = -1;
    range = range != NULL && range[0] != '\0' ? range : "30d";
    for (size_t i = 0; i < AD_ARRAY_LEN(ranges); i++) {
        if (strcmp(range, ranges[i].name) == 0) {
            from = ranges[i].days < 0 ? 0 : now / DAY_MS - ranges[i].days + 1;
        }
    }
    if (from < 0) {
        ad_api_invalid(r, "range", "must be one of 24h,7d,30d,90d,all");
        return NULL;
    }
    json_t *out = NULL;
    int rc = ad_store_agent_time(app->store, ad_principal_filter(ad_api_who(r)), from, now, &out);
    if (rc != 0) {
        ad_api_fail(r, rc, "agent time", NULL);
        return NULL;
    }
    json_object_set_new(out, "range", json_string(range));
    return out;
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
        ad_res_json(r, 200, ad_api_snake(out));
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
