/* SPDX-License-Identifier: MIT */
/* Tests for the WebSocket pieces that need no socket: the accept key,
 * UTF-8 validation, the framing of shared messages and of runs of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "ws/ws.h"
#include "ws/ws_int.h"

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

/* A run of frames in one message: each payload behind its own header, one
 * after another, and nothing written past the room it was made with. */
static void runs_of_frames_in_one_message(void **state)
{
    AD_UNUSED(state);
    static char big[70000];
    memset(big, 'y', sizeof(big));
    const size_t lens[] = {2, 300, sizeof(big)};
    size_t total = 0;
    for (size_t i = 0; i < 3; i++) {
        total += ad_ws_text_frame_len(lens[i]);
    }
    assert_int_equal(total, (2 + 2) + (4 + 300) + (10 + sizeof(big)));
    ad_wsmsg_t *m = ad_wsmsg_frames_new(total, 0);
    assert_int_equal(ad_wsmsg_frames_add_text(m, "hi", 2), 0);
    assert_int_equal(ad_wsmsg_frames_add_text(m, big, 300), 0);
    assert_int_equal(ad_wsmsg_frames_add_text(m, big, sizeof(big)), 0);
    assert_int_equal(ad_wsmsg_frames_add_text(m, "x", 1), AD_ETOOBIG); /* full */
    size_t len;
    const unsigned char *d = (const unsigned char *)ad_wsmsg_data(m, &len);
    assert_int_equal(len, total);
    assert_int_equal(d[0], 0x81);
    assert_int_equal(d[1], 2);
    assert_memory_equal(d + 2, "hi", 2);
    d += 4;
    assert_int_equal(d[0], 0x81);
    assert_int_equal(d[1], 126);
    assert_int_equal((d[2] << 8) | d[3], 300);
    assert_memory_equal(d + 4, big, 300);
    d += 304;
    assert_int_equal(d[0], 0x81);
    assert_int_equal(d[1], 127);
    assert_int_equal((d[7] << 16) | (d[8] << 8) | d[9], 70000);
    assert_int_equal(d[10 + sizeof(big) - 1], 'y');
    ad_wsmsg_unref(m);

    m = ad_wsmsg_frames_new(5, 0); /* room for a 3-byte payload, not a 4-byte one */
    assert_int_equal(ad_wsmsg_frames_add_text(m, "abcd", 4), AD_ETOOBIG);
    assert_int_equal(ad_wsmsg_frames_add_text(m, "abc", 3), 0);
    d = (const unsigned char *)ad_wsmsg_data(m, &len);
    assert_int_equal(len, 5);
    ad_wsmsg_unref(m);
}

/* A run for readers that compress: each message's compressed frame (RSV1
 * set), which inflates back to the message; text frames and runs are not
 * taken into it. */
static void compressed_runs(void **state)
{
    AD_UNUSED(state);
    char text[600];
    memset(text, 'a', sizeof(text));
    ad_wsmsg_t *m = ad_wsmsg_new(text, sizeof(text), false);
    size_t zlen = ad_wsmsg_frame_len(m, 15);
    assert_true(zlen < 100); /* 600 of one letter compress */
    assert_int_equal(ad_wsmsg_frame_len(m, 0), 4 + sizeof(text));
    ad_wsmsg_t *run = ad_wsmsg_frames_new(2 * zlen, 15);
    assert_int_equal(ad_wsmsg_frames_add(run, m), 0);
    assert_int_equal(ad_wsmsg_frames_add(run, m), 0);
    assert_int_equal(ad_wsmsg_frames_add(run, m), AD_ETOOBIG); /* full */
    assert_int_equal(ad_wsmsg_frames_add_text(run, "x", 1), AD_EINVAL);
    assert_int_equal(ad_wsmsg_frames_add(run, run), AD_EINVAL);
    size_t len;
    const unsigned char *d = (const unsigned char *)ad_wsmsg_data(run, &len);
    assert_int_equal(len, 2 * zlen);
    for (int i = 0; i < 2; i++, d += zlen) {
        assert_int_equal(d[0], 0xc1); /* FIN, RSV1 (compressed), text */
        assert_int_equal(d[1], zlen - 2);
        ad_buf_t out;
        ad_buf_init(&out, 1 << 20);
        assert_int_equal(ad_ws_inflate(d + 2, zlen - 2, 4096, &out), 0);
        assert_int_equal(out.len, sizeof(text));
        assert_memory_equal(out.data, text, sizeof(text));
        ad_buf_cleanup(&out);
    }
    ad_wsmsg_unref(run);
    ad_wsmsg_unref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accept_key_matches_rfc6455),
        cmocka_unit_test(utf8_validation),
        cmocka_unit_test(shared_messages_are_framed_once),
        cmocka_unit_test(runs_of_frames_in_one_message),
        cmocka_unit_test(compressed_runs),
    };
    return cmocka_run_group_tests_name("ws-proto", tests, NULL, NULL);
}
