/* SPDX-License-Identifier: MIT */
/*
 * Codex: how `codex exec` is launched (flags of the 0.169 CLI: sandbox per
 * mode, a provider given with -c, resume, the prompt on stdin) and what its
 * `--json` output means (reference agent-protocols.md B and the transcripts
 * recorded from the real CLI, tests/fixtures/transcripts/codex-0.169.0-*):
 * thread.started (the thread to resume), items (agent messages, reasoning,
 * commands, file changes, MCP tool calls, web searches, plans, errors) and
 * turn.completed / turn.failed. Tool items become tool_start/tool_end pairs
 * keyed by the item id. Codex reports no cost: turns are costed from the
 * model_prices setting (price.c).
 */
#include "agent/agent_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- launch ------------------------------------------------------------------ */

/* A -c key: dotted names of letters, digits, '_' and '-'. */
static bool config_key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > 200 || k[0] == '-' || k[0] == '.' || k[n - 1] == '.') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* -c model_providers.agentd={…} -c model_provider=agentd: a provider at
 * base_url speaking the Responses API over HTTP (without
 * supports_websockets=false codex 0.169 first tries a WebSocket). */
int ad_codex_provider_args(const char *base_url, ad_strv_t *argv)
{
    ad_buf_t b;
    ad_buf_init(&b, 8192);
    int rc = ad_buf_puts(&b, "model_providers.agentd={name=\"agentd\",base_url=");
    rc = rc != 0 ? rc : ad_toml_string(&b, base_url, strlen(base_url));
    rc = rc != 0 ? rc
                 : ad_buf_puts(&b, ",wire_api=\"responses\",env_key=\"OPENAI_API_KEY\","
                                   "supports_websockets=false}");
    if (rc == 0) {
        ad_strv_push(argv, "-c");
        ad_strv_push(argv, b.data);
        ad_strv_push(argv, "-c");
        ad_strv_push(argv, "model_provider=agentd");
    }
    ad_buf_cleanup(&b);
    return rc;
}

int ad_codex_config_args(const json_t *cfg, ad_strv_t *argv, char *err, size_t errsz)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)cfg, k, v)
    {
        ad_buf_t b;
        ad_buf_init(&b, 64 * 1024);
        int rc = config_key_ok(k) ? 0 : AD_EINVAL;
        rc = rc != 0 ? rc : ad_buf_puts(&b, k);
        rc = rc != 0 ? rc : ad_buf_putc(&b, '=');
        rc = rc != 0 ? rc : ad_toml_value(&b, v);
        if (rc == 0) {
            ad_strv_push(argv, "-c");
            ad_strv_push(argv, b.data);
        }
        ad_buf_cleanup(&b);
        if (rc != 0) {
            snprintf(err, errsz,
                     "codexConfig %.200s: keys are dotted names and values strings, numbers, "
                     "booleans, arrays or objects (up to 64 KiB)",
                     k);
            return AD_EINVAL;
        }
    }
    return 0;
}

int ad_codex_config_check(const json_t *cfg, char *err, size_t errsz)
{
    if (!json_is_object(cfg) || json_object_size(cfg) > 64) {
        snprintf(err, errsz, "must be an object of at most 64 codex settings");
        return AD_EINVAL;
    }
    ad_strv_t scratch = {0};
    int rc = ad_codex_config_args(cfg, &scratch, err, errsz);
    ad_strv_free(&scratch);
    return rc;
}

int ad_codex_common_args(const ad_agent_spec_t *spec, ad_strv_t *argv, char *err, size_t errsz)
{
    if (spec->codex_config != NULL && !json_is_object(spec->codex_config)) {
        snprintf(err, errsz, "codexConfig must be an object of settings");
        return AD_EINVAL;
    }
    if (spec->base_url != NULL && spec->base_url[0] != '\0' &&
        ad_codex_provider_args(spec->base_url, argv) != 0) {
        snprintf(err, errsz, "base URL is too long");
        return AD_EINVAL;
    }
    if (spec->codex_config != NULL &&
        ad_codex_config_args(spec->codex_config, argv, err, errsz) != 0) {
        return AD_EINVAL;
    }
    return 0;
}

int ad_codex_build(const ad_agent_spec_t *spec, ad_strv_t *argv, ad_strv_t *env, ad_launch_t *out,
                   char *err, size_t errsz)
{
    AD_UNUSED(env);
    /* app-server unless the CLI is known to be older than it (docs/executors.md) */
    if (spec->cli_version == NULL || spec->cli_version[0] == '\0' ||
        ad_cli_version_at_least(spec->cli_version, AD_CODEX_APP_MIN)) {
        return ad_codex_app_build(spec, argv, out, err, errsz);
    }
    if (spec->prompt == NULL || spec->prompt[0] == '\0') {
        snprintf(err, errsz, "a codex agent needs a prompt: codex exec runs one prompt per run");
        return AD_EINVAL;
    }
    ad_strv_push(argv, "exec");
    ad_strv_push(argv, "--json");
    if (ad_codex_common_args(spec, argv, err, errsz) != 0) {
        return AD_EINVAL;
    }
    if (spec->model != NULL && spec->model[0] != '\0') {
        ad_strv_push(argv, "--model");
        ad_strv_push(argv, spec->model);
    }
    /* exec never asks for approval; the sandbox is what a mode allows:
     * reading (plan), writing the worktree (regular), everything (auto). */
    if (spec->mode == AD_MODE_AUTO) {
        ad_strv_push(argv, "--dangerously-bypass-approvals-and-sandbox");
    } else {
        ad_strv_push(argv, "--sandbox");
        ad_strv_push(argv, spec->mode == AD_MODE_PLAN ? "read-only" : "workspace-write");
    }
    if (spec->session_id != NULL && spec->session_id[0] != '\0') {
        ad_strv_push(argv, "resume");
        ad_strv_push(argv, spec->session_id);
    }
    /* "-": the prompt is read from stdin, which is then closed, so codex
     * never waits for more input (a prompt of any size, even one that
     * starts with '-'). */
    ad_strv_push(argv, "-");
    out->stdin_len = strlen(spec->prompt);
    out->stdin_data = ad_xstrndup(spec->prompt, out->stdin_len);
    return 0;
}

/* ---- TOML values for -c ------------------------------------------------------------ */

int ad_toml_string(ad_buf_t *b, const char *s, size_t len)
{
    int rc = ad_buf_putc(b, '"');
    for (size_t i = 0; rc == 0 && i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            rc = ad_buf_append(b, esc, 2);
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            rc = ad_buf_puts(b, esc);
        } else {
            rc = ad_buf_putc(b, (char)c);
        }
    }
    return rc != 0 ? rc : ad_buf_putc(b, '"');
}

static bool bare_key(const char *k)
{
    for (const char *c = k; *c != '\0'; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '-')) {
            return false;
        }
    }
    return k[0] != '\0';
}

static int toml_at(ad_buf_t *b, const json_t *v, int depth);

static int toml_table(ad_buf_t *b, const json_t *v, int depth)
{
    int rc = ad_buf_putc(b, '{');
    const char *k;
    json_t *x;
    bool first = true;
    json_object_foreach((json_t *)v, k, x)
    {
        rc = rc != 0 || first ? rc : ad_buf_putc(b, ',');
        first = false;
        rc = rc != 0 ? rc : bare_key(k) ? ad_buf_puts(b, k) : ad_toml_string(b, k, strlen(k));
        rc = rc != 0 ? rc : ad_buf_putc(b, '=');
        rc = rc != 0 ? rc : toml_at(b, x, depth + 1);
    }
    return rc != 0 ? rc : ad_buf_putc(b, '}');
}

static int toml_at(ad_buf_t *b, const json_t *v, int depth)
{
    char num[64];
    if (depth > 16) {
        return AD_ETOOBIG;
    }
    switch (json_typeof(v)) {
    case JSON_STRING:
        return ad_toml_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        return ad_buf_puts(b, num);
    case JSON_REAL:
        /* A TOML float needs a '.' or an exponent; 2.0 prints as "2". */
        snprintf(num, sizeof(num), "%.17g", json_real_value(v));
        if (strpbrk(num, ".eE") == NULL) {
            size_t n = strlen(num);
            snprintf(num + n, sizeof(num) - n, ".0");
        }
        return ad_buf_puts(b, num);
    case JSON_TRUE:
        return ad_buf_puts(b, "true");
    case JSON_FALSE:
        return ad_buf_puts(b, "false");
    case JSON_ARRAY: {
        int rc = ad_buf_putc(b, '[');
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            rc = rc != 0 || i == 0 ? rc : ad_buf_putc(b, ',');
            rc = rc != 0 ? rc : toml_at(b, x, depth + 1);
        }
        return rc != 0 ? rc : ad_buf_putc(b, ']');
    }
    case JSON_OBJECT:
        return toml_table(b, v, depth);
    default:
        return AD_EINVAL; /* TOML has no null */
    }
}

int ad_toml_value(ad_buf_t *b, const json_t *v)
{
    return toml_at(b, v, 0);
}

/* ---- output ---------------------------------------------------------------- */

const char *ad_codex_tool_name(const char *itype)
{
    /* exec --json's snake_case item types and app-server's camelCase ones */
    static const struct {
        const char *type;
        const char *name;
    } map[] = {
        {"command_execution", "Bash"}, {"commandExecution", "Bash"}, {"file_change", "Edit"},
        {"fileChange", "Edit"},        {"mcp_tool_call", "mcp"},     {"mcpToolCall", "mcp"},
        {"dynamicToolCall", "tool"},   {"web_search", "WebSearch"},  {"webSearch", "WebSearch"}};
    for (size_t i = 0; i < AD_ARRAY_LEN(map); i++) {
        if (strcmp(itype, map[i].type) == 0) {
            return map[i].name;
        }
    }
    return NULL;
}

/* Params of a tool item: the item without its bookkeeping fields. */
static json_t *tool_params(json_t *item, const char *itype)
{
    json_t *params = json_object();
    if (strcmp(itype, "command_execution") == 0) {
        json_object_set(params, "command", json_object_get(item, "command"));
    } else if (strcmp(itype, "file_change") == 0) {
        json_object_set(params, "changes", json_object_get(item, "changes"));
    } else if (strcmp(itype, "mcp_tool_call") == 0) {
        json_object_set(params, "server", json_object_get(item, "server"));
        json_object_set(params, "tool", json_object_get(item, "tool"));
        json_object_set(params, "arguments", json_object_get(item, "arguments"));
    } else {
        json_object_set(params, "query", json_object_get(item, "query"));
    }
    /* json_object_set with a NULL value fails and leaves nothing: fine. */
    return params;
}

static char *tool_output(json_t *item, const char *itype)
{
    if (strcmp(itype, "command_execution") == 0) {
        return ad_json_strdup(item, "aggregated_output");
    }
    json_t *err = json_object_get(item, "error");
    if (ad_json_str(err, "message") != NULL) {
        return ad_json_strdup(err, "message");
    }
    json_t *res = json_object_get(item, "result");
    if (res != NULL) {
        return json_dumps(res, JSON_COMPACT);
    }
    return NULL;
}

/* A tool item starts: tool_start and its message (not complete yet). */
static void tool_started(ad_parser_t *p, json_t *item, const char *itype, const char *id,
                         const char *name, uint64_t now, ad_recs_t *out)
{
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
}

/* A tool item completes: tool_end and the completed message. */
static void tool_completed(ad_parser_t *p, json_t *item, const char *itype, const char *id,
                           const char *name, uint64_t now, ad_recs_t *out)
{
    const char *status = ad_json_str(item, "status");
    bool failed = status != NULL && strcmp(status, "completed") != 0;
    int code = (int)ad_json_int(item, "exit_code", -1);
    if (code > 0) {
        failed = true;
    }
    open_tool_t t;
    ad_tool_end(p, id, failed, code, now, out, &t);
    ad_rec_t *r = ad_rec_push(out, AD_REC_MESSAGE);
    r->role = AD_ROLE_TOOL;
    r->tool_id = ad_xstrdup(id);
    r->tool_name = t.name != NULL ? t.name : ad_xstrdup(name);
    r->json = t.input;
    t.name = NULL;
    t.input = NULL;
    ad_open_tool_free(&t);
    r->tool_output = tool_output(item, itype);
    r->exit_code = code;
    r->is_error = failed;
    r->is_complete = true;
}

static void on_tool_item(ad_parser_t *p, bool started, bool completed, json_t *item,
                         const char *itype, const char *tname, uint64_t now, ad_recs_t *out)
{
    const char *id = ad_json_str(item, "id");
    char name[160];
    if (strcmp(itype, "mcp_tool_call") == 0) {
        snprintf(name, sizeof(name), "%s.%s",
                 ad_json_str(item, "server") ? ad_json_str(item, "server") : "mcp",
                 ad_json_str(item, "tool") ? ad_json_str(item, "tool") : "tool");
    } else {
        snprintf(name, sizeof(name), "%s", tname);
    }
    bool was_open = false;
    /* Some items (file_change) arrive only as completed: open them now so
     * every tool_end has its tool_start. */
    if (completed && id != NULL) {
        open_tool_t probe;
        was_open = ad_tool_close(p, id, &probe);
        if (was_open) {
            ad_tool_open(p, probe.id, probe.name, probe.input, probe.start_ms);
            ad_open_tool_free(&probe);
        }
    }
    if (started || (completed && !was_open)) {
        tool_started(p, item, itype, id != NULL ? id : "", name, now, out);
    }
    if (completed) {
        tool_completed(p, item, itype, id != NULL ? id : "", name, now, out);
    }
}

/* A todo_list item as one line: "plan: [x] a; [ ] b". */
static void on_plan(json_t *item, ad_recs_t *out)
{
    ad_buf_t b;
    ad_buf_init(&b, 4096);
    int rc = ad_buf_puts(&b, "plan:");
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(item, "items"), i, t)
    {
        const char *text = ad_json_str(t, "text");
        size_t mark = b.len;
        rc = rc != 0 ? rc : ad_buf_puts(&b, i == 0 ? " " : "; ");
        rc = rc != 0
                 ? rc
                 : ad_buf_puts(&b, json_is_true(json_object_get(t, "completed")) ? "[x] " : "[ ] ");
        rc = rc != 0 ? rc : ad_buf_puts(&b, text != NULL ? text : "");
        if (rc != 0) {
            ad_buf_truncate(&b, mark); /* the items that fit, each whole */
            break;
        }
    }
    ad_rec_notice(out, "plan", b.data != NULL ? b.data : "plan:", item);
    ad_buf_cleanup(&b);
}

static void on_item(ad_parser_t *p, const char *etype, json_t *item, uint64_t now, ad_recs_t *out)
{
    const char *itype = ad_json_str(item, "type");
    if (itype == NULL) {
        return;
    }
    bool started = strcmp(etype, "item.started") == 0;
    bool completed = strcmp(etype, "item.completed") == 0;
    const char *tname = ad_codex_tool_name(itype);
    if (tname != NULL) {
        on_tool_item(p, started, completed, item, itype, tname, now, out);
        return;
    }
    if (strcmp(itype, "todo_list") == 0) {
        on_plan(item, out); /* started, updated and completed: each state */
        return;
    }
    if (!completed) {
        return;
    }
    if (strcmp(itype, "agent_message") == 0) {
        ad_rec_t *r = ad_rec_push(out, AD_REC_MESSAGE);
        r->role = AD_ROLE_ASSISTANT;
        r->text = ad_json_strdup(item, "text");
        r->model = p->model != NULL ? ad_xstrdup(p->model) : NULL;
        r->is_complete = true;
    } else if (strcmp(itype, "reasoning") == 0) {
        const char *t = ad_json_str(item, "text");
        if (t != NULL) {
            ad_rec_notice(out, "reasoning", t, item);
        }
    } else if (strcmp(itype, "error") == 0) {
        /* Non-fatal: e.g. "Model metadata for `x` not found…". */
        const char *m = ad_json_str(item, "message");
        ad_rec_notice(out, "warning", m != NULL ? m : "warning", item);
    }
    /* unknown items: nothing to show. */
}

static void on_turn_end(ad_parser_t *p, json_t *obj, bool failed, ad_recs_t *out)
{
    ad_rec_t *r = ad_rec_push(out, AD_REC_RESULT);
    size_t idx = out->n - 1; /* r may move when a notice is pushed */
    r->subtype = ad_xstrdup(failed ? "error" : "success");
    r->session_id = p->session_id != NULL ? ad_xstrdup(p->session_id) : NULL;
    r->model = p->model != NULL ? ad_xstrdup(p->model) : NULL;
    r->num_turns = 1;
    if (failed) {
        r->is_error = true;
        r->text = ad_json_strdup(json_object_get(obj, "error"), "message");
        if (r->text == NULL) {
            r->text = ad_xstrdup(p->last_error != NULL ? p->last_error : "turn failed");
        }
        r->api_error_status = ad_error_status_in(r->text);
        return;
    }
    /* cached_input_tokens is a part of input_tokens; reasoning tokens are a
     * part of output_tokens (reference B). */
    json_t *u = json_object_get(obj, "usage");
    int64_t input = ad_json_int(u, "input_tokens", 0);
    int64_t cached = ad_json_int(u, "cached_input_tokens", 0);
    r->usage.cache_read_tokens = cached;
    r->usage.input_tokens = input >= cached ? input - cached : input;
    r->usage.output_tokens = ad_json_int(u, "output_tokens", 0);
    r->usage.cache_creation_tokens = ad_json_int(u, "cache_write_input_tokens", 0);
    ad_usage_t usage = r->usage;
    double cost = ad_parser_cost(p, p->model, &usage, out);
    out->v[idx].cost_usd = cost;
}

bool ad_codex_parse(ad_parser_t *p, json_t *obj, uint64_t now, ad_recs_t *out)
{
    const char *type = ad_json_str(obj, "type");
    if (type == NULL) {
        return false;
    }
    if (strcmp(type, "thread.started") == 0) {
        ad_parser_set_session(p, ad_json_str(obj, "thread_id"), NULL);
        ad_rec_t *r = ad_rec_push(out, AD_REC_SESSION);
        r->session_id = ad_json_strdup(obj, "thread_id");
        r->model = p->model != NULL ? ad_xstrdup(p->model) : NULL;
    } else if (strcmp(type, "turn.started") == 0) {
        free(p->last_error);
        p->last_error = NULL;
    } else if (strncmp(type, "item.", 5) == 0) {
        json_t *item = json_object_get(obj, "item");
        if (!json_is_object(item)) {
            return false;
        }
        on_item(p, type, item, now, out);
    } else if (strcmp(type, "turn.completed") == 0 || strcmp(type, "turn.failed") == 0) {
        on_turn_end(p, obj, strcmp(type, "turn.failed") == 0, out);
    } else if (strcmp(type, "error") == 0) {
        /* "Reconnecting... 1/5 (…)" while it retries; the last one before
         * turn.failed is the error itself. */
        const char *m = ad_json_str(obj, "message");
        bool retry = m != NULL && strncmp(m, "Reconnecting", 12) == 0;
        ad_rec_notice(out, retry ? "api_retry" : "error", m != NULL ? m : "error", obj);
        if (!retry && m != NULL) {
            free(p->last_error);
            p->last_error = ad_xstrdup(m);
        }
    } else {
        return false;
    }
    return true;
}
