/* SPDX-License-Identifier: MIT */
/*
 * What a user does to a whole crew (issue #19): rename it, start every
 * agent of it that is not running, stop every one that is. Agents join and
 * leave a crew by PATCH /api/agents/:id {crewId} (null leaves).
 *
 * Threads: loop thread only.
 */
#include "api/api_int.h"
#include "flow/flow.h"
#include "run/run.h"
#include "tables/crews.h"

json_t *ad_api_crew_load(ad_app_t *app, ad_req_t *r)
{
    return ad_api_row_load(app, r, ad_store_crew_get, "crew");
}

/* ---- rename --------------------------------------------------------------------------- */

/* The rename is committed (and crew_update published by src/flow). */
static void renamed(int rc, json_t *c, void *ud)
{
    if (rc != 0) {
        ad_api_fail(ud, rc, "crew", ad_req_param(ud, "id"));
    } else {
        ad_res_json(ud, 200, c);
    }
}

static void crew_patch(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *c = ad_api_crew_load(app, r);
    if (c == NULL) {
        return;
    }
    json_decref(c);
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    const char *name = NULL;
    ad_field_err_t e;
    if (ad_flow_crew_name(body, &name, &e) != 0) {
        ad_api_invalid_err(r, &e);
    } else {
        ad_flow_crew_save(NULL, app->bus, app->store, ad_req_param(r, "id"), NULL, name, renamed,
                          r);
    }
    json_decref(body);
}

/* ---- start all, stop all ------------------------------------------------------------ */

static void crew_all(ad_req_t *r, ad_app_t *app, bool start, bool force, const char *prompt)
{
    json_t *crew = ad_api_crew_load(app, r), *out = NULL;
    if (crew == NULL) {
        return;
    }
    int rc = ad_runner_crew_all(app->runner, app->store, crew, start, force, prompt, &out);
    if (rc != 0) {
        ad_api_fail(r, rc, "agents", NULL);
    } else {
        ad_res_json(r, 200, out);
    }
    json_decref(crew);
}

static void crew_start(ad_req_t *r, void *ud)
{
    bool failed = false;
    json_t *body = ad_req_json_optional(r, &failed);
    const char *prompt = NULL;
    if (!failed && ad_api_str(r, body, "initialPrompt", false, 1 << 20, &prompt) == 0) {
        crew_all(r, ud, true, false, prompt);
    }
    json_decref(body);
}

static void crew_stop(ad_req_t *r, void *ud)
{
    bool force = false;
    if (ad_api_query_bool(r, "force", false, &force) == 0) {
        crew_all(r, ud, false, force, NULL);
    }
}

void ad_api_crew_ops_register(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_server_route(s, "PATCH", "/api/crews/:id", AD_ACCESS_WRITE, crew_patch, app);
    ad_server_route(s, "POST", "/api/crews/:id/start", AD_ACCESS_ADMIN, crew_start, app);
    ad_server_route(s, "POST", "/api/crews/:id/stop", AD_ACCESS_WRITE, crew_stop, app);
}
