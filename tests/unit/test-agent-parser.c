/* SPDX-License-Identifier: MIT */
/* Tests for the output parsers: the real Claude Code transcripts captured
 * against the mock API (tests/fixtures/transcripts/claude-*.jsonl), hand-made
 * codex, gemini, command and claude transcripts from the reference schemas
 * (the lines recorded from the real Codex and Gemini CLIs are
 * test-agent-recorded.c's),
 * garbage of every kind, usage dedupe by message id and the context level.
 * Run from the repository root (make unit does). */
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

/* The first message with this role and text. */
static const ad_rec_t *find_msg(const ad_recs_t *r, ad_role_t role, const char *text)
{
    for (size_t i = 0; i < r->n; i++) {
        const ad_rec_t *x = &r->v[i];
        if (x->type == AD_REC_MESSAGE && x->role == role && x->text != NULL &&
            strcmp(x->text, text) == 0) {
            return x;
        }
    }
    fail_msg("no %s message \"%s\"", ad_role_name(role), text);
    return NULL;
}

static void deltas_joined(const ad_recs_t *r, char *out, size_t outsz)
{
    out[0] = '\0';
    size_t off = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (r->v[i].type == AD_REC_DELTA) {
            int n = snprintf(out + off, outsz - off, "%s", r->v[i].text);
            assert_true(n >= 0 && (size_t)n < outsz - off);
            off += (size_t)n;
        }
    }
}

static void claude_text_turn(void **state)
{
    AD_UNUSED(state);
    ad_recs_t r;
    ad_recs_init(&r);
    ad_parser_t *p = feed_file(AD_EXEC_CLAUDE, "claude-text.jsonl", &r);
    const ad_rec_t *s = nth(&r, AD_REC_SESSION, 0);
    assert_int_equal(strlen(s->session_id), 36);
    assert_non_null(s->model);
    assert_string_equal(ad_parser_session_id(p), s->session_id);
    char joined[256];
    deltas_joined(&r, joined, sizeof(joined));
    assert_string_equal(joined, "Hello from the mock.");
    const ad_rec_t *m = find_msg(&r, AD_ROLE_ASSISTANT, "Hello from the mock.");
    assert_true(m->is_complete);
    assert_false(m->is_error);
    assert_int_equal(count(&r, AD_REC_RESULT), 1);
    const ad_rec_t *res = nth(&r, AD_REC_RESULT, 0);
    assert_false(res->is_error);
    assert_null(res->text);
    assert_string_equal(res->subtype, "success");
    assert_string_equal(res->session_id, s->session_id);
    assert_true(res->usage.input_tokens > 0);
    assert_true(res->usage.output_tokens > 0);
    assert_true(res->total_cost_usd > 0);
    assert_true(fabs(res->cost_usd - res->total_cost_usd) < 1e-12);
    assert_int_equal(res->num_turns, 1);
    assert_string_equal(res->model, s->model);
    /* the result comes last, nothing is left as raw output */
    assert_int_equal(count(&r, AD_REC_OUTPUT), 0);
    assert_true(count(&r, AD_REC_CONTEXT) >= 1);
    ad_usage_t u;
    ad_parser_pending_usage(p, &u);
    assert_int_equal(u.input_tokens + u.output_tokens, 0);
    ad_parser_free(p);
    ad_recs_cleanup(&r);
}

static void claude_tool_call(void **state)
{
    AD_UNUSED(state);
    ad_recs_t r;
    ad_recs_init(&r);
    ad_parser_t *p = feed_file(AD_EXEC_CLAUDE, "claude-tool.jsonl", &r);
    assert_int_equal(count(&r, AD_REC_TOOL_START), 1);
    assert_int_equal(count(&r, AD_REC_TOOL_END), 1);
    size_t istart = 0, iend = 0;
    for (size_t i = 0; i < r.n; i++) {
        if (r.v[i].type == AD_REC_TOOL_START) {
            istart = i;
        } else if (r.v[i].type == AD_REC_TOOL_END) {
            iend = i;
        }
    }
    const ad_rec_t *ts = &r.v[istart], *te = &r.v[iend];
    assert_true(istart < iend);
    assert_string_equal(ts->tool_name, "Bash");
    assert_string_equal(json_string_value(json_object_get(ts->json, "command")),
                        "echo hello > out.txt");
    assert_string_equal(te->tool_id, ts->tool_id);
    assert_string_equal(te->tool_name, "Bash");
    assert_false(te->is_error);
    /* tool_use and tool_result are on different lines, fed 10 ms apart */
    assert_true(te->duration_ms >= 10);
    assert_int_equal(te->duration_ms % 10, 0);
    assert_int_equal(te->exit_code, -1);
    /* the pending tool message, then the completed one with the output */
    const ad_rec_t *pending = &r.v[istart + 1];
    assert_int_equal(pending->type, AD_REC_MESSAGE);
    assert_int_equal(pending->role, AD_ROLE_TOOL);
    assert_false(pending->is_complete);
    const ad_rec_t *done = &r.v[iend + 1];
    assert_int_equal(done->type, AD_REC_MESSAGE);
    assert_int_equal(done->role, AD_ROLE_TOOL);
    assert_true(done->is_complete);
    assert_string_equal(done->tool_name, "Bash");
    assert_string_equal(done->tool_id, ts->tool_id);
    assert_string_equal(done->tool_output, "(Bash completed with no output)");
    assert_string_equal(json_string_value(json_object_get(done->json, "command")),
                        "echo hello > out.txt");
    find_msg(&r, AD_ROLE_ASSISTANT, "I wrote hello to out.txt.");
    /* each API message's real output tokens (message_delta), after the
     * assistant line that carried the count at its start */
    assert_int_equal(count(&r, AD_REC_TOKENS), 2);
    assert_int_equal(nth(&r, AD_REC_TOKENS, 0)->token_count, 17);
    assert_int_equal(nth(&r, AD_REC_TOKENS, 1)->token_count, 8);
    const ad_rec_t *res = nth(&r, AD_REC_RESULT, 0);
    assert_false(res->is_error);
    assert_int_equal(res->num_turns, 2);
    ad_parser_free(p);
    ad_recs_cleanup(&r);
}

static void claude_followup_and_resume(void **state)
{
    AD_UNUSED(state);
    ad_recs_t r;
    ad_recs_init(&r);
    ad_parser_t *p = feed_file(AD_EXEC_CLAUDE, "claude-followup.jsonl", &r);
    assert_int_equal(count(&r, AD_REC_RESULT), 2);
    const ad_rec_t *r1 = nth(&r, AD_REC_RESULT, 0), *r2 = nth(&r, AD_REC_RESULT, 1);
    find_msg(&r, AD_ROLE_ASSISTANT, "I will remember the word banana.");
    find_msg(&r, AD_ROLE_ASSISTANT, "The word was banana.");
    /* total_cost_usd is cumulative; cost_usd is this turn's share */
    assert_true(r2->total_cost_usd > r1->total_cost_usd);
    assert_true(fabs(r2->cost_usd - (r2->total_cost_usd - r1->total_cost_usd)) < 1e-9);
    assert_true(r2->cost_usd > 0);
    /* one session across both turns */
    assert_string_equal(r1->session_id, r2->session_id);
    char sid[64];
    snprintf(sid, sizeof(sid), "%s", r1->session_id);
    ad_parser_free(p);
    ad_recs_clear(&r);

    p = feed_file(AD_EXEC_CLAUDE, "claude-resume.jsonl", &r);
    assert_string_equal(nth(&r, AD_REC_SESSION, 0)->session_id, sid);
    find_msg(&r, AD_ROLE_ASSISTANT, "The word was banana.");
    assert_false(nth(&r, AD_REC_RESULT, 0)->is_error);
    ad_parser_free(p);
    ad_recs_cleanup(&r);
}

static void claude_api_errors(void **state)
{
    AD_UNUSED(state);
    ad_recs_t r;
    ad_recs_init(&r);
    ad_parser_t *p = feed_file(AD_EXEC_CLAUDE, "claude-error-529.jsonl", &r);
    const ad_rec_t *n = nth(&r, AD_REC_NOTICE, 0);
    assert_string_equal(n->subtype, "api_retry");
    assert_non_null(strstr(n->text, "status 529"));
    assert_non_null(n->json);
    const ad_rec_t *res = nth(&r, AD_REC_RESULT, 0);
    assert_true(res->is_error);
    assert_int_equal(res->api_error_status, 529);
    assert_non_null(strstr(res->text, "API Error: 529"));
    /* the CLI's synthetic error message is shown, flagged, without a model */
    bool seen = false;
    for (size_t i = 0; i < r.n; i++) {
        if (r.v[i].type == AD_REC_MESSAGE && r.v[i].is_error) {
            assert_int_equal(r.v[i].api_error_status, 529);
            assert_null(r.v[i].model);
            seen = true;
        }
    }
    assert_true(seen);
    ad_parser_free(p);
    ad_recs_clear(&r);

    p = feed_file(AD_EXEC_CLAUDE, "claude-error-429.jsonl", &r);
    res = nth(&r, AD_REC_RESULT, 0);
    assert_true(res->is_error);
    assert_int_equal(res->api_error_status, 429);
    assert_non_null(strstr(res->text, "429"));
    ad_parser_free(p);
    ad_recs_cleanup(&r);
}

static void claude_interrupted_turn(void **state)
{
    AD_UNUSED(state);
    /* SIGINT while the answer streams: the CLI ends the turn with an error
     * result and exits 0 */
    ad_recs_t r;
    ad_recs_init(&r);
    ad_parser_t *p = feed_file(AD_EXEC_CLAUDE, "claude-interrupt.jsonl", &r);
    find_msg(&r, AD_ROLE_USER, "[Request interrupted by user]");
    const ad_rec_t *res = nth(&r, AD_REC_RESULT, 0);
    assert_true(res->is_error);
    assert_string_equal(res->subtype, "error_during_execution");
    assert_string_equal(res->text, "interrupted (aborted_streaming)");
    assert_int_equal(res->api_error_status, 0);
    assert_int_equal(count(&r, AD_REC_OUTPUT), 0);
    ad_parser_free(p);
    ad_recs_cleanup(&r);
}

/* A permission prompt as the 2.1.330 CLI writes it with
 * --permission-prompt-tool stdio, its withdrawal, and control requests
 * agentd does not answer (hooks): an approval, a cancel, nothing. */
static void claude_permission_prompts(void **state)
{
    AD_UNUSED(state);
    ad_recs_t r;
    ad_recs_init(&r);
    ad_parser_t *p = ad_parser_new(AD_EXEC_CLAUDE);
    const char *ask =
        "{\"type\":\"control_request\",\"request_id\":\"40768313-a6c3\",\"request\":{"
        "\"subtype\":\"can_use_tool\",\"tool_name\":\"Bash\",\"display_name\":\"Bash\","
        "\"input\":{\"command\":\"echo hello > out.txt\"},\"description\":\"Write out.txt\","
        "\"permission_suggestions\":[],\"tool_use_id\":\"toolu_01\"}}";
    assert_int_equal(ad_parser_feed(p, ask, strlen(ask), 0, &r), 1);
    assert_int_equal(r.v[0].type, AD_REC_APPROVAL);
    assert_string_equal(r.v[0].subtype, "40768313-a6c3");
    assert_string_equal(r.v[0].tool_name, "Bash");
    assert_string_equal(r.v[0].tool_id, "toolu_01");
    assert_string_equal(r.v[0].text, "Write out.txt");
    assert_string_equal(json_string_value(json_object_get(r.v[0].json, "command")),
                        "echo hello > out.txt");
    assert_false(r.v[0].is_error);
    ad_recs_clear(&r);

    const char *cancel = "{\"type\":\"control_cancel_request\",\"request_id\":\"40768313-a6c3\"}";
    assert_int_equal(ad_parser_feed(p, cancel, strlen(cancel), 0, &r), 1);
    assert_int_equal(r.v[0].type, AD_REC_APPROVAL);
    assert_true(r.v[0].is_error);
    assert_null(r.v[0].tool_name);
    ad_recs_clear(&r);

    const char *other[] = {
        "{\"type\":\"control_request\",\"request_id\":\"x\",\"request\":{\"subtype\":\"hook_"
        "callback\"}}",
        "{\"type\":\"control_request\",\"request\":{\"subtype\":\"can_use_tool\",\"tool_name\":"
        "\"Bash\"}}",
        "{\"type\":\"control_request\",\"request_id\":\"y\",\"request\":{\"subtype\":\"can_use_"
        "tool\"}}",
        "{\"type\":\"control_cancel_request\"}",
    };
    for (size_t i = 0; i < AD_ARRAY_LEN(other); i++) {
        assert_int_equal(ad_parser_feed(p, other[i], strlen(other[i]), 0, &r), 0);
    }
    ad_parser_free(p);
    ad_recs_cleanup(&r);
}

static void claude_handmade_reference_shapes(void **state)
{
    AD_UNUSED(state);
    ad_recs_t r;
    ad_recs_init(&r);
    ad_parser_t *p = ad_parser_new(AD_EXEC_CLAUDE);
    FILE *f = fopen(FIX "claude-handmade.jsonl", "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t now = 0;
    for (;;) {
        n = getline(&line, &cap, f);
        if (n <= 0) {
            break;
        }
        if (strstr(line, "\"type\":\"result\"") != NULL) {
            /* usage deduped by message.id, the largest count per id */
            ad_usage_t u;
            ad_parser_pending_usage(p, &u);
            assert_int_equal(u.input_tokens, 8);
            assert_int_equal(u.cache_creation_tokens, 1730);
            assert_int_equal(u.cache_read_tokens, 27560);
            assert_int_equal(u.output_tokens, 42);
        }
        ad_parser_feed(p, line, (size_t)n - 1, now, &r);
        now += 250;
    }
    free(line);
    fclose(f);

    assert_int_equal(r.v[0].type, AD_REC_OUTPUT);
    assert_string_equal(r.v[0].text, "[SandboxDebug] not json, printed by some CLI builds");
    assert_int_equal(r.v[1].type, AD_REC_SESSION); /* the hook line gave nothing */
    assert_string_equal(r.v[1].model, "claude-sonnet-4-5-20250929");
    assert_string_equal(r.v[2].subtype, "rate_limit");
    assert_string_equal(r.v[2].text, "rate limit allowed_warning five_hour");
    find_msg(&r, AD_ROLE_ASSISTANT, "I'll list the files.");
    /* thinking is not a message */
    assert_int_equal(count(&r, AD_REC_MESSAGE), 1 + 2 + 2);

    const ad_rec_t *e1 = nth(&r, AD_REC_TOOL_END, 0), *e2 = nth(&r, AD_REC_TOOL_END, 1);
    assert_string_equal(e1->tool_id, "toolu_01XyZ");
    assert_int_equal(e1->exit_code, 0);
    assert_int_equal(e1->duration_ms, 250);
    assert_false(e1->is_error);
    assert_string_equal(e2->tool_id, "toolu_02");
    assert_true(e2->is_error);
    for (size_t i = 0; i < r.n; i++) {
        if (r.v[i].type == AD_REC_MESSAGE && r.v[i].tool_output != NULL &&
            strcmp(r.v[i].tool_id, "toolu_01XyZ") == 0) {
            assert_string_equal(r.v[i].tool_output, "README.md\nsrc");
        }
    }
    assert_string_equal(nth(&r, AD_REC_NOTICE, 1)->subtype, "api_retry");
    const ad_rec_t *unknown = nth(&r, AD_REC_OUTPUT, 1);
    assert_string_equal(unknown->text, "{\"type\":\"brand_new_type\",\"payload\":{\"x\":1}}");

    /* (3+1520+13020+40) / 200000 and then (5+210+14540+2) / 200000 both
     * round to 7 %: one context record only */
    assert_int_equal(count(&r, AD_REC_CONTEXT), 1);
    assert_int_equal(nth(&r, AD_REC_CONTEXT, 0)->level, 7);

    const ad_rec_t *res = nth(&r, AD_REC_RESULT, 0);
    assert_true(res->is_error);
    assert_string_equal(res->subtype, "error_max_turns");
    assert_string_equal(res->text, "Reached maximum number of turns (3)");
    assert_int_equal(res->api_error_status, 0);
    assert_int_equal(res->usage.cache_read_tokens, 27560);
    assert_int_equal(res->duration_ms, 40211);
    assert_int_equal(res->num_turns, 3);
    assert_true(fabs(res->cost_usd - 0.21) < 1e-12);
    ad_usage_t u;
    ad_parser_pending_usage(p, &u);
    assert_int_equal(u.input_tokens + u.cache_read_tokens, 0);
    ad_parser_free(p);
    ad_recs_cleanup(&r);
}

static void context_level_uses_model_window(void **state)
{
    AD_UNUSED(state);
    assert_int_equal(ad_model_context_window("claude-sonnet-4-5-20250929", 0), 200000);
    assert_int_equal(ad_model_context_window("sonnet[1m]", 0), 1000000);
    assert_int_equal(ad_model_context_window("gemini-2.5-pro", 0), 1048576);
    assert_int_equal(ad_model_context_window("gpt-5-codex", 0), 400000);
    assert_int_equal(ad_model_context_window("mystery", 12345), 12345);
    assert_int_equal(ad_model_context_window(NULL, 7), 7);

    ad_recs_t r;
    ad_recs_init(&r);
    ad_parser_t *p = ad_parser_new(AD_EXEC_CLAUDE);
    const char *a = "{\"type\":\"assistant\",\"message\":{\"id\":\"m1\",\"model\":\"claude-x\","
                    "\"content\":[],\"usage\":{\"input_tokens\":100000,"
                    "\"cache_read_input_tokens\":0,\"output_tokens\":0}}}";
    ad_parser_feed(p, a, strlen(a), 0, &r);
    assert_int_equal(nth(&r, AD_REC_CONTEXT, 0)->level, 50); /* table: 200k */
    /* the result's modelUsage.contextWindow wins from then on */
    const char *res = "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,"
                      "\"usage\":{},\"modelUsage\":{\"claude-x\":{\"contextWindow\":1000000}}}";
    ad_parser_feed(p, res, strlen(res), 0, &r);
    assert_int_equal(nth(&r, AD_REC_CONTEXT, 1)->level, 10);
    /* over the window is 100, not more */
    const char *big = "{\"type\":\"assistant\",\"message\":{\"id\":\"m2\",\"model\":\"claude-x\","
                      "\"content\":[],\"usage\":{\"input_tokens\":5000000,\"output_tokens\":0}}}";
    ad_parser_feed(p, big, strlen(big), 0, &r);
    assert_int_equal(nth(&r, AD_REC_CONTEXT, 2)->level, 100);
    ad_parser_free(p);
    ad_recs_cleanup(&r);
}

static void codex_items_and_turns(void **state)
{
    AD_UNUSED(state);
    ad_recs_t r;
    ad_recs_init(&r);
    ad_parser_t *p = feed_file(AD_EXEC_CODEX, "codex-handmade.jsonl", &r);
    assert_string_equal(nth(&r, AD_REC_SESSION, 0)->session_id,
                        "0199a213-81c0-7800-8aa1-bbab2a035a53");
    assert_string_equal(nth(&r, AD_REC_NOTICE, 0)->subtype, "reasoning");
    assert_int_equal(count(&r, AD_REC_TOOL_START), 3);
    assert_int_equal(count(&r, AD_REC_TOOL_END), 3);
    const ad_rec_t *s1 = nth(&r, AD_REC_TOOL_START, 0), *e1 = nth(&r, AD_REC_TOOL_END, 0);
    assert_string_equal(s1->tool_name, "Bash");
    assert_string_equal(json_string_value(json_object_get(s1->json, "command")), "bash -lc ls");
    assert_string_equal(e1->tool_id, "item_1");
    assert_int_equal(e1->exit_code, 0);
    assert_false(e1->is_error);
    assert_int_equal(e1->duration_ms, 10);
    const ad_rec_t *e2 = nth(&r, AD_REC_TOOL_END, 1);
    assert_true(e2->is_error);
    assert_int_equal(e2->exit_code, 1);
    /* file_change arrives only completed: start and end together */
    const ad_rec_t *s3 = nth(&r, AD_REC_TOOL_START, 2), *e3 = nth(&r, AD_REC_TOOL_END, 2);
    assert_string_equal(s3->tool_name, "Edit");
    assert_string_equal(e3->tool_id, "item_4");
    assert_int_equal(e3->duration_ms, 0);
    for (size_t i = 0; i < r.n; i++) {
        if (r.v[i].type == AD_REC_MESSAGE && r.v[i].is_complete && r.v[i].tool_id != NULL &&
            strcmp(r.v[i].tool_id, "item_1") == 0) {
            assert_string_equal(r.v[i].tool_output, "README.md\nsrc\n");
        }
    }
    find_msg(&r, AD_ROLE_ASSISTANT, "Yep — there's a README.md in the repository root.");
    const ad_rec_t *res = nth(&r, AD_REC_RESULT, 0);
    assert_false(res->is_error);
    assert_int_equal(res->usage.input_tokens, 24763 - 24448);
    assert_int_equal(res->usage.cache_read_tokens, 24448);
    assert_int_equal(res->usage.output_tokens, 122);
    assert_true(res->total_cost_usd < 0); /* codex gives no cost */
    ad_parser_free(p);
    ad_recs_clear(&r);

    p = feed_file(AD_EXEC_CODEX, "codex-handmade-failed.jsonl", &r);
    const ad_rec_t *n = nth(&r, AD_REC_NOTICE, 0);
    assert_string_equal(n->subtype, "api_retry");
    assert_string_equal(n->text, "Reconnecting... 1/5");
    assert_int_equal(count(&r, AD_REC_TOOL_START), 1); /* item.updated adds none */
    const ad_rec_t *te = nth(&r, AD_REC_TOOL_END, 0);
    assert_string_equal(te->tool_name, "docs.search");
    assert_true(te->is_error);
    assert_int_equal(te->duration_ms, 20);
    res = nth(&r, AD_REC_RESULT, 0);
    assert_true(res->is_error);
    assert_string_equal(res->text, "stream disconnected before completion");
    ad_parser_free(p);
    ad_recs_cleanup(&r);
}

static void gemini_stream(void **state)
{
    AD_UNUSED(state);
    ad_recs_t r;
    ad_recs_init(&r);
    ad_parser_t *p = feed_file(AD_EXEC_GEMINI, "gemini-handmade.jsonl", &r);
    const ad_rec_t *s = nth(&r, AD_REC_SESSION, 0);
    assert_string_equal(s->model, "gemini-2.5-pro");
    /* the prompt the CLI echoes is not stored twice */
    for (size_t i = 0; i < r.n; i++) {
        assert_false(r.v[i].type == AD_REC_MESSAGE && r.v[i].role == AD_ROLE_USER);
    }
    /* streamed deltas become one message before the tool call */
    char joined[256];
    deltas_joined(&r, joined, sizeof(joined));
    assert_string_equal(joined, "Let me look.Two entries.");
    find_msg(&r, AD_ROLE_ASSISTANT, "Let me look.");
    find_msg(&r, AD_ROLE_ASSISTANT, "Two entries.");
    const ad_rec_t *e1 = nth(&r, AD_REC_TOOL_END, 0), *e2 = nth(&r, AD_REC_TOOL_END, 1);
    assert_string_equal(e1->tool_name, "run_shell_command");
    assert_false(e1->is_error);
    assert_int_equal(e1->duration_ms, 10);
    assert_true(e2->is_error);
    bool found = false;
    for (size_t i = 0; i < r.n; i++) {
        if (r.v[i].type == AD_REC_MESSAGE && r.v[i].tool_output != NULL &&
            strcmp(r.v[i].tool_id, "read_file-2") == 0) {
            assert_string_equal(r.v[i].tool_output, "File not found: missing.txt");
            assert_true(r.v[i].is_error);
            found = true;
        }
    }
    assert_true(found);
    assert_string_equal(nth(&r, AD_REC_NOTICE, 0)->text, "Loop detected, continuing");
    const ad_rec_t *res = nth(&r, AD_REC_RESULT, 0);
    assert_false(res->is_error);
    assert_int_equal(res->usage.input_tokens, 5000);
    assert_int_equal(res->usage.cache_read_tokens, 100);
    assert_int_equal(res->usage.output_tokens, 130);
    assert_int_equal(res->duration_ms, 4210);
    ad_parser_free(p);
    ad_recs_cleanup(&r);
}

static void command_known_events_and_output(void **state)
{
    AD_UNUSED(state);
    ad_recs_t r;
    ad_recs_init(&r);
    ad_parser_t *p = feed_file(AD_EXEC_COMMAND, "command-metrics.jsonl", &r);
    assert_int_equal(r.n, 7);
    assert_int_equal(r.v[0].type, AD_REC_OUTPUT);
    assert_string_equal(r.v[0].text, "starting trainer");
    assert_int_equal(r.v[1].type, AD_REC_EVENT);
    assert_string_equal(r.v[1].subtype, "metric");
    assert_true(json_real_value(json_object_get(r.v[1].json, "value")) == 0.93);
    assert_string_equal(r.v[2].subtype, "metrics");
    assert_string_equal(r.v[3].subtype, "agent_update");
    for (size_t i = 4; i < 7; i++) {
        assert_int_equal(r.v[i].type, AD_REC_OUTPUT);
    }
    ad_parser_free(p);
    ad_recs_cleanup(&r);
}

static void garbage_is_output_never_fatal(void **state)
{
    AD_UNUSED(state);
    static const char *lines[] = {
        "not json",
        "{truncated",
        "{\"type\":",
        "[1,2]",
        "{}",
        "{\"type\":5}",
        "{\"type\":\"assistant\"}",
        "{\"type\":\"assistant\",\"message\":{\"content\":\"str\",\"usage\":7}}",
        "{\"type\":\"assistant\",\"message\":{\"content\":[1,{\"type\":\"tool_use\"},{\"type\":"
        "\"text\",\"text\":5}]}}",
        "{\"type\":\"user\",\"message\":{\"content\":[1,2,{\"type\":\"tool_result\"}]}}",
        "{\"type\":\"user\",\"message\":{\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":"
        "\"nope\",\"content\":{\"weird\":1}}]}}",
        "{\"type\":\"result\",\"is_error\":true,\"errors\":[1,null],\"modelUsage\":[]}",
        "{\"type\":\"result\",\"total_cost_usd\":\"free\",\"usage\":{\"input_tokens\":1e300}}",
        "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"delta\":7}}",
        "{\"type\":\"system\",\"subtype\":\"api_retry\"}",
        "{\"type\":\"system\"}",
        "{\"type\":\"item.completed\",\"item\":5}",
        "{\"type\":\"item.completed\",\"item\":{\"type\":\"command_execution\"}}",
        "{\"type\":\"turn.completed\",\"usage\":null}",
        "{\"type\":\"tool_result\",\"tool_id\":null}",
        "{\"type\":\"message\",\"content\":[\"x\"]}",
        "{\"type\":\"result\",\"stats\":\"none\",\"status\":7}",
        "   \t  ",
        "",
        "{\"a\":\"\\u0000\"}",
    };
    static const char binary[] = "\xff\xfe binary \x00 with nul";
    const ad_executor_t kinds[] = {AD_EXEC_CLAUDE, AD_EXEC_CODEX, AD_EXEC_GEMINI, AD_EXEC_COMMAND};
    for (size_t k = 0; k < AD_ARRAY_LEN(kinds); k++) {
        ad_recs_t r;
        ad_recs_init(&r);
        ad_parser_t *p = ad_parser_new(kinds[k]);
        for (size_t i = 0; i <= AD_ARRAY_LEN(lines); i++) {
            if (i < AD_ARRAY_LEN(lines)) {
                ad_parser_feed(p, lines[i], strlen(lines[i]), i, &r);
            } else {
                ad_parser_feed(p, binary, sizeof(binary) - 1, i, &r); /* with its NUL */
            }
            /* every record's text is valid for a JSON string */
            for (size_t j = 0; j < r.n; j++) {
                if (r.v[j].text != NULL) {
                    json_t *js = json_string(r.v[j].text);
                    assert_non_null(js);
                    json_decref(js);
                }
            }
        }
        ad_parser_finish(p, 1000, &r);
        /* non-JSON lines are kept as output with the text they had */
        assert_string_equal(r.v[0].text, "not json");
        assert_int_equal(r.v[0].type, AD_REC_OUTPUT);
        assert_string_equal(r.v[1].text, "{truncated");
        const ad_rec_t *last = &r.v[r.n - 1];
        if (last->type == AD_REC_OUTPUT) {
            assert_non_null(strstr(last->text, "\xef\xbf\xbd\xef\xbf\xbd binary"));
        }
        ad_parser_free(p);
        ad_recs_cleanup(&r);
    }
}

static void huge_lines_are_capped(void **state)
{
    AD_UNUSED(state);
    size_t n = 5u << 20;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'x', n);
    memcpy(big + AD_PARSER_OUTPUT_MAX - 1, "\xc3\xa9", 2); /* é across the cap */
    ad_recs_t r;
    ad_recs_init(&r);
    ad_parser_t *p = ad_parser_new(AD_EXEC_CLAUDE);
    assert_int_equal(ad_parser_feed(p, big, n, 0, &r), 1);
    assert_int_equal(r.v[0].type, AD_REC_OUTPUT);
    size_t len = strlen(r.v[0].text);
    assert_true(len <= AD_PARSER_OUTPUT_MAX + 32);
    assert_non_null(strstr(r.v[0].text, "…[truncated]"));
    json_t *js = json_string(r.v[0].text);
    assert_non_null(js); /* the cut did not split the character */
    json_decref(js);
    /* a huge valid assistant line keeps its whole text */
    const char *head = "{\"type\":\"assistant\",\"message\":{\"id\":\"m\",\"content\":[{\"type\":"
                       "\"text\",\"text\":\"";
    const char *tail = "\"}]}}";
    size_t hl = strlen(head), tl = strlen(tail), body = 3u << 20;
    char *line = malloc(hl + body + tl);
    memcpy(line, head, hl);
    memset(line + hl, 'y', body);
    memcpy(line + hl + body, tail, tl);
    ad_recs_clear(&r);
    assert_int_equal(ad_parser_feed(p, line, hl + body + tl, 0, &r), 1);
    assert_int_equal(r.v[0].type, AD_REC_MESSAGE);
    assert_int_equal(strlen(r.v[0].text), body);
    /* truncated at every cut point: never a crash, never a record lost */
    ad_recs_clear(&r);
    for (size_t cut = 1; cut < hl + 40; cut += 3) {
        ad_parser_feed(p, line, cut, 0, &r);
    }
    assert_true(r.n >= (hl + 40) / 3);
    free(line);
    free(big);
    ad_parser_free(p);
    ad_recs_cleanup(&r);
}

static void every_truncation_of_real_lines(void **state)
{
    AD_UNUSED(state);
    static const char *files[] = {"claude-tool.jsonl", "claude-error-529.jsonl"};
    for (size_t fi = 0; fi < AD_ARRAY_LEN(files); fi++) {
        char path[256];
        snprintf(path, sizeof(path), FIX "%s", files[fi]);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        ad_parser_t *p = ad_parser_new(AD_EXEC_CLAUDE);
        ad_recs_t r;
        ad_recs_init(&r);
        for (;;) {
            n = getline(&line, &cap, f);
            if (n <= 0) {
                break;
            }
            for (ssize_t cut = 0; cut < n; cut += 97) {
                ad_parser_feed(p, line, (size_t)cut, 0, &r);
                ad_recs_clear(&r);
            }
        }
        free(line);
        fclose(f);
        ad_parser_finish(p, 0, &r);
        ad_parser_free(p);
        ad_recs_cleanup(&r);
    }
}

static void finish_ends_open_tools(void **state)
{
    AD_UNUSED(state);
    ad_recs_t r;
    ad_recs_init(&r);
    ad_parser_t *p = ad_parser_new(AD_EXEC_CLAUDE);
    const char *a = "{\"type\":\"assistant\",\"message\":{\"id\":\"m1\",\"content\":[{\"type\":"
                    "\"tool_use\",\"id\":\"t1\",\"name\":\"Bash\",\"input\":{\"command\":"
                    "\"sleep 100\"}}]}}";
    ad_parser_feed(p, a, strlen(a), 100, &r);
    ad_recs_clear(&r);
    assert_int_equal(ad_parser_finish(p, 600, &r), 1);
    assert_int_equal(r.v[0].type, AD_REC_TOOL_END);
    assert_string_equal(r.v[0].tool_id, "t1");
    assert_string_equal(r.v[0].tool_name, "Bash");
    assert_true(r.v[0].is_error);
    assert_string_equal(r.v[0].text, "interrupted");
    assert_int_equal(r.v[0].duration_ms, 500);
    ad_recs_clear(&r);
    assert_int_equal(ad_parser_finish(p, 700, &r), 0);
    ad_parser_free(p);

    /* gemini text streamed without a result is still stored */
    p = ad_parser_new(AD_EXEC_GEMINI);
    const char *d =
        "{\"type\":\"message\",\"role\":\"assistant\",\"content\":\"half\",\"delta\":true}";
    ad_parser_feed(p, d, strlen(d), 0, &r);
    ad_recs_clear(&r);
    assert_int_equal(ad_parser_finish(p, 0, &r), 1);
    assert_string_equal(r.v[0].text, "half");
    assert_int_equal(r.v[0].role, AD_ROLE_ASSISTANT);
    ad_parser_free(p);
    ad_recs_cleanup(&r);
}

static void many_open_tools_and_ids_stay_bounded(void **state)
{
    AD_UNUSED(state);
    ad_recs_t r;
    ad_recs_init(&r);
    ad_parser_t *p = ad_parser_new(AD_EXEC_CLAUDE);
    char line[512];
    for (int i = 0; i < 6000; i++) {
        snprintf(line, sizeof(line),
                 "{\"type\":\"assistant\",\"message\":{\"id\":\"m%d\",\"content\":[{\"type\":"
                 "\"tool_use\",\"id\":\"t%d\",\"name\":\"Bash\",\"input\":{}}],\"usage\":{"
                 "\"input_tokens\":1,\"output_tokens\":1}}}",
                 i, i);
        ad_parser_feed(p, line, strlen(line), 0, &r);
        ad_recs_clear(&r);
    }
    /* every message counted once even past the remembered-id bound */
    ad_usage_t u;
    ad_parser_pending_usage(p, &u);
    assert_int_equal(u.input_tokens, 6000);
    assert_int_equal(u.output_tokens, 6000);
    /* at most AD_PARSER_MAX_TOOLS (1024) open tools are ended */
    assert_int_equal(ad_parser_finish(p, 0, &r), 1024);
    ad_parser_free(p);
    ad_recs_cleanup(&r);
}

static void records_map_to_design_events(void **state)
{
    AD_UNUSED(state);
    ad_recs_t r;
    ad_recs_init(&r);
    ad_parser_t *p = feed_file(AD_EXEC_CLAUDE, "claude-tool.jsonl", &r);
    ad_rec_ids_t ids = {.agent_id = "ag_1", .run_id = "run_1", .crew_id = NULL};
    size_t outputs = 0, starts = 0, ends = 0, contexts = 0;
    for (size_t i = 0; i < r.n; i++) {
        const char *type = NULL;
        json_t *ev = ad_rec_event(&r.v[i], &ids, &type);
        char *dump = ev != NULL ? json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        switch (r.v[i].type) {
        case AD_REC_DELTA:
            assert_string_equal(type, "agent_output");
            assert_non_null(strstr(dump, "\"isComplete\":false"));
            assert_non_null(strstr(dump, "\"agentId\":\"ag_1\""));
            assert_non_null(strstr(dump, "\"runId\":\"run_1\""));
            assert_non_null(strstr(dump, "\"stream\":\"stdout\""));
            outputs++;
            break;
        case AD_REC_TOOL_START:
            assert_string_equal(type, "tool_start");
            assert_non_null(strstr(dump, "\"name\":\"Bash\""));
            assert_non_null(strstr(dump, "\"params\":{\"command\":\"echo hello > out.txt\""));
            assert_non_null(strstr(dump, "\"crewId\":null"));
            starts++;
            break;
        case AD_REC_TOOL_END:
            assert_string_equal(type, "tool_end");
            assert_non_null(strstr(dump, "\"status\":\"success\""));
            assert_non_null(strstr(dump, "\"exitCode\":null"));
            assert_int_equal(json_integer_value(json_object_get(ev, "durationMs")),
                             r.v[i].duration_ms);
            ends++;
            break;
        case AD_REC_CONTEXT:
            assert_string_equal(type, "agent_context");
            assert_int_equal(json_integer_value(json_object_get(ev, "level")), r.v[i].level);
            contexts++;
            break;
        case AD_REC_MESSAGE: {
            assert_null(ev);
            json_t *m = ad_rec_message_json(&r.v[i]);
            assert_string_equal(json_string_value(json_object_get(m, "role")),
                                ad_role_name(r.v[i].role));
            if (r.v[i].role == AD_ROLE_TOOL) {
                assert_string_equal(json_string_value(json_object_get(m, "toolName")), "Bash");
                assert_true(json_is_object(json_object_get(m, "toolInput")));
            }
            json_decref(m);
            break;
        }
        default:
            assert_null(ev);
            break;
        }
        free(dump);
        json_decref(ev);
    }
    assert_true(outputs >= 2);
    assert_int_equal(starts, 1);
    assert_int_equal(ends, 1);
    assert_true(contexts >= 1);
    ad_parser_free(p);
    ad_recs_clear(&r);

    /* a command's metric line keeps its fields and gains the ids */
    p = feed_file(AD_EXEC_COMMAND, "command-metrics.jsonl", &r);
    const char *type = NULL;
    json_t *ev = ad_rec_event(&r.v[1], &ids, &type);
    assert_string_equal(type, "metric");
    assert_null(json_object_get(ev, "type"));
    assert_string_equal(json_string_value(json_object_get(ev, "name")), "loss");
    assert_string_equal(json_string_value(json_object_get(ev, "runId")), "run_1");
    json_decref(ev);
    ev = ad_rec_event(&r.v[0], &ids, &type);
    assert_string_equal(type, "agent_output");
    assert_string_equal(json_string_value(json_object_get(ev, "content")), "starting trainer");
    json_decref(ev);
    assert_null(ad_rec_message_json(&r.v[0]));
    ad_parser_free(p);
    ad_recs_cleanup(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(claude_text_turn),
        cmocka_unit_test(claude_tool_call),
        cmocka_unit_test(claude_followup_and_resume),
        cmocka_unit_test(claude_api_errors),
        cmocka_unit_test(claude_interrupted_turn),
        cmocka_unit_test(claude_handmade_reference_shapes),
        cmocka_unit_test(claude_permission_prompts),
        cmocka_unit_test(context_level_uses_model_window),
        cmocka_unit_test(codex_items_and_turns),
        cmocka_unit_test(gemini_stream),
        cmocka_unit_test(command_known_events_and_output),
        cmocka_unit_test(garbage_is_output_never_fatal),
        cmocka_unit_test(huge_lines_are_capped),
        cmocka_unit_test(every_truncation_of_real_lines),
        cmocka_unit_test(finish_ends_open_tools),
        cmocka_unit_test(many_open_tools_and_ids_stay_bounded),
        cmocka_unit_test(records_map_to_design_events),
    };
    return cmocka_run_group_tests_name("agent-parser", tests, NULL, NULL);
}
