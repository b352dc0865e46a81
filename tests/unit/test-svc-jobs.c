/* SPDX-License-Identifier: MIT */
/* Tests for the job line parser (src/svc): progress with fraction or
 * percent (clamped), stage and message cut at a character boundary, result
 * objects, and everything else left as plain output. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(progress_lines),
        cmocka_unit_test(results_and_plain_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
