/* SPDX-License-Identifier: MIT */
/* Tests for the codex app-server protocol (src/agent/appserver.c,
 * appitems.c): the lines agentd writes (initialize, thread/start, resume,
 * fork, turn/start, turn/steer, turn/interrupt, approval answers) and what
 * the records of a transcript recorded from the real Codex CLI 0.169.0
 * against the mock Responses API are (codex-app-0.169.0-approval.jsonl: a
 * command that asks for approval, its answer, usage and the turn's end).
 * Run from the repository root (make unit does). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "recs_fixture.h"

/* The n-th line of text (0-based) as JSON (owned). */
static json_t *line_json(const char *text, size_t n)
{
    const char *s = text;
    for (size_t i = 0; i < n; i++) {
        s = strchr(s, '\n');
        assert_non_null(s);
        s++;
    }
    const char *end = strchr(s, '\n');
    assert_non_null(end);
    json_t *o = json_loadb(s, (size_t)(end - s), 0, NULL);
    assert_non_null(o);
    return o;
}

static const char *str_at(json_t *o, const char *path1, const char *key)
{
    json_t *x = path1 != NULL ? json_object_get(o, path1) : o;
    return json_string_value(json_object_get(x, key));
}

static void open_lines_per_mode(void **state)
{
    (void)state;
    ad_parser_t *p = ad_parser_new(AD_EXEC_CODEX);
    ad_codex_open_t o = {.mode = AD_MODE_REGULAR, .model = "gpt-5.5", .cwd = "/w"};
    size_t len = 0;
    char *lines = ad_codex_app_open(p, &o, &len);
    assert_int_equal(len, strlen(lines));
    json_t *init = line_json(lines, 0);
    assert_string_equal(str_at(init, NULL, "method"), "initialize");
    assert_int_equal(json_integer_value(json_object_get(init, "id")), 1);
    assert_null(json_object_get(init, "jsonrpc")); /* codex omits it */
    assert_string_equal(str_at(json_object_get(init, "params"), "clientInfo", "name"), "agentd");
    json_t *initd = line_json(lines, 1);
    assert_string_equal(str_at(initd, NULL, "method"), "initialized");
    assert_null(json_object_get(initd, "id"));
    json_t *th = line_json(lines, 2);
    assert_string_equal(str_at(th, NULL, "method"), "thread/start");
    assert_string_equal(str_at(th, "params", "approvalPolicy"), "untrusted");
    assert_string_equal(str_at(th, "params", "sandbox"), "workspace-write");
    assert_string_equal(str_at(th, "params", "model"), "gpt-5.5");
    assert_string_equal(str_at(th, "params", "cwd"), "/w");
    assert_true(ad_codex_app_on(p));
    assert_false(ad_codex_app_busy(p));
    json_decref(init);
    json_decref(initd);
    json_decref(th);
    free(lines);
    ad_parser_free(p);

    /* resume, fork; plan and auto ask nothing; in agentd's sandbox codex's own is off */
    const struct {
        ad_agent_mode_t mode;
        bool fork, outer;
        const char *method, *policy, *sandbox;
    } cases[] = {
        {AD_MODE_PLAN, false, false, "thread/resume", "never", "read-only"},
        {AD_MODE_AUTO, true, false, "thread/fork", "never", "danger-full-access"},
        {AD_MODE_REGULAR, false, true, "thread/resume", "untrusted", "danger-full-access"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        p = ad_parser_new(AD_EXEC_CODEX);
        ad_codex_open_t c = {.mode = cases[i].mode,
                             .session_id = "01a2042c-94c0-7ed2-81eb-5feb7068cb11",
                             .fork = cases[i].fork,
                             .outer_sandbox = cases[i].outer};
        lines = ad_codex_app_open(p, &c, &len);
        th = line_json(lines, 2);
        assert_string_equal(str_at(th, NULL, "method"), cases[i].method);
        assert_string_equal(str_at(th, "params", "threadId"), c.session_id);
        assert_string_equal(str_at(th, "params", "approvalPolicy"), cases[i].policy);
        assert_string_equal(str_at(th, "params", "sandbox"), cases[i].sandbox);
        json_decref(th);
        free(lines);
        ad_parser_free(p);
    }
}

static const ad_rec_t *nth_of(const ad_recs_t *r, ad_rec_type_t t, size_t n)
{
    const ad_rec_t *x = nth(r, t, n);
    assert_non_null(x);
    return x;
}

static void find_msg_text(const ad_recs_t *r, ad_role_t role, const char *text)
{
    for (size_t i = 0; i < r->n; i++) {
        const ad_rec_t *x = &r->v[i];
        if (x->type == AD_REC_MESSAGE && x->role == role && x->text != NULL &&
            strcmp(x->text, text) == 0) {
            return;
        }
    }
    fail_msg("no message \"%s\"", text);
}

/* The recorded turn: the prompt waits for the thread, goes out as
 * turn/start once it is open; the command's approval; one tool card; the
 * answer; usage from the thread's totals. */
static void recorded_turn(void **state)
{
    (void)state;
    ad_parser_t *p = ad_parser_new(AD_EXEC_CODEX);
    ad_parser_set_model(p, "gpt-5.5");
    ad_codex_open_t o = {.mode = AD_MODE_REGULAR};
    size_t len = 0;
    free(ad_codex_app_open(p, &o, &len));
    char *line = (char *)"x";
    assert_int_equal(ad_codex_app_input(p, "please make a file", &line, &len), 0);
    assert_null(line); /* no thread yet */
    assert_int_equal(ad_codex_app_input(p, "bad \xff", &line, &len), AD_EINVAL);
    ad_recs_t r;
    ad_recs_init(&r);
    feed_into(p, "codex-app-0.169.0-approval.jsonl", &r);
    assert_int_equal(count(&r, AD_REC_OUTPUT), 0); /* every line understood or dropped */
    const ad_rec_t *s = nth_of(&r, AD_REC_SESSION, 0);
    assert_string_equal(s->session_id, "01a20a5f-9516-76e3-83dd-b7c62b609cf7");
    json_t *ts = json_loads(nth_of(&r, AD_REC_WRITE, 0)->text, 0, NULL);
    assert_string_equal(str_at(ts, NULL, "method"), "turn/start");
    assert_string_equal(str_at(ts, "params", "threadId"), s->session_id);
    json_t *in = json_array_get(json_object_get(json_object_get(ts, "params"), "input"), 0);
    assert_string_equal(str_at(in, NULL, "text"), "please make a file");
    json_decref(ts);
    const ad_rec_t *ap = nth_of(&r, AD_REC_APPROVAL, 0);
    assert_false(ap->is_error);
    assert_string_equal(ap->subtype, "0");
    assert_string_equal(ap->tool_name, "Bash");
    assert_string_equal(ap->tool_id, "call_mock000003");
    assert_string_equal(str_at(ap->json, NULL, "command"), "/bin/bash -lc 'echo hello > out.txt'");
    assert_true(nth_of(&r, AD_REC_APPROVAL, 1)->is_error); /* resolved: withdrawn if still open */
    assert_int_equal(count(&r, AD_REC_TOOL_START), 1);
    const ad_rec_t *end = nth_of(&r, AD_REC_TOOL_END, 0);
    assert_false(end->is_error);
    assert_int_equal(end->exit_code, 0);
    find_msg_text(&r, AD_ROLE_ASSISTANT, "I wrote hello to out.txt.");
    const ad_rec_t *res = nth_of(&r, AD_REC_RESULT, 0);
    assert_false(res->is_error);
    assert_int_equal(res->usage.input_tokens, 13937 - 6916);
    assert_int_equal(res->usage.cache_read_tokens, 6916);
    assert_int_equal(res->usage.output_tokens, 22);
    assert_int_equal(res->num_turns, 1);
    assert_false(ad_codex_app_busy(p));
    /* the next message is a new turn; once it runs, a steer */
    assert_int_equal(ad_codex_app_input(p, "again", &line, &len), 0);
    assert_non_null(strstr(line, "\"turn/start\""));
    free(line);
    assert_true(ad_codex_app_busy(p));
    ad_recs_clear(&r);
    const char *started = "{\"method\":\"turn/started\",\"params\":{\"turn\":{\"id\":\"t2\"}}}";
    ad_parser_feed(p, started, strlen(started), 1, &r);
    assert_int_equal(ad_codex_app_input(p, "and this", &line, &len), 0);
    json_t *st = json_loads(line, 0, NULL);
    free(line);
    assert_string_equal(str_at(st, NULL, "method"), "turn/steer");
    assert_string_equal(str_at(st, "params", "expectedTurnId"), "t2");
    json_decref(st);
    line = ad_codex_app_interrupt(p, &len);
    assert_non_null(strstr(line, "\"turn/interrupt\""));
    assert_non_null(strstr(line, "\"turnId\":\"t2\""));
    free(line);
    ad_recs_cleanup(&r);
    ad_parser_free(p);
}

static void answers_and_refusals(void **state)
{
    (void)state;
    size_t len = 0;
    ad_parser_t *q = ad_parser_new(AD_EXEC_CODEX);
    char *a = ad_codex_app_answer(q, "0", "acceptForSession", &len);
    assert_string_equal(a, "{\"id\":0,\"result\":{\"decision\":\"acceptForSession\"}}\n");
    assert_int_equal(len, strlen(a));
    free(a);
    a = ad_codex_app_answer(q, "\"r-1\"", "decline", &len);
    assert_string_equal(a, "{\"id\":\"r-1\",\"result\":{\"decision\":\"decline\"}}\n");
    free(a);
    assert_null(ad_codex_app_answer(q, "{}", "accept", &len));
    assert_null(ad_codex_app_answer(q, "not json", "accept", &len));
    ad_parser_free(q);

    /* a request agentd serves none of is refused; with execute, a command is accepted at once */
    ad_parser_t *p = ad_parser_new(AD_EXEC_CODEX);
    ad_codex_open_t o = {.mode = AD_MODE_REGULAR, .allow_commands = true};
    free(ad_codex_app_open(p, &o, &len));
    ad_recs_t r;
    ad_recs_init(&r);
    const char *ask = "{\"method\":\"item/tool/requestUserInput\",\"id\":7,\"params\":{}}";
    ad_parser_feed(p, ask, strlen(ask), 1, &r);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.v[0].type, AD_REC_WRITE);
    assert_non_null(strstr(r.v[0].text, "\"error\""));
    assert_non_null(strstr(r.v[0].text, "\"id\":7"));
    ad_recs_clear(&r);
    const char *cmd = "{\"method\":\"item/commandExecution/"
                      "requestApproval\",\"id\":8,\"params\":{\"itemId\":\"c\"}}";
    ad_parser_feed(p, cmd, strlen(cmd), 1, &r);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.v[0].text, "{\"id\":8,\"result\":{\"decision\":\"accept\"}}\n");
    ad_recs_clear(&r);
    const char *edit =
        "{\"method\":\"item/fileChange/requestApproval\",\"id\":9,\"params\":{\"itemId\":\"e\"}}";
    ad_parser_feed(p, edit, strlen(edit), 1, &r);
    assert_int_equal(r.v[0].type, AD_REC_APPROVAL); /* edits still ask */
    assert_string_equal(r.v[0].tool_name, "Edit");
    ad_recs_clear(&r);
    char longid[400];
    snprintf(longid, sizeof(longid),
             "{\"method\":\"item/fileChange/requestApproval\",\"id\":\"%0127d\",\"params\":{}}", 7);
    ad_parser_feed(p, longid, strlen(longid), 1, &r);
    assert_int_equal(r.n, 1); /* an id too long to keep is declined, never left waiting */
    assert_int_equal(r.v[0].type, AD_REC_WRITE);
    assert_non_null(strstr(r.v[0].text, "\"decline\""));
    ad_recs_cleanup(&r);
    ad_parser_free(p);
}

static void feed_str(ad_parser_t *p, const char *line, ad_recs_t *r)
{
    ad_parser_feed(p, line, strlen(line), 5, r);
}

/* Items of every kind agentd shows (the shapes of the 0.169 schema): a
 * file change and its diff, an MCP call, reasoning; a turn interrupted with
 * a command open closes it as a failed call. */
static void items_diff_and_interrupt(void **state)
{
    (void)state;
    ad_parser_t *p = ad_parser_new(AD_EXEC_CODEX);
    ad_codex_open_t o = {.mode = AD_MODE_AUTO};
    size_t len = 0;
    free(ad_codex_app_open(p, &o, &len));
    ad_recs_t r;
    ad_recs_init(&r);
    feed_str(
        p,
        "{\"method\":\"item/started\",\"params\":{\"item\":{\"type\":\"fileChange\",\"id\":\"fc1\","
        "\"changes\":[{\"path\":\"/w/a.md\",\"kind\":{\"type\":\"add\"},\"diff\":\"+hi\\n\"}],"
        "\"status\":\"inProgress\"}}}",
        &r);
    feed_str(p,
             "{\"method\":\"item/"
             "completed\",\"params\":{\"item\":{\"type\":\"fileChange\",\"id\":\"fc1\","
             "\"changes\":[{\"path\":\"/w/a.md\",\"kind\":{\"type\":\"add\"},\"diff\":\"+hi\\n\"}],"
             "\"status\":\"completed\"}}}",
             &r);
    feed_str(
        p,
        "{\"method\":\"item/"
        "completed\",\"params\":{\"item\":{\"type\":\"mcpToolCall\",\"id\":\"m1\","
        "\"server\":\"docs\",\"tool\":\"search\",\"arguments\":{\"q\":\"x\"},\"status\":\"failed\","
        "\"error\":{\"message\":\"no such doc\"}}}}",
        &r);
    feed_str(
        p,
        "{\"method\":\"item/completed\",\"params\":{\"item\":{\"type\":\"reasoning\",\"id\":\"r1\","
        "\"summary\":[\"Looking around\"],\"content\":[]}}}",
        &r);
    feed_str(p, "{\"method\":\"turn/diff/updated\",\"params\":{\"diff\":\"diff --git a/a.md\"}}",
             &r);
    feed_str(p,
             "{\"method\":\"item/"
             "started\",\"params\":{\"item\":{\"type\":\"commandExecution\",\"id\":\"c1\","
             "\"command\":\"sleep 9\",\"status\":\"inProgress\"}}}",
             &r);
    feed_str(p,
             "{\"method\":\"turn/"
             "completed\",\"params\":{\"turn\":{\"id\":\"t\",\"status\":\"interrupted\","
             "\"items\":[]}}}",
             &r);
    assert_int_equal(count(&r, AD_REC_OUTPUT), 0);
    assert_int_equal(count(&r, AD_REC_TOOL_START), 3); /* one card per item */
    const ad_rec_t *e = nth(&r, AD_REC_TOOL_END, 0);
    assert_string_equal(e->tool_id, "fc1");
    assert_false(e->is_error);
    const ad_rec_t *m = nth(&r, AD_REC_TOOL_END, 1);
    assert_string_equal(m->tool_id, "m1");
    assert_true(m->is_error);
    const ad_rec_t *c = nth(&r, AD_REC_TOOL_END, 2);
    assert_string_equal(c->tool_id, "c1");
    assert_true(c->is_error);
    bool edit = false, mcp = false, reason = false, diff = false, closed = false;
    for (size_t i = 0; i < r.n; i++) {
        const ad_rec_t *x = &r.v[i];
        if (x->type != AD_REC_MESSAGE) {
            continue;
        }
        edit =
            edit || (x->tool_name != NULL && strcmp(x->tool_name, "Edit") == 0 && x->is_complete &&
                     x->tool_output != NULL && strcmp(x->tool_output, "+hi\n") == 0);
        mcp = mcp || (x->tool_name != NULL && strcmp(x->tool_name, "docs.search") == 0 &&
                      x->is_complete && x->is_error && strcmp(x->tool_output, "no such doc") == 0);
        reason = reason || (x->role == AD_ROLE_SYSTEM && x->text != NULL &&
                            strcmp(x->text, "reasoning: Looking around") == 0);
        diff = diff || (x->role == AD_ROLE_SYSTEM && x->text != NULL &&
                        strcmp(x->text, "turn diff:\ndiff --git a/a.md") == 0);
        closed = closed || (x->tool_id != NULL && strcmp(x->tool_id, "c1") == 0 && x->is_complete &&
                            x->is_error && strcmp(x->tool_output, "interrupted") == 0);
    }
    assert_true(edit && mcp && reason && diff && closed);
    const ad_rec_t *res = nth(&r, AD_REC_RESULT, 0);
    assert_true(res->is_error);
    assert_string_equal(res->text, "interrupted");
    assert_string_equal(res->subtype, "interrupted");
    /* a line that is not JSON-RPC is the agent's output */
    ad_recs_clear(&r);
    feed_str(p, "WARNING: something", &r);
    feed_str(p, "{\"neither\":1}", &r);
    assert_int_equal(count(&r, AD_REC_OUTPUT), 2);
    ad_recs_cleanup(&r);
    ad_parser_free(p);
}

/* A thread codex cannot resume: a new one is started with the same
 * settings, the transcript says so, and the waiting message goes there. */
static void resume_refused_starts_anew(void **state)
{
    (void)state;
    ad_parser_t *p = ad_parser_new(AD_EXEC_CODEX);
    ad_codex_open_t o = {.mode = AD_MODE_REGULAR, .session_id = "gone-thread", .model = "m1"};
    size_t len = 0;
    free(ad_codex_app_open(p, &o, &len));
    char *line = NULL;
    assert_int_equal(ad_codex_app_input(p, "hello", &line, &len), 0);
    assert_null(line);
    ad_recs_t r;
    ad_recs_init(&r);
    feed_str(p, "{\"id\":2,\"error\":{\"code\":-32600,\"message\":\"no rollout found\"}}", &r);
    assert_int_equal(count(&r, AD_REC_RESULT), 0); /* not a failure: a new thread */
    const ad_rec_t *w = nth(&r, AD_REC_WRITE, 0);
    json_t *ts = json_loads(w->text, 0, NULL);
    assert_string_equal(str_at(ts, NULL, "method"), "thread/start");
    assert_null(json_object_get(json_object_get(ts, "params"), "threadId"));
    assert_string_equal(str_at(ts, "params", "model"), "m1");
    assert_string_equal(str_at(ts, "params", "approvalPolicy"), "untrusted");
    json_int_t id = json_integer_value(json_object_get(ts, "id"));
    json_decref(ts);
    bool said = false;
    for (size_t i = 0; i < r.n; i++) {
        said = said || (r.v[i].type == AD_REC_MESSAGE && r.v[i].role == AD_ROLE_SYSTEM &&
                        strstr(r.v[i].text, "could not resume thread gone-thread") != NULL);
    }
    assert_true(said);
    ad_recs_clear(&r);
    char ok[200];
    snprintf(ok, sizeof(ok), "{\"id\":%lld,\"result\":{\"thread\":{\"id\":\"new-thread\"}}}",
             (long long)id);
    feed_str(p, ok, &r);
    assert_string_equal(nth(&r, AD_REC_SESSION, 0)->session_id, "new-thread");
    assert_non_null(strstr(nth(&r, AD_REC_WRITE, 0)->text, "\"text\":\"hello\""));
    ad_recs_clear(&r);
    /* a new thread refused too: the turn fails, once */
    ad_parser_t *q = ad_parser_new(AD_EXEC_CODEX);
    ad_codex_open_t n = {.mode = AD_MODE_AUTO};
    free(ad_codex_app_open(q, &n, &len));
    feed_str(q, "{\"id\":2,\"error\":{\"code\":-1,\"message\":\"bad config\"}}", &r);
    assert_int_equal(count(&r, AD_REC_WRITE), 0);
    assert_non_null(strstr(nth(&r, AD_REC_RESULT, 0)->text, "bad config"));
    /* and a message is refused, not queued for a thread that will never be */
    assert_int_equal(ad_codex_app_input(q, "anyone?", &line, &len), AD_ESTATE);
    assert_null(line);
    ad_recs_cleanup(&r);
    ad_parser_free(q);
    ad_parser_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(open_lines_per_mode),        cmocka_unit_test(recorded_turn),
        cmocka_unit_test(answers_and_refusals),       cmocka_unit_test(items_diff_and_interrupt),
        cmocka_unit_test(resume_refused_starts_anew),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
