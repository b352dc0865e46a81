/* SPDX-License-Identifier: MIT */
/*
 * Tool calls of a streamed answer, put together from both wire formats:
 * the Messages API's tool_use content blocks (content_block_start names
 * the tool, input_json_delta carries its input in pieces) and Chat
 * Completions' delta.tool_calls (the first piece of an index has its id
 * and function name, later ones more of function.arguments). Bounded: at
 * most TOOLS_MAX calls of TOOL_ARGS_MAX bytes of arguments each. Pure.
 */
#include "llm/llm.h"

#include <stdlib.h>
#include <string.h>

#define TOOLS_MAX 64
#define TOOL_ARGS_MAX (256 * 1024)

/* The call at the stream's index, or NULL. */
static json_t *find(const ad_llm_stream_t *st, int index)
{
    size_t i;
    json_t *t;
    json_array_foreach(st->tools, i, t)
    {
        if (json_integer_value(json_object_get(t, "index")) == index) {
            return t;
        }
    }
    return NULL;
}

void ad_llm_tool_start(ad_llm_stream_t *st, int index, const char *id, const char *name)
{
    if (st->tools == NULL) {
        st->tools = json_array();
    }
    json_t *t = find(st, index);
    if (t == NULL) {
        if (json_array_size(st->tools) >= TOOLS_MAX) {
            return;
        }
        t = json_pack("{s:i, s:s, s:s, s:s}", "index", index, "id", "", "name", "", "arguments",
                      "");
        json_array_append_new(st->tools, t);
    }
    if (id != NULL && id[0] != '\0') {
        json_object_set_new(t, "id", json_string(id));
    }
    if (name != NULL && name[0] != '\0') {
        json_object_set_new(t, "name", json_string(name));
    }
}

void ad_llm_tool_args(ad_llm_stream_t *st, int index, const char *text, size_t len)
{
    json_t *t = find(st, index);
    if (t == NULL || len == 0) {
        return;
    }
    json_t *a = json_object_get(t, "arguments");
    size_t have = json_string_length(a);
    if (have + len > TOOL_ARGS_MAX) {
        json_object_set_new(t, "truncated", json_true());
        return;
    }
    char *joined = ad_xmalloc(have + len + 1);
    memcpy(joined, json_string_value(a), have);
    memcpy(joined + have, text, len);
    joined[have + len] = '\0';
    json_object_set_new(t, "arguments", json_stringn(joined, have + len));
    free(joined);
}

json_t *ad_llm_tool_calls(const ad_llm_stream_t *st)
{
    json_t *out = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(st->tools, i, t)
    {
        const char *args = json_string_value(json_object_get(t, "arguments"));
        json_t *input = args[0] != '\0' ? json_loads(args, JSON_DECODE_ANY, NULL) : json_object();
        json_t *c = json_pack("{s:O, s:O}", "id", json_object_get(t, "id"), "name",
                              json_object_get(t, "name"));
        if (input != NULL) {
            json_object_set_new(c, "input", input);
        } else {
            /* not JSON (cut, or a model that wrote something else): as sent */
            json_object_set_new(c, "input", json_null());
            json_object_set(c, "arguments", json_object_get(t, "arguments"));
        }
        if (json_is_true(json_object_get(t, "truncated"))) {
            json_object_set_new(c, "truncated", json_true());
        }
        json_array_append_new(out, c);
    }
    return out;
}
