/* SPDX-License-Identifier: MIT */
/*
 * What a live channel passes on (src/live, issue #79's test for it):
 * filter.c's choice per channel kind (a run channel's own events and the
 * one that ends it, never another run's exit; signals on the mission
 * socket; a crew's tool events; the root socket's four types; an SSE
 * stream's ?types= list matched whole), the ?types= list's own check, and
 * the seed dialect's status words, agent filter and envelope. Events come
 * from a real bus without a loop (delivered at once); the sockets
 * themselves are the e2e suite's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "live/live_int.h"

/* The channel the delivered event is judged for, and the verdict. */
static ad_live_chan_t chan;
static int delivered;
static bool passed, final_seen;

static int judge(void *ud, const ad_bus_event_t *ev)
{
    (void)ud;
    delivered++;
    passed = ad_live_pass(&chan, ev, &final_seen);
    return 0;
}

static const ad_bus_sub_ops_t judge_ops = {.deliver = judge};

static ad_bus_t *bus;
static ad_bus_sub_t *sub;

/* Publishes type on topics (comma-separated) with payload (JSON text) and
 * returns whether chan passes it; *fin: whether it ends chan. */
static bool passes(const char *type, const char *topics, const char *payload, bool *fin)
{
    char list[256];
    snprintf(list, sizeof(list), "%s", topics);
    const char *t[4];
    size_t n = 0;
    char *save = NULL;
    for (char *p = strtok_r(list, ",", &save); p != NULL && n < 4; p = strtok_r(NULL, ",", &save)) {
        t[n++] = p;
    }
    int before = delivered;
    ad_bus_publish_text(bus, type, t, n, payload, strlen(payload));
    assert_int_equal(delivered, before + 1);
    if (fin != NULL) {
        *fin = final_seen;
    }
    return passed;
}

static int setup(void **state)
{
    (void)state;
    bus = ad_bus_new(NULL, NULL);
    sub = ad_bus_sub_new(bus, &judge_ops, NULL, 0);
    const char *all[] = {"*"};
    assert_int_equal(ad_bus_subscribe(sub, all, 1, false, 0), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ad_bus_sub_free(sub);
    ad_bus_free(bus);
    return 0;
}

static void run_channel(void **state)
{
    (void)state;
    memset(&chan, 0, sizeof(chan));
    chan.kind = AD_LIVE_RUN;
    snprintf(chan.id, sizeof(chan.id), "run_1");
    snprintf(chan.agent_id, sizeof(chan.agent_id), "ag_1");
    bool fin = true;
    assert_true(passes("agent_output", "agent:ag_1,run:run_1", "{}", &fin));
    assert_false(fin);
    assert_false(passes("agent_output", "agent:ag_1,run:run_10", "{}", &fin)); /* whole id */
    assert_true(passes("tool_start", "agent:ag_1", "{\"runId\":\"run_1\"}", &fin));
    assert_false(fin);
    assert_true(passes("run_end", "run:run_1", "{}", &fin));
    assert_true(fin);
    /* an agent_exit of no run ends the agent's current run ... */
    assert_true(passes("agent_exit", "agent:ag_1", "{}", &fin));
    assert_true(fin);
    /* ... one of another run never does, nor another agent's */
    assert_false(passes("agent_exit", "agent:ag_1", "{\"runId\":\"run_0\"}", &fin));
    assert_false(fin);
    assert_false(passes("agent_exit", "agent:ag_1,run:run_0", "{}", &fin));
    assert_false(passes("agent_exit", "agent:ag_2", "{}", &fin));
    assert_false(fin);
}

static void seed_sockets(void **state)
{
    (void)state;
    memset(&chan, 0, sizeof(chan));
    chan.kind = AD_LIVE_MISSION;
    assert_true(passes("signal", "crew:c1", "{}", NULL));
    assert_false(passes("agent_output", "crew:c1", "{}", NULL));

    chan.kind = AD_LIVE_GRAPH;
    assert_true(passes("tool_start", "crew:c1", "{}", NULL));
    assert_true(passes("tool_progress", "crew:c1", "{}", NULL));
    assert_true(passes("tool_end", "crew:c1", "{}", NULL));
    assert_false(passes("signal", "crew:c1", "{}", NULL));

    chan.kind = AD_LIVE_ROOT;
    static const char *const root[] = {"agent_update", "metrics_update", "system_health",
                                       "discovery_progress"};
    for (size_t i = 0; i < AD_ARRAY_LEN(root); i++) {
        assert_true(passes(root[i], "system", "{}", NULL));
    }
    assert_false(passes("agent_output", "system", "{}", NULL));

    chan.kind = AD_LIVE_WS; /* what it subscribed to, all of it */
    assert_true(passes("anything_at_all", "system", "{}", NULL));
}

static void sse_types(void **state)
{
    (void)state;
    memset(&chan, 0, sizeof(chan));
    chan.kind = AD_LIVE_SSE;
    assert_true(passes("agent_output", "system", "{}", NULL)); /* no list: all */
    char list[] = ",agent_output,run_end,";
    chan.types = list;
    assert_true(passes("agent_output", "system", "{}", NULL));
    assert_true(passes("run_end", "system", "{}", NULL));
    assert_false(passes("agent", "system", "{}", NULL));     /* a part of a listed type */
    assert_false(passes("output", "system", "{}", NULL));    /* nor its end */
    assert_false(passes("run_ended", "system", "{}", NULL)); /* nor a longer one */
    chan.types = NULL;

    assert_int_equal(ad_live_set_types(NULL, "agent_output,run_end"), 0);
    assert_int_equal(ad_live_set_types(NULL, "a"), 0);
    static const char *const bad[] = {"", ",", "a,,b", "Agent", "a-b", "a b"};
    for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
        if (ad_live_set_types(NULL, bad[i]) != AD_EINVAL) {
            fail_msg("types '%s' were not refused", bad[i]);
        }
    }
    char long_type[64];
    memset(long_type, 'a', 41);
    long_type[41] = '\0';
    assert_int_equal(ad_live_set_types(NULL, long_type), AD_EINVAL);
    long_type[40] = '\0';
    assert_int_equal(ad_live_set_types(NULL, long_type), 0);
    char many[200] = "";
    for (int i = 0; i < 33; i++) {
        size_t n = strlen(many);
        snprintf(many + n, sizeof(many) - n, "%st%d", i > 0 ? "," : "", i % 10);
    }
    assert_int_equal(ad_live_set_types(NULL, many), AD_EINVAL); /* 33 */
    *strrchr(many, ',') = '\0';
    assert_int_equal(ad_live_set_types(NULL, many), 0); /* 32 */
}

static void seed_dialect(void **state)
{
    (void)state;
    static const char *const map[][2] = {
        {"running", "running"}, {"waiting", "waiting"},  {"error", "error"},
        {"paused", "waiting"},  {"stopping", "running"}, {"starting", "running"},
        {"idle", "finished"},   {"stopped", "finished"}, {"finished", "finished"},
    };
    for (size_t i = 0; i < AD_ARRAY_LEN(map); i++) {
        assert_string_equal(ad_live_seed_status(map[i][0]), map[i][1]);
    }

    json_t *agents =
        json_loads("[{\"id\":\"a\",\"status\":\"paused\"},{\"id\":\"b\",\"status\":"
                   "\"running\"},{\"id\":\"c\",\"status\":\"waiting\"},{\"id\":\"d\"}]",
                   0, NULL);
    ad_live_seed_filter_agents(agents, NULL);
    assert_int_equal(json_array_size(agents), 4);
    ad_live_seed_filter_agents(agents, "waiting");
    assert_int_equal(json_array_size(agents), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(agents, 0), "id")), "a");
    assert_string_equal(json_string_value(json_object_get(json_array_get(agents, 1), "id")), "c");
    json_decref(agents);

    json_t *env = json_loads("{\"type\":\"agent_exit\",\"seq\":5,\"payload\":{\"agentId\":\"ag\","
                             "\"exitCode\":1,\"seq\":9}}",
                             0, NULL);
    assert_true(ad_live_seed_envelope(env));
    json_t *p = json_object_get(env, "payload");
    assert_string_equal(json_string_value(json_object_get(p, "agent_id")), "ag");
    assert_null(json_object_get(p, "agentId"));
    assert_string_equal(json_string_value(json_object_get(env, "agent_id")), "ag");
    assert_int_equal(json_integer_value(json_object_get(env, "exit_code")), 1);
    assert_int_equal(json_integer_value(json_object_get(env, "seq")), 5); /* never shadowed */
    json_decref(env);
    env = json_loads("{\"type\":\"x\",\"payload\":[1]}", 0, NULL);
    assert_false(ad_live_seed_envelope(env));
    json_decref(env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(run_channel),
        cmocka_unit_test(seed_sockets),
        cmocka_unit_test(sse_types),
        cmocka_unit_test(seed_dialect),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
