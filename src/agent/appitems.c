/* SPDX-License-Identifier: MIT */
/*
 * What `codex app-server`'s items and turns become (apprpc.c reads the
 * lines, appserver.c writes agentd's): items (agent messages, reasoning,
 * commands, file changes, MCP, dynamic and web tool calls: one tool card
 * per item, keyed by the item id), token usage, and the turn's end
 * (AD_REC_RESULT with the turn's diff before it, costed from the
 * model_prices setting), after which queued messages go out.
 */
#include "agent/appserver_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- items ------------------------------------------------------------------- */

static json_t *tool_params(json_t *item, const char *itype)
{
    static const char *const keys[] = {"command", "cwd",       "changes", "server",
                                       "tool",    "arguments", "query"};
    json_t *params = json_object();
    AD_UNUSED(itype);
    for (size_t i = 0; i < AD_ARRAY_LEN(keys); i++) {
        json_t *v = json_object_get(item, keys[i]);
        if (v != NULL && !json_is_null(v)) {
            json_object_set(params, keys[i], v);
        }
    }
    return params;
}

static char *tool_output(json_t *item)
{
    const char *agg = ad_json_str(item, "aggregatedOutput");
    if (agg != NULL) {
        return ad_xstrdup(agg);
    }
    json_t *err = json_object_get(item, "error");
    if (ad_json_str(err, "message") != NULL) {
        return ad_json_strdup(err, "message");
    }
    json_t *res = json_object_get(item, "result");
    if (res != NULL && !json_is_null(res)) {
        return json_dumps(res, JSON_COMPACT);
    }
    json_t *changes = json_object_get(item, "changes");
    if (json_is_array(changes)) { /* a file change: the diffs it made */
        ad_buf_t b;
        ad_buf_init(&b, AD_PARSER_OUTPUT_MAX);
        size_t i;
        json_t *c;
        json_array_foreach(changes, i, c)
        {
            const char *d = ad_json_str(c, "diff");
            size_t mark = b.len;
            if (d != NULL && ad_buf_puts(&b, d) != 0) {
                ad_buf_truncate(&b, mark);
                break;
            }
        }
        char *s = b.data != NULL ? ad_buf_detach(&b, NULL) : NULL;
        ad_buf_cleanup(&b);
        return s;
    }
    return NULL;
}

static void tool_item(ad_parser_t *p, json_t *item, const char *itype, const char *tname,
                      bool completed, uint64_t now, ad_recs_t *out)
{
    const char *id = ad_json_str(item, "id");
    if (id == NULL) {
        return;
    }
    char name[160];
    if (strcmp(itype, "mcpToolCall") == 0 || strcmp(itype, "dynamicToolCall") == 0) {
        const char *server = ad_json_str(item, "server");
        const char *tool = ad_json_str(item, "tool");
        snprintf(name, sizeof(name), "%s.%s",
                 server != NULL                   ? server
                 : ad_json_str(item, "namespace") ? ad_json_str(item, "namespace")
                                                  : tname,
                 tool != NULL ? tool : "tool");
    } else {
        snprintf(name, sizeof(name), "%s", tname);
    }
    open_tool_t t;
    bool was_open = ad_tool_close(p, id, &t);
    if (!was_open) { /* a first sight: its card */
        json_t *params = tool_params(item, itype);
        ad_tool_open(p, id, name, params, now);
        ad_rec_t *r = ad_rec_push(out, AD_REC_TOOL_START);
        r->tool_id = ad_xstrdup(id);
        r->tool_name = ad_xstrdup(name);
        r->json = json_incref(params);
        r = ad_rec_push(out, AD_REC_MESSAGE);
        r->role = AD_ROLE_TOOL;
        r->tool_id = ad_xstrdup(id);
        r->tool_name = ad_xstrdup(name);
        r->json = params;
        r->is_complete = false;
    } else {
        ad_tool_open(p, t.id, t.name, t.input, t.start_ms);
        ad_open_tool_free(&t);
    }
    if (!completed) {
        return;
    }
    const char *status = ad_json_str(item, "status");
    bool failed = status != NULL && strcmp(status, "completed") != 0;
    int code = (int)ad_json_int(item, "exitCode", -1);
    failed = failed || code > 0 || json_is_false(json_object_get(item, "success"));
    ad_tool_end(p, id, failed, code, now, out, &t);
    ad_rec_t *r = ad_rec_push(out, AD_REC_MESSAGE);
    r->role = AD_ROLE_TOOL;
    r->tool_id = ad_xstrdup(id);
    r->tool_name = t.name != NULL ? t.name : ad_xstrdup(name);
    r->json = t.input;
    t.name = NULL;
    t.input = NULL;
    ad_open_tool_free(&t);
    r->tool_output = tool_output(item);
    if (r->tool_output == NULL && status != NULL && strcmp(status, "declined") == 0) {
        r->tool_output = ad_xstrdup("declined");
    }
    r->exit_code = code;
    r->is_error = failed;
    r->is_complete = true;
}

/* Reasoning's summary (or its text) as one system message. */
static void reasoning_item(json_t *item, ad_recs_t *out)
{
    json_t *parts = json_object_get(item, "summary");
    if (json_array_size(parts) == 0) {
        parts = json_object_get(item, "content");
    }
    ad_buf_t b;
    ad_buf_init(&b, 64 * 1024);
    int rc = ad_buf_puts(&b, "reasoning:");
    size_t i;
    json_t *s;
    json_array_foreach(parts, i, s)
    {
        if (json_is_string(s)) {
            rc = rc != 0 ? rc : ad_buf_putc(&b, ' ');
            rc = rc != 0 ? rc : ad_buf_puts(&b, json_string_value(s));
        }
    }
    if (json_array_size(parts) > 0) {
        ad_rec_t *r = ad_rec_push(out, AD_REC_MESSAGE);
        r->role = AD_ROLE_SYSTEM;
        r->text = ad_buf_detach(&b, NULL);
        r->is_complete = true;
    }
    ad_buf_cleanup(&b);
}

void ad_app_on_item(ad_parser_t *p, json_t *params, bool completed, uint64_t now, ad_recs_t *out)
{
    json_t *item = json_object_get(params, "item");
    const char *itype = ad_json_str(item, "type");
    if (itype == NULL) {
        return;
    }
    const char *tname = ad_codex_tool_name(itype);
    if (tname != NULL) {
        tool_item(p, item, itype, tname, completed, now, out);
    } else if (!completed) {
        return;
    } else if (strcmp(itype, "agentMessage") == 0) {
        ad_rec_t *r = ad_rec_push(out, AD_REC_MESSAGE);
        r->role = AD_ROLE_ASSISTANT;
        r->text = ad_json_strdup(item, "text");
        r->model = p->model != NULL ? ad_xstrdup(p->model) : NULL;
        r->is_complete = true;
        ad_parser_text_reset(p);
    } else if (strcmp(itype, "reasoning") == 0) {
        reasoning_item(item, out);
    } else if (strcmp(itype, "plan") == 0 && ad_json_str(item, "text") != NULL) {
        ad_rec_notice(out, "plan", ad_json_str(item, "text"), item);
    }
    /* userMessage: agentd stored it when it was sent; others: nothing to show */
}

/* ---- usage and the turn's end ---------------------------------------------------- */

static void usage_of(const json_t *b, ad_usage_t *u, int64_t *with_cached)
{
    int64_t input = ad_json_int(b, "inputTokens", 0);
    int64_t cached = ad_json_int(b, "cachedInputTokens", 0);
    u->cache_read_tokens = cached;
    u->input_tokens = input >= cached ? input - cached : input;
    u->output_tokens = ad_json_int(b, "outputTokens", 0);
    u->cache_creation_tokens = ad_json_int(b, "cacheWriteInputTokens", 0);
    *with_cached = input;
}

void ad_app_on_usage(ad_parser_t *p, json_t *params, ad_recs_t *out)
{
    json_t *tu = json_object_get(params, "tokenUsage");
    int64_t input = 0, last_input = 0;
    usage_of(json_object_get(tu, "total"), &p->app->total, &input);
    ad_usage_t last;
    usage_of(json_object_get(tu, "last"), &last, &last_input);
    int64_t w = ad_json_int(tu, "modelContextWindow", 0);
    if (w > 0) {
        p->window = w;
    }
    ad_context_update(p, last_input + last.output_tokens, out);
}

static int64_t minus(int64_t a, int64_t b)
{
    return a > b ? a - b : 0;
}

/* The queue's next message as a turn/start (the thread or turn is there).
 * Only while ad_codex_app_input would send rather than queue again: a
 * turn/completed before the thread is ready (a confused or hostile peer)
 * would otherwise take the same message round for ever. */
void ad_app_send_queued(ad_parser_t *p, ad_recs_t *out)
{
    app_t *a = p->app;
    while (a->nqueue > 0 && a->thread_ready && p->session_id != NULL &&
           !(a->turn_pending && a->turn_id == NULL)) {
        char *text = a->queue[0];
        memmove(&a->queue[0], &a->queue[1], (a->nqueue - 1) * sizeof(a->queue[0]));
        a->nqueue--;
        char *line = NULL;
        size_t len = 0;
        if (ad_codex_app_input(p, text, &line, &len) == 0 && line != NULL) {
            ad_rec_t *r = ad_rec_push(out, AD_REC_WRITE);
            r->text = line;
        }
        free(text);
    }
}

/* A turn that did not complete leaves its tool items open: each is closed
 * as a failed call with what happened to it. */
static void close_tools(ad_parser_t *p, const char *why, uint64_t now, ad_recs_t *out)
{
    while (p->ntools > 0) {
        open_tool_t t;
        char *id = ad_xstrdup(p->tools[0].id);
        ad_tool_end(p, id, true, -1, now, out, &t);
        ad_rec_t *r = ad_rec_push(out, AD_REC_MESSAGE);
        r->role = AD_ROLE_TOOL;
        r->tool_id = id;
        r->tool_name = t.name;
        r->json = t.input;
        t.name = NULL;
        t.input = NULL;
        ad_open_tool_free(&t);
        r->tool_output = ad_xstrdup(why);
        r->is_error = true;
        r->is_complete = true;
    }
}

void ad_app_on_turn_completed(ad_parser_t *p, json_t *params, uint64_t now, ad_recs_t *out)
{
    app_t *a = p->app;
    json_t *turn = json_object_get(params, "turn");
    const char *status = ad_json_str(turn, "status");
    /* an item the turn left open (interrupted, failed, or whose completion
     * codex never sent) ends with it */
    close_tools(p, status != NULL && strcmp(status, "completed") != 0 ? status : "no result", now,
                out);
    if (a->diff != NULL) { /* what the turn changed, as codex diffed it */
        ad_rec_t *d = ad_rec_push(out, AD_REC_MESSAGE);
        d->role = AD_ROLE_SYSTEM;
        size_t n = strlen(a->diff) + 16;
        d->text = ad_xmalloc(n);
        snprintf(d->text, n, "turn diff:\n%s", a->diff);
        d->is_complete = true;
        free(a->diff);
        a->diff = NULL;
    }
    ad_rec_t *r = ad_rec_push(out, AD_REC_RESULT);
    size_t idx = out->n - 1; /* r may move when a notice is pushed */
    r->subtype = ad_xstrdup(status != NULL ? status : "completed");
    r->session_id = p->session_id != NULL ? ad_xstrdup(p->session_id) : NULL;
    r->model = p->model != NULL ? ad_xstrdup(p->model) : NULL;
    r->num_turns = 1;
    r->duration_ms = ad_json_int(turn, "durationMs", 0);
    if (status != NULL && strcmp(status, "completed") != 0) {
        r->is_error = true;
        const char *m = ad_json_str(json_object_get(turn, "error"), "message");
        r->text = ad_xstrdup(m != NULL                            ? m
                             : p->last_error != NULL              ? p->last_error
                             : strcmp(status, "interrupted") == 0 ? "interrupted"
                                                                  : "turn failed");
        r->api_error_status = ad_error_status_in(r->text);
    }
    r->usage.input_tokens = minus(a->total.input_tokens, a->at_turn.input_tokens);
    r->usage.output_tokens = minus(a->total.output_tokens, a->at_turn.output_tokens);
    r->usage.cache_read_tokens = minus(a->total.cache_read_tokens, a->at_turn.cache_read_tokens);
    r->usage.cache_creation_tokens =
        minus(a->total.cache_creation_tokens, a->at_turn.cache_creation_tokens);
    a->at_turn = a->total;
    ad_usage_t usage = r->usage;
    double cost = ad_parser_cost(p, p->model, &usage, out);
    out->v[idx].cost_usd = cost;
    free(a->turn_id);
    a->turn_id = NULL;
    a->turn_pending = false;
    free(p->last_error);
    p->last_error = NULL;
    ad_app_send_queued(p, out);
}

void ad_app_set_turn(app_t *a, const char *id)
{
    if (id != NULL) {
        free(a->turn_id);
        a->turn_id = ad_xstrdup(id);
    }
}
