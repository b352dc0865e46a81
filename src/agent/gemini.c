/* SPDX-License-Identifier: MIT */
/*
 * Gemini CLI `--output-format stream-json` (reference agent-protocols.md C):
 * init, message (delta:true marks streamed assistant tokens, gathered here
 * into one message), tool_use/tool_result, error (non-fatal) and result.
 */
#include "agent/agent_int.h"

#include <stdlib.h>
#include <string.h>

void ad_gemini_flush_text(ad_parser_t *p, ad_recs_t *out)
{
    if (p->text.len == 0) {
        return;
    }
    ad_rec_t *r = ad_rec_push(out, AD_REC_MESSAGE);
    r->role = AD_ROLE_ASSISTANT;
    r->text = ad_buf_detach(&p->text, NULL);
    r->model = p->model != NULL ? ad_xstrdup(p->model) : NULL;
    r->is_complete = true;
}

static void on_message(ad_parser_t *p, json_t *obj, ad_recs_t *out)
{
    const char *role = ad_json_str(obj, "role");
    json_t *content = json_object_get(obj, "content");
    if (!json_is_string(content)) {
        return;
    }
    bool assistant = role != NULL && strcmp(role, "assistant") == 0;
    if (assistant && json_is_true(json_object_get(obj, "delta"))) {
        ad_rec_t *r = ad_rec_push(out, AD_REC_DELTA);
        r->text = ad_xstrndup(json_string_value(content), json_string_length(content));
        (void)ad_buf_append(&p->text, json_string_value(content), json_string_length(content));
        return;
    }
    ad_gemini_flush_text(p, out);
    ad_rec_t *r = ad_rec_push(out, AD_REC_MESSAGE);
    r->role = assistant ? AD_ROLE_ASSISTANT : AD_ROLE_USER;
    r->text = ad_xstrndup(json_string_value(content), json_string_length(content));
    r->is_complete = true;
}

bool ad_gemini_parse(ad_parser_t *p, json_t *obj, uint64_t now, ad_recs_t *out)
{
    const char *type = ad_json_str(obj, "type");
    if (type == NULL) {
        return false;
    }
    if (strcmp(type, "init") == 0) {
        ad_parser_set_session(p, ad_json_str(obj, "session_id"), ad_json_str(obj, "model"));
        ad_rec_t *r = ad_rec_push(out, AD_REC_SESSION);
        r->session_id = ad_json_strdup(obj, "session_id");
        r->model = ad_json_strdup(obj, "model");
    } else if (strcmp(type, "message") == 0) {
        on_message(p, obj, out);
    } else if (strcmp(type, "tool_use") == 0) {
        ad_gemini_flush_text(p, out);
        const char *id = ad_json_str(obj, "tool_id");
        json_t *params = json_object_get(obj, "parameters");
        ad_tool_open(p, id, ad_json_str(obj, "tool_name"), params, now);
        ad_rec_t *r = ad_rec_push(out, AD_REC_TOOL_START);
        r->tool_id = ad_json_strdup(obj, "tool_id");
        r->tool_name = ad_json_strdup(obj, "tool_name");
        r->json = params != NULL ? json_incref(params) : json_object();
        r = ad_rec_push(out, AD_REC_MESSAGE);
        r->role = AD_ROLE_TOOL;
        r->tool_id = ad_json_strdup(obj, "tool_id");
        r->tool_name = ad_json_strdup(obj, "tool_name");
        r->json = params != NULL ? json_incref(params) : json_object();
    } else if (strcmp(type, "tool_result") == 0) {
        const char *id = ad_json_str(obj, "tool_id");
        const char *status = ad_json_str(obj, "status");
        bool failed = status == NULL || strcmp(status, "success") != 0;
        open_tool_t t;
        ad_tool_end(p, id, failed, -1, now, out, &t);
        ad_rec_t *r = ad_rec_push(out, AD_REC_MESSAGE);
        r->role = AD_ROLE_TOOL;
        r->tool_id = id != NULL ? ad_xstrdup(id) : NULL;
        r->tool_name = t.name;
        r->json = t.input;
        t.name = NULL;
        t.input = NULL;
        ad_open_tool_free(&t);
        r->tool_output = ad_json_strdup(obj, "output");
        if (r->tool_output == NULL) {
            r->tool_output = ad_json_strdup(json_object_get(obj, "error"), "message");
        }
        r->is_error = failed;
        r->is_complete = true;
    } else if (strcmp(type, "error") == 0) {
        const char *m = ad_json_str(obj, "message");
        ad_rec_notice(out, "error", m != NULL ? m : "error", obj);
    } else if (strcmp(type, "result") == 0) {
        ad_gemini_flush_text(p, out);
        json_t *st = json_object_get(obj, "stats");
        const char *status = ad_json_str(obj, "status");
        ad_rec_t *r = ad_rec_push(out, AD_REC_RESULT);
        r->subtype = ad_xstrdup(status != NULL ? status : "success");
        r->is_error = status != NULL && strcmp(status, "success") != 0;
        if (r->is_error) {
            json_t *e = json_object_get(obj, "error");
            r->text =
                json_is_string(e) ? ad_xstrdup(json_string_value(e)) : ad_json_strdup(e, "message");
            if (r->text == NULL) {
                r->text = ad_xstrdup("error");
            }
        }
        r->session_id = p->session_id != NULL ? ad_xstrdup(p->session_id) : NULL;
        r->model = p->model != NULL ? ad_xstrdup(p->model) : NULL;
        /* input_tokens = cached + input (reference C). */
        int64_t total_in = ad_json_int(st, "input_tokens", 0);
        int64_t cached = ad_json_int(st, "cached", 0);
        r->usage.input_tokens = ad_json_int(st, "input", total_in - cached);
        r->usage.cache_read_tokens = cached;
        r->usage.output_tokens = ad_json_int(st, "output_tokens", 0);
        r->duration_ms = ad_json_int(st, "duration_ms", 0);
        r->num_turns = 1;
    } else {
        return false;
    }
    return true;
}
