/* SPDX-License-Identifier: MIT */
/* Tests for topic matching and subscriptions: exact, prefix and catch-all
 * patterns, one delivery per event whatever number of topics matched,
 * unsubscribe, validation and freeing a subscriber from its own callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/bus/bus.c"
#include "busrec_fixture.h"

static uint64_t pub(ad_bus_t *bus, const char *type, const char *t1, const char *t2)
{
    const char *topics[2] = {t1, t2};
    json_t *p = json_pack("{s:s}", "k", "v");
    uint64_t seq = ad_bus_publish(bus, type, topics, t2 ? 2 : 1, p);
    json_decref(p);
    return seq;
}

static void pattern_matching(void **state)
{
    AD_UNUSED(state);
    assert_true(ad_bus_pattern_match("agent:ag_1", "agent:ag_1"));
    assert_false(ad_bus_pattern_match("agent:ag_1", "agent:ag_12"));
    assert_true(ad_bus_pattern_match("agent:*", "agent:ag_12"));
    assert_true(ad_bus_pattern_match("agent:*", "agent:"));
    assert_false(ad_bus_pattern_match("agent:*", "agents:x"));
    assert_false(ad_bus_pattern_match("agent:*", "workspace:ws_1"));
    assert_true(ad_bus_pattern_match("*", "system"));
    assert_true(ad_bus_topic_valid("agent:ag_1"));
    assert_true(ad_bus_topic_valid("agent:*"));
    assert_true(ad_bus_topic_valid("*"));
    assert_false(ad_bus_topic_valid(""));
    assert_false(ad_bus_topic_valid("a*b"));
    assert_false(ad_bus_topic_valid("with space"));
    assert_false(ad_bus_topic_valid("quote\"d"));
    char big[AD_BUS_TOPIC_MAX + 2];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_false(ad_bus_topic_valid(big));
}

static void exact_prefix_and_all(void **state)
{
    AD_UNUSED(state);
    ad_bus_t *bus = ad_bus_new(NULL, NULL);
    rec_t a = {0}, b = {0}, c = {0};
    ad_bus_sub_t *sa = ad_bus_sub_new(bus, &rec_ops, &a, 0);
    ad_bus_sub_t *sb = ad_bus_sub_new(bus, &rec_ops, &b, 0);
    ad_bus_sub_t *sc = ad_bus_sub_new(bus, &rec_ops, &c, 0);
    const char *ta[] = {"agent:ag_1"};
    const char *tb[] = {"agent:*"};
    const char *tc[] = {"*"};
    assert_int_equal(ad_bus_subscribe(sa, ta, 1, false, 0), 0);
    assert_int_equal(ad_bus_subscribe(sb, tb, 1, false, 0), 0);
    assert_int_equal(ad_bus_subscribe(sc, tc, 1, false, 0), 0);

    uint64_t s1 = pub(bus, "agent_output", "agent:ag_1", NULL);
    uint64_t s2 = pub(bus, "agent_output", "agent:ag_2", NULL);
    uint64_t s3 = pub(bus, "system_health", "system", NULL);
    assert_int_equal(s1, 1);
    assert_int_equal(s3, 3);
    assert_int_equal(a.n, 1);
    assert_int_equal(a.seqs[0], s1);
    assert_int_equal(b.n, 2);
    assert_int_equal(b.seqs[1], s2);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.types[2], "system_health");

    ad_bus_sub_free(sa);
    ad_bus_sub_free(sb);
    ad_bus_sub_free(sc);
    ad_bus_free(bus);
}

static void one_delivery_per_event(void **state)
{
    AD_UNUSED(state);
    ad_bus_t *bus = ad_bus_new(NULL, NULL);
    rec_t a = {0};
    ad_bus_sub_t *sa = ad_bus_sub_new(bus, &rec_ops, &a, 0);
    const char *t[] = {"agent:ag_1", "workspace:ws_1", "agent:*", "agent:ag_1"};
    assert_int_equal(ad_bus_subscribe(sa, t, 4, false, 0), 0);
    pub(bus, "agent_output", "agent:ag_1", "workspace:ws_1");
    pub(bus, "agent_output", "workspace:ws_1", "agent:ag_1");
    assert_int_equal(a.n, 2);
    assert_int_equal(a.seqs[0], 1);
    assert_int_equal(a.seqs[1], 2);
    ad_bus_sub_free(sa);
    ad_bus_free(bus);
}

static void unsubscribe_stops_delivery(void **state)
{
    AD_UNUSED(state);
    ad_bus_t *bus = ad_bus_new(NULL, NULL);
    rec_t a = {0};
    ad_bus_sub_t *sa = ad_bus_sub_new(bus, &rec_ops, &a, 0);
    const char *t[] = {"agent:ag_1", "crew:*"};
    assert_int_equal(ad_bus_subscribe(sa, t, 2, false, 0), 0);
    pub(bus, "x", "agent:ag_1", NULL);
    pub(bus, "x", "crew:c1", NULL);
    ad_bus_unsubscribe(sa, t, 1);
    pub(bus, "x", "agent:ag_1", NULL);
    pub(bus, "x", "crew:c2", NULL);
    const char *u[] = {"crew:*", "never:subscribed", "bad topic"};
    ad_bus_unsubscribe(sa, u, 3);
    pub(bus, "x", "crew:c3", NULL);
    assert_int_equal(a.n, 3);
    assert_int_equal(a.seqs[2], 4);
    /* The index gave its nodes back. */
    assert_int_equal(bus->index.count, 0);
    assert_int_equal(bus->index.nprefixes, 0);
    ad_bus_sub_free(sa);
    ad_bus_free(bus);
}

static void invalid_topic_changes_nothing(void **state)
{
    AD_UNUSED(state);
    ad_bus_t *bus = ad_bus_new(NULL, NULL);
    rec_t a = {0};
    ad_bus_sub_t *sa = ad_bus_sub_new(bus, &rec_ops, &a, 0);
    const char *t[] = {"agent:ag_1", "bad*topic"};
    assert_int_equal(ad_bus_subscribe(sa, t, 2, false, 0), AD_EINVAL);
    pub(bus, "x", "agent:ag_1", NULL);
    assert_int_equal(a.n, 0);
    ad_bus_sub_free(sa);
    ad_bus_free(bus);
}

static void overflow_reports_last_seq_and_stops(void **state)
{
    AD_UNUSED(state);
    ad_bus_t *bus = ad_bus_new(NULL, NULL);
    rec_t a = {.fail_at = 3}, b = {0};
    ad_bus_sub_t *sa = ad_bus_sub_new(bus, &rec_ops, &a, 0);
    ad_bus_sub_t *sb = ad_bus_sub_new(bus, &rec_ops, &b, 0);
    const char *t[] = {"system"};
    ad_bus_subscribe(sa, t, 1, false, 0);
    ad_bus_subscribe(sb, t, 1, false, 0);
    for (int i = 0; i < 5; i++) {
        pub(bus, "x", "system", NULL);
    }
    assert_int_equal(a.n, 2);
    assert_int_equal(a.overflows, 1);
    assert_int_equal(a.overflow_seq, 2);
    assert_int_equal(ad_bus_sub_last_seq(sa), 2);
    assert_int_equal(b.n, 5); /* the others do not notice */
    ad_bus_sub_free(sa);
    ad_bus_sub_free(sb);
    ad_bus_free(bus);
}

static void free_from_own_callback(void **state)
{
    AD_UNUSED(state);
    ad_bus_t *bus = ad_bus_new(NULL, NULL);
    rec_t a = {.free_in_deliver = true}, b = {0};
    a.self = ad_bus_sub_new(bus, &rec_ops, &a, 0);
    ad_bus_sub_t *sb = ad_bus_sub_new(bus, &rec_ops, &b, 0);
    const char *t[] = {"system", "*"};
    ad_bus_subscribe(a.self, t, 2, false, 0);
    ad_bus_subscribe(sb, t, 2, false, 0);
    pub(bus, "x", "system", NULL);
    pub(bus, "x", "system", NULL);
    assert_int_equal(a.n, 1);
    assert_null(a.self);
    assert_int_equal(b.n, 2);
    ad_bus_sub_free(sb);
    ad_bus_free(bus);
}

/* The envelope head after the seq is kept between like events: events of
 * changing types and topics (one too long to keep, one to escape), and
 * seqs crossing a digit boundary, each read back whole and right. */
static void envelope_heads_follow_each_event(void **state)
{
    AD_UNUSED(state);
    ad_bus_t *bus = ad_bus_new(NULL, NULL);
    bus->seq = 999999990;
    bus->visible = bus->seq;
    char long_type[300];
    memset(long_type, 't', sizeof(long_type) - 1);
    long_type[sizeof(long_type) - 1] = '\0';
    const char *types[] = {"agent_output", "agent_output", "quo\"te", long_type, "agent_output"};
    const char *topics[] = {"agent:a", "agent:a", "agent:b", "agent:b", "system"};
    for (int i = 0; i < 40; i++) {
        uint64_t seq = pub(bus, types[i % 5], topics[(i / 2) % 5], NULL);
        ad_bus_event_t *ev = ad_bus_ring_get(&bus->ring, seq);
        assert_non_null(ev);
        size_t len;
        json_error_t jerr;
        const char *text = ad_bus_event_data(ev, &len);
        json_t *j = json_loadb(text, len, 0, &jerr);
        if (j == NULL) {
            fail_msg("event %d: %s: %s", i, jerr.text, text);
        }
        assert_int_equal(json_integer_value(json_object_get(j, "seq")), (json_int_t)seq);
        assert_string_equal(json_string_value(json_object_get(j, "type")), types[i % 5]);
        assert_string_equal(json_string_value(json_object_get(j, "topic")), topics[(i / 2) % 5]);
        assert_string_equal(json_string_value(json_object_get(j, "ts")), ad_bus_event_ts(ev));
        assert_string_equal(json_string_value(json_object_get(json_object_get(j, "payload"), "k")),
                            "v");
        json_decref(j);
    }
    ad_bus_free(bus);
}

static void envelope_is_serialized_once(void **state)
{
    AD_UNUSED(state);
    ad_bus_event_t *ev = NULL;
    const char *topics[] = {"agent:ag_1", "workspace:ws_1"};
    ev = ad_bus_event_make(7, 0, "2026-11-21T19:44:46.123Z", "agent_output", topics, 2,
                           "{\"content\":\"a\\\"b\"}", 18);
    size_t len;
    const char *d = ad_bus_event_data(ev, &len);
    assert_string_equal(d,
                        "{\"seq\":7,\"ts\":\"2026-11-21T19:44:46.123Z\",\"topic\":\"agent:ag_1\","
                        "\"type\":\"agent_output\",\"payload\":{\"content\":\"a\\\"b\"}}");
    assert_int_equal(len, strlen(d));
    size_t plen;
    const char *p = ad_bus_event_payload_text(ev, &plen);
    assert_int_equal(plen, 18);
    assert_memory_equal(p, "{\"content\":\"a\\\"b\"}", 18);
    assert_string_equal(ad_bus_event_topic(ev, 1), "workspace:ws_1");
    json_error_t jerr;
    json_t *j = json_loads(d, 0, &jerr);
    assert_non_null(j);
    json_decref(j);
    ad_bus_event_unref(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pattern_matching),
        cmocka_unit_test(exact_prefix_and_all),
        cmocka_unit_test(one_delivery_per_event),
        cmocka_unit_test(unsubscribe_stops_delivery),
        cmocka_unit_test(invalid_topic_changes_nothing),
        cmocka_unit_test(overflow_reports_last_seq_and_stops),
        cmocka_unit_test(free_from_own_callback),
        cmocka_unit_test(envelope_is_serialized_once),
        cmocka_unit_test(envelope_heads_follow_each_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
