/* SPDX-License-Identifier: MIT */
/* Tests for the JSON text written without jansson (src/core/json.c): a real
 * reads back as the same double, short decimals as typed and the rest as
 * jansson writes them, and the check that stored JSON text is what jansson
 * would write back, each against jansson itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
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

/* ad_json_real's text for v. */
static const char *real_text(ad_buf_t *b, double v)
{
    ad_buf_reset(b);
    assert_int_equal(ad_json_real(b, v), 0);
    return b->data;
}

/* The text reads back as exactly v, keeps a '.' or an exponent, and is
 * either jansson's own or a plain decimal shorter than it. */
static void reads_back(ad_buf_t *b, double v)
{
    const char *t = real_text(b, v);
    char *end = NULL;
    double back = strtod(t, &end);
    if (*end != '\0' || memcmp(&back, &v, sizeof(v)) != 0) {
        fail_msg("%.17g written as %s reads back as %.17g", v, t, back);
    }
    assert_true(strchr(t, '.') != NULL || strchr(t, 'e') != NULL);
    char *want = jansson_of(json_real(v));
    if (strcmp(t, want) != 0 && (strlen(t) >= strlen(want) || strchr(t, 'e') != NULL)) {
        fail_msg("%.17g: wrote %s, jansson %s", v, t, want);
    }
    free(want);
}

static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void real_reads_back_exactly(void **state)
{
    (void)state;
    ad_buf_t b;
    ad_buf_init(&b, 1024);
    /* short decimals as they were typed; the rest as jansson writes them */
    static const struct {
        double v;
        const char *text;
    } fixed[] = {{0.0, "0.0"},
                 {-0.0, "-0.0"},
                 {1.0, "1.0"},
                 {-1.0, "-1.0"},
                 {3.0, "3.0"},
                 {0.1, "0.1"},
                 {0.5, "0.5"},
                 {6.73, "6.73"},
                 {-7.88, "-7.88"},
                 {123.456, "123.456"},
                 {1e-5, "0.00001"},
                 {1e-7, "0.0000001"},
                 {0.000123, "0.000123"},
                 {1e15, "1000000000000000.0"},
                 {1e16, "10000000000000000.0"},
                 {1e17, "1e17"},
                 {1e20, "1e20"},
                 {1e21, "1e21"},
                 {1.0 / 3.0, "0.33333333333333331"},
                 {6.4971635957565619, "6.497163595756562"}, /* 15 places read back */
                 {12345678901234567.0, "12345678901234568.0"},
                 {1e-20, "9.9999999999999995e-21"},
                 {1e100, "1.0000000000000000e100"},
                 {-1e-100, "-1.0000000000000000e-100"},
                 {DBL_MAX, "1.7976931348623157e308"},
                 {5e-324, "4.9406564584124654e-324"}};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        char *want = NULL;
        if (strchr(fixed[i].text, 'e') != NULL && strncmp(fixed[i].text, "1e", 2) != 0) {
            want = jansson_of(json_real(fixed[i].v)); /* printf's own digits */
        }
        assert_string_equal(real_text(&b, fixed[i].v), want != NULL ? want : fixed[i].text);
        free(want);
        reads_back(&b, fixed[i].v);
    }
    reads_back(&b, 49.920200999999985);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    /* any bit pattern */
    for (int i = 0; i < 200000; i++) {
        uint64_t bits = xorshift(&x);
        double v;
        memcpy(&v, &bits, sizeof(v));
        if (isfinite(v)) {
            reads_back(&b, v);
        }
    }
    /* magnitudes the integer paths handle, and their edges */
    for (int i = 0; i < 200000; i++) {
        double v = ldexp((double)(xorshift(&x) >> 11), (int)(xorshift(&x) % 200) - 100 - 53);
        reads_back(&b, v);
    }
    for (int e = -12; e <= 39; e++) {
        double p = pow(10, e);
        reads_back(&b, p);
        reads_back(&b, nextafter(p, 0));
        reads_back(&b, nextafter(p, INFINITY));
        reads_back(&b, 9.9999999999999999 * p);
    }
    /* decimals of up to 15 places come back as written */
    for (int i = 0; i < 100000; i++) {
        int k = (int)(xorshift(&x) % 7);
        double v = (double)(xorshift(&x) % 1000000000) / pow(10, k);
        const char *t = real_text(&b, v);
        const char *dot = strchr(t, '.');
        assert_non_null(dot);
        assert_true(strlen(dot + 1) <= (size_t)(k > 0 ? k : 1));
        reads_back(&b, v);
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
        cmocka_unit_test(real_reads_back_exactly),
        cmocka_unit_test(canonical_text_matches_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
