/* SPDX-License-Identifier: MIT */
/*
 * Crews: GET/POST /api/crews with their status. The status derived from
 * the crew's agents and the watcher that publishes `signal` {crewId,
 * status} on crew:<id> when one changes are src/flow's (crews.c).
 */
#include "api/api_int.h"
#include "flow/flow.h"
#include "tables/crews.h"

#define CREWS_MAX 1000

/* ---- REST ------------------------------------------------------------------------- */

static void list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *crews = NULL;
    int rc = ad_store_crew_list(app->store, ad_principal_filter(ad_api_who(r)), &crews);
    ad_api_list(r, rc, crews, "crews", "crews");
}

static void get(ad_req_t *r, void *ud)
{
    ad_api_answer_row(r, ad_api_crew_load(ud, r));
}

static void created(int rc, json_t *crew, void *ud)
{
    if (rc != 0) {
        ad_api_fail(ud, rc, "crew", NULL);
        return;
    }
    ad_res_json(ud, 201, crew);
}

static void create(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    const char *name = NULL;
    char org[AD_ID_MAX];
    ad_field_err_t e;
    if (ad_flow_crew_name(body, &name, &e) != 0) {
        ad_api_invalid_err(r, &e);
    } else if (ad_api_org_for(app, r, body, org) == 0) {
        ad_flow_crew_save(app->crew_watch, app->bus, app->store, NULL, org, name, created, r);
    }
    json_decref(body);
}

void ad_api_crews_register(ad_app_t *app)
{
    ad_server_route(app->server, "GET", "/api/crews", AD_ACCESS_READ, list, app);
    ad_server_route(app->server, "POST", "/api/crews", AD_ACCESS_WRITE, create, app);
    ad_server_route(app->server, "GET", "/api/crews/:id", AD_ACCESS_READ, get, app);
}
