/* SPDX-License-Identifier: MIT */
/* Tests for src/llm: the SSE decoder and the Messages stream decoder fed a
 * transcript in the exact wire format (agent-protocols.md §D.4) whole, byte
 * by byte and in odd splits, with CRLF and CR line ends, comments, pings,
 * thinking and tool deltas, an error mid-stream, caps; the request body's
 * cache marks; retry-after and the backoff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/llm.h"

static const char TRANSCRIPT[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01Mock0001\",\"type\":\"message\","
    "\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5-20250929\","
    "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,"
    "\"cache_creation_input_tokens\":100,\"cache_read_input_tokens\":50,\"output_tokens\":2}}}\n"
    "\n"
    ": a comment line\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\","
    "\"thinking\":\"\",\"signature\":\"\"}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\","
    "\"thinking\":\"hmm\"}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\","
    "\"signature\":\"sig\"}}\n"
    "\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n"
    "\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\","
    "\"text\":\"\"}}\n"
    "\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"Let me check \\u00e9\"}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\" the files.\"}}\n"
    "\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":1}\n"
    "\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\","
    "\"id\":\"toolu_01\",\"name\":\"Bash\",\"input\":{}}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\","
    "\"partial_json\":\"\"}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\","
    "\"partial_json\":\"{\\\"command\\\": \\\"l\"}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\","
    "\"partial_json\":\"s\\\"}\"}}\n"
    "\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":2}\n"
    "\n"
    "event: some_future_event\n"
    "data: {\"type\":\"some_future_event\"}\n"
    "\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\","
    "\"stop_sequence\":null},\"usage\":{\"output_tokens\":41}}\n"
    "\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n"
    "\n";

typedef struct {
    char text[256];
    char thinking[64];
    char tool[64];
    int deltas;
} got_t;

static void cat(char *dst, size_t dsz, const char *s, size_t n)
{
    size_t l = strlen(dst);
    assert_true(l + n < dsz);
    memcpy(dst + l, s, n);
    dst[l + n] = '\0';
}

static void on_delta(void *ud, ad_llm_delta_t kind, const char *text, size_t len)
{
    got_t *g = ud;
    g->deltas++;
    if (kind == AD_LLM_TEXT) {
        cat(g->text, sizeof(g->text), text, len);
    } else if (kind == AD_LLM_THINKING) {
        cat(g->thinking, sizeof(g->thinking), text, len);
    } else {
        cat(g->tool, sizeof(g->tool), text, len);
    }
}

/* Feeds s in pieces of the sizes step() gives, checks the whole answer. */
static void feed_checked(const char *s, size_t n, size_t (*step)(size_t i))
{
    got_t g;
    memset(&g, 0, sizeof(g));
    ad_llm_stream_t st;
    ad_llm_stream_init(&st, on_delta, &g);
    size_t i = 0;
    while (i < n) {
        size_t k = step(i);
        if (k > n - i) {
            k = n - i;
        }
        assert_int_equal(ad_llm_stream_feed(&st, s + i, k), 0);
        i += k;
    }
    assert_string_equal(g.text, "Let me check \xc3\xa9 the files.");
    assert_string_equal(g.thinking, "hmm");
    assert_string_equal(g.tool, "{\"command\": \"ls\"}");
    assert_int_equal(g.deltas, 5);
    assert_true(st.started);
    assert_true(st.stopped);
    assert_false(st.failed);
    assert_int_equal(st.blocks, 3);
    assert_string_equal(st.stop_reason, "tool_use");
    assert_string_equal(st.model, "claude-sonnet-4-5-20250929");
    assert_string_equal(st.message_id, "msg_01Mock0001");
    assert_int_equal(st.usage.input_tokens, 472);
    assert_int_equal(st.usage.output_tokens, 41);
    assert_int_equal(st.usage.cache_write_tokens, 100);
    assert_int_equal(st.usage.cache_read_tokens, 50);
    ad_llm_stream_cleanup(&st);
}

static size_t whole(size_t i)
{
    AD_UNUSED(i);
    return (size_t)-1;
}
static size_t one(size_t i)
{
    AD_UNUSED(i);
    return 1;
}
static size_t odd(size_t i)
{
    static const size_t sizes[] = {7, 1, 13, 2, 64, 3, 1, 31, 5};
    return sizes[(i * 7 + 3) % AD_ARRAY_LEN(sizes)];
}
static size_t randomly(size_t i)
{
    AD_UNUSED(i);
    return (size_t)(rand() % 97) + 1;
}

static void transcript_whole_byte_by_byte_and_split(void **state)
{
    AD_UNUSED(state);
    size_t n = strlen(TRANSCRIPT);
    feed_checked(TRANSCRIPT, n, whole);
    feed_checked(TRANSCRIPT, n, one);
    feed_checked(TRANSCRIPT, n, odd);
    srand(18);
    for (int k = 0; k < 50; k++) {
        feed_checked(TRANSCRIPT, n, randomly);
    }
}

/* The same transcript with CRLF and with CR line ends: every split too. */
static char *with_ends(const char *ends)
{
    size_t n = strlen(TRANSCRIPT);
    char *out = malloc(n * 2 + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (TRANSCRIPT[i] == '\n') {
            memcpy(out + o, ends, strlen(ends));
            o += strlen(ends);
        } else {
            out[o++] = TRANSCRIPT[i];
        }
    }
    out[o] = '\0';
    return out;
}

static void crlf_and_cr_line_ends(void **state)
{
    AD_UNUSED(state);
    const char *kinds[] = {"\r\n", "\r"};
    for (size_t k = 0; k < 2; k++) {
        char *s = with_ends(kinds[k]);
        feed_checked(s, strlen(s), whole);
        feed_checked(s, strlen(s), one);
        feed_checked(s, strlen(s), odd);
        free(s);
    }
}

typedef struct {
    int n;
    char event[64];
    char data[256];
} raw_t;

static void on_raw(void *ud, const char *event, const char *data, size_t len)
{
    raw_t *r = ud;
    r->n++;
    snprintf(r->event, sizeof(r->event), "%s", event);
    snprintf(r->data, sizeof(r->data), "%.*s", (int)len, data);
}

static void sse_rules(void **state)
{
    AD_UNUSED(state);
    raw_t r;
    memset(&r, 0, sizeof(r));
    ad_ssedec_t s;
    ad_ssedec_init(&s, 1024, on_raw, &r);
    /* two data lines join with LF; no space after the colon; a field with
     * no colon; an event without data dispatches nothing. */
    const char *in = "event:x\ndata:a\ndata: b\nfoo\n\nevent: y\n\n: c\ndata\n\n";
    assert_int_equal(ad_ssedec_feed(&s, in, strlen(in)), 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.event, "");
    assert_string_equal(r.data, "");
    ad_ssedec_cleanup(&s);

    memset(&r, 0, sizeof(r));
    ad_ssedec_init(&s, 1024, on_raw, &r);
    in = "event:x\ndata:a\ndata: b\n\n";
    assert_int_equal(ad_ssedec_feed(&s, in, strlen(in)), 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.event, "x");
    assert_string_equal(r.data, "a\nb");
    /* An unterminated event at the end is never dispatched. */
    assert_int_equal(ad_ssedec_feed(&s, "data: c\n", 8), 0);
    assert_int_equal(r.n, 1);
    ad_ssedec_cleanup(&s);
}

static void caps_refuse(void **state)
{
    AD_UNUSED(state);
    raw_t r;
    memset(&r, 0, sizeof(r));
    ad_ssedec_t s;
    ad_ssedec_init(&s, 16, on_raw, &r);
    char big[64];
    memset(big, 'a', sizeof(big));
    int rc = 0;
    for (size_t i = 0; i < sizeof(big) && rc == 0; i++) {
        rc = ad_ssedec_feed(&s, big + i, 1);
    }
    assert_int_equal(rc, AD_ETOOBIG);
    ad_ssedec_cleanup(&s);
    /* many data lines, each short, past the cap of the event */
    ad_ssedec_init(&s, 16, on_raw, &r);
    rc = 0;
    for (int i = 0; i < 10 && rc == 0; i++) {
        rc = ad_ssedec_feed(&s, "data: abcd\n", 11);
    }
    assert_int_equal(rc, AD_ETOOBIG);
    ad_ssedec_cleanup(&s);
}

static void error_mid_stream(void **state)
{
    AD_UNUSED(state);
    const char *in =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\","
        "\"model\":\"x\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
        "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"text_delta\",\"text\":\"Partial\"}}\n\n"
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
        "\"message\":\"Overloaded\"}}\n\n";
    got_t g;
    memset(&g, 0, sizeof(g));
    ad_llm_stream_t st;
    ad_llm_stream_init(&st, on_delta, &g);
    for (size_t i = 0; i < strlen(in); i += 3) {
        size_t k = strlen(in) - i < 3 ? strlen(in) - i : 3;
        assert_int_equal(ad_llm_stream_feed(&st, in + i, k), 0);
    }
    assert_string_equal(g.text, "Partial");
    assert_true(st.failed);
    assert_false(st.stopped);
    assert_string_equal(st.error_type, "overloaded_error");
    assert_string_equal(st.error_message, "Overloaded");
    assert_int_equal(st.usage.input_tokens, 3);
    ad_llm_stream_cleanup(&st);
}

static void request_body_marks_cache(void **state)
{
    AD_UNUSED(state);
    char sys[2000];
    memset(sys, 's', sizeof(sys) - 1);
    sys[sizeof(sys) - 1] = '\0';
    json_t *msgs = json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s}]", "role", "user", "content", "a",
                             "role", "assistant", "content", "b", "role", "user", "content", "c");
    ad_llm_body_t b = {.model = "m",
                       .system = sys,
                       .messages = msgs,
                       .max_tokens = 100,
                       .temperature = 0.5,
                       .has_temperature = true};
    json_t *body = ad_llm_request_body(&b);
    assert_true(json_is_true(json_object_get(body, "stream")));
    json_t *s0 = json_array_get(json_object_get(body, "system"), 0);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(s0, "cache_control"), "type")),
        "ephemeral");
    json_t *m1 = json_array_get(json_object_get(body, "messages"), 1);
    json_t *blk = json_array_get(json_object_get(m1, "content"), 0);
    assert_non_null(json_object_get(blk, "cache_control"));
    assert_string_equal(json_string_value(json_object_get(blk, "text")), "b");
    /* the newest message is left as it was; the caller's array untouched */
    assert_true(json_is_string(
        json_object_get(json_array_get(json_object_get(body, "messages"), 2), "content")));
    assert_true(json_is_string(json_object_get(json_array_get(msgs, 1), "content")));
    json_decref(body);
    b.system = "short";
    body = ad_llm_request_body(&b);
    assert_string_equal(json_string_value(json_object_get(body, "system")), "short");
    json_decref(body);
    json_decref(msgs);
}

static void retry_after_and_backoff(void **state)
{
    AD_UNUSED(state);
    assert_int_equal(ad_llm_retry_after_ms("7", 0), 7000);
    assert_int_equal(ad_llm_retry_after_ms(" 0.5", 0), 500);
    assert_int_equal(ad_llm_retry_after_ms(NULL, 0), -1);
    assert_int_equal(ad_llm_retry_after_ms("soon", 0), -1);
    /* Sun, 06 Nov 1994 08:49:37 GMT = 784111777 */
    assert_int_equal(ad_llm_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", 784111770000LL), 7000);
    assert_true(ad_llm_status_retryable(429));
    assert_true(ad_llm_status_retryable(529));
    assert_true(ad_llm_status_retryable(500));
    assert_false(ad_llm_status_retryable(400));
    assert_false(ad_llm_status_retryable(401));
    assert_false(ad_llm_status_retryable(403));
    assert_int_equal(ad_llm_backoff_ms(1, 0.0), 500);
    assert_int_equal(ad_llm_backoff_ms(2, 0.0), 1000);
    assert_int_equal(ad_llm_backoff_ms(10, 0.0), 8000);
    assert_int_equal(ad_llm_backoff_ms(1, 0.999), 500 - 124);
    char type[64] = "", msg[128] = "";
    const char *e =
        "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"slow\"}}";
    ad_llm_error_body(e, strlen(e), type, sizeof(type), msg, sizeof(msg));
    assert_string_equal(type, "rate_limit_error");
    assert_string_equal(msg, "slow");
}

/* A Chat Completions stream (OpenAI-compatible servers): deltas, the
 * finish reason, the usage chunk, [DONE]; and an error chunk. */
static void openai_chunks_in_any_split(void **state)
{
    AD_UNUSED(state);
    const char *in =
        "data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
        "\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n"
        ": keep-alive\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"hmm\"}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\r\n\r\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3,"
        "\"prompt_tokens_details\":{\"cached_tokens\":4}}}\n\n"
        "data: [DONE]\n\n";
    size_t n = strlen(in);
    for (size_t step = 1; step <= n; step += step < 8 ? 1 : 13) {
        got_t g;
        memset(&g, 0, sizeof(g));
        ad_llm_stream_t st;
        ad_llm_stream_init_openai(&st, on_delta, &g);
        for (size_t i = 0; i < n; i += step) {
            assert_int_equal(ad_llm_stream_feed(&st, in + i, i + step > n ? n - i : step), 0);
        }
        assert_string_equal(g.text, "Hello");
        assert_string_equal(g.thinking, "hmm");
        assert_true(st.stopped);
        assert_false(st.failed);
        assert_string_equal(st.stop_reason, "stop");
        assert_string_equal(st.model, "m");
        assert_int_equal(st.usage.input_tokens, 8);
        assert_int_equal(st.usage.cache_read_tokens, 4);
        assert_int_equal(st.usage.output_tokens, 3);
        ad_llm_stream_cleanup(&st);
    }
    const char *err = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"P\"}}]}\n\n"
                      "data: {\"error\":{\"message\":\"busy\",\"type\":\"server_error\"}}\n\n";
    ad_llm_stream_t st;
    ad_llm_stream_init_openai(&st, NULL, NULL);
    assert_int_equal(ad_llm_stream_feed(&st, err, strlen(err)), 0);
    assert_true(st.failed);
    assert_false(st.stopped);
    assert_string_equal(st.error_type, "server_error");
    assert_string_equal(st.error_message, "busy");
    ad_llm_stream_cleanup(&st);
    json_t *msgs = json_pack("[{s:s,s:s}]", "role", "user", "content", "hi");
    ad_llm_body_t b = {.provider = AD_LLM_OPENAI, .model = "m", .system = "sys", .messages = msgs};
    json_t *body = ad_llm_request_body(&b);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(body, "messages"), 0), "role")),
                        "system");
    assert_true(
        json_is_true(json_object_get(json_object_get(body, "stream_options"), "include_usage")));
    json_decref(body);
    json_decref(msgs);
}

/* Tool calls from both formats: Chat Completions' tool_calls pieces (in
 * any split) and a Messages tool_use block's input_json_delta pieces. */
static void tool_calls_put_together(void **state)
{
    AD_UNUSED(state);
    const char *in =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,"
        "\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":"
        "{\"name\":\"get_weather\",\"arguments\":\"\"}}]}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
        "\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":"
        "\"call_2\",\"function\":{\"name\":\"noop\",\"arguments\":\"{}\"}}]}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
        "\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
        "data: [DONE]\n\n";
    size_t n = strlen(in);
    for (size_t step = 1; step <= n; step += step < 8 ? 1 : 17) {
        ad_llm_stream_t st;
        ad_llm_stream_init_openai(&st, NULL, NULL);
        for (size_t i = 0; i < n; i += step) {
            assert_int_equal(ad_llm_stream_feed(&st, in + i, i + step > n ? n - i : step), 0);
        }
        json_t *calls = ad_llm_tool_calls(&st);
        json_t *want = json_pack("[{s:s, s:s, s:{s:s}}, {s:s, s:s, s:{}}]", "id", "call_1", "name",
                                 "get_weather", "input", "city", "Paris", "id", "call_2", "name",
                                 "noop", "input");
        assert_true(json_equal(calls, want));
        assert_string_equal(st.stop_reason, "tool_calls");
        json_decref(want);
        json_decref(calls);
        ad_llm_stream_cleanup(&st);
    }
    const char *msg =
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,"
        "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"Bash\","
        "\"input\":{}}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
        "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"command\\\": \"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
        "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"ls\\\"\"}}\n\n";
    ad_llm_stream_t st;
    ad_llm_stream_init(&st, NULL, NULL);
    assert_int_equal(ad_llm_stream_feed(&st, msg, strlen(msg)), 0);
    json_t *calls = ad_llm_tool_calls(&st);
    /* cut before its closing brace: kept as text */
    assert_true(json_is_null(json_object_get(json_array_get(calls, 0), "input")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(calls, 0), "arguments")),
                        "{\"command\": \"ls\"");
    assert_string_equal(json_string_value(json_object_get(json_array_get(calls, 0), "id")),
                        "toolu_1");
    json_decref(calls);
    ad_llm_stream_cleanup(&st);
}

/* ---- text deltas read without jansson give what jansson gives ---- */

typedef struct {
    char text[4096];
    size_t len;
    int deltas;
} textgot_t;

static void on_raw_delta(void *ud, ad_llm_delta_t kind, const char *text, size_t len)
{
    textgot_t *r = ud;
    assert_int_equal(kind, AD_LLM_TEXT);
    assert_true(r->len + len < sizeof(r->text));
    memcpy(r->text + r->len, text, len);
    r->len += len;
    r->deltas++;
}

/* One event's data through the stream, against jansson's reading of it. */
static void same_as_jansson(const char *data, size_t n)
{
    textgot_t want = {0}, got = {0};
    json_t *o = json_loadb(data, n, 0, NULL);
    json_t *d = json_object_get(o, "delta");
    const char *type = json_string_value(json_object_get(d, "type"));
    json_t *t = json_object_get(d, "text");
    if (json_is_object(o) && type != NULL && strcmp(type, "text_delta") == 0 && json_is_string(t) &&
        json_string_length(t) > 0) {
        memcpy(want.text, json_string_value(t), json_string_length(t));
        want.len = json_string_length(t);
        want.deltas = 1;
    }
    json_decref(o);
    ad_llm_stream_t st;
    ad_llm_stream_init(&st, on_raw_delta, &got);
    static const char ev[] = "event: content_block_delta\ndata: ";
    assert_int_equal(ad_llm_stream_feed(&st, ev, sizeof(ev) - 1), 0);
    assert_int_equal(ad_llm_stream_feed(&st, data, n), 0);
    assert_int_equal(ad_llm_stream_feed(&st, "\n\n", 2), 0);
    ad_llm_stream_cleanup(&st);
    if (got.deltas != want.deltas || got.len != want.len ||
        memcmp(got.text, want.text, got.len) != 0) {
        print_message("differs for: %.*s\n", (int)n, data);
    }
    assert_int_equal(got.deltas, want.deltas);
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.text, want.text, got.len);
}

static void text_delta_events_read_as_jansson_reads_them(void **state)
{
    (void)state;
    static const char *const whole[] = {
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":"
        "\"tok \"}}",
        "{\"type\":\"content_block_delta\",\"index\":12,\"delta\":{\"type\":\"text_delta\","
        "\"text\":\"a\\nb\\\"c\\\\d\\/e\\tf\"}}  ",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":"
        "\"\\u00e9\\ud83d\\ude00\"}}",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":"
        "\"\\ud83d\"}}",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":"
        "\"\\u0000\"}}",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":"
        "\"\"}}",
        "{\"type\":\"content_block_delta\",\"index\":01,\"delta\":{\"type\":\"text_delta\","
        "\"text\":\"x\"}}",
        "{\"type\":\"content_block_delta\",\"index\":1234567890,\"delta\":{\"type\":\"text_delta\","
        "\"text\":\"x\"}}",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":"
        "\"x\"}}x",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":"
        "\"x\"}",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":"
        "\"x",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":"
        "\"x\\q\"}}",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":"
        "\"x\\",
        "{\"type\":\"content_block_delta\", "
        "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"spaced\"}}",
        "{\"index\":0,\"type\":\"content_block_delta\",\"delta\":{\"text\":\"other "
        "order\",\"type\":\"text_delta\"}}",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":"
        "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}}",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":"
        "\"\xc3\"}}",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":"
        "\"\xed\xa0\x80\"}}",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":"
        "\"\xc0\xaf\"}}",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":"
        "\"\x01\"}}",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":"
        "\"\x7f\"}}",
    };
    for (size_t i = 0; i < sizeof(whole) / sizeof(whole[0]); i++) {
        same_as_jansson(whole[i], strlen(whole[i]));
    }
    /* Random texts from the characters that matter to either reader. */
    static const char alphabet[] = "ab \"\\/nrtbfu0d8eA\x01\x1f\x7f\xc3\xa9\xe2\x82\xac\xed\xa0\x80"
                                   "\xf0\x9f\x98\xf4\x90}{,:";
    static const char head[] = "{\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":"
                               "\"text_delta\",\"text\":\"";
    char data[512];
    unsigned seed = 12345;
    for (int k = 0; k < 50000; k++) {
        size_t n = sizeof(head) - 1;
        memcpy(data, head, n);
        seed = seed * 1103515245u + 12345u;
        size_t len = (seed >> 16) % 24;
        for (size_t j = 0; j < len; j++) {
            seed = seed * 1103515245u + 12345u;
            data[n++] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
        }
        memcpy(data + n, "\"}}", 3);
        n += 3;
        same_as_jansson(data, n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(transcript_whole_byte_by_byte_and_split),
        cmocka_unit_test(crlf_and_cr_line_ends),
        cmocka_unit_test(sse_rules),
        cmocka_unit_test(caps_refuse),
        cmocka_unit_test(error_mid_stream),
        cmocka_unit_test(request_body_marks_cache),
        cmocka_unit_test(retry_after_and_backoff),
        cmocka_unit_test(openai_chunks_in_any_split),
        cmocka_unit_test(tool_calls_put_together),
        cmocka_unit_test(text_delta_events_read_as_jansson_reads_them),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
