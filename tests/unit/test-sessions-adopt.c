/* SPDX-License-Identifier: MIT */
/*
 * src/sessions' own logic beside the files (those are test-sessfile-files.c):
 * an adoption's write args keep the session's id, so the agent's next start
 * resumes it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sessions/sessions.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(adopt_args_keep_the_session),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
