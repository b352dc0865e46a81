/* SPDX-License-Identifier: MIT */
/*
 * /api/services: long-running helpers (src/svc), the seed's "Synthetic
 * Eye" generalised. Anything that starts, stops or probes one needs an
 * admin token (a probe may run a command); reading needs a read token and
 * shows the caller's organisation's services with their runtime.
 * What a body may hold is src/svc's (spec.c); who may send it, here.
 * Its routes are listed in docs/api.md, their bodies and answers in
 * docs/health.md.
 */
#include "api/api_int.h"
#include "svc/svc.h"
#include "tables/services.h"

static json_t *view(ad_app_t *app, json_t *row)
{
    ad_services_overlay(app->services, row);
    return row;
}

/* ---- create -------------------------------------------------------------------- */

static void created(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        ad_api_fail(r, rc, "service", NULL);
        return;
    }
    ad_services_apply(app->services, result); /* starts it when enabled */
    json_t *row = json_deep_copy(result);
    ad_res_json(r, 201, view(app, row));
}

/* args.node as args.nodeId of org, the service's (src/svc): 0, or -1
 * answered (422 naming node for none of org's, 403 for a node that cannot
 * run org's programs). */
static int place(ad_app_t *app, ad_req_t *r, const char *org, json_t *args)
{
    char err[256] = "";
    int rc = ad_services_place(app->services, org, args, err, sizeof(err));
    if (rc == AD_EPERM) {
        ad_res_error(r, 403, "FORBIDDEN", json_pack("{s:O}", "node", json_object_get(args, "node")),
                     "%s", err);
    } else if (rc != 0) {
        ad_api_invalid(r, "node", err);
    }
    return rc != 0 ? -1 : 0;
}

/* The body checked by src/svc, then the org (body.orgId): 0, or -1 answered. */
static int check_create(ad_app_t *app, ad_req_t *r, json_t *body, json_t *args)
{
    ad_field_err_t e;
    char org[AD_ID_MAX], id[AD_ID_MAX];
    if (ad_svc_spec_create(body, args, &e) != 0) {
        return ad_api_invalid_err(r, &e);
    }
    if (ad_api_org_for(app, r, body, org) != 0 || place(app, r, org, args) != 0) {
        return -1;
    }
    ad_id_new("svc", id);
    json_object_set_new(args, "id", json_string(id));
    json_object_set_new(args, "orgId", json_string(org));
    return 0;
}

static void create(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_need_store(app, r)) {
        return;
    }
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    json_t *args = json_object();
    if (check_create(app, r, body, args) != 0) {
        json_decref(args);
    } else {
        ad_api_write(app, r, ad_store_op_service_insert, args, created);
    }
    json_decref(body);
}

/* ---- read ---------------------------------------------------------------------- */

static void list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_need_store(app, r)) {
        return;
    }
    json_t *out = NULL;
    int rc = ad_services_list(app->services, app->store, ad_principal_filter(ad_api_who(r)), &out);
    ad_api_answer(r, rc, out, "services", NULL);
}

/* The row of :id, or NULL after answering (404 for another org's). */
static json_t *load(ad_app_t *app, ad_req_t *r)
{
    const char *id = ad_req_param(r, "id");
    if (!ad_api_visible(app, r, AD_STORE_ROW_SERVICE, id, NULL)) {
        return NULL;
    }
    json_t *row = NULL;
    int rc = ad_store_service_get(app->store, id, &row);
    if (rc != 0) {
        ad_api_fail(r, rc, "service", id);
        return NULL;
    }
    return row;
}

static void get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *row = load(app, r);
    if (row != NULL) {
        ad_services_view(app->services, row, true);
        ad_res_json(r, 200, row);
    }
}

/* ---- change -------------------------------------------------------------------- */

static void updated(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        ad_api_fail(r, rc, "service", NULL);
        return;
    }
    ad_services_apply(app->services, result);
    ad_res_json(r, 200, view(app, json_deep_copy(result)));
}

static void patch(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *row = load(app, r);
    if (row == NULL) {
        return;
    }
    json_t *body = ad_req_json(r);
    json_t *args = json_object();
    ad_field_err_t e;
    if (body != NULL && ad_svc_spec_patch(body, row, args, &e) != 0) {
        ad_api_invalid_err(r, &e);
        json_decref(args);
    } else if (body != NULL && place(app, r, ad_api_jstr(row, "orgId"), args) != 0) {
        json_decref(args);
    } else if (body != NULL) {
        ad_api_write(app, r, ad_store_op_service_update, args, updated);
    } else {
        json_decref(args);
    }
    json_decref(body);
    json_decref(row);
}

static void restart(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *row = load(app, r);
    if (row == NULL) {
        return;
    }
    ad_services_restart(app->services, ad_api_jstr(row, "id"));
    ad_res_json(r, 202, view(app, row));
}

static void tested(bool ok, double ms, const char *error, void *ud)
{
    ad_req_t *r = ud;
    ad_res_json(r, 200, json_pack("{s:b, s:f, s:s?}", "ok", ok, "latencyMs", ms, "error", error));
}

static void test_probe(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *row = load(app, r);
    if (row == NULL) {
        return;
    }
    if (ad_services_test(app->services, ad_api_jstr(row, "id"), tested, r) != 0) {
        ad_res_error(r, 409, "CONFLICT", NULL, "service %s has no probe", ad_api_jstr(row, "id"));
    }
    json_decref(row);
}

static void deleted(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        ad_api_fail(r, rc, "service", NULL);
        return;
    }
    ad_services_remove(app->services, result); /* and service_update published */
    ad_res_send(r, 204, NULL, NULL, 0);
}

static void del(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    if (!ad_api_visible(app, r, AD_STORE_ROW_SERVICE, id, NULL)) {
        return;
    }
    ad_api_write(app, r, ad_store_op_service_delete, json_pack("{s:s}", "id", id), deleted);
}

void ad_api_services_register(ad_app_t *app)
{
    ad_server_route(app->server, "POST", "/api/services", AD_ACCESS_ADMIN, create, app);
    ad_server_route(app->server, "GET", "/api/services", AD_ACCESS_READ, list, app);
    ad_api_svc_templates_register(app); /* svc_templates.c, before :id */
    ad_server_route(app->server, "GET", "/api/services/:id", AD_ACCESS_READ, get, app);
    ad_server_route(app->server, "PATCH", "/api/services/:id", AD_ACCESS_ADMIN, patch, app);
    ad_server_route(app->server, "DELETE", "/api/services/:id", AD_ACCESS_ADMIN, del, app);
    ad_server_route(app->server, "POST", "/api/services/:id/restart", AD_ACCESS_ADMIN, restart,
                    app);
    ad_server_route(app->server, "POST", "/api/services/:id/test", AD_ACCESS_ADMIN, test_probe,
                    app);
}
