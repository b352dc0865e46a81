/* SPDX-License-Identifier: MIT */
/*
 * Hyper-parameter config schemas and configs over REST (issue #16). What a
 * schema or a value may be is src/hparam's; rows are the store's
 * (src/tables/hparams.c). The built-in schemas (PPO) belong to every
 * organisation and cannot be changed; a user's schema cannot be changed
 * either (a config's values stay valid), only deleted while no config
 * uses it.
 * Its routes are listed in docs/api.md, their bodies and answers in
 * docs/training.md.
 * A value out of range, of the wrong type or not in the schema is a 422
 * whose details name the field ("values.learningRate") and the range.
 */
#include "api/api_int.h"
#include "hparam/hparam.h"
#include "tables/hparams.h"

#include <string.h>

/* 422 from a check of src/hparam, naming its field. Returns -1. */
static int hp_invalid(ad_req_t *r, const ad_hparam_err_t *e)
{
    return ad_api_invalid(r, e->field, e->reason);
}

/* The schema id visible to r and usable by a config of org (a built-in,
 * or one of org's own). New reference, or NULL (not answered). */
static json_t *schema_get(ad_app_t *app, ad_req_t *r, const char *id, const char *org)
{
    return ad_store_cfg_schema_for(app->store, id, ad_principal_filter(ad_api_who(r)), org);
}

/* ---- schemas ---------------------------------------------------------------------------- */

static void schema_list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *rows = NULL;
    if (!ad_api_need_store(app, r)) {
        return;
    }
    int rc = ad_store_cfg_schema_list(app->store, ad_principal_filter(ad_api_who(r)), &rows);
    if (rc != 0) {
        ad_api_fail(r, rc, "config schemas", NULL);
        return;
    }
    json_t *all = json_deep_copy(ad_hparam_builtins());
    json_array_extend(all, rows);
    json_decref(rows);
    ad_res_json(r, 200, json_pack("{s:o}", "schemas", all));
}

static void schema_created(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        ad_api_fail(r, rc, "config schema", NULL);
        return;
    }
    json_t *s = json_object_get(result, "schema");
    ad_store_cfg_publish(app->bus, "config_schema_update", s, "created");
    ad_res_json(r, 201, json_incref(s));
}

static void schema_create(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = NULL;
    char org[AD_ID_MAX];
    ad_hparam_err_t e;
    if (!ad_api_need_store(app, r) || (body = ad_req_json(r)) == NULL) {
        return;
    }
    if (ad_hparam_schema_check(body, &e) != 0) {
        hp_invalid(r, &e);
    } else if (ad_api_org_for(app, r, body, org) == 0) {
        json_t *args = ad_hparam_schema_args(body, org, (int64_t)ad_wall_ms());
        ad_api_write(app, r, ad_store_op_cfg_schema_insert, args, schema_created);
    }
    json_decref(body);
}

/* The schema of :id visible to r, or NULL after answering 404. */
static json_t *schema_row(ad_app_t *app, ad_req_t *r)
{
    const char *id = ad_req_param(r, "id");
    json_t *s = ad_api_need_store(app, r) ? schema_get(app, r, id, NULL) : NULL;
    if (s == NULL && app->store != NULL) {
        ad_api_fail(r, AD_ENOENT, "config schema", id);
    }
    return s;
}

static void schema_one(ad_req_t *r, void *ud)
{
    ad_api_answer_row(r, schema_row(ud, r));
}

static void schema_deleted(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    AD_UNUSED(app);
    if (rc == AD_ESTATE) {
        ad_res_error(r, 409, "CONFLICT", json_incref(result),
                     "the schema is used by %lld config(s); delete them first",
                     (long long)json_integer_value(json_object_get(result, "configs")));
        return;
    }
    ad_api_answer(r, rc, json_incref(result), "config schema", NULL);
}

static void schema_delete(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *s = schema_row(app, r);
    if (s == NULL) {
        return;
    }
    if (json_is_true(json_object_get(s, "builtIn"))) {
        ad_res_error(r, 409, "CONFLICT", NULL, "the built-in schema %s cannot be deleted",
                     ad_api_jstr(s, "id"));
    } else {
        ad_api_write(app, r, ad_store_op_cfg_schema_delete,
                     json_pack("{s:s}", "id", ad_api_jstr(s, "id")), schema_deleted);
    }
    json_decref(s);
}

/* ---- configs ------------------------------------------------------------------------------ */

static json_t *config_row(ad_app_t *app, ad_req_t *r)
{
    return ad_api_row_load(app, r, ad_store_config_get, "config");
}

static void config_list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *rows = NULL;
    if (!ad_api_need_store(app, r)) {
        return;
    }
    int rc = ad_store_config_list(app->store, ad_principal_filter(ad_api_who(r)),
                                  ad_req_query(r, "schemaId"), &rows);
    ad_api_list(r, rc, rows, "configs", "configs");
}

static void config_saved(ad_app_t *app, ad_req_t *r, int rc, json_t *result, const char *change,
                         int status)
{
    if (rc != 0) {
        ad_api_fail(r, rc, "config", NULL);
        return;
    }
    json_t *c = json_object_get(result, "config");
    ad_store_cfg_publish(app->bus, "config_update", c, change);
    ad_res_json(r, status, json_incref(c));
}

static void config_created(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    config_saved(app, r, rc, result, "created", 201);
}

static void config_updated(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    config_saved(app, r, rc, result, "updated", 200);
}

static void config_create(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = NULL, *schema = NULL, *values = NULL;
    const char *name = NULL, *sid = NULL;
    char org[AD_ID_MAX];
    ad_hparam_err_t e;
    if (!ad_api_need_store(app, r) || (body = ad_req_json(r)) == NULL) {
        return;
    }
    if (ad_hparam_config_name(body, true, &name, &e) != 0) {
        hp_invalid(r, &e);
    } else if (ad_api_str(r, body, "schemaId", true, AD_ID_MAX - 1, &sid) == 0 &&
               ad_api_org_for(app, r, body, org) == 0) {
        if ((schema = schema_get(app, r, sid, org)) == NULL) {
            ad_api_invalid(r, "schemaId", "is not a config schema of this organisation");
        } else if ((values = ad_hparam_initial(schema, body, &e)) == NULL) {
            hp_invalid(r, &e);
        } else {
            json_t *args = ad_hparam_config_args(org, name, sid, values, (int64_t)ad_wall_ms());
            ad_api_write(app, r, ad_store_op_config_insert, args, config_created);
        }
    }
    json_decref(schema);
    json_decref(body);
}

static void config_one(ad_req_t *r, void *ud)
{
    ad_api_answer_row(r, config_row(ud, r));
}

/* Stores values (stolen) and name (may be NULL) on config c. */
static void config_store(ad_app_t *app, ad_req_t *r, json_t *c, const char *name, json_t *values)
{
    json_t *args =
        ad_hparam_config_update_args(ad_api_jstr(c, "id"), name, values, (int64_t)ad_wall_ms());
    ad_api_write(app, r, ad_store_op_config_update, args, config_updated);
}

/* The schema of config c, or NULL after answering 409 (it is gone). */
static json_t *config_schema(ad_app_t *app, ad_req_t *r, json_t *c)
{
    json_t *s = schema_get(app, r, ad_api_jstr(c, "schemaId"), ad_api_jstr(c, "orgId"));
    if (s == NULL) {
        ad_res_error(r, 409, "CONFLICT", NULL, "the config's schema %s is gone",
                     ad_api_jstr(c, "schemaId"));
    }
    return s;
}

/* PATCH, reset and preset: the body checked, the schema read (409 when
 * it is gone), the values made by src/hparam, stored. */
static void config_edit(ad_req_t *r, ad_app_t *app, const char *how)
{
    json_t *body = NULL, *c = NULL, *s = NULL, *v = NULL;
    const char *name = NULL;
    ad_hparam_err_t e;
    if ((c = config_row(app, r)) == NULL ||
        (strcmp(how, "reset") != 0 && (body = ad_req_json(r)) == NULL)) {
        json_decref(c);
        return;
    }
    if (ad_hparam_edit_check(body, how, &name, &e) != 0) {
        hp_invalid(r, &e);
    } else if ((s = config_schema(app, r, c)) != NULL) {
        if ((v = ad_hparam_edit(s, c, body, how, &e)) == NULL) {
            hp_invalid(r, &e);
        } else {
            config_store(app, r, c, name, v);
        }
    }
    json_decref(s);
    json_decref(body);
    json_decref(c);
}

static void config_patch(ad_req_t *r, void *ud)
{
    config_edit(r, ud, "patch");
}

static void config_reset(ad_req_t *r, void *ud)
{
    config_edit(r, ud, "reset");
}

static void config_preset(ad_req_t *r, void *ud)
{
    config_edit(r, ud, "preset");
}

static void config_deleted(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    AD_UNUSED(app);
    ad_api_answer(r, rc, json_incref(result), "config", NULL);
}

static void config_delete(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *c = config_row(app, r);
    if (c != NULL) {
        ad_api_write(app, r, ad_store_op_config_delete,
                     json_pack("{s:s}", "id", ad_api_jstr(c, "id")), config_deleted);
        json_decref(c);
    }
}

void ad_api_hparams_register(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_hparam_builtins(); /* built here, on the loop, before any other thread */
    ad_server_route(s, "GET", "/api/config-schemas", AD_ACCESS_READ, schema_list, app);
    ad_server_route(s, "POST", "/api/config-schemas", AD_ACCESS_WRITE, schema_create, app);
    ad_server_route(s, "GET", "/api/config-schemas/:id", AD_ACCESS_READ, schema_one, app);
    ad_server_route(s, "DELETE", "/api/config-schemas/:id", AD_ACCESS_WRITE, schema_delete, app);
    ad_server_route(s, "GET", "/api/configs", AD_ACCESS_READ, config_list, app);
    ad_server_route(s, "POST", "/api/configs", AD_ACCESS_WRITE, config_create, app);
    ad_server_route(s, "GET", "/api/configs/:id", AD_ACCESS_READ, config_one, app);
    ad_server_route(s, "PATCH", "/api/configs/:id", AD_ACCESS_WRITE, config_patch, app);
    ad_server_route(s, "POST", "/api/configs/:id/reset", AD_ACCESS_WRITE, config_reset, app);
    ad_server_route(s, "POST", "/api/configs/:id/preset", AD_ACCESS_WRITE, config_preset, app);
    ad_server_route(s, "DELETE", "/api/configs/:id", AD_ACCESS_WRITE, config_delete, app);
}
