/* SPDX-License-Identifier: MIT */
/*
 * Bus events to OTLP spans (src/otel/spans.c): a tool call's span sits
 * under its run's, and the run's span covers it even when the tool's end
 * was read after the run's exit was seen (its time is when agentd read
 * the line, a few ms past the run's endedAt on a busy machine).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "core/core.h"
#include "otel/otel.h"

static json_t *spans_of(const char *type, const char *payload, int64_t ts, json_t *open)
{
    json_t *out = json_array();
    json_t *p = json_loads(payload, 0, NULL);
    assert_non_null(p);
    ad_otel_spans_of(type, p, ts, open, out);
    json_decref(p);
    return out;
}

static const char *field(json_t *out, size_t i, const char *key)
{
    return json_string_value(json_object_get(json_array_get(out, i), key));
}

static void a_run_span_covers_its_tools(void **state)
{
    AD_UNUSED(state);
    json_t *open = json_object();
    json_t *o = spans_of("run_started",
                         "{\"run\":{\"id\":\"run_1\",\"agentId\":\"ag_1\",\"startedAt\":1000}}",
                         1000, open);
    assert_int_equal(json_array_size(o), 0);
    json_decref(o);
    o = spans_of("tool_start",
                 "{\"runId\":\"run_1\",\"agentId\":\"ag_1\",\"toolId\":\"t1\",\"name\":\"rm\"}",
                 1100, open);
    json_decref(o);
    json_t *tool = spans_of(
        "tool_end",
        "{\"runId\":\"run_1\",\"agentId\":\"ag_1\",\"toolId\":\"t1\",\"status\":\"error\"}", 1250,
        open);
    assert_int_equal(json_array_size(tool), 1);
    assert_string_equal(field(tool, 0, "name"), "execute_tool rm");
    assert_string_equal(field(tool, 0, "startTimeUnixNano"), "1100000000");
    assert_string_equal(field(tool, 0, "endTimeUnixNano"), "1250000000");
    /* the run's exit was seen at 1200, before the tool's end was read */
    json_t *run =
        spans_of("run_ended",
                 "{\"run\":{\"id\":\"run_1\",\"agentId\":\"ag_1\",\"status\":\"completed\","
                 "\"startedAt\":1000,\"endedAt\":1200}}",
                 1260, open);
    assert_int_equal(json_array_size(run), 1);
    assert_string_equal(field(run, 0, "name"), "invoke_agent");
    assert_string_equal(field(tool, 0, "parentSpanId"), field(run, 0, "spanId"));
    assert_string_equal(field(run, 0, "startTimeUnixNano"), "1000000000");
    assert_string_equal(field(run, 0, "endTimeUnixNano"), "1250000000");
    assert_int_equal(json_object_size(open), 0); /* nothing of the run is kept */
    json_decref(tool);
    json_decref(run);

    /* a run whose tools ended in time keeps its own end */
    o = spans_of("tool_start", "{\"runId\":\"run_2\",\"toolId\":\"t1\",\"name\":\"ls\"}", 2100,
                 open);
    json_decref(o);
    o = spans_of("tool_end", "{\"runId\":\"run_2\",\"toolId\":\"t1\"}", 2150, open);
    json_decref(o);
    run = spans_of("run_ended",
                   "{\"run\":{\"id\":\"run_2\",\"agentId\":\"ag_1\",\"startedAt\":2000,"
                   "\"endedAt\":2300}}",
                   2310, open);
    assert_string_equal(field(run, 0, "endTimeUnixNano"), "2300000000");
    json_decref(run);
    json_decref(open);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_run_span_covers_its_tools),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
