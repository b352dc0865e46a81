/* SPDX-License-Identifier: MIT */
/* Tests for src/compat, the seeds' dialects: the crews seed's snake_case
 * (an envelope, a deep copy, Redis both ways), Claude Manager's status enum
 * and answers, the training seed's health figures and its commands on "/"
 * parsed into agentd's requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "compat/compat.h"

static json_t *parse(const char *s)
{
    json_t *j = json_loads(s, 0, NULL);
    assert_non_null(j);
    return j;
}

/* j's compact text equals want. */
static void text_is(json_t *j, const char *want)
{
    char *s = json_dumps(j, JSON_COMPACT);
    assert_non_null(s);
    assert_string_equal(s, want);
    free(s);
}

static void crews_envelope_and_snake(void **state)
{
    AD_UNUSED(state);
    json_t *env = parse("{\"type\":\"tool_end\",\"seq\":7,\"payload\":{\"crewId\":\"c1\","
                        "\"exitCode\":0,\"durationMs\":1500,\"name\":\"grep\",\"seq\":9}}");
    assert_true(ad_compat_crews_envelope(env));
    text_is(env, "{\"type\":\"tool_end\",\"seq\":7,\"payload\":{\"crew_id\":\"c1\",\"exit_code\":0,"
                 "\"duration_ms\":1500,\"name\":\"grep\",\"seq\":9,\"duration\":1.5,\"tool\":"
                 "\"grep\"},\"crew_id\":\"c1\",\"exit_code\":0,\"duration_ms\":1500,\"name\":"
                 "\"grep\",\"duration\":1.5,\"tool\":\"grep\"}");
    json_decref(env);
    env = parse("{\"type\":\"x\",\"payload\":[]}");
    assert_false(ad_compat_crews_envelope(env));
    json_decref(env);

    json_t *v = parse("{\"totalRuns\":2,\"byDay\":[{\"runCount\":1}]}");
    json_t *s = ad_compat_snake(v);
    text_is(s, "{\"total_runs\":2,\"by_day\":[{\"run_count\":1}]}");
    json_decref(s);
    json_decref(v);
}

static void crews_redis_both_ways(void **state)
{
    AD_UNUSED(state);
    json_t *m = parse("{\"type\":\"tool_end\",\"origin\":\"n2\",\"at\":1,\"n\":2,"
                      "\"crew_id\":\"c1\",\"tool_id\":\"t1\",\"duration\":0.25}");
    json_t *p = ad_compat_crews_from_redis(m);
    text_is(p, "{\"crewId\":\"c1\",\"toolId\":\"t1\",\"duration\":0.25,\"durationMs\":250}");
    json_decref(p);
    json_decref(m);
    m = parse("{\"type\":\"x\",\"origin\":\"n2\"}");
    assert_null(ad_compat_crews_from_redis(m));
    json_decref(m);

    json_t *payload = parse("{\"crewId\":\"c1\",\"durationMs\":2000}");
    char *out = ad_compat_crews_to_redis("n1", "tool_end", "o1", payload);
    assert_string_equal(out, "{\"origin\":\"n1\",\"type\":\"tool_end\",\"org\":\"o1\",\"crew_id\":"
                             "\"c1\",\"duration_ms\":2000,\"duration\":2.0,\"payload\":{\"crew_id\":"
                             "\"c1\",\"duration_ms\":2000,\"duration\":2.0}}");
    free(out);
    json_decref(payload);
}

static void manager_words(void **state)
{
    AD_UNUSED(state);
    assert_string_equal(ad_compat_manager_status("paused"), "waiting");
    assert_string_equal(ad_compat_manager_status("stopping"), "running");
    assert_string_equal(ad_compat_manager_status("idle"), "finished");
    assert_string_equal(ad_compat_manager_status("error"), "error");
    assert_true(ad_compat_manager_shown("stopped", "finished"));
    assert_false(ad_compat_manager_shown(NULL, "finished"));
    assert_true(ad_compat_manager_shown(NULL, NULL));

    json_t *body = parse("{\"agents\":[{\"id\":\"a\",\"status\":\"paused\",\"worktreeId\":\"w\"},"
                         "{\"id\":\"b\",\"status\":\"idle\",\"worktreeId\":\"w\"}]}");
    ad_compat_manager_answer("/api/agents", body);
    text_is(body, "{\"agents\":[{\"id\":\"a\",\"status\":\"waiting\",\"worktreeId\":\"w\","
                  "\"agentdStatus\":\"paused\"},{\"id\":\"b\",\"status\":\"finished\","
                  "\"worktreeId\":\"w\",\"agentdStatus\":\"idle\"}]}");
    json_decref(body);

    json_t *agents = parse("[{\"status\":\"running\"},{\"status\":\"idle\"},{}]");
    ad_compat_manager_filter_agents(agents, "finished");
    text_is(agents, "[{\"status\":\"idle\"}]");
    json_decref(agents);

    char topic[64];
    bool unsub = true;
    const char *why = "x";
    json_t *sub = parse("{\"agentId\":\"ag1\"}");
    assert_false(ad_compat_manager_subscription("subscribe", sub, topic, sizeof(topic), &unsub,
                                                &why));
    assert_true(ad_compat_manager_subscription("subscribe:agent", sub, topic, sizeof(topic),
                                               &unsub, &why));
    assert_null(why);
    assert_false(unsub);
    assert_string_equal(topic, "agent:ag1");
    assert_true(ad_compat_manager_subscription("subscribe:workspace", sub, topic, sizeof(topic),
                                               &unsub, &why));
    assert_string_equal(why, "payload.workspaceId is required");
    json_decref(sub);

    body = parse("{\"modified\":1,\"modifiedFiles\":[\"a.c\"]}");
    ad_compat_manager_answer("/api/worktrees/:id/status", body);
    text_is(body, "{\"modified\":[\"a.c\"],\"modifiedFiles\":[\"a.c\"],\"modifiedCount\":1}");
    json_decref(body);
}

static void training_health_figures(void **state)
{
    AD_UNUSED(state);
    json_t *p = parse("{\"gpu\":{\"available\":false,\"reason\":\"none\"},\"cpu\":{\"utilization\":"
                      "12.5,\"temperature\":null},\"syntheticEye\":null}");
    ad_compat_training_health(p);
    json_t *cpu = json_object_get(p, "cpu");
    assert_true(json_is_true(json_object_get(cpu, "available")));
    assert_true(json_is_true(json_object_get(cpu, "utilizationAvailable")));
    assert_true(json_is_false(json_object_get(cpu, "temperatureAvailable")));
    assert_true(json_real_value(json_object_get(cpu, "temperature")) == 0.0);
    json_t *eye = json_object_get(p, "syntheticEye");
    assert_true(json_is_false(json_object_get(eye, "available")));
    assert_string_equal(json_string_value(json_object_get(eye, "status")), "unknown");
    assert_int_equal(json_integer_value(json_object_get(p, "overallScore")), 0);
    json_decref(p);

    ad_health_sample_t *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    s->ts_ms = 5;
    s->score = 90;
    snprintf(s->gpu_reason, sizeof(s->gpu_reason), "%s", "no NVIDIA GPU");
    s->has_mem = true;
    s->mem_total = 2ull << 30;
    s->mem_available = 1ull << 30;
    json_t *ev = ad_compat_health_event(s);
    text_is(ev, "{\"ts\":5,\"gpu\":{\"available\":false,\"reason\":\"no NVIDIA GPU\"},\"cpu\":{"
                "\"utilization\":null,\"temperature\":null,\"ramUsed\":1.0,\"ramTotal\":2.0},"
                "\"syntheticEye\":null,\"overallScore\":90,\"reasons\":[]}");
    json_decref(ev);
    free(s);
}

static void training_commands(void **state)
{
    AD_UNUSED(state);
    ad_compat_cmd_kind_t kind;
    assert_false(ad_compat_training_command("subscribe", &kind));
    assert_true(ad_compat_training_command("pause_training", &kind));
    assert_int_equal(kind, AD_COMPAT_CMD_PAUSE);

    ad_compat_cmd_t cmd;
    const char *why = NULL;
    assert_int_equal(ad_compat_training_parse("stop_training", NULL, &cmd, &why), AD_EINVAL);
    assert_string_equal(why, "payload must be an object");
    json_t *p = parse("{\"id\":\"ag1\",\"initialPrompt\":3,\"force\":true}");
    assert_int_equal(ad_compat_training_parse("start_training", p, &cmd, &why), 0);
    assert_int_equal(cmd.kind, AD_COMPAT_CMD_START);
    assert_string_equal(cmd.agent_id, "ag1");
    assert_true(cmd.force);
    assert_non_null(cmd.prompt_why); /* answered once the agent is found */
    json_decref(p);
    p = parse("{\"agentId\":\"\"}");
    assert_int_equal(ad_compat_training_parse("stop_training", p, &cmd, &why), AD_EINVAL);
    assert_string_equal(why, "payload.agentId is required");
    json_decref(p);

    p = parse("{\"environment\":\"megabonk\",\"command\":[\"x\"]}");
    assert_int_equal(ad_compat_training_parse("start_autonomous_discovery", p, &cmd, &why),
                     AD_EINVAL);
    assert_int_equal(ad_compat_training_parse("start_discovery", p, &cmd, &why), 0);
    const char *argv[4];
    assert_int_equal(ad_compat_training_discovery(&cmd, p, cmd.command, argv, 4, &why), 0);
    assert_string_equal(argv[0], "x");
    assert_null(argv[1]);
    assert_string_equal(cmd.name, "megabonk");
    json_decref(p);
    p = parse("{\"name\":\"d\",\"command\":[\"a\",\"b\",\"c\",\"d\"]}");
    assert_int_equal(ad_compat_training_parse("start_discovery", p, &cmd, &why), 0);
    assert_int_equal(ad_compat_training_discovery(&cmd, p, cmd.command, argv, 4, &why), AD_EINVAL);
    json_decref(p);

    json_t *agent = parse("{\"id\":\"ag1\",\"status\":\"waiting\"}");
    json_t *up = ad_compat_training_agent_update(agent);
    text_is(up, "{\"id\":\"ag1\",\"status\":\"training\",\"agentStatus\":\"waiting\"}");
    json_decref(up);
    json_decref(agent);
    json_t *e = ad_compat_training_error("stop_training", 409, "CONFLICT", "no");
    text_is(e, "{\"code\":\"CONFLICT\",\"message\":\"no\",\"command\":\"stop_training\","
               "\"status\":409}");
    json_decref(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crews_envelope_and_snake),
        cmocka_unit_test(crews_redis_both_ways),
        cmocka_unit_test(manager_words),
        cmocka_unit_test(training_health_figures),
        cmocka_unit_test(training_commands),
    };
    return cmocka_run_group_tests_name("compat", tests, NULL, NULL);
}
