/* SPDX-License-Identifier: MIT */
/* Tests for feedback loops (issue #75): what a PUT may say (src/loop/spec.c),
 * the message a failed check or a comment becomes (src/loop/send.c), and a
 * job log's tail (src/forge/feedback.c): the last lines within the bytes,
 * cut at a line, valid UTF-8, the token masked, a note when trimmed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forge/forge.h"
#include "loop/loop_int.h"

static int check(const char *body_text, ad_prloop_spec_t *spec, ad_field_err_t *e)
{
    json_t *body = json_loads(body_text, 0, NULL);
    int rc = ad_prloop_check(body, spec, e);
    json_decref(body);
    return rc;
}

static void put_body_is_checked(void **state)
{
    AD_UNUSED(state);
    ad_prloop_spec_t s;
    ad_field_err_t e;
    json_t *body = json_loads("{\"agentId\":\"ag_01m8k8ygcyfkf802qtxk5b897x\"}", 0, NULL);
    assert_int_equal(ad_prloop_check(body, &s, &e), 0);
    assert_string_equal(s.agent_id, "ag_01m8k8ygcyfkf802qtxk5b897x");
    assert_int_equal(s.max_turns, AD_PRLOOP_TURNS_DEFAULT);
    assert_true(s.checks);
    assert_true(s.reviews);
    json_decref(body);
    const struct {
        const char *body, *field;
    } bad[] = {
        {"{}", "agentId"},
        {"{\"agentId\":7}", "agentId"},
        {"{\"agentId\":\"wt_01m8k8ygcyfkf802qtxk5b897x\"}", "agentId"},
        {"{\"agentId\":\"ag_01m8k8ygcyfkf802qtxk5b897x\",\"maxTurns\":0}", "maxTurns"},
        {"{\"agentId\":\"ag_01m8k8ygcyfkf802qtxk5b897x\",\"maxTurns\":101}", "maxTurns"},
        {"{\"agentId\":\"ag_01m8k8ygcyfkf802qtxk5b897x\",\"maxTurns\":\"3\"}", "maxTurns"},
        {"{\"agentId\":\"ag_01m8k8ygcyfkf802qtxk5b897x\",\"checks\":\"yes\"}", "checks"},
        {"{\"agentId\":\"ag_01m8k8ygcyfkf802qtxk5b897x\",\"checks\":false,\"reviews\":false}",
         "checks"},
        {"[1]", "body"},
    };
    for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
        memset(&e, 0, sizeof(e));
        assert_int_equal(check(bad[i].body, &s, &e), AD_EINVAL);
        assert_string_equal(e.field, bad[i].field);
    }
    assert_int_equal(
        check("{\"agentId\":\"ag_01m8k8ygcyfkf802qtxk5b897x\",\"maxTurns\":100,\"reviews\":false}",
              &s, &e),
        0);
    assert_int_equal(s.max_turns, 100);
    assert_false(s.reviews);
}

static void messages_say_what_and_where(void **state)
{
    AD_UNUSED(state);
    json_t *pr = json_pack("{s:i}", "number", 7);
    json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:s}", "forgeId", "run:1", "name", "build", "url",
                          "https://ci/1", "detail", "1 test failed", "log", "boom\n");
    char *m = ad_prloop_message(pr, c, "check");
    assert_non_null(strstr(m, "The check \"build\" failed on pull request #7 (https://ci/1)."));
    assert_non_null(strstr(m, "1 test failed"));
    assert_non_null(strstr(m, "```\nboom\n\n```"));
    free(m);
    json_decref(c);
    c = json_pack("{s:s, s:s, s:s, s:s, s:i}", "forgeId", "review:2", "author", "ann", "body",
                  "rename it", "path", "src/a.c", "line", 12);
    m = ad_prloop_message(pr, c, "review");
    assert_non_null(strstr(m, "ann commented on pull request #7 on src/a.c:12:\n\nrename it"));
    free(m);
    json_object_del(c, "line");
    m = ad_prloop_message(pr, c, "review");
    assert_non_null(strstr(m, "on src/a.c:\n"));
    free(m);
    json_decref(c);
    /* a body past the bound: cut on a character, under it, saying so */
    char *big = malloc(AD_PRLOOP_MESSAGE_MAX + 100);
    for (size_t i = 0; i + 2 < AD_PRLOOP_MESSAGE_MAX + 100; i += 2) {
        memcpy(big + i, "\xc3\xa9", 2); /* é */
    }
    big[AD_PRLOOP_MESSAGE_MAX + 98] = '\0';
    c = json_pack("{s:s, s:s, s:s}", "forgeId", "comment:3", "author", "bob", "body", big);
    m = ad_prloop_message(pr, c, "review");
    assert_true(strlen(m) <= AD_PRLOOP_MESSAGE_MAX);
    assert_true(ad_utf8_valid(m, strlen(m)));
    assert_non_null(strstr(m, "[cut: the message was longer than"));
    free(m);
    free(big);
    json_decref(c);
    json_decref(pr);
}

static void log_tails_are_trimmed_and_clean(void **state)
{
    AD_UNUSED(state);
    json_t *t = ad_forge_log_tail("one\ntwo\n", 8, "");
    assert_string_equal(json_string_value(t), "one\ntwo\n");
    json_decref(t);
    /* 400 lines: the last AD_FORGE_LOG_LINES, with the note */
    char *log = malloc(400 * 16);
    size_t n = 0;
    for (int i = 1; i <= 400; i++) {
        n += (size_t)snprintf(log + n, 16, "line %d\n", i);
    }
    t = ad_forge_log_tail(log, n, "");
    const char *s = json_string_value(t);
    char want[100];
    snprintf(want, sizeof(want), "[log trimmed: its last %d lines of 400 are below]\nline %d\n",
             AD_FORGE_LOG_LINES, 400 - AD_FORGE_LOG_LINES + 1);
    assert_int_equal(strncmp(s, want, strlen(want)), 0);
    assert_null(strstr(s, "line 250\n"));
    assert_non_null(strstr(s, "line 400\n"));
    json_decref(t);
    free(log);
    /* long lines: within the bytes, cut at a line; the token masked;
     * bytes that are no UTF-8 repaired */
    size_t big = AD_FORGE_LOG_MAX * 3;
    log = malloc(big + 64);
    for (size_t i = 0; i < big; i++) {
        log[i] = (i % 1000) == 999 ? '\n' : 'x';
    }
    n = big;
    n += (size_t)snprintf(log + n, 64, "tok=ghp_secret \xff\n");
    t = ad_forge_log_tail(log, n, "ghp_secret");
    s = json_string_value(t);
    assert_non_null(s);
    assert_true(strlen(s) <= AD_FORGE_LOG_MAX + 200);
    assert_null(strstr(s, "ghp_secret"));
    assert_non_null(strstr(s, "tok=**********"));
    const char *body = strchr(s, '\n') + 1; /* after the note: whole lines */
    assert_true(body[0] == 'x' && strspn(body, "x") == 999);
    json_decref(t);
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(put_body_is_checked),
        cmocka_unit_test(messages_say_what_and_where),
        cmocka_unit_test(log_tails_are_trimmed_and_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
