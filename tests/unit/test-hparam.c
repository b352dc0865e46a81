/* SPDX-License-Identifier: MIT */
/* Tests for src/hparam: the built-in PPO schema, a user's schema refused
 * with the field named, values merged and checked (range, int step, type,
 * unknown field), presets and the --name=value flags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "hparam/hparam.h"

static json_t *parse(const char *s)
{
    json_t *j = json_loads(s, 0, NULL);
    assert_non_null(j);
    return j;
}

static void builtin_ppo_is_valid_with_its_presets(void **state)
{
    AD_UNUSED(state);
    json_t *ppo = ad_hparam_builtin("ppo");
    assert_non_null(ppo);
    ad_hparam_err_t e;
    json_t *def = json_deep_copy(ppo);
    json_object_del(def, "id");
    json_object_del(def, "builtIn");
    assert_int_equal(ad_hparam_schema_check(def, &e), 0);
    json_decref(def);
    const char *presets[] = {"conservative", "balanced", "aggressive"};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = ad_hparam_preset(ppo, presets[i]);
        assert_non_null(v);
        assert_int_equal(json_object_size(v), 8);
        json_decref(v);
    }
    assert_null(ad_hparam_preset(ppo, "reckless"));
    assert_null(ad_hparam_builtin("dqn"));
}

static void values_are_checked_and_name_the_field(void **state)
{
    AD_UNUSED(state);
    json_t *ppo = ad_hparam_builtin("ppo");
    ad_hparam_err_t e;
    struct {
        const char *patch, *field, *reason;
    } bad[] = {
        {"{\"learningRate\": 0.5}", "values.learningRate", "must be from 1e-06 to 0.01"},
        {"{\"miniBatchSize\": 24}", "values.miniBatchSize",
         "must be from 16 to 512 in steps of 16"},
        {"{\"epochs\": 2.5}", "values.epochs", "must be a whole number from 1 to 20"},
        {"{\"gamma\": \"x\"}", "values.gamma", "must be a number from 0.9 to 0.999"},
        {"{\"nope\": 1}", "values.nope", "is not a field of the schema PPO"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *p = parse(bad[i].patch);
        assert_null(ad_hparam_values(ppo, NULL, p, &e));
        assert_string_equal(e.field, bad[i].field);
        assert_string_equal(e.reason, bad[i].reason);
        json_decref(p);
    }
    json_t *p = parse("{\"miniBatchSize\": 128.0, \"entropyCoef\": 0}");
    json_t *v = ad_hparam_values(ppo, NULL, p, &e);
    assert_non_null(v);
    assert_true(json_is_integer(json_object_get(v, "miniBatchSize")));
    assert_true(json_is_real(json_object_get(v, "entropyCoef")));
    assert_int_equal(json_integer_value(json_object_get(v, "epochs")), 10);
    char *flags[AD_HPARAM_FIELDS_MAX];
    size_t n = ad_hparam_flags(ppo, v, flags, AD_HPARAM_FIELDS_MAX);
    assert_int_equal(n, 8);
    assert_string_equal(flags[0], "--learningRate=0.0003");
    assert_string_equal(flags[6], "--miniBatchSize=128");
    for (size_t i = 0; i < n; i++) {
        free(flags[i]);
    }
    json_decref(v);
    json_decref(p);
}

static void user_schemas_are_checked(void **state)
{
    AD_UNUSED(state);
    struct {
        const char *schema, *field;
    } bad[] = {
        {"{\"fields\": []}", "name"},
        {"{\"name\": \"s\", \"fields\": []}", "fields"},
        {"{\"name\": \"s\", \"fields\": [{\"name\": \"a\", \"type\": \"int\", \"min\": 0, \"max\": "
         "9, "
         "\"default\": 1, \"mix\": 2}]}",
         "fields[0].mix"},
        {"{\"name\": \"s\", \"fields\": [{\"name\": \"a\", \"type\": \"int\", \"min\": 0, \"max\": "
         "9, "
         "\"default\": 1}, {\"name\": \"a\", \"type\": \"bool\", \"default\": true}]}",
         "fields[1].name"},
        {"{\"name\": \"s\", \"fields\": [{\"name\": \"a\", \"type\": \"int\", \"min\": 0, \"max\": "
         "9, "
         "\"step\": 0.5, \"default\": 1}]}",
         "fields[0].step"},
        {"{\"name\": \"s\", \"fields\": [{\"name\": \"a\", \"type\": \"enum\", \"options\": "
         "[\"x\", "
         "\"x\"], \"default\": \"x\"}]}",
         "fields[0].options"},
        {"{\"name\": \"s\", \"fields\": [{\"name\": \"a\", \"type\": \"bool\"}]}",
         "fields[0].default"},
        {"{\"name\": \"s\", \"fields\": [{\"name\": \"a\", \"type\": \"bool\", \"default\": "
         "true}], "
         "\"presets\": {\"p\": {\"a\": 3}}}",
         "presets.p.a"},
    };
    ad_hparam_err_t e;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *s = parse(bad[i].schema);
        assert_int_equal(ad_hparam_schema_check(s, &e), AD_EINVAL);
        assert_string_equal(e.field, bad[i].field);
        json_decref(s);
    }
    assert_true(ad_hparam_name_ok("learning_rate2"));
    assert_false(ad_hparam_name_ok("2x"));
    assert_false(ad_hparam_name_ok("a.b"));
    assert_false(ad_hparam_name_ok(""));
}

/* The services' type words, readOnly and disabled: one vocabulary for
 * services and configs (issue #40). */
static void locked_fields_and_type_words(void **state)
{
    AD_UNUSED(state);
    json_t *schema = parse("{\"name\": \"s\", \"fields\": ["
                           "{\"name\": \"lr\", \"type\": \"number\", \"min\": 0, "
                           "\"max\": 1, \"default\": 0.1},"
                           "{\"name\": \"gpu\", \"type\": \"integer\", \"min\": 0, "
                           "\"max\": 8, \"default\": 0, \"readOnly\": true},"
                           "{\"name\": \"fp16\", \"type\": \"boolean\", \"default\": "
                           "false, \"disabled\": true}]}");
    ad_hparam_err_t e;
    assert_int_equal(ad_hparam_schema_check(schema, &e), 0);
    json_t *f = json_object_get(schema, "fields");
    assert_string_equal(json_string_value(json_object_get(json_array_get(f, 0), "type")), "float");
    assert_string_equal(json_string_value(json_object_get(json_array_get(f, 1), "type")), "int");
    assert_string_equal(json_string_value(json_object_get(json_array_get(f, 2), "type")), "bool");
    /* a locked field is refused a new value, keeps its default, takes its own */
    json_t *patch = parse("{\"gpu\": 3}");
    assert_null(ad_hparam_values(schema, NULL, patch, &e));
    assert_string_equal(e.field, "values.gpu");
    assert_non_null(strstr(e.reason, "read-only"));
    json_decref(patch);
    patch = parse("{\"fp16\": true}");
    assert_null(ad_hparam_values(schema, NULL, patch, &e));
    assert_non_null(strstr(e.reason, "disabled"));
    json_decref(patch);
    patch = parse("{\"gpu\": 0, \"lr\": 0.5}");
    json_t *base = parse("{\"gpu\": 5}"); /* stored before it was locked */
    json_t *v = ad_hparam_values(schema, base, patch, &e);
    assert_non_null(v);
    assert_int_equal(json_integer_value(json_object_get(v, "gpu")), 0);
    assert_true(json_number_value(json_object_get(v, "lr")) == 0.5);
    json_decref(v);
    json_decref(base);
    json_decref(patch);
    json_object_set_new(json_array_get(f, 1), "readOnly", json_string("yes"));
    assert_int_equal(ad_hparam_schema_check(schema, &e), AD_EINVAL);
    assert_string_equal(e.field, "fields[1].readOnly");
    json_decref(schema);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(builtin_ppo_is_valid_with_its_presets),
        cmocka_unit_test(values_are_checked_and_name_the_field),
        cmocka_unit_test(user_schemas_are_checked),
        cmocka_unit_test(locked_fields_and_type_words),
    };
    int rc = cmocka_run_group_tests_name("hparam", tests, NULL, NULL);
    json_decref(ad_hparam_builtins());
    return rc;
}
