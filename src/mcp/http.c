/* SPDX-License-Identifier: MIT */
/*
 * The Streamable HTTP transport of /mcp: one JSON-RPC message a POST,
 * checked as each era's transport says (2026-07-28: the version in the
 * MCP-Protocol-Version header, Mcp-Method and Mcp-Name mirroring the
 * body, no session; 2025-11-25 and before: initialize makes a session
 * whose id every later request carries, the version header must be one we
 * speak, GET opens the session's event stream, DELETE ends it), answered
 * as JSON or, for what waits (tasks/result, subscriptions/listen), as an
 * event stream. Sessions live in memory: after a restart a client is told
 * 404 and starts a new one (its tasks are in the store).
 */
#include "mcp/mcp_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const legacy_versions[] = {MCP_LEGACY, "2025-06-18", "2025-03-26"};

static bool legacy_known(const char *v)
{
    for (size_t i = 0; v != NULL && i < AD_ARRAY_LEN(legacy_versions); i++) {
        if (strcmp(v, legacy_versions[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* Accept lists type (or a wildcard). */
static bool accepts(const ad_req_t *r, const char *type)
{
    const char *a = ad_req_header(r, "accept");
    return a == NULL || strstr(a, type) != NULL || strstr(a, "*/*") != NULL;
}

/* A JSON-RPC error without an id (a transport refusal), as HTTP status. */
static void refuse(ad_req_t *r, int status, int code, json_t *data, const char *message)
{
    json_t *err = json_pack("{s:i, s:s}", "code", code, "message", message);
    if (data != NULL) {
        json_object_set_new(err, "data", data);
    }
    ad_res_json(r, status, json_pack("{s:s, s:n, s:o}", "jsonrpc", "2.0", "id", "error", err));
}

/* ---- sessions ---------------------------------------------------------------------------- */

static void session_free(ad_mcp_t *m, mcp_session_t *s)
{
    for (mcp_session_t **pp = &m->sessions; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            m->nsessions--;
            break;
        }
    }
    if (s->get != NULL) {
        s->get->session[0] = '\0';
        ad_mcp_stream_close(s->get);
    }
    json_decref(s->tasks);
    free(s);
}

/* A session was used now: for the idle bound and the least-recently-used order. */
static void session_used(ad_mcp_t *m, mcp_session_t *s)
{
    s->used_ms = ad_wall_ms();
    s->used_seq = ++m->use_seq;
}

static bool same_cred(const ad_auth_cred_t *a, const ad_auth_cred_t *b)
{
    return a->kind == b->kind && strcmp(a->key, b->key) == 0;
}

mcp_session_t *ad_mcp_session_find(ad_mcp_t *m, const char *id, const ad_auth_cred_t *cred)
{
    for (mcp_session_t *s = m->sessions; id != NULL && s != NULL; s = s->next) {
        if (strcmp(s->id, id) == 0) {
            return same_cred(&s->cred, cred) ? s : NULL; /* another's session: not there */
        }
    }
    return NULL;
}

/* Idle sessions without a stream go; past a credential's bound its least
 * recently used one without a stream goes, past the server's the least
 * recently used of all (so one token cannot push out everyone else's).
 * false when none can make room. */
static bool sessions_room(ad_mcp_t *m, const ad_auth_cred_t *cred)
{
    int64_t now = ad_wall_ms();
    mcp_session_t *oldest = NULL, *own = NULL;
    size_t mine = 0;
    for (mcp_session_t *s = m->sessions, *next; s != NULL; s = next) {
        next = s->next;
        bool same = same_cred(&s->cred, cred);
        mine += same;
        if (s->get != NULL) {
            continue;
        }
        if (now - s->used_ms > MCP_SESSION_IDLE_MS) {
            session_free(m, s);
            mine -= same;
            continue;
        }
        if (oldest == NULL || s->used_seq < oldest->used_seq) {
            oldest = s;
        }
        if (same && (own == NULL || s->used_seq < own->used_seq)) {
            own = s;
        }
    }
    if (mine >= MCP_SESSIONS_PER_CRED_MAX) {
        if (own == NULL) {
            return false;
        }
        session_free(m, own);
        return true;
    }
    if (m->nsessions < MCP_SESSIONS_MAX) {
        return true;
    }
    if (oldest != NULL) {
        session_free(m, oldest);
        return true;
    }
    return false;
}

/* initialize: a new session at the version both speak. */
static void initialize(mcp_x_t *x)
{
    ad_mcp_t *m = x->m;
    const char *want = json_string_value(json_object_get(x->params, "protocolVersion"));
    if (!sessions_room(m, &x->cred)) {
        ad_mcp_x_error(x, 503, RPC_INTERNAL, NULL, "too many MCP sessions are open");
        return;
    }
    mcp_session_t *s = ad_xcalloc(1, sizeof(*s));
    if (ad_secret_new(s->id) != 0) {
        free(s);
        ad_mcp_x_error(x, 500, RPC_INTERNAL, NULL, "no randomness for a session id");
        return;
    }
    s->cred = x->cred;
    snprintf(s->version, sizeof(s->version), "%s", legacy_known(want) ? want : MCP_LEGACY);
    s->tasks = json_object();
    session_used(m, s);
    json_t *caps = json_object_get(x->params, "capabilities");
    s->next = m->sessions;
    m->sessions = s;
    m->nsessions++;
    snprintf(x->version, sizeof(x->version), "%s", s->version);
    snprintf(x->session, sizeof(x->session), "%s", s->id);
    json_decref(x->caps);
    x->caps = json_is_object(caps) ? json_incref(caps) : json_object();
    ad_res_header(x->r, "Mcp-Session-Id", s->id);
    json_t *cap = json_pack("{s:{s:b}, s:{s:b, s:b}, s:{s:{}, s:{}, s:{s:{s:{}}}}}", "tools",
                            "listChanged", 0, "resources", "subscribe", 0, "listChanged", 0,
                            "tasks", "list", "cancel", "requests", "tools", "call");
    ad_mcp_x_result(x,
                    json_pack("{s:s, s:o, s:o, s:s}", "protocolVersion", s->version, "capabilities",
                              cap, "serverInfo", ad_mcp_server_info(), "instructions",
                              "agentd runs coding agents in git worktrees: list them, start "
                              "one on a prompt (as a task, to come back for its answer), read "
                              "its transcript, decide its approvals, diff and merge."));
}

/* ---- the request headers of the current revision --------------------------------------- */

/* A header value, decoded from the =?base64?…?= form; false when it is not
 * valid. out gets a NUL-terminated copy. */
static bool header_value(const char *h, char *out, size_t outsz)
{
    size_t n = strlen(h);
    if (n >= 11 && strncmp(h, "=?base64?", 9) == 0 && strcmp(h + n - 2, "?=") == 0) {
        int len = ad_base64_decode(h + 9, n - 11, (uint8_t *)out, outsz - 1);
        if (len < 0) {
            return false;
        }
        out[len] = '\0';
        return memchr(out, '\0', (size_t)len) == NULL;
    }
    for (const char *p = h; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 && *p != '\t') {
            return false;
        }
    }
    return snprintf(out, outsz, "%s", h) < (int)outsz;
}

/* What Mcp-Name mirrors for method, or NULL when it mirrors nothing. */
static const char *name_field(const char *method)
{
    if (strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0) {
        return "name";
    }
    if (strcmp(method, "resources/read") == 0) {
        return "uri";
    }
    if (strcmp(method, "tasks/get") == 0 || strcmp(method, "tasks/update") == 0 ||
        strcmp(method, "tasks/cancel") == 0) {
        return "taskId";
    }
    return NULL;
}

/* The current revision's checks (the headers mirror the body, _meta
 * complete). false after answering. */
static bool modern_ok(mcp_x_t *x, const char *hv)
{
    json_t *meta = json_object_get(x->params, "_meta");
    const char *mv =
        json_string_value(json_object_get(meta, "io.modelcontextprotocol/protocolVersion"));
    if (mv == NULL) {
        ad_mcp_x_error(x, 400, RPC_INVALID_PARAMS, NULL,
                       "params._meta[\"io.modelcontextprotocol/protocolVersion\"] is required");
        return false;
    }
    if (strcmp(mv, MCP_MODERN) != 0) {
        json_t *sup = json_pack("[s]", MCP_MODERN);
        for (size_t i = 0; i < AD_ARRAY_LEN(legacy_versions); i++) {
            json_array_append_new(sup, json_string(legacy_versions[i]));
        }
        ad_mcp_x_error(x, 400, MCP_UNSUPPORTED_VERSION,
                       json_pack("{s:o, s:s}", "supported", sup, "requested", mv),
                       "Unsupported protocol version");
        return false;
    }
    if (hv == NULL || strcmp(hv, mv) != 0) {
        ad_mcp_x_error(x, 400, MCP_HEADER_MISMATCH, NULL,
                       "Header mismatch: MCP-Protocol-Version %s does not match the body's %s",
                       hv != NULL ? hv : "(missing)", mv);
        return false;
    }
    const char *hm = ad_req_header(x->r, "mcp-method");
    if (hm == NULL || strcmp(hm, x->method) != 0) {
        ad_mcp_x_error(x, 400, MCP_HEADER_MISMATCH, NULL,
                       "Header mismatch: Mcp-Method %s does not match the body's %s",
                       hm != NULL ? hm : "(missing)", x->method);
        return false;
    }
    const char *field = name_field(x->method);
    if (field != NULL) {
        const char *hn = ad_req_header(x->r, "mcp-name");
        const char *bn = json_string_value(json_object_get(x->params, field));
        char dec[2048];
        if (hn == NULL || bn == NULL || !header_value(hn, dec, sizeof(dec)) ||
            strcmp(dec, bn) != 0) {
            ad_mcp_x_error(x, 400, MCP_HEADER_MISMATCH, NULL,
                           "Header mismatch: Mcp-Name does not match params.%s", field);
            return false;
        }
    }
    json_t *caps = json_object_get(meta, "io.modelcontextprotocol/clientCapabilities");
    if (!json_is_object(caps)) {
        ad_mcp_x_error(x, 400, RPC_INVALID_PARAMS, NULL,
                       "params._meta[\"io.modelcontextprotocol/clientCapabilities\"] is "
                       "required");
        return false;
    }
    x->modern = true;
    snprintf(x->version, sizeof(x->version), "%s", MCP_MODERN);
    x->caps = json_incref(caps);
    return true;
}

/* The handshake era's checks: a session this credential made, a version
 * header we speak. false after answering. */
static bool legacy_ok(mcp_x_t *x, const char *hv)
{
    const char *sid = ad_req_header(x->r, "mcp-session-id");
    if (sid == NULL) {
        ad_mcp_x_error(x, 400, RPC_INVALID_REQUEST, NULL,
                       "Bad Request: no Mcp-Session-Id (send initialize first, or say the "
                       "2026-07-28 revision in params._meta)");
        return false;
    }
    mcp_session_t *s = ad_mcp_session_find(x->m, sid, &x->cred);
    if (s == NULL) {
        ad_mcp_x_error(x, 404, RPC_INVALID_REQUEST, NULL, "Session not found");
        return false;
    }
    if (hv != NULL && strcmp(hv, s->version) != 0) {
        ad_mcp_x_error(x, 400, RPC_INVALID_REQUEST, NULL,
                       "Bad Request: MCP-Protocol-Version %s is not this session's (%s)", hv,
                       s->version);
        return false;
    }
    session_used(x->m, s);
    snprintf(x->version, sizeof(x->version), "%s", s->version);
    snprintf(x->session, sizeof(x->session), "%s", s->id);
    return true;
}

static mcp_x_t *x_new(ad_mcp_t *m, ad_req_t *r)
{
    mcp_x_t *x = ad_xcalloc(1, sizeof(*x));
    x->m = m;
    x->r = r;
    const ad_principal_t *p = ad_auth_principal(r);
    if (p != NULL) {
        x->who = *p;
    }
    ad_auth_credential(r, &x->cred);
    m->inflight++;
    return x;
}

void ad_mcp_post(ad_mcp_t *m, ad_req_t *r)
{
    if (!accepts(r, "application/json") || !accepts(r, "text/event-stream")) {
        refuse(r, 406, RPC_INVALID_REQUEST, NULL,
               "Not Acceptable: Accept must list application/json and text/event-stream");
        return;
    }
    size_t len = 0;
    const char *body = ad_req_body(r, &len);
    json_t *msg = json_loadb(body, len, 0, NULL);
    if (!json_is_object(msg)) {
        json_decref(msg);
        refuse(r, 400, json_is_array(msg) ? RPC_INVALID_REQUEST : RPC_PARSE, NULL,
               "the body must be one JSON-RPC message");
        return;
    }
    const char *method = json_string_value(json_object_get(msg, "method"));
    json_t *id = json_object_get(msg, "id");
    json_t *params = json_object_get(msg, "params");
    if (method == NULL || strlen(method) >= 64 || (params != NULL && !json_is_object(params)) ||
        (id != NULL && !json_is_string(id) && !json_is_integer(id))) {
        bool answer =
            method == NULL && id != NULL &&
            (json_object_get(msg, "result") != NULL || json_object_get(msg, "error") != NULL);
        json_decref(msg);
        if (answer) {
            ad_res_send(r, 202, NULL, NULL, 0); /* an answer to a request we never send */
            return;
        }
        refuse(r, 400, RPC_INVALID_REQUEST, NULL, "not a JSON-RPC request");
        return;
    }
    if (id == NULL) {
        json_decref(msg);
        ad_res_send(r, 202, NULL, NULL, 0); /* notifications: initialized, cancelled */
        return;
    }
    mcp_x_t *x = x_new(m, r);
    x->id = json_incref(id);
    snprintf(x->method, sizeof(x->method), "%s", method);
    x->params = params != NULL ? json_incref(params) : json_object();
    json_decref(msg);
    const char *hv = ad_req_header(r, "mcp-protocol-version");
    json_t *meta = json_object_get(x->params, "_meta");
    bool modern = json_object_get(meta, "io.modelcontextprotocol/protocolVersion") != NULL ||
                  (hv != NULL && strcmp(hv, MCP_MODERN) == 0) ||
                  strcmp(x->method, "server/discover") == 0;
    if (strcmp(x->method, "initialize") == 0) {
        if (hv != NULL && !legacy_known(hv) && strcmp(hv, MCP_MODERN) != 0) {
            ad_mcp_x_error(x, 400, RPC_INVALID_REQUEST, NULL,
                           "Bad Request: unsupported MCP-Protocol-Version %s", hv);
            return;
        }
        initialize(x);
        return;
    }
    if (modern ? !modern_ok(x, hv) : !legacy_ok(x, hv)) {
        return;
    }
    ad_mcp_dispatch(x);
}

void ad_mcp_get(ad_mcp_t *m, ad_req_t *r)
{
    const char *sid = ad_req_header(r, "mcp-session-id");
    if (sid == NULL) {
        ad_res_header(r, "Allow", "POST, DELETE");
        refuse(r, 405, RPC_INVALID_REQUEST, NULL,
               "Method Not Allowed: a GET stream belongs to a session (2025-11-25); the "
               "2026-07-28 revision listens with subscriptions/listen");
        return;
    }
    if (!accepts(r, "text/event-stream")) {
        refuse(r, 406, RPC_INVALID_REQUEST, NULL, "Not Acceptable: Accept text/event-stream");
        return;
    }
    mcp_x_t *x = x_new(m, r);
    mcp_session_t *s = ad_mcp_session_find(m, sid, &x->cred);
    if (s == NULL) {
        ad_mcp_x_free(x);
        refuse(r, 404, RPC_INVALID_REQUEST, NULL, "Session not found");
        return;
    }
    if (s->get != NULL) {
        mcp_stream_t *old = s->get;
        s->get = NULL;
        old->session[0] = '\0';
        ad_mcp_stream_close(old); /* one stream a session: the newest */
    }
    snprintf(x->session, sizeof(x->session), "%s", s->id);
    session_used(m, s);
    mcp_stream_t *st = ad_mcp_stream_open(x, MCP_STREAM_GET);
    if (st != NULL) {
        s->get = st;
    }
}

void ad_mcp_delete(ad_mcp_t *m, ad_req_t *r)
{
    const char *sid = ad_req_header(r, "mcp-session-id");
    if (sid == NULL) {
        ad_res_header(r, "Allow", "POST, GET");
        refuse(r, 405, RPC_INVALID_REQUEST, NULL,
               "Method Not Allowed: DELETE ends a session (Mcp-Session-Id)");
        return;
    }
    ad_auth_cred_t cred;
    ad_auth_credential(r, &cred);
    mcp_session_t *s = ad_mcp_session_find(m, sid, &cred);
    if (s == NULL) {
        refuse(r, 404, RPC_INVALID_REQUEST, NULL, "Session not found");
        return;
    }
    session_free(m, s);
    ad_res_send(r, 204, NULL, NULL, 0);
}

/* ---- event streams --------------------------------------------------------------------- */

static void stream_unlink(mcp_stream_t *s)
{
    ad_mcp_t *m = s->m;
    for (mcp_stream_t **pp = &m->streams; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            m->nstreams--;
            return;
        }
    }
}

static void stream_closed(ad_sse_t *sse, void *ud)
{
    AD_UNUSED(sse);
    mcp_stream_t *s = ud;
    ad_mcp_t *m = s->m;
    stream_unlink(s);
    if (s->session[0] != '\0') {
        for (mcp_session_t *ss = m->sessions; ss != NULL; ss = ss->next) {
            if (ss->get == s) {
                ss->get = NULL;
            }
        }
    }
    ad_auth_unwatch(s->watch);
    json_decref(s->id);
    json_decref(s->task_ids);
    free(s);
    ad_mcp_unref(m);
}

static void cred_ended(void *ud)
{
    mcp_stream_t *s = ud;
    ad_sse_close(s->sse);
}

mcp_stream_t *ad_mcp_stream_open(mcp_x_t *x, int kind)
{
    ad_mcp_t *m = x->m;
    if (m->nstreams >= MCP_STREAMS_MAX) {
        ad_mcp_x_error(x, 503, RPC_INTERNAL, NULL, "too many MCP streams are open");
        return NULL;
    }
    mcp_stream_t *s = ad_xcalloc(1, sizeof(*s));
    s->m = m;
    s->kind = kind;
    s->who = x->who;
    snprintf(s->session, sizeof(s->session), "%s", kind == MCP_STREAM_GET ? x->session : "");
    s->id = x->id != NULL ? json_incref(x->id) : NULL;
    ad_req_t *r = x->r;
    x->r = NULL;
    ad_auth_cred_t cred = x->cred;
    m->inflight++; /* the stream's own, given back in stream_closed */
    ad_mcp_x_free(x);
    s->sse = ad_sse_start(r, stream_closed, s);
    if (s->sse == NULL) {
        json_decref(s->id);
        free(s);
        m->inflight--;
        return NULL;
    }
    s->next = m->streams;
    m->streams = s;
    m->nstreams++;
    s->watch = ad_auth_watch(m->auth, &cred, cred_ended, s);
    return s;
}

void ad_mcp_stream_send(mcp_stream_t *s, json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    if (text != NULL) {
        ad_sse_send(s->sse, NULL, "message", text, strlen(text));
    }
    free(text);
}

void ad_mcp_stream_close(mcp_stream_t *s)
{
    ad_sse_close(s->sse);
}
