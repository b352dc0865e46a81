/* SPDX-License-Identifier: MIT */
/*
 * Runs across agents and dashboard figures (issue #19): GET /api/runs with
 * filters and a cursor, GET /api/dashboard/stats and
 * /api/dashboard/tokens/stats, and the seed's paths for the same figures
 * (/dashboard/stats, /dashboard/tokens/stats) with its snake_case names.
 * Everything is of the caller's organisation (every org for the owner).
 */
#include "api/api_int.h"

#include <stdlib.h>
#include <string.h>

#define DAY_MS INT64_C(86400000)

/* ---- GET /api/runs -------------------------------------------------------------------- */

static int query_int(ad_req_t *r, const char *key, int64_t min, int64_t max, int64_t *out)
{
    const char *v = ad_req_query(r, key);
    if (v == NULL || v[0] == '\0') {
        return 0;
    }
    char *end = NULL;
    long long n = strtoll(v, &end, 10);
    if (*end != '\0' || n < min || n > max) {
        char why[96];
        snprintf(why, sizeof(why), "must be a whole number from %lld to %lld", (long long)min,
                 (long long)max);
        return ad_api_invalid(r, key, why);
    }
    *out = n;
    return 0;
}

/* since: milliseconds or an RFC 3339 time. */
static int query_time(ad_req_t *r, const char *key, int64_t *out)
{
    const char *v = ad_req_query(r, key);
    if (v == NULL || v[0] == '\0') {
        return 0;
    }
    char *end = NULL;
    long long n = strtoll(v, &end, 10);
    if (*end == '\0' && n >= 0) {
        *out = n;
        return 0;
    }
    if (ad_time_parse(v, out) != 0) {
        return ad_api_invalid(r, key, "must be milliseconds or an RFC 3339 time");
    }
    return 0;
}

static void runs_list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    ad_store_runs_query_t q = {.org = ad_principal_filter(ad_api_who(r))};
    int64_t limit = 50;
    q.status = ad_req_query(r, "status");
    q.crew_id = ad_req_query(r, "crewId");
    q.agent_id = ad_req_query(r, "agentId");
    static const char statuses[] = "running,succeeded,failed,stopped,lost,degraded";
    if (q.status != NULL && !ad_api_choice(statuses, q.status)) {
        ad_api_invalid(r, "status",
                       "must be one of running,succeeded,failed,stopped,lost,degraded");
        return;
    }
    if (query_int(r, "limit", 1, 500, &limit) != 0 || query_time(r, "since", &q.since) != 0) {
        return;
    }
    q.limit = (int)limit;
    const char *cursor = ad_req_query(r, "cursor");
    if (cursor != NULL && cursor[0] != '\0') {
        /* a run of another org is no cursor either */
        if (ad_api_row_org(app, ad_api_who(r), AD_API_RUN, cursor, NULL) != 0 ||
            ad_store_run_started_at(app->store, cursor, &q.before_started) != 0) {
            ad_api_invalid(r, "cursor", "is not a nextCursor from a previous page");
            return;
        }
        q.before_id = cursor;
    }
    json_t *out = NULL;
    int rc = ad_store_runs_query(app->store, &q, &out);
    if (rc != 0) {
        ad_api_fail(r, rc, "runs", NULL);
        return;
    }
    ad_res_json(r, 200, out);
}

/* ---- statistics ---------------------------------------------------------------------- */

/* range: 24h, 7d (default), 30d, 90d or all; the first day it covers. */
static int range_from(ad_req_t *r, int64_t *from_day, const char **name)
{
    const char *v = ad_req_query(r, "range");
    int64_t today = (int64_t)ad_wall_ms() / DAY_MS;
    static const struct {
        const char *name;
        int64_t days;
    } ranges[] = {{"24h", 1}, {"7d", 7}, {"30d", 30}, {"90d", 90}, {"all", -1}};
    *name = v != NULL && v[0] != '\0' ? v : "7d";
    for (size_t i = 0; i < AD_ARRAY_LEN(ranges); i++) {
        if (strcmp(*name, ranges[i].name) == 0) {
            *from_day = ranges[i].days < 0 ? 0 : today - ranges[i].days + 1;
            return 0;
        }
    }
    return ad_api_invalid(r, "range", "must be one of 24h,7d,30d,90d,all");
}

/* Crews of org with an agent alive (busy or available). */
static int64_t active_crews(ad_app_t *app, const char *org)
{
    json_t *crews = NULL;
    if (ad_store_crew_list(app->store, org, &crews) != 0) {
        return 0;
    }
    int64_t n = 0;
    size_t i;
    json_t *c;
    json_array_foreach(crews, i, c)
    {
        const char *st = ad_api_jstr(c, "status");
        n += st != NULL && strcmp(st, "offline") != 0;
    }
    json_decref(crews);
    return n;
}

/* The stats object (camelCase), or NULL after answering an error. */
json_t *ad_api_dashboard_stats(ad_app_t *app, ad_req_t *r)
{
    int64_t from_day = 0;
    const char *range = NULL;
    if (range_from(r, &from_day, &range) != 0) {
        return NULL;
    }
    const char *org = ad_principal_filter(ad_api_who(r));
    json_t *out = NULL, *recent = NULL;
    int rc = ad_store_run_stats(app->store, org, from_day, &out);
    ad_store_runs_query_t q = {.org = org, .limit = 5};
    if (rc == 0) {
        rc = ad_store_runs_query(app->store, &q, &recent);
    }
    if (rc != 0) {
        json_decref(out);
        ad_api_fail(r, rc, "statistics", NULL);
        return NULL;
    }
    json_object_set_new(out, "range", json_string(range));
    json_object_set_new(out, "activeCrews", json_integer(active_crews(app, org)));
    json_object_set(out, "recentRuns", json_object_get(recent, "runs"));
    json_decref(recent);
    return out;
}

static void stats_get(ad_req_t *r, void *ud)
{
    json_t *out = ad_api_dashboard_stats(ud, r);
    if (out != NULL) {
        ad_res_json(r, 200, out);
    }
}

/* A number setting, or 0 when unset. */
static double setting_num(json_t *settings, const char *key)
{
    json_t *v = json_object_get(settings, key);
    return json_is_number(v) ? json_number_value(v) : 0;
}

/* This month's spend against the monthly limits (settings), projected to
 * the month's end at the rate so far; and the org's credits (balance,
 * earned, spent, pending: src/api/credits.c). */
json_t *ad_api_token_stats(ad_app_t *app, ad_req_t *r)
{
    const char *org = ad_principal_filter(ad_api_who(r));
    int64_t now = (int64_t)ad_wall_ms();
    time_t secs = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    int64_t day = now / DAY_MS, first = day - (tm.tm_mday - 1);
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = tm.tm_year + 1900;
    int len = mdays[tm.tm_mon] + (tm.tm_mon == 1 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
    json_t *s = NULL, *settings = NULL;
    int rc = ad_store_run_stats(app->store, org, first, &s);
    if (rc == 0) {
        rc = ad_store_settings_get(app->store, &settings);
    }
    if (rc != 0) {
        json_decref(s);
        ad_api_fail(r, rc, "token statistics", NULL);
        return NULL;
    }
    double elapsed = (double)(now - first * DAY_MS) / (double)((int64_t)len * DAY_MS);
    double tokens = (double)json_integer_value(json_object_get(s, "totalTokens"));
    double cost = json_number_value(json_object_get(s, "costUsd"));
    double tbudget = setting_num(settings, "monthly_token_limit");
    double cbudget = setting_num(settings, "monthly_cost_limit");
    json_t *out = json_pack(
        "{s:s, s:I, s:o, s:f, s:o, s:f, s:f, s:o, s:f, s:o}", "period", "month", "spentTokens",
        (json_int_t)tokens, "budgetTokens", tbudget > 0 ? json_real(tbudget) : json_null(),
        "projectedTokens", elapsed > 0 ? tokens / elapsed : tokens, "remainingTokens",
        tbudget > 0 ? json_real(tbudget > tokens ? tbudget - tokens : 0) : json_null(), "spentUsd",
        cost, "projectedUsd", elapsed > 0 ? cost / elapsed : cost, "budgetUsd",
        cbudget > 0 ? json_real(cbudget) : json_null(), "elapsedFraction", elapsed, "remainingUsd",
        cbudget > 0 ? json_real(cbudget > cost ? cbudget - cost : 0) : json_null());
    json_decref(s);
    json_decref(settings);
    const ad_principal_t *who = ad_api_who(r);
    json_t *credits =
        ad_api_credits_json(app, who->owner ? AD_ORG_DEFAULT : ad_principal_filter(who));
    if (credits != NULL) {
        json_object_update(out, credits); /* balance, earned, spent, pending, unit */
        json_decref(credits);
    }
    return out;
}

static void token_stats_get(ad_req_t *r, void *ud)
{
    json_t *out = ad_api_token_stats(ud, r);
    if (out != NULL) {
        ad_res_json(r, 200, out);
    }
}

/* ---- the seed's paths ------------------------------------------------------------------ */

/* A copy of v with object keys in snake_case, all the way down. */
json_t *ad_api_snake(json_t *v)
{
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            json_array_append_new(a, ad_api_snake(x));
        }
        return a;
    }
    if (!json_is_object(v)) {
        return json_incref(v);
    }
    json_t *o = json_object();
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x)
    {
        char sk[128];
        ad_json_snake_key(k, sk, sizeof(sk));
        json_object_set_new(o, sk, ad_api_snake(x));
    }
    return o;
}

static void seed_stats(ad_req_t *r, void *ud)
{
    json_t *out = ad_api_dashboard_stats(ud, r);
    if (out != NULL) {
        ad_res_json(r, 200, ad_api_snake(out));
        json_decref(out);
    }
}

static void seed_token_stats(ad_req_t *r, void *ud)
{
    json_t *out = ad_api_token_stats(ud, r);
    if (out != NULL) {
        ad_res_json(r, 200, ad_api_snake(out));
        json_decref(out);
    }
}

/* GET /api/dashboard/url: where the dashboard answers ({url}), for
 * `agentd open`. A wildcard listen address is reached on loopback. No
 * token in it: the browser logs in as usual. */
static void dashboard_url(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *host = app->cfg != NULL ? app->cfg->listen_host : "127.0.0.1";
    if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0) {
        host = "127.0.0.1";
    } else if (strcmp(host, "::") == 0) {
        host = "::1";
    }
    bool v6 = strchr(host, ':') != NULL;
    bool tls = app->cfg != NULL && app->cfg->tls_cert[0] != '\0';
    char url[400];
    snprintf(url, sizeof(url), "%s://%s%s%s:%d/", tls ? "https" : "http", v6 ? "[" : "", host,
             v6 ? "]" : "", ad_server_port(app->server));
    ad_res_json(r, 200, json_pack("{s:s}", "url", url));
}

void ad_api_dashboard_register(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_server_route(s, "GET", "/api/runs", AD_ACCESS_READ, runs_list, app);
    ad_server_route(s, "GET", "/api/dashboard/stats", AD_ACCESS_READ, stats_get, app);
    ad_server_route(s, "GET", "/api/dashboard/tokens/stats", AD_ACCESS_READ, token_stats_get, app);
    ad_server_route(s, "GET", "/api/dashboard/url", AD_ACCESS_READ, dashboard_url, app);
    ad_server_route(s, "GET", "/dashboard/stats", AD_ACCESS_READ, seed_stats, app);
    ad_server_route(s, "GET", "/dashboard/tokens/stats", AD_ACCESS_READ, seed_token_stats, app);
}
