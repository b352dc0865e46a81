/* SPDX-License-Identifier: MIT */
/*
 * The parser front end shared by every executor: line framing (trailing
 * '\r', non-JSON and oversized lines become plain output), the record list,
 * open tool calls and their durations, usage deduplicated by message id, the
 * context level and the table of model context windows. The per-executor
 * schemas live in claude.c, codex.c, gemini.c and command.c.
 */
#include "agent/agent_int.h"

#include <stdlib.h>
#include <string.h>

static const char *const role_names[] = {"user", "assistant", "system", "tool"};

const char *ad_role_name(ad_role_t r)
{
    return (unsigned)r < AD_ARRAY_LEN(role_names) ? role_names[r] : "system";
}

/* ---- records ------------------------------------------------------------ */

void ad_recs_init(ad_recs_t *r)
{
    memset(r, 0, sizeof(*r));
}

static void rec_free(ad_rec_t *r)
{
    free(r->text);
    free(r->version);
    free(r->subtype);
    free(r->session_id);
    free(r->model);
    free(r->tool_id);
    free(r->tool_name);
    free(r->tool_output);
    json_decref(r->json);
}

void ad_recs_clear(ad_recs_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        rec_free(&r->v[i]);
    }
    r->n = 0;
}

void ad_recs_cleanup(ad_recs_t *r)
{
    ad_recs_clear(r);
    free(r->v);
    memset(r, 0, sizeof(*r));
}

ad_rec_t *ad_rec_push(ad_recs_t *out, ad_rec_type_t type)
{
    if (out->n == out->cap) {
        out->cap = out->cap == 0 ? 8 : out->cap * 2;
        out->v = ad_xrealloc(out->v, out->cap * sizeof(ad_rec_t));
    }
    ad_rec_t *r = &out->v[out->n++];
    memset(r, 0, sizeof(*r));
    r->type = type;
    r->exit_code = -1;
    r->total_cost_usd = -1;
    return r;
}

void ad_rec_output(ad_recs_t *out, const char *line, size_t len)
{
    static const char marker[] = "…[truncated]";
    ad_rec_t *r = ad_rec_push(out, AD_REC_OUTPUT);
    bool cut = len > AD_PARSER_OUTPUT_MAX;
    size_t n = cut ? AD_PARSER_OUTPUT_MAX : len;
    /* Events are JSON strings: invalid UTF-8 and NUL bytes become U+FFFD,
     * and a cut never splits a character (its partial bytes are repaired). */
    ad_buf_t b;
    ad_buf_init(&b, 3 * (size_t)AD_PARSER_OUTPUT_MAX + sizeof(marker));
    /* Sized for the worst case (every byte a 3-byte U+FFFD, then the
     * marker): neither can be refused. */
    AD_DISCARD(ad_utf8_repair(&b, line, n));
    if (cut) {
        AD_DISCARD(ad_buf_append(&b, marker, sizeof(marker) - 1));
    }
    r->text = ad_buf_detach(&b, NULL);
    ad_buf_cleanup(&b);
}

void ad_parser_text_add(ad_parser_t *p, const char *s, size_t n)
{
    if (!p->text_cut && ad_buf_append(&p->text, s, n) != 0) {
        p->text_cut = true;
    }
}

void ad_parser_text_reset(ad_parser_t *p)
{
    ad_buf_reset(&p->text);
    p->text_cut = false;
}

void ad_parser_text_flush(ad_parser_t *p, ad_recs_t *out)
{
    if (p->text.len == 0) {
        return;
    }
    ad_rec_t *r = ad_rec_push(out, AD_REC_MESSAGE);
    r->role = AD_ROLE_ASSISTANT;
    r->text = ad_buf_detach(&p->text, NULL);
    ad_parser_text_reset(p);
    r->model = p->model != NULL ? ad_xstrdup(p->model) : NULL;
    r->is_complete = true;
}

void ad_rec_notice(ad_recs_t *out, const char *subtype, const char *text, json_t *json)
{
    ad_rec_t *r = ad_rec_push(out, AD_REC_NOTICE);
    r->subtype = ad_xstrdup(subtype);
    r->text = ad_xstrdup(text);
    r->json = json_incref(json);
}

/* ---- JSON helpers ----------------------------------------------------------- */

const char *ad_json_str(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

char *ad_json_strdup(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v)) {
        return NULL;
    }
    return ad_xstrndup(json_string_value(v), json_string_length(v));
}

int64_t ad_json_int(const json_t *obj, const char *key, int64_t def)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v)) {
        return (int64_t)json_integer_value(v);
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d > -9.0e18 && d < 9.0e18) {
            return (int64_t)d;
        }
    }
    return def;
}

int ad_error_status_in(const char *m)
{
    if (m == NULL) {
        return 0;
    }
    const char *s = strstr(m, "status: ");
    if (s != NULL && s[8] >= '1' && s[8] <= '5' && s[9] >= '0' && s[9] <= '9' && s[10] >= '0' &&
        s[10] <= '9') {
        return (s[8] - '0') * 100 + (s[9] - '0') * 10 + (s[10] - '0');
    }
    static const char *const limited[] = {"rate limit", "Rate limit", "quota", "Quota"};
    for (size_t i = 0; i < AD_ARRAY_LEN(limited); i++) {
        if (strstr(m, limited[i]) != NULL) {
            return 429;
        }
    }
    if (strstr(m, "at capacity") != NULL || strstr(m, "overloaded") != NULL) {
        return 503;
    }
    return 0;
}

/* ---- parser state ---------------------------------------------------------- */

ad_parser_t *ad_parser_new(ad_executor_t e)
{
    ad_parser_t *p = ad_xcalloc(1, sizeof(*p));
    p->kind = e;
    p->last_level = -1;
    ad_buf_init(&p->text, AD_PARSER_TEXT_MAX);
    ad_buf_init(&p->unpriced, 16 * 1024);
    return p;
}

void ad_open_tool_free(open_tool_t *t)
{
    free(t->id);
    free(t->name);
    json_decref(t->input);
    memset(t, 0, sizeof(*t));
}

void ad_parser_free(ad_parser_t *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < p->ntools; i++) {
        ad_open_tool_free(&p->tools[i]);
    }
    free(p->tools);
    ad_usage_reset(p);
    free(p->seen);
    free(p->session_id);
    free(p->model);
    free(p->last_error);
    ad_acp_free(p->acp);
    ad_codex_app_free(p->app);
    json_decref(p->prices);
    ad_buf_cleanup(&p->text);
    ad_buf_cleanup(&p->unpriced);
    free(p);
}

void ad_parser_set_session(ad_parser_t *p, const char *session_id, const char *model)
{
    if (session_id != NULL && session_id[0] != '\0') {
        free(p->session_id);
        p->session_id = ad_xstrdup(session_id);
    }
    if (model != NULL && model[0] != '\0') {
        free(p->model);
        p->model = ad_xstrdup(model);
    }
}

void ad_parser_set_model(ad_parser_t *p, const char *model)
{
    ad_parser_set_session(p, NULL, model);
}

void ad_parser_set_prices(ad_parser_t *p, json_t *prices)
{
    json_decref(p->prices);
    p->prices = json_incref(prices);
}

const char *ad_parser_session_id(const ad_parser_t *p)
{
    return p->session_id;
}

const char *ad_parser_model(const ad_parser_t *p)
{
    return p->model;
}

/* ---- tools ------------------------------------------------------------------ */

void ad_tool_open(ad_parser_t *p, const char *id, const char *name, json_t *input, uint64_t now)
{
    if (id == NULL) {
        return;
    }
    if (p->tools == NULL) {
        p->tools = ad_xcalloc(AD_PARSER_MAX_TOOLS, sizeof(open_tool_t));
    }
    if (p->ntools == AD_PARSER_MAX_TOOLS) {
        /* A tool whose result never came: forget the oldest. */
        ad_open_tool_free(&p->tools[0]);
        memmove(&p->tools[0], &p->tools[1], (p->ntools - 1) * sizeof(open_tool_t));
        p->ntools--;
    }
    open_tool_t *t = &p->tools[p->ntools++];
    t->id = ad_xstrdup(id);
    t->name = name != NULL ? ad_xstrdup(name) : NULL;
    t->input = json_incref(input);
    t->start_ms = now;
}

bool ad_tool_close(ad_parser_t *p, const char *id, open_tool_t *t)
{
    memset(t, 0, sizeof(*t));
    for (size_t i = 0; id != NULL && i < p->ntools; i++) {
        if (strcmp(p->tools[i].id, id) == 0) {
            *t = p->tools[i];
            memmove(&p->tools[i], &p->tools[i + 1], (p->ntools - i - 1) * sizeof(open_tool_t));
            p->ntools--;
            return true;
        }
    }
    return false;
}

ad_rec_t *ad_tool_end(ad_parser_t *p, const char *id, bool is_error, int exit_code, uint64_t now,
                      ad_recs_t *out, open_tool_t *t)
{
    open_tool_t local;
    open_tool_t *tool = t != NULL ? t : &local;
    bool known = ad_tool_close(p, id, tool);
    ad_rec_t *r = ad_rec_push(out, AD_REC_TOOL_END);
    r->tool_id = id != NULL ? ad_xstrdup(id) : NULL;
    r->tool_name = tool->name != NULL ? ad_xstrdup(tool->name) : NULL;
    r->duration_ms = known && now >= tool->start_ms ? (int64_t)(now - tool->start_ms) : 0;
    r->is_error = is_error;
    r->exit_code = exit_code;
    if (t == NULL) {
        ad_open_tool_free(&local);
    }
    return r;
}

/* ---- usage and context --------------------------------------------------------- */

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

void ad_usage_note(ad_parser_t *p, const char *id, const ad_usage_t *u)
{
    seen_msg_t *s = NULL;
    for (size_t i = 0; id != NULL && i < p->nseen; i++) {
        if (strcmp(p->seen[i].id, id) == 0) {
            s = &p->seen[i];
            break;
        }
    }
    if (s == NULL) {
        if (p->seen == NULL) {
            p->seen = ad_xcalloc(AD_PARSER_MAX_SEEN, sizeof(seen_msg_t));
        }
        if (p->nseen == AD_PARSER_MAX_SEEN) {
            /* Fold the oldest into slot 1 so totals stay right; its id is
             * old enough that it will not repeat. */
            seen_msg_t *a = &p->seen[0], *b = &p->seen[1];
            b->usage.input_tokens += a->usage.input_tokens;
            b->usage.output_tokens += a->usage.output_tokens;
            b->usage.cache_creation_tokens += a->usage.cache_creation_tokens;
            b->usage.cache_read_tokens += a->usage.cache_read_tokens;
            free(a->id);
            memmove(&p->seen[0], &p->seen[1], (p->nseen - 1) * sizeof(seen_msg_t));
            p->nseen--;
        }
        s = &p->seen[p->nseen++];
        s->id = ad_xstrdup(id != NULL ? id : "");
    }
    s->usage.input_tokens = max64(s->usage.input_tokens, u->input_tokens);
    s->usage.output_tokens = max64(s->usage.output_tokens, u->output_tokens);
    s->usage.cache_creation_tokens =
        max64(s->usage.cache_creation_tokens, u->cache_creation_tokens);
    s->usage.cache_read_tokens = max64(s->usage.cache_read_tokens, u->cache_read_tokens);
}

void ad_usage_reset(ad_parser_t *p)
{
    for (size_t i = 0; i < p->nseen; i++) {
        free(p->seen[i].id);
    }
    p->nseen = 0;
}

void ad_parser_pending_usage(const ad_parser_t *p, ad_usage_t *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < p->nseen; i++) {
        out->input_tokens += p->seen[i].usage.input_tokens;
        out->output_tokens += p->seen[i].usage.output_tokens;
        out->cache_creation_tokens += p->seen[i].usage.cache_creation_tokens;
        out->cache_read_tokens += p->seen[i].usage.cache_read_tokens;
    }
}

int64_t ad_model_context_window(const char *model, int64_t fallback)
{
    static const struct {
        const char *prefix;
        int64_t window;
    } table[] = {
        {"claude", 200000}, {"opus", 200000},     {"sonnet", 200000},          {"haiku", 200000},
        {"gpt-5", 400000},  {"gpt-4.1", 1047576}, {"gpt-4o", 128000},          {"o3", 200000},
        {"o4", 200000},     {"codex", 400000},    {"gemini-1.5-pro", 2097152}, {"gemini", 1048576},
    };
    if (model == NULL || model[0] == '\0') {
        return fallback;
    }
    /* Claude Code names its 1M-token variants "sonnet[1m]", "claude-…[1m]". */
    if (strstr(model, "[1m]") != NULL) {
        return 1000000;
    }
    for (size_t i = 0; i < AD_ARRAY_LEN(table); i++) {
        if (strncmp(model, table[i].prefix, strlen(table[i].prefix)) == 0) {
            return table[i].window;
        }
    }
    return fallback;
}

void ad_context_update(ad_parser_t *p, int64_t tokens, ad_recs_t *out)
{
    if (tokens < 0) {
        return;
    }
    p->context_tokens = tokens;
    int64_t window = p->window > 0 ? p->window : ad_model_context_window(p->model, 200000);
    if (window <= 0) {
        return;
    }
    int64_t level = (tokens * 100 + window / 2) / window;
    if (level > 100) {
        level = 100;
    }
    if ((int)level == p->last_level) {
        return;
    }
    p->last_level = (int)level;
    ad_rec_t *r = ad_rec_push(out, AD_REC_CONTEXT);
    r->level = (int)level;
}

/* ---- front end ------------------------------------------------------------------ */

size_t ad_parser_feed(ad_parser_t *p, const char *line, size_t len, uint64_t now_ms, ad_recs_t *out)
{
    size_t before = out->n;
    if (p->kind == AD_EXEC_ACP) { /* JSON-RPC: every line is the protocol's */
        ad_acp_feed(p, line, len, now_ms, out);
        return out->n - before;
    }
    if (len > 0 && line[len - 1] == '\r') {
        len--;
    }
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t')) {
        i++;
    }
    if (i == len) {
        return 0;
    }
    if (p->app != NULL) { /* codex app-server: JSON-RPC, its codec's to read */
        if (!ad_codex_app_feed(p, line + i, len - i, now_ms, out)) {
            ad_rec_output(out, line, len);
        }
        return out->n - before;
    }
    /* Only a line that starts with '{' can be a record (SDK rule: CLIs print
     * debug lines such as "[SandboxDebug] …" to stdout too). */
    if (line[i] != '{' || len > 64 * 1024 * 1024) {
        ad_rec_output(out, line, len);
        return out->n - before;
    }
    json_error_t jerr;
    json_t *obj = json_loadb(line + i, len - i, 0, &jerr);
    if (obj == NULL && p->kind == AD_EXEC_COMMAND) {
        obj = ad_json_load_nonfinite(line + i, len - i);
    }
    bool handled = false;
    if (json_is_object(obj)) {
        switch (p->kind) {
        case AD_EXEC_CLAUDE:
            handled = ad_claude_parse(p, obj, now_ms, out);
            break;
        case AD_EXEC_CODEX:
            handled = ad_codex_parse(p, obj, now_ms, out);
            break;
        case AD_EXEC_GEMINI:
            handled = ad_gemini_parse(p, obj, now_ms, out);
            break;
        case AD_EXEC_COMMAND:
            handled = ad_command_parse(p, obj, now_ms, out);
            break;
        case AD_EXEC_ACP: /* read by ad_acp_feed above */
            break;
        }
    }
    json_decref(obj);
    if (!handled) {
        ad_rec_output(out, line, len);
    }
    return out->n - before;
}

size_t ad_parser_finish(ad_parser_t *p, uint64_t now_ms, ad_recs_t *out)
{
    size_t before = out->n;
    if (p->kind == AD_EXEC_GEMINI) {
        ad_parser_text_flush(p, out);
    } else if (p->kind == AD_EXEC_ACP && p->acp != NULL) {
        ad_parser_text_flush(p, out);
    }
    ad_parser_text_reset(p);
    while (p->ntools > 0) {
        char *id = ad_xstrdup(p->tools[0].id);
        ad_rec_t *r = ad_tool_end(p, id, true, -1, now_ms, out, NULL);
        r->text = ad_xstrdup("interrupted");
        free(id);
    }
    return out->n - before;
}
