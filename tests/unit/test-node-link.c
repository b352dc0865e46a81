/* SPDX-License-Identifier: MIT */
/* Tests for the worker node link's frames (src/node/link.c): a holder frame
 * round-trips with its run and epoch; every malformed message is refused;
 * each direction takes its own frame types only; and placement's fit (pure,
 * src/node/place.c) says why a node does not fit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "hold/hold.h"
#include "node/node.h"
#include "node/node_int.h"

static size_t frame(unsigned char *out, const char *run, uint32_t epoch, unsigned type,
                    const char *payload, size_t plen)
{
    size_t n = ad_link_header(out, run, epoch);
    ad_hold_hdr(out + n, (uint32_t)plen, type, 1);
    memcpy(out + n + AD_HOLD_HDR, payload, plen);
    return n + AD_HOLD_HDR + plen;
}

static void a_frame_round_trips(void **state)
{
    (void)state;
    unsigned char m[256];
    char payload[16] = {0};
    memcpy(payload + 8, "n=1\n", 4);
    size_t len = frame(m, "run_01abc", 7, AD_HOLD_DATA, payload, 12);
    char run[AD_LINK_RUN_MAX + 1];
    uint32_t epoch = 0;
    const unsigned char *f = NULL;
    size_t flen = 0;
    assert_int_equal(ad_link_parse(m, len, run, &epoch, &f, &flen), 0);
    assert_string_equal(run, "run_01abc");
    assert_int_equal(epoch, 7);
    assert_int_equal(flen, AD_HOLD_HDR + 12);
    assert_int_equal(f[4], AD_HOLD_DATA);
    assert_memory_equal(f + AD_HOLD_HDR + 8, "n=1\n", 4);
    assert_true(ad_link_frame_up_ok(AD_HOLD_DATA, 12));
    assert_false(ad_link_frame_down_ok(AD_HOLD_DATA, 12));
}

static void malformed_messages_are_refused(void **state)
{
    (void)state;
    unsigned char m[256];
    char run[AD_LINK_RUN_MAX + 1];
    uint32_t epoch;
    const unsigned char *f;
    size_t flen;
    char payload[16] = {0};
    size_t len = frame(m, "run_x", 1, AD_HOLD_DATA, payload, 12);
    for (size_t cut = 0; cut < len; cut++) { /* every truncation */
        assert_int_equal(ad_link_parse(m, cut, run, &epoch, &f, &flen), AD_EINVAL);
    }
    unsigned char bad[256];
    memcpy(bad, m, len);
    bad[0] = 2; /* not a holder frame */
    assert_int_equal(ad_link_parse(bad, len, run, &epoch, &f, &flen), AD_EINVAL);
    memcpy(bad, m, len);
    bad[6] = '/'; /* a run id that could name a path */
    assert_int_equal(ad_link_parse(bad, len, run, &epoch, &f, &flen), AD_EINVAL);
    memcpy(bad, m, len);
    bad[6 + 5] = 200; /* the holder frame's length lies */
    assert_int_equal(ad_link_parse(bad, len, run, &epoch, &f, &flen), AD_EINVAL);
    memcpy(bad, m, len);
    bad[1] = 0; /* no run id */
    assert_int_equal(ad_link_parse(bad, len, run, &epoch, &f, &flen), AD_EINVAL);
    unsigned char hdr[AD_LINK_HDR + AD_LINK_RUN_MAX + 8];
    char long_id[AD_LINK_RUN_MAX + 2];
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    assert_int_equal(ad_link_header(hdr, long_id, 1), 0);
    assert_int_equal(ad_link_header(hdr, "", 1), 0);
}

static void each_direction_takes_its_own_types(void **state)
{
    (void)state;
    unsigned up[] = {AD_HOLD_DATA, AD_HOLD_SCROLL, AD_HOLD_EOF,
                     AD_HOLD_EXIT, AD_HOLD_STALL,  AD_HOLD_RESUME};
    unsigned down[] = {AD_HOLD_ATTACH, AD_HOLD_INPUT,  AD_HOLD_CLOSE_IN,
                       AD_HOLD_SIGNAL, AD_HOLD_RESIZE, AD_HOLD_ACK};
    for (size_t i = 0; i < sizeof(up) / sizeof(up[0]); i++) {
        assert_true(ad_link_frame_up_ok(up[i], 64));
        assert_false(ad_link_frame_down_ok(up[i], 64));
    }
    for (size_t i = 0; i < sizeof(down) / sizeof(down[0]); i++) {
        assert_true(ad_link_frame_down_ok(down[i], 64));
        assert_false(ad_link_frame_up_ok(down[i], 64));
    }
    assert_false(ad_link_frame_up_ok(AD_HOLD_DATA, 7));      /* shorter than its offset */
    assert_false(ad_link_frame_down_ok(AD_HOLD_ATTACH, 23)); /* three offsets */
    assert_false(ad_link_frame_up_ok(99, 64));
    /* a holder's HELLO (its version) goes up, bounded like the holder's */
    assert_true(ad_link_frame_up_ok(AD_HOLD_HELLO, AD_HOLD_VERSION_MAX));
    assert_false(ad_link_frame_up_ok(AD_HOLD_HELLO, AD_HOLD_VERSION_MAX + 1));
    assert_false(ad_link_frame_down_ok(AD_HOLD_HELLO, 16));
}

static void placement_says_why_a_node_does_not_fit(void **state)
{
    (void)state;
    json_t *node = json_pack("{s:s, s:{s:s}, s:{s:I, s:I, s:[{s:s}], s:{s:{}}}}", "state",
                             "connected", "labels", "zone", "eu", "caps", "memTotal",
                             (json_int_t)(8ll << 30), "memAvailable", (json_int_t)(2ll << 30),
                             "gpus", "name", "A100", "clis", "claude");
    char why[200];
    bool busy;
    json_t *want = json_pack("{s:{s:s}}", "labels", "zone", "us");
    assert_false(ad_node_fits(node, want, NULL, 0, &busy, why, sizeof(why)));
    assert_string_equal(why, "label zone is eu, wanted us");
    assert_false(busy);
    json_decref(want);
    want = json_pack("{s:b}", "gpu", 1);
    assert_true(ad_node_fits(node, want, "claude", 0, &busy, why, sizeof(why)));
    assert_false(ad_node_fits(node, want, "claude", 1, &busy, why, sizeof(why)));
    assert_true(busy); /* its GPU is taken: it could, not now */
    assert_false(ad_node_fits(node, want, "codex", 0, &busy, why, sizeof(why)));
    assert_string_equal(why, "codex is not installed there");
    json_decref(want);
    want = json_pack("{s:i}", "memoryMb", 4096);
    assert_false(ad_node_fits(node, want, NULL, 0, &busy, why, sizeof(why)));
    assert_true(busy); /* 2 GiB free of 8: later */
    json_decref(want);
    want = json_pack("{s:i}", "memoryMb", 65536);
    assert_false(ad_node_fits(node, want, NULL, 0, &busy, why, sizeof(why)));
    assert_false(busy); /* more than it has at all: never */
    json_decref(want);
    json_object_set_new(node, "state", json_string("unreachable"));
    want = json_object();
    assert_false(ad_node_fits(node, want, NULL, 0, &busy, why, sizeof(why)));
    assert_true(busy);
    assert_string_equal(why, "it is unreachable");
    json_decref(want);
    json_decref(node);
}

/* What the plane asks of a node is answered only by that node: the same
 * id from another node takes nothing, an unknown id nothing, and an
 * expiry with all takes every one left (ask.c, for git, probes and files). */
static void an_answer_counts_only_from_the_node_asked(void **state)
{
    (void)state;
    ad_plane_t p;
    memset(&p, 0, sizeof(p));
    ad_node_ask_t *list = NULL, a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    ad_node_ask_add(&p, &list, &a, "nd_one", 30000);
    ad_node_ask_add(&p, &list, &b, "nd_two", 30000);
    assert_true(a.id != b.id);
    json_t *id = json_integer((json_int_t)a.id);
    assert_null(ad_node_ask_take(&list, id, "nd_two"));
    json_t *text = json_string("1");
    assert_null(ad_node_ask_take(&list, text, "nd_one"));
    json_decref(text);
    assert_ptr_equal(ad_node_ask_take(&list, id, "nd_one"), &a);
    assert_null(ad_node_ask_take(&list, id, "nd_one")); /* once */
    json_decref(id);
    bool gone = false;
    assert_ptr_equal(ad_node_ask_expired(&p, &list, true, &gone), &b);
    assert_true(gone);
    assert_null(ad_node_ask_expired(&p, &list, true, &gone));
    assert_null(list);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_frame_round_trips),
        cmocka_unit_test(malformed_messages_are_refused),
        cmocka_unit_test(each_direction_takes_its_own_types),
        cmocka_unit_test(placement_says_why_a_node_does_not_fit),
        cmocka_unit_test(an_answer_counts_only_from_the_node_asked),
    };
    return cmocka_run_group_tests_name("node-link", tests, NULL, NULL);
}
