/* SPDX-License-Identifier: MIT */
/*
 * The fleet engine (src/engine): made when the worker plane and the store
 * are there, with the autoscaling hook when --node-autoscale names one (a
 * file that does not read is logged and the hook left off). Its routes are
 * its routes hook's: registration tokens, the trade, a node's events and
 * the hook's state. Stopped: the hook's timer stops and a hook still
 * running is killed; the memory goes once its process has ended.
 */
#include "fleet/fleet_int.h"
#include "tables/accounts.h"

#include <stdio.h>
#include <stdlib.h>

const ad_principal_t *ad_fleet_who(const ad_req_t *r)
{
    static const ad_principal_t nobody = {.org_id = "-"}; /* sees nothing, may do nothing */
    const ad_principal_t *p = ad_auth_principal(r);
    return p != NULL ? p : &nobody;
}

void ad_fleet_fail(ad_req_t *r, int rc, const char *what, const char *id)
{
    char msg[256];
    ad_err_about(rc, what, msg, sizeof(msg));
    ad_res_error_code(r, rc, rc == AD_ENOENT && id != NULL ? json_pack("{s:s}", "id", id) : NULL,
                      "%s", msg);
}

void ad_fleet_invalid(ad_req_t *r, const ad_field_err_t *e)
{
    ad_res_error(r, 422, "VALIDATION_ERROR",
                 json_pack("{s:s, s:s}", "field", e->field, "reason", e->why), "%s %s", e->field,
                 e->why);
}

void ad_fleet_audit(ad_fleet_t *f, const char *who, const char *remote, const char *org,
                    const char *method, const char *route, const char *target, int status,
                    const char *detail)
{
    if (f->app->store == NULL) {
        return;
    }
    ad_store_audit_t row = {.ts = ad_wall_ms(), .status = status};
    snprintf(row.token_name, sizeof(row.token_name), "%s", who);
    snprintf(row.org_id, sizeof(row.org_id), "%s", org != NULL ? org : "");
    snprintf(row.method, sizeof(row.method), "%s", method);
    snprintf(row.route, sizeof(row.route), "%s", route);
    snprintf(row.target_id, sizeof(row.target_id), "%s", target != NULL ? target : "");
    snprintf(row.remote, sizeof(row.remote), "%s", remote != NULL ? remote : "");
    snprintf(row.detail, sizeof(row.detail), "%s", detail != NULL ? detail : "");
    ad_store_audit_insert(f->app->store, &row);
}

static int open_fleet(ad_app_t *app)
{
    if (app->plane == NULL || app->store == NULL || app->server == NULL) {
        return 0;
    }
    ad_fleet_t *f = ad_xcalloc(1, sizeof(*f));
    f->app = app;
    app->fleet = f;
    if (app->cfg != NULL && app->cfg->node_autoscale[0] != '\0') {
        char why[512];
        if (ad_autoscale_open(f, app->cfg->node_autoscale, why, sizeof(why)) != 0) {
            ad_log(AD_LOG_ERROR, "fleet", "the autoscaling hook is off: %s file=%s", why,
                   app->cfg->node_autoscale);
        }
    }
    return 0;
}

static void routes_fleet(ad_app_t *app)
{
    ad_fleet_t *f = app->fleet;
    if (f == NULL) {
        return;
    }
    ad_fleet_trade_routes(f); /* before src/api's /api/nodes/:id */
    ad_fleet_regs_routes(f);
    ad_fleet_events_routes(f);
    ad_autoscale_routes(f);
}

static void stop_fleet(ad_app_t *app)
{
    ad_fleet_t *f = app->fleet;
    if (f != NULL && !f->closed) {
        f->closed = true;
        ad_autoscale_stop(f->as); /* frees itself once its process has ended */
        f->as = NULL;
    }
}

static void close_fleet(ad_app_t *app)
{
    ad_fleet_t *f = app->fleet;
    if (f == NULL) {
        return;
    }
    stop_fleet(app);
    app->fleet = NULL;
    free(f);
}

const ad_engine_t ad_fleet_engine = {.name = "fleet",
                                     .open = open_fleet,
                                     .stop = stop_fleet,
                                     .close = close_fleet,
                                     .routes = routes_fleet};
