/* SPDX-License-Identifier: MIT */
/*
 * A service's create and update bodies checked and turned into the store's
 * arguments (svc.h, "specs"): name, command, cwd, restart, enabled, a
 * built-in template or a schema of its own, the config merged over the
 * defaults and the probe; and a job's start body. Who may send them, and the organisation a new
 * one goes to, are the REST layer's (src/api/services.c). Any thread (a
 * template is built on the loop's first call).
 */
#include "svc/svc_int.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define RESTARTS "always,on-failure,never"

static int invalid(ad_field_err_t *e, const char *field, const char *why)
{
    return ad_field_fail(e, field != NULL ? field : "body", "%s", why);
}

/* schema, config (merged over base and the defaults) and probe. */
static int check_shape(const json_t *body, json_t *schema, json_t *base, json_t **config,
                       ad_field_err_t *e)
{
    const char *field = NULL;
    char why[200];
    json_t *probe = json_object_get(body, "probe");
    if (ad_svc_schema_check(schema, &field, why, sizeof(why)) != 0 ||
        (probe != NULL && !json_is_null(probe) &&
         ad_svc_probe_check(probe, &field, why, sizeof(why)) != 0)) {
        return invalid(e, field, why);
    }
    *config = ad_svc_config_merge(schema, base, json_object_get(body, "config"), &field, why,
                                  sizeof(why));
    return *config == NULL ? invalid(e, field, why) : 0;
}

/* The schema of the body: a built-in template's (then no schema of its
 * own; the name defaults to the template's), or its own. New reference, or
 * NULL with e set. */
static json_t *body_schema(const json_t *body, const char **name, ad_field_err_t *e)
{
    const char *tpl = NULL;
    if (ad_field_str(body, "template", false, 64, &tpl, e) != 0) {
        return NULL;
    }
    json_t *schema = json_object_get(body, "schema");
    if (tpl == NULL && schema != NULL) {
        const char *field = NULL;
        char why[200];
        json_t *own = ad_svc_schema_normalize(schema, &field, why, sizeof(why));
        if (own == NULL) {
            invalid(e, field, why);
        }
        return own;
    }
    if (tpl == NULL) {
        return json_object();
    }
    json_t *t = ad_svc_template(tpl);
    if (t == NULL || schema != NULL) {
        invalid(e, t == NULL ? "template" : "schema",
                t == NULL ? "is not a built-in template (GET /api/services/templates)"
                          : "a template brings its schema: give one or the other");
        return NULL;
    }
    *name = json_string_value(json_object_get(t, "name"));
    return json_incref(json_object_get(t, "schema"));
}

/* cwd, when given, is an existing directory named by an absolute path. */
static int cwd_check(const json_t *body, const char **cwd, ad_field_err_t *e)
{
    struct stat st;
    if (ad_field_str(body, "cwd", false, 1023, cwd, e) != 0) {
        return AD_EINVAL;
    }
    if (*cwd != NULL && ((*cwd)[0] != '/' || stat(*cwd, &st) != 0 || !S_ISDIR(st.st_mode))) {
        return invalid(e, "cwd", "must be an existing directory (absolute path)");
    }
    return 0;
}

int ad_svc_job_spec(ad_store_t *store, const json_t *body, ad_job_spec_t *spec, const char **argv,
                    size_t argv_max, json_t **made, ad_field_err_t *e)
{
    json_t *command = NULL;
    const char *env = NULL, *why = NULL;
    spec->kind = "job";
    spec->name = NULL;
    spec->cwd = NULL;
    spec->node = NULL;
    *made = NULL;
    if (ad_field_enum(body, "kind", false, "job,discovery", &spec->kind, e) != 0 ||
        ad_field_str(body, "environment", false, 64, &env, e) != 0 ||
        ad_field_str(body, "node", false, 63, &spec->node, e) != 0) {
        return AD_EINVAL;
    }
    if (spec->node != NULL && json_object_get(body, "cwd") != NULL) {
        return invalid(e, "cwd",
                       "names a folder of the control plane; a job on a node runs in the node's "
                       "own work folder");
    }
    /* a discovery of an environment may leave name and command to it and
     * the discovery_command setting */
    bool by_env = strcmp(spec->kind, "discovery") == 0 && env != NULL &&
                  json_object_get(body, "command") == NULL;
    if (ad_field_str(body, "name", !by_env, 127, &spec->name, e) != 0 ||
        (!by_env && ad_field_str_array(body, "command", true, argv_max, 8192, &command, e) != 0) ||
        cwd_check(body, &spec->cwd, e) != 0) {
        return AD_EINVAL;
    }
    if (by_env) {
        spec->name = spec->name != NULL ? spec->name : env;
        command = *made = ad_jobs_discovery_command(store, env, &why);
        if (command == NULL) {
            return invalid(e, ad_jobs_environment_ok(env) ? "command" : "environment", why);
        }
    }
    if (spec->name[0] == '\0' || json_array_size(command) == 0 ||
        json_array_size(command) > argv_max) {
        json_decref(*made);
        *made = NULL;
        return invalid(e, spec->name[0] == '\0' ? "name" : "command",
                       json_array_size(command) > argv_max ? "has too many arguments"
                                                           : "must not be empty");
    }
    size_t n = json_array_size(command);
    for (size_t i = 0; i < n; i++) {
        argv[i] = json_string_value(json_array_get(command, i));
    }
    argv[n] = NULL;
    spec->argv = argv;
    return 0;
}

/* name, command, cwd, restart and enabled (name may be left out when a
 * template gave one). */
static int check_fields(const json_t *body, const char **name, json_t **command, const char **cwd,
                        const char **restart, bool *enabled, ad_field_err_t *e)
{
    if (ad_field_str(body, "name", *name == NULL, 127, name, e) != 0 ||
        ad_field_str_array(body, "command", true, 256, 8192, command, e) != 0 ||
        ad_field_str(body, "cwd", false, 1023, cwd, e) != 0 ||
        ad_field_enum(body, "restart", false, RESTARTS, restart, e) != 0 ||
        ad_field_bool(body, "enabled", enabled, NULL, e) != 0) {
        return AD_EINVAL;
    }
    if ((*name)[0] == '\0' || json_array_size(*command) == 0) {
        return invalid(e, (*name)[0] == '\0' ? "name" : "command", "must not be empty");
    }
    return cwd_check(body, cwd, e);
}

/* A service on a worker node (docs/nodes.md): node in args (its name or id,
 * the REST layer's to resolve; json null in a PATCH: back here). A folder
 * of the control plane means nothing there: refused. row: the stored one
 * (a PATCH's; NULL for a create). Its probe runs on the node
 * (src/svc/services.c). */
static int node_check(const json_t *body, bool patch, const json_t *row, json_t *args,
                      ad_field_err_t *e)
{
    json_t *v = json_object_get(body, "node");
    const char *node = NULL;
    if (!(patch && json_is_null(v)) && ad_field_str(body, "node", false, 63, &node, e) != 0) {
        return AD_EINVAL;
    }
    if (node != NULL && node[0] == '\0') {
        return invalid(e, "node", "must not be empty (null: the control plane)");
    }
    bool on_node = node != NULL ||
                   (patch && !json_is_null(v) && json_is_string(json_object_get(row, "nodeId")));
    const char *cwd = json_string_value(json_object_get(patch ? row : body, "cwd"));
    if (on_node && cwd != NULL) {
        return invalid(e, patch ? "node" : "cwd",
                       "a folder of the control plane means nothing on a node: a service on a "
                       "node runs in the node's own work folder");
    }
    if (node != NULL) {
        json_object_set_new(args, "node", json_string(node));
    } else if (patch && json_is_null(v)) {
        json_object_set_new(args, "node", json_null());
    }
    return 0;
}

int ad_svc_spec_create(const json_t *body, json_t *args, ad_field_err_t *e)
{
    const char *name = NULL, *cwd = NULL, *restart = "on-failure";
    json_t *command = NULL, *config = NULL;
    bool enabled = true;
    json_t *schema = body_schema(body, &name, e);
    if (schema == NULL) {
        return AD_EINVAL;
    }
    if (check_fields(body, &name, &command, &cwd, &restart, &enabled, e) != 0 ||
        check_shape(body, schema, NULL, &config, e) != 0 ||
        node_check(body, false, NULL, args, e) != 0) {
        json_decref(config);
        json_decref(schema);
        return AD_EINVAL;
    }
    json_t *probe = json_object_get(body, "probe");
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

int ad_svc_spec_patch(const json_t *body, const json_t *row, json_t *args, ad_field_err_t *e)
{
    const char *name = NULL, *restart = NULL;
    bool enabled = false, has_enabled = false;
    if (ad_field_str(body, "name", false, 127, &name, e) != 0 ||
        ad_field_enum(body, "restart", false, RESTARTS, &restart, e) != 0 ||
        ad_field_bool(body, "enabled", &enabled, &has_enabled, e) != 0) {
        return AD_EINVAL;
    }
    if (name != NULL && name[0] == '\0') {
        return invalid(e, "name", "must not be empty");
    }
    json_t *config = NULL;
    if (node_check(body, true, row, args, e) != 0 ||
        check_shape(body, json_object_get(row, "schema"), json_object_get(row, "config"), &config,
                    e) != 0) {
        return AD_EINVAL;
    }
    json_object_set(args, "id", json_object_get(row, "id"));
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
