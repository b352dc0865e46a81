/* SPDX-License-Identifier: MIT */
/* Tests for the bounded buffer and the arena: growth, caps, reuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

static void buf_appends_and_terminates(void **state)
{
    AD_UNUSED(state);
    ad_buf_t b;
    ad_buf_init(&b, 1024);
    assert_int_equal(ad_buf_puts(&b, "hello"), 0);
    assert_int_equal(ad_buf_putc(&b, ' '), 0);
    assert_int_equal(ad_buf_printf(&b, "%d-%s", 42, "x"), 0);
    assert_string_equal(b.data, "hello 42-x");
    assert_int_equal(b.len, 10);
    ad_buf_consume(&b, 6);
    assert_string_equal(b.data, "42-x");
    ad_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    ad_buf_cleanup(&b);
}

static void buf_refuses_past_cap_and_keeps_contents(void **state)
{
    AD_UNUSED(state);
    ad_buf_t b;
    ad_buf_init(&b, 8);
    assert_int_equal(ad_buf_puts(&b, "12345678"), 0);
    assert_int_equal(ad_buf_putc(&b, '9'), AD_ETOOBIG);
    assert_int_equal(ad_buf_printf(&b, "%s", "x"), AD_ETOOBIG);
    assert_string_equal(b.data, "12345678");
    assert_int_equal(b.len, 8);
    assert_true(b.cap <= 9);
    ad_buf_cleanup(&b);

    ad_buf_init(&b, 4);
    assert_int_equal(ad_buf_append(&b, "toolong", 7), AD_ETOOBIG);
    assert_int_equal(b.len, 0);
    ad_buf_cleanup(&b);
}

static void buf_huge_length_does_not_wrap(void **state)
{
    AD_UNUSED(state);
    ad_buf_t b;
    ad_buf_init(&b, 16);
    assert_int_equal(ad_buf_puts(&b, "ab"), 0);
    /* Sizes known only at run time, as a caller's would be (a constant
     * lets the compiler warn about the inline copy it can see is never made). */
    volatile size_t huge = SIZE_MAX;
    assert_int_equal(ad_buf_append(&b, "x", huge), AD_ETOOBIG);
    huge = SIZE_MAX - 1;
    assert_int_equal(ad_buf_append(&b, "x", huge), AD_ETOOBIG);
    assert_string_equal(b.data, "ab");
    ad_buf_cleanup(&b);
}

static void buf_truncate_undoes_appends(void **state)
{
    AD_UNUSED(state);
    ad_buf_t b;
    ad_buf_init(&b, 8);
    assert_int_equal(ad_buf_puts(&b, "line"), 0);
    size_t mark = b.len;
    assert_int_equal(ad_buf_putc(&b, '\n'), 0);
    assert_int_equal(ad_buf_puts(&b, "toolong"), AD_ETOOBIG);
    ad_buf_truncate(&b, mark);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.data, "line");
    ad_buf_truncate(&b, 0);
    assert_string_equal(b.data, "");
    ad_buf_cleanup(&b);
}

static void buf_detach_hands_over(void **state)
{
    AD_UNUSED(state);
    ad_buf_t b;
    ad_buf_init(&b, 100);
    assert_int_equal(ad_buf_puts(&b, "owned"), 0);
    size_t len;
    char *p = ad_buf_detach(&b, &len);
    assert_string_equal(p, "owned");
    assert_int_equal(len, 5);
    assert_null(b.data);
    free(p);
    p = ad_buf_detach(&b, &len); /* empty buffer still gives a string */
    assert_string_equal(p, "");
    free(p);
}

static void arena_allocates_aligned_and_resets(void **state)
{
    AD_UNUSED(state);
    ad_arena_t a;
    ad_arena_init(&a, 1024, 1 << 20);
    char *s = ad_arena_strndup(&a, "abc", 3);
    assert_string_equal(s, "abc");
    for (int i = 0; i < 100; i++) {
        void *p = ad_arena_alloc(&a, (size_t)i + 1);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        memset(p, 0xab, (size_t)i + 1);
    }
    /* A big allocation gets its own chunk and the arena keeps working. */
    void *big = ad_arena_alloc(&a, 10000);
    assert_non_null(big);
    memset(big, 1, 10000);
    ad_arena_reset(&a);
    assert_true(a.used <= 1024 + 64);
    assert_non_null(ad_arena_alloc(&a, 10));
    ad_arena_cleanup(&a);
    assert_int_equal(a.used, 0);
}

static void arena_refuses_past_cap(void **state)
{
    AD_UNUSED(state);
    ad_arena_t a;
    ad_arena_init(&a, 1024, 4096);
    int got = 0;
    while (ad_arena_alloc(&a, 512) != NULL) {
        got++;
        assert_true(got < 100);
    }
    assert_true(got >= 4);
    assert_true(a.used <= 4096);
    assert_null(ad_arena_alloc(&a, 100000));
    assert_null(ad_arena_alloc(&a, SIZE_MAX));
    ad_arena_cleanup(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buf_appends_and_terminates),
        cmocka_unit_test(buf_refuses_past_cap_and_keeps_contents),
        cmocka_unit_test(buf_huge_length_does_not_wrap),
        cmocka_unit_test(buf_truncate_undoes_appends),
        cmocka_unit_test(buf_detach_hands_over),
        cmocka_unit_test(arena_allocates_aligned_and_resets),
        cmocka_unit_test(arena_refuses_past_cap),
    };
    return cmocka_run_group_tests_name("core-buf", tests, NULL, NULL);
}
