/* SPDX-License-Identifier: MIT */
/* Parser tests on lines recorded from the real CLIs agentd runs: Codex
 * 0.169.0 (`codex exec --json`) and Gemini CLI 0.61.0 (`--output-format
 * stream-json`) against tests/fixtures/mock-openai.js and mock-gemini.js
 * (tests/fixtures/capture-cli-transcripts.js). One test per event type and
 * scenario: text, reasoning, commands, file changes, web searches, warnings,
 * API errors before and in the middle of a turn, interrupts, resumes, usage
 * and cost at configured prices. Run from the repository root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "recs_fixture.h"

#define CODEX "codex-0.169.0-"
#define GEMINI "gemini-0.61.0-"

/* The first notice of subtype sub, or NULL. */
static const ad_rec_t *notice(const ad_recs_t *r, const char *sub)
{
    for (size_t i = 0; i < r->n; i++) {
        if (r->v[i].type == AD_REC_NOTICE && strcmp(r->v[i].subtype, sub) == 0) {
            return &r->v[i];
        }
    }
    return NULL;
}

/* The tool message (role tool, complete) of tool_id. */
static const ad_rec_t *tool_msg(const ad_recs_t *r, const char *tool_id)
{
    for (size_t i = 0; i < r->n; i++) {
        const ad_rec_t *x = &r->v[i];
        if (x->type == AD_REC_MESSAGE && x->role == AD_ROLE_TOOL && x->is_complete &&
            x->tool_id != NULL && strcmp(x->tool_id, tool_id) == 0) {
            return x;
        }
    }
    fail_msg("no completed tool message for %s", tool_id);
    return NULL;
}

static const char *text_of(const ad_recs_t *r, ad_role_t role, size_t k)
{
    for (size_t i = 0; i < r->n; i++) {
        if (r->v[i].type == AD_REC_MESSAGE && r->v[i].role == role && k-- == 0) {
            return r->v[i].text;
        }
    }
    fail_msg("no message #%zu of role %s", k, ad_role_name(role));
    return NULL;
}

static json_t *prices(void)
{
    json_t *p = json_loads("{\"gpt-5.5\":{\"input\":1.25,\"output\":10,\"cachedInput\":0.125},"
                           "\"gemini-3.5-flash-lite\":{\"input\":0.1,\"output\":0.4},"
                           "\"gemini-3.8-*\":{\"input\":0.3,\"output\":2.5,\"cachedInput\":0.03}}",
                           0, NULL);
    assert_non_null(p);
    return p;
}

/* ---- codex ------------------------------------------------------------------------ */

static void codex_text_turn_usage_and_cost(void **state)
{
    (void)state;
    ad_recs_t r;
    ad_recs_init(&r);
    ad_parser_t *p = feed_file(AD_EXEC_CODEX, CODEX "text.jsonl", &r);
    /* thread.started: the thread to resume */
    const ad_rec_t *s = nth(&r, AD_REC_SESSION, 0);
    assert_string_equal(s->session_id, "01a2042c-9370-7ea1-8548-9e5e67242584");
    assert_string_equal(ad_parser_session_id(p), s->session_id);
    /* item.completed agent_message: the answer, whole (exec --json streams
     * no deltas) */
    assert_string_equal(text_of(&r, AD_ROLE_ASSISTANT, 0), "Hello from the mock.");
    assert_int_equal(count(&r, AD_REC_DELTA), 0);
    /* turn.completed: usage, no cost without a model and a price, said once */
    const ad_rec_t *res = nth(&r, AD_REC_RESULT, 0);
    assert_false(res->is_error);
    assert_string_equal(res->subtype, "success");
    assert_int_equal(res->usage.input_tokens, 7084);
    assert_int_equal(res->usage.cache_read_tokens, 0);
    assert_int_equal(res->usage.output_tokens, 6);
    assert_int_equal(res->num_turns, 1);
    assert_true(res->cost_usd == 0);
    assert_true(res->total_cost_usd < 0);
    const ad_rec_t *n = notice(&r, "price");
    assert_non_null(n);
    assert_non_null(strstr(n->text, "codex does not say which model it used"));
    ad_parser_free(p);
    ad_recs_clear(&r);

    /* the agent's model and the model_prices setting: a cost, and cached
     * input at its own price (a part of input_tokens) */
    p = ad_parser_new(AD_EXEC_CODEX);
    json_t *pr = prices();
    ad_parser_set_model(p, "gpt-5.5");
    ad_parser_set_prices(p, pr);
    json_decref(pr); /* the parser keeps its own reference */
    feed_into(p, CODEX "command.jsonl", &r);
    res = nth(&r, AD_REC_RESULT, 0);
    assert_int_equal(res->usage.input_tokens, 14278 - 7087);
    assert_int_equal(res->usage.cache_read_tokens, 7087);
    assert_int_equal(res->usage.output_tokens, 22);
    double want = ((14278 - 7087) * 1.25 + 7087 * 0.125 + 22 * 10.0) / 1e6;
    assert_true(fabs(res->cost_usd - want) < 1e-12);
    assert_string_equal(res->model, "gpt-5.5");
    assert_null(notice(&r, "price"));
    ad_parser_free(p);
    ad_recs_clear(&r);

    /* a model without a price: said once per run, not per turn */
    p = ad_parser_new(AD_EXEC_CODEX);
    ad_parser_set_model(p, "gpt-9");
    feed_into(p, CODEX "text.jsonl", &r);
    feed_into(p, CODEX "resume.jsonl", &r);
    assert_int_equal(count(&r, AD_REC_RESULT), 2);
    assert_non_null(strstr(notice(&r, "price")->text, "no price for it"));
    size_t prices_said = 0;
    for (size_t i = 0; i < r.n; i++) {
        prices_said += r.v[i].type == AD_REC_NOTICE && strcmp(r.v[i].subtype, "price") == 0;
    }
    assert_int_equal(prices_said, 1);
    ad_parser_free(p);
    ad_recs_cleanup(&r);
}

static void codex_reasoning_and_resume(void **state)
{
    (void)state;
    ad_recs_t r;
    ad_recs_init(&r);
    ad_parser_t *p = feed_file(AD_EXEC_CODEX, CODEX "reasoning.jsonl", &r);
    /* item.completed reasoning: a notice, not a message */
    const ad_rec_t *n = notice(&r, "reasoning");
    assert_non_null(n);
    assert_string_equal(n->text, "Noting the word");
    assert_string_equal(text_of(&r, AD_ROLE_ASSISTANT, 0), "I will remember the word banana.");
    char thread[64];
    snprintf(thread, sizeof(thread), "%s", nth(&r, AD_REC_SESSION, 0)->session_id);
    ad_parser_free(p);
    ad_recs_clear(&r);
    /* `exec resume ID`: thread.started names the same thread */
    p = feed_file(AD_EXEC_CODEX, CODEX "resume.jsonl", &r);
    assert_string_equal(nth(&r, AD_REC_SESSION, 0)->session_id, thread);
    assert_string_equal(text_of(&r, AD_ROLE_ASSISTANT, 0), "The word was banana.");
    assert_int_equal(nth(&r, AD_REC_RESULT, 0)->usage.cache_read_tokens, 7088);
    ad_parser_free(p);
    ad_recs_cleanup(&r);
}

static void codex_command_execution(void **state)
{
    (void)state;
    ad_recs_t r;
    ad_recs_init(&r);
    ad_parser_t *p = feed_file(AD_EXEC_CODEX, CODEX "command.jsonl", &r);
    /* item.started command_execution: tool_start and an open tool message */
    assert_int_equal(count(&r, AD_REC_TOOL_START), 1);
    const ad_rec_t *st = nth(&r, AD_REC_TOOL_START, 0);
    assert_string_equal(st->tool_id, "item_0");
    assert_string_equal(st->tool_name, "Bash");
    assert_string_equal(json_string_value(json_object_get(st->json, "command")),
                        "/bin/bash -lc 'echo hello > out.txt'");
    /* item.completed: tool_end with its exit code and duration */
    const ad_rec_t *e = nth(&r, AD_REC_TOOL_END, 0);
    assert_string_equal(e->tool_id, "item_0");
    assert_false(e->is_error);
    assert_int_equal(e->exit_code, 0);
    assert_int_equal(e->duration_ms, 10);
    const ad_rec_t *m = tool_msg(&r, "item_0");
    assert_string_equal(m->tool_name, "Bash");
    assert_string_equal(m->tool_output, "");
    assert_int_equal(m->exit_code, 0);
    assert_string_equal(text_of(&r, AD_ROLE_ASSISTANT, 0), "I wrote hello to out.txt.");
    assert_int_equal(ad_parser_finish(p, 0, &r), 0); /* nothing left open */
    ad_parser_free(p);
    ad_recs_cleanup(&r);
}

static void codex_file_change_and_web_search(void **state)
{
    (void)state;
    ad_recs_t r;
    ad_recs_init(&r);
    ad_parser_t *p = feed_file(AD_EXEC_CODEX, CODEX "patch.jsonl", &r);
    /* file_change: started and completed, one tool call */
    assert_int_equal(count(&r, AD_REC_TOOL_START), 1);
    assert_int_equal(count(&r, AD_REC_TOOL_END), 1);
    const ad_rec_t *st = nth(&r, AD_REC_TOOL_START, 0);
    assert_string_equal(st->tool_name, "Edit");
    json_t *change = json_array_get(json_object_get(st->json, "changes"), 0);
    assert_string_equal(json_string_value(json_object_get(change, "kind")), "add");
    assert_non_null(strstr(json_string_value(json_object_get(change, "path")), "/notes.md"));
    assert_false(nth(&r, AD_REC_TOOL_END, 0)->is_error);
    ad_parser_free(p);
    ad_recs_clear(&r);

    p = feed_file(AD_EXEC_CODEX, CODEX "search.jsonl", &r);
    assert_int_equal(count(&r, AD_REC_TOOL_START), 1);
    st = nth(&r, AD_REC_TOOL_START, 0);
    assert_string_equal(st->tool_name, "WebSearch");
    assert_string_equal(json_string_value(json_object_get(st->json, "query")), "agentd daemon");
    assert_false(nth(&r, AD_REC_TOOL_END, 0)->is_error);
    assert_string_equal(text_of(&r, AD_ROLE_ASSISTANT, 0), "I searched the web.");
    ad_parser_free(p);
    ad_recs_cleanup(&r);
}

static void codex_plan_mode_and_warnings(void **state)
{
    (void)state;
    ad_recs_t r;
    ad_recs_init(&r);
    /* read-only sandbox: the refused command shows no item at all */
    ad_parser_t *p = feed_file(AD_EXEC_CODEX, CODEX "plan.jsonl", &r);
    assert_int_equal(count(&r, AD_REC_TOOL_START), 0);
    assert_false(nth(&r, AD_REC_RESULT, 0)->is_error);
    ad_parser_free(p);
    ad_recs_clear(&r);
    /* an item of type error is a warning; the turn goes on */
    p = feed_file(AD_EXEC_CODEX, CODEX "unknown-model.jsonl", &r);
    const ad_rec_t *w = notice(&r, "warning");
    assert_non_null(w);
    assert_non_null(strstr(w->text, "Model metadata for `mock-model` not found"));
    assert_false(nth(&r, AD_REC_RESULT, 0)->is_error);
    ad_parser_free(p);
    ad_recs_cleanup(&r);
}

static void codex_api_errors(void **state)
{
    (void)state;
    ad_recs_t r;
    ad_recs_init(&r);
    /* a rate limit in the middle of the stream (response.failed): a retry
     * notice, the error, turn.failed */
    ad_parser_t *p = feed_file(AD_EXEC_CODEX, CODEX "error-429.jsonl", &r);
    const ad_rec_t *retry = notice(&r, "api_retry");
    assert_non_null(retry);
    assert_non_null(strstr(retry->text, "Reconnecting... 1/1"));
    assert_non_null(notice(&r, "error"));
    const ad_rec_t *res = nth(&r, AD_REC_RESULT, 0);
    assert_true(res->is_error);
    assert_string_equal(res->subtype, "error");
    assert_non_null(strstr(res->text, "rate limit exceeded"));
    assert_int_equal(res->api_error_status, 429);
    assert_int_equal(res->usage.output_tokens, 0);
    ad_parser_free(p);
    ad_recs_clear(&r);
    /* 503 server_is_overloaded: no retry */
    p = feed_file(AD_EXEC_CODEX, CODEX "error-503.jsonl", &r);
    assert_null(notice(&r, "api_retry"));
    res = nth(&r, AD_REC_RESULT, 0);
    assert_true(res->is_error);
    assert_string_equal(res->text, "Selected model is at capacity. Please try a different model.");
    assert_int_equal(res->api_error_status, 503);
    ad_parser_free(p);
    ad_recs_cleanup(&r);
}

static void codex_interrupted_command(void **state)
{
    (void)state;
    ad_recs_t r;
    ad_recs_init(&r);
    /* SIGINT while a command runs: codex exits, nothing more is printed */
    ad_parser_t *p = feed_file(AD_EXEC_CODEX, CODEX "interrupt.jsonl", &r);
    assert_int_equal(count(&r, AD_REC_TOOL_START), 1);
    assert_int_equal(count(&r, AD_REC_RESULT), 0);
    ad_recs_clear(&r);
    assert_int_equal(ad_parser_finish(p, 5000, &r), 1);
    assert_int_equal(r.v[0].type, AD_REC_TOOL_END);
    assert_true(r.v[0].is_error);
    assert_string_equal(r.v[0].text, "interrupted");
    ad_parser_free(p);
    ad_recs_cleanup(&r);
}

/* ---- gemini ----------------------------------------------------------------------- */

static void gemini_text_turn_usage_and_cost(void **state)
{
    (void)state;
    ad_recs_t r;
    ad_recs_init(&r);
    ad_parser_t *p = ad_parser_new(AD_EXEC_GEMINI);
    json_t *pr = prices();
    ad_parser_set_prices(p, pr);
    json_decref(pr);
    feed_into(p, GEMINI "text.jsonl", &r);
    /* init: the session; model "auto" is not a model */
    const ad_rec_t *s = nth(&r, AD_REC_SESSION, 0);
    assert_string_equal(s->session_id, "cc344ebb-773b-434f-a64d-981c7b84e2c6");
    assert_null(s->model);
    /* message role user: the prompt echoed, not stored again */
    for (size_t i = 0; i < r.n; i++) {
        assert_false(r.v[i].type == AD_REC_MESSAGE && r.v[i].role == AD_ROLE_USER);
    }
    /* message delta:true: streamed, then one message */
    assert_int_equal(count(&r, AD_REC_DELTA), 2);
    assert_string_equal(nth(&r, AD_REC_DELTA, 0)->text, "Hello from");
    assert_string_equal(text_of(&r, AD_ROLE_ASSISTANT, 0), "Hello from the mock.");
    /* result: usage summed, input split into cached and the rest; each
     * model priced on its own; the last model listed is the one that
     * answered (the routing model comes first) */
    const ad_rec_t *res = nth(&r, AD_REC_RESULT, 0);
    assert_false(res->is_error);
    assert_int_equal(res->usage.input_tokens, 195);
    assert_int_equal(res->usage.cache_read_tokens, 193);
    assert_int_equal(res->usage.output_tokens, 17);
    assert_int_equal(res->duration_ms, 100);
    assert_string_equal(res->model, "gemini-3.8-flash");
    double want = (99 * 0.1 + 98 * 0.1 + 10 * 0.4) / 1e6 + (96 * 0.3 + 95 * 0.03 + 7 * 2.5) / 1e6;
    assert_true(fabs(res->cost_usd - want) < 1e-12);
    assert_null(notice(&r, "price"));
    ad_parser_free(p);
    ad_recs_cleanup(&r);
}

static void gemini_tools(void **state)
{
    (void)state;
    ad_recs_t r;
    ad_recs_init(&r);
    /* tool_use / tool_result success without output (write_file) */
    ad_parser_t *p = feed_file(AD_EXEC_GEMINI, GEMINI "write-file.jsonl", &r);
    const ad_rec_t *st = nth(&r, AD_REC_TOOL_START, 0);
    assert_string_equal(st->tool_name, "write_file");
    assert_string_equal(json_string_value(json_object_get(st->json, "file_path")), "out.txt");
    const ad_rec_t *e = nth(&r, AD_REC_TOOL_END, 0);
    assert_string_equal(e->tool_id, "write_file__call_000017");
    assert_false(e->is_error);
    assert_int_equal(e->duration_ms, 10);
    assert_null(tool_msg(&r, "write_file__call_000017")->tool_output);
    assert_string_equal(text_of(&r, AD_ROLE_ASSISTANT, 0), "I wrote hello to out.txt.");
    ad_parser_free(p);
    ad_recs_clear(&r);
    /* run_shell_command (yolo) */
    p = feed_file(AD_EXEC_GEMINI, GEMINI "shell.jsonl", &r);
    st = nth(&r, AD_REC_TOOL_START, 0);
    assert_string_equal(st->tool_name, "run_shell_command");
    assert_string_equal(json_string_value(json_object_get(st->json, "command")),
                        "echo hello > cmd.txt");
    assert_string_equal(tool_msg(&r, "run_shell_command__call_000024")->tool_output, "");
    ad_parser_free(p);
    ad_recs_clear(&r);
    /* status error: the tool failed, error.message is what it said */
    p = feed_file(AD_EXEC_GEMINI, GEMINI "tool-error.jsonl", &r);
    assert_true(nth(&r, AD_REC_TOOL_END, 0)->is_error);
    const ad_rec_t *m = tool_msg(&r, "read_file__call_000031");
    assert_true(m->is_error);
    assert_non_null(strstr(m->tool_output, "File not found: /"));
    assert_false(nth(&r, AD_REC_RESULT, 0)->is_error); /* the turn went on */
    ad_parser_free(p);
    ad_recs_clear(&r);
    /* plan mode: the edit refused by policy */
    p = feed_file(AD_EXEC_GEMINI, GEMINI "plan.jsonl", &r);
    m = tool_msg(&r, "write_file__call_000036");
    assert_true(m->is_error);
    assert_non_null(strstr(m->tool_output, "You are in Plan Mode"));
    assert_string_equal(nth(&r, AD_REC_RESULT, 0)->model, "gemini-3.1-pro-preview-customtools");
    ad_parser_free(p);
    ad_recs_cleanup(&r);
}

static void gemini_resume(void **state)
{
    (void)state;
    ad_recs_t r;
    ad_recs_init(&r);
    ad_parser_t *p = feed_file(AD_EXEC_GEMINI, GEMINI "remember.jsonl", &r);
    char session[64];
    snprintf(session, sizeof(session), "%s", ad_parser_session_id(p));
    ad_parser_free(p);
    ad_recs_clear(&r);
    p = feed_file(AD_EXEC_GEMINI, GEMINI "resume.jsonl", &r);
    assert_string_equal(nth(&r, AD_REC_SESSION, 0)->session_id, session);
    assert_string_equal(text_of(&r, AD_ROLE_ASSISTANT, 0), "The word was banana.");
    ad_parser_free(p);
    ad_recs_cleanup(&r);
}

static void gemini_api_errors(void **state)
{
    (void)state;
    ad_recs_t r;
    ad_recs_init(&r);
    /* 429 with no quota left: the CLI does not retry; result status error */
    ad_parser_t *p = feed_file(AD_EXEC_GEMINI, GEMINI "error-429.jsonl", &r);
    const ad_rec_t *res = nth(&r, AD_REC_RESULT, 0);
    assert_true(res->is_error);
    assert_string_equal(res->subtype, "error");
    assert_non_null(strstr(res->text, "You exceeded your current quota"));
    assert_int_equal(res->api_error_status, 429);
    ad_parser_free(p);
    ad_recs_clear(&r);
    /* 503 overloaded */
    p = feed_file(AD_EXEC_GEMINI, GEMINI "error-503.jsonl", &r);
    res = nth(&r, AD_REC_RESULT, 0);
    assert_true(res->is_error);
    assert_string_equal(res->text, "[API Error: The model is overloaded. Please try again later.]");
    assert_int_equal(res->api_error_status, 503);
    ad_parser_free(p);
    ad_recs_clear(&r);
    /* an error in the middle of the stream: the partial text is kept, the
     * error event says why, the bare error result takes its message */
    p = feed_file(AD_EXEC_GEMINI, GEMINI "error-midstream.jsonl", &r);
    assert_string_equal(text_of(&r, AD_ROLE_ASSISTANT, 0), "Partial");
    const ad_rec_t *n = notice(&r, "error");
    assert_non_null(n);
    assert_string_equal(n->text, "Model stream ended without a finish reason.");
    res = nth(&r, AD_REC_RESULT, 0);
    assert_true(res->is_error);
    assert_string_equal(res->text, "Model stream ended without a finish reason.");
    ad_parser_free(p);
    ad_recs_cleanup(&r);
}

static void gemini_interrupted_tool(void **state)
{
    (void)state;
    ad_recs_t r;
    ad_recs_init(&r);
    ad_parser_t *p = feed_file(AD_EXEC_GEMINI, GEMINI "interrupt.jsonl", &r);
    assert_int_equal(count(&r, AD_REC_RESULT), 0);
    ad_recs_clear(&r);
    assert_int_equal(ad_parser_finish(p, 5000, &r), 1);
    assert_string_equal(r.v[0].tool_id, "run_shell_command__call_000053");
    assert_true(r.v[0].is_error);
    ad_parser_free(p);
    ad_recs_cleanup(&r);
}

/* Every recorded line becomes records, never plain output: a type the
 * parser did not know would show as raw JSON in the transcript. */
static void every_recorded_line_is_understood(void **state)
{
    (void)state;
    static const char *const files[] = {
        CODEX "text.jsonl",       CODEX "reasoning.jsonl",     CODEX "resume.jsonl",
        CODEX "command.jsonl",    CODEX "patch.jsonl",         CODEX "search.jsonl",
        CODEX "plan.jsonl",       CODEX "unknown-model.jsonl", CODEX "error-429.jsonl",
        CODEX "error-503.jsonl",  CODEX "interrupt.jsonl",     GEMINI "text.jsonl",
        GEMINI "remember.jsonl",  GEMINI "resume.jsonl",       GEMINI "write-file.jsonl",
        GEMINI "shell.jsonl",     GEMINI "tool-error.jsonl",   GEMINI "plan.jsonl",
        GEMINI "error-429.jsonl", GEMINI "error-503.jsonl",    GEMINI "error-midstream.jsonl",
        GEMINI "interrupt.jsonl",
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        ad_recs_t r;
        ad_recs_init(&r);
        ad_executor_t kind = files[i][0] == 'c' ? AD_EXEC_CODEX : AD_EXEC_GEMINI;
        ad_parser_t *p = feed_file(kind, files[i], &r);
        if (count(&r, AD_REC_OUTPUT) != 0) {
            fail_msg("%s: a line became plain output: %s", files[i],
                     nth(&r, AD_REC_OUTPUT, 0)->text);
        }
        ad_parser_free(p);
        ad_recs_cleanup(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(codex_text_turn_usage_and_cost),
        cmocka_unit_test(codex_reasoning_and_resume),
        cmocka_unit_test(codex_command_execution),
        cmocka_unit_test(codex_file_change_and_web_search),
        cmocka_unit_test(codex_plan_mode_and_warnings),
        cmocka_unit_test(codex_api_errors),
        cmocka_unit_test(codex_interrupted_command),
        cmocka_unit_test(gemini_text_turn_usage_and_cost),
        cmocka_unit_test(gemini_tools),
        cmocka_unit_test(gemini_resume),
        cmocka_unit_test(gemini_api_errors),
        cmocka_unit_test(gemini_interrupted_tool),
        cmocka_unit_test(every_recorded_line_is_understood),
    };
    return cmocka_run_group_tests_name("agent-recorded", tests, NULL, NULL);
}
