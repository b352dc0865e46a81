/* SPDX-License-Identifier: MIT */
/*
 * ACP session/update (agent.h "ACP"): streamed text into one assistant
 * message per stretch of text, tool_call and tool_call_update into one tool
 * card per call (TOOL_START and an open tool message, then TOOL_END and the
 * message with its output), a plan into a system message and a notice,
 * usage_update into the context level and the session's cost. Thoughts,
 * the user's own text, commands and modes are not kept.
 */
#include "agent/agent_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOOL_OUTPUT_MAX (256 * 1024)

static void on_chunk(ad_parser_t *p, json_t *update, ad_recs_t *out)
{
    json_t *content = json_object_get(update, "content");
    const char *type = ad_json_str(content, "type");
    json_t *text = json_object_get(content, "text");
    if (type == NULL || strcmp(type, "text") != 0 || !json_is_string(text)) {
        return; /* images, audio, resources: not shown */
    }
    ad_rec_t *r = ad_rec_push(out, AD_REC_DELTA);
    r->text = ad_xstrndup(json_string_value(text), json_string_length(text));
    ad_parser_text_add(p, json_string_value(text), json_string_length(text));
}

/* What a tool call shows as its input: the raw input when the agent gives
 * one, else its title, kind and locations. New reference. */
static json_t *tool_input(json_t *update)
{
    json_t *raw = json_object_get(update, "rawInput");
    if (json_is_object(raw)) {
        return json_incref(raw);
    }
    json_t *in = json_object();
    const char *keys[] = {"title", "kind", "locations"};
    for (size_t i = 0; i < AD_ARRAY_LEN(keys); i++) {
        json_t *v = json_object_get(update, keys[i]);
        if (v != NULL && !json_is_null(v)) {
            json_object_set(in, keys[i], v);
        }
    }
    if (raw != NULL && !json_is_null(raw)) {
        json_object_set(in, "rawInput", raw);
    }
    return in;
}

static bool is_open(const ad_parser_t *p, const char *id)
{
    for (size_t i = 0; i < p->ntools; i++) {
        if (strcmp(p->tools[i].id, id) == 0) {
            return true;
        }
    }
    return false;
}

static void tool_begin(ad_parser_t *p, const char *id, json_t *update, uint64_t now, ad_recs_t *out)
{
    ad_parser_text_flush(p, out);
    const char *title = ad_json_str(update, "title");
    const char *kind = ad_json_str(update, "kind");
    json_t *kinds = p->acp->kinds;
    if (kind != NULL && strlen(kind) < 64) {
        if (json_object_size(kinds) >= 256) {
            json_object_clear(kinds);
        }
        json_object_set_new(kinds, id, json_string(kind));
    }
    const char *name = title != NULL && title[0] != '\0' ? title : kind != NULL ? kind : "tool";
    json_t *input = tool_input(update);
    ad_tool_open(p, id, name, input, now);
    ad_rec_t *r = ad_rec_push(out, AD_REC_TOOL_START);
    r->tool_id = ad_xstrdup(id);
    r->tool_name = ad_xstrndup(name, 200);
    r->json = json_incref(input);
    r = ad_rec_push(out, AD_REC_MESSAGE);
    r->role = AD_ROLE_TOOL;
    r->tool_id = ad_xstrdup(id);
    r->tool_name = ad_xstrndup(name, 200);
    r->json = input;
}

/* The text of a tool's content items: text blocks, diffs as "path" and the
 * new text, bounded. Owned, or NULL when there is none. */
static char *content_text(json_t *content, json_t *raw_output)
{
    ad_buf_t b;
    ad_buf_init(&b, TOOL_OUTPUT_MAX);
    size_t i;
    json_t *c;
    json_array_foreach(content, i, c)
    {
        const char *type = ad_json_str(c, "type");
        const char *s = NULL;
        if (type != NULL && strcmp(type, "content") == 0) {
            s = ad_json_str(json_object_get(c, "content"), "text");
        } else if (type != NULL && strcmp(type, "diff") == 0) {
            s = ad_json_str(c, "path");
        }
        if (s != NULL && ((b.len > 0 && ad_buf_putc(&b, '\n') != 0) || ad_buf_puts(&b, s) != 0)) {
            break; /* the bound: the rest is not kept */
        }
    }
    if (b.len == 0 && raw_output != NULL && !json_is_null(raw_output)) {
        char *dump = json_dumps(raw_output, JSON_ENCODE_ANY | JSON_COMPACT);
        if (dump != NULL) {
            AD_DISCARD(ad_buf_append(&b, dump, strnlen(dump, TOOL_OUTPUT_MAX - 1)));
            free(dump);
        }
    }
    if (b.len == 0) {
        ad_buf_cleanup(&b);
        return NULL;
    }
    return ad_buf_detach(&b, NULL);
}

static void tool_finish(ad_parser_t *p, const char *id, json_t *update, bool failed, uint64_t now,
                        ad_recs_t *out)
{
    open_tool_t t;
    ad_tool_end(p, id, failed, -1, now, out, &t);
    ad_rec_t *r = ad_rec_push(out, AD_REC_MESSAGE);
    r->role = AD_ROLE_TOOL;
    r->tool_id = ad_xstrdup(id);
    r->tool_name = t.name;
    r->json = t.input;
    t.name = NULL;
    t.input = NULL;
    ad_open_tool_free(&t);
    r->tool_output =
        content_text(json_object_get(update, "content"), json_object_get(update, "rawOutput"));
    r->is_error = failed;
    r->is_complete = true;
}

static void on_tool(ad_parser_t *p, json_t *update, uint64_t now, ad_recs_t *out)
{
    const char *id = ad_json_str(update, "toolCallId");
    if (id == NULL || id[0] == '\0' || strlen(id) > 200) {
        return;
    }
    if (!is_open(p, id)) {
        tool_begin(p, id, update, now, out);
    }
    const char *status = ad_json_str(update, "status");
    bool done = status != NULL && strcmp(status, "completed") == 0;
    bool failed = status != NULL && strcmp(status, "failed") == 0;
    if (done || failed) {
        tool_finish(p, id, update, failed, now, out);
    }
}

/* A plan: a system message listing its entries, and a notice. */
static void on_plan(ad_parser_t *p, json_t *update, ad_recs_t *out)
{
    ad_parser_text_flush(p, out);
    ad_buf_t b;
    ad_buf_init(&b, 64 * 1024);
    AD_DISCARD(ad_buf_puts(&b, "Plan:"));
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(update, "entries"), i, e)
    {
        const char *st = ad_json_str(e, "status");
        const char *mark = st == NULL                       ? "[ ]"
                           : strcmp(st, "completed") == 0   ? "[x]"
                           : strcmp(st, "in_progress") == 0 ? "[~]"
                                                            : "[ ]";
        const char *content = ad_json_str(e, "content");
        if (ad_buf_printf(&b, "\n%s %.1000s", mark, content != NULL ? content : "") != 0) {
            break; /* the bound: the rest is not listed */
        }
    }
    ad_rec_notice(out, "plan", b.data, update);
    ad_rec_t *r = ad_rec_push(out, AD_REC_MESSAGE);
    r->role = AD_ROLE_SYSTEM;
    r->text = ad_buf_detach(&b, NULL);
    r->is_complete = true;
}

static void on_usage(ad_parser_t *p, json_t *update, ad_recs_t *out)
{
    int64_t size = ad_json_int(update, "size", 0);
    if (size > 0) {
        p->window = size;
    }
    ad_context_update(p, ad_json_int(update, "used", -1), out);
    json_t *cost = json_object_get(update, "cost");
    const char *cur = ad_json_str(cost, "currency");
    json_t *amount = json_object_get(cost, "amount");
    if (cur != NULL && strcmp(cur, "USD") == 0 && json_is_number(amount) &&
        json_number_value(amount) >= 0) {
        p->acp->cost_total = json_number_value(amount);
    }
}

void ad_acp_on_update(ad_parser_t *p, json_t *update, uint64_t now, ad_recs_t *out)
{
    const char *kind = ad_json_str(update, "sessionUpdate");
    if (kind == NULL) {
        return;
    }
    if (strcmp(kind, "agent_message_chunk") == 0) {
        on_chunk(p, update, out);
    } else if (strcmp(kind, "tool_call") == 0 || strcmp(kind, "tool_call_update") == 0) {
        on_tool(p, update, now, out);
    } else if (strcmp(kind, "plan") == 0) {
        on_plan(p, update, out);
    } else if (strcmp(kind, "usage_update") == 0) {
        on_usage(p, update, out);
    }
}
