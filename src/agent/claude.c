/* SPDX-License-Identifier: MIT */
/*
 * Claude Code stream-json output (reference agent-protocols.md A.2-A.4 and
 * the transcripts in tests/fixtures/transcripts/claude-*.jsonl): system/init,
 * assistant and user content blocks, stream_event text deltas, result,
 * system/api_retry and rate_limit_event. Unknown subtypes are ignored,
 * unknown top-level types go back to the front end as plain output.
 */
#include "agent/agent_int.h"

#include <stdlib.h>
#include <string.h>

static void usage_from(const json_t *u, ad_usage_t *out)
{
    memset(out, 0, sizeof(*out));
    out->input_tokens = ad_json_int(u, "input_tokens", 0);
    out->output_tokens = ad_json_int(u, "output_tokens", 0);
    out->cache_creation_tokens = ad_json_int(u, "cache_creation_input_tokens", 0);
    out->cache_read_tokens = ad_json_int(u, "cache_read_input_tokens", 0);
}

/* The text of a tool_result's content: a string, or its text blocks joined. */
static char *tool_result_text(const json_t *content)
{
    if (json_is_string(content)) {
        return ad_xstrndup(json_string_value(content), json_string_length(content));
    }
    ad_buf_t b;
    ad_buf_init(&b, AD_PARSER_OUTPUT_MAX);
    size_t i;
    json_t *blk;
    json_array_foreach(content, i, blk)
    {
        const char *t = ad_json_str(blk, "text");
        if (t != NULL) {
            size_t mark = b.len;
            if ((b.len > 0 && ad_buf_putc(&b, '\n') != 0) || ad_buf_puts(&b, t) != 0) {
                ad_buf_truncate(&b, mark); /* the blocks that fit, each whole */
                break;
            }
        }
    }
    char *s = b.data != NULL ? ad_buf_detach(&b, NULL) : ad_xstrdup("");
    ad_buf_cleanup(&b);
    return s;
}

/* A numeric exit code in a tool's structured result, when the tool has one. */
static int tool_exit_code(const json_t *tur)
{
    static const char *const keys[] = {"exitCode", "exit_code", "returnCode", "code"};
    for (size_t i = 0; i < AD_ARRAY_LEN(keys); i++) {
        json_t *v = json_object_get(tur, keys[i]);
        if (json_is_integer(v)) {
            return (int)json_integer_value(v);
        }
    }
    return -1;
}

static void on_system(ad_parser_t *p, json_t *obj, ad_recs_t *out)
{
    const char *sub = ad_json_str(obj, "subtype");
    if (sub == NULL) {
        return;
    }
    if (strcmp(sub, "init") == 0) {
        ad_parser_set_session(p, ad_json_str(obj, "session_id"), ad_json_str(obj, "model"));
        ad_rec_t *r = ad_rec_push(out, AD_REC_SESSION);
        r->session_id = ad_json_strdup(obj, "session_id");
        r->model = ad_json_strdup(obj, "model");
        r->version = ad_json_strdup(obj, "claude_code_version");
    } else if (strcmp(sub, "api_retry") == 0) {
        char text[256];
        const char *err = ad_json_str(obj, "error");
        snprintf(text, sizeof(text), "API retry %lld/%lld in %lld ms after %s (status %lld)",
                 (long long)ad_json_int(obj, "attempt", 0),
                 (long long)ad_json_int(obj, "max_retries", 0),
                 (long long)ad_json_int(obj, "retry_delay_ms", 0), err != NULL ? err : "an error",
                 (long long)ad_json_int(obj, "error_status", 0));
        ad_rec_notice(out, "api_retry", text, obj);
    } else if (strcmp(sub, "compact_boundary") == 0) {
        json_t *meta = json_object_get(obj, "compact_metadata");
        char text[160];
        snprintf(text, sizeof(text), "context compacted (%s, %lld tokens before)",
                 ad_json_str(meta, "trigger") != NULL ? ad_json_str(meta, "trigger") : "auto",
                 (long long)ad_json_int(meta, "pre_tokens", 0));
        ad_rec_notice(out, "compact", text, obj);
    }
    /* status, hook_*, task_*, plugin_install, …: nothing a user needs. */
}

static void on_assistant(ad_parser_t *p, json_t *obj, uint64_t now, ad_recs_t *out)
{
    json_t *msg = json_object_get(obj, "message");
    json_t *content = json_object_get(msg, "content");
    const char *model = ad_json_str(msg, "model");
    const char *api_error = ad_json_str(obj, "error");
    bool synthetic = model != NULL && strcmp(model, "<synthetic>") == 0;
    json_t *usage = json_object_get(msg, "usage");
    ad_usage_t u;
    usage_from(usage, &u);

    size_t i;
    json_t *blk;
    json_array_foreach(content, i, blk)
    {
        const char *type = ad_json_str(blk, "type");
        if (type == NULL) {
            continue;
        }
        if (strcmp(type, "text") == 0) {
            ad_rec_t *r = ad_rec_push(out, AD_REC_MESSAGE);
            r->role = AD_ROLE_ASSISTANT;
            r->text = ad_json_strdup(blk, "text");
            r->model = synthetic ? NULL : ad_json_strdup(msg, "model");
            r->token_count = u.output_tokens;
            r->is_complete = true;
            r->is_error = api_error != NULL;
            if (api_error != NULL) {
                r->subtype = ad_xstrdup(api_error);
                r->api_error_status = (int)ad_json_int(obj, "api_error_status", 0);
            }
        } else if (strcmp(type, "tool_use") == 0 || strcmp(type, "server_tool_use") == 0) {
            const char *id = ad_json_str(blk, "id");
            const char *name = ad_json_str(blk, "name");
            json_t *input = json_object_get(blk, "input");
            if (id == NULL) {
                continue;
            }
            ad_tool_open(p, id, name, input, now);
            ad_rec_t *r = ad_rec_push(out, AD_REC_TOOL_START);
            r->tool_id = ad_json_strdup(blk, "id");
            r->tool_name = ad_json_strdup(blk, "name");
            r->json = input != NULL ? json_incref(input) : json_object();
            r = ad_rec_push(out, AD_REC_MESSAGE);
            r->role = AD_ROLE_TOOL;
            r->tool_id = ad_json_strdup(blk, "id");
            r->tool_name = ad_json_strdup(blk, "name");
            r->json = input != NULL ? json_incref(input) : json_object();
            r->is_complete = false;
        }
        /* thinking, redacted_thinking and unknown blocks: not shown. */
    }
    /* The streamed deltas of this message are now in a full message. */
    ad_parser_text_reset(p);
    if (usage != NULL && !synthetic) {
        ad_usage_note(p, ad_json_str(msg, "id"), &u);
        if (model != NULL && p->model == NULL) {
            ad_parser_set_session(p, NULL, model);
        }
        ad_context_update(
            p, u.input_tokens + u.cache_creation_tokens + u.cache_read_tokens + u.output_tokens,
            out);
    }
}

static void on_user(ad_parser_t *p, json_t *obj, uint64_t now, ad_recs_t *out)
{
    json_t *msg = json_object_get(obj, "message");
    json_t *content = json_object_get(msg, "content");
    if (json_is_string(content)) {
        ad_rec_t *r = ad_rec_push(out, AD_REC_MESSAGE);
        r->role = AD_ROLE_USER;
        r->text = ad_xstrndup(json_string_value(content), json_string_length(content));
        r->is_complete = true;
        return;
    }
    json_t *tur = json_object_get(obj, "tool_use_result");
    size_t i;
    json_t *blk;
    json_array_foreach(content, i, blk)
    {
        const char *type = ad_json_str(blk, "type");
        if (type == NULL) {
            continue;
        }
        if (strcmp(type, "text") == 0) {
            ad_rec_t *r = ad_rec_push(out, AD_REC_MESSAGE);
            r->role = AD_ROLE_USER;
            r->text = ad_json_strdup(blk, "text");
            r->is_complete = true;
        } else if (strcmp(type, "tool_result") == 0) {
            const char *id = ad_json_str(blk, "tool_use_id");
            if (id == NULL) {
                continue;
            }
            bool is_error = json_is_true(json_object_get(blk, "is_error"));
            open_tool_t t;
            ad_rec_t *end = ad_tool_end(p, id, is_error, tool_exit_code(tur), now, out, &t);
            (void)end;
            ad_rec_t *r = ad_rec_push(out, AD_REC_MESSAGE);
            r->role = AD_ROLE_TOOL;
            r->tool_id = id != NULL ? ad_xstrdup(id) : NULL;
            r->tool_name = t.name;
            r->json = t.input;
            t.name = NULL;
            t.input = NULL;
            ad_open_tool_free(&t);
            r->tool_output = tool_result_text(json_object_get(blk, "content"));
            r->is_error = is_error;
            r->is_complete = true;
        }
    }
}

static void on_stream_event(ad_parser_t *p, json_t *obj, ad_recs_t *out)
{
    json_t *ev = json_object_get(obj, "event");
    const char *type = ad_json_str(ev, "type");
    if (type != NULL && strcmp(type, "message_delta") == 0 &&
        !json_is_string(json_object_get(obj, "parent_tool_use_id"))) {
        json_t *n = json_object_get(json_object_get(ev, "usage"), "output_tokens");
        if (json_is_integer(n) && json_integer_value(n) > 0) {
            ad_rec_push(out, AD_REC_TOKENS)->token_count = json_integer_value(n);
        }
        return;
    }
    if (type == NULL || strcmp(type, "content_block_delta") != 0) {
        return;
    }
    json_t *delta = json_object_get(ev, "delta");
    const char *dtype = ad_json_str(delta, "type");
    if (dtype == NULL || strcmp(dtype, "text_delta") != 0) {
        return;
    }
    /* Subagent deltas are not the agent's own voice. */
    if (json_is_string(json_object_get(obj, "parent_tool_use_id"))) {
        return;
    }
    json_t *text = json_object_get(delta, "text");
    if (!json_is_string(text) || json_string_length(text) == 0) {
        return;
    }
    ad_rec_t *r = ad_rec_push(out, AD_REC_DELTA);
    r->text = ad_xstrndup(json_string_value(text), json_string_length(text));
    ad_parser_text_add(p, json_string_value(text), json_string_length(text));
}

static void on_result(ad_parser_t *p, json_t *obj, ad_recs_t *out)
{
    ad_rec_t *r = ad_rec_push(out, AD_REC_RESULT);
    r->subtype = ad_json_strdup(obj, "subtype");
    r->session_id = ad_json_strdup(obj, "session_id");
    r->is_error = json_is_true(json_object_get(obj, "is_error"));
    r->api_error_status = (int)ad_json_int(obj, "api_error_status", 0);
    r->duration_ms = ad_json_int(obj, "duration_ms", 0);
    r->num_turns = ad_json_int(obj, "num_turns", 0);
    usage_from(json_object_get(obj, "usage"), &r->usage);
    if (r->is_error) {
        /* An interrupted turn (SIGINT, control_request interrupt) says so in
         * terminal_reason; its errors[] is a diagnostic, not a message. */
        const char *reason = ad_json_str(obj, "terminal_reason");
        if (reason != NULL && strncmp(reason, "aborted", 7) == 0) {
            size_t n = strlen(reason) + 16;
            r->text = ad_xmalloc(n);
            snprintf(r->text, n, "interrupted (%s)", reason);
        }
        json_t *errors = r->text == NULL ? json_object_get(obj, "errors") : NULL;
        ad_buf_t b;
        ad_buf_init(&b, 64 * 1024);
        size_t i;
        json_t *e;
        json_array_foreach(errors, i, e)
        {
            if (json_is_string(e)) {
                size_t mark = b.len;
                if ((b.len > 0 && ad_buf_puts(&b, "; ") != 0) ||
                    ad_buf_puts(&b, json_string_value(e)) != 0) {
                    ad_buf_truncate(&b, mark); /* the errors that fit, each whole */
                    break;
                }
            }
        }
        if (b.len > 0) {
            r->text = ad_buf_detach(&b, NULL);
        }
        ad_buf_cleanup(&b);
        if (r->text == NULL) {
            r->text = ad_json_strdup(obj, "result");
        }
        if (r->text == NULL) {
            r->text = ad_xstrdup(r->subtype != NULL ? r->subtype : "error");
        }
    }
    /* modelUsage: the model and its context window. */
    json_t *mu = json_object_get(obj, "modelUsage");
    const char *key;
    json_t *val;
    const char *model = NULL;
    json_object_foreach(mu, key, val)
    {
        if (model == NULL || (p->model != NULL && strcmp(key, p->model) == 0)) {
            model = key;
            int64_t w = ad_json_int(val, "contextWindow", 0);
            if (w > 0) {
                p->window = w;
            }
        }
    }
    if (model != NULL) {
        ad_parser_set_session(p, NULL, model);
    }
    r->model = p->model != NULL ? ad_xstrdup(p->model) : NULL;
    if (r->session_id != NULL) {
        ad_parser_set_session(p, r->session_id, NULL);
    }
    /* total_cost_usd is cumulative over a stream-json session. */
    json_t *cost = json_object_get(obj, "total_cost_usd");
    if (json_is_number(cost)) {
        double total = json_number_value(cost);
        r->total_cost_usd = total;
        r->cost_usd = total >= p->last_total_cost ? total - p->last_total_cost : total;
        p->last_total_cost = total;
    }
    ad_usage_reset(p);
    ad_parser_text_reset(p);
    ad_context_update(p, p->context_tokens, out);
}

/* A permission prompt (--permission-prompt-tool stdio) or its withdrawal. */
static void on_control_request(json_t *obj, bool cancel, ad_recs_t *out)
{
    const char *rid = ad_json_str(obj, "request_id");
    json_t *req = json_object_get(obj, "request");
    if (rid == NULL || rid[0] == '\0') {
        return;
    }
    if (cancel) {
        ad_rec_t *r = ad_rec_push(out, AD_REC_APPROVAL);
        r->subtype = ad_xstrdup(rid);
        r->is_error = true;
        return;
    }
    const char *sub = ad_json_str(req, "subtype");
    if (sub == NULL || strcmp(sub, "can_use_tool") != 0 || ad_json_str(req, "tool_name") == NULL) {
        return; /* hooks, MCP messages: agentd registers none */
    }
    ad_rec_t *r = ad_rec_push(out, AD_REC_APPROVAL);
    r->subtype = ad_xstrdup(rid);
    r->tool_name = ad_json_strdup(req, "tool_name");
    r->tool_id = ad_json_strdup(req, "tool_use_id");
    r->text = ad_json_strdup(req, "description");
    json_t *input = json_object_get(req, "input");
    r->json = json_is_object(input) ? json_incref(input) : json_object();
}

bool ad_claude_parse(ad_parser_t *p, json_t *obj, uint64_t now, ad_recs_t *out)
{
    const char *type = ad_json_str(obj, "type");
    if (type == NULL) {
        return false;
    }
    if (strcmp(type, "system") == 0) {
        on_system(p, obj, out);
    } else if (strcmp(type, "assistant") == 0) {
        on_assistant(p, obj, now, out);
    } else if (strcmp(type, "user") == 0) {
        on_user(p, obj, now, out);
    } else if (strcmp(type, "stream_event") == 0) {
        on_stream_event(p, obj, out);
    } else if (strcmp(type, "result") == 0) {
        on_result(p, obj, out);
    } else if (strcmp(type, "rate_limit_event") == 0) {
        json_t *info = json_object_get(obj, "rate_limit_info");
        const char *status = ad_json_str(info, "status");
        const char *kind = ad_json_str(info, "rateLimitType");
        char text[200];
        snprintf(text, sizeof(text), "rate limit %s%s%s", status != NULL ? status : "notice",
                 kind != NULL ? " " : "", kind != NULL ? kind : "");
        ad_rec_notice(out, "rate_limit", text, obj);
    } else if (strcmp(type, "control_request") == 0) {
        on_control_request(obj, false, out);
    } else if (strcmp(type, "control_cancel_request") == 0) {
        on_control_request(obj, true, out);
    } else if (strcmp(type, "keep_alive") == 0 || strcmp(type, "control_response") == 0 ||
               strcmp(type, "prompt_suggestion") == 0) {
        /* protocol chatter */
    } else {
        return false;
    }
    return true;
}
