/* SPDX-License-Identifier: MIT */
/*
 * ACP agents (agent.h "ACP"): how one is launched (a preset or any
 * command), and what agentd, the client, writes to it: initialize, the
 * session, one session/prompt per user message (waiting ones in order),
 * session/cancel, and the answers to the agent's permission, fs and
 * terminal requests (the user's decisions among them). What it reads is
 * acp.c's.
 */
#include "agent/agent_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    const char *program; /* NULL: the configured gemini CLI */
    const char *flag;    /* NULL: none */
} presets[] = {
    /* Gemini CLI 0.61: --acp (--experimental-acp is its deprecated name). */
    {"gemini", NULL, "--acp"},
    {"claude-code-acp", "claude-code-acp", NULL},
    {"codex-acp", "codex-acp", NULL},
};

static int preset_index(const char *name)
{
    for (size_t i = 0; name != NULL && i < AD_ARRAY_LEN(presets); i++) {
        if (strcmp(name, presets[i].name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

bool ad_acp_preset_check(const char *name)
{
    return preset_index(name) >= 0;
}

const char *ad_acp_program(const ad_agent_spec_t *spec, const ad_config_t *cfg, char *err,
                           size_t errsz)
{
    if (spec->acp_agent != NULL && spec->acp_agent[0] != '\0') {
        int i = preset_index(spec->acp_agent);
        if (i < 0) {
            snprintf(err, errsz, "unknown ACP agent %s (gemini, claude-code-acp or codex-acp)",
                     spec->acp_agent);
            return NULL;
        }
        return presets[i].program != NULL ? presets[i].program : cfg->gemini_bin;
    }
    if (spec->ncommand == 0 || spec->command == NULL || spec->command[0] == NULL ||
        spec->command[0][0] == '\0') {
        snprintf(err, errsz, "an acp agent needs acpAgent (a preset) or a command to run");
        return NULL;
    }
    return spec->command[0];
}

int ad_acp_build(const ad_agent_spec_t *spec, ad_strv_t *argv, ad_strv_t *env, ad_launch_t *out,
                 char *err, size_t errsz)
{
    int i = preset_index(spec->acp_agent);
    if (i < 0) {
        for (size_t k = 1; k < spec->ncommand; k++) {
            ad_strv_push(argv, spec->command[k] != NULL ? spec->command[k] : "");
        }
    } else if (presets[i].flag != NULL) {
        ad_strv_push(argv, presets[i].flag);
    }
    bool base = spec->base_url != NULL && spec->base_url[0] != '\0';
    if (i == 0) {
        /* The worktree is one the owner registered (as headless gemini);
         * regular mode asks (session/request_permission) before edits and
         * commands, which become agentd approvals. */
        ad_strv_push(argv, "--skip-trust");
        ad_strv_push(argv, "--approval-mode");
        ad_strv_push(argv, spec->mode == AD_MODE_PLAN   ? "plan"
                           : spec->mode == AD_MODE_AUTO ? "yolo"
                                                        : "default");
        ad_gemini_env(spec->base_url, env);
    } else if (i == 1 && base) {
        ad_strv_push2(env, "ANTHROPIC_BASE_URL=", spec->base_url);
    } else if (i == 2) {
        if (base && ad_codex_provider_args(spec->base_url, argv) != 0) {
            snprintf(err, errsz, "the base URL is too long");
            return AD_EINVAL;
        }
        /* Codex asks (session/request_permission, an agentd approval) for
         * any command it does not know to be safe, as the codex executor's
         * regular mode; plan mode's requests are refused; auto asks nothing.
         * Its own sandbox is the runner's to set (it cannot nest in
         * agentd's: src/run/start.c). */
        ad_strv_push(argv, "-c");
        ad_strv_push(argv, spec->mode == AD_MODE_AUTO ? "approval_policy=\"never\""
                                                      : "approval_policy=\"untrusted\"");
        if (spec->codex_config != NULL &&
            ad_codex_config_args(spec->codex_config, argv, err, errsz) != 0) {
            return AD_EINVAL;
        }
    }
    /* The protocol starts once the process is up (ad_acp_begin), and its
     * stdin stays open for the whole session. */
    out->interactive = true;
    return 0;
}

/* ---- the client's side ------------------------------------------------------ */

static void ask_clear(ad_acp_ask_t *k)
{
    free(k->id_json);
    json_decref(k->id);
    json_decref(k->options);
    json_decref(k->paths);
    free(k->method);
    json_decref(k->params);
}

void ad_acp_free(ad_acp_t *a)
{
    if (a == NULL) {
        return;
    }
    free(a->cwd);
    free(a->load_id);
    free(a->session);
    json_decref(a->perms);
    json_decref(a->kinds);
    for (size_t i = 0; i < a->nqueue; i++) {
        free(a->queue[i]);
    }
    for (size_t i = 0; i < a->nasks; i++) {
        ask_clear(&a->asks[i]);
    }
    json_decref(a->grants);
    free(a);
}

void ad_acp_send(ad_recs_t *out, char *line)
{
    if (line != NULL) {
        ad_rec_push(out, AD_REC_WRITE)->text = line;
    }
}

void ad_acp_fault(ad_parser_t *p, ad_recs_t *out, const char *fmt, ...)
{
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    ad_parser_text_flush(p, out);
    ad_rec_push(out, AD_REC_FAULT)->text = ad_xstrdup(why);
    p->acp->phase = AD_ACP_BROKEN;
}

static void setup_copy(ad_acp_t *a, const ad_acp_setup_t *s)
{
    a->cwd = ad_xstrdup(s->cwd != NULL ? s->cwd : "/");
    a->mode = s->mode;
    a->perms = json_array();
    for (size_t i = 0; i < s->npermissions; i++) {
        if (s->permissions[i] != NULL) {
            json_array_append_new(a->perms, json_string(s->permissions[i]));
        }
    }
    a->cost_total = -1;
    a->kinds = json_object();
    a->grants = json_array();
    /* terminals run in the agent's sandbox (src/run); plan mode runs nothing */
    a->terminal = s->mode != AD_MODE_PLAN;
    a->rpc.line_max = s->line_max > 0 ? s->line_max : 8u << 20;
}

char *ad_acp_begin(ad_parser_t *p, const ad_acp_setup_t *s, size_t *len)
{
    *len = 0;
    if (p->kind != AD_EXEC_ACP || p->acp != NULL) {
        return NULL;
    }
    ad_acp_t *a = p->acp = ad_xcalloc(1, sizeof(*a));
    ad_rpc_init(&a->rpc, 0);
    setup_copy(a, s);
    if (s->session_id != NULL && s->session_id[0] != '\0') {
        a->load_id = ad_xstrdup(s->session_id);
    }
    if (s->prompt != NULL && s->prompt[0] != '\0') {
        a->queue[a->nqueue++] = ad_xstrdup(s->prompt);
    }
    /* fs is served below the worktree, terminals in the agent's sandbox;
     * plan mode writes and runs nothing. */
    json_t *params = json_pack("{s:i, s:{s:{s:b, s:b}, s:b}, s:{s:s, s:s, s:s}}", "protocolVersion",
                               1, "clientCapabilities", "fs", "readTextFile", !s->no_fs_read,
                               "writeTextFile", s->mode != AD_MODE_PLAN, "terminal", a->terminal,
                               "clientInfo", "name", "agentd", "title", "agentd", "version",
                               s->client_version != NULL ? s->client_version : AD_VERSION);
    char *line = NULL;
    if (ad_rpc_request(&a->rpc, "initialize", params, AD_ACP_TAG_INIT, &line, len) < 0) {
        return NULL;
    }
    return line;
}

void ad_acp_resume(ad_parser_t *p, const ad_acp_setup_t *s)
{
    if (p->kind != AD_EXEC_ACP || p->acp != NULL) {
        return;
    }
    ad_acp_t *a = p->acp = ad_xcalloc(1, sizeof(*a));
    ad_rpc_init(&a->rpc, 0);
    /* ids far above what the previous daemon can have used */
    a->rpc.next_id = (int64_t)1 << 40;
    setup_copy(a, s);
    a->resumed = true;
    a->phase = s->in_turn ? AD_ACP_TURN : AD_ACP_READY;
    if (s->session_id != NULL && s->session_id[0] != '\0') {
        a->session = ad_xstrdup(s->session_id);
    }
}

char *ad_acp_prompt_line(ad_parser_t *p, const char *text, size_t *len)
{
    ad_acp_t *a = p->acp;
    json_t *t = json_string(text);
    if (t == NULL || a->session == NULL) {
        json_decref(t);
        return NULL;
    }
    json_t *params = json_pack("{s:s, s:[{s:s, s:o}]}", "sessionId", a->session, "prompt", "type",
                               "text", "text", t);
    char *line = NULL;
    if (ad_rpc_request(&a->rpc, "session/prompt", params, AD_ACP_TAG_PROMPT, &line, len) < 0) {
        return NULL;
    }
    a->phase = AD_ACP_TURN;
    return line;
}

void ad_acp_next_prompt(ad_parser_t *p, ad_recs_t *out)
{
    ad_acp_t *a = p->acp;
    if (a->phase != AD_ACP_READY || a->nqueue == 0) {
        return;
    }
    char *text = a->queue[0];
    memmove(&a->queue[0], &a->queue[1], (a->nqueue - 1) * sizeof(a->queue[0]));
    a->nqueue--;
    size_t len = 0;
    ad_acp_send(out, ad_acp_prompt_line(p, text, &len));
    free(text);
}

int ad_acp_prompt(ad_parser_t *p, const char *text, char **line, size_t *len)
{
    *line = NULL;
    *len = 0;
    ad_acp_t *a = p->acp;
    if (a == NULL || !ad_utf8_valid(text, strlen(text))) {
        return AD_EINVAL;
    }
    if (a->phase == AD_ACP_READY && a->nqueue == 0) {
        *line = ad_acp_prompt_line(p, text, len);
        return *line != NULL ? 0 : AD_EINVAL;
    }
    if (a->nqueue >= AD_ACP_QUEUE_MAX) {
        return AD_ETOOBIG;
    }
    a->queue[a->nqueue++] = ad_xstrdup(text);
    return 0;
}

char *ad_acp_cancel(ad_parser_t *p, size_t *len)
{
    *len = 0;
    ad_acp_t *a = p->acp;
    if (a == NULL || a->session == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < a->nqueue; i++) {
        free(a->queue[i]);
    }
    a->nqueue = 0;
    json_array_clear(a->grants);
    if (a->phase != AD_ACP_TURN) {
        return NULL;
    }
    return ad_rpc_notification(&a->rpc, "session/cancel",
                               json_pack("{s:s}", "sessionId", a->session), len);
}

bool ad_acp_busy(const ad_parser_t *p)
{
    return p->acp != NULL && (p->acp->phase == AD_ACP_TURN || p->acp->nqueue > 0);
}

/* The offered option of kind, or NULL. */
static const char *option_of(const json_t *options, const char *kind)
{
    size_t i;
    json_t *o;
    json_array_foreach(options, i, o)
    {
        const char *k = ad_json_str(o, "kind");
        if (k != NULL && strcmp(k, kind) == 0) {
            return ad_json_str(o, "optionId");
        }
    }
    return NULL;
}

/* The answer selecting the offered option that fits d, to the request id
 * (borrowed). */
static char *answer_with(ad_acp_t *a, const json_t *id, const json_t *options, ad_acp_decision_t d,
                         size_t *len)
{
    static const char *const order[][2] = {
        [AD_ACP_ALLOW] = {"allow_once", "allow_always"},
        [AD_ACP_DENY] = {"reject_once", "reject_always"},
        [AD_ACP_ALLOW_ALWAYS] = {"allow_always", "allow_once"},
    };
    const char *opt = option_of(options, order[d][0]);
    opt = opt != NULL ? opt : option_of(options, order[d][1]);
    json_t *outcome =
        opt != NULL ? json_pack("{s:{s:s, s:s}}", "outcome", "outcome", "selected", "optionId", opt)
                    : json_pack("{s:{s:s}}", "outcome", "outcome", "cancelled");
    return ad_rpc_response(&a->rpc, id, outcome, len);
}

char *ad_acp_permission_answer(ad_parser_t *p, const char *request_id, ad_acp_decision_t d,
                               const json_t *offered, size_t *len)
{
    *len = 0;
    ad_acp_t *a = p->acp;
    size_t i = 0;
    while (a != NULL && i < a->nasks && strcmp(a->asks[i].id_json, request_id) != 0) {
        i++;
    }
    if (a != NULL && i == a->nasks && json_is_array(offered)) {
        /* asked of an agentd before this one: the options as stored */
        json_t *id = json_loads(request_id, JSON_DECODE_ANY, NULL);
        char *line =
            json_is_integer(id) || json_is_string(id) ? answer_with(a, id, offered, d, len) : NULL;
        json_decref(id);
        return line;
    }
    if (a == NULL || i == a->nasks || a->asks[i].method != NULL) {
        return NULL;
    }
    ad_acp_ask_t ask = a->asks[i];
    a->asks[i] = a->asks[--a->nasks];
    char *line = answer_with(a, ask.id, ask.options, d, len);
    ask_clear(&ask);
    return line;
}

/* The worktree-relative paths of a stored approval's locations into
 * *paths (owned; NULL when it names none). False when one is outside. */
static bool stored_paths(const ad_acp_t *a, const json_t *input, json_t **paths_out)
{
    json_t *paths = NULL;
    size_t i;
    json_t *v;
    *paths_out = NULL;
    json_array_foreach(json_object_get(input, "locations"), i, v)
    {
        char *rel = ad_acp_rel_path(a->cwd, ad_json_str(v, "path"));
        if (rel == NULL) {
            json_decref(paths);
            return false;
        }
        if (paths == NULL) {
            paths = json_array();
        }
        json_array_append_new(paths, json_string(rel));
        free(rel);
    }
    *paths_out = paths;
    return true;
}

bool ad_acp_decide(ad_parser_t *p, const char *request_id, ad_acp_decision_t d, const char *tool,
                   const json_t *input, ad_recs_t *out)
{
    ad_acp_t *a = p->acp;
    size_t i = 0;
    while (a != NULL && i < a->nasks && strcmp(a->asks[i].id_json, request_id) != 0) {
        i++;
    }
    if (a == NULL || (i == a->nasks && !json_is_object(input))) {
        return false;
    }
    bool allow = d != AD_ACP_DENY;
    if (i == a->nasks) {
        /* asked of the agentd before a restart: what the approval stored */
        json_t *id = json_loads(request_id, JSON_DECODE_ANY, NULL);
        bool ok = json_is_integer(id) || json_is_string(id);
        const char *method = ad_json_str(input, "method");
        if (ok && d == AD_ACP_ALLOW_ALWAYS && tool != NULL && strlen(tool) < 80 &&
            !ad_acp_perms_have(a->perms, tool)) {
            json_array_append_new(a->perms, json_string(tool));
        }
        if (ok && method != NULL) {
            ad_acp_held_decided(p, id, method, json_object_get(input, "params"), allow, out);
        } else if (ok) {
            size_t len = 0;
            ad_acp_send(out, answer_with(a, id, json_object_get(input, "options"), d, &len));
            json_t *paths = NULL;
            if (stored_paths(a, input, &paths) && allow && tool != NULL) {
                ad_acp_grant(a, tool, paths);
            }
            json_decref(paths);
        }
        json_decref(id);
        return ok;
    }
    ad_acp_ask_t ask = a->asks[i];
    a->asks[i] = a->asks[--a->nasks];
    if (d == AD_ACP_ALLOW_ALWAYS && !ad_acp_perms_have(a->perms, ask.word)) {
        json_array_append_new(a->perms, json_string(ask.word)); /* asked no more in this run */
    }
    if (ask.method != NULL) {
        ad_acp_held_decided(p, ask.id, ask.method, ask.params, allow, out);
    } else {
        size_t len = 0;
        ad_acp_send(out, answer_with(a, ask.id, ask.options, d, &len));
        if (allow) {
            ad_acp_grant(a, ask.word, ask.paths);
        }
    }
    ask_clear(&ask);
    return true;
}

char *ad_acp_reply(ad_parser_t *p, const char *id_json, json_t *result, int64_t code,
                   const char *message, size_t *len)
{
    *len = 0;
    json_t *id = id_json != NULL ? json_loads(id_json, JSON_DECODE_ANY, NULL) : NULL;
    if (p->acp == NULL || (!json_is_integer(id) && !json_is_string(id))) {
        json_decref(id);
        json_decref(result);
        return NULL;
    }
    char *line = message == NULL ? ad_rpc_response(&p->acp->rpc, id, result, len)
                                 : ad_rpc_error(&p->acp->rpc, id, code, message, NULL, len);
    if (message != NULL) {
        json_decref(result);
    }
    json_decref(id);
    return line;
}

char *ad_acp_rel_path(const char *cwd, const char *path)
{
    size_t n = strlen(cwd);
    while (n > 1 && cwd[n - 1] == '/') {
        n--;
    }
    if (path == NULL || path[0] != '/' || strncmp(path, cwd, n) != 0 ||
        (path[n] != '/' && path[n] != '\0')) {
        return NULL;
    }
    const char *rel = path + n;
    while (*rel == '/') {
        rel++;
    }
    /* no ".." component, and no "." that would hide one */
    for (const char *c = rel; *c != '\0';) {
        size_t k = strcspn(c, "/");
        if ((k == 2 && c[0] == '.' && c[1] == '.') || k > 255) {
            return NULL;
        }
        c += k;
        while (*c == '/') {
            c++;
        }
    }
    return ad_xstrdup(rel);
}
