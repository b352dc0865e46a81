/* SPDX-License-Identifier: MIT */
/*
 * The OpenAI Chat Completions wire format, which local model servers
 * (llama.cpp, vLLM, Ollama, LM Studio) speak too: `data:` chunks with
 * choices[].delta.content, a finish_reason, a usage chunk when asked
 * (stream_options.include_usage), then `data: [DONE]`; an error object
 * mid-stream; delta.tool_calls put together as tool_use blocks are
 * (tools.c). Pure, like anthropic.c, whose SSE decoder feeds this.
 */
#include "llm/llm.h"

#include <stdio.h>
#include <string.h>

int ad_llm_provider_parse(const char *name, ad_llm_provider_t *out)
{
    if (name != NULL && strcmp(name, "anthropic") == 0) {
        *out = AD_LLM_ANTHROPIC;
        return 0;
    }
    if (name != NULL && strcmp(name, "openai") == 0) {
        *out = AD_LLM_OPENAI;
        return 0;
    }
    return AD_EINVAL;
}

void ad_llm_stream_init_openai(ad_llm_stream_t *st, ad_llm_delta_cb on_delta, void *ud)
{
    ad_llm_stream_init(st, on_delta, ud);
    st->openai = true;
}

static void copy(char *dst, size_t n, json_t *v)
{
    if (json_is_string(v)) {
        snprintf(dst, n, "%s", json_string_value(v));
    }
}

/* prompt_tokens includes the cached ones: input is the rest. */
static void take_usage(ad_llm_stream_t *st, json_t *u)
{
    json_t *p = json_object_get(u, "prompt_tokens"), *c = json_object_get(u, "completion_tokens");
    json_t *cached = json_object_get(json_object_get(u, "prompt_tokens_details"), "cached_tokens");
    int64_t hit = json_is_integer(cached) ? json_integer_value(cached) : 0;
    if (json_is_integer(p)) {
        st->usage.input_tokens = json_integer_value(p) - hit;
        st->usage.cache_read_tokens = hit;
    }
    if (json_is_integer(c)) {
        st->usage.output_tokens = json_integer_value(c);
    }
}

/* delta.tool_calls: [{index, id?, type?, function: {name?, arguments?}}];
 * the first piece of an index names the call, the rest add arguments. */
static void take_tool_calls(ad_llm_stream_t *st, json_t *calls)
{
    size_t i;
    json_t *tc;
    json_array_foreach(calls, i, tc)
    {
        json_t *idx = json_object_get(tc, "index"), *fn = json_object_get(tc, "function");
        int index = json_is_integer(idx) ? (int)json_integer_value(idx) : (int)i;
        ad_llm_tool_start(st, index, json_string_value(json_object_get(tc, "id")),
                          json_string_value(json_object_get(fn, "name")));
        json_t *args = json_object_get(fn, "arguments");
        if (json_is_string(args) && json_string_length(args) > 0) {
            ad_llm_tool_args(st, index, json_string_value(args), json_string_length(args));
            if (st->on_delta != NULL) {
                st->on_delta(st->ud, AD_LLM_TOOL, json_string_value(args),
                             json_string_length(args));
            }
        }
    }
}

static void take_choice(ad_llm_stream_t *st, json_t *choice)
{
    json_t *delta = json_object_get(choice, "delta");
    static const struct {
        const char *key;
        ad_llm_delta_t kind;
    } parts[] = {{"reasoning_content", AD_LLM_THINKING}, {"content", AD_LLM_TEXT}};
    for (size_t i = 0; i < AD_ARRAY_LEN(parts); i++) {
        json_t *v = json_object_get(delta, parts[i].key);
        if (json_is_string(v) && json_string_length(v) > 0 && st->on_delta != NULL) {
            st->on_delta(st->ud, parts[i].kind, json_string_value(v), json_string_length(v));
        }
    }
    take_tool_calls(st, json_object_get(delta, "tool_calls"));
    json_t *fin = json_object_get(choice, "finish_reason");
    if (json_is_string(fin)) {
        copy(st->stop_reason, sizeof(st->stop_reason), fin);
        st->stopped = true; /* [DONE] may follow, or only the end of the body */
    }
}

void ad_llm_openai_event(ad_llm_stream_t *st, const char *data, size_t len)
{
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        st->stopped = true;
        return;
    }
    json_t *o = json_loadb(data, len, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return;
    }
    json_t *err = json_object_get(o, "error");
    if (err != NULL) {
        st->failed = true;
        json_t *t = json_object_get(err, "type");
        snprintf(st->error_type, sizeof(st->error_type), "%s",
                 json_is_string(t) ? json_string_value(t) : "api_error");
        json_t *m = json_object_get(err, "message");
        snprintf(st->error_message, sizeof(st->error_message), "%s",
                 json_is_string(m) ? json_string_value(m) : "the stream reported an error");
    } else {
        if (!st->started) {
            st->started = true;
            copy(st->model, sizeof(st->model), json_object_get(o, "model"));
            copy(st->message_id, sizeof(st->message_id), json_object_get(o, "id"));
        }
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(o, "choices"), i, c)
        {
            if (json_integer_value(json_object_get(c, "index")) == 0) {
                take_choice(st, c);
            }
        }
        json_t *u = json_object_get(o, "usage");
        if (json_is_object(u)) {
            take_usage(st, u);
        }
    }
    json_decref(o);
}

json_t *ad_llm_request_body_openai(const ad_llm_body_t *b)
{
    json_t *msgs = json_array();
    if (b->system != NULL && b->system[0] != '\0') {
        json_array_append_new(msgs,
                              json_pack("{s:s, s:s}", "role", "system", "content", b->system));
    }
    size_t i;
    json_t *m;
    json_array_foreach(b->messages, i, m)
    {
        json_array_append(msgs, m);
    }
    json_t *body = json_pack("{s:s, s:o, s:b, s:{s:b}, s:i}", "model", b->model, "messages", msgs,
                             "stream", 1, "stream_options", "include_usage", 1, "max_tokens",
                             b->max_tokens > 0 ? b->max_tokens : 1024);
    if (b->has_temperature) {
        json_object_set_new(body, "temperature", json_real(b->temperature));
    }
    return body;
}
