/* SPDX-License-Identifier: MIT */
/* Tests for src/svc's pure parts: the job line parser (progress with
 * fraction or percent, clamped; stage and message cut at a character
 * boundary; result objects; everything else plain output), and the checks
 * of a service's schema, config and probe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "svc/svc.h"

static int parse(const char *line, ad_job_progress_t *p, json_t **res)
{
    return ad_job_parse_line(line, strlen(line), p, res);
}

static void progress_lines(void **state)
{
    AD_UNUSED(state);
    ad_job_progress_t p;
    memset(&p, 0, sizeof(p));
    json_t *res = NULL;
    assert_int_equal(
        parse("{\"type\":\"progress\",\"fraction\":0.25,\"stage\":\"scan\"}", &p, &res), 1);
    assert_true(p.has_fraction && p.fraction == 0.25);
    assert_true(p.has_stage);
    assert_string_equal(p.stage, "scan");
    assert_false(p.has_message);
    assert_int_equal(parse("{\"type\":\"progress\",\"percent\":50,\"message\":\"half\"}", &p, &res),
                     1);
    assert_true(p.fraction == 0.5);
    assert_string_equal(p.message, "half");
    assert_string_equal(p.stage, "scan"); /* kept from before */
    assert_int_equal(parse("{\"type\":\"progress\",\"fraction\":7}", &p, &res), 1);
    assert_true(p.fraction == 1);
    assert_int_equal(parse("{\"type\":\"progress\",\"fraction\":-2}", &p, &res), 1);
    assert_true(p.fraction == 0);
    assert_int_equal(parse("{\"type\":\"progress\",\"fraction\":\"x\"}", &p, &res), 1);
    assert_true(p.fraction == 0); /* not a number: unchanged */
    /* a long message is cut before a multi-byte character, never inside it */
    char line[2200];
    char msg[1100];
    memset(msg, 'a', 1022);
    memcpy(msg + 1022, "\xc3\xa9", 2); /* é straddles the 1023-byte cut */
    msg[1024] = '\0';
    snprintf(line, sizeof(line), "{\"type\":\"progress\",\"message\":\"%s\"}", msg);
    assert_int_equal(parse(line, &p, &res), 1);
    assert_int_equal(strlen(p.message), 1022);
    assert_null(res);
}

static void results_and_plain_lines(void **state)
{
    AD_UNUSED(state);
    ad_job_progress_t p;
    memset(&p, 0, sizeof(p));
    json_t *res = NULL;
    assert_int_equal(parse("{\"type\":\"result\",\"found\":3}", &p, &res), 2);
    assert_non_null(res);
    assert_null(json_object_get(res, "type"));
    assert_int_equal(json_integer_value(json_object_get(res, "found")), 3);
    json_decref(res);
    res = NULL;
    const char *plain[] = {"",
                           "hello",
                           "{",
                           "{\"type\":\"other\"}",
                           "{\"fraction\":1}",
                           "[1,2]",
                           "{\"type\":\"progress\""};
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        assert_int_equal(parse(plain[i], &p, &res), 0);
        assert_null(res);
    }
    assert_false(p.has_fraction);
}

static json_t *j(const char *text)
{
    json_t *v = json_loads(text, 0, NULL);
    assert_non_null(v);
    return v;
}

static void service_config_and_probe_checks(void **state)
{
    AD_UNUSED(state);
    const char *field = NULL;
    char why[200];
    json_t *schema = j("{\"fields\":{\"w\":{\"type\":\"integer\",\"min\":64,\"max\":4096,"
                       "\"default\":640},\"mode\":{\"type\":\"string\",\"enum\":[\"a\",\"b\"]},"
                       "\"on\":{\"type\":\"boolean\"}}}");
    assert_int_equal(ad_svc_schema_check(schema, &field, why, sizeof(why)), 0);
    json_t *base = j("{\"mode\":\"a\"}");
    json_t *patch = j("{\"on\":true}");
    json_t *cfg = ad_svc_config_merge(schema, base, patch, &field, why, sizeof(why));
    assert_non_null(cfg);
    assert_int_equal(json_integer_value(json_object_get(cfg, "w")), 640); /* the default */
    assert_string_equal(json_string_value(json_object_get(cfg, "mode")), "a");
    assert_true(json_is_true(json_object_get(cfg, "on")));
    json_decref(cfg);
    const char *bad[][2] = {{"{\"w\":63}", "config.w"},          {"{\"w\":64.5}", "config.w"},
                            {"{\"mode\":\"c\"}", "config.mode"}, {"{\"on\":1}", "config.on"},
                            {"{\"x\":1}", "config.x"},           {"[1]", "config"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *p = j(bad[i][0]);
        assert_null(ad_svc_config_merge(schema, base, p, &field, why, sizeof(why)));
        assert_string_equal(field, bad[i][1]);
        json_decref(p);
    }
    const char *bad_schemas[] = {"[]", "{\"fields\":[]}", "{\"fields\":{\"a\":{}}}",
                                 "{\"fields\":{\"a\":{\"type\":\"integer\",\"min\":\"1\"}}}",
                                 "{\"fields\":{\"a\":{\"type\":\"string\",\"enum\":[]}}}"};
    for (size_t i = 0; i < sizeof(bad_schemas) / sizeof(bad_schemas[0]); i++) {
        json_t *s = j(bad_schemas[i]);
        assert_int_equal(ad_svc_schema_check(s, &field, why, sizeof(why)), AD_EINVAL);
        json_decref(s);
    }
    const char *probes[][2] = {
        {"{\"type\":\"tcp\",\"host\":\"127.0.0.1\",\"port\":80}", NULL},
        {"{\"type\":\"unix\",\"path\":\"/run/x.sock\"}", NULL},
        {"{\"type\":\"http\",\"url\":\"http://127.0.0.1:9/h\",\"intervalMs\":500}", NULL},
        {"{\"type\":\"command\",\"command\":[\"true\"]}", NULL},
        {"{\"type\":\"command\",\"command\":[\"true\", 3]}", "probe.command"},
        {"{\"type\":\"tcp\",\"host\":\"127.0.0.1\"}", "probe"},
        {"{\"type\":\"unix\",\"path\":\"x.sock\"}", "probe.path"},
        {"{\"type\":\"http\",\"url\":\"ftp://x\"}", "probe.url"},
        {"{\"type\":\"tcp\",\"host\":\"1.2.3.4\",\"port\":1,\"intervalMs\":5}", "probe.intervalMs"},
        {"{}", "probe.type"}};
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        json_t *p = j(probes[i][0]);
        int rc = ad_svc_probe_check(p, &field, why, sizeof(why));
        if (probes[i][1] == NULL) {
            assert_int_equal(rc, 0);
        } else {
            assert_int_equal(rc, AD_EINVAL);
            assert_string_equal(field, probes[i][1]);
        }
        json_decref(p);
    }
    json_decref(schema);
    json_decref(base);
    json_decref(patch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(progress_lines),
        cmocka_unit_test(results_and_plain_lines),
        cmocka_unit_test(service_config_and_probe_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
