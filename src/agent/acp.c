/* SPDX-License-Identifier: MIT */
/*
 * What an ACP agent writes (agent.h "ACP"): each line one JSON-RPC message
 * (rpc.c). Answers move the handshake on (initialize -> session/new or
 * session/load -> the waiting prompts) and end turns; session/update is
 * acp_update.c's, permission requests acp_perm.c's, fs and terminal
 * requests acp_req.c's; unknown methods are declined. A line that is not
 * JSON-RPC, an update for another session or a failed handshake is a
 * fault: the run fails with the reason and nothing more is read.
 */
#include "agent/agent_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The session a message names is the open one (or the one being loaded). */
static bool session_ok(ad_parser_t *p, json_t *params, ad_recs_t *out)
{
    ad_acp_t *a = p->acp;
    const char *sid = ad_json_str(params, "sessionId");
    const char *open = a->session != NULL ? a->session : a->load_id;
    if (sid != NULL && open != NULL && strcmp(sid, open) == 0) {
        return true;
    }
    ad_acp_fault(p, out, "ACP agent broke the protocol: a message for unknown session %.64s",
                 sid != NULL ? sid : "(none)");
    return false;
}

static void open_session(ad_parser_t *p, bool load, ad_recs_t *out)
{
    ad_acp_t *a = p->acp;
    json_t *params = json_pack("{s:s, s:[]}", "cwd", a->cwd, "mcpServers");
    if (load) {
        json_object_set_new(params, "sessionId", json_string(a->load_id));
    }
    char *line = NULL;
    size_t len = 0;
    ad_rpc_request(&a->rpc, load ? "session/load" : "session/new", params,
                   load ? AD_ACP_TAG_LOAD : AD_ACP_TAG_NEW, &line, &len);
    ad_acp_send(out, line);
    a->phase = AD_ACP_OPENING;
}

static void on_initialized(ad_parser_t *p, const ad_rpc_msg_t *m, ad_recs_t *out)
{
    ad_acp_t *a = p->acp;
    if (m->kind == AD_RPC_ERROR) {
        ad_acp_fault(p, out, "ACP agent refused initialize: %.200s", m->message);
        return;
    }
    json_int_t ver = json_integer_value(json_object_get(m->result, "protocolVersion"));
    if (ver != 1) {
        ad_acp_fault(p, out, "ACP agent speaks protocol version %lld; agentd speaks 1",
                     (long long)ver);
        return;
    }
    json_t *caps = json_object_get(m->result, "agentCapabilities");
    a->can_load = json_is_true(json_object_get(caps, "loadSession"));
    json_t *info = json_object_get(m->result, "agentInfo");
    const char *version = ad_json_str(info, "version");
    if (version != NULL) {
        ad_rec_push(out, AD_REC_SESSION)->version = ad_xstrndup(version, 64);
    }
    open_session(p, a->load_id != NULL && a->can_load, out);
}

static void on_session(ad_parser_t *p, const ad_rpc_msg_t *m, bool load, ad_recs_t *out)
{
    ad_acp_t *a = p->acp;
    if (m->kind == AD_RPC_ERROR && load) {
        char text[300];
        snprintf(text, sizeof(text), "the agent could not load session %.64s (%.160s): a new one",
                 a->load_id, m->message);
        ad_rec_notice(out, "resume", text, NULL);
        free(a->load_id);
        a->load_id = NULL;
        open_session(p, false, out);
        return;
    }
    if (m->kind == AD_RPC_ERROR) {
        ad_acp_fault(p, out, "ACP agent refused session/new: %.200s", m->message);
        return;
    }
    const char *sid = load ? a->load_id : ad_json_str(m->result, "sessionId");
    if (sid == NULL || sid[0] == '\0' || strlen(sid) > 200) {
        ad_acp_fault(p, out, "ACP agent broke the protocol: session/new gave no sessionId");
        return;
    }
    free(a->session);
    a->session = ad_xstrdup(sid);
    ad_parser_set_session(p, sid, NULL);
    ad_rec_push(out, AD_REC_SESSION)->session_id = ad_xstrdup(sid);
    a->phase = AD_ACP_READY;
    ad_acp_next_prompt(p, out);
}

/* A turn's usage: the protocol's `usage`, else what the Gemini CLI 0.61
 * says in _meta.quota (token_count, and model_usage naming the model). */
static void turn_usage(ad_parser_t *p, json_t *result, ad_rec_t *r)
{
    json_t *u = json_object_get(result, "usage");
    if (json_is_object(u)) {
        r->usage.input_tokens = ad_json_int(u, "inputTokens", 0);
        r->usage.output_tokens = ad_json_int(u, "outputTokens", 0);
        r->usage.cache_read_tokens = ad_json_int(u, "cachedReadTokens", 0);
        r->usage.cache_creation_tokens = ad_json_int(u, "cachedWriteTokens", 0);
        return;
    }
    json_t *quota = json_object_get(json_object_get(result, "_meta"), "quota");
    json_t *tc = json_object_get(quota, "token_count");
    r->usage.input_tokens = ad_json_int(tc, "input_tokens", 0);
    r->usage.output_tokens = ad_json_int(tc, "output_tokens", 0);
    json_t *models = json_object_get(quota, "model_usage");
    const char *model = ad_json_str(json_array_get(models, json_array_size(models) - 1), "model");
    if (model != NULL && model[0] != '\0' && strlen(model) < 200) {
        ad_parser_set_session(p, NULL, model);
        free(r->model);
        r->model = ad_xstrdup(model);
    }
}

/* The prompt's answer: the turn's result, then the next waiting prompt. */
static void on_turn_end(ad_parser_t *p, const ad_rpc_msg_t *m, uint64_t now, ad_recs_t *out)
{
    ad_acp_t *a = p->acp;
    ad_parser_text_flush(p, out);
    while (p->ntools > 0) { /* calls the agent never closed */
        char *id = ad_xstrdup(p->tools[0].id);
        ad_tool_end(p, id, true, -1, now, out, NULL)->text = ad_xstrdup("interrupted");
        free(id);
    }
    ad_rec_t *r = ad_rec_push(out, AD_REC_RESULT);
    size_t idx = out->n - 1;
    r->num_turns = 1;
    r->session_id = a->session != NULL ? ad_xstrdup(a->session) : NULL;
    r->model = p->model != NULL ? ad_xstrdup(p->model) : NULL;
    if (m->kind == AD_RPC_ERROR) {
        r->is_error = true;
        r->subtype = ad_xstrdup("error");
        /* the details an agent gives in data (codex-acp: "Internal error",
         * the API's words in data) */
        char detail[400] = "";
        const char *d = json_is_string(m->data)                   ? json_string_value(m->data)
                        : ad_json_str(m->data, "message") != NULL ? ad_json_str(m->data, "message")
                                                                  : ad_json_str(m->data, "details");
        char *dumped = d == NULL && m->data != NULL && !json_is_null(m->data)
                           ? json_dumps(m->data, JSON_COMPACT | JSON_ENCODE_ANY)
                           : NULL;
        if (d != NULL || dumped != NULL) {
            snprintf(detail, sizeof(detail), ": %.380s", d != NULL ? d : dumped);
        }
        free(dumped);
        char text[700];
        snprintf(text, sizeof(text), "the agent's turn failed: %.240s%s", m->message, detail);
        r->text = ad_xstrdup(text);
        r->api_error_status = ad_error_status_in(text);
    } else {
        const char *stop = ad_json_str(m->result, "stopReason");
        r->subtype = ad_xstrdup(stop != NULL ? stop : "end_turn");
        turn_usage(p, m->result, r);
    }
    if (a->cost_total >= 0) {
        r->total_cost_usd = a->cost_total;
    } else {
        ad_usage_t u = r->usage;
        double cost = ad_parser_cost(p, p->model, &u, out);
        out->v[idx].cost_usd = cost;
    }
    json_array_clear(a->grants); /* what was allowed for this turn */
    a->phase = AD_ACP_READY;
    ad_acp_next_prompt(p, out);
}

static void on_answer(ad_parser_t *p, const ad_rpc_msg_t *m, uint64_t now, ad_recs_t *out)
{
    ad_acp_t *a = p->acp;
    ad_rpc_call_t call;
    if (!ad_rpc_match(&a->rpc, m, &call)) {
        /* After a restart the turn's prompt was sent by the daemon before. */
        if (a->resumed && a->phase == AD_ACP_TURN &&
            (m->kind == AD_RPC_ERROR || json_object_get(m->result, "stopReason") != NULL)) {
            on_turn_end(p, m, now, out);
        }
        return;
    }
    switch (call.tag) {
    case AD_ACP_TAG_INIT:
        on_initialized(p, m, out);
        break;
    case AD_ACP_TAG_NEW:
    case AD_ACP_TAG_LOAD:
        on_session(p, m, call.tag == AD_ACP_TAG_LOAD, out);
        break;
    case AD_ACP_TAG_PROMPT:
        on_turn_end(p, m, now, out);
        break;
    default:
        break;
    }
}

static void on_request(ad_parser_t *p, const ad_rpc_msg_t *m, uint64_t now, ad_recs_t *out)
{
    const char *method = m->method;
    bool perm = strcmp(method, "session/request_permission") == 0;
    bool client = strncmp(method, "fs/", 3) == 0 || strncmp(method, "terminal/", 9) == 0;
    if (!perm && !client) {
        ad_acp_reply_error(p, m->id, AD_RPC_METHOD_NOT_FOUND, "method not found", out);
        return;
    }
    if (!json_is_object(m->params)) {
        ad_acp_reply_error(p, m->id, AD_RPC_INVALID_PARAMS, "params must be an object", out);
        return;
    }
    if (!session_ok(p, m->params, out)) {
        ad_acp_reply_error(p, m->id, AD_RPC_INVALID_PARAMS, "unknown session", out);
        return;
    }
    if (perm) {
        ad_acp_on_permission(p, m->id, m->params, now, out);
    } else {
        ad_acp_on_client_request(p, m, out);
    }
}

static void on_notification(ad_parser_t *p, const ad_rpc_msg_t *m, uint64_t now, ad_recs_t *out)
{
    ad_acp_t *a = p->acp;
    if (strcmp(m->method, "session/update") != 0) {
        return; /* extensions ("_…") and what a newer agent adds */
    }
    if (!json_is_object(m->params) || !session_ok(p, m->params, out)) {
        return;
    }
    if (a->phase == AD_ACP_OPENING) {
        return; /* session/load replays the history: agentd has it already */
    }
    json_t *update = json_object_get(m->params, "update");
    if (json_is_object(update)) {
        ad_acp_on_update(p, update, now, out);
    }
}

void ad_acp_feed(ad_parser_t *p, const char *line, size_t len, uint64_t now, ad_recs_t *out)
{
    ad_acp_t *a = p->acp;
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) {
        i++;
    }
    if (i == len || a == NULL || a->phase == AD_ACP_BROKEN) {
        return;
    }
    ad_rpc_msg_t m;
    switch (ad_rpc_parse(&a->rpc, line, len, &m)) {
    case AD_RPC_INVALID:
        if (m.id != NULL && json_object_get(m.root, "method") != NULL) {
            ad_acp_reply_error(p, m.id, m.code, m.message, out);
        }
        ad_acp_fault(p, out, "ACP agent broke the protocol: %s", m.why);
        break;
    case AD_RPC_REQUEST:
        on_request(p, &m, now, out);
        break;
    case AD_RPC_NOTIFICATION:
        on_notification(p, &m, now, out);
        break;
    case AD_RPC_RESPONSE:
    case AD_RPC_ERROR:
        on_answer(p, &m, now, out);
        break;
    }
    ad_rpc_msg_clear(&m);
}
