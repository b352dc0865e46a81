/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for src/hparam: the input is JSON; as a schema it is
 * checked, and when it passes its defaults, every preset, the input's own
 * "values" merged over them and the flags are computed; the PPO schema
 * also takes the input as values, and the input is checked as a panel
 * layout (layout.c). Nothing may crash or leak. */
#include <stdint.h>
#include <stdlib.h>

#include "hparam/hparam.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(json_t *schema, json_t *input)
{
    ad_hparam_err_t e;
    json_t *v = ad_hparam_values(schema, NULL, json_object_get(input, "values"), &e);
    json_t *d = ad_hparam_defaults(schema);
    const char *name;
    json_t *p;
    json_object_foreach(json_object_get(schema, "presets"), name, p)
    {
        json_decref(ad_hparam_preset(schema, name));
    }
    char *flags[AD_HPARAM_FIELDS_MAX];
    size_t n = ad_hparam_flags(schema, v != NULL ? v : d, flags, AD_HPARAM_FIELDS_MAX);
    for (size_t i = 0; i < n; i++) {
        free(flags[i]);
    }
    json_decref(v);
    json_decref(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (j == NULL) {
        return 0;
    }
    ad_hparam_err_t e;
    if (ad_hparam_schema_check(j, &e) == 0) {
        exercise(j, j);
    }
    json_decref(ad_hparam_layout(j, &e));
    json_t *ppo = ad_hparam_builtin("ppo");
    json_t *wrapped = json_pack("{s:O}", "values", j);
    exercise(ppo, wrapped);
    json_decref(wrapped);
    json_decref(j);
    return 0;
}
