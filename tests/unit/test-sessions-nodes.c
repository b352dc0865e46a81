/* SPDX-License-Identifier: MIT */
/*
 * src/sessions' own logic beside the files (those are test-sessfile-files.c):
 * an adoption's write args keep the session's id, so the agent's next start
 * resumes it; what a node says of its sessions is taken only in the
 * listing's shapes (a bad id, tool, time or path drops the session; unknown
 * fields and roles are dropped; node {id, name} is added).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>

#include "sessions/sessions_int.h"

static void adopt_args_keep_the_session(void **state)
{
    (void)state;
    json_t *agent = json_pack("{s:s}", "id", "ag_1");
    json_t *data = json_pack("{s:{s:s, s:s}, s:[{s:s, s:s}]}", "session", "tool", "claude",
                             "sessionId", "abc-1", "messages", "role", "user", "content", "hi");
    json_t *args = ad_sessions_adopt_args(agent, data);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(args, "agent"), "sessionId")), "abc-1");
    assert_int_equal(json_array_size(json_object_get(args, "messages")), 1);
    json_decref(args);
    json_decref(data);
}

static json_t *session(const char *extra)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "{\"tool\":\"claude\",\"sessionId\":\"11111111-2222-4333-8444-555555555555\","
             "\"cwd\":\"/home/u/proj\",\"lastActivity\":\"2026-11-29T10:00:00.000Z\","
             "\"size\":12,\"live\":false%s}",
             extra);
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    return j;
}

static void node_sessions_are_checked(void **state)
{
    (void)state;
    json_t *in = session(",\"secret\":\"x\",\"firstMessage\":\"hi\"");
    json_t *s = sess_node_session(in, "nd_1", "box");
    assert_non_null(s);
    assert_string_equal(json_string_value(json_object_get(s, "firstMessage")), "hi");
    assert_null(json_object_get(s, "secret"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(s, "node"), "name")),
                        "box");
    json_decref(s);
    json_decref(in);
    static const char *const bad[] = {",\"tool\":\"vim\"", ",\"sessionId\":\"../../etc\"",
                                      ",\"cwd\":\"relative\"", ",\"lastActivity\":\"yesterday\"",
                                      ",\"sessionId\":7"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        in = session(bad[i]); /* a later key wins in jansson's object */
        assert_null(sess_node_session(in, "nd_1", "box"));
        json_decref(in);
    }
    in = json_string("x");
    assert_null(sess_node_session(in, "nd_1", "box"));
    json_decref(in);
}

static void node_messages_are_checked(void **state)
{
    (void)state;
    json_t *in = json_loads("[{\"role\":\"user\",\"content\":\"a\",\"x\":1},"
                            "{\"role\":\"root\",\"content\":\"b\"},"
                            "{\"role\":\"assistant\",\"content\":5},"
                            "{\"role\":\"tool\",\"content\":\"\",\"toolName\":\"Bash\","
                            "\"isError\":true,\"createdAt\":\"not a time\"}, 3]",
                            0, NULL);
    json_t *out = sess_node_messages(in);
    assert_int_equal(json_array_size(out), 2);
    assert_null(json_object_get(json_array_get(out, 0), "x"));
    assert_string_equal(json_string_value(json_object_get(json_array_get(out, 1), "toolName")),
                        "Bash");
    assert_true(json_is_true(json_object_get(json_array_get(out, 1), "isError")));
    assert_null(json_string_value(json_object_get(json_array_get(out, 1), "createdAt")));
    json_decref(out);
    json_decref(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(adopt_args_keep_the_session),
        cmocka_unit_test(node_sessions_are_checked),
        cmocka_unit_test(node_messages_are_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
