/* SPDX-License-Identifier: MIT */
/*
 * /api/usage: rows of a period between two dates with totals, the daily
 * history (one entry per day, zeros included), today, the limits from
 * settings with what is left, and recording one request's usage (for
 * clients and executors that report their own). The figures are made by
 * the store (src/tables/usagesum.c); this file checks the request.
 */
#include "api/api_int.h"
#include "tables/usage.h"

/* Usage is the daemon's own accounts' (machine-wide, no org column): it
 * belongs to the default organisation. Another org's token gets 404, as
 * for anything that is not its own. */
static bool usage_visible(ad_req_t *r)
{
    if (ad_principal_sees(ad_api_who(r), AD_ORG_DEFAULT)) {
        return true;
    }
    ad_res_error(r, 404, "NOT_FOUND", NULL, "usage belongs to the default organisation");
    return false;
}

static void usage(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *period = ad_req_query(r, "period"), *from = ad_req_query(r, "from"),
               *to = ad_req_query(r, "to");
    json_t *out = NULL;
    ad_field_err_t e;
    int rc = 0;
    if (!usage_visible(r)) {
        return;
    }
    if (ad_usage_range_check(&period, &from, &to, &e) != 0) {
        ad_api_invalid_err(r, &e);
    } else if ((rc = ad_store_usage_period(app->store, period, from, to, &out)) != 0) {
        ad_api_fail(r, rc, "usage", NULL);
    } else {
        ad_res_json(r, 200, out);
    }
}

static void history(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!usage_visible(r)) {
        return;
    }
    int days = 30;
    ad_field_err_t e;
    if (ad_usage_days_check(ad_req_query(r, "days"), &days, &e) != 0) {
        ad_api_invalid_err(r, &e);
        return;
    }
    json_t *out = NULL;
    int rc = ad_store_usage_history(app->store, days, ad_wall_ms(), &out);
    ad_api_answer(r, rc, out, "usage", NULL);
}

static void today(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!usage_visible(r)) {
        return;
    }
    json_t *row = NULL;
    int rc = ad_store_usage_today(app->store, (int64_t)ad_wall_ms(), &row);
    ad_api_answer(r, rc, row, "usage", NULL);
}

bool ad_api_usage_refused(ad_app_t *app, ad_req_t *r, bool force)
{
    json_t *all = NULL, *details = NULL;
    char msg[256];
    if (force || ad_store_usage_limits(app->store, ad_wall_ms(), &all) != 0) {
        return false; /* a limit that cannot be read stops nobody */
    }
    const char *period = ad_usage_reached(all, ad_principal_sees(ad_api_who(r), AD_ORG_DEFAULT),
                                          msg, sizeof(msg), &details);
    if (period != NULL) {
        ad_res_error(r, 429, "USAGE_LIMIT", details, "%s", msg);
    }
    json_decref(all);
    return period != NULL;
}

static void limits(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!usage_visible(r)) {
        return;
    }
    json_t *out = NULL;
    int rc = ad_store_usage_limits(app->store, ad_wall_ms(), &out);
    ad_api_answer(r, rc, out, "usage", NULL);
}

/* Stored, and today's row published as usage_update (src/store). */
static void recorded(int rc, json_t *row, void *ud)
{
    if (rc != 0) {
        json_decref(row); /* ours either way (the store may set one on error) */
        ad_api_fail(ud, rc, "usage", NULL);
    } else {
        ad_res_json(ud, 201, row != NULL ? row : json_object());
    }
}

static void record(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!usage_visible(r)) {
        return;
    }
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    ad_usage_rec_t rec;
    ad_field_err_t e;
    if (ad_usage_rec_check(body, &rec, &e) != 0) {
        ad_api_invalid_err(r, &e);
        goto out;
    }
    ad_store_usage_post(app->store, app->bus, &rec, recorded, r);
out:
    json_decref(body);
}

/* GET /api/usage/agents?period=daily|weekly|monthly: what each of the
 * caller's organisation's agents used in the current period (from their
 * runs, so org-scoped unlike the usage tables), with the totals. */
static void by_agent(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *period = ad_req_query(r, "period");
    ad_field_err_t e;
    if (ad_usage_range_check(&period, NULL, NULL, &e) != 0) {
        ad_api_invalid_err(r, &e);
        return;
    }
    ad_buf_t b;
    ad_buf_init(&b, AD_STORE_USAGE_TEXT_MAX);
    int rc = ad_store_usage_agents_text(app->store, period, ad_wall_ms(),
                                        ad_principal_filter(ad_api_who(r)), &b);
    ad_api_answer_text(r, rc, &b, "usage", NULL);
    ad_buf_cleanup(&b);
}

void ad_api_usage_register(ad_app_t *app)
{
    ad_server_route(app->server, "GET", "/api/usage/agents", AD_ACCESS_READ, by_agent, app);
    ad_server_route(app->server, "GET", "/api/usage", AD_ACCESS_READ, usage, app);
    ad_server_route(app->server, "POST", "/api/usage", AD_ACCESS_WRITE, record, app);
    ad_server_route(app->server, "GET", "/api/usage/history", AD_ACCESS_READ, history, app);
    ad_server_route(app->server, "GET", "/api/usage/today", AD_ACCESS_READ, today, app);
    ad_server_route(app->server, "GET", "/api/usage/limits", AD_ACCESS_READ, limits, app);
}
