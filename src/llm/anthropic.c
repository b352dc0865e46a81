/* SPDX-License-Identifier: MIT */
/*
 * The Anthropic Messages API's wire format (reference agent-protocols.md
 * §D): the streamed events decoded into deltas, usage and the stop reason;
 * the request body (with prompt-caching marks); error bodies, retry-after
 * and the backoff between tries. Pure: no I/O, no loop.
 */
#define _GNU_SOURCE /* strptime */
#include "llm/llm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define STREAM_EVENT_MAX (1024 * 1024)
/* Below this a system prompt is not worth a cache write (the API's own
 * minimum is 1024 tokens; bytes are a cheap lower bound). */
#define CACHE_SYSTEM_MIN 1024

static void copy_str(char *dst, size_t dsz, const char *src)
{
    snprintf(dst, dsz, "%s", src != NULL ? src : "");
}

/* Usage objects are cumulative: a field present replaces the last value. */
static void take_usage(ad_llm_usage_t *u, json_t *o)
{
    json_t *v;
    if ((v = json_object_get(o, "input_tokens")) != NULL && json_is_integer(v)) {
        u->input_tokens = json_integer_value(v);
    }
    if ((v = json_object_get(o, "output_tokens")) != NULL && json_is_integer(v)) {
        u->output_tokens = json_integer_value(v);
    }
    if ((v = json_object_get(o, "cache_read_input_tokens")) != NULL && json_is_integer(v)) {
        u->cache_read_tokens = json_integer_value(v);
    }
    if ((v = json_object_get(o, "cache_creation_input_tokens")) != NULL && json_is_integer(v)) {
        u->cache_write_tokens = json_integer_value(v);
    }
}

static void on_delta_event(ad_llm_stream_t *st, json_t *delta, int index)
{
    const char *t = json_string_value(json_object_get(delta, "type"));
    const char *key = NULL;
    ad_llm_delta_t kind = AD_LLM_TEXT;
    if (t == NULL) {
        return;
    }
    if (strcmp(t, "text_delta") == 0) {
        key = "text";
    } else if (strcmp(t, "thinking_delta") == 0) {
        key = "thinking";
        kind = AD_LLM_THINKING;
    } else if (strcmp(t, "input_json_delta") == 0) {
        key = "partial_json";
        kind = AD_LLM_TOOL;
    }
    /* signature_delta and kinds added later carry nothing to show. */
    json_t *v = key != NULL ? json_object_get(delta, key) : NULL;
    if (kind == AD_LLM_TOOL && json_is_string(v)) {
        ad_llm_tool_args(st, index, json_string_value(v), json_string_length(v));
    }
    if (json_is_string(v) && json_string_length(v) > 0 && st->on_delta != NULL) {
        st->on_delta(st->ud, kind, json_string_value(v), json_string_length(v));
    }
}

static void on_message_start(ad_llm_stream_t *st, json_t *msg)
{
    st->started = true;
    copy_str(st->model, sizeof(st->model), json_string_value(json_object_get(msg, "model")));
    copy_str(st->message_id, sizeof(st->message_id), json_string_value(json_object_get(msg, "id")));
    take_usage(&st->usage, json_object_get(msg, "usage"));
}

static void on_error_event(ad_llm_stream_t *st, json_t *err)
{
    st->failed = true;
    const char *type = json_string_value(json_object_get(err, "type"));
    const char *msg = json_string_value(json_object_get(err, "message"));
    copy_str(st->error_type, sizeof(st->error_type), type != NULL ? type : "api_error");
    copy_str(st->error_message, sizeof(st->error_message),
             msg != NULL ? msg : "the stream reported an error");
}

/* A text delta comes once a token, in exactly this shape (agent-protocols.md
 * §D.4): read here without jansson, whose objects were 6 % of agentd's CPU
 * per token, their mallocs aside (bench/README, L2). Anything else returns
 * false and goes to jansson: other key orders or spacing, a \u escape,
 * invalid UTF-8, a control character, a number with a leading zero. So
 * what this accepts is what jansson would, decoded the same
 * (tests/unit/test-llm-sse.c compares the two). */
static const char DELTA_HEAD[] = "{\"type\":\"content_block_delta\",\"index\":";
static const char DELTA_TEXT[] = ",\"delta\":{\"type\":\"text_delta\",\"text\":\"";

/* The escape after a backslash, decoded; 0 for \u and anything invalid. */
static char unescape(char e)
{
    switch (e) {
    case '"':
    case '\\':
    case '/':
        return e;
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    default:
        return 0;
    }
}

static bool text_delta(ad_llm_stream_t *st, const char *p, size_t n)
{
    size_t i = sizeof(DELTA_HEAD) - 1;
    if (n < i || memcmp(p, DELTA_HEAD, i) != 0) {
        return false;
    }
    size_t digits = 0;
    while (i < n && p[i] >= '0' && p[i] <= '9' && digits < 9) {
        i++;
        digits++;
    }
    size_t tl = sizeof(DELTA_TEXT) - 1;
    if (digits == 0 || (digits > 1 && p[i - digits] == '0') || n - i < tl ||
        memcmp(p + i, DELTA_TEXT, tl) != 0) {
        return false;
    }
    size_t start = i + tl;
    bool escaped = false;
    for (i = start; i < n && p[i] != '"'; i++) {
        if ((unsigned char)p[i] < 0x20) {
            return false;
        }
        if (p[i] == '\\') {
            if (i + 1 >= n || unescape(p[i + 1]) == 0) {
                return false;
            }
            escaped = true;
            i++;
        }
    }
    size_t end = i;
    if (end + 3 > n || p[end + 1] != '}' || p[end + 2] != '}') {
        return false;
    }
    for (i = end + 3; i < n; i++) {
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r') {
            return false;
        }
    }
    if (!ad_utf8_valid(p + start, end - start)) {
        return false;
    }
    const char *text = p + start;
    size_t len = end - start;
    if (escaped) {
        ad_buf_reset(&st->text);
        for (i = start; i < end; i++) {
            char c = p[i] == '\\' ? unescape(p[++i]) : p[i];
            if (ad_buf_putc(&st->text, c) != 0) {
                return false; /* past the event cap: jansson decides */
            }
        }
        text = st->text.data;
        len = st->text.len;
    }
    if (len > 0 && st->on_delta != NULL) {
        st->on_delta(st->ud, AD_LLM_TEXT, text, len);
    }
    return true;
}

/* Dispatches on the SSE event name, as the SDKs do; the data's type is the
 * fallback for an unnamed event. Unknown events are ignored. */
static void on_sse(void *ud, const char *event, const char *data, size_t len)
{
    ad_llm_stream_t *st = ud;
    if (st->openai) {
        ad_llm_openai_event(st, data, len);
        return;
    }
    if ((event[0] == '\0' || strcmp(event, "content_block_delta") == 0) &&
        text_delta(st, data, len)) {
        return;
    }
    json_t *o = json_loadb(data, len, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return;
    }
    const char *name = event[0] != '\0' ? event : json_string_value(json_object_get(o, "type"));
    if (name == NULL) {
        name = "";
    }
    if (strcmp(name, "message_start") == 0) {
        on_message_start(st, json_object_get(o, "message"));
    } else if (strcmp(name, "content_block_start") == 0) {
        st->blocks++;
        json_t *b = json_object_get(o, "content_block");
        const char *bt = json_string_value(json_object_get(b, "type"));
        if (bt != NULL && strcmp(bt, "tool_use") == 0) {
            ad_llm_tool_start(st, (int)json_integer_value(json_object_get(o, "index")),
                              json_string_value(json_object_get(b, "id")),
                              json_string_value(json_object_get(b, "name")));
        }
    } else if (strcmp(name, "content_block_delta") == 0) {
        on_delta_event(st, json_object_get(o, "delta"),
                       (int)json_integer_value(json_object_get(o, "index")));
    } else if (strcmp(name, "message_delta") == 0) {
        const char *sr =
            json_string_value(json_object_get(json_object_get(o, "delta"), "stop_reason"));
        if (sr != NULL) {
            copy_str(st->stop_reason, sizeof(st->stop_reason), sr);
        }
        take_usage(&st->usage, json_object_get(o, "usage"));
    } else if (strcmp(name, "message_stop") == 0) {
        st->stopped = true;
    } else if (strcmp(name, "error") == 0) {
        on_error_event(st, json_object_get(o, "error"));
    }
    json_decref(o);
}

void ad_llm_stream_init(ad_llm_stream_t *st, ad_llm_delta_cb on_delta, void *ud)
{
    memset(st, 0, sizeof(*st));
    ad_ssedec_init(&st->sse, STREAM_EVENT_MAX, on_sse, st);
    ad_buf_init(&st->text, STREAM_EVENT_MAX);
    st->on_delta = on_delta;
    st->ud = ud;
}

void ad_llm_stream_cleanup(ad_llm_stream_t *st)
{
    ad_ssedec_cleanup(&st->sse);
    ad_buf_cleanup(&st->text);
    json_decref(st->tools);
    st->tools = NULL;
}

int ad_llm_stream_feed(ad_llm_stream_t *st, const char *p, size_t n)
{
    return ad_ssedec_feed(&st->sse, p, n);
}

/* messages with cache_control on the last block of the message before the
 * newest: the prefix the next turn will send again. New reference. */
static json_t *cached_messages(json_t *messages)
{
    json_t *out = json_deep_copy(messages);
    size_t n = json_array_size(out);
    if (n < 2) {
        return out;
    }
    json_t *m = json_array_get(out, n - 2);
    json_t *content = json_object_get(m, "content");
    if (json_is_string(content)) {
        json_t *block = json_pack("[{s:s, s:O, s:{s:s}}]", "type", "text", "text", content,
                                  "cache_control", "type", "ephemeral");
        json_object_set_new(m, "content", block);
    }
    return out;
}

json_t *ad_llm_request_body(const ad_llm_body_t *b)
{
    if (b->provider == AD_LLM_OPENAI) {
        return ad_llm_request_body_openai(b);
    }
    json_t *body = json_pack("{s:s, s:i, s:b, s:o}", "model", b->model, "max_tokens",
                             b->max_tokens > 0 ? b->max_tokens : 1024, "stream", 1, "messages",
                             cached_messages(b->messages));
    if (b->system != NULL && b->system[0] != '\0') {
        if (strlen(b->system) >= CACHE_SYSTEM_MIN) {
            json_object_set_new(body, "system",
                                json_pack("[{s:s, s:s, s:{s:s}}]", "type", "text", "text",
                                          b->system, "cache_control", "type", "ephemeral"));
        } else {
            json_object_set_new(body, "system", json_string(b->system));
        }
    }
    if (b->has_temperature) {
        json_object_set_new(body, "temperature", json_real(b->temperature));
    }
    return body;
}

void ad_llm_error_body(const char *body, size_t len, char *type, size_t typesz, char *message,
                       size_t msgsz)
{
    json_t *o = json_loadb(body, len, 0, NULL);
    json_t *err = json_object_get(o, "error");
    const char *t = json_string_value(json_object_get(err, "type"));
    const char *m = json_string_value(json_object_get(err, "message"));
    if (t != NULL) {
        copy_str(type, typesz, t);
    }
    if (m != NULL) {
        copy_str(message, msgsz, m);
    }
    json_decref(o);
}

int64_t ad_llm_retry_after_ms(const char *value, int64_t now_ms)
{
    if (value == NULL) {
        return -1;
    }
    while (*value == ' ') {
        value++;
    }
    char *end;
    double secs = strtod(value, &end);
    if (end != value && (*end == '\0' || *end == ' ' || *end == '\r') && secs >= 0 &&
        secs <= 86400) {
        return (int64_t)llround(secs * 1000.0);
    }
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *rest = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (rest == NULL) {
        return -1;
    }
    int64_t at = (int64_t)timegm(&tm) * 1000;
    return at > now_ms ? at - now_ms : 0;
}

bool ad_llm_status_retryable(int status)
{
    return status == 408 || status == 409 || status == 429 || status >= 500;
}

int64_t ad_llm_backoff_ms(int attempt, double rnd)
{
    int shift = attempt > 1 ? attempt - 1 : 0;
    int64_t base = shift > 4 ? 8000 : 500LL << shift;
    if (base > 8000) {
        base = 8000;
    }
    return base - (int64_t)((double)base * 0.25 * rnd);
}
