/* SPDX-License-Identifier: MIT */
/*
 * /api/usage: rows of a period between two dates with totals, the daily
 * history (one entry per day, zeros included), today, the limits from
 * settings with what is left, and recording one request's usage (for
 * clients and executors that report their own).
 */
#include "api/api_int.h"

#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL

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

/* YYYY-MM-DD naming a real day. */
static bool valid_date(const char *s)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') {
        return false;
    }
    char buf[32];
    snprintf(buf, sizeof(buf), "%sT00:00:00Z", s);
    int64_t ms;
    if (ad_time_parse(buf, &ms) != 0) {
        return false;
    }
    char back[16];
    return ad_usage_period_key(ms, "daily", back) == 0 && strcmp(back, s) == 0;
}

static const char *const sum_keys[] = {"inputTokens",      "outputTokens", "cacheReadTokens",
                                       "cacheWriteTokens", "totalTokens",  "requestCount",
                                       "errorCount"};

/* The sums of rows' integer keys, and of their costUsd. */
static json_t *totals_of(json_t *rows, const char *const *keys, size_t nkeys)
{
    json_t *t = json_object();
    for (size_t k = 0; k < nkeys; k++) {
        json_int_t sum = 0;
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row)
        {
            sum += json_integer_value(json_object_get(row, keys[k]));
        }
        json_object_set_new(t, keys[k], json_integer(sum));
    }
    double cost = 0;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        cost += json_number_value(json_object_get(row, "costUsd"));
    }
    json_object_set_new(t, "costUsd", json_real(cost));
    return t;
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
    if (from != NULL && !valid_date(from)) {
        ad_api_invalid(r, "from", "must be a date YYYY-MM-DD");
        return;
    }
    if (to != NULL && !valid_date(to)) {
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
    json_t *out =
        json_pack("{s:s, s:s?, s:s?, s:o, s:o}", "period", period, "from", from, "to", to, "totals",
                  totals_of(rows, sum_keys, AD_ARRAY_LEN(sum_keys)), "rows", rows);
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
    int64_t now = ad_wall_ms();
    char from[16], to[16];
    ad_usage_period_key(now - (int64_t)(days - 1) * DAY_MS, "daily", from);
    ad_usage_period_key(now, "daily", to);
    json_t *rows = NULL;
    int rc = ad_store_usage_rows(app->store, "daily", from, to, &rows);
    if (rc != 0) {
        ad_api_fail(r, rc, "usage", NULL);
        return;
    }
    /* One entry per day, oldest first; days without use are zeros. */
    json_t *hist = json_array();
    size_t next = 0;
    for (int d = days - 1; d >= 0; d--) {
        char key[16];
        ad_usage_period_key(now - (int64_t)d * DAY_MS, "daily", key);
        json_t *row = json_array_get(rows, next);
        if (row != NULL && strcmp(json_string_value(json_object_get(row, "date")), key) == 0) {
            json_array_append(hist, row);
            next++;
        } else {
            json_t *zero = NULL;
            if (ad_store_usage_row(app->store, "daily", key, &zero) == 0) {
                json_array_append_new(hist, zero);
            }
        }
    }
    json_t *out =
        json_pack("{s:i, s:s, s:s, s:o, s:o}", "days", days, "from", from, "to", to, "totals",
                  totals_of(hist, sum_keys, AD_ARRAY_LEN(sum_keys)), "history", hist);
    json_decref(rows);
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

/* {tokenLimit, tokensUsed, tokensRemaining, costLimitUsd, costUsedUsd,
 * costRemainingUsd, exceeded}; a limit of 0 means none (remaining null). */
static json_t *limit_of(json_t *row, double token_limit, double cost_limit)
{
    json_int_t used = json_integer_value(json_object_get(row, "totalTokens"));
    double cost = json_number_value(json_object_get(row, "costUsd"));
    json_t *o = json_object();
    json_object_set_new(o, "period", json_incref(json_object_get(row, "period")));
    json_object_set_new(o, "date", json_incref(json_object_get(row, "date")));
    json_object_set_new(o, "tokenLimit", json_integer((json_int_t)token_limit));
    json_object_set_new(o, "tokensUsed", json_integer(used));
    json_object_set_new(
        o, "tokensRemaining",
        token_limit > 0
            ? json_integer(used >= (json_int_t)token_limit ? 0 : (json_int_t)token_limit - used)
            : json_null());
    json_object_set_new(o, "costLimitUsd", json_real(cost_limit));
    json_object_set_new(o, "costUsedUsd", json_real(cost));
    json_object_set_new(o, "costRemainingUsd",
                        cost_limit > 0 ? json_real(cost >= cost_limit ? 0 : cost_limit - cost)
                                       : json_null());
    bool exceeded =
        (token_limit > 0 && (double)used >= token_limit) || (cost_limit > 0 && cost >= cost_limit);
    json_object_set_new(o, "exceeded", json_boolean(exceeded));
    return o;
}

/* {daily, monthly} as limit_of gives them: 0 or a store error. */
static int limits_json(ad_app_t *app, json_t **out)
{
    json_t *s = NULL, *day = NULL, *month = NULL;
    int64_t now = ad_wall_ms();
    char dkey[16], mkey[16];
    ad_usage_period_key(now, "daily", dkey);
    ad_usage_period_key(now, "monthly", mkey);
    int rc = ad_store_settings_get(app->store, &s);
    if (rc == 0) {
        rc = ad_store_usage_row(app->store, "daily", dkey, &day);
    }
    if (rc == 0) {
        rc = ad_store_usage_row(app->store, "monthly", mkey, &month);
    }
    if (rc == 0) {
        *out =
            json_pack("{s:o, s:o}", "daily",
                      limit_of(day, json_number_value(json_object_get(s, "daily_token_limit")),
                               json_number_value(json_object_get(s, "daily_cost_limit"))),
                      "monthly",
                      limit_of(month, json_number_value(json_object_get(s, "monthly_token_limit")),
                               json_number_value(json_object_get(s, "monthly_cost_limit"))));
    }
    json_decref(s);
    json_decref(day);
    json_decref(month);
    return rc;
}

bool ad_api_usage_refused(ad_app_t *app, ad_req_t *r, bool force)
{
    json_t *all = NULL;
    if (force || limits_json(app, &all) != 0) {
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
    if (limits_json(app, &all) != 0) {
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
    int rc = limits_json(app, &out);
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
    char key[16], buf[32];
    int64_t since = 0;
    ad_usage_period_key(ad_wall_ms(), period, key);
    snprintf(buf, sizeof(buf), "%sT00:00:00Z", key);
    json_t *rows = NULL;
    int rc =
        ad_time_parse(buf, &since) != 0
            ? AD_EINTERNAL
            : ad_store_usage_by_agent(app->store, since, ad_principal_filter(ad_api_who(r)), &rows);
    if (rc != 0) {
        ad_api_fail(r, rc, "usage", NULL);
        return;
    }
    static const char *const keys[] = {"runs", "inputTokens", "outputTokens", "totalTokens"};
    json_t *t = totals_of(rows, keys, AD_ARRAY_LEN(keys));
    ad_res_json(r, 200,
                json_pack("{s:s, s:s, s:o, s:o}", "period", period, "from", key, "totals", t,
                          "agents", rows));
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
