/* SPDX-License-Identifier: MIT */
/* Tests for the ACP client's parser (src/agent/acp*.c): the handshake and
 * the first prompt, streamed text, one card per tool call, usage, messages
 * that wait for the turn, permission requests as approvals or answered at
 * once (mode, permissions, a path outside the worktree), fs and terminal
 * requests checked by name, asked or granted, session/load, cancel, and the faults
 * (not JSON, an unknown session). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_int.h"
#include "recs_fixture.h"

static ad_recs_t r;

static size_t feed(ad_parser_t *p, const char *line)
{
    ad_recs_clear(&r);
    return ad_parser_feed(p, line, strlen(line), 0, &r);
}

/* The JSON of the nth AD_REC_WRITE (owned). */
static json_t *written(size_t n)
{
    const ad_rec_t *w = nth(&r, AD_REC_WRITE, n);
    json_t *j = json_loads(w->text, 0, NULL);
    assert_non_null(j);
    assert_int_equal(w->text[strlen(w->text) - 1], '\n');
    return j;
}

static const char *str_at(json_t *j, const char *a, const char *b)
{
    json_t *v = json_object_get(j, a);
    return json_string_value(b != NULL ? json_object_get(v, b) : v);
}

/* A parser past the handshake with session "s1" in /w (prompt sent when
 * given: its id is 3). */
static ad_parser_t *ready(ad_agent_mode_t mode, const char *prompt, const char *perm)
{
    ad_parser_t *p = ad_parser_new(AD_EXEC_ACP);
    const char *perms[] = {perm};
    ad_acp_setup_t s = {.cwd = "/w",
                        .prompt = prompt,
                        .mode = mode,
                        .permissions = perms,
                        .npermissions = perm != NULL ? 1 : 0};
    size_t len = 0;
    char *init = ad_acp_begin(p, &s, &len);
    json_t *j = json_loads(init, 0, NULL);
    assert_string_equal(str_at(j, "method", NULL), "initialize");
    json_t *fs =
        json_object_get(json_object_get(json_object_get(j, "params"), "clientCapabilities"), "fs");
    assert_true(json_is_true(json_object_get(fs, "readTextFile")));
    assert_int_equal(json_is_true(json_object_get(fs, "writeTextFile")), mode != AD_MODE_PLAN);
    json_decref(j);
    free(init);
    feed(p, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"protocolVersion\":1,\"agentInfo\":{"
            "\"version\":\"9.1.0\"}}}");
    assert_string_equal(nth(&r, AD_REC_SESSION, 0)->version, "9.1.0");
    j = written(0);
    assert_string_equal(str_at(j, "method", NULL), "session/new");
    assert_string_equal(str_at(j, "params", "cwd"), "/w");
    json_decref(j);
    feed(p, "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"sessionId\":\"s1\"}}");
    assert_string_equal(nth(&r, AD_REC_SESSION, 0)->session_id, "s1");
    assert_int_equal(count(&r, AD_REC_WRITE), prompt != NULL ? 1 : 0);
    return p;
}

static void handshake_turn_and_tools(void **state)
{
    AD_UNUSED(state);
    ad_parser_t *p = ready(AD_MODE_REGULAR, "hi", NULL);
    json_t *j = written(0);
    assert_string_equal(str_at(j, "method", NULL), "session/prompt");
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 3);
    json_decref(j);
    assert_true(ad_acp_busy(p));

    feed(p, "{\"jsonrpc\":\"2.0\",\"method\":\"session/update\",\"params\":{\"sessionId\":\"s1\","
            "\"update\":{\"sessionUpdate\":\"agent_message_chunk\",\"content\":{\"type\":\"text\","
            "\"text\":\"Hel\"}}}}");
    assert_string_equal(nth(&r, AD_REC_DELTA, 0)->text, "Hel");
    /* a message sent now waits for the turn */
    char *line = NULL;
    size_t len = 0;
    assert_int_equal(ad_acp_prompt(p, "next", &line, &len), 0);
    assert_null(line);
    feed(p,
         "{\"jsonrpc\":\"2.0\",\"method\":\"session/update\",\"params\":{\"sessionId\":\"s1\","
         "\"update\":{\"sessionUpdate\":\"tool_call\",\"toolCallId\":\"t1\",\"title\":\"Read a\","
         "\"kind\":\"read\",\"rawInput\":{\"p\":1}}}}");
    /* the text so far is one message, then the card */
    assert_string_equal(nth(&r, AD_REC_MESSAGE, 0)->text, "Hel");
    assert_string_equal(nth(&r, AD_REC_TOOL_START, 0)->tool_name, "Read a");
    const ad_rec_t *m = nth(&r, AD_REC_MESSAGE, 1);
    assert_int_equal(m->role, AD_ROLE_TOOL);
    assert_false(m->is_complete);
    feed(p, "{\"jsonrpc\":\"2.0\",\"method\":\"session/update\",\"params\":{\"sessionId\":\"s1\","
            "\"update\":{\"sessionUpdate\":\"tool_call_update\",\"toolCallId\":\"t1\",\"status\":"
            "\"failed\",\"content\":[{\"type\":\"content\",\"content\":{\"type\":\"text\",\"text\":"
            "\"nope\"}}]}}}");
    assert_true(nth(&r, AD_REC_TOOL_END, 0)->is_error);
    m = nth(&r, AD_REC_MESSAGE, 0);
    assert_true(m->is_complete && m->is_error);
    assert_string_equal(m->tool_output, "nope");
    assert_string_equal(m->tool_id, "t1");
    feed(p, "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"stopReason\":\"end_turn\",\"usage\":{"
            "\"inputTokens\":7,\"outputTokens\":3}}}");
    const ad_rec_t *res = nth(&r, AD_REC_RESULT, 0);
    assert_string_equal(res->subtype, "end_turn");
    assert_int_equal(res->usage.input_tokens, 7);
    assert_int_equal(res->usage.output_tokens, 3);
    /* the waiting message goes out at once */
    j = written(0);
    assert_string_equal(str_at(j, "method", NULL), "session/prompt");
    json_decref(j);
    line = ad_acp_cancel(p, &len);
    j = json_loads(line, 0, NULL);
    assert_string_equal(str_at(j, "method", NULL), "session/cancel");
    assert_string_equal(str_at(j, "params", "sessionId"), "s1");
    json_decref(j);
    free(line);
    ad_parser_free(p);
}

static const char PERM_HEAD[] =
    "{\"jsonrpc\":\"2.0\",\"id\":\"q1\",\"method\":\"session/request_permission\",\"params\":{"
    "\"sessionId\":\"s1\",\"toolCall\":{\"toolCallId\":\"e1\",\"title\":\"Edit\",\"kind\":\"edit\","
    "\"locations\":[{\"path\":\"";
static const char PERM_TAIL[] =
    "\"}]},\"options\":[{\"optionId\":\"yes\",\"kind\":\"allow_once\"},"
    "{\"optionId\":\"always\",\"kind\":\"allow_always\"},{\"optionId\":\"no\",\"kind\":"
    "\"reject_once\"}]}}";

static void feed_perm(ad_parser_t *p, const char *path)
{
    char line[1024];
    snprintf(line, sizeof(line), "%s%s%s", PERM_HEAD, path, PERM_TAIL);
    feed(p, line);
}

/* The optionId the parser answered request q1 with (NULL: none). */
static void expect_answer(const char *option)
{
    json_t *j = written(0);
    assert_string_equal(str_at(j, "id", NULL), "q1");
    json_t *o = json_object_get(json_object_get(j, "result"), "outcome");
    assert_string_equal(json_string_value(json_object_get(o, "optionId")), option);
    json_decref(j);
}

static void permissions(void **state)
{
    AD_UNUSED(state);
    ad_parser_t *p = ready(AD_MODE_REGULAR, NULL, NULL);
    feed_perm(p, "/w/a.txt");
    const ad_rec_t *ap = nth(&r, AD_REC_APPROVAL, 0);
    assert_string_equal(ap->subtype, "\"q1\"");
    assert_string_equal(ap->tool_name, "write");
    assert_string_equal(ap->tool_id, "e1");
    assert_int_equal(json_array_size(json_object_get(ap->json, "options")), 3);
    assert_int_equal(count(&r, AD_REC_TOOL_START), 1); /* the card first */
    size_t len = 0;
    char *line = ad_acp_permission_answer(p, "\"q1\"", AD_ACP_ALLOW_ALWAYS, NULL, &len);
    assert_non_null(strstr(line, "\"optionId\":\"always\""));
    free(line);
    assert_null(ad_acp_permission_answer(p, "\"q1\"", AD_ACP_DENY, NULL, &len));
    /* a request asked of the agentd before a restart (this parser never saw
     * it): answered from the options the approval stored */
    json_t *stored = json_object_get(ap->json, "options");
    line = ad_acp_permission_answer(p, "\"q1\"", AD_ACP_DENY, stored, &len);
    assert_non_null(line);
    json_t *j = json_loads(line, JSON_DECODE_ANY, NULL);
    free(line);
    assert_string_equal(str_at(j, "id", NULL), "q1");
    json_t *o = json_object_get(json_object_get(j, "result"), "outcome");
    assert_string_equal(str_at(o, "optionId", NULL), "no");
    json_decref(j);
    line = ad_acp_permission_answer(p, "7", AD_ACP_ALLOW, stored, &len);
    assert_non_null(strstr(line, "\"id\":7"));
    assert_non_null(strstr(line, "\"optionId\":\"yes\""));
    free(line);
    assert_null(ad_acp_permission_answer(p, "{}", AD_ACP_ALLOW, stored, &len)); /* not an id */
    /* outside the worktree: refused unasked */
    feed_perm(p, "/etc/passwd");
    assert_int_equal(count(&r, AD_REC_APPROVAL), 0);
    expect_answer("no");
    feed_perm(p, "/w/../etc/passwd");
    expect_answer("no");
    ad_parser_free(p);

    p = ready(AD_MODE_REGULAR, NULL, "write"); /* the permissions allow edits */
    feed_perm(p, "/w/a.txt");
    assert_int_equal(count(&r, AD_REC_APPROVAL), 0);
    expect_answer("yes");
    ad_parser_free(p);
    p = ready(AD_MODE_PLAN, NULL, NULL);
    feed_perm(p, "/w/a.txt");
    expect_answer("no");
    ad_parser_free(p);
    p = ready(AD_MODE_AUTO, NULL, NULL);
    feed_perm(p, "/w/a.txt");
    expect_answer("yes");
    ad_parser_free(p);
}

static void fs_and_terminal(void **state)
{
    AD_UNUSED(state);
    ad_parser_t *p = ready(AD_MODE_REGULAR, NULL, "read");
    feed(p, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"fs/read_text_file\",\"params\":{"
            "\"sessionId\":\"s1\",\"path\":\"/w/src/a.c\",\"line\":2}}");
    const ad_rec_t *q = nth(&r, AD_REC_REQUEST, 0);
    assert_string_equal(q->subtype, "fs/read_text_file");
    assert_string_equal(q->text, "src/a.c");
    assert_string_equal(q->tool_id, "9");
    size_t len = 0;
    char *line = ad_acp_reply(p, "9", json_pack("{s:s}", "content", "x"), 0, NULL, &len);
    assert_string_equal(line, "{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{\"content\":\"x\"}}\n");
    free(line);
    const char *bad[] = {"/w/../x", "/wx/a", "relative", "/etc/passwd", "/w"};
    for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
        char req[256];
        snprintf(req, sizeof(req),
                 "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"fs/write_text_file\",\"params\":{"
                 "\"sessionId\":\"s1\",\"path\":\"%s\",\"content\":\"\"}}",
                 bad[i]);
        feed(p, req);
        assert_int_equal(count(&r, AD_REC_REQUEST), 0);
        json_t *j = written(0);
        assert_string_equal(str_at(j, "error", "message"), "path is outside the worktree");
        json_decref(j);
    }
    /* no execute: the terminal is asked, allowed, then served */
    feed(p, "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"terminal/create\",\"params\":{"
            "\"sessionId\":\"s1\",\"command\":\"ls\",\"args\":[\"-l\"],\"cwd\":\"/w/src\"}}");
    const ad_rec_t *ap = nth(&r, AD_REC_APPROVAL, 0);
    assert_string_equal(ap->tool_name, "execute");
    assert_string_equal(ap->text, "Run ls -l (in src)");
    assert_string_equal(ad_json_str(ap->json, "method"), "terminal/create");
    ad_recs_t d;
    ad_recs_init(&d);
    assert_true(ad_acp_decide(p, "11", AD_ACP_ALLOW, "execute", NULL, &d));
    assert_int_equal(d.n, 1);
    assert_int_equal(d.v[0].type, AD_REC_REQUEST);
    assert_string_equal(d.v[0].subtype, "terminal/create");
    assert_string_equal(d.v[0].text, "src");
    assert_false(ad_acp_decide(p, "11", AD_ACP_ALLOW, "execute", NULL, &d)); /* decided */
    ad_recs_clear(&d);
    /* a deny answers the agent with an error */
    feed(p, "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"terminal/create\",\"params\":{"
            "\"sessionId\":\"s1\",\"command\":\"ls\"}}");
    assert_true(ad_acp_decide(p, "12", AD_ACP_DENY, "execute", NULL, &d));
    assert_int_equal(d.v[0].type, AD_REC_WRITE);
    assert_non_null(strstr(d.v[0].text, "the user denied this request"));
    ad_recs_clear(&d);
    /* a cwd outside, bad params: refused before anything is asked */
    const char *refused[] = {"\"command\":\"ls\",\"cwd\":\"/etc\"", "\"command\":\"\"",
                             "\"command\":\"ls\",\"args\":[1]",
                             "\"command\":\"ls\",\"env\":[{\"name\":\"A B\",\"value\":\"\"}]",
                             "\"command\":\"ls\",\"outputByteLimit\":-5"};
    for (size_t i = 0; i < AD_ARRAY_LEN(refused); i++) {
        char req[512];
        snprintf(req, sizeof(req),
                 "{\"jsonrpc\":\"2.0\",\"id\":13,\"method\":\"terminal/create\",\"params\":{"
                 "\"sessionId\":\"s1\",%s}}",
                 refused[i]);
        feed(p, req);
        assert_int_equal(count(&r, AD_REC_APPROVAL), 0);
        assert_int_equal(count(&r, AD_REC_REQUEST), 0);
        json_t *e = written(0);
        assert_non_null(json_object_get(e, "error"));
        json_decref(e);
    }
    /* a write over 4 MiB is refused before anything is asked */
    size_t big = (4u << 20) + 1;
    char *huge = malloc(big + 200);
    int n = snprintf(huge, 200,
                     "{\"jsonrpc\":\"2.0\",\"id\":17,\"method\":\"fs/write_text_file\","
                     "\"params\":{\"sessionId\":\"s1\",\"path\":\"/w/big\",\"content\":\"");
    memset(huge + n, 'x', big);
    memcpy(huge + n + big, "\"}}", 4);
    feed(p, huge);
    free(huge);
    assert_int_equal(count(&r, AD_REC_APPROVAL), 0);
    json_t *e = written(0);
    assert_string_equal(str_at(e, "error", "message"), "content is over 4 MiB");
    json_decref(e);
    /* the other terminal methods name a terminal, and go to the runner */
    feed(p, "{\"jsonrpc\":\"2.0\",\"id\":14,\"method\":\"terminal/output\",\"params\":{"
            "\"sessionId\":\"s1\",\"terminalId\":\"term-1\"}}");
    assert_string_equal(nth(&r, AD_REC_REQUEST, 0)->text, "term-1");
    /* a permission the user allowed grants the terminal that carries it out */
    feed_perm(p, "/w/a.txt");
    assert_true(ad_acp_decide(p, "\"q1\"", AD_ACP_ALLOW, NULL, NULL, &d));
    ad_recs_clear(&d);
    feed(p, "{\"jsonrpc\":\"2.0\",\"id\":15,\"method\":\"fs/write_text_file\",\"params\":{"
            "\"sessionId\":\"s1\",\"path\":\"/w/a.txt\",\"content\":\"x\"}}");
    assert_int_equal(count(&r, AD_REC_REQUEST), 1); /* the edit's write: not asked again */
    feed(p, "{\"jsonrpc\":\"2.0\",\"id\":16,\"method\":\"fs/write_text_file\",\"params\":{"
            "\"sessionId\":\"s1\",\"path\":\"/w/a.txt\",\"content\":\"y\"}}");
    assert_int_equal(count(&r, AD_REC_APPROVAL), 1); /* once only */
    ad_recs_cleanup(&d);
    ad_parser_free(p);

    /* plan mode: no terminal offered, writes refused */
    p = ready(AD_MODE_PLAN, NULL, NULL);
    feed(p, "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"terminal/create\",\"params\":{"
            "\"sessionId\":\"s1\",\"command\":\"ls\"}}");
    json_t *j = written(0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "error"), "code")),
                     AD_RPC_METHOD_NOT_FOUND);
    json_decref(j);
    ad_parser_free(p);
}

static void faults(void **state)
{
    AD_UNUSED(state);
    ad_parser_t *p = ready(AD_MODE_REGULAR, NULL, NULL);
    feed(p, "{\"jsonrpc\":\"2.0\",\"method\":\"session/update\",\"params\":{\"sessionId\":\"s2\","
            "\"update\":{}}}");
    assert_non_null(strstr(nth(&r, AD_REC_FAULT, 0)->text, "unknown session s2"));
    /* nothing more is read */
    assert_int_equal(feed(p, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"}"), 0);
    ad_parser_free(p);
    p = ready(AD_MODE_REGULAR, NULL, NULL);
    feed(p, "{\"jsonrpc\":\"2.0\",\"method\":");
    assert_non_null(strstr(nth(&r, AD_REC_FAULT, 0)->text, "not JSON"));
    ad_parser_free(p);
    p = ready(AD_MODE_REGULAR, NULL, NULL);
    feed(p, "plain text");
    assert_int_equal(count(&r, AD_REC_FAULT), 1);
    ad_parser_free(p);
}

static void load_session(void **state)
{
    AD_UNUSED(state);
    ad_parser_t *p = ad_parser_new(AD_EXEC_ACP);
    ad_acp_setup_t s = {.cwd = "/w", .session_id = "old", .prompt = "again"};
    size_t len = 0;
    free(ad_acp_begin(p, &s, &len));
    feed(p, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"protocolVersion\":1,\"agentCapabilities\":"
            "{\"loadSession\":true}}}");
    json_t *j = written(0);
    assert_string_equal(str_at(j, "method", NULL), "session/load");
    assert_string_equal(str_at(j, "params", "sessionId"), "old");
    json_decref(j);
    /* the replayed history is not kept */
    feed(p, "{\"jsonrpc\":\"2.0\",\"method\":\"session/update\",\"params\":{\"sessionId\":\"old\","
            "\"update\":{\"sessionUpdate\":\"agent_message_chunk\",\"content\":{\"type\":\"text\","
            "\"text\":\"past\"}}}}");
    assert_int_equal(r.n, 0);
    feed(p, "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}");
    assert_string_equal(nth(&r, AD_REC_SESSION, 0)->session_id, "old");
    j = written(0);
    assert_string_equal(str_at(j, "method", NULL), "session/prompt");
    json_decref(j);
    ad_parser_free(p);
}

static void rel_paths(void **state)
{
    AD_UNUSED(state);
    struct {
        const char *path, *rel;
    } cases[] = {{"/w/a", "a"},       {"/w//b/c", "b/c"}, {"/w", ""},         {"/w/", ""},
                 {"/w/a/../b", NULL}, {"/w/..", NULL},    {"/wx", NULL},      {"w/a", NULL},
                 {"/other", NULL},    {"/w/...", "..."},  {"/w/a..b", "a..b"}};
    for (size_t i = 0; i < AD_ARRAY_LEN(cases); i++) {
        char *rel = ad_acp_rel_path("/w/", cases[i].path);
        if (cases[i].rel == NULL) {
            assert_null(rel);
        } else {
            assert_non_null(rel);
            assert_string_equal(rel, cases[i].rel);
        }
        free(rel);
    }
}

static int setup(void **state)
{
    AD_UNUSED(state);
    ad_recs_init(&r);
    return 0;
}

static int teardown(void **state)
{
    AD_UNUSED(state);
    ad_recs_cleanup(&r);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(handshake_turn_and_tools),
        cmocka_unit_test(permissions),
        cmocka_unit_test(fs_and_terminal),
        cmocka_unit_test(faults),
        cmocka_unit_test(load_session),
        cmocka_unit_test(rel_paths),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
