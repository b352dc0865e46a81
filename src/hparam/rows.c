/* SPDX-License-Identifier: MIT */
/*
 * What the REST routes of config schemas and configs hand the store
 * (src/tables/hparams.c's insert and update ops): a request's body checked
 * (a schema by hparam.c, a config's name here) and made into the op's
 * args, with a new id. Pure: any thread; src/api answers 422 on the field
 * err names.
 */
#include "hparam/hparam.h"
#include "core/core.h"

#include <stdio.h>
#include <string.h>

#define CONFIG_NAME_MAX 200

json_t *ad_hparam_schema_args(const json_t *body, const char *org, int64_t now)
{
    char id[AD_ID_MAX];
    ad_id_new("cs", id);
    json_t *def = json_deep_copy(body);
    json_object_del(def, "name");
    json_object_del(def, "orgId");
    return json_pack("{s:s, s:s, s:O, s:o, s:I}", "id", id, "orgId", org, "name",
                     json_object_get(body, "name"), "definition", def, "now", (json_int_t)now);
}

int ad_hparam_config_name(const json_t *body, bool required, const char **name,
                          ad_hparam_err_t *err)
{
    ad_field_err_t e;
    if (ad_field_str(body, "name", required, CONFIG_NAME_MAX, name, &e) != 0) {
        snprintf(err->field, sizeof(err->field), "%s", e.field);
        snprintf(err->reason, sizeof(err->reason), "%s", e.why);
        return AD_EINVAL;
    }
    if (*name != NULL && (*name)[0] == '\0') {
        snprintf(err->field, sizeof(err->field), "name");
        snprintf(err->reason, sizeof(err->reason), "must not be empty");
        return AD_EINVAL;
    }
    return 0;
}

json_t *ad_hparam_config_args(const char *org, const char *name, const char *schema_id,
                              json_t *values, int64_t now)
{
    char id[AD_ID_MAX];
    ad_id_new("cfg", id);
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:I}", "id", id, "orgId", org, "name", name,
                     "schemaId", schema_id, "values", values, "now", (json_int_t)now);
}

json_t *ad_hparam_config_update_args(const char *id, const char *name, json_t *values, int64_t now)
{
    json_t *args = json_pack("{s:s, s:I}", "id", id, "now", (json_int_t)now);
    if (name != NULL) {
        json_object_set_new(args, "name", json_string(name));
    }
    json_object_set_new(args, "values", values);
    return args;
}

int ad_hparam_edit_check(const json_t *body, const char *how, const char **name,
                         ad_hparam_err_t *err)
{
    ad_field_err_t e;
    const char *preset = NULL;
    *name = NULL;
    if (strcmp(how, "patch") == 0) {
        return ad_hparam_config_name(body, false, name, err);
    }
    if (strcmp(how, "preset") == 0 &&
        ad_field_str(body, "preset", true, AD_HPARAM_NAME_MAX, &preset, &e) != 0) {
        snprintf(err->field, sizeof(err->field), "%s", e.field);
        snprintf(err->reason, sizeof(err->reason), "%s", e.why);
        return AD_EINVAL;
    }
    return 0;
}

json_t *ad_hparam_edit(json_t *schema, json_t *config, const json_t *body, const char *how,
                       ad_hparam_err_t *err)
{
    if (strcmp(how, "patch") == 0) {
        return ad_hparam_values(schema, json_object_get(config, "values"),
                                json_object_get(body, "values"), err);
    }
    if (strcmp(how, "reset") == 0) {
        return ad_hparam_defaults(schema);
    }
    json_t *v = ad_hparam_preset(schema, json_string_value(json_object_get(body, "preset")));
    if (v == NULL) {
        snprintf(err->field, sizeof(err->field), "preset");
        snprintf(err->reason, sizeof(err->reason), "is not a preset of the schema");
    }
    return v;
}
