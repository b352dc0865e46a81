/* SPDX-License-Identifier: MIT */
/*
 * The agent's requests of its client (agent.h "ACP"): fs/read_text_file,
 * fs/write_text_file and terminal/… . Each is checked here first (a path
 * or a terminal's cwd inside the worktree by name, the params' types and
 * sizes), then allowed as a tool call would be: plan mode reads only, auto
 * mode does anything, regular mode what the agent's permissions hold
 * (read, write, execute) or what the user allowed in this turn for it (a
 * grant, acp_perm.c); anything else is held as an approval the user
 * decides. An allowed request goes to the runner (AD_REC_REQUEST), which
 * opens files beneath the worktree and runs terminals in the agent's
 * sandbox (src/run/acp.c, acp_term.c).
 */
#include "agent/agent_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD_MAX 8192       /* bytes of a terminal's command */
#define ARGS_MAX 256       /* its arguments */
#define ARGS_BYTES 65536   /* and their bytes */
#define ENV_MAX 64         /* its extra environment entries */
#define ENV_VALUE_MAX 8192 /* bytes of one value */
#define TERM_ID_MAX 64
#define WRITE_MAX (4u << 20) /* a file written, as a file read (src/run/acp.c) */

typedef enum { REQ_READ, REQ_WRITE, REQ_CREATE, REQ_TERMINAL, REQ_OTHER } req_kind_t;

static req_kind_t kind_of(const char *method)
{
    if (strcmp(method, "fs/read_text_file") == 0) {
        return REQ_READ;
    }
    if (strcmp(method, "fs/write_text_file") == 0) {
        return REQ_WRITE;
    }
    if (strcmp(method, "terminal/create") == 0) {
        return REQ_CREATE;
    }
    static const char *const term[] = {"terminal/output", "terminal/wait_for_exit", "terminal/kill",
                                       "terminal/release"};
    for (size_t i = 0; i < AD_ARRAY_LEN(term); i++) {
        if (strcmp(method, term[i]) == 0) {
            return REQ_TERMINAL;
        }
    }
    return REQ_OTHER;
}

void ad_acp_reply_error(ad_parser_t *p, const json_t *id, int64_t code, const char *msg,
                        ad_recs_t *out)
{
    size_t len = 0;
    ad_acp_send(out, ad_rpc_error(&p->acp->rpc, id, code, msg, NULL, &len));
}

/* A string of at most max bytes with no NUL in it. */
static bool text_ok(const json_t *v, size_t max)
{
    return json_is_string(v) && json_string_length(v) <= max &&
           strlen(json_string_value(v)) == json_string_length(v);
}

static bool env_name_ok(const char *s)
{
    if (s == NULL || (!isalpha((unsigned char)s[0]) && s[0] != '_') || strlen(s) > 128) {
        return false;
    }
    for (const char *c = s; *c != '\0'; c++) {
        if (!isalnum((unsigned char)*c) && *c != '_') {
            return false;
        }
    }
    return true;
}

/* terminal/create's params other than cwd; NULL when fine, else why. */
static const char *create_error(const json_t *params)
{
    const json_t *cmd = json_object_get(params, "command");
    if (!text_ok(cmd, CMD_MAX) || json_string_length(cmd) == 0) {
        return "command must be a non-empty string of at most 8192 bytes";
    }
    const json_t *args = json_object_get(params, "args");
    size_t bytes = 0, i;
    json_t *v;
    if (args != NULL && !json_is_null(args) &&
        (!json_is_array(args) || json_array_size(args) > ARGS_MAX)) {
        return "args must be an array of at most 256 strings";
    }
    json_array_foreach(args, i, v)
    {
        if (!text_ok(v, ARGS_BYTES) || (bytes += json_string_length(v)) > ARGS_BYTES) {
            return "args must be strings of at most 64 KiB in all";
        }
    }
    const json_t *env = json_object_get(params, "env");
    if (env != NULL && !json_is_null(env) &&
        (!json_is_array(env) || json_array_size(env) > ENV_MAX)) {
        return "env must be an array of at most 64 {name, value}";
    }
    json_array_foreach(env, i, v)
    {
        if (!env_name_ok(ad_json_str(v, "name")) ||
            !text_ok(json_object_get(v, "value"), ENV_VALUE_MAX)) {
            return "env entries must be {name, value} with a variable name and a string";
        }
    }
    const json_t *lim = json_object_get(params, "outputByteLimit");
    if (lim != NULL && !json_is_null(lim) &&
        (!json_is_integer(lim) || json_integer_value(lim) < 0)) {
        return "outputByteLimit must be a non-negative integer";
    }
    return NULL;
}

/* The worktree-relative path a request names (fs: its path, "" refused;
 * terminal/create: its cwd, the worktree when absent), or NULL with a
 * notice and the error answered. */
static char *where(ad_parser_t *p, const json_t *id, req_kind_t k, const json_t *params,
                   ad_recs_t *out)
{
    ad_acp_t *a = p->acp;
    const json_t *v = json_object_get(params, k == REQ_CREATE ? "cwd" : "path");
    if (k == REQ_CREATE && (v == NULL || json_is_null(v))) {
        return ad_xstrdup("");
    }
    const char *path = json_is_string(v) ? json_string_value(v) : NULL;
    char *rel = text_ok(v, 4096) ? ad_acp_rel_path(a->cwd, path) : NULL;
    if (rel != NULL && (k == REQ_CREATE || rel[0] != '\0')) {
        return rel;
    }
    free(rel);
    char text[400];
    snprintf(text, sizeof(text), "refused: the agent asked to %s %.200s, outside its worktree",
             k == REQ_READ    ? "read"
             : k == REQ_WRITE ? "write"
                              : "run a terminal in",
             path != NULL ? path : "(no path)");
    ad_rec_notice(out, "error", text, NULL);
    ad_acp_reply_error(p, id, AD_RPC_INVALID_PARAMS, "path is outside the worktree", out);
    return NULL;
}

/* The request's checks; rel gets where it points (owned). False when it
 * was answered with an error. */
static bool check(ad_parser_t *p, const json_t *id, req_kind_t k, json_t *params, char **rel,
                  ad_recs_t *out)
{
    *rel = NULL;
    const json_t *content = json_object_get(params, "content");
    const char *why = k == REQ_CREATE                           ? create_error(params)
                      : k != REQ_WRITE                          ? NULL
                      : !json_is_string(content)                ? "content is not a string"
                      : json_string_length(content) > WRITE_MAX ? "content is over 4 MiB"
                                                                : NULL;
    if (k == REQ_TERMINAL && !text_ok(json_object_get(params, "terminalId"), TERM_ID_MAX)) {
        why = "terminalId must be a string";
    }
    if (why != NULL) {
        ad_acp_reply_error(p, id, AD_RPC_INVALID_PARAMS, why, out);
        return false;
    }
    if (k == REQ_TERMINAL) {
        *rel = ad_json_strdup(params, "terminalId");
        return true;
    }
    *rel = where(p, id, k, params, out);
    return *rel != NULL;
}

static void serve(const json_t *id, const char *method, json_t *params, char *rel, ad_recs_t *out)
{
    ad_rec_t *r = ad_rec_push(out, AD_REC_REQUEST);
    r->subtype = ad_xstrdup(method);
    r->tool_id = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
    r->text = rel;
    r->json = json_incref(params);
}

/* What the user is asked: "Run ls -la", "Write src/a.c". */
static void title_of(req_kind_t k, const json_t *params, const char *rel, char *out, size_t outsz)
{
    if (k != REQ_CREATE) {
        snprintf(out, outsz, "%s %.200s", k == REQ_READ ? "Read" : "Write", rel);
        return;
    }
    size_t n = (size_t)snprintf(out, outsz, "Run %.200s", ad_json_str(params, "command"));
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(params, "args"), i, v)
    {
        if (n + 2 >= outsz) {
            break;
        }
        n += (size_t)snprintf(out + n, outsz - n, " %.100s", json_string_value(v));
    }
    if (rel[0] != '\0' && n + 2 < outsz) {
        snprintf(out + n, outsz - n, " (in %.100s)", rel);
    }
}

/* Held for the user: an approval of tool word whose input is the request. */
static void ask(ad_parser_t *p, const json_t *id, req_kind_t k, const char *method, json_t *params,
                const char *rel, const char *word, ad_recs_t *out)
{
    ad_acp_t *a = p->acp;
    char *id_json = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
    if (a->nasks >= AD_ACP_ASKS_MAX || id_json == NULL) {
        free(id_json);
        ad_acp_reply_error(p, id, -32000, "too many requests wait for the user", out);
        return;
    }
    ad_acp_ask_t *q = &a->asks[a->nasks++];
    memset(q, 0, sizeof(*q));
    q->id_json = ad_xstrdup(id_json);
    q->id = json_deep_copy(id);
    snprintf(q->word, sizeof(q->word), "%s", word);
    q->method = ad_xstrdup(method);
    q->params = json_deep_copy(params);
    char title[600];
    title_of(k, params, rel, title, sizeof(title));
    json_t *shown = json_deep_copy(params);
    json_object_del(shown, "sessionId");
    ad_rec_t *r = ad_rec_push(out, AD_REC_APPROVAL);
    r->subtype = id_json;
    r->tool_name = ad_xstrdup(word);
    r->text = ad_xstrdup(title);
    r->json = json_pack("{s:s, s:s, s:o}", "title", title, "method", method, "params", shown);
}

/* Checked and permitted: served, else refused (plan mode) or asked. */
static void handle(ad_parser_t *p, const json_t *id, const char *method, json_t *params,
                   bool decided, ad_recs_t *out)
{
    ad_acp_t *a = p->acp;
    req_kind_t k = kind_of(method);
    char *rel = NULL;
    if (!check(p, id, k, params, &rel, out)) {
        return;
    }
    if (k == REQ_TERMINAL) {
        serve(id, method, params, rel, out);
        return;
    }
    const char *word = k == REQ_READ ? "read" : k == REQ_WRITE ? "write" : "execute";
    if (a->mode == AD_MODE_PLAN && k != REQ_READ) { /* even when decided: nothing changes in plan */
        free(rel);
        ad_acp_reply_error(p, id, -32000,
                           k == REQ_WRITE ? "the agent is in plan mode: nothing is written"
                                          : "the agent is in plan mode: nothing is run",
                           out);
        return;
    }
    if (decided || a->mode == AD_MODE_AUTO || ad_acp_perms_have(a->perms, word) ||
        ad_acp_grant_take(a, word, k == REQ_CREATE ? NULL : rel)) {
        serve(id, method, params, rel, out);
        return;
    }
    ask(p, id, k, method, params, rel, word, out);
    free(rel);
}

void ad_acp_on_client_request(ad_parser_t *p, const ad_rpc_msg_t *m, ad_recs_t *out)
{
    if (kind_of(m->method) == REQ_OTHER) {
        ad_acp_reply_error(p, m->id, AD_RPC_METHOD_NOT_FOUND, "method not found", out);
        return;
    }
    if (strncmp(m->method, "terminal/", 9) == 0 && !p->acp->terminal) {
        ad_acp_reply_error(p, m->id, AD_RPC_METHOD_NOT_FOUND,
                           "agentd offered no terminal to this agent", out);
        return;
    }
    handle(p, m->id, m->method, m->params, false, out);
}

void ad_acp_held_decided(ad_parser_t *p, const json_t *id, const char *method, json_t *params,
                         bool allow, ad_recs_t *out)
{
    if (method == NULL || !json_is_object(params) || kind_of(method) == REQ_OTHER ||
        kind_of(method) == REQ_TERMINAL) {
        ad_acp_reply_error(p, id, AD_RPC_INVALID_PARAMS, "not a request agentd holds", out);
        return;
    }
    if (!allow) {
        ad_acp_reply_error(p, id, -32000, "the user denied this request", out);
        return;
    }
    handle(p, id, method, params, true, out); /* checked again: it may come from the store */
}
