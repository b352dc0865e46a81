/* SPDX-License-Identifier: MIT */
/*
 * Runs across agents and dashboard figures (issue #19): GET /api/runs with
 * filters and a cursor, GET /api/dashboard/stats and
 * /api/dashboard/tokens/stats, and the seed's paths for the same figures
 * (/dashboard/stats, /dashboard/tokens/stats) with its snake_case names.
 * Everything is of the caller's organisation (every org for the owner).
 */
#include "api/api_int.h"
#include "tables/credits.h"
#include "tables/stats.h"
#include "compat/compat.h"

/* ---- GET /api/runs -------------------------------------------------------------------- */

static void runs_list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    ad_store_runs_query_t q = {.org = ad_principal_filter(ad_api_who(r))};
    ad_field_err_t e;
    if (ad_store_runs_parse(&q, ad_api_query_get, r, &e) != 0) {
        ad_api_invalid_err(r, &e);
        return;
    }
    const char *cursor = ad_req_query(r, "cursor");
    if (cursor != NULL && cursor[0] != '\0') {
        /* a run of another org is no cursor either */
        if (ad_auth_row_org(app->store, ad_api_who(r), AD_STORE_ROW_RUN, cursor, NULL) != 0 ||
            ad_store_run_started_at(app->store, cursor, &q.before_started) != 0) {
            ad_api_invalid(r, "cursor", "is not a nextCursor from a previous page");
            return;
        }
        q.before_id = cursor;
    }
    ad_buf_t b;
    ad_buf_init(&b, AD_STORE_RUNS_TEXT_MAX);
    ad_api_answer_text(r, ad_store_runs_query_text(app->store, &q, &b), &b, "runs", NULL);
    ad_buf_cleanup(&b);
}

/* ---- statistics (the store's figures) --------------------------------------------------- */

json_t *ad_api_dashboard_stats(ad_app_t *app, ad_req_t *r)
{
    const char *range = ad_req_query(r, "range");
    json_t *out = NULL;
    int rc = ad_store_dashboard_stats(app->store, ad_principal_filter(ad_api_who(r)),
                                      range != NULL && range[0] != '\0' ? range : "7d",
                                      (int64_t)ad_wall_ms(), &out);
    if (rc == AD_EINVAL) {
        ad_api_invalid(r, "range", "must be one of 24h,7d,30d,90d,all");
    } else if (rc != 0) {
        ad_api_fail(r, rc, "statistics", NULL);
    }
    return rc == 0 ? out : NULL;
}

/* The store's month figures and the org's credits (balance, earned,
 * spent, pending: credits.c). */
json_t *ad_api_token_stats(ad_app_t *app, ad_req_t *r)
{
    const ad_principal_t *who = ad_api_who(r);
    json_t *out = NULL;
    int rc = ad_store_token_figures(app->store, ad_principal_filter(who),
                                    who->owner ? AD_ORG_DEFAULT : ad_principal_filter(who),
                                    (int64_t)ad_wall_ms(), &out);
    if (rc != 0) {
        ad_api_fail(r, rc, "token statistics", NULL);
        return NULL;
    }
    return out;
}

/* The figures of get as JSON: camelCase, or the seed's snake_case. */
static void figures(ad_req_t *r, json_t *(*get)(ad_app_t *, ad_req_t *), ad_app_t *app, bool snake)
{
    json_t *out = get(app, r);
    if (out != NULL) {
        ad_res_json(r, 200, snake ? ad_compat_snake(out) : json_incref(out));
        json_decref(out);
    }
}

static void stats_get(ad_req_t *r, void *ud)
{
    figures(r, ad_api_dashboard_stats, ud, false);
}

static void token_stats_get(ad_req_t *r, void *ud)
{
    figures(r, ad_api_token_stats, ud, false);
}

static void seed_stats(ad_req_t *r, void *ud)
{
    figures(r, ad_api_dashboard_stats, ud, true);
}

static void seed_token_stats(ad_req_t *r, void *ud)
{
    figures(r, ad_api_token_stats, ud, true);
}

/* GET /api/dashboard/url: where the dashboard answers ({url}), for
 * `agentd open`. A wildcard listen address is reached on loopback. No
 * token in it: the browser logs in as usual. */
static void dashboard_url(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    char base[400], url[404];
    ad_config_base_url(app->cfg, ad_server_port(app->server), true, base, sizeof(base));
    snprintf(url, sizeof(url), "%s/", base);
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
