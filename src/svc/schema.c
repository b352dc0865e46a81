/* SPDX-License-Identifier: MIT */
/*
 * A service's typed config: the schema it declares ({fields: {name: {type:
 * integer|number|boolean|string, min?, max?, maxLength?, enum?, default?,
 * label?, description?, readOnly?, disabled?}}}; int, float and bool, the
 * training configs' words, are taken and stored as these) and the values checked
 * against it, the way the training configs are; and the probe's shape.
 * A readOnly field is shown but never changed by a patch (the seed's GPU
 * device); a disabled one is shown greyed and not changed either (its
 * pixel format): both keep their default. Pure; any thread.
 */
#include "svc/svc_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define FIELDS_MAX 64

static int bad(char *why, size_t whysz, const char *field, const char **out, const char *msg)
{
    snprintf(why, whysz, "%s", msg);
    *out = field;
    return AD_EINVAL;
}

/* The training configs' words for a type (src/hparam: int, float, bool)
 * are taken for a service's field too, and stored as this one's. */
static void canonical_type(json_t *def)
{
    static const char *const alias[][2] = {
        {"int", "integer"}, {"float", "number"}, {"bool", "boolean"}};
    const char *t = json_string_value(json_object_get(def, "type"));
    for (size_t i = 0; t != NULL && i < AD_ARRAY_LEN(alias); i++) {
        if (strcmp(t, alias[i][0]) == 0) {
            json_object_set_new(def, "type", json_string(alias[i][1]));
            return;
        }
    }
}

/* One field's definition. */
static int field_def_ok(json_t *def, char *why, size_t whysz)
{
    if (json_is_object(def)) {
        canonical_type(def);
    }
    const char *type = json_string_value(json_object_get(def, "type"));
    if (!json_is_object(def) || type == NULL ||
        (strcmp(type, "integer") != 0 && strcmp(type, "number") != 0 &&
         strcmp(type, "boolean") != 0 && strcmp(type, "string") != 0)) {
        snprintf(why, whysz, "each field needs a type: integer, number, boolean or string");
        return AD_EINVAL;
    }
    json_t *min = json_object_get(def, "min"), *max = json_object_get(def, "max");
    if ((min != NULL && !json_is_number(min)) || (max != NULL && !json_is_number(max)) ||
        (min != NULL && max != NULL && json_number_value(min) > json_number_value(max))) {
        snprintf(why, whysz, "min and max must be numbers, min not above max");
        return AD_EINVAL;
    }
    json_t *e = json_object_get(def, "enum");
    if (e != NULL && (!json_is_array(e) || json_array_size(e) == 0 || json_array_size(e) > 64)) {
        snprintf(why, whysz, "enum must be a list of 1 to 64 values");
        return AD_EINVAL;
    }
    json_t *ro = json_object_get(def, "readOnly"), *off = json_object_get(def, "disabled");
    if ((ro != NULL && !json_is_boolean(ro)) || (off != NULL && !json_is_boolean(off))) {
        snprintf(why, whysz, "readOnly and disabled must be booleans");
        return AD_EINVAL;
    }
    if ((json_is_true(ro) || json_is_true(off)) && json_object_get(def, "default") == NULL) {
        snprintf(why, whysz, "a readOnly or disabled field needs a default");
        return AD_EINVAL;
    }
    return 0;
}

/* A patch may not change a readOnly or disabled field: why, or NULL. */
static const char *locked(json_t *def, json_t *patch_v, json_t *now)
{
    if (patch_v == NULL || json_equal(patch_v, now)) {
        return NULL;
    }
    if (json_is_true(json_object_get(def, "readOnly"))) {
        return "is read-only";
    }
    return json_is_true(json_object_get(def, "disabled")) ? "is disabled" : NULL;
}

/* value against its field's definition. */
static int value_ok(json_t *def, json_t *v, char *why, size_t whysz)
{
    const char *type = json_string_value(json_object_get(def, "type"));
    bool num = strcmp(type, "number") == 0, integer = strcmp(type, "integer") == 0;
    if ((integer && !json_is_integer(v)) || (num && !json_is_number(v)) ||
        (strcmp(type, "boolean") == 0 && !json_is_boolean(v)) ||
        (strcmp(type, "string") == 0 && !json_is_string(v))) {
        snprintf(why, whysz, "must be %s %s", integer ? "an" : "a", type);
        return AD_EINVAL;
    }
    if (num || integer) {
        double x = json_number_value(v);
        json_t *min = json_object_get(def, "min"), *max = json_object_get(def, "max");
        if (!isfinite(x) || (min != NULL && x < json_number_value(min)) ||
            (max != NULL && x > json_number_value(max))) {
            snprintf(why, whysz, "must be from %g to %g", min ? json_number_value(min) : -INFINITY,
                     max ? json_number_value(max) : INFINITY);
            return AD_EINVAL;
        }
    }
    json_t *ml = json_object_get(def, "maxLength");
    if (json_is_string(v) && json_is_integer(ml) &&
        json_string_length(v) > (size_t)json_integer_value(ml)) {
        snprintf(why, whysz, "is longer than %lld", (long long)json_integer_value(ml));
        return AD_EINVAL;
    }
    json_t *e = json_object_get(def, "enum");
    if (e != NULL) {
        size_t i;
        json_t *x;
        json_array_foreach(e, i, x)
        {
            if (json_equal(x, v)) {
                return 0;
            }
        }
        snprintf(why, whysz, "is not one of the allowed values");
        return AD_EINVAL;
    }
    return 0;
}

int ad_svc_schema_check(json_t *schema, const char **field, char *why, size_t whysz)
{
    json_t *fields = json_object_get(schema, "fields");
    if (!json_is_object(schema) || (fields != NULL && !json_is_object(fields)) ||
        json_object_size(fields) > FIELDS_MAX) {
        return bad(why, whysz, "schema", field, "must be {fields: {name: {type, …}}}, at most 64");
    }
    const char *k;
    json_t *def;
    json_object_foreach(fields, k, def)
    {
        if (field_def_ok(def, why, whysz) != 0) {
            *field = "schema";
            return AD_EINVAL;
        }
        json_t *d = json_object_get(def, "default");
        if (d != NULL && value_ok(def, d, why, whysz) != 0) {
            *field = "schema";
            return AD_EINVAL;
        }
    }
    return 0;
}

json_t *ad_svc_config_merge(json_t *schema, json_t *base, json_t *patch, const char **field,
                            char *why, size_t whysz)
{
    static __thread char name[160];
    json_t *fields = json_object_get(schema, "fields");
    if (patch != NULL && !json_is_object(patch)) {
        bad(why, whysz, "config", field, "must be an object");
        return NULL;
    }
    json_t *out = json_object();
    const char *k;
    json_t *def;
    json_object_foreach(fields, k, def)
    {
        json_t *now = json_object_get(base, k);
        now = now != NULL ? now : json_object_get(def, "default");
        json_t *v = json_object_get(patch, k);
        const char *lock = locked(def, v, now);
        v = v != NULL ? v : now;
        if (v == NULL) {
            continue;
        }
        if (lock != NULL) {
            snprintf(why, whysz, "%s", lock);
        }
        if (lock != NULL || value_ok(def, v, why, whysz) != 0) {
            snprintf(name, sizeof(name), "config.%s", k);
            *field = name;
            json_decref(out);
            return NULL;
        }
        json_object_set(out, k, v);
    }
    json_object_foreach(patch, k, def)
    {
        if (json_object_get(fields, k) == NULL) {
            snprintf(name, sizeof(name), "config.%s", k);
            *field = name;
            snprintf(why, whysz, "is not in the service's schema");
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static int probe_numbers(json_t *probe, const char **field, char *why, size_t whysz)
{
    json_t *iv = json_object_get(probe, "intervalMs"), *to = json_object_get(probe, "timeoutMs");
    if (iv != NULL && (!json_is_integer(iv) || json_integer_value(iv) < 200 ||
                       json_integer_value(iv) > 3600000)) {
        return bad(why, whysz, "probe.intervalMs", field, "must be from 200 to 3600000");
    }
    if (to != NULL &&
        (!json_is_integer(to) || json_integer_value(to) < 10 || json_integer_value(to) > 60000)) {
        return bad(why, whysz, "probe.timeoutMs", field, "must be from 10 to 60000");
    }
    return 0;
}

int ad_svc_probe_check(json_t *probe, const char **field, char *why, size_t whysz)
{
    const char *type = json_string_value(json_object_get(probe, "type"));
    if (!json_is_object(probe) || type == NULL) {
        return bad(why, whysz, "probe.type", field, "must be tcp, unix, http or command");
    }
    if (strcmp(type, "tcp") == 0) {
        json_t *port = json_object_get(probe, "port");
        if (!json_is_string(json_object_get(probe, "host")) || !json_is_integer(port) ||
            json_integer_value(port) < 1 || json_integer_value(port) > 65535) {
            return bad(why, whysz, "probe", field, "tcp needs host (an IP address) and port");
        }
    } else if (strcmp(type, "unix") == 0) {
        const char *p = json_string_value(json_object_get(probe, "path"));
        if (p == NULL || p[0] != '/' || strlen(p) > 107) {
            return bad(why, whysz, "probe.path", field, "must be an absolute socket path");
        }
    } else if (strcmp(type, "http") == 0) {
        const char *u = json_string_value(json_object_get(probe, "url"));
        if (u == NULL || strncmp(u, "http://", 7) != 0 || strlen(u) > 500) {
            return bad(why, whysz, "probe.url", field, "must be an http:// URL");
        }
    } else if (strcmp(type, "command") == 0) {
        json_t *c = json_object_get(probe, "command");
        bool ok =
            json_is_array(c) && json_array_size(c) > 0 && json_array_size(c) <= AD_SVC_ARGV_MAX;
        size_t i;
        json_t *a;
        json_array_foreach(c, i, a)
        {
            ok = ok && json_is_string(a) && json_string_length(a) > 0;
        }
        if (!ok) {
            return bad(why, whysz, "probe.command", field, "must be a non-empty argv array");
        }
    } else {
        return bad(why, whysz, "probe.type", field, "must be tcp, unix, http or command");
    }
    return probe_numbers(probe, field, why, whysz);
}

/* ---- the training configs' vocabulary ------------------------------------------------
 * A schema may also be written as hyper-parameter schemas are (src/hparam):
 * {fields: [{name, type: float|int|bool|enum|string, options, …}]}; it is
 * turned into the form above (float: number, int: integer, bool: boolean,
 * enum: string with enum = options), other keys kept. */

static const char *const type_map[][2] = {
    {"float", "number"},  {"int", "integer"},   {"bool", "boolean"},    {"enum", "string"},
    {"string", "string"}, {"number", "number"}, {"integer", "integer"}, {"boolean", "boolean"},
};

static json_t *list_field(json_t *f, char *why, size_t whysz)
{
    const char *type = json_string_value(json_object_get(f, "type"));
    for (size_t i = 0; type != NULL && i < sizeof(type_map) / sizeof(type_map[0]); i++) {
        if (strcmp(type, type_map[i][0]) == 0) {
            json_t *def = json_deep_copy(f);
            json_object_del(def, "name");
            json_object_set_new(def, "type", json_string(type_map[i][1]));
            if (strcmp(type, "enum") == 0) {
                json_object_set(def, "enum", json_object_get(f, "options"));
                json_object_del(def, "options");
            }
            return def;
        }
    }
    snprintf(why, whysz, "each field needs a type: float, int, bool, enum or string");
    return NULL;
}

json_t *ad_svc_schema_normalize(json_t *schema, const char **field, char *why, size_t whysz)
{
    json_t *list = json_object_get(schema, "fields");
    if (!json_is_array(list)) {
        return json_incref(schema);
    }
    if (json_array_size(list) > FIELDS_MAX) {
        bad(why, whysz, "schema", field, "at most 64 fields");
        return NULL;
    }
    json_t *out = json_deep_copy(schema), *fields = json_object();
    json_object_set_new(out, "fields", fields);
    size_t i;
    json_t *f;
    json_array_foreach(list, i, f)
    {
        const char *name = json_string_value(json_object_get(f, "name"));
        json_t *def = name != NULL && name[0] != '\0' && strlen(name) <= 64 &&
                              json_object_get(fields, name) == NULL
                          ? list_field(f, why, whysz)
                          : NULL;
        if (def == NULL) {
            if (name == NULL || json_object_get(fields, name) != NULL || name[0] == '\0') {
                snprintf(why, whysz, "each field needs a name of its own (1-64 bytes)");
            }
            *field = "schema";
            json_decref(out);
            return NULL;
        }
        json_object_set_new(fields, name, def);
    }
    return out;
}
