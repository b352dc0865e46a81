/* SPDX-License-Identifier: MIT */
/*
 * Hyper-parameter config schemas and configs over REST (issue #16). What a
 * schema or a value may be is src/hparam's; rows are the store's
 * (src/store/hparams.c). The built-in schemas (PPO) belong to every
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

#include <string.h>

#define NAME_MAX_LEN 200

/* 422 from a check of src/hparam, naming its field. Returns -1. */
static int hp_invalid(ad_req_t *r, const ad_hparam_err_t *e)
{
    ad_res_error(r, 422, "VALIDATION_ERROR",
                 json_pack("{s:s, s:s}", "field", e->field, "reason", e->reason), "%s %s", e->field,
                 e->reason);
    return -1;
}

static void publish(ad_app_t *app, const char *type, json_t *row, const char *change)
{
    json_t *ev = json_pack("{s:s, s:s}", "id", ad_api_jstr(row, "id"), "change", change);
    json_object_set(ev, strcmp(type, "config_update") == 0 ? "config" : "schema", row);
    ad_api_publish(app, type, ev, "org", ad_api_jstr(row, "orgId"), NULL);
    json_decref(ev);
}

/* The schema id visible to r and usable by a config of org (a built-in,
 * or one of org's own). New reference, or NULL (not answered). */
static json_t *schema_get(ad_app_t *app, ad_req_t *r, const char *id, const char *org)
{
    json_t *b = ad_hparam_builtin(id);
    if (b != NULL) {
        return json_incref(b);
    }
    json_t *s = NULL;
    if (id == NULL || strlen(id) >= AD_ID_MAX || ad_store_cfg_schema_get(app->store, id, &s) != 0) {
        return NULL;
    }
    const char *so = ad_api_jstr(s, "orgId");
    if (!ad_principal_sees(ad_api_who(r), so) || (org != NULL && strcmp(so, org) != 0)) {
        json_decref(s);
        return NULL;
    }
    return s;
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
    publish(app, "config_schema_update", s, "created");
    ad_res_json(r, 201, json_incref(s));
}

static void schema_create(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = NULL;
    char org[AD_ID_MAX], id[AD_ID_MAX];
    ad_hparam_err_t e;
    if (!ad_api_need_store(app, r) || (body = ad_req_json(r)) == NULL) {
        return;
    }
    if (ad_hparam_schema_check(body, &e) != 0) {
        hp_invalid(r, &e);
    } else if (ad_api_org_for(app, r, body, org) == 0) {
        ad_id_new("cs", id);
        json_t *def = json_deep_copy(body);
        json_object_del(def, "name");
        json_object_del(def, "orgId");
        json_t *args = json_pack("{s:s, s:s, s:O, s:o, s:I}", "id", id, "orgId", org, "name",
                                 json_object_get(body, "name"), "definition", def, "now",
                                 (json_int_t)ad_wall_ms());
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
    json_t *s = schema_row(ud, r);
    if (s != NULL) {
        ad_res_json(r, 200, s);
    }
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
    if (rc != 0) {
        ad_api_fail(r, rc, "config schema", NULL);
        return;
    }
    ad_res_json(r, 200, json_incref(result));
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
    if (rc != 0) {
        ad_api_fail(r, rc, "configs", NULL);
        return;
    }
    ad_res_json(r, 200, json_pack("{s:o}", "configs", rows));
}

static void config_saved(ad_app_t *app, ad_req_t *r, int rc, json_t *result, const char *change,
                         int status)
{
    if (rc != 0) {
        ad_api_fail(r, rc, "config", NULL);
        return;
    }
    json_t *c = json_object_get(result, "config");
    publish(app, "config_update", c, change);
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

/* The values of a new config: the preset's (or the defaults), then values
 * over them. NULL after answering 422. */
static json_t *initial_values(ad_req_t *r, json_t *schema, json_t *body)
{
    const char *preset = NULL;
    json_t *base = NULL;
    if (ad_api_str(r, body, "preset", false, AD_HPARAM_NAME_MAX, &preset) != 0) {
        return NULL;
    }
    if (preset != NULL && (base = ad_hparam_preset(schema, preset)) == NULL) {
        ad_api_invalid(r, "preset", "is not a preset of the schema");
        return NULL;
    }
    ad_hparam_err_t e;
    json_t *v = ad_hparam_values(schema, base, json_object_get(body, "values"), &e);
    json_decref(base);
    if (v == NULL) {
        hp_invalid(r, &e);
    }
    return v;
}

static void config_create(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = NULL, *schema = NULL, *values = NULL;
    const char *name = NULL, *sid = NULL;
    char org[AD_ID_MAX], id[AD_ID_MAX];
    if (!ad_api_need_store(app, r) || (body = ad_req_json(r)) == NULL) {
        return;
    }
    if (ad_api_str(r, body, "name", true, NAME_MAX_LEN, &name) == 0 &&
        ad_api_str(r, body, "schemaId", true, AD_ID_MAX - 1, &sid) == 0 &&
        ad_api_org_for(app, r, body, org) == 0) {
        if (name[0] == '\0') {
            ad_api_invalid(r, "name", "must not be empty");
        } else if ((schema = schema_get(app, r, sid, org)) == NULL) {
            ad_api_invalid(r, "schemaId", "is not a config schema of this organisation");
        } else if ((values = initial_values(r, schema, body)) != NULL) {
            ad_id_new("cfg", id);
            json_t *args =
                json_pack("{s:s, s:s, s:s, s:s, s:o, s:I}", "id", id, "orgId", org, "name", name,
                          "schemaId", sid, "values", values, "now", (json_int_t)ad_wall_ms());
            ad_api_write(app, r, ad_store_op_config_insert, args, config_created);
        }
    }
    json_decref(schema);
    json_decref(body);
}

static void config_one(ad_req_t *r, void *ud)
{
    json_t *c = config_row(ud, r);
    if (c != NULL) {
        ad_res_json(r, 200, c);
    }
}

/* Stores values (stolen) and name (may be NULL) on config c. */
static void config_store(ad_app_t *app, ad_req_t *r, json_t *c, const char *name, json_t *values)
{
    json_t *args =
        json_pack("{s:s, s:I}", "id", ad_api_jstr(c, "id"), "now", (json_int_t)ad_wall_ms());
    if (name != NULL) {
        json_object_set_new(args, "name", json_string(name));
    }
    json_object_set_new(args, "values", values);
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

static void config_patch(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = NULL, *c = NULL, *s = NULL;
    const char *name = NULL;
    if ((c = config_row(app, r)) == NULL || (body = ad_req_json(r)) == NULL) {
        json_decref(c);
        return;
    }
    if (ad_api_str(r, body, "name", false, NAME_MAX_LEN, &name) == 0 &&
        (s = config_schema(app, r, c)) != NULL) {
        ad_hparam_err_t e;
        json_t *v =
            ad_hparam_values(s, json_object_get(c, "values"), json_object_get(body, "values"), &e);
        if (name != NULL && name[0] == '\0') {
            json_decref(v);
            ad_api_invalid(r, "name", "must not be empty");
        } else if (v == NULL) {
            hp_invalid(r, &e);
        } else {
            config_store(app, r, c, name, v);
        }
    }
    json_decref(s);
    json_decref(body);
    json_decref(c);
}

static void config_reset(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *c = config_row(app, r), *s = NULL;
    if (c != NULL && (s = config_schema(app, r, c)) != NULL) {
        config_store(app, r, c, NULL, ad_hparam_defaults(s));
    }
    json_decref(s);
    json_decref(c);
}

static void config_preset(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = NULL, *c = NULL, *s = NULL, *v = NULL;
    const char *preset = NULL;
    if ((c = config_row(app, r)) == NULL || (body = ad_req_json(r)) == NULL) {
        json_decref(c);
        return;
    }
    if (ad_api_str(r, body, "preset", true, AD_HPARAM_NAME_MAX, &preset) == 0 &&
        (s = config_schema(app, r, c)) != NULL) {
        if ((v = ad_hparam_preset(s, preset)) == NULL) {
            ad_api_invalid(r, "preset", "is not a preset of the schema");
        } else {
            config_store(app, r, c, NULL, v);
        }
    }
    json_decref(s);
    json_decref(body);
    json_decref(c);
}

static void config_deleted(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    AD_UNUSED(app);
    if (rc != 0) {
        ad_api_fail(r, rc, "config", NULL);
        return;
    }
    ad_res_json(r, 200, json_incref(result));
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

/* ---- a run's config (runs.c) ---------------------------------------------------------------- */

int ad_api_run_config(ad_app_t *app, ad_req_t *r, const char *config_id, const char *org,
                      json_t **record, json_t **schema)
{
    json_t *c = NULL;
    if (ad_store_config_get(app->store, config_id, &c) != 0 ||
        strcmp(ad_api_jstr(c, "orgId"), org) != 0) {
        json_decref(c);
        return ad_api_invalid(r, "configId", "is not a config of the agent's organisation");
    }
    json_t *s = schema_get(app, r, ad_api_jstr(c, "schemaId"), org);
    ad_hparam_err_t e;
    json_t *v = s != NULL ? ad_hparam_values(s, json_object_get(c, "values"), NULL, &e) : NULL;
    if (v == NULL) {
        json_decref(c);
        json_decref(s);
        return s == NULL ? ad_api_invalid(r, "configId", "the config's schema is gone")
                         : hp_invalid(r, &e);
    }
    *record = json_pack("{s:O, s:O, s:O, s:o}", "id", json_object_get(c, "id"), "name",
                        json_object_get(c, "name"), "schemaId", json_object_get(c, "schemaId"),
                        "values", v);
    *schema = s;
    json_decref(c);
    return 0;
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
