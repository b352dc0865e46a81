/* SPDX-License-Identifier: MIT */
/* Tests for the worker node link's frames (src/node/link.c): a holder frame
 * round-trips with its run and epoch; every malformed message is refused;
 * each direction takes its own frame types only; placement's fit (pure,
 * src/node/place.c) says why a node does not fit; and a control plane's URL
 * sent to a node is dialled only when well formed and allowed
 * (src/node/planeurl.c). */
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
    bad[0] = 3; /* not a holder frame (1, or 2 with a lease) */
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

/* issue #77: the plane's frames carry the run's lease epoch, and the node
 * refuses a lower one than it has seen (a plane that lost the run). */
static void a_lease_frame_round_trips_and_the_node_fences(void **state)
{
    (void)state;
    unsigned char m[256];
    size_t n = ad_link_header_lease(m, "run_01abc", 3, 5);
    assert_int_equal(n, AD_LINK_HDR_LEASE + 9);
    ad_hold_hdr(m + n, 4, AD_HOLD_SIGNAL, 0);
    memcpy(m + n + AD_HOLD_HDR, "\x0f\0\0\0", 4);
    size_t len = n + AD_HOLD_HDR + 4;
    char run[AD_LINK_RUN_MAX + 1];
    uint32_t epoch = 0, lease = 0;
    const unsigned char *f = NULL;
    size_t flen = 0;
    assert_int_equal(ad_link_parse_lease(m, len, run, &epoch, &lease, &f, &flen), 0);
    assert_string_equal(run, "run_01abc");
    assert_int_equal(epoch, 3);
    assert_int_equal(lease, 5);
    assert_int_equal(f[4], AD_HOLD_SIGNAL);
    for (size_t cut = 0; cut < len; cut++) {
        assert_int_equal(ad_link_parse_lease(m, cut, run, &epoch, &lease, &f, &flen), AD_EINVAL);
    }
    /* a frame without a lease reads as epoch 0 */
    len = frame(m, "run_01abc", 4, AD_HOLD_INPUT, "hi", 2);
    assert_int_equal(ad_link_parse_lease(m, len, run, &epoch, &lease, &f, &flen), 0);
    assert_int_equal(lease, 0);

    uint32_t known = 0;
    assert_true(ad_link_lease_ok(&known, 1)); /* the spawn's */
    assert_int_equal(known, 1);
    assert_true(ad_link_lease_ok(&known, 1));
    assert_true(ad_link_lease_ok(&known, 2)); /* a takeover's: the new owner */
    assert_int_equal(known, 2);
    assert_false(ad_link_lease_ok(&known, 1)); /* the old owner: refused */
    assert_false(ad_link_lease_ok(&known, 0)); /* no lease at all: refused */
    assert_int_equal(known, 2);
    assert_true(ad_link_lease_ok(&known, 2));
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

/* The operator's tools (issue #77): a cordoned, draining or full node takes
 * nothing new, and says so; a PATCH body is checked before it is stored. */
static void a_cordoned_or_full_node_takes_nothing_new(void **state)
{
    (void)state;
    json_t *node = json_pack("{s:s, s:{}, s:{s:I, s:I}, s:i, s:b, s:n}", "state", "connected",
                             "labels", "caps", "memTotal", (json_int_t)(8ll << 30), "memAvailable",
                             (json_int_t)(8ll << 30), "runs", 4, "cordoned", 0, "maxRuns");
    char why[200];
    bool busy;
    json_t *want = json_object();
    assert_int_equal(ad_node_room(node, why, sizeof(why)), 0);
    assert_true(ad_node_fits(node, want, NULL, 0, &busy, why, sizeof(why)));
    json_object_set_new(node, "maxRuns", json_integer(4));
    assert_int_equal(ad_node_room(node, why, sizeof(why)), AD_EBUSY);
    assert_false(ad_node_fits(node, want, NULL, 0, &busy, why, sizeof(why)));
    assert_true(busy); /* a run that ends makes room: it waits, not fails */
    assert_string_equal(why, "it runs 4 of 4");
    json_object_set_new(node, "cordoned", json_true());
    assert_false(ad_node_fits(node, want, NULL, 0, &busy, why, sizeof(why)));
    assert_string_equal(why, "it is cordoned");
    json_object_set_new(node, "draining", json_true());
    assert_int_equal(ad_node_room(node, why, sizeof(why)), AD_ESTATE);
    assert_string_equal(why, "it is draining");
    json_decref(want);
    json_decref(node);

    ad_field_err_t e;
    ad_store_node_set_t set = {0};
    json_t *body =
        json_pack("{s:b, s:i, s:{s:s}}", "cordoned", 0, "maxRuns", 3, "labels", "zone", "eu");
    assert_int_equal(ad_node_set_check(body, &set, &e), 0);
    assert_true(set.has_cordoned && !set.cordoned && set.has_draining && !set.draining);
    assert_true(set.has_max_runs);
    assert_int_equal(set.max_runs, 3);
    assert_string_equal(set.labels, "{\"zone\":\"eu\"}");
    free(set.labels);
    json_decref(body);
    const char *bad[] = {"{\"draining\":true}",    "{\"maxRuns\":-1}",
                         "{\"maxRuns\":\"4\"}",    "{\"labels\":{\"a b\":\"x\"}}",
                         "{\"labels\":{\"a\":1}}", "{\"labels\":[]}",
                         "{\"cordoned\":\"yes\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ad_store_node_set_t s2 = {0};
        body = json_loads(bad[i], 0, NULL);
        assert_int_equal(ad_node_set_check(body, &s2, &e), AD_EINVAL);
        assert_null(s2.labels);
        json_decref(body);
    }
    ad_store_node_set_t s3 = {0};
    body = json_pack("{s:n, s:n}", "maxRuns", "labels");
    assert_int_equal(ad_node_set_check(body, &s3, &e), 0);
    assert_true(s3.has_max_runs && s3.max_runs == -1 && s3.has_labels && s3.labels == NULL);
    json_decref(body);
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

/* The rules of a node joined with --join http://127.0.0.1:7000 and
 * --planes-allow plane-b.example. */
static void allow_of(ad_node_allow_t *a)
{
    memset(a, 0, sizeof(*a));
    a->http = true;
    assert_int_equal(ad_node_allow_host(a, "127.0.0.1"), 0);
    assert_int_equal(ad_node_allow_host(a, "Plane-B.example"), 0);
    assert_int_equal(ad_node_allow_host(a, "[::1]"), 0);
    assert_int_equal(ad_node_allow_host(a, "a b"), AD_EINVAL);
    assert_int_equal(ad_node_allow_host(a, ""), AD_EINVAL);
}

static void a_plane_url_is_dialled_only_when_allowed(void **state)
{
    (void)state;
    ad_node_allow_t a;
    allow_of(&a);
    char out[AD_NODE_DIAL_MAX], why[160];
    assert_int_equal(
        ad_node_plane_url(&a, "http://127.0.0.1:7001", out, sizeof(out), why, sizeof(why)), 0);
    assert_string_equal(out, "http://127.0.0.1:7001/api/nodes/link");
    /* rebuilt from its parts: case, a leading zero, a trailing slash */
    assert_int_equal(ad_node_plane_url(&a, "HTTP://plane-b.EXAMPLE:08080/agentd/", out, sizeof(out),
                                       why, sizeof(why)),
                     0);
    assert_string_equal(out, "http://plane-b.example:8080/agentd/api/nodes/link");
    assert_int_equal(ad_node_plane_url(&a, "http://[::1]:7002", out, sizeof(out), why, sizeof(why)),
                     0);
    assert_string_equal(out, "http://[::1]:7002/api/nodes/link");

    static const struct {
        const char *url;
        int rc;
        const char *why;
    } refused[] = {
        {"ftp://127.0.0.1:7001", AD_EINVAL, "http"},
        {"ws://127.0.0.1:7001", AD_EINVAL, "http"},
        {"file:///etc/passwd", AD_EINVAL, "http"},
        {"http://u:p@127.0.0.1:7001", AD_EINVAL, "userinfo"},
        {"http://evil.example@127.0.0.1:7001", AD_EINVAL, "userinfo"},
        {"http://127.0.0.1:7001@evil.example:80", AD_EINVAL, "userinfo"},
        {"http://127.0.0.1", AD_EINVAL, "port"},
        {"http://127.0.0.1:", AD_EINVAL, "port"},
        {"http://127.0.0.1:0", AD_EINVAL, "port"},
        {"http://127.0.0.1:65536", AD_EINVAL, "port"},
        {"http://127.0.0.1:80x", AD_EINVAL, "port"},
        {"http://127.0.0.1:7001?x=1", AD_EINVAL, "query"},
        {"http://127.0.0.1:7001#f", AD_EINVAL, "query"},
        {"http://127.0.0.1:7001/../x", AD_EINVAL, "segment"},
        {"http://127.0.0.1:7001/a b", AD_EINVAL, "space"},
        {"http://127.0.0.1\\@evil.example:7001", AD_EINVAL, "backslash"},
        {"http://127.0.0.1%2f:7001", AD_EINVAL, "host"},
        {"http://[::1%eth0]:7001", AD_EINVAL, "host"},
        {"http://[127.0.0.1]:7001", AD_EINVAL, "IPv6"},
        {"http://.127.0.0.1:7001", AD_EINVAL, "host"},
        {"", AD_EINVAL, "empty"},
        {"http://localhost:7001", AD_EPERM, "--planes-allow"},
        {"http://127.0.0.2:7001", AD_EPERM, "--planes-allow"},
        {"http://plane-b.example.evil.example:7001", AD_EPERM, "--planes-allow"},
        {"https://127.0.0.1:7001", AD_EPERM, "scheme https"},
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        out[0] = '\0';
        int rc = ad_node_plane_url(&a, refused[i].url, out, sizeof(out), why, sizeof(why));
        if (rc != refused[i].rc || strstr(why, refused[i].why) == NULL) {
            fail_msg("%s: rc %d why \"%s\"", refused[i].url, rc, why);
        }
        assert_string_equal(out, "");
    }
    assert_int_equal(ad_node_plane_url(&a, NULL, out, sizeof(out), why, sizeof(why)), AD_EINVAL);
    /* a host of 254 characters */
    char url[400];
    snprintf(url, sizeof(url), "http://%0254d:7001", 0);
    assert_int_equal(ad_node_plane_url(&a, url, out, sizeof(out), why, sizeof(why)), AD_EINVAL);
    char *longer = malloc(AD_NODE_URL_MAX + 64);
    snprintf(longer, AD_NODE_URL_MAX + 64, "http://127.0.0.1:7001/%0*d", AD_NODE_URL_MAX, 0);
    assert_int_equal(ad_node_plane_url(&a, longer, out, sizeof(out), why, sizeof(why)), AD_EINVAL);
    free(longer);
    /* https only when --join uses it */
    a.https = true;
    assert_int_equal(
        ad_node_plane_url(&a, "https://127.0.0.1:7001", out, sizeof(out), why, sizeof(why)), 0);
}

static void a_node_learns_at_most_eight_urls_after_its_own(void **state)
{
    (void)state;
    static worker_t w;
    memset(&w, 0, sizeof(w));
    allow_of(&w.allow);
    snprintf(w.urls[0], sizeof(w.urls[0]), "http://127.0.0.1:7000/api/nodes/link");
    snprintf(w.url, sizeof(w.url), "%s", w.urls[0]);
    w.nurls = w.njoin = 1;
    json_t *sent =
        json_pack("[s, s, s, s, s, s]", "http://127.0.0.1:7000", "http://u@127.0.0.1:7009",
                  "ftp://127.0.0.1:7009", "http://evil.example:7009", "http://127.0.0.1:7001",
                  "http://127.0.0.1:7001/");
    ad_worker_learn(&w, sent);
    json_decref(sent);
    /* its own once, the refused never, the same URL twice once */
    assert_int_equal(w.nurls, 2);
    assert_string_equal(w.urls[1], "http://127.0.0.1:7001/api/nodes/link");
    assert_int_equal(w.cur, 0);
    sent = json_array();
    for (int i = 0; i < 20; i++) {
        char u[64];
        snprintf(u, sizeof(u), "http://127.0.0.1:%d", 7100 + i);
        json_array_append_new(sent, json_string(u));
    }
    ad_worker_learn(&w, sent);
    json_decref(sent);
    assert_int_equal(w.nurls, AD_NODE_JOIN_MAX);
    assert_string_equal(w.urls[0], "http://127.0.0.1:7000/api/nodes/link");
    assert_string_equal(w.urls[7], "http://127.0.0.1:7106/api/nodes/link");
    /* a later list replaces what was learned; the link now keeps its place */
    snprintf(w.url, sizeof(w.url), "http://127.0.0.1:7102/api/nodes/link");
    sent = json_pack("[s, s]", "http://127.0.0.1:7102", "http://127.0.0.1:7300");
    ad_worker_learn(&w, sent);
    json_decref(sent);
    assert_int_equal(w.nurls, 3);
    assert_int_equal(w.cur, 1);
    /* not an array: nothing changes; nothing allowed: --join's, and the
     * learned URL the link is on now */
    ad_worker_learn(&w, NULL);
    assert_int_equal(w.nurls, 3);
    sent = json_pack("[i, s]", 1, "gopher://127.0.0.1:70");
    ad_worker_learn(&w, sent);
    json_decref(sent);
    assert_int_equal(w.nurls, 2);
    assert_string_equal(w.urls[1], "http://127.0.0.1:7102/api/nodes/link");
    assert_int_equal(w.cur, 1);
    /* on a --join URL, an empty list: --join's alone */
    snprintf(w.url, sizeof(w.url), "%s", w.urls[0]);
    sent = json_array();
    ad_worker_learn(&w, sent);
    json_decref(sent);
    assert_int_equal(w.nurls, 1);
    assert_int_equal(w.cur, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_lease_frame_round_trips_and_the_node_fences),
        cmocka_unit_test(a_frame_round_trips),
        cmocka_unit_test(malformed_messages_are_refused),
        cmocka_unit_test(each_direction_takes_its_own_types),
        cmocka_unit_test(placement_says_why_a_node_does_not_fit),
        cmocka_unit_test(a_cordoned_or_full_node_takes_nothing_new),
        cmocka_unit_test(an_answer_counts_only_from_the_node_asked),
        cmocka_unit_test(a_plane_url_is_dialled_only_when_allowed),
        cmocka_unit_test(a_node_learns_at_most_eight_urls_after_its_own),
    };
    return cmocka_run_group_tests_name("node-link", tests, NULL, NULL);
}
