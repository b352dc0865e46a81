/* SPDX-License-Identifier: MIT */
/* Tests for the JSON text written without jansson (src/core/json.c): a real
 * as json_real dumps it, and the check that stored JSON text is what
 * jansson would write back, each against jansson itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

/* What jansson writes for v (JSON_COMPACT | JSON_ENCODE_ANY), malloc'd. */
static char *jansson_of(json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(v);
    assert_non_null(s);
    return s;
}

static void real_as_jansson_writes_it(void **state)
{
    (void)state;
    const double vs[] = {0.0,
                         -0.0,
                         1.0,
                         -1.0,
                         0.1,
                         0.5,
                         1.0 / 3.0,
                         1e20,
                         1e21,
                         1e-7,
                         1e-5,
                         123.456,
                         1e100,
                         -1e-100,
                         DBL_MAX,
                         DBL_MIN,
                         5e-324,
                         49.920200999999985,
                         12345678901234567.0,
                         2.5e-308,
                         1e16,
                         1e17};
    ad_buf_t b;
    ad_buf_init(&b, 1024);
    for (size_t i = 0; i < sizeof(vs) / sizeof(vs[0]); i++) {
        ad_buf_reset(&b);
        assert_int_equal(ad_json_real(&b, vs[i]), 0);
        char *want = jansson_of(json_real(vs[i]));
        assert_string_equal(b.data, want);
        free(want);
    }
    /* a pseudo-random spread of magnitudes */
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v;
        memcpy(&v, &x, sizeof(v));
        if (!isfinite(v)) {
            continue;
        }
        ad_buf_reset(&b);
        assert_int_equal(ad_json_real(&b, v), 0);
        char *want = jansson_of(json_real(v));
        assert_string_equal(b.data, want);
        free(want);
    }
    /* jansson has no such reals: refused, nothing written */
    ad_buf_reset(&b);
    assert_int_equal(ad_json_real(&b, NAN), AD_EINVAL);
    assert_int_equal(ad_json_real(&b, INFINITY), AD_EINVAL);
    assert_int_equal(b.len, 0);
    ad_buf_cleanup(&b);
}

/* canonical(s) must hold exactly when jansson writes s back unchanged,
 * except where it is conservative (want_false_anyway). */
static void check(const char *s)
{
    json_t *v = json_loads(s, JSON_DECODE_ANY, NULL);
    bool same = false;
    if (v != NULL) {
        char *back = jansson_of(v);
        same = strcmp(back, s) == 0;
        free(back);
    }
    bool canon = ad_json_canonical(s, strlen(s));
    if (canon && !same) {
        fail_msg("said canonical but jansson writes it otherwise: %s", s);
    }
}

static void canonical_text_matches_jansson(void **state)
{
    (void)state;
    static const char *const yes[] = {
        "[\"read\"]",
        "{}",
        "[]",
        "null",
        "true",
        "false",
        "0",
        "-1",
        "123456789012345678",
        "{\"code\":\"exited\",\"text\":\"process exited 137 (SIGKILL)\",\"at\":1764032400000,"
        "\"ref\":\"run_x\"}",
        "{\"a\":{\"b\":[1,2,{\"c\":null}]},\"d\":\"q\\\"\\\\\\n\\t\\r\\b\\f\"}",
        "\"\""};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        check(yes[i]);
        assert_true(ad_json_canonical(yes[i], strlen(yes[i])));
    }
    static const char *const no[] = {"{\"a\": 1}",
                                     "[1.5]",
                                     "1e3",
                                     "[1,]",
                                     "{\"a\":1",
                                     "\"\\u00e9\"",
                                     "\"\\/\"",
                                     "\"é\"",
                                     "-0",
                                     "01",
                                     "1234567890123456789",
                                     "[\"a\"] ",
                                     " []",
                                     "{\"a\"}",
                                     "",
                                     "nul",
                                     "[tru]",
                                     "\"\x01\"",
                                     "{1:2}",
                                     "[1 2]"};
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        check(no[i]);
        assert_false(ad_json_canonical(no[i], strlen(no[i])));
    }
    /* deeper than 32: left to jansson */
    char deep[80];
    memset(deep, '[', 34);
    memset(deep + 34, ']', 34);
    deep[68] = '\0';
    assert_false(ad_json_canonical(deep, strlen(deep)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(real_as_jansson_writes_it),
        cmocka_unit_test(canonical_text_matches_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
