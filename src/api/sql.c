/* SPDX-License-Identifier: MIT */
/*
 * POST /api/sql {query, limit?, timeoutMs?} (issue #35): one read-only
 * SELECT over your organisation's views (runs, series, agents,
 * alert_firings, sweeps), for agents and scripts that ask "which config had
 * the best reward". What keeps it read-only and inside the organisation is
 * src/store/sql.c's; this file reads the request and answers.
 */
#include "api/api_int.h"

#define ROWS_DEFAULT 1000
#define ROWS_MAX 10000
#define MS_DEFAULT 2000
#define MS_MAX 10000
#define BYTES_MAX (4u << 20)

static void done(int rc, json_t *out, const char *error, void *ud)
{
    ad_req_t *r = ud;
    if (rc == 0) {
        ad_res_json(r, 200, out);
    } else if (rc == AD_ETIMEDOUT) {
        ad_res_error(r, 422, "QUERY_TIMEOUT", json_pack("{s:s}", "field", "query"), "%s", error);
    } else {
        ad_res_error(r, 422, "VALIDATION_ERROR",
                     json_pack("{s:s, s:s}", "field", "query", "reason", error), "query: %s",
                     error);
    }
}

static void sql_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    const char *query = NULL;
    int64_t limit = ROWS_DEFAULT, ms = MS_DEFAULT;
    bool has = false;
    if (ad_api_str(r, body, "query", true, 65536, &query) != 0 ||
        ad_api_int(r, body, "limit", false, 1, ROWS_MAX, &limit, &has) != 0 ||
        ad_api_int(r, body, "timeoutMs", false, 1, MS_MAX, &ms, &has) != 0) {
        json_decref(body);
        return;
    }
    ad_store_sql_opts_t o = {.max_rows = limit, .max_ms = ms, .max_bytes = BYTES_MAX};
    int rc = ad_store_sql(app->store, ad_principal_filter(ad_api_who(r)), query, &o, done, r);
    if (rc != 0) {
        ad_api_fail(r, rc, "query", NULL);
    }
    json_decref(body);
}

void ad_api_sql_register(ad_app_t *app)
{
    ad_server_route(app->server, "POST", "/api/sql", AD_ACCESS_READ, sql_h, app);
}
