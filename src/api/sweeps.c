/* SPDX-License-Identifier: MIT */
/*
 * Sweeps over REST (issue #35): POST /api/sweeps (admin: it starts
 * processes), GET /api/sweeps[/:id], POST /api/sweeps/:id/stop (write). The
 * spec's checks and the proposers are src/train/sweepspec.c's, the engine
 * src/train/sweep.c (which taps the alert engine's points; src/engines.c
 * makes it); this file answers.
 */
#include "api/api_int.h"
#include "train/train.h"
#include "tables/sweeps.h"

static void made(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        ad_api_fail(r, rc, "sweep", NULL);
        return;
    }
    if (app->sweeps != NULL) {
        ad_train_sweep_add(app->sweeps, result);
    }
    ad_res_json(r, 201, json_incref(result));
}

static void create_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    const char *agent_id = json_string_value(json_object_get(body, "agentId"));
    char org[AD_ID_MAX], field[96], why[256];
    json_t *args = NULL;
    if (agent_id == NULL) {
        ad_api_invalid(r, "agentId", "is required: the command agent each trial is made from");
    } else if (!ad_api_visible(app, r, AD_STORE_ROW_AGENT, agent_id, org)) {
        /* answered */
    } else if (ad_train_sweep_args(app->store, body, ad_principal_filter(ad_api_who(r)), org, &args,
                                   field, sizeof(field), why, sizeof(why)) != 0) {
        ad_api_invalid(r, field, why);
    } else {
        ad_api_write(app, r, ad_store_op_sweep_put, args, made);
    }
    json_decref(body);
}

static json_t *visible(ad_app_t *app, ad_req_t *r)
{
    return ad_api_row_load(app, r, ad_store_sweep_get, "sweep");
}

static void get_h(ad_req_t *r, void *ud)
{
    ad_api_answer_row(r, visible(ud, r));
}

static void list_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *rows = NULL;
    int rc = ad_store_sweep_list(app->store, ad_principal_filter(ad_api_who(r)), false, &rows);
    ad_api_list(r, rc, rows, "sweeps", "sweeps");
}

static void stop_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *row = visible(app, r);
    if (row == NULL) {
        return;
    }
    json_decref(row);
    if (ad_train_sweep_stop(app->sweeps, ad_req_param(r, "id")) != 0) {
        ad_res_error(r, 409, "CONFLICT", NULL, "the sweep is not running");
        return;
    }
    ad_res_json(r, 202, json_pack("{s:s, s:s}", "id", ad_req_param(r, "id"), "status", "stopping"));
}

void ad_api_sweeps_register(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_server_route(s, "POST", "/api/sweeps", AD_ACCESS_ADMIN, create_h, app);
    ad_server_route(s, "GET", "/api/sweeps", AD_ACCESS_READ, list_h, app);
    ad_server_route(s, "GET", "/api/sweeps/:id", AD_ACCESS_READ, get_h, app);
    ad_server_route(s, "POST", "/api/sweeps/:id/stop", AD_ACCESS_WRITE, stop_h, app);
}
