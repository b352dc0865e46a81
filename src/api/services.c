/* SPDX-License-Identifier: MIT */
/*
 * /api/services: long-running helpers (src/svc), the seed's "Synthetic
 * Eye" generalised. Anything that starts, stops or probes one needs an
 * admin token (a probe may run a command); reading needs a read token and
 * shows the caller's organisation's services with their runtime.
 * Its routes are listed in docs/api.md, their bodies and answers in
 * docs/health.md.
 */
#include "api/api_int.h"
#include "svc/svc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static json_t *view(ad_app_t *app, json_t *row)
{
    ad_services_overlay(app->services, row);
    return row;
}

static void publish_row(ad_app_t *app, json_t *row)
{
    ad_api_publish(app, "service_update", row, "service", ad_api_jstr(row, "id"), "org",
                   ad_api_jstr(row, "orgId"), NULL);
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

/* schema, config (merged with the defaults) and probe: 0, or -1 answered. */
static int check_shape(ad_req_t *r, json_t *body, json_t *schema, json_t *base, json_t **config)
{
    const char *field = NULL;
    char why[200];
    json_t *probe = json_object_get(body, "probe");
    if (ad_svc_schema_check(schema, &field, why, sizeof(why)) != 0 ||
        (probe != NULL && !json_is_null(probe) &&
         ad_svc_probe_check(probe, &field, why, sizeof(why)) != 0)) {
        return ad_api_invalid(r, field, why);
    }
    *config = ad_svc_config_merge(schema, base, json_object_get(body, "config"), &field, why,
                                  sizeof(why));
    return *config == NULL ? ad_api_invalid(r, field, why) : 0;
}

/* The schema of the body: a built-in template's (then no schema of its
 * own; the name defaults to the template's), or its own. New reference, or
 * NULL answered. */
static json_t *body_schema(ad_req_t *r, json_t *body, const char **name)
{
    const char *tpl = NULL;
    if (ad_api_str(r, body, "template", false, 64, &tpl) != 0) {
        return NULL;
    }
    json_t *schema = json_object_get(body, "schema");
    if (tpl == NULL && schema != NULL) {
        const char *field = NULL;
        char why[200];
        json_t *own = ad_svc_schema_normalize(schema, &field, why, sizeof(why));
        if (own == NULL) {
            ad_api_invalid(r, field, why);
        }
        return own;
    }
    if (tpl == NULL) {
        return json_object();
    }
    json_t *t = ad_svc_template(tpl);
    if (t == NULL || schema != NULL) {
        ad_api_invalid(r, t == NULL ? "template" : "schema",
                       t == NULL ? "is not a built-in template (GET /api/services/templates)"
                                 : "a template brings its schema: give one or the other");
        return NULL;
    }
    *name = json_string_value(json_object_get(t, "name"));
    return json_incref(json_object_get(t, "schema"));
}

/* 0 when name, command, cwd, restart and enabled are well formed (name
 * may be left out when a template gave one); -1 answered. */
static int check_fields(ad_req_t *r, json_t *body, const char **name, json_t **command,
                        const char **cwd, const char **restart, bool *enabled)
{
    struct stat st;
    if (ad_api_str(r, body, "name", *name == NULL, 127, name) != 0 ||
        ad_api_str_array(r, body, "command", true, 256, 8192, command) != 0 ||
        ad_api_str(r, body, "cwd", false, 1023, cwd) != 0 ||
        ad_api_enum(r, body, "restart", false, "always,on-failure,never", restart) != 0 ||
        ad_api_bool(r, body, "enabled", enabled, NULL) != 0) {
        return -1;
    }
    if ((*name)[0] == '\0' || json_array_size(*command) == 0) {
        return ad_api_invalid(r, (*name)[0] == '\0' ? "name" : "command", "must not be empty");
    }
    if (*cwd != NULL && ((*cwd)[0] != '/' || stat(*cwd, &st) != 0 || !S_ISDIR(st.st_mode))) {
        return ad_api_invalid(r, "cwd", "must be an existing directory (absolute path)");
    }
    return 0;
}

static int check_create(ad_app_t *app, ad_req_t *r, json_t *body, json_t *args)
{
    const char *name = NULL, *cwd = NULL, *restart = "on-failure";
    json_t *command = NULL;
    bool enabled = true;
    char org[AD_ID_MAX];
    json_t *schema = body_schema(r, body, &name);
    json_t *config = NULL;
    if (schema == NULL) {
        return -1;
    }
    if (check_fields(r, body, &name, &command, &cwd, &restart, &enabled) != 0 ||
        check_shape(r, body, schema, NULL, &config) != 0 ||
        ad_api_org_for(app, r, body, org) != 0) {
        json_decref(config);
        json_decref(schema);
        return -1;
    }
    char id[AD_ID_MAX];
    ad_id_new("svc", id);
    json_t *probe = json_object_get(body, "probe");
    json_object_set_new(args, "id", json_string(id));
    json_object_set_new(args, "orgId", json_string(org));
    json_object_set_new(args, "name", json_string(name));
    json_object_set(args, "command", command);
    json_object_set_new(args, "cwd", cwd != NULL ? json_string(cwd) : json_null());
    json_object_set_new(args, "config", config);
    json_object_set_new(args, "schema", schema);
    json_object_set_new(args, "restart", json_string(restart));
    json_object_set(args, "probe", probe != NULL ? probe : json_null());
    json_object_set_new(args, "enabled", json_boolean(enabled));
    json_object_set_new(args, "now", json_integer(ad_wall_ms()));
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
    int rc = ad_store_service_list(app->store, ad_principal_filter(ad_api_who(r)), &out);
    if (rc != 0) {
        ad_api_fail(r, rc, "services", NULL);
        return;
    }
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(out, "services"), i, row)
    {
        view(app, row);
    }
    ad_res_json(r, 200, out);
}

/* The row of :id, or NULL after answering (404 for another org's). */
static json_t *load(ad_app_t *app, ad_req_t *r)
{
    const char *id = ad_req_param(r, "id");
    if (!ad_api_visible(app, r, AD_API_SERVICE, id, NULL)) {
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
        json_t *v = view(app, row);
        /* one service's read carries its log (the list does not) */
        json_t *rt = json_object_get(v, "runtime");
        if (json_is_object(rt)) {
            json_object_set_new(rt, "output",
                                ad_services_output(app->services, ad_req_param(r, "id")));
        }
        ad_res_json(r, 200, v);
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

static int check_patch(ad_req_t *r, json_t *body, json_t *row, json_t *args)
{
    const char *name = NULL, *restart = NULL;
    bool enabled = false, has_enabled = false;
    if (ad_api_str(r, body, "name", false, 127, &name) != 0 ||
        ad_api_enum(r, body, "restart", false, "always,on-failure,never", &restart) != 0 ||
        ad_api_bool(r, body, "enabled", &enabled, &has_enabled) != 0) {
        return -1;
    }
    if (name != NULL && name[0] == '\0') {
        return ad_api_invalid(r, "name", "must not be empty");
    }
    json_t *config = NULL;
    if (check_shape(r, body, json_object_get(row, "schema"), json_object_get(row, "config"),
                    &config) != 0) {
        return -1;
    }
    json_object_set_new(args, "id", json_string(ad_api_jstr(row, "id")));
    json_object_set_new(args, "name", name != NULL ? json_string(name) : json_null());
    json_object_set_new(args, "config", config);
    json_object_set_new(args, "restart", restart != NULL ? json_string(restart) : json_null());
    json_t *probe = json_object_get(body, "probe");
    if (probe != NULL) {
        json_object_set(args, "probe", probe); /* null removes it */
    }
    if (has_enabled) {
        json_object_set_new(args, "enabled", json_boolean(enabled));
    }
    json_object_set_new(args, "now", json_integer(ad_wall_ms()));
    return 0;
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
    if (body != NULL && check_patch(r, body, row, args) == 0) {
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
    ad_services_remove(app->services, ad_api_jstr(result, "id"));
    publish_row(app, result);
    ad_res_send(r, 204, NULL, NULL, 0);
}

static void del(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    if (!ad_api_visible(app, r, AD_API_SERVICE, id, NULL)) {
        return;
    }
    ad_api_write(app, r, ad_store_op_service_delete, json_pack("{s:s}", "id", id), deleted);
}

void ad_api_services_register(ad_app_t *app)
{
    if (app->store != NULL && app->procs != NULL) {
        json_t *rows = NULL;
        if (ad_store_service_list(app->store, "", &rows) != 0) {
            ad_log(AD_LOG_ERROR, "services", "cannot read the services: none started");
        }
        app->services =
            ad_services_new(app->loop, app->bus, app->procs, json_object_get(rows, "services"));
        json_decref(rows);
    }
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

void ad_api_services_close(ad_app_t *app)
{
    ad_services_free(app->services);
    app->services = NULL;
}
