/* SPDX-License-Identifier: MIT */
/*
 * OTLP/HTTP from agentd's runs (issue #36): POST /v1/traces, /v1/metrics
 * and /v1/logs, each with the run's own credential (x-agentd-run, put in
 * the run's environment; src/otel makes and checks it), and GET
 * /api/runs/:id/trace, the run's spans for its waterfall. The routes are
 * public to the guard (no token) because the credential is the run's, not
 * a principal's: it opens nothing else, and a run that ended a while ago
 * takes nothing more.
 */
#include "api/api_int.h"
#include "otel/otel.h"
#include "run/run.h"

#include <strings.h>

/* An OTLP error (google.rpc.Status in its JSON form). */
static void status(ad_req_t *r, int http, int code, const char *message)
{
    ad_res_json(r, http, json_pack("{s:i, s:s}", "code", code, "message", message));
}

/* The run r's credential is for, if it may still send: false after
 * answering. */
static bool run_of(ad_app_t *app, ad_req_t *r, char run_id[AD_ID_MAX])
{
    if (app->otel == NULL || !app->cfg->otlp_receive) {
        ad_res_error(r, 404, "NOT_FOUND", NULL, "agentd takes no OTLP here (--otlp-receive)");
        return false;
    }
    if (ad_otel_run_check(app->otel, ad_req_header(r, "x-agentd-run"), run_id) != 0) {
        status(r, 401, 16, "a run's credential (x-agentd-run) is required");
        return false;
    }
    /* a run this runner holds sends, even before its row is written */
    if (!ad_runner_has_run(app->runner, run_id) && !ad_otel_run_sends(app->store, run_id)) {
        status(r, 403, 7, "this run has ended: it sends no more telemetry");
        return false;
    }
    const char *ct = ad_req_header(r, "content-type");
    const char *enc = ad_req_header(r, "content-encoding");
    if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0 ||
        (enc != NULL && strcasecmp(enc, "identity") != 0)) {
        status(r, 415, 3,
               "agentd takes OTLP/HTTP JSON, uncompressed (OTEL_EXPORTER_OTLP_PROTOCOL=http/json)");
        return false;
    }
    return true;
}

static void traces(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    char run_id[AD_ID_MAX], why[200];
    if (!run_of(app, r, run_id)) {
        return;
    }
    size_t len, taken, rejected;
    const char *body = ad_req_body(r, &len);
    if (ad_otel_ingest(app->otel, run_id, body, len, &taken, &rejected, why, sizeof(why)) != 0) {
        status(r, 400, 3, why);
        return;
    }
    json_t *out = ad_otel_ingest_answer(rejected);
    ad_res_json(r, 200, out);
}

/* Metrics and logs are taken (a run's exporter would retry otherwise) and
 * not kept: agentd has a run's tokens, cost and tool calls from its
 * output already. */
static void taken(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    char run_id[AD_ID_MAX];
    if (!run_of(app, r, run_id)) {
        return;
    }
    size_t len = 0;
    const char *body = ad_req_body(r, &len);
    json_t *j = json_loadb(body, len, 0, NULL);
    bool ok = json_is_object(j);
    json_decref(j);
    if (!ok) {
        status(r, 400, 3, "not an OTLP JSON export request");
        return;
    }
    ad_res_json(r, 200, json_object());
}

/* ---- GET /api/runs/:id/trace ---------------------------------------------------------- */

static void trace_read(int rc, json_t *out, void *ud)
{
    if (rc != 0) {
        ad_res_error_code(ud, rc, NULL, "the run's spans cannot be read");
    } else {
        ad_res_json(ud, 200, out);
    }
}

static void trace_get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    if (!ad_api_visible(app, r, AD_STORE_ROW_RUN, id, NULL)) {
        return;
    }
    int rc = ad_otel_trace(app->store, id, trace_read, r);
    if (rc != 0) {
        ad_api_fail(r, rc, "run", id);
    }
}

void ad_api_otlp_register(ad_app_t *app)
{
    ad_server_route(app->server, "POST", "/v1/traces", AD_ACCESS_PUBLIC, traces, app);
    ad_server_route(app->server, "POST", "/v1/metrics", AD_ACCESS_PUBLIC, taken, app);
    ad_server_route(app->server, "POST", "/v1/logs", AD_ACCESS_PUBLIC, taken, app);
    ad_server_route(app->server, "GET", "/api/runs/:id/trace", AD_ACCESS_READ, trace_get, app);
}
