/* SPDX-License-Identifier: MIT */
/*
 * GET /api/health and /api/health/history. The figures, the sampler's
 * feed and the history on disk are src/monitor's (src/engines.c starts it);
 * this file reads the query and answers. Host figures are daemon-wide; the
 * agents listed are the caller's organisation's.
 */
#include "api/api_int.h"
#include "monitor/monitor.h"
#include "store/dbcheck.h"

#include <string.h>

static void get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *out = ad_monitor_status(app->monitor, ad_principal_filter(ad_api_who(r)));
    if (json_is_object(out) && app->store != NULL) {
        ad_store_health_db(app->store, out);
    }
    ad_res_json(r, 200, out);
}

static void disk_done(int rc, json_t *answer, void *ud)
{
    ad_req_t *r = ud;
    if (rc != 0) {
        ad_res_error_code(r, rc, NULL, "health history read failed: %s", ad_strerror(rc));
    } else {
        ad_res_json(r, 200, answer);
    }
}

/* GET /api/health/history?from=&to=&buckets=&runId= (or range=all with
 * buckets): the samples kept on disk, bucketed. With runId the range
 * defaults to the run's life and the run's own use comes beside the
 * host's. */
static void history_disk(ad_app_t *app, ad_req_t *r, bool all)
{
    ad_monitor_hq_t q = {.all = all};
    const char *field = NULL;
    ad_field_err_t e;
    if (ad_monitor_hq_parse(&q, ad_api_query_get, r, &e) != 0) {
        ad_api_invalid_err(r, &e);
        return;
    }
    if (q.run_id != NULL && q.run_id[0] != '\0' &&
        !ad_api_visible(app, r, AD_STORE_ROW_RUN, q.run_id, NULL)) {
        return;
    }
    if (ad_monitor_history(app->monitor, &q, disk_done, r, &field) != 0) {
        ad_api_invalid(r, field, "must not be after to");
    }
}

static void history(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *range = ad_req_query(r, "range");
    bool all = range != NULL && strcmp(range, "all") == 0;
    if (app->store != NULL &&
        (ad_req_query(r, "from") != NULL || ad_req_query(r, "to") != NULL ||
         ad_req_query(r, "buckets") != NULL || ad_req_query(r, "runId") != NULL)) {
        history_disk(app, r, all);
        return;
    }
    const char *why = NULL;
    int rc = 0;
    json_t *out = ad_monitor_recent(app->monitor, range, &rc, &why);
    if (rc == AD_EINVAL) {
        ad_api_invalid(r, "range", why);
    } else if (rc != 0) {
        ad_res_error(r, 409, "CONFLICT", NULL, "sampling is off (--health-interval-ms=0)");
    } else {
        ad_res_json(r, 200, out);
    }
}

void ad_api_health_register(ad_app_t *app)
{
    ad_server_route(app->server, "GET", "/api/health", AD_ACCESS_READ, get, app);
    ad_server_route(app->server, "GET", "/api/health/history", AD_ACCESS_READ, history, app);
}
