/* SPDX-License-Identifier: MIT */
/*
 * The core's JSON writer (the bus's payloads, HTTP answers): for every kind
 * of value but reals (nested objects and arrays, tricky strings, NUL bytes,
 * integers at the limits, empty containers) its text is byte for byte
 * jansson's compact dump; a real reads back as the same double (its text is
 * test-core-jsontext's).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"

#include <jansson.h>

static void same_as_jansson(json_t *v)
{
    char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    assert_non_null(want);
    ad_buf_t b;
    ad_buf_init(&b, 1 << 20);
    assert_int_equal(ad_json_write(&b, v), 0);
    assert_string_equal(b.data, want);
    ad_buf_cleanup(&b);
    free(want);
    json_decref(v);
}

static void scalars_and_strings(void **state)
{
    (void)state;
    same_as_jansson(json_integer(0));
    same_as_jansson(json_integer(INT64_MIN));
    same_as_jansson(json_integer(-7));
    same_as_jansson(json_integer(1234567890));
    same_as_jansson(json_integer(INT64_MAX));
    same_as_jansson(json_real(-1e300));
    same_as_jansson(json_real(3.0));
    same_as_jansson(json_true());
    same_as_jansson(json_false());
    same_as_jansson(json_null());
    same_as_jansson(json_string(""));
    same_as_jansson(json_string("q\"uote\\back/slash"));
    same_as_jansson(json_string("\b\f\n\r\t\x01\x1f\x7f"));
    same_as_jansson(json_string("caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80"));
    same_as_jansson(json_stringn("a\0b", 3));
}

static void containers(void **state)
{
    (void)state;
    same_as_jansson(json_object());
    same_as_jansson(json_array());
    same_as_jansson(json_pack("{s:s, s:i, s:[i, s, {}], s:{s:n, s:b}, s:f}", "message", "hi\n", "n",
                              42, "list", 1, "two", "deep", "a", "t", 1, "r", 2.5));
    /* a real that jansson writes with 17 digits: the same double back */
    json_t *v = json_pack("{s:[f, f]}", "r", 0.1, 6.73);
    ad_buf_t b;
    ad_buf_init(&b, 1 << 10);
    assert_int_equal(ad_json_write(&b, v), 0);
    assert_string_equal(b.data, "{\"r\":[0.1,6.73]}");
    json_t *back = json_loads(b.data, 0, NULL);
    assert_true(json_equal(back, v));
    json_decref(back);
    ad_buf_cleanup(&b);
    json_decref(v);
    json_t *o = json_object();
    json_object_setn_new(o, "k\0ey", 4, json_string("v"));
    json_object_set_new(o, "\"quoted key\"", json_array());
    same_as_jansson(o);
    /* Insertion order, not key order. */
    same_as_jansson(json_pack("{s:i, s:i, s:i}", "z", 1, "a", 2, "m", 3));
    /* Nested 100 deep. */
    v = json_integer(7);
    for (int i = 0; i < 100; i++) {
        v = i % 2 ? json_pack("[o]", v) : json_pack("{s:o}", "x", v);
    }
    same_as_jansson(v);
}

/* The escaper reads sixteen (or eight) bytes at a time, short tails through
 * a padded copy: every byte that must be escaped,
 * and its neighbours that need not, at every position of strings longer
 * and shorter than a word, read the same as jansson's. */
static void escapes_at_every_position(void **state)
{
    (void)state;
    static const char probes[] = {0x00, 0x01, 0x1f, 0x20, 0x21, '"', 0x23, '[', '\\', ']', 0x7f};
    char buf[40];
    for (size_t len = 1; len <= sizeof(buf); len += 3) {
        for (size_t pos = 0; pos < len; pos++) {
            for (size_t k = 0; k < sizeof(probes); k++) {
                memset(buf, 'a', len);
                buf[pos] = probes[k];
                same_as_jansson(json_stringn(buf, len));
            }
        }
    }
    same_as_jansson(
        json_string("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\n"));
}

/* Integers are written two digits at a time: every digit count, each side
 * of each power of ten, both signs, and a spread of others. */
static void integers_at_every_length(void **state)
{
    (void)state;
    uint64_t p = 1;
    for (int k = 0; k <= 19; k++, p *= 10) {
        int64_t around[] = {(int64_t)p - 1, (int64_t)p, (int64_t)p + 1, (int64_t)(p * 5 + 7)};
        for (size_t i = 0; i < sizeof(around) / sizeof(around[0]); i++) {
            if (around[i] >= 0) { /* 10^19 * 5 wraps */
                same_as_jansson(json_integer(around[i]));
                same_as_jansson(json_integer(-around[i]));
            }
        }
    }
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 10000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        same_as_jansson(json_integer((int64_t)(x >> (i % 64))));
    }
}

static void too_deep_or_too_big_is_refused(void **state)
{
    (void)state;
    json_t *v = json_integer(1);
    for (int i = 0; i < 300; i++) {
        v = json_pack("[o]", v);
    }
    ad_buf_t b;
    ad_buf_init(&b, 1 << 20);
    assert_int_not_equal(ad_json_write(&b, v), 0);
    ad_buf_cleanup(&b);
    json_decref(v);
    ad_buf_init(&b, 8);
    v = json_string("longer than eight bytes");
    assert_int_equal(ad_json_write(&b, v), AD_ETOOBIG);
    ad_buf_cleanup(&b);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scalars_and_strings),
        cmocka_unit_test(containers),
        cmocka_unit_test(escapes_at_every_position),
        cmocka_unit_test(integers_at_every_length),
        cmocka_unit_test(too_deep_or_too_big_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
