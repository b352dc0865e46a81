/* SPDX-License-Identifier: MIT */
/*
 * /api/usage: rows of a period between two dates with totals, the daily
 * history (one entry per day, zeros included), today, the limits from
 * settings with what is left, and recording one request's usage (for
 * clients and executors that report their own). The figures are made by
 * the store (src/store/usagesum.c); this file checks the request.
 */
#include "api/api_int.h"

#include <stdlib.h>
#include <string.h>

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
    if (!usage_visible(r)) {
        return;
    }
    const char *period = ad_req_query(r, "period");
    const char *from = ad_req_query(r, "from");
    const char *to = ad_req_query(r, "to");
    if (period == NULL || period[0] == '\0') {
        period = "daily";
    }
    if (!ad_api_choice("daily,weekly,monthly", period)) {
        ad_api_invalid(r, "period", "must be one of daily,weekly,monthly");
        return;
    }
    if (from != NULL && from[0] == '\0') {
        from = NULL;
    }
    if (to != NULL && to[0] == '\0') {
        to = NULL;
    }
    if (from != NULL && !ad_usage_date_ok(from)) {
        ad_api_invalid(r, "from", "must be a date YYYY-MM-DD");
        return;
    }
    if (to != NULL && !ad_usage_date_ok(to)) {
        ad_api_invalid(r, "to", "must be a date YYYY-MM-DD");
        return;
    }
    if (from != NULL && to != NULL && strcmp(from, to) > 0) {
        ad_api_invalid(r, "from", "must not be after to");
        return;
    }
    json_t *rows = NULL;
    int rc = ad_store_usage_rows(app->store, period, from, to, &rows);
    if (rc != 0) {
        ad_api_fail(r, rc, "usage", NULL);
        return;
    }
    json_t *out = json_pack("{s:s, s:s?, s:s?, s:o, s:o}", "period", period, "from", from, "to", to,
                            "totals", ad_store_usage_totals(rows), "rows", rows);
    ad_res_json(r, 200, out);
}

static void history(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!usage_visible(r)) {
        return;
    }
    int days = 30;
    const char *ds = ad_req_query(r, "days");
    if (ds != NULL && ds[0] != '\0') {
        size_t n = strlen(ds);
        long v = 0;
        if (n > 3 || strspn(ds, "0123456789") != n) {
            ad_api_invalid(r, "days", "must be a whole number from 1 to 366");
            return;
        }
        for (size_t i = 0; i < n; i++) {
            v = v * 10 + (ds[i] - '0');
        }
        if (v < 1 || v > 366) {
            ad_api_invalid(r, "days", "must be a whole number from 1 to 366");
            return;
        }
        days = (int)v;
    }
    json_t *out = NULL;
    int rc = ad_store_usage_history(app->store, days, ad_wall_ms(), &out);
    if (rc != 0) {
        ad_api_fail(r, rc, "usage", NULL);
        return;
    }
    ad_res_json(r, 200, out);
}

static void today(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!usage_visible(r)) {
        return;
    }
    char key[16];
    ad_usage_period_key(ad_wall_ms(), "daily", key);
    json_t *row = NULL;
    int rc = ad_store_usage_row(app->store, "daily", key, &row);
    if (rc != 0) {
        ad_api_fail(r, rc, "usage", NULL);
        return;
    }
    ad_res_json(r, 200, row);
}

bool ad_api_usage_refused(ad_app_t *app, ad_req_t *r, bool force)
{
    json_t *all = NULL;
    if (force || ad_store_usage_limits(app->store, ad_wall_ms(), &all) != 0) {
        return false; /* a limit that cannot be read stops nobody */
    }
    bool refused = false;
    const char *periods[2] = {"daily", "monthly"};
    for (int i = 0; i < 2 && !refused; i++) {
        json_t *l = json_object_get(all, periods[i]);
        if (!json_is_true(json_object_get(l, "exceeded"))) {
            continue;
        }
        refused = true;
        if (!ad_principal_sees(ad_api_who(r), AD_ORG_DEFAULT)) {
            /* usage is the default organisation's: others learn no figures */
            ad_res_error(r, 429, "USAGE_LIMIT", json_pack("{s:s}", "period", periods[i]),
                         "the %s usage limit the owner set is reached; send force: true to go "
                         "past it",
                         periods[i]);
            break;
        }
        json_int_t tl = json_integer_value(json_object_get(l, "tokenLimit"));
        json_int_t tu = json_integer_value(json_object_get(l, "tokensUsed"));
        bool tokens = tl > 0 && tu >= tl;
        json_t *details = json_pack("{s:s, s:O}", "period", periods[i], "usage", l);
        if (tokens) {
            ad_res_error(r, 429, "USAGE_LIMIT", details,
                         "the %s token limit is reached (%lld of %lld tokens); send force: true "
                         "to go past it",
                         periods[i], (long long)tu, (long long)tl);
        } else {
            ad_res_error(r, 429, "USAGE_LIMIT", details,
                         "the %s cost limit is reached ($%.2f of $%.2f); send force: true to go "
                         "past it",
                         periods[i], json_number_value(json_object_get(l, "costUsedUsd")),
                         json_number_value(json_object_get(l, "costLimitUsd")));
        }
    }
    json_decref(all);
    return refused;
}

const char *ad_api_usage_reached(ad_app_t *app)
{
    json_t *all = NULL;
    if (ad_store_usage_limits(app->store, ad_wall_ms(), &all) != 0) {
        return NULL; /* as ad_api_usage_refused: an unreadable limit stops nobody */
    }
    const char *reached = NULL;
    if (json_is_true(json_object_get(json_object_get(all, "daily"), "exceeded"))) {
        reached = "daily";
    } else if (json_is_true(json_object_get(json_object_get(all, "monthly"), "exceeded"))) {
        reached = "monthly";
    }
    json_decref(all);
    return reached;
}

static void limits(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!usage_visible(r)) {
        return;
    }
    json_t *out = NULL;
    int rc = ad_store_usage_limits(app->store, ad_wall_ms(), &out);
    if (rc != 0) {
        ad_api_fail(r, rc, "usage", NULL);
    } else {
        ad_res_json(r, 200, out);
    }
}

typedef struct {
    ad_app_t *app;
    ad_req_t *req;
} record_ctx_t;

static void recorded(int rc, void *ctx)
{
    record_ctx_t *c = ctx;
    if (rc != 0) {
        ad_api_fail(c->req, rc, "usage", NULL);
    } else {
        char key[16];
        ad_usage_period_key(ad_wall_ms(), "daily", key);
        json_t *row = NULL;
        if (ad_store_usage_row(c->app->store, "daily", key, &row) == 0) {
            ad_api_publish(c->app, "usage_update", row, "usage", "", NULL);
            ad_res_json(c->req, 201, row);
        } else {
            ad_res_json(c->req, 201, json_object());
        }
    }
    free(c);
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
    const char *model = NULL;
    int64_t in = 0, out = 0, cr = 0, cw = 0;
    bool err = false;
    const int64_t max = INT64_C(1) << 40;
    if (ad_api_str(r, body, "model", false, 200, &model) != 0 ||
        ad_api_int(r, body, "inputTokens", true, 0, max, &in, NULL) != 0 ||
        ad_api_int(r, body, "outputTokens", true, 0, max, &out, NULL) != 0 ||
        ad_api_int(r, body, "cacheReadTokens", false, 0, max, &cr, NULL) != 0 ||
        ad_api_int(r, body, "cacheWriteTokens", false, 0, max, &cw, NULL) != 0 ||
        ad_api_bool(r, body, "error", &err, NULL) != 0) {
        goto out;
    }
    double cost = 0;
    json_t *c = json_object_get(body, "costUsd");
    if (c != NULL) {
        if (!json_is_number(c) || json_number_value(c) < 0 || json_number_value(c) > 1e9) {
            ad_api_invalid(r, "costUsd", "must be a number from 0");
            goto out;
        }
        cost = json_number_value(c);
    }
    ad_usage_rec_t rec = {.model = model,
                          .input_tokens = in,
                          .output_tokens = out,
                          .cache_read_tokens = cr,
                          .cache_write_tokens = cw,
                          .cost_usd = cost,
                          .error = err};
    record_ctx_t *ctx = ad_xmalloc(sizeof(*ctx));
    ctx->app = app;
    ctx->req = r;
    ad_store_usage_record(app->store, &rec, recorded, ctx);
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
    if (period == NULL || period[0] == '\0') {
        period = "daily";
    }
    if (!ad_api_choice("daily,weekly,monthly", period)) {
        ad_api_invalid(r, "period", "must be one of daily,weekly,monthly");
        return;
    }
    json_t *out = NULL;
    int rc = ad_store_usage_agents(app->store, period, ad_wall_ms(),
                                   ad_principal_filter(ad_api_who(r)), &out);
    if (rc != 0) {
        ad_api_fail(r, rc, "usage", NULL);
        return;
    }
    ad_res_json(r, 200, out);
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
