/* SPDX-License-Identifier: MIT */
/* Tests for the WebSocket pieces that need no socket: the accept key,
 * UTF-8 validation and the framing of shared messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "ws/ws.h"

static void accept_key_matches_rfc6455(void **state)
{
    AD_UNUSED(state);
    char out[29];
    /* RFC 6455 section 1.3 */
    assert_int_equal(ad_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_int_equal(ad_ws_accept_key("short", out), AD_EINVAL);
    assert_int_equal(ad_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ", out), AD_EINVAL);
    assert_int_equal(ad_ws_accept_key("!!!!!!!!!!!!!!!!!!!!!!==", out), AD_EINVAL);
}

static void utf8_validation(void **state)
{
    AD_UNUSED(state);
    assert_true(ad_utf8_valid("", 0));
    assert_true(ad_utf8_valid("hello", 5));
    assert_true(ad_utf8_valid("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 11));
    assert_true(ad_utf8_valid("\xf4\x8f\xbf\xbf", 4));  /* U+10FFFF */
    assert_true(ad_utf8_valid("\xef\xbf\xbf", 3));      /* U+FFFF */
    assert_false(ad_utf8_valid("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
    assert_false(ad_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(ad_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
    assert_false(ad_utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
    assert_false(ad_utf8_valid("\xf0\x80\x80\xaf", 4)); /* overlong */
    assert_false(ad_utf8_valid("\x80", 1));             /* lone continuation */
    assert_false(ad_utf8_valid("\xce", 1));             /* truncated */
    assert_false(ad_utf8_valid("\xff", 1));
    assert_int_equal(ad_utf8_valid_prefix("ab\xe2\x82", 4), 2);
    assert_int_equal(ad_utf8_valid_prefix("ab\xe2\x82\xac", 5), 5);
}

static void shared_messages_are_framed_once(void **state)
{
    AD_UNUSED(state);
    ad_wsmsg_t *m = ad_wsmsg_new("hi", 2, false);
    size_t len;
    const char *d = ad_wsmsg_data(m, &len);
    assert_int_equal(len, 2);
    assert_memory_equal(d, "hi", 2);
    /* the frame header sits right before the payload: FIN|text, length 2 */
    assert_int_equal((unsigned char)d[-2], 0x81);
    assert_int_equal((unsigned char)d[-1], 2);
    assert_ptr_equal(ad_wsmsg_ref(m), m);
    ad_wsmsg_unref(m);
    ad_wsmsg_unref(m);

    static char big[70000];
    memset(big, 'x', sizeof(big));
    m = ad_wsmsg_new(big, 300, true);
    d = ad_wsmsg_data(m, &len);
    assert_int_equal(len, 300);
    assert_int_equal((unsigned char)d[-4], 0x82);
    assert_int_equal((unsigned char)d[-3], 126);
    assert_int_equal(((unsigned char)d[-2] << 8) | (unsigned char)d[-1], 300);
    ad_wsmsg_unref(m);
    m = ad_wsmsg_new(big, sizeof(big), false);
    d = ad_wsmsg_data(m, &len);
    assert_int_equal(len, sizeof(big));
    assert_int_equal((unsigned char)d[-9], 127);
    assert_int_equal(
        ((unsigned char)d[-3] << 16) | ((unsigned char)d[-2] << 8) | (unsigned char)d[-1], 70000);
    ad_wsmsg_unref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accept_key_matches_rfc6455),
        cmocka_unit_test(utf8_validation),
        cmocka_unit_test(shared_messages_are_framed_once),
    };
    return cmocka_run_group_tests_name("ws-proto", tests, NULL, NULL);
}
