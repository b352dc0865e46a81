/* SPDX-License-Identifier: MIT */
/*
 * Hyper-parameter schemas and values (hparam.h): the built-in PPO schema,
 * the checks of a user's schema, and values merged and checked against one.
 */
#include "hparam/hparam.h"
#include "core/core.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LABEL_MAX 200
#define DESC_MAX 1000
#define STRING_MAX_DEFAULT 1000
#define STRING_MAX_LIMIT 10000
#define OPTIONS_MAX 64

/* The seed's PPO set (Settings → Training Configuration): its field names,
 * ranges and steps; the presets' values are ours (the seed names them only). */
static const char PPO_JSON[] =
    "{\"id\":\"ppo\",\"name\":\"PPO\",\"builtIn\":true,\"orgId\":null,"
    "\"description\":\"Proximal Policy Optimization hyper-parameters\",\"fields\":["
    "{\"name\":\"learningRate\",\"label\":\"Learning Rate\",\"group\":\"PPO Hyperparameters\","
    "\"type\":\"float\",\"min\":1e-6,\"max\":1e-2,\"step\":1e-6,\"log\":true,\"default\":3e-4},"
    "{\"name\":\"gamma\",\"label\":\"Gamma (Discount)\",\"group\":\"PPO Hyperparameters\","
    "\"type\":\"float\",\"min\":0.9,\"max\":0.999,\"step\":0.001,\"default\":0.99},"
    "{\"name\":\"gaeLambda\",\"label\":\"GAE Lambda\",\"group\":\"PPO Hyperparameters\","
    "\"type\":\"float\",\"min\":0.9,\"max\":0.99,\"step\":0.01,\"default\":0.95},"
    "{\"name\":\"clipRange\",\"label\":\"Clip Range\",\"group\":\"PPO Hyperparameters\","
    "\"type\":\"float\",\"min\":0.1,\"max\":0.3,\"step\":0.05,\"default\":0.2},"
    "{\"name\":\"entropyCoef\",\"label\":\"Entropy Coefficient\",\"group\":\"PPO "
    "Hyperparameters\",\"type\":\"float\",\"min\":0.0,\"max\":0.1,\"step\":0.001,\"default\":0.01},"
    "{\"name\":\"batchSize\",\"label\":\"Batch Size\",\"group\":\"Training Loop\","
    "\"type\":\"int\",\"min\":32,\"max\":2048,\"step\":32,\"default\":2048},"
    "{\"name\":\"miniBatchSize\",\"label\":\"Mini-batch Size\",\"group\":\"Training Loop\","
    "\"type\":\"int\",\"min\":16,\"max\":512,\"step\":16,\"default\":64},"
    "{\"name\":\"epochs\",\"label\":\"Epochs per Update\",\"group\":\"Training Loop\","
    "\"type\":\"int\",\"min\":1,\"max\":20,\"step\":1,\"default\":10}],"
    "\"presets\":{"
    "\"conservative\":{\"learningRate\":1e-4,\"gamma\":0.995,\"gaeLambda\":0.95,\"clipRange\":0.1,"
    "\"entropyCoef\":0.001,\"batchSize\":2048,\"miniBatchSize\":128,\"epochs\":4},"
    "\"balanced\":{\"learningRate\":3e-4,\"gamma\":0.99,\"gaeLambda\":0.95,\"clipRange\":0.2,"
    "\"entropyCoef\":0.01,\"batchSize\":2048,\"miniBatchSize\":64,\"epochs\":10},"
    "\"aggressive\":{\"learningRate\":1e-3,\"gamma\":0.98,\"gaeLambda\":0.9,\"clipRange\":0.3,"
    "\"entropyCoef\":0.02,\"batchSize\":512,\"miniBatchSize\":32,\"epochs\":15}}}";

static json_t *builtins;

json_t *ad_hparam_builtins(void)
{
    if (builtins == NULL) {
        json_t *ppo = json_loads(PPO_JSON, 0, NULL);
        builtins = json_array();
        if (ppo != NULL) {
            json_array_append_new(builtins, ppo);
        }
    }
    return builtins;
}

json_t *ad_hparam_builtin(const char *id)
{
    size_t i;
    json_t *s;
    json_array_foreach(ad_hparam_builtins(), i, s)
    {
        if (id != NULL && strcmp(json_string_value(json_object_get(s, "id")), id) == 0) {
            return s;
        }
    }
    return NULL;
}

bool ad_hparam_name_ok(const char *name)
{
    if (name == NULL || name[0] == '\0' || strlen(name) > AD_HPARAM_NAME_MAX ||
        (name[0] >= '0' && name[0] <= '9')) {
        return false;
    }
    for (const char *p = name; *p != '\0'; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_')) {
            return false;
        }
    }
    return true;
}

__attribute__((format(printf, 3, 4))) static int fail(ad_hparam_err_t *err, const char *field,
                                                      const char *fmt, ...)
{
    snprintf(err->field, sizeof(err->field), "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
    va_end(ap);
    return AD_EINVAL;
}

/* The services' words for a type (src/svc/schema.c: integer, number,
 * boolean) are taken for a field's too, and stored as this one's. */
static void canonical_type(json_t *f)
{
    static const char *const alias[][2] = {
        {"integer", "int"}, {"number", "float"}, {"boolean", "bool"}};
    const char *t = json_string_value(json_object_get(f, "type"));
    for (size_t i = 0; t != NULL && i < sizeof(alias) / sizeof(alias[0]); i++) {
        if (strcmp(t, alias[i][0]) == 0) {
            json_object_set_new(f, "type", json_string(alias[i][1]));
            return;
        }
    }
}

static const char *ftype(json_t *f)
{
    const char *t = json_string_value(json_object_get(f, "type"));
    return t != NULL ? t : "";
}

static bool numeric(json_t *f)
{
    return strcmp(ftype(f), "float") == 0 || strcmp(ftype(f), "int") == 0;
}

/* ---- one value against its field ------------------------------------------------------- */

/* "must be from 16 to 512 in steps of 16" and the like. */
static int range_fail(ad_hparam_err_t *err, const char *field, json_t *f)
{
    double min = json_number_value(json_object_get(f, "min"));
    double max = json_number_value(json_object_get(f, "max"));
    json_t *step = json_object_get(f, "step");
    if (strcmp(ftype(f), "int") == 0 && json_is_number(step) && json_number_value(step) > 1) {
        return fail(err, field, "must be from %g to %g in steps of %g", min, max,
                    json_number_value(step));
    }
    return fail(err, field, "must be from %g to %g", min, max);
}

static int number_ok(json_t *f, json_t *v, const char *field, ad_hparam_err_t *err)
{
    bool integer = strcmp(ftype(f), "int") == 0;
    double x = json_number_value(v);
    if (!json_is_number(v) || !isfinite(x) || (integer && x != floor(x))) {
        return fail(err, field, "must be %s from %g to %g", integer ? "a whole number" : "a number",
                    json_number_value(json_object_get(f, "min")),
                    json_number_value(json_object_get(f, "max")));
    }
    double min = json_number_value(json_object_get(f, "min"));
    double max = json_number_value(json_object_get(f, "max"));
    if (x < min || x > max) {
        return range_fail(err, field, f);
    }
    json_t *step = json_object_get(f, "step");
    if (integer && json_is_number(step) && json_number_value(step) >= 1) {
        double k = (x - min) / json_number_value(step);
        if (fabs(k - round(k)) > 1e-9) {
            return range_fail(err, field, f);
        }
    }
    return 0;
}

static int value_ok(json_t *f, json_t *v, const char *field, ad_hparam_err_t *err)
{
    const char *t = ftype(f);
    if (numeric(f)) {
        return number_ok(f, v, field, err);
    }
    if (strcmp(t, "bool") == 0) {
        return json_is_boolean(v) ? 0 : fail(err, field, "must be true or false");
    }
    if (strcmp(t, "enum") == 0) {
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(f, "options"), i, o)
        {
            if (json_equal(o, v)) {
                return 0;
            }
        }
        char list[200] = "";
        json_array_foreach(json_object_get(f, "options"), i, o)
        {
            size_t len = strlen(list);
            snprintf(list + len, sizeof(list) - len, "%s%s", i > 0 ? ", " : "",
                     json_string_value(o));
        }
        return fail(err, field, "must be one of %s", list);
    }
    json_t *ml = json_object_get(f, "maxLength");
    size_t max = json_is_integer(ml) ? (size_t)json_integer_value(ml) : STRING_MAX_DEFAULT;
    if (!json_is_string(v) || json_string_length(v) > max) {
        return fail(err, field, "must be a string of at most %zu bytes", max);
    }
    return 0;
}

/* An integral number of an int field as a JSON integer. New reference. */
static json_t *normal(json_t *f, json_t *v)
{
    if (strcmp(ftype(f), "int") == 0 && json_is_real(v)) {
        return json_integer((json_int_t)json_real_value(v));
    }
    if (strcmp(ftype(f), "float") == 0 && json_is_integer(v)) {
        return json_real((double)json_integer_value(v));
    }
    return json_incref(v);
}

/* ---- schemas ------------------------------------------------------------------------------ */

static bool only_keys(json_t *o, const char *allowed, const char **bad)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        char pat[80];
        snprintf(pat, sizeof(pat), ",%s,", k);
        if (strstr(allowed, pat) == NULL) {
            *bad = k;
            return false;
        }
    }
    return true;
}

static bool opt_str(json_t *o, const char *key, size_t max)
{
    json_t *v = json_object_get(o, key);
    return v == NULL || (json_is_string(v) && json_string_length(v) <= max);
}

/* min, max, step and log of a float or int field. */
static int range_def_ok(json_t *f, const char *at, ad_hparam_err_t *err)
{
    char k[200];
    json_t *min = json_object_get(f, "min"), *max = json_object_get(f, "max");
    json_t *step = json_object_get(f, "step"), *lg = json_object_get(f, "log");
    bool integer = strcmp(ftype(f), "int") == 0;
    if (!json_is_number(min) || !json_is_number(max) || !isfinite(json_number_value(min)) ||
        !isfinite(json_number_value(max)) || json_number_value(min) >= json_number_value(max)) {
        snprintf(k, sizeof(k), "%s.min", at);
        return fail(err, k, "a %s field needs numbers min and max, min below max", ftype(f));
    }
    if (integer && (json_number_value(min) != floor(json_number_value(min)) ||
                    json_number_value(max) != floor(json_number_value(max)))) {
        snprintf(k, sizeof(k), "%s.min", at);
        return fail(err, k, "an int field's min and max must be whole numbers");
    }
    if (step != NULL && (!json_is_number(step) || json_number_value(step) <= 0 ||
                         (integer && json_number_value(step) != floor(json_number_value(step))))) {
        snprintf(k, sizeof(k), "%s.step", at);
        return fail(err, k, "must be a number above 0 (a whole number for int)");
    }
    if (lg != NULL && (!json_is_boolean(lg) || (json_is_true(lg) && json_number_value(min) <= 0))) {
        snprintf(k, sizeof(k), "%s.log", at);
        return fail(err, k, "must be true or false; a log scale needs min above 0");
    }
    return 0;
}

static int options_ok(json_t *f, const char *at, ad_hparam_err_t *err)
{
    char k[200];
    json_t *opts = json_object_get(f, "options");
    snprintf(k, sizeof(k), "%s.options", at);
    if (!json_is_array(opts) || json_array_size(opts) == 0 || json_array_size(opts) > OPTIONS_MAX) {
        return fail(err, k, "an enum field needs 1 to 64 options");
    }
    size_t i;
    json_t *o;
    json_array_foreach(opts, i, o)
    {
        if (!json_is_string(o) || json_string_length(o) == 0 || json_string_length(o) > 200) {
            return fail(err, k, "options must be strings of 1 to 200 bytes");
        }
        for (size_t j = 0; j < i; j++) {
            if (json_equal(json_array_get(opts, j), o)) {
                return fail(err, k, "names %s twice", json_string_value(o));
            }
        }
    }
    return 0;
}

static int type_def_ok(json_t *f, const char *at, ad_hparam_err_t *err)
{
    char k[200];
    const char *t = ftype(f);
    if (numeric(f)) {
        return range_def_ok(f, at, err);
    }
    if (strcmp(t, "enum") == 0) {
        return options_ok(f, at, err);
    }
    json_t *ml = json_object_get(f, "maxLength");
    if (strcmp(t, "string") == 0 && ml != NULL &&
        (!json_is_integer(ml) || json_integer_value(ml) < 1 ||
         json_integer_value(ml) > STRING_MAX_LIMIT)) {
        snprintf(k, sizeof(k), "%s.maxLength", at);
        return fail(err, k, "must be a whole number from 1 to %d", STRING_MAX_LIMIT);
    }
    if (strcmp(t, "string") != 0 && strcmp(t, "bool") != 0) {
        snprintf(k, sizeof(k), "%s.type", at);
        return fail(err, k, "must be float, int, bool, enum or string");
    }
    return 0;
}

static int field_def_ok(json_t *fields, size_t i, ad_hparam_err_t *err)
{
    char at[64], k[200];
    json_t *f = json_array_get(fields, i);
    snprintf(at, sizeof(at), "fields[%zu]", i);
    const char *bad = NULL, *name = json_string_value(json_object_get(f, "name"));
    if (!json_is_object(f) ||
        !only_keys(f,
                   ",name,label,group,description,type,min,max,step,log,options,maxLength,"
                   "default,readOnly,disabled,",
                   &bad)) {
        snprintf(k, sizeof(k), "%s%s%s", at, bad != NULL ? "." : "", bad != NULL ? bad : "");
        return fail(err, k,
                    "a field is {name, type, min, max, step, log, options, maxLength, "
                    "default, label, group, description, readOnly, disabled}");
    }
    canonical_type(f);
    if (!ad_hparam_name_ok(name)) {
        snprintf(k, sizeof(k), "%s.name", at);
        return fail(err, k, "must be an identifier (letters, digits, _) of at most 64 bytes");
    }
    for (size_t j = 0; j < i; j++) {
        if (json_equal(json_object_get(json_array_get(fields, j), "name"),
                       json_object_get(f, "name"))) {
            snprintf(k, sizeof(k), "%s.name", at);
            return fail(err, k, "names %s twice", name);
        }
    }
    if (!opt_str(f, "label", LABEL_MAX) || !opt_str(f, "group", LABEL_MAX) ||
        !opt_str(f, "description", DESC_MAX)) {
        snprintf(k, sizeof(k), "%s.label", at);
        return fail(err, k, "label and group are strings of at most 200 bytes, description 1000");
    }
    json_t *ro = json_object_get(f, "readOnly"), *off = json_object_get(f, "disabled");
    if ((ro != NULL && !json_is_boolean(ro)) || (off != NULL && !json_is_boolean(off))) {
        snprintf(k, sizeof(k), "%s.%s", at,
                 ro != NULL && !json_is_boolean(ro) ? "readOnly" : "disabled");
        return fail(err, k, "must be true or false");
    }
    int rc = type_def_ok(f, at, err);
    if (rc != 0) {
        return rc;
    }
    json_t *d = json_object_get(f, "default");
    snprintf(k, sizeof(k), "%s.default", at);
    return d == NULL ? fail(err, k, "every field needs a default") : value_ok(f, d, k, err);
}

static json_t *field_named(json_t *schema, const char *name)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(schema, "fields"), i, f)
    {
        if (strcmp(json_string_value(json_object_get(f, "name")), name) == 0) {
            return f;
        }
    }
    return NULL;
}

static int presets_ok(json_t *schema, ad_hparam_err_t *err)
{
    json_t *presets = json_object_get(schema, "presets");
    if (presets == NULL) {
        return 0;
    }
    if (!json_is_object(presets) || json_object_size(presets) > AD_HPARAM_PRESETS_MAX) {
        return fail(err, "presets", "must be {name: {field: value}}, at most 16");
    }
    const char *pn;
    json_t *p;
    json_object_foreach(presets, pn, p)
    {
        char k[200];
        snprintf(k, sizeof(k), "presets.%s", pn);
        if (!ad_hparam_name_ok(pn) || !json_is_object(p)) {
            return fail(err, k, "a preset is an identifier naming {field: value}");
        }
        const char *fn;
        json_t *v;
        json_object_foreach(p, fn, v)
        {
            json_t *f = field_named(schema, fn);
            snprintf(k, sizeof(k), "presets.%s.%s", pn, fn);
            if (f == NULL) {
                return fail(err, k, "is not a field of the schema");
            }
            if (value_ok(f, v, k, err) != 0) {
                return AD_EINVAL;
            }
        }
    }
    return 0;
}

int ad_hparam_schema_check(json_t *schema, ad_hparam_err_t *err)
{
    const char *bad = NULL;
    if (!json_is_object(schema) ||
        !only_keys(schema, ",name,description,fields,presets,orgId,", &bad)) {
        return fail(err, bad != NULL ? bad : "schema",
                    "a schema is {name, description?, fields: [...], presets?}");
    }
    json_t *name = json_object_get(schema, "name");
    if (!json_is_string(name) || json_string_length(name) == 0 ||
        json_string_length(name) > LABEL_MAX) {
        return fail(err, "name", "must be a string of 1 to 200 bytes");
    }
    if (!opt_str(schema, "description", DESC_MAX)) {
        return fail(err, "description", "must be a string of at most 1000 bytes");
    }
    json_t *fields = json_object_get(schema, "fields");
    if (!json_is_array(fields) || json_array_size(fields) == 0 ||
        json_array_size(fields) > AD_HPARAM_FIELDS_MAX) {
        return fail(err, "fields", "must be a list of 1 to 64 fields");
    }
    for (size_t i = 0; i < json_array_size(fields); i++) {
        int rc = field_def_ok(fields, i, err);
        if (rc != 0) {
            return rc;
        }
    }
    return presets_ok(schema, err);
}

/* ---- values -----------------------------------------------------------------------------------
 */

json_t *ad_hparam_values(json_t *schema, json_t *base, json_t *patch, ad_hparam_err_t *err)
{
    if (patch != NULL && !json_is_object(patch)) {
        fail(err, "values", "must be an object {field: value}");
        return NULL;
    }
    const char *k;
    json_t *v;
    json_object_foreach(patch, k, v)
    {
        if (field_named(schema, k) == NULL) {
            char f[200];
            snprintf(f, sizeof(f), "values.%s", k);
            fail(err, f, "is not a field of the schema %s",
                 json_string_value(json_object_get(schema, "name")));
            return NULL;
        }
    }
    json_t *out = json_object();
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(schema, "fields"), i, f)
    {
        const char *name = json_string_value(json_object_get(f, "name"));
        json_t *def = json_object_get(f, "default");
        bool ro = json_is_true(json_object_get(f, "readOnly"));
        bool off = json_is_true(json_object_get(f, "disabled"));
        char fname[200];
        snprintf(fname, sizeof(fname), "values.%s", name);
        v = json_object_get(patch, name);
        if ((ro || off) && v != NULL && !json_equal(v, def)) {
            fail(err, fname, "is %s: it keeps its default", ro ? "read-only" : "disabled");
            json_decref(out);
            return NULL;
        }
        v = v != NULL ? v : json_object_get(base, name);
        v = ro || off || v == NULL ? def : v; /* a locked field is always its default */
        if (value_ok(f, v, fname, err) != 0) {
            json_decref(out);
            return NULL;
        }
        json_object_set_new(out, name, normal(f, v));
    }
    return out;
}

json_t *ad_hparam_defaults(json_t *schema)
{
    ad_hparam_err_t err;
    json_t *v = ad_hparam_values(schema, NULL, NULL, &err);
    return v != NULL ? v : json_object();
}

json_t *ad_hparam_preset(json_t *schema, const char *preset)
{
    json_t *p = json_object_get(json_object_get(schema, "presets"), preset);
    if (!json_is_object(p)) {
        return NULL;
    }
    ad_hparam_err_t err;
    return ad_hparam_values(schema, NULL, p, &err);
}

/* The shortest %g form of x that reads back as x. */
static void shortest(double x, char *out, size_t outsz)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, outsz, "%.*g", prec, x);
        if (strtod(out, NULL) == x) {
            return;
        }
    }
}

size_t ad_hparam_flags(json_t *schema, json_t *values, char **out, size_t cap)
{
    size_t n = 0, i;
    json_t *f;
    json_array_foreach(json_object_get(schema, "fields"), i, f)
    {
        const char *name = json_string_value(json_object_get(f, "name"));
        json_t *v = json_object_get(values, name);
        if (v == NULL || n >= cap) {
            continue;
        }
        char num[40];
        const char *text = json_string_value(v);
        if (json_is_integer(v)) {
            snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
            text = num;
        } else if (json_is_real(v)) {
            shortest(json_real_value(v), num, sizeof(num));
            text = num;
        } else if (json_is_boolean(v)) {
            text = json_is_true(v) ? "true" : "false";
        }
        size_t len = strlen(name) + strlen(text != NULL ? text : "") + 4;
        out[n] = ad_xmalloc(len);
        snprintf(out[n], len, "--%s=%s", name, text != NULL ? text : "");
        n++;
    }
    return n;
}

json_t *ad_hparam_initial(json_t *schema, const json_t *body, ad_hparam_err_t *err)
{
    const char *preset = NULL;
    json_t *base = NULL;
    ad_field_err_t e;
    if (ad_field_str(body, "preset", false, AD_HPARAM_NAME_MAX, &preset, &e) != 0) {
        snprintf(err->field, sizeof(err->field), "%s", e.field);
        snprintf(err->reason, sizeof(err->reason), "%s", e.why);
        return NULL;
    }
    if (preset != NULL && (base = ad_hparam_preset(schema, preset)) == NULL) {
        snprintf(err->field, sizeof(err->field), "preset");
        snprintf(err->reason, sizeof(err->reason), "is not a preset of the schema");
        return NULL;
    }
    json_t *v = ad_hparam_values(schema, base, json_object_get(body, "values"), err);
    json_decref(base);
    return v;
}
